//! The write-ahead journal against the real binary and an in-process sandbox: SIGKILL at random points
//! (every request the server received has an intent; acknowledged ones have acks, bar those in flight),
//! Ctrl-C once and twice, resume and rerun, and `s3plan report` over a cut-short journal.
//!
//! The journal helpers here (`seed`, `plan`, `apply`, `read_journal`, `check_invariant`, ...) are also used
//! by `faults.rs`, `hostile.rs` and `bad_answers.rs`; what every test file shares is in `support.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use s3plan::sandbox::{AuditEntry, FaultAction, Operation, SandboxHandle, ScriptedFault, Seed};
use serde_json::Value;

pub use crate::support::{ACCOUNT, s3plan};
use crate::support::{StderrLines, frozen, signal, wait_until};

/// A seed with `n` Suspended jobs `job-00001`… described `bulk-00001`….
pub fn seed(n: usize) -> Seed {
    let text = format!(
        "accounts:\n  - id: \"{ACCOUNT}\"\n    generate:\n      - count: {n}\n        id_prefix: job-\n        description_prefix: bulk-\n        job:\n          status: Suspended\n          priority: 5\n          tasks: 100\n"
    );
    Seed::from_yaml(&text, None).unwrap()
}

/// A plan cancelling every Suspended `bulk-*` job.
pub fn plan(dir: &Path, rate: u32, concurrency: u32) -> PathBuf {
    plan_selecting(dir, rate, concurrency, "[Suspended]")
}

/// A plan cancelling every `bulk-*` job in one of `statuses` (a YAML list).
pub fn plan_selecting(dir: &Path, rate: u32, concurrency: u32, statuses: &str) -> PathBuf {
    let path = dir.join("plan.yaml");
    std::fs::write(
        &path,
        format!(
            "version: 1\naccount_id: \"{ACCOUNT}\"\nregion: us-east-1\nreason: \"journal test\"\nlimits:\n  concurrency: {concurrency}\n  rate_limit: {rate}\n  poll_rate_limit: 200\njobs:\n  - name: cancel-bulk\n    select:\n      status: {statuses}\n      description: \"bulk-*\"\n    max_jobs: 100000\n    set: Cancelled\n"
        ),
    )
    .unwrap();
    path
}

/// `apply PLAN --endpoint-url URL --yes --report DIR/report.json` plus `extra`.
pub fn apply(dir: &Path, plan: &Path, url: &str, extra: &[&str]) -> Command {
    let mut cmd = s3plan(dir);
    cmd.arg("apply")
        .arg(plan)
        .args(["--endpoint-url", url, "--yes", "--report"])
        .arg(dir.join("report.json"))
        .args(extra);
    cmd
}

/// The journal of the run reporting to `dir/report.json`.
pub fn journal_path(dir: &Path) -> PathBuf {
    dir.join("report.json.journal.jsonl")
}

/// Every record of a journal, read as the product reads it: a last line cut short by a kill is dropped, a
/// bad line anywhere else fails the test (the product refuses such a journal). No journal yet: no records.
pub fn journal_lines(path: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(record) => records.push(record),
            Err(_) if i + 1 == lines.len() => {}
            Err(error) => panic!(
                "{}: line {} is not a journal record ({error}): {line}",
                path.display(),
                i + 1
            ),
        }
    }
    records
}

