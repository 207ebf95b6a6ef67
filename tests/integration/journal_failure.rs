//! A journal that cannot be written stops the run: no request goes out without a durable intent.

use std::collections::HashMap;
use std::process::Command;

use s3plan::sandbox::{Operation, Sandbox};
use serde_json::Value;

use crate::journal::{journal_lines, journal_path, plan, seed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_failed_journal_write_stops_the_run_before_its_request() {
    // The journal's file may not grow past a few records beyond the run's header (a file size limit, as a
    // full disk would do): the write fails, and tokio's buffered write used to hide that from the fsync.
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::builder()
        .seed(seed(40))
        .speed(0.0)
        .start()
        .await
        .unwrap();
    let plan = plan(dir.path(), 200, 1);
    let report = dir.path().join("report.json");
    let output = Command::new("sh")
        .args(["-c", "trap '' XFSZ; ulimit -f 16; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_s3plan"))
        .arg("apply")
        .arg(&plan)
        .args([
            "--endpoint-url",
            &sandbox.url(),
            "--yes",
            "--output",
            "json",
        ])
        .arg("--report")
        .arg(&report)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3_CONTROL")
        .env_remove("AWS_ACCOUNT_ID")
        .env_remove("AWS_CONFIG_FILE")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE")
        .env_remove("RUST_LOG")
        .env("HOME", dir.path())
        .env("AWS_ACCESS_KEY_ID", "AKIDJOURNALTEST")
        .env("AWS_SECRET_ACCESS_KEY", "journal-test-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let journal = journal_path(dir.path());
    assert!(
        stderr.contains(&journal.display().to_string()) && stderr.contains("run stopped"),
        "names the journal and says the run stopped: {stderr}"
    );

    // Every request the server received has a complete intent in the journal.
    let mut intents: HashMap<String, usize> = HashMap::new();
    for line in journal_lines(&journal) {
        if line["record"] == "intent" {
            *intents
                .entry(line["job"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    let mut received: HashMap<String, usize> = HashMap::new();
    for entry in sandbox.audit() {
        if entry.operation == Operation::UpdateJobStatus {
            *received.entry(entry.job_id.unwrap()).or_default() += 1;
        }
    }
    assert!(
        !received.is_empty(),
        "the journal held a few intents: {stderr}"
    );
    assert!(received.len() < 40, "the run stopped: {received:?}");
    for (job, n) in &received {
        assert!(
            intents.get(job).copied().unwrap_or(0) >= *n,
            "{job}: {n} request(s) received, {:?} intent(s)",
            intents.get(job)
        );
    }

    // The run's own report (on stdout, which no file limit touches) ends unsent jobs not_run.
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let jobs = report["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 40);
    let not_run = jobs.iter().filter(|j| j["outcome"] == "not_run").count();
    assert_eq!(not_run, 40 - received.len(), "{report:#}");
    for job in jobs.iter().filter(|j| j["outcome"] == "not_run") {
        assert_eq!(
            job["attempts"], 0,
            "an unrecorded intent is not an attempt: {job}"
        );
    }
    sandbox.shutdown().await;
}
