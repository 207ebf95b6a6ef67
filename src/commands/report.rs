//! `s3plan report JOURNAL`: rebuild a report from a write-ahead journal, complete or cut short.
//!
//! Owns folding journal records into outcomes per job of each entry (what was sent and what was answered)
//! and rendering them with the run's own report writers (`report::json`, `report::markdown`), so both have one
//! shape. A journal knows only mutating calls: a job that got none is judged by the one decision from the
//! status the run resolved it in (`unchanged`, `skipped`, else `not_run`), and a request without a recorded
//! answer is `failed`
//! with the `no_recorded_answer` error. Does not own the journal's format or reading it
//! (`exec::journal_line`) or the report formats (`report::json`, `report::markdown`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::cli::{JournalReportArgs, JournalReportFormat};
use crate::errors::{self, CommandError};
use crate::exec::journal_line::{self, Line, RunLine, TargetLine};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::api::aws::classify_code;
use crate::api::{ApiCall, ApiErrorKind, JobId};
use crate::event::{ErrorView, JobIndex, JobRecord, RunInfo};
use crate::exec::Outcome;
use crate::report::json;
use crate::report::markdown;
use crate::report::run_record::{JobRows, PlanMeta, RunMeta, RunRecord};
use crate::resolved::{Action, RunMode, Target, priority_of, target_of};

/// Runs `s3plan report`.
pub fn run(args: &JournalReportArgs) -> i32 {
    match report(args) {
        Ok(()) => 0,
        Err(error) => errors::report(error),
    }
}

fn report(args: &JournalReportArgs) -> Result<(), CommandError> {
    let records = journal_line::read(&args.journal).map_err(|error| {
        CommandError::refused(
            error.to_string(),
            "pass the `.journal.jsonl` file printed as `journal:` by `s3plan apply`",
        )
    })?;
    if let Some(name) = unlisted_target(&records) {
        return Err(CommandError::refused(
            format!(
                "{}: a record names target {name}, which no run line of the journal lists; its jobs cannot be placed",
                args.journal.display()
            ),
            "pass the `.journal.jsonl` file exactly as `s3plan apply` wrote it",
        ));
    }
    let rebuilt = rebuild(&args.journal, &records);
    let text = match args.format {
        JournalReportFormat::Json => shared_json(&rebuilt),
        JournalReportFormat::Md => shared_markdown(&rebuilt),
    }
    .map_err(|source| CommandError::Io {
        action: "render the report of",
        path: args.journal.display().to_string(),
        source,
    })?;
    match &args.out {
        Some(path) => std::fs::write(path, text).map_err(|source| CommandError::Io {
            action: "write the report to",
            path: path.display().to_string(),
            source,
        }),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|source| CommandError::Io {
                action: "write the report to",
                path: "stdout".to_owned(),
                source,
            }),
    }
}

/// The report rebuilt from a journal.
#[derive(Debug, Serialize)]
struct Rebuilt {
    s3plan_version: &'static str,
    journal: String,
    plan: Option<PlanOut>,
    /// Every target a run line of the journal lists (a later run's entry for a name replaces an earlier
    /// one's), in the order first listed: what `JobRecord::target` indexes.
    targets: Vec<TargetLine>,
    mode: Option<String>,
    started_at: Option<String>,
    /// Requests sent whose answer is not in the journal (the run was cut short while they were in flight).
    unanswered: usize,
    summary: BTreeMap<&'static str, usize>,
    jobs: Vec<JobOut>,
    #[serde(skip)]
    run: Option<RunLine>,
}

#[derive(Debug, Serialize)]
struct PlanOut {
    path: String,
    sha256: String,
}

