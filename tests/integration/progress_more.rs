//! Live progress through the binary with `--progress always` on a dumb terminal (plain lines): the time
//! left at the current rate, and for an entry waiting on a gate the watched job's status, its task
//! numbers and when the gate gives up. The sandbox clock is frozen and advanced by the tests.

use std::time::Duration;

use crate::apply_support::TestRun;

/// `retag` starts running 17 s after the start and finishes 20,000 tasks in 1,000 s, 2 % of them failing;
/// twelve stale jobs run already.
fn seed() -> String {
    let mut seed = String::from(
        r#"
accounts:
  - id: "111122223333"
    jobs:
      - {id: retag, created_ago: 0s, confirmation_required: false, tasks: 20000, task_failure_rate: 0.02, timings: {active: 1000s}}
      - {id: reindex, status: Suspended, description: reindex}
"#,
    );
    for i in 0..12 {
        seed.push_str(&format!(
            "      - {{id: stale-{i:02}, status: Active, description: stale}}\n"
        ));
    }
    seed
}

/// One gated entry and twelve cancels at one call a second, so progress lines come while both run.
const PLAN: &str = r#"version: 1
account_id: "111122223333"
reason: "integration test"
poll_interval: 100ms
limits:
  rate_limit: 1
  poll_rate_limit: 100
jobs:
  - name: confirm-reindex
    job_id: "reindex"
    wait_for: { job: "retag", status: Complete, timeout: 1h }
    set: Ready
  - name: cancel-stale
    select: {status: [Active]}
    set: Cancelled
"#;

