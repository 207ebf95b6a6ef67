//! Refusals that protect the operator, through the binary against in-process sandboxes: `apply --resume`
//! with the journal of a run in another region or at another endpoint, a saved plan applied against
//! another endpoint, and a saved plan older than its max age. Each is refused with exit 2 before any call,
//! naming what differs.

use std::path::{Path, PathBuf};
use std::process::Output;

use s3plan::sandbox::{Sandbox, SandboxHandle};
use serde_json::Value;

use super::journal::{ACCOUNT, apply, journal_path, s3plan, seed};

/// Cancels every Suspended `bulk-*` job; pins the account but not the region, so `--region` decides it.
fn unpinned_plan(dir: &Path) -> PathBuf {
    let path = dir.join("plan.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\naccount_id: \"{ACCOUNT}\"\nlimits:\n  poll_rate_limit: 200\njobs:\n  - name: cancel-bulk\n    select:\n      status: [Suspended]\n      description: \"bulk-*\"\n    set: Cancelled\n"
        ),
    )
    .unwrap();
    path
}

async fn sandbox(jobs: usize) -> SandboxHandle {
    Sandbox::builder()
        .seed(seed(jobs))
        .speed(0.0)
        .start()
        .await
        .unwrap()
}

/// Every call the sandbox received, reads included, whatever the answer.
fn calls(sandbox: &SandboxHandle) -> u64 {
    sandbox.call_counts().values().sum()
}

async fn output(mut cmd: std::process::Command) -> Output {
    cmd.env("NO_COLOR", "1");
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Stderr with miette's wrapping undone.
fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

/// A finished run in us-east-1 against `sandbox`: its journal, moved aside.
async fn journal_of_a_run(dir: &Path, sandbox: &SandboxHandle) -> PathBuf {
    let plan = unpinned_plan(dir);
    let mut cmd = apply(dir, &plan, &sandbox.url(), &["--region", "us-east-1"]);
    cmd.args(["--progress", "never"]);
    let done = output(cmd).await;
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    let journal = dir.join("first.journal.jsonl");
    std::fs::rename(journal_path(dir), &journal).unwrap();
    journal
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_a_journal_of_another_region_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox(3).await;
    let journal = journal_of_a_run(dir.path(), &sandbox).await;
    let before = calls(&sandbox);

    let plan = unpinned_plan(dir.path());
    let mut cmd = apply(
        dir.path(),
        &plan,
        &sandbox.url(),
        &["--region", "eu-west-1"],
    );
    cmd.arg("--resume").arg(&journal);
    let refused = output(cmd).await;
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(
        text.contains("region us-east-1 (this run: eu-west-1)"),
        "{text}"
    );
    assert!(text.contains("nothing was changed"), "{text}");
    assert!(text.contains("--region"), "the fix is named: {text}");
    assert_eq!(calls(&sandbox), before, "no call was made");
    assert!(
        !journal_path(dir.path()).exists(),
        "no journal (so no report of applied jobs) was started"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_a_journal_of_another_endpoint_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let first = sandbox(3).await;
    let journal = journal_of_a_run(dir.path(), &first).await;
    // Another sandbox with the same job ids: the ids match, the jobs are not the same.
    let second = sandbox(3).await;

    let plan = unpinned_plan(dir.path());
    let mut cmd = apply(dir.path(), &plan, &second.url(), &["--region", "us-east-1"]);
    cmd.arg("--resume").arg(&journal);
    let refused = output(cmd).await;
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!(
            "endpoint {} (this run: {})",
            first.url(),
            second.url()
        )),
        "{text}"
    );
    assert_eq!(calls(&second), 0, "no call was made");

    // The same place is accepted: the refusal is about the place, not about resuming.
    let before = calls(&first);
    let mut cmd = apply(dir.path(), &plan, &first.url(), &["--region", "us-east-1"]);
    cmd.arg("--resume").arg(&journal);
    let resumed = output(cmd).await;
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert!(calls(&first) > before, "it resolved the plan again");
    first.shutdown().await;
    second.shutdown().await;
}

/// `plan PLAN --out saved.json` against `sandbox`, plus `extra`; returns the saved plan's path.
async fn save(dir: &Path, sandbox: &SandboxHandle, extra: &[&str]) -> PathBuf {
    let plan = unpinned_plan(dir);
    let saved = dir.join("saved.json");
    let mut cmd = s3plan(dir);
    cmd.arg("plan")
        .arg(&plan)
        .args(["--endpoint-url", &sandbox.url(), "--out"])
        .arg(&saved)
        .args(extra);
    let planned = output(cmd).await;
    assert_eq!(planned.status.code(), Some(0), "{}", stderr(&planned));
    saved
}

