//! The `Set-Cookie` headers Gatehouse writes for Better Auth's own cookies, each with the name
//! and attributes Better Auth would give it (`config::CookieConfig`): the re-sent session cookie
//! of a refresh, the clears of a sign-out or a dead session, and the multi-session plugin's
//! cookies. (`session_data` is written by the cookie cache's chunk writer.)

use std::sync::Arc;

use super::cookie::{expire_cookie, multi_session_cookies, set_cookie, SigningKey};
use super::cookie_cache::chunk_names;
use crate::config::Config;

/// Writes Better Auth's cookies as the configured deployment would.
#[derive(Debug)]
pub(crate) struct SessionCookies {
    key: SigningKey,
    config: Arc<Config>,
}

impl SessionCookies {
    pub(crate) fn new(config: Arc<Config>) -> Self {
        Self {
            key: SigningKey::new(config.better_auth.secret.expose()),
            config,
        }
    }

    /// The session cookie Better Auth sets: same token, `Max-Age` = `expiresIn`.
    pub(crate) fn session_cookie(&self, token: &str) -> String {
        let ba = &self.config.better_auth;
        set_cookie(
            &ba.cookies.session_token,
            &self.key.sign_cookie_value(token),
            Some(ba.expires_in.as_secs()),
            &ba.cookies.session_token_attributes,
        )
    }

    /// `Set-Cookie` values that delete every Better Auth session cookie, in the order Better
    /// Auth's `deleteSessionCookie` writes them: the token, `session_data`, `account_data` and
    /// its chunks the request carries (with `storeAccountCookie`), `oauth_state` (with the
    /// cookie state strategy), then `session_data` and each of its chunks the request carries
    /// (again), then `dont_remember`.
    pub(crate) fn clear(&self, cookie_headers: &[&str]) -> Vec<String> {
        let c = &self.config.better_auth.cookies;
        let mut out = vec![
            expire_cookie(&c.session_token, &c.session_token_attributes),
            expire_cookie(&c.session_data, &c.session_data_attributes),
        ];
        if let Some((name, attributes)) = &c.account_data {
            out.push(expire_cookie(name, attributes));
            out.extend(
                chunk_names(cookie_headers, name)
                    .iter()
                    .map(|chunk| expire_cookie(chunk, attributes)),
            );
        }
        if let Some((name, attributes)) = &c.oauth_state {
            out.push(expire_cookie(name, attributes));
        }
        out.extend(
            chunk_names(cookie_headers, &c.session_data)
                .iter()
                .map(|name| expire_cookie(name, &c.session_data_attributes)),
        );
        out.push(expire_cookie(&c.dont_remember, &c.dont_remember_attributes));
        out
    }

    /// The multi-session plugin's correctly signed cookies in the request: (name, token).
    pub(crate) fn multi_session(&self, cookie_headers: &[&str]) -> Vec<(String, String)> {
        multi_session_cookies(cookie_headers, &self.key)
    }

    /// The `Set-Cookie` that expires multi-session cookie `name` (with the session token's
    /// attributes, as the plugin does).
    pub(crate) fn expire_multi_session(&self, name: &str) -> String {
        let c = &self.config.better_auth.cookies;
        expire_cookie(name, &c.session_token_attributes)
    }
}
