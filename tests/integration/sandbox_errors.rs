//! Every error the sandbox answers, as the real SDK sees it (code and HTTP status), plus raw requests
//! for what the SDK refuses to send.

use aws_sdk_s3control::error::ProvideErrorMetadata;
use aws_sdk_s3control::types::{JobStatus, RequestedJobStatus, S3Tag};

use crate::sandbox_support::*;

use crate::sandbox_support::frozen_demo as frozen;

/// (code, HTTP status) of an SDK error.
fn code_and_status<E: ProvideErrorMetadata, R>(
    err: &aws_sdk_s3control::error::SdkError<E, R>,
) -> (Option<String>, Option<u16>)
where
    R: HasStatus,
{
    (
        err.code().map(str::to_owned),
        err.raw_response().map(HasStatus::status_code),
    )
}

pub trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_sdk_s3control::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

fn expect(got: (Option<String>, Option<u16>), code: &str, status: u16) {
    assert_eq!(got, (Some(code.to_owned()), Some(status)));
}

#[tokio::test]
async fn unknown_job_is_not_found_for_every_job_operation() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    let id = "00000000-0000-4000-8000-000000000000";
    let e = c
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(id)
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "NotFoundException", 404);
    let e = c
        .update_job_status()
        .account_id(ACCOUNT)
        .job_id(id)
        .requested_job_status(RequestedJobStatus::Ready)
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "NotFoundException", 404);
    let e = c
        .update_job_priority()
        .account_id(ACCOUNT)
        .job_id(id)
        .priority(1)
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "NotFoundException", 404);
    let e = c
        .get_job_tagging()
        .account_id(ACCOUNT)
        .job_id(id)
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "NotFoundException", 404);
    let e = c
        .put_job_tagging()
        .account_id(ACCOUNT)
        .job_id(id)
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "NotFoundException", 404);
    let e = c
        .delete_job_tagging()
        .account_id(ACCOUNT)
        .job_id(id)
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "NotFoundException", 404);
    // A job of another account is not visible either.
    let e = c
        .describe_job()
        .account_id("444455556666")
        .job_id(SUSPENDED_ARCHIVE)
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "NotFoundException", 404);
}

#[tokio::test]
async fn forbidden_transitions_are_job_status_exceptions() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    for (id, requested) in [
        (ACTIVE_SHARD_1, RequestedJobStatus::Ready),
        (FAILED_REVIEWS, RequestedJobStatus::Cancelled),
        (COMPLETE_ARCHIVE, RequestedJobStatus::Cancelled),
    ] {
        let e = c
            .update_job_status()
            .account_id(ACCOUNT)
            .job_id(id)
            .requested_job_status(requested)
            .send()
            .await
            .unwrap_err();
        expect(code_and_status(&e), "JobStatusException", 400);
        assert!(e.as_service_error().unwrap().is_job_status_exception());
        assert!(e.message().unwrap().contains(id));
    }
    // Confirming twice: the second is rejected (default rule).
    let confirm = || {
        c.update_job_status()
            .account_id(ACCOUNT)
            .job_id(SUSPENDED_EU)
            .requested_job_status(RequestedJobStatus::Ready)
            .send()
    };
    assert_eq!(confirm().await.unwrap().status(), Some(&JobStatus::Ready));
    let e = confirm().await.unwrap_err();
    expect(code_and_status(&e), "JobStatusException", 400);
    let audit = sandbox.audit();
    assert_eq!(audit.len(), 5);
    assert_eq!(audit[0].outcome, "JobStatusException");
    assert_eq!(audit[0].http_status, Some(400));
}

#[tokio::test]
async fn invalid_parameters_are_bad_requests() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    let e = c
        .describe_job()
        .account_id(ACCOUNT)
        .job_id("abc")
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "BadRequestException", 400);
    let e = c
        .describe_job()
        .account_id(ACCOUNT)
        .job_id("a".repeat(37))
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "BadRequestException", 400);
    let e = c
        .update_job_status()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .requested_job_status(RequestedJobStatus::Ready)
        .status_update_reason("r".repeat(257))
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "BadRequestException", 400);
    let e = c
        .update_job_status()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .requested_job_status(RequestedJobStatus::Ready)
        .status_update_reason("")
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "BadRequestException", 400);
    let e = c
        .update_job_priority()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .priority(-1)
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "BadRequestException", 400);
    let e = c
        .describe_job()
        .account_id("12345")
        .job_id(SUSPENDED_EU)
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "BadRequestException", 400);
    // Nothing changed.
    assert_eq!(
        sandbox.job_status(ACCOUNT, SUSPENDED_EU),
        Some(s3plan::sandbox::JobStatus::Suspended)
    );
}

