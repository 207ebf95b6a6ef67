//! `s3plan plan`, saved plans and the help screens, through the binary against an in-process sandbox:
//! every kind of plan line (snapshot), JSON output, `--detailed-exitcode`, `apply SAVED.json` applying
//! exactly the reviewed jobs, and its refusals (a job moved, the plan changed, another account).

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use s3plan::sandbox::{Operation, Sandbox, SandboxHandle, Seed};
use serde_json::Value;

use super::sandbox_support::ACCOUNT;

/// Jobs of every kind a plan line can show; the sandbox clock is frozen so nothing moves by itself.
const SEED: &str = r#"
accounts:
  - id: "111122223333"
    jobs:
      - {id: job-suspended-1, status: Suspended, description: batch-a, priority: 10, tasks: 100}
      - {id: job-active-1, status: Active, description: batch-b, priority: 10, tasks: 100, progress: 0.5}
      - {id: job-cancelled-1, status: Cancelled, description: batch-c, priority: 10}
      - {id: job-complete-1, status: Complete, description: batch-d, priority: 10}
      - {id: job-preparing-1, status: Preparing, description: prep-a, priority: 10}
      - {id: job-suspended-2, status: Suspended, description: after-watch, priority: 10}
      - {id: job-watched, status: Active, description: watched, priority: 10}
      - {id: job-active-2, status: Active, description: too-late, priority: 10}
      - {id: job-suspended-3, status: Suspended, description: held, priority: 10}
"#;

/// One entry per kind of line: change, already done, skipped, waiting (own and other job), impossible.
const EVERY_KIND: &str = r#"version: 1
account_id: "111122223333"
region: us-east-1
jobs:
  - name: cancel-batch
    select:
      status: [Suspended, Active, Cancelled, Complete]
      description: "batch-*"
    set: Cancelled
  - name: confirm-prepared
    job_id: job-preparing-1
    wait_for: Suspended
    set: Ready
  - name: confirm-after-watched
    job_id: job-suspended-2
    wait_for: {job: job-watched, status: [Complete]}
    set: Ready
  - name: confirm-too-late
    job_id: job-active-2
    wait_for: Suspended
    priority: 20
    set: Ready
  - name: confirm-held
    job_id: job-suspended-3
    wait_for: Suspended
    set: Ready
  - name: bump-watched
    job_id: job-watched
    priority: 30
"#;

/// Only the selector entry: what saved plans apply.
const CANCEL_BATCH: &str = r#"version: 1
account_id: "111122223333"
region: us-east-1
jobs:
  - name: cancel-batch
    select:
      status: [Suspended, Active, Cancelled, Complete]
      description: "batch-*"
    set: Cancelled
"#;

/// Nothing to do: the job is already cancelled.
const NOTHING_TO_DO: &str = r#"version: 1
account_id: "111122223333"
region: us-east-1
jobs:
  - name: already
    job_id: job-cancelled-1
    set: Cancelled
"#;

struct Setup {
    sandbox: SandboxHandle,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Self {
        let sandbox = Sandbox::builder()
            .seed(Seed::from_yaml(SEED, None).unwrap())
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

    /// Runs the binary with `args` plus `--endpoint-url`, dummy credentials and a temp HOME.
    async fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[]).await
    }

    async fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        // The region comes from the plan (one test leaves it out on purpose).
        let mut cmd = Command::from_std(crate::support::s3plan(self.dir.path()));
        cmd.env_remove("AWS_REGION")
            .env("AWS_ACCESS_KEY_ID", "AKIDPLANTEST")
            .env("AWS_SECRET_ACCESS_KEY", "plan-secret")
            .env("COLUMNS", "200")
            .args(args)
            .arg("--endpoint-url")
            .arg(self.sandbox.url());
        for (key, value) in env {
            cmd.env(key, value);
        }
        let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        Run::from(output)
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
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

