//! Hostile and bad input against the real binary: a plan pinned to another account or region, missing or
//! wrong credentials, secrets kept out of every output, unwritable report paths. Each refusal happens before
//! any mutating call (the sandbox's counts show it).

use s3plan::sandbox::{Credentials, Operation, Sandbox, SandboxHandle};

use crate::journal::{apply, plan, seed};
use crate::support::s3plan;

const SECRET: &str = "hostile-test-secret-4f9d2c7e";
const AKID: &str = "AKIDHOSTILETEST";

async fn signed_sandbox() -> SandboxHandle {
    Sandbox::builder()
        .seed(seed(10))
        .speed(0.0)
        .credentials(Credentials {
            access_key_id: AKID.to_owned(),
            secret_access_key: SECRET.to_owned(),
        })
        .start()
        .await
        .unwrap()
}

/// Flags, environment, and what the refusal must say.
type Case = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static str,
);

/// Stderr with miette's wrapping undone.
fn flat(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

fn no_mutation(sandbox: &SandboxHandle) {
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 0);
    assert_eq!(sandbox.calls(Operation::UpdateJobPriority), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_pinned_to_another_account_or_region_is_refused_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::builder().seed(seed(10)).start().await.unwrap();
    let plan = plan(dir.path(), 100, 4);
    let cases: [Case; 3] = [
        (
            &["--account-id", "444455556666"],
            &[],
            "differs from the plan's account_id",
        ),
        (
            &["--region", "eu-west-1"],
            &[],
            "differs from the plan's region",
        ),
        (&[], &[("AWS_ACCOUNT_ID", "444455556666")], "AWS_ACCOUNT_ID"),
    ];
    for (flags, env, message) in cases {
        let output = apply(dir.path(), &plan, &sandbox.url(), flags)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = flat(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flags:?} {env:?}: {stderr}");
        assert!(stderr.contains(message), "{flags:?}: {stderr}");
        assert!(stderr.contains("nothing was changed"), "{stderr}");
    }
    assert!(
        sandbox.call_counts().values().all(|n| *n == 0),
        "{:?}",
        sandbox.call_counts()
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_unknown_keys_fail_clearly_before_any_change() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = signed_sandbox().await;
    let plan = plan(dir.path(), 100, 4);
    for (akid, secret, code) in [
        (AKID, "not-the-secret", "SignatureDoesNotMatch"),
        ("AKIDUNKNOWN", SECRET, "InvalidAccessKeyId"),
    ] {
        let output = apply(dir.path(), &plan, &sandbox.url(), &[])
            .env("AWS_ACCESS_KEY_ID", akid)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(code), "{stderr}");
        assert!(
            stderr.to_lowercase().contains("credentials"),
            "names the fix: {stderr}"
        );
        assert!(
            !stderr.contains(SECRET) && !stderr.contains("not-the-secret"),
            "{stderr}"
        );
        assert!(
            !dir.path().join("report.json.journal.jsonl").exists(),
            "no journal: nothing was about to change"
        );
    }
    no_mutation(&sandbox);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_credentials_fail_clearly_before_any_change() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = signed_sandbox().await;
    let plan = plan(dir.path(), 100, 4);
    let output = apply(dir.path(), &plan, &sandbox.url(), &[])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.to_lowercase().contains("credentials"), "{stderr}");
    assert!(
        !dir.path().join("report.json.journal.jsonl").exists(),
        "no journal: nothing was about to change"
    );
    assert!(
        sandbox.call_counts().values().all(|n| *n == 0),
        "nothing unsigned was sent: {:?}",
        sandbox.call_counts()
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_key_appears_in_no_output_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = signed_sandbox().await;
    let plan = plan(dir.path(), 100, 4);
    let output = apply(
        dir.path(),
        &plan,
        &sandbox.url(),
        &["-vvv", "--output", "json"],
    )
    .env("AWS_ACCESS_KEY_ID", AKID)
    .env("AWS_SECRET_ACCESS_KEY", SECRET)
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 10);
    let journal = dir.path().join("report.json.journal.jsonl");
    let rebuilt = s3plan(dir.path())
        .arg("report")
        .arg(&journal)
        .output()
        .unwrap();
    let mut outputs = vec![
        ("stdout".to_owned(), output.stdout.clone()),
        ("stderr".to_owned(), output.stderr.clone()),
        ("report stdout".to_owned(), rebuilt.stdout),
    ];
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            outputs.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    assert!(
        outputs.len() >= 6,
        "plan, report, journal and three streams"
    );
    assert!(stderr.len() > 1000, "trace logging was on");
    for (name, bytes) in outputs {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(SECRET), "the secret leaked into {name}");
    }
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_report_or_journal_path_is_refused_before_any_change() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::builder().seed(seed(10)).start().await.unwrap();
    let plan = plan(dir.path(), 100, 4);
    // A report in a directory that does not exist.
    let output = s3plan(dir.path())
        .arg("apply")
        .arg(&plan)
        .args(["--endpoint-url", &sandbox.url(), "--yes", "--report"])
        .arg(dir.path().join("missing/dir/report.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("missing/dir/report.json"), "{stderr}");
    // A journal path taken by a directory.
    std::fs::create_dir(dir.path().join("report.json.journal.jsonl")).unwrap();
    let output = apply(dir.path(), &plan, &sandbox.url(), &[])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("journal"), "{stderr}");
    assert!(
        sandbox.call_counts().values().all(|n| *n == 0),
        "{:?}",
        sandbox.call_counts()
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_of_another_account_than_the_plan_pins_are_refused_before_any_call() {
    use axum::body::Body;
    use axum::http::{Response, StatusCode};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    // A stub STS: the credentials belong to 999988887777.
    let app = axum::Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async {
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "text/xml")
                .body(Body::from(
                    r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::999988887777:user/ops</Arn><UserId>AIDASTUB</UserId><Account>999988887777</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#,
                ))
                .unwrap()
        }
    });
    let (sts, server) = crate::support::serve(app).await;
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path(), 100, 4);
    // AWS's own S3 Control endpoint (no --endpoint-url): the refusal must come before any call to it.
    let output = s3plan(dir.path())
        .arg("apply")
        .arg(&plan)
        .args(["--yes", "--report"])
        .arg(dir.path().join("report.json"))
        .env("AWS_ENDPOINT_URL_STS", &sts)
        .output()
        .unwrap();
    let stderr = flat(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the credentials belong to account 999988887777"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    server.abort();
}

