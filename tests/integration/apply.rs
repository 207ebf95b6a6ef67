//! `s3plan apply` end to end: the compiled binary against the in-process sandbox over HTTP (issue 4's
//! "Done when"). Each test states the sandbox's story, runs the binary through `TestRun`, and checks the exit
//! code, the report and what the sandbox saw (audit log, call counts).

use std::time::{Duration, Instant};

use s3plan::sandbox::{FaultAction, JobStatus, Operation, ScriptedFault};
use serde_json::Value;

use crate::apply_support::{ACCESS_KEY_ID, Finished, SECRET_ACCESS_KEY, TestRun};
use crate::support::ACCOUNT;

/// A small account with one job per interesting state (clock frozen unless a test moves it).
const SEED: &str = r#"
random_seed: 7
accounts:
  - id: "111122223333"
    jobs:
      - {id: susp-1, status: Suspended, description: susp-1}
      - {id: susp-2, status: Suspended, description: susp-2}
      - {id: susp-3, status: Suspended, description: susp-3}
      - {id: susp-4, status: Suspended, description: susp-4}
      - {id: susp-5, status: Suspended, description: susp-5}
      - {id: susp-6, status: Suspended, description: susp-6}
      - {id: prep-1, status: Preparing, description: prep-1, timings: {preparing: 1h}, progress: 0}
      - {id: prep-2, status: Preparing, description: prep-2, timings: {preparing: 1h}, progress: 0}
      - {id: active-1, status: Active, description: active-1, timings: {active: 1h}, progress: 0.5}
      - {id: active-2, status: Active, description: active-2, timings: {active: 6h}, progress: 0.1}
      - {id: ready-1, status: Ready, description: ready-1, timings: {ready: 1h}}
      - {id: done-1, status: Complete, description: done-1}
      - {id: failed-1, status: Failed, description: failed-1}
      - {id: cancelled-1, status: Cancelled, description: cancelled-1}
      - {id: cancelling-1, status: Cancelling, description: cancelling-1, timings: {transition: 1h}}
  - id: "444455556666"
    jobs:
      - {id: foreign-1, status: Suspended, description: foreign-1}
"#;

/// The plan header every test plan shares: pinned account, fast polling.
fn plan(entries: &str) -> String {
    format!(
        "version: 1\naccount_id: \"{ACCOUNT}\"\nreason: \"integration test\"\npoll_interval: 100ms\nlimits:\n  rate_limit: 100\n  poll_rate_limit: 100\njobs:\n{entries}"
    )
}

fn run(entries: &str) -> TestRun {
    TestRun::new(&plan(entries)).seed_yaml(SEED)
}

fn status(done: &Finished, job: &str) -> JobStatus {
    done.sandbox.job_status(ACCOUNT, job).unwrap()
}

/// UpdateJobStatus calls answered `ok`, per job id, in arrival order.
fn applied_jobs(done: &Finished) -> Vec<String> {
    done.mutations()
        .into_iter()
        .filter(|e| e.is_ok())
        .filter_map(|e| e.job_id)
        .collect()
}

const EVERY_OUTCOME: &str = r#"
  - name: confirm
    job_ids: ["susp-1", "susp-2"]
    set: Ready
  - name: cancel-running
    job_id: "active-2"
    set: Cancelled
  - name: already-cancelled
    job_ids: ["cancelled-1", "cancelling-1"]
    set: Cancelled
  - name: already-confirmed
    job_ids: ["ready-1", "active-1"]
    set: Ready
  - name: finished
    job_ids: ["done-1", "failed-1"]
    set: Cancelled
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applied_unchanged_and_skipped_jobs_are_judged_before_any_call() {
    let done = run(EVERY_OUTCOME).run().await;
    done.code(0);
    let outcome = |entry: &str, job: &str| done.job(entry, job)["outcome"].clone();
    assert_eq!(outcome("confirm", "susp-1"), "applied");
    assert_eq!(outcome("confirm", "susp-2"), "applied");
    assert_eq!(outcome("cancel-running", "active-2"), "applied");
    assert_eq!(outcome("already-cancelled", "cancelled-1"), "unchanged");
    assert_eq!(outcome("already-cancelled", "cancelling-1"), "unchanged");
    assert_eq!(outcome("already-confirmed", "ready-1"), "unchanged");
    assert_eq!(outcome("already-confirmed", "active-1"), "unchanged");
    assert_eq!(outcome("finished", "done-1"), "skipped");
    assert_eq!(outcome("finished", "failed-1"), "skipped");
    assert_eq!(done.summary("total"), 9);
    assert_eq!(done.summary("applied"), 3);
    assert_eq!(done.summary("unchanged"), 4);
    assert_eq!(done.summary("skipped"), 2);

    // Only the three applied jobs got a call, each exactly one, and the report carries its request id.
    let mut jobs = applied_jobs(&done);
    jobs.sort();
    assert_eq!(jobs, ["active-2", "susp-1", "susp-2"]);
    assert_eq!(done.mutations().len(), 3);
    for entry in done.mutations() {
        let job = entry.job_id.as_deref().unwrap();
        let record = done.report()["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job_id"] == job)
            .unwrap();
        assert_eq!(record["request_id"], entry.request_id.as_str());
        assert_eq!(record["attempts"], 1);
    }
    assert_eq!(
        done.job("cancel-running", "active-2")["status_after"],
        "Cancelling"
    );
    assert_eq!(status(&done, "susp-1"), JobStatus::Ready);
    assert_eq!(status(&done, "active-2"), JobStatus::Cancelling);
    assert!(done.stdout.contains("3 applied"), "{}", done.stdout);

    insta::assert_json_snapshot!("apply_every_outcome_report", redact(done.report()));
}

