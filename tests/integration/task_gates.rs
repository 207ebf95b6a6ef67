//! Task-outcome conditions on gates, through the binary against the sandbox: a gate holds only when the
//! watched job's status is wanted and few enough of its tasks failed; above `max_failed_tasks` it fails at
//! once, above `max_failure_rate` once the job is finished, with the numbers in the report; and waiting jobs
//! still cost one paginated ListJobs per round, never a DescribeJob each. The sandbox clock is frozen and
//! advanced by the tests; nothing sleeps.

use std::time::Duration;

use s3plan::sandbox::Operation;

use crate::apply_support::TestRun;

use crate::support::ACCOUNT;

/// Jobs start running 17 s after the start (2 s New, 10 s Preparing, 5 s Ready), 20,000 tasks in 1,000 s
/// of active time (20 a second).
const SEED: &str = r#"
accounts:
  - id: "111122223333"
    jobs:
      - {id: retag-ok, created_ago: 0s, confirmation_required: false, tasks: 20000, task_failure_rate: 0.001, timings: {active: 1000s}}
      - {id: retag-bad, created_ago: 0s, confirmation_required: false, tasks: 20000, task_failure_rate: 0.02, timings: {active: 1000s}}
      # 70 % of its tasks fail: the service stops it once 1,000 tasks were attempted (50 s into its run).
      - {id: retag-doomed, created_ago: 0s, confirmation_required: false, tasks: 20000, task_failure_rate: 0.7, timings: {active: 1000s}}
      - {id: reindex-1, status: Suspended, description: reindex-1}
      - {id: reindex-2, status: Suspended, description: reindex-2}
      - {id: reindex-3, status: Suspended, description: reindex-3}
"#;

