//! Rate limits and the concurrency cap every API attempt goes through, retries included.
//!
//! Owns two lanes (mutations at `rate_limit`, reads at `poll_rate_limit`) and the semaphore capping mutations
//! in flight. Each lane has a hard ceiling (governor, at the configured rate) and an adaptive pacer under it
//! that estimates the server's rate and settles just under it. A throttle means the server's token bucket was
//! empty when that attempt arrived; between two throttles the bucket refilled exactly by the calls that got
//! through, so those calls over the time between the two sends are the rate it refills at. On a throttle the
//! pacer cuts the lane to just under that estimate (attempts take their send slot one at a time, so the cut
//! applies at once to every attempt queued); while calls succeed it probes upward, slowly near the estimate
//! and faster the longer the server keeps up. So a throttle slows the whole plan, not only the call that met
//! it. Time is Tokio time (the governor clock reads it too), so tests run with paused time. Does not decide
//! what is retried (`retry.rs`).

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
/// A slot missed by up to this much is still used: the attempt at the head of the line wakes late (Tokio's
/// timer has millisecond resolution, and a loaded machine adds milliseconds more), and at thousands of calls a
/// second the slots it slept past must go to keep the rate (with 2 ms, 10,000/s unthrottled fell to ~5,000/s
/// on a loaded 2-core machine). An older slot is forgotten, so a lane idle or stalled longer does not burst.
const CATCH_UP: Duration = Duration::from_millis(50);
/// After a throttle the pace settles this far under the server's estimated rate: the server's bucket refills by
/// the difference, so the next throttle comes only once the probe has been above the rate for a while.
const HEADROOM: f64 = 0.97;
/// The probe at or just above the estimate: the rate grows by this share of the estimate per second...
const PROBE: f64 = 0.01;
/// ...twice as fast for every this much above the estimate (as a share of it) without a throttle, so a server
/// that became faster is found within seconds, while the probe stays gentle where the last throttle came.
const PROBE_DOUBLING: f64 = 0.05;
/// The fastest growth per second, as a share of the rate: back to the settling point after a deep cut.
const FAST_GROWTH: f64 = 0.5;
/// Growth per second, as a share of the rate, while there is no estimate yet (a first throttle only guesses).
const BLIND_GROWTH: f64 = 1.0;
/// Calls that got through between two throttles for their spacing to measure the server's rate (one call
/// more or less, the bucket's granularity, is then an error of a few percent).
const MIN_PASSES: u64 = 16;
/// The shortest time between two throttled sends that measures the server's rate: timing jitter (scheduling,
/// the network) matters less over a longer span.
const MIN_SPAN: Duration = Duration::from_millis(100);
/// A span this long is precise enough; the most recent such pair is used, so the estimate follows the server.
const GOOD_SPAN: Duration = Duration::from_secs(1);
/// Throttles older than this are not paired: the server's bucket may have filled up (and wasted tokens) since,
/// so the calls that got through would undercount its rate.
const HORIZON: Duration = Duration::from_secs(20);
/// At most this many throttles are remembered (a hard overload answers thousands).
const MAX_MARKS: usize = 1024;
/// A throttle the pacer cannot measure from cuts the rate to no less than this share of the rate it met: the
/// lane stays a little above the server's rate, so the next throttles come soon and measure it.
const BACKOFF: f64 = 0.85;
/// A pair of throttles measures the server's rate only if the pacer never went further under that rate than
/// this share in between: deeper, a small bucket would have filled up and wasted tokens, and the calls that
/// got through would undercount the server (the pair is then a lower bound only).
const DIP: f64 = 0.94;
/// While measuring, throttles outnumbering the calls that got through since the last cut by this much halve
/// the rate at once (a server already busy when the run started lets next to nothing through).
const SWAMPED: u64 = 2;
/// The goodput window of the first guess: the server's initial burst (say 100 calls in 0.1 s) is read over
/// a full second, not as a sustained rate (which would cut far too little).
const GOODPUT_WINDOW: Duration = Duration::from_secs(1);

/// One throttled answer: when its attempt was sent, how many calls had succeeded when it came, and the
/// lowest rate the pacer has had since.
#[derive(Debug, Clone, Copy)]
struct Mark {
    sent_at: Instant,
    passed: u64,
    floor: f64,
}

