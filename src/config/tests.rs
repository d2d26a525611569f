use super::*;

const SECRET: (&str, &str) = ("BETTER_AUTH_SECRET", "test-secret-test-secret-test-secret");

fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut pairs = vec![SECRET];
    pairs.extend_from_slice(env);
    Config::from_file(parse_toml(toml)?, &MapEnv::from_pairs(&pairs))
}

#[test]
fn defaults_match_better_auth() {
    let c = load("", &[]).unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.better_auth.base_path, "/api/auth");
    assert_eq!(
        c.better_auth.cookies.session_token,
        "better-auth.session_token"
    );
    assert_eq!(
        c.better_auth.cookies.session_data,
        "better-auth.session_data"
    );
    assert!(!c.better_auth.cookies.secure);
    assert_eq!(c.better_auth.expires_in, Duration::from_secs(604_800));
    assert_eq!(c.better_auth.update_age, Duration::from_secs(86_400));
    assert_eq!(c.cache.max_staleness, Duration::from_secs(30));
    assert_eq!(
        c.proxy.upstream.servers[0].ip(),
        Some([127, 0, 0, 1].into())
    );
    assert_eq!(c.proxy.upstream.servers[0].port, 3000);
    assert_eq!(c.database.schema.columns["session.expiresAt"], "expiresAt");
}

#[test]
fn environment_beats_file() {
    let toml = "[server]\nlisten = \"127.0.0.1:1\"\n[proxy]\nupstream = \"http://127.0.0.1:2\"\n[database]\nurl = \"sqlite://file.db\"\n";
    let c = load(
        toml,
        &[
            ("GATEHOUSE_LISTEN", "127.0.0.1:9999"),
            ("GATEHOUSE_UPSTREAM", "http://127.0.0.1:4000"),
            ("DATABASE_URL", "postgres://fallback/db"),
        ],
    )
    .unwrap();
    assert_eq!(c.server.listen.port(), 9999);
    assert_eq!(c.proxy.upstream.servers[0].port, 4000);
    assert_eq!(c.database.url.expose(), "postgres://fallback/db");
    let c = load(
        "",
        &[
            ("DATABASE_URL", "postgres://a/b"),
            ("GATEHOUSE_DATABASE_URL", "mysql://c/d"),
        ],
    )
    .unwrap();
    assert_eq!(
        c.database.url.expose(),
        "mysql://c/d",
        "GATEHOUSE_DATABASE_URL wins over DATABASE_URL"
    );
}

#[test]
fn https_base_url_means_secure_cookies() {
    let c = load("", &[("BETTER_AUTH_URL", "https://app.example.com")]).unwrap();
    assert!(c.better_auth.cookies.secure);
    assert_eq!(
        c.better_auth.cookies.session_token,
        "__Secure-better-auth.session_token"
    );
    let c = load(
        "[better_auth]\nuse_secure_cookies = false\n",
        &[("BETTER_AUTH_URL", "https://x")],
    )
    .unwrap();
    assert!(
        !c.better_auth.cookies.secure,
        "useSecureCookies wins over the URL"
    );
    let c = load("", &[("NODE_ENV", "production")]).unwrap();
    assert!(
        c.better_auth.cookies.secure,
        "no URL: NODE_ENV=production decides, as in Better Auth"
    );
}

#[test]
fn cookie_prefix_and_name_overrides() {
    let c = load(
        "[better_auth]\ncookie_prefix = \"myapp\"\nuse_secure_cookies = true\n[better_auth.cookies]\nsession_data = \"cache\"\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        c.better_auth.cookies.session_token,
        "__Secure-myapp.session_token"
    );
    assert_eq!(c.better_auth.cookies.session_data, "__Secure-cache");
}

#[test]
fn cookie_cache_is_off_unless_enabled() {
    assert_eq!(load("", &[]).unwrap().better_auth.cookie_cache, None);
    let c = load(
        "[better_auth.cookie_cache]\nenabled = true\nstrategy = \"jwe\"\nmax_age = 60\n",
        &[],
    )
    .unwrap();
    let cache = c.better_auth.cookie_cache.unwrap();
    assert_eq!(cache.strategy, CookieCacheStrategy::Jwe);
    assert_eq!(cache.max_age, Duration::from_secs(60));
    assert_eq!(cache.version, "1");
}

#[test]
fn trusted_origins_include_the_base_url() {
    let c = load(
        "[better_auth]\ntrusted_origins = [\"https://Admin.Example.com/path\"]\n",
        &[("BETTER_AUTH_URL", "https://app.example.com:8443/api")],
    )
    .unwrap();
    assert_eq!(
        c.better_auth.trusted_origins,
        vec!["https://app.example.com:8443", "https://admin.example.com"]
    );
}