/// The journal's records (see [`journal_lines`]), after checking that the product's own reader accepts the
/// journal: `s3plan report JOURNAL --format json` succeeds and counts, per job, as many attempts as there
/// are intents.
pub fn read_journal(path: &Path) -> Vec<Value> {
    let lines = journal_lines(path);
    if !path.exists() {
        // Killed before the journal was created: nothing was sent either (checked by the callers).
        return lines;
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let output = s3plan(dir)
        .arg("report")
        .arg(path)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "s3plan report refuses {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let rebuilt: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut intents: HashMap<&str, u64> = HashMap::new();
    for line in &lines {
        if line["record"] == "intent" {
            *intents.entry(line["job"].as_str().unwrap()).or_default() += 1;
        }
    }
    let carried: Vec<&str> = lines
        .iter()
        .filter(|l| l["record"] == "carried")
        .filter_map(|l| l["job"].as_str())
        .collect();
    for job in rebuilt["jobs"].as_array().unwrap() {
        let id = job["job_id"].as_str().unwrap();
        if carried.contains(&id) {
            continue;
        }
        assert_eq!(
            job["attempts"].as_u64().unwrap(),
            intents.get(id).copied().unwrap_or(0),
            "{id}: the product's reader and the journal's lines disagree: {job}"
        );
    }
    lines
}

/// Checks that the journal holds at least one intent per mutating request that reached the server, those
/// still unanswered included (the audit log only lists answered ones; the call counters count arrivals).
pub fn check_arrivals(sandbox: &SandboxHandle, lines: &[Value]) {
    let arrived =
        sandbox.calls(Operation::UpdateJobStatus) + sandbox.calls(Operation::UpdateJobPriority);
    let intents = lines.iter().filter(|l| l["record"] == "intent").count() as u64;
    assert!(
        intents >= arrived,
        "{arrived} mutating requests reached the server, the journal holds {intents} intents"
    );
}

/// Mutating audit entries (UpdateJobStatus/UpdateJobPriority).
pub fn mutating(audit: &[AuditEntry]) -> Vec<&AuditEntry> {
    audit
        .iter()
        .filter(|e| {
            matches!(
                e.operation,
                Operation::UpdateJobStatus | Operation::UpdateJobPriority
            )
        })
        .collect()
}

/// Checks the journal invariant; returns (requests received, missing acks).
pub fn check_invariant(audit: &[AuditEntry], lines: &[Value]) -> (usize, usize) {
    let mut intents: HashMap<(String, String), u64> = HashMap::new();
    let mut acks: HashMap<(String, String), u64> = HashMap::new();
    for line in lines {
        let key = (
            line["job"].as_str().unwrap_or_default().to_owned(),
            line["call"].as_str().unwrap_or_default().to_owned(),
        );
        match line["record"].as_str() {
            Some("intent") => *intents.entry(key).or_default() += 1,
            Some("ack") => *acks.entry(key).or_default() += 1,
            _ => {}
        }
    }
    let mut received: HashMap<(String, String), u64> = HashMap::new();
    let mutating = mutating(audit);
    for entry in &mutating {
        let key = (
            entry.job_id.clone().unwrap_or_default(),
            entry.operation.to_string(),
        );
        *received.entry(key).or_default() += 1;
    }
    let mut missing_acks = 0;
    for (key, n) in &received {
        let intended = intents.get(key).copied().unwrap_or(0);
        assert!(
            intended >= *n,
            "{key:?}: the server received {n} request(s) but the journal holds {intended} intent(s)"
        );
        let acked = acks.get(key).copied().unwrap_or(0);
        missing_acks += n.saturating_sub(acked) as usize;
    }
    for (key, n) in &acks {
        let intended = intents.get(key).copied().unwrap_or(0);
        assert!(
            intended >= *n,
            "{key:?}: {n} ack(s) for {intended} intent(s)"
        );
    }
    (mutating.len(), missing_acks)
}

/// SIGKILLs `child` now and reaps it (a child that has finished already is fine).
fn kill_now(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Makes the UpdateJobStatus calls `first ..= first + n - 1` (counted from now) hang for `ms` in the sandbox:
/// with `n` at the run's concurrency, the run cannot get past them, so a test acting once they arrived acts
/// mid-run whatever the machine's load.
fn stall(sandbox: &SandboxHandle, first: u64, n: u64, ms: u64) {
    sandbox.script(
        ScriptedFault::new(Some(Operation::UpdateJobStatus), FaultAction::Delay { ms })
            .on_call(first)
            .times(n),
    );
}

/// Waits until the sandbox has seen `n` UpdateJobStatus requests arrive.
async fn wait_for_updates(sandbox: &SandboxHandle, n: u64) {
    wait_until(&format!("{n} UpdateJobStatus requests"), || {
        sandbox.calls(Operation::UpdateJobStatus) >= n
    })
    .await;
}

/// The journal invariant, with SIGKILL at 20 random moments of a 300-job cancel. A moment is a number of
/// requests received, not a time: the run is killed once `k + j` requests arrived, where calls `k+1..=k+8`
/// hang in the sandbox (so the run is still going, with `j` of them in flight, whatever the machine's load).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigkill_at_any_moment_every_request_received_has_an_intent() {
    const JOBS: usize = 300;
    const CONCURRENCY: u32 = 8;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20261129);
    let mut total_received = 0;
    let mut total_missing = 0;
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = frozen(seed(JOBS), Some(&dir.path().join("audit.jsonl"))).await;
        let k: u64 = rng.random_range(0..280);
        let j: u64 = rng.random_range(0..=u64::from(CONCURRENCY));
        stall(&sandbox, k + 1, u64::from(CONCURRENCY), 30_000);
        let plan = plan(dir.path(), 600, CONCURRENCY);
        let child = apply(dir.path(), &plan, &sandbox.url(), &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_updates(&sandbox, k + j).await;
        kill_now(child);
        let audit = sandbox.audit();
        let lines = read_journal(&journal_path(dir.path()));
        check_arrivals(&sandbox, &lines);
        let (received, missing) = check_invariant(&audit, &lines);
        assert!(
            missing <= CONCURRENCY as usize,
            "round {round}: {missing} acknowledged requests have no ack (at most {CONCURRENCY} in flight)"
        );
        assert!(
            received < JOBS,
            "round {round}: the run finished before its kill"
        );
        total_received += received;
        total_missing += missing;
        // Not `shutdown`: the stalled requests would hold it for their whole delay.
        drop(sandbox);
    }
    eprintln!(
        "kill test: 20 kills mid-run, {total_received} requests answered, {total_missing} acks lost in flight"
    );
}

