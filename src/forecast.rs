//! The forecast: what `apply` would do to each resolved job, judged now, without a single mutating call.
//!
//! Owns the per-job verdict shown by `s3plan plan` and recorded in saved plans (will change, already done,
//! skipped, waiting on a gate, impossible) and the decision key that `apply SAVED.json` compares between the
//! review and the run. Every verdict comes from the executor's own decision ([`decision::decide`]), so a plan
//! and the apply after it cannot disagree about a job in the same state (`exec/agreement.rs` checks it for
//! every status, gate and action). Does not read the API itself beyond the gate subjects
//! ([`read_watched`]), and does not render (`commands/plan.rs`).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::api::{ApiCall, JobControl, JobId, JobStatus, Progress, TargetStatus};
use crate::decision::{self, ActionJudgment, GateView, JobView, JudgmentKind};
use crate::exec::{GateCheck, check_gate, grouped, percent, rate_bp};
use crate::resolve::Place;
use crate::resolved::{Action, Gate, GateSubject, ResolvedEntry, ResolvedJob, ResolvedPlan};

pub use crate::decision::Verdict;

/// The state of a gate, as compared between a review and a run: a pending gate that now holds is what the
/// review expected, so both count as open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateDecision {
    /// No gate, or a gate the job does not need (every action already done).
    None,
    /// The gate holds or may still hold.
    Open,
    /// The gate can never hold (or its subject cannot be read).
    Closed,
}

/// One action's judgment, as compared between a review and a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionDecision {
    /// The action.
    pub action: Action,
    /// Its judgment.
    pub judgment: JudgmentKind,
}

/// What would happen to a job, reduced to what must not change between a review and a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionKey {
    /// The gate.
    pub gate: GateDecision,
    /// Each action's judgment, in the order they are sent.
    pub actions: Vec<ActionDecision>,
}

/// A status change apply would request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The status judged from.
    pub from: JobStatus,
    /// The status requested.
    pub to: TargetStatus,
}

/// A priority change apply would request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorityChange {
    /// The priority seen.
    pub from: i32,
    /// The priority requested.
    pub to: i32,
}

/// A job's gate, judged now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateForecast {
    /// Which gate, for people (`own status Suspended`, `job 0fd6… is Complete`).
    pub gate: String,
    /// The watched job's status now, when it could be read.
    pub watched_status: Option<JobStatus>,
    /// Whether the gate holds now.
    pub holds: bool,
    /// The watched job's task counters now, when it could be read.
    pub watched_tasks: Option<GateTasks>,
    /// The gate's task condition, if it has one.
    pub task_limit: Option<GateTaskLimit>,
}

/// A watched job's task counters, with the numbers a task condition is judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GateTasks {
    /// `TotalNumberOfTasks`.
    pub total: i64,
    /// `NumberOfTasksSucceeded`.
    pub succeeded: i64,
    /// `NumberOfTasksFailed`.
    pub failed: i64,
    /// Succeeded plus failed: the tasks a failure rate is taken over.
    pub finished: i64,
    /// Failed over finished, in hundredths of a percent (0 before any task finished).
    pub failure_rate_bp: u32,
}

impl GateTasks {
    fn of(progress: Progress) -> Self {
        let failed = progress.failed_tasks.max(0);
        let succeeded = progress.succeeded_tasks.max(0);
        Self {
            total: progress.total_tasks.max(0),
            succeeded,
            failed,
            finished: succeeded + failed,
            failure_rate_bp: rate_bp(failed, succeeded + failed),
        }
    }
}

/// A gate's task condition, named as in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GateTaskLimit {
    /// `max_failed_tasks`.
    pub max_failed_tasks: Option<i64>,
    /// `max_failure_rate`, in hundredths of a percent.
    pub max_failure_rate_bp: Option<u32>,
}