#[test]
fn session_and_rate_limit_defaults() {
    let c = load("", &[]).unwrap();
    assert!(c.sessions.reject_banned && !c.sessions.disable_refresh);
    assert_eq!(c.sessions.cleanup_interval, Some(Duration::from_secs(3600)));
    // Better Auth's defaults, and seed 004's 10 per 60 s on GET session.
    assert_eq!(
        c.rate_limit.default,
        RateRule {
            max: 100,
            window: Duration::from_secs(10)
        }
    );
    assert_eq!(
        c.rate_limit.rule("session"),
        Some(RateRule {
            max: 10,
            window: Duration::from_secs(60)
        })
    );
    let c = load("[sessions]\ncleanup_interval = 0\n[rate_limit.endpoints.get-session]\nmax = 5\nwindow = \"10s\"\n\
                  [rate_limit.custom_rules]\n\"/revoke-*\" = { max = 2, window = 60 }\n\"/session\" = false\n", &[]).unwrap();
    assert_eq!(c.sessions.cleanup_interval, None);
    assert_eq!(c.rate_limit.rule("get-session").unwrap().max, 5);
    assert_eq!(c.rate_limit.rule("revoke-other-sessions").unwrap().max, 2);
    assert_eq!(c.rate_limit.rule("session"), None, "exempt");
    assert_eq!(c.rate_limit.rule("sign-out").unwrap().max, 100);
}

#[test]
fn durations_take_seconds_or_units() {
    let c = load(
        "[cache]\nmax_staleness = \"1500ms\"\nnegative_ttl = 2\n",
        &[],
    )
    .unwrap();
    assert_eq!(c.cache.max_staleness, Duration::from_millis(1500));
    assert_eq!(c.cache.negative_ttl, Duration::from_secs(2));
}

#[test]
fn snake_case_schema_and_overrides() {
    let c = load(
        "[database.schema]\nnaming = \"snake_case\"\n[database.schema.columns]\n\"session.token\" = \"session_token\"\n",
        &[],
    )
    .unwrap();
    let cols = &c.database.schema.columns;
    assert_eq!(cols["session.expiresAt"], "expires_at");
    assert_eq!(cols["user.emailVerified"], "email_verified");
    assert_eq!(cols["session.token"], "session_token");
}

#[test]
fn upstream_groups_parse_without_resolving_names() {
    let c = load(
        "[proxy]\nupstream = [\"http://10.0.0.1:8080\", \"http://app.invalid\"]\nresolver = \"127.0.0.1:5353\"\n\
         [proxy.upstream_group]\nbalance = \"client_ip_hash\"\nresolve_interval = \"5s\"\nretries = 1\n\
         health_check = { path = \"/healthz\", interval = \"2s\" }\n",
        &[],
    )
    .unwrap();
    let u = &c.proxy.upstream;
    assert_eq!(u.url, "http://10.0.0.1:8080, http://app.invalid");
    assert_eq!(u.servers[0].ip(), Some([10, 0, 0, 1].into()));
    assert_eq!(
        (u.servers[1].host.as_str(), u.servers[1].port),
        ("app.invalid", 80)
    );
    assert_eq!(
        u.servers[1].ip(),
        None,
        "a name that does not resolve is no config error"
    );
    assert_eq!(u.group.balance, crate::config::Balance::ClientIpHash);
    assert_eq!(u.group.resolve_interval, Duration::from_secs(5));
    assert_eq!(u.group.retries, 1);
    let check = u.group.health_check.as_ref().unwrap();
    assert_eq!(
        (check.path.as_str(), check.interval),
        ("/healthz", Duration::from_secs(2))
    );
    assert_eq!((check.healthy_after, check.unhealthy_after), (2, 2));
    assert_eq!(c.proxy.resolver, Some("127.0.0.1:5353".parse().unwrap()));
    // Routes without their own upstream share the default's.
    assert_eq!(c.upstreams().len(), 1);
}

#[test]
fn routes_parse_with_defaults() {
    let c = load(
        "[[routes]]\nprefix = \"/public\"\npolicy = \"public\"\n[[routes]]\nprefix = \"/app\"\nhost = \"App.Example.com:443\"\nupstream = \"http://127.0.0.1:5000\"\nunauthenticated = \"redirect\"\n",
        &[],
    )
    .unwrap();
    assert_eq!(c.routes[0].policy, Policy::Public);
    assert_eq!(c.routes[0].upstream, c.proxy.upstream);
    assert_eq!(c.routes[1].policy, Policy::Required);
    assert_eq!(c.routes[1].host.as_deref(), Some("app.example.com"));
    assert_eq!(c.routes[1].unauthenticated, Unauthenticated::Redirect);
    assert_eq!(c.routes[1].upstream.servers[0].port, 5000);
}

