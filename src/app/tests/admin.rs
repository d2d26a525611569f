//! The sessions admin API: who may use it, and what listing, filtering and revoking do.

use super::*;

const SESSIONS: &str = "/_gatehouse/api/sessions";

#[tokio::test]
async fn only_admin_role_sessions_may_use_it() {
    use Credential::*;
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_sessions(&dir).await;
    let cases = [
        (None, 401),
        (BadSignature, 401),
        (Expired, 401),
        (BannedUser, 401),
        (Valid, 403),
        (Admin, 200),
    ];
    for (credential, status) in cases {
        let answer = serve(&app, "GET", SESSIONS, credential, "").await;
        assert_eq!(answer.status, status, "{credential:?}");
    }
    let dashboard = serve(&app, "GET", "/_gatehouse/", None, "").await;
    assert_eq!(dashboard.status, 200, "the page itself holds no data");
}

#[tokio::test]
async fn the_list_is_filtered_paged_and_its_query_checked() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_sessions(&dir).await;
    let list = |query: &'static str| serve(&app, "GET", query, Credential::Admin, "");
    let all = list(SESSIONS).await;
    assert_eq!(all.json["total"], 5);
    assert_eq!(all.json["totalExact"], true);
    let expired = list("/_gatehouse/api/sessions?status=expired").await;
    assert_eq!(expired.json["total"], 1);
    assert_eq!(expired.json["sessions"][0]["id"], "id-expired");
    let page = list("/_gatehouse/api/sessions?pageSize=2&page=3").await;
    assert_eq!(page.json["sessions"].as_array().unwrap().len(), 1);
    let found = list("/_gatehouse/api/sessions?search=root%40example.com").await;
    assert_eq!(found.json["total"], 1);
    assert_eq!(found.json["sessions"][0]["user"]["id"], "root");
    for (query, parameter) in [
        ("/_gatehouse/api/sessions?pageSize=0", "pageSize"),
        ("/_gatehouse/api/sessions?sort=name", "sort"),
        ("/_gatehouse/api/sessions?page=1&page=2", "query"),
    ] {
        let answer = list(query).await;
        assert_eq!(answer.status, 400, "{query}");
        assert_eq!(answer.json["parameter"], parameter, "{query}");
    }
}

#[tokio::test]
async fn deleting_a_session_revokes_it_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_sessions(&dir).await;
    assert!(still_signed_in(&app, Credential::Valid).await);
    let path = "/_gatehouse/api/sessions/id-valid";
    let foreign = serve_from(
        &app,
        "DELETE",
        path,
        Credential::Admin,
        Some("http://evil.example"),
        "",
    )
    .await;
    assert_eq!(
        foreign.status, 403,
        "a session-authenticated admin checks Origin"
    );
    assert!(still_signed_in(&app, Credential::Valid).await);
    let answer = serve(&app, "DELETE", path, Credential::Admin, "").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["revoked"], 1);
    assert!(!still_signed_in(&app, Credential::Valid).await);
    let again = serve(&app, "DELETE", path, Credential::Admin, "").await;
    assert_eq!(again.status, 404);
}

#[tokio::test]
async fn revoking_a_user_ends_all_their_sessions_only() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_sessions(&dir).await;
    let path = "/_gatehouse/api/users/alice/sessions";
    let answer = serve(&app, "DELETE", path, Credential::Admin, "").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["revoked"], 3);
    assert!(!still_signed_in(&app, Credential::Valid).await);
    assert!(!still_signed_in(&app, Credential::ValidElsewhere).await);
    assert!(still_signed_in(&app, Credential::Admin).await);
}