#[derive(Debug, Default, Serialize)]
struct JobOut {
    entry: String,
    /// The job's target, by name (`None` for the unnamed one).
    target: Option<String>,
    job_id: String,
    description: Option<String>,
    status_before: Option<String>,
    requested: Option<String>,
    priority_requested: Option<i32>,
    status_after: Option<String>,
    outcome: &'static str,
    /// Mutating attempts sent.
    attempts: u32,
    reason: String,
    request_id: Option<String>,
    error_code: Option<String>,
    /// What the entry asks of the job, for the shared report's `requested` columns.
    #[serde(skip)]
    actions: Vec<Action>,
    /// The `StatusUpdateReason` last sent.
    #[serde(skip)]
    reason_sent: Option<String>,
    /// The call whose answer failed.
    #[serde(skip)]
    failed_call: Option<crate::api::ApiCall>,
    /// When the journal last recorded something about the job.
    #[serde(skip)]
    last_at: Option<jiff::Timestamp>,
}

/// The attempts of one action.
#[derive(Debug, Default, Clone, Copy)]
struct Calls {
    /// Intents of the current run (the journal's last `run` record so far).
    sent: u32,
    /// Answers of the current run.
    answered: u32,
    failed: bool,
    /// Requests an earlier run in the same journal sent without a recorded answer. A later answer
    /// supersedes them: a resumed run reads such a job before it sends, so its answer is the job's last word.
    unanswered_before: u32,
}

impl Calls {
    /// Intents sent that no answer covers.
    fn missing(&self) -> u32 {
        self.unanswered_before + self.sent.saturating_sub(self.answered)
    }

    /// A new run starts in the same journal: what the last one left unanswered stays so until answered.
    fn next_run(&mut self) {
        self.unanswered_before = self.missing();
        self.sent = 0;
        self.answered = 0;
    }
}

impl Fold {
    fn calls(&mut self, action: Action) -> &mut Calls {
        let at = match self.calls.iter().position(|(a, _)| *a == action) {
            Some(at) => at,
            None => {
                self.calls.push((action, Calls::default()));
                self.calls.len() - 1
            }
        };
        &mut self.calls[at].1
    }
}

#[derive(Default)]
struct Fold {
    job: JobOut,
    /// Per action, in the order first sent: intents sent, answers recorded, last answer failed.
    calls: Vec<(Action, Calls)>,
    /// Changed by an earlier run this one resumed from.
    carried: bool,
    /// An earlier run this one resumed from sent a request for it and recorded no answer.
    carried_uncertain: bool,
}

/// A job of an entry in its target: a job named by two entries (a priority entry, then a status entry) is
/// two rows, and so are two jobs of one id in two targets (ids are unique only within an account and region).
type JobKey = (String, Option<String>, String);

fn fold<'a>(
    jobs: &'a mut BTreeMap<JobKey, Fold>,
    order: &mut Vec<JobKey>,
    id: &str,
    entry: &str,
    target: Option<&String>,
) -> &'a mut Fold {
    let key = (entry.to_owned(), target.cloned(), id.to_owned());
    if !jobs.contains_key(&key) {
        order.push(key.clone());
    }
    let fold = jobs.entry(key).or_default();
    if fold.job.job_id.is_empty() {
        fold.job.job_id = id.to_owned();
        fold.job.entry = entry.to_owned();
        fold.job.target = target.cloned();
    }
    fold
}

/// The first target name a record gives that no run line of the journal lists, if any.
fn unlisted_target(records: &[Line]) -> Option<String> {
    let mut listed: Vec<Option<&str>> = Vec::new();
    let mut runs = 0;
    for record in records {
        let named = match record {
            Line::Run(run) => {
                runs += 1;
                listed.extend(run.targets.iter().map(|t| t.name.as_deref()));
                continue;
            }
            Line::Job(j) => &j.target,
            Line::Intent(i) => &i.target,
            Line::Ack(a) => &a.target,
            Line::Carried(c) => &c.target,
        };
        // A journal without its run line (cut before it) places nothing: there is no target to check.
        if runs > 0 && !listed.contains(&named.as_deref()) {
            return Some(named.as_deref().unwrap_or("(unnamed)").to_owned());
        }
    }
    None
}

