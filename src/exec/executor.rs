//! A job's life: the per-job state machine, and the context every job of a run shares.
//!
//! Each job walks `Resolved -> Waiting(gate) -> Applying -> (Retrying { attempt, delay })* -> Done(Outcome)`;
//! every transition is an event. What happens to the job is asked of `decision::decide` (before the gate,
//! once it holds, and after a refusal is read again); its calls go through `mutation.rs`. Does not own
//! which jobs run when (`scheduler.rs`), limits and retries (`limiter.rs`, `retry.rs`), polling
//! (`poller.rs`) or the event loop (`coordinator.rs`).

use std::borrow::Cow;
use std::sync::Arc;

use jiff::Timestamp;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api::{ApiCall, JobControl, JobId, JobStatus};
use crate::decision::{
    ActionJudgment, Decision, GateView as DecisionGate, JobView, Verdict, decide,
};
use crate::event::{ErrorView, EventKind, GateView, JobIndex, JobRecord};
use crate::exec::emitter::Emitter;
use crate::exec::journal::{Journal, JournalError};
use crate::exec::mutation::{Step, mutate};
use crate::exec::outcome::{GateCheck, Outcome};
use crate::exec::poller::{GateNews, Seen};
use crate::exec::resume::{Prior, Resume};
use crate::exec::site::Site;
use crate::exec::unmade::{UnmadeGate, unmade_gates};
use crate::resolved::{Action, GateSubject, ResolvedEntry, ResolvedJob, ResolvedPlan, RunMode};

/// Where a job is in its life. The executor moves each job through these in order. Retrying is a sub-state
/// of `Applying` owned by `retry.rs` (`Caller::call` sleeps between attempts) and shows as `Retrying`
/// events, so it has no variant here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Known from resolution; nothing done yet.
    Resolved,
    /// Polling its gate.
    Waiting(GateView),
    /// Making its calls, judged from this status.
    Applying(JobStatus),
    /// Finished.
    Done(Outcome),
}

/// Everything the jobs of one run share.
pub struct Context<C> {
    /// The plan being run.
    pub plan: Arc<ResolvedPlan>,
    /// Each target's API, limits and gate poller, in `plan.targets` order.
    pub sites: Vec<Site<C>>,
    /// Where the run's events go.
    pub emitter: Emitter,
    /// The pre-send hook of mutating attempts.
    pub journal: Arc<dyn Journal>,
    /// Entry names, shared by every record.
    pub names: Vec<Arc<str>>,
    /// Set once the run is interrupted: nothing new starts.
    pub cancel: CancellationToken,
    /// What an earlier, interrupted run already did (`apply --resume`).
    pub resume: Arc<Resume>,
    /// The first journal failure: set once, and the run is stopped (nothing more is sent without a
    /// durable intent).
    pub journal_failed: Arc<std::sync::OnceLock<JournalError>>,
    /// A dry run's gates that only another entry's change could open, by (entry, job): worked out once for
    /// the whole plan on first use, so a large dry run does not redo it for every gated job.
    pub unmade: std::sync::OnceLock<std::collections::HashMap<(usize, JobId), UnmadeGate>>,
}

impl<C> Context<C> {
    fn mode(&self) -> RunMode {
        self.plan.settings.mode
    }

    /// The site of target `target`.
    pub(crate) fn site(&self, target: usize) -> &Site<C> {
        &self.sites[target]
    }

    /// The plan's name of the target of the job at `index`, as the journal names it.
    pub(crate) fn target_name_of(&self, index: JobIndex) -> Option<&str> {
        self.plan
            .target_name(self.plan.entries[index.entry].jobs[index.job].target())
    }

    /// The site of the job at `index`.
    pub(crate) fn site_of(&self, index: JobIndex) -> &Site<C> {
        self.site(self.plan.entries[index.entry].jobs[index.job].target())
    }

    /// How a gate's subject is named in reasons: `job ID`, with its target when the plan has several.
    pub(crate) fn watched_name(&self, target: usize, job: &JobId) -> String {
        if self.plan.is_multi_target() {
            format!("job {job} in {}", self.plan.targets[target].label())
        } else {
            format!("job {job}")
        }
    }
}

