use super::*;

#[test]
fn endpoints_match_by_method_and_exact_path() {
    let m = |method: Method, path: &str| Endpoint::matching(&method, path, "/api/auth");
    assert_eq!(
        m(Method::GET, "/api/auth/get-session"),
        Some(Endpoint::GetSession)
    );
    assert_eq!(
        m(Method::POST, "/api/auth/sign-out"),
        Some(Endpoint::SignOut)
    );
    assert_eq!(
        m(Method::GET, "/api/auth/list-sessions"),
        Some(Endpoint::ListSessions)
    );
    assert_eq!(
        m(Method::POST, "/api/auth/revoke-other-sessions"),
        Some(Endpoint::RevokeOtherSessions)
    );
    assert_eq!(m(Method::GET, "/api/auth/session"), Some(Endpoint::Session));
    assert_eq!(
        m(Method::GET, "/api/auth/sign-out"),
        None,
        "Better Auth answers GET sign-out (404)"
    );
    assert_eq!(
        m(Method::POST, "/api/auth/get-session"),
        None,
        "deferred refresh stays Better Auth's"
    );
    assert_eq!(m(Method::POST, "/api/auth/sign-in/email"), None);
    assert_eq!(m(Method::GET, "/api/auth/get-session/x"), None);
    assert_eq!(m(Method::GET, "/api/authget-session"), None);
    assert_eq!(m(Method::GET, "/get-session"), None);
}

#[test]
fn names_are_the_configurable_ones() {
    for e in [
        Endpoint::GetSession,
        Endpoint::SignOut,
        Endpoint::ListSessions,
        Endpoint::RevokeSession,
        Endpoint::RevokeSessions,
        Endpoint::RevokeOtherSessions,
        Endpoint::Session,
    ] {
        assert!(
            crate::config::SERVED_ENDPOINTS.contains(&e.name()),
            "{}",
            e.name()
        );
    }
}

#[test]
fn query_flags_follow_better_auth_coercion() {
    let parts = |uri: &str| http::Request::get(uri).body(()).unwrap().into_parts().0;
    assert!(query_flag(
        &parts("/x?disableRefresh=true"),
        "disableRefresh"
    ));
    assert!(
        query_flag(&parts("/x?a=1&disableRefresh=false"), "disableRefresh"),
        "false counts as set"
    );
    assert!(!query_flag(&parts("/x?disableRefresh="), "disableRefresh"));
    assert!(!query_flag(
        &parts("/x?disableRefreshX=1"),
        "disableRefresh"
    ));
    assert!(!query_flag(&parts("/x"), "disableRefresh"));
}
