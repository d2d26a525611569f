//! The config file: `parse_toml`, then `Config::from_file` with a fixed environment.
//!
//! Input: TOML text (invalid UTF-8 is replaced with U+FFFD). Invariant: nothing panics, every
//! error renders.
//!
//! `from_file` reads the files some keys name; those are kept off special files by editing the
//! parsed file before validation: `geo.ca_file` is dropped unless it names a regular file under
//! 1 MiB, and the TLS sections (`server.tls`, every `upstream_tls`), whose certificate files it
//! reads, are dropped. (Upstream host names are no longer resolved while loading.)
#![no_main]

use std::sync::OnceLock;

use gatehouse::config::{parse_toml, Config, MapEnv};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "gatehouse-fuzz-secret-0123456789abcdef";

fn env() -> &'static MapEnv {
    static ENV: OnceLock<MapEnv> = OnceLock::new();
    ENV.get_or_init(|| MapEnv::from_pairs(&[("BETTER_AUTH_SECRET", SECRET)]))
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
    file.server.tls = None;
    file.proxy.upstream_tls = None;
    for route in &mut file.routes {
        route.upstream_tls = None;
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
