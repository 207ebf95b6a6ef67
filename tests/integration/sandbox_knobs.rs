//! Throttling, injected 500s, dropped connections, latency and the admin API, seen through the real SDK.

use std::time::{Duration, Instant};

use aws_sdk_s3control::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3control::types::{JobStatus, RequestedJobStatus};
use s3plan::sandbox::{Knobs, Operation, Sandbox, SandboxHandle, ScriptedFault, Throttle};

use crate::sandbox_support::*;

use crate::sandbox_support::frozen_demo as frozen;

async fn describe(c: &aws_sdk_s3control::Client) -> Result<(), (Option<String>, Option<u16>)> {
    c.describe_job()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            (
                e.code().map(str::to_owned),
                e.raw_response().map(|r| r.status().as_u16()),
            )
        })
}

#[tokio::test]
async fn scripted_throttle_hits_exactly_the_kth_update_job_status() {
    let sandbox = frozen().await;
    sandbox.script(ScriptedFault::throttle(Operation::UpdateJobStatus).on_call(2));
    let c = client(&sandbox.url());
    let mut outcomes = Vec::new();
    for id in [
        SUSPENDED_EU,
        SUSPENDED_ARCHIVE,
        "9531985d-5d9d-49f8-9818-e811892f902b",
    ] {
        let r = c
            .update_job_status()
            .account_id(ACCOUNT)
            .job_id(id)
            .requested_job_status(RequestedJobStatus::Ready)
            .send()
            .await;
        outcomes.push(
            r.map_err(|e| {
                (
                    e.code().map(str::to_owned),
                    e.raw_response().map(|r| r.status().as_u16()),
                )
            })
            .map(|o| o.status().cloned()),
        );
    }
    assert_eq!(outcomes[0], Ok(Some(JobStatus::Ready)));
    assert_eq!(
        outcomes[1],
        Err((Some("TooManyRequestsException".into()), Some(429)))
    );
    assert_eq!(outcomes[2], Ok(Some(JobStatus::Ready)));
    // The throttled call changed nothing and is in the audit log as such.
    assert_eq!(
        sandbox.job_status(ACCOUNT, SUSPENDED_ARCHIVE),
        Some(s3plan::sandbox::JobStatus::Suspended)
    );
    let audit = sandbox.audit_for(Some(Operation::UpdateJobStatus), Some(SUSPENDED_ARCHIVE));
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].outcome, "TooManyRequestsException");
    assert_eq!(audit[0].http_status, Some(429));
}

#[tokio::test]
async fn sdk_retries_through_scripted_throttles_and_500s() {
    let sandbox = frozen().await;
    let c = client_with(&sandbox.url(), "AKID", "secret", 3);
    sandbox.script(ScriptedFault::throttle(Operation::DescribeJob));
    describe(&c).await.unwrap();
    assert_eq!(sandbox.calls(Operation::DescribeJob), 2);
    sandbox.script(ScriptedFault::internal_error(Operation::DescribeJob).times(2));
    describe(&c).await.unwrap();
    assert_eq!(sandbox.calls(Operation::DescribeJob), 5);
    sandbox.script(ScriptedFault::internal_error(Operation::DescribeJob).times(3));
    assert_eq!(
        describe(&c).await,
        Err((Some("InternalServiceException".into()), Some(500)))
    );
    assert_eq!(sandbox.calls(Operation::DescribeJob), 8);
}

#[tokio::test]
async fn token_bucket_throttles_past_the_burst() {
    let sandbox = Sandbox::builder()
        .speed(0.0)
        .throttle(
            Some(Operation::DescribeJob),
            Throttle {
                rate: 0.001,
                burst: Some(3),
            },
        )
        .start()
        .await
        .unwrap();
    let c = client(&sandbox.url());
    for _ in 0..3 {
        describe(&c).await.unwrap();
    }
    assert_eq!(
        describe(&c).await,
        Err((Some("TooManyRequestsException".into()), Some(429)))
    );
    // Other operations have no bucket.
    c.list_jobs().account_id(ACCOUNT).send().await.unwrap();
}

#[tokio::test]
async fn dropped_connections_close_without_a_response() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    sandbox.script(ScriptedFault::drop_connection(Operation::DescribeJob));
    let err = c
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .send()
        .await
        .unwrap_err();
    assert!(err.raw_response().is_none(), "{err:?}");
    assert!(
        matches!(
            err,
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        ),
        "{err:?}"
    );
    describe(&c).await.unwrap();
    // With retries the SDK gets through.
    sandbox.script(ScriptedFault::drop_connection(Operation::DescribeJob));
    describe(&client_with(&sandbox.url(), "AKID", "secret", 3))
        .await
        .unwrap();
    // Raw view: the connection ends with zero bytes.
    sandbox.script(ScriptedFault::drop_connection(Operation::ListJobs));
    assert!(
        raw(sandbox.addr(), &get("/v20180820/jobs", "h", Some(ACCOUNT)))
            .await
            .is_none()
    );
    let dropped = sandbox.audit();
    assert!(dropped.is_empty(), "reads are not audited: {dropped:?}");
    sandbox.script(ScriptedFault::drop_connection(Operation::UpdateJobStatus));
    let _ = c
        .update_job_status()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .requested_job_status(RequestedJobStatus::Ready)
        .send()
        .await
        .unwrap_err();
    assert_eq!(sandbox.audit()[0].outcome, "dropped");
    assert_eq!(sandbox.audit()[0].http_status, None);
}