/// A record for a job that never started.
pub fn not_run_record(
    plan: &ResolvedPlan,
    names: &[Arc<str>],
    index: JobIndex,
    reason: String,
) -> JobRecord {
    let entry = &plan.entries[index.entry];
    let job = &entry.jobs[index.job];
    let now = Timestamp::now();
    JobRecord {
        index,
        target: job.target(),
        entry: names[index.entry].clone(),
        job_id: job.id.clone(),
        description: job.description.as_deref().map(str::to_owned),
        status_before: Some(job.status_seen),
        actions: entry.actions.clone(),
        status_after: None,
        outcome: Outcome::NotRun,
        attempts: 0,
        waited: std::time::Duration::ZERO,
        reason: Some(reason),
        request_id: None,
        error: None,
        tasks: Some(job.progress_seen()),
        failure_reasons: Vec::new(),
        started_at: now,
        finished_at: now,
    }
}

/// Runs one job from `Resolved` to `Done`.
pub(crate) async fn run_job<C: JobControl>(ctx: Arc<Context<C>>, index: JobIndex) -> JobRecord {
    let entry = &ctx.plan.entries[index.entry];
    let job = &entry.jobs[index.job];
    let emitter = &ctx.emitter;
    let mut record = not_run_record(&ctx.plan, &ctx.names, index, String::new());
    record.started_at = Timestamp::now();
    record.reason = None;
    let mut state = JobState::Resolved;
    let mut status = job.status_seen;
    let mut priority = job.priority_seen;
    // What an earlier, interrupted run did, per action: acknowledged actions are not sent again; the rest
    // run. A job the earlier run touched but did not finish is read first, so nothing is judged from a
    // status older than that run's requests.
    let (carried, remaining, touched) = if ctx.resume.is_empty() {
        (None, Cow::Borrowed(entry.actions.as_slice()), false)
    } else {
        let (carried, remaining, touched) = resumed(&ctx, entry, job);
        (carried, Cow::Owned(remaining), touched)
    };
    if let Some(carried) = &carried
        && remaining.is_empty()
    {
        apply_step(&mut record, carried.clone());
        record.finished_at = Timestamp::now();
        return record;
    }
    if touched {
        match read_before_resuming(&ctx, index, &job.id).await {
            Ok(seen) => {
                status = seen.status;
                priority = seen.priority;
                record.status_before = Some(seen.status);
            }
            Err(step) => {
                apply_step(&mut record, step);
                record.finished_at = Timestamp::now();
                return record;
            }
        }
    }
    loop {
        state = match state {
            JobState::Resolved => match &entry.gate {
                Some(gate)
                    if ctx.mode() == RunMode::DryRun
                        && gate_needed(entry, &remaining, JobView { status, priority }) =>
                {
                    let unmade = ctx.unmade.get_or_init(|| {
                        unmade_gates(&ctx.plan)
                            .into_iter()
                            .map(|gate| ((gate.entry, gate.job.clone()), gate))
                            .collect()
                    });
                    match unmade.get(&(index.entry, job.id.clone())) {
                        // The gate opens only through a change this dry run will not make: not waited for.
                        Some(unmade) => {
                            let reason = unmade.reason(&ctx.plan);
                            apply_step(&mut record, Step::quiet(Outcome::WouldApply, Some(reason)));
                            record.status_after = Some(status);
                            JobState::Done(record.outcome)
                        }
                        None => JobState::Waiting(gate_view(gate)),
                    }
                }
                Some(gate) if gate_needed(entry, &remaining, JobView { status, priority }) => {
                    JobState::Waiting(gate_view(gate))
                }
                Some(_) | None => JobState::Applying(status),
            },
            JobState::Waiting(gate) => {
                emitter
                    .emit(EventKind::JobWaiting {
                        index,
                        job: job.id.clone(),
                        gate: gate.clone(),
                    })
                    .await;
                let waited_from = Instant::now();
                let (next, seen) = wait_gate(&ctx, index, &job.id, &gate).await;
                record.waited = waited_from.elapsed();
                if let Some(seen) = seen
                    && gate.subject == GateSubject::OwnStatus
                {
                    status = seen.status;
                    record.status_before = Some(seen.status);
                    record.tasks = Some(seen.progress);
                    if let Some(reasons) = seen.failure_reasons {
                        record.failure_reasons = reasons;
                    }
                }
                match next {
                    Ok(()) => JobState::Applying(status),
                    Err(step) => {
                        apply_step(&mut record, step);
                        // The gate ended the job before any call: it is in the status last seen.
                        if record.outcome != Outcome::NotRun {
                            record.status_after = Some(status);
                        }
                        JobState::Done(record.outcome)
                    }
                }
            }
            JobState::Applying(status) => {
                let (view, decided) = decide_refreshed(
                    &ctx,
                    index,
                    &remaining,
                    &job.id,
                    JobView { status, priority },
                )
                .await;
                let status = view.status;
                emitter
                    .emit(EventKind::JobApplying {
                        index,
                        job: job.id.clone(),
                        status,
                    })
                    .await;
                record.status_before = Some(status);
                let mut step = apply(&ctx, index, &job.id, view, &decided).await;
                if let Some(carried) = &carried {
                    step = combine(vec![carried.clone(), step]);
                }
                apply_step(&mut record, step);
                // No status call was made: the job is still in the status it was judged from.
                if record.status_after.is_none()
                    && matches!(
                        record.outcome,
                        Outcome::Unchanged | Outcome::Skipped | Outcome::WouldApply | Outcome::Met
                    )
                {
                    record.status_after = Some(status);
                }
                JobState::Done(record.outcome)
            }
            JobState::Done(_) => break,
        };
        if matches!(state, JobState::Done(_)) {
            break;
        }
    }
    record.finished_at = Timestamp::now();
    record
}

