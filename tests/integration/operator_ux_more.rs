//! More of what a new operator stumbled on, through the binary against a frozen sandbox: a selector over
//! `max_jobs` shows what it matched, counted nouns agree with their counts, and `--sandbox` asks its own
//! STS for the account.

use std::path::Path;
use std::process::Output;

use s3plan::sandbox::{Operation, SandboxHandle, Seed};

use crate::support::{ACCOUNT, frozen, s3plan};

/// Three families of jobs in one account, 110 in all: more than the plans' `max_jobs` of 100.
const WIDE_SEED: &str = r#"
random_seed: 7
accounts:
  - id: "111122223333"
    generate:
      - count: 60
        id_prefix: reindex-eu-
        description_prefix: reindex-eu-
        job: {status: Active}
      - count: 30
        id_prefix: reindex-us-
        description_prefix: reindex-us-
        job: {status: Suspended}
      - count: 20
        id_prefix: backfill-
        description_prefix: backfill-
        job: {status: Active}
"#;

/// A plan whose one selector matches every job of [`WIDE_SEED`].
fn wide_plan() -> String {
    format!(
        "version: 1\naccount_id: \"{ACCOUNT}\"\nreason: \"too wide\"\njobs:\n  - name: cancel-everything\n    select: {{status: [Active, Suspended], description: \"*\"}}\n    max_jobs: 100\n    set: Cancelled\n"
    )
}

/// The binary run in `dir` with `args`, aimed at `sandbox`.
async fn run(dir: &Path, sandbox: &SandboxHandle, args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::from(s3plan(dir));
    cmd.args(args).arg("--endpoint-url").arg(sandbox.url());
    cmd.output().await.unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selector_over_max_jobs_shows_a_sample_and_a_breakdown_in_plan_and_apply() {
    let sandbox = frozen(Seed::from_yaml(WIDE_SEED, None).unwrap(), None).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wide.yaml"), wide_plan()).unwrap();

    let planned = run(dir.path(), &sandbox, &["plan", "wide.yaml"]).await;
    assert_eq!(planned.status.code(), Some(2), "{}", stderr(&planned));
    let text = stderr(&planned);
    insta::assert_snapshot!("too_many_jobs_plan", text);

    let applied = run(dir.path(), &sandbox, &["apply", "wide.yaml", "--yes"]).await;
    assert_eq!(applied.status.code(), Some(2), "{}", stderr(&applied));
    let text = stderr(&applied);
    for expected in [
        "the selector matches 110 jobs",
        "by status: Active 80, Suspended 30",
        "by description: reindex-eu-* 60, reindex-us-* 30, backfill-* 20",
        "the first 10 of 110:",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
    assert!(sandbox.audit().is_empty(), "nothing changed");
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_over_max_jobs_shows_what_the_flags_matched() {
    let sandbox = frozen(Seed::from_yaml(WIDE_SEED, None).unwrap(), None).await;
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &sandbox,
        &[
            "cancel",
            "--status",
            "Active",
            "--max-jobs",
            "50",
            "--account-id",
            ACCOUNT,
            "--yes",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    insta::assert_snapshot!("too_many_jobs_cancel", text);
    assert!(text.contains("by status: Active 80"), "{text}");
    assert!(
        text.contains("by description: reindex-eu-* 60, backfill-* 20"),
        "{text}"
    );
    assert!(sandbox.audit().is_empty(), "nothing changed");
}

/// A plan of `entries` (YAML list items) against the account of [`WIDE_SEED`].
fn plan_of(entries: &str) -> String {
    format!("version: 1\naccount_id: \"{ACCOUNT}\"\nreason: \"plurals\"\njobs:\n{entries}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_counts_one_job_and_one_entry_in_the_singular() {
    let sandbox = frozen(Seed::from_yaml(WIDE_SEED, None).unwrap(), None).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("one.yaml"),
        plan_of("  - {name: first, job_id: backfill-00001, set: Cancelled}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("two.yaml"),
        plan_of(
            "  - {name: first, job_id: backfill-00001, set: Cancelled}\n  - {name: second, job_id: backfill-00002, after: [first], set: Cancelled}\n",
        ),
    )
    .unwrap();

    let one = run(dir.path(), &sandbox, &["apply", "one.yaml", "--dry-run"]).await;
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    let text = stderr(&one);
    assert!(text.contains("\n1 job in 1 entry: "), "{text}");
    // The overview's own lines (the progress lines below it are worded elsewhere).
    let overview = text.split("\n[").next().unwrap_or_default();
    assert!(
        !overview.contains("1 jobs") && !overview.contains("1 entries"),
        "{overview}"
    );

    let two = run(dir.path(), &sandbox, &["apply", "two.yaml", "--dry-run"]).await;
    assert_eq!(two.status.code(), Some(0), "{}", stderr(&two));
    let text = stderr(&two);
    assert!(text.contains("\n2 jobs in 2 entries: "), "{text}");
    assert!(text.contains("after entry first"), "{text}");
    assert!(!text.contains("after entries"), "{text}");
    assert!(sandbox.audit().is_empty(), "a dry run changes nothing");
}

/// Two accounts; the in-process sandbox's credentials belong to the second (`caller_accounts`), which
/// only the sandbox's own STS can tell.
const TWO_ACCOUNTS: &str = r#"
caller_accounts: {sandbox: "444455556666"}
accounts:
  - id: "111122223333"
    jobs: [{id: first-account-job, status: Suspended}]
  - id: "444455556666"
    jobs: [{id: second-account-job, status: Suspended}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_sandbox_looks_the_account_up_on_its_own_sts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("seed.yaml"), TWO_ACCOUNTS).unwrap();
    let mut cmd = tokio::process::Command::from(s3plan(dir.path()));
    // A real account in the environment is not a sandbox account: it must not be used.
    cmd.args(["jobs", "--sandbox=seed.yaml"])
        .env("AWS_ACCOUNT_ID", ACCOUNT);
    let out = cmd.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout, stderr(&out));
    assert!(stdout.contains("second-account-job"), "{stdout}");
    assert!(!stdout.contains("first-account-job"), "{stdout}");
}
