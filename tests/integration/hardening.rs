//! Regression tests of the hardening audit, each named after what it prevents, against the compiled binary
//! and the in-process sandbox: a journal shared by two runs, a retry starved by the queue, a gate polling
//! on after its credentials went bad, conflicting priorities, refusals named one at a time, signals that
//! did not work during set-up or at the prompt, and a closed display that stopped a run.
//!
//! Tests that signal or interrupt the binary wait for an observable event first (a journal record, a
//! sandbox call count, an accepted connection, the prompt on the terminal), never for a fixed time.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use s3plan::sandbox::{Credentials, Operation, Sandbox, SandboxHandle, ScriptedFault, Seed};
use serde_json::Value;

use crate::apply_support::TestRun;

use crate::support::ACCOUNT;

/// A small account: Suspended jobs, and a Preparing job that becomes Suspended after an hour of sandbox
/// time (a gate on it waits until the test advances the clock).
const SEED: &str = r#"
random_seed: 11
accounts:
  - id: "111122223333"
    jobs:
      - {id: susp-1, status: Suspended, description: susp-1}
      - {id: susp-2, status: Suspended, description: susp-2}
      - {id: susp-3, status: Suspended, description: susp-3}
      - {id: susp-4, status: Suspended, description: susp-4}
      - {id: prep-1, status: Preparing, description: prep-1, timings: {preparing: 1h}, progress: 0}
"#;

/// `n` Suspended jobs `job-00001`… described `bulk-00001`….
fn bulk_seed(n: usize) -> Seed {
    let text = format!(
        "accounts:\n  - id: \"{ACCOUNT}\"\n    generate:\n      - count: {n}\n        id_prefix: job-\n        description_prefix: bulk-\n        job:\n          status: Suspended\n          priority: 5\n          tasks: 100\n"
    );
    Seed::from_yaml(&text, None).unwrap()
}

/// A plan pinned to the account, polling fast, with `entries` under `jobs:` and `limits` as given.
fn plan(limits: &str, entries: &str) -> String {
    format!(
        "version: 1\naccount_id: \"{ACCOUNT}\"\nregion: us-east-1\nreason: \"hardening test\"\npoll_interval: 100ms\nlimits:\n{limits}\njobs:\n{entries}"
    )
}

const FAST: &str = "  rate_limit: 100\n  poll_rate_limit: 100\n";

async fn sandbox(seed: Seed) -> SandboxHandle {
    Sandbox::builder()
        .seed(seed)
        .speed(0.0)
        .start_time("2026-06-01T12:00:00Z".parse().unwrap())
        .start()
        .await
        .unwrap()
}

/// The binary with a clean environment: dummy credentials, `HOME` and the AWS config inside `dir`, no
/// instance metadata, no colour.
fn s3plan(dir: &Path) -> Command {
    clean(Command::new(env!("CARGO_BIN_EXE_s3plan")), dir)
}

