//! The dashboard page and its assets, embedded in the binary and served with a strict
//! `Content-Security-Policy` (no inline code, nothing from elsewhere).
//!
//! The script is a set of ES modules: the page loads `assets/app.js` with
//! `<script type="module">`, and the modules import each other by relative URL (`./api.js`),
//! which resolves to `<mount>/assets/<name>` as well. Only the files in [`ASSETS`] are served.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

const INDEX: &str = include_str!("assets/index.html");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// One file under `<mount>/assets/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

/// Every asset, by name: the allow-list of what `<mount>/assets/<name>` serves.
const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: CSS,
        body: include_str!("assets/app.css"),
    },
    // The entry module, then the modules it imports (directly or not).
    Asset {
        name: "app.js",
        content_type: JS,
        body: include_str!("assets/app.js"),
    },
    Asset {
        name: "api.js",
        content_type: JS,
        body: include_str!("assets/api.js"),
    },
    Asset {
        name: "detail.js",
        content_type: JS,
        body: include_str!("assets/detail.js"),
    },
    Asset {
        name: "dialogs.js",
        content_type: JS,
        body: include_str!("assets/dialogs.js"),
    },
    Asset {
        name: "dom.js",
        content_type: JS,
        body: include_str!("assets/dom.js"),
    },
    Asset {
        name: "format.js",
        content_type: JS,
        body: include_str!("assets/format.js"),
    },
    Asset {
        name: "geo.js",
        content_type: JS,
        body: include_str!("assets/geo.js"),
    },
    Asset {
        name: "notify.js",
        content_type: JS,
        body: include_str!("assets/notify.js"),
    },
    Asset {
        name: "seed.js",
        content_type: JS,
        body: include_str!("assets/seed.js"),
    },
    Asset {
        name: "sessions.js",
        content_type: JS,
        body: include_str!("assets/sessions.js"),
    },
    Asset {
        name: "stats.js",
        content_type: JS,
        body: include_str!("assets/stats.js"),
    },
];

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The asset called `name`, if there is one.
pub(crate) fn asset(name: &str) -> Option<&'static str> {
    find(name).map(|a| a.name)
}

fn respond(body: &'static str, content_type: &'static str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = StatusCode::OK;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The dashboard page. It must be requested as `<mount>/` so its relative URLs resolve.
pub(crate) fn index() -> Response<Bytes> {
    respond(INDEX, "text/html; charset=utf-8")
}

/// One of the page's assets (`name` from [`asset`]; any other name is a 404).
pub(crate) fn serve(name: &str) -> Response<Bytes> {
    match find(name) {
        Some(a) => respond(a.body, a.content_type),
        None => super::not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quoted strings in `text` that start with `prefix`, without it.
    fn references<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.split(['\'', '"'])
            .filter_map(|s| s.strip_prefix(prefix))
            .collect()
    }

    #[test]
    fn everything_the_page_and_its_modules_load_is_served() {
        let from_page = references(INDEX, "assets/");
        assert!(
            from_page.contains(&"app.js") && from_page.contains(&"app.css"),
            "{from_page:?}"
        );
        for name in from_page {
            assert_eq!(asset(name), Some(name), "index.html loads assets/{name}");
        }
        for module in ASSETS.iter().filter(|a| a.content_type == JS) {
            assert!(
                module.body.starts_with("// @ts-check\n"),
                "{} is type-checked",
                module.name
            );
            for import in references(module.body, "./") {
                assert_eq!(
                    asset(import),
                    Some(import),
                    "{} imports ./{import}",
                    module.name
                );
            }
        }
    }

    #[test]
    fn every_module_is_imported_and_assets_are_typed() {
        let imported: Vec<&str> = ASSETS
            .iter()
            .flat_map(|a| references(a.body, "./"))
            .collect();
        for module in ASSETS.iter().filter(|a| a.content_type == JS) {
            assert!(
                module.name == "app.js" || imported.contains(&module.name),
                "{} is served but nothing imports it",
                module.name
            );
        }
        let response = serve("api.js");
        assert_eq!(response.headers()[header::CONTENT_TYPE], JS);
        assert_eq!(serve("app.css").headers()[header::CONTENT_TYPE], CSS);
        assert_eq!(serve("nope.js").status(), StatusCode::NOT_FOUND);
        assert_eq!(asset("../page.rs"), None);
    }
}
