//! The shared gate poller: one polling loop for every waiting job of the run.
//!
//! Owns the set of watched jobs and the choice of how to read them each round: when more jobs are watched
//! than ListJobs needs pages, one paginated ListJobs (1,000 per page, filtered to the non-terminal and
//! wanted statuses) replaces a DescribeJob per job (N waiting jobs then cost N / 1,000 reads a round, not
//! N); otherwise DescribeJob per watched job. Jobs the listing did not show are described individually.
//! Waiters are told only when their gate holds, can never hold, or cannot be read for good (gone, access
//! denied, bad credentials); timeouts stay with the waiter. Does not decide what a job does next (`executor.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Notify, oneshot};

use crate::api::{ApiCall, ApiError, ApiErrorKind, JobControl, JobId, JobStatus, Progress};
use crate::event::{EventKind, WatchedView};
use crate::exec::outcome::{GateCheck, check_gate};
use crate::exec::retry::Caller;
use crate::resolved::TaskLimit;

/// ListJobs page size (the API's maximum).
const PAGE_SIZE: i32 = 1000;
/// DescribeJob calls in flight at once within one round.
const DESCRIBE_PARALLELISM: usize = 16;
/// How long the first round waits for other jobs to register, so a burst of waiters shares one round.
const GATHER: Duration = Duration::from_millis(20);

/// A read error polling cannot outlast: the job is gone, or the credentials or permissions are wrong (an
/// operator must fix those; they do not heal while the run waits).
fn is_permanent(kind: ApiErrorKind) -> bool {
    matches!(
        kind,
        ApiErrorKind::NotFound
            | ApiErrorKind::AccessDenied
            | ApiErrorKind::InvalidCredentials
            | ApiErrorKind::BadRequest
    )
}

/// A watched job as one round read it, or the error.
type Read = Result<Seen, ApiError>;

/// A watched job as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Its status.
    pub status: JobStatus,
    /// Its task counters.
    pub progress: Progress,
    /// Its `FailureReasons` as `code: reason`, when it was read with DescribeJob (ListJobs does not carry
    /// them).
    pub failure_reasons: Option<Vec<String>>,
}

/// What a waiter learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateNews {
    /// The gate holds; the watched job as seen.
    Holds(Seen),
    /// The gate can never hold, with the watched job as seen and why.
    Unreachable(Seen, String),
    /// The watched job could not be read for good.
    Unreadable(ApiError),
}

#[derive(Debug)]
struct Waiter {
    wanted: Arc<[JobStatus]>,
    tasks: Option<TaskLimit>,
    tx: oneshot::Sender<GateNews>,
}

#[derive(Debug)]
struct Shared<C> {
    control: Arc<C>,
    caller: Caller,
    interval: Duration,
    waiters: Mutex<HashMap<JobId, Vec<Waiter>>>,
    wake: Notify,
    pages: AtomicU32,
}

/// Handle to the poller; clone it into every job that waits.
#[derive(Debug)]
pub struct GatePoller<C> {
    shared: Arc<Shared<C>>,
}

