//! Rate limits and the concurrency cap every API attempt goes through, retries included.
//!
//! Owns two lanes (mutations at `rate_limit`, reads at `poll_rate_limit`) and the semaphore capping mutations
//! in flight. Each lane has a hard ceiling (governor, at the configured rate) and an adaptive pacer under it:
//! on throttling the pacer cuts the lane's rate to just under the goodput the server allowed over the last
//! half second and pauses the lane briefly; while calls succeed it climbs back toward the configured rate. So a
//! throttle slows the whole plan, not only the call that met it. Time is Tokio time (the governor clock reads
//! it too), so tests run with paused time. Does not decide what is retried (`retry.rs`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::api::ApiCall;

/// Governor's clock, reading Tokio's (pausable) time as the offset from a fixed start.
#[derive(Debug, Clone)]
struct TokioClock {
    start: Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

type Ceiling = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// Below this rate a lane is never cut further (calls per second).
const MIN_RATE: f64 = 1.0;
/// Slots closer than this go out without sleeping.
const SLACK: Duration = Duration::from_micros(500);
/// Without a throttle for this long, the rate grows fast again.
const QUIET: Duration = Duration::from_secs(5);
/// The goodput window a cut is measured over, always in full: early in a run a shorter window would read the
/// server's initial burst (say 100 calls in 0.1 s) as a sustained rate, cut far too little, and keep getting
/// throttled until the burst left the window (the e2e throttle benchmark: 257 throttles in its first second).
const GOODPUT_WINDOW: Duration = Duration::from_millis(500);

/// The adaptive part of a lane: a pacer with no burst whose rate moves with the server's answers.
#[derive(Debug)]
struct Pacer {
    configured: f64,
    rate: f64,
    next: Instant,
    last_cut: Option<Instant>,
    last_raise: Instant,
    successes: VecDeque<Instant>,
}

impl Pacer {
    fn new(configured: f64, now: Instant) -> Self {
        Self {
            configured,
            rate: configured,
            next: now,
            last_cut: None,
            last_raise: now,
            successes: VecDeque::new(),
        }
    }

    /// Reserves the next send slot at the current rate.
    fn reserve(&mut self, now: Instant) -> Instant {
        let slot = self.next.max(now);
        self.next = slot + Duration::from_secs_f64(1.0 / self.rate);
        slot
    }

    fn prune(&mut self, now: Instant) {
        while let Some(&first) = self.successes.front() {
            if now.duration_since(first) > GOODPUT_WINDOW {
                self.successes.pop_front();
            } else {
                break;
            }
        }
    }

    /// Multiplicative increase toward the configured rate: 10 %/s after a recent cut, 50 %/s when quiet.
    fn on_success(&mut self, now: Instant) {
        self.successes.push_back(now);
        self.prune(now);
        let dt = now.duration_since(self.last_raise).as_secs_f64();
        self.last_raise = now;
        if self.rate < self.configured {
            // Carefully while throttles are recent, boldly once the server has been quiet for a while.
            let quiet = self
                .last_cut
                .is_none_or(|cut| now.duration_since(cut) > QUIET);
            let growth = if quiet { 0.5 } else { 0.1 };
            let per_second = (self.rate * growth).max(self.configured * 0.01).max(1.0);
            self.rate = (self.rate + per_second * dt).min(self.configured);
        }
    }

    /// Cuts the rate to just under the goodput the server allowed (successes over the last half
    /// second), or by half when nothing succeeded. Throttles of attempts sent before the last cut are stale (the cut already answered them),
    /// so the rate moves once per round trip at most; returns the new rate when it fell.
    fn on_throttle(&mut self, now: Instant, sent_at: Instant) -> Option<f64> {
        if self.last_cut.is_some_and(|cut| sent_at <= cut) {
            return None;
        }
        self.prune(now);
        let window = GOODPUT_WINDOW.as_secs_f64();
        let goodput = self.successes.len() as f64 / window;
        let rate = if goodput > 0.0 {
            0.95 * goodput
        } else {
            0.5 * self.rate
        }
        .clamp(MIN_RATE, self.configured);
        if rate >= self.rate * 0.99 {
            return None;
        }
        self.rate = rate;
        self.last_cut = Some(now);
        self.last_raise = now;
        // A short pause of the whole lane lets the server's bucket refill a little.
        let pause = Duration::from_secs_f64(2.0 / self.rate).min(Duration::from_millis(250));
        self.next = self.next.max(now + pause);
        Some(self.rate)
    }
}

/// One class of calls sharing a rate.
#[derive(Debug)]
struct Lane {
    ceiling: Ceiling,
    clock: TokioClock,
    pacer: Mutex<Pacer>,
}

impl Lane {
    fn new(rate: f64) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            1.0e9
        };
        let clock = TokioClock {
            start: Instant::now(),
        };
        // The ceiling allows the configured rate plus a tenth of a second's burst; the pacer stays under it.
        let burst = u32::try_from((rate / 10.0).ceil() as u64)
            .unwrap_or(u32::MAX)
            .max(1);
        let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .expect("period is positive")
            .allow_burst(std::num::NonZeroU32::new(burst).expect("burst is at least 1"));
        Self {
            ceiling: RateLimiter::direct_with_clock(quota, clock.clone()),
            pacer: Mutex::new(Pacer::new(rate, clock.start)),
            clock,
        }
    }

    fn pacer(&self) -> std::sync::MutexGuard<'_, Pacer> {
        // The pacer holds plain numbers; a panic elsewhere cannot leave it inconsistent.
        self.pacer.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn wait(&self) {
        let now = Instant::now();
        let slot = self.pacer().reserve(now);
        // Tokio's timer has millisecond resolution: a slot a few microseconds ahead would cost a whole
        // millisecond, so near slots go at once (the pacer's schedule still keeps the average rate).
        if slot > now + SLACK {
            tokio::time::sleep_until(slot).await;
        }
        while let Err(not_until) = self.ceiling.check() {
            tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await;
        }
    }
}