/// The server's rate measured between two throttles.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Measured {
    /// The pacer stayed close to the rate in between: the server's rate.
    Rate(f64),
    /// The pacer went well under it in between: the server's rate is at least this.
    AtLeast(f64),
}

/// The adaptive part of a lane: a pacer with no burst whose rate follows the server's estimated rate.
#[derive(Debug)]
struct Pacer {
    configured: f64,
    rate: f64,
    next: Instant,
    last_cut: Option<Instant>,
    last_raise: Instant,
    /// The server's rate as last measured between two throttles (or a lower bound of it).
    estimate: Option<f64>,
    /// The last cut was a guess: the rate holds (no growth, no further cut but for a swamped lane) until a
    /// pair of throttles measures the server, or enough calls get through in a row to show it is under it.
    measuring: bool,
    /// Successful answers so far.
    passed: u64,
    /// `passed` at the last cut, and the fresh throttles since.
    passed_at_cut: u64,
    throttled_since_cut: u64,
    /// When the successes of the last `GOODPUT_WINDOW` were answered.
    successes: VecDeque<Instant>,
    /// The throttles of the last `HORIZON`.
    marks: VecDeque<Mark>,
}

impl Pacer {
    fn new(configured: f64, now: Instant) -> Self {
        Self {
            configured,
            rate: configured,
            next: now,
            last_cut: None,
            last_raise: now,
            estimate: None,
            measuring: false,
            passed: 0,
            passed_at_cut: 0,
            throttled_since_cut: 0,
            successes: VecDeque::new(),
            marks: VecDeque::new(),
        }
    }

    /// The next send slot.
    fn slot(&self, now: Instant) -> Instant {
        self.next.max(now.checked_sub(CATCH_UP).unwrap_or(now))
    }

