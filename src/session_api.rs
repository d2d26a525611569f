//! The endpoints Gatehouse answers itself under Better Auth's base path, so Better Auth's client
//! (`getSession`, `signOut`, `listSessions`, `revokeSession`, `revokeSessions`,
//! `revokeOtherSessions`) works unchanged through the gateway, plus the snake_case
//! `GET <base>/session`. Every one is rate limited per client IP; state-changing ones check
//! `Origin` as Better Auth does, and read the session from the database, never from a cache.

mod json;
mod origin;
mod rate_limit;

use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderName, HeaderValue, Method, Response, StatusCode};

pub(crate) use origin::check as check_origin;
pub(crate) use rate_limit::RateLimiter;

use crate::auth::validator::{Authenticated, ValidateOptions};
use crate::auth::{AuthOutcome, Revocation, SessionValidator};
use crate::config::{Config, GetSessionMode};
use crate::decision::{ClientAddr, Outcome};
use crate::metrics::Metrics;
use crate::reply::{
    cookie_headers, json, json_response, session_not_fresh, store_unavailable, with_cookies,
};
use crate::store::SessionStore;
use crate::time::Clock;
use json::{SessionJson, SessionWithUser, SnakeSessionWithUser};

/// An endpoint Gatehouse serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    GetSession,
    SignOut,
    ListSessions,
    RevokeSession,
    RevokeSessions,
    RevokeOtherSessions,
    /// `GET <base>/session`, snake_case.
    Session,
}

impl Endpoint {
    /// The endpoint for a request, if Gatehouse serves it (other methods and paths under the
    /// base path go to Better Auth).
    pub(crate) fn matching(method: &Method, path: &str, base_path: &str) -> Option<Self> {
        let name = path.strip_prefix(base_path)?.strip_prefix('/')?;
        let endpoint = match name {
            "get-session" => Endpoint::GetSession,
            "sign-out" => Endpoint::SignOut,
            "list-sessions" => Endpoint::ListSessions,
            "revoke-session" => Endpoint::RevokeSession,
            "revoke-sessions" => Endpoint::RevokeSessions,
            "revoke-other-sessions" => Endpoint::RevokeOtherSessions,
            "session" => Endpoint::Session,
            _ => return None,
        };
        let wanted = if endpoint.changes_state() {
            Method::POST
        } else {
            Method::GET
        };
        // OPTIONS too: Gatehouse answers the CORS preflights of the endpoints it serves.
        (*method == wanted || *method == Method::OPTIONS).then_some(endpoint)
    }

    /// The name in config (`rate_limit.endpoints.<name>`) and logs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Endpoint::GetSession => "get-session",
            Endpoint::SignOut => "sign-out",
            Endpoint::ListSessions => "list-sessions",
            Endpoint::RevokeSession => "revoke-session",
            Endpoint::RevokeSessions => "revoke-sessions",
            Endpoint::RevokeOtherSessions => "revoke-other-sessions",
            Endpoint::Session => "session",
        }
    }

    /// Whether it changes state (POST, `Origin` checked, body read).
    pub(crate) fn changes_state(self) -> bool {
        matches!(
            self,
            Endpoint::SignOut
                | Endpoint::RevokeSession
                | Endpoint::RevokeSessions
                | Endpoint::RevokeOtherSessions
        )
    }
}

/// The largest request body an endpoint reads.
pub(crate) const MAX_BODY: usize = 16 * 1024;

fn unauthorized() -> Response<Bytes> {
    json_response(
        StatusCode::UNAUTHORIZED,
        r#"{"code":"UNAUTHORIZED","message":"Unauthorized"}"#,
    )
}

/// Whether a Better Auth boolean query flag is set: any non-empty value counts, `false` too
/// (Better Auth coerces with `z.coerce.boolean`).
fn query_flag(req: &Parts, name: &str) -> bool {
    req.uri.query().unwrap_or_default().split('&').any(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        k == name && !v.is_empty()
    })
}

#[derive(serde::Deserialize)]
struct RevokeBody {
    token: String,
}

/// Better Auth's session API as Gatehouse serves it, with only what it uses.
pub(crate) struct SessionApi {
    config: Arc<Config>,
    validator: Arc<SessionValidator>,
    store: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    rate_limiter: RateLimiter,
    revocation: Arc<Revocation>,
}

