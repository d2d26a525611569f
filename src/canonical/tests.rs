use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

fn path(raw: &str) -> Option<String> {
    canonical_path(raw.as_bytes()).map(Cow::into_owned)
}

#[test]
fn canonical_paths_are_kept_without_a_copy() {
    for raw in [
        "/",
        "/admin",
        "/a/b/",
        "/caf%C3%A9",
        "/.well-known/x",
        "/a..b/c",
        "/x~y",
    ] {
        assert!(
            matches!(canonical_path(raw.as_bytes()), Some(Cow::Borrowed(p)) if p == raw),
            "{raw}"
        );
    }
}

#[test]
fn one_meaning_gets_one_spelling() {
    let cases = [
        ("/%61dmin", "/admin"),
        ("/adm%69n", "/admin"),
        ("/%41DMIN", "/ADMIN"),
        ("//admin", "/admin"),
        ("/a//b///c", "/a/b/c"),
        ("/a//", "/a/"),
        ("//", "/"),
        ("/caf%c3%a9", "/caf%C3%A9"),
        ("/a%20b", "/a%20b"),
        ("/%7euser", "/~user"),
        ("/x%2dy%5fz", "/x-y_z"),
    ];
    for (raw, want) in cases {
        assert_eq!(path(raw).as_deref(), Some(want), "{raw}");
    }
}

#[test]
fn what_has_several_meanings_is_refused() {
    let refused = [
        // dot segments in every spelling
        "/a/../admin",
        "/a/./admin",
        "/..",
        "/a/%2e%2e/admin",
        "/a/%2E./admin",
        "/a/.%2e/admin",
        "/public/..;/req/x",
        "/api/auth/..;/x",
        "/a/..%3B/x",
        "/a/..%3b/x",
        "/a/%252e%252e/x",
        "/a/%c0%ae%c0%ae/x",
        "/a/%u002e%u002e/x",
        "/a/..%00/x",
        "/a/...",
        // trailing dots and spaces
        "/admin.",
        "/admin%20",
        "/admin./x",
        // escaped separators and double encoding
        "/a%2fb",
        "/a%2Fb",
        "/a%5cb",
        "/a%3bb",
        "/%2561dmin",
        // path parameters, backslashes
        "/admin;x=1",
        "/a\\b",
        // controls
        "/admin%00",
        "/a%0d%0ab",
        "/a%7f",
        "/a\x01b",
        // broken escapes and non-UTF-8
        "/a%",
        "/a%4",
        "/a%zz",
        "/%ff",
        "/%c3",
        // not origin-form
        "admin",
        "",
    ];
    for raw in refused {
        assert_eq!(path(raw), None, "{raw:?}");
    }
    assert_eq!(
        canonical_path(b"/caf\xc3\xa9"),
        None,
        "raw bytes above 0x7F"
    );
}

#[test]
fn canonicalising_twice_changes_nothing() {
    for raw in ["/%61dmin//x/", "/caf%c3%a9", "//", "/a%20b/c"] {
        let once = path(raw).unwrap();
        assert_eq!(path(&once).as_deref(), Some(once.as_str()), "{raw}");
    }
}

fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_bytes(value).unwrap(),
        );
    }
    map
}

#[test]
fn already_canonical_requests_need_no_edits() {
    let h = headers(&[("host", b"app.example.com:8080"), ("content-length", b"5")]);
    assert_eq!(Rewrite::of(b"/a/b?x=1", &h), Ok(Rewrite::default()));
    assert_eq!(Rewrite::of(b"/", &HeaderMap::new()), Ok(Rewrite::default()));
}

#[test]
fn the_target_is_rewritten_and_the_query_kept() {
    let rewrite = Rewrite::of(b"/%61dmin//x?q=%2e%2e/..", &HeaderMap::new()).unwrap();
    assert_eq!(rewrite.target.unwrap(), "/admin/x?q=%2e%2e/..");
}

