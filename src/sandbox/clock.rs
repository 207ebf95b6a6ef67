//! The simulated clock: sandbox time = start + speed × real time elapsed + explicit advances.
//!
//! Owns [`SimTime`] (milliseconds since the Unix epoch) and [`SimClock`]. It owns no timers: job statuses are
//! computed from the clock on every read (see `lifecycle.rs`), never pushed by a background task.

use std::sync::Mutex;
use std::time::Instant;

/// A point in sandbox time, in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SimTime(pub i64);

impl SimTime {
    /// The current wall-clock time.
    pub(crate) fn wall_now() -> Self {
        SimTime(jiff::Timestamp::now().as_millisecond())
    }

    /// Converts from a `jiff` timestamp (sub-millisecond precision is dropped).
    pub(crate) fn from_timestamp(ts: jiff::Timestamp) -> Self {
        SimTime(ts.as_millisecond())
    }

    /// This instant as a `jiff` timestamp (saturating at the supported range).
    pub(crate) fn to_timestamp(self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.0).unwrap_or(if self.0 < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        })
    }

    /// RFC 3339 with milliseconds and `Z`, as AWS prints timestamps (`2019-10-03T21:48:48.048Z`).
    pub(crate) fn to_rfc3339(self) -> String {
        format!("{:.3}", self.to_timestamp())
    }

    /// This instant moved by `ms` milliseconds (saturating).
    pub(crate) fn plus_ms(self, ms: i64) -> Self {
        SimTime(self.0.saturating_add(ms))
    }
}

/// The sandbox clock. Cheap to read; safe to share between request handlers.
#[derive(Debug)]
pub(crate) struct SimClock {
    inner: Mutex<ClockBase>,
}

#[derive(Debug, Clone, Copy)]
struct ClockBase {
    /// Sandbox time at `real`.
    sim: SimTime,
    /// Real instant the base was taken.
    real: Instant,
    /// Sandbox milliseconds per real millisecond (0 freezes the clock: only explicit advances move it).
    speed: f64,
}

impl SimClock {
    /// A clock that reads `start` now and then runs at `speed` × real time.
    pub(crate) fn new(start: SimTime, speed: f64) -> Self {
        SimClock {
            inner: Mutex::new(ClockBase {
                sim: start,
                real: Instant::now(),
                speed: sanitize_speed(speed),
            }),
        }
    }

    /// The current sandbox time.
    pub(crate) fn now(&self) -> SimTime {
        let base = *self.lock();
        base_now(&base)
    }

    /// The speed factor.
    pub(crate) fn speed(&self) -> f64 {
        self.lock().speed
    }

    /// Changes the speed from now on; time already elapsed is kept.
    pub(crate) fn set_speed(&self, speed: f64) {
        let mut base = self.lock();
        let now = base_now(&base);
        *base = ClockBase {
            sim: now,
            real: Instant::now(),
            speed: sanitize_speed(speed),
        };
    }

    /// Moves sandbox time forward by `ms` milliseconds (negative values are ignored: time never goes back).
    pub(crate) fn advance_ms(&self, ms: i64) -> SimTime {
        let mut base = self.lock();
        base.sim = base.sim.plus_ms(ms.max(0));
        base_now(&base)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockBase> {
        // A poisoned clock still holds a consistent `Copy` value; keep serving.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn base_now(base: &ClockBase) -> SimTime {
    let real_ms = base.real.elapsed().as_secs_f64() * 1000.0;
    // `as` saturates for floats out of range, which is what we want for absurd speeds.
    base.sim.plus_ms((real_ms * base.speed) as i64)
}

fn sanitize_speed(speed: f64) -> f64 {
    if speed.is_finite() && speed >= 0.0 {
        speed
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_by_advances() {
        let clock = SimClock::new(SimTime(1_000), 0.0);
        assert_eq!(clock.now(), SimTime(1_000));
        assert_eq!(clock.advance_ms(500), SimTime(1_500));
        assert_eq!(clock.advance_ms(-100), SimTime(1_500));
        assert_eq!(clock.now(), SimTime(1_500));
    }

    #[test]
    fn rfc3339_has_millis_and_z() {
        assert_eq!(
            SimTime(1_570_139_328_048).to_rfc3339(),
            "2019-10-03T21:48:48.048Z"
        );
    }

    #[test]
    fn invalid_speed_falls_back_to_real_time() {
        let clock = SimClock::new(SimTime(0), f64::NAN);
        assert_eq!(clock.speed(), 1.0);
        clock.set_speed(-3.0);
        assert_eq!(clock.speed(), 1.0);
        clock.set_speed(0.0);
        assert_eq!(clock.speed(), 0.0);
    }
}
