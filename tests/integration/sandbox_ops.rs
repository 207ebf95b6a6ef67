//! Every job operation through the real aws-sdk-s3control client against an in-process sandbox.

use std::time::Duration;

use aws_sdk_s3control::types::{
    JobManifest, JobManifestFieldName, JobManifestFormat, JobManifestLocation, JobManifestSpec,
    JobOperation, JobReport, JobStatus, RequestedJobStatus, S3SetObjectTaggingOperation, S3Tag,
};
use s3plan::sandbox::{Operation, Sandbox};

use crate::sandbox_support::*;

use crate::sandbox_support::frozen_demo as frozen;

#[tokio::test]
async fn describe_job_returns_the_demo_suspended_job() {
    let sandbox = frozen().await;
    let out = client(&sandbox.url())
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_ARCHIVE)
        .send()
        .await
        .unwrap();
    let job = out.job().unwrap();
    assert_eq!(job.status(), Some(&JobStatus::Suspended));
    assert_eq!(job.description(), Some("retag-archive-2026-11"));
    assert_eq!(job.confirmation_required(), Some(true));
    assert_eq!(job.priority(), 10);
    assert_eq!(
        job.job_arn(),
        Some(format!("arn:aws:s3:us-east-1:{ACCOUNT}:job/{SUSPENDED_ARCHIVE}").as_str())
    );
    assert!(job.suspended_date().is_some());
    assert!(job.suspended_cause().is_some());
    assert!(job.termination_date().is_none());
    assert!(job.creation_time().unwrap() < job.suspended_date().unwrap());
    let progress = job.progress_summary().unwrap();
    assert_eq!(progress.total_number_of_tasks(), Some(120_000));
    assert_eq!(progress.number_of_tasks_succeeded(), Some(0));
    assert!(matches!(job.operation(), Some(op) if op.s3_put_object_tagging().is_some()));
    assert!(job.manifest().is_some());
    assert_eq!(sandbox.calls(Operation::DescribeJob), 1);
    assert!(sandbox.audit().is_empty(), "reads are not audited");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn describe_shows_failure_reasons_and_termination_of_failed_jobs() {
    let sandbox = frozen().await;
    let out = client(&sandbox.url())
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(FAILED_REVIEWS)
        .send()
        .await
        .unwrap();
    let job = out.job().unwrap();
    assert_eq!(job.status(), Some(&JobStatus::Failed));
    assert!(job.termination_date().is_some());
    assert_eq!(
        job.failure_reasons()[0].failure_code(),
        Some("TaskFailureThresholdExceeded")
    );
    let progress = job.progress_summary().unwrap();
    assert!(progress.number_of_tasks_failed().unwrap() > 0);
}

#[tokio::test]
async fn list_jobs_filters_by_status_and_paginates() {
    let sandbox = frozen().await;
    let client = client(&sandbox.url());
    let mut pages = client
        .list_jobs()
        .account_id(ACCOUNT)
        .job_statuses(JobStatus::Suspended)
        .into_paginator()
        .page_size(4)
        .send();
    let mut ids = Vec::new();
    let mut page_count = 0;
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        page_count += 1;
        for job in page.jobs() {
            assert_eq!(job.status(), Some(&JobStatus::Suspended));
            assert!(job.creation_time().is_some());
            assert!(job.progress_summary().is_some());
            ids.push(job.job_id().unwrap().to_owned());
        }
    }
    // 5 explicit Suspended jobs + 10 generated nightly jobs.
    assert_eq!(ids.len(), 15);
    assert_eq!(page_count, 4);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 15);
    assert!(ids.contains(&SUSPENDED_EU.to_owned()));

    let both = client
        .list_jobs()
        .account_id(ACCOUNT)
        .job_statuses(JobStatus::Active)
        .job_statuses(JobStatus::Complete)
        .send()
        .await
        .unwrap();
    assert_eq!(both.jobs().len(), 6);
    assert!(both.next_token().is_none());
    let all = client.list_jobs().account_id(ACCOUNT).send().await.unwrap();
    assert_eq!(all.jobs().len(), 26);
    // Newest first.
    let times: Vec<_> = all
        .jobs()
        .iter()
        .map(|j| *j.creation_time().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));
}