/// Waits until the journal holds `n` intents.
pub async fn wait_for_intents(path: &Path, n: usize) {
    wait_until(&format!("{n} intents in the journal"), || {
        journal_lines(path)
            .iter()
            .filter(|l| l["record"] == "intent")
            .count()
            >= n
    })
    .await;
}

/// Waits for `child` off the runtime.
pub async fn wait(child: Child) -> std::process::Output {
    tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap()
}

pub fn report(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The report's jobs by id.
pub fn jobs_by_id(report: &Value) -> HashMap<String, Value> {
    report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["job_id"].as_str().unwrap().to_owned(), j.clone()))
        .collect()
}

/// The job's status in the sandbox, as a string.
pub fn status_in(sandbox: &SandboxHandle, job: &str) -> String {
    sandbox
        .job_status(ACCOUNT, job)
        .map(|s| s.to_string())
        .unwrap_or_default()
}

async fn started(dir: &Path, sandbox: &SandboxHandle, rate: u32, extra: &[&str]) -> Child {
    let plan = plan(dir, rate, 4);
    apply(dir, &plan, &sandbox.url(), extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

async fn frozen_sandbox(dir: &Path, jobs: usize) -> SandboxHandle {
    frozen(seed(jobs), Some(&dir.join("audit.jsonl"))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ctrl_c_finishes_calls_in_flight_and_reports_the_rest_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen_sandbox(dir.path(), 200).await;
    let child = started(dir.path(), &sandbox, 40, &[]).await;
    wait_for_intents(&journal_path(dir.path()), 20).await;
    signal(child.id(), "INT");
    let output = wait(child).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");

    let report = report(&dir.path().join("report.json"));
    assert_eq!(report["interrupted"], true);
    let jobs = jobs_by_id(&report);
    assert_eq!(jobs.len(), 200);
    let mut applied = 0;
    let mut not_run = 0;
    for (id, job) in &jobs {
        match job["outcome"].as_str().unwrap() {
            "applied" => {
                applied += 1;
                assert!(status_in(&sandbox, id).starts_with("Cancel"), "{id}");
            }
            "not_run" => {
                not_run += 1;
                assert_eq!(status_in(&sandbox, id), "Suspended", "{id}");
                assert!(
                    sandbox
                        .audit_for(Some(Operation::UpdateJobStatus), Some(id))
                        .is_empty()
                );
            }
            other => panic!("{id}: unexpected outcome {other}"),
        }
    }
    assert!(
        applied >= 20 && not_run > 0,
        "{applied} applied, {not_run} not run"
    );
    let (received, missing) =
        check_invariant(&sandbox.audit(), &journal_lines(&journal_path(dir.path())));
    assert_eq!(
        received, applied,
        "every request received is an applied job"
    );
    assert_eq!(missing, 0, "a graceful stop records every answer");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ctrl_c_stop_at_once_and_leave_the_journal_consistent() {
    const STALL_MS: u64 = 30_000;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen_sandbox(dir.path(), 200).await;
    // Calls 11-14 hang: with a concurrency of 4, four requests are in flight and the run can go no further.
    stall(&sandbox, 11, 4, STALL_MS);
    // The attempt timeout beyond the stall, so only the second Ctrl-C can end the held calls early.
    let plan = plan(dir.path(), 40, 4);
    let mut child = apply(dir.path(), &plan, &sandbox.url(), &[])
        .env("S3PLAN_ATTEMPT_TIMEOUT", "60s")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = StderrLines::watch(&mut child);
    wait_for_updates(&sandbox, 14).await;
    signal(child.id(), "INT");
    stderr.wait_for("interrupted: starting no new work").await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "one Ctrl-C waits for the calls in flight"
    );
    let second = Instant::now();
    signal(child.id(), "INT");
    let output = wait(child).await;
    let took = second.elapsed();
    let stderr = stderr.finish();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    // Half the 10 s grace a first Ctrl-C gives calls in flight (and far below the stall): the run did not
    // wait for them.
    assert!(
        took < Duration::from_secs(5),
        "the second Ctrl-C took {took:?}"
    );
    eprintln!("two Ctrl-C: exited {took:?} after the second");
    let journal = journal_path(dir.path());
    let lines = read_journal(&journal);
    check_arrivals(&sandbox, &lines);
    let (received, missing) = check_invariant(&sandbox.audit(), &lines);
    assert_eq!(received, 10, "the ten answered requests");
    assert_eq!(missing, 0, "every answer received is journaled");
    let intents = lines.iter().filter(|l| l["record"] == "intent").count();
    let acks = lines.iter().filter(|l| l["record"] == "ack").count();
    assert_eq!(
        (intents, acks),
        (14, 10),
        "the four abandoned requests keep their intent, without an ack"
    );
    let report = report(&dir.path().join("report.json"));
    assert_eq!(report["interrupted"], true);
    let jobs = jobs_by_id(&report);
    assert_eq!(jobs.len(), 200);
    let abandoned: Vec<&Value> = jobs
        .values()
        .filter(|j| j["outcome"] != "applied" && j["attempts"] == 1)
        .collect();
    assert_eq!(abandoned.len(), 4, "{abandoned:#?}");
    // The journal alone says the same: four requests without an answer.
    let rebuilt = s3plan(dir.path())
        .arg("report")
        .arg(&journal)
        .output()
        .unwrap();
    let rebuilt: Value = serde_json::from_slice(&rebuilt.stdout).unwrap();
    assert_eq!(rebuilt["unanswered"], 4, "{rebuilt:#}");
    // Not `shutdown`: the stalled requests would hold it for their whole delay.
    drop(sandbox);
}

/// The UpdateJobStatus requests answered before [`killed_part_way`] kills its run.
const ANSWERED_BEFORE_KILL: usize = 40;

/// Kills a run once its 41st to 44th requests hang in the sandbox (concurrency 4: the run can go no further),
/// so 40 requests are answered and 4 in flight. Returns the jobs whose cancel the journal acknowledged.
async fn killed_part_way(dir: &Path, sandbox: &SandboxHandle) -> Vec<String> {
    let first = ANSWERED_BEFORE_KILL as u64 + 1;
    stall(sandbox, first, 4, 30_000);
    let child = started(dir, sandbox, 40, &[]).await;
    wait_for_updates(sandbox, first + 3).await;
    // The four stalled requests are in flight; wait for the 40 before them to be journaled.
    wait_until("40 acks in the journal", || {
        journal_lines(&journal_path(dir))
            .iter()
            .filter(|l| l["record"] == "ack")
            .count()
            >= ANSWERED_BEFORE_KILL
    })
    .await;
    kill_now(child);
    let lines = read_journal(&journal_path(dir));
    lines
        .iter()
        .filter(|l| l["record"] == "ack" && l["error_code"].is_null())
        .map(|l| l["job"].as_str().unwrap().to_owned())
        .collect()
}

/// A run killed part-way, then resumed from its journal to the end, after another operator cancelled two of
/// the four jobs whose request was in flight at the kill (so, as far as the resumed run can tell, two
/// unanswered requests landed and two did not).
struct Resumed {
    sandbox: SandboxHandle,
    /// Acknowledged by the killed run.
    acked: Vec<String>,
    /// Sent by the killed run, without an answer, and cancelled since.
    landed: Vec<String>,
    /// Sent by the killed run, without an answer, and still Suspended.
    not_landed: Vec<String>,
    /// The resumed run's report, by job.
    jobs: HashMap<String, Value>,
    /// The mutating requests the resumed run sent.
    later: Vec<AuditEntry>,
    /// DescribeJob calls the resumed run made.
    describes: u64,
    _dir: tempfile::TempDir,
}

async fn killed_then_resumed() -> Resumed {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen_sandbox(dir.path(), 120).await;
    let acked = killed_part_way(dir.path(), &sandbox).await;
    assert_eq!(acked.len(), ANSWERED_BEFORE_KILL, "{acked:?}");
    let first_lines = journal_lines(&journal_path(dir.path()));
    let unanswered: Vec<String> = first_lines
        .iter()
        .filter(|l| l["record"] == "intent")
        .map(|l| l["job"].as_str().unwrap().to_owned())
        .filter(|job| !acked.contains(job))
        .collect();
    assert_eq!(unanswered.len(), 4, "the four stalled requests");
    let (landed, not_landed) = (unanswered[..2].to_vec(), unanswered[2..].to_vec());
    let other = crate::sandbox_support::client(&sandbox.url());
    for id in &landed {
        other
            .update_job_status()
            .account_id(ACCOUNT)
            .job_id(id)
            .requested_job_status(aws_sdk_s3control::types::RequestedJobStatus::Cancelled)
            .send()
            .await
            .unwrap();
    }
    let calls_before = sandbox.audit().len();
    let describes_before = sandbox.calls(Operation::DescribeJob);

    let old_journal = dir.path().join("first.journal.jsonl");
    std::fs::rename(journal_path(dir.path()), &old_journal).unwrap();
    // The same plan file (a changed one is refused), faster by flag.
    let plan = dir.path().join("plan.yaml");
    let output = apply(
        dir.path(),
        &plan,
        &sandbox.url(),
        &["--rate-limit", "400", "--resume"],
    )
    .arg(&old_journal)
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let jobs = jobs_by_id(&report(&dir.path().join("report.json")));
    assert_eq!(
        jobs.len(),
        120,
        "every job of the plan, resumed ones included"
    );
    for id in jobs.keys() {
        assert!(status_in(&sandbox, id).starts_with("Cancel"), "{id}");
    }
    let later: Vec<AuditEntry> = sandbox.audit().into_iter().skip(calls_before).collect();
    let describes = sandbox.calls(Operation::DescribeJob) - describes_before;
    Resumed {
        sandbox,
        acked,
        landed,
        not_landed,
        jobs,
        later,
        describes,
        _dir: dir,
    }
}

impl Resumed {
    fn sent_to(&self, job: &str) -> usize {
        self.later
            .iter()
            .filter(|e| e.job_id.as_deref() == Some(job))
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_does_not_call_acknowledged_jobs_again() {
    let run = killed_then_resumed().await;
    for job in &run.acked {
        assert_eq!(run.jobs[job]["outcome"], "applied", "{job}");
        assert!(
            run.jobs[job]["reason"]
                .as_str()
                .unwrap()
                .contains("resumed run"),
            "{job}: {}",
            run.jobs[job]["reason"]
        );
        assert_eq!(
            run.sent_to(job),
            0,
            "{job}: called again after its acknowledged cancel"
        );
    }
    drop(run.sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_reads_unanswered_jobs_before_sending_and_leaves_changed_ones_alone() {
    let run = killed_then_resumed().await;
    // Already cancelled: only a read before sending can tell, and nothing was sent.
    for job in &run.landed {
        assert_eq!(run.jobs[job]["outcome"], "unchanged", "{job}");
        assert_eq!(
            run.sent_to(job),
            0,
            "{job}: its unanswered cancel had landed, yet it was sent again"
        );
    }
    for job in &run.not_landed {
        assert_eq!(run.jobs[job]["outcome"], "applied", "{job}");
        assert_eq!(run.sent_to(job), 1, "{job}: sent once");
    }
    assert!(
        run.describes >= 4,
        "every job with an unanswered request is read again: {} DescribeJob",
        run.describes
    );
    drop(run.sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_without_resume_converges_and_leaves_done_jobs_alone() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen_sandbox(dir.path(), 120).await;
    killed_part_way(dir.path(), &sandbox).await;
    let cancelled: Vec<String> = (1..=120)
        .map(|i| format!("job-{i:05}"))
        .filter(|id| status_in(&sandbox, id).starts_with("Cancel"))
        .collect();
    assert!(!cancelled.is_empty());
    let calls_before = sandbox.audit().len();

    let plan = plan_selecting(dir.path(), 400, 8, "[Suspended, Cancelling, Cancelled]");
    let rerun = dir.path().join("rerun");
    std::fs::create_dir(&rerun).unwrap();
    let output = apply(&rerun, &plan, &sandbox.url(), &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let jobs = jobs_by_id(&report(&rerun.join("report.json")));
    assert_eq!(jobs.len(), 120);
    let later: Vec<AuditEntry> = sandbox.audit().into_iter().skip(calls_before).collect();
    for job in &cancelled {
        assert_eq!(jobs[job]["outcome"], "unchanged", "{job}");
        assert!(
            !later
                .iter()
                .any(|e| e.job_id.as_deref() == Some(job)
                    && e.operation == Operation::UpdateJobStatus),
            "{job}: cancelled again"
        );
    }
    let applied = jobs.values().filter(|j| j["outcome"] == "applied").count();
    assert_eq!(applied + cancelled.len(), 120);
    for id in jobs.keys() {
        assert!(status_in(&sandbox, id).starts_with("Cancel"), "{id}");
    }
    drop(sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_rebuilds_a_cut_short_journal() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen_sandbox(dir.path(), 120).await;
    killed_part_way(dir.path(), &sandbox).await;
    // A record cut in half, as a kill during a write leaves it (its request was never sent: the request
    // waits for the whole record to be durable).
    let journal = journal_path(dir.path());
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes
        .extend_from_slice(br#"{"record":"intent","at":"2026-11-29T10:00:00Z","entry":"cancel-bu"#);
    std::fs::write(&journal, &bytes).unwrap();

    let out = dir.path().join("rebuilt.json");
    let output = s3plan(dir.path())
        .arg("report")
        .arg(&journal)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rebuilt = report(&out);
    assert_eq!(rebuilt["account_id"], ACCOUNT);
    assert_eq!(rebuilt["mode"], "apply");
    assert_eq!(
        rebuilt["plan"]["path"]
            .as_str()
            .map(|p| p.ends_with("plan.yaml")),
        Some(true)
    );
    let jobs = jobs_by_id(&rebuilt);
    assert_eq!(
        jobs.len(),
        120,
        "every resolved job, from the journal's job records"
    );
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (id, job) in &jobs {
        let outcome = job["outcome"].as_str().unwrap();
        *counts.entry(outcome.to_owned()).or_default() += 1;
        let received = sandbox.audit_for(Some(Operation::UpdateJobStatus), Some(id));
        match outcome {
            "applied" => assert!(status_in(&sandbox, id).starts_with("Cancel"), "{id}"),
            // The journal alone cannot tell unchanged, skipped or not run apart: no request is `not_run`.
            "not_run" => assert!(received.is_empty(), "{id} was sent a change"),
            // A request without a recorded answer is `failed`, with an error saying so.
            "failed" => assert_eq!(job["error"]["code"], "no_recorded_answer", "{id}"),
            other => panic!("{id}: {other}"),
        }
    }
    assert_eq!(
        counts.get("applied").copied().unwrap_or(0),
        ANSWERED_BEFORE_KILL,
        "{counts:?}"
    );
    assert_eq!(
        counts.get("failed").copied().unwrap_or(0),
        4,
        "the four requests in flight at the kill: {counts:?}"
    );
    assert_eq!(
        rebuilt["unanswered"].as_u64().unwrap() as usize,
        counts.get("failed").copied().unwrap_or(0)
    );
    assert_eq!(rebuilt["summary"]["failed"], 4, "{rebuilt:#}");
    assert_eq!(rebuilt["interrupted"], true, "{rebuilt:#}");

    let md = s3plan(dir.path())
        .arg("report")
        .arg(&journal)
        .args(["--format", "md"])
        .output()
        .unwrap();
    assert!(md.status.success());
    let md = String::from_utf8(md.stdout).unwrap();
    // The run's own Markdown layout: its header, then a table per entry.
    assert!(md.starts_with("# s3plan apply: "), "{md}");
    assert!(md.contains("| `job-00001` | bulk-00001 |"), "{md}");
    drop(sandbox);
}

#[test]
fn report_of_a_missing_journal_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = s3plan(dir.path())
        .args(["report", "nope.journal.jsonl"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nope.journal.jsonl"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_a_journal_of_another_plan_or_account() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen_sandbox(dir.path(), 60).await;
    killed_part_way(dir.path(), &sandbox).await;
    let journal = dir.path().join("first.journal.jsonl");
    std::fs::rename(journal_path(dir.path()), &journal).unwrap();
    let calls = sandbox.audit().len();
    // The plan edited since: another rate limit.
    let plan = plan(dir.path(), 41, 4);
    let output = apply(dir.path(), &plan, &sandbox.url(), &["--resume"])
        .arg(&journal)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the plan changed since"), "{stderr}");
    // A journal of another account.
    let text = std::fs::read_to_string(&journal)
        .unwrap()
        .replace(ACCOUNT, "444455556666");
    std::fs::write(&journal, text).unwrap();
    let plan = plan_selecting(dir.path(), 40, 4, "[Suspended]");
    let output = apply(dir.path(), &plan, &sandbox.url(), &["--resume"])
        .arg(&journal)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("444455556666"), "{stderr}");
    assert_eq!(sandbox.audit().len(), calls, "nothing was sent");
    drop(sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_resumed_three_times_in_one_journal_the_run_still_converges() {
    killed_and_resumed_three_times(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_resumed_three_times_each_from_the_last_journal_the_run_still_converges() {
    killed_and_resumed_three_times(false).await;
}

/// Three SIGKILLs, each run resuming from the journal of the one before (`one_journal`: all runs share a
/// report path, so one journal; else each run has its own and only `carried` records link them).
async fn killed_and_resumed_three_times(one_journal: bool) {
    const JOBS: usize = 120;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen_sandbox(dir.path(), JOBS).await;
    let plan = plan(dir.path(), 40, 4);
    let report_of = |round: usize| {
        if one_journal {
            dir.path().join("report.json")
        } else {
            dir.path().join(format!("report-{round}.json"))
        }
    };
    let journal_of = |round: usize| {
        let mut name = report_of(round).into_os_string();
        name.push(".journal.jsonl");
        PathBuf::from(name)
    };
    // (audit length at the kill, jobs acknowledged by then)
    let mut checkpoints: Vec<(usize, Vec<String>)> = Vec::new();
    let mut acked_so_far: Vec<String> = Vec::new();
    for round in 0..4 {
        let journal = journal_of(round);
        let mut cmd = s3plan(dir.path());
        cmd.arg("apply")
            .arg(&plan)
            .args(["--endpoint-url", &sandbox.url(), "--yes", "--report"])
            .arg(report_of(round));
        if round > 0 {
            cmd.arg("--resume").arg(journal_of(round - 1));
        }
        if round == 3 {
            let output = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(0), "{stderr}");
            break;
        }
        let before = journal_lines(&journal)
            .iter()
            .filter(|l| l["record"] == "intent")
            .count();
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_intents(&journal, before + 15).await;
        kill_now(child);
        acked_so_far.extend(
            journal_lines(&journal)
                .iter()
                .filter(|l| l["record"] == "ack" && l["error_code"].is_null())
                .map(|l| l["job"].as_str().unwrap().to_owned()),
        );
        checkpoints.push((sandbox.audit().len(), acked_so_far.clone()));
    }

    let audit = sandbox.audit();
    for (at, acked) in &checkpoints {
        for job in acked {
            assert!(
                !audit[*at..]
                    .iter()
                    .any(|e| e.job_id.as_deref() == Some(job.as_str())),
                "{job}: sent again after its acknowledged change"
            );
        }
    }
    let jobs = jobs_by_id(&report(&report_of(3)));
    assert_eq!(
        jobs.len(),
        JOBS,
        "the last report covers every job, those of all earlier runs too"
    );
    for (id, job) in &jobs {
        assert!(
            matches!(job["outcome"].as_str(), Some("applied" | "unchanged")),
            "{id}: {job}"
        );
        assert!(status_in(&sandbox, id).starts_with("Cancel"), "{id}");
    }
    for job in &checkpoints[0].1 {
        assert_eq!(
            jobs[job]["outcome"], "applied",
            "{job}: changed by the first run"
        );
    }
    // Each killed run sent at least 15 requests (waited for above); how many answers were journaled before
    // the kill depends on the machine's load, so only require that some were.
    assert!(
        !acked_so_far.is_empty(),
        "no acknowledged change over 3 killed runs"
    );
    // The last journal alone rebuilds the whole record: every job, and every change any run made.
    let rebuilt = s3plan(dir.path())
        .arg("report")
        .arg(journal_of(3))
        .output()
        .unwrap();
    assert!(rebuilt.status.success());
    let rebuilt: Value = serde_json::from_slice(&rebuilt.stdout).unwrap();
    let rebuilt = jobs_by_id(&rebuilt);
    assert_eq!(rebuilt.len(), JOBS, "the last journal covers every job");
    for job in &acked_so_far {
        assert_eq!(
            rebuilt[job]["outcome"], "applied",
            "{job}: acknowledged by an earlier run: {}",
            rebuilt[job]
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_runbook_rerun_after_it_confirmed_its_jobs_is_unchanged_not_failed() {
    // A runbook gates its confirmations on `wait_for: Suspended`; once run, its jobs are Ready, so the gate can
    // never hold again. A rerun must converge (jobs already at target are `unchanged`, no call), not fail
    // on the gate and leave the entries behind it `not_run`.
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen_sandbox(dir.path(), 3).await;
    let plan = dir.path().join("runbook.yaml");
    std::fs::write(
        &plan,
        format!(
            "version: 1\naccount_id: \"{ACCOUNT}\"\nreason: runbook\npoll_interval: 100ms\njobs:\n  - name: first\n    job_id: job-00001\n    wait_for: Suspended\n    set: Ready\n  - name: rest\n    job_ids: [job-00002, job-00003]\n    after: [first]\n    wait_for: [Suspended]\n    set: Ready\n"
        ),
    )
    .unwrap();
    let first = dir.path().join("first");
    let again = dir.path().join("again");
    std::fs::create_dir(&first).unwrap();
    std::fs::create_dir(&again).unwrap();
    let output = apply(&first, &plan, &sandbox.url(), &[]).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let calls = sandbox.audit().len();
    assert_eq!(calls, 3, "one confirm per job");

    let output = apply(&again, &plan, &sandbox.url(), &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let jobs = jobs_by_id(&report(&again.join("report.json")));
    assert_eq!(jobs.len(), 3);
    for (id, job) in &jobs {
        assert_eq!(job["outcome"], "unchanged", "{id}: {job}");
    }
    assert_eq!(sandbox.audit().len(), calls, "the rerun sent no change");
    sandbox.shutdown().await;
}

/// While the journal's fsync is held (`S3PLAN_TEST_JOURNAL_SYNC_DELAY`), the intent is in the file but not
/// yet durable: the server must not have seen the request. It arrives once the sync is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_leaves_before_its_intent_is_synced() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen_sandbox(dir.path(), 1).await;
    let plan = plan(dir.path(), 10, 1);
    let child = apply(dir.path(), &plan, &sandbox.url(), &[])
        .env("S3PLAN_TEST_JOURNAL_SYNC_DELAY", "5s")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let journal = journal_path(dir.path());
    wait_for_intents(&journal, 1).await;
    assert_eq!(
        sandbox.calls(Operation::UpdateJobStatus),
        0,
        "the request reached the server while its intent was written but not synced"
    );
    // A request sent without waiting for the sync would arrive within moments of its line; the sync is held
    // for 5 s, so one more second still falls inside the hold even on a loaded machine.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        sandbox.calls(Operation::UpdateJobStatus),
        0,
        "the request reached the server while its intent was written but not synced"
    );
    wait_for_updates(&sandbox, 1).await;
    let output = wait(child).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let intents: Vec<Value> = journal_lines(&journal)
        .into_iter()
        .filter(|l| l["record"] == "intent")
        .collect();
    assert_eq!(intents.len(), 1, "{intents:?}");
    assert_eq!(intents[0]["job"], "job-00001");
    assert_eq!(status_in(&sandbox, "job-00001"), "Cancelled");
}

/// A sync delay that is not a duration is refused before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_delay_that_is_not_a_duration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen_sandbox(dir.path(), 1).await;
    let plan = plan(dir.path(), 10, 1);
    let output = apply(dir.path(), &plan, &sandbox.url(), &[])
        .env("S3PLAN_TEST_JOURNAL_SYNC_DELAY", "soon")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("S3PLAN_TEST_JOURNAL_SYNC_DELAY=soon"),
        "{stderr}"
    );
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 0);
}