fn plan(entries: &str) -> String {
    format!(
        "version: 1\naccount_id: \"{ACCOUNT}\"\nreason: \"integration test\"\npoll_interval: 100ms\nlimits:\n  rate_limit: 100\n  poll_rate_limit: 100\njobs:\n{entries}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_holds_when_the_job_completes_under_its_failure_rate() {
    let running = TestRun::new(&plan(
        r#"
  - name: confirm-reindex
    job_id: "reindex-1"
    wait_for: { job: "retag-ok", status: Complete, max_failure_rate: 1%, timeout: 1m }
    set: Ready
"#,
    ))
    .seed_yaml(SEED)
    .start()
    .await;
    // Resolution read both jobs; the gate has polled at least twice while the retag job is New.
    running.wait_for_calls(Operation::DescribeJob, 4).await;
    assert!(
        running.sandbox.audit().is_empty(),
        "no call before the gate"
    );
    running.sandbox.advance(Duration::from_secs(1100));
    let done = running.finish().await;
    done.code(0);
    let record = done.job("confirm-reindex", "reindex-1");
    assert_eq!(record["outcome"], "applied", "{record:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_above_its_failure_rate_fails_the_gate_with_the_numbers() {
    let running = TestRun::new(&plan(
        r#"
  - name: confirm-reindex
    job_id: "reindex-1"
    wait_for: { job: "retag-bad", status: Complete, max_failure_rate: 1%, timeout: 1m }
    set: Ready
"#,
    ))
    .seed_yaml(SEED)
    .args(&["--report", "report.md", "--report", "report.xml"])
    .start()
    .await;
    running.wait_for_calls(Operation::DescribeJob, 4).await;
    // Halfway through, 2 % of the finished tasks failed; the job may still end under 1 %, so it waits.
    running.sandbox.advance(Duration::from_secs(17 + 500));
    let polls = running.sandbox.calls(Operation::DescribeJob);
    running
        .wait_for_calls(Operation::DescribeJob, polls + 2)
        .await;
    assert!(
        running.sandbox.audit().is_empty(),
        "no call before the gate"
    );
    running.sandbox.advance(Duration::from_secs(600));
    let done = running.finish().await;
    done.code(1);
    let record = done.job("confirm-reindex", "reindex-1");
    assert_eq!(record["outcome"], "failed", "{record:#}");
    let reason = record["reason"].as_str().unwrap();
    assert!(
        reason.contains(
            "job Complete with 400 of 20,000 finished tasks failed (2 %), above max_failure_rate 1 %"
        ),
        "{reason}"
    );
    assert!(done.sandbox.audit().is_empty());
    // The Markdown report names the failed gate's numbers; JUnit makes it a failure with them.
    let numbers = "400 of 20,000 finished tasks failed (2 %), above max_failure_rate 1 %";
    let markdown = std::fs::read_to_string(done.dir.path().join("report.md")).unwrap();
    // (Markdown escapes the underscores.)
    assert!(
        markdown.contains(&numbers.replace('_', "\\_")),
        "{markdown}"
    );
    let junit = std::fs::read_to_string(done.dir.path().join("report.xml")).unwrap();
    let failure = junit
        .split("<failure")
        .nth(1)
        .unwrap_or_else(|| panic!("no failure in {junit}"));
    assert!(failure.contains(numbers), "{junit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_above_max_failed_tasks_fails_the_gate_at_once() {
    let running = TestRun::new(&plan(
        r#"
  - name: confirm-reindex
    job_id: "reindex-1"
    wait_for: { job: "retag-bad", status: Complete, max_failed_tasks: 10, timeout: 1h }
    set: Ready
"#,
    ))
    .seed_yaml(SEED)
    .start()
    .await;
    running.wait_for_calls(Operation::DescribeJob, 4).await;
    // 100 s into its run: 2,000 tasks attempted, 40 failed, the job still Active.
    running.sandbox.advance(Duration::from_secs(17 + 100));
    let done = running.finish().await;
    done.code(1);
    let record = done.job("confirm-reindex", "reindex-1");
    assert_eq!(record["outcome"], "failed", "{record:#}");
    let reason = record["reason"].as_str().unwrap();
    assert!(
        reason.contains(
            "job Active with 40 of 2,000 finished tasks failed (2 %), above max_failed_tasks 10"
        ),
        "{reason}"
    );
    assert!(done.sandbox.audit().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_failed_by_the_service_rule_fails_the_gate_with_its_numbers_and_a_slow_one_times_out()
{
    let running = TestRun::new(&plan(
        r#"
  - name: after-doomed
    job_id: "reindex-1"
    wait_for: { job: "retag-doomed", status: Complete, max_failure_rate: 5%, timeout: 1h }
    set: Ready
  - name: after-slow
    job_id: "reindex-2"
    wait_for: { job: "retag-ok", status: Complete, max_failed_tasks: 100, timeout: 1s }
    set: Ready
"#,
    ))
    .seed_yaml(SEED)
    .start()
    .await;
    running.wait_for_calls(Operation::ListJobs, 1).await;
    // 60 s into its run the doomed job is past the 1,000-task rule; the other is still running.
    running.sandbox.advance(Duration::from_secs(17 + 60));
    let done = running.finish().await;
    done.code(1);
    let doomed = done.job("after-doomed", "reindex-1");
    assert_eq!(doomed["outcome"], "failed", "{doomed:#}");
    let reason = doomed["reason"].as_str().unwrap();
    assert!(
        reason
            .contains("with 700 of 1,000 finished tasks failed (70 %), above max_failure_rate 5 %"),
        "{reason}"
    );
    let slow = done.job("after-slow", "reindex-2");
    assert_eq!(slow["outcome"], "timed_out", "{slow:#}");
    let reason = slow["reason"].as_str().unwrap();
    assert!(
        reason.contains("did not become Complete with max_failed_tasks 100 within 1s"),
        "{reason}"
    );
    assert!(done.sandbox.audit().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_jobs_with_task_conditions_cost_one_listing_per_round() {
    // 1,500 running jobs, each waiting for its own end with no failed task: two ListJobs pages a round.
    let seed = r#"
accounts:
  - id: "111122223333"
    generate:
      - count: 1500
        id_prefix: run-
        description_prefix: run-
        job: {status: Active, tasks: 200, task_failure_rate: 0, timings: {active: 1h}, progress: 0}
"#;
    let running = TestRun::new(&plan(
        r#"
  - name: reprioritise-when-done
    select: { status: [Active], description: "run-*" }
    max_jobs: 2000
    wait_for: { status: [Complete], max_failed_tasks: 0, timeout: 10m }
    priority: 50
"#,
    ))
    .seed_yaml(seed)
    .args(&["--poll-rate-limit", "5000"])
    .start()
    .await;
    // Resolution lists two pages; then at least three rounds of two pages each.
    running.wait_for_calls(Operation::ListJobs, 2 + 6).await;
    let described = running.sandbox.calls(Operation::DescribeJob);
    assert!(
        running.sandbox.audit().is_empty(),
        "no call before the gate"
    );
    running.sandbox.advance(Duration::from_secs(3700));
    let done = running.finish().await;
    done.code(0);
    assert_eq!(done.summary("unchanged"), 1500, "{:#}", done.report());
    // Waiting read no job by itself, and every round listed both pages.
    assert_eq!(done.calls(Operation::DescribeJob), described);
    let waiting_pages = done.calls(Operation::ListJobs) - 2;
    assert!(
        waiting_pages >= 6 && waiting_pages % 2 == 0,
        "{waiting_pages} ListJobs calls while waiting"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_is_met_and_lets_its_after_entry_run() {
    let running = TestRun::new(&plan(
        r#"
  - name: retag-done
    job_id: "retag-ok"
    wait_for: { status: Complete, max_failed_tasks: 100, timeout: 1m }
  - name: confirm-reindex
    job_id: "reindex-1"
    after: [retag-done]
    set: Ready
"#,
    ))
    .seed_yaml(SEED)
    .start()
    .await;
    running.wait_for_calls(Operation::DescribeJob, 3).await;
    assert!(
        running.sandbox.audit().is_empty(),
        "nothing before the checkpoint"
    );
    running.sandbox.advance(Duration::from_secs(1100));
    let done = running.finish().await;
    done.code(0);
    let checkpoint = done.job("retag-done", "retag-ok");
    assert_eq!(checkpoint["outcome"], "met", "{checkpoint:#}");
    assert_eq!(checkpoint["status_after"], "Complete", "{checkpoint:#}");
    // 0.1 % of 20,000 tasks failed, as the gate's last poll saw them.
    assert_eq!(
        checkpoint["tasks"],
        serde_json::json!({"total": 20000, "succeeded": 19980, "failed": 20}),
        "{checkpoint:#}"
    );
    assert_eq!(done.summary("met"), 1);
    assert_eq!(
        done.job("confirm-reindex", "reindex-1")["outcome"],
        "applied"
    );
    // The checkpoint itself sent nothing: the one change is the confirmation.
    let changed: Vec<String> = done
        .mutations()
        .into_iter()
        .filter_map(|e| e.job_id)
        .collect();
    assert_eq!(changed, ["reindex-1"]);
    // `s3plan plan` judges the checkpoint as apply did: met, and the confirmation already done.
    let planned = plan_json(&done.sandbox.url(), &done.dir.path().join("plan.yaml")).await;
    let verdicts: Vec<(String, String)> = planned["entries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["jobs"].as_array().unwrap().iter())
        .map(|j| {
            (
                j["job_id"].as_str().unwrap().to_owned(),
                j["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("retag-ok".to_owned(), "met".to_owned()),
            ("reindex-1".to_owned(), "unchanged".to_owned())
        ],
        "{planned:#}"
    );
}

/// `s3plan plan --output json` of `plan` against the sandbox at `url`.
async fn plan_json(url: &str, plan: &std::path::Path) -> serde_json::Value {
    let home = plan.parent().unwrap().to_owned();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_s3plan"));
    cmd.env_clear()
        .current_dir(&home)
        .env("HOME", &home)
        .env("AWS_ACCESS_KEY_ID", "AKIDPLANTEST")
        .env("AWS_SECRET_ACCESS_KEY", "plan-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .args(["plan", "--output", "json"])
        .arg(plan)
        .arg("--endpoint-url")
        .arg(url);
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_that_times_out_or_can_never_hold_stops_its_after_entries() {
    let done = TestRun::new(&plan(
        r#"
  - name: retag-slow
    job_id: "retag-ok"
    wait_for: { status: Complete, timeout: 1s }
  - name: retag-bad-done
    job_id: "retag-bad"
    wait_for: { status: [Complete], max_failed_tasks: 0, timeout: 1h }
  - name: confirm-after-slow
    job_id: "reindex-1"
    after: [retag-slow]
    set: Ready
  - name: confirm-after-bad
    job_id: "reindex-2"
    after: [retag-bad-done]
    set: Ready
"#,
    ))
    .seed_yaml(SEED)
    .start()
    .await;
    done.wait_for_calls(Operation::DescribeJob, 4).await;
    // 30 s into their runs: the bad job has failed tasks already, the good one is far from Complete.
    done.sandbox.advance(Duration::from_secs(17 + 30));
    let done = done.finish().await;
    done.code(1);
    assert_eq!(done.job("retag-slow", "retag-ok")["outcome"], "timed_out");
    let bad = done.job("retag-bad-done", "retag-bad");
    assert_eq!(bad["outcome"], "failed", "{bad:#}");
    assert!(
        bad["reason"]
            .as_str()
            .unwrap()
            .contains("above max_failed_tasks 0"),
        "{bad:#}"
    );
    for (entry, job) in [
        ("confirm-after-slow", "reindex-1"),
        ("confirm-after-bad", "reindex-2"),
    ] {
        assert_eq!(done.job(entry, job)["outcome"], "not_run", "{entry}");
    }
    assert!(done.sandbox.audit().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_gates_example_runs_against_the_demo_sandbox() {
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/release-task-gates.yaml"),
    )
    .unwrap();
    let done = TestRun::new(&example).run().await;
    done.code(0);
    let checkpoint = done.job(
        "archive-retag-clean",
        "92276658-1e27-41c0-8a6a-63ec24ede6a4",
    );
    assert_eq!(checkpoint["outcome"], "met", "{checkpoint:#}");
    assert_eq!(checkpoint["tasks"]["failed"], 110, "{checkpoint:#}");
    let confirmed = done.job(
        "confirm-products-reindex-us",
        "9531985d-5d9d-49f8-9818-e811892f902b",
    );
    assert_eq!(confirmed["outcome"], "applied", "{confirmed:#}");
    assert_eq!(done.mutations().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_on_a_job_failed_by_the_service_reports_its_tasks_and_failure_reasons() {
    let running = TestRun::new(&plan(
        r#"
  - name: retag-clean
    job_id: "retag-doomed"
    wait_for: { status: Complete, max_failure_rate: 5%, timeout: 1h }
"#,
    ))
    .seed_yaml(SEED)
    .start()
    .await;
    running.wait_for_calls(Operation::DescribeJob, 2).await;
    running.sandbox.advance(Duration::from_secs(17 + 60));
    let done = running.finish().await;
    done.code(1);
    let record = done.job("retag-clean", "retag-doomed");
    assert_eq!(record["outcome"], "failed", "{record:#}");
    assert_eq!(record["status_after"], "Failed", "{record:#}");
    assert_eq!(
        record["tasks"],
        serde_json::json!({"total": 20000, "succeeded": 300, "failed": 700}),
        "{record:#}"
    );
    let reasons = record["failure_reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 1, "{record:#}");
    assert_eq!(
        reasons[0]["code"], "TaskFailureThresholdExceeded",
        "{record:#}"
    );
    assert!(
        !reasons[0]["reason"].as_str().unwrap().is_empty(),
        "{record:#}"
    );
}
