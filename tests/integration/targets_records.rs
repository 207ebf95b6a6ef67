//! The records of a run over several targets, through the binary against the sandbox: a saved plan over two
//! targets (the same job ids in two regions) applied in each, the journal naming every job's target, a
//! killed run resumed per (target, job), `s3plan report` of such a journal, and a plan with `targets:` (a
//! role assumed for a second account) saved, applied, reported and refused a resume under another `--target`.
//!
//! The two-region saved plan is made by the binary itself: `plan --out` once per region, joined into one file
//! over two named targets, so that one target's jobs can be listed in the reverse order of the other's.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use s3plan::sandbox::{Operation, SandboxHandle, Seed};
use serde_json::{Value, json};

use crate::journal::{journal_lines, wait, wait_for_intents};
use crate::support::{ACCOUNT, frozen, s3plan};

const US: &str = "us-east-1";
const EU: &str = "eu-west-1";

/// `n` Suspended jobs `job-00001`… in each of us-east-1 and eu-west-1: the same ids in both regions, so
/// anything keyed by job id alone would mix them up.
fn seed(n: usize) -> Seed {
    let region = |region: &str| {
        format!(
            "  - id: \"{ACCOUNT}\"\n    region: {region}\n    generate:\n      - count: {n}\n        id_prefix: job-\n        description_prefix: bulk-\n        job:\n          status: Suspended\n          priority: 5\n          tasks: 100\n"
        )
    };
    Seed::from_yaml(&format!("accounts:\n{}{}", region(US), region(EU)), None).unwrap()
}

/// A plan cancelling every Suspended `bulk-*` job, pinning neither account nor region.
fn plan(dir: &Path, rate: u32, concurrency: u32) -> PathBuf {
    let path = dir.join("plan.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\nreason: \"targets test\"\nlimits:\n  concurrency: {concurrency}\n  rate_limit: {rate}\n  poll_rate_limit: 200\njobs:\n  - name: cancel-bulk\n    select:\n      status: [Suspended]\n      description: \"bulk-*\"\n    max_jobs: 100000\n    set: Cancelled\n"
        ),
    )
    .unwrap();
    path
}