/// The targets of every run line, in the order first listed; a later run's entry for a name replaces an
/// earlier one's.
fn all_targets(records: &[Line]) -> Vec<TargetLine> {
    let mut targets: Vec<TargetLine> = Vec::new();
    for record in records {
        if let Line::Run(run) = record {
            for target in &run.targets {
                match targets.iter_mut().find(|t| t.name == target.name) {
                    Some(known) => *known = target.clone(),
                    None => targets.push(target.clone()),
                }
            }
        }
    }
    targets
}

fn rebuild(path: &Path, records: &[Line]) -> Rebuilt {
    let mut run: Option<&RunLine> = None;
    let mut order: Vec<JobKey> = Vec::new();
    let mut jobs: BTreeMap<JobKey, Fold> = BTreeMap::new();
    let requested = |actions: &[Action]| {
        (
            target_of(actions).map(|t| t.as_str().to_owned()),
            priority_of(actions),
        )
    };
    for record in records {
        match record {
            Line::Run(r) => {
                run = Some(r);
                // Several runs append to one journal when they share `--report`; an in-flight request is
                // counted against the run that sent it, not paired with a later run's answer.
                for fold in jobs.values_mut() {
                    for (_, calls) in &mut fold.calls {
                        calls.next_run();
                    }
                }
            }
            Line::Job(j) => {
                let f = fold(
                    &mut jobs,
                    &mut order,
                    j.job.as_str(),
                    &j.entry,
                    j.target.as_ref(),
                );
                f.job.description.clone_from(&j.description);
                f.job.status_before = Some(j.status_before.as_str().to_owned());
                (f.job.requested, f.job.priority_requested) = requested(&j.actions);
                f.job.actions.clone_from(&j.actions);
            }
            Line::Carried(c) if c.uncertain => {
                let f = fold(
                    &mut jobs,
                    &mut order,
                    c.job.as_str(),
                    &c.entry,
                    c.target.as_ref(),
                );
                f.carried_uncertain = true;
            }
            Line::Carried(c) => {
                let f = fold(
                    &mut jobs,
                    &mut order,
                    c.job.as_str(),
                    &c.entry,
                    c.target.as_ref(),
                );
                f.carried = true;
                f.job.attempts += c.attempts;
                if let Some(status) = c.status {
                    f.job.status_after = Some(status.as_str().to_owned());
                }
                if c.request_id.is_some() {
                    f.job.request_id.clone_from(&c.request_id);
                }
            }
            Line::Intent(i) => {
                let f = fold(
                    &mut jobs,
                    &mut order,
                    i.job.as_str(),
                    &i.entry,
                    i.target.as_ref(),
                );
                match i.action {
                    Action::SetStatus(target) => f.job.requested = Some(target.as_str().to_owned()),
                    Action::SetPriority(priority) => f.job.priority_requested = Some(priority),
                }
                f.job.attempts += 1;
                if !f.job.actions.contains(&i.action) {
                    f.job.actions.push(i.action);
                }
                if i.reason.is_some() {
                    f.job.reason_sent.clone_from(&i.reason);
                }
                f.job.last_at = Some(i.at);
                f.calls(i.action).sent += 1;
            }
            Line::Ack(a) => {
                let f = fold(
                    &mut jobs,
                    &mut order,
                    a.job.as_str(),
                    &a.entry,
                    a.target.as_ref(),
                );
                let calls = f.calls(a.action);
                calls.answered += 1;
                calls.unanswered_before = 0;
                calls.failed = !a.is_success();
                if !a.is_success() {
                    f.job.failed_call = Some(a.call);
                }
                f.job.last_at = Some(a.at);
                if let Some(status) = a.status {
                    f.job.status_after = Some(status.as_str().to_owned());
                }
                f.job.request_id = a.request_id.clone().or(f.job.request_id.take());
                f.job.error_code.clone_from(&a.error_code);
            }
        }
    }
    let mut unanswered = 0;
    // Every outcome a journal can tell is counted, zeros included, so a reader needs no missing-key case.
    let mut summary: BTreeMap<&'static str, usize> = ["applied", "failed", "unknown", "no_call"]
        .into_iter()
        .map(|outcome| (outcome, 0))
        .collect();
    let mut out = Vec::with_capacity(order.len());
    for key in order {
        let Some(Fold {
            mut job,
            calls,
            carried,
            carried_uncertain,
        }) = jobs.remove(&key)
        else {
            continue;
        };
        let missing: u32 = calls.iter().map(|(_, c)| c.missing()).sum();
        unanswered += missing as usize;
        let failed: Vec<&str> = calls
            .iter()
            .filter(|(_, c)| c.failed)
            .map(|(action, _)| action.call().as_str())
            .collect();
        (job.outcome, job.reason) = if calls.is_empty() && carried {
            (
                "applied",
                "applied by an earlier run this one resumed from".to_owned(),
            )
        } else if calls.is_empty() && carried_uncertain {
            (
                "unknown",
                "an earlier run this one resumed from sent a request without a recorded answer, and this run recorded none either: `s3plan apply --resume` reads the job before acting".to_owned(),
            )
        } else if calls.is_empty() {
            ("no_call", "no change was sent (unchanged, skipped, waiting or not run: the run's own report says which)".to_owned())
        } else if missing > 0 {
            (
                "unknown",
                format!(
                    "{} sent without a recorded answer: the change may or may not have been made; `s3plan apply --resume` reads the job before acting",
                    crate::text::plural(usize::try_from(missing).unwrap_or(usize::MAX), "request")
                ),
            )
        } else if !failed.is_empty() {
            (
                "failed",
                format!(
                    "{} answered {}",
                    failed.join(", "),
                    job.error_code.as_deref().unwrap_or("an error")
                ),
            )
        } else {
            (
                "applied",
                "every request sent was answered with success".to_owned(),
            )
        };
        if job.outcome != "failed" {
            job.error_code = None;
        }
        *summary.entry(job.outcome).or_insert(0) += 1;
        out.push(job);
    }
    Rebuilt {
        s3plan_version: env!("CARGO_PKG_VERSION"),
        journal: path.display().to_string(),
        plan: run.map(|r| PlanOut {
            path: r.plan.clone(),
            sha256: r.plan_sha256.clone(),
        }),
        targets: all_targets(records),
        mode: run.map(|r| match r.mode {
            RunMode::Apply => "apply".to_owned(),
            RunMode::DryRun => "dry_run".to_owned(),
        }),
        started_at: run.map(|r| r.started_at.to_string()),
        unanswered,
        summary,
        jobs: out,
        run: run.cloned(),
    }
}

