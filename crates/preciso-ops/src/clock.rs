//! Time, injected: the scheduler asks a `Clock` for "now" and for waits, so tests drive days
//! of schedule through a `FakeClock` in milliseconds. `StopSignal` ends waits early on
//! shutdown.

use chrono::{DateTime, Utc};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Waits `d`, or less if `stop` fires; returns whether it was stopped.
    fn sleep(&self, d: Duration, stop: &StopSignal) -> bool;
}

/// The machine's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn sleep(&self, d: Duration, stop: &StopSignal) -> bool {
        stop.wait(d)
    }
}

/// A clock that only moves when told to; `sleep` advances it at once.
pub struct FakeClock {
    now: Mutex<DateTime<Utc>>,
}

impl FakeClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        FakeClock { now: Mutex::new(start) }
    }
    pub fn set(&self, t: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = t;
    }
    pub fn advance(&self, d: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero());
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn sleep(&self, d: Duration, stop: &StopSignal) -> bool {
        self.advance(d);
        stop.is_stopped()
    }
}

/// A one-way flag that wakes every waiter when set (graceful shutdown).
#[derive(Default)]
pub struct StopSignal {
    stopped: Mutex<bool>,
    cv: Condvar,
}

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cv.notify_all();
    }
    pub fn is_stopped(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Waits up to `d`; returns whether the signal fired.
    pub fn wait(&self, d: Duration) -> bool {
        let guard = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = self
            .cv
            .wait_timeout_while(guard, d, |stopped| !*stopped)
            .unwrap_or_else(|p| p.into_inner());
        *guard
    }
}

/// Milliseconds since the epoch, as the run history stores times.
pub fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
