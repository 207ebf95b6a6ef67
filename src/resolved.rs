//! The resolved plan: concrete jobs and final settings, the only input the executor reads.
//!
//! Owns the second stage of the two-stage plan (ripgrep's `lowargs` then `hiargs`): `plan::model` mirrors
//! the file with spans; this holds what a run acts on after flags, plan values and defaults were merged and
//! every selector was turned into job ids. Does not own parsing, validation or resolution (`resolve.rs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::{AccountId, ApiCall, JobId, JobStatus, Progress, TargetStatus};

/// One change an entry asks of each of its jobs. The same type travels from the resolved plan through
/// decisions, events, journal intents, records, saved plans and reports.
///
/// Adding an action (tags, say) means a variant here, its judgment in `decision.rs`, its call in
/// `exec/mutation.rs` and its wording in the renderers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `UpdateJobPriority` to this priority.
    SetPriority(i32),
    /// `UpdateJobStatus` to this status.
    SetStatus(TargetStatus),
}

impl Action {
    /// The mutating call that carries out the action.
    pub fn call(self) -> ApiCall {
        match self {
            Action::SetPriority(_) => ApiCall::UpdateJobPriority,
            Action::SetStatus(_) => ApiCall::UpdateJobStatus,
        }
    }

    /// The requested status, for a status action.
    pub fn target(self) -> Option<TargetStatus> {
        match self {
            Action::SetStatus(target) => Some(target),
            Action::SetPriority(_) => None,
        }
    }

    /// The requested priority, for a priority action.
    pub fn priority(self) -> Option<i32> {
        match self {
            Action::SetPriority(priority) => Some(priority),
            Action::SetStatus(_) => None,
        }
    }

    /// The actions for a status and a priority request, in the order they are sent: priority first, so a
    /// confirmed job runs with it.
    pub fn from_parts(target: Option<TargetStatus>, priority: Option<i32>) -> Vec<Action> {
        priority
            .map(Action::SetPriority)
            .into_iter()
            .chain(target.map(Action::SetStatus))
            .collect()
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::SetPriority(priority) => write!(f, "priority {priority}"),
            Action::SetStatus(target) => write!(f, "status {target}"),
        }
    }
}

/// The status request among `actions`, if any.
pub fn target_of(actions: &[Action]) -> Option<TargetStatus> {
    actions.iter().find_map(|a| a.target())
}

/// The priority request among `actions`, if any.
pub fn priority_of(actions: &[Action]) -> Option<i32> {
    actions.iter().find_map(|a| a.priority())
}

/// Whether mutating calls are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// Make the changes.
    Apply,
    /// Do everything but mutating calls; jobs that would change end `would_apply`.
    DryRun,
}

/// Limits and timings of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    /// Mutating calls in flight at once.
    pub concurrency: u32,
    /// Mutating calls (UpdateJobStatus, UpdateJobPriority) per second, whole plan.
    pub rate_limit: f64,
    /// Read calls (DescribeJob, ListJobs, GetJobTagging) per second, whole plan.
    pub poll_rate_limit: f64,
    /// How often a waiting entry polls its gate.
    pub poll_interval: Duration,
    /// Apply or dry run.
    pub mode: RunMode,
}

/// One place a run talks to (an account in a region): shown before confirmation and written in the report.
/// A plan without `targets:` has exactly one, without a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The plan's name for it (`prod-us`, `dr/us-west-2`); `None` for a plan without `targets:`.
    pub name: Option<String>,
    /// The account every call names.
    pub account_id: AccountId,
    /// The region the client signs for.
    pub region: String,
    /// A custom endpoint (the sandbox), or `None` for AWS's own.
    pub endpoint: Option<String>,
}

/// A status condition an entry waits for before it acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    /// Whose status is watched.
    pub subject: GateSubject,
    /// The gate holds when the watched status is any of these.
    pub statuses: Vec<JobStatus>,
    /// How long to wait before the job ends `timed_out`.
    pub timeout: Duration,
    /// A condition on the watched job's task outcomes that must hold as well, if any.
    pub tasks: Option<TaskLimit>,
}

/// How many of a job's finished tasks may have failed for a gate to hold (`max_failed_tasks`,
/// `max_failure_rate`); each limit given must hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLimit {
    /// At most this many failed tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failed: Option<i64>,
    /// At most this share of the finished tasks (succeeded + failed) failed, in hundredths of a percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rate_bp: Option<u32>,
}

impl std::fmt::Display for TaskLimit {
    /// `max_failed_tasks 10, max_failure_rate 1 %`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(max) = self.max_failed {
            parts.push(format!("max_failed_tasks {}", crate::exec::grouped(max)));
        }
        if let Some(bp) = self.max_rate_bp {
            parts.push(format!("max_failure_rate {}", crate::exec::percent(bp)));
        }
        f.write_str(&parts.join(", "))
    }
}

/// Whose status a gate watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateSubject {
    /// Each job of the entry waits for its own status.
    OwnStatus,
    /// Every job of the entry waits for this other job's status.
    OtherJob {
        /// The watched job's target: an index into `ResolvedPlan::targets`.
        target: usize,
        /// The watched job.
        job: JobId,
    },
}

/// One job an entry acts on, as seen while resolving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedJob {
    /// The job's target: an index into `ResolvedPlan::targets` ([`ResolvedJob::target`] as a `usize`);
    /// 32 bits, as a run holds one per job.
    pub target: u32,
    /// The job.
    pub id: JobId,
    /// Its description, when known (boxed: a run holds one per resolved job, and a `String`'s spare
    /// capacity word is never used).
    pub description: Option<Box<str>>,
    /// Its status when it was resolved.
    pub status_seen: JobStatus,
    /// Its priority when it was resolved.
    pub priority_seen: i32,
    /// Its task counters when it was resolved ([`ResolvedJob::progress_seen`] gives them whole).
    pub progress_seen: SeenProgress,
}

