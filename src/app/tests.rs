//! The app in process, over a real SQLite file with a fixed clock and no sockets: the router
//! and the gate (`gate.rs`: every policy against every kind of credential, and the route
//! rules), Better Auth's session API (`session_api.rs`) and the sessions admin (`admin.rs`).
//! The fixtures here hold one session per kind of credential.

mod admin;
mod gate;
mod session_api;

use std::net::IpAddr;
use std::time::Duration;

use http::Request;

use super::*;
use crate::auth::cookie::SigningKey;
use crate::config::{parse_toml, MapEnv};

use crate::session::{Session, User};
use crate::store;
use crate::time::{ManualClock, Timestamp};

const SECRET: &str = "gate-test-secret-0123456789abcdef";
const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);
const CLIENT: &str = "203.0.113.7";

const ROUTES: &str = r#"
[[routes]]
prefix = "/public"
policy = "public"

[[routes]]
prefix = "/optional"
policy = "optional"

[[routes]]
prefix = "/required"

[[routes]]
prefix = "/admin"
roles = ["admin"]

[[routes]]
prefix = "/fresh"
fresh_age = "60s"

[[routes]]
prefix = "/bound"
bind_ip = true
"#;

/// The credentials a request can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    None,
    BadSignature,
    Valid,
    Expired,
    BannedUser,
    DeletedRow,
    /// A valid cookie for a session on another IP address.
    ValidElsewhere,
    /// A valid cookie of an admin-role user.
    Admin,
}

fn user(id: &str, role: &str, banned: bool) -> User {
    User {
        id: id.into(),
        name: "Alice".into(),
        email: format!("{id}@example.com"),
        email_verified: true,
        image: None,
        created_at: NOW,
        updated_at: NOW,
        role: Some(role.into()),
        banned: Some(banned),
        ban_reason: None,
        ban_expires: None,
        extra: Vec::new(),
        additional: Vec::new(),
    }
}

fn session(token: &str, user_id: &str, expires_in_secs: i64, ip: &str) -> Session {
    let an_hour_ago = NOW.minus(Duration::from_secs(3600));
    Session {
        id: format!("id-{token}"),
        token: token.into(),
        user_id: user_id.into(),
        expires_at: Timestamp::from_millis(NOW.millis() + expires_in_secs * 1000),
        created_at: an_hour_ago,
        updated_at: an_hour_ago,
        ip_address: Some(ip.into()),
        user_agent: None,
        impersonated_by: None,
        additional: Vec::new(),
        active_member_role: None,
    }
}

fn config(url: &str) -> Config {
    let toml = format!(
        "[database]\nurl = \"{url}\"\nacquire_timeout = \"500ms\"\n[proxy]\nupstream = \"http://127.0.0.1:9\"\n{ROUTES}"
    );
    let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", SECRET)]);
    Config::from_file(parse_toml(&toml).unwrap(), &env).unwrap()
}

/// An app over a migrated SQLite file holding one session per credential kind.
async fn app_with_sessions(dir: &tempfile::TempDir) -> App {
    let url = format!("sqlite://{}", dir.path().join("gate.db").display());
    store::migrate::run(&url).await.unwrap();
    let config = config(&url);
    let db = store::open(&config.database).unwrap();
    for u in [
        user("alice", "user", false),
        user("root", "user,admin", false),
        user("mallory", "user", true),
    ] {
        db.insert_user(&u).await.unwrap();
    }
    for s in [
        session("valid", "alice", 3600, CLIENT),
        session("expired", "alice", -10, CLIENT),
        session("banned", "mallory", 3600, CLIENT),
        session("elsewhere", "alice", 3600, "198.51.100.1"),
        session("admin", "root", 3600, CLIENT),
    ] {
        db.insert_session(&s).await.unwrap();
    }
    App::new(config, db, Arc::new(ManualClock::new(NOW))).unwrap()
}

/// An app whose database cannot be reached.
fn app_without_store(dir: &tempfile::TempDir) -> App {
    let url = format!("sqlite://{}", dir.path().join("missing/none.db").display());
    let config = config(&url);
    let db = store::open(&config.database).unwrap();
    App::new(config, db, Arc::new(ManualClock::new(NOW))).unwrap()
}

fn cookie(credential: Credential) -> Option<String> {
    let key = SigningKey::new(SECRET);
    let token = match credential {
        Credential::None => return None,
        Credential::BadSignature => {
            let forged =
                SigningKey::new("another-secret-0123456789abcdef").sign_cookie_value("valid");
            return Some(format!("better-auth.session_token={forged}"));
        }
        Credential::Valid => "valid",
        Credential::Expired => "expired",
        Credential::BannedUser => "banned",
        Credential::DeletedRow => "never-stored",
        Credential::ValidElsewhere => "elsewhere",
        Credential::Admin => "admin",
    };
    Some(format!(
        "better-auth.session_token={}",
        key.sign_cookie_value(token)
    ))
}

fn client() -> ClientAddr {
    let ip: IpAddr = CLIENT.parse().unwrap();
    ClientAddr {
        peer: Some(ip),
        trusted_peer: false,
        ip: Some(ip),
        scheme: "http",
    }
}

/// What Gatehouse answered to a request it serves itself.
struct Answer {
    outcome: Outcome,
    status: u16,
    json: serde_json::Value,
    set_cookies: Vec<String>,
}

/// `method path` with `credential`, from a page on the app's own origin, answered by
/// Gatehouse itself ([`App::route`] must say it is served, not proxied).
async fn serve(app: &App, method: &str, path: &str, credential: Credential, body: &str) -> Answer {
    serve_from(app, method, path, credential, Some(ORIGIN), body).await
}

const ORIGIN: &str = "http://app.example.com";

/// [`serve`] with the request's `Origin` header (`None`: no `Origin`).
async fn serve_from(
    app: &App,
    method: &str,
    path: &str,
    credential: Credential,
    origin: Option<&str>,
    body: &str,
) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "app.example.com");
    if let Some(cookie) = cookie(credential) {
        request = request.header("cookie", cookie);
    }
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let (parts, ()) = request.body(()).unwrap().into_parts();
    let Route::Served(served) = app.route(Listener::Proxy, &parts) else {
        panic!("{method} {path} is not served by Gatehouse");
    };
    let body = Body::Read(body.as_bytes().to_vec());
    let (outcome, response) = app.answer(served, &parts, body, &client()).await;
    let set_cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let json = serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null);
    Answer {
        outcome,
        status: response.status().as_u16(),
        json,
        set_cookies,
    }
}

/// The outcome of `GET /required/x` with `credential`: whether the session still works.
async fn still_signed_in(app: &App, credential: Credential) -> bool {
    let (parts, ()) = Request::get("/required/x")
        .header("host", "app.example.com")
        .header("cookie", cookie(credential).unwrap())
        .body(())
        .unwrap()
        .into_parts();
    let Route::Proxied(route) = app.route(Listener::Proxy, &parts) else {
        panic!("/required/x is not proxied");
    };
    app.decide(route, &parts, &client()).await.outcome == Outcome::Authenticated
}
