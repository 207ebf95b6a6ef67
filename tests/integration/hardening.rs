//! Regression tests of the hardening audit, each named after what it prevents, against the compiled binary
//! and the in-process sandbox: a journal shared by two runs, a retry starved by the queue, a gate polling
//! on after its credentials went bad, conflicting priorities, refusals named one at a time, signals that
//! did not work during set-up or at the prompt, and a closed display that stopped a run.
//!
//! Tests that signal or interrupt the binary wait for an observable event first (a journal record, a
//! sandbox call count, an accepted connection, the prompt on the terminal), never for a fixed time.

use crate::apply_support::TestRun;

const ACCOUNT: &str = "111122223333";

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

/// A plan pinned to the account, polling fast, with `entries` under `jobs:` and `limits` as given.
fn plan(limits: &str, entries: &str) -> String {
    format!(
        "version: 1\naccount_id: \"{ACCOUNT}\"\nregion: us-east-1\nreason: \"hardening test\"\npoll_interval: 100ms\nlimits:\n{limits}\njobs:\n{entries}"
    )
}

const FAST: &str = "  rate_limit: 100\n  poll_rate_limit: 100\n";

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
