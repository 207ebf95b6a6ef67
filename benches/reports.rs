//! Reporter overhead: the events of a 100,000-job run fed straight to each reporter, with a tick every
//! 200 ms of simulated run time (the coordinator's default). Prints, per reporter, the time spent per event
//! and the time to write its file at `RunFinished`.
//!
//! Owns nothing but the measurement; the figures go to `docs/reports.md`. Run:
//! `cargo bench --bench reports` (optionally `-- 200000` for another job count).

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressDrawTarget;
use jiff::Timestamp;
use s3plan::api::{AccountId, ApiCall, JobId, JobStatus, TargetStatus};
use s3plan::event::{Event, EventKind, JobIndex, JobRecord, RunInfo};
use s3plan::exec::Outcome;
use s3plan::report::Reporter;
use s3plan::report::format::ReportFormat;
use s3plan::report::json::{PlanMeta, ReportSink};
use s3plan::report::progress::{LINE_INTERVAL, ProgressReporter};
use s3plan::report::run_record::RunMeta;
use s3plan::resolved::{RunMode, Target};

/// The run's events in order; `None` is a tick at that elapsed time.
fn script(jobs: usize) -> Vec<(Duration, Option<Event>)> {
    let start = Timestamp::from_second(1_780_000_000).expect("a valid constant time");
    let entry: Arc<str> = Arc::from("cancel-nightly");
    let event = |elapsed: Duration, kind| Event {
        at: start,
        elapsed,
        kind,
    };
    let info = RunInfo {
        targets: vec![Target {
            name: None,
            account_id: AccountId::parse("111122223333").expect("a valid constant id"),
            region: "us-east-1".to_owned(),
            endpoint: None,
        }],
        mode: RunMode::Apply,
        entries: vec![(entry.clone(), jobs)],
        total_jobs: jobs,
    };
    let mut out = vec![
        (
            Duration::ZERO,
            Some(event(Duration::ZERO, EventKind::RunStarted(Arc::new(info)))),
        ),
        (
            Duration::ZERO,
            Some(event(Duration::ZERO, EventKind::EntryStarted { entry: 0 })),
        ),
    ];
    // 1,000 jobs a second of simulated time: a tick every 200 jobs.
    for job in 0..jobs {
        let elapsed = Duration::from_millis(job as u64);
        let index = JobIndex { entry: 0, job };
        let id = JobId::parse(&format!("job-{job:08}")).expect("a valid generated id");
        out.push((
            elapsed,
            Some(event(
                elapsed,
                EventKind::JobApplying {
                    index,
                    job: id.clone(),
                    status: JobStatus::Active,
                },
            )),
        ));
        out.push((
            elapsed,
            Some(event(
                elapsed,
                EventKind::AttemptStarted {
                    index: Some(index),
                    call: ApiCall::UpdateJobStatus,
                    attempt: 1,
                },
            )),
        ));
        let record = JobRecord {
            index,
            target: 0,
            entry: entry.clone(),
            job_id: id,
            description: Some(format!("nightly copy {job}")),
            status_before: Some(JobStatus::Active),
            actions: vec![s3plan::resolved::Action::SetStatus(TargetStatus::Cancelled)],
            status_after: Some(JobStatus::Cancelling),
            outcome: Outcome::Applied,
            attempts: 1,
            waited: Duration::ZERO,
            reason: Some("requested Cancelled; job is now Cancelling".to_owned()),
            request_id: Some(format!("REQ{job:08}")),
            error: None,
            tasks: None,
            failure_reasons: Vec::new(),
            started_at: start,
            finished_at: start,
        };
        out.push((
            elapsed,
            Some(event(elapsed, EventKind::JobFinished(Box::new(record)))),
        ));
        if job % 200 == 199 {
            out.push((elapsed, None));
        }
    }
    let end = Duration::from_millis(jobs as u64);
    out.push((
        end,
        Some(event(
            end,
            EventKind::EntryFinished {
                entry: 0,
                succeeded: true,
            },
        )),
    ));
    out.push((
        end,
        Some(event(end, EventKind::RunFinished { interrupted: false })),
    ));
    out
}

fn measure(name: &str, mut reporter: impl Reporter, script: &[(Duration, Option<Event>)]) {
    let (last, body) = script
        .split_last()
        .expect("the script ends with RunFinished");
    let events = script.len();
    let started = Instant::now();
    for (elapsed, event) in body {
        let result = match event {
            Some(event) => reporter.report(event),
            None => reporter.tick(*elapsed),
        };
        result.expect("writing to a sink cannot fail");
    }
    let streaming = started.elapsed();
    let finishing = Instant::now();
    if let (_, Some(event)) = last {
        reporter
            .report(event)
            .expect("writing to a sink cannot fail");
    }
    let finish = finishing.elapsed();
    println!(
        "{name:<14} {:>7.0} ns/event over {events} events; RunFinished (write) {:>8.1} ms",
        streaming.as_nanos() as f64 / events as f64,
        finish.as_secs_f64() * 1000.0
    );
}

fn main() {
    let jobs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let script = script(jobs);
    let meta = RunMeta {
        plan: PlanMeta {
            path: "plans/cancel.yaml".to_owned(),
            sha256: "ab".repeat(32),
        },
        operator: None,
        reasons_sent: std::collections::HashMap::new(),
    };
    let sink = || ReportSink::Writer(Box::new(std::io::sink()));
    println!("{jobs} jobs, one entry");
    measure(
        "progress bars",
        ProgressReporter::bars(ProgressDrawTarget::hidden(), true, None),
        &script,
    );
    measure(
        "progress lines",
        ProgressReporter::lines(Box::new(std::io::sink()), LINE_INTERVAL),
        &script,
    );
    for format in [
        ReportFormat::Json,
        ReportFormat::Markdown,
        ReportFormat::Junit,
    ] {
        measure(
            format.name(),
            format.reporter(meta.clone(), sink()),
            &script,
        );
    }
}
