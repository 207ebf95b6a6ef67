//! Faults survived, against the sandbox and the real binary: injected 500s and dropped connections,
//! sustained throttling, a server that stops answering for a while, a server restarted mid-run, and a job
//! whose status changes under the run. Each test asserts the final state of every job and the report.

use std::collections::HashMap;
use std::time::Duration;

use s3plan::sandbox::{Knobs, Operation, Sandbox, SandboxHandle, Throttle};
use serde_json::Value;

use crate::journal::{
    apply, check_invariant, jobs_by_id, journal_lines, journal_path, plan, report, seed, status_in,
    wait,
};

async fn sandbox_with(dir: &std::path::Path, jobs: usize, knobs: Knobs) -> SandboxHandle {
    Sandbox::builder()
        .seed(seed(jobs))
        .speed(0.0)
        .knobs(knobs)
        .audit_log(dir.join("audit.jsonl"))
        .start()
        .await
        .unwrap()
}

fn sum_attempts(jobs: &HashMap<String, Value>) -> u64 {
    jobs.values().map(|j| j["attempts"].as_u64().unwrap()).sum()
}

fn assert_all_cancelled(sandbox: &SandboxHandle, jobs: &HashMap<String, Value>, n: usize) {
    assert_eq!(jobs.len(), n);
    for (id, job) in jobs {
        assert!(
            matches!(job["outcome"].as_str(), Some("applied" | "unchanged")),
            "{id}: {job}"
        );
        assert!(status_in(sandbox, id).starts_with("Cancel"), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifth_of_calls_failing_and_a_tenth_dropped_still_reach_every_target() {
    const JOBS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let knobs = Knobs {
        fault_rate: 0.2,
        drop_rate: 0.1,
        random_seed: 7,
        ..Knobs::default()
    };
    let sandbox = sandbox_with(dir.path(), JOBS, knobs).await;
    let plan = plan(dir.path(), 400, 8);
    let output = apply(dir.path(), &plan, &sandbox.url(), &[])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let jobs = jobs_by_id(&report(&dir.path().join("report.json")));
    assert_all_cancelled(&sandbox, &jobs, JOBS);

    let audit = sandbox.audit();
    let updates = sandbox.calls(Operation::UpdateJobStatus);
    let describes = sandbox.calls(Operation::DescribeJob);
    let faults = audit.iter().filter(|e| !e.is_ok()).count();
    assert!(faults >= 10, "only {faults} faults injected");
    // Every attempt the report counts is a call the server saw (a dropped connection included).
    assert_eq!(sum_attempts(&jobs), updates + describes, "attempts counted");
    for (id, job) in &jobs {
        let sent = sandbox
            .audit_for(Some(Operation::UpdateJobStatus), Some(id))
            .len() as u64;
        let attempts = job["attempts"].as_u64().unwrap();
        assert!(
            attempts >= sent && sent >= 1,
            "{id}: {attempts} attempts, {sent} sent"
        );
        assert!(attempts <= 8 + 1, "{id}: {attempts} attempts, budget 8");
    }
    let (received, missing) = check_invariant(&audit, &journal_lines(&journal_path(dir.path())));
    assert_eq!(missing, 0);
    eprintln!(
        "faults: {JOBS} jobs, {received} UpdateJobStatus received, {faults} failed or dropped, {describes} DescribeJob"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_throttling_below_the_plan_rate_slows_the_run_but_it_completes() {
    const JOBS: usize = 60;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::builder()
        .seed(seed(JOBS))
        .speed(0.0)
        .throttle(
            Some(Operation::UpdateJobStatus),
            Throttle {
                rate: 40.0,
                burst: Some(5),
            },
        )
        .start()
        .await
        .unwrap();
    let plan = plan(dir.path(), 200, 8);
    let output = apply(dir.path(), &plan, &sandbox.url(), &[])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let jobs = jobs_by_id(&report(&dir.path().join("report.json")));
    assert_all_cancelled(&sandbox, &jobs, JOBS);
    let throttled = sandbox
        .audit()
        .iter()
        .filter(|e| e.outcome == "TooManyRequestsException")
        .count();
    assert!(
        throttled > 0,
        "the server never throttled: the test is not testing"
    );
    // The adaptive limiter backs off: throttled answers stay well below one per job.
    assert!(
        throttled < JOBS,
        "{throttled} throttled answers for {JOBS} jobs"
    );
    assert_eq!(
        sum_attempts(&jobs),
        sandbox.calls(Operation::UpdateJobStatus) + sandbox.calls(Operation::DescribeJob)
    );
    eprintln!("throttling: {JOBS} jobs, {throttled} throttled answers");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_answering_trips_the_attempt_timeout_and_the_record_is_kept() {
    const JOBS: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox_with(dir.path(), JOBS, Knobs::default()).await;
    let plan = plan(dir.path(), 100, 4);
    let mut cmd = apply(dir.path(), &plan, &sandbox.url(), &[]);
    cmd.env("S3PLAN_ATTEMPT_TIMEOUT", "150ms")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Resolution first (answers at once), then every call hangs for 5 s for a while.
    crate::journal::wait_for_intents(&journal_path(dir.path()), 1).await;
    sandbox
        .set_knobs(Knobs {
            latency_ms: 5000,
            ..Knobs::default()
        })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    sandbox.set_knobs(Knobs::default()).unwrap();
    let output = wait(child).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let jobs = jobs_by_id(&report(&dir.path().join("report.json")));
    assert_all_cancelled(&sandbox, &jobs, JOBS);
    let lines = journal_lines(&journal_path(dir.path()));
    let timeouts = lines
        .iter()
        .filter(|l| l["record"] == "ack" && l["error_code"] == "Timeout")
        .count();
    assert!(timeouts > 0, "no attempt timed out");
    let (_, missing) = check_invariant(&sandbox.audit(), &lines);
    assert!(missing <= timeouts, "{missing} answers unrecorded");
    eprintln!("timeouts: {JOBS} jobs, {timeouts} attempts timed out");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_restarted_mid_run_is_recovered_from_per_job() {
    const JOBS: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let first = sandbox_with(dir.path(), JOBS, Knobs::default()).await;
    let addr = first.addr();
    let plan = plan(dir.path(), 40, 4);
    let child = apply(dir.path(), &plan, &first.url(), &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    crate::journal::wait_for_intents(&journal_path(dir.path()), 5).await;
    first.shutdown().await;
    // Read after the shutdown, so calls that finished during it are counted.
    let before: Vec<s3plan::sandbox::AuditEntry> =
        std::fs::read_to_string(dir.path().join("audit.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    // Connection refused for a while.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = Sandbox::builder()
        .seed(seed(JOBS))
        .speed(0.0)
        .bind(addr.to_string())
        .start()
        .await
        .unwrap();
    let output = wait(child).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let jobs = jobs_by_id(&report(&dir.path().join("report.json")));
    assert_eq!(jobs.len(), JOBS);
    let lines = journal_lines(&journal_path(dir.path()));
    let refused = lines
        .iter()
        .filter(|l| l["record"] == "ack" && l["error_code"] == "Connection")
        .count();
    assert!(refused > 0, "no call met the stopped server");
    let mut after_restart = 0;
    for (id, job) in &jobs {
        assert!(
            matches!(job["outcome"].as_str(), Some("applied")),
            "{id}: {job}"
        );
        // The restarted sandbox starts from its seed again: a job is cancelled in one of the two.
        let in_first = before
            .iter()
            .any(|e| e.job_id.as_deref() == Some(id) && e.is_ok());
        if !in_first {
            after_restart += 1;
            assert!(status_in(&second, id).starts_with("Cancel"), "{id}");
        }
    }
    assert!(after_restart > 0);
    let mut audit = before;
    audit.extend(second.audit());
    check_invariant(&audit, &lines);
    eprintln!(
        "restart: {JOBS} jobs, {refused} attempts refused, {after_restart} finished after the restart"
    );
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_cancelled_by_someone_else_mid_run_is_not_misreported() {
    const JOBS: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox_with(dir.path(), JOBS, Knobs::default()).await;
    let plan = plan(dir.path(), 20, 2);
    let child = apply(dir.path(), &plan, &sandbox.url(), &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    crate::journal::wait_for_intents(&journal_path(dir.path()), 1).await;
    // Another operator cancels the last ten jobs between our resolution and our calls.
    let other = crate::sandbox_support::client(&sandbox.url());
    let mut raced = Vec::new();
    for id in (31..=JOBS).map(|i| format!("job-{i:05}")) {
        let cancelled = other
            .update_job_status()
            .account_id(crate::journal::ACCOUNT)
            .job_id(&id)
            .requested_job_status(aws_sdk_s3control::types::RequestedJobStatus::Cancelled)
            .send()
            .await;
        // When s3plan got there first, the job is legitimately its own: only the others raced.
        if cancelled.is_ok() {
            raced.push(id);
        }
    }
    assert!(raced.len() >= 5, "only {} jobs raced", raced.len());
    let output = wait(child).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let jobs = jobs_by_id(&report(&dir.path().join("report.json")));
    assert_all_cancelled(&sandbox, &jobs, JOBS);
    for id in &raced {
        assert_eq!(jobs[id]["outcome"], "unchanged", "{id}: {}", jobs[id]);
    }
    sandbox.shutdown().await;
}
