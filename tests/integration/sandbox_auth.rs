//! SigV4 verification against the real SDK's signer: right keys pass, a wrong secret is
//! SignatureDoesNotMatch, an unknown key is InvalidAccessKeyId (both 403).

use aws_sdk_s3control::error::ProvideErrorMetadata;
use aws_sdk_s3control::types::{JobStatus, RequestedJobStatus, S3Tag};
use s3plan::sandbox::{Credentials, Operation, Sandbox};

use crate::sandbox_support::*;

#[tokio::test]
async fn signatures_are_verified_when_credentials_are_configured() {
    let sandbox = Sandbox::builder()
        .speed(0.0)
        .credentials(Credentials::new("AKIDRIGHT", "right/secret+key"))
        .start()
        .await
        .unwrap();
    let good = client_with(&sandbox.url(), "AKIDRIGHT", "right/secret+key", 1);
    // Path, query with escapes, and a body: every part of the canonical request is exercised.
    let out = good
        .update_job_status()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .requested_job_status(RequestedJobStatus::Ready)
        .status_update_reason("go now & then: 100% ~ok/ready?")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), Some(&JobStatus::Ready));
    good.put_job_tagging()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .tags(S3Tag::builder().key("a b").value("ü=1").build().unwrap())
        .send()
        .await
        .unwrap();
    good.list_jobs()
        .account_id(ACCOUNT)
        .job_statuses(JobStatus::Active)
        .job_statuses(JobStatus::Suspended)
        .max_results(3)
        .send()
        .await
        .unwrap();

    let wrong_secret = client_with(&sandbox.url(), "AKIDRIGHT", "wrong", 1);
    let err = wrong_secret
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));

    let unknown = client_with(&sandbox.url(), "AKIDUNKNOWN", "right/secret+key", 1);
    let err = unknown
        .update_job_status()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_ARCHIVE)
        .requested_job_status(RequestedJobStatus::Cancelled)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidAccessKeyId"));
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
    assert_eq!(
        sandbox.job_status(ACCOUNT, SUSPENDED_ARCHIVE),
        Some(s3plan::sandbox::JobStatus::Suspended)
    );
    let audit = sandbox.audit_for(Some(Operation::UpdateJobStatus), Some(SUSPENDED_ARCHIVE));
    assert_eq!(audit[0].outcome, "InvalidAccessKeyId");

    // A forged signature over a real request is rejected too.
    let forged = get(
        &format!("/v20180820/jobs/{SUSPENDED_EU}"),
        "h",
        Some(ACCOUNT),
    )
    .replace("Credential=AKID/", "Credential=AKIDRIGHT/")
    .replace(
        "Connection: close",
        "x-amz-date: 20260101T000000Z\r\nConnection: close",
    );
    let response = raw(sandbox.addr(), &forged).await.unwrap();
    assert_eq!(response.status, 403);
    assert!(response.body.contains("<Code>SignatureDoesNotMatch</Code>"));
}

#[tokio::test]
async fn without_credentials_any_signed_request_passes_but_unsigned_ones_do_not() {
    let sandbox = Sandbox::builder().speed(0.0).start().await.unwrap();
    client_with(&sandbox.url(), "ANY", "thing", 1)
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .send()
        .await
        .unwrap();
    let unsigned = "GET /v20180820/jobs HTTP/1.1\r\nHost: h\r\nx-amz-account-id: 111122223333\r\nConnection: close\r\n\r\n";
    let response = raw(sandbox.addr(), unsigned).await.unwrap();
    assert_eq!(response.status, 403);
    assert!(response.body.contains("<Code>AccessDenied</Code>"));
    let v2 = unsigned.replace(
        "Connection:",
        "Authorization: AWS AKID:c2lnbmF0dXJl\r\nConnection:",
    );
    let response = raw(sandbox.addr(), &v2).await.unwrap();
    assert_eq!(response.status, 400);
    assert!(response.body.contains("<Code>InvalidRequest</Code>"));
}
