//! Better Auth's session API as Gatehouse serves it: what each endpoint answers for each kind
//! of credential, and what it changes in the store.

use super::*;

#[tokio::test]
async fn get_session_answers_the_callers_session_or_null() {
    use Credential::*;
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_sessions(&dir).await;
    let answer = serve(&app, "GET", "/api/auth/get-session", Valid, "").await;
    assert_eq!((answer.outcome, answer.status), (Outcome::Served, 200));
    assert_eq!(answer.json["user"]["id"], "alice");
    assert_eq!(answer.json["session"]["userId"], "alice");
    assert_eq!(answer.json["session"]["id"], "id-valid");
    for credential in [None, BadSignature, Expired, BannedUser, DeletedRow] {
        let answer = serve(&app, "GET", "/api/auth/get-session", credential, "").await;
        assert_eq!(answer.status, 200, "{credential:?}");
        assert_eq!(answer.json, serde_json::Value::Null, "{credential:?}");
    }
    // A signed cookie naming no session is a dead cookie: cleared, as Better Auth does.
    let dead = serve(&app, "GET", "/api/auth/get-session", DeletedRow, "").await;
    assert!(
        dead.set_cookies
            .iter()
            .any(|c| c.starts_with("better-auth.session_token=;") && c.contains("Max-Age=0")),
        "{:?}",
        dead.set_cookies
    );
}

#[tokio::test]
async fn sign_out_deletes_the_session_and_clears_its_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_sessions(&dir).await;
    assert!(still_signed_in(&app, Credential::Valid).await);
    let answer = serve(&app, "POST", "/api/auth/sign-out", Credential::Valid, "").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json, serde_json::json!({ "success": true }));
    assert!(answer
        .set_cookies
        .iter()
        .any(|c| c.starts_with("better-auth.session_token=;")));
    assert!(!still_signed_in(&app, Credential::Valid).await);
    // The user's other sessions are untouched.
    assert!(still_signed_in(&app, Credential::ValidElsewhere).await);
}

#[tokio::test]
async fn state_changing_endpoints_refuse_a_foreign_or_missing_origin() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_sessions(&dir).await;
    for origin in [Some("http://evil.example"), None] {
        let answer = serve_from(
            &app,
            "POST",
            "/api/auth/sign-out",
            Credential::Valid,
            origin,
            "",
        )
        .await;
        assert_eq!((answer.outcome, answer.status), (Outcome::Forbidden, 403));
        assert!(answer.set_cookies.is_empty());
    }
    assert!(still_signed_in(&app, Credential::Valid).await);
}

#[tokio::test]
async fn list_sessions_lists_the_callers_active_sessions_only() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_sessions(&dir).await;
    let answer = serve(
        &app,
        "GET",
        "/api/auth/list-sessions",
        Credential::Valid,
        "",
    )
    .await;
    assert_eq!(answer.status, 200);
    let mut ids: Vec<&str> = answer
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    // Alice's expired session is left out; other users' sessions never appear.
    assert_eq!(ids, ["id-elsewhere", "id-valid"]);
    let anonymous = serve(&app, "GET", "/api/auth/list-sessions", Credential::None, "").await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn revoke_session_revokes_only_the_callers_own() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_sessions(&dir).await;
    let path = "/api/auth/revoke-session";
    let foreign = serve(
        &app,
        "POST",
        path,
        Credential::Valid,
        r#"{"token":"admin"}"#,
    )
    .await;
    assert_eq!(foreign.status, 404);
    assert!(still_signed_in(&app, Credential::Admin).await);
    let bad = serve(&app, "POST", path, Credential::Valid, "not json").await;
    assert_eq!(bad.status, 400);
    let own = serve(
        &app,
        "POST",
        path,
        Credential::Valid,
        r#"{"token":"id-elsewhere"}"#,
    )
    .await;
    assert_eq!(own.status, 200);
    assert_eq!(own.json["status"], true);
    assert!(!still_signed_in(&app, Credential::ValidElsewhere).await);
    assert!(still_signed_in(&app, Credential::Valid).await);
}

#[tokio::test]
async fn revoke_other_sessions_keeps_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_sessions(&dir).await;
    let answer = serve(
        &app,
        "POST",
        "/api/auth/revoke-other-sessions",
        Credential::Valid,
        "",
    )
    .await;
    assert_eq!(answer.status, 200);
    assert!(still_signed_in(&app, Credential::Valid).await);
    assert!(!still_signed_in(&app, Credential::ValidElsewhere).await);
    assert!(
        still_signed_in(&app, Credential::Admin).await,
        "another user's"
    );
}

#[tokio::test]
async fn an_unreachable_store_answers_503_never_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_without_store(&dir);
    let answer = serve(&app, "GET", "/api/auth/get-session", Credential::Valid, "").await;
    assert_eq!(
        (answer.outcome, answer.status),
        (Outcome::StoreUnavailable, 503)
    );
    let answer = serve(&app, "POST", "/api/auth/sign-out", Credential::Valid, "").await;
    assert_eq!(answer.status, 503);
}
