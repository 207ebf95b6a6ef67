//! The executor/reporter contract: every state change of a run as an [`Event`].
//!
//! Owns the event types. Events carry a timestamp, the elapsed time and everything a reporter needs to render
//! them, so reporters never call the executor or the API (nextest `reporter/events.rs`). Does not own how
//! events are produced (`exec`) or rendered (`report`).

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::api::{ApiCall, ApiError, ApiErrorKind, JobId, JobStatus, TargetStatus};
use crate::exec::Outcome;
use crate::resolved::{Action, GateSubject, RunMode, Target, priority_of, target_of};

/// One thing that happened during a run.
#[derive(Debug, Clone)]
pub struct Event {
    /// Wall-clock time of the event.
    pub at: Timestamp,
    /// Time since the run started.
    pub elapsed: Duration,
    /// What happened.
    pub kind: EventKind,
}

/// Where one job sits in the plan: indexes into `ResolvedPlan::entries` and that entry's `jobs`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct JobIndex {
    /// The entry's index.
    pub entry: usize,
    /// The job's index within the entry.
    pub job: usize,
}

/// What a run is about, sent once in [`EventKind::RunStarted`].
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Where the plan acts (account, region, endpoint, name), in plan order; jobs name theirs by index.
    pub targets: Vec<Target>,
    /// Apply or dry run.
    pub mode: RunMode,
    /// Entry names, in plan order, with their job counts.
    pub entries: Vec<(Arc<str>, usize)>,
    /// Jobs in the whole plan.
    pub total_jobs: usize,
}

/// A gate as events show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateView {
    /// Whose status is watched.
    pub subject: GateSubject,
    /// The wanted statuses.
    pub statuses: Vec<JobStatus>,
    /// How long the job waits at most.
    pub timeout: Duration,
    /// The task condition that must hold as well, if any.
    pub tasks: Option<crate::resolved::TaskLimit>,
}

/// A watched job as one gate poll round read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedView {
    /// The watched job.
    pub job: JobId,
    /// Its status.
    pub status: JobStatus,
    /// Its task counters.
    pub tasks: crate::api::Progress,
}

/// An error as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorView {
    /// The AWS error code, or the kind of local failure.
    pub code: String,
    /// What went wrong, with the call name.
    pub message: String,
    /// The call that failed.
    pub call: ApiCall,
    /// The failure's class (decides the hint shown to the operator).
    pub kind: ApiErrorKind,
}

impl From<&ApiError> for ErrorView {
    fn from(error: &ApiError) -> Self {
        Self {
            code: error
                .code
                .clone()
                .unwrap_or_else(|| error.kind.as_str().to_owned()),
            message: error.to_string(),
            call: error.call,
            kind: error.kind,
        }
    }
}

/// How one job ended, with everything the report prints about it. Serializable for the report writers'
/// spool (`report/run_record.rs`), which stores finished records on disk until the run ends.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JobRecord {
    /// Where the job sits in the plan.
    pub index: JobIndex,
    /// The job's target: an index into `RunInfo::targets`.
    pub target: usize,
    /// The entry's name. Not spooled: every job of an entry shares the entry's name, restored on reading.
    #[serde(skip)]
    pub entry: Arc<str>,
    /// The job.
    pub job_id: JobId,
    /// The job's description, when known.
    pub description: Option<String>,
    /// The status seen before acting (the gate's last poll, else resolution).
    pub status_before: Option<JobStatus>,
    /// The changes the entry asks for, in the order they are sent.
    pub actions: Vec<Action>,
    /// The status after acting, when known.
    pub status_after: Option<JobStatus>,
    /// How the job ended.
    pub outcome: Outcome,
    /// API attempts made for this job (reads and mutations, retries included).
    pub attempts: u32,
    /// Time spent waiting for the gate.
    pub waited: Duration,
    /// Why the job ended this way, in words.
    pub reason: Option<String>,
    /// The request id of the last answer about this job.
    pub request_id: Option<String>,
    /// The error that decided a `failed` outcome.
    pub error: Option<ErrorView>,
    /// The job's task counters as last seen (resolution, or the gate's last poll of the job itself).
    pub tasks: Option<crate::api::Progress>,
    /// The job's `FailureReasons` (`code: reason`) as last read with DescribeJob by its gate; empty when
    /// never read that way.
    pub failure_reasons: Vec<String>,
    /// When work on the job started (equal to `finished_at` for jobs never started).
    pub started_at: Timestamp,
    /// When the job finished.
    pub finished_at: Timestamp,
}

impl JobRecord {
    /// The status the entry asks for, if any.
    pub fn requested(&self) -> Option<TargetStatus> {
        target_of(&self.actions)
    }

    /// The priority the entry asks for, if any.
    pub fn priority_requested(&self) -> Option<i32> {
        priority_of(&self.actions)
    }
}

/// The kinds of events, in the order a job meets them.
#[derive(Debug, Clone)]
pub enum EventKind {
    /// The run begins.
    RunStarted(Arc<RunInfo>),
    /// An entry's dependencies are met and its jobs are queued.
    EntryStarted {
        /// The entry's index.
        entry: usize,
    },
    /// A job starts waiting for its gate.
    JobWaiting {
        /// The job.
        index: JobIndex,
        /// Its id.
        job: JobId,
        /// The gate.
        gate: GateView,
    },
    /// A gate poll round finished.
    GatePolled {
        /// Jobs whose gates were checked in this round.
        waiting: usize,
        /// Read calls the round made.
        reads: u32,
        /// Whether the round used paginated ListJobs (else DescribeJob per watched job).
        listed: bool,
        /// The watched jobs this round could read, as read (the progress display shows what gates wait on).
        seen: Arc<[WatchedView]>,
    },
    /// A job's gate holds (or it has none) and its calls start.
    JobApplying {
        /// The job.
        index: JobIndex,
        /// Its id.
        job: JobId,
        /// The status the decision was made from.
        status: JobStatus,
    },
    /// One API attempt is about to be sent.
    AttemptStarted {
        /// The job, when the call is about one job.
        index: Option<JobIndex>,
        /// The call.
        call: ApiCall,
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// An attempt failed transiently and will be retried after `delay`.
    Retrying {
        /// The job, when the call is about one job.
        index: Option<JobIndex>,
        /// The call.
        call: ApiCall,
        /// The attempt that failed.
        attempt: u32,
        /// The wait before the next attempt.
        delay: Duration,
        /// The failure.
        error: ApiError,
    },
    /// The server throttled a call and the whole plan slowed down.
    Throttled {
        /// The call that was throttled.
        call: ApiCall,
        /// The new effective rate (calls per second) of that call's class.
        rate: f64,
    },
    /// A job ended.
    JobFinished(Box<JobRecord>),
    /// Every job of an entry ended.
    EntryFinished {
        /// The entry's index.
        entry: usize,
        /// Whether every job ended with a success outcome.
        succeeded: bool,
    },
    /// The run ended; no event follows.
    RunFinished {
        /// Whether the run was cancelled (Ctrl-C or a failing reporter).
        interrupted: bool,
    },
}

impl RunInfo {
    /// The target of `record`, when the run knows it.
    pub fn target_of(&self, record: &JobRecord) -> Option<&Target> {
        self.targets.get(record.target)
    }

    /// Whether the run names several places (reports then say which per job).
    pub fn is_multi_target(&self) -> bool {
        crate::resolved::names_places(&self.targets)
    }
}
