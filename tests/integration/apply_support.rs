//! `TestRun`: a fluent builder for `s3plan apply` tests (after casey/just's `tests/test.rs`). It starts the
//! sandbox in-process on a free port with the given seed, token buckets and scripted faults, writes the plan
//! to a temp dir, runs the real binary against the sandbox over HTTP with dummy credentials (launched by
//! `support::s3plan`: a clean environment, so no real profile or instance role is read),
//! and hands back exit code, output, the parsed JSON report and the sandbox for its audit log and call
//! counts.
//!
//! Owns the mechanics of a run only; the assertions live in `apply.rs`.

use std::path::PathBuf;
use std::process::Stdio;

use s3plan::sandbox::{
    AuditEntry, Credentials, Operation, Sandbox, SandboxHandle, ScriptedFault, Seed, Throttle,
};
use serde_json::Value;

use crate::support::StderrLines;

/// A fixed sandbox start, so seeded jobs tell the same story every run.
const START: &str = "2026-06-01T12:00:00Z";

/// The dummy key pair the binary signs with.
pub const ACCESS_KEY_ID: &str = "AKIDAPPLYTEST";
/// Its secret.
pub const SECRET_ACCESS_KEY: &str = "apply-test-secret";

/// One `s3plan apply` run to set up.
pub struct TestRun {
    plan: String,
    seed: Seed,
    throttles: Vec<(Operation, Throttle)>,
    scripts: Vec<ScriptedFault>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    env_removed: Vec<String>,
    report: Option<String>,
    credentials: Option<Credentials>,
    yes: bool,
}

/// What a run left behind.
pub struct Finished {
    /// The process exit code.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The report file, parsed (`None` when none was written).
    pub report: Option<Value>,
    /// The sandbox, still running.
    pub sandbox: SandboxHandle,
    /// The temp dir holding the plan and the report.
    pub dir: tempfile::TempDir,
}

impl TestRun {
    /// A run of `plan` (YAML text) against the demo seed. The sandbox clock is frozen: only
    /// [`SandboxHandle::advance`] moves it, so every story is deterministic.
    pub fn new(plan: &str) -> Self {
        Self {
            plan: plan.to_owned(),
            seed: Seed::demo(),
            throttles: Vec::new(),
            scripts: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            env_removed: Vec::new(),
            report: None,
            credentials: None,
            yes: true,
        }
    }

    /// Seeds the sandbox from YAML instead of the demo seed.
    pub fn seed_yaml(mut self, yaml: &str) -> Self {
        self.seed = Seed::from_yaml(yaml, None).unwrap();
        self
    }

    /// A token bucket on `op`.
    pub fn throttle(mut self, op: Operation, rate: f64, burst: u32) -> Self {
        self.throttles.push((
            op,
            Throttle {
                rate,
                burst: Some(burst),
            },
        ));
        self
    }

    /// A scripted fault, installed before the binary starts.
    pub fn script(mut self, fault: ScriptedFault) -> Self {
        self.scripts.push(fault);
        self
    }

    /// Extra command-line arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// Sets an environment variable of the binary (after the dummy AWS ones, so it can replace them).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Writes the report to `path` instead of `report.json` in the temp dir.
    pub fn report_to(mut self, path: &str) -> Self {
        self.report = Some(path.to_owned());
        self
    }

    /// Leaves a variable out of the binary's environment.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.env_removed.push(key.to_owned());
        self
    }

    /// Makes the sandbox verify SigV4 signatures against this key pair.
    pub fn credentials(mut self, akid: &str, secret: &str) -> Self {
        self.credentials = Some(Credentials::new(akid, secret));
        self
    }

    /// Runs without `--yes`.
    pub fn no_yes(mut self) -> Self {
        self.yes = false;
        self
    }

    /// Starts the sandbox, runs the binary to completion and collects what it left.
    pub async fn run(self) -> Finished {
        self.start().await.finish().await
    }

    /// Starts the sandbox and the binary; the test may act on the sandbox before [`Running::finish`].
    pub async fn start(self) -> Running {
        let mut builder = Sandbox::builder()
            .seed(self.seed)
            .speed(0.0)
            .start_time(START.parse().unwrap());
        if let Some(credentials) = self.credentials {
            builder = builder.credentials(credentials);
        }
        for (op, throttle) in self.throttles {
            builder = builder.throttle(Some(op), throttle);
        }
        let sandbox = builder.start().await.unwrap();
        for fault in self.scripts {
            sandbox.script(fault);
        }

        let dir = tempfile::tempdir().unwrap();
        let plan = dir.path().join("plan.yaml");
        std::fs::write(&plan, &self.plan).unwrap();
        let report = dir.path().join("report.json");

        let mut command = tokio::process::Command::from(crate::support::s3plan(dir.path()));
        command
            .arg("apply")
            .arg(&plan)
            .arg("--report")
            .arg(self.report.map_or(report, PathBuf::from));
        command.arg("--endpoint-url").arg(sandbox.url());
        if self.yes {
            command.arg("--yes");
        }
        command
            .args(&self.args)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .envs(self.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for key in &self.env_removed {
            command.env_remove(key);
        }
        let child = command.spawn().unwrap();
        Running {
            child,
            sandbox,
            dir,
            stderr: None,
        }
    }
}

