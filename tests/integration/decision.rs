//! One decision, one record, through the binary and the sandbox: `plan` and `apply` agree on a job already
//! past its gate, and `apply --resume` sends the actions a killed run never sent.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use s3plan::sandbox::{AuditEntry, Operation, SandboxHandle, Seed};
use serde_json::Value;

use crate::journal::{
    ACCOUNT, apply, jobs_by_id, journal_lines, journal_path, report, s3plan, seed, status_in, wait,
};

async fn frozen(seed: Seed, dir: &Path) -> SandboxHandle {
    crate::support::frozen(seed, Some(&dir.join("audit.jsonl"))).await
}

/// `--detailed-exitcode`'s code for "nothing to do".
const NOTHING_TO_DO: i32 = 0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_plan_and_apply_agree_on_a_job_already_past_its_gate() {
    // An Active job asked `wait_for: Suspended` + `set: Ready`, and a Cancelled one asked `wait_for:
    // Suspended` + `set: Cancelled`: both are already where the entry would put them. `plan` said
    // "impossible" while `apply` left them unchanged (exit 0).
    let dir = tempfile::tempdir().unwrap();
    let seed = Seed::from_yaml(
        &format!(
            "accounts:\n  - id: \"{ACCOUNT}\"\n    jobs:\n      - id: 8d116ece-1738-47d9-bd9c-172411e20b8f\n        status: Active\n        description: reindex-1\n        timings: {{active: 6h}}\n      - id: done-00001\n        status: Cancelled\n        description: done-1\n"
        ),
        None,
    )
    .unwrap();
    let sandbox = frozen(seed, dir.path()).await;
    let plan = dir.path().join("rerun.yaml");
    std::fs::write(
        &plan,
        format!(
            "version: 1\naccount_id: \"{ACCOUNT}\"\nreason: rerun\npoll_interval: 100ms\njobs:\n  - name: confirm\n    job_id: 8d116ece-1738-47d9-bd9c-172411e20b8f\n    wait_for: Suspended\n    set: Ready\n  - name: cancel\n    job_id: done-00001\n    wait_for: Suspended\n    set: Cancelled\n"
        ),
    )
    .unwrap();

    let planned = s3plan(dir.path())
        .arg("plan")
        .arg(&plan)
        .args(["--endpoint-url", &sandbox.url(), "--detailed-exitcode"])
        .args(["--output", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&planned.stderr);
    assert_eq!(planned.status.code(), Some(NOTHING_TO_DO), "{stderr}");
    let forecast: Value = serde_json::from_slice(&planned.stdout).unwrap();
    let verdicts: Vec<&str> = forecast["entries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["jobs"].as_array().unwrap())
        .map(|j| j["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["unchanged", "unchanged"], "{forecast:#}");

    let applied = apply(dir.path(), &plan, &sandbox.url(), &[])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&applied.stderr);
    assert_eq!(applied.status.code(), Some(0), "{stderr}");
    let jobs = jobs_by_id(&report(&dir.path().join("report.json")));
    for id in ["8d116ece-1738-47d9-bd9c-172411e20b8f", "done-00001"] {
        assert_eq!(jobs[id]["outcome"], "unchanged", "{id}: {}", jobs[id]);
    }
    assert!(
        mutations(&sandbox.audit()).is_empty(),
        "nothing was sent to jobs already at their target"
    );
    sandbox.shutdown().await;
}

fn mutations(audit: &[AuditEntry]) -> Vec<&AuditEntry> {
    audit
        .iter()
        .filter(|e| {
            matches!(
                e.operation,
                Operation::UpdateJobStatus | Operation::UpdateJobPriority
            )
        })
        .collect()
}

/// Jobs whose `call` the journal acknowledged with success.
fn acknowledged(lines: &[Value], call: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["record"] == "ack" && l["call"] == call && l["error_code"].is_null())
        .map(|l| l["job"].as_str().unwrap().to_owned())
        .collect()
}

/// Jobs with an intent for `call`.
fn intended(lines: &[Value], call: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["record"] == "intent" && l["call"] == call)
        .map(|l| l["job"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits (polling the file, at most 60 s) until the journal acknowledges `n` priority changes.
async fn wait_for_priority_acks(path: &Path, n: usize) {
    for _ in 0..6000 {
        if acknowledged(&journal_lines(path), "UpdateJobPriority").len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the journal never acknowledged {n} priority changes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_resume_sends_the_status_change_a_killed_run_never_sent() {
    // 40 Suspended jobs, one entry `priority: 900` + `set: Ready`, slow rate: killed once a few priority
    // changes are acknowledged, before their status changes were sent. The resumed run reported those jobs
    // applied and never confirmed them.
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(40), dir.path()).await;
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        format!(
            "version: 1\naccount_id: \"{ACCOUNT}\"\nregion: us-east-1\nreason: \"decision test\"\nlimits:\n  concurrency: 40\n  rate_limit: 4\n  poll_rate_limit: 200\njobs:\n  - name: confirm-bulk\n    select:\n      status: [Suspended]\n      description: \"bulk-*\"\n    max_jobs: 1000\n    priority: 900\n    set: Ready\n"
        ),
    )
    .unwrap();
    let mut child = apply(dir.path(), &plan, &sandbox.url(), &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_priority_acks(&journal_path(dir.path()), 3).await;
    let _ = child.kill();
    let _ = wait(child).await;

    let first = journal_lines(&journal_path(dir.path()));
    let priority_done = acknowledged(&first, "UpdateJobPriority");
    let status_sent = intended(&first, "UpdateJobStatus");
    let half_done: Vec<&String> = priority_done
        .iter()
        .filter(|job| !status_sent.contains(job))
        .collect();
    assert!(
        !half_done.is_empty(),
        "the kill left no job with its priority acknowledged and its status unsent"
    );
    for job in &half_done {
        assert_eq!(status_in(&sandbox, job), "Suspended", "{job}");
    }
    let calls_before = sandbox.audit().len();

    let old_journal = dir.path().join("first.journal.jsonl");
    std::fs::rename(journal_path(dir.path()), &old_journal).unwrap();
    let output = apply(
        dir.path(),
        &plan,
        &sandbox.url(),
        &["--rate-limit", "400", "--resume"],
    )
    .arg(&old_journal)
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");

    let later: Vec<AuditEntry> = sandbox.audit().into_iter().skip(calls_before).collect();
    for job in &half_done {
        let sent = |op: Operation| {
            later
                .iter()
                .filter(|e| e.operation == op && e.job_id.as_deref() == Some(job.as_str()))
                .count()
        };
        assert_eq!(
            sent(Operation::UpdateJobStatus),
            1,
            "{job}: its status change"
        );
        assert_eq!(
            sent(Operation::UpdateJobPriority),
            0,
            "{job}: its acknowledged priority is not sent again"
        );
    }
    for i in 1..=40 {
        let job = format!("job-{i:05}");
        assert_eq!(status_in(&sandbox, &job), "Ready", "{job}");
    }
    let all = sandbox.audit();
    for i in 1..=40 {
        let job = format!("job-{i:05}");
        assert!(
            mutations(&all)
                .iter()
                .any(|e| e.operation == Operation::UpdateJobPriority
                    && e.job_id.as_deref() == Some(job.as_str())
                    && e.params.get("priority").map(String::as_str) == Some("900")
                    && e.outcome == "ok"),
            "{job}: priority 900 set"
        );
    }
    let jobs = jobs_by_id(&report(&dir.path().join("report.json")));
    assert_eq!(jobs.len(), 40);
    for job in &half_done {
        assert_eq!(jobs[*job]["outcome"], "applied", "{job}: {}", jobs[*job]);
    }

    // The journal of the resumed run alone rebuilds the same story.
    let rebuilt = s3plan(dir.path())
        .arg("report")
        .arg(journal_path(dir.path()))
        .output()
        .unwrap();
    assert!(rebuilt.status.success());
    let rebuilt: Value = serde_json::from_slice(&rebuilt.stdout).unwrap();
    assert_eq!(rebuilt["summary"]["applied"], 40, "{rebuilt:#}");
    sandbox.shutdown().await;
}
