//! Passive health: servers that just refused a connection are left out of an upstream's
//! rotation for a while (`upstream_group.eject_for`), so that requests do not keep trying a
//! server that has gone away before the active health check notices.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The servers of one upstream that are ejected, and until when.
#[derive(Debug)]
pub struct Ejections {
    eject_for: Duration,
    until: Mutex<HashMap<SocketAddr, Instant>>,
    /// Whether `until` may hold anything: the request path reads only this while all is well.
    any: AtomicBool,
}

impl Ejections {
    pub fn new(eject_for: Duration) -> Self {
        Self {
            eject_for,
            until: Mutex::new(HashMap::new()),
            any: AtomicBool::new(false),
        }
    }

    /// `server` failed to accept a connection at `now`.
    pub fn eject(&self, server: SocketAddr, now: Instant) {
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        until.insert(server, now + self.eject_for);
        self.any.store(true, Ordering::Release);
    }

    /// Whether `server` is left out at `now`.
    pub fn is_ejected(&self, server: SocketAddr, now: Instant) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        until.retain(|_, end| *end > now);
        if until.is_empty() {
            self.any.store(false, Ordering::Release);
        }
        until.contains_key(&server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ejected_server_comes_back_after_eject_for() {
        let ejections = Ejections::new(Duration::from_secs(10));
        let a: SocketAddr = "10.0.0.1:80".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let t0 = Instant::now();
        assert!(!ejections.is_ejected(a, t0));
        ejections.eject(a, t0);
        assert!(ejections.is_ejected(a, t0 + Duration::from_secs(9)));
        assert!(!ejections.is_ejected(b, t0 + Duration::from_secs(9)));
        assert!(!ejections.is_ejected(a, t0 + Duration::from_secs(10)));
        assert!(
            !ejections.any.load(Ordering::Acquire),
            "the table empties itself"
        );
        // Ejected again later: the clock starts again.
        ejections.eject(a, t0 + Duration::from_secs(20));
        assert!(ejections.is_ejected(a, t0 + Duration::from_secs(29)));
    }
}