/// What apply would do to one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobForecast {
    /// The job's target, named, when the plan has `targets:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The job.
    pub job_id: JobId,
    /// Its description, when known.
    pub description: Option<String>,
    /// Its status now.
    pub status: JobStatus,
    /// Its priority now.
    pub priority: i32,
    /// The verdict.
    pub verdict: Verdict,
    /// The status request apply would send (also for a waiting job, once its gate holds).
    pub status_change: Option<StatusChange>,
    /// The priority request apply would send.
    pub priority_change: Option<PriorityChange>,
    /// The gate, if the entry has one. Boxed: a plan of 100,000 ungated jobs would otherwise hold ~110 bytes
    /// of empty gate per job while its forecast lives.
    pub gate: Option<Box<GateForecast>>,
    /// Why the job is skipped, already done or impossible; for a waiting job, why a dry run would not
    /// wait for its gate.
    pub reason: Option<String>,
    /// The decision key compared by `apply SAVED.json`.
    pub decision: DecisionKey,
}

/// What apply would do to one entry's jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryForecast {
    /// The entry's name.
    pub name: String,
    /// The status it asks for.
    pub target: Option<TargetStatus>,
    /// The priority it asks for.
    pub priority: Option<i32>,
    /// Entries that must succeed first.
    pub after: Vec<String>,
    /// Jobs per verdict.
    pub counts: BTreeMap<Verdict, usize>,
    /// Every job, in resolution order.
    pub jobs: Vec<JobForecast>,
}

/// Totals over the whole plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Jobs resolved.
    pub jobs: usize,
    /// Jobs per verdict.
    pub verdicts: BTreeMap<Verdict, usize>,
    /// UpdateJobStatus calls apply would send now (waiting jobs not counted).
    pub status_calls: usize,
    /// UpdateJobPriority calls apply would send now (waiting jobs not counted).
    pub priority_calls: usize,
}

impl Totals {
    /// Whether applying would do (or try) anything: a change, a wait or an impossible job.
    pub fn pending(&self) -> bool {
        [Verdict::Change, Verdict::Waiting, Verdict::Impossible]
            .iter()
            .any(|v| self.verdicts.get(v).is_some_and(|n| *n > 0))
    }
}

/// What apply would do to a whole resolved plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forecast {
    /// Entries in plan order.
    pub entries: Vec<EntryForecast>,
    /// Totals.
    pub totals: Totals,
}

/// The status and task counters of each job a gate watches, or why it could not be read.
pub type Watched = HashMap<(usize, JobId), Result<(JobStatus, Progress), String>>;

