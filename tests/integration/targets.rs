//! One plan across several accounts and regions, through the binary against a sandbox that keeps jobs per
//! (account, region) and answers STS: selectors resolved per target, `after:` across targets, a job id in one
//! target, a role assumed for the second account, and a target whose credentials fail refusing the run.

use std::path::Path;

use s3plan::sandbox::{JobStatus, Operation, SandboxHandle, Seed};

use crate::support::*;

pub(crate) const OTHER: &str = "444455556666";

/// `prod` (the base credentials' account) in us-east-1 and eu-west-1, `dr` (another account, reached by
/// assuming a role) in us-west-2; each place has reindex jobs to cancel, `dr` a backfill to confirm, and a
/// reindex job in a region no target names, which must stay untouched.
pub(crate) fn seed() -> Seed {
    Seed::from_yaml(
        &format!(
            r#"
accounts:
  - id: "{ACCOUNT}"
    region: us-east-1
    jobs:
      - {{id: us-reindex-1, status: Active, description: reindex-us-1}}
      - {{id: us-reindex-2, status: Active, description: reindex-us-2}}
      - {{id: us-archive-1, status: Active, description: archive-us-1}}
  - id: "{ACCOUNT}"
    region: eu-west-1
    jobs:
      - {{id: eu-reindex-1, status: Active, description: reindex-eu-1}}
  - id: "{ACCOUNT}"
    region: ap-south-1
    jobs:
      - {{id: ap-reindex-1, status: Active, description: reindex-ap-1}}
  - id: "{OTHER}"
    region: us-west-2
    jobs:
      - {{id: dr-reindex-1, status: Active, description: reindex-dr-1}}
      - {{id: dr-backfill-1, status: Suspended, description: backfill-dr}}
"#
        ),
        None,
    )
    .unwrap()
}

pub(crate) fn plan(dir: &Path, dr_role: &str) -> std::path::PathBuf {
    let path = dir.join("plan.yaml");
    std::fs::write(
        &path,
        format!(
            r#"version: 1
targets:
  - name: prod
    account_id: "{ACCOUNT}"
    regions: [us-east-1, eu-west-1]
  - name: dr
    account_id: "{OTHER}"
    region: us-west-2
    role_arn: {dr_role}
jobs:
  - name: cancel-reindex
    select: {{status: [Active], description: "reindex-*"}}
    max_jobs: 10
    set: Cancelled
  - name: confirm-dr-backfill
    targets: [dr]
    job_id: dr-backfill-1
    after: [cancel-reindex]
    set: Ready
"#
        ),
    )
    .unwrap();
    path
}