#[tokio::test]
async fn random_faults_and_latency_follow_the_knobs() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    sandbox
        .set_knobs(Knobs {
            fault_rate: 1.0,
            ..Knobs::default()
        })
        .unwrap();
    assert_eq!(
        describe(&c).await,
        Err((Some("InternalServiceException".into()), Some(500)))
    );
    sandbox
        .set_knobs(Knobs {
            latency_ms: 40,
            ..Knobs::default()
        })
        .unwrap();
    let started = Instant::now();
    describe(&c).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(40));
    assert!(
        sandbox
            .set_knobs(Knobs {
                drop_rate: 1.5,
                ..Knobs::default()
            })
            .is_err()
    );
}

async fn admin(sandbox: &SandboxHandle, method: &str, path: &str, body: &str) -> RawResponse {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw(sandbox.addr(), &request).await.unwrap()
}

#[tokio::test]
async fn admin_api_sets_a_throttle_knob_and_reads_it_back() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    let r = admin(
        &sandbox,
        "PUT",
        "/_sandbox/knobs",
        r#"{"throttle":{"DescribeJob":{"rate":0.001,"burst":1}}}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    describe(&c).await.unwrap();
    assert_eq!(describe(&c).await.unwrap_err().1, Some(429));
    let r = admin(&sandbox, "GET", "/_sandbox/knobs", "").await;
    assert!(
        r.body.contains(r#""DescribeJob":{"burst":1,"rate":0.001}"#),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn admin_api_scripts_a_fault_that_answers_only_the_times_asked() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    let r = admin(
        &sandbox,
        "POST",
        "/_sandbox/faults",
        r#"{"operation":"ListJobs","action":"internal_error","times":1}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let e = c.list_jobs().account_id(ACCOUNT).send().await.unwrap_err();
    assert_eq!(e.code(), Some("InternalServiceException"));
    c.list_jobs().account_id(ACCOUNT).send().await.unwrap();
}

#[tokio::test]
async fn admin_api_advances_the_sandbox_clock() {
    let sandbox = frozen().await;
    let before = sandbox.now();
    let r = admin(
        &sandbox,
        "POST",
        "/_sandbox/clock/advance",
        r#"{"seconds": 3600}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sandbox.now().duration_since(before).as_secs(), 3600);
}

#[tokio::test]
async fn admin_api_seeds_jobs_the_sdk_can_then_describe() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    let r = admin(
        &sandbox,
        "POST",
        "/_sandbox/seed",
        "accounts: [{id: '777788889999', jobs: [{id: added-job-1, status: Suspended}]}]",
    )
    .await;
    assert_eq!(r.body, r#"{"added":1}"#);
    let job = c
        .describe_job()
        .account_id("777788889999")
        .job_id("added-job-1")
        .send()
        .await
        .unwrap();
    assert_eq!(job.job().unwrap().status(), Some(&JobStatus::Suspended));
}

#[tokio::test]
async fn admin_api_reports_the_audit_call_counts_and_job_state_the_sdk_caused() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    c.list_jobs().account_id(ACCOUNT).send().await.unwrap();
    c.list_jobs().account_id(ACCOUNT).send().await.unwrap();
    c.update_job_status()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .requested_job_status(RequestedJobStatus::Cancelled)
        .send()
        .await
        .unwrap();
    let r = admin(
        &sandbox,
        "GET",
        "/_sandbox/audit?operation=UpdateJobStatus",
        "",
    )
    .await;
    let entries: Vec<s3plan::sandbox::AuditEntry> = serde_json::from_str(&r.body).unwrap();
    assert_eq!(entries, sandbox.audit());
    let r = admin(&sandbox, "GET", "/_sandbox/calls", "").await;
    let calls: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(calls["ListJobs"], 2);
    assert_eq!(calls["UpdateJobStatus"], 1);
    let r = admin(
        &sandbox,
        "GET",
        &format!("/_sandbox/jobs/{ACCOUNT}/{SUSPENDED_EU}"),
        "",
    )
    .await;
    assert!(r.body.contains(r#""status":"Cancelled""#), "{}", r.body);
}

#[tokio::test]
async fn admin_api_refuses_invalid_knobs_and_unknown_paths() {
    let sandbox = frozen().await;
    let r = admin(&sandbox, "PUT", "/_sandbox/knobs", r#"{"fault_rate": 2}"#).await;
    assert_eq!(r.status, 400);
    let r = admin(&sandbox, "GET", "/_sandbox/nope", "").await;
    assert_eq!(r.status, 404);
}