#[tokio::test]
async fn update_job_status_confirms_and_cancels_with_reason() {
    let sandbox = frozen().await;
    let client = client(&sandbox.url());
    let out = client
        .update_job_status()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .requested_job_status(RequestedJobStatus::Ready)
        .status_update_reason("go now & then")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), Some(&JobStatus::Ready));
    assert_eq!(out.job_id(), Some(SUSPENDED_EU));
    assert_eq!(out.status_update_reason(), Some("go now & then"));
    let described = client
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.job().unwrap().status_update_reason(),
        Some("go now & then")
    );

    let cancel = client
        .update_job_status()
        .account_id(ACCOUNT)
        .job_id(ACTIVE_SHARD_1)
        .requested_job_status(RequestedJobStatus::Cancelled)
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), Some(&JobStatus::Cancelling));
    sandbox.advance(Duration::from_secs(10));
    let job = client
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(ACTIVE_SHARD_1)
        .send()
        .await
        .unwrap();
    let job = job.job().unwrap();
    assert_eq!(job.status(), Some(&JobStatus::Cancelled));
    assert!(job.termination_date().is_some());

    let audit = sandbox.audit_for(Some(Operation::UpdateJobStatus), None);
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].job_id.as_deref(), Some(SUSPENDED_EU));
    assert_eq!(audit[0].params["requestedJobStatus"], "Ready");
    assert_eq!(audit[0].params["statusUpdateReason"], "go now & then");
    assert_eq!(audit[0].result_status.as_deref(), Some("Ready"));
    assert_eq!(audit[1].result_status.as_deref(), Some("Cancelling"));
    assert!(
        audit
            .iter()
            .all(|e| e.is_ok() && e.account.as_deref() == Some(ACCOUNT))
    );
}

#[tokio::test]
async fn update_job_priority_changes_the_priority() {
    let sandbox = frozen().await;
    let client = client(&sandbox.url());
    let out = client
        .update_job_priority()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .priority(2_147_483_647)
        .send()
        .await
        .unwrap();
    assert_eq!(out.priority(), 2_147_483_647);
    assert_eq!(out.job_id(), SUSPENDED_EU);
    let job = client
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .send()
        .await
        .unwrap();
    assert_eq!(job.job().unwrap().priority(), 2_147_483_647);
    assert_eq!(
        sandbox
            .audit_for(Some(Operation::UpdateJobPriority), Some(SUSPENDED_EU))
            .len(),
        1
    );
}

#[tokio::test]
async fn tagging_round_trips() {
    let sandbox = frozen().await;
    let client = client(&sandbox.url());
    let tags = client
        .get_job_tagging()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_ARCHIVE)
        .send()
        .await
        .unwrap();
    let pairs: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, [("env", "prod"), ("team", "archive")]);

    client
        .put_job_tagging()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_ARCHIVE)
        .tags(
            S3Tag::builder()
                .key("team")
                .value("search @ co-op: é/1")
                .build()
                .unwrap(),
        )
        .tags(S3Tag::builder().key("empty").value("").build().unwrap())
        .send()
        .await
        .unwrap();
    let tags = client
        .get_job_tagging()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_ARCHIVE)
        .send()
        .await
        .unwrap();
    let pairs: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, [("team", "search @ co-op: é/1"), ("empty", "")]);

    client
        .delete_job_tagging()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_ARCHIVE)
        .send()
        .await
        .unwrap();
    let tags = client
        .get_job_tagging()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_ARCHIVE)
        .send()
        .await
        .unwrap();
    assert!(tags.tags().is_empty());
    let audit = sandbox.audit();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].operation, Operation::PutJobTagging);
    assert_eq!(audit[0].params["Tags"], "team=search @ co-op: é/1,empty=");
    assert_eq!(audit[1].operation, Operation::DeleteJobTagging);
}

