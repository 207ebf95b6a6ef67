//! Server answers no real S3 Control sends: malformed XML, a truncated body, an empty body, a huge body, an
//! unknown status. A tiny axum stub plays the server; each bad answer must end its own job with a clear
//! error while the run goes on, and nothing panics. Also a proptest over random and mutated bodies.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use proptest::prelude::*;

use crate::journal::{jobs_by_id, report};
use crate::support::{ACCOUNT, s3plan, serve};

const NS: &str = "http://awss3control.amazonaws.com/doc/2018-08-20/";

fn xml(body: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/xml")
        .header("x-amz-request-id", "STUBREQ")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

fn describe(id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><DescribeJobResult xmlns="{NS}"><Job><JobId>{id}</JobId><ConfirmationRequired>true</ConfirmationRequired><Description>stub-{id}</Description><Status>Suspended</Status><Priority>5</Priority><CreationTime>2026-11-29T10:00:00Z</CreationTime></Job></DescribeJobResult>"#
    )
}

fn updated(id: &str, status: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><UpdateJobStatusResult xmlns="{NS}"><JobId>{id}</JobId><Status>{status}</Status></UpdateJobStatusResult>"#
    )
}

/// The UpdateJobStatus answer the stub gives each job.
fn bad_answer(id: &str, fuzz: Option<&str>) -> String {
    if let Some(body) = fuzz {
        return body.to_owned();
    }
    match id {
        "job-malformed" => {
            "<?xml version=\"1.0\"?><UpdateJobStatusResult><JobId>job-malformed<</Status>&&"
                .to_owned()
        }
        "job-truncated" => {
            let full = updated(id, "Cancelled");
            full[..full.len() / 2].to_owned()
        }
        "job-empty" => String::new(),
        "job-unknown" => updated(id, "Exploding"),
        "job-huge" => {
            let reason = "x".repeat(8 * 1024 * 1024);
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><UpdateJobStatusResult xmlns="{NS}"><JobId>{id}</JobId><Status>Cancelled</Status><StatusUpdateReason>{reason}</StatusUpdateReason></UpdateJobStatusResult>"#
            )
        }
        _ => updated(id, "Cancelled"),
    }
}

/// Starts the stub; every UpdateJobStatus answer is `fuzz` when given.
async fn stub(fuzz: Option<String>) -> (String, tokio::task::JoinHandle<()>) {
    let app = Router::new().fallback(move |request: Request<Body>| {
        let fuzz = fuzz.clone();
        async move {
            let path = request.uri().path().to_owned();
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            match (request.method(), parts.as_slice()) {
                (&Method::GET, ["v20180820", "jobs", id]) => xml(&describe(id)),
                (&Method::POST, ["v20180820", "jobs", id, "status"]) => {
                    xml(&bad_answer(id, fuzz.as_deref()))
                }
                _ => Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(Body::empty())
                    .unwrap(),
            }
        }
    });
    serve(app).await
}

fn plan(dir: &std::path::Path, ids: &[&str]) -> std::path::PathBuf {
    let path = dir.join("plan.yaml");
    let list: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
    std::fs::write(
        &path,
        format!(
            "version: 1\naccount_id: \"{ACCOUNT}\"\nregion: us-east-1\nreason: \"bad answers\"\njobs:\n  - name: cancel\n    job_ids: [{}]\n    set: Cancelled\n",
            list.join(", ")
        ),
    )
    .unwrap();
    path
}

fn run(dir: &std::path::Path, url: &str, ids: &[&str]) -> std::process::Output {
    let plan = plan(dir, ids);
    s3plan(dir)
        .arg("apply")
        .arg(&plan)
        .args(["--endpoint-url", url, "--yes", "--report"])
        .arg(dir.join("report.json"))
        .env("S3PLAN_ATTEMPT_TIMEOUT", "2s")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_answer_fails_its_own_job_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (url, server) = stub(None).await;
    let ids = [
        "job-malformed",
        "job-truncated",
        "job-empty",
        "job-unknown",
        "job-huge",
        "job-fine",
    ];
    let output = run(dir.path(), &url, &ids);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        output.status.code(),
        Some(1),
        "some jobs failed: {stdout}\n{stderr}"
    );
    let jobs = jobs_by_id(&report(&dir.path().join("report.json")));
    assert_eq!(jobs.len(), ids.len());
    assert_eq!(jobs["job-fine"]["outcome"], "applied");
    for id in ["job-malformed", "job-truncated", "job-empty", "job-unknown"] {
        let job = &jobs[id];
        assert_eq!(job["outcome"], "failed", "{id}: {job}");
        // Not retried: an answer that cannot be understood is not transient.
        assert_eq!(job["attempts"], 1, "{id}: {job}");
        assert_eq!(job["error"]["code"], "MalformedResponse", "{id}: {job}");
        let message = job["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("UpdateJobStatus failed: ")
                && message.len() > "UpdateJobStatus failed: ".len() + 10,
            "{id}: the message says nothing: {job}"
        );
    }
    // A big but well-formed answer is an answer.
    assert_eq!(
        jobs["job-huge"]["outcome"], "applied",
        "{}",
        jobs["job-huge"]
    );
    server.abort();
}

