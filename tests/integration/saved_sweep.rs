//! Applying a saved plan reads its jobs again by ListJobs sweep, through the binary against an in-process
//! sandbox: 2,501 saved jobs cost at most ceil(2,501 / 1,000) = 3 ListJobs pages plus one DescribeJob per job
//! the listing did not show, instead of a DescribeJob per job; a job that finished or vanished since the
//! review is not listed, is described, and still refuses the run with the same words as before; a role
//! denied ListJobs still gets every job read, with DescribeJob.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use s3plan::sandbox::{FaultAction, Operation, SandboxHandle, ScriptedFault, Seed};

use crate::support::{ACCOUNT, frozen, s3plan};

/// 2,500 Suspended `bulk-*` jobs and one Active one that finishes within a week of sandbox time.
fn seed() -> Seed {
    let text = format!(
        "accounts:\n  - id: \"{ACCOUNT}\"\n    jobs:\n      - {{id: job-active-1, status: Active, description: bulk-active, priority: 5, tasks: 100, progress: 0.5}}\n    generate:\n      - count: 2500\n        id_prefix: job-\n        description_prefix: bulk-\n        job:\n          status: Suspended\n          priority: 5\n"
    );
    Seed::from_yaml(&text, None).unwrap()
}

const PLAN: &str = r#"version: 1
account_id: "111122223333"
region: us-east-1
reason: "saved sweep test"
limits: {concurrency: 64, rate_limit: 2000, poll_rate_limit: 500}
jobs:
  - name: cancel-bulk
    select:
      status: [Suspended, Active]
      description: "bulk-*"
    max_jobs: 3000
    set: Cancelled
"#;

async fn run(mut cmd: std::process::Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Stderr with miette's wrapping undone.
fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

/// `plan PLAN --out saved.json`: the review.
async fn save(dir: &Path, sandbox: &SandboxHandle) -> PathBuf {
    let plan = dir.join("plan.yaml");
    std::fs::write(&plan, PLAN).unwrap();
    let saved = dir.join("saved.json");
    let mut cmd = s3plan(dir);
    cmd.arg("plan")
        .arg(&plan)
        .args(["--endpoint-url", &sandbox.url(), "--out"])
        .arg(&saved);
    let planned = run(cmd).await;
    assert_eq!(planned.status.code(), Some(0), "{}", stderr(&planned));
    saved
}

/// `apply saved.json --yes`.
async fn apply(dir: &Path, saved: &Path, sandbox: &SandboxHandle) -> Output {
    let mut cmd = s3plan(dir);
    cmd.arg("apply").arg(saved).args([
        "--endpoint-url",
        &sandbox.url(),
        "--yes",
        "--progress",
        "never",
    ]);
    run(cmd).await
}

/// The reads and changes `during` made at the sandbox.
struct Calls {
    list: u64,
    describe: u64,
    status: u64,
}

async fn calls_of<F: std::future::Future<Output = Output>>(
    sandbox: &SandboxHandle,
    during: F,
) -> (Output, Calls) {
    let count = |op| sandbox.calls(op);
    let before = [
        count(Operation::ListJobs),
        count(Operation::DescribeJob),
        count(Operation::UpdateJobStatus),
    ];
    let output = during.await;
    let calls = Calls {
        list: count(Operation::ListJobs) - before[0],
        describe: count(Operation::DescribeJob) - before[1],
        status: count(Operation::UpdateJobStatus) - before[2],
    };
    (output, calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_of_2501_jobs_is_rechecked_with_three_listjobs_pages_not_a_describejob_each() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    let saved = save(dir.path(), &sandbox).await;

    let (applied, calls) = calls_of(&sandbox, apply(dir.path(), &saved, &sandbox)).await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert_eq!(calls.status, 2501, "every saved job was cancelled");
    // These are every read of the apply (a cancel that is answered needs no read), so they bound the reads
    // made before its first change: the listing holds the 2,501 jobs and nothing else, so nothing is left to
    // describe.
    assert!(calls.list <= 3, "{} ListJobs", calls.list);
    assert_eq!(calls.describe, 0, "no job needed a DescribeJob");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_finished_or_vanished_since_the_review_is_described_and_still_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    let saved = save(dir.path(), &sandbox).await;

    // The active job finishes on its own: Complete is outside the sweep's filter (statuses at review time
    // and the non-terminal ones), so the listing does not show it and it is described.
    sandbox.advance(Duration::from_secs(7 * 24 * 3600));
    let (refused, calls) = calls_of(&sandbox, apply(dir.path(), &saved, &sandbox)).await;
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(text.contains("1 job changed since the review"), "{text}");
    assert!(
        text.contains("job job-active-1 was Active (will change), now Complete ("),
        "{text}"
    );
    assert_eq!(calls.status, 0, "nothing may be changed");
    assert!(calls.list <= 3, "{} ListJobs", calls.list);
    assert_eq!(calls.describe, 1, "only the job the listing did not show");

    // 90 days after it ended the job is gone from the account: described, not found, refused as before.
    sandbox.advance(Duration::from_secs(100 * 24 * 3600));
    let (refused, calls) = calls_of(&sandbox, apply(dir.path(), &saved, &sandbox)).await;
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(
        text.contains(
            "job job-active-1 was Active and can no longer be read: DescribeJob failed: NotFoundException"
        ),
        "{text}"
    );
    assert_eq!(calls.status, 0, "nothing may be changed");
    assert!(calls.list <= 3, "{} ListJobs", calls.list);
    assert_eq!(calls.describe, 1, "only the job the listing did not show");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_whose_listjobs_is_denied_reads_each_job_with_describejob() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    let saved = save(dir.path(), &sandbox).await;
    sandbox.script(ScriptedFault::new(
        Some(Operation::ListJobs),
        FaultAction::Error {
            code: "AccessDenied".to_owned(),
            status: 403,
            message: None,
        },
    ));

    let (applied, calls) = calls_of(&sandbox, apply(dir.path(), &saved, &sandbox)).await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert_eq!(calls.list, 1, "a denial is not retried");
    assert_eq!(calls.describe, 2501, "every job was read, one at a time");
    assert_eq!(calls.status, 2501, "every saved job was cancelled");
    sandbox.shutdown().await;
}