#[tokio::test]
async fn list_jobs_rejects_bad_page_sizes_and_tokens() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    let e = c
        .list_jobs()
        .account_id(ACCOUNT)
        .max_results(1001)
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "InvalidRequestException", 400);
    let e = c
        .list_jobs()
        .account_id(ACCOUNT)
        .max_results(-1)
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "InvalidRequestException", 400);
    let e = c
        .list_jobs()
        .account_id(ACCOUNT)
        .next_token("c10-deadbeef")
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "InvalidNextTokenException", 400);
    // A token from another account is not valid here.
    let page = c
        .list_jobs()
        .account_id(ACCOUNT)
        .max_results(1)
        .send()
        .await
        .unwrap();
    let token = page.next_token().unwrap();
    let e = c
        .list_jobs()
        .account_id("444455556666")
        .next_token(token)
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "InvalidNextTokenException", 400);
}

#[tokio::test]
async fn too_many_tags_and_unknown_accounts() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    let mut put = c.put_job_tagging().account_id(ACCOUNT).job_id(SUSPENDED_EU);
    for i in 0..51 {
        put = put.tags(
            S3Tag::builder()
                .key(format!("k{i}"))
                .value("v")
                .build()
                .unwrap(),
        );
    }
    let e = put.send().await.unwrap_err();
    expect(code_and_status(&e), "TooManyTagsException", 400);
    let e = c
        .describe_job()
        .account_id("999999999999")
        .job_id(SUSPENDED_EU)
        .send()
        .await
        .unwrap_err();
    expect(code_and_status(&e), "AccessDenied", 403);
}

#[tokio::test]
async fn unknown_routes_and_malformed_requests_get_xml_errors() {
    let sandbox = frozen().await;
    let addr = sandbox.addr();
    let cases = [
        (get("/", "127.0.0.1", Some(ACCOUNT)), 404, "UnknownOperationException"),
        (get("/v20180820/jobs/x-123/unknown", "127.0.0.1", Some(ACCOUNT)), 404, "UnknownOperationException"),
        (
            get("/v20180820/jobs/x-123/status", "127.0.0.1", Some(ACCOUNT)),
            405,
            "MethodNotAllowed",
        ),
        (get("/v20180820/jobs", "127.0.0.1", None), 400, "BadRequestException"),
        (
            format!(
                "POST /v20180820/jobs/{SUSPENDED_EU}/status?requestedJobStatus=Active HTTP/1.1\r\nHost: h\r\nx-amz-account-id: {ACCOUNT}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                "0".repeat(64)
            ),
            400,
            "BadRequestException",
        ),
        (
            format!(
                "POST /v20180820/jobs HTTP/1.1\r\nHost: h\r\nx-amz-account-id: {ACCOUNT}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={}\r\nContent-Length: 9\r\nConnection: close\r\n\r\n<notxml>>",
                "0".repeat(64)
            ),
            400,
            "BadRequestException",
        ),
        (
            "GET /v20180820/jobs HTTP/1.1\r\nHost: h\r\nx-amz-account-id: 111122223333\r\nConnection: close\r\n\r\n".to_owned(),
            403,
            "AccessDenied",
        ),
    ];
    for (request, status, code) in cases {
        let response = raw(addr, &request).await.unwrap();
        assert_eq!(response.status, status, "{request}\n{}", response.body);
        assert!(
            response.body.contains("<ErrorResponse xmlns=\"http://awss3control.amazonaws.com/doc/2018-08-20/\"><Error><Type>"),
            "{}",
            response.body
        );
        assert!(
            response.body.contains(&format!("<Code>{code}</Code>")),
            "{}",
            response.body
        );
        assert!(response.header("x-amz-request-id").is_some());
    }
}