/// `plan PLAN --out` in `region`, read back as JSON.
fn saved_in(dir: &Path, plan: &Path, url: &str, region: &str) -> Value {
    let out = dir.join(format!("saved-{region}.json"));
    let output = s3plan(dir)
        .arg("plan")
        .arg(plan)
        .args([
            "--endpoint-url",
            url,
            "--account-id",
            ACCOUNT,
            "--region",
            region,
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

/// A saved plan over two named targets, `prod-us` and `prod-eu`, joined from one saved plan per region.
fn two_target_saved_plan(
    dir: &Path,
    sandbox: &SandboxHandle,
    rate: u32,
    concurrency: u32,
) -> PathBuf {
    let plan = plan(dir, rate, concurrency);
    let mut us = saved_in(dir, &plan, &sandbox.url(), US);
    let eu = saved_in(dir, &plan, &sandbox.url(), EU);
    assert_eq!(us["s3plan_saved_plan"], 4);
    assert_eq!(us["targets"][0]["name"], Value::Null, "{}", us["targets"]);
    let target = |name: &str, region: &str| json!({"name": name, "account_id": ACCOUNT, "region": region, "endpoint": sandbox.url(), "credentials": "chain"});
    us["targets"] = json!([target("prod-us", US), target("prod-eu", EU)]);
    let named = |jobs: &Value, name: &str| {
        jobs.as_array()
            .unwrap()
            .iter()
            .map(|job| {
                let mut job = job.clone();
                job["target"] = json!(name);
                job
            })
            .collect::<Vec<_>>()
    };
    // prod-eu's jobs in the reverse order: a run cut short has then acted on different ids in each target,
    // so a verdict keyed by job id alone would be credited to the wrong target's job.
    let mut jobs = named(&us["entries"][0]["jobs"], "prod-us");
    jobs.extend(
        named(&eu["entries"][0]["jobs"], "prod-eu")
            .into_iter()
            .rev(),
    );
    us["entries"][0]["jobs"] = Value::Array(jobs);
    let path = dir.join("saved.json");
    std::fs::write(&path, serde_json::to_string_pretty(&us).unwrap()).unwrap();
    path
}

/// Every job of both regions is Cancelled (or on its way) in the sandbox.
fn assert_all_cancelled(sandbox: &SandboxHandle, n: usize) {
    for region in [US, EU] {
        for i in 1..=n {
            let id = format!("job-{i:05}");
            let status = sandbox
                .job_status_in(ACCOUNT, region, &id)
                .map(|s| s.to_string())
                .unwrap_or_default();
            assert!(status.starts_with("Cancel"), "{id} in {region}: {status}");
        }
    }
}

/// A diagnostic as one line: miette's wrapping and its frame taken out.
fn unwrapped(stderr: &str) -> String {
    stderr
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A report of `rows` jobs, each applied; the failing rows are named, not the whole report.
fn assert_every_row_applied(report: &Value, rows: usize) {
    let jobs = report["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), rows, "{}", report["summary"]);
    let not_applied: Vec<String> = jobs
        .iter()
        .filter(|j| j["outcome"] != "applied")
        .map(|j| format!("{} {}: {}", j["job_id"], j["outcome"], j["reason"]))
        .collect();
    assert!(not_applied.is_empty(), "{not_applied:#?}");
}

fn journal_of(report: &Path) -> PathBuf {
    let mut name = report.as_os_str().to_owned();
    name.push(".journal.jsonl");
    PathBuf::from(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_over_two_targets_applies_in_each_and_its_journal_names_them() {
    const N: usize = 5;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(N), None).await;
    let saved = two_target_saved_plan(dir.path(), &sandbox, 50, 4);

    // Looked at from the file alone: both targets, as reviewed.
    let shown = s3plan(dir.path()).arg("plan").arg(&saved).output().unwrap();
    let stdout = String::from_utf8_lossy(&shown.stdout);
    assert!(
        stdout.contains("prod-us") && stdout.contains("prod-eu"),
        "{stdout}"
    );

    // A saved plan over targets takes no --region: each target names its own.
    let refused = s3plan(dir.path())
        .arg("apply")
        .arg(&saved)
        .args(["--endpoint-url", &sandbox.url(), "--region", US, "--yes"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_ne!(refused.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("--region cannot be used with a saved plan over targets"),
        "{stderr}"
    );
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 0);

    let report = dir.path().join("report.json");
    let output = s3plan(dir.path())
        .arg("apply")
        .arg(&saved)
        .args(["--endpoint-url", &sandbox.url(), "--yes", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_all_cancelled(&sandbox, N);
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 2 * N as u64);

    let lines = journal_lines(&journal_of(&report));
    assert_eq!(lines[0]["record"], "run");
    assert_eq!(lines[0]["format"], 3);
    let targets: Vec<(&str, &str)> = lines[0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["region"].as_str().unwrap()))
        .collect();
    assert_eq!(targets, [("prod-us", US), ("prod-eu", EU)]);
    for name in ["prod-us", "prod-eu"] {
        for record in ["job", "intent", "ack"] {
            let count = lines
                .iter()
                .filter(|l| l["record"] == record && l["target"] == name)
                .count();
            assert_eq!(count, N, "{record} lines of {name}");
        }
    }

    // `s3plan report` of that journal: one row per job of each target, each applied.
    let rebuilt = s3plan(dir.path())
        .arg("report")
        .arg(journal_of(&report))
        .output()
        .unwrap();
    assert_eq!(
        rebuilt.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    let rebuilt: Value = serde_json::from_slice(&rebuilt.stdout).unwrap();
    assert_every_row_applied(&rebuilt, 2 * N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_over_two_targets_resumes_each_job_in_its_own_target() {
    const N: usize = 60;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(N), None).await;
    let saved = two_target_saved_plan(dir.path(), &sandbox, 20, 4);
    let first = dir.path().join("first.json");
    let child = s3plan(dir.path())
        .arg("apply")
        .arg(&saved)
        .args(["--endpoint-url", &sandbox.url(), "--yes", "--report"])
        .arg(&first)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_intents(&journal_of(&first), 15).await;
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    let sent_before = sandbox.calls(Operation::UpdateJobStatus);

    // The journal of a run over two targets does not resume a run in one place: nothing is sent.
    let plan = dir.path().join("plan.yaml");
    let refused = s3plan(dir.path())
        .arg("apply")
        .arg(&plan)
        .args([
            "--endpoint-url",
            &sandbox.url(),
            "--account-id",
            ACCOUNT,
            "--region",
            US,
        ])
        .args(["--yes", "--resume"])
        .arg(journal_of(&first))
        .output()
        .unwrap();
    let stderr = unwrapped(&String::from_utf8_lossy(&refused.stderr));
    assert_ne!(refused.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("target prod-us (not in this run)")
            && stderr.contains("target prod-eu (not in this run)"),
        "{stderr}"
    );
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), sent_before);

    let second = dir.path().join("second.json");
    let child = s3plan(dir.path())
        .arg("apply")
        .arg(&saved)
        .args(["--endpoint-url", &sandbox.url(), "--yes", "--report"])
        .arg(&second)
        .arg("--resume")
        .arg(journal_of(&first))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = wait(child).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // Every job of each region changed, each exactly once: a job acknowledged in one region was neither
    // sent again there nor taken as done in the other.
    assert_all_cancelled(&sandbox, N);
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 2 * N as u64);

    // The second journal carries what the first did, each under its target.
    let lines = journal_lines(&journal_of(&second));
    let carried: Vec<&Value> = lines.iter().filter(|l| l["record"] == "carried").collect();
    assert!(!carried.is_empty(), "nothing carried");
    assert!(
        carried
            .iter()
            .all(|l| l["target"] == "prod-us" || l["target"] == "prod-eu"),
        "{carried:?}"
    );
    let rebuilt = s3plan(dir.path())
        .arg("report")
        .arg(journal_of(&second))
        .output()
        .unwrap();
    let rebuilt: Value = serde_json::from_slice(&rebuilt.stdout).unwrap();
    // The run's own report: every job of both targets applied, by one run or the other (or found already
    // cancelled when the first run's request had no recorded answer).
    let own = serde_json::from_str::<Value>(&std::fs::read_to_string(&second).unwrap()).unwrap();
    let own_jobs = own["jobs"].as_array().unwrap();
    assert_eq!(own_jobs.len(), 2 * N, "{}", own["summary"]);
    assert!(
        own_jobs
            .iter()
            .all(|j| j["outcome"] == "applied" || j["outcome"] == "unchanged"),
        "{}",
        own["summary"]
    );
    // Rebuilt from the journal alone: a job whose request the first run left unanswered and this run found
    // done by reading it has no answer in any journal, so it is the one kind of row not `applied` (one this
    // run found still Suspended got its request, and its answer, here).
    let uncertain = carried.iter().filter(|l| l["uncertain"] == true).count();
    let jobs = rebuilt["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2 * N, "{}", rebuilt["summary"]);
    let unanswered = jobs
        .iter()
        .filter(|j| j["error"]["code"] == "no_recorded_answer")
        .count();
    let applied = jobs.iter().filter(|j| j["outcome"] == "applied").count();
    assert_eq!(applied + unanswered, 2 * N, "{}", rebuilt["summary"]);
    assert!(unanswered <= uncertain, "{}", rebuilt["summary"]);
}

const OTHER: &str = "444455556666";

/// `prod` in us-east-1 and eu-west-1 (the base credentials' account) and `dr` in another account, reached by
/// assuming a role: a reindex job to cancel in each place, a backfill to confirm in `dr` after them.
fn three_target_seed() -> Seed {
    Seed::from_yaml(
        &format!(
            r#"
accounts:
  - id: "{ACCOUNT}"
    region: us-east-1
    jobs:
      - {{id: reindex-1, status: Active, description: reindex-us}}
  - id: "{ACCOUNT}"
    region: eu-west-1
    jobs:
      - {{id: reindex-1, status: Active, description: reindex-eu}}
  - id: "{OTHER}"
    region: us-west-2
    jobs:
      - {{id: reindex-1, status: Active, description: reindex-dr}}
      - {{id: backfill-1, status: Suspended, description: backfill-dr}}
"#
        ),
        None,
    )
    .unwrap()
}

fn three_target_plan(dir: &Path) -> PathBuf {
    let path = dir.join("targets.yaml");
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
    role_arn: arn:aws:iam::{OTHER}:role/s3plan-operator
jobs:
  - name: cancel-reindex
    select: {{status: [Active], description: "reindex-*"}}
    max_jobs: 10
    set: Cancelled
  - name: confirm-dr-backfill
    targets: [dr]
    job_id: backfill-1
    after: [cancel-reindex]
    set: Ready
"#
        ),
    )
    .unwrap();
    path
}

/// The binary with the sandbox as its STS too (for the role).
fn s3plan_sts(dir: &Path, sandbox: &SandboxHandle) -> std::process::Command {
    let mut cmd = s3plan(dir);
    cmd.env("AWS_ENDPOINT_URL_STS", sandbox.url());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_targets_plan_saved_applied_reported_and_resumed_keeps_every_target() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(three_target_seed(), None).await;
    let plan = three_target_plan(dir.path());
    let saved = dir.path().join("saved.json");
    let out = s3plan_sts(dir.path(), &sandbox)
        .args(["plan", "--endpoint-url", &sandbox.url(), "--out"])
        .arg(&saved)
        .arg(&plan)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The saved plan records every target with its credential source, and each job's target.
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(doc["s3plan_saved_plan"], 4);
    let targets: Vec<(&str, &str, &str)> = doc["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["account_id"].as_str().unwrap(),
                t["region"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        targets,
        [
            ("prod/us-east-1", ACCOUNT, US),
            ("prod/eu-west-1", ACCOUNT, EU),
            ("dr", OTHER, "us-west-2")
        ]
    );
    assert_eq!(
        doc["targets"][2]["credentials"]["role_arn"],
        format!("arn:aws:iam::{OTHER}:role/s3plan-operator")
    );
    let mut placed: Vec<(String, String)> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["jobs"].as_array().unwrap())
        .map(|j| {
            (
                j["target"].as_str().unwrap().to_owned(),
                j["job_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    placed.sort();
    assert_eq!(
        placed,
        [
            ("dr".to_owned(), "backfill-1".to_owned()),
            ("dr".to_owned(), "reindex-1".to_owned()),
            ("prod/eu-west-1".to_owned(), "reindex-1".to_owned()),
            ("prod/us-east-1".to_owned(), "reindex-1".to_owned()),
        ]
    );

    // Applied: the same id changed in each of the three places, the role assumed for dr.
    let assumed = sandbox.calls(Operation::AssumeRole);
    let report = dir.path().join("report.json");
    let out = s3plan_sts(dir.path(), &sandbox)
        .args([
            "apply",
            "--yes",
            "--endpoint-url",
            &sandbox.url(),
            "--report",
        ])
        .arg(&report)
        .arg(&saved)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        sandbox.calls(Operation::AssumeRole) > assumed,
        "dr's role assumed"
    );
    for (account, region) in [(ACCOUNT, US), (ACCOUNT, EU), (OTHER, "us-west-2")] {
        let status = sandbox.job_status_in(account, region, "reindex-1").unwrap();
        assert!(
            status.to_string().starts_with("Cancel"),
            "{region}: {status}"
        );
    }
    assert_eq!(
        sandbox
            .job_status_in(OTHER, "us-west-2", "backfill-1")
            .unwrap()
            .to_string(),
        "Ready"
    );

    // The journal names each job's target; `s3plan report` puts each row back in its target.
    let journal = journal_of(&report);
    let lines = journal_lines(&journal);
    let names: Vec<&str> = lines[0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["prod/us-east-1", "prod/eu-west-1", "dr"]);
    let mut intents: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l["record"] == "intent")
        .map(|l| (l["target"].as_str().unwrap(), l["job"].as_str().unwrap()))
        .collect();
    intents.sort();
    assert_eq!(
        intents,
        [
            ("dr", "backfill-1"),
            ("dr", "reindex-1"),
            ("prod/eu-west-1", "reindex-1"),
            ("prod/us-east-1", "reindex-1"),
        ]
    );
    let rebuilt = s3plan(dir.path())
        .arg("report")
        .arg(&journal)
        .output()
        .unwrap();
    assert_eq!(rebuilt.status.code(), Some(0));
    let rebuilt: Value = serde_json::from_slice(&rebuilt.stdout).unwrap();
    let mut rows: Vec<(String, String, String)> = rebuilt["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["target"].as_str().unwrap_or_default().to_owned(),
                j["region"].as_str().unwrap_or_default().to_owned(),
                j["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            ("dr".into(), "us-west-2".into(), "applied".into()),
            ("dr".into(), "us-west-2".into(), "applied".into()),
            ("prod/eu-west-1".into(), EU.into(), "applied".into()),
            ("prod/us-east-1".into(), US.into(), "applied".into()),
        ],
        "{rebuilt}"
    );

    // Resuming that journal with the plan restricted to `prod` is refused, naming the missing target.
    let sent = sandbox.calls(Operation::UpdateJobStatus);
    let out = s3plan_sts(dir.path(), &sandbox)
        .args([
            "apply",
            "--yes",
            "--endpoint-url",
            &sandbox.url(),
            "--target",
            "prod",
        ])
        .arg("--resume")
        .arg(&journal)
        .arg(&plan)
        .output()
        .unwrap();
    let stderr = unwrapped(&String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("target dr (not in this run)"), "{stderr}");
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), sent);
}
