//! Every error code the service can answer, through the real SDK and s3plan's classification: one table,
//! each row a scripted sandbox fault on the confirm of one job, run through the compiled binary. Each row
//! says whether the call is retried (the sandbox's call count shows the attempts), the job's outcome, the
//! error code in the JSON report and the hint the summary prints.

use s3plan::sandbox::{FaultAction, JobStatus, Operation, ScriptedFault};

use crate::apply_support::TestRun;

use crate::support::ACCOUNT;

const SEED: &str = r#"
random_seed: 11
accounts:
  - id: "111122223333"
    jobs:
      - {id: susp-1, status: Suspended, description: susp-1}
"#;

const PLAN: &str = "version: 1\naccount_id: \"111122223333\"\nreason: \"error table\"\npoll_interval: 100ms\nlimits:\n  rate_limit: 100\n  poll_rate_limit: 100\njobs:\n  - {name: confirm, job_id: \"susp-1\", set: Ready}\n";

/// What s3plan must do with one answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Retried: the second attempt confirms the job.
    Retried,
    /// Not retried: the job fails at once, with this fragment of the hint in the summary.
    Fails(&'static str),
}

const DENIED: &str = "the credentials lack `s3:UpdateJobStatus`";
const CREDENTIALS: &str = "the credentials are missing, wrong or expired";
const REJECTED: &str = "AWS rejected the request";
const NOT_FOUND: &str = "no such job here";
const CONFLICT: &str = "the job's status does not allow this request";

