//! Better Auth's cookies: their names and the attributes every `Set-Cookie` Gatehouse writes for
//! them carries, resolved once at startup exactly as Better Auth's `createCookieGetter` and
//! better-call's `resolveCookie` resolve them.
//!
//! Per cookie, later wins: Better Auth's defaults (`Path=/`, `HttpOnly`, `SameSite=Lax`, `Secure`
//! when the names get the `__Secure-` prefix), then `Domain` from
//! `advanced.crossSubDomainCookies`, then `advanced.defaultCookieAttributes`, then the cookie's
//! own `advanced.cookies.<cookie>.attributes`. Then better-call's rules: a `__Secure-` name,
//! `Partitioned` or `SameSite=None` force `Secure`; a `__Host-` name forces `Secure`, `Path=/` and
//! no `Domain`.

use super::file::{BetterAuthSection, CookieAttributesSection};
use super::ConfigError;

/// Cookie names and attributes, decided as Better Auth decides them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    pub session_token: String,
    pub session_data: String,
    pub dont_remember: String,
    /// The names carry the `__Secure-` prefix (`useSecureCookies`, an https base URL, or
    /// `NODE_ENV=production`).
    pub secure: bool,
    /// Attributes of `session_token` and of the multi-session plugin's `<session_token>_multi-*`.
    pub session_token_attributes: CookieAttributes,
    /// Attributes of `session_data` and its chunks `session_data.N`.
    pub session_data_attributes: CookieAttributes,
    pub dont_remember_attributes: CookieAttributes,
    /// `account_data` (and its chunks), expired with the others when
    /// `account.storeAccountCookie` is on.
    pub account_data: Option<(String, CookieAttributes)>,
    /// `oauth_state`, expired with the others when `account.storeStateStrategy` is `cookie`.
    pub oauth_state: Option<(String, CookieAttributes)>,
}

/// The attributes of one cookie, final: what follows `name=value; Max-Age=N` in its
/// `Set-Cookie`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieAttributes {
    pub domain: Option<String>,
    /// Written only when not empty.
    pub path: String,
    pub http_only: bool,
    pub secure: bool,
    pub same_site: Option<SameSite>,
    pub partitioned: bool,
}

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

impl SameSite {
    /// The attribute value as better-call writes it (first letter upper case).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "Strict",
            Self::Lax => "Lax",
            Self::None => "None",
        }
    }
}

pub(super) fn cookies(b: &BetterAuthSection, secure: bool) -> Result<CookieConfig, ConfigError> {
    let name = |key: &str, over: &Option<String>| -> Result<String, ConfigError> {
        let base = over
            .clone()
            .unwrap_or_else(|| format!("{}.{key}", b.cookie_prefix));
        if base.is_empty() || !base.chars().all(is_cookie_name_char) {
            return Err(ConfigError::new(
                format!("better_auth.cookies.{key}"),
                "must be a cookie name (letters, digits, `-`, `_`, `.`)",
            ));
        }
        Ok(if secure {
            format!("__Secure-{base}")
        } else {
            base
        })
    };
    let session_token = name("session_token", &b.cookies.session_token)?;
    let session_data = name("session_data", &b.cookies.session_data)?;
    let dont_remember = name("dont_remember", &b.cookies.dont_remember)?;
    let account_data = name("account_data", &b.cookies.account_data)?;
    let oauth_state = name("oauth_state", &b.cookies.oauth_state)?;
    let state_in_cookie = match b.account.store_state_strategy.as_str() {
        "database" => false,
        "cookie" => true,
        other => {
            return Err(ConfigError::new(
                "better_auth.account.store_state_strategy",
                format!("`{other}` is not one of database, cookie (Better Auth's account.storeStateStrategy)"),
            ))
        }
    };

    let cross = &b.cross_sub_domain_cookies;
    let shared_domain = if cross.enabled {
        let domain =
            match (&cross.domain, &b.url) {
                (Some(d), _) => d.clone(),
                (None, Some(url)) => host_of(url).ok_or_else(|| {
                    ConfigError::new("better_auth.url", format!("`{url}` has no host"))
                })?,
                (None, None) => return Err(ConfigError::new(
                    "better_auth.cross_sub_domain_cookies.domain",
                    "not set and BETTER_AUTH_URL is not set either; set one of them (Better Auth \
                     needs a baseURL when crossSubDomainCookies are enabled)",
                )),
            };
        Some(cookie_domain(
            "better_auth.cross_sub_domain_cookies.domain",
            &domain,
        )?)
    } else {
        None
    };
    let base = CookieAttributes {
        domain: shared_domain,
        ..CookieAttributes::better_auth_defaults(secure)
    };
    let base = apply(
        base,
        &b.default_cookie_attributes,
        "better_auth.default_cookie_attributes",
    )?;
    let per = &b.cookie_attributes;
    let resolved = |cookie: &str, section: &CookieAttributesSection, name: &str| {
        let key = format!("better_auth.cookie_attributes.{cookie}");
        apply(base.clone(), section, &key).map(|a| a.resolved_for(name))
    };
    Ok(CookieConfig {
        session_token_attributes: resolved("session_token", &per.session_token, &session_token)?,
        session_data_attributes: resolved("session_data", &per.session_data, &session_data)?,
        dont_remember_attributes: resolved("dont_remember", &per.dont_remember, &dont_remember)?,
        account_data: if b.account.store_account_cookie {
            let attributes = resolved("account_data", &per.account_data, &account_data)?;
            Some((account_data, attributes))
        } else {
            None
        },
        oauth_state: if state_in_cookie {
            let attributes = resolved("oauth_state", &per.oauth_state, &oauth_state)?;
            Some((oauth_state, attributes))
        } else {
            None
        },
        session_token,
        session_data,
        dont_remember,
        secure,
    })
}

