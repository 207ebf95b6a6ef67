//! The JSON report (issue 4 §3): accumulated from events, written once at `RunFinished`.
//!
//! Owns the report's field names and its streaming writer: records are kept compact until the end and
//! serialized straight into a `BufWriter`, so 100,000 jobs never become one giant string. Does not decide
//! where the file goes (the command picks `--report FILE` or the default name).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use jiff::Timestamp;
use serde::Serialize;

use crate::event::{Event, EventKind, JobRecord, RunInfo};
use crate::exec::Outcome;
use crate::report::Reporter;
use crate::resolved::RunMode;

/// What the report says about the plan file, known only to the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanMeta {
    /// The plan's path as given.
    pub path: String,
    /// SHA-256 of the plan file's bytes, hex.
    pub sha256: String,
}

/// Where the report goes.
pub enum ReportSink {
    /// A file, created at `RunFinished`.
    File(PathBuf),
    /// Any writer (stdout for `--output json`, a buffer in tests).
    Writer(Box<dyn Write + Send>),
}

impl std::fmt::Debug for ReportSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportSink::File(path) => f.debug_tuple("File").field(path).finish(),
            ReportSink::Writer(_) => f.write_str("Writer(..)"),
        }
    }
}

/// Collects the run's events and writes the JSON report at its end.
#[derive(Debug)]
pub struct JsonReporter {
    plan: PlanMeta,
    sink: Option<ReportSink>,
    info: Option<std::sync::Arc<RunInfo>>,
    started_at: Option<Timestamp>,
    jobs: Vec<JobRecord>,
}

impl JsonReporter {
    /// A reporter writing to `sink` about the plan described by `plan`.
    pub fn new(plan: PlanMeta, sink: ReportSink) -> Self {
        Self {
            plan,
            sink: Some(sink),
            info: None,
            started_at: None,
            jobs: Vec::new(),
        }
    }

    fn write(&mut self, finished_at: Timestamp, interrupted: bool) -> std::io::Result<()> {
        let Some(sink) = self.sink.take() else {
            return Ok(());
        };
        self.jobs.sort_by_key(|r| r.index);
        let mut summary = Summary::default();
        for job in &self.jobs {
            summary.add(job.outcome);
        }
        let info = self.info.as_deref();
        let report = Report {
            s3plan_version: env!("CARGO_PKG_VERSION"),
            plan: PlanView {
                path: &self.plan.path,
                sha256: &self.plan.sha256,
            },
            account_id: info.map(|i| i.target.account_id.as_str()),
            region: info.map(|i| i.target.region.as_str()),
            endpoint: info.and_then(|i| i.target.endpoint.as_deref()),
            mode: info.map(|i| i.mode),
            started_at: self.started_at.map(|t| t.to_string()),
            finished_at: finished_at.to_string(),
            interrupted,
            summary,
            jobs: JobsView(&self.jobs),
        };
        let mut out: Box<dyn Write> = match sink {
            ReportSink::File(path) => Box::new(BufWriter::new(File::create(path)?)),
            ReportSink::Writer(writer) => Box::new(BufWriter::new(writer)),
        };
        serde_json::to_writer_pretty(&mut out, &report)?;
        out.write_all(b"\n")?;
        out.flush()
    }
}

impl Reporter for JsonReporter {
    fn name(&self) -> &str {
        "json"
    }

    fn report(&mut self, event: &Event) -> std::io::Result<()> {
        match &event.kind {
            EventKind::RunStarted(info) => {
                self.info = Some(info.clone());
                self.started_at = Some(event.at);
                self.jobs.reserve(info.total_jobs);
            }
            EventKind::JobFinished(record) => self.jobs.push((**record).clone()),
            EventKind::RunFinished { interrupted } => self.write(event.at, *interrupted)?,
            _ => {}
        }
        Ok(())
    }
}

#[derive(Serialize)]
struct Report<'a> {
    s3plan_version: &'a str,
    plan: PlanView<'a>,
    account_id: Option<&'a str>,
    region: Option<&'a str>,
    endpoint: Option<&'a str>,
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
            Outcome::Failed => &mut self.failed,
            Outcome::TimedOut => &mut self.timed_out,
            Outcome::NotRun => &mut self.not_run,
        };
        *slot += 1;
    }
}

/// Serializes the records one by one into the writer.
struct JobsView<'a>(&'a [JobRecord]);

impl Serialize for JobsView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(JobView))
    }
}

struct JobView<'a>(&'a JobRecord);

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
    request_id: Option<&'a str>,
    error: Option<ErrorOut<'a>>,
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
            requested: r.requested.map(|t| t.as_str()),
            priority_requested: r.priority_requested,
            status_after: r.status_after.map(|s| s.as_str()),
            outcome: r.outcome,
            attempts: r.attempts,
            waited_ms: r.waited.as_millis(),
            reason: r.reason.as_deref(),
            request_id: r.request_id.as_deref(),
            error: r.error.as_ref().map(|e| ErrorOut {
                code: &e.code,
                message: &e.message,
            }),
            started_at: r.started_at.to_string(),
            finished_at: r.finished_at.to_string(),
        }
        .serialize(serializer)
    }
}