/// A run in progress.
pub struct Running {
    child: tokio::process::Child,
    /// The sandbox the binary talks to.
    pub sandbox: SandboxHandle,
    dir: tempfile::TempDir,
    /// Stderr read as it comes, once a test waited on it.
    stderr: Option<StderrLines>,
}

impl Running {
    /// Waits until the binary printed a line containing `text` on stderr (an event to act on, such as the
    /// first Ctrl-C being taken into account).
    pub async fn wait_for_stderr(&mut self, text: &str) {
        if self.stderr.is_none() {
            self.stderr = Some(StderrLines::watch_tokio(&mut self.child));
        }
        if let Some(stderr) = &self.stderr {
            stderr.wait_for(text).await;
        }
    }

    /// Waits until the sandbox has seen at least `n` calls of `op`.
    pub async fn wait_for_calls(&self, op: Operation, n: u64) {
        crate::support::wait_until(&format!("{n} {op:?} calls"), || self.sandbox.calls(op) >= n)
            .await;
    }

    /// The temp dir holding the plan, the report and the journal.
    pub fn dir_path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Sends SIGINT to the binary (Ctrl-C).
    pub fn interrupt(&self) {
        self.signal("INT");
    }

    /// Sends the signal `name` (`INT`, `TERM`) to the binary.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().expect("the binary is running");
        crate::support::signal(pid, name);
    }

    /// Waits for the binary to exit and collects what it left.
    pub async fn finish(self) -> Finished {
        let Running {
            child,
            sandbox,
            dir,
            stderr,
        } = self;
        let mut output = child.wait_with_output().await.unwrap();
        if let Some(stderr) = stderr {
            output.stderr = stderr.finish().into_bytes();
        }
        let report = dir.path().join("report.json");
        let report = std::fs::read_to_string(&report)
            .ok()
            .map(|text| serde_json::from_str(&text).unwrap());
        Finished {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
            report,
            sandbox,
            dir,
        }
    }
}

impl Finished {
    /// Asserts the exit code, showing the output when it differs.
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts stderr contains `text`.
    pub fn stderr_has(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
        self
    }

    /// The parsed report (panics when none was written).
    pub fn report(&self) -> &Value {
        self.report.as_ref().unwrap_or_else(|| {
            panic!(
                "no report written\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The report's record of `job` in `entry`.
    pub fn job(&self, entry: &str, job: &str) -> &Value {
        self.report()["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["entry"] == entry && j["job_id"] == job)
            .unwrap_or_else(|| panic!("no record of {job} in {entry}: {:#}", self.report()))
    }

    /// The summary counter `name`.
    pub fn summary(&self, name: &str) -> u64 {
        self.report()["summary"][name].as_u64().unwrap()
    }

    /// UpdateJobStatus/UpdateJobPriority calls the sandbox saw, in arrival order.
    pub fn mutations(&self) -> Vec<AuditEntry> {
        self.sandbox
            .audit()
            .into_iter()
            .filter(|e| {
                matches!(
                    e.operation,
                    Operation::UpdateJobStatus | Operation::UpdateJobPriority
                )
            })
            .collect()
    }

    /// Calls of `op` the sandbox saw (reads included, any outcome).
    pub fn calls(&self, op: Operation) -> u64 {
        self.sandbox.calls(op)
    }

    /// The report file path.
    pub fn report_path(&self) -> PathBuf {
        self.dir.path().join("report.json")
    }
}