impl CookieAttributes {
    /// Better Auth's attributes when nothing overrides them: `Path=/; HttpOnly; SameSite=Lax`,
    /// plus `Secure` when the names carry the `__Secure-` prefix.
    pub fn better_auth_defaults(secure: bool) -> Self {
        Self {
            domain: None,
            path: "/".into(),
            http_only: true,
            secure,
            same_site: Some(SameSite::Lax),
            partitioned: false,
        }
    }

    /// better-call's `resolveCookie`: what the cookie's name and other attributes force.
    fn resolved_for(mut self, name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("__host-") {
            self.secure = true;
            self.path = "/".into();
            self.domain = None;
        } else if lower.starts_with("__secure-") {
            self.secure = true;
        }
        if self.partitioned || self.same_site == Some(SameSite::None) {
            self.secure = true;
        }
        self
    }
}

/// `attrs` with every attribute `section` sets replaced.
fn apply(
    mut attrs: CookieAttributes,
    section: &CookieAttributesSection,
    key: &str,
) -> Result<CookieAttributes, ConfigError> {
    if let Some(domain) = &section.domain {
        attrs.domain = Some(cookie_domain(&format!("{key}.domain"), domain)?);
    }
    if let Some(path) = &section.path {
        if !(path.is_empty() || path.starts_with('/')) || !path.chars().all(is_attribute_char) {
            return Err(ConfigError::new(
                format!("{key}.path"),
                format!("`{path}` must be a path starting with `/`, without `;` or spaces"),
            ));
        }
        attrs.path = path.clone();
    }
    if let Some(http_only) = section.http_only {
        attrs.http_only = http_only;
    }
    if let Some(secure) = section.secure {
        attrs.secure = secure;
    }
    if let Some(same_site) = &section.same_site {
        attrs.same_site = Some(match same_site.to_ascii_lowercase().as_str() {
            "strict" => SameSite::Strict,
            "lax" => SameSite::Lax,
            "none" => SameSite::None,
            _ => {
                return Err(ConfigError::new(
                    format!("{key}.same_site"),
                    format!("`{same_site}` is not one of strict, lax, none"),
                ))
            }
        });
    }
    if let Some(partitioned) = section.partitioned {
        attrs.partitioned = partitioned;
    }
    Ok(attrs)
}

/// A `Domain` attribute value: a host name or address, nothing that could end the attribute.
fn cookie_domain(key: &str, domain: &str) -> Result<String, ConfigError> {
    if domain.is_empty()
        || !domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']'))
    {
        return Err(ConfigError::new(
            key,
            format!("`{domain}` is not a domain such as example.com"),
        ));
    }
    Ok(domain.to_owned())
}

fn is_attribute_char(c: char) -> bool {
    c.is_ascii_graphic() && c != ';'
}

/// The host of an http(s) URL without its port, as `new URL(url).hostname` gives it.
fn host_of(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    uri.host().map(str::to_ascii_lowercase)
}