/// The report with run-specific values (times, durations, ports, paths, request ids) replaced.
fn redact(report: &Value) -> Value {
    let mut report = report.clone();
    for key in ["started_at", "finished_at"] {
        report[key] = "[time]".into();
    }
    report["endpoint"] = "[endpoint]".into();
    for target in report["targets"].as_array_mut().unwrap() {
        target["endpoint"] = "[endpoint]".into();
    }
    report["plan"]["path"] = "[plan path]".into();
    for job in report["jobs"].as_array_mut().unwrap() {
        for key in ["started_at", "finished_at"] {
            if job[key].is_string() {
                job[key] = "[time]".into();
            }
        }
        if job["waited_ms"].is_u64() {
            job["waited_ms"] = "[ms]".into();
        }
        if job["request_id"].is_string() {
            job["request_id"] = "[request id]".into();
        }
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_makes_zero_mutating_calls() {
    // No terminal and no --yes: a dry run changes nothing, so it asks for no confirmation.
    let done = run(EVERY_OUTCOME).args(&["--dry-run"]).no_yes().run().await;
    done.code(0);
    assert_eq!(done.report()["mode"], "dry_run");
    assert_eq!(done.summary("would_apply"), 3);
    assert_eq!(done.summary("unchanged"), 4);
    assert_eq!(done.summary("skipped"), 2);
    assert_eq!(done.summary("applied"), 0);
    assert_eq!(done.job("confirm", "susp-1")["outcome"], "would_apply");
    assert!(
        done.sandbox.audit().is_empty(),
        "{:?}",
        done.sandbox.audit()
    );
    assert_eq!(done.calls(Operation::UpdateJobStatus), 0);
    assert_eq!(done.calls(Operation::UpdateJobPriority), 0);
    assert_eq!(status(&done, "susp-1"), JobStatus::Suspended);
    // A dry run keeps no journal: nothing was attempted.
    assert!(!done.dir.path().join("report.json.journal.jsonl").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_entry_leaves_its_dependents_not_run_and_exits_1() {
    let done = run(r#"
  - name: too-early
    job_id: "prep-1"
    set: Ready
  - name: dependent
    job_id: "susp-1"
    after: [too-early]
    set: Cancelled
  - name: independent
    job_id: "susp-2"
    set: Cancelled
"#)
    .run()
    .await;
    done.code(1);
    let failed = done.job("too-early", "prep-1");
    assert_eq!(failed["outcome"], "failed");
    assert!(
        failed["reason"].as_str().unwrap().contains("Preparing"),
        "{failed:#}"
    );
    assert_eq!(done.job("dependent", "susp-1")["outcome"], "not_run");
    assert_eq!(done.job("independent", "susp-2")["outcome"], "applied");
    assert_eq!(applied_jobs(&done), ["susp-2"]);
    assert_eq!(status(&done, "susp-1"), JobStatus::Suspended);
    assert_eq!(done.summary("failed"), 1);
    assert_eq!(done.summary("not_run"), 1);
    assert!(done.stdout.contains("prep-1"), "{}", done.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_server_errors_are_retried_and_counted() {
    let done = run(r#"
  - name: confirm
    job_id: "susp-4"
    set: Ready
"#)
    .script(ScriptedFault::internal_error(Operation::UpdateJobStatus).times(2))
    .run()
    .await;
    done.code(0);
    let record = done.job("confirm", "susp-4");
    assert_eq!(record["outcome"], "applied");
    assert!(
        done.stdout.starts_with("1 job: 1 applied"),
        "{}",
        done.stdout
    );
    assert_eq!(record["attempts"], 3);
    assert_eq!(done.calls(Operation::UpdateJobStatus), 3);
    let outcomes: Vec<String> = done.mutations().into_iter().map(|e| e.outcome).collect();
    assert_eq!(
        outcomes,
        ["InternalServiceException", "InternalServiceException", "ok"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_throttle_is_retried_and_counted() {
    let done = run(r#"
  - name: confirm
    job_ids: ["susp-1", "susp-2", "susp-3"]
    set: Ready
"#)
    .args(&["--concurrency", "1"])
    .script(ScriptedFault::throttle(Operation::UpdateJobStatus).on_call(2))
    .run()
    .await;
    done.code(0);
    assert_eq!(done.summary("applied"), 3);
    let audit = done.mutations();
    assert_eq!(audit.len(), 4, "{audit:?}");
    let throttled: Vec<&str> = audit
        .iter()
        .filter(|e| e.outcome == "TooManyRequestsException")
        .map(|e| e.job_id.as_deref().unwrap())
        .collect();
    assert_eq!(throttled.len(), 1, "{audit:?}");
    for job in ["susp-1", "susp-2", "susp-3"] {
        let expected = if job == throttled[0] { 2 } else { 1 };
        assert_eq!(done.job("confirm", job)["attempts"], expected, "{job}");
    }
    assert_eq!(done.calls(Operation::UpdateJobStatus), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_bucket_throttle_is_survived_with_every_attempt_reported() {
    let done = run(r#"
  - name: cancel
    job_ids: ["susp-1", "susp-2", "susp-3", "susp-4", "susp-5", "susp-6"]
    set: Cancelled
"#)
    .throttle(Operation::UpdateJobStatus, 10.0, 1)
    .run()
    .await;
    done.code(0);
    assert_eq!(done.summary("applied"), 6);
    let attempts: u64 = done.report()["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["attempts"].as_u64().unwrap())
        .sum();
    let audit = done.mutations();
    let throttled = audit
        .iter()
        .filter(|e| e.outcome == "TooManyRequestsException")
        .count() as u64;
    assert_eq!(attempts, done.calls(Operation::UpdateJobStatus));
    assert_eq!(attempts, audit.len() as u64);
    assert_eq!(attempts - 6, throttled);
    // Every attempt was journaled before it was sent.
    let journal =
        std::fs::read_to_string(done.dir.path().join("report.json.journal.jsonl")).unwrap();
    let intents = journal
        .lines()
        .filter(|line| line.contains(r#""record":"intent""#))
        .count() as u64;
    assert_eq!(intents, attempts);
    assert_eq!(audit.iter().filter(|e| e.is_ok()).count(), 6);
    for job in ["susp-1", "susp-6"] {
        assert_eq!(status(&done, job), JobStatus::Cancelled);
    }
}

/// Two seeded batches that both match the description glob, one with the wrong tag, plus noise that fails
/// the glob: 2,500 Suspended jobs, three ListJobs pages.
const BULK_SEED: &str = r#"
random_seed: 3
accounts:
  - id: "111122223333"
    generate:
      - count: 1200
        id_prefix: bulk-a-
        description_prefix: bulk-a-
        job: {status: Suspended, tags: {team: bulk}}
      - count: 1000
        id_prefix: bulk-b-
        description_prefix: bulk-b-
        job: {status: Suspended, tags: {team: other}}
      - count: 300
        id_prefix: noise-
        description_prefix: noise-
        job: {status: Suspended, tags: {team: bulk}}
"#;

fn bulk_plan(max_jobs: u32) -> String {
    plan(&format!(
        r#"
  - name: cancel-bulk
    select:
      status: [Suspended]
      description: "bulk-*"
      tags: {{ team: bulk }}
    max_jobs: {max_jobs}
    set: Cancelled
"#
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selectors_page_through_more_than_a_thousand_jobs() {
    let done = TestRun::new(&bulk_plan(5000))
        .seed_yaml(BULK_SEED)
        .args(&["--dry-run", "--poll-rate-limit", "5000"])
        .run()
        .await;
    done.code(0);
    assert_eq!(done.summary("total"), 1200);
    assert_eq!(done.summary("would_apply"), 1200);
    let mut ids: Vec<&str> = done.report()["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert!(ids.iter().all(|id| id.starts_with("bulk-a-")), "{ids:?}");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1200, "no job twice");
    // 2,500 Suspended jobs at 1,000 a page: three pages (a fourth, empty one at most).
    let pages = done.calls(Operation::ListJobs);
    assert!((3..=4).contains(&pages), "{pages} ListJobs calls");
    // Tags are read only for the 2,200 jobs the description passed, never for the 300 others.
    assert_eq!(done.calls(Operation::GetJobTagging), 2200);
    assert!(done.sandbox.audit().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selector_over_max_jobs_refuses_the_run_before_any_change() {
    let done = TestRun::new(&bulk_plan(1000))
        .seed_yaml(BULK_SEED)
        .args(&["--poll-rate-limit", "5000"])
        .run()
        .await;
    done.code(2);
    done.stderr_has("1200").stderr_has("max_jobs");
    assert!(done.sandbox.audit().is_empty());
    assert_eq!(done.calls(Operation::UpdateJobStatus), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_on_the_jobs_own_status_is_met() {
    let running = run(r#"
  - name: confirm-when-suspended
    job_id: "prep-1"
    wait_for: { status: Suspended, timeout: 30s }
    set: Ready
"#)
    .start()
    .await;
    // Resolution described the job; let the gate poll five times (at least 400 ms at its 100 ms
    // interval) with nothing sent, then let an hour pass.
    running.wait_for_calls(Operation::DescribeJob, 6).await;
    assert!(
        running.sandbox.audit().is_empty(),
        "no call before the gate"
    );
    running.sandbox.advance(Duration::from_secs(3700));
    let done = running.finish().await;
    done.code(0);
    let record = done.job("confirm-when-suspended", "prep-1");
    assert_eq!(record["outcome"], "applied", "{record:#}");
    // The status last seen before the call: the one that made the gate hold.
    assert_eq!(record["status_before"], "Suspended", "{record:#}");
    assert!(record["waited_ms"].as_u64().unwrap() >= 300, "{record:#}");
    assert_eq!(status(&done, "prep-1"), JobStatus::Ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_on_another_job_is_met() {
    let running = run(r#"
  - name: confirm-after-prep
    job_id: "susp-1"
    wait_for: { job: "prep-2", status: Suspended, timeout: 30s }
    set: Ready
"#)
    .start()
    .await;
    // Resolution described both jobs; let the gate poll prep-2 five times with nothing sent.
    running.wait_for_calls(Operation::DescribeJob, 7).await;
    assert!(
        running.sandbox.audit().is_empty(),
        "no call before the gate"
    );
    running.sandbox.advance(Duration::from_secs(3700));
    let done = running.finish().await;
    done.code(0);
    let record = done.job("confirm-after-prep", "susp-1");
    assert_eq!(record["outcome"], "applied", "{record:#}");
    assert!(record["waited_ms"].as_u64().unwrap() >= 300, "{record:#}");
    assert_eq!(applied_jobs(&done), ["susp-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gates_time_out_or_fail_at_once_when_they_can_never_hold() {
    let started = Instant::now();
    let done = run(r#"
  - name: times-out
    job_id: "susp-3"
    wait_for: { job: "active-2", status: Complete, timeout: 1s }
    set: Cancelled
  - name: own-unreachable
    job_id: "active-1"
    wait_for: { status: Suspended, timeout: 1m }
    set: Cancelled
  - name: other-unreachable
    job_id: "susp-4"
    wait_for: { job: "done-1", status: Active, timeout: 1m }
    set: Cancelled
"#)
    .run()
    .await;
    let elapsed = started.elapsed();
    done.code(1);
    let timed_out = done.job("times-out", "susp-3");
    assert_eq!(timed_out["outcome"], "timed_out", "{timed_out:#}");
    assert!(timed_out["waited_ms"].as_u64().unwrap() >= 1000);
    // No call was made: the status after is the one last seen (regression: it was null).
    assert_eq!(timed_out["status_after"], "Suspended", "{timed_out:#}");
    for (entry, job, now) in [
        ("own-unreachable", "active-1", "Active"),
        ("other-unreachable", "susp-4", "Complete"),
    ] {
        let record = done.job(entry, job);
        assert_eq!(record["outcome"], "failed", "{record:#}");
        let reason = record["reason"].as_str().unwrap();
        assert!(
            reason.contains("can never hold") && reason.contains(now),
            "{reason}"
        );
        // Failed before the one-second gate timed out, so long before their own one-minute timeout.
        assert!(
            record["waited_ms"].as_u64().unwrap() < timed_out["waited_ms"].as_u64().unwrap(),
            "{record:#}"
        );
        assert!(record["status_after"].is_string(), "{record:#}");
    }
    // The whole run did not wait for the one-minute timeouts.
    assert!(elapsed < Duration::from_secs(50), "{elapsed:?}");
    assert!(done.sandbox.audit().is_empty());
    assert_eq!(done.summary("timed_out"), 1);
    assert_eq!(done.summary("failed"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_chains_run_in_order() {
    let done = run(r#"
  - name: third
    job_id: "susp-3"
    after: [second]
    set: Cancelled
  - name: first
    job_id: "susp-1"
    set: Cancelled
  - name: second
    job_id: "susp-2"
    after: [first]
    set: Cancelled
"#)
    .run()
    .await;
    done.code(0);
    assert_eq!(applied_jobs(&done), ["susp-1", "susp-2", "susp-3"]);
    assert_eq!(done.mutations().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_confirm_or_cancel_after_a_race_is_unchanged_not_failed() {
    // The second entry of each pair resolved the job before the first changed it: its call meets a
    // JobStatusException, which the re-check turns into `unchanged`.
    let done = run(r#"
  - name: confirm
    job_id: "susp-1"
    set: Ready
  - name: confirm-again
    job_id: "susp-1"
    after: [confirm]
    set: Ready
  - name: cancel
    job_id: "active-2"
    set: Cancelled
  - name: cancel-again
    job_id: "active-2"
    after: [cancel]
    set: Cancelled
"#)
    .run()
    .await;
    done.code(0);
    assert_eq!(done.job("confirm", "susp-1")["outcome"], "applied");
    assert_eq!(done.job("cancel", "active-2")["outcome"], "applied");
    for (entry, job) in [("confirm-again", "susp-1"), ("cancel-again", "active-2")] {
        let record = done.job(entry, job);
        assert_eq!(record["outcome"], "unchanged", "{record:#}");
        assert!(record["error"].is_null(), "{record:#}");
    }
    let mut ok = applied_jobs(&done);
    ok.sort();
    assert_eq!(ok, ["active-2", "susp-1"], "each job changed exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_that_move_while_a_gate_waits_get_the_right_outcome() {
    // Both entries wait for prep-2. Meanwhile active-1 completes by itself (cancel race: skipped, never a
    // failure) and prep-1 becomes Suspended (confirm race: its stale `Preparing` is read again: applied).
    let running = run(r#"
  - name: cancel-when-ready
    job_id: "active-1"
    wait_for: { job: "prep-2", status: Suspended, timeout: 30s }
    set: Cancelled
  - name: confirm-when-ready
    job_id: "prep-1"
    wait_for: { job: "prep-2", status: Suspended, timeout: 30s }
    set: Ready
"#)
    .start()
    .await;
    // Both gates polled prep-2 a few times with nothing sent.
    running.wait_for_calls(Operation::DescribeJob, 8).await;
    assert!(
        running.sandbox.audit().is_empty(),
        "no call before the gate"
    );
    running.sandbox.advance(Duration::from_secs(3700));
    let done = running.finish().await;
    done.code(0);
    let cancelled = done.job("cancel-when-ready", "active-1");
    assert_eq!(cancelled["outcome"], "skipped", "{cancelled:#}");
    assert_eq!(cancelled["status_before"], "Active");
    assert_eq!(cancelled["status_after"], "Complete", "{cancelled:#}");
    let confirmed = done.job("confirm-when-ready", "prep-1");
    assert_eq!(confirmed["outcome"], "applied", "{confirmed:#}");
    assert_eq!(applied_jobs(&done), ["prep-1"]);
    assert_eq!(status(&done, "active-1"), JobStatus::Complete);
    assert_eq!(status(&done, "prep-1"), JobStatus::Ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_yes_and_without_a_terminal_the_run_is_refused() {
    let done = run("  - {name: cancel, job_id: \"susp-1\", set: Cancelled}\n")
        .no_yes()
        .run()
        .await;
    done.code(2);
    done.stderr_has("not a terminal").stderr_has("--yes");
    assert!(done.sandbox.audit().is_empty());
    assert_eq!(status(&done, "susp-1"), JobStatus::Suspended);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_id_flag_other_than_the_pinned_one_is_refused() {
    let done = run("  - {name: cancel, job_id: \"susp-1\", set: Cancelled}\n")
        .args(&["--account-id", "444455556666"])
        .run()
        .await;
    done.code(2);
    done.stderr_has("444455556666").stderr_has("111122223333");
    assert_eq!(
        done.sandbox.call_counts().values().sum::<u64>(),
        0,
        "refused before any call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_another_account_is_not_found_before_any_change() {
    let done = run(r#"
  - name: cancel
    job_ids: ["susp-1", "foreign-1"]
    set: Cancelled
"#)
    .run()
    .await;
    done.code(2);
    done.stderr_has("foreign-1").stderr_has("not found");
    assert!(done.sandbox.audit().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_the_credentials_cannot_use_is_access_denied() {
    let plan =
        "version: 1\nreason: test\njobs:\n  - {name: cancel, job_id: \"susp-1\", set: Cancelled}\n";
    let done = TestRun::new(plan)
        .seed_yaml(SEED)
        .args(&["--account-id", "999988887777"])
        .run()
        .await;
    done.code(2);
    done.stderr_has("AccessDenied").stderr_has("--account-id");
    assert!(done.sandbox.audit().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_json_prints_the_report_on_stdout() {
    let done = run(EVERY_OUTCOME).args(&["--output", "json"]).run().await;
    done.code(0);
    let printed: Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(printed["summary"], done.report()["summary"]);
    assert_eq!(printed["jobs"], done.report()["jobs"]);
    assert_eq!(printed["summary"]["applied"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_is_written_when_the_run_fails() {
    let done = run(r#"
  - name: never
    job_id: "susp-1"
    wait_for: { job: "active-2", status: Complete, timeout: 1s }
    set: Cancelled
"#)
    .run()
    .await;
    done.code(1);
    assert_eq!(done.summary("timed_out"), 1);
    assert_eq!(done.report()["interrupted"], false);
    done.stderr_has(&done.report_path().display().to_string());
}

#[test]
fn the_readme_quick_start_applies_the_example_with_the_demo_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join("incident-bulk-cancel.yaml");
    // Twice: each run has its own sandbox, and its own report even within the same second.
    for _ in 0..2 {
        let output = assert_cmd::Command::cargo_bin("s3plan")
            .unwrap()
            .current_dir(dir.path())
            .env_clear()
            .env("HOME", dir.path())
            .args(["apply", "--sandbox", "--yes"])
            .arg(&example)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(stdout.contains("applied"), "{stdout}");
    }
    // The default report is named after the plan and lands in the current directory.
    let reports: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| {
            name.starts_with("s3plan-report-incident-bulk-cancel-") && name.ends_with(".json")
        })
        .collect();
    assert_eq!(reports.len(), 2, "{reports:?}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(&reports[0])).unwrap())
            .unwrap();
    assert_eq!(report["summary"]["failed"], 0);
    assert!(report["summary"]["applied"].as_u64().unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_retried_without_a_second_change() {
    let done = run(r#"
  - name: confirm
    job_id: "susp-1"
    set: Ready
"#)
    .script(ScriptedFault::drop_connection(Operation::UpdateJobStatus))
    .run()
    .await;
    done.code(0);
    let record = done.job("confirm", "susp-1");
    assert_eq!(record["outcome"], "applied", "{record:#}");
    assert_eq!(record["attempts"], 2, "{record:#}");
    let outcomes: Vec<String> = done.mutations().into_iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, ["dropped", "ok"]);
    assert_eq!(status(&done, "susp-1"), JobStatus::Ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priorities_are_set_alone_or_beside_a_status() {
    let done = run(r#"
  - name: reprioritize
    job_id: "active-2"
    priority: 77
  - name: confirm-first
    job_id: "susp-1"
    priority: 99
    set: Ready
  - name: same-priority
    job_id: "susp-2"
    priority: 10
"#)
    .run()
    .await;
    done.code(0);
    for (entry, job, priority) in [
        ("reprioritize", "active-2", 77),
        ("confirm-first", "susp-1", 99),
    ] {
        let record = done.job(entry, job);
        assert_eq!(record["outcome"], "applied", "{record:#}");
        assert_eq!(record["priority_requested"], priority, "{record:#}");
        let calls = done
            .sandbox
            .audit_for(Some(Operation::UpdateJobPriority), Some(job));
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0].params["priority"], priority.to_string());
    }
    assert_eq!(status(&done, "susp-1"), JobStatus::Ready);
    assert_eq!(status(&done, "active-2"), JobStatus::Active);
    // Seeded jobs have priority 10: asking 10 again makes no call.
    let same = done.job("same-priority", "susp-2");
    assert_eq!(same["outcome"], "unchanged", "{same:#}");
    assert!(
        done.sandbox
            .audit_for(Some(Operation::UpdateJobPriority), Some("susp-2"))
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_retried_while_resolving() {
    let done = TestRun::new(&bulk_plan(5000))
        .seed_yaml(BULK_SEED)
        .args(&["--dry-run", "--poll-rate-limit", "5000"])
        .script(ScriptedFault::throttle(Operation::ListJobs).on_call(2))
        .script(ScriptedFault::internal_error(Operation::GetJobTagging).times(3))
        .run()
        .await;
    done.code(0);
    assert_eq!(done.summary("would_apply"), 1200);
    let pages = done.calls(Operation::ListJobs);
    assert!((4..=5).contains(&pages), "{pages} ListJobs calls");
    assert_eq!(done.calls(Operation::GetJobTagging), 2203);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_while_waiting_exits_130_with_a_report() {
    let running = run(r#"
  - name: wait
    job_id: "susp-1"
    wait_for: { job: "prep-1", status: Suspended, timeout: 30s }
    set: Ready
  - name: later
    job_id: "susp-2"
    after: [wait]
    set: Ready
"#)
    .start()
    .await;
    running.wait_for_calls(Operation::DescribeJob, 4).await;
    running.interrupt();
    let done = running.finish().await;
    done.code(130);
    assert_eq!(done.report()["interrupted"], true);
    assert_eq!(done.summary("applied"), 0);
    assert_eq!(done.job("later", "susp-2")["outcome"], "not_run");
    assert!(done.sandbox.audit().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_waits_for_gates_like_a_run() {
    let done = run(r#"
  - name: wait
    job_id: "susp-1"
    wait_for: { job: "prep-1", status: Suspended, timeout: 1s }
    set: Ready
"#)
    .args(&["--dry-run"])
    .run()
    .await;
    done.code(1);
    let record = done.job("wait", "susp-1");
    assert_eq!(record["outcome"], "timed_out", "{record:#}");
    assert!(record["waited_ms"].as_u64().unwrap() >= 1000, "{record:#}");
    assert!(done.sandbox.audit().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_signed_with_the_environment_credentials() {
    let entries = "  - {name: confirm, job_id: \"susp-1\", set: Ready}\n";
    let signed = run(entries)
        .credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
        .run()
        .await;
    signed.code(0);
    assert_eq!(applied_jobs(&signed), ["susp-1"]);

    let wrong = run(entries)
        .credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        .run()
        .await;
    wrong.code(2);
    wrong.stderr_has("SignatureDoesNotMatch");
    assert!(wrong.sandbox.audit().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_gated_jobs_are_polled_by_listing_and_all_confirmed() {
    let seed = r#"
accounts:
  - id: "111122223333"
    generate:
      - count: 60
        id_prefix: gen-
        description_prefix: gen-
        job: {status: Preparing, timings: {preparing: 1h}, progress: 0}
"#;
    let running = TestRun::new(&plan(
        r#"
  - name: confirm-when-suspended
    select: { status: [Preparing], description: "gen-*" }
    wait_for: { status: Suspended, timeout: 30s }
    set: Ready
"#,
    ))
    .seed_yaml(seed)
    .start()
    .await;
    // Resolution listed once; three polling rounds list again with nothing sent.
    running.wait_for_calls(Operation::ListJobs, 4).await;
    assert!(
        running.sandbox.audit().is_empty(),
        "no call before the gate"
    );
    let listed_while_waiting = running.sandbox.calls(Operation::ListJobs);
    running.sandbox.advance(Duration::from_secs(3700));
    let done = running.finish().await;
    done.code(0);
    assert_eq!(done.summary("applied"), 60);
    assert_eq!(done.mutations().len(), 60);
    assert!(listed_while_waiting >= 3, "{listed_while_waiting}");
    // Polling 60 jobs by listing them, not by describing each one every round.
    assert!(
        done.calls(Operation::DescribeJob) < 60,
        "{} DescribeJob calls",
        done.calls(Operation::DescribeJob)
    );
    assert_eq!(status(&done, "gen-00060"), JobStatus::Ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_while_resolving_exits_130_and_changes_nothing() {
    let running = TestRun::new(&bulk_plan(5000))
        .seed_yaml(BULK_SEED)
        .script(
            ScriptedFault::new(
                Some(Operation::GetJobTagging),
                FaultAction::Delay { ms: 200 },
            )
            .times(10_000),
        )
        .start()
        .await;
    running.wait_for_calls(Operation::GetJobTagging, 1).await;
    running.interrupt();
    let done = running.finish().await;
    done.code(130);
    done.stderr_has("interrupted before any change");
    assert!(done.sandbox.audit().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_json_prints_the_report_when_the_run_fails() {
    let done = run("  - {name: too-early, job_id: \"prep-1\", set: Ready}\n")
        .args(&["--output", "json"])
        .run()
        .await;
    done.code(1);
    let printed: Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(printed["summary"]["failed"], 1);
    assert_eq!(printed["jobs"], done.report()["jobs"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_bounded_and_the_failure_names_job_call_code_and_request_id() {
    let done = run("  - {name: confirm, job_id: \"susp-1\", set: Ready}\n")
        .script(ScriptedFault::internal_error(Operation::UpdateJobStatus).times(1000))
        .run()
        .await;
    done.code(1);
    let record = done.job("confirm", "susp-1");
    assert_eq!(record["outcome"], "failed", "{record:#}");
    assert_eq!(record["attempts"], 8, "{record:#}");
    assert_eq!(record["error"]["code"], "InternalServiceException");
    let audit = done.mutations();
    assert_eq!(audit.len(), 8);
    let last = &audit.last().unwrap().request_id;
    assert_eq!(record["request_id"], last.as_str());
    for text in [
        "susp-1",
        "UpdateJobStatus",
        "InternalServiceException",
        last,
        "hint",
    ] {
        assert!(
            done.stdout.contains(text),
            "{text} missing:\n{}",
            done.stdout
        );
    }
    assert_eq!(status(&done, "susp-1"), JobStatus::Suspended);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_usage_exits_2_before_any_call() {
    let entries = "  - {name: cancel, job_id: \"susp-1\", set: Cancelled}\n";
    let pinned_region =
        TestRun::new(&plan(entries).replacen("version: 1\n", "version: 1\nregion: eu-west-1\n", 1))
            .seed_yaml(SEED)
            .args(&["--region", "us-east-1"])
            .run()
            .await;
    pinned_region.code(2);
    pinned_region.stderr_has("eu-west-1");

    let zero_rate = run(entries).args(&["--rate-limit", "0"]).run().await;
    zero_rate.code(2);
    zero_rate.stderr_has("--rate-limit");

    let fast_poll = run(entries).args(&["--poll-interval", "0s"]).run().await;
    fast_poll.code(2);
    fast_poll.stderr_has("--poll-interval");

    let invalid = TestRun::new("version: 1\njobs: []\n")
        .seed_yaml(SEED)
        .run()
        .await;
    invalid.code(2);
    for done in [&pinned_region, &zero_rate, &fast_poll, &invalid] {
        assert_eq!(done.sandbox.call_counts().values().sum::<u64>(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_whose_selector_matches_nothing_lets_its_dependents_run() {
    let done = run(r#"
  - name: nothing
    select: { status: [Suspended], description: "no-such-*" }
    set: Cancelled
  - name: then
    job_id: "susp-1"
    after: [nothing]
    set: Cancelled
"#)
    .run()
    .await;
    done.code(0);
    assert_eq!(done.summary("total"), 1);
    assert_eq!(done.job("then", "susp-1")["outcome"], "applied");
}

#[test]
fn the_sandbox_flag_takes_a_seed_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("seed.yaml"), SEED).unwrap();
    std::fs::write(
        dir.path().join("plan.yaml"),
        plan("  - {name: confirm, job_ids: [\"susp-1\", \"ready-1\"], set: Ready}\n"),
    )
    .unwrap();
    let output = assert_cmd::Command::cargo_bin("s3plan")
        .unwrap()
        .current_dir(dir.path())
        .env_clear()
        .env("HOME", dir.path())
        .args([
            "apply",
            "--sandbox=seed.yaml",
            "--yes",
            "--output",
            "json",
            "--report",
            "report.json",
            "plan.yaml",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["summary"]["applied"], 1);
    assert_eq!(report["summary"]["unchanged"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_that_times_out_after_the_change_counts_as_applied() {
    // The first UpdateJobStatus is answered after the client's attempt timeout (1 s here instead of the
    // default 10 s); the retry meets the job already Ready (JobStatusException), which the re-check turns
    // into `applied`.
    let done = run("  - {name: confirm, job_id: \"susp-1\", set: Ready}\n")
        .env("S3PLAN_ATTEMPT_TIMEOUT", "1s")
        .script(
            ScriptedFault::new(
                Some(Operation::UpdateJobStatus),
                FaultAction::Delay { ms: 3_000 },
            )
            .times(1),
        )
        .run()
        .await;
    done.code(0);
    let record = done.job("confirm", "susp-1");
    assert_eq!(record["outcome"], "applied", "{record:#}");
    assert_eq!(record["attempts"], 2, "{record:#}");
    assert_eq!(status(&done, "susp-1"), JobStatus::Ready);
    let ok = done.mutations().iter().filter(|e| e.is_ok()).count();
    assert_eq!(ok, 1, "{:?}", done.mutations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_a_thousand_gated_jobs_are_polled_page_by_page() {
    let seed = r#"
accounts:
  - id: "111122223333"
    generate:
      - count: 1200
        id_prefix: gen-
        description_prefix: gen-
        job: {status: Preparing, timings: {preparing: 1h}, progress: 0}
"#;
    let running = TestRun::new(&plan(
        r#"
  - name: confirm-when-suspended
    select: { status: [Preparing], description: "gen-*" }
    max_jobs: 2000
    wait_for: { status: Suspended, timeout: 30s }
    set: Ready
"#,
    ))
    .seed_yaml(seed)
    .args(&["--rate-limit", "5000", "--concurrency", "64"])
    .start()
    .await;
    // Resolution lists 2 pages; each polling round 2 more: three rounds with nothing sent.
    running.wait_for_calls(Operation::ListJobs, 8).await;
    assert!(
        running.sandbox.audit().is_empty(),
        "no call before the gate"
    );
    running.sandbox.advance(Duration::from_secs(3700));
    let done = running.finish().await;
    done.code(0);
    assert_eq!(done.summary("applied"), 1200);
    assert_eq!(done.mutations().len(), 1200);
    assert!(
        done.calls(Operation::DescribeJob) < 100,
        "{} DescribeJob calls",
        done.calls(Operation::DescribeJob)
    );
}

/// Regression: setup errors printed their cause twice (in the message and again in the cause chain).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_setup_errors_name_their_cause_once() {
    let entries = "  - {name: cancel, job_id: \"susp-1\", set: Cancelled}\n";
    let no_region = run(entries).env_remove("AWS_REGION").run().await;
    no_region.code(2);
    no_region.stderr_has("no AWS region is configured");
    assert_eq!(
        no_region
            .stderr
            .matches("no AWS region is configured")
            .count(),
        1,
        "{}",
        no_region.stderr
    );

    let unwritable = run(entries)
        .report_to("/nonexistent-dir/report.json")
        .run()
        .await;
    unwritable.code(2);
    unwritable.stderr_has("/nonexistent-dir/report.json");
    assert_eq!(
        unwritable
            .stderr
            .matches("No such file or directory")
            .count(),
        1,
        "{}",
        unwritable.stderr
    );
    for done in [&no_region, &unwritable] {
        assert!(done.sandbox.audit().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_second_signal_abandons_calls_in_flight_and_keeps_their_attempts() {
    let mut running = run(r#"
  - name: confirm
    job_id: "susp-1"
    set: Ready
  - name: later
    job_id: "susp-2"
    after: [confirm]
    set: Ready
"#)
    // The attempt timeout beyond the delay, so only the second signal can end the call early.
    .env("S3PLAN_ATTEMPT_TIMEOUT", "60s")
    .script(
        ScriptedFault::new(
            Some(Operation::UpdateJobStatus),
            FaultAction::Delay { ms: 30_000 },
        )
        .times(1),
    )
    .start()
    .await;
    running.wait_for_calls(Operation::UpdateJobStatus, 1).await;
    running.signal("TERM");
    running
        .wait_for_stderr("interrupted: starting no new work")
        .await;
    let signalled = Instant::now();
    running.signal("INT");
    let done = running.finish().await;
    // Half the 10 s grace the first signal gives calls in flight (the call itself would take 30 s): it was
    // abandoned, not waited for.
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "{:?}",
        signalled.elapsed()
    );
    done.code(130);
    assert_eq!(done.report()["interrupted"], true);
    assert_eq!(done.job("later", "susp-2")["outcome"], "not_run");
    let abandoned = done.job("confirm", "susp-1");
    assert_ne!(abandoned["outcome"], "applied", "{abandoned:#}");
    assert!(abandoned["reason"].is_string(), "{abandoned:#}");
    // Regression: the abandoned job's record was rebuilt from scratch (0 attempts, started when it ended).
    assert_eq!(abandoned["attempts"], 1, "{abandoned:#}");
    assert_eq!(done.calls(Operation::UpdateJobStatus), 1);
    assert_ne!(
        abandoned["started_at"], abandoned["finished_at"],
        "{abandoned:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_signal_lets_calls_in_flight_finish_and_starts_nothing_new() {
    let running = run(r#"
  - name: confirm
    job_id: "susp-1"
    set: Ready
  - name: later
    job_id: "susp-2"
    after: [confirm]
    set: Ready
"#)
    .script(
        ScriptedFault::new(
            Some(Operation::UpdateJobStatus),
            FaultAction::Delay { ms: 1_000 },
        )
        .times(1),
    )
    .start()
    .await;
    running.wait_for_calls(Operation::UpdateJobStatus, 1).await;
    running.interrupt();
    let done = running.finish().await;
    done.code(130);
    assert_eq!(done.report()["interrupted"], true);
    let finished = done.job("confirm", "susp-1");
    assert_eq!(finished["outcome"], "applied", "{finished:#}");
    assert_eq!(finished["attempts"], 1, "{finished:#}");
    assert_eq!(done.job("later", "susp-2")["outcome"], "not_run");
    assert_eq!(applied_jobs(&done), ["susp-1"]);
    assert_eq!(status(&done, "susp-2"), JobStatus::Suspended);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selector_filters_read_times_operations_and_priorities_off_the_wire() {
    // The sandbox starts at 12:00; jobs created 10 minutes or 2 hours before wait in Suspended.
    let seed = r#"
accounts:
  - id: "111122223333"
    jobs:
      - {id: recent-lambda-p3, description: job-a, created_ago: 10m, operation: LambdaInvoke, priority: 3}
      - {id: recent-lambda-p50, description: job-b, created_ago: 10m, operation: LambdaInvoke, priority: 50}
      - {id: recent-copy-p3, description: job-c, created_ago: 10m, operation: S3PutObjectCopy, priority: 3}
      - {id: old-lambda-p3, description: job-d, created_ago: 2h, operation: LambdaInvoke, priority: 3}
"#;
    let done = TestRun::new(&plan(
        r#"
  - name: picky
    select:
      status: [Suspended]
      description: "job-*"
      created_after: 2026-06-01T11:00:00Z
      created_before: 2026-06-01T12:00:00Z
      operation: [LambdaInvoke]
      priority: { min: 0, max: 10 }
    set: Cancelled
"#,
    ))
    .seed_yaml(seed)
    .args(&["--dry-run"])
    .run()
    .await;
    done.code(0);
    let ids: Vec<&str> = done.report()["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["recent-lambda-p3"]);
    assert_eq!(done.calls(Operation::GetJobTagging), 0);
}

/// A plan that pins no account.
const UNPINNED: &str =
    "version: 1\nreason: test\njobs:\n  - {name: confirm, job_id: \"foreign-1\", set: Ready}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpinned_plan_takes_its_account_from_aws_account_id() {
    let from_env = TestRun::new(UNPINNED)
        .seed_yaml(SEED)
        .env("AWS_ACCOUNT_ID", "444455556666")
        .run()
        .await;
    from_env.code(0);
    assert_eq!(from_env.report()["account_id"], "444455556666");
    assert_eq!(
        from_env.sandbox.job_status("444455556666", "foreign-1"),
        Some(JobStatus::Ready)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_id_flag_beats_aws_account_id() {
    // foreign-1 is not in 111122223333.
    let flag_wins = TestRun::new(UNPINNED)
        .seed_yaml(SEED)
        .env("AWS_ACCOUNT_ID", "444455556666")
        .args(&["--account-id", ACCOUNT])
        .run()
        .await;
    flag_wins.code(2);
    flag_wins.stderr_has("not found").stderr_has(ACCOUNT);
    assert!(flag_wins.mutations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_plan_is_refused_when_aws_account_id_names_another() {
    // The credentials are probably for that other account: a mismatch with the credentials is refused.
    let pinned = run("  - {name: confirm, job_id: \"susp-1\", set: Ready}\n")
        .env("AWS_ACCOUNT_ID", "444455556666")
        .run()
        .await;
    pinned.code(2);
    pinned
        .stderr_has("444455556666")
        .stderr_has("nothing was changed");
    assert!(pinned.mutations().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_plan_runs_when_aws_account_id_agrees() {
    let agreeing = run("  - {name: confirm, job_id: \"susp-1\", set: Ready}\n")
        .env("AWS_ACCOUNT_ID", ACCOUNT)
        .run()
        .await;
    agreeing.code(0);
    assert_eq!(agreeing.report()["account_id"], ACCOUNT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancels_report_the_status_the_api_answered() {
    let seed = r#"
accounts:
  - id: "111122223333"
    jobs:
      - {id: queued-1, status: Ready, timings: {ready: 1h}}
      - {id: paused-1, status: Paused, pause: {after: 1m, paused_for: 1h}}
      - {id: preparing-1, status: Preparing, timings: {preparing: 1h}}
"#;
    let done = TestRun::new(&plan(
        r#"
  - name: cancel
    job_ids: ["queued-1", "paused-1", "preparing-1"]
    set: Cancelled
"#,
    ))
    .seed_yaml(seed)
    .run()
    .await;
    done.code(0);
    for (job, before, after) in [
        ("queued-1", "Ready", "Cancelled"),
        ("paused-1", "Paused", "Cancelling"),
        ("preparing-1", "Preparing", "Cancelled"),
    ] {
        let record = done.job("cancel", job);
        assert_eq!(record["outcome"], "applied", "{record:#}");
        assert_eq!(record["status_before"], before, "{record:#}");
        assert_eq!(record["status_after"], after, "{record:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_names_who_ran_it_when_known() {
    let done = run("  - {name: confirm, job_id: \"susp-1\", set: Ready}\n")
        .env("USER", "alice")
        .args(&["--report", "run.md"])
        .run()
        .await;
    done.code(0);
    assert_eq!(done.report()["run_by"], "alice");
    let markdown = std::fs::read_to_string(done.report_path().with_file_name("run.md")).unwrap();
    assert!(markdown.contains("| Run by | alice |"), "{markdown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_resolution_tells_the_operator_it_is_still_working() {
    // 45 tag lookups at 6 reads/s take about 7 s: past the first 5 s the operator gets a line, not silence.
    let seed = r#"
accounts:
  - id: "111122223333"
    generate:
      - count: 45
        id_prefix: tagged-
        description_prefix: tagged-
        job: {status: Suspended, tags: {team: data}}
"#;
    let plan = "version: 1\naccount_id: \"111122223333\"\nreason: test\nlimits:\n  poll_rate_limit: 6\n  rate_limit: 100\njobs:\n  - name: confirm\n    select: {description: \"tagged-*\", tags: {team: data}}\n    set: Ready\n";
    let done = TestRun::new(plan).seed_yaml(seed).run().await;
    done.code(0);
    done.stderr_has("still resolving the plan after 5s")
        .stderr_has("raise poll_rate_limit");
    assert_eq!(done.summary("applied"), 45);
}
