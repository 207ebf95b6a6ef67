//! A journal whose last line a kill cut short can be resumed into, reported and resumed again.

use std::io::Write;

use s3plan::sandbox::SandboxHandle;
use serde_json::Value;

use crate::journal::{apply, journal_path, plan, s3plan, seed};

async fn frozen(jobs: usize) -> SandboxHandle {
    crate::support::frozen(seed(jobs), None).await
}

/// `s3plan report JOURNAL` as JSON; panics on a non-zero exit.
fn rebuilt(dir: &std::path::Path) -> Value {
    let output = s3plan(dir)
        .arg("report")
        .arg(journal_path(dir))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_torn_last_line_does_not_poison_a_journal_appended_to() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(10).await;
    let plan = plan(dir.path(), 100, 4);
    let journal = journal_path(dir.path());
    for round in 0..3 {
        // What a kill during a write leaves: a record cut in half (its request was never sent).
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal)
            .unwrap()
            .write_all(br#"{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"cancel-bu"#)
            .unwrap();
        let mut run = apply(dir.path(), &plan, &sandbox.url(), &[]);
        if round > 0 {
            run.arg("--resume").arg(&journal);
        }
        let output = run.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "round {round}: {stderr}");
        let report = rebuilt(dir.path());
        assert_eq!(
            report["summary"]["applied"], 10,
            "round {round}: {report:#}"
        );
    }
    sandbox.shutdown().await;
}
