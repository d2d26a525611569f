//! Runs background work as Pingora background services, until the server shuts down: the app's
//! housekeeping (revocation notices, expired-session cleanup), the listener certificates'
//! reload, the identity assertion key's rotation and the span export.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use crate::app::App;

/// The housekeeping service.
pub(crate) struct HousekeepingService {
    app: Arc<App>,
}

impl HousekeepingService {
    /// The housekeeping of `app` as a Pingora background service.
    pub(crate) fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

#[async_trait]
impl BackgroundService for HousekeepingService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        tokio::select! {
            _ = self.app.housekeeping().run() => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Reloads the listener's certificates when their files change (`tls::watch`).
pub(crate) struct CertificateReloadService {
    pub(crate) certificates: Arc<crate::tls::ListenerCertificates>,
    pub(crate) interval: std::time::Duration,
}

#[async_trait]
impl BackgroundService for CertificateReloadService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        tokio::select! {
            _ = crate::tls::watch(Arc::clone(&self.certificates), self.interval) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Rotates the identity assertion's key when it is due (`identity_assertion.rotate_every`).
pub(crate) struct AssertionKeyService {
    pub(crate) app: Arc<App>,
    pub(crate) interval: std::time::Duration,
}

#[async_trait]
impl BackgroundService for AssertionKeyService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let Some(assertions) = self.app.assertions() else {
            return;
        };
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = shutdown.changed() => return,
            }
            if let Err(error) = assertions.rotate_if_due(crate::assertion::unix_now()) {
                tracing::error!(%error, "the identity assertion key could not be rotated; the current one keeps signing");
            }
        }
    }
}

/// Posts finished spans to the OTLP endpoint (`spans::export`).
pub(crate) struct SpanExportService {
    pub(crate) app: Arc<App>,
    pub(crate) config: crate::config::TracingConfig,
}

#[async_trait]
impl BackgroundService for SpanExportService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let Some(queue) = self.app.take_span_queue() else {
            return;
        };
        let export = crate::spans::export(
            queue,
            self.config.otlp_endpoint.clone(),
            self.config.service_name.clone(),
            self.config.export_interval,
        );
        tokio::select! {
            _ = export => {}
            _ = shutdown.changed() => {}
        }
    }
}