impl ResolvedJob {
    /// The job's target: an index into `ResolvedPlan::targets`.
    pub fn target(&self) -> usize {
        self.target as usize
    }

    /// Its task counters when it was resolved.
    pub fn progress_seen(&self) -> Progress {
        self.progress_seen.get()
    }
}

/// Task counters as a resolved job keeps them: four 32-bit numbers inline when each fits (tasks fewer than
/// four billion, active time under 136 years: nearly every job), else the counters boxed. 24 bytes instead
/// of 32, as a run holds one per job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeenProgress {
    /// Total, succeeded, failed, active seconds.
    Inline([u32; 4]),
    /// Counters that do not fit 32 bits.
    Boxed(Box<Progress>),
}

impl SeenProgress {
    /// The counters.
    pub fn get(&self) -> Progress {
        match self {
            Self::Inline([total, succeeded, failed, elapsed]) => Progress {
                total_tasks: i64::from(*total),
                succeeded_tasks: i64::from(*succeeded),
                failed_tasks: i64::from(*failed),
                elapsed_active_seconds: i64::from(*elapsed),
            },
            Self::Boxed(progress) => **progress,
        }
    }
}

impl From<Progress> for SeenProgress {
    fn from(progress: Progress) -> Self {
        let fit = |n: i64| u32::try_from(n).ok();
        match (
            fit(progress.total_tasks),
            fit(progress.succeeded_tasks),
            fit(progress.failed_tasks),
            fit(progress.elapsed_active_seconds),
        ) {
            (Some(total), Some(succeeded), Some(failed), Some(elapsed)) => {
                Self::Inline([total, succeeded, failed, elapsed])
            }
            _ => Self::Boxed(Box::new(progress)),
        }
    }
}

impl Default for SeenProgress {
    fn default() -> Self {
        Self::Inline([0; 4])
    }
}

/// A target's index as a resolved job holds it. A plan cannot name four billion targets (each is read
/// before the run), so the last index stands for any beyond it rather than failing.
pub(crate) fn target_index(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// One plan entry with its concrete jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedEntry {
    /// The entry's unique name.
    pub name: String,
    /// Indexes (into `ResolvedPlan::entries`) of the entries that must succeed first.
    pub after: Vec<usize>,
    /// The jobs to act on, in a stable order.
    pub jobs: Vec<ResolvedJob>,
    /// The condition to wait for, if any.
    pub gate: Option<Gate>,
    /// The changes asked of every job, in the order they are sent.
    pub actions: Vec<Action>,
    /// The `StatusUpdateReason` to send.
    pub reason: Option<String>,
}

impl ResolvedEntry {
    /// The status the entry asks for, if any.
    pub fn target(&self) -> Option<TargetStatus> {
        target_of(&self.actions)
    }

    /// The priority the entry asks for, if any.
    pub fn priority(&self) -> Option<i32> {
        priority_of(&self.actions)
    }
}

/// Everything a run needs, with no reference back to the plan file's syntax.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedPlan {
    /// Where the plan acts, in plan order (one for a plan without `targets:`). Jobs and gates name theirs
    /// by index.
    pub targets: Vec<Target>,
    /// Limits and timings.
    pub settings: RunSettings,
    /// Entries in plan order.
    pub entries: Vec<ResolvedEntry>,
}

impl Target {
    /// How the operator names the target: its plan name, else `account in region`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => format!("{} in {}", self.account_id, self.region),
        }
    }
}

impl ResolvedPlan {
    /// The plan's name of the target at `index` (`None` for the unnamed one of a plan without `targets:`):
    /// how the journal names a job's target.
    pub fn target_name(&self, index: usize) -> Option<&str> {
        self.targets.get(index).and_then(|t| t.name.as_deref())
    }

    /// Whether the plan names several places (its overview, reports and gates then say which).
    pub fn is_multi_target(&self) -> bool {
        names_places(&self.targets)
    }
}

/// Whether a run over `targets` names its places (a plan with `targets:`): its overview, reports and gate
/// texts then say which target each job is in.
pub fn names_places(targets: &[Target]) -> bool {
    targets.len() > 1 || targets.iter().any(|t| t.name.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run holds one resolved job per selected job, a million in the largest runs: its size is most of
    /// the run's memory per job, so growing it must be a decision, not an accident.
    #[test]
    fn a_resolved_job_stays_within_88_bytes() {
        let size = std::mem::size_of::<ResolvedJob>();
        assert!(size <= 88, "a resolved job takes {size} bytes");
    }

    #[test]
    fn task_counters_come_back_whole_inline_or_boxed() {
        let small = Progress {
            total_tasks: 4_000_000_000,
            succeeded_tasks: 7,
            failed_tasks: 0,
            elapsed_active_seconds: 60,
        };
        let large = Progress {
            total_tasks: 9_000_000_000,
            ..small
        };
        let negative = Progress {
            failed_tasks: -1,
            ..small
        };
        assert!(matches!(SeenProgress::from(small), SeenProgress::Inline(_)));
        for progress in [small, large, negative, Progress::default()] {
            assert_eq!(SeenProgress::from(progress).get(), progress);
        }
        assert!(matches!(SeenProgress::from(large), SeenProgress::Boxed(_)));
    }
}
