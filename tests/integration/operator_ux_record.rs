//! The record an operator acts on after an interrupted run, through the binary against a frozen sandbox: an
//! interrupt while a job waits to retry keeps the server's last answer.

use s3plan::sandbox::{FaultAction, Operation, ScriptedFault};

use crate::apply_support::TestRun;
use crate::support::ACCOUNT;

/// Suspended jobs waiting for confirmation, in the plans' account.
const SEED: &str = r#"
random_seed: 7
accounts:
  - id: "111122223333"
    jobs:
      - {id: susp-1, status: Suspended, description: susp-1}
      - {id: susp-2, status: Suspended, description: susp-2}
      - {id: susp-3, status: Suspended, description: susp-3}
      - {id: susp-4, status: Suspended, description: susp-4}
      - {id: susp-5, status: Suspended, description: susp-5}
      - {id: susp-6, status: Suspended, description: susp-6}
"#;

/// One entry confirming `susp-1` at one mutating call per 100 s: the first call is sent at once, a retry
/// waits for the next permit long enough to be interrupted.
fn slow_retry_plan() -> String {
    format!(
        "version: 1\naccount_id: \"{ACCOUNT}\"\nreason: \"release 42 confirm\"\nlimits:\n  rate_limit: 0.01\n  concurrency: 1\njobs:\n  - name: confirm\n    job_id: \"susp-1\"\n    set: Ready\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_while_waiting_to_retry_keeps_the_servers_last_answer() {
    let mut running = TestRun::new(&slow_retry_plan())
        .seed_yaml(SEED)
        .args(&["-v"])
        .script(ScriptedFault::new(
            Some(Operation::UpdateJobStatus),
            FaultAction::InternalError,
        ))
        .start()
        .await;
    let journal = running.dir_path().join("report.json.journal.jsonl");
    // The retry's backoff is over and it waits for the next permit (-v logs it): the observable event.
    running
        .wait_for_stderr("UpdateJobStatus: attempt 2 waits for its turn")
        .await;
    running.interrupt();
    let done = running.finish().await;
    done.code(130);
    assert_eq!(done.report()["interrupted"], true);
    let job = done.job("confirm", "susp-1");
    assert_eq!(job["outcome"], "failed", "{job:#}");
    assert_eq!(job["attempts"], 1, "{job:#}");
    assert_eq!(job["error"]["code"], "InternalServiceException", "{job:#}");
    assert!(job["request_id"].is_string(), "{job:#}");
    let text = std::fs::read_to_string(&journal).unwrap();
    let acked = text
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["error_code"] == "InternalServiceException")
        .expect("the journal holds the failed acknowledgement");
    assert_eq!(job["request_id"], acked["request_id"], "{job:#}");
    let reason = job["reason"].as_str().unwrap();
    assert!(
        reason.contains("interrupted while waiting to retry"),
        "{reason}"
    );
    assert!(!reason.contains("before the call was sent"), "{reason}");
    assert_eq!(done.calls(Operation::UpdateJobStatus), 1);
    // The report keeps the reason sent to AWS apart from s3plan's own explanation, and says who ran it.
    assert_eq!(job["status_update_reason"], "release 42 confirm", "{job:#}");
    assert!(done.report().as_object().unwrap().contains_key("run_by"));
}

/// Two entries of three jobs each, one mutating call per 100 s: the first job is sent at once, the other
/// five wait for permits an interrupt will cancel.
fn queued_plan() -> String {
    format!(
        "version: 1\naccount_id: \"{ACCOUNT}\"\nreason: \"release 42 confirm\"\nlimits:\n  rate_limit: 0.01\n  concurrency: 1\njobs:\n  - name: confirm-eu\n    job_ids: [\"susp-1\", \"susp-2\", \"susp-3\"]\n    set: Ready\n  - name: confirm-us\n    job_ids: [\"susp-4\", \"susp-5\", \"susp-6\"]\n    set: Ready\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_interrupt_untouched_jobs_are_counted_per_entry_and_the_resume_command_is_printed()
{
    let running = TestRun::new(&queued_plan()).seed_yaml(SEED).start().await;
    let dir = running.dir_path().to_path_buf();
    let url = running.sandbox.url();
    running.wait_for_calls(Operation::UpdateJobStatus, 1).await;
    running.interrupt();
    let done = running.finish().await;
    done.code(130);
    assert_eq!(done.summary("not_run"), 5);
    assert_eq!(done.calls(Operation::UpdateJobStatus), 1);
    let stdout = done
        .stdout
        .replace(&dir.display().to_string(), "[DIR]")
        .replace(&url, "[URL]");
    insta::assert_snapshot!(stdout);
    // The printed command is the run's own, with the journal this run wrote to resume from.
    let command = stdout
        .lines()
        .skip_while(|line| !line.starts_with("to continue"))
        .nth(1)
        .expect("a resume command")
        .trim()
        .to_owned();
    let journal = dir.join("report.json.journal.jsonl");
    assert!(
        command.ends_with("--resume [DIR]/report.json.journal.jsonl"),
        "{command}"
    );
    assert!(journal.exists());
}
