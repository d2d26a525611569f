//! Runs the app's background work (revocation notices, expired-session cleanup) as a Pingora
//! background service, until the server shuts down.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use crate::app::App;

/// The housekeeping service.
pub struct Housekeeping {
    app: Arc<App>,
}

impl Housekeeping {
    /// Housekeeping for `app`.
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

#[async_trait]
impl BackgroundService for Housekeeping {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let work = async {
            tokio::join!(
                self.app.follow_revocations(),
                self.app.clean_expired_periodically(),
                self.app.update_gauges_periodically(),
            )
        };
        tokio::select! {
            _ = work => {}
            _ = shutdown.changed() => {}
        }
    }
}
