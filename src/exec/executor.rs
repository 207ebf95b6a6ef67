//! The executor: per-job state machines and the scheduler that feeds them.
//!
//! Each job walks `Resolved -> Waiting(gate) -> Applying -> (Retrying { attempt, delay })* -> Done(Outcome)`;
//! every transition is an event. The scheduler starts entries when their `after:` entries succeeded (else
//! their jobs end `not_run`), keeps at most [`MAX_ACTIVE_JOBS`] job futures alive at once (100,000 jobs never
//! become 100,000 tasks), and on interruption starts nothing new. Targets are judged against the lifecycle
//! before any call (`outcome.rs`); a `JobStatusException` is re-checked with DescribeJob before it is
//! reported. Does not own limits and retries (`limiter.rs`, `retry.rs`), polling (`poller.rs`) or the event
//! loop (`coordinator.rs`).

use std::collections::VecDeque;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use jiff::Timestamp;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api::{ApiCall, ApiError, JobControl, JobId, JobStatus, TargetStatus};
use crate::event::{ErrorView, EventKind, GateView, JobIndex, JobRecord};
use crate::exec::journal::{Acknowledgement, Intent, Journal};
use crate::exec::outcome::{Judgment, Outcome, judge_target, reaches_target};
use crate::exec::poller::{GateNews, GatePoller};
use crate::exec::retry::Caller;
use crate::resolved::{GateSubject, ResolvedEntry, ResolvedPlan, RunMode};

/// Job futures alive at once. Waiting jobs hold a slot, so an entry with more gated jobs than this polls
/// the rest one round later.
pub const MAX_ACTIVE_JOBS: usize = 16_384;

/// Where a job is in its life. The executor moves each job through these in order; `Retrying` happens
/// inside `Applying` (see `retry.rs`) and shows as `Retrying` events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Known from resolution; nothing done yet.
    Resolved,
    /// Polling its gate.
    Waiting(GateView),
    /// Making its calls, judged from this status.
    Applying(JobStatus),
    /// An attempt failed transiently; the next one starts after `delay`.
    Retrying {
        /// The failed attempt.
        attempt: u32,
        /// The wait before the next.
        delay: std::time::Duration,
    },
    /// Finished.
    Done(Outcome),
}

/// Everything the jobs of one run share.
pub struct Context<C> {
    /// The plan being run.
    pub plan: Arc<ResolvedPlan>,
    /// The API.
    pub control: Arc<C>,
    /// Limits, retries and attempt events.
    pub caller: Caller,
    /// The shared gate poller.
    pub poller: GatePoller<C>,
    /// The pre-send hook of mutating attempts.
    pub journal: Arc<dyn Journal>,
    /// Entry names, shared by every record.
    pub names: Vec<Arc<str>>,
    /// Set once the run is interrupted: nothing new starts.
    pub cancel: CancellationToken,
}

