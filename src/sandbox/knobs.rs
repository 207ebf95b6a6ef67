//! Realism knobs: per-operation token-bucket throttling, random faults (500s, dropped connections, latency
//! with jitter) from a seeded generator, and scripted faults for tests ("throttle the 3rd UpdateJobStatus",
//! "fail the next 2 DescribeJob calls with 500").
//!
//! Owns the knob settings ([`Knobs`], serialisable for flags, seed files and the admin API) and the
//! per-call [`Verdict`]. Defaults: no throttling, no faults. Does not write responses (see `router.rs`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::{Rng as _, SeedableRng as _};
use serde::{Deserialize, Serialize};

use super::error::SandboxError;
use super::operation::Operation;

/// A token bucket: `rate` requests per second on average, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Sustained requests per second.
    pub rate: f64,
    /// Bucket size (defaults to `max(1, rate)`).
    #[serde(default)]
    pub burst: Option<u32>,
}

impl Throttle {
    /// Parses `RATE[:BURST]`, e.g. `50` or `50:100`.
    pub fn parse(text: &str) -> Result<Throttle, SandboxError> {
        let (rate, burst) = match text.split_once(':') {
            Some((r, b)) => (r, Some(b)),
            None => (text, None),
        };
        let rate: f64 = rate
            .trim()
            .parse()
            .ok()
            .filter(|r: &f64| r.is_finite() && *r > 0.0)
            .ok_or_else(|| {
                SandboxError::InvalidKnob(format!(
                    "throttle rate {rate:?} must be a positive number"
                ))
            })?;
        let burst =
            match burst {
                Some(b) => Some(b.trim().parse::<u32>().ok().filter(|b| *b > 0).ok_or_else(
                    || {
                        SandboxError::InvalidKnob(format!(
                            "throttle burst {b:?} must be a positive integer"
                        ))
                    },
                )?),
                None => None,
            };
        Ok(Throttle { rate, burst })
    }

    fn capacity(&self) -> f64 {
        self.burst.map_or(self.rate.max(1.0), f64::from)
    }
}

/// All knob settings. The default is a perfect server: no throttling, no faults, no latency.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Knobs {
    /// Per-operation throttling.
    pub throttle: BTreeMap<Operation, Throttle>,
    /// Throttling applied to every operation without its own entry.
    pub throttle_all: Option<Throttle>,
    /// Probability (0..=1) that a call answers 500 `InternalServiceException`.
    pub fault_rate: f64,
    /// Probability (0..=1) that a call's TCP connection is closed without any response.
    pub drop_rate: f64,
    /// Latency added to every call, in milliseconds.
    pub latency_ms: u64,
    /// Uniform random extra latency in `0..=latency_jitter_ms` milliseconds.
    pub latency_jitter_ms: u64,
    /// Seed of the random generator behind faults and jitter (same seed, same call order ⇒ same faults).
    pub random_seed: u64,
}

impl Knobs {
    /// Checks rates and probabilities.
    pub fn validate(&self) -> Result<(), SandboxError> {
        for (name, p) in [
            ("fault_rate", self.fault_rate),
            ("drop_rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(SandboxError::InvalidKnob(format!(
                    "{name} must be between 0 and 1, got {p}"
                )));
            }
        }
        for t in self.throttle.values().chain(self.throttle_all.iter()) {
            if !(t.rate.is_finite() && t.rate > 0.0) || t.burst == Some(0) {
                return Err(SandboxError::InvalidKnob(format!(
                    "throttle rate must be positive and burst at least 1, got {t:?}"
                )));
            }
        }
        Ok(())
    }
}

/// What a scripted fault does to the calls it hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Answer 429 `TooManyRequestsException`.
    Throttle,
    /// Answer 500 `InternalServiceException`.
    InternalError,
    /// Close the connection without a response.
    Drop,
    /// Answer normally after an extra delay.
    Delay {
        /// Extra delay in milliseconds.
        ms: u64,
    },
    /// Answer with any error code and HTTP status, as the service would (`AccessDenied` 403,
    /// `ExpiredToken` 400, `SlowDown` 503, …), in the usual `ErrorResponse` envelope.
    Error {
        /// The `<Code>`.
        code: String,
        /// The HTTP status (400–599).
        status: u16,
        /// The `<Message>`; default: "scripted fault: {code}".
        #[serde(default)]
        message: Option<String>,
    },
    /// Serve the call (its change takes effect) but answer 200 with a body no client can parse (cut off
    /// mid-element): the client cannot tell what happened.
    MalformedBody,
}

impl FaultAction {
    /// An error answer with `code` and `status`.
    pub fn error(code: impl Into<String>, status: u16) -> Self {
        FaultAction::Error {
            code: code.into(),
            status,
            message: None,
        }
    }
}

