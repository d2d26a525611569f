//! The gate in process: every policy against every kind of credential, and the route rules,
//! decided by [`App::decide`] over a real SQLite file with a fixed clock. No sockets.

use std::net::IpAddr;
use std::time::Duration;

use http::Request;

use super::*;
use crate::auth::cookie::SigningKey;
use crate::config::{parse_toml, MapEnv};
use crate::decision::Action;
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

/// The outcome and status of `GET path` with `credential`, as the gate decides it.
async fn gate(app: &App, path: &str, credential: Credential) -> (Outcome, u16) {
    let mut request = Request::get(path).header("host", "app.example.com");
    if let Some(cookie) = cookie(credential) {
        request = request.header("cookie", cookie);
    }
    let (parts, ()) = request.body(()).unwrap().into_parts();
    let Route::Proxied(route) = app.route(Listener::Proxy, &parts) else {
        panic!("{path} is not a proxied route");
    };
    let decision = app.decide(route, &parts, &client()).await;
    let status = match &decision.action {
        Action::Forward(plan) => {
            // Forwarded with an identity exactly when the outcome says so.
            assert_eq!(
                plan.session.is_some(),
                decision.outcome == Outcome::Authenticated,
                "{path} {credential:?}"
            );
            200
        }
        Action::Respond(response) => response.status().as_u16(),
    };
    (decision.outcome, status)
}

#[tokio::test]
async fn every_policy_against_every_credential() {
    use Credential::*;
    use Outcome::*;
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_sessions(&dir).await;
    let anonymous = [None, BadSignature, Expired, BannedUser, DeletedRow];
    for credential in anonymous {
        assert_eq!(gate(&app, "/public/x", credential).await, (Public, 200));
        assert_eq!(
            gate(&app, "/optional/x", credential).await,
            (Anonymous, 200)
        );
        let denied = gate(&app, "/required/x", credential).await;
        assert_eq!(denied, (Unauthenticated, 401), "{credential:?}");
        // Unmatched paths are `required` too.
        assert_eq!(
            gate(&app, "/elsewhere", credential).await,
            (Unauthenticated, 401)
        );
    }
    assert_eq!(gate(&app, "/public/x", Valid).await, (Public, 200));
    assert_eq!(gate(&app, "/optional/x", Valid).await, (Authenticated, 200));
    assert_eq!(gate(&app, "/required/x", Valid).await, (Authenticated, 200));
}

#[tokio::test]
async fn route_rules_refuse_what_they_name() {
    use Credential::*;
    use Outcome::*;
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_sessions(&dir).await;
    let cases = [
        ("/admin/x", Valid, (Forbidden, 403)),
        ("/admin/x", Admin, (Authenticated, 200)),
        ("/admin/x", None, (Unauthenticated, 401)),
        // Sessions created an hour ago are not fresh within 60 s.
        ("/fresh/x", Valid, (Forbidden, 403)),
        ("/bound/x", Valid, (Authenticated, 200)),
        ("/bound/x", ValidElsewhere, (Forbidden, 403)),
        ("/required/x", ValidElsewhere, (Authenticated, 200)),
    ];
    for (path, credential, expected) in cases {
        assert_eq!(
            gate(&app, path, credential).await,
            expected,
            "{path} {credential:?}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_store_fails_closed_except_on_public_routes() {
    use Credential::*;
    let dir = tempfile::tempdir().unwrap();
    let app = app_without_store(&dir);
    for credential in [Valid, Expired, DeletedRow] {
        for path in ["/required/x", "/optional/x", "/admin/x"] {
            assert_eq!(
                gate(&app, path, credential).await,
                (Outcome::StoreUnavailable, 503),
                "{path} {credential:?}"
            );
        }
        assert_eq!(
            gate(&app, "/public/x", credential).await,
            (Outcome::Public, 200)
        );
    }
    // No credential, or a forged one, never needs the store.
    for credential in [None, BadSignature] {
        assert_eq!(
            gate(&app, "/required/x", credential).await,
            (Outcome::Unauthenticated, 401)
        );
        assert_eq!(
            gate(&app, "/optional/x", credential).await,
            (Outcome::Anonymous, 200)
        );
    }
}

#[tokio::test]
async fn the_router_sends_served_paths_to_gatehouse_and_the_rest_to_routes() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_sessions(&dir).await;
    let route = |method: &str, path: &str| {
        let (parts, ()) = Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
            .into_parts();
        match app.route(Listener::Proxy, &parts) {
            Route::Served(served) => format!("served {}", served.name()),
            Route::Proxied(route) => format!("proxied {}", route.name),
        }
    };
    assert_eq!(route("GET", "/api/auth/get-session"), "served get-session");
    assert_eq!(route("POST", "/api/auth/sign-out"), "served sign-out");
    assert_eq!(
        route("POST", "/api/auth/sign-in/email"),
        "proxied better_auth"
    );
    assert_eq!(route("GET", "/required/x"), "proxied /required");
    assert_eq!(route("GET", "/nowhere"), "proxied default");
}
