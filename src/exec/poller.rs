//! The shared gate poller: one polling loop for every waiting job of the run.
//!
//! Owns the set of watched jobs and their reading each round, one [`sweep`](crate::exec::sweep) of them:
//! when more jobs are watched than the last round's ListJobs needed pages, one paginated ListJobs (1,000 per
//! page, filtered to the non-terminal and wanted statuses) replaces a DescribeJob per job (N waiting jobs then
//! cost N / 1,000 reads a round, not N); otherwise DescribeJob per watched job. Jobs the listing did not show
//! are described individually. Waiters are told only when their gate holds, can never hold, or cannot be read
//! for good (gone, access denied, bad credentials); timeouts stay with the waiter. Does not decide what a job
//! does next (`executor.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use crate::api::{ApiError, ApiErrorKind, JobControl, JobId, JobStatus};
use crate::event::{EventKind, WatchedView};
use crate::exec::outcome::{GateCheck, check_gate};
use crate::exec::retry::Caller;
pub use crate::exec::sweep::Seen;
use crate::exec::sweep::{Pages, sweep};
use crate::resolved::TaskLimit;

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
        let (watched, filter): (Vec<JobId>, HashSet<JobStatus>) = {
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
        let wanted: Vec<JobStatus> = filter.into_iter().collect();
        let pages = Pages::Known(self.shared.pages.load(Ordering::Relaxed));
        let read = sweep(
            self.shared.control.as_ref(),
            &self.shared.caller,
            &watched,
            &wanted,
            pages,
        )
        .await;
        if read.listed {
            self.shared
                .pages
                .store(read.pages.max(1), Ordering::Relaxed);
        }
        let views: Arc<[WatchedView]> = read
            .seen
            .iter()
            .filter_map(|(id, read)| {
                read.as_ref().ok().map(|seen| WatchedView {
                    job: id.clone(),
                    status: seen.status,
                    tasks: seen.progress,
                })
            })
            .collect();
        self.deliver(read.seen);
        self.shared
            .caller
            .emitter
            .emit(EventKind::GatePolled {
                waiting: watched.len(),
                reads: read.reads,
                listed: read.listed,
                seen: views,
            })
            .await;
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
