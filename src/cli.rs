//! The command line: `serve` (default), `check`, `migrate` and `demo`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError, DatabaseKind, EnvSource, ProcessEnv};
use crate::resolve::Resolver;
use crate::startup::{block_on, check_schema};
use crate::store;

/// A Pingora gateway that authenticates every request with a Better Auth session.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version)]
pub struct Cli {
    /// The TOML config file (defaults and environment variables apply without one).
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the gateway (the default).
    Serve {
        /// Take over the listening sockets of a running gateway instead of binding them: start
        /// this, then send the old process SIGQUIT. It hands its listeners over and drains.
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate a config file and exit: 0 when valid, 2 naming the key at fault otherwise.
    Check,
    /// Create Better Auth's schema (core tables and admin plugin columns) in a database, for
    /// development and tests. `serve` never alters tables.
    Migrate {
        /// The database to migrate (defaults to the configured one).
        #[arg(long)]
        database_url: Option<String>,
        /// Instead, install only the PostgreSQL trigger that notifies every Gatehouse instance
        /// when a session is deleted or a user banned, so revocations apply everywhere at once.
        /// Safe on a production Better Auth database: it adds two functions and two triggers,
        /// nothing else. Table and column names come from `database.schema`.
        #[arg(long, conflicts_with = "admin_indexes")]
        notify_trigger: bool,
        /// Instead, create only the PostgreSQL indexes that keep the sessions admin fast on
        /// millions of sessions: `pg_trgm` trigram indexes for searches, B-tree indexes on the
        /// session dates for sorted pages. Built `CONCURRENTLY`, so Better Auth keeps writing;
        /// nothing else changes. Table and column names come from `database.schema`.
        #[arg(long)]
        admin_indexes: bool,
    },
    /// Run a complete local setup: a SQLite database with a demo user and session, an echo
    /// upstream, and the gateway in front. Prints ready-to-paste curl commands.
    Demo {
        /// Where the database and demo secret live.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// The gateway's address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Worker threads for the gateway (and, separately, the echo upstream).
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Put the gateway in front of this app (http://host:port) instead of the built-in echo
        /// upstream.
        #[arg(long)]
        upstream: Option<String>,
    },
}

/// Runs the command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command.unwrap_or(Command::Serve { upgrade: false }) {
        Command::Serve { upgrade } => match load(cli.config.as_deref()) {
            Ok(config) => serve(config, upgrade),
            Err(code) => code,
        },
        Command::Check => match load(cli.config.as_deref()) {
            Ok(config) => {
                for warning in certificate_warnings(&config) {
                    println!("warning: listener certificate {warning}");
                }
                for warning in block_on(unresolved_upstreams(&config)) {
                    println!("warning: {warning}");
                }
                println!("ok: {}", config.summary());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Migrate {
            database_url,
            notify_trigger,
            admin_indexes,
        } => {
            let config = match Config::load(cli.config.as_deref(), &MigrateEnv) {
                Ok(config) => config,
                Err(e) => return fail(&format!("config error: {e}")),
            };
            let url = database_url.unwrap_or_else(|| config.database.url.expose().to_string());
            let (done, result) = if notify_trigger {
                if DatabaseKind::of(&url) != Some(DatabaseKind::Postgres) {
                    return fail("--notify-trigger needs a postgres:// database (LISTEN/NOTIFY)");
                }
                let result = block_on(store::notify::install_trigger(
                    &url,
                    &config.database.schema,
                ));
                ("revocation notify trigger installed", result)
            } else if admin_indexes {
                if DatabaseKind::of(&url) != Some(DatabaseKind::Postgres) {
                    return fail(
                        "--admin-indexes needs a postgres:// database (pg_trgm); on SQLite and MySQL \
                         the admin works without them",
                    );
                }
                let result = block_on(store::admin_indexes::install(&url, &config.database.schema));
                ("sessions admin indexes are in place", result)
            } else {
                (
                    "Better Auth schema is in place",
                    block_on(store::migrate::run(&url)),
                )
            };
            match result {
                Ok(()) => {
                    println!("migrated: {done}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&format!("migrate failed: {e}")),
            }
        }
        Command::Demo {
            data_dir,
            listen,
            threads,
            upstream,
        } => crate::demo::run(&data_dir, &listen, threads, upstream.as_deref()),
    }
}

/// The process environment, with a placeholder secret when none is set: `migrate` never signs
/// or verifies anything, so it must not demand one.
struct MigrateEnv;

impl EnvSource for MigrateEnv {
    fn var(&self, name: &str) -> Option<String> {
        ProcessEnv
            .var(name)
            .or_else(|| (name == "BETTER_AUTH_SECRET").then(|| "unused-by-migrate".into()))
    }
}

fn load(path: Option<&std::path::Path>) -> Result<Config, ExitCode> {
    Config::load(path, &ProcessEnv).map_err(|e: ConfigError| {
        eprintln!("config error: {e}");
        ExitCode::from(2)
    })
}

fn fail(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::FAILURE
}

/// The upstream host names that do not resolve now, one line each: not an error (the gateway
/// keeps trying), but most likely a typo.
async fn unresolved_upstreams(config: &Config) -> Vec<String> {
    let resolver = config
        .proxy
        .resolver
        .map_or(Resolver::System, Resolver::Server);
    let mut warnings = Vec::new();
    for upstream in config.upstreams() {
        for server in upstream.servers.iter().filter(|s| s.ip().is_none()) {
            if let Err(e) = resolver.resolve(&server.host, server.port).await {
                warnings.push(format!(
                    "upstream {}: `{}` does not resolve now ({e}); its requests get 502 \
                     upstream_unresolved until it does",
                    upstream.url, server.host
                ));
            }
        }
    }
    warnings
}

/// The listener certificates that expire soon, one line each.
fn certificate_warnings(config: &Config) -> Vec<String> {
    config
        .server
        .tls
        .as_ref()
        .map(|t| t.expiry_warnings(std::time::SystemTime::now()))
        .unwrap_or_default()
}

fn serve(config: Config, upgrade: bool) -> ExitCode {
    let _log = crate::logging::init(&config.log);
    // On an upgrade the running instance holds the addresses and hands them over.
    if !upgrade {
        if let Err(message) = crate::server::ensure_free(&crate::server::listen_addresses(&config))
        {
            return fail(&message);
        }
    }
    if let Err(message) = check_schema(&config) {
        return fail(&message);
    }
    let store = match store::open(&config.database) {
        Ok(store) => store,
        Err(e) => return fail(&e.to_string()),
    };
    tracing::info!("gatehouse starting: {}", config.summary());
    for warning in certificate_warnings(&config) {
        tracing::warn!("listener certificate {warning}");
    }
    match crate::server::build(config, store, upgrade) {
        Ok(server) => {
            crate::server::run(server);
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}