#[test]
fn hosts_are_canonical() {
    let host = |value: &[u8]| Rewrite::of(b"/", &headers(&[("host", value)])).map(|r| r.host);
    assert_eq!(
        host(b"Secure.Example.COM"),
        Ok(Some(HeaderValue::from_static("secure.example.com")))
    );
    assert_eq!(
        host(b"secure.example.com."),
        Ok(Some(HeaderValue::from_static("secure.example.com")))
    );
    assert_eq!(
        host(b"secure.example.com.:80"),
        Ok(Some(HeaderValue::from_static("secure.example.com:80")))
    );
    assert_eq!(host(b"[::1]:8080"), Ok(None));
    assert_eq!(
        host(b"127.0.0.1:08080"),
        Ok(Some(HeaderValue::from_static("127.0.0.1:8080")))
    );
    for bad in [
        &b"a:80:80"[..],
        b"[a]",
        b"a%00",
        b"",
        b"a..b",
        b".",
        b"user@a",
        b"a:",
        b"a:99999",
        b"a:-1",
        b"a b",
        b"[::1",
    ] {
        assert_eq!(
            host(bad),
            Err(Refusal::Host),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let two = headers(&[("host", b"a"), ("host", b"b")]);
    assert_eq!(Rewrite::of(b"/", &two), Err(Refusal::Host));
}

#[test]
fn an_absolute_form_target_names_the_host() {
    let rewrite = Rewrite::of(b"http://Secure.Example.com/x?y", &HeaderMap::new()).unwrap();
    assert_eq!(rewrite.target.unwrap(), "/x?y");
    assert_eq!(rewrite.host.unwrap(), "secure.example.com");
    let rewrite = Rewrite::of(b"http://a.example", &HeaderMap::new()).unwrap();
    assert_eq!(rewrite.target.unwrap(), "/");
    let agreeing = headers(&[("host", b"secure.example.com")]);
    assert!(Rewrite::of(b"http://secure.example.com/x", &agreeing).is_ok());
    let other = headers(&[("host", b"public.example.com")]);
    assert_eq!(
        Rewrite::of(b"http://secure.example.com/x", &other),
        Err(Refusal::Host)
    );
    assert_eq!(
        Rewrite::of(b"ftp://a/x", &HeaderMap::new()),
        Err(Refusal::Path)
    );
    assert_eq!(Rewrite::of(b"*", &HeaderMap::new()), Err(Refusal::Path));
    assert_eq!(
        Rewrite::of(b"http://a/..;/x", &HeaderMap::new()),
        Err(Refusal::Path)
    );
}

#[test]
fn content_length_has_one_spelling() {
    let length =
        |pairs: &[(&str, &[u8])]| Rewrite::of(b"/", &headers(pairs)).map(|r| r.content_length);
    assert_eq!(length(&[("content-length", b"5")]), Ok(None));
    assert_eq!(
        length(&[("content-length", b"05")]),
        Ok(Some(HeaderValue::from(5u64)))
    );
    assert_eq!(
        length(&[("content-length", b"5"), ("content-length", b"5")]),
        Ok(Some(HeaderValue::from(5u64)))
    );
    assert_eq!(
        length(&[("content-length", b"5, 5")]),
        Ok(Some(HeaderValue::from(5u64)))
    );
    for bad in [
        &[("content-length", &b"5"[..]), ("content-length", b"6")][..],
        &[("content-length", b"+5")],
        &[("content-length", b"-1")],
        &[("content-length", b"")],
        &[("content-length", b"0x5")],
        &[("content-length", b"5"), ("transfer-encoding", b"chunked")],
    ] {
        assert_eq!(length(bad), Err(Refusal::Framing), "{bad:?}");
    }
}

#[test]
fn cookie_headers_must_be_text() {
    let h = headers(&[("cookie", b"better-auth.session_token=a\xe9b")]);
    assert_eq!(Rewrite::of(b"/", &h), Err(Refusal::Cookie));
}

/// Every string of up to `max_len` symbols from `alphabet`.
fn every_string(alphabet: &[&[u8]], max_len: usize) -> Vec<Vec<u8>> {
    let mut all = vec![Vec::new()];
    let mut last = vec![Vec::new()];
    for _ in 0..max_len {
        last = last
            .iter()
            .flat_map(|s| {
                alphabet.iter().map(move |symbol| {
                    let mut longer = s.clone();
                    longer.extend_from_slice(symbol);
                    longer
                })
            })
            .collect();
        all.extend(last.iter().cloned());
    }
    all
}

#[test]
fn plain_paths_are_what_the_general_rules_keep() {
    let alphabet: &[&[u8]] = &[
        b"/",
        b".",
        b"a",
        b"%",
        b"2",
        b"E",
        b";",
        b"~",
        "é".as_bytes(),
    ];
    let mut plain = 0;
    for raw in every_string(alphabet, 6) {
        let general = canonical_path_in_general(&raw);
        if is_plainly_canonical_path(&raw) {
            plain += 1;
            assert!(
                matches!(general, Some(Cow::Borrowed(p)) if p.as_bytes() == raw),
                "{:?}",
                String::from_utf8_lossy(&raw)
            );
        }
        assert_eq!(canonical_path(&raw), general);
    }
    assert!(plain > 1000, "the fast path took {plain} paths");
}

#[test]
fn plain_authorities_are_what_the_general_rules_keep() {
    let alphabet: &[&[u8]] = &[b"a", b"A", b".", b":", b"0", b"9", b"-", b"_", b"[", b"]"];
    let ports = (0..100_000).flat_map(|p| [format!("a:{p}"), format!("a:0{p}")]);
    let mut plain = 0;
    for raw in every_string(alphabet, 5)
        .into_iter()
        .chain(ports.map(String::into_bytes))
    {
        let general = canonical_authority_in_general(&raw);
        if is_plainly_canonical_authority(&raw) {
            plain += 1;
            assert!(
                matches!(general, Some(Cow::Borrowed(a)) if a.as_bytes() == raw),
                "{:?}",
                String::from_utf8_lossy(&raw)
            );
        }
        assert_eq!(canonical_authority(&raw), general);
    }
    assert!(plain > 50_000, "the fast path took {plain} authorities");
}
