use http::{HeaderMap, HeaderValue, Method};

use super::*;
use crate::config::{parse_toml, MapEnv};
use crate::route_table::RouteTable;

fn config(toml: &str) -> Config {
    let env = MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", "s")]);
    Config::from_file(parse_toml(toml).unwrap(), &env).unwrap()
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                http::HeaderName::from_static(k),
                HeaderValue::from_static(v),
            )
        })
        .collect()
}

#[test]
fn browser_navigation_is_told_apart_from_api_calls() {
    let get = Method::GET;
    assert!(is_browser_navigation(
        &get,
        &headers(&[("sec-fetch-mode", "navigate")])
    ));
    assert!(!is_browser_navigation(
        &get,
        &headers(&[("sec-fetch-mode", "cors"), ("accept", "text/html")])
    ));
    assert!(is_browser_navigation(
        &get,
        &headers(&[("accept", "text/html,application/xhtml+xml")])
    ));
    assert!(!is_browser_navigation(
        &get,
        &headers(&[("accept", "application/json")])
    ));
    assert!(!is_browser_navigation(
        &get,
        &headers(&[
            ("accept", "text/html"),
            ("x-requested-with", "XMLHttpRequest")
        ])
    ));
    assert!(!is_browser_navigation(
        &Method::POST,
        &headers(&[("sec-fetch-mode", "navigate")])
    ));
    assert!(!is_browser_navigation(&get, &HeaderMap::new()));
}

#[test]
fn unauthenticated_browsers_are_redirected_with_the_original_url() {
    let c = config("[proxy]\nlogin_url = \"/sign-in?app=1\"\n");
    let table = RouteTable::new(&c);
    let route = table.classify(None, "/docs");
    let r = unauthenticated(
        &route,
        &Method::GET,
        &headers(&[("sec-fetch-mode", "navigate")]),
        "/docs?a=1&b=2",
        &c,
    );
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(
        r.headers()["location"],
        "/sign-in?app=1&callbackURL=%2Fdocs%3Fa%3D1%26b%3D2"
    );
}

#[test]
fn unauthenticated_api_calls_get_401_json() {
    let c = config("");
    let table = RouteTable::new(&c);
    let route = table.classify(None, "/api/data");
    let r = unauthenticated(
        &route,
        &Method::GET,
        &headers(&[("accept", "application/json")]),
        "/api/data",
        &c,
    );
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.body().as_ref(), br#"{"error":"unauthenticated"}"#);
    assert_eq!(r.headers()["content-type"], "application/json");
}

#[test]
fn route_overrides_decide_the_answer() {
    let c = config("[[routes]]\nprefix = \"/s\"\nunauthenticated = \"status\"\n[[routes]]\nprefix = \"/r\"\nunauthenticated = \"redirect\"\n");
    let table = RouteTable::new(&c);
    let nav = headers(&[("sec-fetch-mode", "navigate")]);
    let status = table.classify(None, "/s");
    assert_eq!(
        unauthenticated(&status, &Method::GET, &nav, "/s", &c).status(),
        StatusCode::UNAUTHORIZED
    );
    let redirect = table.classify(None, "/r");
    let empty = HeaderMap::new();
    assert_eq!(
        unauthenticated(&redirect, &Method::GET, &empty, "/r", &c).status(),
        StatusCode::FOUND
    );
    assert_eq!(
        unauthenticated(&redirect, &Method::POST, &empty, "/r", &c).status(),
        StatusCode::UNAUTHORIZED
    );
}
