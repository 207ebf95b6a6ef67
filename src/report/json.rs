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
use crate::report::run_record::{OutcomeCounts, RunMeta, RunRecord};
pub use crate::report::run_record::{PlanMeta, ReportSink};
use crate::resolved::{RunMode, Target};

/// Writes the JSON report of a finished run, streaming the jobs.
pub fn render(record: &RunRecord, out: &mut dyn Write) -> std::io::Result<()> {
    let summary = Summary::of(&record.counts());
    let info = record.info.as_deref();
    // The run-wide place is only said when there is one; a run over several has `targets` instead.
    let only = match record.targets() {
        [only] => Some(only),
        _ => None,
    };
    let targets = record
        .by_target()
        .into_iter()
        .map(|t| TargetOut {
            name: t.target.name.as_deref(),
            account_id: t.target.account_id.as_str(),
            region: &t.target.region,
            endpoint: t.target.endpoint.as_deref(),
            summary: Summary::of(&t.counts),
        })
        .collect();
    let report = Report {
        s3plan_version: env!("CARGO_PKG_VERSION"),
        plan: PlanView {
            path: &record.meta.plan.path,
            sha256: &record.meta.plan.sha256,
        },
        account_id: only.map(|t| t.account_id.as_str()),
        region: only.map(|t| t.region.as_str()),
        endpoint: only.and_then(|t| t.endpoint.as_deref()),
        targets,
        run_by: record.meta.operator.as_deref(),
        mode: info.map(|i| i.mode),
        started_at: record.started_at.map(|t| t.to_string()),
        finished_at: record
            .finished_at
            .unwrap_or_else(Timestamp::now)
            .to_string(),
        interrupted: record.interrupted,
        summary,
        jobs: JobsView(record),
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
    /// Every target of the run, in plan order, with its jobs per outcome.
    targets: Vec<TargetOut<'a>>,
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

/// One place the run acted in.
#[derive(Serialize)]
struct TargetOut<'a> {
    /// The plan's name for it; `null` for a plan without `targets:`.
    name: Option<&'a str>,
    account_id: &'a str,
    region: &'a str,
    endpoint: Option<&'a str>,
    summary: Summary,
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
    fn of(counts: &OutcomeCounts) -> Self {
        let mut summary = Summary {
            total: counts.total(),
            ..Summary::default()
        };
        for outcome in Outcome::ALL {
            let slot = match outcome {
                Outcome::Applied => &mut summary.applied,
                Outcome::Unchanged => &mut summary.unchanged,
                Outcome::Skipped => &mut summary.skipped,
                Outcome::WouldApply => &mut summary.would_apply,
                Outcome::Met => &mut summary.met,
                Outcome::Failed => &mut summary.failed,
                Outcome::TimedOut => &mut summary.timed_out,
                Outcome::NotRun => &mut summary.not_run,
            };
            *slot = counts.get(outcome);
        }
        summary
    }
}

/// Serializes the records one by one into the writer, as they are read back.
struct JobsView<'a>(&'a RunRecord);

impl Serialize for JobsView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let record = self.0;
        let mut seq = serializer.serialize_seq(None)?;
        for job in record.jobs() {
            let job = job.map_err(S::Error::custom)?;
            seq.serialize_element(&JobView(
                &job,
                &record.meta,
                record.targets().get(job.target),
            ))?;
        }
        seq.end()
    }
}

/// A job with the run's facts about it: its entry's reason and its target (`None` when unknown).
struct JobView<'a>(&'a JobRecord, &'a RunMeta, Option<&'a Target>);

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
    /// The target's plan name; `null` for a plan without `targets:`.
    target: Option<&'a str>,
    account_id: Option<&'a str>,
    region: Option<&'a str>,
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
        let target = self.2;
        JobOut {
            entry: &r.entry,
            target: target.and_then(|t| t.name.as_deref()),
            account_id: target.map(|t| t.account_id.as_str()),
            region: target.map(|t| t.region.as_str()),
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

    fn rendered(events: Vec<Event>) -> serde_json::Value {
        let buffer = crate::report::run_record::fixtures::SharedBuf::default();
        let mut reporter = crate::report::format::ReportFormat::Json.reporter(
            crate::report::run_record::fixtures::meta(),
            ReportSink::Writer(Box::new(buffer.clone())),
        );
        for event in events {
            reporter.report(&event).unwrap();
        }
        serde_json::from_str(&buffer.text()).unwrap()
    }

    #[test]
    fn a_run_over_several_targets_names_each_jobs_target_and_sums_up_each_target() {
        use crate::report::run_record::fixtures::multi_target_events;
        let value = rendered(multi_target_events(RunMode::Apply, false));
        // One account or region for the whole run would be wrong: the run-wide fields are null.
        assert_eq!(value["account_id"], serde_json::Value::Null);
        assert_eq!(value["region"], serde_json::Value::Null);
        let failed = value["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job_id"] == "job-failed")
            .unwrap();
        assert_eq!(failed["target"], "dr/us-east-1");
        assert_eq!(failed["account_id"], "444455556666");
        assert_eq!(failed["region"], "us-east-1");
        let totals: Vec<(String, u64)> = value["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["name"].as_str().unwrap().to_owned(),
                    t["summary"]["total"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            totals,
            [
                ("prod-us".to_owned(), 2),
                ("dr/us-east-1".to_owned(), 2),
                ("dr/us-west-2".to_owned(), 3)
            ]
        );
        insta::assert_json_snapshot!(value, {
            ".started_at" => "[time]",
            ".finished_at" => "[time]",
            ".jobs[].started_at" => "[time]",
            ".jobs[].finished_at" => "[time]",
            ".s3plan_version" => "[version]",
        });
    }

    #[test]
    fn a_run_without_targets_keeps_its_account_and_region_and_one_unnamed_target() {
        use crate::report::run_record::fixtures::run_events;
        let value = rendered(run_events(RunMode::Apply, false));
        assert_eq!(value["account_id"], "111122223333");
        assert_eq!(value["region"], "us-east-1");
        assert_eq!(value["endpoint"], "http://127.0.0.1:9000");
        let targets = value["targets"].as_array().unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0]["name"], serde_json::Value::Null);
        assert_eq!(targets[0]["summary"], value["summary"]);
        for job in value["jobs"].as_array().unwrap() {
            assert_eq!(job["target"], serde_json::Value::Null, "{job}");
            assert_eq!(job["account_id"], "111122223333", "{job}");
            assert_eq!(job["region"], "us-east-1", "{job}");
        }
    }
}
