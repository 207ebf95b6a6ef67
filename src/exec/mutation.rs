//! The journaled mutation: the one path by which any [`Action`] is sent.
//!
//! Owns sending an action's call under the caller (limiter permit, retries, attempt events), the journal
//! intent made durable before each attempt and the acknowledgement after it, and reading the answer: a
//! status answer that reaches the target, a `JobStatusException` read again with DescribeJob (the job may
//! have reached the target meanwhile, or an earlier attempt of ours landed before its answer was lost).
//! Does not decide whether to send (`decision.rs`) or walk a job through its life (`executor.rs`).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::api::{ApiCall, ApiError, ApiErrorKind, JobControl, JobId, JobStatus};
use crate::decision::{ActionJudgment, JobView, judge_action};
use crate::event::JobIndex;
use crate::exec::executor::Context;
use crate::exec::journal::{Acknowledgement, Intent, JournalError};
use crate::exec::outcome::{Outcome, reaches_target};
use crate::resolved::Action;

/// One call's contribution to a job's outcome.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub(crate) outcome: Outcome,
    pub(crate) reason: Option<String>,
    pub(crate) status_after: Option<JobStatus>,
    pub(crate) request_id: Option<String>,
    pub(crate) error: Option<ApiError>,
    pub(crate) attempts: u32,
}

