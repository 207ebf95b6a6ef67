//! A dry run of a gated runbook: a gate that only another entry's change can open is named up front and
//! not waited for; the real apply of the same plan still waits for it and passes it.

use std::path::Path;

use s3plan::sandbox::{AuditEntry, Operation, Seed};

use crate::journal::{ACCOUNT, apply, jobs_by_id, report, status_in};

/// Job A waits for confirmation (and goes Active the moment it is confirmed); job B is cancelled once A
/// is Active. A dry run that waited for the gate would sit out its timeout and end `timed_out` (exit 1).
fn runbook(dir: &Path) -> std::path::PathBuf {
    let plan = dir.join("release.yaml");
    std::fs::write(
        &plan,
        format!(
            "version: 1\naccount_id: \"{ACCOUNT}\"\nreason: release\npoll_interval: 100ms\njobs:\n  - name: confirm-a\n    job_id: job-a\n    set: Ready\n  - name: cancel-b\n    job_id: job-b\n    wait_for: {{ job: job-a, status: Active, timeout: 2m }}\n    set: Cancelled\n"
        ),
    )
    .unwrap();
    plan
}

fn seed() -> Seed {
    Seed::from_yaml(
        &format!(
            "accounts:\n  - id: \"{ACCOUNT}\"\n    jobs:\n      - id: job-a\n        status: Suspended\n        description: release-a\n        timings: {{ready: 0s, active: 6h}}\n      - id: job-b\n        status: Suspended\n        description: release-b\n"
        ),
        None,
    )
    .unwrap()
}

fn mutations(audit: &[AuditEntry]) -> usize {
    audit
        .iter()
        .filter(|e| {
            matches!(
                e.operation,
                Operation::UpdateJobStatus | Operation::UpdateJobPriority
            )
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_dry_run_does_not_wait_for_a_gate_only_its_own_plan_can_open() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = crate::support::frozen(seed(), Some(&dir.path().join("audit.jsonl"))).await;
    let plan = runbook(dir.path());

    let dry = apply(dir.path(), &plan, &sandbox.url(), &["--dry-run"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&dry.stderr);
    assert_eq!(dry.status.code(), Some(0), "{stderr}");
    // Said before the run starts: the notice comes before the run's first progress line.
    assert!(
        stderr.contains("dry run: not waiting for 1 gated job")
            && stderr.contains(
                "cancel-b job job-b: gate on job job-a depends on entry `confirm-a`, which a dry run does not change"
            ),
        "{stderr}"
    );
    let jobs = jobs_by_id(&report(&dir.path().join("report.json")));
    assert_eq!(jobs["job-a"]["outcome"], "would_apply", "{}", jobs["job-a"]);
    assert_eq!(jobs["job-b"]["outcome"], "would_apply", "{}", jobs["job-b"]);
    let reason = jobs["job-b"]["reason"].to_string();
    assert!(
        reason.contains("depends on entry `confirm-a`, which a dry run does not change"),
        "{}",
        jobs["job-b"]
    );
    // `plan` says the same of that job: it waits in a real run, and a dry run does not wait for it.
    let planned = crate::journal::s3plan(dir.path())
        .arg("plan")
        .arg(&plan)
        .args(["--endpoint-url", &sandbox.url(), "--output", "json"])
        .output()
        .unwrap();
    assert!(
        planned.status.success(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    let forecast: serde_json::Value = serde_json::from_slice(&planned.stdout).unwrap();
    let gated = &forecast["entries"][1]["jobs"][0];
    assert_eq!(gated["verdict"], "waiting", "{gated}");
    assert_eq!(gated["reason"], jobs["job-b"]["reason"], "{gated}");
    assert_eq!(mutations(&sandbox.audit()), 0, "a dry run sent a change");
    assert_eq!(status_in(&sandbox, "job-a"), "Suspended");

    // The real apply confirms A, waits for it to be Active, then cancels B.
    let real = apply(dir.path(), &plan, &sandbox.url(), &[])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&real.stderr);
    assert_eq!(real.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("not waiting for"), "{stderr}");
    let jobs = jobs_by_id(&report(&dir.path().join("report.json")));
    assert_eq!(jobs["job-a"]["outcome"], "applied", "{}", jobs["job-a"]);
    assert_eq!(jobs["job-b"]["outcome"], "applied", "{}", jobs["job-b"]);
    assert_eq!(status_in(&sandbox, "job-b"), "Cancelled");
    assert_eq!(mutations(&sandbox.audit()), 2);
    sandbox.shutdown().await;
}