fn apply_step(record: &mut JobRecord, step: Step) {
    record.outcome = step.outcome;
    record.reason = step.reason;
    record.attempts += step.attempts;
    if step.status_after.is_some() {
        record.status_after = step.status_after;
    }
    if step.request_id.is_some() {
        record.request_id = step.request_id;
    }
    if let Some(error) = &step.error {
        record.request_id = error.request_id.clone().or(record.request_id.take());
        record.error = Some(ErrorView::from(error));
    }
}

/// What an earlier run did to the actions of `job` in `entry`: the acknowledged ones folded into one step,
/// the actions still to send, and whether the earlier run touched the job at all.
fn resumed<C>(
    ctx: &Context<C>,
    entry: &ResolvedEntry,
    job: &ResolvedJob,
) -> (Option<Step>, Vec<Action>, bool) {
    let mut done = Vec::new();
    let mut remaining = Vec::new();
    let mut touched = false;
    for &action in &entry.actions {
        match ctx.resume.get(
            &entry.name,
            ctx.plan.target_name(job.target()),
            &job.id,
            action,
        ) {
            Some(Prior::Done {
                status: answered,
                request_id,
                attempts,
            }) => {
                touched = true;
                let mut step = Step::quiet(
                    Outcome::Applied,
                    Some(format!(
                        "{action} applied by the resumed run (acknowledged in its journal); not sent again"
                    )),
                );
                step.status_after = *answered;
                step.request_id.clone_from(request_id);
                step.attempts = *attempts;
                done.push(step);
            }
            Some(Prior::Uncertain) => {
                touched = true;
                remaining.push(action);
            }
            None => remaining.push(action),
        }
    }
    (
        (!done.is_empty()).then(|| combine(done)),
        remaining,
        touched,
    )
}

/// The entry's gate, as a waiting job shows it.
fn gate_view(gate: &crate::resolved::Gate) -> GateView {
    GateView {
        subject: gate.subject.clone(),
        statuses: gate.statuses.clone(),
        timeout: gate.timeout,
        tasks: gate.tasks,
    }
}

