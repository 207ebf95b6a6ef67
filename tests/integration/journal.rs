//! The write-ahead journal against the real binary and an in-process sandbox: SIGKILL at random points
//! (every request the server received has an intent; acknowledged ones have acks, bar those in flight),
//! Ctrl-C once and twice, resume and rerun, and `s3plan report` over a cut-short journal.
//!
//! Shared helpers (`Run`, `seed`, `plan`) are also used by `faults.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use s3plan::sandbox::{AuditEntry, Operation, Sandbox, Seed};
use serde_json::Value;

pub const ACCOUNT: &str = "111122223333";

/// A seed with `n` Suspended jobs `job-00001`… described `bulk-00001`….
pub fn seed(n: usize) -> Seed {
    let text = format!(
        "accounts:\n  - id: \"{ACCOUNT}\"\n    generate:\n      - count: {n}\n        id_prefix: job-\n        description_prefix: bulk-\n        job:\n          status: Suspended\n          priority: 5\n          tasks: 100\n"
    );
    Seed::from_yaml(&text, None).unwrap()
}

/// A plan cancelling every Suspended `bulk-*` job.
pub fn plan(dir: &Path, rate: u32, concurrency: u32) -> PathBuf {
    let path = dir.join("plan.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\naccount_id: \"{ACCOUNT}\"\nregion: us-east-1\nreason: \"journal test\"\nlimits:\n  concurrency: {concurrency}\n  rate_limit: {rate}\n  poll_rate_limit: 200\njobs:\n  - name: cancel-bulk\n    select:\n      status: [Suspended]\n      description: \"bulk-*\"\n    max_jobs: 100000\n    set: Cancelled\n"
        ),
    )
    .unwrap();
    path
}

/// The binary with dummy credentials, `HOME` in `dir`, and no AWS settings leaking in from the host.
pub fn s3plan(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_s3plan"));
    for var in [
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3_CONTROL",
        "AWS_ACCOUNT_ID",
        "AWS_SESSION_TOKEN",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", dir)
        .env("AWS_ACCESS_KEY_ID", "AKIDJOURNALTEST")
        .env("AWS_SECRET_ACCESS_KEY", "journal-test-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(dir);
    cmd
}

/// `apply PLAN --endpoint-url URL --yes --report DIR/report.json` plus `extra`.
pub fn apply(dir: &Path, plan: &Path, url: &str, extra: &[&str]) -> Command {
    let mut cmd = s3plan(dir);
    cmd.arg("apply")
        .arg(plan)
        .args(["--endpoint-url", url, "--yes", "--report"])
        .arg(dir.join("report.json"))
        .args(extra);
    cmd
}

/// The journal of the run reporting to `dir/report.json`.
pub fn journal_path(dir: &Path) -> PathBuf {
    dir.join("report.json.journal.jsonl")
}

/// Every complete line of a journal (a line cut short by a kill is dropped, as a reader must).
pub fn journal_lines(path: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Mutating audit entries (UpdateJobStatus/UpdateJobPriority).
pub fn mutating(audit: &[AuditEntry]) -> Vec<&AuditEntry> {
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

/// Checks the journal invariant; returns (requests received, missing acks).
pub fn check_invariant(audit: &[AuditEntry], lines: &[Value]) -> (usize, usize) {
    let mut intents: HashMap<(String, String), u64> = HashMap::new();
    let mut acks: HashMap<(String, String), u64> = HashMap::new();
    for line in lines {
        let key = (
            line["job"].as_str().unwrap_or_default().to_owned(),
            line["call"].as_str().unwrap_or_default().to_owned(),
        );
        match line["record"].as_str() {
            Some("intent") => *intents.entry(key).or_default() += 1,
            Some("ack") => *acks.entry(key).or_default() += 1,
            _ => {}
        }
    }
    let mut received: HashMap<(String, String), u64> = HashMap::new();
    let mutating = mutating(audit);
    for entry in &mutating {
        let key = (
            entry.job_id.clone().unwrap_or_default(),
            entry.operation.to_string(),
        );
        *received.entry(key).or_default() += 1;
    }
    let mut missing_acks = 0;
    for (key, n) in &received {
        let intended = intents.get(key).copied().unwrap_or(0);
        assert!(
            intended >= *n,
            "{key:?}: the server received {n} request(s) but the journal holds {intended} intent(s)"
        );
        let acked = acks.get(key).copied().unwrap_or(0);
        missing_acks += n.saturating_sub(acked) as usize;
    }
    for (key, n) in &acks {
        let intended = intents.get(key).copied().unwrap_or(0);
        assert!(
            intended >= *n,
            "{key:?}: {n} ack(s) for {intended} intent(s)"
        );
    }
    (mutating.len(), missing_acks)
}

async fn kill_after(mut child: Child, delay: Duration) -> Child {
    tokio::time::sleep(delay).await;
    // The child may have finished already: killing a finished process is fine.
    let _ = child.kill();
    let _ = child.wait();
    child
}

/// The invariant of issue 6, at 20 random moments of a 300-job cancel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigkill_at_any_moment_every_request_received_has_an_intent() {
    const JOBS: usize = 300;
    const CONCURRENCY: u32 = 8;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261129);
    let mut total_received = 0;
    let mut total_missing = 0;
    let mut kills_mid_run = 0;
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::builder()
            .seed(seed(JOBS))
            .speed(0.0)
            .audit_log(dir.path().join("audit.jsonl"))
            .start()
            .await
            .unwrap();
        let plan = plan(dir.path(), 600, CONCURRENCY);
        let child = apply(dir.path(), &plan, &sandbox.url(), &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = Duration::from_millis(rng.random_range(50..900));
        kill_after(child, delay).await;
        let audit = sandbox.audit();
        let lines = journal_lines(&journal_path(dir.path()));
        let (received, missing) = check_invariant(&audit, &lines);
        assert!(
            missing <= CONCURRENCY as usize,
            "round {round}: {missing} acknowledged requests have no ack (at most {CONCURRENCY} in flight)"
        );
        if received > 0 && received < JOBS {
            kills_mid_run += 1;
        }
        total_received += received;
        total_missing += missing;
        sandbox.shutdown().await;
    }
    assert!(
        kills_mid_run >= 5,
        "only {kills_mid_run} of 20 kills fell mid-run; the delays miss the run"
    );
    eprintln!(
        "kill test: 20 kills, {kills_mid_run} mid-run, {total_received} requests received, {total_missing} acks lost in flight"
    );
}
