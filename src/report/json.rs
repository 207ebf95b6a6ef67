//! The JSON report: rendered from a finished run's record.
//!
//! Owns the report's field names and its streaming rendering: records are serialized straight into the
//! writer, so 100,000 jobs never become one giant string. Does not accumulate events or open the file
//! (`format.rs`'s `FileReporter`), nor decide where the file goes (the command).

use std::io::Write;

use jiff::Timestamp;
use serde::Serialize;

use crate::event::JobRecord;
use crate::exec::Outcome;
pub use crate::report::run_record::{PlanMeta, ReportSink};
use crate::report::run_record::{RunMeta, RunRecord};
use crate::resolved::RunMode;

/// Writes the JSON report of a finished run, streaming the jobs.
pub fn render(record: &RunRecord, out: &mut dyn Write) -> std::io::Result<()> {
    let mut summary = Summary::default();
    for job in &record.jobs {
        summary.add(job.outcome);
    }
    let info = record.info.as_deref();
    let report = Report {
        s3plan_version: env!("CARGO_PKG_VERSION"),
        plan: PlanView {
            path: &record.meta.plan.path,
            sha256: &record.meta.plan.sha256,
        },
        account_id: info.map(|i| i.targets[0].account_id.as_str()),
        region: info.map(|i| i.targets[0].region.as_str()),
        endpoint: info.and_then(|i| i.targets[0].endpoint.as_deref()),
        run_by: record.meta.operator.as_deref(),
        mode: info.map(|i| i.mode),
        started_at: record.started_at.map(|t| t.to_string()),
        finished_at: record
            .finished_at
            .unwrap_or_else(Timestamp::now)
            .to_string(),
        interrupted: record.interrupted,
        summary,
        jobs: JobsView(&record.jobs, &record.meta),
    };
    serde_json::to_writer_pretty(&mut *out, &report)?;
    out.write_all(b"\n")
}

#[derive(Serialize)]
struct Report<'a> {
    s3plan_version: &'a str,
    plan: PlanView<'a>,
    account_id: Option<&'a str>,
    region: Option<&'a str>,
    endpoint: Option<&'a str>,
    /// Who ran it (`$USER`), `null` when unknown.
    run_by: Option<&'a str>,
    mode: Option<RunMode>,
    started_at: Option<String>,
    finished_at: String,
    interrupted: bool,
    summary: Summary,
    jobs: JobsView<'a>,
}

#[derive(Serialize)]
struct PlanView<'a> {
    path: &'a str,
    sha256: &'a str,
}

#[derive(Serialize, Default)]
struct Summary {
    total: usize,
    applied: usize,
    unchanged: usize,
    skipped: usize,
    would_apply: usize,
    met: usize,
    failed: usize,
    timed_out: usize,
    not_run: usize,
}

impl Summary {
    fn add(&mut self, outcome: Outcome) {
        self.total += 1;
        let slot = match outcome {
            Outcome::Applied => &mut self.applied,
            Outcome::Unchanged => &mut self.unchanged,
            Outcome::Skipped => &mut self.skipped,
            Outcome::WouldApply => &mut self.would_apply,
            Outcome::Met => &mut self.met,
            Outcome::Failed => &mut self.failed,
            Outcome::TimedOut => &mut self.timed_out,
            Outcome::NotRun => &mut self.not_run,
        };
        *slot += 1;
    }
}

/// Serializes the records one by one into the writer.
struct JobsView<'a>(&'a [JobRecord], &'a RunMeta);

impl Serialize for JobsView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|job| JobView(job, self.1)))
    }
}

struct JobView<'a>(&'a JobRecord, &'a RunMeta);

/// One of a job's `FailureReasons`.
#[derive(Serialize)]
struct FailureOut<'a> {
    code: &'a str,
    reason: &'a str,
}

/// A job's task counters as last seen.
#[derive(Serialize)]
struct TasksOut {
    total: i64,
    succeeded: i64,
    failed: i64,
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    code: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct JobOut<'a> {
    entry: &'a str,
    job_id: &'a str,
    description: Option<&'a str>,
    status_before: Option<&'a str>,
    requested: Option<&'a str>,
    priority_requested: Option<i32>,
    status_after: Option<&'a str>,
    outcome: Outcome,
    attempts: u32,
    waited_ms: u128,
    reason: Option<&'a str>,
    status_update_reason: Option<&'a str>,
    request_id: Option<&'a str>,
    error: Option<ErrorOut<'a>>,
    tasks: Option<TasksOut>,
    failure_reasons: Vec<FailureOut<'a>>,
    started_at: String,
    finished_at: String,
}

