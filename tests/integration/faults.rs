//! Faults survived, against the sandbox and the real binary: injected 500s and dropped connections,
//! sustained throttling, a server that stops answering for a while, a server restarted mid-run, and a job
//! whose status changes under the run. Each test asserts the final state of every job and the report.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use s3plan::sandbox::{
    FaultAction, Knobs, Operation, Sandbox, SandboxHandle, ScriptedFault, Throttle,
};
use serde_json::Value;

use crate::journal::{
    apply, check_invariant, jobs_by_id, journal_lines, journal_path, plan, read_journal, report,
    seed, status_in, wait,
};
use crate::support::{ACCOUNT, wait_until};

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

/// The attempt budget of a mutating call (the first attempt included).
const ATTEMPT_BUDGET: u64 = 8;

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
        // Attempts count UpdateJobStatus calls plus the DescribeJob re-check after a conflict; the
        // UpdateJobStatus calls alone stay within the budget.
        assert!(
            sent <= ATTEMPT_BUDGET,
            "{id}: {sent} UpdateJobStatus sent, budget {ATTEMPT_BUDGET}"
        );
    }
    let (received, missing) = check_invariant(&audit, &read_journal(&journal_path(dir.path())));
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
    const STALLED: u64 = 8;
    const STALL: Duration = Duration::from_secs(60);
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox_with(dir.path(), JOBS, Knobs::default()).await;
    // The 3rd to 10th UpdateJobStatus calls get no answer for a minute: more than a whole run of attempts
    // at 150 ms each, so only the attempt timeout can end them.
    sandbox.script(
        ScriptedFault::new(
            Some(Operation::UpdateJobStatus),
            FaultAction::Delay {
                ms: STALL.as_millis() as u64,
            },
        )
        .on_call(3)
        .times(STALLED),
    );
    let plan = plan(dir.path(), 100, 4);
    let started = Instant::now();
    let output = apply(dir.path(), &plan, &sandbox.url(), &[])
        .env("S3PLAN_ATTEMPT_TIMEOUT", "150ms")
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // No hang: the run ended long before the stalled answers would have come.
    assert!(took < STALL / 2, "the run took {took:?}");
    let jobs = jobs_by_id(&report(&dir.path().join("report.json")));
    assert_all_cancelled(&sandbox, &jobs, JOBS);
    let lines = read_journal(&journal_path(dir.path()));
    let timeouts = lines
        .iter()
        .filter(|l| l["record"] == "ack" && l["error_code"] == "Timeout")
        .count() as u64;
    // A loaded machine may time out an unstalled call too, never fewer.
    assert!(timeouts >= STALLED, "{timeouts} attempts timed out");
    let intents = lines.iter().filter(|l| l["record"] == "intent").count();
    let acks = lines.iter().filter(|l| l["record"] == "ack").count();
    assert_eq!(
        intents, acks,
        "every attempt, timed out or not, has its ack"
    );
    eprintln!("timeouts: {JOBS} jobs, {timeouts} attempts timed out in {took:?}");
    // Not `shutdown`: the stalled requests would hold it for their whole delay.
    drop(sandbox);
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
    // Connection refused until the run has met it (an attempt journaled as a `Connection` failure).
    let journal = journal_path(dir.path());
    wait_until("an attempt refused by the stopped server", || {
        journal_lines(&journal)
            .iter()
            .any(|l| l["record"] == "ack" && l["error_code"] == "Connection")
    })
    .await;
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
    let lines = read_journal(&journal_path(dir.path()));
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
    // s3plan's 2nd and 3rd UpdateJobStatus calls hang for a while (its concurrency is 2): it can go no
    // further until they are answered, which leaves the other operator time to act.
    sandbox.script(
        ScriptedFault::new(
            Some(Operation::UpdateJobStatus),
            FaultAction::Delay { ms: 3_000 },
        )
        .on_call(2)
        .times(2),
    );
    let plan = plan(dir.path(), 20, 2);
    let child = apply(dir.path(), &plan, &sandbox.url(), &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("s3plan's stalled calls", || {
        sandbox.calls(Operation::UpdateJobStatus) >= 3
    })
    .await;
    // Another operator cancels ten jobs between our resolution and our calls: the ten s3plan would reach
    // last (it works through the jobs in one order; its first intent says which end it started from).
    let mine: Vec<String> = journal_lines(&journal_path(dir.path()))
        .iter()
        .filter(|l| l["record"] == "intent")
        .filter_map(|l| l["job"].as_str().map(str::to_owned))
        .collect();
    let descending = mine
        .first()
        .is_some_and(|first| first.as_str() > "job-00020");
    let order: Vec<usize> = if descending {
        (1..=JOBS).collect()
    } else {
        (1..=JOBS).rev().collect()
    };
    let other = crate::sandbox_support::client(&sandbox.url());
    let mut raced = Vec::new();
    for id in order
        .into_iter()
        .map(|i| format!("job-{i:05}"))
        .filter(|id| !mine.contains(id))
        .take(10)
    {
        other
            .update_job_status()
            .account_id(ACCOUNT)
            .job_id(&id)
            .requested_job_status(aws_sdk_s3control::types::RequestedJobStatus::Cancelled)
            .send()
            .await
            .unwrap();
        raced.push(id);
    }
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