fn apply(dir: &Path, sandbox: &SandboxHandle, plan: &Path, extra: &[&str]) -> std::process::Output {
    s3plan(dir)
        .env("AWS_ENDPOINT_URL_STS", sandbox.url())
        .args([
            "apply",
            "--yes",
            "--endpoint-url",
            &sandbox.url(),
            "--report",
        ])
        .arg(dir.join("report.json"))
        .args(extra)
        .arg(plan)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_plan_cancels_in_three_targets_then_confirms_in_the_assumed_account() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    let plan = plan(
        dir.path(),
        &format!("arn:aws:iam::{OTHER}:role/s3plan-operator"),
    );
    let out = apply(dir.path(), &sandbox, &plan, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // Selectors resolved in each target: the reindex jobs of all three places, nothing else.
    for (account, region, id) in [
        (ACCOUNT, "us-east-1", "us-reindex-1"),
        (ACCOUNT, "us-east-1", "us-reindex-2"),
        (ACCOUNT, "eu-west-1", "eu-reindex-1"),
        (OTHER, "us-west-2", "dr-reindex-1"),
    ] {
        assert_eq!(
            sandbox.job_status_in(account, region, id),
            Some(JobStatus::Cancelling),
            "{id} in {account}/{region}"
        );
    }
    // Outside the plan's selectors or targets: untouched.
    assert_eq!(
        sandbox.job_status_in(ACCOUNT, "us-east-1", "us-archive-1"),
        Some(JobStatus::Active)
    );
    assert_eq!(
        sandbox.job_status_in(ACCOUNT, "ap-south-1", "ap-reindex-1"),
        Some(JobStatus::Active)
    );
    // `after:` across targets: the dr backfill confirmed once every cancel was done.
    assert_eq!(
        sandbox.job_status_in(OTHER, "us-west-2", "dr-backfill-1"),
        Some(JobStatus::Ready)
    );
    let updates = sandbox.audit_for(Some(Operation::UpdateJobStatus), None);
    let last_cancel = updates
        .iter()
        .filter(|e| e.job_id.as_deref() != Some("dr-backfill-1"))
        .map(|e| e.seq)
        .max()
        .unwrap();
    let confirm = updates
        .iter()
        .find(|e| e.job_id.as_deref() == Some("dr-backfill-1"))
        .unwrap();
    assert!(
        confirm.seq > last_cancel,
        "confirmed before the cancels ended"
    );
    // The dr calls were made as the assumed role's account (the sandbox keeps its jobs apart), and the role
    // was assumed once for the run, not once per client (the check, STS, S3 Control each asked for it).
    assert_eq!(sandbox.calls(Operation::AssumeRole), 1);
    // The overview named every target before the run.
    for target in ["prod/us-east-1", "prod/eu-west-1", "dr "] {
        assert!(stderr.contains(target), "{target} missing from:\n{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_whose_credentials_fail_refuses_the_run_before_any_change() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    // A role in an account the sandbox does not know: AssumeRole is denied.
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        format!(
            r#"version: 1
targets:
  - name: prod
    account_id: "{ACCOUNT}"
    region: us-east-1
  - name: lost
    account_id: "999988887777"
    region: us-west-2
    role_arn: arn:aws:iam::999988887777:role/s3plan-operator
  - name: wrong
    account_id: "{OTHER}"
    region: us-west-2
jobs:
  - name: cancel-reindex
    select: {{status: [Active], description: "reindex-*"}}
    set: Cancelled
"#
        ),
    )
    .unwrap();
    let out = apply(dir.path(), &sandbox, &plan, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // Every failing target named at once: the denied role, and base credentials of another account.
    assert!(stderr.contains("2 of 3 targets"), "{stderr}");
    assert!(stderr.contains("target lost"), "{stderr}");
    assert!(
        stderr.contains("AccessDenied: User is not authorized to perform: sts:AssumeRole"),
        "{stderr}"
    );
    assert!(stderr.contains("target wrong"), "{stderr}");
    assert!(
        stderr.contains(&format!("belong to account {ACCOUNT}, not {OTHER}")),
        "{stderr}"
    );
    // Nothing was read or changed in any target.
    assert_eq!(sandbox.calls(Operation::ListJobs), 0);
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn target_flag_restricts_the_run_to_the_named_targets() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(), None).await;
    let plan = plan(
        dir.path(),
        &format!("arn:aws:iam::{OTHER}:role/s3plan-operator"),
    );
    let out = apply(dir.path(), &sandbox, &plan, &["--target", "prod/eu-west-1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        sandbox.job_status_in(ACCOUNT, "eu-west-1", "eu-reindex-1"),
        Some(JobStatus::Cancelling)
    );
    for (account, region, id) in [
        (ACCOUNT, "us-east-1", "us-reindex-1"),
        (OTHER, "us-west-2", "dr-reindex-1"),
    ] {
        assert_eq!(
            sandbox.job_status_in(account, region, id),
            Some(JobStatus::Active),
            "{id} is outside --target"
        );
    }
    assert_eq!(
        sandbox.job_status_in(OTHER, "us-west-2", "dr-backfill-1"),
        Some(JobStatus::Suspended)
    );
    // The unselected account's role was never assumed.
    assert_eq!(sandbox.calls(Operation::AssumeRole), 0);

    // An unknown name, and --region beside targets, are refused before anything is read.
    let unknown = apply(dir.path(), &sandbox, &plan, &["--target", "nowhere"]);
    assert_eq!(unknown.status.code(), Some(2));
    let text = String::from_utf8_lossy(&unknown.stderr);
    assert!(text.contains("--target nowhere names no target"), "{text}");
    assert!(
        text.contains("prod/us-east-1, prod/eu-west-1, dr"),
        "{text}"
    );
    let region = apply(dir.path(), &sandbox, &plan, &["--region", "us-east-1"]);
    assert_eq!(region.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&region.stderr).contains("--region cannot be used"));
}

/// `--sandbox` (the in-process sandbox) with a target reached through a role: the role is assumed from the
/// sandbox's own STS. The README's multi-region example runs this way.
#[test]
fn regression_a_role_target_does_not_panic_against_the_in_process_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/multi-region-incident.yaml");
    let out = s3plan(dir.path())
        .args(["plan", "--sandbox"])
        .arg(&example)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for target in ["prod/us-east-1", "prod/eu-west-1", "dr"] {
        assert!(stdout.contains(target), "{target} missing from:\n{stdout}");
    }
    // The demo's active reindex jobs of the three places: 3 + 1 in prod, 1 in dr.
    assert!(
        stdout.contains("cancel-reindex  set Cancelled  5 jobs"),
        "{stdout}"
    );
}

/// A target whose credentials come from a named profile of the AWS config files: its key's account (the
/// sandbox's STS maps keys to accounts) is checked like any other, and its jobs are changed with it.
#[tokio::test(flavor = "multi_thread")]
async fn a_profile_target_signs_with_its_own_profile() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = seed();
    seed.caller_accounts
        .insert("AKIDDRPROFILE".to_owned(), OTHER.to_owned());
    let sandbox = frozen(seed, None).await;
    // `s3plan()` points both AWS config files at this (absent) path: write the profile there.
    std::fs::write(
        dir.path().join(".no-aws-config"),
        "[dr-admin]\naws_access_key_id = AKIDDRPROFILE\naws_secret_access_key = dr-secret\n\n[profile dr-admin]\nregion = us-west-2\n",
    )
    .unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        format!(
            r#"version: 1
targets:
  - name: dr
    account_id: "{OTHER}"
    region: us-west-2
    profile: dr-admin
jobs:
  - name: cancel-reindex
    select: {{status: [Active], description: "reindex-*"}}
    set: Cancelled
"#
        ),
    )
    .unwrap();
    let out = apply(dir.path(), &sandbox, &plan, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        sandbox.job_status_in(OTHER, "us-west-2", "dr-reindex-1"),
        Some(JobStatus::Cancelling)
    );
    assert_eq!(sandbox.calls(Operation::AssumeRole), 0);
    // The base credentials (another account) were never asked to act for dr.
    assert_eq!(
        sandbox.job_status_in(ACCOUNT, "us-east-1", "us-reindex-1"),
        Some(JobStatus::Active)
    );
}
