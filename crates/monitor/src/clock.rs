//! The server's notion of "now", injectable so tests pin it (expiry and validity are computed at
//! request time from this clock, never frozen at load time).

use std::sync::Mutex;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;

    /// The current naive UTC datetime (the monitor's timestamps are UTC).
    fn now_utc(&self) -> DateTime {
        Offset::UTC.to_datetime(self.now())
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock tests set by hand.
#[derive(Debug)]
pub struct FixedClock(Mutex<Timestamp>);

impl FixedClock {
    /// A clock showing `at` (naive UTC).
    pub fn new(at: DateTime) -> FixedClock {
        FixedClock(Mutex::new(to_ts(at)))
    }

    /// Moves the clock to `at` (naive UTC).
    pub fn set(&self, at: DateTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to_ts(at);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn to_ts(at: DateTime) -> Timestamp {
    Offset::UTC.to_timestamp(at).unwrap_or(Timestamp::MAX)
}
