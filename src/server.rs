//! Turning a [`Config`] into a running Pingora server: the proxy service on the configured
//! listener, the sessions admin on its own listener (if `admin.listen` is set), the operations
//! listener (`/metrics`, `/healthz`, `/readyz`) and the housekeeping background service, with Pingora's process
//! settings taken from `[server]`.

use std::net::SocketAddr;
use std::sync::Arc;

use pingora::apps::HttpServerOptions;
use pingora::listeners::tls::TlsSettings;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{RunArgs, Server};
use pingora::services::background::background_service;
use pingora::services::listening::Service;

use crate::app::{App, AppError, Listener};
use crate::config::{AssertionKeys, Config, ListenerTls};
use crate::proxy::{
    AssertionKeyService, CertificateReloadService, EchoApp, Gateway, HeadDeadlineApp,
    HousekeepingService, HttpsRedirectApp, OperationsApp, PreTlsProxyHeader, ProxyHeaderPolicy,
    SpanExportService, UpstreamPools,
};
use crate::store::SessionStore;
use crate::time::SystemClock;

/// Pingora's process settings from ours.
fn server_conf(config: &Config) -> ServerConf {
    let mut conf = ServerConf {
        threads: config.server.threads,
        grace_period_seconds: Some(config.server.grace_period.as_secs()),
        graceful_shutdown_timeout_seconds: Some(config.server.graceful_shutdown_timeout.as_secs()),
        ..ServerConf::default()
    };
    // Per-instance paths, so several gateways can run on one machine.
    let port = config.server.listen.port();
    conf.pid_file = config
        .server
        .pid_file
        .clone()
        .unwrap_or_else(|| format!("/tmp/gatehouse-{port}.pid"));
    conf.upgrade_sock = config
        .server
        .upgrade_sock
        .clone()
        .unwrap_or_else(|| format!("/tmp/gatehouse-{port}.sock"));
    conf
}

/// Serves until a signal stops the server (and its services have finished), then returns, so
/// the caller's log writer can write out what is queued before the process exits.
pub(crate) fn run(server: Server) {
    server.run(RunArgs::default());
}

/// A server running the gateway for `config` on `store`, ready for [`run`]. With
/// `upgrade`, it takes the listeners of the running instance (Pingora's hand-over over
/// `server.upgrade_sock`). Fails when the geolocation provider or the identity assertion's keys
/// cannot be set up.
pub(crate) fn build(
    config: Config,
    store: Arc<dyn SessionStore>,
    upgrade: bool,
) -> Result<Server, AppError> {
    let app = Arc::new(App::new(config, store, Arc::new(SystemClock))?);
    let config = app.config().clone();
    let opt = Opt {
        upgrade,
        ..Opt::default()
    };
    let mut server = Server::new_with_opt_and_conf(Some(opt), server_conf(&config));
    server.bootstrap();
    let header_timeout = config.server.header_timeout;
    let pools = Arc::new(UpstreamPools::new(&config, &mut server));
    let mut gateway = pingora::proxy::http_proxy(
        &server.configuration,
        Gateway::new(app.clone(), pools.clone()),
    );
    if config.server.h2c {
        let mut options = HttpServerOptions::default();
        options.h2c = true;
        gateway.server_options = Some(options);
    }
    let mut app_logic = HeadDeadlineApp::new(gateway, header_timeout, config.server.h2c);
    let proxy_header = config.server.proxy_protocol.then(|| ProxyHeaderPolicy {
        senders: config.proxy.trusted_proxies.clone(),
        timeout: header_timeout,
    });
    if let (Some(policy), None) = (&proxy_header, &config.server.tls) {
        app_logic = app_logic.with_proxy_header(policy.clone());
    }
    let mut proxy = Service::new("gatehouse".to_string(), app_logic);
    let listen = config.server.listen.to_string();
    match &config.server.tls {
        Some(tls) => {
            if let Some(policy) = proxy_header {
                // The header comes before the TLS handshake.
                proxy
                    .endpoints()
                    .set_pre_tls_callback(Arc::new(PreTlsProxyHeader(policy)));
            }
            proxy.add_tls_with_settings(&listen, None, listener_tls_settings(tls));
            server.add_service(background_service(
                "certificate reload",
                CertificateReloadService {
                    certificates: Arc::clone(&tls.certificates),
                    interval: tls.reload_interval,
                },
            ));
            if let Some(from) = tls.redirect_http_from {
                let mut redirect = Service::new(
                    "https redirect".to_string(),
                    HttpsRedirectApp {
                        https_port: config.server.listen.port(),
                    },
                );
                redirect.add_tcp(&from.to_string());
                server.add_service(redirect);
            }
        }
        None => proxy.add_tcp(&listen),
    }
    server.add_service(proxy);
    if let Some(listen) = config.admin.as_ref().and_then(|a| a.listen) {
        let mut admin = Service::new(
            "gatehouse admin".to_string(),
            HeadDeadlineApp::new(
                pingora::proxy::http_proxy(
                    &server.configuration,
                    Gateway::only(app.clone(), Listener::Admin, pools.clone()),
                ),
                header_timeout,
                false,
            ),
        );
        admin.add_tcp(&listen.to_string());
        server.add_service(admin);
    }
    if let Some(listen) = config.forward_auth.as_ref().and_then(|f| f.listen) {
        let mut forward_auth = Service::new(
            "gatehouse forward-auth".to_string(),
            HeadDeadlineApp::new(
                pingora::proxy::http_proxy(
                    &server.configuration,
                    Gateway::only(app.clone(), Listener::ForwardAuth, pools),
                ),
                header_timeout,
                false,
            ),
        );
        forward_auth.add_tcp(&listen.to_string());
        server.add_service(forward_auth);
    }
    if let Some(listen) = config.metrics.listen {
        let mut ops = Service::new("operations".to_string(), OperationsApp::new(app.clone()));
        ops.add_tcp(&listen.to_string());
        server.add_service(ops);
    }
    if let Some(AssertionKeys::Dir { rotate_every, .. }) =
        config.identity_assertion.as_ref().map(|a| &a.keys)
    {
        server.add_service(background_service(
            "assertion key rotation",
            AssertionKeyService {
                app: app.clone(),
                interval: crate::assertion::check_interval(*rotate_every),
            },
        ));
    }
    if let Some(tracing) = &config.tracing {
        server.add_service(background_service(
            "span export",
            SpanExportService {
                app: app.clone(),
                config: tracing.clone(),
            },
        ));
    }
    server.add_service(background_service(
        "housekeeping",
        HousekeepingService::new(app),
    ));
    Ok(server)
}

