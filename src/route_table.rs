//! The route table: which configured route (or the Better Auth pass-through, or the default
//! route) a canonical request belongs to, with its upstream, policy and session rules.
//!
//! Pure functions of the request head: no I/O, no Pingora.

use std::sync::Arc;

use crate::config::{Config, Policy, RouteConfig, Unauthenticated, Upstream};

/// A route as the request path resolved it.
#[derive(Debug, Clone)]
pub(crate) struct RouteMatch<'a> {
    /// A stable name for logs and metrics: the route's prefix, or `better_auth` / `default`.
    pub(crate) name: Arc<str>,
    pub(crate) upstream: &'a Arc<Upstream>,
    pub(crate) policy: Policy,
    pub(crate) unauthenticated: Unauthenticated,
    /// The configured route, for its session rules (`None` for built-in routes).
    pub(crate) rules: Option<&'a RouteConfig>,
}

impl RouteMatch<'_> {
    /// Whether this is the pass-through to Better Auth under its base path.
    pub(crate) fn is_better_auth(&self) -> bool {
        &*self.name == BETTER_AUTH_ROUTE
    }
}

const BETTER_AUTH_ROUTE: &str = "better_auth";

/// The configured routes plus the Better Auth pass-through and the default route.
#[derive(Debug, Clone)]
pub(crate) struct RouteTable {
    routes: Vec<RouteConfig>,
    /// Each route's name, shared with every request that matches it.
    names: Vec<Arc<str>>,
    better_auth_name: Arc<str>,
    default_name: Arc<str>,
    base_path: String,
    better_auth_upstream: Arc<Upstream>,
    default_upstream: Arc<Upstream>,
}

impl RouteTable {
    /// The table for `config`.
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            routes: config.routes.clone(),
            names: config
                .routes
                .iter()
                .map(|r| Arc::from(r.prefix.as_str()))
                .collect(),
            better_auth_name: Arc::from(BETTER_AUTH_ROUTE),
            default_name: Arc::from("default"),
            base_path: config.better_auth.base_path.clone(),
            better_auth_upstream: config.better_auth.upstream.clone(),
            default_upstream: config.proxy.upstream.clone(),
        }
    }

    /// The name of the route unmatched requests take.
    pub(crate) fn default_name(&self) -> Arc<str> {
        self.default_name.clone()
    }

    /// The route for a request to `host` (the `Host` header, any port ignored) and `path`,
    /// both already canonical (see [`crate::canonical`]).
    ///
    /// Requests under the Better Auth base path go to Better Auth untouched. Otherwise the
    /// longest matching prefix wins, a route naming the host beating one that does not; with no
    /// match, the default upstream with the `required` policy.
    pub(crate) fn classify(&self, host: Option<&str>, path: &str) -> RouteMatch<'_> {
        // Exact case: a pass-through without a session check must not grow by case folding.
        if prefix_matches(&self.base_path, path, true) {
            return RouteMatch {
                name: self.better_auth_name.clone(),
                upstream: &self.better_auth_upstream,
                policy: Policy::Public,
                unauthenticated: Unauthenticated::Status,
                rules: None,
            };
        }
        // Only routes bound to a host look at it: most tables have none.
        let host = || host.map(crate::config::strip_port);
        // `rev` so that among equals the first route in the file wins (max_by_key keeps the last).
        let best = self
            .routes
            .iter()
            .zip(&self.names)
            .rev()
            .filter(|(r, _)| prefix_matches(&r.prefix, path, r.case_sensitive))
            .filter(|(r, _)| {
                r.host
                    .as_deref()
                    .is_none_or(|want| host().is_some_and(|h| h.eq_ignore_ascii_case(want)))
            })
            .max_by_key(|(r, _)| (r.prefix.len(), r.host.is_some()));
        match best {
            Some((r, name)) => RouteMatch {
                name: name.clone(),
                upstream: &r.upstream,
                policy: r.policy,
                unauthenticated: r.unauthenticated,
                rules: Some(r),
            },
            None => RouteMatch {
                name: self.default_name.clone(),
                upstream: &self.default_upstream,
                policy: Policy::Required,
                unauthenticated: Unauthenticated::Auto,
                rules: None,
            },
        }
    }
}

