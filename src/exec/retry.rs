//! The retry policy and the one place every API attempt is made: take a permit, send, classify, back off.
//!
//! Owns the backoff iterator (tokio-retry's `ExponentialBackoff` with jitter, capped, bounded in attempts and
//! total time) and [`Caller::call`], which emits `AttemptStarted`/`Retrying`/`Throttled` events and tells the
//! limiter about every answer. Only `ApiErrorKind::is_retryable` kinds are retried. Does not decide what a
//! final error means for a job (`executor.rs`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_retry::strategy::{ExponentialBackoff, jitter};
use tokio_util::sync::CancellationToken;

use crate::api::{ApiCall, ApiError, ApiErrorKind};
use crate::event::{EventKind, JobIndex};
use crate::exec::emitter::Emitter;
use crate::exec::limiter::{Limiter, Turn};

/// How transient failures are retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// The first delay before jitter.
    pub base_delay: Duration,
    /// No single delay is longer.
    pub max_delay: Duration,
    /// No retry starts after this much time since the first attempt was sent.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(20),
            max_total: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The delays before the 2nd, 3rd, ... attempts: exponential from `base_delay`, doubling, capped at
    /// `max_delay`, with "equal jitter" (half fixed, half random) so retries never bunch at zero.
    pub fn backoff(&self) -> impl Iterator<Item = Duration> + use<> {
        let base_ms = u64::try_from(self.base_delay.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let max_delay = self.max_delay;
        ExponentialBackoff::from_millis(2)
            .factor(base_ms / 2)
            .max_delay(max_delay)
            .map(|delay| delay / 2 + jitter(delay / 2))
            .take(self.max_attempts.saturating_sub(1) as usize)
    }
}

/// What a finished call reports besides its result.
#[derive(Debug)]
pub struct Called<T> {
    /// The last attempt's result.
    pub result: Result<T, ApiError>,
    /// Attempts sent (0 when interrupted before the first).
    pub attempts: u32,
}

/// Makes API attempts under the run's limits and retry policy. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The run's shared limits.
    pub limiter: Arc<Limiter>,
    /// Where attempt events go.
    pub emitter: Emitter,
    /// How failures are retried.
    pub policy: RetryPolicy,
    /// Stops retries (and first attempts) once the run is interrupted.
    pub cancel: CancellationToken,
}

