//! What every integration test shares: the one way to launch the binary (a clean environment, so nothing of
//! the host's AWS set-up leaks in), the account the seeds use, a frozen sandbox, a stub HTTP server, signals,
//! and waiting on an observable event (a call count, a journal line, a line of stderr) instead of sleeping.
//!
//! `apply_support.rs` (the `TestRun` builder) and `sandbox_support.rs` (an SDK client aimed at a sandbox)
//! build on this; the test files hold only assertions and their stories.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use s3plan::sandbox::{Sandbox, SandboxHandle, Seed};

/// The account every seed and plan of the integration tests uses.
pub const ACCOUNT: &str = "111122223333";

/// The dummy key pair the binary signs with when a test does not choose its own.
pub const ACCESS_KEY_ID: &str = "AKIDINTEGRATIONTEST";
/// Its secret.
pub const SECRET_ACCESS_KEY: &str = "integration-test-secret";

/// How long any wait for an event may take before the test fails: far above anything a loaded machine
/// needs, so it only ends a test that would otherwise hang.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The binary run from `dir` with an empty environment but for: `PATH`, `HOME` in `dir` and AWS config files
/// that do not exist (no real profile is read; nothing is written to `dir`), dummy credentials, `us-east-1`, IMDS off (no instance role), no colour and a fixed
/// width (stable rendering). Tests add or remove variables on the returned command.
pub fn s3plan(dir: &Path) -> Command {
    let config = dir.join(".no-aws-config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_s3plan"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &config)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .current_dir(dir);
    cmd
}

/// A sandbox whose clock is frozen (only `advance` moves it), seeded with `seed`, its audit log also written
/// to `audit` when given.
pub async fn frozen(seed: Seed, audit: Option<&Path>) -> SandboxHandle {
    let mut builder = Sandbox::builder().seed(seed).speed(0.0);
    if let Some(path) = audit {
        builder = builder.audit_log(path);
    }
    builder.start().await.unwrap()
}

/// Serves `app` on a free local port: a stub server playing S3 Control or STS. Returns its URL and the task
/// to abort at the end.
pub async fn serve(app: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, server)
}

/// Sends the signal `name` (`INT`, `TERM`, `KILL`) to process `pid`.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// Polls `done` every 10 ms until it holds; fails the test after [`PATIENCE`], naming `what`.
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The lines read so far, and whether the stream has ended.
type Seen = (Vec<String>, bool);

/// A child's stderr read line by line as it comes, so a test can wait for a line (the event it acts on)
/// and still see everything at the end.
pub struct StderrLines {
    lines: Arc<(Mutex<Seen>, Condvar)>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl StderrLines {
    /// Takes `child`'s piped stderr.
    pub fn watch(child: &mut Child) -> Self {
        Self::read(child.stderr.take().expect("stderr is piped"))
    }

    /// Takes a tokio child's piped stderr.
    pub fn watch_tokio(child: &mut tokio::process::Child) -> Self {
        let stderr = child.stderr.take().expect("stderr is piped");
        Self::read(std::fs::File::from(stderr.into_owned_fd().unwrap()))
    }

    fn read(stderr: impl std::io::Read + Send + 'static) -> Self {
        let lines = Arc::new((Mutex::new((Vec::new(), false)), Condvar::new()));
        let shared = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let (state, changed) = &*shared;
                state.lock().unwrap().0.push(line);
                changed.notify_all();
            }
            let (state, changed) = &*shared;
            state.lock().unwrap().1 = true;
            changed.notify_all();
        });
        Self {
            lines,
            reader: Some(reader),
        }
    }

    /// Blocks (off the runtime) until a line containing `text` was printed; fails the test if the stream ends
    /// first or after [`PATIENCE`].
    pub async fn wait_for(&self, text: &str) {
        let lines = self.lines.clone();
        let text = text.to_owned();
        tokio::task::spawn_blocking(move || {
            let (state, changed) = &*lines;
            let deadline = Instant::now() + PATIENCE;
            let mut guard = state.lock().unwrap();
            loop {
                if guard.0.iter().any(|l| l.contains(&text)) {
                    return;
                }
                assert!(
                    !guard.1,
                    "stderr ended without {text:?}:\n{}",
                    guard.0.join("\n")
                );
                let left = deadline.saturating_duration_since(Instant::now());
                assert!(
                    !left.is_zero(),
                    "no {text:?} on stderr:\n{}",
                    guard.0.join("\n")
                );
                guard = changed.wait_timeout(guard, left).unwrap().0;
            }
        })
        .await
        .unwrap();
    }

    /// Everything printed, once the stream has ended.
    pub fn finish(mut self) -> String {
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.lines.0.lock().unwrap().0.join("\n")
    }
}