impl SessionApi {
    /// The session API of the gateway made of these parts.
    pub(crate) fn new(
        config: Arc<Config>,
        validator: Arc<SessionValidator>,
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        revocation: Arc<Revocation>,
    ) -> Self {
        Self {
            rate_limiter: RateLimiter::new(&config.rate_limit, clock.clone()),
            config,
            validator,
            store,
            clock,
            metrics,
            revocation,
        }
    }

    /// Whether Gatehouse answers `endpoint` itself (`better_auth.get_session = "better_auth"`
    /// leaves `get-session` to Better Auth).
    pub(crate) fn serves(&self, endpoint: Endpoint) -> bool {
        endpoint != Endpoint::GetSession
            || self.config.better_auth.get_session == GetSessionMode::Gatehouse
    }

    /// Answers `endpoint` for a request with head `req`, body `body`, from `client`.
    pub(crate) async fn serve(
        &self,
        endpoint: Endpoint,
        req: &Parts,
        body: &[u8],
        client: &ClientAddr,
    ) -> (Outcome, Response<Bytes>) {
        if req.method == Method::OPTIONS {
            return (
                Outcome::Served,
                self.with_cors(req, self.preflight(endpoint, req)),
            );
        }
        let (outcome, response) = self.serve_request(endpoint, req, body, client).await;
        (outcome, self.with_cors(req, response))
    }

