//! The config file: `parse_toml`, then `Config::from_file` with a fixed environment.
//!
//! Input: TOML text (invalid UTF-8 is replaced with U+FFFD). Invariant: nothing panics, every
//! error renders.
//!
//! Two side effects of `from_file` are kept off the network and special files, by editing the
//! parsed file before validation: an upstream URL whose host is a name (which `from_file`
//! resolves through DNS) is replaced with `http://127.0.0.1:9`, and `geo.ca_file` (which it
//! reads) is dropped unless it names a regular file under 1 MiB.
#![no_main]

use std::net::IpAddr;
use std::sync::OnceLock;

use gatehouse::config::{parse_toml, Config, MapEnv};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "gatehouse-fuzz-secret-0123456789abcdef";

fn env() -> &'static MapEnv {
    static ENV: OnceLock<MapEnv> = OnceLock::new();
    ENV.get_or_init(|| MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", SECRET)]))
}

/// Replaces `url` when validating it would resolve a host name.
fn no_dns(url: &mut String) {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return;
    };
    let Some(host) = uri.host() else {
        return;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.parse::<IpAddr>().is_err() {
        *url = "http://127.0.0.1:9".to_owned();
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut file = match parse_toml(&text) {
        Ok(file) => file,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    no_dns(&mut file.proxy.upstream);
    if let Some(url) = file.better_auth.upstream.as_mut() {
        no_dns(url);
    }
    for route in &mut file.routes {
        if let Some(url) = route.upstream.as_mut() {
            no_dns(url);
        }
    }
    if let Some(path) = &file.geo.ca_file {
        let regular = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() < 1 << 20);
        if !regular {
            file.geo.ca_file = None;
        }
    }
    match Config::from_file(file, env()) {
        Ok(config) => {
            let _ = config.summary();
            let _ = format!("{config:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
