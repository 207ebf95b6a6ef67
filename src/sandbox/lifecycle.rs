//! The job lifecycle as a pure function: a job's status, dates and progress at a sandbox instant follow
//! from its seeded [`JobScript`], the user [`Events`] applied to it (confirm, cancel) and the clock.
//!
//! Owns the sandbox's own [`JobStatus`] enum, the [`Timeline`] built from a script, and the UpdateJobStatus
//! decision table ([`decide`]). It owns no storage (see `store.rs`) and no timers: nothing
//! here runs in the background, so the same seed and the same requests always tell the same story.

use serde::{Deserialize, Serialize};

use super::clock::SimTime;

/// The 13 job statuses of the S3 Control model, spelled as on the wire.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum JobStatus {
    /// Just created.
    New,
    /// Reading the manifest.
    Preparing,
    /// Waiting for the owner to confirm.
    Suspended,
    /// Queued to run.
    Ready,
    /// Running tasks.
    Active,
    /// On the way to `Paused`.
    Pausing,
    /// Pre-empted by a higher-priority job.
    Paused,
    /// On the way to `Complete`.
    Completing,
    /// Every task was attempted (terminal).
    Complete,
    /// On the way to `Cancelled`.
    Cancelling,
    /// Cancelled by request (terminal).
    Cancelled,
    /// On the way to `Failed`.
    Failing,
    /// Stopped by a job-level failure (terminal).
    Failed,
}

impl JobStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [JobStatus; 13] = [
        JobStatus::New,
        JobStatus::Preparing,
        JobStatus::Suspended,
        JobStatus::Ready,
        JobStatus::Active,
        JobStatus::Pausing,
        JobStatus::Paused,
        JobStatus::Completing,
        JobStatus::Complete,
        JobStatus::Cancelling,
        JobStatus::Cancelled,
        JobStatus::Failing,
        JobStatus::Failed,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::New => "New",
            JobStatus::Preparing => "Preparing",
            JobStatus::Suspended => "Suspended",
            JobStatus::Ready => "Ready",
            JobStatus::Active => "Active",
            JobStatus::Pausing => "Pausing",
            JobStatus::Paused => "Paused",
            JobStatus::Completing => "Completing",
            JobStatus::Complete => "Complete",
            JobStatus::Cancelling => "Cancelling",
            JobStatus::Cancelled => "Cancelled",
            JobStatus::Failing => "Failing",
            JobStatus::Failed => "Failed",
        }
    }

    /// Parses the wire spelling (case-sensitive, as the service is).
    pub fn parse(text: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// `Complete`, `Cancelled` and `Failed` never change.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Complete | JobStatus::Cancelled | JobStatus::Failed
        )
    }

    /// The statuses this one may move to directly, automatically or by UpdateJobStatus (the service's
    /// documented lifecycle). Only the property tests need it: the timelines are built, not searched.
    #[cfg(test)]
    pub(crate) fn successors(self) -> &'static [JobStatus] {
        use JobStatus::*;
        match self {
            New => &[Preparing, Cancelled, Cancelling],
            Preparing => &[Ready, Suspended, Cancelled, Cancelling],
            Suspended => &[Ready, Cancelled],
            Ready => &[Active, Cancelled, Cancelling],
            Active => &[Pausing, Completing, Failing, Cancelling],
            Pausing => &[Paused, Cancelling],
            Paused => &[Active, Cancelling],
            Completing => &[Complete],
            Cancelling => &[Cancelled],
            Failing => &[Failed],
            Complete | Cancelled | Failed => &[],
        }
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The statuses UpdateJobStatus accepts as `requestedJobStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum RequestedStatus {
    /// Confirm a `Suspended` job.
    Ready,
    /// Cancel the job.
    Cancelled,
}

impl RequestedStatus {
    /// Parses the wire spelling.
    pub(crate) fn parse(text: &str) -> Option<RequestedStatus> {
        match text {
            "Ready" => Some(RequestedStatus::Ready),
            "Cancelled" => Some(RequestedStatus::Cancelled),
            _ => None,
        }
    }

    /// The wire spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RequestedStatus::Ready => "Ready",
            RequestedStatus::Cancelled => "Cancelled",
        }
    }
}

/// How long each automatic phase lasts, in sandbox milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timings {
    /// `New` → `Preparing`.
    pub(crate) new_ms: i64,
    /// `Preparing` → `Ready` or `Suspended`.
    pub(crate) preparing_ms: i64,
    /// `Ready` → `Active` (queue wait).
    pub(crate) ready_ms: i64,
    /// Active time needed to attempt every task.
    pub(crate) active_ms: i64,
    /// Length of each transitional status (`Pausing`, `Completing`, `Cancelling`, `Failing`).
    pub(crate) transition_ms: i64,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            new_ms: 2_000,
            preparing_ms: 10_000,
            ready_ms: 5_000,
            active_ms: 300_000,
            transition_ms: 3_000,
        }
    }
}

/// A pre-emption: after `after_active_ms` of active time the job pauses for `paused_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pause {
    /// Active time before the pause starts.
    pub(crate) after_active_ms: i64,
    /// Time spent `Paused`.
    pub(crate) paused_ms: i64,
}

