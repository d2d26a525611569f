//! Gatehouse: a reverse proxy, built on Pingora, that authenticates every request with a Better
//! Auth session and hands the upstream the user's identity in headers.
//!
//! Layers, with dependencies pointing down:
//!
//! ```text
//! server, proxy/        Pingora glue (the only modules that import pingora)
//! app, routing,         what to do with a request, as values
//! forwarding,
//! endpoints/            the session routes Gatehouse answers itself
//! admin/, geo/          the sessions admin API and dashboard, IP geolocation
//! auth/                 cookie signatures, the moka cache, the validator
//! store/                Better Auth's tables through sqlx (SQLite, PostgreSQL, MySQL)
//! config/, time         used by all of the above
//! ```

pub mod access;
pub mod admin;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
mod demo;
pub mod endpoints;
pub mod forwarding;
pub mod geo;
mod health;
mod housekeeping;
pub mod metrics;
pub mod proxy;
pub mod routing;
pub mod server;
pub mod store;
pub mod time;

/// Logs to stderr as `config` says (human or JSON lines); `RUST_LOG` overrides the level.
pub fn init_logging(config: &config::LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: files and journald get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    // Ignore the error: a second call in the same process keeps the first subscriber.
    let _ = if config.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
