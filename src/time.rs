//! Wall-clock time as Better Auth stores it: milliseconds since the Unix epoch.
//!
//! Decisions that depend on the time take a [`Timestamp`] or a [`Clock`], never read the system
//! clock themselves, so tests can move time by hand.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

/// A point in time, in milliseconds since the Unix epoch (Better Auth's `Date.now()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The timestamp `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// The system time now. Read from `SystemTime` directly: `Utc::now()` converts to a
    /// calendar date and back, a few hundred instructions on every authenticated request.
    pub fn now() -> Self {
        let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => Self(millis(after)),
            Err(before) => Self(-millis(before.duration())),
        }
    }

    /// This time plus `d`, saturating.
    pub fn plus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// This time minus `d`, saturating.
    pub fn minus(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_sub(ms))
    }

    /// How long from `self` until `later`; zero when `later` is not after `self`.
    pub fn until(self, later: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(later.0.saturating_sub(self.0)).unwrap_or(0))
    }

    /// ISO-8601 in UTC with exactly three fractional digits, as JavaScript's `Date.toISOString()`
    /// writes it (`2026-11-30T00:58:21.213Z`).
    pub fn to_iso(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to (tests and benches).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicI64::new(start.millis()))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_what_chrono_reads() {
        let (before, now, after) = (
            Utc::now().timestamp_millis(),
            Timestamp::now().millis(),
            Utc::now().timestamp_millis(),
        );
        assert!(
            before <= now && now <= after,
            "{before} <= {now} <= {after}"
        );
    }

    #[test]
    fn iso_has_exactly_three_fraction_digits() {
        assert_eq!(
            Timestamp::from_millis(1_795_395_501_238).to_iso(),
            "2026-11-23T00:58:21.238Z"
        );
        assert_eq!(
            Timestamp::from_millis(0).to_iso(),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn until_is_zero_for_the_past() {
        let t = Timestamp::from_millis(10_000);
        assert_eq!(t.until(Timestamp::from_millis(4_000)), Duration::ZERO);
        assert_eq!(
            t.until(Timestamp::from_millis(12_500)),
            Duration::from_millis(2_500)
        );
    }

    #[test]
    fn manual_clock_advances() {
        let clock = ManualClock::new(Timestamp::from_millis(5));
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), Timestamp::from_millis(1_005));
    }
}