impl Step {
    pub(crate) fn quiet(outcome: Outcome, reason: Option<String>) -> Self {
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
/// What a mutating call answered.
enum Answered {
    Priority(i32),
    Status(JobStatus),
}

/// Sends `action` for `job` (the job at `index`), each attempt journaled before it is sent, and reads the
/// answer into the step that ends (or continues) the job.
pub(crate) async fn mutate<C: JobControl>(
    ctx: &Context<C>,
    index: JobIndex,
    job: &JobId,
    action: Action,
) -> Step {
    let call = action.call();
    let reason = ctx.plan.entries[index.entry].reason.as_deref();
    // Whether the last attempt's intent failed to be recorded (its request was then never sent).
    let unrecorded = &AtomicBool::new(false);
    let site = ctx.site_of(index);
    let called = site
        .caller
        .call(call, Some(index), |attempt| {
            let intent = Intent {
                at: jiff::Timestamp::now(),
                call,
                entry: ctx.names[index.entry].to_string(),
                target: ctx.target_name_of(index).map(str::to_owned),
                job: job.clone(),
                action,
                reason: reason.map(str::to_owned),
                attempt,
            };
            async move {
                if let Err(error) = ctx.journal.intent(&intent).await {
                    unrecorded.store(true, Ordering::Relaxed);
                    journal_failed(ctx, &error);
                    return Err(ApiError::local(
                        call,
                        ApiErrorKind::Other,
                        error.to_string(),
                    ));
                }
                unrecorded.store(false, Ordering::Relaxed);
                let result = match action {
                    Action::SetPriority(priority) => site
                        .control
                        .update_job_priority(job, priority)
                        .await
                        .map(|a| (Answered::Priority(a.value), a.request_id)),
                    Action::SetStatus(target) => site
                        .control
                        .update_job_status(job, target, reason)
                        .await
                        .map(|a| (Answered::Status(a.value), a.request_id)),
                };
                acknowledge(ctx, intent, &result).await;
                result
            }
        })
        .await;
    let mut attempts = called.attempts;
    if let Some(error) = ctx.journal_failed.get()
        && unrecorded.load(Ordering::Relaxed)
    {
        // The last attempt's intent was not recorded, so its request was never sent: not an attempt.
        attempts = attempts.saturating_sub(1);
        let mut step = Step::quiet(
            Outcome::NotRun,
            Some(format!("not sent: the run stopped because {error}")),
        );
        step.attempts = attempts;
        return step;
    }
    match (action, called.result) {
        (_, Ok((Answered::Priority(priority), request_id))) => Step {
            outcome: Outcome::Applied,
            reason: Some(format!("priority set to {priority}")),
            status_after: None,
            request_id,
            error: None,
            attempts,
        },
        (Action::SetStatus(target), Ok((Answered::Status(status), request_id)))
            if reaches_target(target, status) =>
        {
            Step {
                outcome: Outcome::Applied,
                reason: Some(format!("requested {target}; job is now {status}")),
                status_after: Some(status),
                request_id,
                error: None,
                attempts,
            }
        }
        (_, Ok((Answered::Status(status), request_id))) => Step {
            outcome: Outcome::Failed,
            reason: Some(format!(
                "requested {} but the server answered status {status}",
                action
                    .target()
                    .map_or_else(|| action.to_string(), |t| t.to_string())
            )),
            status_after: Some(status),
            request_id,
            error: None,
            attempts,
        },
        (Action::SetStatus(_), Err(error)) if error.kind == ApiErrorKind::JobStatusConflict => {
            recheck(ctx, index, action, error, attempts, Recheck::Conflict).await
        }
        // A 2xx answer that could not be read: the change may have been made, so the job is read again
        // before it is judged.
        (_, Err(error)) if error.kind == ApiErrorKind::MalformedResponse => {
            recheck(ctx, index, action, error, attempts, Recheck::Unreadable).await
        }
        (_, Err(error)) => failed_call(ctx, error, attempts),
    }
}

/// Records the answer to `intent`. A failed write is logged: the request was sent either way, and a journal
/// without the answer reads back as "sent, answer unknown", which a resumed run re-checks.
async fn acknowledge<C>(
    ctx: &Context<C>,
    intent: Intent,
    result: &Result<(Answered, Option<String>), ApiError>,
) {
    let ack = Acknowledgement {
        at: jiff::Timestamp::now(),
        call: intent.call,
        entry: intent.entry,
        target: intent.target,
        job: intent.job,
        action: intent.action,
        attempt: intent.attempt,
        status: match result {
            Ok((Answered::Status(status), _)) => Some(*status),
            _ => None,
        },
        // A failure without an AWS code (timeout, dropped connection) still needs one: an ack without a
        // code reads as a success when the journal is read back.
        error_code: result
            .as_ref()
            .err()
            .map(|e| e.code.clone().unwrap_or_else(|| e.kind.as_str().to_owned())),
        request_id: match result {
            Ok((_, request_id)) => request_id.clone(),
            Err(error) => error.request_id.clone(),
        },
    };
    if let Err(error) = ctx.journal.acknowledge(&ack).await {
        journal_failed(ctx, &error);
    }
}

/// Records the first journal failure and stops the run: without a journal nothing more may be sent.
fn journal_failed<C>(ctx: &Context<C>, error: &JournalError) {
    if ctx.journal_failed.set(error.clone()).is_ok() {
        tracing::error!("{error}; stopping the run");
    }
    ctx.cancel.cancel();
}

pub(crate) fn failed_call<C>(ctx: &Context<C>, error: ApiError, attempts: u32) -> Step {
    if attempts == 0 && ctx.cancel.is_cancelled() {
        return Step::quiet(
            Outcome::NotRun,
            Some("interrupted before its call was sent".to_owned()),
        );
    }
    let interrupted = if ctx.cancel.is_cancelled() && error.kind.is_retryable() {
        "; interrupted while waiting to retry"
    } else {
        ""
    };
    Step {
        outcome: Outcome::Failed,
        reason: Some(format!(
            "{} failed after {}{interrupted}",
            error.call,
            crate::text::plural(usize::try_from(attempts).unwrap_or(usize::MAX), "attempt")
        )),
        status_after: None,
        request_id: error.request_id.clone(),
        error: Some(error),
        attempts,
    }
}

/// Why a job is read again after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recheck {
    /// `JobStatusException`: the job was not in a status that allows the request.
    Conflict,
    /// A 2xx answer whose body could not be read: the request was accepted, its answer lost.
    Unreadable,
}

/// After a `JobStatusException` or an unreadable answer, reads the job again: a job that reached the target
/// meanwhile (a race, an earlier attempt of ours that the server applied before its answer was lost, or this
/// very request whose answer could not be read) is not a failure.
async fn recheck<C: JobControl>(
    ctx: &Context<C>,
    index: JobIndex,
    action: Action,
    conflict: ApiError,
    attempts: u32,
    why: Recheck,
) -> Step {
    let resolved = &ctx.plan.entries[index.entry].jobs[index.job];
    let job = &resolved.id;
    let site = ctx.site_of(index);
    let described = site
        .caller
        .call(ApiCall::DescribeJob, Some(index), |_| {
            site.control.describe_job(job)
        })
        .await;
    let Ok(answer) = described.result else {
        return failed_call(ctx, conflict, attempts);
    };
    let now = answer.value.summary.status;
    let view = JobView {
        status: now,
        priority: answer.value.summary.priority,
    };
    let mut step = match judge_action(action, view) {
        ActionJudgment::AlreadyDone(_) if why == Recheck::Unreadable => Step::quiet(
            Outcome::Applied,
            Some(format!(
                "{} was answered with an unreadable body; re-checked, the job is {now} with priority {}",
                action.call(),
                view.priority
            )),
        ),
        ActionJudgment::AlreadyDone(_) if attempts > 1 => Step::quiet(
            Outcome::Applied,
            Some(format!(
                "an earlier attempt was applied; the retry met JobStatusException and the job is {now}"
            )),
        ),
        ActionJudgment::AlreadyDone(_) => Step::quiet(
            Outcome::Unchanged,
            Some(format!(
                "the job reached {now} by itself meanwhile (race); JobStatusException re-checked"
            )),
        ),
        ActionJudgment::Moot(reason) => Step::quiet(
            Outcome::Skipped,
            Some(format!("{reason} (race; re-checked)")),
        ),
        ActionJudgment::Call | ActionJudgment::Refused(_) => {
            let mut step = failed_call(ctx, conflict, attempts);
            step.reason = Some(match why {
                Recheck::Conflict => format!("{} refused while the job is {now}", action.call()),
                Recheck::Unreadable => format!(
                    "{} was answered with an unreadable body and the job is {now}: the change was not made",
                    action.call()
                ),
            });
            step.status_after = Some(now);
            return step;
        }
    };
    step.attempts = attempts;
    step.status_after = Some(now);
    step.request_id = answer.request_id;
    step
}