pub fn create_request(
    client: &aws_sdk_s3control::Client,
) -> aws_sdk_s3control::operation::create_job::builders::CreateJobFluentBuilder {
    client
        .create_job()
        .account_id(ACCOUNT)
        .description("created by test")
        .priority(7)
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/batch"))
        .report(JobReport::builder().enabled(false).build())
        .operation(
            JobOperation::builder()
                .s3_put_object_tagging(
                    S3SetObjectTaggingOperation::builder()
                        .tag_set(S3Tag::builder().key("tier").value("cold").build().unwrap())
                        .build(),
                )
                .build(),
        )
        .manifest(
            JobManifest::builder()
                .spec(
                    JobManifestSpec::builder()
                        .format(JobManifestFormat::S3BatchOperationsCsv20180820)
                        .fields(JobManifestFieldName::Bucket)
                        .fields(JobManifestFieldName::Key)
                        .build()
                        .unwrap(),
                )
                .location(
                    JobManifestLocation::builder()
                        .object_arn("arn:aws:s3:::bkt/manifest.csv")
                        .e_tag("abc")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .tags(
            S3Tag::builder()
                .key("team")
                .value("search")
                .build()
                .unwrap(),
        )
}

#[tokio::test]
async fn create_job_is_described_and_idempotent() {
    let sandbox = frozen().await;
    let client = client(&sandbox.url());
    let created = create_request(&client)
        .client_request_token("token-1")
        .send()
        .await
        .unwrap();
    let id = created.job_id().unwrap().to_owned();
    assert_eq!(id.len(), 36);
    let job = client
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(&id)
        .send()
        .await
        .unwrap();
    let job = job.job().unwrap();
    assert_eq!(job.status(), Some(&JobStatus::New));
    assert_eq!(job.description(), Some("created by test"));
    assert_eq!(job.priority(), 7);
    let tagging = job.operation().unwrap().s3_put_object_tagging().unwrap();
    assert_eq!(tagging.tag_set()[0].key(), "tier");
    assert_eq!(
        job.manifest().unwrap().location().unwrap().object_arn(),
        "arn:aws:s3:::bkt/manifest.csv"
    );
    // Same token, same request: same job. Same token, different request: IdempotencyException.
    let again = create_request(&client)
        .client_request_token("token-1")
        .send()
        .await
        .unwrap();
    assert_eq!(again.job_id(), Some(id.as_str()));
    let err = create_request(&client)
        .client_request_token("token-1")
        .priority(8)
        .send()
        .await
        .unwrap_err();
    use aws_sdk_s3control::error::ProvideErrorMetadata as _;
    assert_eq!(err.code(), Some("IdempotencyException"));
    let tags = client
        .get_job_tagging()
        .account_id(ACCOUNT)
        .job_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags()[0].value(), "search");
    let audit = sandbox.audit_for(Some(Operation::CreateJob), None);
    assert_eq!(audit.len(), 3);
    assert_eq!(audit[0].job_id.as_deref(), Some(id.as_str()));
    assert_eq!(audit[2].outcome, "IdempotencyException");
}

#[tokio::test]
async fn every_response_carries_aws_headers() {
    let sandbox = frozen().await;
    let ok = raw(
        sandbox.addr(),
        &get(
            &format!("/v20180820/jobs/{SUSPENDED_ARCHIVE}"),
            "127.0.0.1",
            Some(ACCOUNT),
        ),
    )
    .await
    .unwrap();
    let missing = raw(
        sandbox.addr(),
        &get("/v20180820/jobs/nope-0001", "127.0.0.1", Some(ACCOUNT)),
    )
    .await
    .unwrap();
    for response in [&ok, &missing] {
        let id = response.header("x-amz-request-id").unwrap();
        assert_eq!(id.len(), 16);
        assert!(response.header("x-amz-id-2").is_some());
        assert!(response.header("date").unwrap().ends_with("GMT"));
        assert_eq!(response.header("content-type"), Some("application/xml"));
        let length: usize = response.header("content-length").unwrap().parse().unwrap();
        assert_eq!(length, response.body.len());
    }
    assert_eq!(ok.status, 200);
    assert!(ok.body.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><DescribeJobResult xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"><Job>"#));
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("<Code>NotFoundException</Code>"));
    assert!(missing.body.contains(&format!(
        "<RequestId>{}</RequestId>",
        missing.header("x-amz-request-id").unwrap()
    )));
}

#[tokio::test]
async fn account_prefixed_hosts_and_absolute_form_uris_are_served() {
    let sandbox = frozen().await;
    let authority = format!("{ACCOUNT}.127.0.0.1:{}", sandbox.addr().port());
    let prefixed = raw(
        sandbox.addr(),
        &get("/v20180820/jobs?maxResults=1", &authority, Some(ACCOUNT)),
    )
    .await
    .unwrap();
    assert_eq!(prefixed.status, 200, "{}", prefixed.body);
    let absolute = raw(
        sandbox.addr(),
        &get(
            &format!("http://{authority}/v20180820/jobs?maxResults=1"),
            &authority,
            Some(ACCOUNT),
        ),
    )
    .await
    .unwrap();
    assert_eq!(absolute.status, 200, "{}", absolute.body);
    assert!(absolute.body.contains("<ListJobsResult"));
    assert!(absolute.body.contains("<NextToken>"));
}

/// The exact bytes of representative answers, so a wire-format change is a reviewed decision.
#[tokio::test]
async fn wire_format_snapshots() {
    let sandbox = Sandbox::builder()
        .speed(0.0)
        .start_time("2026-06-01T12:00:00Z".parse().unwrap())
        .start()
        .await
        .unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"[0-9A-F]{16}", "[REQUEST-ID]");
    let fetch = |target: String| {
        let addr = sandbox.addr();
        async move {
            raw(addr, &get(&target, "127.0.0.1", Some(ACCOUNT)))
                .await
                .unwrap()
                .body
        }
    };
    let describe = fetch(format!("/v20180820/jobs/{FAILED_REVIEWS}")).await;
    let list = fetch("/v20180820/jobs?jobStatuses=Active&maxResults=2".to_owned()).await;
    let tags = fetch(format!("/v20180820/jobs/{SUSPENDED_EU}/tagging")).await;
    let missing = fetch("/v20180820/jobs/no-such-job".to_owned()).await;
    settings.bind(|| {
        insta::assert_snapshot!("describe_failed_job", describe);
        insta::assert_snapshot!("list_active_jobs", list);
        insta::assert_snapshot!("get_job_tagging", tags);
        insta::assert_snapshot!("not_found_error", missing);
    });
}