fn line_of<'a>(text: &'a str, job: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(job))
        .unwrap_or_else(|| panic!("no line for {job} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_every_kind_of_line_and_changes_nothing() {
    let setup = Setup::new().await;
    let plan = setup.write("every.yaml", EVERY_KIND);
    let run = setup.run(&["plan", plan.to_str().unwrap()]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let out = &run.stdout;
    assert!(line_of(out, "job-suspended-1").contains("will change"));
    assert!(line_of(out, "job-suspended-1").contains("Suspended -> Cancelled"));
    assert!(line_of(out, "job-active-1").contains("Active -> Cancelled"));
    assert!(line_of(out, "job-cancelled-1").contains("already done"));
    assert!(line_of(out, "job-complete-1").contains("skipped"));
    assert!(line_of(out, "job-complete-1").contains("nothing left to cancel"));
    let own = line_of(out, "job-preparing-1");
    assert!(
        own.contains("waiting") && own.contains("own status Suspended"),
        "{own}"
    );
    assert!(
        own.contains("now Preparing") && own.contains("Suspended -> Ready"),
        "{own}"
    );
    let other = line_of(out, "job-suspended-2");
    assert!(
        other.contains("waiting") && other.contains("job job-watched is Complete"),
        "{other}"
    );
    let impossible = line_of(out, "job-active-2");
    assert!(
        impossible.contains("impossible") && impossible.contains("can never hold"),
        "{impossible}"
    );
    let held = line_of(out, "job-suspended-3");
    assert!(
        held.contains("Suspended -> Ready (gate holds: own status Suspended)"),
        "{held}"
    );
    assert!(
        line_of(out, "job-watched  ").contains("priority 10 -> 30"),
        "{out}"
    );
    assert!(
        out.contains("calls apply would send now: 3 UpdateJobStatus, 1 UpdateJobPriority\n"),
        "{out}"
    );
    assert!(out.contains("account   111122223333"), "{out}");
    assert!(out.contains("region    us-east-1"), "{out}");
    assert!(
        out.contains(&format!("endpoint  {}", setup.sandbox.url())),
        "{out}"
    );
    assert!(
        out.contains(
            "9 jobs in 6 entries: 1 impossible, 2 waiting, 4 will change, 1 skipped, 1 already done"
        ),
        "{out}"
    );
    // Reads only: the audit log (every mutating call) is empty.
    assert!(
        setup.sandbox.audit().is_empty(),
        "{:?}",
        setup.sandbox.audit()
    );
    assert_eq!(setup.sandbox.calls(Operation::UpdateJobPriority), 0);
    insta::assert_snapshot!("plan_every_kind", setup.redact(out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_carries_the_same_verdicts() {
    let setup = Setup::new().await;
    let plan = setup.write("every.yaml", EVERY_KIND);
    let run = setup
        .run(&["plan", plan.to_str().unwrap(), "--output", "json"])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["account_id"], ACCOUNT);
    assert_eq!(doc["pending"], true);
    assert_eq!(doc["totals"]["jobs"], 9);
    assert_eq!(doc["totals"]["status_calls"], 3);
    assert_eq!(doc["totals"]["priority_calls"], 1);
    let verdict = |job: &str| -> String {
        doc["entries"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["jobs"].as_array().unwrap())
            .find(|j| j["job_id"] == job)
            .map(|j| j["verdict"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(verdict("job-suspended-1"), "change");
    assert_eq!(verdict("job-cancelled-1"), "unchanged");
    assert_eq!(verdict("job-complete-1"), "skipped");
    assert_eq!(verdict("job-preparing-1"), "waiting");
    assert_eq!(verdict("job-suspended-2"), "waiting");
    assert_eq!(verdict("job-active-2"), "impossible");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_entries_are_summarised_unless_verbose() {
    let sandbox = Sandbox::builder()
        .seed(
            Seed::from_yaml(
                "accounts: [{id: '111122223333', generate: [{count: 25, id_prefix: many-, job: {status: Suspended, description: many}}]}]",
                None,
            )
            .unwrap(),
        )
        .speed(0.0)
        .start()
        .await
        .unwrap();
    let setup = Setup {
        sandbox,
        dir: tempfile::tempdir().unwrap(),
    };
    let plan = setup.write(
        "many.yaml",
        "version: 1\naccount_id: \"111122223333\"\nregion: us-east-1\njobs:\n  - name: many\n    select: {status: [Suspended], description: \"many\"}\n    set: Cancelled\n",
    );
    let short = setup.run(&["plan", plan.to_str().unwrap()]).await;
    assert_eq!(short.code, 0, "{short:?}");
    assert_eq!(short.stdout.matches("will change   many-").count(), 10);
    assert!(
        short.stdout.contains("... 15 more jobs (-v shows all)"),
        "{}",
        short.stdout
    );
    let all = setup.run(&["plan", "-v", plan.to_str().unwrap()]).await;
    assert_eq!(all.stdout.matches("will change   many-").count(), 25);
    assert!(!all.stdout.contains("more jobs"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detailed_exitcode_tells_nothing_pending_and_error_apart() {
    let setup = Setup::new().await;
    let pending = setup.write("pending.yaml", CANCEL_BATCH);
    let nothing = setup.write("nothing.yaml", NOTHING_TO_DO);
    let missing = setup.write(
        "missing.yaml",
        &NOTHING_TO_DO.replace("job-cancelled-1", "job-does-not-exist"),
    );
    let code = |run: Run| run.code;
    let p = pending.to_str().unwrap();
    let n = nothing.to_str().unwrap();
    let m = missing.to_str().unwrap();
    assert_eq!(
        code(setup.run(&["plan", n, "--detailed-exitcode"]).await),
        0
    );
    assert_eq!(
        code(setup.run(&["plan", p, "--detailed-exitcode"]).await),
        2
    );
    let error = setup.run(&["plan", m, "--detailed-exitcode"]).await;
    assert_eq!(error.code, 1, "{error:?}");
    assert!(
        error.stderr.contains("job-does-not-exist was not found"),
        "{}",
        error.stderr
    );
    // Without the flag: described is 0 whatever was found, an error is 2.
    assert_eq!(code(setup.run(&["plan", p]).await), 0);
    assert_eq!(code(setup.run(&["plan", m]).await), 2);
    assert!(
        setup
            .run(&["plan", n])
            .await
            .stdout
            .contains("nothing to do")
    );
    assert_eq!(setup.status_calls(), 0);
}

/// Plans `CANCEL_BATCH` to `saved.json` and returns (plan path, saved path).
async fn save(setup: &Setup) -> (PathBuf, PathBuf) {
    let plan = setup.write("cancel.yaml", CANCEL_BATCH);
    let saved = setup.dir.path().join("saved.json");
    let run = setup
        .run(&[
            "plan",
            plan.to_str().unwrap(),
            "--out",
            saved.to_str().unwrap(),
        ])
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("saved plan:"), "{}", run.stderr);
    (plan, saved)
}

fn apply_args(saved: &Path) -> Vec<String> {
    vec![
        "apply".to_owned(),
        saved.display().to_string(),
        "--yes".to_owned(),
        "--report".to_owned(),
        "report.json".to_owned(),
    ]
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_records_what_was_reviewed() {
    let setup = Setup::new().await;
    let (plan, saved) = save(&setup).await;
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(doc["s3plan_saved_plan"], 4);
    // A plan without `targets:` acts in one unnamed target.
    assert_eq!(doc["targets"].as_array().unwrap().len(), 1);
    let target = &doc["targets"][0];
    assert_eq!(target["name"], Value::Null);
    assert_eq!(target["account_id"], ACCOUNT);
    assert_eq!(target["region"], "us-east-1");
    assert_eq!(target["endpoint"], setup.sandbox.url());
    assert_eq!(target["credentials"], "chain");
    assert!(doc.get("account_id").is_none(), "{doc}");
    assert_eq!(
        doc["plan"]["path"].as_str().unwrap(),
        std::fs::canonicalize(&plan).unwrap().to_str().unwrap()
    );
    assert_eq!(doc["plan"]["sha256"].as_str().unwrap().len(), 64);
    let jobs = doc["entries"][0]["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 4);
    let active = jobs.iter().find(|j| j["job_id"] == "job-active-1").unwrap();
    assert_eq!(active["status"], "Active");
    assert_eq!(active["priority"], 10);
    assert_eq!(active["progress"]["total_tasks"], 100);
    assert_eq!(active["verdict"], "change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_applies_exactly_its_jobs_not_one_created_later() {
    let setup = Setup::new().await;
    let (_plan, saved) = save(&setup).await;
    // A job the selector would now match, created after the review.
    setup
        .sandbox
        .add_seed(
            &Seed::from_yaml(
                "accounts: [{id: '111122223333', jobs: [{id: job-late, status: Suspended, description: batch-late}]}]",
                None,
            )
            .unwrap(),
        )
        .unwrap();
    let run = setup.run(&refs(&apply_args(&saved))).await;
    assert_eq!(run.code, 0, "{run:?}");
    for job in ["job-suspended-1", "job-active-1"] {
        assert_eq!(
            setup
                .sandbox
                .audit_for(Some(Operation::UpdateJobStatus), Some(job))
                .len(),
            1,
            "{job}"
        );
    }
    assert!(setup.sandbox.audit_for(None, Some("job-late")).is_empty());
    assert_eq!(setup.status_calls(), 2);
    assert_eq!(
        format!(
            "{:?}",
            setup.sandbox.job_status(ACCOUNT, "job-late").unwrap()
        ),
        "Suspended"
    );
    // The selector itself would have taken it: a fresh plan shows it.
    let fresh = setup
        .run(&[
            "plan",
            setup.dir.path().join("cancel.yaml").to_str().unwrap(),
        ])
        .await;
    assert!(line_of(&fresh.stdout, "job-late").contains("will change"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_is_refused_when_a_job_moved() {
    let setup = Setup::new().await;
    let (_plan, saved) = save(&setup).await;
    // The active job finishes on its own: a cancel can no longer succeed.
    setup
        .sandbox
        .advance(std::time::Duration::from_secs(7 * 24 * 3600));
    assert_eq!(
        format!(
            "{:?}",
            setup.sandbox.job_status(ACCOUNT, "job-active-1").unwrap()
        ),
        "Complete"
    );
    let before = setup.status_calls();
    let run = setup.run(&refs(&apply_args(&saved))).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("1 job changed since the review"),
        "{}",
        run.stderr
    );
    let line = line_of(&run.stderr, "job-active-1");
    assert!(
        line.contains("was Active (will change), now Complete ("),
        "{line}"
    );
    assert_eq!(setup.status_calls(), before, "nothing may be changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_is_refused_when_the_plan_file_changed() {
    let setup = Setup::new().await;
    let (plan, saved) = save(&setup).await;
    std::fs::write(&plan, format!("{CANCEL_BATCH}# edited after review\n")).unwrap();
    let run = setup.run(&refs(&apply_args(&saved))).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("changed since the review"),
        "{}",
        run.stderr
    );
    assert_eq!(setup.status_calls(), 0);
    // Once the plan file is gone, the saved jobs alone are what is applied.
    std::fs::remove_file(&plan).unwrap();
    let run = setup.run(&refs(&apply_args(&saved))).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(setup.status_calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_is_refused_in_another_account_or_region() {
    let setup = Setup::new().await;
    let (_plan, saved) = save(&setup).await;
    let mut args = apply_args(&saved);
    args.extend(["--account-id".to_owned(), "444455556666".to_owned()]);
    let run = setup.run(&refs(&args)).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("--account-id 444455556666 differs from the saved plan's account"),
        "{}",
        run.stderr
    );
    let run = setup
        .run_env(
            &refs(&apply_args(&saved)),
            &[("AWS_ACCOUNT_ID", "444455556666")],
        )
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("AWS_ACCOUNT_ID 444455556666 differs"),
        "{}",
        run.stderr
    );
    let mut args = apply_args(&saved);
    args.extend(["--region".to_owned(), "eu-west-1".to_owned()]);
    let run = setup.run(&refs(&args)).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("--region eu-west-1 differs"),
        "{}",
        run.stderr
    );
    assert_eq!(setup.status_calls(), 0);
}

#[test]
fn bare_s3plan_prints_usage_and_the_quick_start() {
    let output = Command::cargo_bin("s3plan").unwrap().output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(text.contains("Usage: s3plan <COMMAND>"), "{text}");
    assert!(
        text.contains("s3plan apply --sandbox --yes examples/incident-bulk-cancel.yaml"),
        "{text}"
    );
}

#[test]
fn every_help_starts_with_an_example() {
    for args in [
        vec!["--help"],
        vec!["plan", "--help"],
        vec!["apply", "--help"],
        vec!["validate", "--help"],
        vec!["sandbox", "--help"],
        vec!["schema", "--help"],
    ] {
        let output = Command::cargo_bin("s3plan")
            .unwrap()
            .args(&args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(
            text.starts_with("Example: s3plan ") || text.starts_with("Quick start"),
            "{args:?}: {text}"
        );
        assert!(text.contains("  s3plan "), "{args:?}: {text}");
    }
    let plan = Command::cargo_bin("s3plan")
        .unwrap()
        .args(["plan", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8(plan.stdout).unwrap();
    assert!(
        text.contains("With --detailed-exitcode: 0 nothing to do, 2 changes pending"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_up_errors_name_their_cause_once_and_what_to_do() {
    let setup = Setup::new().await;
    let no_region = setup.write(
        "no-region.yaml",
        &NOTHING_TO_DO.replace("region: us-east-1\n", ""),
    );
    let run = setup.run(&["plan", no_region.to_str().unwrap()]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(
        run.stderr.matches("no AWS region is configured").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("pass --region"), "{}", run.stderr);

    let plan = setup.write("nothing.yaml", NOTHING_TO_DO);
    let run = setup
        .run(&[
            "plan",
            plan.to_str().unwrap(),
            "--out",
            "no/such/dir/saved.json",
        ])
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("failed to write the saved plan to no/such/dir/saved.json"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.is_empty(),
        "refused before describing: {}",
        run.stdout
    );
}
