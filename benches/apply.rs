//! Executor footprint and overhead: 100,000 cancels through `exec::run` against an in-process job API that
//! answers at once, with no rate limit. Prints wall time, jobs per second, CPU time per job and peak RSS.
//!
//! Owns nothing but the measurement; the figures go to `docs/performance.md`. The HTTP path (SDK, sandbox)
//! is measured by the end-to-end benchmarks of issue 7, not here.
//!
//! Run: `cargo bench --bench apply` (optionally `-- 200000` for another job count; `S3PLAN_BENCH_RATE`
//! sets the plan's rate limit, default unlimited).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use s3plan::api::{
    AccountId, Answer, ApiCall, ApiError, ApiErrorKind, JobControl, JobDescription, JobId, JobPage,
    JobStatus, Tag, TargetStatus,
};
use s3plan::exec::{Outcome, RunOptions, run};
use s3plan::report::ReporterSet;
use s3plan::report::format::ReportFormat;
use s3plan::report::json::{PlanMeta, ReportSink};
use s3plan::report::run_record::RunMeta;
use s3plan::resolved::{
    Action, ResolvedEntry, ResolvedJob, ResolvedPlan, RunMode, RunSettings, Target,
};
use tokio_util::sync::CancellationToken;

/// Jobs in memory; every UpdateJobStatus answers at once.
struct Instantly {
    jobs: Mutex<HashMap<JobId, JobStatus>>,
}

impl JobControl for Instantly {
    async fn describe_job(&self, _job: &JobId) -> Result<Answer<JobDescription>, ApiError> {
        Err(ApiError::local(
            ApiCall::DescribeJob,
            ApiErrorKind::Other,
            "not used",
        ))
    }

    async fn list_jobs(
        &self,
        _statuses: &[JobStatus],
        _next_token: Option<&str>,
        _max_results: i32,
    ) -> Result<Answer<JobPage>, ApiError> {
        Err(ApiError::local(
            ApiCall::ListJobs,
            ApiErrorKind::Other,
            "not used",
        ))
    }

    async fn update_job_status(
        &self,
        job: &JobId,
        _target: TargetStatus,
        _reason: Option<&str>,
    ) -> Result<Answer<JobStatus>, ApiError> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.insert(job.clone(), JobStatus::Cancelling);
        Ok(Answer {
            value: JobStatus::Cancelling,
            request_id: Some("BENCH".to_owned()),
        })
    }

    async fn update_job_priority(
        &self,
        _job: &JobId,
        priority: i32,
    ) -> Result<Answer<i32>, ApiError> {
        Ok(Answer {
            value: priority,
            request_id: None,
        })
    }

    async fn get_job_tagging(&self, _job: &JobId) -> Result<Answer<Vec<Tag>>, ApiError> {
        Ok(Answer {
            value: Vec::new(),
            request_id: None,
        })
    }
}

fn status_field(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User plus system CPU time of this process (Linux `/proc/self/stat`, in clock ticks of 10 ms).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime starts");
    let rss_before = status_field("VmRSS:").unwrap_or(0);
    let jobs: Vec<ResolvedJob> = (0..count)
        .map(|i| ResolvedJob {
            target: 0,
            id: JobId::parse(&format!("{:08x}-bench-{i:010}", i)).expect("valid id"),
            description: Some(format!("bench job {i}").into()),
            status_seen: JobStatus::Active,
            priority_seen: 10,
            progress_seen: Default::default(),
        })
        .collect();
    let control = Arc::new(Instantly {
        jobs: Mutex::new(jobs.iter().map(|j| (j.id.clone(), j.status_seen)).collect()),
    });
    let plan = ResolvedPlan {
        targets: vec![Target {
            name: None,
            account_id: AccountId::parse("111122223333").expect("valid account"),
            region: "us-east-1".to_owned(),
            endpoint: None,
        }],
        settings: RunSettings {
            concurrency: 256,
            rate_limit: std::env::var("S3PLAN_BENCH_RATE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(1.0e9),
            poll_rate_limit: 1.0e9,
            poll_interval: Duration::from_secs(5),
            mode: RunMode::Apply,
        },
        entries: vec![ResolvedEntry {
            name: "cancel-everything".to_owned(),
            after: Vec::new(),
            jobs,
            gate: None,
            actions: vec![Action::SetStatus(TargetStatus::Cancelled)],
            reason: Some("benchmark".to_owned()),
        }],
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    let report = dir.path().join("report.json");
    let mut reporters = ReporterSet::new();
    reporters.add(ReportFormat::Json.reporter(
        RunMeta {
            plan: PlanMeta {
                path: "bench.yaml".to_owned(),
                sha256: "0".repeat(64),
            },
            operator: None,
            reasons_sent: std::collections::HashMap::new(),
        },
        ReportSink::File(report.clone()),
    ));
    let cpu_before = cpu_time().unwrap_or_default();
    let start = Instant::now();
    let summary = runtime.block_on(run(
        plan,
        vec![control],
        reporters,
        CancellationToken::new(),
        RunOptions::default(),
    ));
    let wall = start.elapsed();
    let cpu = cpu_time().unwrap_or_default().saturating_sub(cpu_before);
    assert_eq!(summary.count(Outcome::Applied), count, "every job applied");
    let report_bytes = std::fs::metadata(&report).map(|m| m.len()).unwrap_or(0);
    println!("jobs                {count}");
    println!("wall                {:.2} s", wall.as_secs_f64());
    println!(
        "jobs/s              {:.0}",
        count as f64 / wall.as_secs_f64()
    );
    println!(
        "cpu per job         {:.1} us",
        cpu.as_secs_f64() * 1e6 / count as f64
    );
    println!("rss before run      {:.1} MiB", rss_before as f64 / 1024.0);
    println!(
        "peak rss (VmHWM)    {:.1} MiB",
        status_field("VmHWM:").unwrap_or(0) as f64 / 1024.0
    );
    println!(
        "report              {:.1} MiB",
        report_bytes as f64 / 1_048_576.0
    );
}