/// Pingora's TLS settings for `tls`: our resolver (SNI, live reload), TLS 1.2 and 1.3 (Pingora's
/// rustls defaults), HTTP/2 by ALPN when enabled.
fn listener_tls_settings(tls: &ListenerTls) -> TlsSettings {
    // `intermediate` only records the paths (none here); with a resolver set, `build` never
    // reads them.
    let mut settings =
        TlsSettings::intermediate("", "").expect("TlsSettings::intermediate reads no files");
    settings.set_cert_resolver(tls.certificates.clone());
    if tls.http2 {
        settings.enable_h2();
    }
    settings
}

/// The addresses `config` listens on: proxy, HTTPS redirect, admin and forward-auth (if
/// separate), operations.
pub(crate) fn listen_addresses(config: &Config) -> Vec<SocketAddr> {
    let admin = config.admin.as_ref().and_then(|a| a.listen);
    let redirect = config
        .server
        .tls
        .as_ref()
        .and_then(|t| t.redirect_http_from);
    let forward_auth = config.forward_auth.as_ref().and_then(|f| f.listen);
    std::iter::once(config.server.listen)
        .chain(redirect)
        .chain(admin)
        .chain(forward_auth)
        .chain(config.metrics.listen)
        .collect()
}

/// `Err` naming the first of `addrs` that cannot be bound, so that a start on a busy port
/// exits at once (Pingora would retry for half a minute, then lose the listener thread while
/// the process, and its health answers, lived on).
pub(crate) fn ensure_free(addrs: &[SocketAddr]) -> Result<(), String> {
    for addr in addrs {
        if let Err(e) = std::net::TcpListener::bind(addr) {
            return Err(format!(
                "cannot listen on {addr}: {e}; stop what holds it or choose another address (server.listen, admin.listen, metrics.listen)"
            ));
        }
    }
    Ok(())
}

/// Adds the demo's echo upstream on `addr` to `server`.
pub(crate) fn add_echo_upstream(server: &mut Server, addr: &str) {
    let mut echo = Service::new("echo upstream".to_string(), EchoApp);
    echo.add_tcp(addr);
    server.add_service(echo);
}