/// `command` with the environment [`s3plan`] gives the binary.
fn clean(mut command: Command, dir: &Path) -> Command {
    let config = dir.join("aws-config");
    if !config.exists() {
        std::fs::write(&config, "").unwrap();
    }
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &config)
        .env("AWS_ACCESS_KEY_ID", "AKIDHARDENING")
        .env("AWS_SECRET_ACCESS_KEY", "hardening-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// Writes `text` as `dir/plan.yaml`.
fn write_plan(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("plan.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Waits (up to 60 s) for `child` to exit; kills it and fails the test otherwise.
fn wait_exit(child: &mut Child, what: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: the binary did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (up to 60 s) until `ready` holds.
async fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(tokio::time::Instant::now() < deadline, "never saw {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn journal_records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

fn kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_cannot_share_a_journal_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let first_sandbox = sandbox(Seed::from_yaml(SEED, None).unwrap()).await;
    let plan_path = write_plan(
        dir.path(),
        &plan(
            FAST,
            r#"  - name: confirm-after-prep
    job_id: "susp-1"
    wait_for: { job: "prep-1", status: Suspended, timeout: 60s }
    set: Ready
"#,
        ),
    );
    let report = dir.path().join("shared.json");
    let journal = dir.path().join("shared.json.journal.jsonl");
    let run = |url: &str| {
        let mut command = s3plan(dir.path());
        command
            .arg("apply")
            .arg(&plan_path)
            .args(["--endpoint-url", url, "--yes", "--report"])
            .arg(&report)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    };
    let mut first = run(&first_sandbox.url()).spawn().unwrap();
    // The first run holds the journal once it has written its `run` record; its gate keeps it going.
    wait_until("the first run's journal", || {
        journal_records(&journal)
            .iter()
            .any(|r| r["record"] == "run")
    })
    .await;

    // The second run talks to a sandbox of its own, so any call it made would show there.
    let second_sandbox = sandbox(Seed::from_yaml(SEED, None).unwrap()).await;
    let second = run(&second_sandbox.url()).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("another s3plan run is using the journal")
            && stderr.contains("shared.json.journal.jsonl"),
        "{stderr}"
    );
    let calls: u64 = second_sandbox.call_counts().values().sum();
    assert_eq!(calls, 0, "the refused run made calls");

    first_sandbox.advance(Duration::from_secs(3700));
    let code = wait_exit(&mut first, "the first run");
    let mut stderr = String::new();
    first
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(code, 0, "{stderr}");
    let records = journal_records(&journal);
    let runs = records.iter().filter(|r| r["record"] == "run").count();
    assert_eq!(runs, 1, "one run wrote the journal: {records:#?}");
    let audit = first_sandbox.audit();
    assert_eq!(audit.len(), 1, "one request for one job: {audit:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_started_together_never_share_a_default_report_or_journal() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox(Seed::from_yaml(SEED, None).unwrap()).await;
    let plan_path = write_plan(
        dir.path(),
        &plan(
            FAST,
            "  - {name: raise, job_id: \"susp-2\", priority: 42}\n",
        ),
    );
    // Without --report both pick `s3plan-report-plan-<second>.json`; started together they share a second.
    let mut children: Vec<Child> = (0..3)
        .map(|_| {
            s3plan(dir.path())
                .arg("apply")
                .arg(&plan_path)
                .args(["--endpoint-url", &sandbox.url(), "--yes"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in &mut children {
        assert_eq!(wait_exit(child, "a concurrent run"), 0);
    }
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let reports: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("s3plan-report-plan-") && n.ends_with(".json"))
        .collect();
    let journals = names
        .iter()
        .filter(|n| n.ends_with(".journal.jsonl"))
        .count();
    assert_eq!(reports.len(), 3, "{names:?}");
    assert_eq!(journals, 3, "{names:?}");
    for report in reports {
        let text = std::fs::read_to_string(dir.path().join(report)).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["summary"]["total"], 1, "{report}: {value:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_late_in_a_long_queue_is_not_starved_of_its_budget() {
    // 150 jobs at 15 changes/s: the 131st request goes out about 9 s after the first, long after the
    // 5 s retry budget (shortened from 120 s) would have run out had it counted from when the job queued.
    const JOBS: usize = 150;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox(bulk_seed(JOBS)).await;
    sandbox.script(ScriptedFault::internal_error(Operation::UpdateJobStatus).on_call(131));
    let plan_path = write_plan(
        dir.path(),
        &plan(
            "  rate_limit: 15\n  poll_rate_limit: 200\n  concurrency: 4\n",
            "  - name: cancel-bulk\n    select: {status: [Suspended], description: \"bulk-*\"}\n    max_jobs: 1000\n    set: Cancelled\n",
        ),
    );
    let output = s3plan(dir.path())
        .env("S3PLAN_RETRY_BUDGET", "5s")
        .arg("apply")
        .arg(&plan_path)
        .args(["--endpoint-url", &sandbox.url(), "--yes", "--report"])
        .arg(dir.path().join("report.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");

    let audit = sandbox.audit_for(Some(Operation::UpdateJobStatus), None);
    assert_eq!(audit.len(), JOBS + 1, "one retry");
    let failed = audit.iter().position(|e| !e.is_ok()).unwrap();
    assert_eq!(failed, 130, "the 131st request failed");
    let job = audit[failed].job_id.clone().unwrap();
    let retried = audit
        .iter()
        .rposition(|e| e.job_id.as_deref() == Some(job.as_str()))
        .unwrap();
    eprintln!(
        "figure: the retry was request {} of {}",
        retried + 1,
        JOBS + 1
    );
    // The retry goes ahead of the first attempts still queued: behind the few holding a slot, not all 19.
    assert!(
        retried < JOBS - 5,
        "the retry was request {} of {}",
        retried + 1,
        JOBS + 1
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(
        report["summary"]["applied"], JOBS,
        "{:#}",
        report["summary"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_whose_credentials_went_bad_fails_at_once_instead_of_polling_to_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::builder()
        .seed(Seed::from_yaml(SEED, None).unwrap())
        .speed(0.0)
        .credentials(Credentials::new("AKIDGATE", "gate-secret"))
        .start()
        .await
        .unwrap();
    // Credentials from a process the SDK runs again whenever they expire (they always do): once the
    // test creates `revoked`, the secret it hands out is wrong, as after a key rotation mid-incident.
    let revoked = dir.path().join("revoked");
    let script = dir.path().join("creds.sh");
    std::fs::write(
        &script,
        format!(
            "if [ -e '{}' ]; then secret=wrong; else secret=gate-secret; fi\nprintf '{{\"Version\":1,\"AccessKeyId\":\"AKIDGATE\",\"SecretAccessKey\":\"%s\",\"Expiration\":\"%s\"}}' \"$secret\" \"$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)\"\n",
            revoked.display()
        ),
    )
    .unwrap();
    let config = dir.path().join("aws-config");
    std::fs::write(
        &config,
        format!("[default]\ncredential_process = sh {}\n", script.display()),
    )
    .unwrap();
    let plan_path = write_plan(
        dir.path(),
        &plan(
            FAST,
            r#"  - name: confirm-after-prep
    job_id: "susp-1"
    wait_for: { job: "prep-1", status: Suspended, timeout: 60s }
    set: Ready
"#,
        ),
    );
    let mut command = s3plan(dir.path());
    command
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .arg("apply")
        .arg(&plan_path)
        .args(["--endpoint-url", &sandbox.url(), "--yes", "--report"])
        .arg(dir.path().join("report.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    // Resolution read both jobs, and the gate has polled with good credentials.
    wait_until("the gate polling", || {
        sandbox.calls(Operation::DescribeJob) >= 4
    })
    .await;
    std::fs::write(&revoked, "").unwrap();
    let revoked_at = Instant::now();
    let code = wait_exit(&mut child, "the gated run");
    eprintln!(
        "figure: exited {:?} after the credentials went bad (gate timeout 60 s)",
        revoked_at.elapsed()
    );
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(code, 1, "{stderr}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    let job = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["job_id"] == "susp-1")
        .unwrap();
    // Without the fix the job polls on and ends `timed_out` after the gate's full minute.
    assert_eq!(job["outcome"], "failed", "{job:#}");
    assert!(
        job.to_string().contains("SignatureDoesNotMatch"),
        "the failure names the credentials error: {job:#}"
    );
    assert!(sandbox.audit().is_empty(), "no change was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_entries_asking_one_job_for_different_priorities_are_refused_before_any_call() {
    let done = TestRun::new(&plan(
        FAST,
        r#"  - {name: lower, job_id: "susp-1", priority: 10}
  - {name: raise-all, select: {description: "susp-*"}, priority: 90}
"#,
    ))
    .seed_yaml(SEED)
    .run()
    .await;
    // miette wraps the message; both entries and both priorities are named.
    done.code(2)
        .stderr_has("s3plan::resolve::conflicting_priorities")
        .stderr_has("job susp-1 is asked for priority 10 by entry `lower` and 90 by entry")
        .stderr_has("`raise-all`");
    assert!(done.mutations().is_empty(), "no change was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_run_names_every_missing_job_and_every_selector_over_max_jobs() {
    let done = TestRun::new(&plan(
        FAST,
        r#"  - {name: ghosts, job_ids: ["nope-1", "susp-1", "nope-2"], set: Cancelled}
  - {name: wide, select: {description: "susp-*"}, max_jobs: 2, set: Cancelled}
  - {name: ghost, job_id: "nope-3", set: Cancelled}
"#,
    ))
    .seed_yaml(SEED)
    .run()
    .await;
    done.code(2)
        .stderr_has("4 problems")
        .stderr_has("entry `ghosts`: job nope-1 was not found")
        .stderr_has("entry `ghosts`: job nope-2 was not found")
        .stderr_has("entry `wide`: the selector matches 4 jobs, more than max_jobs (2)")
        .stderr_has("entry `ghost`: job nope-3 was not found");
    assert!(done.mutations().is_empty(), "no change was sent");
}

/// Accepts connections on a local port and never answers: an STS endpoint that hangs.
fn silent_endpoint() -> (String, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { break };
            held.push(stream);
            if tx.send(()).is_err() {
                break;
            }
        }
    });
    (url, rx)
}

/// A plan without `account_id`: the account comes from STS GetCallerIdentity.
fn unpinned_plan(dir: &Path) -> PathBuf {
    write_plan(
        dir,
        "version: 1\nreason: \"hardening test\"\njobs:\n  - {name: confirm, job_id: \"susp-1\", set: Ready}\n",
    )
}

#[test]
fn ctrl_c_and_sigterm_stop_a_run_waiting_on_the_sts_account_lookup() {
    for signal in ["INT", "TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let (sts, accepted) = silent_endpoint();
        // The S3 Control endpoint must take connections: set-up checks that it answers before STS is asked.
        let (endpoint, _connections) = silent_endpoint();
        let plan_path = unpinned_plan(dir.path());
        let mut child = s3plan(dir.path())
            .env("AWS_ENDPOINT_URL_STS", &sts)
            .arg("apply")
            .arg(&plan_path)
            .args(["--endpoint-url", &endpoint, "--yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        accepted
            .recv_timeout(Duration::from_secs(60))
            .expect("the binary asked STS for the account");
        kill(child.id(), signal);
        let sent = Instant::now();
        let code = wait_exit(&mut child, signal);
        eprintln!(
            "figure: SIG{signal} during the STS lookup, exit after {:?}",
            sent.elapsed()
        );
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(code, 130, "SIG{signal}: {stderr}");
        assert!(stderr.contains("interrupted before any change"), "{stderr}");
    }
}

#[test]
fn an_sts_endpoint_that_never_answers_times_out_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let (sts, _accepted) = silent_endpoint();
    // The S3 Control endpoint must take connections: set-up checks that it answers before STS is asked.
    let (endpoint, _connections) = silent_endpoint();
    let plan_path = unpinned_plan(dir.path());
    let mut child = s3plan(dir.path())
        .env("AWS_ENDPOINT_URL_STS", &sts)
        .env("S3PLAN_ATTEMPT_TIMEOUT", "1s")
        .arg("apply")
        .arg(&plan_path)
        .args(["--endpoint-url", &endpoint, "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let code = wait_exit(&mut child, "the STS lookup");
    eprintln!(
        "figure: a silent STS endpoint ends the run after {:?}",
        started.elapsed()
    );
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("failed to find the account id"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_at_the_confirmation_prompt_exits_at_once_without_enter() {
    // The prompt needs a terminal: util-linux `script` runs the binary on a pseudo-terminal.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox(Seed::from_yaml(SEED, None).unwrap()).await;
    let plan_path = write_plan(
        dir.path(),
        &plan(
            FAST,
            "  - {name: confirm, job_id: \"susp-1\", set: Ready}\n",
        ),
    );
    let pid_file = dir.path().join("pid");
    let inner = format!(
        "echo $$ > '{}'; exec '{}' apply '{}' --endpoint-url {} --report '{}'",
        pid_file.display(),
        env!("CARGO_BIN_EXE_s3plan"),
        plan_path.display(),
        sandbox.url(),
        dir.path().join("report.json").display(),
    );
    let mut child = clean(Command::new("script"), dir.path())
        .env("SHELL", "/bin/sh")
        .args(["-q", "-e", "-c", &inner, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut reader = BufReader::new(stdout);
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            match reader.read_until(b':', &mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    seen.push_str(&String::from_utf8_lossy(&buffer));
                    if seen.contains("Type `yes` to go on:") {
                        let _ = tx.send(());
                    }
                }
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the confirmation prompt");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    kill(pid, "INT");
    let sent = Instant::now();
    // Nothing is ever typed: before the fix the process waited for Enter.
    let code = wait_exit(&mut child, "the prompt");
    eprintln!(
        "figure: SIGINT at the prompt, exit after {:?}",
        sent.elapsed()
    );
    assert_eq!(code, 130);
    assert!(sandbox.audit().is_empty(), "no change was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_and_stderr_neither_stop_the_run_nor_panic() {
    const JOBS: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = sandbox(bulk_seed(JOBS)).await;
    let plan_path = write_plan(
        dir.path(),
        &plan(
            "  rate_limit: 200\n  poll_rate_limit: 200\n",
            "  - name: cancel-bulk\n    select: {status: [Suspended], description: \"bulk-*\"}\n    set: Cancelled\n",
        ),
    );
    let report = dir.path().join("report.json");
    let mut child = s3plan(dir.path())
        .arg("apply")
        .arg(&plan_path)
        .args(["--endpoint-url", &sandbox.url(), "--yes", "--report"])
        .arg(&report)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `s3plan apply … 2>&1 | head -n 1`: the reader goes away while the run goes on.
    drop(child.stdout.take());
    drop(child.stderr.take());
    let code = wait_exit(&mut child, "the run with a closed display");
    assert_eq!(code, 0, "exit 101 is a panic on a closed pipe");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(
        report["summary"]["applied"], JOBS,
        "{:#}",
        report["summary"]
    );
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), JOBS as u64);
}
