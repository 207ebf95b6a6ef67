//! Reviewing before a change, through the binary against an in-process sandbox: the confirmation
//! overview of `apply` and `cancel` lists the jobs as `plan` does (the first few per entry, `-v` for all),
//! a saved plan can be looked at (`plan SAVED.json`, and `validate` says what it is), and re-applying a
//! saved plan that already ran converges instead of refusing.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use s3plan::sandbox::{Operation, Sandbox, SandboxHandle, Seed};

/// Three jobs to cancel and twelve to confirm; the clock is frozen so nothing moves by itself.
fn seed() -> String {
    let mut text = String::from(
        r#"
accounts:
  - id: "111122223333"
    jobs:
      - {id: job-reindex-1, status: Active, description: reindex-eu, priority: 10}
      - {id: job-reindex-2, status: Suspended, description: reindex-us, priority: 10}
      - {id: job-reindex-3, status: Active, description: reindex-ap, priority: 10}
"#,
    );
    for n in 1..=12 {
        text.push_str(&format!(
            "      - {{id: job-bulk-{n:02}, status: Suspended, description: bulk-{n:02}, priority: 5}}\n"
        ));
    }
    text
}

const CANCEL: &str = r#"version: 1
account_id: "111122223333"
region: us-east-1
jobs:
  - name: cancel-reindex
    select:
      status: [Active, Suspended]
      description: "reindex-*"
    set: Cancelled
"#;

const CONFIRM_BULK: &str = r#"version: 1
account_id: "111122223333"
region: us-east-1
jobs:
  - name: confirm-bulk
    select:
      status: [Suspended]
      description: "bulk-*"
    set: Ready
"#;

