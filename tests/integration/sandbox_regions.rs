//! Jobs kept per account and region (the region read from the SigV4 credential scope), and the two STS
//! calls s3plan makes answered on the same port, through the real SDK clients.

use aws_sdk_s3control::error::ProvideErrorMetadata;
use aws_sdk_s3control::types::{JobStatus, RequestedJobStatus};
use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
use s3plan::sandbox::{Operation, Sandbox, Seed};

use crate::sandbox_support::*;

/// Demo jobs in eu-west-1 (see src/sandbox/demo-seed.yaml).
const EU_SUSPENDED: &str = "a2a39406-abae-4f4d-a12b-19e9c9f5af0e";
const EU_OTHER_ACCOUNT: &str = "6346e15f-b21b-4e50-b7c8-13cbc20ddcb0";
const OTHER_ACCOUNT: &str = "444455556666";

use crate::sandbox_support::frozen_demo as frozen;

#[tokio::test]
async fn jobs_are_kept_per_account_and_region() {
    let sandbox = frozen().await;
    let us = client_in_region(&sandbox.url(), "us-east-1");
    let eu = client_in_region(&sandbox.url(), "eu-west-1");
    let ids = |out: &aws_sdk_s3control::operation::list_jobs::ListJobsOutput| {
        out.jobs()
            .iter()
            .map(|j| j.job_id().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let us_jobs = ids(&us.list_jobs().account_id(ACCOUNT).send().await.unwrap());
    let eu_jobs = ids(&eu.list_jobs().account_id(ACCOUNT).send().await.unwrap());
    assert_eq!(us_jobs.len(), 26);
    assert_eq!(eu_jobs.len(), 3);
    assert!(eu_jobs.contains(&EU_SUSPENDED.to_owned()));
    assert!(!us_jobs.contains(&EU_SUSPENDED.to_owned()));
    let other = ids(&eu
        .list_jobs()
        .account_id(OTHER_ACCOUNT)
        .send()
        .await
        .unwrap());
    assert_eq!(other, [EU_OTHER_ACCOUNT]);
    // A job is found only in its own region.
    let err = us
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(EU_SUSPENDED)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NotFoundException"));
    let described = eu
        .describe_job()
        .account_id(ACCOUNT)
        .job_id(EU_SUSPENDED)
        .send()
        .await
        .unwrap();
    assert_eq!(
        described.job().unwrap().job_arn(),
        Some(format!("arn:aws:s3:eu-west-1:{ACCOUNT}:job/{EU_SUSPENDED}").as_str())
    );
    // A change in one region leaves the other alone.
    eu.update_job_status()
        .account_id(ACCOUNT)
        .job_id(EU_SUSPENDED)
        .requested_job_status(RequestedJobStatus::Cancelled)
        .send()
        .await
        .unwrap();
    assert_eq!(
        sandbox.job_status_in(ACCOUNT, "eu-west-1", EU_SUSPENDED),
        Some(s3plan::sandbox::JobStatus::Cancelled)
    );
    assert_eq!(
        sandbox.job_status(ACCOUNT, SUSPENDED_ARCHIVE),
        Some(s3plan::sandbox::JobStatus::Suspended)
    );
    // A region without seeded jobs lists none, and a page token does not cross regions.
    let empty = client_in_region(&sandbox.url(), "ap-southeast-2")
        .list_jobs()
        .account_id(ACCOUNT)
        .send()
        .await
        .unwrap();
    assert!(empty.jobs().is_empty());
    let first = us
        .list_jobs()
        .account_id(ACCOUNT)
        .job_statuses(JobStatus::Suspended)
        .max_results(2)
        .send()
        .await
        .unwrap();
    let err = eu
        .list_jobs()
        .account_id(ACCOUNT)
        .set_next_token(first.next_token().map(str::to_owned))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidNextTokenException"));
    sandbox.shutdown().await;
}

fn sts(url: &str, akid: &str, secret: &str, token: Option<&str>) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            akid,
            secret,
            token.map(str::to_owned),
            None,
            "test",
        ))
        .endpoint_url(url)
        .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

