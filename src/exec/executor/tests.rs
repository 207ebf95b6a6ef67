//! The executor's unit tests: a job's life against the in-memory fake, every outcome and event.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::*;
use crate::api::fake::{FakeJobControl, Fault};
use crate::api::{AccountId, TargetStatus};
use crate::event::Event;
use crate::exec::journal::{Acknowledgement, Intent};
use crate::exec::{RunOptions, RunSummary, run};
use crate::report::{Reporter, ReporterSet};
use crate::resolved::{Gate, ResolvedJob, RunSettings, Target};

/// Keeps every event for the test to inspect.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Event>>>);

impl Reporter for Collect {
    fn name(&self) -> &str {
        "collect"
    }
    fn report(&mut self, event: &Event) -> std::io::Result<()> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}

struct Outcomes {
    summary: RunSummary,
    events: Vec<Event>,
}

impl Outcomes {
    fn record(&self, job: &str) -> JobRecord {
        let found: Vec<&JobRecord> = self
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::JobFinished(r) if r.job_id.as_str() == job => Some(&**r),
                _ => None,
            })
            .collect();
        assert_eq!(found.len(), 1, "exactly one JobFinished for {job}");
        found[0].clone()
    }

    fn count(&self, pred: impl Fn(&EventKind) -> bool) -> usize {
        self.events.iter().filter(|e| pred(&e.kind)).count()
    }
}

fn settings(mode: RunMode) -> RunSettings {
    RunSettings {
        concurrency: 8,
        rate_limit: 50.0,
        poll_rate_limit: 50.0,
        poll_interval: Duration::from_secs(5),
        mode,
    }
}

fn job(fake: &FakeJobControl, id: &str, status: JobStatus) -> ResolvedJob {
    let id = fake.add_job(id, status);
    ResolvedJob {
        target: 0,
        id,
        description: None,
        status_seen: status,
        priority_seen: 10,
        progress_seen: Default::default(),
    }
}

fn entry(name: &str, jobs: Vec<ResolvedJob>, target: Option<TargetStatus>) -> ResolvedEntry {
    ResolvedEntry {
        name: name.to_owned(),
        after: Vec::new(),
        jobs,
        gate: None,
        actions: crate::resolved::Action::from_parts(target, None),
        reason: Some("test".to_owned()),
    }
}

fn gate(subject: GateSubject, statuses: &[JobStatus], timeout_secs: u64) -> Option<Gate> {
    Some(Gate {
        subject,
        statuses: statuses.to_vec(),
        timeout: Duration::from_secs(timeout_secs),
        tasks: None,
    })
}

async fn run_with(
    fake: &Arc<FakeJobControl>,
    settings: RunSettings,
    entries: Vec<ResolvedEntry>,
    cancel: CancellationToken,
) -> Outcomes {
    let plan = ResolvedPlan {
        targets: vec![Target {
            name: None,
            account_id: AccountId::parse("111122223333").unwrap(),
            region: "us-east-1".to_owned(),
            endpoint: None,
        }],
        settings,
        entries,
    };
    let collect = Collect::default();
    let mut reporters = ReporterSet::new();
    reporters.add(collect.clone());
    let summary = run(
        plan,
        vec![fake.clone()],
        reporters,
        cancel,
        RunOptions::default(),
    )
    .await;
    let events = collect.0.lock().unwrap().clone();
    Outcomes { summary, events }
}

async fn run_plan(
    fake: &Arc<FakeJobControl>,
    mode: RunMode,
    entries: Vec<ResolvedEntry>,
) -> Outcomes {
    run_with(fake, settings(mode), entries, CancellationToken::new()).await
}

/// A 2xx answer whose body cannot be read may hide a change that was made: the job is read again and
/// judged, never reported failed while it is at its target (nor applied while it is not).
#[tokio::test(start_paused = true)]
async fn regression_an_unreadable_answer_to_a_change_is_rechecked_with_describejob() {
    let fake = Arc::new(FakeJobControl::new());
    let status = job(&fake, "garbled-status", JobStatus::Suspended);
    let priority = job(&fake, "garbled-priority", JobStatus::Active);
    fake.fail_next(ApiCall::UpdateJobStatus, 1, Fault::Unreadable);
    fake.fail_next(ApiCall::UpdateJobPriority, 1, Fault::Unreadable);
    let confirm = entry("confirm", vec![status], Some(TargetStatus::Ready));
    let mut reprioritize = entry("priority", vec![priority], None);
    reprioritize
        .actions
        .push(crate::resolved::Action::SetPriority(77));
    let out = run_plan(&fake, RunMode::Apply, vec![confirm, reprioritize]).await;
    for id in ["garbled-status", "garbled-priority"] {
        let record = out.record(id);
        assert_eq!(
            record.outcome,
            Outcome::Applied,
            "{id}: {:?}",
            record.reason
        );
        assert!(
            record
                .reason
                .as_deref()
                .unwrap_or_default()
                .contains("unreadable"),
            "{id}: {:?}",
            record.reason
        );
    }
    assert_eq!(fake.calls(ApiCall::DescribeJob), 2, "one re-check each");
    assert_eq!(fake.mutations(), 2, "nothing sent twice");
}