/// A deterministic fault: affects calls `skip + 1 ..= skip + times` of `operation` (or of every operation),
/// counted from the moment the fault is installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptedFault {
    /// The operation whose calls are counted; `None` counts every call.
    #[serde(default)]
    pub operation: Option<Operation>,
    /// What happens to the affected calls.
    pub action: FaultAction,
    /// Calls let through before the first affected one.
    #[serde(default)]
    pub skip: u64,
    /// Number of affected calls.
    #[serde(default = "one")]
    pub times: u64,
}

fn one() -> u64 {
    1
}

impl ScriptedFault {
    /// A fault hitting the next call of `operation`.
    pub fn new(operation: Option<Operation>, action: FaultAction) -> Self {
        ScriptedFault {
            operation,
            action,
            skip: 0,
            times: 1,
        }
    }

    /// Throttle the next call of `operation`.
    pub fn throttle(operation: Operation) -> Self {
        Self::new(Some(operation), FaultAction::Throttle)
    }

    /// Answer 500 to the next call of `operation`.
    pub fn internal_error(operation: Operation) -> Self {
        Self::new(Some(operation), FaultAction::InternalError)
    }

    /// Drop the connection of the next call of `operation`.
    pub fn drop_connection(operation: Operation) -> Self {
        Self::new(Some(operation), FaultAction::Drop)
    }

    /// Answer the next call of `operation` with `code` and HTTP `status`.
    pub fn error(operation: Operation, code: impl Into<String>, status: u16) -> Self {
        Self::new(Some(operation), FaultAction::error(code, status))
    }

    /// Checks what a client could send through the admin API: an error needs a code and a 4xx/5xx status.
    pub fn validate(&self) -> Result<(), SandboxError> {
        if let FaultAction::Error { code, status, .. } = &self.action {
            if !(400..=599).contains(status) {
                return Err(SandboxError::InvalidKnob(format!(
                    "a scripted error's status must be 400 to 599, got {status}"
                )));
            }
            if code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
                return Err(SandboxError::InvalidKnob(format!(
                    "a scripted error's code must be letters and digits, got {code:?}"
                )));
            }
        }
        Ok(())
    }

    /// Hit the `k`-th call (1-based) from now instead of the next one.
    pub fn on_call(mut self, k: u64) -> Self {
        self.skip = k.saturating_sub(1);
        self
    }

    /// Hit `n` consecutive calls.
    pub fn times(mut self, n: u64) -> Self {
        self.times = n;
        self
    }
}

/// What to do with one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Serve it.
    Serve,
    /// Answer 429.
    Throttle,
    /// Answer 500.
    InternalError,
    /// Close the connection without a response.
    Drop,
    /// Answer with this error code and HTTP status.
    Error {
        /// `<Code>`.
        code: String,
        /// HTTP status.
        status: u16,
        /// `<Message>`.
        message: String,
    },
    /// Serve it, then answer 200 with an unparseable body.
    MalformedBody,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug)]
struct ActiveFault {
    fault: ScriptedFault,
    seen: u64,
}

/// Knobs plus their run-time state (buckets, generator, scripted faults).
#[derive(Debug)]
pub(crate) struct KnobState {
    knobs: Knobs,
    buckets: [Option<Bucket>; Operation::ALL.len()],
    rng: rand_chacha::ChaCha8Rng,
    scripted: Vec<ActiveFault>,
}

impl KnobState {
    /// State for `knobs` with full buckets.
    pub(crate) fn new(knobs: Knobs) -> Self {
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(knobs.random_seed);
        let mut state = KnobState {
            knobs,
            buckets: Default::default(),
            rng,
            scripted: Vec::new(),
        };
        state.refill_all();
        state
    }

    /// The settings.
    pub(crate) fn knobs(&self) -> &Knobs {
        &self.knobs
    }

    /// Replaces the settings (buckets start full, generator reseeded; scripted faults are kept).
    pub(crate) fn set(&mut self, knobs: Knobs) {
        self.rng = rand_chacha::ChaCha8Rng::seed_from_u64(knobs.random_seed);
        self.knobs = knobs;
        self.refill_all();
    }

    fn refill_all(&mut self) {
        let now = Instant::now();
        for op in Operation::ALL {
            self.buckets[op.index()] = self.throttle_for(op).map(|t| Bucket {
                tokens: t.capacity(),
                last: now,
            });
        }
    }

    fn throttle_for(&self, op: Operation) -> Option<Throttle> {
        self.knobs
            .throttle
            .get(&op)
            .copied()
            .or(self.knobs.throttle_all)
    }

    /// Installs a scripted fault.
    pub(crate) fn script(&mut self, fault: ScriptedFault) {
        self.scripted.push(ActiveFault { fault, seen: 0 });
    }

    /// Removes every scripted fault.
    pub(crate) fn clear_scripted(&mut self) {
        self.scripted.clear();
    }