/// A stub STS answering every call with `status` and `body`; returns its URL, the call counter and the task.
async fn stub_sts(
    status: u16,
    body: &'static str,
) -> (
    String,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tokio::task::JoinHandle<()>,
) {
    use axum::body::Body;
    use axum::http::{Response, StatusCode};
    use std::sync::atomic::Ordering;

    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = asked.clone();
    let app = axum::Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .header("content-type", "text/xml")
                .body(Body::from(body))
                .unwrap()
        }
    });
    let (url, server) = crate::support::serve(app).await;
    (url, asked, server)
}

const OTHER_ACCOUNT_IDENTITY: &str = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::999988887777:user/ops</Arn><UserId>AIDASTUB</UserId><Account>999988887777</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>stub</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_endpoint_is_not_checked_against_sts() {
    use std::sync::atomic::Ordering;
    // An STS that would name another account: a sandbox run must not ask it.
    let (sts, asked, server) = stub_sts(200, OTHER_ACCOUNT_IDENTITY).await;
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::builder().seed(seed(3)).start().await.unwrap();
    let plan = plan(dir.path(), 100, 4);
    let output = apply(dir.path(), &plan, &sandbox.url(), &[])
        .env("AWS_ENDPOINT_URL_STS", &sts)
        .output()
        .unwrap();
    let stderr = flat(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(asked.load(Ordering::SeqCst), 0, "STS was asked");
    assert_eq!(sandbox.calls(Operation::UpdateJobStatus), 3);
    server.abort();
    sandbox.shutdown().await;
}

/// Applies a plan pinned to the seed's account against AWS's own endpoint (no `--endpoint-url`), with STS at
/// `sts`, in a region that does not exist: the run's first S3 Control call, which only a run past the
/// account check makes, fails without leaving this machine. Returns stderr, flattened.
fn apply_on_aws_with_sts(sts: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        format!(
            "version: 1\naccount_id: \"{}\"\nregion: zz-nowhere-1\nreason: sts\njobs:\n  - {{name: cancel, job_id: job-00001, set: Cancelled}}\n",
            crate::support::ACCOUNT
        ),
    )
    .unwrap();
    let output = s3plan(dir.path())
        .arg("apply")
        .arg(&plan)
        .args(["--yes", "--report"])
        .arg(dir.path().join("report.json"))
        .env("AWS_ENDPOINT_URL_STS", sts)
        .env("AWS_REGION", "zz-nowhere-1")
        .env("S3PLAN_ATTEMPT_TIMEOUT", "500ms")
        .output()
        .unwrap();
    flat(&output.stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sts_failure_only_warns_and_the_run_goes_on_to_its_first_call() {
    use std::sync::atomic::Ordering;
    let (sts, asked, server) = stub_sts(
        500,
        r#"<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>stub failure</Message></Error><RequestId>stub</RequestId></ErrorResponse>"#,
    )
    .await;
    let stderr = tokio::task::spawn_blocking(move || apply_on_aws_with_sts(&sts))
        .await
        .unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 1, "{stderr}");
    assert!(
        stderr.contains("could not check the credentials' account against the plan's account_id"),
        "a warning: {stderr}"
    );
    assert!(!stderr.contains("credentials belong to"), "{stderr}");
    // Past the check: the run tried DescribeJob on the (unreachable) endpoint.
    assert!(stderr.contains("DescribeJob"), "{stderr}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_sts_only_warns_once_its_call_times_out() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    // Takes the call and never answers (well past the attempt timeout every STS call has).
    let app = axum::Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async {
            tokio::time::sleep(std::time::Duration::from_secs(120)).await;
            ""
        }
    });
    let (sts, server) = crate::support::serve(app).await;
    let stderr = tokio::task::spawn_blocking(move || apply_on_aws_with_sts(&sts))
        .await
        .unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 1, "{stderr}");
    assert!(
        stderr.contains("could not check the credentials' account") && stderr.contains("timed out"),
        "a warning: {stderr}"
    );
    assert!(stderr.contains("DescribeJob"), "went on: {stderr}");
    server.abort();
}
