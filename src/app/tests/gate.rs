//! The router and the gate: every policy against every kind of credential, the route rules, and
//! failing closed when the store is down.

use http::Request;

use super::*;
use crate::decision::Action;

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

/// The organization plugin's and the admin plugin's route rules, over a database with the
/// plugin's `session.activeOrganizationId` column and `member` table.
#[tokio::test]
async fn organization_and_impersonation_rules_refuse_what_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("org.db").display());
    store::migrate::run(&url).await.unwrap();
    let toml = format!(
        r#"[database]
url = "{url}"
[proxy]
upstream = "http://127.0.0.1:9"
[better_auth.plugins]
organization = true
[[routes]]
prefix = "/org"
require_active_organization = true
[[routes]]
prefix = "/org-admin"
organization_roles = ["admin", "owner"]
[[routes]]
prefix = "/no-impersonation"
refuse_impersonated = true
"#
    );
    let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", SECRET)]);
    let config = Config::from_file(parse_toml(&toml).unwrap(), &env).unwrap();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for ddl in [
        r#"ALTER TABLE "session" ADD COLUMN "activeOrganizationId" text"#,
        r#"CREATE TABLE "member" ("id" text primary key, "organizationId" text not null,
           "userId" text not null, "role" text not null, "createdAt" date not null)"#,
        r#"INSERT INTO "member" VALUES ('m1', 'org-1', 'alice', 'member,admin', '2026-01-01T00:00:00.000Z'),
           ('m2', 'org-1', 'bob', 'member', '2026-01-01T00:00:00.000Z'),
           ('m3', 'org-2', 'bob', 'owner', '2026-01-01T00:00:00.000Z')"#,
    ] {
        sqlx::query(ddl).execute(&pool).await.unwrap();
    }
    let db = store::open(&config.database).unwrap();
    db.insert_user(&user("alice", "user", false)).await.unwrap();
    db.insert_user(&user("bob", "user", false)).await.unwrap();
    let mut impersonated = session("impersonated", "alice", 3600, CLIENT);
    impersonated.impersonated_by = Some("root".into());
    for s in [
        session("alice-org-1", "alice", 3600, CLIENT),
        session("bob-org-1", "bob", 3600, CLIENT),
        session("bob-no-org", "bob", 3600, CLIENT),
        impersonated,
    ] {
        db.insert_session(&s).await.unwrap();
    }
    sqlx::query(
        r#"UPDATE "session" SET "activeOrganizationId" = 'org-1'
           WHERE "token" IN ('alice-org-1', 'bob-org-1', 'impersonated')"#,
    )
    .execute(&pool)
    .await
    .unwrap();
    let app = App::new(config, db, Arc::new(ManualClock::new(NOW))).unwrap();

    let status = |path: &'static str, token: &'static str| {
        let app = &app;
        async move {
            let cookie = format!(
                "better-auth.session_token={}",
                SigningKey::new(SECRET).sign_cookie_value(token)
            );
            let request = Request::get(path)
                .header("host", "app.example.com")
                .header("cookie", cookie);
            let (parts, ()) = request.body(()).unwrap().into_parts();
            let Route::Proxied(route) = app.route(Listener::Proxy, &parts) else {
                panic!("{path} is not a proxied route");
            };
            match app.decide(route, &parts, &client()).await.action {
                Action::Forward(_) => 200,
                Action::Respond(response) => response.status().as_u16(),
            }
        }
    };
    let cases = [
        ("/org", "alice-org-1", 200),
        ("/org", "bob-no-org", 403),
        // alice is admin in org-1; bob is only a member there (his owner role is in org-2).
        ("/org-admin", "alice-org-1", 200),
        ("/org-admin", "bob-org-1", 403),
        ("/org-admin", "bob-no-org", 403),
        ("/no-impersonation", "alice-org-1", 200),
        ("/no-impersonation", "impersonated", 403),
        ("/elsewhere", "impersonated", 200),
    ];
    for (path, token, expected) in cases {
        assert_eq!(status(path, token).await, expected, "{path} {token}");
    }
}
