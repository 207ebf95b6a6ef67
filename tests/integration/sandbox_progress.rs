//! Task progress as the service reports it: it advances with the sandbox clock, failures accrue at the
//! job's rate, ListJobs and DescribeJob agree, and a job with more than half of its tasks failing fails
//! by the service's own rule once 1,000 tasks were attempted. Clock advances only, never sleeps.

use std::time::Duration;

use aws_sdk_s3control::Client;
use aws_sdk_s3control::types::{JobProgressSummary, JobStatus};
use s3plan::sandbox::{Sandbox, SandboxHandle, Seed};

use crate::sandbox_support::*;

const SEED: &str = r#"
start_time: 2026-06-01T12:00:00Z
accounts:
  - id: "111122223333"
    jobs:
      # Starts running 17 s after start (2 s New, 10 s Preparing, 5 s Ready), 10,000 tasks in 1,000 s.
      - {id: steady-1, created_ago: 0s, confirmation_required: false, tasks: 10000, task_failure_rate: 0.1, timings: {active: 1000s}}
      # 70 % of its tasks fail: stopped when 1,000 of 20,000 were attempted, 50 s into its run.
      - {id: doomed-1, created_ago: 0s, confirmation_required: false, tasks: 20000, task_failure_rate: 0.7, timings: {active: 1000s}}
      # 70 % fail but fewer than 1,000 tasks in all: the rule never applies, the job completes.
      - {id: small-1, created_ago: 0s, confirmation_required: false, tasks: 900, task_failure_rate: 0.7, timings: {active: 100s}}
"#;

async fn sandbox() -> SandboxHandle {
    Sandbox::builder()
        .seed(Seed::from_yaml(SEED, None).unwrap())
        .speed(0.0)
        .start()
        .await
        .unwrap()
}

/// (total, succeeded, failed, active seconds) from a summary.
fn numbers(p: &JobProgressSummary) -> (i64, i64, i64, i64) {
    (
        p.total_number_of_tasks().unwrap(),
        p.number_of_tasks_succeeded().unwrap(),
        p.number_of_tasks_failed().unwrap(),
        p.timers()
            .unwrap()
            .elapsed_time_in_active_seconds()
            .unwrap(),
    )
}

/// The job's status and progress from DescribeJob, checked equal to what ListJobs says of it.
async fn progress(c: &Client, id: &str) -> (JobStatus, (i64, i64, i64, i64)) {
    let described = c
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(id)
        .send()
        .await
        .unwrap();
    let job = described.job().unwrap();
    let from_describe = numbers(job.progress_summary().unwrap());
    let listed = c.list_jobs().account_id(ACCOUNT).send().await.unwrap();
    let entry = listed
        .jobs()
        .iter()
        .find(|j| j.job_id() == Some(id))
        .unwrap();
    assert_eq!(entry.status(), job.status(), "{id}");
    assert_eq!(
        numbers(entry.progress_summary().unwrap()),
        from_describe,
        "ListJobs and DescribeJob disagree on {id}"
    );
    (job.status().unwrap().clone(), from_describe)
}

#[tokio::test]
async fn task_progress_advances_with_the_clock_and_list_and_describe_agree() {
    let sandbox = sandbox().await;
    let c = client(&sandbox.url());
    assert_eq!(
        progress(&c, "steady-1").await,
        (JobStatus::New, (10_000, 0, 0, 0))
    );
    sandbox.advance(Duration::from_secs(17));
    assert_eq!(
        progress(&c, "steady-1").await,
        (JobStatus::Active, (10_000, 0, 0, 0))
    );
    let mut last = (0, 0);
    for (seconds, attempted) in [(100, 1_000), (250, 3_500), (500, 8_500)] {
        sandbox.advance(Duration::from_secs(seconds));
        let (status, (_, succeeded, failed, active)) = progress(&c, "steady-1").await;
        assert_eq!(status, JobStatus::Active);
        assert_eq!(succeeded + failed, attempted, "after {active} s active");
        // Failures accrue at the job's rate (10 %).
        assert_eq!(failed, attempted / 10);
        assert!(succeeded > last.0 && failed > last.1);
        assert_eq!(active, attempted / 10, "ten tasks a second");
        last = (succeeded, failed);
    }
    sandbox.advance(Duration::from_secs(200));
    let (status, (_, succeeded, failed, active)) = progress(&c, "steady-1").await;
    assert!(
        matches!(status, JobStatus::Complete | JobStatus::Completing),
        "{status:?}"
    );
    assert_eq!((succeeded, failed, active), (9_000, 1_000, 1_000));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_job_with_most_tasks_failing_fails_by_the_threshold_rule() {
    let sandbox = sandbox().await;
    let c = client(&sandbox.url());
    // Active from 17 s; 1,000 of 20,000 tasks attempted after 50 s of active time.
    sandbox.advance(Duration::from_secs(17 + 49));
    let (status, (_, succeeded, failed, _)) = progress(&c, "doomed-1").await;
    assert_eq!(status, JobStatus::Active);
    assert_eq!(succeeded + failed, 980);
    sandbox.advance(Duration::from_secs(1));
    let (status, _) = progress(&c, "doomed-1").await;
    assert_eq!(status, JobStatus::Failing);
    sandbox.advance(Duration::from_secs(60));
    let (status, (total, succeeded, failed, active)) = progress(&c, "doomed-1").await;
    assert_eq!(status, JobStatus::Failed);
    assert_eq!((total, succeeded + failed, active), (20_000, 1_000, 50));
    assert!(
        failed * 2 > succeeded + failed,
        "{failed} of {}",
        succeeded + failed
    );
    let job = c
        .describe_job()
        .account_id(ACCOUNT)
        .job_id("doomed-1")
        .send()
        .await
        .unwrap();
    let reasons = job.job().unwrap().failure_reasons();
    assert_eq!(reasons.len(), 1);
    assert_eq!(
        reasons[0].failure_code(),
        Some("TaskFailureThresholdExceeded")
    );
    assert!(job.job().unwrap().termination_date().is_some());
    // Under 1,000 tasks the rule does not apply: the job completes with most of its tasks failed.
    let (status, (_, succeeded, failed, _)) = progress(&c, "small-1").await;
    assert_eq!(status, JobStatus::Complete);
    assert_eq!((succeeded, failed), (270, 630));
    sandbox.shutdown().await;
}
