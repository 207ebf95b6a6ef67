//! Reports whose job records were spooled to disk during the run, not kept in memory: through the binary
//! against an in-process sandbox, 3,000 jobs cancelled 64 at a time (so they finish out of plan order) give
//! JSON, Markdown and JUnit reports that list every job exactly once, in plan order (the order of the
//! journal's job lines, written before the first request), with the right counts, and the spool leaves no
//! file behind. Over two targets (the scheduler interleaves their jobs, so each target's rows lie among the
//! other's in the spool), each target's Markdown section and JUnit suites hold exactly its jobs, in plan
//! order, and its summary counts them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use s3plan::sandbox::Seed;

use crate::support::{ACCOUNT, frozen, s3plan};

const JOBS: usize = 3_000;

fn seed() -> Seed {
    let text = format!(
        "accounts:\n  - id: \"{ACCOUNT}\"\n    generate:\n      - count: {JOBS}\n        id_prefix: job-\n        description_prefix: spool-\n        job:\n          status: Suspended\n          priority: 5\n"
    );
    Seed::from_yaml(&text, None).unwrap()
}

fn plan() -> String {
    format!(
        r#"version: 1
account_id: "{ACCOUNT}"
region: us-east-1
reason: "spool test"
limits: {{concurrency: 64, rate_limit: 10000, poll_rate_limit: 1000}}
jobs:
  - name: cancel-spool
    select:
      status: [Suspended]
      description: "spool-*"
    max_jobs: {JOBS}
    set: Cancelled
"#
    )
}

/// The job ids of the journal's `job` lines: the plan's jobs in plan order.
fn journal_jobs(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["record"] == "job")
        .map(|line| line["job"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_3000_jobs_reports_each_once_in_plan_order_in_every_format_and_leaves_no_spool_file()
 {
    let sandbox = frozen(seed(), None).await;
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.yaml");
    std::fs::write(&plan_path, plan()).unwrap();
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    let mut cmd = s3plan(dir.path());
    cmd.arg("apply")
        .arg(&plan_path)
        .args([
            "--endpoint-url",
            &sandbox.url(),
            "--yes",
            "--progress",
            "never",
        ])
        .arg("--report")
        .arg(reports.join("run.json"))
        .arg("--report")
        .arg(reports.join("run.md"))
        .arg("--report")
        .arg(reports.join("run.xml"));
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let planned = journal_jobs(&reports.join("run.json.journal.jsonl"));
    assert_eq!(planned.len(), JOBS);
    assert_eq!(
        planned.iter().collect::<BTreeSet<_>>().len(),
        JOBS,
        "every job once in the journal"
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("run.json")).unwrap()).unwrap();
    let listed: Vec<String> = json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["job_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed, planned,
        "the JSON report lists every job once, in plan order"
    );
    assert_eq!(json["summary"]["total"], JOBS);
    assert_eq!(json["summary"]["applied"], JOBS);
    assert!(
        json["jobs"].as_array().unwrap().iter().all(|job| {
            job["entry"] == "cancel-spool"
                && job["outcome"] == "applied"
                && job["status_after"] == "Cancelled"
                && job["description"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("spool-"))
        }),
        "every row is whole"
    );

    let markdown = std::fs::read_to_string(reports.join("run.md")).unwrap();
    let rows: Vec<&str> = markdown
        .lines()
        .filter(|line| line.starts_with("| `job-"))
        .map(|line| line.split('`').nth(1).unwrap())
        .collect();
    assert_eq!(
        rows, planned,
        "the Markdown report lists every job once, in plan order"
    );
    assert!(markdown.contains("| applied | 3000 |"), "{markdown:.2000}");

    let junit = std::fs::read_to_string(reports.join("run.xml")).unwrap();
    let cases: Vec<&str> = junit
        .split("<testcase name=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert_eq!(
        cases, planned,
        "the JUnit report has one case per job, in plan order"
    );

    let mut files: Vec<String> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["run.json", "run.json.journal.jsonl", "run.md", "run.xml"],
        "no spool or temporary file is left beside the reports"
    );
}

/// Two places of one account: 1,000 jobs in each for `cancel-spool`, and 200 more in us-east-1 for
/// `cancel-extra`, an entry of that target only.
fn two_target_seed() -> Seed {
    let text = format!(
        r#"accounts:
  - id: "{ACCOUNT}"
    region: us-east-1
    generate:
      - count: 1000
        id_prefix: ue-
        description_prefix: spool-
        job: {{status: Suspended, priority: 5}}
      - count: 200
        id_prefix: ux-
        description_prefix: extra-
        job: {{status: Suspended, priority: 5}}
  - id: "{ACCOUNT}"
    region: eu-west-1
    generate:
      - count: 1000
        id_prefix: ew-
        description_prefix: spool-
        job: {{status: Suspended, priority: 5}}
"#
    );
    Seed::from_yaml(&text, None).unwrap()
}

