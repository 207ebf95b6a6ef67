//! What a client sees of a job, compared with what the service sends: checked through the real SDK (and a
//! raw request where the SDK hides the difference), so a program cannot tell the sandbox from the service.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_s3control::error::ProvideErrorMetadata;
use aws_sdk_s3control::types::{
    GeneratedManifestFormat, JobManifestGenerator, JobOperation, JobReport, JobStatus,
    S3DeleteObjectTaggingOperation, S3JobManifestGenerator, S3ObjectLockLegalHoldStatus, S3Tag,
};
use s3plan::sandbox::Sandbox;

use crate::sandbox_support::*;

use crate::sandbox_support::frozen_demo as frozen;

#[tokio::test]
async fn failure_reasons_is_an_empty_list_unless_the_job_failed() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    let suspended = c
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_ARCHIVE)
        .send()
        .await
        .unwrap();
    // `Some(empty)`: the element is there (boto3 reads `job["FailureReasons"]` without a KeyError).
    assert_eq!(suspended.job().unwrap().failure_reasons, Some(Vec::new()));
    let raw = raw(
        sandbox.addr(),
        &get(
            &format!("/v20180820/jobs/{COMPLETE_ARCHIVE}"),
            "localhost",
            Some(ACCOUNT),
        ),
    )
    .await
    .unwrap();
    assert!(
        raw.body.contains("<FailureReasons></FailureReasons>"),
        "{}",
        raw.body
    );
    let failed = c
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(FAILED_REVIEWS)
        .send()
        .await
        .unwrap();
    let reasons = failed.job().unwrap().failure_reasons();
    assert_eq!(reasons.len(), 1);
    assert_eq!(
        reasons[0].failure_code(),
        Some("TaskFailureThresholdExceeded")
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn seeded_jobs_return_their_operation_parameters() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    let describe = |id: &'static str| {
        let c = c.clone();
        async move {
            c.describe_job()
                .account_id(ACCOUNT)
                .job_id(id)
                .send()
                .await
                .unwrap()
                .job
                .unwrap()
                .operation
                .unwrap()
        }
    };
    let tagging = describe(SUSPENDED_ARCHIVE).await;
    let tag_set = tagging.s3_put_object_tagging().unwrap().tag_set();
    assert!(
        !tag_set.is_empty(),
        "a tagging job says which tags it writes"
    );
    assert!(tag_set.iter().all(|t| !t.key().is_empty()));
    let hold = describe(LEGAL_HOLD).await;
    assert_eq!(
        hold.s3_put_object_legal_hold()
            .unwrap()
            .legal_hold()
            .map(|h| h.status()),
        Some(&S3ObjectLockLegalHoldStatus::On)
    );
    let copy = describe(COPY_LOGS).await;
    let target = copy
        .s3_put_object_copy()
        .unwrap()
        .target_resource()
        .unwrap();
    assert!(target.starts_with("arn:aws:s3:::"), "{target}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn manifest_generator_jobs_show_the_generated_manifest_once_prepared() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    // A seeded job past Preparing.
    let seeded = c
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(RESTORE_GENERATED)
        .send()
        .await
        .unwrap();
    let job = seeded.job().unwrap();
    assert!(job.manifest_generator().is_some());
    assert!(job.manifest().is_none());
    let generated = job.generated_manifest_descriptor().unwrap();
    assert_eq!(
        generated.format(),
        Some(&GeneratedManifestFormat::S3InventoryReportCsv20211130)
    );
    assert!(
        generated
            .location()
            .unwrap()
            .object_arn()
            .contains(RESTORE_GENERATED)
    );

    // A created one: nothing generated while New, a manifest once Suspended.
    let created = c
        .create_job()
        .account_id(ACCOUNT)
        .client_request_token("generated-manifest-1")
        .priority(10)
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/batch"))
        .operation(
            JobOperation::builder()
                .s3_delete_object_tagging(S3DeleteObjectTaggingOperation::builder().build())
                .build(),
        )
        .report(JobReport::builder().enabled(false).build())
        .manifest_generator(JobManifestGenerator::S3JobManifestGenerator(
            S3JobManifestGenerator::builder()
                .source_bucket("arn:aws:s3:::photos")
                .enable_manifest_output(false)
                .build()
                .unwrap(),
        ))
        .send()
        .await
        .unwrap();
    let id = created.job_id().unwrap().to_owned();
    let describe = || c.describe_job().account_id(ACCOUNT).job_id(&id).send();
    let new = describe().await.unwrap();
    assert_eq!(new.job().unwrap().status(), Some(&JobStatus::New));
    assert!(new.job().unwrap().generated_manifest_descriptor().is_none());
    sandbox.advance(Duration::from_secs(60));
    let prepared = describe().await.unwrap();
    let job = prepared.job().unwrap();
    assert_eq!(job.status(), Some(&JobStatus::Suspended));
    let arn = job
        .generated_manifest_descriptor()
        .unwrap()
        .location()
        .unwrap()
        .object_arn();
    assert!(arn.starts_with("arn:aws:s3:::photos/job-"), "{arn}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn demo_ids_are_uuids_with_distinct_creation_and_termination_times() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    let all = c.list_jobs().account_id(ACCOUNT).send().await.unwrap();
    assert_eq!(all.jobs().len(), 26);
    let mut created = HashSet::new();
    let mut ended = HashSet::new();
    for job in all.jobs() {
        let id = job.job_id().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id} is not a UUID");
        assert!(created.insert(*job.creation_time().unwrap()), "{id}");
        if let Some(end) = job.termination_date() {
            assert!(ended.insert(*end), "{id} shares its TerminationDate");
        }
    }
    assert_eq!(ended.len(), 4, "two Complete, one Failed, one Cancelled");
    sandbox.shutdown().await;
}

