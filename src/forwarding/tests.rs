use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;
use crate::config::{parse_toml, MapEnv};
use crate::session::fixtures::record;
use crate::time::Timestamp;

fn config(toml: &str) -> Config {
    let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", "s")]);
    Config::from_file(parse_toml(toml).unwrap(), &env).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

fn apply(mut h: HeaderMap, edits: &HeaderEdits) -> HeaderMap {
    edits.clone().apply(&mut h).unwrap();
    h
}

const PEER: &str = "198.51.100.9";

fn plan(
    session: Option<crate::auth::AuthenticatedSession>,
    strip_auth_cookies: bool,
) -> ForwardPlan {
    ForwardPlan {
        upstream: std::sync::Arc::new(crate::config::Upstream {
            url: "http://127.0.0.1:1".into(),
            servers: vec![crate::config::UpstreamServer {
                host: "127.0.0.1".into(),
                port: 1,
                authority: "127.0.0.1:1".into(),
            }],
            tls: None,
            host_header: crate::config::UpstreamHost::Client,
            group: Default::default(),
        }),
        session: session.map(std::sync::Arc::new),
        strip_auth_cookies,
        set_cookies: Vec::new(),
        assertion_audience: None,
    }
}

fn peer() -> Option<IpAddr> {
    Some(PEER.parse().unwrap())
}

#[test]
fn spoofed_identity_headers_are_removed_without_a_session() {
    // Names outside the prefixes too: user columns, additional fields, the impersonator.
    let c = config(
        "[headers]\nstrip_prefixes = [\"x-auth-\", \"x-remote-\"]\nimpersonated_by = \"x-impersonator\"\n\
         [headers.user_columns]\n\"x-dept\" = \"dept\"\n\
         [headers.fields]\n\"x-org\" = \"session.activeOrganizationId\"\n\
         [better_auth.plugins]\norganization = true\n",
    );
    let req = headers(&[
        ("x-auth-user-id", "admin"),
        ("X-Auth-Anything", "1"),
        ("x-remote-user", "root"),
        ("x-dept", "finance"),
        ("x_org", "org-of-someone-else"),
        ("x-impersonator", "admin-1"),
        ("x-other", "kept"),
    ]);
    let out = apply(
        req.clone(),
        &upstream_edits(
            &req,
            &plan(None, false),
            &client_addr(&req, peer(), false, &c),
            &c,
            &StripList::new(&c),
        ),
    );
    for gone in [
        "x-auth-user-id",
        "x-auth-anything",
        "x-remote-user",
        "x-dept",
        "x_org",
        "x-impersonator",
    ] {
        assert!(!out.contains_key(gone), "{gone} must be stripped");
    }
    assert_eq!(out["x-other"], "kept");
}

#[test]
fn configured_names_spelt_with_underscores_are_stripped_in_either_spelling() {
    // A CGI app reads `x_user_email` and `x-user-email` both as HTTP_X_USER_EMAIL.
    let c = config(
        "[headers]\nstrip_prefixes = [\"x-auth-\"]\nuser_email = \"x_user_email\"\n\
         [proxy]\nuntrusted_headers = [\"x_real_ip\"]\n",
    );
    let strip = StripList::new(&c);
    for sent in [
        "x_user_email",
        "x-user-email",
        "x_real_ip",
        "x-real-ip",
        "x_auth_id",
    ] {
        let name = HeaderName::from_static(sent);
        assert!(strip.must_strip(&name, false), "{sent} must be stripped");
    }
    let untrusted_only = HeaderName::from_static("x_real_ip");
    assert!(!strip.must_strip(&untrusted_only, true));
    let forwarding = HeaderName::from_static("x-forwarded-for");
    assert!(
        !strip.must_strip(&forwarding, false),
        "replaced, not stripped"
    );
    let respelt = HeaderName::from_static("x_forwarded_for");
    assert!(strip.must_strip(&respelt, true));
}

#[test]
fn identity_headers_replace_spoofed_ones() {
    let c = config("");
    let layout = std::sync::Arc::new(crate::auth::identity::IdentityLayout::new(&c.headers));
    let session =
        crate::auth::AuthenticatedSession::new(record("t", Timestamp::from_millis(9)), &layout);
    let req = headers(&[("x-auth-user-id", "admin"), ("x-auth-user-id", "second")]);
    let out = apply(
        req.clone(),
        &upstream_edits(
            &req,
            &plan(Some(session), false),
            &client_addr(&req, peer(), false, &c),
            &c,
            &StripList::new(&c),
        ),
    );
    assert_eq!(
        out.get_all("x-auth-user-id").iter().collect::<Vec<_>>(),
        vec!["user-1"]
    );
    assert_eq!(out["x-auth-session-id"], "sess-t");
}

#[test]
fn forwarded_headers_from_untrusted_peers_are_replaced() {
    let c = config("");
    let req = headers(&[
        ("x-forwarded-for", "1.2.3.4"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.example"),
        ("forwarded", "for=1.2.3.4"),
        ("host", "app.example.com"),
    ]);
    let out = apply(
        req.clone(),
        &upstream_edits(
            &req,
            &plan(None, false),
            &client_addr(&req, peer(), false, &c),
            &c,
            &StripList::new(&c),
        ),
    );
    assert_eq!(out["x-forwarded-for"], PEER);
    assert_eq!(out["x-forwarded-proto"], "http");
    assert_eq!(out["x-forwarded-host"], "app.example.com");
    assert!(!out.contains_key("forwarded"));
    assert_eq!(client_ip(&req, PEER.parse().unwrap(), &c).to_string(), PEER);
}

#[test]
fn forwarded_headers_from_trusted_proxies_are_extended() {
    let c = config("[proxy]\ntrusted_proxies = [\"198.51.100.0/24\", \"10.0.0.1\"]\n");
    let req = headers(&[
        ("x-forwarded-for", "203.0.113.5, 10.0.0.1"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.com"),
        ("host", "internal:8080"),
    ]);
    let out = apply(
        req.clone(),
        &upstream_edits(
            &req,
            &plan(None, false),
            &client_addr(&req, peer(), false, &c),
            &c,
            &StripList::new(&c),
        ),
    );
    assert_eq!(
        out["x-forwarded-for"],
        format!("203.0.113.5, 10.0.0.1, {PEER}")
    );
    assert_eq!(out["x-forwarded-proto"], "https");
    assert_eq!(out["x-forwarded-host"], "app.example.com");
    assert_eq!(
        client_ip(&req, PEER.parse().unwrap(), &c).to_string(),
        "203.0.113.5"
    );
}

#[test]
fn auth_cookies_are_stripped_only_when_asked() {
    let req = headers(&[(
        "cookie",
        "theme=dark; better-auth.session_token=abc.sig; better-auth.session_data.0=x; better-auth.session_data=y; \
         better-auth.session_token_multi-abc=abc.sig; Better-Auth.Session_Token_Multi-Def=d.sig; my_multi-thing=1",
    )]);
    let keep = config("");
    let out = apply(
        req.clone(),
        &upstream_edits(
            &req,
            &plan(None, false),
            &client_addr(&req, peer(), false, &keep),
            &keep,
            &StripList::new(&keep),
        ),
    );
    assert_eq!(out["cookie"], req["cookie"]);
    let strip = config("");
    let out = apply(
        req.clone(),
        &upstream_edits(
            &req,
            &plan(None, true),
            &client_addr(&req, peer(), false, &strip),
            &strip,
            &StripList::new(&strip),
        ),
    );
    assert_eq!(
        out["cookie"], "theme=dark; my_multi-thing=1",
        "the multi-session plugin's cookies go too, in any case"
    );
    let only_auth = headers(&[("cookie", "better-auth.session_token=abc.sig")]);
    let out = apply(
        only_auth.clone(),
        &upstream_edits(
            &only_auth,
            &plan(None, true),
            &client_addr(&only_auth, peer(), false, &strip),
            &strip,
            &StripList::new(&strip),
        ),
    );
    assert!(!out.contains_key("cookie"));
}

#[test]
fn identity_headers_spelt_with_underscores_are_removed() {
    let c = config("[headers.user_columns]\n\"x-dept\" = \"dept\"\n");
    let req = headers(&[
        ("x_auth_user_id", "admin"),
        ("X_Auth_User_Role", "admin"),
        ("x-auth_session-id", "s"),
        ("x_dept", "finance"),
        ("x_forwarded_for", "10.0.0.1"),
        ("x_original_url", "/admin"),
        ("x_other", "kept"),
    ]);
    let out = apply(
        req.clone(),
        &upstream_edits(
            &req,
            &plan(None, false),
            &client_addr(&req, peer(), false, &c),
            &c,
            &StripList::new(&c),
        ),
    );
    let names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
    assert!(names.contains(&"x_other"), "{names:?}");
    for gone in [
        "x_auth_user_id",
        "x_auth_user_role",
        "x-auth_session-id",
        "x_dept",
        "x_forwarded_for",
        "x_original_url",
    ] {
        assert!(!names.contains(&gone), "{gone} in {names:?}");
    }
}

#[test]
fn trust_headers_pass_only_from_trusted_proxies() {
    let c = config("[proxy]\ntrusted_proxies = [\"10.0.0.0/8\"]\n");
    let req = headers(&[
        ("x-real-ip", "1.2.3.4"),
        ("X-Client-IP", "1.2.3.4"),
        ("true-client-ip", "1.2.3.4"),
        ("x-forwarded-port", "443"),
        ("x-forwarded-prefix", "/admin"),
        ("x_real_ip", "1.2.3.4"),
        ("x-original-url", "/admin"),
        ("x-rewrite-url", "/admin"),
    ]);
    let untrusted = apply(
        req.clone(),
        &upstream_edits(
            &req,
            &plan(None, false),
            &client_addr(&req, peer(), false, &c),
            &c,
            &StripList::new(&c),
        ),
    );
    for gone in [
        "x-real-ip",
        "x-client-ip",
        "true-client-ip",
        "x-forwarded-port",
        "x-forwarded-prefix",
        "x_real_ip",
        "x-original-url",
        "x-rewrite-url",
    ] {
        assert!(!untrusted.contains_key(gone), "{gone}");
    }
    let proxy = Some("10.1.2.3".parse().unwrap());
    let trusted = apply(
        req.clone(),
        &upstream_edits(
            &req,
            &plan(None, false),
            &client_addr(&req, proxy, false, &c),
            &c,
            &StripList::new(&c),
        ),
    );
    for kept in [
        "x-real-ip",
        "x-client-ip",
        "true-client-ip",
        "x-forwarded-port",
        "x-forwarded-prefix",
    ] {
        assert_eq!(trusted[kept], req[kept], "{kept}");
    }
    for gone in ["x-original-url", "x-rewrite-url"] {
        assert!(
            !trusted.contains_key(gone),
            "path overrides never pass: {gone}"
        );
    }
}

#[test]
fn the_request_scheme_is_https_only_when_a_trusted_proxy_says_so() {
    let c = config("[proxy]\ntrusted_proxies = [\"10.0.0.0/8\"]\n");
    let h = headers(&[("x-forwarded-proto", "https")]);
    assert_eq!(request_scheme(&h, peer(), &c), "http");
    assert_eq!(
        request_scheme(&h, Some("10.0.0.1".parse().unwrap()), &c),
        "https"
    );
    assert_eq!(
        request_scheme(&HeaderMap::new(), Some("10.0.0.1".parse().unwrap()), &c),
        "http"
    );
}