#[test]
fn ports_are_stripped_from_hosts() {
    assert_eq!(strip_port("app.example.com:443"), "app.example.com");
    assert_eq!(strip_port("app.example.com"), "app.example.com");
    assert_eq!(strip_port("[::1]:8080"), "[::1]");
    assert_eq!(strip_port("[::1]"), "[::1]");
    assert_eq!(strip_port("::1"), "::1");
}

#[test]
fn debug_never_shows_secrets() {
    let c = load("", &[("DATABASE_URL", "postgres://user:hunter2@db/x")]).unwrap();
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains(SECRET.1),
        "{debug}"
    );
}

/// Environment variables for one case.
type Env<'a> = &'a [(&'a str, &'a str)];

#[test]
fn every_invalid_value_names_its_key() {
    let cases: &[(&str, Env<'_>, &str)] = &[
        ("[server]\nlisten = \"nope\"\n", &[], "server.listen"),
        ("[server]\nthreads = 0\n", &[], "server.threads"),
        (
            "[server]\ngrace_period = \"soon\"\n",
            &[],
            "server.grace_period",
        ),
        ("[better_auth]\nurl = \"ftp://x\"\n", &[], "better_auth.url"),
        (
            "[better_auth]\nbase_path = \"api/auth\"\n",
            &[],
            "better_auth.base_path",
        ),
        (
            "[better_auth]\nbase_path = \"/api/auth/\"\n",
            &[],
            "better_auth.base_path",
        ),
        (
            "[better_auth]\ncookie_prefix = \"a b\"\n",
            &[],
            "better_auth.cookie_prefix",
        ),
        (
            "[better_auth.cookies]\nsession_token = \"x;y\"\n",
            &[],
            "better_auth.cookies.session_token",
        ),
        (
            "[better_auth]\nexpires_in = 0\n",
            &[],
            "better_auth.expires_in",
        ),
        (
            "[better_auth]\nupstream = \"http://\"\n",
            &[],
            "better_auth.upstream",
        ),
        ("[database]\nurl = \"oracle://x\"\n", &[], "database.url"),
        (
            "[database]\nmax_connections = 0\n",
            &[],
            "database.max_connections",
        ),
        (
            "[database]\nacquire_timeout = 0\n",
            &[],
            "database.acquire_timeout",
        ),
        (
            "[database.schema]\nnaming = \"kebab\"\n",
            &[],
            "database.schema.naming",
        ),
        (
            "[database.schema]\nsqlite_dates = \"unix\"\n",
            &[],
            "database.schema.sqlite_dates",
        ),
        (
            "[database.schema]\nuser_table = \"user; drop\"\n",
            &[],
            "database.schema.user_table",
        ),
        (
            "[database.schema]\nsession_table = \"\"\n",
            &[],
            "database.schema.session_table",
        ),
        (
            "[database.schema.columns]\n\"session.nope\" = \"x\"\n",
            &[],
            "database.schema.columns.\"session.nope\"",
        ),
        (
            "[database.schema.columns]\n\"session.token\" = \"a\\\"b\"\n",
            &[],
            "database.schema.columns.\"session.token\"",
        ),
        ("[cache]\nmax_entries = 0\n", &[], "cache.max_entries"),
        ("[cache]\nmax_staleness = 0\n", &[], "cache.max_staleness"),
        ("[cache]\nnegative_ttl = \"x\"\n", &[], "cache.negative_ttl"),
        ("[headers]\nuser_id = \"cookie\"\n", &[], "headers.user_id"),
        (
            "[headers]\nuser_email = \"bad header\"\n",
            &[],
            "headers.user_email",
        ),
        (
            "[headers]\nuser_name = \"host\"\n",
            &[],
            "headers.user_name",
        ),
        ("[headers]\nuser_role = \"\"\n", &[], "headers.user_role"),
        (
            "[headers]\nsession_id = \"x-forwarded-for\"\n",
            &[],
            "headers.session_id",
        ),
        (
            "[headers]\nstrip_prefixes = [\"\"]\n",
            &[],
            "headers.strip_prefixes",
        ),
        (
            "[headers.user_columns]\n\"x-dept\" = \"1bad\"\n",
            &[],
            "headers.user_columns.\"x-dept\"",
        ),
        (
            "[proxy]\nupstream = \"ftp://127.0.0.1:1\"\n",
            &[],
            "proxy.upstream",
        ),
        (
            "[proxy]\nupstream_host = \"client-ish\"\n",
            &[],
            "proxy.upstream_host",
        ),
        (
            "[proxy]\nupstream = \"https://127.0.0.1:1\"\n[proxy.upstream_tls]\nca_file = \"/nonexistent/ca.pem\"\n",
            &[],
            "proxy.upstream_tls.ca_file",
        ),
        (
            "[proxy]\nupstream = \"https://127.0.0.1:1\"\n[proxy.upstream_tls]\nserver_name = \"a/b\"\n",
            &[],
            "proxy.upstream_tls.server_name",
        ),
        (
            "[server.tls]\ncertificates = []\n",
            &[],
            "server.tls.certificates",
        ),
        (
            "[server.tls]\ncertificates = [{ cert = \"/nonexistent.pem\", key = \"/nonexistent.key\" }]\n",
            &[],
            "server.tls.certificates[0]",
        ),
        (
            "[proxy]\nupstream = \"http://127.0.0.1:1/base\"\n",
            &[],
            "proxy.upstream",
        ),
        (
            "[proxy]\nupstream = []\n",
            &[],
            "proxy.upstream",
        ),
        (
            "[proxy]\nupstream = [\"http://10.0.0.1\", \"https://10.0.0.2\"]\n",
            &[],
            "proxy.upstream",
        ),
        (
            "[proxy]\nresolver = \"dns.example\"\n",
            &[],
            "proxy.resolver",
        ),
        (
            "[proxy.upstream_group]\nbalance = \"fastest\"\n",
            &[],
            "proxy.upstream_group.balance",
        ),
        (
            "[proxy.upstream_group]\nresolve_interval = 0\n",
            &[],
            "proxy.upstream_group.resolve_interval",
        ),
        (
            "[proxy.upstream_group.health_check]\npath = \"healthz\"\n",
            &[],
            "proxy.upstream_group.health_check.path",
        ),
        (
            "[proxy.upstream_group.health_check]\npath = \"/healthz\"\nunhealthy_after = 0\n",
            &[],
            "proxy.upstream_group.health_check.unhealthy_after",
        ),
        (
            "[proxy]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
            &[],
            "proxy.trusted_proxies",
        ),
        ("[proxy]\nlogin_url = \"login\"\n", &[], "proxy.login_url"),
        (
            "[proxy]\nlogin_redirect_param = \"\"\n",
            &[],
            "proxy.login_redirect_param",
        ),
        (
            "[proxy]\nconnect_timeout = 0\n",
            &[],
            "proxy.connect_timeout",
        ),
        (
            "[proxy]\nread_timeout = \"forever\"\n",
            &[],
            "proxy.read_timeout",
        ),
        ("[[routes]]\nprefix = \"app\"\n", &[], "routes[0].prefix"),
        ("[[routes]]\nprefix = \"/a\"\n[[routes]]\nprefix = \"/b\"\n[[routes]]\nprefix = \"/a\"\n", &[], "routes[2].prefix"),
        (
            "[[routes]]\nprefix = \"/a\"\npolicy = \"maybe\"\n",
            &[],
            "routes[0].policy",
        ),
        (
            "[[routes]]\nprefix = \"/a\"\nunauthenticated = \"teapot\"\n",
            &[],
            "routes[0].unauthenticated",
        ),
        (
            "[[routes]]\nprefix = \"/a\"\nhost = \"a/b\"\n",
            &[],
            "routes[0].host",
        ),
        (
            "[[routes]]\nprefix = \"/a\"\nupstream = \"tcp://x\"\n",
            &[],
            "routes[0].upstream",
        ),
        ("", &[("GATEHOUSE_LISTEN", "localhost")], "server.listen"),
        ("[better_auth]\ntrusted_origins = [\"app.example.com\"]\n", &[], "better_auth.trusted_origins"),
        ("[sessions]\ncleanup_interval = \"often\"\n", &[], "sessions.cleanup_interval"),
        ("[metrics]\nlisten = \"nope\"\n", &[], "metrics.listen"),
        ("", &[("GATEHOUSE_METRICS_LISTEN", "9090")], "metrics.listen"),
        ("[metrics]\ngauge_interval = 0\n", &[], "metrics.gauge_interval"),
        ("[log]\nformat = \"xml\"\n", &[], "log.format"),
        ("[admin]\nmount = \"admin\"\n", &[], "admin.mount"),
        ("[admin]\nmount = \"/admin/\"\n", &[], "admin.mount"),
        ("[admin]\nroles = [\"\"]\n", &[], "admin.roles"),
        ("[admin]\nlisten = \"9091\"\n", &[], "admin.listen"),
        ("", &[("GATEHOUSE_ADMIN_LISTEN", "127.0.0.1:8080")], "admin.listen"),
        ("[metrics]\nlisten = \"127.0.0.1:9091\"\n[admin]\nlisten = \"127.0.0.1:9091\"\n", &[], "admin.listen"),
        ("", &[("GATEHOUSE_ADMIN_TOKEN", "short")], "GATEHOUSE_ADMIN_TOKEN"),
        ("[geo]\nprovider = \"maxmind\"\n", &[], "geo.provider"),
        ("[geo]\nprovider = \"ipinfo\"\nipinfo_endpoint = \"full\"\n", &[], "geo.ipinfo_endpoint"),
        ("[geo]\nprovider = \"ipapi\"\nbase_url = \"ftp://pro.ip-api.com\"\n", &[], "geo.base_url"),
        ("[geo]\nca_file = \"/nonexistent/ca.pem\"\n", &[], "geo.ca_file"),
        ("[geo]\nca_file = \"Cargo.toml\"\n", &[], "geo.ca_file"),
        ("[geo]\nprovider = \"mmdb\"\n", &[], "geo.mmdb_path"),
        ("[geo]\ntimeout = 0\n", &[], "geo.timeout"),
        ("[geo]\ncache_max = 0\n", &[], "geo.cache_max"),
        ("[log]\nlevel = \"gatehouse=loud\"\n", &[], "log.level"),
        ("[sessions]\nfresh_age = \"x\"\n", &[], "sessions.fresh_age"),
        ("[rate_limit]\nmax = 0\n", &[], "rate_limit.max"),
        ("[rate_limit]\nwindow = 0\n", &[], "rate_limit.window"),
        ("[rate_limit.endpoints.sign-in]\nmax = 1\nwindow = 1\n", &[], "rate_limit.endpoints.sign-in"),
        ("[rate_limit.endpoints.sign-out]\nmax = 1\nwindow = \"x\"\n", &[], "rate_limit.endpoints.sign-out.window"),
        ("[[routes]]\nprefix = \"/a\"\npolicy = \"public\"\nroles = [\"admin\"]\n", &[], "routes[0].policy"),
        ("[[routes]]\nprefix = \"/a\"\nroles = [\"a,b\"]\n", &[], "routes[0].roles"),
        ("[[routes]]\nprefix = \"/a\"\nfresh_age = \"x\"\n", &[], "routes[0].fresh_age"),
        ("", &[("GATEHOUSE_UPSTREAM", "nope")], "proxy.upstream"),
    ];
    for (toml, env, key) in cases {
        let err = load(toml, env).expect_err(&format!("{toml:?} should be rejected"));
        assert_eq!(&err.key, key, "{toml:?}: {err}");
        assert!(
            err.message.len() > 10,
            "the message says how to fix it: {err}"
        );
    }
}

#[test]
fn missing_secret_says_which_variable_to_set() {
    let err = Config::from_file(ConfigFile::default(), &MapEnv::default()).unwrap_err();
    assert_eq!(err.key, "better_auth.secret");
    assert!(err.message.contains("BETTER_AUTH_SECRET"));
}

#[test]
fn unknown_keys_and_bad_types_are_rejected_with_a_line() {
    let err = parse_toml("[server]\nlisten = \"127.0.0.1:1\"\nlistne = 3\n").unwrap_err();
    assert_eq!(err.key, "line 3");
    assert!(err.message.contains("unknown field"), "{err}");
    let err = parse_toml("[cache]\nmax_entries = \"many\"\n").unwrap_err();
    assert_eq!(err.key, "line 2");
    let err = parse_toml("[nope]\n").unwrap_err();
    assert!(err.message.contains("unknown field"), "{err}");
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.toml");
    std::fs::write(&path, "[proxy]\nbogus = 1\n").unwrap();
    let err = Config::load(Some(&path), &MapEnv::from_pairs(&[SECRET])).unwrap_err();
    assert!(err.key.starts_with(&path.display().to_string()), "{err}");
    let err = Config::load(Some(&dir.path().join("missing.toml")), &MapEnv::default()).unwrap_err();
    assert!(err.message.contains("cannot read"), "{err}");
}
