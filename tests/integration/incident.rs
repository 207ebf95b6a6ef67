//! `s3plan jobs`, `s3plan cancel` and `s3plan confirm` through the binary against the sandbox: the selector
//! flags against the same `select:` in a plan, the outputs, `--watch`'s calls, and the guarantees of a run
//! (dry run, `--max-jobs`, refusal without a terminal, `--save-plan`, `--wait`, `--resume`).

use std::process::Stdio;
use std::time::Duration;

use s3plan::sandbox::{FaultAction, Operation, Sandbox, SandboxHandle, ScriptedFault, Seed};
use serde_json::Value;

use crate::apply_support::{ACCESS_KEY_ID, SECRET_ACCESS_KEY};

/// The sandbox's frozen start: seeded jobs are created relative to it.
const START: &str = "2026-06-01T12:00:00Z";

const SHARD_1: &str = "8d116ece-1738-47d9-bd9c-172411e20b8f";
const SHARD_2: &str = "90c192cf-d3ac-44af-8f21-ddb66cad4a26";
const SHARD_3: &str = "a170b338-3926-4059-b28c-105d1fb17c23";
const PRODUCTS_EU: &str = "d23f0824-128b-4f33-8c5c-7fd0a6a3a450";
const PRODUCTS_US: &str = "9531985d-5d9d-49f8-9818-e811892f902b";
const ARCHIVE: &str = "6513270e-269e-4d37-b2a7-4de452e6b438";

/// A sandbox (frozen clock) and a temp dir to run the binary in.
struct Bench {
    sandbox: SandboxHandle,
    dir: tempfile::TempDir,
}

/// What a run of the binary left.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "{self:#?}");
        self
    }

    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

impl Bench {
    async fn demo() -> Self {
        Self::with_seed(Seed::demo()).await
    }

    async fn seeded(yaml: &str) -> Self {
        Self::with_seed(Seed::from_yaml(yaml, None).unwrap()).await
    }