#[tokio::test(start_paused = true)]
async fn targets_are_judged_before_any_call() {
    let fake = Arc::new(FakeJobControl::new());
    let cancels = vec![
        job(&fake, "cancel-suspended", JobStatus::Suspended),
        job(&fake, "cancel-active", JobStatus::Active),
        job(&fake, "cancel-cancelled", JobStatus::Cancelled),
        job(&fake, "cancel-cancelling", JobStatus::Cancelling),
        job(&fake, "cancel-complete", JobStatus::Complete),
    ];
    let confirms = vec![
        job(&fake, "confirm-suspended", JobStatus::Suspended),
        job(&fake, "confirm-active", JobStatus::Active),
        job(&fake, "confirm-cancelled", JobStatus::Cancelled),
        job(&fake, "confirm-preparing", JobStatus::Preparing),
    ];
    let out = run_plan(
        &fake,
        RunMode::Apply,
        vec![
            entry("cancel", cancels, Some(TargetStatus::Cancelled)),
            entry("confirm", confirms, Some(TargetStatus::Ready)),
        ],
    )
    .await;
    for (id, outcome, after, calls) in [
        (
            "cancel-suspended",
            Outcome::Applied,
            Some(JobStatus::Cancelled),
            1,
        ),
        (
            "cancel-active",
            Outcome::Applied,
            Some(JobStatus::Cancelling),
            1,
        ),
        (
            "cancel-cancelled",
            Outcome::Unchanged,
            Some(JobStatus::Cancelled),
            0,
        ),
        (
            "cancel-cancelling",
            Outcome::Unchanged,
            Some(JobStatus::Cancelling),
            0,
        ),
        (
            "cancel-complete",
            Outcome::Skipped,
            Some(JobStatus::Complete),
            0,
        ),
        (
            "confirm-suspended",
            Outcome::Applied,
            Some(JobStatus::Ready),
            1,
        ),
        (
            "confirm-active",
            Outcome::Unchanged,
            Some(JobStatus::Active),
            0,
        ),
        (
            "confirm-cancelled",
            Outcome::Skipped,
            Some(JobStatus::Cancelled),
            0,
        ),
        ("confirm-preparing", Outcome::Failed, None, 0),
    ] {
        let record = out.record(id);
        assert_eq!(record.outcome, outcome, "{id}: {:?}", record.reason);
        assert_eq!(record.status_after, after, "{id}");
        assert_eq!(record.attempts, calls, "{id}");
        let job = JobId::parse(id).unwrap();
        assert_eq!(
            u32::try_from(fake.job_calls(&job, ApiCall::UpdateJobStatus)).unwrap(),
            calls,
            "{id}"
        );
    }
    assert!(out.record("cancel-active").request_id.is_some());
    assert_eq!(out.summary.count(Outcome::Applied), 3);
    assert_eq!(out.summary.exit_code(), crate::errors::EXIT_JOBS_FAILED);
}

#[tokio::test(start_paused = true)]
async fn a_stale_refusal_is_read_again_before_failing() {
    let fake = Arc::new(FakeJobControl::new());
    // Resolution saw `Preparing`; the job has become `Suspended` since.
    let stale = job(&fake, "stale-job", JobStatus::Suspended);
    let stale = ResolvedJob {
        status_seen: JobStatus::Preparing,
        ..stale
    };
    let out = run_plan(
        &fake,
        RunMode::Apply,
        vec![entry("e", vec![stale], Some(TargetStatus::Ready))],
    )
    .await;
    let record = out.record("stale-job");
    assert_eq!(record.outcome, Outcome::Applied, "{:?}", record.reason);
    assert_eq!(record.status_before, Some(JobStatus::Suspended));
    assert_eq!(fake.calls(ApiCall::DescribeJob), 1);
}