/// Whether the job must pass the entry's gate: the one decision says so (a job whose every action is
/// already done needs none).
fn gate_needed(entry: &ResolvedEntry, actions: &[Action], view: JobView) -> bool {
    let Some(gate) = &entry.gate else {
        return false;
    };
    // The gate's state is not known before it is polled; pending is what waiting means.
    let pending = GateCheck::Pending;
    decide(
        actions,
        Some(DecisionGate {
            own: gate.subject == GateSubject::OwnStatus,
            wanted: &gate.statuses,
            check: &pending,
        }),
        view,
    )
    .gate_needed
}

/// Waits for the gate; `Ok` when it holds, else the step that ends the job. Also returns the watched job's
/// last status and task counters seen.
async fn wait_gate<C: JobControl>(
    ctx: &Context<C>,
    index: JobIndex,
    own: &JobId,
    gate: &GateView,
) -> (Result<(), Step>, Option<Seen>) {
    let (site, watched) = match &gate.subject {
        GateSubject::OwnStatus => (ctx.site_of(index), own),
        GateSubject::OtherJob { target, job } => (ctx.site(*target), job),
    };
    let wanted: Arc<[JobStatus]> = gate.statuses.clone().into();
    let rx = site.poller.watch(watched, wanted, gate.tasks);
    let news = tokio::select! {
        news = tokio::time::timeout(gate.timeout, rx) => news,
        () = ctx.cancel.cancelled() => {
            return (Err(Step::quiet(Outcome::NotRun, Some("interrupted while waiting for its gate".to_owned()))), None);
        }
    };
    let names: Vec<&str> = gate.statuses.iter().map(|s| s.as_str()).collect();
    let whose = match &gate.subject {
        GateSubject::OwnStatus => "the job".to_owned(),
        GateSubject::OtherJob { target, job } => ctx.watched_name(*target, job),
    };
    match news {
        Ok(Ok(GateNews::Holds(seen))) => (Ok(()), Some(seen)),
        Ok(Ok(GateNews::Unreachable(seen, why))) => (
            Err(Step::quiet(
                Outcome::Failed,
                Some(format!("gate on {whose} can never hold: {why}")),
            )),
            Some(seen),
        ),
        Ok(Ok(GateNews::Unreadable(error))) => {
            let mut step = Step::quiet(
                Outcome::Failed,
                Some(format!("gate on {whose} cannot be read")),
            );
            step.error = Some(error);
            (Err(step), None)
        }
        Ok(Err(_closed)) => (
            Err(Step::quiet(
                Outcome::Failed,
                Some("internal error: the gate poller stopped; this is a bug".to_owned()),
            )),
            None,
        ),
        Err(_elapsed) => (
            Err(Step::quiet(
                Outcome::TimedOut,
                Some(format!(
                    "{whose} did not become {}{} within {}",
                    names.join(" or "),
                    gate.tasks
                        .map(|tasks| format!(" with {tasks}"))
                        .unwrap_or_default(),
                    humantime::format_duration(gate.timeout)
                )),
            )),
            None,
        ),
    }
}

/// A job the resumed run sent a request for without a recorded answer is read before anything is sent.
async fn read_before_resuming<C: JobControl>(
    ctx: &Context<C>,
    index: JobIndex,
    job: &JobId,
) -> Result<JobView, Step> {
    let site = ctx.site_of(index);
    let described = site
        .caller
        .call(ApiCall::DescribeJob, Some(index), |_| {
            site.control.describe_job(job)
        })
        .await;
    match described.result {
        Ok(answer) => Ok(JobView {
            status: answer.value.summary.status,
            priority: answer.value.summary.priority,
        }),
        Err(error) => {
            let mut step = Step::quiet(
                Outcome::Failed,
                Some("the resumed run sent a request without a recorded answer, and DescribeJob to re-check it failed".to_owned()),
            );
            step.attempts = described.attempts;
            step.request_id = error.request_id.clone();
            step.error = Some(error);
            Err(step)
        }
    }
}