/// A job the journal shows no request for, judged by the one decision from the status the run resolved it
/// in: `unchanged` when every action was already done, `skipped` when one was moot — judgments that rest on
/// statuses a job never leaves, so they held when the run passed the job by. `None` (not run: waiting,
/// interrupted, or after a failed entry) otherwise. The journal does not record the priority seen, so a
/// priority action is never taken as already done here.
fn no_request_outcome(job: &JobOut) -> Option<(Outcome, String)> {
    let status = job.status_before.as_deref()?.parse().ok()?;
    let view = crate::decision::JobView {
        status,
        priority: i32::MIN,
    };
    let decision = crate::decision::decide(&job.actions, None, view);
    let outcome = match decision.verdict {
        crate::decision::Verdict::Unchanged => Outcome::Unchanged,
        crate::decision::Verdict::Skipped => Outcome::Skipped,
        _ => return None,
    };
    let why = decision
        .reason
        .unwrap_or_else(|| "no change was needed".to_owned());
    Some((
        outcome,
        format!("{why} (judged from the status the run resolved; no request was sent)"),
    ))
}

/// The code of the `error` a request without a recorded answer gets.
const NO_ANSWER: &str = "no_recorded_answer";

/// The rebuilt rows as the [`RunRecord`] `apply`'s reports render, so both have one shape. A journal records
/// only mutating calls, so two of its outcomes are mapped onto the run's: a request without a recorded
/// answer is `failed` (with the `no_recorded_answer` error: the change may or may not have been made), and a
/// job that got no request is what [`no_request_outcome`] says.
fn run_record(rebuilt: &Rebuilt) -> RunRecord {
    let mut reasons_sent = std::collections::HashMap::new();
    let mut entries: Vec<(Arc<str>, usize)> = Vec::new();
    let mut jobs = Vec::with_capacity(rebuilt.jobs.len());
    let started = rebuilt.run.as_ref().map(|r| r.started_at);
    for job in &rebuilt.jobs {
        let entry = match entries.iter().position(|(name, _)| **name == *job.entry) {
            Some(at) => at,
            None => {
                entries.push((Arc::from(job.entry.as_str()), 0));
                entries.len() - 1
            }
        };
        let index = JobIndex {
            entry,
            job: entries[entry].1,
        };
        entries[entry].1 += 1;
        let Ok(job_id) = JobId::parse(&job.job_id) else {
            continue;
        };
        if let Some(reason) = &job.reason_sent {
            reasons_sent.insert(job.entry.clone(), reason.clone());
        }
        let mut reason = job.reason.clone();
        let (outcome, error) = match job.outcome {
            "applied" => (Outcome::Applied, None),
            "failed" => {
                let code = job
                    .error_code
                    .clone()
                    .unwrap_or_else(|| "unknown".to_owned());
                let call = job.failed_call.unwrap_or(ApiCall::UpdateJobStatus);
                let kind = ApiErrorKind::ALL
                    .into_iter()
                    .find(|k| k.as_str() == code)
                    .unwrap_or_else(|| classify_code(Some(&code), None));
                let message = format!("{} failed: {code}", call.as_str());
                (
                    Outcome::Failed,
                    Some(ErrorView {
                        code,
                        message,
                        call,
                        kind,
                    }),
                )
            }
            "unknown" => (
                Outcome::Failed,
                Some(ErrorView {
                    code: NO_ANSWER.to_owned(),
                    message: "sent; no answer recorded before the run stopped".to_owned(),
                    call: job
                        .actions
                        .first()
                        .map_or(ApiCall::UpdateJobStatus, |a| a.call()),
                    kind: ApiErrorKind::Connection,
                }),
            ),
            _ => match no_request_outcome(job) {
                Some((outcome, why)) => {
                    reason = why;
                    (outcome, None)
                }
                None => (Outcome::NotRun, None),
            },
        };
        let at = job.last_at.or(started).unwrap_or_else(Timestamp::now);
        // `report` refused a journal whose records name a target no run line lists.
        let target = rebuilt
            .targets
            .iter()
            .position(|t| t.name == job.target)
            .unwrap_or(0);
        jobs.push(JobRecord {
            index,
            target,
            entry: entries[entry].0.clone(),
            job_id,
            description: job.description.clone(),
            status_before: job.status_before.as_deref().and_then(|s| s.parse().ok()),
            actions: job.actions.clone(),
            status_after: job.status_after.as_deref().and_then(|s| s.parse().ok()),
            outcome,
            attempts: job.attempts,
            waited: Duration::ZERO,
            reason: Some(reason),
            request_id: job.request_id.clone(),
            error,
            tasks: None,
            failure_reasons: Vec::new(),
            started_at: at,
            finished_at: at,
        });
    }
    jobs.sort_by_key(|j| j.index);
    let meta = RunMeta {
        plan: PlanMeta {
            path: rebuilt
                .plan
                .as_ref()
                .map_or_else(String::new, |p| p.path.clone()),
            sha256: rebuilt
                .plan
                .as_ref()
                .map_or_else(String::new, |p| p.sha256.clone()),
        },
        // The journal does not record who ran it.
        operator: None,
        reasons_sent,
    };
    let finished = jobs.iter().map(|j| j.finished_at).max().or(started);
    RunRecord {
        meta,
        info: rebuilt.run.as_ref().map(|r| {
            Arc::new(RunInfo {
                targets: rebuilt.targets.iter().map(Target::from).collect(),
                mode: r.mode,
                total_jobs: jobs.len(),
                entries: entries.clone(),
            })
        }),
        started_at: started,
        finished_at: finished,
        elapsed: match (started, finished) {
            (Some(s), Some(f)) => f.duration_since(s).unsigned_abs(),
            _ => Duration::ZERO,
        },
        // Every request without an answer was cut short.
        interrupted: rebuilt.unanswered > 0,
        jobs: JobRows::from_records(jobs),
    }
}

