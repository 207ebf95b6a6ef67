//! The `s3plan sandbox` binary: first stdout line, a real call, SIGTERM, exit 0; flags and audit file.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use aws_sdk_s3control::types::{JobStatus, RequestedJobStatus};

use crate::sandbox_support::*;

fn spawn(args: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_s3plan"))
        .arg("sandbox")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, url)
}

fn terminate(mut child: std::process::Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap()
}

#[tokio::test]
async fn serves_until_sigterm_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let (child, url) = spawn(&[
        "--port",
        "0",
        "--speed",
        "0",
        "--credentials",
        "AKIDCLI:cli-secret",
        "--audit-log",
        audit.to_str().unwrap(),
    ]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let c = client_with(&url, "AKIDCLI", "cli-secret", 1);
    let out = c
        .update_job_status()
        .account_id(ACCOUNT)
        .job_id(SUSPENDED_EU)
        .requested_job_status(RequestedJobStatus::Ready)
        .status_update_reason("rehearsal")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), Some(&JobStatus::Ready));
    assert!(
        client_with(&url, "AKIDCLI", "nope", 1)
            .describe_job()
            .account_id(ACCOUNT)
            .job_id(SUSPENDED_EU)
            .send()
            .await
            .is_err()
    );
    let status = terminate(child);
    assert_eq!(status.code(), Some(0));
    let text = std::fs::read_to_string(&audit).unwrap();
    let entries: Vec<s3plan::sandbox::AuditEntry> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].job_id.as_deref(), Some(SUSPENDED_EU));
    assert_eq!(entries[0].params["statusUpdateReason"], "rehearsal");
}

#[tokio::test]
async fn knob_flags_take_effect() {
    let (child, url) = spawn(&[
        "--port",
        "0",
        "--throttle",
        "DescribeJob=0.001:1",
        "--latency",
        "1ms:1ms",
    ]);
    let c = client(&url);
    let call = || {
        c.describe_job()
            .account_id(ACCOUNT)
            .job_id(SUSPENDED_EU)
            .send()
    };
    call().await.unwrap();
    let err = call().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(429));
    assert_eq!(terminate(child).code(), Some(0));
}

#[test]
fn bad_flags_and_seeds_exit_2_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.yaml");
    std::fs::write(
        &seed,
        "accounts:\n  - id: '111122223333'\n    jobs:\n      - statuz: Active\n",
    )
    .unwrap();
    let cases: [(&[&str], &str); 4] = [
        (&["--throttle", "Bogus=5"], "unknown operation"),
        (&["--fault-rate", "2"], "fault_rate"),
        (&["--seed", seed.to_str().unwrap()], "statuz"),
        (
            &["--seed", "/nonexistent/seed.yaml"],
            "failed to read seed file",
        ),
    ];
    for (args, needle) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_s3plan"))
            .arg("sandbox")
            .args(["--port", "0"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn prints_the_seed_schema_and_the_demo_seed() {
    let out = Command::new(env!("CARGO_BIN_EXE_s3plan"))
        .args(["sandbox", "--print-seed-schema"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/sandbox-seed.schema.json"
    ))
    .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
    let out = Command::new(env!("CARGO_BIN_EXE_s3plan"))
        .args(["sandbox", "--print-demo-seed"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains(SUSPENDED_ARCHIVE)
    );
}