    /// A CORS preflight's answer: 204, and for a trusted origin the method, the requested
    /// headers and credentials allowed for ten minutes.
    fn preflight(&self, endpoint: Endpoint, req: &Parts) -> Response<Bytes> {
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = StatusCode::NO_CONTENT;
        if self.trusted_origin(req).is_some() {
            let headers = response.headers_mut();
            let method = if endpoint.changes_state() {
                "POST"
            } else {
                "GET"
            };
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(method),
            );
            if let Some(asked) = req.headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
            }
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
        response
    }

    /// The request's `Origin` when it is one of the trusted origins (`trustedOrigins`).
    fn trusted_origin<'r>(&self, req: &'r Parts) -> Option<&'r HeaderValue> {
        let origin = req.headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.config
            .better_auth
            .trusted_origins
            .iter()
            .any(|t| t.eq_ignore_ascii_case(text))
            .then_some(origin)
    }

    /// `response` with `Access-Control-Allow-Origin` (the request's origin) and
    /// `-Credentials` when the origin is trusted; `Vary: Origin` always, since the answer
    /// depends on it.
    fn with_cors(&self, req: &Parts, mut response: Response<Bytes>) -> Response<Bytes> {
        let headers = response.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = self.trusted_origin(req) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        response
    }

    /// Answers one of the endpoint's own requests (not a preflight).
    async fn serve_request(
        &self,
        endpoint: Endpoint,
        req: &Parts,
        body: &[u8],
        client: &ClientAddr,
    ) -> (Outcome, Response<Bytes>) {
        if let Some(ip) = client.ip {
            if let Some(retry_after) = self.rate_limiter.check(ip, endpoint.name()) {
                self.metrics.rate_limited.inc();
                // Better Auth's answer (body and X-Retry-After), plus the standard Retry-After.
                let mut response = json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    r#"{"message":"Too many requests. Please try again later."}"#,
                );
                let secs = retry_after.as_millis().div_ceil(1000).max(1).to_string();
                if let Ok(value) = HeaderValue::from_str(&secs) {
                    let headers = response.headers_mut();
                    headers.insert(header::RETRY_AFTER, value.clone());
                    headers.insert(HeaderName::from_static("x-retry-after"), value);
                }
                return (Outcome::RateLimited, response);
            }
        }
        if endpoint.changes_state() {
            let trusted = &self.config.better_auth.trusted_origins;
            let scheme = client.scheme;
            if let Err(refused) = origin::check(&req.method, &req.headers, trusted, scheme) {
                return (
                    Outcome::Forbidden,
                    json_response(StatusCode::FORBIDDEN, refused.body()),
                );
            }
        }
        let response = self.answer(endpoint, req, body).await;
        let outcome = if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            Outcome::StoreUnavailable
        } else {
            Outcome::Served
        };
        (outcome, response)
    }

    async fn answer(&self, endpoint: Endpoint, req: &Parts, body: &[u8]) -> Response<Bytes> {
        let cookies = cookie_headers(req);
        let options = ValidateOptions {
            disable_refresh: query_flag(req, "disableRefresh"),
            authoritative: endpoint.changes_state() || query_flag(req, "disableCookieCache"),
        };
        let outcome = match self.validator.validate(&cookies, options).await {
            Ok(outcome) => outcome,
            Err(e) => return store_unavailable(endpoint.name(), &e),
        };
        match (endpoint, outcome) {
            (Endpoint::SignOut, outcome) => self.sign_out(outcome, &cookies).await,
            (Endpoint::GetSession, outcome) => {
                // Better Auth expires a stale session_data before anything else it writes.
                let disable_cookie_cache = query_flag(req, "disableCookieCache");
                let stale = self
                    .validator
                    .stale_session_data(&cookies, disable_cookie_cache);
                self.get_session(outcome, stale)
            }
            (Endpoint::Session, AuthOutcome::Authenticated(a)) => with_cookies(
                json(
                    StatusCode::OK,
                    &SnakeSessionWithUser::new(
                        Some(&a.session.record(&a.token)),
                        &self.config.better_auth.additional_fields,
                    ),
                ),
                &a.set_cookies,
            ),
            (Endpoint::Session, AuthOutcome::Anonymous { set_cookies, .. }) => with_cookies(
                json(
                    StatusCode::OK,
                    &SnakeSessionWithUser::new(None, &self.config.better_auth.additional_fields),
                ),
                &set_cookies,
            ),
            (_, AuthOutcome::Anonymous { set_cookies, .. }) => {
                with_cookies(unauthorized(), &set_cookies)
            }
            (Endpoint::ListSessions, AuthOutcome::Authenticated(a)) => self.list_sessions(a).await,
            (Endpoint::RevokeSession, AuthOutcome::Authenticated(a)) => {
                self.revoke_session(a, req, body).await
            }
            (Endpoint::RevokeSessions, AuthOutcome::Authenticated(a)) => {
                self.revoke_sessions(a, req, false).await
            }
            (Endpoint::RevokeOtherSessions, AuthOutcome::Authenticated(a)) => {
                self.revoke_sessions(a, req, true).await
            }
        }
    }

    /// `get-session`'s answer: the session and user, or `null`, after the `stale` expiries.
    fn get_session(&self, outcome: AuthOutcome, mut set_cookies: Vec<String>) -> Response<Bytes> {
        match outcome {
            AuthOutcome::Authenticated(a) => {
                set_cookies.extend(a.set_cookies.iter().cloned());
                let fields = &self.config.better_auth.additional_fields;
                with_cookies(
                    json(
                        StatusCode::OK,
                        &SessionWithUser::new(&a.session.record(&a.token), fields),
                    ),
                    &set_cookies,
                )
            }
            AuthOutcome::Anonymous {
                set_cookies: cleared,
                ..
            } => {
                // Clearing every cookie replaces the earlier expiries (Better Auth's
                // expireCookie drops pending Set-Cookies of the same name).
                if !cleared.is_empty() {
                    set_cookies = cleared;
                }
                with_cookies(json_response(StatusCode::OK, "null"), &set_cookies)
            }
        }
    }

    /// Deletes the caller's session (if any) and expires every session cookie; with the
    /// multi-session plugin, also every session of a correctly signed `*_multi-*` cookie (all
    /// accounts signed in on this browser), whose cookies it expires too, as the plugin's
    /// sign-out hook does.
    async fn sign_out(&self, outcome: AuthOutcome, cookies: &[&str]) -> Response<Bytes> {
        let mut tokens = Vec::new();
        if let AuthOutcome::Authenticated(a) = outcome {
            tokens.push(a.token);
        }
        let mut set_cookies = self.validator.cookies().clear(cookies);
        if self.config.better_auth.multi_session {
            for (name, token) in self.validator.cookies().multi_session(cookies) {
                set_cookies.push(self.validator.cookies().expire_multi_session(&name));
                tokens.push(token);
            }
        }
        if !tokens.is_empty() {
            if let Err(e) = self.revocation.revoke(&tokens, "sign_out").await {
                return store_unavailable("sign-out", &e);
            }
        }
        with_cookies(
            json_response(StatusCode::OK, r#"{"success":true}"#),
            &set_cookies,
        )
    }

    /// The caller's active sessions; needs a fresh session, as in Better Auth.
    async fn list_sessions(&self, caller: Authenticated) -> Response<Bytes> {
        let now = self.clock.now();
        let session = &caller.session;
        if !session.is_fresh(self.config.sessions.fresh_age, now) {
            return with_cookies(session_not_fresh(), &caller.set_cookies);
        }
        let sessions = match self.store.list_user_sessions(session.user_id()).await {
            Ok(sessions) => sessions,
            Err(e) => return store_unavailable("list-sessions", &e),
        };
        let active: Vec<SessionJson<'_>> = sessions
            .iter()
            .filter(|s| s.expires_at > now && s.impersonated_by.is_none())
            .map(|s| SessionJson::new(s, &self.config.better_auth.additional_fields.session))
            .collect();
        with_cookies(json(StatusCode::OK, &active), &caller.set_cookies)
    }

    /// Revokes one of the caller's own sessions, named by its id (what `list-sessions` gives
    /// as `token`) or its token; 404 when the caller has no such session.
    async fn revoke_session(
        &self,
        caller: Authenticated,
        req: &Parts,
        body: &[u8],
    ) -> Response<Bytes> {
        let Ok(RevokeBody { token: wanted }) = serde_json::from_slice(body) else {
            return json_response(
                StatusCode::BAD_REQUEST,
                r#"{"code":"INVALID_REQUEST_BODY","message":"expected {\"token\": \"<session id or token>\"}"}"#,
            );
        };
        let sessions = match self
            .store
            .list_user_sessions(caller.session.user_id())
            .await
        {
            Ok(sessions) => sessions,
            Err(e) => return store_unavailable("revoke-session", &e),
        };
        // SECURITY: only the caller's own sessions can be named.
        let Some(target) = sessions
            .into_iter()
            .find(|s| s.id == wanted || s.token == wanted)
        else {
            return json_response(
                StatusCode::NOT_FOUND,
                r#"{"code":"SESSION_NOT_FOUND","message":"No such session"}"#,
            );
        };
        let revoked_own = target.token == caller.token;
        let revoked = match self
            .revocation
            .revoke(&[target.token], "revoke_endpoint")
            .await
        {
            Ok(revoked) => revoked,
            Err(e) => return store_unavailable("revoke-session", &e),
        };
        let cookies = if revoked_own {
            self.validator.cookies().clear(&cookie_headers(req))
        } else {
            caller.set_cookies
        };
        let mut response = json_response(StatusCode::OK, "");
        *response.body_mut() = Bytes::from(format!(r#"{{"status":true,"revoked":{revoked}}}"#));
        with_cookies(response, &cookies)
    }

    /// Revokes all of the caller's sessions, or all but the current one.
    async fn revoke_sessions(
        &self,
        caller: Authenticated,
        req: &Parts,
        keep_current: bool,
    ) -> Response<Bytes> {
        let user_id = caller.session.user_id();
        let keep = keep_current.then_some(caller.token.as_str());
        let revoked = match self
            .revocation
            .revoke_user(user_id, keep, "revoke_endpoint")
            .await
        {
            Ok(revoked) => revoked,
            Err(e) => return store_unavailable("revoke-sessions", &e),
        };
        let body = format!(r#"{{"status":true,"revoked":{revoked}}}"#);
        let mut response = json_response(StatusCode::OK, "");
        *response.body_mut() = Bytes::from(body);
        // Better Auth 1.7.25 also expires the caller's cookies when all sessions go.
        let cookies = if keep_current {
            caller.set_cookies
        } else {
            self.validator.cookies().clear(&cookie_headers(req))
        };
        with_cookies(response, &cookies)
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(
            m(Method::OPTIONS, "/api/auth/sign-out"),
            Some(Endpoint::SignOut),
            "its CORS preflight"
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
}