/// Reads the status of every job watched by an `OtherJob` gate, with DescribeJob under `caller`'s read
/// limit and retries. A failed read is kept as its message: the gate is then judged closed.
pub async fn read_watched<C: JobControl>(
    resolved: &ResolvedPlan,
    places: &[Place<'_, C>],
) -> Watched {
    let mut watched = Watched::new();
    for entry in &resolved.entries {
        let Some(Gate {
            subject: GateSubject::OtherJob { target, job },
            ..
        }) = &entry.gate
        else {
            continue;
        };
        let key = (*target, job.clone());
        if watched.contains_key(&key) {
            continue;
        }
        let Some(Place {
            control, reader, ..
        }) = places.get(*target)
        else {
            continue;
        };
        let called = reader
            .call(ApiCall::DescribeJob, None, |_| control.describe_job(job))
            .await;
        let status = called
            .result
            .map(|answer| (answer.value.summary.status, answer.value.summary.progress))
            .map_err(|error| error.to_string());
        watched.insert(key, status);
    }
    watched
}

/// Judges every job of `resolved` from the statuses it holds (and `watched` for other-job gates), every
/// job kept in each entry's `jobs`, in resolution order.
pub fn forecast(resolved: &ResolvedPlan, watched: &Watched) -> Forecast {
    forecast_shown(resolved, watched, None)
}

/// Judges every job of `resolved` like [`forecast`], counting every one, but keeps in each entry's `jobs`
/// only the first `shown` in the order a person reads them (by target name, then verdict, then resolution
/// order), themselves in resolution order; `None` keeps them all. A preview of a million jobs then holds a
/// few judged jobs, not a million: each job is judged once into its verdict, and the kept ones again into
/// their full forecast — the same pure judgment, so both agree.
pub fn forecast_shown(
    resolved: &ResolvedPlan,
    watched: &Watched,
    shown: Option<usize>,
) -> Forecast {
    let multi = resolved.is_multi_target();
    // Pass 1: each job's verdict and the calls it would send, a few bytes a job.
    let mut brief: Vec<Vec<Brief>> = resolved
        .entries
        .iter()
        .map(|entry| {
            entry
                .jobs
                .iter()
                .map(|job| Brief::of(&judge_job(entry, job, watched)))
                .collect()
        })
        .collect();
    let failed_after = fail_dependents(&mut brief, resolved);
    // A waiting job whose gate only another entry's change can open: `apply --dry-run` does not wait for
    // it and says why; the forecast says the same.
    let unmade: HashMap<(usize, JobId), crate::exec::unmade::UnmadeGate> =
        crate::exec::unmade::unmade_gates(resolved)
            .into_iter()
            .map(|gate| ((gate.entry, gate.job.clone()), gate))
            .collect();
    // Pass 2: the kept jobs judged in full, with what the whole plan adds to their reason.
    let ranks = target_ranks(resolved);
    let mut totals = Totals::default();
    let entries = resolved
        .entries
        .iter()
        .zip(&brief)
        .enumerate()
        .map(|(index, (entry, briefs))| {
            let mut counts = BTreeMap::new();
            for b in briefs {
                *counts.entry(b.verdict).or_default() += 1;
                *totals.verdicts.entry(b.verdict).or_default() += 1;
                totals.jobs += 1;
                if b.verdict == Verdict::Change {
                    totals.status_calls += usize::from(b.status_call);
                    totals.priority_calls += usize::from(b.priority_call);
                }
            }
            let kept = kept_jobs(entry, briefs, &ranks, shown);
            let jobs = kept
                .into_iter()
                .filter_map(|at| {
                    let (job, b) = (entry.jobs.get(at)?, briefs.get(at)?);
                    let mut judged = judge_job(entry, job, watched);
                    if multi {
                        judged.target = resolved.targets.get(job.target()).map(|t| t.label());
                    }
                    if judged.verdict != b.verdict
                        && let Some(name) = &failed_after[index]
                    {
                        judged.verdict = b.verdict;
                        judged.reason = Some(format!(
                            "runs after entry `{name}`, which has impossible jobs; it would not run"
                        ));
                    }
                    if judged.verdict == Verdict::Waiting
                        && let Some(gate) = unmade.get(&(index, job.id.clone()))
                    {
                        judged.reason = Some(gate.reason(resolved));
                    }
                    Some(judged)
                })
                .collect();
            EntryForecast {
                name: entry.name.clone(),
                target: entry.target(),
                priority: entry.priority(),
                after: entry
                    .after
                    .iter()
                    .filter_map(|i| resolved.entries.get(*i).map(|e| e.name.clone()))
                    .collect(),
                counts,
                jobs,
            }
        })
        .collect();
    Forecast { entries, totals }
}

/// A job's verdict and whether it would send each call: what the counts and the choice of shown jobs need.
#[derive(Debug, Clone, Copy)]
struct Brief {
    verdict: Verdict,
    status_call: bool,
    priority_call: bool,
}

impl Brief {
    fn of(judged: &JobForecast) -> Self {
        Self {
            verdict: judged.verdict,
            status_call: judged.status_change.is_some(),
            priority_call: judged.priority_change.is_some(),
        }
    }
}

/// Each target's place in the order of their names (how jobs are grouped when shown); all equal for a
/// plan without `targets:`, whose jobs carry no name.
fn target_ranks(resolved: &ResolvedPlan) -> Vec<usize> {
    if !resolved.is_multi_target() {
        return vec![0; resolved.targets.len()];
    }
    let labels: Vec<String> = resolved.targets.iter().map(|t| t.label()).collect();
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|a, b| labels[*a].cmp(&labels[*b]));
    let mut ranks = vec![0; labels.len()];
    for (rank, target) in order.into_iter().enumerate() {
        ranks[target] = rank;
    }
    ranks
}