fn parse_http_date(text: &str) -> jiff::Timestamp {
    jiff::fmt::strtime::parse("%a, %d %b %Y %H:%M:%S GMT", text)
        .and_then(|t| t.to_datetime())
        .and_then(|dt| jiff::tz::TimeZone::UTC.to_timestamp(dt))
        .unwrap_or_else(|e| panic!("Date {text:?}: {e}"))
}

#[tokio::test]
async fn date_header_follows_the_sandbox_clock_so_ages_are_never_negative() {
    let start: jiff::Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
    let sandbox = Sandbox::builder()
        .speed(0.0)
        .start_time(start)
        .start()
        .await
        .unwrap();
    let request = get("/v20180820/jobs", "localhost", Some(ACCOUNT));
    let first = raw(sandbox.addr(), &request).await.unwrap();
    assert_eq!(parse_http_date(first.header("date").unwrap()), start);
    // Every job was created before the Date of the answer that lists it.
    let c = client(&sandbox.url());
    sandbox.advance(Duration::from_secs(3 * 86_400));
    let later = raw(sandbox.addr(), &request).await.unwrap();
    let date = parse_http_date(later.header("date").unwrap());
    assert_eq!(date, start + jiff::SignedDuration::from_hours(72));
    let created = c
        .create_job()
        .account_id(ACCOUNT)
        .client_request_token("date-header-1")
        .priority(1)
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/batch"))
        .operation(
            JobOperation::builder()
                .s3_delete_object_tagging(S3DeleteObjectTaggingOperation::builder().build())
                .build(),
        )
        .report(JobReport::builder().enabled(false).build())
        .manifest_generator(JobManifestGenerator::S3JobManifestGenerator(
            S3JobManifestGenerator::builder()
                .source_bucket("arn:aws:s3:::photos")
                .enable_manifest_output(false)
                .build()
                .unwrap(),
        ))
        .send()
        .await
        .unwrap();
    let id = created.job_id().unwrap();
    let described = raw(
        sandbox.addr(),
        &get(&format!("/v20180820/jobs/{id}"), "localhost", Some(ACCOUNT)),
    )
    .await
    .unwrap();
    let date = parse_http_date(described.header("date").unwrap());
    let creation = described
        .body
        .split("<CreationTime>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap();
    let age = date.duration_since(creation);
    assert!(
        !age.is_negative() && age < jiff::SignedDuration::from_secs(1),
        "{age}"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn job_arn_names_the_region_the_client_signed_for() {
    let seed = "accounts:\n".to_owned()
        + &["us-east-1", "eu-west-1", "ap-southeast-2"]
            .map(|r| format!("  - {{id: \"{ACCOUNT}\", region: {r}, jobs: [{{id: arn-00001, status: Suspended}}]}}\n"))
            .concat();
    let sandbox = Sandbox::builder()
        .seed(s3plan::sandbox::Seed::from_yaml(&seed, None).unwrap())
        .speed(0.0)
        .start()
        .await
        .unwrap();
    for region in ["us-east-1", "eu-west-1", "ap-southeast-2"] {
        let out = client_in_region(&sandbox.url(), region)
            .describe_job()
            .account_id(ACCOUNT)
            .job_id("arn-00001")
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.job().unwrap().job_arn(),
            Some(format!("arn:aws:s3:{region}:{ACCOUNT}:job/arn-00001").as_str())
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test]
async fn put_job_tagging_refuses_keys_outside_the_pattern_and_the_aws_prefix() {
    let sandbox = frozen().await;
    let c = client(&sandbox.url());
    let put = |key: &'static str, value: &'static str| {
        c.put_job_tagging()
            .account_id(ACCOUNT)
            .job_id(SUSPENDED_EU)
            .tags(S3Tag::builder().key(key).value(value).build().unwrap())
            .send()
    };
    for (key, value) in [
        ("aws:team", "x"),
        ("AWS:team", "x"),
        ("Aws:Created", "x"),
        ("team*", "x"),
        ("team", "a;b"),
        ("line\nbreak", "x"),
    ] {
        let err = put(key, value).await.unwrap_err();
        assert_eq!(err.code(), Some("InvalidTag"), "{key:?}={value:?}");
        assert_eq!(
            err.raw_response().map(|r| r.status().as_u16()),
            Some(400),
            "{key:?}"
        );
    }
    // What the pattern allows: letters of any script, numbers, spaces and _ . : / = + - @.
    put("équipe 2/a_b.c:d=e+f-g@h", "données 42").await.unwrap();
    put("awsome", "not the prefix").await.unwrap();
    let tags = c
        .get_job_tagging()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].key(), "awsome");
    sandbox.shutdown().await;
}