pub(super) fn is_cookie_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_toml, Config, MapEnv};

    const SECRET: (&str, &str) = ("BETTER_AUTH_SECRET", "test-secret-test-secret-test-secret");

    fn cookies(toml: &str, url: Option<&str>) -> Result<CookieConfig, ConfigError> {
        let mut env = vec![SECRET];
        env.extend(url.map(|u| ("BETTER_AUTH_URL", u)));
        let config = Config::from_file(parse_toml(toml)?, &MapEnv::from_pairs(&env))?;
        Ok(config.better_auth.cookies)
    }

    #[test]
    fn without_options_every_cookie_gets_better_auths_defaults() {
        let c = cookies("", None).unwrap();
        let defaults = CookieAttributes::better_auth_defaults(false);
        assert_eq!(c.session_token_attributes, defaults);
        assert_eq!(c.session_data_attributes, defaults);
        assert_eq!(c.dont_remember_attributes, defaults);
        let secure = cookies("", Some("https://app.example.com")).unwrap();
        assert_eq!(secure.session_token, "__Secure-better-auth.session_token");
        assert!(secure.session_token_attributes.secure);
    }

    #[test]
    fn cross_subdomain_cookies_take_the_base_urls_host_without_its_port() {
        let toml = "[better_auth.cross_sub_domain_cookies]\nenabled = true\n";
        let c = cookies(toml, Some("http://auth.example.com:3000")).unwrap();
        for attributes in [
            &c.session_token_attributes,
            &c.session_data_attributes,
            &c.dont_remember_attributes,
        ] {
            assert_eq!(attributes.domain.as_deref(), Some("auth.example.com"));
        }
        let explicit = format!("{toml}domain = \"example.com\"\n");
        let c = cookies(&explicit, Some("http://auth.example.com")).unwrap();
        assert_eq!(
            c.session_data_attributes.domain.as_deref(),
            Some("example.com")
        );
        let err = cookies(toml, None).unwrap_err();
        assert_eq!(err.key, "better_auth.cross_sub_domain_cookies.domain");
    }

    #[test]
    fn defaults_then_per_cookie_attributes_then_what_better_call_forces() {
        let toml = r#"
[better_auth.cross_sub_domain_cookies]
enabled = true
domain = "example.com"
[better_auth.default_cookie_attributes]
same_site = "none"
partitioned = true
[better_auth.cookie_attributes.session_data]
same_site = "Strict"
partitioned = false
path = "/app"
[better_auth.cookie_attributes.dont_remember]
domain = "other.example.com"
http_only = false
"#;
        let c = cookies(toml, None).unwrap();
        // SameSite=None and Partitioned force Secure, even on http.
        assert_eq!(
            c.session_token_attributes,
            CookieAttributes {
                domain: Some("example.com".into()),
                path: "/".into(),
                http_only: true,
                secure: true,
                same_site: Some(SameSite::None),
                partitioned: true,
            }
        );
        // Nothing forces Secure here: Strict and not partitioned, on http.
        assert_eq!(
            c.session_data_attributes,
            CookieAttributes {
                domain: Some("example.com".into()),
                path: "/app".into(),
                http_only: true,
                secure: false,
                same_site: Some(SameSite::Strict),
                partitioned: false,
            }
        );
        assert_eq!(
            c.dont_remember_attributes.domain.as_deref(),
            Some("other.example.com")
        );
        assert!(!c.dont_remember_attributes.http_only);
    }

    #[test]
    fn a_host_prefixed_name_gets_secure_root_path_and_no_domain() {
        let toml = r#"
[better_auth.cookies]
session_token = "__Host-sid"
[better_auth.cross_sub_domain_cookies]
enabled = true
domain = "example.com"
[better_auth.default_cookie_attributes]
path = "/app"
"#;
        let c = cookies(toml, None).unwrap();
        let host = &c.session_token_attributes;
        assert_eq!(
            (host.secure, host.path.as_str(), host.domain.as_deref()),
            (true, "/", None)
        );
        let data = &c.session_data_attributes;
        assert_eq!(
            (data.secure, data.path.as_str(), data.domain.as_deref()),
            (false, "/app", Some("example.com"))
        );
    }

    #[test]
    fn bad_attributes_name_their_key() {
        let cases = [
            (
                "[better_auth.default_cookie_attributes]\nsame_site = \"sideways\"\n",
                "better_auth.default_cookie_attributes.same_site",
            ),
            (
                "[better_auth.cookie_attributes.session_token]\ndomain = \"a.com; Secure\"\n",
                "better_auth.cookie_attributes.session_token.domain",
            ),
            (
                "[better_auth.default_cookie_attributes]\npath = \"app\"\n",
                "better_auth.default_cookie_attributes.path",
            ),
        ];
        for (toml, key) in cases {
            assert_eq!(cookies(toml, None).unwrap_err().key, key, "{toml}");
        }
        let unknown = cookies(
            "[better_auth.default_cookie_attributes]\nmax_age = 5\n",
            None,
        );
        assert!(unknown.unwrap_err().message.contains("max_age"));
    }
}