/// The progress lines of `stderr` with the parts that depend on timing replaced.
fn redacted(lines: &[&str]) -> String {
    let filters = [
        (r"\[\d+:\d\d\]", "[T]"),
        (r"\d+\.\d req/s", "[R] req/s"),
        (r"~\d+:\d\d left", "~[ETA] left"),
        (r"gives up in \d+:\d\d", "gives up in [COUNTDOWN]"),
        (r"\d+/13 jobs \(\d+ applied\)", "[N]/13 jobs ([N] applied)"),
    ];
    let mut text = lines.join("\n");
    for (pattern, with) in filters {
        text = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&text, with)
            .into_owned();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_shows_time_left_and_what_a_gate_waits_for_with_its_countdown() {
    let mut running = TestRun::new(PLAN)
        .seed_yaml(&seed())
        .args(&["--progress", "always"])
        .env("TERM", "dumb")
        .start()
        .await;
    // The gate read the retag job (New) before the clock moves.
    running.wait_for_stderr("(now New").await;
    // 100 s into its run: 2,000 tasks attempted, 40 failed, still Active.
    running.sandbox.advance(Duration::from_secs(17 + 100));
    running
        .wait_for_stderr("(now Active; tasks 2000/20000, 40 failed; gives up in ")
        .await;
    running.wait_for_stderr("left at this rate").await;
    running.sandbox.advance(Duration::from_secs(1000));
    let done = running.finish().await;
    done.code(0);
    assert_eq!(done.job("confirm-reindex", "reindex")["outcome"], "applied");

    let lines: Vec<&str> = done.stderr.lines().collect();
    let gate = lines
        .iter()
        .find(|l| l.contains("(now Active;"))
        .copied()
        .unwrap_or_else(|| panic!("{}", done.stderr));
    // The countdown starts at the gate's 1 h timeout when the job starts waiting.
    let countdown = regex::Regex::new(r"gives up in (\d+):(\d\d)\)")
        .unwrap()
        .captures(gate)
        .unwrap_or_else(|| panic!("{gate}"));
    let left = countdown[1].parse::<u64>().unwrap() * 60 + countdown[2].parse::<u64>().unwrap();
    assert!((50 * 60..3600).contains(&left), "{gate}");
    let eta = lines
        .iter()
        .find(|l| l.contains("left at this rate"))
        .copied()
        .unwrap_or_else(|| panic!("{}", done.stderr));
    // Twelve cancels at one a second: never more than 12 s to go.
    let estimate = regex::Regex::new(r"~0:(\d\d) left")
        .unwrap()
        .captures(eta)
        .unwrap_or_else(|| panic!("{eta}"));
    assert!(estimate[1].parse::<u64>().unwrap() <= 12, "{eta}");
    insta::assert_snapshot!(redacted(&[gate, eta]));
    // Once the gate holds, no later line shows the watched job.
    let last = lines
        .iter()
        .rev()
        .find(|l| l.contains("confirm-reindex"))
        .copied()
        .unwrap_or_default();
    assert!(!last.contains("now "), "{}", done.stderr);
}

/// `s3plan plan --format json` gives each gate's task numbers and condition as fields, not only in text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_json_gives_each_gate_its_task_numbers_as_fields() {
    let sandbox = s3plan::sandbox::Sandbox::builder()
        .seed(s3plan::sandbox::Seed::from_yaml(&seed(), None).unwrap())
        .speed(0.0)
        .start_time("2026-06-01T12:00:00Z".parse().unwrap())
        .start()
        .await
        .unwrap();
    // 100 s into the retag job's run: 2,000 tasks finished, 40 of them failed, still Active.
    sandbox.advance(Duration::from_secs(17 + 100));
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        PLAN[..PLAN.find("  - name: cancel-stale").unwrap()].replace(
            "status: Complete, timeout: 1h",
            "status: Complete, max_failed_tasks: 50, max_failure_rate: 1.5%, timeout: 1h",
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_s3plan"));
    cmd.env_clear()
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("AWS_ACCESS_KEY_ID", "AKIDPLANTEST")
        .env("AWS_SECRET_ACCESS_KEY", "plan-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["plan", "--format", "json"])
        .arg(&plan)
        .arg("--endpoint-url")
        .arg(sandbox.url());
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let planned: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let gate = &planned["entries"][0]["jobs"][0]["gate"];
    assert_eq!(
        gate["watched_tasks"],
        serde_json::json!({
            "total": 20000, "succeeded": 1960, "failed": 40, "finished": 2000, "failure_rate_bp": 200
        }),
        "{gate:#}"
    );
    assert_eq!(
        gate["task_limit"],
        serde_json::json!({"max_failed_tasks": 50, "max_failure_rate_bp": 150}),
        "{gate:#}"
    );
    assert_eq!(gate["watched_status"], "Active", "{gate:#}");
    assert_eq!(gate["holds"], false, "{gate:#}");
    // The text still carries the same numbers for people.
    assert!(
        gate["gate"]
            .as_str()
            .unwrap()
            .contains("now 40 of 2,000 finished tasks failed, 2 %"),
        "{gate:#}"
    );
}

/// The Markdown report lists the jobs whose gate failed on a task condition first, both among the jobs that
/// did not succeed and in their entry's table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markdown_report_puts_jobs_over_a_task_condition_first() {
    let seed = r#"
accounts:
  - id: "111122223333"
    jobs:
      - {id: reindex, status: Suspended, description: reindex}
      - {id: gone-job, status: Cancelled, description: gone}
      - {id: run-1, status: Active, description: run-1, tasks: 200, task_failure_rate: 0, timings: {active: 50s}, progress: 0}
      - {id: run-2, status: Active, description: run-2, tasks: 20000, task_failure_rate: 0.02, timings: {active: 1000s}, progress: 0}
"#;
    let plan = r#"version: 1
account_id: "111122223333"
reason: "integration test"
poll_interval: 100ms
jobs:
  - name: confirm-after-gone
    job_id: "reindex"
    wait_for: { job: "gone-job", status: Complete, timeout: 1m }
    set: Ready
  - name: runs-done
    select: { status: [Active], description: "run-*" }
    wait_for: { status: [Complete], max_failed_tasks: 10, timeout: 10m }
"#;
    let running = TestRun::new(plan)
        .seed_yaml(seed)
        .args(&["--report", "report.md"])
        .start()
        .await;
    // The selector's listing, then two gate rounds (one listing each for the two runs) before the clock moves.
    running
        .wait_for_calls(s3plan::sandbox::Operation::ListJobs, 3)
        .await;
    // run-1 completes without a failed task; run-2 is Active with 40 failed tasks, above 10 for good.
    running.sandbox.advance(Duration::from_secs(100));
    let done = running.finish().await;
    done.code(1);
    assert_eq!(done.job("runs-done", "run-1")["outcome"], "met");
    assert_eq!(done.job("runs-done", "run-2")["outcome"], "failed");
    assert_eq!(
        done.job("confirm-after-gone", "reindex")["outcome"],
        "failed"
    );
    let markdown = std::fs::read_to_string(done.dir.path().join("report.md")).unwrap();
    let rows = |section: &str| -> Vec<String> {
        let start = markdown
            .find(section)
            .unwrap_or_else(|| panic!("{markdown}"));
        markdown[start..]
            .lines()
            .skip(1)
            .skip_while(|l| !l.starts_with("| `"))
            .take_while(|l| l.starts_with("| `"))
            .map(|l| l.split('`').nth(1).unwrap_or_default().to_owned())
            .collect()
    };
    // In plan order the other gate failure would come first.
    assert_eq!(
        rows("## Did not succeed"),
        ["run-2", "reindex"],
        "{markdown}"
    );
    assert_eq!(rows("### runs-done"), ["run-2", "run-1"], "{markdown}");
}
