//! Reports of a run over a plan's `targets:`, through the binary against the sandbox (jobs kept per account
//! and region, STS answered on the same port): every JSON job row says where its job was, each target is
//! summed up, and the Markdown, JUnit and end-of-run summary are laid out by target.

use s3plan::sandbox::{JobStatus, Seed};

use crate::support::*;

/// Suspended demo jobs, one per place (see src/sandbox/demo-seed.yaml).
const PROD_US: &str = "6513270e-269e-4d37-b2a7-4de452e6b438";
const PROD_EU: &str = "a2a39406-abae-4f4d-a12b-19e9c9f5af0e";
const DR_EU: &str = "6346e15f-b21b-4e50-b7c8-13cbc20ddcb0";
const DR: &str = "444455556666";

/// Three targets in two accounts and two regions, one job confirmed in each: by id in prod/us-east-1, by
/// a selector matching the one suspended job of each eu-west-1 target.
fn plan() -> String {
    format!(
        r#"version: 1
targets:
  - name: prod
    account_id: "{ACCOUNT}"
    regions: [us-east-1, eu-west-1]
  - name: dr
    account_id: "{DR}"
    region: eu-west-1
    role_arn: arn:aws:iam::{DR}:role/s3plan-operator
jobs:
  - name: confirm-us
    targets: [prod/us-east-1]
    job_id: "{PROD_US}"
    set: Ready
  - name: confirm-eu
    targets: [prod/eu-west-1, dr]
    select: {{status: Suspended}}
    set: Ready
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_three_targets_reports_each_jobs_target_and_each_targets_summary() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(Seed::demo(), None).await;
    std::fs::write(dir.path().join("plan.yaml"), plan()).unwrap();
    let out = s3plan(dir.path())
        .env("AWS_ENDPOINT_URL_STS", sandbox.url())
        .args(["apply", "--yes", "--endpoint-url", &sandbox.url()])
        .args([
            "--report", "run.json", "--report", "run.md", "--report", "run.xml",
        ])
        .arg("plan.yaml")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        sandbox.job_status_in(DR, "eu-west-1", DR_EU),
        Some(JobStatus::Ready)
    );

    let text = std::fs::read_to_string(dir.path().join("run.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let jobs = report["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 3, "{report:#}");
    for (entry, job, target, account, region) in [
        (
            "confirm-us",
            PROD_US,
            "prod/us-east-1",
            ACCOUNT,
            "us-east-1",
        ),
        (
            "confirm-eu",
            PROD_EU,
            "prod/eu-west-1",
            ACCOUNT,
            "eu-west-1",
        ),
        ("confirm-eu", DR_EU, "dr", DR, "eu-west-1"),
    ] {
        let row = jobs
            .iter()
            .find(|j| j["entry"] == entry && j["job_id"] == job)
            .unwrap_or_else(|| panic!("no {job} in {entry}: {report:#}"));
        assert_eq!(row["outcome"], "applied", "{row:#}");
        assert_eq!(row["target"], target, "{row:#}");
        assert_eq!(row["account_id"], account, "{row:#}");
        assert_eq!(row["region"], region, "{row:#}");
    }
    // No one account or region is true of the whole run.
    assert_eq!(report["account_id"], serde_json::Value::Null);
    assert_eq!(report["region"], serde_json::Value::Null);
    let targets: Vec<(&str, &str, &str, u64)> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["account_id"].as_str().unwrap(),
                t["region"].as_str().unwrap(),
                t["summary"]["applied"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        targets,
        [
            ("prod/us-east-1", ACCOUNT, "us-east-1", 1),
            ("prod/eu-west-1", ACCOUNT, "eu-west-1", 1),
            ("dr", DR, "eu-west-1", 1)
        ]
    );

    let markdown = std::fs::read_to_string(dir.path().join("run.md")).unwrap();
    assert!(
        markdown.contains("| Targets | 3 in 2 accounts, 2 regions:<br>"),
        "{markdown}"
    );
    for section in [
        format!("## Target prod/us-east-1 (account {ACCOUNT}, us-east-1)"),
        format!("## Target prod/eu-west-1 (account {ACCOUNT}, eu-west-1)"),
        format!("## Target dr (account {DR}, eu-west-1)"),
    ] {
        assert!(
            markdown.contains(&section),
            "{section} missing:\n{markdown}"
        );
    }
    let junit = std::fs::read_to_string(dir.path().join("run.xml")).unwrap();
    for suite in [
        r#"<testsuite name="prod/us-east-1.confirm-us""#,
        r#"<testsuite name="prod/eu-west-1.confirm-eu""#,
        r#"<testsuite name="dr.confirm-eu""#,
    ] {
        assert!(junit.contains(suite), "{suite} missing:\n{junit}");
    }
    // The progress's first line lists the targets where a one-target run names its account and region.
    assert!(
        stderr.contains(&format!(
            "apply: 3 jobs in 2 entries, 3 targets: prod/us-east-1 (account {ACCOUNT}, us-east-1), \
             prod/eu-west-1 (account {ACCOUNT}, eu-west-1), dr (account {DR}, eu-west-1)\n"
        )),
        "{stderr}"
    );
    // The end-of-run summary: a line per target.
    for line in [
        "  prod/us-east-1:  1 job: 1 applied\n",
        "  prod/eu-west-1:  1 job: 1 applied\n",
        "  dr:              1 job: 1 applied\n",
    ] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
}