    async fn with_seed(seed: Seed) -> Self {
        let sandbox = Sandbox::builder()
            .seed(seed)
            .speed(0.0)
            .start_time(START.parse().unwrap())
            .start()
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("aws-config"), "").unwrap();
        Self { sandbox, dir }
    }

    /// The binary with `args`, aimed at the sandbox, with dummy credentials and no real AWS config.
    fn command(&self, args: &[&str], endpoint: bool) -> tokio::process::Command {
        let config = self.dir.path().join("aws-config");
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_s3plan"));
        command.current_dir(self.dir.path()).args(args);
        if endpoint {
            command.arg("--endpoint-url").arg(self.sandbox.url());
        }
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", &config)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCOUNT_ID", "111122223333")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    async fn run(&self, args: &[&str]) -> Out {
        collect(self.command(args, true).output().await.unwrap())
    }

    /// Runs without `--endpoint-url` (`validate`).
    async fn run_offline(&self, args: &[&str]) -> Out {
        collect(self.command(args, false).output().await.unwrap())
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    /// UpdateJobStatus calls: (job, requested status), in arrival order.
    fn status_updates(&self) -> Vec<(String, String)> {
        self.sandbox
            .audit()
            .into_iter()
            .filter(|e| e.operation == Operation::UpdateJobStatus)
            .map(|e| {
                (
                    e.job_id.clone().unwrap_or_default(),
                    e.params
                        .get("requestedJobStatus")
                        .cloned()
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Every mutating call (status and priority).
    fn mutations(&self) -> usize {
        self.sandbox
            .audit()
            .iter()
            .filter(|e| {
                matches!(
                    e.operation,
                    Operation::UpdateJobStatus | Operation::UpdateJobPriority
                )
            })
            .count()
    }

    /// The ids a plan with this `select:` resolves to (`s3plan plan --output json`), sorted.
    async fn plan_ids(&self, select: &str) -> Vec<String> {
        let plan = self.write(
            "same.yaml",
            &format!(
                "version: 1\njobs:\n  - name: same\n    select: {select}\n    max_jobs: 1000\n    set: Cancelled\n"
            ),
        );
        let out = self.run(&["plan", &plan, "--format", "json"]).await;
        out.code(0);
        let doc: Value = serde_json::from_str(&out.stdout).unwrap();
        let mut ids: Vec<String> = doc["entries"][0]["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["job_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    }
}

fn collect(output: std::process::Output) -> Out {
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn sorted(mut ids: Vec<&str>) -> Vec<String> {
    ids.sort_unstable();
    ids.into_iter().map(str::to_owned).collect()
}

#[tokio::test]
async fn each_selector_flag_lists_the_jobs_the_same_select_resolves_to() {
    let bench = Bench::demo().await;
    let every = bench.run(&["jobs", "--format", "ids"]).await;
    every.code(0);
    let all = every.lines().len();
    assert_eq!(all, 26, "{every:?}");
    let cases: [(&[&str], &str); 9] = [
        (&["--status", "Suspended"], "{status: [Suspended]}"),
        (&["--status", "Active,Paused"], "{status: [Active, Paused]}"),
        (
            &["--description", "reindex-*"],
            "{description: 'reindex-*'}",
        ),
        (
            &["--description", r"regex:^nightly-tagging-0000[1-3]$"],
            r#"{description: "regex:^nightly-tagging-0000[1-3]$"}"#,
        ),
        (
            &["--created-after", "2026-06-01T10:30:00Z"],
            "{created_after: 2026-06-01T10:30:00Z}",
        ),
        (
            &["--created-before", "2026-06-01T10:30:00Z"],
            "{created_before: 2026-06-01T10:30:00Z}",
        ),
        (
            &["--operation", "S3PutObjectCopy,S3ComputeObjectChecksum"],
            "{operation: [S3PutObjectCopy, S3ComputeObjectChecksum]}",
        ),
        (&["--priority", "20..40"], "{priority: {min: 20, max: 40}}"),
        (
            &["--tag", "team=search", "--tag", "env=prod"],
            "{tags: {team: search, env: prod}}",
        ),
    ];
    for (flags, select) in cases {
        let mut args = vec!["jobs", "--format", "ids"];
        args.extend_from_slice(flags);
        let listed = bench.run(&args).await;
        listed.code(0);
        let from_flags = sorted(listed.lines());
        let from_plan = bench.plan_ids(select).await;
        assert_eq!(from_flags, from_plan, "{flags:?} against select: {select}");
        // A filter that keeps everything or nothing would prove nothing.
        assert!(
            !from_flags.is_empty() && from_flags.len() < all,
            "{flags:?} selects {} of {all}",
            from_flags.len()
        );
    }
}

#[tokio::test]
async fn json_and_ids_list_the_newest_first_and_tags_are_read_only_for_rows_shown() {
    let bench = Bench::demo().await;
    let json = bench
        .run(&["jobs", "--status", "Active", "--format", "json"])
        .await;
    json.code(0);
    let jobs: Value = serde_json::from_str(&json.stdout).unwrap();
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), 4);
    let shard_3 = jobs.iter().find(|j| j["JobId"] == SHARD_3).unwrap();
    assert_eq!(shard_3["Status"], "Active");
    assert_eq!(shard_3["Priority"], 20);
    assert_eq!(shard_3["Description"], "reindex-catalog-shard-3");
    assert_eq!(shard_3["ProgressSummary"]["TotalNumberOfTasks"], 200000);
    assert!(
        shard_3["CreationTime"]
            .as_str()
            .unwrap()
            .starts_with("2026-06-01T")
    );
    // Compared as instants: RFC 3339 text with fractional seconds of different lengths does not sort.
    let created: Vec<jiff::Timestamp> = jobs
        .iter()
        .map(|j| j["CreationTime"].as_str().unwrap().parse().unwrap())
        .collect();
    let mut newest_first = created.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(created, newest_first);

    let ids = bench
        .run(&["jobs", "--status", "Active", "--format", "ids"])
        .await;
    ids.code(0);
    let json_ids: Vec<&str> = jobs.iter().map(|j| j["JobId"].as_str().unwrap()).collect();
    assert_eq!(ids.lines(), json_ids);

    assert_eq!(bench.sandbox.calls(Operation::GetJobTagging), 0);
    let limited = bench
        .run(&["jobs", "--limit", "3", "--tags", "--format", "json"])
        .await;
    limited.code(0);
    let limited: Value = serde_json::from_str(&limited.stdout).unwrap();
    let limited = limited.as_array().unwrap();
    assert_eq!(limited.len(), 3);
    assert!(limited.iter().all(|j| j["Tags"].is_array()), "{limited:?}");
    assert_eq!(
        bench.sandbox.calls(Operation::GetJobTagging),
        3,
        "one GetJobTagging per row shown"
    );

    let table = bench.run(&["jobs", "--status", "Active", "--tags"]).await;
    table.code(0);
    assert!(table.stdout.starts_with("JOB ID"), "{}", table.stdout);
    assert!(table.stdout.contains("team=search"), "{}", table.stdout);
    assert!(
        table.stdout.contains("4 jobs: 4 Active"),
        "{}",
        table.stdout
    );
}

#[tokio::test]
async fn a_job_id_shows_everything_describe_job_returns() {
    let bench = Bench::demo().await;
    let out = bench.run(&["jobs", ARCHIVE]).await;
    out.code(0);
    for fact in [
        "status        Suspended",
        "AwaitingConfirmation",
        "priority      10",
        "operation     S3PutObjectTagging",
        "retag-archive-2026-11",
        "manifest      arn:aws:s3:::",
        "role          arn:aws:iam::111122223333:role/",
        "tags          env=prod,team=archive",
        "created       2026-",
    ] {
        assert!(
            out.stdout.contains(fact),
            "{fact:?} missing:\n{}",
            out.stdout
        );
    }
    let json = bench
        .run(&[
            "jobs",
            ARCHIVE,
            "92276658-1e27-41c0-8a6a-63ec24ede6a4",
            "--format",
            "json",
        ])
        .await;
    json.code(0);
    let jobs: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(jobs[0]["JobId"], ARCHIVE);
    assert_eq!(jobs[0]["SuspendedCause"], "AwaitingConfirmation");
    assert_eq!(jobs[1]["Status"], "Complete");
    assert!(jobs[1]["TerminationDate"].is_string(), "{jobs:#}");

    let missing = bench.run(&["jobs", "no-such-job-1", ARCHIVE]).await;
    missing.code(2);
    assert!(
        missing.stderr.contains("job no-such-job-1 was not found"),
        "{missing:?}"
    );
    assert!(
        missing.stdout.contains(ARCHIVE),
        "the other jobs are still shown"
    );
}

#[tokio::test]
async fn watch_sweeps_with_list_jobs_only_and_marks_changes() {
    let bench = Bench::demo().await;
    let child = bench
        .command(
            &["jobs", "--watch", "100ms", "--status", "Active,Cancelling"],
            true,
        )
        .spawn()
        .unwrap();
    let wait_for_lists = |n: u64| {
        let sandbox = &bench.sandbox;
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while sandbox.calls(Operation::ListJobs) < n {
                assert!(tokio::time::Instant::now() < deadline, "no {n} ListJobs");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    wait_for_lists(1).await;
    // Cancelling a running job between rounds: the next round marks it.
    let client = crate::sandbox_support::client(&bench.sandbox.url());
    client
        .update_job_status()
        .account_id("111122223333")
        .job_id(SHARD_1)
        .requested_job_status(aws_sdk_s3control::types::RequestedJobStatus::Cancelled)
        .send()
        .await
        .unwrap();
    wait_for_lists(3).await;
    let pid = child.id().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = collect(child.wait_with_output().await.unwrap());
    output.code(0);
    assert_eq!(
        bench.sandbox.calls(Operation::DescribeJob),
        0,
        "never DescribeJob per job"
    );
    assert_eq!(bench.sandbox.calls(Operation::GetJobTagging), 0);
    assert!(output.stdout.contains("round 2"), "{}", output.stdout);
    let marked = output
        .stdout
        .lines()
        .find(|l| l.contains(SHARD_1) && l.contains("Cancelling (was Active)"));
    assert!(
        marked.is_some_and(|l| l.starts_with('*')),
        "{}",
        output.stdout
    );
}

#[tokio::test]
async fn a_watch_reads_each_jobs_tags_once() {
    let bench = Bench::demo().await;
    let child = bench
        .command(
            &[
                "jobs",
                "--watch",
                "100ms",
                "--status",
                "Active",
                "--tag",
                "team=search",
                "--tags",
            ],
            true,
        )
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while bench.sandbox.calls(Operation::ListJobs) < 3 {
        assert!(tokio::time::Instant::now() < deadline, "no 3 rounds");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = child.id().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = collect(child.wait_with_output().await.unwrap());
    output.code(0);
    // Four Active candidates, three of them team=search and shown with their tags: four reads in all,
    // however many rounds ran.
    assert_eq!(
        bench.sandbox.calls(Operation::GetJobTagging),
        4,
        "{}",
        output.stdout
    );
    assert_eq!(bench.sandbox.calls(Operation::DescribeJob), 0);
    assert!(
        output.stdout.contains("3 jobs: 3 Active"),
        "{}",
        output.stdout
    );
}

#[tokio::test]
async fn a_watch_round_that_fails_for_good_is_reported_and_the_next_one_lists() {
    let bench = Bench::demo().await;
    // Every attempt of the first round (the read retry budget is 8 attempts) answers 500.
    bench.sandbox.script(ScriptedFault {
        times: 8,
        ..ScriptedFault::new(Some(Operation::ListJobs), FaultAction::InternalError)
    });
    let child = bench
        .command(&["jobs", "--watch", "100ms", "--status", "Active"], true)
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    // 8 failed attempts, then two rounds that list.
    while bench.sandbox.calls(Operation::ListJobs) < 10 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watch stopped listing"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = child.id().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = collect(child.wait_with_output().await.unwrap());
    output.code(0);
    assert!(
        output.stderr.contains("round 1: ListJobs failed")
            && output.stderr.contains("trying again next round"),
        "{}",
        output.stderr
    );
    assert!(output.stdout.contains("round 2"), "{}", output.stdout);
    assert!(output.stdout.contains(SHARD_1), "{}", output.stdout);
}

#[tokio::test]
async fn cancel_by_ids_and_by_selector_changes_exactly_those_jobs() {
    let bench = Bench::demo().await;
    let out = bench
        .run(&[
            "cancel",
            SHARD_1,
            PRODUCTS_EU,
            "--yes",
            "--reason",
            "INC-2041",
            "--report",
            "ids.json",
        ])
        .await;
    out.code(0);
    assert!(
        out.stderr.contains("plan      s3plan cancel"),
        "{}",
        out.stderr
    );
    let mut updates = bench.status_updates();
    updates.sort();
    let mut expected = vec![
        (SHARD_1.to_owned(), "Cancelled".to_owned()),
        (PRODUCTS_EU.to_owned(), "Cancelled".to_owned()),
    ];
    expected.sort();
    assert_eq!(updates, expected);
    let reasons: Vec<String> = bench
        .sandbox
        .audit_for(Some(Operation::UpdateJobStatus), None)
        .iter()
        .map(|e| {
            e.params
                .get("statusUpdateReason")
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(reasons, ["INC-2041", "INC-2041"]);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(bench.path("ids.json")).unwrap()).unwrap();
    assert_eq!(report["summary"]["applied"], 2, "{report:#}");

    let bench = Bench::demo().await;
    let out = bench
        .run(&[
            "cancel",
            "--description",
            "reindex-catalog-*",
            "--status",
            "Active",
            "--yes",
            "--report",
            "sel.md",
        ])
        .await;
    out.code(0);
    let mut touched: Vec<String> = bench
        .status_updates()
        .into_iter()
        .map(|(job, _)| job)
        .collect();
    touched.sort();
    assert_eq!(touched, sorted(vec![SHARD_1, SHARD_2, SHARD_3]));
    assert!(
        bench
            .status_updates()
            .iter()
            .all(|(_, status)| status == "Cancelled")
    );
    let markdown = std::fs::read_to_string(bench.path("sel.md")).unwrap();
    assert!(markdown.contains(SHARD_2), "{markdown}");
}

#[tokio::test]
async fn confirm_by_ids_and_by_selector_sets_ready() {
    let bench = Bench::demo().await;
    bench
        .run(&["confirm", ARCHIVE, "--yes", "--report", "r.json"])
        .await
        .code(0);
    assert_eq!(
        bench.status_updates(),
        [(ARCHIVE.to_owned(), "Ready".to_owned())]
    );

    let bench = Bench::demo().await;
    bench
        .run(&[
            "confirm",
            "--status",
            "Suspended",
            "--description",
            "reindex-products-*",
            "--yes",
            "--report",
            "r.json",
        ])
        .await
        .code(0);
    let mut updates = bench.status_updates();
    updates.sort();
    let mut expected = vec![
        (PRODUCTS_EU.to_owned(), "Ready".to_owned()),
        (PRODUCTS_US.to_owned(), "Ready".to_owned()),
    ];
    expected.sort();
    assert_eq!(updates, expected);
}

#[tokio::test]
async fn dry_run_reads_and_makes_no_mutation() {
    let bench = Bench::demo().await;
    let out = bench
        .run(&[
            "cancel",
            "--description",
            "reindex-*",
            "--dry-run",
            "--format",
            "json",
            "--report",
            "dry.json",
        ])
        .await;
    out.code(0);
    assert!(
        out.stderr.contains("dry run (no changes)"),
        "{}",
        out.stderr
    );
    assert_eq!(bench.mutations(), 0, "{:?}", bench.sandbox.audit());
    assert!(bench.sandbox.calls(Operation::ListJobs) >= 1);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(bench.path("dry.json")).unwrap()).unwrap();
    assert!(
        report["summary"]["would_apply"].as_u64().unwrap() >= 3,
        "{report:#}"
    );
    // `--output json` puts the same report on stdout, as for `apply`.
    let stdout: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(stdout["summary"], report["summary"]);
    assert_eq!(bench.mutations(), 0);
}

#[tokio::test]
async fn more_matches_than_max_jobs_are_refused_naming_the_count_and_the_flag() {
    let bench = Bench::demo().await;
    let out = bench
        .run(&[
            "cancel",
            "--status",
            "Suspended",
            "--max-jobs",
            "3",
            "--yes",
        ])
        .await;
    out.code(2);
    assert!(
        out.stderr
            .contains("matches 15 jobs, more than --max-jobs 3"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--max-jobs 15"), "{}", out.stderr);
    assert_eq!(bench.mutations(), 0);

    let out = bench
        .run(&["cancel", SHARD_1, SHARD_2, "--max-jobs", "1", "--yes"])
        .await;
    out.code(2);
    assert!(
        out.stderr.contains("names 2 jobs, more than --max-jobs 1"),
        "{}",
        out.stderr
    );
    assert_eq!(bench.mutations(), 0);
    assert_eq!(
        bench.sandbox.calls(Operation::DescribeJob),
        0,
        "ids over the limit are refused before any call"
    );
}

#[tokio::test]
async fn without_a_terminal_and_without_yes_nothing_changes() {
    let bench = Bench::demo().await;
    let out = bench.run(&["cancel", "--status", "Active"]).await;
    out.code(2);
    assert!(
        out.stderr.contains("stdin is not a terminal"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("set Cancelled"),
        "the overview comes first:\n{}",
        out.stderr
    );
    assert_eq!(bench.mutations(), 0);
}

#[tokio::test]
async fn ids_and_selector_flags_together_or_neither_are_usage_errors() {
    let bench = Bench::demo().await;
    let both = bench
        .run(&["cancel", SHARD_1, "--status", "Active", "--yes"])
        .await;
    both.code(2);
    assert!(
        both.stderr.contains("cannot be used with"),
        "{}",
        both.stderr
    );
    let neither = bench.run(&["confirm", "--yes"]).await;
    neither.code(2);
    assert!(
        neither
            .stderr
            .contains("needs job ids or at least one selector flag"),
        "{}",
        neither.stderr
    );
    let bad = bench.run(&["jobs", "--status", "Runing"]).await;
    bad.code(2);
    assert!(bad.stderr.contains("not a job status"), "{}", bad.stderr);
    assert_eq!(bench.sandbox.audit().len(), 0);
}

#[tokio::test]
async fn a_saved_plan_validates_and_applied_does_the_same_thing() {
    let flags = [
        "--description",
        "reindex-*",
        "--tag",
        "team=search",
        "--status",
        "Active,Suspended",
        "--reason",
        "INC-2041: \"stop\"",
        "--rate-limit",
        "7",
    ];
    let by_flags = Bench::demo().await;
    let mut args = vec![
        "cancel",
        "--yes",
        "--report",
        "a.json",
        "--save-plan",
        "inc.yaml",
    ];
    args.extend_from_slice(&flags);
    by_flags.run(&args).await.code(0);
    let saved = std::fs::read_to_string(by_flags.path("inc.yaml")).unwrap();
    assert!(
        saved.starts_with("# Written by: s3plan cancel --yes"),
        "{saved}"
    );
    assert!(saved.contains("rate_limit: 7"), "{saved}");

    let by_plan = Bench::demo().await;
    let plan = by_plan.write("inc.yaml", &saved);
    by_plan.run_offline(&["validate", &plan]).await.code(0);
    by_plan
        .run(&["apply", &plan, "--yes", "--report", "b.json"])
        .await
        .code(0);
    let mut expected = by_flags.status_updates();
    let mut actual = by_plan.status_updates();
    expected.sort();
    actual.sort();
    assert_eq!(expected.len(), 5, "{expected:?}");
    assert_eq!(actual, expected);
    let reasons: Vec<String> = by_plan
        .sandbox
        .audit_for(Some(Operation::UpdateJobStatus), None)
        .iter()
        .map(|e| {
            e.params
                .get("statusUpdateReason")
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert!(
        reasons.iter().all(|r| r == "INC-2041: \"stop\""),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn confirm_wait_confirms_a_preparing_job_once_it_is_suspended() {
    let bench = Bench::seeded(
        r#"
accounts:
  - id: "111122223333"
    jobs:
      - {id: prep-1, status: Preparing, description: prep-1, timings: {preparing: 1h}, progress: 0}
"#,
    )
    .await;
    let child = bench
        .command(
            &[
                "confirm",
                "prep-1",
                "--wait",
                "--yes",
                "--poll-interval",
                "100ms",
                "--report",
                "w.json",
            ],
            true,
        )
        .spawn()
        .unwrap();
    // The gate has polled the job at least once while it is still Preparing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while bench.sandbox.calls(Operation::DescribeJob) < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the gate never polled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        bench.mutations(),
        0,
        "nothing is confirmed before Suspended"
    );
    bench.sandbox.advance(Duration::from_secs(2 * 3600));
    let out = collect(child.wait_with_output().await.unwrap());
    out.code(0);
    assert_eq!(
        bench.status_updates(),
        [("prep-1".to_owned(), "Ready".to_owned())]
    );
    assert!(
        out.stderr
            .contains("until own status Suspended (now Preparing"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn resume_reads_a_cancel_journal() {
    let bench = Bench::demo().await;
    bench
        .run(&[
            "cancel",
            SHARD_1,
            SHARD_2,
            "--yes",
            "--report",
            "first.json",
        ])
        .await
        .code(0);
    assert_eq!(bench.status_updates().len(), 2);
    let journal = bench.path("first.json.journal.jsonl");
    let again = bench
        .run(&[
            "cancel",
            SHARD_1,
            SHARD_2,
            "--yes",
            "--report",
            "second.json",
            "--resume",
            &journal,
        ])
        .await;
    again.code(0);
    assert!(
        again.stderr.contains("resume: 2 jobs acted on"),
        "{}",
        again.stderr
    );
    assert_eq!(
        bench.status_updates().len(),
        2,
        "acknowledged jobs are not called again"
    );

    let other = bench
        .run(&[
            "cancel",
            SHARD_3,
            "--yes",
            "--report",
            "third.json",
            "--resume",
            &journal,
        ])
        .await;
    other.code(2);
    assert!(
        other.stderr.contains("the plan changed"),
        "{}",
        other.stderr
    );
    assert_eq!(bench.status_updates().len(), 2);
}