/// Whether an attempt is a call's first or a retry: a retry goes ahead of queued first attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// The first attempt of a call.
    First,
    /// A later attempt of a call that already failed.
    Retry,
}

/// A permission to send one attempt; a mutation's permit also holds a concurrency slot until dropped.
#[derive(Debug)]
pub struct Permit {
    sent_at: Instant,
    _slot: Option<OwnedSemaphorePermit>,
}

impl Permit {
    /// When the attempt was allowed out.
    pub fn sent_at(&self) -> Instant {
        self.sent_at
    }
}

/// The shared limits of one run. Cheap to share through an `Arc`.
#[derive(Debug)]
pub struct Limiter {
    mutations: Lane,
    reads: Lane,
    in_flight: Arc<Semaphore>,
    /// First attempts of mutations queue here, one at a time in front of `in_flight`, so a retry (which
    /// goes straight to `in_flight`) waits behind at most one of them instead of behind the whole plan.
    first_attempts: tokio::sync::Mutex<()>,
}

impl Limiter {
    /// Limits mutations to `rate_limit` per second and `concurrency` in flight, reads to `poll_rate_limit`.
    pub fn new(rate_limit: f64, poll_rate_limit: f64, concurrency: u32) -> Self {
        Self::sharing(rate_limit, poll_rate_limit, Self::slots(concurrency))
    }