/// Indexes of the jobs of `entry` to keep, in resolution order: all of them, or the first `shown` by
/// (target name, verdict, resolution order) — the ones a person is shown first.
fn kept_jobs(
    entry: &ResolvedEntry,
    briefs: &[Brief],
    ranks: &[usize],
    shown: Option<usize>,
) -> Vec<usize> {
    let Some(shown) = shown.filter(|n| *n < briefs.len()) else {
        return (0..briefs.len()).collect();
    };
    // A max-heap of the best `shown` keys so far: one pass, `shown` keys held.
    let mut best = std::collections::BinaryHeap::with_capacity(shown + 1);
    for (at, (job, b)) in entry.jobs.iter().zip(briefs).enumerate() {
        best.push((ranks.get(job.target()).copied().unwrap_or(0), b.verdict, at));
        if best.len() > shown {
            best.pop();
        }
    }
    let mut kept: Vec<usize> = best.into_iter().map(|(_, _, at)| at).collect();
    kept.sort_unstable();
    kept
}

/// An entry whose `after:` entry would fail never starts: its jobs are impossible too (the executor ends
/// them `not_run`). Repeated until nothing changes, so chains propagate whatever their order. Returns, per
/// entry, the name of the failing entry it runs after, when that made any of its jobs impossible.
fn fail_dependents(entries: &mut [Vec<Brief>], resolved: &ResolvedPlan) -> Vec<Option<String>> {
    let mut because = vec![None; entries.len()];
    loop {
        let failing: Vec<bool> = entries
            .iter()
            .map(|jobs| jobs.iter().any(|j| j.verdict == Verdict::Impossible))
            .collect();
        let mut changed = false;
        for (index, entry) in resolved.entries.iter().enumerate() {
            let Some(&first) = entry.after.iter().find(|&&dep| failing[dep]) else {
                continue;
            };
            for job in &mut entries[index] {
                if job.verdict != Verdict::Impossible {
                    job.verdict = Verdict::Impossible;
                    because[index] = Some(resolved.entries[first].name.clone());
                    changed = true;
                }
            }
        }
        if !changed {
            return because;
        }
    }
}

/// Judges one job with the executor's own decision ([`decision::decide`]): gate first, then each action.
pub fn judge_job(entry: &ResolvedEntry, job: &ResolvedJob, watched: &Watched) -> JobForecast {
    let status = job.status_seen;
    let view = JobView {
        status,
        priority: job.priority_seen,
    };
    let gate = entry.gate.as_ref().map(|gate| {
        let wanted = names(&gate.statuses);
        let (text, seen) = match &gate.subject {
            GateSubject::OwnStatus => (
                format!("own status {wanted}"),
                Ok((status, job.progress_seen())),
            ),
            GateSubject::OtherJob { target, job: other } => (
                format!("job {other} is {wanted}"),
                watched
                    .get(&(*target, other.clone()))
                    .cloned()
                    .unwrap_or_else(|| Err("its status was not read".to_owned())),
            ),
        };
        let check = match &seen {
            Ok((seen, progress)) => {
                check_gate(&gate.statuses, gate.tasks.as_ref(), *seen, *progress)
            }
            Err(error) => GateCheck::Unreachable(format!("it cannot be read: {error}")),
        };
        // A task condition is shown with today's numbers, as the gate will judge them.
        let text = match (&gate.tasks, &seen) {
            (Some(tasks), Ok((_, progress))) => {
                let failed = progress.failed_tasks.max(0);
                let finished = progress.succeeded_tasks.max(0) + failed;
                format!(
                    "{text} with {tasks} (now {} of {} finished tasks failed, {})",
                    grouped(failed),
                    grouped(finished),
                    percent(rate_bp(failed, finished))
                )
            }
            (Some(tasks), Err(_)) => format!("{text} with {tasks}"),
            (None, _) => text,
        };
        (gate, text, seen.ok(), check)
    });
    let decided = decision::decide(
        &entry.actions,
        gate.as_ref().map(|(gate, _, _, check)| GateView {
            own: gate.subject == GateSubject::OwnStatus,
            wanted: &gate.statuses,
            check,
        }),
        view,
    );
    let mut reason = decided.reason.clone();
    if let Some((_, text, _, GateCheck::Unreachable(why))) = &gate
        && decided.gate_needed
    {
        reason = Some(format!("gate on {text} can never hold: {why}"));
    }
    // Nothing is sent for a job with a moot or refused action, so no change is shown for its other actions.
    let blocked = decided
        .actions
        .iter()
        .any(|(_, j)| matches!(j, ActionJudgment::Moot(_) | ActionJudgment::Refused(_)));
    let mut status_change = None;
    let mut priority_change = None;
    for action in decided.calls() {
        match action {
            Action::SetStatus(to) => {
                status_change = Some(StatusChange {
                    from: decided.judged_from,
                    to,
                });
            }
            Action::SetPriority(to) if !blocked => {
                priority_change = Some(PriorityChange {
                    from: job.priority_seen,
                    to,
                });
            }
            Action::SetPriority(_) => {}
        }
    }
    let gate_decision = match &gate {
        Some(_) if !decided.gate_needed => GateDecision::None,
        None => GateDecision::None,
        Some((_, _, _, GateCheck::Holds | GateCheck::Pending)) => GateDecision::Open,
        Some((_, _, _, GateCheck::Unreachable(_))) => GateDecision::Closed,
    };
    JobForecast {
        target: None,
        job_id: job.id.clone(),
        description: job.description.as_deref().map(str::to_owned),
        status,
        priority: job.priority_seen,
        verdict: decided.verdict,
        status_change,
        priority_change,
        gate: gate.map(|(gate, text, watched, check)| {
            Box::new(GateForecast {
                gate: text,
                watched_status: watched.map(|(status, _)| status),
                holds: check == GateCheck::Holds,
                watched_tasks: watched.map(|(_, progress)| GateTasks::of(progress)),
                task_limit: gate.tasks.map(|limit| GateTaskLimit {
                    max_failed_tasks: limit.max_failed,
                    max_failure_rate_bp: limit.max_rate_bp,
                }),
            })
        }),
        reason,
        decision: DecisionKey {
            gate: gate_decision,
            actions: decided
                .actions
                .iter()
                .map(|(action, judgment)| ActionDecision {
                    action: *action,
                    judgment: judgment.kind(),
                })
                .collect(),
        },
    }
}

