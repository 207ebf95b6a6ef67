//! The pacer against the sandbox's token bucket, through the binary over HTTP: a server limit ten times under
//! the plan's rate costs few throttled calls. Counts only (the sandbox's audit log and call counters), never
//! times. Most throttles of such a run come in its first second (the attempts in flight when the server's
//! initial burst runs out), so the share shrinks with the run: at 1,000 jobs the bound (a tenth) leaves room
//! for a loaded machine and a debug build, and is below what the first pacer paid (about 15 %: 140 throttles in
//! the first second, then a few every second while probing).

use s3plan::sandbox::{Operation, Sandbox, Throttle};

use crate::journal::{apply, jobs_by_id, plan, report, seed, status_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_ten_times_slower_than_the_plan_throttles_few_calls() {
    const JOBS: usize = 1000;
    let dir = tempfile::tempdir().unwrap();
    // 100 calls a second with a second's worth of burst (the sandbox's default), under a plan of 1,000/s.
    let sandbox = Sandbox::builder()
        .seed(seed(JOBS))
        .speed(0.0)
        .throttle(
            Some(Operation::UpdateJobStatus),
            Throttle {
                rate: 100.0,
                burst: None,
            },
        )
        .start()
        .await
        .unwrap();
    let plan = plan(dir.path(), 1000, 64);
    let output = apply(dir.path(), &plan, &sandbox.url(), &[])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let jobs = jobs_by_id(&report(&dir.path().join("report.json")));
    assert_eq!(jobs.len(), JOBS);
    for (id, job) in &jobs {
        assert_eq!(job["outcome"], "applied", "{id}: {job}");
        assert_eq!(status_in(&sandbox, id), "Cancelled", "{id}");
    }
    let calls = sandbox.calls(Operation::UpdateJobStatus);
    let throttled = sandbox
        .audit()
        .iter()
        .filter(|e| e.outcome == "TooManyRequestsException")
        .count() as u64;
    assert!(
        throttled > 0,
        "the server never throttled: the test is not testing"
    );
    assert!(
        throttled * 10 <= calls,
        "{throttled} of {calls} calls throttled"
    );
    eprintln!("throttling: {JOBS} jobs, {throttled} of {calls} calls throttled");
    sandbox.shutdown().await;
}
