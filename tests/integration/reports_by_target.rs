//! Reports of a run over a plan's `targets:`, through the binary against the sandbox: every JSON job row
//! says where its job was, each target is summed up, and the Markdown, JUnit and end-of-run summary are
//! laid out by target.

use crate::apply_support::TestRun;

/// Suspended demo jobs, one per place (see src/sandbox/demo-seed.yaml).
const PROD_US: &str = "6513270e-269e-4d37-b2a7-4de452e6b438";
const PROD_EU: &str = "a2a39406-abae-4f4d-a12b-19e9c9f5af0e";
const DR_EU: &str = "6346e15f-b21b-4e50-b7c8-13cbc20ddcb0";

/// Three targets in two accounts and two regions, one job confirmed in each: by id in prod/us-east-1, by
/// a selector matching the one suspended job of each eu-west-1 target.
fn plan() -> String {
    format!(
        r#"version: 1
targets:
  - name: prod
    account_id: "111122223333"
    regions: [us-east-1, eu-west-1]
  - name: dr
    account_id: "444455556666"
    region: eu-west-1
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
#[ignore = "apply does not yet build its session from a plan's `targets:` (it asks STS for one account)"]
async fn a_run_over_three_targets_reports_each_jobs_target_and_each_targets_summary() {
    let done = TestRun::new(&plan())
        .args(&["--report", "run.md", "--report", "run.xml"])
        .run()
        .await;
    done.code(0);
    let report = done.report();
    for (entry, job, target, account, region) in [
        (
            "confirm-us",
            PROD_US,
            "prod/us-east-1",
            "111122223333",
            "us-east-1",
        ),
        (
            "confirm-eu",
            PROD_EU,
            "prod/eu-west-1",
            "111122223333",
            "eu-west-1",
        ),
        ("confirm-eu", DR_EU, "dr", "444455556666", "eu-west-1"),
    ] {
        let row = done.job(entry, job);
        assert_eq!(row["outcome"], "applied", "{row:#}");
        assert_eq!(row["target"], target, "{row:#}");
        assert_eq!(row["account_id"], account, "{row:#}");
        assert_eq!(row["region"], region, "{row:#}");
    }
    assert_eq!(report["account_id"], serde_json::Value::Null);
    let targets: Vec<(&str, u64)> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["summary"]["applied"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        targets,
        [("prod/us-east-1", 1), ("prod/eu-west-1", 1), ("dr", 1)]
    );

    let dir = done.report_path();
    let markdown = std::fs::read_to_string(dir.with_file_name("run.md")).unwrap();
    for section in [
        "## Target prod/us-east-1 (account 111122223333, us-east-1)",
        "## Target prod/eu-west-1 (account 111122223333, eu-west-1)",
        "## Target dr (account 444455556666, eu-west-1)",
    ] {
        assert!(markdown.contains(section), "{section} missing:\n{markdown}");
    }
    let junit = std::fs::read_to_string(dir.with_file_name("run.xml")).unwrap();
    for suite in [
        r#"<testsuite name="prod/us-east-1.confirm-us""#,
        r#"<testsuite name="prod/eu-west-1.confirm-eu""#,
        r#"<testsuite name="dr.confirm-eu""#,
    ] {
        assert!(junit.contains(suite), "{suite} missing:\n{junit}");
    }
    assert!(
        done.stdout
            .contains("  dr:              1 job: 1 applied\n"),
        "{}",
        done.stdout
    );
}