struct Setup {
    sandbox: SandboxHandle,
    dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Setup {
    async fn new() -> Self {
        let sandbox = Sandbox::builder()
            .seed(Seed::from_yaml(&seed(), None).unwrap())
            .speed(0.0)
            .start()
            .await
            .unwrap();
        Self {
            sandbox,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    async fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::from_std(crate::support::s3plan(self.dir.path()));
        cmd.env_remove("AWS_REGION")
            .env("AWS_ACCESS_KEY_ID", "AKIDREVIEWTEST")
            .env("AWS_SECRET_ACCESS_KEY", "review-secret")
            .env("COLUMNS", "200")
            .args(args);
        // `validate` is offline: it takes no endpoint.
        if args.first() != Some(&"validate") {
            cmd.arg("--endpoint-url").arg(self.sandbox.url());
        }
        let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    fn status_calls(&self) -> usize {
        self.sandbox
            .audit_for(Some(Operation::UpdateJobStatus), None)
            .len()
    }

    fn redact(&self, text: &str) -> String {
        text.replace(&self.sandbox.url(), "http://127.0.0.1:[PORT]")
            .replace(&self.dir.path().display().to_string(), "[DIR]")
    }

    /// `plan PLAN --out saved.json`.
    async fn save(&self, plan: &Path) -> PathBuf {
        let saved = self.dir.path().join("saved.json");
        let run = self
            .run(&[
                "plan",
                plan.to_str().unwrap(),
                "--out",
                saved.to_str().unwrap(),
            ])
            .await;
        assert_eq!(run.code, 0, "{run:?}");
        saved
    }
}

/// The overview: stderr up to the blank line after the totals (what the operator confirms).
fn overview(stderr: &str) -> String {
    let start = stderr.find("plan      ").expect("an overview");
    let end = stderr[start..]
        .find("\n\n\n")
        .or_else(|| stderr[start..].find("journal:"))
        .map_or(stderr.len(), |i| start + i);
    stderr[start..end].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_lists_each_job_with_its_status_now_and_requested() {
    let setup = Setup::new().await;
    let plan = setup.write("cancel.yaml", CANCEL);
    let run = setup
        .run(&[
            "apply",
            plan.to_str().unwrap(),
            "--yes",
            "--progress",
            "never",
            "--report",
            "report.json",
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let shown = setup.redact(&overview(&run.stderr));
    for (job, description, from) in [
        ("job-reindex-1", "reindex-eu", "Active"),
        ("job-reindex-2", "reindex-us", "Suspended"),
        ("job-reindex-3", "reindex-ap", "Active"),
    ] {
        let line = shown
            .lines()
            .find(|l| l.contains(job))
            .unwrap_or_else(|| panic!("no line for {job} in\n{shown}"));
        assert!(line.contains(description), "{line}");
        assert!(line.contains(&format!("{from} -> Cancelled")), "{line}");
    }
    insta::assert_snapshot!(shown);
    assert_eq!(setup.status_calls(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_entry_shows_the_first_jobs_and_a_count_and_v_shows_all() {
    let setup = Setup::new().await;
    let plan = setup.write("bulk.yaml", CONFIRM_BULK);
    let args = [
        "apply",
        plan.to_str().unwrap(),
        "--dry-run",
        "--progress",
        "never",
        "--report",
        "report.json",
    ];
    let run = setup.run(&args).await;
    assert_eq!(run.code, 0, "{run:?}");
    let shown = overview(&run.stderr);
    let listed = shown.lines().filter(|l| l.contains("job-bulk-")).count();
    assert_eq!(listed, 10, "{shown}");
    assert!(shown.contains("... 2 more jobs (-v shows all)"), "{shown}");
    assert!(shown.contains("12 jobs in 1 entry"), "{shown}");

    let mut verbose = args.to_vec();
    verbose.push("-v");
    let run = setup.run(&verbose).await;
    assert_eq!(run.code, 0, "{run:?}");
    let shown = overview(&run.stderr);
    for n in 1..=12 {
        assert!(shown.contains(&format!("job-bulk-{n:02}")), "{n}: {shown}");
    }
    assert!(!shown.contains("more jobs"), "{shown}");
    assert_eq!(setup.status_calls(), 0, "a dry run changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reapplying_a_saved_plan_that_already_ran_converges_instead_of_refusing() {
    let setup = Setup::new().await;
    let plan = setup.write("cancel.yaml", CANCEL);
    let saved = setup.save(&plan).await;
    let apply = [
        "apply",
        saved.to_str().unwrap(),
        "--yes",
        "--progress",
        "never",
        "--report",
        "report.json",
    ];
    let first = setup.run(&apply).await;
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(setup.status_calls(), 3);

    let mut again = apply.to_vec();
    again[6] = "report-2.json";
    let second = setup.run(&again).await;
    assert_eq!(second.code, 0, "{second:?}");
    assert!(
        second
            .stderr
            .contains("3 jobs already at their target since the review; they get no call"),
        "{}",
        second.stderr
    );
    assert!(
        !second.stderr.contains("changed since the review"),
        "{}",
        second.stderr
    );
    assert_eq!(setup.status_calls(), 3, "no call for a job at its target");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_renders_a_saved_plan_as_reviewed_without_a_call() {
    let setup = Setup::new().await;
    let plan = setup.write("cancel.yaml", CANCEL);
    let saved = setup.save(&plan).await;
    let reviewed = setup.run(&["plan", plan.to_str().unwrap()]).await;
    assert_eq!(reviewed.code, 0, "{reviewed:?}");
    // The jobs change after the review; the saved plan still shows what was reviewed.
    let applied = setup
        .run(&[
            "apply",
            plan.to_str().unwrap(),
            "--yes",
            "--progress",
            "never",
            "--report",
            "report.json",
        ])
        .await;
    assert_eq!(applied.code, 0, "{applied:?}");
    let calls = setup.sandbox.audit().len();

    let shown = setup.run(&["plan", saved.to_str().unwrap()]).await;
    assert_eq!(shown.code, 0, "{shown:?}");
    assert_eq!(
        setup.sandbox.audit().len(),
        calls,
        "read from the file alone"
    );
    // The same job lines as the live plan at review time.
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("job-reindex-"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(lines(&shown.stdout), lines(&reviewed.stdout));
    let text = setup.redact(&shown.stdout);
    let text = regex_lite_times(&text);
    insta::assert_snapshot!(text);

    let json = setup
        .run(&["plan", saved.to_str().unwrap(), "--format", "json"])
        .await;
    assert_eq!(json.code, 0, "{json:?}");
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["totals"]["jobs"], 3);
    assert_eq!(doc["pending"], true);
}

/// Replaces `YYYY-MM-DD HH:MM:SS` times with `[TIME]`.
fn regex_lite_times(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let shape = b"dddd-dd-dd dd:dd:dd";
    while i < bytes.len() {
        let fits = bytes.len() - i >= shape.len()
            && shape.iter().zip(&bytes[i..]).all(|(s, b)| {
                if *s == b'd' {
                    b.is_ascii_digit()
                } else {
                    s == b
                }
            });
        if fits {
            out.push_str("[TIME]");
            i += shape.len();
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_says_a_saved_plan_is_one_instead_of_listing_unknown_keys() {
    let setup = Setup::new().await;
    let plan = setup.write("cancel.yaml", CANCEL);
    let saved = setup.save(&plan).await;
    let run = setup.run(&["validate", saved.to_str().unwrap()]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("is a saved plan (3 jobs in 1 entry), not a plan file"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("s3plan plan "), "{}", run.stderr);
    assert!(!run.stderr.contains("unknown"), "{}", run.stderr);
    // A broken saved plan is an error.
    let broken = setup.write("broken.json", r#"{"s3plan_saved_plan": 3, "extra": 1}"#);
    let run = setup.run(&["validate", broken.to_str().unwrap()]).await;
    assert_eq!(run.code, 2, "{run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_shares_the_overview_that_lists_its_jobs() {
    let setup = Setup::new().await;
    let run = setup
        .run(&[
            "cancel",
            "--description",
            "reindex-*",
            "--status",
            "Active",
            "--dry-run",
            "--account-id",
            "111122223333",
            "--region",
            "us-east-1",
            "--progress",
            "never",
            "--report",
            "report.json",
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let shown = overview(&run.stderr);
    for job in ["job-reindex-1", "job-reindex-3"] {
        let line = shown
            .lines()
            .find(|l| l.contains(job))
            .unwrap_or_else(|| panic!("no line for {job} in\n{shown}"));
        assert!(line.contains("Active -> Cancelled"), "{line}");
    }
    assert!(!shown.contains("job-reindex-2"), "{shown}");
    assert_eq!(setup.status_calls(), 0, "a dry run changes nothing");
}