impl Serialize for JobView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        JobOut {
            entry: &r.entry,
            job_id: r.job_id.as_str(),
            description: r.description.as_deref(),
            status_before: r.status_before.map(|s| s.as_str()),
            requested: r.requested().map(|t| t.as_str()),
            priority_requested: r.priority_requested(),
            status_after: r.status_after.map(|s| s.as_str()),
            outcome: r.outcome,
            attempts: r.attempts,
            waited_ms: r.waited.as_millis(),
            reason: r.reason.as_deref(),
            status_update_reason: self.1.reason_sent(r),
            request_id: r.request_id.as_deref(),
            error: r.error.as_ref().map(|e| ErrorOut {
                code: &e.code,
                message: &e.message,
            }),
            tasks: r.tasks.map(|p| TasksOut {
                total: p.total_tasks,
                succeeded: p.succeeded_tasks,
                failed: p.failed_tasks,
            }),
            failure_reasons: r
                .failure_reasons
                .iter()
                .map(|f| {
                    let (code, reason) = f.split_once(": ").unwrap_or((f.as_str(), ""));
                    FailureOut { code, reason }
                })
                .collect(),
            started_at: r.started_at.to_string(),
            finished_at: r.finished_at.to_string(),
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::api::{AccountId, ApiCall, ApiError, ApiErrorKind, JobId, JobStatus, TargetStatus};
    use crate::event::Event;
    use crate::event::{ErrorView, EventKind, JobIndex, RunInfo};
    use crate::report::Reporter;
    use crate::resolved::Target;

    #[derive(Clone, Default)]
    struct SharedBuf(Arc<Mutex<Vec<u8>>>);

    impl Write for SharedBuf {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_000 + seconds).unwrap()
    }

    fn event(seconds: i64, kind: EventKind) -> Event {
        Event {
            at: at(seconds),
            elapsed: Duration::from_secs(seconds as u64),
            kind,
        }
    }

    fn record(entry: &Arc<str>, job: usize, id: &str, outcome: Outcome) -> JobRecord {
        JobRecord {
            index: JobIndex { entry: 0, job },
            target: 0,
            entry: entry.clone(),
            job_id: JobId::parse(id).unwrap(),
            description: Some(format!("nightly {id}")),
            status_before: Some(JobStatus::Active),
            actions: vec![crate::resolved::Action::SetStatus(TargetStatus::Cancelled)],
            status_after: None,
            outcome,
            attempts: 0,
            waited: Duration::ZERO,
            reason: None,
            request_id: None,
            error: None,
            tasks: Some(crate::api::Progress {
                total_tasks: 20_000,
                succeeded_tasks: 19_588,
                failed_tasks: 412,
                elapsed_active_seconds: 600,
            }),
            failure_reasons: vec!["TaskFailureThresholdExceeded: too many tasks failed".to_owned()],
            started_at: at(1),
            finished_at: at(2),
        }
    }

    #[test]
    fn the_report_has_the_documented_shape() {
        let buffer = SharedBuf::default();
        let plan = PlanMeta {
            path: "plans/cancel.yaml".to_owned(),
            sha256: "ab".repeat(32),
        };
        let mut reporter = crate::report::format::ReportFormat::Json.reporter(
            RunMeta {
                reasons_sent: std::collections::HashMap::new(),
                plan,
                operator: None,
            },
            ReportSink::Writer(Box::new(buffer.clone())),
        );
        let entry: Arc<str> = Arc::from("cancel-nightly");
        let info = RunInfo {
            targets: vec![Target {
                name: None,
                account_id: AccountId::parse("111122223333").unwrap(),
                region: "us-east-1".to_owned(),
                endpoint: Some("http://127.0.0.1:9000".to_owned()),
            }],
            mode: RunMode::Apply,
            entries: vec![(entry.clone(), 3)],
            total_jobs: 3,
        };
        let mut applied = record(&entry, 0, "job-applied", Outcome::Applied);
        applied.status_after = Some(JobStatus::Cancelling);
        applied.attempts = 2;
        applied.waited = Duration::from_millis(1500);
        applied.reason = Some("requested Cancelled; job is now Cancelling".to_owned());
        applied.request_id = Some("REQ000002".to_owned());
        let mut failed = record(&entry, 1, "job-failed", Outcome::Failed);
        let error = ApiError {
            call: ApiCall::UpdateJobStatus,
            kind: ApiErrorKind::AccessDenied,
            code: Some("AccessDenied".to_owned()),
            message: Some("not allowed".to_owned()),
            request_id: Some("REQ000003".to_owned()),
            http_status: Some(403),
        };
        failed.attempts = 1;
        failed.request_id = error.request_id.clone();
        failed.error = Some(ErrorView::from(&error));
        failed.reason = Some("UpdateJobStatus failed after 1 attempt".to_owned());
        let mut not_run = record(&entry, 2, "job-not-run", Outcome::NotRun);
        not_run.reason = Some("interrupted before it started".to_owned());
        // Out of order on purpose: the report lists jobs in plan order.
        for event in [
            event(0, EventKind::RunStarted(Arc::new(info))),
            event(2, EventKind::JobFinished(Box::new(failed))),
            event(2, EventKind::JobFinished(Box::new(not_run))),
            event(3, EventKind::JobFinished(Box::new(applied))),
            event(4, EventKind::RunFinished { interrupted: true }),
        ] {
            reporter.report(&event).unwrap();
        }
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["started_at"], "2026-05-28T20:26:40Z");
        insta::assert_json_snapshot!(value, {
            ".started_at" => "[time]",
            ".finished_at" => "[time]",
            ".jobs[].started_at" => "[time]",
            ".jobs[].finished_at" => "[time]",
            ".s3plan_version" => "[version]",
        });
    }
}
