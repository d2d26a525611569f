use super::*;

fn route(method: Method, path: &str) -> Option<Result<AdminRoute, u16>> {
    AdminRoute::matching(&method, path, "/_gatehouse")
        .map(|r| r.map_err(|resp| resp.status().as_u16()))
}

#[test]
fn paths_under_the_mount_are_routed() {
    assert_eq!(
        route(Method::GET, "/_gatehouse/"),
        Some(Ok(AdminRoute::Page))
    );
    assert_eq!(
        route(Method::GET, "/_gatehouse/assets/app.js"),
        Some(Ok(AdminRoute::Asset("app.js")))
    );
    assert_eq!(
        route(Method::GET, "/_gatehouse/api/sessions"),
        Some(Ok(AdminRoute::ListSessions))
    );
    assert_eq!(
        route(Method::DELETE, "/_gatehouse/api/sessions/a%2Fb"),
        Some(Ok(AdminRoute::DeleteSession("a/b".into())))
    );
    assert_eq!(
        route(Method::DELETE, "/_gatehouse/api/users/u1/sessions"),
        Some(Ok(AdminRoute::DeleteUserSessions("u1".into())))
    );
    assert_eq!(
        route(Method::POST, "/_gatehouse/api/geo/resolve"),
        Some(Ok(AdminRoute::GeoResolve))
    );
}

#[test]
fn the_bare_mount_redirects_and_strays_are_404_or_405() {
    assert_eq!(route(Method::GET, "/_gatehouse"), Some(Err(308)));
    assert_eq!(route(Method::GET, "/_gatehouse/api/nope"), Some(Err(404)));
    assert_eq!(
        route(Method::GET, "/_gatehouse/assets/x.js"),
        Some(Err(404))
    );
    assert_eq!(
        route(Method::PUT, "/_gatehouse/api/sessions"),
        Some(Err(405))
    );
    assert_eq!(
        route(Method::POST, "/_gatehouse/api/sessions/x"),
        Some(Err(405))
    );
    assert_eq!(
        route(Method::GET, "/_gatehouse/api/sessions/%ff"),
        Some(Err(404))
    );
    assert_eq!(route(Method::GET, "/_gatehousex"), None);
    assert_eq!(route(Method::GET, "/app"), None);
}