    /// Takes `slot`: the one after it is a period of the current rate later.
    fn take(&mut self, slot: Instant) {
        self.next = slot + Duration::from_secs_f64(1.0 / self.rate);
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

    /// Grows the rate toward the configured one: quickly back to just under the estimate, then a probe that
    /// starts gently and speeds up the further above the estimate the server keeps up.
    fn on_success(&mut self, now: Instant) {
        self.passed += 1;
        self.successes.push_back(now);
        self.prune(now);
        // Only time spent sending probes the server: an idle lane learns nothing, so a gap counts as a second.
        let dt = now.duration_since(self.last_raise).as_secs_f64().min(1.0);
        self.last_raise = now;
        if self.measuring {
            let since_throttle = self
                .marks
                .back()
                .map_or(self.passed, |m| self.passed.saturating_sub(m.passed));
            if since_throttle < 2 * MIN_PASSES {
                return;
            }
            // That many calls in a row got through: the lane is under the server's rate, so it may grow.
            self.measuring = false;
        }
        if self.rate >= self.configured {
            return;
        }
        let rate = match self.estimate {
            None => self.rate * (1.0 + BLIND_GROWTH * dt),
            Some(estimate) if self.rate < HEADROOM * estimate => {
                (self.rate * (1.0 + FAST_GROWTH * dt)).min(HEADROOM * estimate)
            }
            Some(estimate) => {
                let above = (self.rate / estimate - 1.0).max(0.0);
                let per_second = (PROBE * estimate * 2f64.powf(above / PROBE_DOUBLING))
                    .min(FAST_GROWTH * self.rate);
                self.rate + per_second * dt
            }
        };
        self.rate = rate.min(self.configured);
    }

    /// The server's rate measured between the throttle `latest` and an earlier one: the most recent pair at
    /// least `GOOD_SPAN` apart that measures it, else the longest pair that does, else the most recent lower
    /// bound.
    fn measure(&self, latest: Mark) -> Option<Measured> {
        let mut longest = None;
        let mut bound = None;
        for earlier in self.marks.iter().rev() {
            if earlier.sent_at >= latest.sent_at {
                continue;
            }
            let span = latest.sent_at.duration_since(earlier.sent_at);
            let passed = latest.passed.saturating_sub(earlier.passed);
            if passed < MIN_PASSES || span < MIN_SPAN {
                continue;
            }
            let rate = passed as f64 / span.as_secs_f64();
            if earlier.floor < DIP * rate {
                bound = bound.or(Some(Measured::AtLeast(rate)));
                continue;
            }
            if span >= GOOD_SPAN {
                return Some(Measured::Rate(rate));
            }
            longest = Some(Measured::Rate(rate));
        }
        longest.or(bound)
    }

    /// Records a throttle of an attempt sent at `sent_at` and cuts the rate: to just under the server's rate
    /// when a pair of throttles measures it; else to a guess that stays a little above it (the goodput of the
    /// last second, or `BACKOFF` of the rate met), holding there until the next throttles measure it.
    /// Throttles of attempts sent before the last cut are stale (the cut already answered them): they refine
    /// the estimate but cut nothing, so the rate moves once per round trip at most. Returns the new rate when
    /// it fell.
    fn on_throttle(&mut self, now: Instant, sent_at: Instant) -> Option<f64> {
        while self.marks.len() >= MAX_MARKS
            || self
                .marks
                .front()
                .is_some_and(|m| now.duration_since(m.sent_at) > HORIZON)
        {
            self.marks.pop_front();
        }
        let mark = Mark {
            sent_at,
            passed: self.passed,
            floor: self.rate,
        };
        let measured = self.measure(mark);
        self.marks.push_back(mark);
        if let Some(Measured::Rate(server)) = measured {
            self.estimate = Some(server);
        }
        if self.last_cut.is_some_and(|cut| sent_at <= cut) {
            return None;
        }
        self.throttled_since_cut += 1;
        self.prune(now);
        let passed_since_cut = self.passed - self.passed_at_cut;
        let rate = match measured {
            Some(Measured::Rate(server)) => {
                self.measuring = false;
                HEADROOM * server
            }
            _ if self.measuring => {
                if self.throttled_since_cut > SWAMPED * passed_since_cut.max(2) {
                    0.5 * self.rate
                } else {
                    return None;
                }
            }
            Some(Measured::AtLeast(server)) => {
                self.estimate = Some(self.estimate.map_or(server, |e| e.max(server)));
                self.measuring = true;
                (HEADROOM * server).max(BACKOFF * self.rate)
            }
            None => {
                self.measuring = true;
                match self.estimate {
                    Some(server) => (HEADROOM * server).max(BACKOFF * self.rate),
                    // Enough got through in the last second to read a goodput: the server's rate is at most
                    // that (with the bucket's initial burst spread over the whole second).
                    None if self.successes.len() as u64 >= MIN_PASSES => {
                        let goodput = self.successes.len() as f64 / GOODPUT_WINDOW.as_secs_f64();
                        (0.95 * goodput).min(0.5 * self.rate)
                    }
                    None => 0.5 * self.rate,
                }
            }
        }
        .clamp(MIN_RATE, self.configured);
        if rate >= self.rate {
            return None;
        }
        self.rate = rate;
        self.last_cut = Some(now);
        self.last_raise = now;
        self.passed_at_cut = self.passed;
        self.throttled_since_cut = 0;
        for mark in &mut self.marks {
            mark.floor = mark.floor.min(rate);
        }
        // The attempt waiting at the head of the line takes its slot at the new rate (`Lane::wait`).
        self.next = now + Duration::from_secs_f64(1.0 / rate);
        Some(rate)
    }
}

/// One class of calls sharing a rate.
#[derive(Debug)]
struct Lane {
    ceiling: Ceiling,
    clock: TokioClock,
    pacer: Mutex<Pacer>,
    /// Attempts take slots one at a time, in the order they arrive.
    turn: tokio::sync::Mutex<()>,
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
            turn: tokio::sync::Mutex::new(()),
        }
    }

    fn pacer(&self) -> std::sync::MutexGuard<'_, Pacer> {
        // The pacer holds plain numbers; a panic elsewhere cannot leave it inconsistent.
        self.pacer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the next slot if it is due, else says when it will be.
    fn take_slot(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut pacer = self.pacer();
        let slot = pacer.slot(now);
        // Tokio's timer has millisecond resolution: a slot a few microseconds ahead would cost a whole
        // millisecond, so near slots go at once (the pacer's schedule still keeps the average rate).
        if slot <= now + SLACK {
            pacer.take(slot);
            None
        } else {
            Some(slot)
        }
    }

    async fn wait(&self) {
        // Only the attempt at the head of the line holds a slot, priced at the rate in force then: a cut or a
        // raise applies at once to every attempt still queued. (Slots reserved ahead by each waiter kept the
        // old rate: 64 queued sends at ten times the server's rate after a cut, and seconds of sends at the
        // old low rate after a raise, so a raise went untested until the queue caught up.)
        let _turn = self.turn.lock().await;
        // A cut while asleep moves the slot later: the loop looks again.
        while let Some(slot) = self.take_slot() {
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

    /// Sends one mutation through the limiter and records its success.
    async fn succeed(limiter: &Limiter) {
        let _permit = limiter.acquire(ApiCall::UpdateJobStatus).await;
        limiter.on_success(ApiCall::UpdateJobStatus);
    }

    #[tokio::test(start_paused = true)]
    async fn a_first_throttle_guesses_from_the_last_second_and_the_next_measures_the_server() {
        let limiter = Limiter::new(1000.0, 50.0, 64);
        for _ in 0..100 {
            succeed(&limiter).await;
        }
        let first = Instant::now();
        let cut = limiter
            .on_throttle(ApiCall::UpdateJobStatus, first)
            .unwrap();
        // 100 successes in the first 0.1 s read over a full second: 100/s, cut to 95 % of it (not to 95 % of
        // 1,000/s, which is what the server's initial burst would look like as a rate).
        assert!((cut - 95.0).abs() < 0.01, "{cut}");
        tokio::time::advance(Duration::from_millis(10)).await;
        assert_eq!(
            limiter.on_throttle(ApiCall::UpdateJobStatus, first),
            None,
            "a throttle of an attempt sent before the cut is stale"
        );
        // 40 calls got through before the next throttle: the server's bucket, empty at both, refilled by 40.
        for _ in 0..40 {
            succeed(&limiter).await;
        }
        let second = Instant::now();
        let measured = 40.0 / second.duration_since(first).as_secs_f64();
        let cut = limiter
            .on_throttle(ApiCall::UpdateJobStatus, second)
            .unwrap();
        assert!(
            (cut - HEADROOM * measured).abs() < 0.01,
            "{cut} vs {measured}"
        );
        // Reads are a separate lane.
        assert_eq!(limiter.rate(ApiCall::DescribeJob), 50.0);
        // While the server keeps up, the probe speeds up until the configured rate.
        for _ in 0..20_000 {
            succeed(&limiter).await;
            if limiter.rate(ApiCall::UpdateJobStatus) >= 1000.0 {
                break;
            }
        }
        assert_eq!(limiter.rate(ApiCall::UpdateJobStatus), 1000.0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_probe_is_gentle_near_the_estimate() {
        let limiter = Limiter::new(1000.0, 50.0, 64);
        let first = Instant::now();
        limiter.on_throttle(ApiCall::UpdateJobStatus, first);
        for _ in 0..100 {
            succeed(&limiter).await;
        }
        tokio::time::advance(Duration::from_millis(1)).await;
        let cut = limiter
            .on_throttle(ApiCall::UpdateJobStatus, Instant::now())
            .unwrap();
        let estimate = cut / HEADROOM;
        // Five seconds of successes: back to the estimate and a little above, not back to the plan's rate.
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            succeed(&limiter).await;
        }
        let rate = limiter.rate(ApiCall::UpdateJobStatus);
        assert!(
            rate > estimate && rate < 1.1 * estimate,
            "{rate} after 5 s, estimate {estimate}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_cut_re_spaces_the_sends_already_waiting_for_a_slot() {
        // 64 sends wait for slots 1 ms apart; after a cut to 100/s none of them may go out faster.
        let limiter = Arc::new(Limiter::new(1000.0, 50.0, 64));
        for _ in 0..100 {
            succeed(&limiter).await;
        }
        let sent = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (limiter, sent) = (limiter.clone(), sent.clone());
                tokio::spawn(async move {
                    let _permit = limiter.acquire(ApiCall::UpdateJobStatus).await;
                    sent.lock().unwrap().push(Instant::now());
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_micros(2500)).await;
        let cut_at = Instant::now();
        let rate = limiter
            .on_throttle(ApiCall::UpdateJobStatus, cut_at)
            .unwrap();
        for task in tasks {
            task.await.unwrap();
        }
        let sent = sent.lock().unwrap();
        let after: Vec<_> = sent.iter().filter(|t| **t > cut_at).collect();
        assert!(
            after.len() >= 60,
            "{} sent before the cut",
            sent.len() - after.len()
        );
        let span = after.last().unwrap().duration_since(cut_at).as_secs_f64();
        assert!(
            span >= (after.len() as f64 - 1.0) / rate,
            "{} sends in {span:.3} s after a cut to {rate}/s",
            after.len()
        );
    }

    /// What a run of `jobs` cancels made of a fake server whose UpdateJobStatus bucket refills at `server`
    /// per second and holds `burst`, under a plan ten times faster with 64 in flight.
    #[derive(Debug)]
    struct AgainstBucket {
        calls: u64,
        throttled: u64,
        seconds: f64,
    }

    impl AgainstBucket {
        fn throttled_share(&self) -> f64 {
            self.throttled as f64 / self.calls as f64
        }
    }

    async fn against_a_bucket(
        server: f64,
        burst: f64,
        jobs: usize,
        latency: Duration,
    ) -> AgainstBucket {
        use crate::api::fake::FakeJobControl;
        use crate::api::{JobControl as _, JobStatus, TargetStatus};
        use crate::exec::emitter::Emitter;
        use crate::exec::retry::{Caller, RetryPolicy};

        let fake = Arc::new(FakeJobControl::new().with_latency(latency));
        fake.limit_rate(ApiCall::UpdateJobStatus, server, burst);
        let caller = Caller {
            limiter: Arc::new(Limiter::new(10.0 * server, 50.0, 64)),
            emitter: Emitter::detached(),
            policy: RetryPolicy::default(),
            cancel: tokio_util::sync::CancellationToken::new(),
        };
        let start = Instant::now();
        let tasks: Vec<_> = (0..jobs)
            .map(|i| {
                let id = fake.add_job(&format!("job-{i:05}"), JobStatus::Suspended);
                let (fake, caller) = (fake.clone(), caller.clone());
                tokio::spawn(async move {
                    caller
                        .call(ApiCall::UpdateJobStatus, None, |_| {
                            let (fake, id) = (fake.clone(), id.clone());
                            async move {
                                fake.update_job_status(&id, TargetStatus::Cancelled, None)
                                    .await
                            }
                        })
                        .await
                        .result
                        .is_ok()
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap(), "every job is cancelled");
        }
        AgainstBucket {
            calls: fake.calls(ApiCall::UpdateJobStatus),
            throttled: fake.throttled(),
            seconds: start.elapsed().as_secs_f64(),
        }
    }

    /// Goodput at least 95 % of the server's rate with at most 5 % of calls throttled, the server's bucket
    /// holding one second's worth (the sandbox's default), 2,000 jobs, the plan ten times faster.
    async fn assert_near_the_server_rate(server: f64, latency: Duration) {
        let jobs = 2000;
        let run = against_a_bucket(server, server, jobs, latency).await;
        let goodput = jobs as f64 / run.seconds;
        assert!(
            run.throttled_share() <= 0.05,
            "{server}/s: throttled {} of {} calls",
            run.throttled,
            run.calls
        );
        assert!(
            goodput >= 0.95 * server,
            "{server}/s: goodput {goodput:.1}/s over {:.1} s",
            run.seconds
        );
    }

    #[tokio::test(start_paused = true)]
    async fn at_20_per_second_few_calls_are_throttled_at_full_goodput() {
        assert_near_the_server_rate(20.0, Duration::from_millis(20)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn at_100_per_second_few_calls_are_throttled_at_full_goodput() {
        assert_near_the_server_rate(100.0, Duration::from_millis(20)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn at_1000_per_second_few_calls_are_throttled_at_full_goodput() {
        assert_near_the_server_rate(1000.0, Duration::from_millis(20)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn other_buckets_and_latencies_stay_near_the_server_rate() {
        // A fifth of a second's burst, a server already busy (one token), five seconds' burst, a slow network:
        // the first guess is off, the pairs of throttles find the rate anyway.
        for (burst_seconds, latency_ms) in [(0.2, 20), (0.01, 20), (5.0, 20), (1.0, 100)] {
            let (server, jobs) = (100.0, 2000);
            let run = against_a_bucket(
                server,
                (server * burst_seconds).max(1.0),
                jobs,
                Duration::from_millis(latency_ms),
            )
            .await;
            let goodput = jobs as f64 / run.seconds;
            let case = format!("burst {burst_seconds} s, latency {latency_ms} ms");
            assert!(
                run.throttled_share() <= 0.05,
                "{case}: throttled {} of {} calls",
                run.throttled,
                run.calls
            );
            assert!(
                goodput >= 0.85 * server,
                "{case}: goodput {goodput:.1}/s over {:.1} s",
                run.seconds
            );
        }
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