#[tokio::test(start_paused = true)]
async fn a_missing_job_fails_with_the_aws_code() {
    let fake = Arc::new(FakeJobControl::new());
    let ghost = ResolvedJob {
        target: 0,
        id: JobId::parse("ghost-job").unwrap(),
        description: None,
        status_seen: JobStatus::Active,
        priority_seen: 1,
        progress_seen: Default::default(),
    };
    let out = run_plan(
        &fake,
        RunMode::Apply,
        vec![entry("e", vec![ghost], Some(TargetStatus::Cancelled))],
    )
    .await;
    let record = out.record("ghost-job");
    assert_eq!(record.outcome, Outcome::Failed);
    assert_eq!(record.attempts, 1, "NotFound is not retried");
    assert_eq!(record.error.unwrap().code, "NotFoundException");
    assert!(record.request_id.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_makes_no_mutating_call() {
    let fake = Arc::new(FakeJobControl::new());
    let jobs = vec![
        job(&fake, "dry-active", JobStatus::Active),
        job(&fake, "dry-cancelled", JobStatus::Cancelled),
    ];
    let mut e = entry("e", jobs, Some(TargetStatus::Cancelled));
    e.actions
        .insert(0, crate::resolved::Action::SetPriority(99));
    let out = run_plan(&fake, RunMode::DryRun, vec![e]).await;
    assert_eq!(fake.mutations(), 0);
    assert_eq!(out.record("dry-active").outcome, Outcome::WouldApply);
    assert_eq!(out.record("dry-cancelled").outcome, Outcome::Unchanged);
    assert_eq!(out.summary.exit_code(), crate::errors::EXIT_OK);
}

#[tokio::test(start_paused = true)]
async fn priority_changes_go_beside_or_without_a_status() {
    let fake = Arc::new(FakeJobControl::new());
    let mut only = entry(
        "only",
        vec![job(&fake, "prio-only", JobStatus::Active)],
        None,
    );
    only.actions
        .insert(0, crate::resolved::Action::SetPriority(42));
    let mut both = entry(
        "both",
        vec![job(&fake, "prio-both", JobStatus::Suspended)],
        Some(TargetStatus::Ready),
    );
    both.actions
        .insert(0, crate::resolved::Action::SetPriority(7));
    let mut same = entry(
        "same",
        vec![job(&fake, "prio-same", JobStatus::Active)],
        None,
    );
    same.actions
        .insert(0, crate::resolved::Action::SetPriority(10));
    let out = run_plan(&fake, RunMode::Apply, vec![only, both, same]).await;
    assert_eq!(out.record("prio-only").outcome, Outcome::Applied);
    assert_eq!(fake.priority(&JobId::parse("prio-only").unwrap()), Some(42));
    let both = out.record("prio-both");
    assert_eq!(both.outcome, Outcome::Applied);
    assert_eq!(both.attempts, 2);
    assert_eq!(
        fake.status(&JobId::parse("prio-both").unwrap()),
        Some(JobStatus::Ready)
    );
    assert_eq!(out.record("prio-same").outcome, Outcome::Unchanged);
    assert_eq!(fake.calls(ApiCall::UpdateJobPriority), 2);
}

#[tokio::test(start_paused = true)]
async fn own_status_gates_hold_time_out_or_become_unreachable() {
    let fake = Arc::new(FakeJobControl::new());
    let met = job(&fake, "gate-met", JobStatus::Preparing);
    fake.schedule_status(&met.id, Duration::from_secs(30), JobStatus::Suspended);
    let late = job(&fake, "gate-late", JobStatus::Preparing);
    let past = job(&fake, "gate-past", JobStatus::Cancelled);
    let done = job(&fake, "gate-done", JobStatus::Active);
    let mut e = entry("e", vec![met, late, past, done], Some(TargetStatus::Ready));
    e.gate = gate(GateSubject::OwnStatus, &[JobStatus::Suspended], 120);
    let out = run_plan(&fake, RunMode::Apply, vec![e]).await;

    let met = out.record("gate-met");
    assert_eq!(met.outcome, Outcome::Applied, "{:?}", met.reason);
    assert_eq!(met.status_before, Some(JobStatus::Suspended));
    assert!(
        met.waited >= Duration::from_secs(30) && met.waited <= Duration::from_secs(36),
        "{:?}",
        met.waited
    );

    let late = out.record("gate-late");
    assert_eq!(late.outcome, Outcome::TimedOut);
    assert_eq!(late.waited, Duration::from_secs(120));

    let past = out.record("gate-past");
    assert_eq!(past.outcome, Outcome::Failed);
    assert!(
        past.reason
            .as_deref()
            .unwrap()
            .contains("can no longer become Suspended"),
        "{:?}",
        past.reason
    );
    assert!(
        past.waited < Duration::from_secs(1),
        "fails at once: {:?}",
        past.waited
    );

    // Already past the target (a rerun after an earlier run confirmed it): unchanged, no gate, no call.
    let done = out.record("gate-done");
    assert_eq!(done.outcome, Outcome::Unchanged, "{:?}", done.reason);
    assert_eq!(done.waited, Duration::ZERO);
    assert_eq!(fake.mutations(), 1);
}

#[tokio::test(start_paused = true)]
async fn other_job_gates_wait_for_that_job() {
    let fake = Arc::new(FakeJobControl::new());
    let watched = fake.add_job("upstream", JobStatus::Active);
    fake.schedule_status(&watched, Duration::from_secs(60), JobStatus::Complete);
    let doomed = fake.add_job("upstream-bad", JobStatus::Active);
    fake.schedule_status(&doomed, Duration::from_secs(20), JobStatus::Failed);
    let mut go = entry(
        "go",
        vec![
            job(&fake, "down-a", JobStatus::Suspended),
            job(&fake, "down-b", JobStatus::Suspended),
        ],
        Some(TargetStatus::Ready),
    );
    go.gate = gate(
        GateSubject::OtherJob {
            target: 0,
            job: watched,
        },
        &[JobStatus::Complete],
        600,
    );
    let mut stop = entry(
        "stop",
        vec![job(&fake, "down-c", JobStatus::Suspended)],
        Some(TargetStatus::Ready),
    );
    stop.gate = gate(
        GateSubject::OtherJob {
            target: 0,
            job: doomed,
        },
        &[JobStatus::Complete],
        600,
    );
    let out = run_plan(&fake, RunMode::Apply, vec![go, stop]).await;
    for id in ["down-a", "down-b"] {
        let record = out.record(id);
        assert_eq!(record.outcome, Outcome::Applied);
        assert!(
            record.waited >= Duration::from_secs(60) && record.waited <= Duration::from_secs(66)
        );
    }
    let stopped = out.record("down-c");
    assert_eq!(stopped.outcome, Outcome::Failed);
    assert!(
        stopped
            .reason
            .as_deref()
            .unwrap()
            .contains("job upstream-bad"),
        "{:?}",
        stopped.reason
    );
    assert!(stopped.waited <= Duration::from_secs(26));
}

#[tokio::test(start_paused = true)]
async fn an_after_entry_starts_only_once_its_predecessor_succeeded() {
    let fake = Arc::new(FakeJobControl::new());
    let first = entry(
        "first",
        vec![job(&fake, "chain-1", JobStatus::Suspended)],
        Some(TargetStatus::Ready),
    );
    let mut second = entry(
        "second",
        vec![job(&fake, "chain-2", JobStatus::Suspended)],
        Some(TargetStatus::Ready),
    );
    second.after = vec![0];
    let out = run_plan(&fake, RunMode::Apply, vec![first, second]).await;
    assert_eq!(out.record("chain-1").outcome, Outcome::Applied);
    assert_eq!(out.record("chain-2").outcome, Outcome::Applied);
    let position =
        |pred: &dyn Fn(&EventKind) -> bool| out.events.iter().position(|e| pred(&e.kind)).unwrap();
    let first_done = position(&|k| {
        matches!(
            k,
            EventKind::EntryFinished {
                entry: 0,
                succeeded: true
            }
        )
    });
    let second_start = position(&|k| matches!(k, EventKind::EntryStarted { entry: 1 }));
    assert!(first_done < second_start);
    assert_eq!(
        out.count(|k| matches!(k, EventKind::EntryFinished { .. })),
        2
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_entry_skips_every_entry_after_it_even_transitively() {
    let fake = Arc::new(FakeJobControl::new());
    // A succeeding predecessor beside the failed one: one good `after` does not unblock an entry.
    let first = entry(
        "first",
        vec![job(&fake, "chain-1", JobStatus::Suspended)],
        Some(TargetStatus::Ready),
    );
    let ghost = ResolvedJob {
        target: 0,
        id: JobId::parse("chain-ghost").unwrap(),
        description: None,
        status_seen: JobStatus::Suspended,
        priority_seen: 1,
        progress_seen: Default::default(),
    };
    let broken = entry("broken", vec![ghost], Some(TargetStatus::Ready));
    let mut blocked = entry(
        "blocked",
        vec![job(&fake, "chain-3", JobStatus::Suspended)],
        Some(TargetStatus::Ready),
    );
    blocked.after = vec![1];
    let mut transitively = entry(
        "transitively",
        vec![job(&fake, "chain-4", JobStatus::Suspended)],
        Some(TargetStatus::Ready),
    );
    transitively.after = vec![2, 0];
    let out = run_plan(
        &fake,
        RunMode::Apply,
        vec![first, broken, blocked, transitively],
    )
    .await;
    assert_eq!(out.record("chain-1").outcome, Outcome::Applied);
    assert_eq!(out.record("chain-ghost").outcome, Outcome::Failed);
    let blocked = out.record("chain-3");
    assert_eq!(blocked.outcome, Outcome::NotRun);
    assert!(blocked.reason.unwrap().contains("`broken`"));
    assert_eq!(out.record("chain-4").outcome, Outcome::NotRun);
    assert_eq!(
        fake.job_calls(&JobId::parse("chain-3").unwrap(), ApiCall::UpdateJobStatus),
        0
    );
    assert_eq!(
        out.count(|k| matches!(k, EventKind::EntryFinished { .. })),
        4
    );
}

#[tokio::test(start_paused = true)]
async fn status_conflicts_are_rechecked_before_they_are_reported() {
    let fake = Arc::new(FakeJobControl::new());
    let raced = job(&fake, "race-cancelled", JobStatus::Active);
    fake.race_before_update(&raced.id, JobStatus::Cancelled);
    let finished = job(&fake, "race-complete", JobStatus::Active);
    fake.race_before_update(&finished.id, JobStatus::Complete);
    let confirmed = job(&fake, "race-confirm", JobStatus::Suspended);
    fake.race_before_update(&confirmed.id, JobStatus::Ready);
    let out = run_plan(
        &fake,
        RunMode::Apply,
        vec![
            entry(
                "cancel",
                vec![raced, finished],
                Some(TargetStatus::Cancelled),
            ),
            entry("confirm", vec![confirmed], Some(TargetStatus::Ready)),
        ],
    )
    .await;
    assert_eq!(out.record("race-cancelled").outcome, Outcome::Unchanged);
    assert_eq!(out.record("race-complete").outcome, Outcome::Skipped);
    assert_eq!(out.record("race-confirm").outcome, Outcome::Unchanged);
    assert_eq!(
        out.record("race-complete").status_after,
        Some(JobStatus::Complete)
    );
    assert_eq!(
        fake.calls(ApiCall::DescribeJob),
        3,
        "one re-check per conflict"
    );
}

#[tokio::test(start_paused = true)]
async fn transient_failures_retry_with_counted_attempts() {
    let fake = Arc::new(FakeJobControl::new());
    let flaky = job(&fake, "flaky-job", JobStatus::Active);
    fake.fail_next(ApiCall::UpdateJobStatus, 2, Fault::ServerError);
    let out = run_plan(
        &fake,
        RunMode::Apply,
        vec![entry("e", vec![flaky], Some(TargetStatus::Cancelled))],
    )
    .await;
    let record = out.record("flaky-job");
    assert_eq!(record.outcome, Outcome::Applied);
    assert_eq!(record.attempts, 3);
    assert_eq!(
        out.count(|k| matches!(k, EventKind::Retrying { attempt: 1 | 2, .. })),
        2
    );
    assert_eq!(
        out.count(|k| matches!(
            k,
            EventKind::AttemptStarted {
                call: ApiCall::UpdateJobStatus,
                ..
            }
        )),
        3
    );

    let fake = Arc::new(FakeJobControl::new());
    let denied = job(&fake, "denied-job", JobStatus::Active);
    fake.fail_next(ApiCall::UpdateJobStatus, 1, Fault::AccessDenied);
    let out = run_plan(
        &fake,
        RunMode::Apply,
        vec![entry("e", vec![denied], Some(TargetStatus::Cancelled))],
    )
    .await;
    let record = out.record("denied-job");
    assert_eq!(record.outcome, Outcome::Failed);
    assert_eq!(record.attempts, 1);
    assert_eq!(record.error.unwrap().code, "AccessDenied");

    let fake = Arc::new(FakeJobControl::new());
    let down = job(&fake, "down-job", JobStatus::Active);
    fake.fail_next(ApiCall::UpdateJobStatus, 100, Fault::Connection);
    let out = run_plan(
        &fake,
        RunMode::Apply,
        vec![entry("e", vec![down], Some(TargetStatus::Cancelled))],
    )
    .await;
    let record = out.record("down-job");
    assert_eq!(record.outcome, Outcome::Failed);
    assert_eq!(record.attempts, RetryPolicy::default().max_attempts);
    assert_eq!(
        fake.calls(ApiCall::UpdateJobStatus),
        u64::from(RetryPolicy::default().max_attempts)
    );
}

#[tokio::test(start_paused = true)]
async fn a_job_walks_its_states_as_events() {
    let fake = Arc::new(FakeJobControl::new());
    let one = job(&fake, "walk-job", JobStatus::Preparing);
    fake.schedule_status(&one.id, Duration::from_secs(3), JobStatus::Suspended);
    fake.fail_next(ApiCall::UpdateJobStatus, 1, Fault::Throttle);
    let mut e = entry("e", vec![one], Some(TargetStatus::Ready));
    e.gate = gate(GateSubject::OwnStatus, &[JobStatus::Suspended], 60);
    let out = run_plan(&fake, RunMode::Apply, vec![e]).await;
    let names: Vec<String> = out
        .events
        .iter()
        .map(|e| match &e.kind {
            EventKind::RunStarted(_) => "RunStarted".to_owned(),
            EventKind::EntryStarted { .. } => "EntryStarted".to_owned(),
            EventKind::JobWaiting { .. } => "JobWaiting".to_owned(),
            EventKind::GatePolled { listed, .. } => format!("GatePolled(listed={listed})"),
            EventKind::JobApplying { status, .. } => format!("JobApplying({status})"),
            EventKind::AttemptStarted { call, attempt, .. } => {
                format!("AttemptStarted({call}, {attempt})")
            }
            EventKind::Retrying {
                call,
                attempt,
                error,
                ..
            } => {
                format!("Retrying({call}, {attempt}, {:?})", error.kind)
            }
            EventKind::Throttled { call, .. } => format!("Throttled({call})"),
            EventKind::JobFinished(r) => format!("JobFinished({})", r.outcome),
            EventKind::EntryFinished { succeeded, .. } => format!("EntryFinished({succeeded})"),
            EventKind::RunFinished { interrupted } => format!("RunFinished({interrupted})"),
        })
        .collect();
    assert_eq!(
        names,
        [
            "RunStarted",
            "EntryStarted",
            "JobWaiting",
            "AttemptStarted(DescribeJob, 1)",
            "GatePolled(listed=false)",
            "AttemptStarted(DescribeJob, 1)",
            "GatePolled(listed=false)",
            "JobApplying(Suspended)",
            "AttemptStarted(UpdateJobStatus, 1)",
            "Throttled(UpdateJobStatus)",
            "Retrying(UpdateJobStatus, 1, Throttled)",
            "AttemptStarted(UpdateJobStatus, 2)",
            "JobFinished(applied)",
            "EntryFinished(true)",
            "RunFinished(false)",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_meeting_a_conflict_counts_as_applied() {
    let fake = Arc::new(FakeJobControl::new());
    let lost = job(&fake, "lost-answer", JobStatus::Active);
    // The first answer is lost (timeout), but the server had applied it: the retry meets a conflict.
    fake.fail_next(ApiCall::UpdateJobStatus, 1, Fault::Timeout);
    fake.race_before_update(&lost.id, JobStatus::Cancelling);
    let out = run_plan(
        &fake,
        RunMode::Apply,
        vec![entry("e", vec![lost], Some(TargetStatus::Cancelled))],
    )
    .await;
    let record = out.record("lost-answer");
    assert_eq!(record.outcome, Outcome::Applied, "{:?}", record.reason);
    assert_eq!(record.attempts, 2);
}

use crate::exec::retry::RetryPolicy;

#[tokio::test(start_paused = true)]
async fn the_concurrency_cap_is_never_exceeded() {
    let fake = Arc::new(FakeJobControl::new().with_latency(Duration::from_millis(200)));
    let jobs: Vec<ResolvedJob> = (0..100)
        .map(|i| job(&fake, &format!("cap-{i:03}"), JobStatus::Active))
        .collect();
    let mut s = settings(RunMode::Apply);
    s.concurrency = 5;
    s.rate_limit = 1000.0;
    let out = run_with(
        &fake,
        s,
        vec![entry("e", jobs, Some(TargetStatus::Cancelled))],
        CancellationToken::new(),
    )
    .await;
    assert_eq!(out.summary.count(Outcome::Applied), 100);
    assert_eq!(fake.max_in_flight_mutations(), 5);
}

#[tokio::test(start_paused = true)]
async fn throttling_slows_the_whole_plan_to_the_server_rate() {
    let fake = Arc::new(FakeJobControl::new().with_latency(Duration::from_millis(20)));
    fake.limit_rate(ApiCall::UpdateJobStatus, 100.0, 20.0);
    let jobs: Vec<ResolvedJob> = (0..2000)
        .map(|i| job(&fake, &format!("thr-{i:04}"), JobStatus::Active))
        .collect();
    let mut s = settings(RunMode::Apply);
    s.concurrency = 64;
    s.rate_limit = 1000.0;
    let start = tokio::time::Instant::now();
    let out = run_with(
        &fake,
        s,
        vec![entry("e", jobs, Some(TargetStatus::Cancelled))],
        CancellationToken::new(),
    )
    .await;
    let wall = start.elapsed().as_secs_f64();
    assert_eq!(out.summary.count(Outcome::Applied), 2000);
    let calls = fake.calls(ApiCall::UpdateJobStatus) as f64;
    let throttled = fake.throttled() as f64;
    let goodput = 2000.0 / wall;
    assert!(
        throttled / calls <= 0.10,
        "throttled {throttled} of {calls}"
    );
    assert!(goodput >= 90.0, "goodput {goodput:.1}/s over {wall:.1}s");
    assert!(out.summary.throttle_events >= 1);
}

#[tokio::test(start_paused = true)]
async fn a_plan_runs_at_its_rate_limit_and_no_faster() {
    let fake = Arc::new(FakeJobControl::new().with_latency(Duration::from_millis(30)));
    let jobs: Vec<ResolvedJob> = (0..2000)
        .map(|i| job(&fake, &format!("rate-{i:04}"), JobStatus::Active))
        .collect();
    let mut s = settings(RunMode::Apply);
    s.concurrency = 32;
    s.rate_limit = 200.0;
    let start = tokio::time::Instant::now();
    let out = run_with(
        &fake,
        s,
        vec![entry("e", jobs, Some(TargetStatus::Cancelled))],
        CancellationToken::new(),
    )
    .await;
    let wall = start.elapsed();
    assert_eq!(out.summary.count(Outcome::Applied), 2000);
    assert!(wall <= Duration::from_secs_f64(10.0 * 1.05), "{wall:?}");
    let times = fake.mutation_times();
    let most_in_a_second = (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| t.duration_since(times[i]) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap();
    assert!(
        most_in_a_second <= 220,
        "{most_in_a_second} calls in one second"
    );
}

#[tokio::test(start_paused = true)]
async fn many_waiting_jobs_share_listjobs_rounds() {
    let fake = Arc::new(FakeJobControl::new());
    let jobs: Vec<ResolvedJob> = (0..3000)
        .map(|i| {
            let job = job(&fake, &format!("wait-{i:04}"), JobStatus::Preparing);
            fake.schedule_status(
                &job.id,
                Duration::from_secs(10 + (i % 120)),
                JobStatus::Suspended,
            );
            job
        })
        .collect();
    let mut s = settings(RunMode::Apply);
    s.rate_limit = 1000.0;
    s.concurrency = 64;
    let mut e = entry("e", jobs, Some(TargetStatus::Ready));
    e.gate = gate(GateSubject::OwnStatus, &[JobStatus::Suspended], 3600);
    let out = run_with(&fake, s, vec![e], CancellationToken::new()).await;
    assert_eq!(out.summary.count(Outcome::Applied), 3000);
    let rounds = out.count(|k| matches!(k, EventKind::GatePolled { listed: true, .. }));
    assert!((20..=30).contains(&rounds), "{rounds} rounds");
    // Reads per round grow with pages (3 of 1,000), not with the 3,000 jobs.
    assert!(
        fake.calls(ApiCall::ListJobs) <= 4 * rounds as u64,
        "{}",
        fake.calls(ApiCall::ListJobs)
    );
    assert_eq!(fake.calls(ApiCall::DescribeJob), 0);
    for i in [0_u64, 1, 59, 119, 2999] {
        let record = out.record(&format!("wait-{i:04}"));
        let held = Duration::from_secs(10 + (i % 120));
        assert!(
            record.waited <= held + Duration::from_secs(6),
            "wait-{i}: {:?} vs {held:?}",
            record.waited
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_interruption_stops_new_work_and_reports_every_job() {
    let fake = Arc::new(FakeJobControl::new());
    let mut waiting = entry(
        "waiting",
        vec![job(&fake, "int-wait", JobStatus::Preparing)],
        Some(TargetStatus::Ready),
    );
    waiting.gate = gate(GateSubject::OwnStatus, &[JobStatus::Suspended], 3600);
    let mut later = entry(
        "later",
        vec![job(&fake, "int-later", JobStatus::Suspended)],
        Some(TargetStatus::Ready),
    );
    later.after = vec![0];
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        trigger.cancel();
    });
    let out = run_with(
        &fake,
        settings(RunMode::Apply),
        vec![waiting, later],
        cancel,
    )
    .await;
    assert!(out.summary.interrupted);
    assert_eq!(out.summary.exit_code(), crate::errors::EXIT_INTERRUPTED);
    assert_eq!(out.record("int-wait").outcome, Outcome::NotRun);
    assert_eq!(out.record("int-later").outcome, Outcome::NotRun);
    assert_eq!(fake.mutations(), 0);
    assert!(matches!(
        out.events.last().unwrap().kind,
        EventKind::RunFinished { interrupted: true }
    ));
}

#[tokio::test(start_paused = true)]
async fn in_flight_calls_get_a_bounded_grace_period() {
    // Every call takes a minute: longer than the grace period after the interruption.
    let fake = Arc::new(FakeJobControl::new().with_latency(Duration::from_secs(60)));
    let jobs = vec![
        job(&fake, "slow-1", JobStatus::Active),
        job(&fake, "slow-2", JobStatus::Active),
    ];
    let mut s = settings(RunMode::Apply);
    s.concurrency = 1;
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        trigger.cancel();
    });
    let start = tokio::time::Instant::now();
    let out = run_with(
        &fake,
        s,
        vec![entry("e", jobs, Some(TargetStatus::Cancelled))],
        cancel,
    )
    .await;
    let elapsed = start.elapsed();
    assert!(
        elapsed <= Duration::from_secs(12),
        "grace bounds the stop: {elapsed:?}"
    );
    let in_flight = out.record("slow-1");
    assert_eq!(in_flight.outcome, Outcome::Failed);
    assert!(
        in_flight
            .reason
            .unwrap()
            .contains("after its call was sent")
    );
    assert_eq!(out.record("slow-2").outcome, Outcome::NotRun);
    assert_eq!(out.summary.exit_code(), crate::errors::EXIT_INTERRUPTED);
}

#[tokio::test(start_paused = true)]
async fn abort_ends_the_grace_period_at_once() {
    let fake = Arc::new(FakeJobControl::new().with_latency(Duration::from_secs(60)));
    let mut s = settings(RunMode::Apply);
    s.concurrency = 1;
    let plan = ResolvedPlan {
        targets: vec![Target {
            name: None,
            account_id: AccountId::parse("111122223333").unwrap(),
            region: "us-east-1".to_owned(),
            endpoint: None,
        }],
        settings: s,
        entries: vec![entry(
            "e",
            vec![job(&fake, "abort-1", JobStatus::Active)],
            Some(TargetStatus::Cancelled),
        )],
    };
    let options = RunOptions::default();
    let abort = options.abort.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        abort.cancel();
    });
    let collect = Collect::default();
    let mut reporters = ReporterSet::new();
    reporters.add(collect.clone());
    let start = tokio::time::Instant::now();
    let summary = run(
        plan,
        vec![fake],
        reporters,
        CancellationToken::new(),
        options,
    )
    .await;
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(summary.interrupted);
    assert_eq!(
        summary.count(Outcome::Failed),
        1,
        "the cancel was sent; its effect is unknown"
    );
}

#[tokio::test(start_paused = true)]
async fn few_waiting_jobs_are_polled_with_describejob() {
    let fake = Arc::new(FakeJobControl::new());
    let lone = job(&fake, "lone-waiter", JobStatus::Preparing);
    fake.schedule_status(&lone.id, Duration::from_secs(12), JobStatus::Suspended);
    let mut e = entry("e", vec![lone], Some(TargetStatus::Ready));
    e.gate = gate(GateSubject::OwnStatus, &[JobStatus::Suspended], 600);
    let out = run_plan(&fake, RunMode::Apply, vec![e]).await;
    assert_eq!(out.record("lone-waiter").outcome, Outcome::Applied);
    assert_eq!(fake.calls(ApiCall::ListJobs), 0);
    // Polls at about 0, 5, 10 and 15 seconds.
    assert_eq!(fake.calls(ApiCall::DescribeJob), 4);
}

/// Checks, at each intent, that the server has not yet seen that attempt.
struct Witness {
    fake: Arc<FakeJobControl>,
    intents: Mutex<Vec<(String, u32)>>,
    acks: Mutex<u32>,
}

impl Journal for Witness {
    fn intent<'a>(
        &'a self,
        intent: &'a Intent,
    ) -> futures::future::BoxFuture<'a, Result<(), crate::exec::journal::JournalError>> {
        let seen = self.fake.job_calls(&intent.job, intent.call);
        assert_eq!(
            seen,
            u64::from(intent.attempt) - 1,
            "intent recorded before the request"
        );
        self.intents
            .lock()
            .unwrap()
            .push((intent.job.to_string(), intent.attempt));
        Box::pin(async { Ok(()) })
    }
    fn acknowledge<'a>(
        &'a self,
        _ack: &'a Acknowledgement,
    ) -> futures::future::BoxFuture<'a, Result<(), crate::exec::journal::JournalError>> {
        *self.acks.lock().unwrap() += 1;
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test(start_paused = true)]
async fn every_mutating_attempt_is_journaled_before_it_is_sent() {
    let fake = Arc::new(FakeJobControl::new());
    let jobs = vec![
        job(&fake, "wal-1", JobStatus::Active),
        job(&fake, "wal-2", JobStatus::Suspended),
    ];
    fake.fail_next(ApiCall::UpdateJobStatus, 2, Fault::Throttle);
    let witness = Arc::new(Witness {
        fake: fake.clone(),
        intents: Mutex::new(Vec::new()),
        acks: Mutex::new(0),
    });
    let plan = ResolvedPlan {
        targets: vec![Target {
            name: None,
            account_id: AccountId::parse("111122223333").unwrap(),
            region: "us-east-1".to_owned(),
            endpoint: None,
        }],
        settings: settings(RunMode::Apply),
        entries: vec![entry("e", jobs, Some(TargetStatus::Cancelled))],
    };
    let options = RunOptions {
        journal: witness.clone(),
        ..RunOptions::default()
    };
    let summary = run(
        plan,
        vec![fake.clone()],
        ReporterSet::new(),
        CancellationToken::new(),
        options,
    )
    .await;
    assert_eq!(summary.count(Outcome::Applied), 2);
    let intents = witness.intents.lock().unwrap().len() as u64;
    assert_eq!(intents, fake.calls(ApiCall::UpdateJobStatus));
    assert_eq!(intents, 4, "two jobs, two throttled attempts");
    assert_eq!(u64::from(*witness.acks.lock().unwrap()), intents);
}

#[derive(Clone, Default)]
struct Ticks(Arc<Mutex<u32>>);

impl Reporter for Ticks {
    fn name(&self) -> &str {
        "ticks"
    }
    fn report(&mut self, _event: &Event) -> std::io::Result<()> {
        Ok(())
    }
    fn tick(&mut self, _elapsed: Duration) -> std::io::Result<()> {
        *self.0.lock().unwrap() += 1;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn reporters_tick_between_events() {
    let fake = Arc::new(FakeJobControl::new());
    let slow = job(&fake, "tick-job", JobStatus::Preparing);
    fake.schedule_status(&slow.id, Duration::from_secs(10), JobStatus::Suspended);
    let mut e = entry("e", vec![slow], Some(TargetStatus::Ready));
    e.gate = gate(GateSubject::OwnStatus, &[JobStatus::Suspended], 600);
    let plan = ResolvedPlan {
        targets: vec![Target {
            name: None,
            account_id: AccountId::parse("111122223333").unwrap(),
            region: "us-east-1".to_owned(),
            endpoint: None,
        }],
        settings: settings(RunMode::Apply),
        entries: vec![e],
    };
    let ticks = Ticks::default();
    let mut reporters = ReporterSet::new();
    reporters.add(ticks.clone());
    let summary = run(
        plan,
        vec![fake],
        reporters,
        CancellationToken::new(),
        RunOptions::default(),
    )
    .await;
    assert_eq!(summary.count(Outcome::Applied), 1);
    // About 10 s of waiting at one tick per 200 ms.
    let count = *ticks.0.lock().unwrap();
    assert!((45..=80).contains(&count), "{count} ticks");
}

/// Fails on its first job event.
struct Broken;

impl Reporter for Broken {
    fn name(&self) -> &str {
        "broken"
    }
    fn report(&mut self, event: &Event) -> std::io::Result<()> {
        match event.kind {
            EventKind::JobFinished(_) => Err(std::io::Error::other("disk full")),
            _ => Ok(()),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_reporter_cancels_the_run_but_reporting_goes_on() {
    let fake = Arc::new(FakeJobControl::new());
    let first = entry(
        "first",
        vec![job(&fake, "rep-1", JobStatus::Suspended)],
        Some(TargetStatus::Ready),
    );
    // The second job waits on a gate that never holds, so it is still waiting when the reporter fails.
    let mut second = entry(
        "second",
        vec![job(&fake, "rep-2", JobStatus::Preparing)],
        Some(TargetStatus::Ready),
    );
    second.gate = gate(GateSubject::OwnStatus, &[JobStatus::Suspended], 3600);
    let plan = ResolvedPlan {
        targets: vec![Target {
            name: None,
            account_id: AccountId::parse("111122223333").unwrap(),
            region: "us-east-1".to_owned(),
            endpoint: None,
        }],
        settings: settings(RunMode::Apply),
        entries: vec![first, second],
    };
    let collect = Collect::default();
    let mut reporters = ReporterSet::new();
    reporters.add(Broken).add(collect.clone());
    let summary = run(
        plan,
        vec![fake.clone()],
        reporters,
        CancellationToken::new(),
        RunOptions::default(),
    )
    .await;
    assert!(summary.interrupted);
    assert_eq!(summary.reporter_errors.len(), 1);
    assert_eq!(summary.count(Outcome::NotRun), 1);
    let events = collect.0.lock().unwrap();
    assert!(matches!(
        events.last().unwrap().kind,
        EventKind::RunFinished { interrupted: true }
    ));
    let finished: HashMap<String, Outcome> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::JobFinished(r) => Some((r.job_id.to_string(), r.outcome)),
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), 2);
}