/// Decides the job's actions once its gate is passed. A refusal is the one judgment that rests on a status
/// the job can leave (`Preparing` becomes `Suspended`), so a status seen a while ago is read again and the
/// job decided afresh before it is failed for it.
async fn decide_refreshed<C: JobControl>(
    ctx: &Context<C>,
    index: JobIndex,
    actions: &[Action],
    job: &JobId,
    view: JobView,
) -> (JobView, Decision) {
    let decided = decide(actions, None, view);
    if decided.verdict != Verdict::Impossible {
        return (view, decided);
    }
    let site = ctx.site_of(index);
    let described = site
        .caller
        .call(ApiCall::DescribeJob, Some(index), |_| {
            site.control.describe_job(job)
        })
        .await;
    match described.result {
        Ok(answer) => {
            let view = JobView {
                status: answer.value.summary.status,
                priority: answer.value.summary.priority,
            };
            (view, decide(actions, None, view))
        }
        Err(_) => (view, decided),
    }
}

/// Carries out a decision: nothing for a job that is skipped, refused or done; else each action in order
/// (priority first, so a confirmed job runs with it), stopping at the first failure.
async fn apply<C: JobControl>(
    ctx: &Context<C>,
    index: JobIndex,
    job: &JobId,
    view: JobView,
    decided: &Decision,
) -> Step {
    let reason = decided.reason.clone();
    match decided.verdict {
        Verdict::Impossible => return Step::quiet(Outcome::Failed, reason),
        Verdict::Skipped => return Step::quiet(Outcome::Skipped, reason),
        Verdict::Unchanged => return Step::quiet(Outcome::Unchanged, reason),
        Verdict::Met => return Step::quiet(Outcome::Met, reason),
        Verdict::Waiting => {
            return Step::quiet(
                Outcome::Failed,
                Some("internal error: a job was applied before its gate; this is a bug".to_owned()),
            );
        }
        Verdict::Change => {}
    }
    let mut steps = Vec::new();
    for (action, judgment) in &decided.actions {
        let step = match judgment {
            ActionJudgment::Call if ctx.mode() == RunMode::DryRun => {
                Step::quiet(Outcome::WouldApply, Some(would(*action, view)))
            }
            ActionJudgment::Call => mutate(ctx, index, job, *action).await,
            ActionJudgment::AlreadyDone(reason) => {
                Step::quiet(Outcome::Unchanged, Some(reason.clone()))
            }
            ActionJudgment::Moot(reason) | ActionJudgment::Refused(reason) => Step::quiet(
                Outcome::Failed,
                Some(format!(
                    "internal error: {reason} was decided a change; this is a bug"
                )),
            ),
        };
        let failed = !step.outcome.is_success();
        steps.push(step);
        if failed {
            break;
        }
    }
    combine(steps)
}

/// What a dry run says about an action it would send.
fn would(action: Action, view: JobView) -> String {
    match action {
        Action::SetPriority(to) => format!("would set priority {} -> {to}", view.priority),
        Action::SetStatus(target) => format!("would request {target} (job is {})", view.status),
    }
}

/// Failed beats applied beats would-apply beats skipped beats unchanged; attempts add up.
fn combine(steps: Vec<Step>) -> Step {
    let rank = |o: Outcome| match o {
        Outcome::Failed | Outcome::TimedOut | Outcome::NotRun => 4,
        Outcome::Applied => 3,
        Outcome::WouldApply => 2,
        Outcome::Skipped => 1,
        Outcome::Unchanged | Outcome::Met => 0,
    };
    let attempts = steps.iter().map(|s| s.attempts).sum();
    let mut best: Option<Step> = None;
    let mut reasons = Vec::new();
    let mut request_id = None;
    let mut status_after = None;
    for step in steps {
        if let Some(reason) = &step.reason {
            reasons.push(reason.clone());
        }
        request_id = step.request_id.clone().or(request_id);
        status_after = step.status_after.or(status_after);
        if best
            .as_ref()
            .is_none_or(|b| rank(step.outcome) >= rank(b.outcome))
        {
            best = Some(step);
        }
    }
    let mut best =
        best.unwrap_or_else(|| Step::quiet(Outcome::Unchanged, Some("nothing to do".to_owned())));
    best.attempts = attempts;
    best.reason = (!reasons.is_empty())
        .then(|| reasons.join("; "))
        .or(best.reason);
    best.request_id = best.request_id.or(request_id);
    best.status_after = best.status_after.or(status_after);
    best
}

#[cfg(test)]
#[cfg(test)]
mod tests;
