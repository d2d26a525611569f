//! The sessions admin: a JSON API and the dashboard page, under `admin.mount` (default
//! `/_gatehouse`) on the proxy listener, or on a listener of its own (`admin.listen`). Access
//! needs the bearer token `GATEHOUSE_ADMIN_TOKEN` or a session whose user has one of
//! `admin.roles`, read from the database. State-changing requests that carry cookies
//! must come from a trusted origin. Raw session tokens are never returned; sessions are named by
//! their `id`.

mod handlers;
mod list_query;
mod page;

use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{header, Method, Response, StatusCode};
use percent_encoding::percent_decode_str;
use subtle::ConstantTimeEq;

use crate::auth::validator::ValidateOptions;
use crate::auth::{AuthOutcome, Revocation, SessionValidator};
use crate::config::Config;
use crate::decision::{ClientAddr, Outcome};
use crate::geo::Geo;
use crate::reply::{cookie_headers, json_response, store_unavailable};
use crate::session_api::check_origin;
use crate::store::SessionStore;
use crate::time::Clock;

/// An admin request, by path under the mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AdminRoute {
    /// The dashboard page.
    Page,
    /// A static asset of the page.
    Asset(&'static str),
    ListSessions,
    GetSession(String),
    DeleteSession(String),
    DeleteUserSessions(String),
    SeedSessions,
    SeedAccounts,
    GeoResolve,
    Stats,
}

impl AdminRoute {
    /// The admin route for a request, when its path is under `mount`. `Err` is the answer for a
    /// path under the mount that names nothing (404) or a wrong method (405).
    pub(crate) fn matching(
        method: &Method,
        path: &str,
        mount: &str,
    ) -> Option<Result<Self, Response<Bytes>>> {
        let rest = path.strip_prefix(mount)?;
        if rest.is_empty() {
            // The page's relative URLs need the trailing slash.
            let mut response = Response::new(Bytes::new());
            *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
            if let Ok(location) = format!("{mount}/").parse() {
                response.headers_mut().insert(header::LOCATION, location);
            }
            return Some(Err(response));
        }
        if !rest.starts_with('/') {
            return None;
        }
        let decoded: Option<Vec<String>> = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_decode_str(s)
                    .decode_utf8()
                    .ok()
                    .map(|c| c.into_owned())
            })
            .collect();
        let Some(segments) = decoded else {
            return Some(Err(not_found()));
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let get = *method == Method::GET || *method == Method::HEAD;
        let (route, allowed) = match segments.as_slice() {
            [] => (get.then_some(AdminRoute::Page), "GET"),
            ["assets", name] => match page::asset(name) {
                Some(name) => (get.then_some(AdminRoute::Asset(name)), "GET"),
                None => return Some(Err(not_found())),
            },
            ["api", "sessions"] => (
                (*method == Method::GET).then_some(AdminRoute::ListSessions),
                "GET",
            ),
            ["api", "sessions", id] => match *method {
                Method::GET => (Some(AdminRoute::GetSession(id.to_string())), ""),
                Method::DELETE => (Some(AdminRoute::DeleteSession(id.to_string())), ""),
                _ => (None, "GET, DELETE"),
            },
            ["api", "users", id, "sessions"] => (
                (*method == Method::DELETE).then(|| AdminRoute::DeleteUserSessions(id.to_string())),
                "DELETE",
            ),
            ["api", "seed", "sessions"] => (
                (*method == Method::POST).then_some(AdminRoute::SeedSessions),
                "POST",
            ),
            ["api", "seed", "accounts"] => (
                (*method == Method::POST).then_some(AdminRoute::SeedAccounts),
                "POST",
            ),
            ["api", "geo", "resolve"] => (
                (*method == Method::POST).then_some(AdminRoute::GeoResolve),
                "POST",
            ),
            ["api", "stats"] => ((*method == Method::GET).then_some(AdminRoute::Stats), "GET"),
            _ => return Some(Err(not_found())),
        };
        Some(route.ok_or_else(|| {
            let mut response = json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                r#"{"error":"method_not_allowed"}"#,
            );
            if let Ok(allow) = http::HeaderValue::from_str(allowed) {
                response.headers_mut().insert(header::ALLOW, allow);
            }
            response
        }))
    }

    /// A stable label for metrics and logs.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            AdminRoute::Page | AdminRoute::Asset(_) => "admin:page",
            _ => "admin:api",
        }
    }

    fn changes_state(&self) -> bool {
        matches!(
            self,
            AdminRoute::DeleteSession(_)
                | AdminRoute::DeleteUserSessions(_)
                | AdminRoute::SeedSessions
                | AdminRoute::SeedAccounts
                | AdminRoute::GeoResolve
        )
    }
}