fn apply_saved(dir: &Path, saved: &Path, sandbox: &SandboxHandle) -> std::process::Command {
    let mut cmd = apply(dir, saved, &sandbox.url(), &[]);
    cmd.args(["--progress", "never"]);
    cmd
}

/// Rewrites the saved plan's JSON with `edit`.
fn edit(saved: &Path, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    edit(doc.as_object_mut().unwrap());
    std::fs::write(saved, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

/// Sets `created_at` to `hours` hours before now.
fn written_hours_ago(saved: &Path, hours: i64) {
    let then = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(hours);
    edit(saved, |doc| {
        doc.insert("created_at".to_owned(), Value::String(then.to_string()));
    });
}

fn status_calls(sandbox: &SandboxHandle) -> usize {
    sandbox
        .audit_for(Some(s3plan::sandbox::Operation::UpdateJobStatus), None)
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_is_refused_against_another_endpoint_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let reviewed = sandbox(3).await;
    let saved = save(dir.path(), &reviewed, &[]).await;
    let reviewed_before = calls(&reviewed);
    let other = sandbox(3).await;

    let refused = output(apply_saved(dir.path(), &saved, &other)).await;
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!(
            "reviewed against endpoint {}, this run would go to {}",
            reviewed.url(),
            other.url()
        )),
        "{text}"
    );
    assert_eq!(calls(&other), 0, "no call was made");
    assert_eq!(calls(&reviewed), reviewed_before);

    // Against the endpoint it was reviewed against, it applies.
    let applied = output(apply_saved(dir.path(), &saved, &reviewed)).await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert_eq!(status_calls(&reviewed), 3);
    reviewed.shutdown().await;
    other.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_saved_plan_is_refused_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox(3).await;

    // The default max age is a day, recorded in the file.
    let saved = save(dir.path(), &sandbox, &[]).await;
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(doc["max_age"], "1day");
    assert_eq!(doc["s3plan_saved_plan"], 4);
    written_hours_ago(&saved, 25);
    let before = calls(&sandbox);
    let refused = output(apply_saved(dir.path(), &saved, &sandbox)).await;
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(
        text.contains("was saved 1day 1h ago") && text.contains("max age of 1day"),
        "{text}"
    );
    assert!(text.contains("s3plan plan PLAN --out SAVED.json"), "{text}");
    assert_eq!(calls(&sandbox), before, "no call was made");

    // `--max-age` shortens it.
    let saved = save(dir.path(), &sandbox, &["--max-age", "2h"]).await;
    written_hours_ago(&saved, 3);
    let before = calls(&sandbox);
    let refused = output(apply_saved(dir.path(), &saved, &sandbox)).await;
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(
        text.contains("was saved 3h ago") && text.contains("max age of 2h"),
        "{text}"
    );
    assert_eq!(calls(&sandbox), before, "no call was made");

    // Within its max age, it applies.
    let saved = save(dir.path(), &sandbox, &["--max-age", "2h"]).await;
    written_hours_ago(&saved, 1);
    let applied = output(apply_saved(dir.path(), &saved, &sandbox)).await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert_eq!(status_calls(&sandbox), 3);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_of_the_format_before_max_age_expires_after_the_default_day() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox(3).await;
    let saved = save(dir.path(), &sandbox, &[]).await;
    // Format 2: no `max_age`, and one account, region and endpoint instead of `targets`.
    let older_format = |doc: &mut serde_json::Map<String, Value>| {
        doc.remove("max_age");
        doc.insert("s3plan_saved_plan".to_owned(), Value::from(2));
        let target = doc.remove("targets").unwrap()[0].clone();
        for key in ["account_id", "region", "endpoint"] {
            doc.insert(key.to_owned(), target[key].clone());
        }
    };
    edit(&saved, older_format);
    written_hours_ago(&saved, 25);
    let refused = output(apply_saved(dir.path(), &saved, &sandbox)).await;
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{text}");
    assert!(text.contains("max age of 1day"), "{text}");
    assert_eq!(status_calls(&sandbox), 0);

    written_hours_ago(&saved, 23);
    let applied = output(apply_saved(dir.path(), &saved, &sandbox)).await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert_eq!(status_calls(&sandbox), 3);
    sandbox.shutdown().await;
}