/// The job statuses of the API model: an UpdateJobStatus answer naming one of them is an answer.
const STATUSES: [&str; 13] = [
    "New",
    "Preparing",
    "Suspended",
    "Ready",
    "Active",
    "Pausing",
    "Paused",
    "Completing",
    "Complete",
    "Cancelling",
    "Cancelled",
    "Failing",
    "Failed",
];

/// What the binary must make of a body, decided without the product's code.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// A well-formed answer with a status a cancel leads to (`Cancelling`, `Cancelled`): `applied`.
    Applied,
    /// A well-formed answer with another known status: `failed`, saying which status came back (no error:
    /// the call succeeded, the job did not move where asked).
    OtherStatus,
    /// Not an UpdateJobStatusResult the client can read: `failed` after one attempt, `MalformedResponse`.
    Malformed,
    /// A byte flipped somewhere: depends on where (an ignored byte, or one that breaks the XML); the job
    /// ends cleanly either way, in one of the three ways above.
    Any,
}

fn expect_for(status: &str) -> Expect {
    match status {
        "Cancelling" | "Cancelled" => Expect::Applied,
        s if STATUSES.contains(&s) => Expect::OtherStatus,
        _ => Expect::Malformed,
    }
}

fn update_bodies() -> impl Strategy<Value = (String, Expect)> {
    prop_oneof![
        // Random text has no `<`: never XML.
        "[^<]{0,200}".prop_map(|text| (text, Expect::Malformed)),
        (0usize..200, any::<u8>()).prop_map(|(at, byte)| {
            let mut bytes = updated("job-fuzz1", "Cancelled").into_bytes();
            let at = at % bytes.len();
            bytes[at] = byte;
            (String::from_utf8_lossy(&bytes).into_owned(), Expect::Any)
        }),
        // Cut before the status value is complete: no status, so no answer.
        (0usize..150).prop_map(|cut| {
            let full = updated("job-fuzz1", "Cancelled");
            let end = full.find("Cancelled</Status>").unwrap() + "Cancelle".len();
            (full[..cut.min(end)].to_owned(), Expect::Malformed)
        }),
        "[A-Za-z]{0,12}".prop_map(|status| (updated("job-fuzz1", &status), expect_for(&status))),
        proptest::sample::select(&STATUSES[..])
            .prop_map(|status| (updated("job-fuzz1", status), expect_for(status))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random and mutated UpdateJobStatus bodies never panic the binary and always end the job with the
    /// outcome the body calls for (see `Expect`).
    #[test]
    fn any_update_job_status_body_ends_the_job_cleanly((body, expect) in update_bodies()) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (url, server) = runtime.block_on(stub(Some(body.clone())));
        let output = run(dir.path(), &url, &["job-fuzz1"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        prop_assert!(!stderr.contains("panicked"), "{}", stderr);
        let jobs = jobs_by_id(&report(&dir.path().join("report.json")));
        let job = &jobs["job-fuzz1"];
        let got = if job["outcome"] == "applied" {
            Expect::Applied
        } else if job["error"].is_null() {
            Expect::OtherStatus
        } else {
            Expect::Malformed
        };
        match got {
            Expect::Applied => prop_assert_eq!(output.status.code(), Some(0), "{}", stderr),
            Expect::OtherStatus => {
                prop_assert_eq!(&job["outcome"], "failed", "{}", job);
                let reason = format!("but the server answered status {}", job["status_after"].as_str().unwrap_or("?"));
                prop_assert!(job["reason"].as_str().unwrap_or_default().contains(&reason), "{}", job);
                prop_assert_eq!(output.status.code(), Some(1), "{}", stderr);
            }
            _ => {
                prop_assert_eq!(&job["outcome"], "failed", "{}", job);
                prop_assert_eq!(&job["error"]["code"], "MalformedResponse", "{}", job);
                prop_assert_eq!(&job["attempts"], 1, "{}", job);
                prop_assert_eq!(output.status.code(), Some(1), "{}", stderr);
            }
        }
        if expect != Expect::Any {
            prop_assert_eq!(got, expect, "{:?}: {}", body, job);
        }
        server.abort();
        runtime.shutdown_timeout(Duration::from_millis(100));
    }
}

/// A stub answering every request with `status` and `body`.
async fn answering(status: u16, body: String) -> (String, tokio::task::JoinHandle<()>) {
    let app = Router::new().fallback(move || {
        let body = body.clone();
        async move {
            Response::builder()
                .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                .header("content-type", "application/xml")
                .body(Body::from(body))
                .unwrap()
        }
    });
    serve(app).await
}

fn bodies() -> impl Strategy<Value = String> {
    let describe_mutated = (0usize..400, any::<u8>()).prop_map(|(at, byte)| {
        let mut bytes = describe("job-fuzz1").into_bytes();
        let at = at % bytes.len();
        bytes[at] = byte;
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let describe_cut = (0usize..400).prop_map(|cut| {
        let full = describe("job-fuzz1");
        full[..cut.min(full.len())].to_owned()
    });
    // Lower-case codes: never one the classification knows, so the HTTP status decides the kind.
    let error_body = "[a-z]{0,20}".prop_map(|code| {
        format!("<ErrorResponse><Error><Code>{code}</Code><Message>m</Message></Error><RequestId>R</RequestId></ErrorResponse>")
    });
    prop_oneof![any::<String>(), describe_mutated, describe_cut, error_body]
}

/// Whether `body` is an S3 Control error answer with a non-empty `Code`.
fn has_error_code(body: &str) -> bool {
    body.starts_with("<ErrorResponse>")
        && body
            .split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .is_some_and(|(code, _)| !code.is_empty())
}

/// A 404 whose error names no code (`<Code></Code>`) comes from a server that does not speak the API, not
/// from S3 Control answering a missing job: it must not read as "no such job here".
#[tokio::test]
async fn regression_an_empty_error_code_is_no_code() {
    use s3plan::api::client::{AwsClients, Timeouts};
    use s3plan::api::{AccountId, ApiErrorKind, JobControl, JobId};
    let body = "<ErrorResponse><Error><Code></Code><Message>m</Message></Error><RequestId>R</RequestId></ErrorResponse>";
    let (url, server) = answering(404, body.to_owned()).await;
    let timeouts = Timeouts {
        attempt: Duration::from_secs(5),
        connect: Duration::from_secs(1),
    };
    let control = AwsClients::sandbox(&url, "us-east-1", timeouts)
        .job_control(AccountId::parse(ACCOUNT).unwrap());
    let error = control
        .describe_job(&JobId::parse("job-fuzz1").unwrap())
        .await
        .unwrap_err();
    assert_eq!(error.kind, ApiErrorKind::MalformedResponse, "{error}");
    assert_eq!(error.code, None, "{error}");
    server.abort();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// The response parsing path in-process (the SDK deserializer and AwsJobControl's classification):
    /// random, mutated and cut bodies under random HTTP statuses give an answer or a classified error, never
    /// a panic.
    #[test]
    fn aws_job_control_classifies_any_answer(
        body in bodies(),
        status in prop_oneof![Just(200u16), Just(400u16), Just(403u16), Just(404u16), Just(429u16), Just(500u16), Just(503u16)],
    ) {
        use s3plan::api::client::{AwsClients, Timeouts};
        use s3plan::api::{AccountId, ApiErrorKind, JobControl, JobId, TargetStatus};
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let (url, server) = answering(status, body.clone()).await;
            let timeouts = Timeouts { attempt: Duration::from_secs(5), connect: Duration::from_secs(1) };
            let control = AwsClients::sandbox(&url, "us-east-1", timeouts)
                .job_control(AccountId::parse(ACCOUNT).unwrap());
            let job = JobId::parse("job-fuzz1").unwrap();
            let described = control.describe_job(&job).await;
            let updated = control.update_job_status(&job, TargetStatus::Cancelled, Some("fuzz")).await;
            // The kind each status calls for, from the API's documented error statuses.
            let expected = match status {
                200 => ApiErrorKind::MalformedResponse,
                400 => ApiErrorKind::BadRequest,
                403 => ApiErrorKind::AccessDenied,
                // S3 Control answers a missing job with an error code; a bare 404 comes from a server that
                // does not speak the API (a web server, a wrong path).
                404 if has_error_code(&body) => ApiErrorKind::NotFound,
                404 => ApiErrorKind::MalformedResponse,
                429 => ApiErrorKind::Throttled,
                _ => ApiErrorKind::ServerError,
            };
            if status != 200 {
                prop_assert!(described.is_err() && updated.is_err());
            }
            for error in [described.err(), updated.err()].into_iter().flatten() {
                prop_assert_eq!(error.kind, expected, "{}", error);
                if status != 200 {
                    prop_assert_eq!(error.http_status, Some(status), "{}", error);
                }
                // Every error names its call and says more than that.
                let text = error.to_string();
                let prefix = format!("{} failed: ", error.call);
                prop_assert!(text.starts_with(&prefix) && text.len() > prefix.len() + 5, "{}", text);
            }
            server.abort();
            Ok(())
        })?;
    }
}