impl<C> Clone for GatePoller<C> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<C: JobControl> GatePoller<C> {
    /// A poller reading through `caller` every `interval`; drive it with [`GatePoller::run`].
    pub fn new(control: Arc<C>, caller: Caller, interval: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                control,
                caller,
                interval,
                waiters: Mutex::new(HashMap::new()),
                wake: Notify::new(),
                pages: AtomicU32::new(1),
            }),
        }
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Vec<Waiter>>> {
        // Waiters are plain data; a panic elsewhere leaves them usable.
        self.shared
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Registers interest in `watched` reaching any of `wanted` (with at most `tasks` failed tasks); the
    /// receiver fires when the gate holds or can never hold. Dropping the receiver (timeout, interruption)
    /// unregisters at the next round.
    pub fn watch(
        &self,
        watched: &JobId,
        wanted: Arc<[JobStatus]>,
        tasks: Option<TaskLimit>,
    ) -> oneshot::Receiver<GateNews> {
        let (tx, rx) = oneshot::channel();
        self.waiters()
            .entry(watched.clone())
            .or_default()
            .push(Waiter { wanted, tasks, tx });
        self.shared.wake.notify_one();
        rx
    }

    /// Polls until dropped: a round whenever someone waits, then one poll interval of rest.
    pub async fn run(self) {
        loop {
            if self.is_idle() {
                self.shared.wake.notified().await;
                tokio::time::sleep(GATHER.min(self.shared.interval)).await;
                continue;
            }
            self.round().await;
            tokio::time::sleep(self.shared.interval).await;
        }
    }

    fn is_idle(&self) -> bool {
        let mut waiters = self.waiters();
        waiters.retain(|_, list| {
            list.retain(|w| !w.tx.is_closed());
            !list.is_empty()
        });
        waiters.is_empty()
    }

    async fn round(&self) {
        let (watched, mut filter): (Vec<JobId>, HashSet<JobStatus>) = {
            let waiters = self.waiters();
            let filter = waiters
                .values()
                .flatten()
                .flat_map(|w| w.wanted.iter().copied())
                .collect();
            (waiters.keys().cloned().collect(), filter)
        };
        if watched.is_empty() {
            return;
        }
        let pages = self.shared.pages.load(Ordering::Relaxed) as usize;
        let listed = watched.len() > pages;
        let mut reads = 0;
        let mut seen: HashMap<JobId, Read> = HashMap::new();
        if listed {
            filter.extend(JobStatus::ALL.into_iter().filter(|s| !s.is_terminal()));
            let mut statuses: Vec<JobStatus> = filter.into_iter().collect();
            statuses.sort();
            let wanted: HashSet<&JobId> = watched.iter().collect();
            let (listing, calls) = self.list(&statuses, &wanted).await;
            reads += calls;
            seen.extend(listing.into_iter().map(|(id, s)| (id, Ok(s))));
        }
        let missing: Vec<JobId> = watched
            .iter()
            .filter(|id| !seen.contains_key(*id))
            .cloned()
            .collect();
        let described: Vec<(JobId, Read, u32)> = futures::stream::iter(missing)
            .map(|id| async move {
                let called = self
                    .shared
                    .caller
                    .call(ApiCall::DescribeJob, None, |_| {
                        self.shared.control.describe_job(&id)
                    })
                    .await;
                let status = called.result.map(|a| Seen {
                    status: a.value.summary.status,
                    progress: a.value.summary.progress,
                    failure_reasons: Some(a.value.failure_reasons),
                });
                (id, status, called.attempts)
            })
            .buffer_unordered(DESCRIBE_PARALLELISM)
            .collect()
            .await;
        for (id, status, attempts) in described {
            reads += attempts;
            seen.insert(id, status);
        }
        let views: Arc<[WatchedView]> = seen
            .iter()
            .filter_map(|(id, read)| {
                read.as_ref().ok().map(|seen| WatchedView {
                    job: id.clone(),
                    status: seen.status,
                    tasks: seen.progress,
                })
            })
            .collect();
        self.deliver(seen);
        self.shared
            .caller
            .emitter
            .emit(EventKind::GatePolled {
                waiting: watched.len(),
                reads,
                listed,
                seen: views,
            })
            .await;
    }

    /// Lists every page with `statuses`; keeps only the watched jobs with their status and task counters
    /// (ListJobs carries `ProgressSummary`, so a task condition costs no extra read). Returns them and the
    /// calls made.
    async fn list(
        &self,
        statuses: &[JobStatus],
        watched: &HashSet<&JobId>,
    ) -> (HashMap<JobId, Seen>, u32) {
        let mut found = HashMap::new();
        let mut token: Option<String> = None;
        let mut calls = 0;
        let mut pages = 0;
        loop {
            let called = self
                .shared
                .caller
                .call(ApiCall::ListJobs, None, |_| {
                    self.shared
                        .control
                        .list_jobs(statuses, token.as_deref(), PAGE_SIZE)
                })
                .await;
            calls += called.attempts;
            // A failed listing leaves the rest to DescribeJob this round.
            let Ok(answer) = called.result else { break };
            pages += 1;
            for job in answer.value.jobs {
                if watched.contains(&job.id) {
                    found.insert(
                        job.id,
                        Seen {
                            status: job.status,
                            progress: job.progress,
                            failure_reasons: None,
                        },
                    );
                }
            }
            match answer.value.next_token {
                Some(next) if !next.is_empty() && Some(&next) != token.as_ref() => {
                    token = Some(next)
                }
                _ => break,
            }
        }
        self.shared.pages.store(pages.max(1), Ordering::Relaxed);
        (found, calls)
    }

    fn deliver(&self, seen: HashMap<JobId, Read>) {
        let mut waiters = self.waiters();
        for (id, status) in seen {
            let Some(list) = waiters.get_mut(&id) else {
                continue;
            };
            let pending = std::mem::take(list);
            for waiter in pending {
                let news = match &status {
                    Ok(seen) => match check_gate(
                        &waiter.wanted,
                        waiter.tasks.as_ref(),
                        seen.status,
                        seen.progress,
                    ) {
                        GateCheck::Holds => Some(GateNews::Holds(seen.clone())),
                        GateCheck::Unreachable(reason) => {
                            Some(GateNews::Unreachable(seen.clone(), reason))
                        }
                        GateCheck::Pending => None,
                    },
                    // Errors no later round can cure end the wait at once (instead of polling until the
                    // gate's timeout); transient ones (already retried by the caller) try again next round.
                    Err(error) if is_permanent(error.kind) => {
                        Some(GateNews::Unreadable(error.clone()))
                    }
                    Err(_) => None,
                };
                match news {
                    Some(news) => {
                        // The waiter may have timed out meanwhile; nobody is left to tell.
                        let _ = waiter.tx.send(news);
                    }
                    None => list.push(waiter),
                }
            }
            if list.is_empty() {
                waiters.remove(&id);
            }
        }
    }
}