impl<C> Context<C> {
    fn mode(&self) -> RunMode {
        self.plan.settings.mode
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
        entry: names[index.entry].clone(),
        job_id: job.id.clone(),
        description: job.description.clone(),
        status_before: Some(job.status_seen),
        requested: entry.target,
        priority_requested: entry.priority,
        status_after: None,
        outcome: Outcome::NotRun,
        attempts: 0,
        waited: std::time::Duration::ZERO,
        reason: Some(reason),
        request_id: None,
        error: None,
        started_at: now,
        finished_at: now,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryState {
    Pending,
    Running { remaining: usize, failed: bool },
    Finished { succeeded: bool },
}

/// Runs every entry of the plan; returns when every job has a `JobFinished` event.
pub async fn execute<C: JobControl>(ctx: Arc<Context<C>>) {
    let plan = ctx.plan.clone();
    let emitter = ctx.caller.emitter.clone();
    let mut entries = vec![EntryState::Pending; plan.entries.len()];
    let mut queue: VecDeque<JobIndex> = VecDeque::new();
    let mut active = FuturesUnordered::new();
    let mut interrupted = false;
    let mut finished_now: Vec<JobRecord> = Vec::new();
    let mut entries_done: Vec<(usize, bool)> = Vec::new();

    start_entries(
        &plan,
        &ctx.names,
        &mut entries,
        &mut queue,
        &mut finished_now,
        &mut entries_done,
        &emitter,
    )
    .await;
    loop {
        for record in finished_now.drain(..) {
            emitter.emit(EventKind::JobFinished(Box::new(record))).await;
        }
        for (entry, succeeded) in entries_done.drain(..) {
            emitter
                .emit(EventKind::EntryFinished { entry, succeeded })
                .await;
        }
        while !interrupted && active.len() < MAX_ACTIVE_JOBS {
            let Some(index) = queue.pop_front() else {
                break;
            };
            active.push(run_job(ctx.clone(), index));
        }
        if active.is_empty() && (queue.is_empty() || interrupted) {
            break;
        }
        tokio::select! {
            Some(record) = active.next() => {
                let index = record.index;
                let success = record.outcome.is_success();
                emitter.emit(EventKind::JobFinished(Box::new(record))).await;
                if let EntryState::Running { remaining, failed } = &mut entries[index.entry] {
                    *remaining -= 1;
                    *failed |= !success;
                    if *remaining == 0 {
                        let succeeded = !*failed;
                        entries[index.entry] = EntryState::Finished { succeeded };
                        emitter.emit(EventKind::EntryFinished { entry: index.entry, succeeded }).await;
                        if !interrupted {
                            start_entries(&plan, &ctx.names, &mut entries, &mut queue, &mut finished_now, &mut entries_done, &emitter).await;
                        }
                    }
                }
            }
            () = ctx.cancel.cancelled(), if !interrupted => interrupted = true,
        }
    }
    // Whatever never started ends `not_run`: queued jobs, and entries whose turn never came.
    let reason = if interrupted {
        "interrupted before it started"
    } else {
        "its `after:` entries never finished (dependency cycle)"
    };
    for index in queue.drain(..) {
        let record = not_run_record(&plan, &ctx.names, index, reason.to_owned());
        emitter.emit(EventKind::JobFinished(Box::new(record))).await;
    }
    for (entry_index, state) in entries.iter().enumerate() {
        match state {
            EntryState::Finished { .. } => {}
            EntryState::Running { .. } | EntryState::Pending => {
                if *state == EntryState::Pending {
                    for job in 0..plan.entries[entry_index].jobs.len() {
                        let index = JobIndex {
                            entry: entry_index,
                            job,
                        };
                        let record = not_run_record(&plan, &ctx.names, index, reason.to_owned());
                        emitter.emit(EventKind::JobFinished(Box::new(record))).await;
                    }
                }
                emitter
                    .emit(EventKind::EntryFinished {
                        entry: entry_index,
                        succeeded: false,
                    })
                    .await;
            }
        }
    }
}

/// Starts every pending entry whose dependencies all succeeded; ends `not_run` those with a failed one.
async fn start_entries(
    plan: &ResolvedPlan,
    names: &[Arc<str>],
    entries: &mut [EntryState],
    queue: &mut VecDeque<JobIndex>,
    finished: &mut Vec<JobRecord>,
    done: &mut Vec<(usize, bool)>,
    emitter: &crate::exec::emitter::Emitter,
) {
    let mut changed = true;
    while changed {
        changed = false;
        for (index, entry) in plan.entries.iter().enumerate() {
            if entries[index] != EntryState::Pending {
                continue;
            }
            let failed_dep = entry.after.iter().find(|&&dep| {
                matches!(
                    entries.get(dep),
                    Some(EntryState::Finished { succeeded: false })
                )
            });
            if let Some(&dep) = failed_dep {
                let reason = format!("`after:` entry `{}` did not succeed", names[dep]);
                for job in 0..entry.jobs.len() {
                    finished.push(not_run_record(
                        plan,
                        names,
                        JobIndex { entry: index, job },
                        reason.clone(),
                    ));
                }
                entries[index] = EntryState::Finished { succeeded: false };
                done.push((index, false));
                changed = true;
                continue;
            }
            let ready = entry.after.iter().all(|&dep| {
                matches!(
                    entries.get(dep),
                    Some(EntryState::Finished { succeeded: true })
                )
            });
            if !ready {
                continue;
            }
            emitter.emit(EventKind::EntryStarted { entry: index }).await;
            changed = true;
            if entry.jobs.is_empty() {
                entries[index] = EntryState::Finished { succeeded: true };
                done.push((index, true));
                continue;
            }
            entries[index] = EntryState::Running {
                remaining: entry.jobs.len(),
                failed: false,
            };
            queue.extend((0..entry.jobs.len()).map(|job| JobIndex { entry: index, job }));
        }
    }
}

/// One call's contribution to a job's outcome.
#[derive(Debug)]
struct Step {
    outcome: Outcome,
    reason: Option<String>,
    status_after: Option<JobStatus>,
    request_id: Option<String>,
    error: Option<ApiError>,
    attempts: u32,
}

impl Step {
    fn quiet(outcome: Outcome, reason: Option<String>) -> Self {
        Self {
            outcome,
            reason,
            status_after: None,
            request_id: None,
            error: None,
            attempts: 0,
        }
    }
}

/// Runs one job from `Resolved` to `Done`.
async fn run_job<C: JobControl>(ctx: Arc<Context<C>>, index: JobIndex) -> JobRecord {
    let entry = &ctx.plan.entries[index.entry];
    let job = &entry.jobs[index.job];
    let emitter = &ctx.caller.emitter;
    let mut record = not_run_record(&ctx.plan, &ctx.names, index, String::new());
    record.started_at = Timestamp::now();
    record.reason = None;
    let mut state = JobState::Resolved;
    let mut status = job.status_seen;
    loop {
        state = match state {
            JobState::Resolved => match &entry.gate {
                Some(gate) => JobState::Waiting(GateView {
                    subject: gate.subject.clone(),
                    statuses: gate.statuses.clone(),
                    timeout: gate.timeout,
                }),
                None => JobState::Applying(status),
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
                let (next, seen) = wait_gate(&ctx, &job.id, &gate).await;
                record.waited = waited_from.elapsed();
                if let Some(seen) = seen
                    && gate.subject == GateSubject::OwnStatus
                {
                    status = seen;
                    record.status_before = Some(seen);
                }
                match next {
                    Ok(()) => JobState::Applying(status),
                    Err(step) => {
                        apply_step(&mut record, step);
                        JobState::Done(record.outcome)
                    }
                }
            }
            JobState::Applying(status) => {
                emitter
                    .emit(EventKind::JobApplying {
                        index,
                        job: job.id.clone(),
                        status,
                    })
                    .await;
                record.status_before = Some(status);
                let step = apply(&ctx, index, entry, &job.id, job.priority_seen, status).await;
                apply_step(&mut record, step);
                JobState::Done(record.outcome)
            }
            JobState::Retrying { .. } | JobState::Done(_) => break,
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

/// Waits for the gate; `Ok` when it holds, else the step that ends the job. Also returns the last status seen.
async fn wait_gate<C: JobControl>(
    ctx: &Context<C>,
    own: &JobId,
    gate: &GateView,
) -> (Result<(), Step>, Option<JobStatus>) {
    let watched = match &gate.subject {
        GateSubject::OwnStatus => own,
        GateSubject::OtherJob(other) => other,
    };
    let wanted: Arc<[JobStatus]> = gate.statuses.clone().into();
    let rx = ctx.poller.watch(watched, wanted);
    let news = tokio::select! {
        news = tokio::time::timeout(gate.timeout, rx) => news,
        () = ctx.cancel.cancelled() => {
            return (Err(Step::quiet(Outcome::NotRun, Some("interrupted while waiting for its gate".to_owned()))), None);
        }
    };
    let names: Vec<&str> = gate.statuses.iter().map(|s| s.as_str()).collect();
    let whose = match &gate.subject {
        GateSubject::OwnStatus => "the job".to_owned(),
        GateSubject::OtherJob(other) => format!("job {other}"),
    };
    match news {
        Ok(Ok(GateNews::Holds(status))) => (Ok(()), Some(status)),
        Ok(Ok(GateNews::Unreachable(status, why))) => (
            Err(Step::quiet(
                Outcome::Failed,
                Some(format!("gate on {whose} can never hold: {why}")),
            )),
            Some(status),
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
                    "{whose} did not become {} within {}",
                    names.join(" or "),
                    humantime::format_duration(gate.timeout)
                )),
            )),
            None,
        ),
    }
}

/// The calls of one job: priority first (so a confirmed job runs with it), then the status.
async fn apply<C: JobControl>(
    ctx: &Context<C>,
    index: JobIndex,
    entry: &ResolvedEntry,
    job: &JobId,
    priority_seen: i32,
    status: JobStatus,
) -> Step {
    let judgment = entry
        .target
        .map(|target| (target, judge_target(target, status)));
    if let Some((_, Judgment::Skipped(reason))) = &judgment {
        return Step::quiet(Outcome::Skipped, Some(reason.clone()));
    }
    if let Some((_, Judgment::Refused(reason))) = &judgment {
        return Step::quiet(Outcome::Failed, Some(reason.clone()));
    }
    let mut steps = Vec::new();
    if let Some(priority) = entry.priority {
        let step = if status.is_terminal() {
            Step::quiet(
                Outcome::Skipped,
                Some(format!("job is {status}; priority no longer matters")),
            )
        } else if priority == priority_seen {
            Step::quiet(
                Outcome::Unchanged,
                Some(format!("priority already {priority}")),
            )
        } else if ctx.mode() == RunMode::DryRun {
            Step::quiet(
                Outcome::WouldApply,
                Some(format!("would set priority {priority_seen} -> {priority}")),
            )
        } else {
            set_priority(ctx, index, entry, job, priority).await
        };
        let failed = step.outcome != Outcome::Unchanged && !step.outcome.is_success();
        steps.push(step);
        if failed {
            return combine(steps);
        }
    }
    if let Some((target, judgment)) = judgment {
        let step = match judgment {
            Judgment::Unchanged(reason) => Step::quiet(Outcome::Unchanged, Some(reason)),
            Judgment::Call if ctx.mode() == RunMode::DryRun => Step::quiet(
                Outcome::WouldApply,
                Some(format!("would request {target} (job is {status})")),
            ),
            Judgment::Call => set_status(ctx, index, entry, job, target).await,
            Judgment::Skipped(_) | Judgment::Refused(_) => unreachable_judgment(),
        };
        steps.push(step);
    }
    combine(steps)
}

fn unreachable_judgment() -> Step {
    Step::quiet(
        Outcome::Failed,
        Some("internal error: judgment handled twice; this is a bug".to_owned()),
    )
}

/// Failed beats applied beats would-apply beats skipped beats unchanged; attempts add up.
fn combine(steps: Vec<Step>) -> Step {
    let rank = |o: Outcome| match o {
        Outcome::Failed | Outcome::TimedOut | Outcome::NotRun => 4,
        Outcome::Applied => 3,
        Outcome::WouldApply => 2,
        Outcome::Skipped => 1,
        Outcome::Unchanged => 0,
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

async fn set_priority<C: JobControl>(
    ctx: &Context<C>,
    index: JobIndex,
    entry: &ResolvedEntry,
    job: &JobId,
    priority: i32,
) -> Step {
    let call = ApiCall::UpdateJobPriority;
    let called = ctx
        .caller
        .call(call, Some(index), |attempt| {
            let intent = Intent {
                entry: ctx.names[index.entry].to_string(),
                job: job.clone(),
                call,
                target: None,
                priority: Some(priority),
                reason: entry.reason.clone(),
                attempt,
            };
            async move {
                ctx.journal.intent(&intent).await.map_err(|e| {
                    ApiError::local(call, crate::api::ApiErrorKind::Other, e.to_string())
                })?;
                let result = ctx.control.update_job_priority(job, priority).await;
                acknowledge(ctx, &intent, None, &result).await;
                result
            }
        })
        .await;
    match called.result {
        Ok(answer) => Step {
            outcome: Outcome::Applied,
            reason: Some(format!("priority set to {}", answer.value)),
            status_after: None,
            request_id: answer.request_id,
            error: None,
            attempts: called.attempts,
        },
        Err(error) => failed_call(ctx, error, called.attempts),
    }
}

async fn acknowledge<C, T>(
    ctx: &Context<C>,
    intent: &Intent,
    status: Option<JobStatus>,
    result: &Result<crate::api::Answer<T>, ApiError>,
) {
    let ack = Acknowledgement {
        job: intent.job.clone(),
        call: intent.call,
        attempt: intent.attempt,
        status: result.as_ref().ok().and(status),
        error_code: result.as_ref().err().and_then(|e| e.code.clone()),
        request_id: match result {
            Ok(answer) => answer.request_id.clone(),
            Err(error) => error.request_id.clone(),
        },
    };
    if let Err(error) = ctx.journal.acknowledge(&ack).await {
        tracing::error!("{error}");
    }
}

fn failed_call<C>(ctx: &Context<C>, error: ApiError, attempts: u32) -> Step {
    if attempts == 0 && ctx.cancel.is_cancelled() {
        return Step::quiet(
            Outcome::NotRun,
            Some("interrupted before its call was sent".to_owned()),
        );
    }
    let interrupted = if ctx.cancel.is_cancelled() && error.kind.is_retryable() {
        "; interrupted, not retried"
    } else {
        ""
    };
    Step {
        outcome: Outcome::Failed,
        reason: Some(format!(
            "{} failed after {attempts} attempt(s){interrupted}",
            error.call
        )),
        status_after: None,
        request_id: error.request_id.clone(),
        error: Some(error),
        attempts,
    }
}

async fn set_status<C: JobControl>(
    ctx: &Context<C>,
    index: JobIndex,
    entry: &ResolvedEntry,
    job: &JobId,
    target: TargetStatus,
) -> Step {
    let call = ApiCall::UpdateJobStatus;
    let called = ctx
        .caller
        .call(call, Some(index), |attempt| {
            let intent = Intent {
                entry: ctx.names[index.entry].to_string(),
                job: job.clone(),
                call,
                target: Some(target),
                priority: None,
                reason: entry.reason.clone(),
                attempt,
            };
            async move {
                ctx.journal.intent(&intent).await.map_err(|e| {
                    ApiError::local(call, crate::api::ApiErrorKind::Other, e.to_string())
                })?;
                let result = ctx
                    .control
                    .update_job_status(job, target, entry.reason.as_deref())
                    .await;
                let status = result.as_ref().ok().map(|a| a.value);
                acknowledge(ctx, &intent, status, &result).await;
                result
            }
        })
        .await;
    let attempts = called.attempts;
    match called.result {
        Ok(answer) if reaches_target(target, answer.value) => Step {
            outcome: Outcome::Applied,
            reason: Some(format!("requested {target}; job is now {}", answer.value)),
            status_after: Some(answer.value),
            request_id: answer.request_id,
            error: None,
            attempts,
        },
        Ok(answer) => Step {
            outcome: Outcome::Failed,
            reason: Some(format!(
                "requested {target} but the server answered status {}",
                answer.value
            )),
            status_after: Some(answer.value),
            request_id: answer.request_id,
            error: None,
            attempts,
        },
        Err(error) if error.kind == crate::api::ApiErrorKind::JobStatusConflict => {
            recheck(ctx, index, target, error, attempts).await
        }
        Err(error) => failed_call(ctx, error, attempts),
    }
}

/// After a `JobStatusException`, reads the job again: a job that reached the target meanwhile (a race, or an
/// earlier attempt of ours that the server applied before its answer was lost) is not a failure.
async fn recheck<C: JobControl>(
    ctx: &Context<C>,
    index: JobIndex,
    target: TargetStatus,
    conflict: ApiError,
    attempts: u32,
) -> Step {
    let job = &ctx.plan.entries[index.entry].jobs[index.job].id;
    let described = ctx
        .caller
        .call(ApiCall::DescribeJob, Some(index), |_| {
            ctx.control.describe_job(job)
        })
        .await;
    let Ok(answer) = described.result else {
        return failed_call(ctx, conflict, attempts);
    };
    let now = answer.value.summary.status;
    let mut step = match judge_target(target, now) {
        Judgment::Unchanged(_) if attempts > 1 => Step::quiet(
            Outcome::Applied,
            Some(format!(
                "an earlier attempt was applied; the retry met JobStatusException and the job is {now}"
            )),
        ),
        Judgment::Unchanged(_) => Step::quiet(
            Outcome::Unchanged,
            Some(format!(
                "the job reached {now} by itself meanwhile (race); JobStatusException re-checked"
            )),
        ),
        Judgment::Skipped(reason) => Step::quiet(
            Outcome::Skipped,
            Some(format!("{reason} (race; re-checked)")),
        ),
        Judgment::Call | Judgment::Refused(_) => {
            let mut step = failed_call(ctx, conflict, attempts);
            step.reason = Some(format!("UpdateJobStatus refused while the job is {now}"));
            step.status_after = Some(now);
            return step;
        }
    };
    step.attempts = attempts;
    step.status_after = Some(now);
    step.request_id = answer.request_id;
    step
}
