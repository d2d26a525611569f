//! `gatehouse demo`: a working setup with nothing to install. A SQLite database under the data
//! directory (migrated, with a demo user and a fresh session), an echo upstream on loopback (or
//! an app given with `--upstream`), and the gateway in front, plus curl commands to try it.

use std::net::TcpListener;
use std::path::Path;
use std::process::ExitCode;

use crate::auth::cookie::SigningKey;
use crate::config::{file, Config, MapEnv};
use crate::session::{random_id, Session, User};
use crate::store;
use crate::time::Timestamp;

const DEMO_USER_ID: &str = "demoUser000000000000000000000001";

/// Runs the demo until interrupted.
pub(crate) fn run(
    data_dir: &Path,
    listen: &str,
    threads: usize,
    upstream: Option<&str>,
) -> ExitCode {
    let _log = crate::logging::init(&crate::config::LogConfig {
        access_combined: false,
        json: false,
        level: "info".into(),
    });
    match prepare(data_dir, listen, threads, upstream) {
        Ok((config, session_cookie)) => {
            let gateway = format!("http://{}", config.server.listen);
            let app_url = config.proxy.upstream.url.clone();
            let metrics = config
                .metrics
                .listen
                .map(|a| format!("http://{a}/metrics"))
                .unwrap_or_default();
            let cookie_name = config.better_auth.cookies.session_token.clone();
            let mut addresses = crate::server::listen_addresses(&config);
            if upstream.is_none() {
                // The echo upstream's own address, an IP from `prepare`.
                let echo = &config.proxy.upstream.servers[0];
                if let Some(ip) = echo.ip() {
                    addresses.push(std::net::SocketAddr::new(ip, echo.port));
                }
            }
            if let Err(message) = crate::server::ensure_free(&addresses) {
                return fail(&message);
            }
            let store = match store::open(&config.database) {
                Ok(s) => s,
                Err(e) => return fail(&e.to_string()),
            };
            let mut server = match crate::server::build(config, store, false) {
                Ok(server) => server,
                Err(e) => return fail(&e.to_string()),
            };
            let (upstream_kind, with_session) = if upstream.is_some() {
                ("upstream", "the app receives the x-auth-* headers")
            } else {
                crate::server::add_echo_upstream(
                    &mut server,
                    app_url.trim_start_matches("http://"),
                );
                (
                    "echo upstream",
                    "the echo shows the x-auth-* headers it received",
                )
            };
            println!(
                "\nGatehouse demo: gateway on {gateway}, {upstream_kind} on {app_url}, database {}/demo.db\n\n\
                 With the demo user's session (200; {with_session}):\n  \
                 curl -i {gateway}/hello -H 'Cookie: {cookie_name}={session_cookie}'\n\n\
                 Without a session (401; the upstream never sees it):\n  curl -i {gateway}/hello\n\n\
                 A public route (200 without a session):\n  curl -i {gateway}/public/hello\n\n\
                 Prometheus metrics:\n  curl {metrics}\n\n\
                 Stop with Ctrl-C.\n",
                data_dir.display()
            );
            crate::server::run(server);
            ExitCode::SUCCESS
        }
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("demo failed: {message}");
    ExitCode::FAILURE
}

/// Creates the data directory, secret, database, demo user and a new session; returns the
/// gateway config and the signed session cookie value.
fn prepare(
    data_dir: &Path,
    listen: &str,
    threads: usize,
    upstream: Option<&str>,
) -> Result<(Config, String), String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let secret_path = data_dir.join("demo-secret");
    let secret = match std::fs::read_to_string(&secret_path) {
        Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
        _ => {
            let s = random_id();
            std::fs::write(&secret_path, &s)
                .map_err(|e| format!("cannot write {}: {e}", secret_path.display()))?;
            s
        }
    };
    let db_path = data_dir.join("demo.db");
    let new_database = !db_path.exists();
    let url = format!("sqlite://{}", db_path.display());

    let mut file = file::ConfigFile::default();
    file.server.listen = listen.to_string();
    file.server.threads = threads;
    file.better_auth.secret = Some(secret.clone());
    file.database.url = Some(url.clone());
    file.proxy.upstream = match upstream {
        Some(url) => file::UpstreamUrls::One(url.to_string()),
        None => file::UpstreamUrls::One(format!("http://127.0.0.1:{}", free_port()?)),
    };
    file.metrics.listen = format!("127.0.0.1:{}", free_port()?);
    file.routes.push(file::RouteSection {
        prefix: "/public".into(),
        policy: Some("public".into()),
        ..Default::default()
    });
    let config = Config::from_file(file, &MapEnv::default()).map_err(|e| e.to_string())?;

    let token = random_id();
    crate::startup::block_on(async {
        store::migrate::run(&url).await?;
        let store = store::open(&config.database)?;
        let now = Timestamp::now();
        if new_database {
            store
                .insert_user(&User {
                    id: DEMO_USER_ID.into(),
                    name: "Demo User".into(),
                    email: "demo@example.com".into(),
                    email_verified: true,
                    image: None,
                    created_at: now,
                    updated_at: now,
                    role: Some("user".into()),
                    banned: Some(false),
                    ban_reason: None,
                    ban_expires: None,
                    extra: Vec::new(),
                    additional: Vec::new(),
                })
                .await?;
        }
        store
            .insert_session(&Session {
                id: random_id(),
                token: token.clone(),
                user_id: DEMO_USER_ID.into(),
                expires_at: now.plus(config.better_auth.expires_in),
                created_at: now,
                updated_at: now,
                ip_address: Some("127.0.0.1".into()),
                user_agent: Some("gatehouse demo".into()),
                impersonated_by: None,
                additional: Vec::new(),
                active_member_role: None,
            })
            .await
    })
    .map_err(|e| e.to_string())?;
    let cookie = SigningKey::new(&secret).sign_cookie_value(&token);
    Ok((config, cookie))
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}