/// A job-level failure after `after_active_ms` of active time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Active time before the job starts `Failing`.
    pub(crate) after_active_ms: i64,
    /// `FailureCode` (1–64 chars).
    pub(crate) code: String,
    /// `FailureReason` (1–256 chars).
    pub(crate) reason: String,
}

/// Everything that decides a job's story apart from user requests.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JobScript {
    /// `CreationTime`.
    pub(crate) created: SimTime,
    /// Whether `Preparing` leads to `Suspended`.
    pub(crate) confirmation_required: bool,
    /// Phase lengths.
    pub(crate) timings: Timings,
    /// Optional pre-emption.
    pub(crate) pause: Option<Pause>,
    /// Optional job-level failure.
    pub(crate) failure: Option<Failure>,
    /// `TotalNumberOfTasks`.
    pub(crate) total_tasks: i64,
    /// Fraction (0..=1) of attempted tasks that fail without failing the job.
    pub(crate) task_failure_rate: f64,
}

/// The service's own rule: a job fails once more than half of its attempted tasks have failed, checked
/// from the moment at least this many tasks have been attempted.
pub(crate) const TASK_FAILURE_THRESHOLD_TASKS: i64 = 1_000;

/// `FailureCode` of a job stopped by [`TASK_FAILURE_THRESHOLD_TASKS`].
pub(crate) const TASK_FAILURE_THRESHOLD_CODE: &str = "TaskFailureThresholdExceeded";

impl JobScript {
    /// Tasks attempted after `active_ms` of active time (all of them once the active time is used up).
    pub(crate) fn attempted_after(&self, active_ms: i64) -> i64 {
        let total = self.total_tasks.max(0);
        let full_ms = self.timings.active_ms;
        if full_ms <= 0 {
            return 0;
        }
        (((total as i128) * (active_ms.max(0) as i128)) / full_ms as i128).min(total as i128) as i64
    }

    /// Tasks failed among `attempted`, at the job's task failure rate.
    pub(crate) fn failed_among(&self, attempted: i64) -> i64 {
        let rate = self.task_failure_rate.clamp(0.0, 1.0);
        ((attempted as f64) * rate).round() as i64
    }

    /// The job-level failure this job meets first: the seeded one, or the service's task-failure threshold
    /// (more than half of the tasks failed once at least 1,000 have been attempted), whichever comes earlier
    /// in active time.
    pub(crate) fn effective_failure(&self) -> Option<Failure> {
        let threshold = self.threshold_failure();
        match (&self.failure, threshold) {
            (Some(seeded), Some(rule)) if rule.after_active_ms < seeded.after_active_ms => {
                Some(rule)
            }
            (Some(seeded), _) => Some(seeded.clone()),
            (None, rule) => rule,
        }
    }