/// (code, HTTP status, expected). Statuses as the service sends them.
const TABLE: &[(&str, u16, Expect)] = &[
    ("AccessDenied", 403, Expect::Fails(DENIED)),
    ("AccessDeniedException", 403, Expect::Fails(DENIED)),
    ("AllAccessDisabled", 403, Expect::Fails(DENIED)),
    ("ExpiredToken", 400, Expect::Fails(CREDENTIALS)),
    ("ExpiredTokenException", 400, Expect::Fails(CREDENTIALS)),
    ("InvalidToken", 400, Expect::Fails(CREDENTIALS)),
    ("InvalidAccessKeyId", 403, Expect::Fails(CREDENTIALS)),
    ("SignatureDoesNotMatch", 403, Expect::Fails(CREDENTIALS)),
    ("InvalidClientTokenId", 403, Expect::Fails(CREDENTIALS)),
    ("BadRequestException", 400, Expect::Fails(REJECTED)),
    ("InvalidRequest", 400, Expect::Fails(REJECTED)),
    ("InvalidRequestException", 400, Expect::Fails(REJECTED)),
    ("IdempotencyException", 400, Expect::Fails(REJECTED)),
    ("TooManyTagsException", 400, Expect::Fails(REJECTED)),
    ("NotFoundException", 404, Expect::Fails(NOT_FOUND)),
    (
        "NoSuchPublicAccessBlockConfiguration",
        404,
        Expect::Fails(NOT_FOUND),
    ),
    ("JobStatusException", 409, Expect::Fails(CONFLICT)),
    ("TooManyRequestsException", 400, Expect::Retried),
    ("TooManyRequestsException", 429, Expect::Retried),
    ("SlowDown", 503, Expect::Retried),
    ("Throttling", 400, Expect::Retried),
    ("ThrottlingException", 400, Expect::Retried),
    ("RequestLimitExceeded", 400, Expect::Retried),
    ("InternalServiceException", 500, Expect::Retried),
    ("InternalError", 500, Expect::Retried),
    ("ServiceUnavailable", 503, Expect::Retried),
    ("RequestTimeout", 400, Expect::Retried),
    // Codes s3plan has never heard of: the HTTP status decides.
    ("SomethingNew", 400, Expect::Fails(REJECTED)),
    ("SomethingNewAndBroken", 502, Expect::Retried),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_code_is_retried_or_reported_as_the_service_means_it() {
    let mut wrong = Vec::new();
    for &(code, status, expect) in TABLE {
        let done = TestRun::new(PLAN)
            .seed_yaml(SEED)
            .script(ScriptedFault::new(
                Some(Operation::UpdateJobStatus),
                FaultAction::error(code, status),
            ))
            .run()
            .await;
        let record = done.job("confirm", "susp-1");
        let attempts = done.calls(Operation::UpdateJobStatus);
        let row = format!("{code} {status}");
        // The sandbox saw exactly what the binary says it sent.
        assert_eq!(record["attempts"], attempts, "{row}: {record:#}");
        let audited: Vec<String> = done.mutations().into_iter().map(|e| e.outcome).collect();
        assert_eq!(audited.first().map(String::as_str), Some(code), "{row}");
        let status_now = done.sandbox.job_status(ACCOUNT, "susp-1");
        match expect {
            Expect::Retried => {
                let ok = done.code == 0
                    && attempts == 2
                    && record["outcome"] == "applied"
                    && status_now == Some(JobStatus::Ready);
                if !ok {
                    wrong.push(format!(
                        "{row}: expected a retry, got exit {} after {attempts} attempts, {record}",
                        done.code
                    ));
                }
            }
            Expect::Fails(hint) => {
                let ok = done.code == 1
                    && attempts == 1
                    && record["outcome"] == "failed"
                    && record["error"]["code"] == code
                    && done.stdout.contains(code)
                    && done.stdout.contains(hint)
                    && status_now == Some(JobStatus::Suspended);
                if !ok {
                    wrong.push(format!(
                        "{row}: expected a failure with hint {hint:?}, got exit {} after {attempts} attempts, {record}\n{}",
                        done.code, done.stdout
                    ));
                }
            }
        }
        done.sandbox.shutdown().await;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// A confirm the service applied but whose answer cannot be parsed: the change may have happened, so the job
/// is read again with DescribeJob before it is judged — `applied`, since it is Ready — and never sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_answered_with_an_unparseable_body_is_rechecked_not_resent() {
    let done = TestRun::new(PLAN)
        .seed_yaml(SEED)
        .script(ScriptedFault::new(
            Some(Operation::UpdateJobStatus),
            FaultAction::MalformedBody,
        ))
        .run()
        .await;
    let record = done.job("confirm", "susp-1");
    let audited: Vec<String> = done.mutations().into_iter().map(|e| e.outcome).collect();
    assert_eq!(audited[0], "malformed", "{audited:?}");
    assert_eq!(
        done.sandbox.job_status(ACCOUNT, "susp-1"),
        Some(JobStatus::Ready),
        "the sandbox applied the change before garbling the answer"
    );
    assert_eq!(
        done.calls(Operation::UpdateJobStatus),
        1,
        "a malformed answer is not sent again: {record:#}"
    );
    // One DescribeJob resolves the plan, the next re-checks the garbled answer.
    assert_eq!(done.calls(Operation::DescribeJob), 2, "{record:#}");
    assert_eq!(record["attempts"], 1);
    assert_eq!(record["outcome"], "applied", "{record:#}\n{}", done.stdout);
    assert_eq!(record["status_after"], "Ready", "{record:#}");
    done.code(0);
    done.sandbox.shutdown().await;
}

/// The same codes on the read that resolves the plan (DescribeJob of the named job): a transient answer is
/// retried and the run goes on; any other refuses the run before a single change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_code_on_the_resolving_read_is_retried_or_refuses_the_run() {
    let mut wrong = Vec::new();
    for &(code, status, expect) in TABLE {
        let done = TestRun::new(PLAN)
            .seed_yaml(SEED)
            .script(ScriptedFault::new(
                Some(Operation::DescribeJob),
                FaultAction::error(code, status),
            ))
            .run()
            .await;
        let row = format!("{code} {status}");
        let reads = done.calls(Operation::DescribeJob);
        let changes = done.calls(Operation::UpdateJobStatus);
        let status_now = done.sandbox.job_status(ACCOUNT, "susp-1");
        let ok = match expect {
            Expect::Retried => done.code == 0 && reads >= 2 && status_now == Some(JobStatus::Ready),
            Expect::Fails(hint) => {
                // A missing job is named as such (the resolver's own words), anything else by its code.
                let explained = if hint == NOT_FOUND {
                    done.stderr.contains("job susp-1 was not found")
                } else {
                    done.stderr.contains(code)
                };
                done.code != 0
                    && reads == 1
                    && changes == 0
                    && status_now == Some(JobStatus::Suspended)
                    && explained
            }
        };
        if !ok {
            wrong.push(format!(
                "{row}: exit {}, {reads} reads, {changes} changes\n--- stdout\n{}\n--- stderr\n{}",
                done.code, done.stdout, done.stderr
            ));
        }
        done.sandbox.shutdown().await;
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}