fn two_target_plan() -> String {
    format!(
        r#"version: 1
targets:
  - name: prod
    account_id: "{ACCOUNT}"
    regions: [us-east-1, eu-west-1]
reason: "spool test"
limits: {{concurrency: 64, rate_limit: 10000, poll_rate_limit: 1000}}
jobs:
  - name: cancel-spool
    select:
      status: [Suspended]
      description: "spool-*"
    max_jobs: 2000
    set: Cancelled
  - name: cancel-extra
    targets: [prod/us-east-1]
    select:
      status: [Suspended]
      description: "extra-*"
    max_jobs: 200
    set: Cancelled
"#
    )
}

/// The journal's `job` lines as (target, entry, job id): the plan's jobs in plan order.
fn journal_rows(path: &Path) -> Vec<(String, String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["record"] == "job")
        .map(|line| {
            let field = |name: &str| line[name].as_str().unwrap().to_owned();
            (field("target"), field("entry"), field("job"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_two_targets_reports_each_targets_jobs_once_in_plan_order_in_every_format() {
    let sandbox = frozen(two_target_seed(), None).await;
    let dir = tempfile::tempdir().unwrap();
    let plan_path = dir.path().join("plan.yaml");
    std::fs::write(&plan_path, two_target_plan()).unwrap();
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    let mut cmd = s3plan(dir.path());
    cmd.env("AWS_ENDPOINT_URL_STS", sandbox.url())
        .arg("apply")
        .arg(&plan_path)
        .args([
            "--endpoint-url",
            &sandbox.url(),
            "--yes",
            "--progress",
            "never",
        ])
        .arg("--report")
        .arg(reports.join("run.json"))
        .arg("--report")
        .arg(reports.join("run.md"))
        .arg("--report")
        .arg(reports.join("run.xml"));
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let planned = journal_rows(&reports.join("run.json.journal.jsonl"));
    assert_eq!(planned.len(), 2_200);
    let us = "prod/us-east-1";
    let eu = "prod/eu-west-1";
    // Each target's jobs in plan order, per entry: what its Markdown section and JUnit suites must hold.
    let mut expected: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (target, entry, job) in &planned {
        let prefix = match (target.as_str(), entry.as_str()) {
            (t, "cancel-spool") if t == us => "ue-",
            (t, "cancel-spool") if t == eu => "ew-",
            (t, "cancel-extra") if t == us => "ux-",
            other => panic!("unexpected job line {other:?}"),
        };
        assert!(job.starts_with(prefix), "{target} {entry} {job}");
        expected
            .entry((target.clone(), entry.clone()))
            .or_default()
            .push(job.clone());
    }
    let sizes: Vec<usize> = expected.values().map(Vec::len).collect();
    assert_eq!(sizes, [1_000, 200, 1_000], "{:?}", expected.keys());

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("run.json")).unwrap()).unwrap();
    let listed: Vec<(String, String, String)> = json["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| {
            let field = |name: &str| job[name].as_str().unwrap().to_owned();
            (field("target"), field("entry"), field("job_id"))
        })
        .collect();
    assert_eq!(
        listed, planned,
        "the JSON report lists every job once, in plan order, with its target"
    );
    let summaries: Vec<(&str, u64, u64)> = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["summary"]["total"].as_u64().unwrap(),
                t["summary"]["applied"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(summaries, [(us, 1_200, 1_200), (eu, 1_000, 1_000)]);

    // The Markdown report: a section per target, a table per entry with jobs there.
    let markdown = std::fs::read_to_string(reports.join("run.md")).unwrap();
    let mut sections: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let (mut target, mut entry) = (String::new(), String::new());
    for line in markdown.lines() {
        if let Some(rest) = line.strip_prefix("## Target ") {
            target = rest.split(" (").next().unwrap().to_owned();
        } else if let Some(rest) = line.strip_prefix("### ") {
            entry = rest.split(" (").next().unwrap().to_owned();
        } else if line.starts_with("| `") {
            let job = line.split('`').nth(1).unwrap().to_owned();
            sections
                .entry((target.clone(), entry.clone()))
                .or_default()
                .push(job);
        }
    }
    assert_eq!(
        sections, expected,
        "each target's section lists its jobs once, per entry, in plan order"
    );
    assert!(
        markdown.contains(&format!(
            "## Target {us} (account {ACCOUNT}, us-east-1)\n\n1200 jobs: 1200 applied."
        )),
        "{markdown:.3000}"
    );
    assert!(
        markdown.contains("### cancel-spool (1000 jobs: 1000 applied)"),
        "{markdown:.3000}"
    );

    // The JUnit report: a suite per target and entry.
    let junit = std::fs::read_to_string(reports.join("run.xml")).unwrap();
    let mut suites: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for suite in junit.split("<testsuite name=\"").skip(1) {
        let name = suite.split('"').next().unwrap();
        let (target, entry) = name.rsplit_once('.').unwrap();
        let cases: Vec<String> = suite
            .split("<testcase name=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().to_owned())
            .collect();
        suites.insert((target.to_owned(), entry.to_owned()), cases);
    }
    assert_eq!(
        suites, expected,
        "each target and entry has a suite of its jobs, in plan order"
    );

    let mut files: Vec<String> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["run.json", "run.json.journal.jsonl", "run.md", "run.xml"],
        "no spool or temporary file is left beside the reports"
    );
}