    fn threshold_failure(&self) -> Option<Failure> {
        let full_ms = self.timings.active_ms;
        let total = self.total_tasks.max(0);
        if full_ms <= 0 || total < TASK_FAILURE_THRESHOLD_TASKS {
            return None;
        }
        // The rate is constant, so if more than half fail at the first check they always will.
        let failed = self.failed_among(TASK_FAILURE_THRESHOLD_TASKS);
        if failed * 2 <= TASK_FAILURE_THRESHOLD_TASKS {
            return None;
        }
        // First instant at which the attempted count reaches the threshold (ceiling division).
        let num = TASK_FAILURE_THRESHOLD_TASKS as i128 * full_ms as i128;
        let after = ((num + total as i128 - 1) / total as i128) as i64;
        Some(Failure {
            after_active_ms: after,
            code: TASK_FAILURE_THRESHOLD_CODE.to_owned(),
            reason: format!(
                "The job failed because more than 50% of its tasks failed after {} of {} tasks had been attempted",
                self.attempted_after(after),
                total
            ),
        })
    }
}

/// User requests applied to a job (each at most once: the decision table forbids repeats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Events {
    /// When a `Suspended` job was confirmed.
    pub(crate) confirmed_at: Option<SimTime>,
    /// When the job was cancelled.
    pub(crate) cancelled_at: Option<SimTime>,
}

/// What a cancel does to a job that has not started running (`New`, `Preparing`, `Ready`): AWS does not
/// document it. Default: straight to `Cancelled` (nothing started).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum CancelBeforeStart {
    /// Answer `Cancelled`, terminal at once.
    #[default]
    Cancelled,
    /// Answer `Cancelling`, `Cancelled` after the transition time.
    Cancelling,
}

/// What a request for the status a job already has (or is heading to) gets: `Ready` on `Ready`, cancel on
/// `Cancelling`/`Cancelled`. AWS does not document it. Default: `JobStatusException`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum RepeatRequest {
    /// `JobStatusException`.
    #[default]
    Reject,
    /// 200 with the current status, nothing changes.
    Accept,
}

/// The configurable cells of the UpdateJobStatus table (those AWS does not document).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields, default)]
pub struct TransitionRules {
    /// Cancel of a `New`, `Preparing` or `Ready` job.
    pub cancel_before_start: CancelBeforeStart,
    /// Repeated requests.
    pub repeat_request: RepeatRequest,
}

/// The outcome of an UpdateJobStatus request for a job in a given status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Record a confirm event now.
    Confirm,
    /// Record a cancel event now.
    Cancel,
    /// Answer 200 with the current status; change nothing.
    Unchanged,
    /// Answer `JobStatusException`.
    Reject,
}

/// The UpdateJobStatus decision table (the undocumented cells per [`TransitionRules`]).
pub(crate) fn decide(
    current: JobStatus,
    requested: RequestedStatus,
    rules: TransitionRules,
) -> Decision {
    use JobStatus::*;
    let repeat = match rules.repeat_request {
        RepeatRequest::Accept => Decision::Unchanged,
        RepeatRequest::Reject => Decision::Reject,
    };
    match (requested, current) {
        (RequestedStatus::Ready, Suspended) => Decision::Confirm,
        (RequestedStatus::Ready, Ready) => repeat,
        (RequestedStatus::Ready, _) => Decision::Reject,
        (
            RequestedStatus::Cancelled,
            New | Preparing | Suspended | Ready | Active | Pausing | Paused,
        ) => Decision::Cancel,
        (RequestedStatus::Cancelled, Cancelling | Cancelled) => repeat,
        (RequestedStatus::Cancelled, Completing | Complete | Failing | Failed) => Decision::Reject,
    }
}

