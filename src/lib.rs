//! Gatehouse: a reverse proxy, built on Pingora, that authenticates every request with a Better
//! Auth session and hands the upstream the user's identity in headers.
//!
//! Layers, with dependencies pointing down (`.ci/module-deps` prints the real graph and fails
//! on a new import cycle or a broken rule):
//!
//! ```text
//! cli, demo, startup     the command line and what runs once before serving
//! server, proxy/         Pingora glue (the only modules that import pingora, and app)
//! app                    the composition root: builds the parts, routes every request once
//!                        (App::route), answers (App::answer) or decides (App::decide)
//! admin/, session_api/,  the sessions admin, Better Auth's session API served here,
//! operations, access,    the operations listener, the access log, background work;
//! housekeeping           each owns only what it uses
//! gate                   the authentication gate for proxied routes (policy, credential,
//!                        route rules)
//! route_table,           which route a request is on; the upstream's header edits
//! forwarding
//! decision               what was decided about a request, and who sent it, as values
//! auth/, geo/            cookie signatures, the moka cache, the validator, revocation; IP
//!                        geolocation
//! store/                 Better Auth's tables through sqlx (SQLite, PostgreSQL, MySQL)
//! metrics, logging,      Prometheus series; where log lines go (a non-blocking writer);
//! config/                the validated configuration
//! resolve,               upstream host names to addresses; servers ejected for refusing
//! upstream_health        connections
//! session, reply, tls,   Better Auth's rows; small answer helpers; certificates from PEM;
//! canonical, time        the one canonical form of a request; clocks (import nothing above)
//! ```

mod access;
mod admin;
mod app;
mod assertion;
pub mod auth;
pub mod canonical;
pub mod cli;
pub mod config;
mod decision;
mod demo;
mod forward_auth;
mod forwarding;
mod gate;
mod geo;
mod housekeeping;
pub mod logging;
mod metrics;
mod operations;
mod proxy;
mod proxy_protocol;
mod reply;
mod resolve;
mod route_table;
mod server;
pub mod session;
mod session_api;
mod spans;
mod startup;
pub mod store;
mod text;
pub mod time;
pub mod tls;
mod trace_context;
mod upstream_health;