    /// The concurrency slots of a plan, to share between the limiters of its targets.
    pub fn slots(concurrency: u32) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(concurrency.max(1) as usize))
    }

    /// Limits one target's mutations to `rate_limit` per second and its reads to `poll_rate_limit` (AWS
    /// applies its limits per account and region), with mutations in flight capped by `slots`, which the
    /// plan's other targets share (`concurrency` is the whole plan's).
    pub fn sharing(rate_limit: f64, poll_rate_limit: f64, slots: Arc<Semaphore>) -> Self {
        Self {
            mutations: Lane::new(rate_limit),
            reads: Lane::new(poll_rate_limit),
            in_flight: slots,
            first_attempts: tokio::sync::Mutex::new(()),
        }
    }

    fn lane(&self, call: ApiCall) -> &Lane {
        if call.is_mutation() {
            &self.mutations
        } else {
            &self.reads
        }
    }

    /// Waits until the first attempt of `call` may be sent. Hold the permit until the answer arrives.
    pub async fn acquire(&self, call: ApiCall) -> Permit {
        self.acquire_as(call, Turn::First).await
    }

    /// Waits until an attempt of `call` may be sent; a [`Turn::Retry`] of a mutation goes ahead of first
    /// attempts still queued (with thousands queued at a low rate, a retry behind them would outlive its
    /// job's retry budget). Hold the permit until the answer arrives.
    pub async fn acquire_as(&self, call: ApiCall, turn: Turn) -> Permit {
        // The lane's turn comes before the concurrency slot: the slots are shared by every target of the
        // plan, and a slot held while waiting for a slow target's rate would starve the fast ones. The
        // semaphore is never closed, so acquiring only waits.
        let slot = match (call.is_mutation(), turn) {
            (false, _) => {
                self.lane(call).wait().await;
                None
            }
            (true, Turn::Retry) => {
                self.lane(call).wait().await;
                self.in_flight.clone().acquire_owned().await.ok()
            }
            (true, Turn::First) => {
                let _turn = self.first_attempts.lock().await;
                self.lane(call).wait().await;
                self.in_flight.clone().acquire_owned().await.ok()
            }
        };
        Permit {
            sent_at: Instant::now(),
            _slot: slot,
        }
    }

    /// Records a successful answer of `call`; the lane climbs back toward its configured rate.
    pub fn on_success(&self, call: ApiCall) {
        self.lane(call).pacer().on_success(Instant::now());
    }

    /// Records a throttled answer to an attempt of `call` sent at `sent_at`; returns the lane's new rate
    /// when this cut it.
    pub fn on_throttle(&self, call: ApiCall, sent_at: Instant) -> Option<f64> {
        self.lane(call).pacer().on_throttle(Instant::now(), sent_at)
    }

    /// The current effective rate of `call`'s lane (calls per second).
    pub fn rate(&self, call: ApiCall) -> f64 {
        self.lane(call).pacer().rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts of acquisitions per whole virtual second since `start`.
    fn per_second(times: &[Instant], start: Instant) -> Vec<usize> {
        let mut counts = Vec::new();
        for t in times {
            let second = t.duration_since(start).as_secs() as usize;
            if counts.len() <= second {
                counts.resize(second + 1, 0);
            }
            counts[second] += 1;
        }
        counts
    }

    #[tokio::test(start_paused = true)]
    async fn mutations_follow_the_configured_rate() {
        let limiter = Arc::new(Limiter::new(200.0, 50.0, 64));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..2_000 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = limiter.acquire(ApiCall::UpdateJobStatus).await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for task in tasks {
            times.push(task.await.unwrap());
        }
        let wall = times.iter().max().unwrap().duration_since(start);
        assert!(wall <= Duration::from_secs_f64(10.0 * 1.05), "{wall:?}");
        assert!(wall >= Duration::from_secs_f64(9.9), "{wall:?}");
        // No sliding one-second window holds more than rate plus the ceiling's burst.
        times.sort();
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| u.duration_since(*t) < Duration::from_secs(1))
                .count();
            assert!(in_window <= 220, "{in_window} at {i}");
        }
        assert!(per_second(&times, start).iter().all(|&n| n <= 201));
    }

    #[tokio::test(start_paused = true)]
    async fn the_concurrency_cap_holds() {
        let limiter = Arc::new(Limiter::new(1.0e6, 1.0e6, 3));
        let in_flight = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (limiter, in_flight, peak) = (limiter.clone(), in_flight.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = limiter.acquire(ApiCall::UpdateJobStatus).await;
                let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(10)).await;
                in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_cuts_the_rate_once_then_it_recovers() {
        let limiter = Limiter::new(1000.0, 50.0, 64);
        for _ in 0..100 {
            let _p = limiter.acquire(ApiCall::UpdateJobStatus).await;
            limiter.on_success(ApiCall::UpdateJobStatus);
        }
        let before_cut = Instant::now();
        let cut = limiter
            .on_throttle(ApiCall::UpdateJobStatus, before_cut)
            .unwrap();
        // 100 successes over the last 0.1 s read over the full half-second window: 200/s, cut to 95 % of it
        // (not to 95 % of 1,000/s, which is what a burst at the start of a run would look like otherwise).
        assert!((cut - 190.0).abs() < 1.0, "{cut}");
        tokio::time::advance(Duration::from_millis(10)).await;
        assert_eq!(
            limiter.on_throttle(ApiCall::UpdateJobStatus, before_cut),
            None,
            "a throttle of an attempt sent before the cut is stale"
        );
        assert_eq!(
            limiter.on_throttle(ApiCall::UpdateJobStatus, Instant::now()),
            None,
            "the rate is already under the goodput measured"
        );
        // Nothing succeeded over the last window: a fresh throttle halves the rate.
        tokio::time::advance(Duration::from_millis(600)).await;
        let second = limiter
            .on_throttle(ApiCall::UpdateJobStatus, Instant::now())
            .unwrap();
        assert!(second < cut, "{second} after {cut}");
        // Reads are a separate lane.
        assert_eq!(limiter.rate(ApiCall::DescribeJob), 50.0);
        for _ in 0..5_000 {
            let _p = limiter.acquire(ApiCall::UpdateJobStatus).await;
            limiter.on_success(ApiCall::UpdateJobStatus);
        }
        assert_eq!(limiter.rate(ApiCall::UpdateJobStatus), 1000.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_goes_ahead_of_queued_first_attempts() {
        let limiter = Arc::new(Limiter::new(10.0, 10.0, 2));
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for n in 0..40 {
            let (limiter, order) = (limiter.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = limiter.acquire(ApiCall::UpdateJobStatus).await;
                order.lock().unwrap().push(n);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }));
        }
        // Let the queue form, then a retry arrives behind 30-odd queued first attempts.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (retry_limiter, retry_order) = (limiter.clone(), order.clone());
        let retry = tokio::spawn(async move {
            let _permit = retry_limiter
                .acquire_as(ApiCall::UpdateJobStatus, Turn::Retry)
                .await;
            retry_order.lock().unwrap().push(1000);
        });
        retry.await.unwrap();
        for task in tasks {
            task.await.unwrap();
        }
        let order = order.lock().unwrap();
        let position = order.iter().position(|n| *n == 1000).unwrap();
        let before = order.iter().take(position).count();
        // Sent after the first attempts already holding a slot or a reserved send time, not after all 40.
        assert!(
            before <= 10,
            "the retry went out after {before} first attempts: {order:?}"
        );
    }
}