/// The JSON of the shared report, with what only a journal tells: the journal's path and the number of
/// requests without a recorded answer.
fn shared_json(rebuilt: &Rebuilt) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    json::render(&run_record(rebuilt), &mut bytes)?;
    let mut value: serde_json::Value = serde_json::from_slice(&bytes)?;
    if let Some(object) = value.as_object_mut() {
        object.insert("journal".to_owned(), rebuilt.journal.clone().into());
        object.insert("unanswered".to_owned(), rebuilt.unanswered.into());
    }
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}

/// The Markdown of the shared report, preceded by the journal it was rebuilt from.
fn shared_markdown(rebuilt: &Rebuilt) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    markdown::render(&run_record(rebuilt), &mut bytes)?;
    let body = String::from_utf8_lossy(&bytes);
    Ok(format!(
        "{body}\nRebuilt from the journal `{}`; requests without a recorded answer: {}.\n",
        rebuilt.journal, rebuilt.unanswered
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(record: &RunRecord) -> Vec<crate::event::JobRecord> {
        record.jobs().collect::<std::io::Result<_>>().unwrap()
    }

    #[test]
    fn a_job_that_needed_no_request_is_unchanged_or_skipped_not_not_run() {
        let text = r#"{"record":"run","format":2,"started_at":"2026-11-29T10:00:00Z","plan":"p.yaml","plan_sha256":"ab","account":"111122223333","region":"us-east-1","endpoint":null,"mode":"apply"}
{"record":"job","entry":"e","job":"job-done","description":null,"status_before":"Cancelled","actions":[{"set_status":"Cancelled"}]}
{"record":"job","entry":"e","job":"job-moot","description":null,"status_before":"Complete","actions":[{"set_status":"Cancelled"}]}
{"record":"job","entry":"e","job":"job-unsent","description":null,"status_before":"Suspended","actions":[{"set_status":"Cancelled"}]}
{"record":"job","entry":"p","job":"job-prio","description":null,"status_before":"Suspended","actions":[{"set_priority":900}]}
"#;
        let records = journal_line::parse(text).unwrap();
        let record = run_record(&rebuild(Path::new("j.jsonl"), &records));
        let jobs = rows_of(&record);
        let outcomes: Vec<(&str, Outcome)> = jobs
            .iter()
            .map(|j| (j.job_id.as_str(), j.outcome))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("job-done", Outcome::Unchanged),
                ("job-moot", Outcome::Skipped),
                ("job-unsent", Outcome::NotRun),
                // The journal does not record the priority seen: never taken as already done.
                ("job-prio", Outcome::NotRun),
            ]
        );
    }

    #[test]
    fn a_cut_short_journal_rebuilds_every_job() {
        let text = r#"{"record":"run","format":2,"started_at":"2026-11-29T10:00:00Z","plan":"p.yaml","plan_sha256":"ab","account":"111122223333","region":"us-east-1","endpoint":null,"mode":"apply"}
{"record":"job","entry":"e","job":"job-1","description":"d1","status_before":"Suspended","actions":[{"set_status":"Cancelled"}]}
{"record":"job","entry":"e","job":"job-2","description":"d2","status_before":"Suspended","actions":[{"set_status":"Cancelled"}]}
{"record":"job","entry":"e","job":"job-3","description":"d3","status_before":"Suspended","actions":[{"set_status":"Cancelled"}]}
{"record":"job","entry":"e","job":"job-4","description":"d4","status_before":"Suspended","actions":[{"set_status":"Cancelled"}]}
{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-1","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","reason":null,"attempt":1}
{"record":"ack","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-1","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","attempt":1,"status":"Cancelled","error_code":null,"request_id":"R1"}
{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-2","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","reason":null,"attempt":1}
{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-3","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","reason":null,"attempt":1}
{"record":"ack","at":"2026-11-29T10:00:00Z","entry":"e","job":"job-3","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","attempt":1,"status":null,"error_code":"AccessDenied","request_id":"R3"}
{"record":"ack","at":"2026-11-29T10:00:00Z","job":"job-2","ca"#;
        let records = journal_line::parse(text).unwrap();
        let rebuilt = rebuild(Path::new("j.jsonl"), &records);
        let outcomes: Vec<(&str, &str)> = rebuilt
            .jobs
            .iter()
            .map(|j| (j.job_id.as_str(), j.outcome))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("job-1", "applied"),
                ("job-2", "unknown"),
                ("job-3", "failed"),
                ("job-4", "no_call")
            ]
        );
        assert_eq!(rebuilt.unanswered, 1);
        assert_eq!(rebuilt.jobs[0].status_after.as_deref(), Some("Cancelled"));
        assert_eq!(rebuilt.jobs[2].error_code.as_deref(), Some("AccessDenied"));
        assert_eq!(rebuilt.targets.len(), 1);
        assert_eq!(rebuilt.targets[0].account.as_str(), "111122223333");
        // The shared report has no `unknown`: a request without an answer is `failed`, with an error
        // saying so, and a job without a request is `not_run`.
        let record = run_record(&rebuilt);
        let jobs = rows_of(&record);
        let outcomes: Vec<(&str, Outcome)> = jobs
            .iter()
            .map(|j| (j.job_id.as_str(), j.outcome))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("job-1", Outcome::Applied),
                ("job-2", Outcome::Failed),
                ("job-3", Outcome::Failed),
                ("job-4", Outcome::NotRun)
            ]
        );
        assert_eq!(
            jobs[1].error.as_ref().map(|e| e.code.as_str()),
            Some(NO_ANSWER)
        );
        assert_eq!(
            jobs[2].error.as_ref().map(|e| e.kind),
            Some(ApiErrorKind::AccessDenied)
        );
        assert!(
            record.interrupted,
            "a request without an answer was cut short"
        );
        let md = shared_markdown(&rebuilt).unwrap();
        assert!(md.starts_with("# s3plan apply: p.yaml"), "{md}");
        assert!(md.contains("no\\_recorded\\_answer"), "{md}");
    }

    #[test]
    fn a_job_named_by_two_entries_is_one_row_per_entry() {
        let text = r#"{"record":"job","entry":"prio","job":"job-1","description":null,"status_before":"Suspended","actions":[{"set_priority":900}]}
{"record":"job","entry":"confirm","job":"job-1","description":null,"status_before":"Suspended","actions":[{"set_status":"Ready"}]}
{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"prio","job":"job-1","action":{"set_priority":900},"call":"UpdateJobPriority","reason":null,"attempt":1}
{"record":"ack","at":"2026-11-29T10:00:00Z","entry":"prio","job":"job-1","action":{"set_priority":900},"call":"UpdateJobPriority","attempt":1,"status":null,"error_code":null,"request_id":"R1"}
"#;
        let rebuilt = rebuild(Path::new("j.jsonl"), &journal_line::parse(text).unwrap());
        let rows: Vec<(&str, &str)> = rebuilt
            .jobs
            .iter()
            .map(|j| (j.entry.as_str(), j.outcome))
            .collect();
        assert_eq!(rows, [("prio", "applied"), ("confirm", "no_call")]);
        // Outcomes no job reached are still counted, as zeros.
        assert_eq!(rebuilt.summary.get("failed"), Some(&0));
        assert_eq!(rebuilt.summary.get("unknown"), Some(&0));
        assert!(!shared_markdown(&rebuilt).unwrap().contains("0 failed"));
        let jobs = rows_of(&run_record(&rebuilt));
        let rows: Vec<(&str, usize)> = jobs.iter().map(|j| (&*j.entry, j.index.entry)).collect();
        assert_eq!(rows, [("prio", 0), ("confirm", 1)]);
    }

    #[test]
    fn a_later_runs_answer_settles_an_earlier_runs_unanswered_request() {
        let run = r#"{"record":"run","format":2,"started_at":"2026-11-29T10:00:00Z","plan":"p.yaml","plan_sha256":"ab","account":"111122223333","region":"us-east-1","endpoint":null,"mode":"apply"}"#;
        let job = |id: &str| {
            format!(
                r#"{{"record":"job","entry":"e","job":"{id}","description":"d","status_before":"Suspended","actions":[{{"set_status":"Cancelled"}}]}}"#
            )
        };
        let intent = |id: &str| {
            format!(
                r#"{{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","job":"{id}","action":{{"set_status":"Cancelled"}},"call":"UpdateJobStatus","reason":null,"attempt":1}}"#
            )
        };
        let ack = |id: &str| {
            format!(
                r#"{{"record":"ack","at":"2026-11-29T10:00:00Z","entry":"e","job":"{id}","action":{{"set_status":"Cancelled"}},"call":"UpdateJobStatus","attempt":1,"status":"Cancelled","error_code":null,"request_id":"R"}}"#
            )
        };
        // Run 1 sends for both jobs and is killed before either answer; run 2 (same journal) sends again for
        // job-1 and records its success, and is killed before job-2's answer.
        let text = [
            run.to_owned(),
            job("job-1"),
            job("job-2"),
            intent("job-1"),
            intent("job-2"),
            run.to_owned(),
            job("job-1"),
            job("job-2"),
            intent("job-1"),
            ack("job-1"),
            intent("job-2"),
        ]
        .join("\n");
        let records = journal_line::parse(&text).unwrap();
        let rebuilt = rebuild(Path::new("j.jsonl"), &records);
        let outcomes: Vec<(&str, &str)> = rebuilt
            .jobs
            .iter()
            .map(|j| (j.job_id.as_str(), j.outcome))
            .collect();
        assert_eq!(outcomes, [("job-1", "applied"), ("job-2", "unknown")]);
        // job-2: one unanswered request in each run.
        assert_eq!(rebuilt.unanswered, 2);
    }

    #[test]
    fn a_multi_target_journal_rebuilds_each_jobs_target() {
        let text = r#"{"record":"run","format":3,"started_at":"2026-11-29T10:00:00Z","plan":"p.yaml","plan_sha256":"ab","targets":[{"name":"prod-us","account":"111122223333","region":"us-east-1","endpoint":null},{"name":"dr","account":"444455556666","region":"us-west-2","endpoint":null}],"mode":"apply"}
{"record":"job","entry":"e","target":"dr","job":"job-1","description":null,"status_before":"Suspended","actions":[{"set_status":"Cancelled"}]}
{"record":"job","entry":"e","target":"prod-us","job":"job-1","description":null,"status_before":"Suspended","actions":[{"set_status":"Cancelled"}]}
{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","target":"prod-us","job":"job-1","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","reason":null,"attempt":1}
{"record":"ack","at":"2026-11-29T10:00:00Z","entry":"e","target":"prod-us","job":"job-1","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","attempt":1,"status":"Cancelled","error_code":null,"request_id":"R1"}
"#;
        let records = journal_line::parse(text).unwrap();
        assert_eq!(unlisted_target(&records), None);
        let record = run_record(&rebuild(Path::new("j.jsonl"), &records));
        let info = record.info.as_ref().unwrap();
        let names: Vec<String> = info.targets.iter().map(Target::label).collect();
        assert_eq!(names, ["prod-us", "dr"]);
        let rows: Vec<(usize, Outcome)> = rows_of(&record)
            .iter()
            .map(|j| (j.target, j.outcome))
            .collect();
        assert_eq!(rows, [(1, Outcome::NotRun), (0, Outcome::Applied)]);

        let stray = format!(
            "{text}{}\n",
            r#"{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"e","target":"prod-eu","job":"job-2","action":{"set_status":"Cancelled"},"call":"UpdateJobStatus","reason":null,"attempt":1}"#
        );
        let records = journal_line::parse(&stray).unwrap();
        assert_eq!(unlisted_target(&records).as_deref(), Some("prod-eu"));
    }
}