impl Caller {
    /// Calls `send(attempt)` until it succeeds, fails for good, runs out of attempts or time, or the run is
    /// interrupted. Every attempt first takes a permit from the limiter.
    pub async fn call<T, F, Fut>(
        &self,
        call: ApiCall,
        index: Option<JobIndex>,
        mut send: F,
    ) -> Called<T>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        // The retry budget counts from the first attempt sent, not from when the call was queued: at a low
        // rate a job can wait minutes for its first permit and must still get its retries.
        let mut first_sent: Option<Instant> = None;
        let mut delays = self.policy.backoff();
        let mut attempt = 0;
        // The last answer of an attempt sent: an interrupt before the next attempt must keep it (the server
        // did answer, with a code and a request id), not replace it with "never sent".
        let mut last_error: Option<ApiError> = None;
        loop {
            let interrupted = |last_error: Option<ApiError>| Called {
                result: Err(last_error.unwrap_or_else(|| {
                    ApiError::local(
                        call,
                        ApiErrorKind::Other,
                        "interrupted before the call was sent",
                    )
                })),
                attempts: attempt,
            };
            if self.cancel.is_cancelled() {
                return interrupted(last_error);
            }
            if let Some(error) = &last_error {
                tracing::info!(
                    "{call}: attempt {} waits for its turn after: {error}",
                    attempt + 1
                );
            }
            // A job queued behind the rate limit must not send once the run is interrupted.
            let permit = tokio::select! {
                biased;
                () = self.cancel.cancelled() => return interrupted(last_error),
                permit = self.limiter.acquire_as(call, if attempt == 0 { Turn::First } else { Turn::Retry }) => permit,
            };
            let started = *first_sent.get_or_insert(permit.sent_at());
            attempt += 1;
            self.emitter
                .emit(EventKind::AttemptStarted {
                    index,
                    call,
                    attempt,
                })
                .await;
            // Boxed: an SDK call's future is kilobytes, and inline it would size every job future, including
            // the thousands waiting for a permit (100,000 jobs over HTTP: 260 MiB peak RSS instead of <150).
            let result = Box::pin(send(attempt)).await;
            let sent_at = permit.sent_at();
            drop(permit);
            let error = match result {
                Ok(value) => {
                    self.limiter.on_success(call);
                    return Called {
                        result: Ok(value),
                        attempts: attempt,
                    };
                }
                Err(error) => error,
            };
            if error.kind == ApiErrorKind::Throttled
                && let Some(rate) = self.limiter.on_throttle(call, sent_at)
            {
                self.emitter.emit(EventKind::Throttled { call, rate }).await;
            }
            let delay = match delays.next() {
                Some(delay)
                    if error.kind.is_retryable()
                        && started.elapsed() + delay <= self.policy.max_total =>
                {
                    delay
                }
                _ => {
                    return Called {
                        result: Err(error),
                        attempts: attempt,
                    };
                }
            };
            self.emitter
                .emit(EventKind::Retrying {
                    index,
                    call,
                    attempt,
                    delay,
                    error: error.clone(),
                })
                .await;
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.cancel.cancelled() => return Called { result: Err(error), attempts: attempt },
            }
            last_error = Some(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_detached_caller_retries_outside_a_run() {
        let caller = Caller {
            limiter: Arc::new(Limiter::new(10.0, 10.0, 1)),
            emitter: Emitter::detached(),
            policy: RetryPolicy::default(),
            cancel: CancellationToken::new(),
        };
        let mut failures = 2;
        let called = caller
            .call(ApiCall::ListJobs, None, |_| {
                let result = if failures > 0 {
                    failures -= 1;
                    Err(ApiError::local(
                        ApiCall::ListJobs,
                        ApiErrorKind::ServerError,
                        "503",
                    ))
                } else {
                    Ok(7)
                };
                async move { result }
            })
            .await;
        assert_eq!(called.result, Ok(7));
        assert_eq!(called.attempts, 3);
    }

    #[test]
    fn backoff_grows_is_capped_and_bounded() {
        let policy = RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            max_total: Duration::from_secs(60),
        };
        let delays: Vec<Duration> = policy.backoff().collect();
        assert_eq!(delays.len(), 5);
        let ceilings = [100, 200, 400, 500, 500];
        for (delay, ceiling) in delays.iter().zip(ceilings) {
            let ceiling = Duration::from_millis(ceiling);
            assert!(
                *delay <= ceiling && *delay >= ceiling / 2,
                "{delay:?} vs {ceiling:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_retry_budget_counts_from_the_first_attempt_sent_not_from_the_queue() {
        // One mutation in flight at 1/s: the call below waits 200 s for its first permit, longer than the
        // whole 120 s budget, and must still be retried.
        let limiter = Arc::new(Limiter::new(1.0, 1.0, 1));
        let queue: Vec<_> = (0..200)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    let _permit = limiter.acquire(ApiCall::UpdateJobStatus).await;
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(1)).await;
        let queued_at = Instant::now();
        let caller = Caller {
            limiter,
            emitter: Emitter::detached(),
            policy: RetryPolicy::default(),
            cancel: CancellationToken::new(),
        };
        let mut failures = 1;
        let called = caller
            .call(ApiCall::UpdateJobStatus, None, |_| {
                let result = if failures > 0 {
                    failures -= 1;
                    Err(ApiError::local(
                        ApiCall::UpdateJobStatus,
                        ApiErrorKind::ServerError,
                        "500",
                    ))
                } else {
                    Ok(())
                };
                async move { result }
            })
            .await;
        assert!(
            queued_at.elapsed() > Duration::from_secs(150),
            "the call did queue"
        );
        assert_eq!(called.result, Ok(()));
        assert_eq!(called.attempts, 2);
        for task in queue {
            task.await.unwrap();
        }
    }
}
