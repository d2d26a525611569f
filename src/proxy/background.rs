//! Runs the app's background work (revocation notices, expired-session cleanup) as a Pingora
//! background service, until the server shuts down.

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