    /// Decides the fate of one call of `op` and the latency to add before answering.
    pub(crate) fn on_call(&mut self, op: Operation) -> (Verdict, Duration) {
        let mut latency = Duration::from_millis(self.knobs.latency_ms);
        if self.knobs.latency_jitter_ms > 0 {
            latency +=
                Duration::from_millis(self.rng.random_range(0..=self.knobs.latency_jitter_ms));
        }
        let mut scripted = None;
        for active in &mut self.scripted {
            if active.fault.operation.is_some_and(|o| o != op) {
                continue;
            }
            active.seen += 1;
            let first = active.fault.skip + 1;
            let last = active.fault.skip + active.fault.times;
            if scripted.is_none() && (first..=last).contains(&active.seen) {
                scripted = Some(active.fault.action.clone());
            }
        }
        self.scripted
            .retain(|a| a.seen < a.fault.skip + a.fault.times);
        match scripted {
            Some(FaultAction::Throttle) => return (Verdict::Throttle, latency),
            Some(FaultAction::InternalError) => return (Verdict::InternalError, latency),
            Some(FaultAction::Drop) => return (Verdict::Drop, latency),
            Some(FaultAction::Delay { ms }) => latency += Duration::from_millis(ms),
            Some(FaultAction::Error {
                code,
                status,
                message,
            }) => {
                let message = message.unwrap_or_else(|| format!("scripted fault: {code}"));
                return (
                    Verdict::Error {
                        code,
                        status,
                        message,
                    },
                    latency,
                );
            }
            Some(FaultAction::MalformedBody) => return (Verdict::MalformedBody, latency),
            None => {}
        }
        if let Some(throttle) = self.throttle_for(op)
            && let Some(bucket) = self.buckets[op.index()].as_mut()
        {
            let now = Instant::now();
            let refill = now.duration_since(bucket.last).as_secs_f64() * throttle.rate;
            bucket.tokens = (bucket.tokens + refill).min(throttle.capacity());
            bucket.last = now;
            if bucket.tokens < 1.0 {
                return (Verdict::Throttle, latency);
            }
            bucket.tokens -= 1.0;
        }
        if self.knobs.drop_rate > 0.0 && self.rng.random_bool(self.knobs.drop_rate) {
            return (Verdict::Drop, latency);
        }
        if self.knobs.fault_rate > 0.0 && self.rng.random_bool(self.knobs.fault_rate) {
            return (Verdict::InternalError, latency);
        }
        (Verdict::Serve, latency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_serve_everything_without_latency() {
        let mut state = KnobState::new(Knobs::default());
        for op in Operation::ALL {
            assert_eq!(state.on_call(op), (Verdict::Serve, Duration::ZERO));
        }
    }

    #[test]
    fn scripted_fault_hits_exactly_the_kth_call_of_its_operation() {
        let mut state = KnobState::new(Knobs::default());
        state.script(
            ScriptedFault::throttle(Operation::UpdateJobStatus)
                .on_call(3)
                .times(2),
        );
        let mut verdicts = Vec::new();
        for _ in 0..6 {
            assert_eq!(state.on_call(Operation::DescribeJob).0, Verdict::Serve);
            verdicts.push(state.on_call(Operation::UpdateJobStatus).0);
        }
        use Verdict::{Serve as S, Throttle as T};
        assert_eq!(verdicts, [S, S, T, T, S, S]);
    }

    #[test]
    fn bucket_allows_burst_then_throttles() {
        let mut knobs = Knobs::default();
        knobs.throttle.insert(
            Operation::DescribeJob,
            Throttle {
                rate: 0.001,
                burst: Some(3),
            },
        );
        let mut state = KnobState::new(knobs);
        let verdicts: Vec<Verdict> = (0..5)
            .map(|_| state.on_call(Operation::DescribeJob).0)
            .collect();
        use Verdict::{Serve as S, Throttle as T};
        assert_eq!(verdicts, [S, S, S, T, T]);
        assert_eq!(state.on_call(Operation::ListJobs).0, S);
    }

    #[test]
    fn random_faults_are_reproducible_from_the_seed() {
        let knobs = Knobs {
            fault_rate: 0.3,
            drop_rate: 0.1,
            random_seed: 7,
            ..Knobs::default()
        };
        let run = || {
            let mut state = KnobState::new(knobs.clone());
            (0..200)
                .map(|_| state.on_call(Operation::DescribeJob).0)
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let errors = first
            .iter()
            .filter(|v| **v == Verdict::InternalError)
            .count();
        assert!((30..=90).contains(&errors), "{errors}");
        assert!(first.contains(&Verdict::Drop));
    }

    #[test]
    fn throttle_spec_parses() {
        assert_eq!(
            Throttle::parse("50").unwrap(),
            Throttle {
                rate: 50.0,
                burst: None
            }
        );
        assert_eq!(
            Throttle::parse("2.5:10").unwrap(),
            Throttle {
                rate: 2.5,
                burst: Some(10)
            }
        );
        assert!(Throttle::parse("0").is_err());
        assert!(Throttle::parse("5:0").is_err());
    }
}
