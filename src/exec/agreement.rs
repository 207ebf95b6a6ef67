//! Plan equals apply: for every status × gate kind × gate state × task condition × actions, the verdict
//! `s3plan plan` shows
//! is what the executor then does against the fake.
//!
//! Test-only. Every combination is one entry with one job, so one run of the executor covers the table (in
//! apply mode and in dry-run mode), and the forecast judges the same resolved plan.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api::fake::FakeJobControl;
use crate::api::{AccountId, JobId, JobStatus, Progress, TargetStatus};
use crate::event::{Event, EventKind};
use crate::exec::{Outcome, RunOptions, can_reach, run};
use crate::forecast::{self, Verdict, Watched};
use crate::report::{Reporter, ReporterSet};
use crate::resolved::{
    Action, Gate, GateSubject, ResolvedEntry, ResolvedJob, ResolvedPlan, RunMode, RunSettings,
    Target, TaskLimit,
};

/// A job's outcome and its reason.
type Ended = (Outcome, Option<String>);

/// Keeps every job's outcome.
#[derive(Clone, Default)]
struct Outcomes(Arc<Mutex<HashMap<String, Ended>>>);

impl Reporter for Outcomes {
    fn name(&self) -> &str {
        "outcomes"
    }
    fn report(&mut self, event: &Event) -> std::io::Result<()> {
        if let EventKind::JobFinished(record) = &event.kind {
            self.0.lock().unwrap().insert(
                record.job_id.to_string(),
                (record.outcome, record.reason.clone()),
            );
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    None,
    Own,
    Other,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Holds,
    Pending,
    Unreachable,
}

/// The task condition of a case: none, or `max_failed_tasks: 5` with the watched job under it (2 failed),
/// above it (9 failed), or above `max_failure_rate: 5%` (9 of 100) which a running job may still fall under.
#[derive(Debug, Clone, Copy)]
enum Tasks {
    None,
    Under,
    OverCount,
    OverRate,
}

impl Tasks {
    const ALL: [Tasks; 4] = [Tasks::None, Tasks::Under, Tasks::OverCount, Tasks::OverRate];

    /// A short tag for job ids (at most 36 characters in all).
    fn tag(self) -> &'static str {
        match self {
            Tasks::None => "t0",
            Tasks::Under => "tu",
            Tasks::OverCount => "tc",
            Tasks::OverRate => "tr",
        }
    }

    fn limit(self) -> Option<TaskLimit> {
        match self {
            Tasks::None => None,
            Tasks::Under | Tasks::OverCount => Some(TaskLimit {
                max_failed: Some(5),
                max_rate_bp: None,
            }),
            Tasks::OverRate => Some(TaskLimit {
                max_failed: None,
                max_rate_bp: Some(500),
            }),
        }
    }

    fn progress(self) -> Progress {
        let failed = match self {
            Tasks::None | Tasks::Under => 2,
            Tasks::OverCount | Tasks::OverRate => 9,
        };
        Progress {
            total_tasks: 100,
            succeeded_tasks: 100 - failed,
            failed_tasks: failed,
            elapsed_active_seconds: 0,
        }
    }
}

const OTHER_HOLDS: &str = "other-holds";
const OTHER_PENDING: &str = "other-pending";
const OTHER_UNREACHABLE: &str = "other-unreachable";

/// The gate of one case, or `None` when the combination does not exist (nothing is unreachable from
/// `New`; nothing is pending for a terminal status).
fn gate(kind: Kind, state: State, tasks: Tasks, status: JobStatus) -> Option<Option<Gate>> {
    let own = |wanted: Option<JobStatus>| {
        wanted.map(|w| {
            Some(Gate {
                subject: GateSubject::OwnStatus,
                statuses: vec![w],
                timeout: Duration::from_secs(60),
                tasks: tasks.limit(),
            })
        })
    };
    let other = |id: &str| {
        Some(Some(Gate {
            subject: GateSubject::OtherJob {
                target: 0,
                job: JobId::parse(&format!("{id}-{}", tasks.tag())).unwrap(),
            },
            statuses: vec![JobStatus::Complete],
            timeout: Duration::from_secs(60),
            tasks: tasks.limit(),
        }))
    };
    let others = JobStatus::ALL.into_iter().filter(|&w| w != status);
    match (kind, state) {
        (Kind::None, State::Holds) if matches!(tasks, Tasks::None) => Some(None),
        (Kind::None, _) => None,
        (Kind::Own, State::Holds) => own(Some(status)),
        (Kind::Own, State::Pending) => own(others.clone().find(|&w| can_reach(status, w))),
        (Kind::Own, State::Unreachable) => own(others.clone().find(|&w| !can_reach(status, w))),
        (Kind::Other, State::Holds) => other(OTHER_HOLDS),
        (Kind::Other, State::Pending) => other(OTHER_PENDING),
        (Kind::Other, State::Unreachable) => other(OTHER_UNREACHABLE),
    }
}

/// What the executor must do for a verdict (a pending gate never holds in the fake, so it times out).
fn expected(verdict: Verdict, mode: RunMode) -> Outcome {
    match (verdict, mode) {
        (Verdict::Impossible, _) => Outcome::Failed,
        (Verdict::Waiting, _) => Outcome::TimedOut,
        (Verdict::Change, RunMode::Apply) => Outcome::Applied,
        (Verdict::Change, RunMode::DryRun) => Outcome::WouldApply,
        (Verdict::Skipped, _) => Outcome::Skipped,
        (Verdict::Unchanged, _) => Outcome::Unchanged,
        (Verdict::Met, _) => Outcome::Met,
    }
}

fn table(fake: &FakeJobControl) -> (Vec<ResolvedEntry>, Watched) {
    let mut watched = Watched::new();
    for tasks in Tasks::ALL {
        for (id, status) in [
            (OTHER_HOLDS, JobStatus::Complete),
            (OTHER_PENDING, JobStatus::Active),
            (OTHER_UNREACHABLE, JobStatus::Cancelled),
        ] {
            let id = fake.add_job(&format!("{id}-{}", tasks.tag()), status);
            fake.set_progress(&id, tasks.progress());
            watched.insert((0, id), Ok((status, tasks.progress())));
        }
    }
    let actions = [
        // A checkpoint: a gate and no action.
        vec![],
        vec![Action::SetStatus(TargetStatus::Ready)],
        vec![Action::SetStatus(TargetStatus::Cancelled)],
        vec![Action::SetPriority(50)],
        vec![
            Action::SetPriority(50),
            Action::SetStatus(TargetStatus::Ready),
        ],
        vec![
            Action::SetPriority(50),
            Action::SetStatus(TargetStatus::Cancelled),
        ],
    ];
    let mut entries = Vec::new();
    for status in JobStatus::ALL {
        for kind in [Kind::None, Kind::Own, Kind::Other] {
            for state in [State::Holds, State::Pending, State::Unreachable] {
                for tasks in Tasks::ALL {
                    let Some(gate) = gate(kind, state, tasks, status) else {
                        continue;
                    };
                    for (a, actions) in actions.iter().enumerate() {
                        // Validation refuses an entry with neither an action nor a gate.
                        if actions.is_empty() && gate.is_none() {
                            continue;
                        }
                        let name = format!("{status}-{kind:?}-{state:?}-{}-{a}", tasks.tag())
                            .to_lowercase();
                        let id = fake.add_job(&name, status);
                        fake.set_progress(&id, tasks.progress());
                        entries.push(ResolvedEntry {
                            name,
                            after: Vec::new(),
                            jobs: vec![ResolvedJob {
                                target: 0,
                                id,
                                description: None,
                                status_seen: status,
                                priority_seen: 10,
                                progress_seen: tasks.progress().into(),
                            }],
                            gate: gate.clone(),
                            actions: actions.clone(),
                            reason: None,
                        });
                    }
                }
            }
        }
    }
    (entries, watched)
}

async fn forecast_equals_execution(mode: RunMode) {
    let fake = Arc::new(FakeJobControl::new());
    let (entries, watched) = table(&fake);
    let plan = ResolvedPlan {
        targets: vec![Target {
            name: None,
            account_id: AccountId::parse("111122223333").unwrap(),
            region: "us-east-1".to_owned(),
            endpoint: None,
        }],
        settings: RunSettings {
            concurrency: 64,
            rate_limit: 1000.0,
            poll_rate_limit: 1000.0,
            poll_interval: Duration::from_secs(5),
            mode,
        },
        entries,
    };
    let forecast = forecast::forecast(&plan, &watched);
    let outcomes = Outcomes::default();
    let mut reporters = ReporterSet::new();
    reporters.add(outcomes.clone());
    let summary = run(
        plan,
        vec![fake],
        reporters,
        CancellationToken::new(),
        RunOptions::default(),
    )
    .await;
    assert!(!summary.interrupted);
    let outcomes = outcomes.0.lock().unwrap();
    let mut disagreements = Vec::new();
    let mut seen = HashMap::new();
    for entry in &forecast.entries {
        for job in &entry.jobs {
            *seen.entry(job.verdict).or_insert(0) += 1;
            let (outcome, reason) = &outcomes[job.job_id.as_str()];
            if *outcome != expected(job.verdict, mode) {
                disagreements.push(format!(
                    "{}: plan says {} ({:?}), apply ended {outcome} ({reason:?})",
                    job.job_id,
                    job.verdict.label(),
                    job.reason
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    // The table reaches every verdict, so a judgment broken anywhere shows.
    assert_eq!(seen.len(), Verdict::ALL.len(), "{seen:?}");
}

#[tokio::test(start_paused = true)]
async fn plan_equals_apply_for_every_status_gate_and_action() {
    forecast_equals_execution(RunMode::Apply).await;
}

#[tokio::test(start_paused = true)]
async fn plan_equals_dry_run_for_every_status_gate_and_action() {
    forecast_equals_execution(RunMode::DryRun).await;
}

/// The rerun cases: a job already at its target needs no gate, in the plan as in the apply.
#[test]
fn regression_a_rerun_on_a_job_past_its_gate_is_already_done_in_the_plan() {
    for (status, target) in [
        (JobStatus::Active, TargetStatus::Ready),
        (JobStatus::Cancelled, TargetStatus::Cancelled),
    ] {
        let entry = ResolvedEntry {
            name: "rerun".to_owned(),
            after: Vec::new(),
            jobs: Vec::new(),
            gate: Some(Gate {
                subject: GateSubject::OwnStatus,
                statuses: vec![JobStatus::Suspended],
                timeout: Duration::from_secs(60),
                tasks: None,
            }),
            actions: vec![Action::SetStatus(target)],
            reason: None,
        };
        let job = ResolvedJob {
            target: 0,
            id: JobId::parse("8d116ece-1738-47d9-bd9c-172411e20b8f").unwrap(),
            description: None,
            status_seen: status,
            priority_seen: 10,
            progress_seen: Default::default(),
        };
        let judged = forecast::judge_job(&entry, &job, &Watched::new());
        assert_eq!(judged.verdict, Verdict::Unchanged, "{status} -> {target}");
    }
}