const STS_SEED: &str = r#"
start_time: 2026-06-01T12:00:00Z
credentials:
  - {access_key_id: AKIDMAIN, secret_access_key: main-secret}
  - {access_key_id: AKIDOTHER, secret_access_key: other-secret}
caller_accounts: {AKIDOTHER: "444455556666"}
accounts:
  - id: "111122223333"
    jobs: [{id: main-00001, status: Suspended}]
  - id: "444455556666"
    jobs: [{id: other-00001, status: Suspended}]
"#;

#[tokio::test]
async fn get_caller_identity_names_the_account_of_the_access_key() {
    let sandbox = Sandbox::builder()
        .seed(Seed::from_yaml(STS_SEED, None).unwrap())
        .speed(0.0)
        .start()
        .await
        .unwrap();
    let main = sts(&sandbox.url(), "AKIDMAIN", "main-secret", None)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(
        main.account(),
        Some(ACCOUNT),
        "not listed: the first account"
    );
    assert!(
        main.arn()
            .unwrap()
            .starts_with("arn:aws:iam::111122223333:")
    );
    let other = sts(&sandbox.url(), "AKIDOTHER", "other-secret", None)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(other.account(), Some(OTHER_ACCOUNT));
    // The signature is verified like any other request's.
    let forged = sts(&sandbox.url(), "AKIDOTHER", "wrong", None)
        .get_caller_identity()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&forged),
        Some("SignatureDoesNotMatch")
    );
    assert_eq!(sandbox.calls(Operation::GetCallerIdentity), 3);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn assume_role_hands_out_credentials_for_the_roles_account() {
    let sandbox = Sandbox::builder()
        .seed(Seed::from_yaml(STS_SEED, None).unwrap())
        .speed(0.0)
        .start()
        .await
        .unwrap();
    let main = sts(&sandbox.url(), "AKIDMAIN", "main-secret", None);
    let assumed = main
        .assume_role()
        .role_arn("arn:aws:iam::444455556666:role/batch-admin")
        .role_session_name("s3plan")
        .send()
        .await
        .unwrap();
    let creds = assumed.credentials().unwrap();
    assert!(creds.access_key_id().starts_with("ASIA"));
    assert!(
        creds.expiration().secs() > jiff::Timestamp::now().as_second(),
        "expires in wall-clock time, after now"
    );
    assert_eq!(
        assumed.assumed_role_user().unwrap().arn(),
        "arn:aws:sts::444455556666:assumed-role/batch-admin/s3plan"
    );
    // The session's keys are accepted from now on, and belong to the role's account.
    let who = sts(
        &sandbox.url(),
        creds.access_key_id(),
        creds.secret_access_key(),
        Some(creds.session_token()),
    )
    .get_caller_identity()
    .send()
    .await
    .unwrap();
    assert_eq!(who.account(), Some(OTHER_ACCOUNT));
    assert_eq!(
        who.arn(),
        Some("arn:aws:sts::444455556666:assumed-role/batch-admin/s3plan")
    );
    let jobs = client_with(
        &sandbox.url(),
        creds.access_key_id(),
        creds.secret_access_key(),
        1,
    )
    .list_jobs()
    .account_id(OTHER_ACCOUNT)
    .send()
    .await
    .unwrap();
    assert_eq!(jobs.jobs()[0].job_id(), Some("other-00001"));
    // A role in an account the sandbox does not hold is refused, and bad parameters are validated.
    let denied = main
        .assume_role()
        .role_arn("arn:aws:iam::999999999999:role/batch-admin")
        .role_session_name("s3plan")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&denied),
        Some("AccessDenied")
    );
    let invalid = main
        .assume_role()
        .role_arn("arn:aws:iam::444455556666:role/batch-admin")
        .role_session_name("s3plan")
        .duration_seconds(60)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&invalid),
        Some("ValidationError")
    );
    assert_eq!(sandbox.calls(Operation::AssumeRole), 3);
    sandbox.shutdown().await;
}