/// The 404 for a path the admin does not serve.
pub(crate) fn not_found() -> Response<Bytes> {
    json_response(StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#)
}

/// The largest body an admin request may send.
pub(crate) const MAX_BODY: usize = 4 * 1024;

/// Who is asking.
enum Access {
    /// The bearer token: no cookies, so no cross-site risk.
    Token,
    /// A session whose user has an admin role.
    Session,
    /// Anyone else, with the answer they get.
    Refused(Response<Bytes>),
}

/// The sessions admin, with only what it uses.
pub(crate) struct Admin {
    config: Arc<Config>,
    validator: Arc<SessionValidator>,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    geo: Geo,
    revocation: Arc<Revocation>,
}

impl Admin {
    /// The admin of the gateway made of these parts.
    pub(crate) fn new(
        config: Arc<Config>,
        validator: Arc<SessionValidator>,
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        geo: Geo,
        revocation: Arc<Revocation>,
    ) -> Self {
        Self {
            config,
            validator,
            store,
            clock,
            geo,
            revocation,
        }
    }

    /// The admin route for a request under the mount, if the admin is on and served on this
    /// listener: its own (`on_own_listener`), or the proxy's when `admin.listen` is unset.
    pub(crate) fn route(
        &self,
        req: &Parts,
        on_own_listener: bool,
    ) -> Option<Result<AdminRoute, Response<Bytes>>> {
        let admin = self.config.admin.as_ref()?;
        if admin.listen.is_some() != on_own_listener {
            return None;
        }
        AdminRoute::matching(&req.method, req.uri.path(), &admin.mount)
    }

    /// Answers an admin request.
    pub(crate) async fn handle(
        &self,
        route: AdminRoute,
        req: &Parts,
        body: &[u8],
        client: &ClientAddr,
    ) -> (Outcome, Response<Bytes>) {
        match route {
            AdminRoute::Page => return (Outcome::Served, page::index()),
            AdminRoute::Asset(name) => return (Outcome::Served, page::serve(name)),
            _ => {}
        }
        let with_session = match self.access(req).await {
            Access::Token => false,
            Access::Session => true,
            Access::Refused(response) => return (Outcome::Forbidden, response),
        };
        if route.changes_state() && with_session {
            let trusted = &self.config.better_auth.trusted_origins;
            let scheme = client.scheme;
            if let Err(refused) = check_origin(&req.method, &req.headers, trusted, scheme) {
                return (
                    Outcome::Forbidden,
                    json_response(StatusCode::FORBIDDEN, refused.body()),
                );
            }
        }
        let response = self.admin_api(route, req, body).await;
        let outcome = match response.status() {
            StatusCode::SERVICE_UNAVAILABLE => Outcome::StoreUnavailable,
            s if s.is_client_error() => Outcome::BadRequest,
            _ => Outcome::Served,
        };
        (outcome, response)
    }

    async fn access(&self, req: &Parts) -> Access {
        let refused = |status, body| Access::Refused(json_response(status, body));
        let Some(admin) = &self.config.admin else {
            return Access::Refused(not_found());
        };
        let bearer = req
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let Some(sent) = bearer {
            // SECURITY: constant-time comparison of the admin token.
            let ok = admin
                .token
                .as_ref()
                .is_some_and(|t| bool::from(t.expose().as_bytes().ct_eq(sent.as_bytes())));
            return if ok {
                Access::Token
            } else {
                refused(StatusCode::UNAUTHORIZED, r#"{"error":"bad_token"}"#)
            };
        }
        let cookies = cookie_headers(req);
        let options = ValidateOptions {
            authoritative: true,
            ..Default::default()
        };
        match self.validator.validate(&cookies, options).await {
            Ok(AuthOutcome::Authenticated(a)) => {
                if a.session.has_any_role(&admin.roles) {
                    Access::Session
                } else {
                    refused(StatusCode::FORBIDDEN, r#"{"error":"forbidden"}"#)
                }
            }
            Ok(AuthOutcome::Anonymous { .. }) => {
                refused(StatusCode::UNAUTHORIZED, r#"{"error":"unauthenticated"}"#)
            }
            Err(e) => Access::Refused(store_unavailable("admin", &e)),
        }
    }
}

#[cfg(test)]
mod tests {
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
}
