//! The incident commands across a plan's targets, through the binary against a sandbox that keeps jobs per
//! (account, region) and answers STS: `s3plan jobs` and `s3plan cancel` with `--targets-from PLAN` read and act
//! in every target of the plan (a role assumed for the second account), `--target` restricts them,
//! `--save-plan` keeps the targets, and the mistakes around the flags are refused before anything is read.

use std::path::Path;
use std::process::{Output, Stdio};

use s3plan::sandbox::{JobStatus, Operation, SandboxHandle};
use serde_json::Value;

use crate::support::*;
use crate::targets::{OTHER, plan, seed};

/// The binary with `args`, aimed at the sandbox (S3 Control and STS).
fn command(dir: &Path, sandbox: &SandboxHandle, args: &[&str]) -> std::process::Command {
    let mut command = s3plan(dir);
    command
        .env("AWS_ENDPOINT_URL_STS", sandbox.url())
        .args(args)
        .args(["--endpoint-url", &sandbox.url()]);
    command
}

fn run(dir: &Path, sandbox: &SandboxHandle, args: &[&str]) -> Output {
    command(dir, sandbox, args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The plan of `targets.rs` (prod in us-east-1 and eu-west-1, dr in another account through a role).
fn targets_plan(dir: &Path) -> String {
    plan(dir, &format!("arn:aws:iam::{OTHER}:role/s3plan-operator"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Every reindex job of the seed, where it lives.
const REINDEX: [(&str, &str, &str, &str); 4] = [
    ("prod/us-east-1", ACCOUNT, "us-east-1", "us-reindex-1"),
    ("prod/us-east-1", ACCOUNT, "us-east-1", "us-reindex-2"),
    ("prod/eu-west-1", ACCOUNT, "eu-west-1", "eu-reindex-1"),
    ("dr", OTHER, "us-west-2", "dr-reindex-1"),
];

#[tokio::test(flavor = "multi_thread")]
async fn jobs_with_targets_from_lists_the_jobs_of_every_target_with_their_target() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    let plan = targets_plan(dir.path());
    let out = run(
        dir.path(),
        &sandbox,
        &[
            "jobs",
            "--targets-from",
            &plan,
            "--description",
            "reindex-*",
            "--format",
            "json",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let rows: Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let mut found: Vec<(String, String, String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["target"].as_str().unwrap().to_owned(),
                row["account_id"].as_str().unwrap().to_owned(),
                row["region"].as_str().unwrap().to_owned(),
                row["JobId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    let mut want: Vec<(String, String, String, String)> = REINDEX
        .iter()
        .map(|(t, a, r, id)| ((*t).into(), (*a).into(), (*r).into(), (*id).into()))
        .collect();
    want.sort();
    // Every target's reindex jobs, and not ap-reindex-1 (a region no target names).
    assert_eq!(found, want);
    // One ListJobs sweep per target, the role assumed for dr, and nothing changed.
    assert!(sandbox.calls(Operation::ListJobs) >= 3);
    assert!(sandbox.calls(Operation::AssumeRole) >= 1);
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 0);

    // The table names each row's target, and counts per target.
    let table = run(
        dir.path(),
        &sandbox,
        &[
            "jobs",
            "--targets-from",
            &plan,
            "--description",
            "reindex-*",
        ],
    );
    assert_eq!(table.status.code(), Some(0), "{}", text(&table.stderr));
    let table = text(&table.stdout);
    assert!(table.starts_with("TARGET "), "{table}");
    for (target, _, _, id) in REINDEX {
        assert!(
            table
                .lines()
                .any(|line| line.starts_with(target) && line.contains(id)),
            "{id} in {target} missing from:\n{table}"
        );
    }
    assert!(
        table.contains("per target: prod/us-east-1 2, prod/eu-west-1 1, dr 1"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_without_targets_has_no_target_column() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    let out = run(
        dir.path(),
        &sandbox,
        &[
            "jobs",
            "--account-id",
            ACCOUNT,
            "--description",
            "reindex-*",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("JOB ID "), "{table}");
    assert!(!table.contains("per target"), "{table}");
    assert!(table.contains("us-reindex-1"), "{table}");
    assert!(!table.contains("eu-reindex-1"), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_job_id_with_targets_from_says_where_it_was_found_or_where_it_was_searched() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    let plan = targets_plan(dir.path());
    let out = run(
        dir.path(),
        &sandbox,
        &["jobs", "dr-backfill-1", "--targets-from", &plan],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.starts_with(&format!("target        dr (account {OTHER}, us-west-2)\n")),
        "{shown}"
    );
    assert!(shown.contains("Suspended"), "{shown}");
    // Looked for in every target at once.
    assert_eq!(sandbox.calls(Operation::DescribeJob), 3);

    let json = run(
        dir.path(),
        &sandbox,
        &[
            "jobs",
            "eu-reindex-1",
            "--targets-from",
            &plan,
            "--format",
            "json",
        ],
    );
    assert_eq!(json.status.code(), Some(0), "{}", text(&json.stderr));
    let jobs: Value = serde_json::from_str(&text(&json.stdout)).unwrap();
    assert_eq!(jobs[0]["target"], "prod/eu-west-1");
    assert_eq!(jobs[0]["account_id"], ACCOUNT);
    assert_eq!(jobs[0]["region"], "eu-west-1");

    // In a region no target names: not found, naming every target searched.
    let missing = run(
        dir.path(),
        &sandbox,
        &["jobs", "ap-reindex-1", "--targets-from", &plan],
    );
    assert_eq!(missing.status.code(), Some(2));
    let stderr = text(&missing.stderr);
    assert!(
        stderr.contains(
            "job ap-reindex-1 was not found in any of the 3 targets searched: prod/us-east-1, prod/eu-west-1, dr"
        ),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_with_targets_from_cancels_in_every_target_and_nothing_outside() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    let plan = targets_plan(dir.path());
    let out = run(
        dir.path(),
        &sandbox,
        &[
            "cancel",
            "--targets-from",
            &plan,
            "--description",
            "reindex-*",
            "--yes",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for (_, account, region, id) in REINDEX {
        assert_eq!(
            sandbox.job_status_in(account, region, id),
            Some(JobStatus::Cancelling),
            "{id} in {account}/{region}"
        );
    }
    // Outside the selector or the targets, and the plan's own entries (never run): untouched.
    for (account, region, id, status) in [
        (ACCOUNT, "us-east-1", "us-archive-1", JobStatus::Active),
        (ACCOUNT, "ap-south-1", "ap-reindex-1", JobStatus::Active),
        (OTHER, "us-west-2", "dr-backfill-1", JobStatus::Suspended),
    ] {
        assert_eq!(
            sandbox.job_status_in(account, region, id),
            Some(status),
            "{id}"
        );
    }
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 4);
    // The overview named every target before the run.
    for target in ["prod/us-east-1", "prod/eu-west-1", "dr "] {
        assert!(stderr.contains(target), "{target} missing from:\n{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn target_flag_restricts_cancel_and_jobs_to_the_named_targets() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    let plan = targets_plan(dir.path());
    let listed = run(
        dir.path(),
        &sandbox,
        &[
            "jobs",
            "--targets-from",
            &plan,
            "--target",
            "prod",
            "--description",
            "reindex-*",
            "--format",
            "ids",
        ],
    );
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    let mut ids: Vec<String> = text(&listed.stdout).lines().map(str::to_owned).collect();
    ids.sort();
    assert_eq!(ids, ["eu-reindex-1", "us-reindex-1", "us-reindex-2"]);
    // dr was not selected: its role was never assumed.
    assert_eq!(sandbox.calls(Operation::AssumeRole), 0);

    let out = run(
        dir.path(),
        &sandbox,
        &[
            "cancel",
            "--targets-from",
            &plan,
            "--target",
            "prod/eu-west-1",
            "--description",
            "reindex-*",
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for (_, account, region, id) in REINDEX {
        let want = if id == "eu-reindex-1" {
            JobStatus::Cancelling
        } else {
            JobStatus::Active
        };
        assert_eq!(
            sandbox.job_status_in(account, region, id),
            Some(want),
            "{id}"
        );
    }
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 1);
    assert_eq!(sandbox.calls(Operation::AssumeRole), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_id_with_targets_from_is_cancelled_in_the_one_target_named() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    let plan = targets_plan(dir.path());
    // Three targets: which one the id lives in is not guessed.
    let refused = run(
        dir.path(),
        &sandbox,
        &["cancel", "dr-reindex-1", "--targets-from", &plan, "--yes"],
    );
    assert_eq!(refused.status.code(), Some(2));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("job ids name jobs in one target, but the command runs in 3 targets"),
        "{stderr}"
    );
    assert!(stderr.contains("--target NAME"), "{stderr}");
    assert_eq!(sandbox.calls(Operation::ListJobs), 0);

    let out = run(
        dir.path(),
        &sandbox,
        &[
            "cancel",
            "dr-reindex-1",
            "--targets-from",
            &plan,
            "--target",
            "dr",
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        sandbox.job_status_in(OTHER, "us-west-2", "dr-reindex-1"),
        Some(JobStatus::Cancelling)
    );
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn save_plan_keeps_the_targets_and_applying_it_does_what_the_command_did() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    let plan = targets_plan(dir.path());
    let out = run(
        dir.path(),
        &sandbox,
        &[
            "cancel",
            "--targets-from",
            &plan,
            "--target",
            "prod",
            "--description",
            "reindex-*",
            "--save-plan",
            "saved.yaml",
            "--dry-run",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 0);
    let saved = std::fs::read_to_string(dir.path().join("saved.yaml")).unwrap();
    assert!(saved.contains("# Targets from: "), "{saved}");
    assert!(
        saved.contains("regions: [\"us-east-1\", \"eu-west-1\"]"),
        "{saved}"
    );
    assert!(
        saved.contains(&format!(
            "role_arn: \"arn:aws:iam::{OTHER}:role/s3plan-operator\""
        )),
        "{saved}"
    );
    assert!(saved.contains("    targets: [\"prod\"]"), "{saved}");

    let validated = s3plan(dir.path())
        .args(["validate", "saved.yaml"])
        .output()
        .unwrap();
    assert_eq!(
        validated.status.code(),
        Some(0),
        "{}\n{saved}",
        text(&validated.stderr)
    );

    let applied = run(dir.path(), &sandbox, &["apply", "--yes", "saved.yaml"]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied.stderr));
    for (target, account, region, id) in REINDEX {
        let want = if target.starts_with("prod") {
            JobStatus::Cancelling
        } else {
            JobStatus::Active
        };
        assert_eq!(
            sandbox.job_status_in(account, region, id),
            Some(want),
            "{id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn target_without_targets_from_and_a_plan_without_targets_are_refused_before_any_read() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    for command in ["jobs", "cancel", "confirm"] {
        let out = run(
            dir.path(),
            &sandbox,
            &[command, "--target", "prod", "--description", "reindex-*"],
        );
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("--target prod needs --targets-from PLAN"),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("`s3plan {command}`"))
                && stderr.contains("name the plan whose `targets:` to use"),
            "{stderr}"
        );
    }

    let plain = dir.path().join("plain.yaml");
    std::fs::write(
        &plain,
        "version: 1\njobs:\n  - name: a\n    select: {status: Active}\n    set: Cancelled\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &sandbox,
        &["jobs", "--targets-from", plain.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("plain.yaml has no `targets:` to take"),
        "{}",
        text(&out.stderr)
    );

    // A plan with mistakes is refused with its own diagnostics.
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        format!(
            "version: 1\ntargets:\n  - name: prod\n    account_id: \"{ACCOUNT}\"\n    region: us-esat-1x\njobs:\n  - name: a\n    select: {{status: Active}}\n    set: Cancelled\n"
        ),
    )
    .unwrap();
    let out = run(
        dir.path(),
        &sandbox,
        &[
            "cancel",
            "--targets-from",
            broken.to_str().unwrap(),
            "--status",
            "Active",
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("broken.yaml:5:"), "{stderr}");

    // A --target the plan does not have.
    let plan = targets_plan(dir.path());
    let out = run(
        dir.path(),
        &sandbox,
        &["jobs", "--targets-from", &plan, "--target", "nowhere"],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--target nowhere names no target of"),
        "{stderr}"
    );
    assert!(
        stderr.contains("its targets are: prod/us-east-1, prod/eu-west-1, dr"),
        "{stderr}"
    );

    // Account and region pins beside targets.
    let out = run(
        dir.path(),
        &sandbox,
        &["jobs", "--targets-from", &plan, "--region", "us-east-1"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--region cannot be used"));

    assert_eq!(sandbox.calls(Operation::ListJobs), 0);
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_watch_with_targets_sweeps_every_target_each_round() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    let plan = targets_plan(dir.path());
    let child = command(
        dir.path(),
        &sandbox,
        &[
            "jobs",
            "--targets-from",
            &plan,
            "--description",
            "reindex-*",
            "--watch",
            "100ms",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Two full rounds: three ListJobs sweeps each.
    wait_until("two rounds over three targets", || {
        sandbox.calls(Operation::ListJobs) >= 6
    })
    .await;
    signal(child.id(), "INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("round 1 at "), "{stdout}");
    assert!(stdout.contains("over 3 targets"), "{stdout}");
    assert!(
        stdout
            .matches("per target: prod/us-east-1 2, prod/eu-west-1 1, dr 1")
            .count()
            >= 2,
        "{stdout}"
    );
}