fn names(statuses: &[JobStatus]) -> String {
    let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    names.join(" or ")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use JobStatus as S;

    fn entry(target: Option<TargetStatus>, gate: Option<Gate>) -> ResolvedEntry {
        ResolvedEntry {
            name: "e".to_owned(),
            after: Vec::new(),
            jobs: Vec::new(),
            gate,
            actions: crate::resolved::Action::from_parts(target, None),
            reason: None,
        }
    }

    fn job(status: JobStatus) -> ResolvedJob {
        ResolvedJob {
            target: 0,
            id: JobId::parse("job-1").unwrap(),
            description: None,
            status_seen: status,
            priority_seen: 10,
            progress_seen: Default::default(),
        }
    }

    fn own(statuses: &[JobStatus]) -> Option<Gate> {
        Some(Gate {
            subject: GateSubject::OwnStatus,
            statuses: statuses.to_vec(),
            timeout: Duration::from_secs(60),
            tasks: None,
        })
    }

    #[test]
    fn verdicts_follow_the_executor_judgments() {
        let cancel = Some(TargetStatus::Cancelled);
        let confirm = Some(TargetStatus::Ready);
        for (entry, status, expected) in [
            (entry(cancel, None), S::Active, Verdict::Change),
            (entry(cancel, None), S::Cancelled, Verdict::Unchanged),
            (entry(cancel, None), S::Complete, Verdict::Skipped),
            (entry(confirm, None), S::Preparing, Verdict::Impossible),
            (
                entry(confirm, own(&[S::Suspended])),
                S::Preparing,
                Verdict::Waiting,
            ),
            (
                entry(confirm, own(&[S::Suspended])),
                S::Suspended,
                Verdict::Change,
            ),
            (
                entry(cancel, own(&[S::Suspended])),
                S::Active,
                Verdict::Impossible,
            ),
        ] {
            let got = judge_job(&entry, &job(status), &Watched::new());
            assert_eq!(got.verdict, expected, "{entry:?} on {status}");
        }
    }

    #[test]
    fn a_waiting_job_is_judged_from_the_status_it_waits_for() {
        let e = entry(Some(TargetStatus::Ready), own(&[S::Suspended]));
        let then = judge_job(&e, &job(S::Preparing), &Watched::new());
        let now = judge_job(&e, &job(S::Suspended), &Watched::new());
        assert_eq!(then.decision, now.decision);
        assert_eq!(
            then.status_change,
            Some(StatusChange {
                from: S::Suspended,
                to: TargetStatus::Ready
            })
        );
    }

    #[test]
    fn an_unreadable_other_job_closes_the_gate() {
        let other = JobId::parse("other").unwrap();
        let e = entry(
            Some(TargetStatus::Cancelled),
            Some(Gate {
                subject: GateSubject::OtherJob {
                    target: 0,
                    job: other.clone(),
                },
                statuses: vec![S::Complete],
                timeout: Duration::from_secs(1),
                tasks: None,
            }),
        );
        let mut watched = Watched::new();
        watched.insert((0, other.clone()), Err("NoSuchJob".to_owned()));
        let got = judge_job(&e, &job(S::Suspended), &watched);
        assert_eq!(got.verdict, Verdict::Impossible);
        assert_eq!(got.decision.gate, GateDecision::Closed);
        watched.insert((0, other), Ok((S::Active, crate::api::Progress::default())));
        let got = judge_job(&e, &job(S::Suspended), &watched);
        assert_eq!(got.verdict, Verdict::Waiting);
        assert!(!got.gate.unwrap().holds);
    }

    /// A plan over two targets, an entry running after one with an impossible job, jobs of every verdict
    /// in a shuffled order: the bounded forecast shows exactly the lines and counts of the full one.
    #[test]
    fn a_forecast_kept_for_display_renders_like_the_full_one() {
        let statuses = [
            S::Active,
            S::Complete,
            S::Cancelled,
            S::Preparing,
            S::Suspended,
        ];
        let jobs = |offset: usize| -> Vec<ResolvedJob> {
            (0..40)
                .map(|i| ResolvedJob {
                    target: ((i * 7 + offset) % 3 % 2) as u32,
                    id: JobId::parse(&format!("job-{offset}-{i:03}")).unwrap(),
                    description: Some(format!("d{i}").into()),
                    ..job(statuses[(i * 3 + offset) % statuses.len()])
                })
                .collect()
        };
        let mut first = entry(Some(TargetStatus::Ready), None);
        first.name = "first".to_owned();
        first.jobs = jobs(0);
        let mut then = entry(
            Some(TargetStatus::Cancelled),
            own(&[S::Suspended, S::Active]),
        );
        then.name = "then".to_owned();
        then.after = vec![0];
        then.jobs = jobs(1);
        let target = |name: &str| crate::resolved::Target {
            name: Some(name.to_owned()),
            account_id: crate::api::AccountId::parse("111122223333").unwrap(),
            region: "us-east-1".to_owned(),
            endpoint: None,
        };
        let resolved = ResolvedPlan {
            // Named so that plan order and name order differ.
            targets: vec![target("zeta"), target("alpha")],
            settings: crate::resolved::RunSettings {
                concurrency: 8,
                rate_limit: 10.0,
                poll_rate_limit: 10.0,
                poll_interval: Duration::from_secs(5),
                mode: crate::resolved::RunMode::Apply,
            },
            entries: vec![first, then],
        };
        let full = forecast(&resolved, &Watched::new());
        let kept = crate::commands::plan::JOBS_SHOWN;
        let shown = forecast_shown(&resolved, &Watched::new(), Some(kept));
        assert_eq!(full.totals, shown.totals);
        for (full, shown) in full.entries.iter().zip(&shown.entries) {
            assert_eq!(full.counts, shown.counts);
            assert_eq!(full.jobs.len(), 40);
            assert_eq!(shown.jobs.len(), kept);
        }
        assert!(
            full.totals.verdicts.len() >= 4,
            "{:?}",
            full.totals.verdicts
        );
        let render = |judged: &Forecast| {
            let mut text = String::new();
            crate::commands::plan::render_entries(&mut text, judged, false);
            text
        };
        assert_eq!(render(&full), render(&shown));
    }
}