/// `/api` matches `/api` and `/api/x` but not `/apix`; a prefix ending in `/` matches by bytes.
/// Without `case_sensitive`, ASCII letters match in either case (`/API/x`).
fn prefix_matches(prefix: &str, path: &str, case_sensitive: bool) -> bool {
    let Some(head) = path.as_bytes().get(..prefix.len()) else {
        return false;
    };
    let same = if case_sensitive {
        head == prefix.as_bytes()
    } else {
        head.eq_ignore_ascii_case(prefix.as_bytes())
    };
    let rest = &path.as_bytes()[prefix.len()..];
    same && (prefix.ends_with('/') || rest.is_empty() || rest.starts_with(b"/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_toml, MapEnv};

    fn config(toml: &str) -> Config {
        let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", "s")]);
        Config::from_file(parse_toml(toml).unwrap(), &env).unwrap()
    }

    const ROUTES: &str = "[[routes]]\nprefix = \"/public\"\npolicy = \"public\"\n\
        [[routes]]\nprefix = \"/public/private\"\n\
        [[routes]]\nprefix = \"/app\"\npolicy = \"optional\"\n\
        [[routes]]\nprefix = \"/app\"\nhost = \"admin.example.com\"\nupstream = \"http://127.0.0.1:5001\"\n\
        [[routes]]\nprefix = \"/files/\"\npolicy = \"public\"\n";

    #[test]
    fn longest_prefix_wins() {
        let table = RouteTable::new(&config(ROUTES));
        assert_eq!(table.classify(None, "/public/x").policy, Policy::Public);
        assert_eq!(
            table.classify(None, "/public/private/x").policy,
            Policy::Required
        );
        assert_eq!(table.classify(None, "/public").policy, Policy::Public);
    }

    #[test]
    fn restricting_routes_match_in_any_case_granting_ones_in_their_own() {
        let c = config(
            "[[routes]]\nprefix = \"/\"\npolicy = \"public\"\n\
             [[routes]]\nprefix = \"/admin\"\nroles = [\"admin\"]\n\
             [[routes]]\nprefix = \"/static\"\npolicy = \"public\"\n\
             [[routes]]\nprefix = \"/Wiki\"\ncase_sensitive = true\n",
        );
        let table = RouteTable::new(&c);
        for path in ["/admin", "/ADMIN/x", "/Admin"] {
            assert_eq!(table.classify(None, path).name.as_ref(), "/admin", "{path}");
        }
        assert_eq!(table.classify(None, "/static/a").name.as_ref(), "/static");
        assert_eq!(table.classify(None, "/STATIC/a").name.as_ref(), "/");
        assert_eq!(table.classify(None, "/Wiki/a").name.as_ref(), "/Wiki");
        assert_eq!(table.classify(None, "/wiki/a").name.as_ref(), "/");
        // The Better Auth pass-through matches in its own case only.
        assert_eq!(table.classify(None, "/API/AUTH/x").name.as_ref(), "/");
    }

    #[test]
    fn prefixes_match_whole_segments() {
        let table = RouteTable::new(&config(ROUTES));
        assert_eq!(table.classify(None, "/publicity").name.as_ref(), "default");
        assert_eq!(table.classify(None, "/files/a").policy, Policy::Public);
        assert_eq!(table.classify(None, "/filesx").name.as_ref(), "default");
    }

    #[test]
    fn host_specific_routes_beat_hostless_ones() {
        let table = RouteTable::new(&config(ROUTES));
        let admin = table.classify(Some("Admin.Example.com:8443"), "/app/x");
        assert_eq!(admin.policy, Policy::Required);
        assert_eq!(admin.upstream.servers[0].port, 5001);
        assert_eq!(
            table.classify(Some("other.example.com"), "/app/x").policy,
            Policy::Optional
        );
        assert_eq!(table.classify(None, "/app/x").policy, Policy::Optional);
    }

    #[test]
    fn unmatched_paths_are_required_on_the_default_upstream() {
        let c = config(ROUTES);
        let table = RouteTable::new(&c);
        let m = table.classify(None, "/anything");
        assert_eq!((m.name.as_ref(), m.policy), ("default", Policy::Required));
        assert_eq!(m.upstream, &c.proxy.upstream);
    }

    #[test]
    fn better_auth_base_path_passes_through() {
        let c = config(
            "[better_auth]\nupstream = \"http://127.0.0.1:4000\"\n[[routes]]\nprefix = \"/\"\n",
        );
        let table = RouteTable::new(&c);
        for path in [
            "/api/auth",
            "/api/auth/sign-in/email",
            "/api/auth/get-session",
        ] {
            let m = table.classify(None, path);
            assert_eq!(
                (m.name.as_ref(), m.policy),
                ("better_auth", Policy::Public),
                "{path}"
            );
            assert_eq!(m.upstream.servers[0].port, 4000);
        }
        assert_eq!(table.classify(None, "/api/authx").name.as_ref(), "/");
    }
}