/// One status and the instant the job entered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    /// When the status starts.
    pub(crate) start: SimTime,
    /// The status.
    pub(crate) status: JobStatus,
}

/// A job's whole story as status segments in time order; the last segment lasts forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timeline {
    segments: Vec<Segment>,
    /// Instant at which all tasks have been attempted or the job stopped (progress stops growing).
    active_goal_ms: i64,
}

/// A job's observable state at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// `Status`.
    pub(crate) status: JobStatus,
    /// `SuspendedDate`, once the job has been `Suspended`.
    pub(crate) suspended_date: Option<SimTime>,
    /// `TerminationDate`, once terminal.
    pub(crate) termination_date: Option<SimTime>,
    /// `ElapsedTimeInActiveSeconds`, in milliseconds.
    pub(crate) active_ms: i64,
    /// `NumberOfTasksSucceeded`.
    pub(crate) succeeded: i64,
    /// `NumberOfTasksFailed`.
    pub(crate) failed: i64,
    /// Whether the job got past `Preparing` (its manifest was read or generated).
    pub(crate) prepared: bool,
}

impl Timeline {
    /// Builds the story of `script` with `events` applied and `rules` for the undocumented cases.
    pub(crate) fn build(script: &JobScript, events: Events, rules: TransitionRules) -> Timeline {
        let t = script.timings;
        let mut segs = Vec::with_capacity(10);
        let created = script.created;
        segs.push(Segment {
            start: created,
            status: JobStatus::New,
        });
        let preparing = created.plus_ms(t.new_ms);
        segs.push(Segment {
            start: preparing,
            status: JobStatus::Preparing,
        });
        let prepared = preparing.plus_ms(t.preparing_ms);
        let failure = script.effective_failure();
        let goal_ms = match &failure {
            Some(f) => f.after_active_ms.clamp(0, t.active_ms),
            None => t.active_ms,
        };
        'natural: {
            let ready_at = if script.confirmation_required {
                segs.push(Segment {
                    start: prepared,
                    status: JobStatus::Suspended,
                });
                match events.confirmed_at {
                    Some(c) => c.max(prepared),
                    None => break 'natural,
                }
            } else {
                prepared
            };
            segs.push(Segment {
                start: ready_at,
                status: JobStatus::Ready,
            });
            let active_at = ready_at.plus_ms(t.ready_ms);
            segs.push(Segment {
                start: active_at,
                status: JobStatus::Active,
            });
            let mut now = active_at;
            let mut used = 0;
            if let Some(p) = script.pause
                && p.after_active_ms < goal_ms
            {
                let after = p.after_active_ms.max(0);
                now = now.plus_ms(after);
                used = after;
                segs.push(Segment {
                    start: now,
                    status: JobStatus::Pausing,
                });
                now = now.plus_ms(t.transition_ms);
                segs.push(Segment {
                    start: now,
                    status: JobStatus::Paused,
                });
                now = now.plus_ms(p.paused_ms.max(0));
                segs.push(Segment {
                    start: now,
                    status: JobStatus::Active,
                });
            }
            now = now.plus_ms(goal_ms - used);
            let (ending, end) = if failure.is_some() {
                (JobStatus::Failing, JobStatus::Failed)
            } else {
                (JobStatus::Completing, JobStatus::Complete)
            };
            segs.push(Segment {
                start: now,
                status: ending,
            });
            segs.push(Segment {
                start: now.plus_ms(t.transition_ms),
                status: end,
            });
        }
        let mut timeline = Timeline {
            segments: segs,
            active_goal_ms: goal_ms,
        };
        if let Some(x) = events.cancelled_at {
            timeline.cancel_at(x, t.transition_ms, rules);
        }
        timeline
    }

    /// Cuts the natural story at `x` and appends the cancellation.
    fn cancel_at(&mut self, x: SimTime, transition_ms: i64, rules: TransitionRules) {
        let current = self.status_at(x);
        if current.is_terminal() || current == JobStatus::Cancelling {
            return;
        }
        self.segments.retain(|s| s.start <= x);
        let immediate = match current {
            JobStatus::Suspended => true,
            JobStatus::New | JobStatus::Preparing | JobStatus::Ready => {
                rules.cancel_before_start == CancelBeforeStart::Cancelled
            }
            _ => false,
        };
        if immediate {
            self.segments.push(Segment {
                start: x,
                status: JobStatus::Cancelled,
            });
        } else {
            self.segments.push(Segment {
                start: x,
                status: JobStatus::Cancelling,
            });
            self.segments.push(Segment {
                start: x.plus_ms(transition_ms),
                status: JobStatus::Cancelled,
            });
        }
    }

    /// The segments, in time order.
    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The status at `t` (a job observed before its creation reads `New`).
    pub(crate) fn status_at(&self, t: SimTime) -> JobStatus {
        self.segment_at(t).status
    }

    fn segment_at(&self, t: SimTime) -> Segment {
        // Zero-length segments are skipped: the last segment starting at or before `t` wins.
        let idx = self.segments.partition_point(|s| s.start <= t);
        self.segments[idx.saturating_sub(1)]
    }

    /// The full observable state at `t`.
    pub(crate) fn snapshot(&self, script: &JobScript, t: SimTime) -> Snapshot {
        let current = self.segment_at(t);
        let suspended_date = self
            .segments
            .iter()
            .find(|s| s.status == JobStatus::Suspended && s.start <= t)
            .map(|s| s.start);
        let termination_date = current.status.is_terminal().then_some(current.start);
        let mut active_ms = 0i64;
        for (i, seg) in self.segments.iter().enumerate() {
            if seg.status != JobStatus::Active || seg.start > t {
                continue;
            }
            let end = self.segments.get(i + 1).map_or(t, |next| next.start.min(t));
            active_ms += (end.0 - seg.start.0).max(0);
        }
        let active_ms = active_ms.min(self.active_goal_ms.max(0));
        let total = script.total_tasks.max(0);
        let attempted = match current.status {
            JobStatus::Complete => total,
            // A job with no active time attempts everything at once when it ends.
            JobStatus::Failed if script.timings.active_ms <= 0 => total,
            _ if script.timings.active_ms <= 0 => 0,
            _ => script.attempted_after(active_ms),
        };
        let failed = script.failed_among(attempted);
        let prepared = self.segments.iter().any(|s| {
            s.start <= t
                && !matches!(
                    s.status,
                    JobStatus::New
                        | JobStatus::Preparing
                        | JobStatus::Cancelling
                        | JobStatus::Cancelled
                )
        });
        Snapshot {
            status: current.status,
            suspended_date,
            termination_date,
            active_ms,
            succeeded: attempted - failed,
            failed,
            prepared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(confirmation_required: bool) -> JobScript {
        JobScript {
            created: SimTime(0),
            confirmation_required,
            timings: Timings {
                new_ms: 10,
                preparing_ms: 10,
                ready_ms: 10,
                active_ms: 100,
                transition_ms: 5,
            },
            pause: None,
            failure: None,
            total_tasks: 1000,
            task_failure_rate: 0.0,
        }
    }

    fn statuses(tl: &Timeline) -> Vec<JobStatus> {
        tl.segments().iter().map(|s| s.status).collect()
    }

    #[test]
    fn unconfirmed_job_waits_in_suspended_forever() {
        let s = script(true);
        let tl = Timeline::build(&s, Events::default(), TransitionRules::default());
        assert_eq!(tl.status_at(SimTime(5)), JobStatus::New);
        assert_eq!(tl.status_at(SimTime(15)), JobStatus::Preparing);
        assert_eq!(tl.status_at(SimTime(1_000_000)), JobStatus::Suspended);
        let snap = tl.snapshot(&s, SimTime(50));
        assert_eq!(snap.suspended_date, Some(SimTime(20)));
        assert_eq!(snap.termination_date, None);
    }

    #[test]
    fn confirmed_job_runs_to_complete_with_progress() {
        let s = script(true);
        let events = Events {
            confirmed_at: Some(SimTime(30)),
            cancelled_at: None,
        };
        let tl = Timeline::build(&s, events, TransitionRules::default());
        use JobStatus::*;
        assert_eq!(
            statuses(&tl),
            [
                New, Preparing, Suspended, Ready, Active, Completing, Complete
            ]
        );
        let mid = tl.snapshot(&s, SimTime(90));
        assert_eq!(mid.status, Active);
        assert_eq!(mid.active_ms, 50);
        assert_eq!(mid.succeeded, 500);
        let end = tl.snapshot(&s, SimTime(1000));
        assert_eq!(end.status, Complete);
        assert_eq!(end.termination_date, Some(SimTime(145)));
        assert_eq!(end.succeeded, 1000);
        assert_eq!(end.active_ms, 100);
    }

    #[test]
    fn cancel_of_active_job_goes_through_cancelling_and_freezes_progress() {
        let s = script(false);
        let events = Events {
            confirmed_at: None,
            cancelled_at: Some(SimTime(60)),
        };
        let tl = Timeline::build(&s, events, TransitionRules::default());
        assert_eq!(tl.status_at(SimTime(62)), JobStatus::Cancelling);
        let end = tl.snapshot(&s, SimTime(1000));
        assert_eq!(end.status, JobStatus::Cancelled);
        assert_eq!(end.termination_date, Some(SimTime(65)));
        assert_eq!(end.active_ms, 30);
        assert_eq!(end.succeeded, 300);
    }

    #[test]
    fn pause_and_failure_follow_the_script() {
        let mut s = script(false);
        s.pause = Some(Pause {
            after_active_ms: 20,
            paused_ms: 40,
        });
        s.failure = Some(Failure {
            after_active_ms: 50,
            code: "X".into(),
            reason: "y".into(),
        });
        let tl = Timeline::build(&s, Events::default(), TransitionRules::default());
        use JobStatus::*;
        assert_eq!(
            statuses(&tl),
            [
                New, Preparing, Ready, Active, Pausing, Paused, Active, Failing, Failed
            ]
        );
        assert_eq!(tl.status_at(SimTime(52)), Pausing);
        assert_eq!(tl.status_at(SimTime(60)), Paused);
        let end = tl.snapshot(&s, SimTime(10_000));
        assert_eq!(end.status, Failed);
        assert_eq!(end.active_ms, 50);
        assert_eq!(end.succeeded, 500);
    }

    #[test]
    fn more_than_half_failed_after_a_thousand_tasks_fails_the_job() {
        let mut s = script(false);
        s.total_tasks = 10_000;
        s.task_failure_rate = 0.6;
        let failure = s.effective_failure().unwrap();
        assert_eq!(failure.code, TASK_FAILURE_THRESHOLD_CODE);
        // 1,000 of 10,000 tasks take a tenth of the 100 ms of active time.
        assert_eq!(failure.after_active_ms, 10);
        let tl = Timeline::build(&s, Events::default(), TransitionRules::default());
        use JobStatus::*;
        assert_eq!(
            statuses(&tl),
            [New, Preparing, Ready, Active, Failing, Failed]
        );
        let end = tl.snapshot(&s, SimTime(10_000));
        assert_eq!(end.status, Failed);
        assert_eq!(end.succeeded + end.failed, 1_000);
        assert_eq!(end.failed, 600);
        assert!(
            failure.reason.contains("1000 of 10000"),
            "{}",
            failure.reason
        );
    }

    #[test]
    fn the_threshold_needs_a_majority_and_a_thousand_tasks() {
        let mut s = script(false);
        s.total_tasks = 999;
        s.task_failure_rate = 0.9;
        assert_eq!(s.effective_failure(), None, "fewer than 1,000 tasks");
        s.total_tasks = 5_000;
        s.task_failure_rate = 0.5;
        assert_eq!(
            s.effective_failure(),
            None,
            "exactly half is not above half"
        );
        s.task_failure_rate = 0.501;
        assert!(s.effective_failure().is_some());
        // A seeded failure earlier than the threshold wins.
        s.failure = Some(Failure {
            after_active_ms: 1,
            code: "Seeded".into(),
            reason: "r".into(),
        });
        assert_eq!(s.effective_failure().unwrap().code, "Seeded");
        let tl = Timeline::build(&s, Events::default(), TransitionRules::default());
        let done = tl.snapshot(&s, SimTime(10_000));
        assert_eq!(done.status, JobStatus::Failed);
        assert!(done.succeeded + done.failed < 1_000);
    }

    #[test]
    fn progress_grows_with_active_time_and_failures_at_the_rate() {
        let mut s = script(false);
        s.total_tasks = 400;
        s.task_failure_rate = 0.25;
        let tl = Timeline::build(&s, Events::default(), TransitionRules::default());
        let mut last = (0, 0);
        // Active from 30 ms to 130 ms.
        for t in [30, 40, 60, 90, 129] {
            let snap = tl.snapshot(&s, SimTime(t));
            let attempted = snap.succeeded + snap.failed;
            assert_eq!(attempted, 400 * (t - 30) / 100, "at {t}");
            assert_eq!(snap.failed, (attempted as f64 * 0.25).round() as i64);
            assert!(attempted >= last.0 && snap.failed >= last.1);
            assert_eq!(snap.active_ms, t - 30);
            last = (attempted, snap.failed);
        }
        let end = tl.snapshot(&s, SimTime(1_000));
        assert_eq!((end.succeeded, end.failed), (300, 100));
    }

    #[test]
    fn decision_table_matches_the_documented_rows() {
        use Decision::*;
        use JobStatus::*;
        let r = TransitionRules::default();
        let rows = [
            (Suspended, Confirm, Cancel),
            (Active, Reject, Cancel),
            (New, Reject, Cancel),
            (Preparing, Reject, Cancel),
            (Ready, Reject, Cancel),
            (Pausing, Reject, Cancel),
            (Paused, Reject, Cancel),
            (Completing, Reject, Reject),
            (Cancelling, Reject, Reject),
            (Failing, Reject, Reject),
            (Complete, Reject, Reject),
            (Cancelled, Reject, Reject),
            (Failed, Reject, Reject),
        ];
        for (status, ready, cancel) in rows {
            assert_eq!(decide(status, RequestedStatus::Ready, r), ready, "{status}");
            assert_eq!(
                decide(status, RequestedStatus::Cancelled, r),
                cancel,
                "{status}"
            );
        }
        let lenient = TransitionRules {
            repeat_request: RepeatRequest::Accept,
            ..r
        };
        assert_eq!(decide(Ready, RequestedStatus::Ready, lenient), Unchanged);
        assert_eq!(
            decide(Cancelling, RequestedStatus::Cancelled, lenient),
            Unchanged
        );
    }

    #[test]
    fn cancel_before_start_rule_is_honoured() {
        let s = script(false);
        let events = Events {
            confirmed_at: None,
            cancelled_at: Some(SimTime(25)),
        };
        let strict = Timeline::build(&s, events, TransitionRules::default());
        assert_eq!(strict.status_at(SimTime(25)), JobStatus::Cancelled);
        let slow = Timeline::build(
            &s,
            events,
            TransitionRules {
                cancel_before_start: CancelBeforeStart::Cancelling,
                ..TransitionRules::default()
            },
        );
        assert_eq!(slow.status_at(SimTime(25)), JobStatus::Cancelling);
        assert_eq!(slow.status_at(SimTime(30)), JobStatus::Cancelled);
    }
}
