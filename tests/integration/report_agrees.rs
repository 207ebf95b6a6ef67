//! `s3plan report` over one journal shared by several runs (a run killed with a request in flight, then
//! resumed with the same `--report`) says what the last run's own report says about each job.

use std::process::Stdio;

use s3plan::sandbox::{FaultAction, Operation, ScriptedFault};

use crate::journal::{
    apply, jobs_by_id, journal_lines, journal_path, plan, report, seed, status_in, wait,
};
use crate::support::{ACCOUNT, frozen, s3plan, wait_until};

/// A run killed while its only request hangs in the sandbox leaves an intent without an answer; the resumed
/// run reads the job (still Suspended), sends again and gets a success. Both runs append to one journal,
/// whose rebuilt report must say `applied` like the resumed run's own report, not `unknown` for the first
/// run's unanswered request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_on_a_journal_shared_by_resumed_runs_agrees_with_the_last_run() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = frozen(seed(1), None).await;
    sandbox.script(
        ScriptedFault::new(
            Some(Operation::UpdateJobStatus),
            FaultAction::Delay { ms: 60_000 },
        )
        .on_call(1)
        .times(1),
    );
    let plan = plan(dir.path(), 10, 1);
    let journal = journal_path(dir.path());
    let mut first = apply(dir.path(), &plan, &sandbox.url(), &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the first run's request in flight", || {
        sandbox.calls(Operation::UpdateJobStatus) >= 1
    })
    .await;
    let _ = first.kill();
    let _ = first.wait();
    assert_eq!(status_in(&sandbox, "job-00001"), "Suspended");
    let records = journal_lines(&journal);
    let count = |kind: &str| records.iter().filter(|l| l["record"] == kind).count();
    assert_eq!((count("intent"), count("ack")), (1, 0), "{records:?}");

    let second = apply(dir.path(), &plan, &sandbox.url(), &[])
        .arg("--resume")
        .arg(&journal)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = wait(second).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(status_in(&sandbox, "job-00001"), "Cancelled");
    let own = jobs_by_id(&report(&dir.path().join("report.json")));
    assert_eq!(own["job-00001"]["outcome"], "applied", "{own:?}");
    let records = journal_lines(&journal);
    let count = |kind: &str| records.iter().filter(|l| l["record"] == kind).count();
    assert_eq!(
        (count("run"), count("intent"), count("ack")),
        (2, 2, 1),
        "one journal for both runs: {records:?}"
    );

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
    let jobs = jobs_by_id(&rebuilt);
    assert_eq!(
        jobs["job-00001"]["outcome"], own["job-00001"]["outcome"],
        "{rebuilt:#}"
    );
    assert_eq!(rebuilt["unanswered"], 0, "{rebuilt:#}");
}
