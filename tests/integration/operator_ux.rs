//! What an operator meets around the runs themselves, through the binary in a controlled environment
//! (temp HOME and AWS config files, no `AWS_*` variables, no instance metadata): set-up errors said in one
//! line with their fix before any call, wrong-endpoint hints, `-q`, output-format spellings, plurals,
//! shell completions and the man page.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use s3plan::sandbox::{Sandbox, SandboxHandle, Seed};

/// One job by id: the first call a `plan` makes is DescribeJob.
const ONE_JOB: &str = r#"version: 1
account_id: "111122223333"
region: us-east-1
jobs:
  - name: one
    job_id: job-suspended-1
    set: Cancelled
"#;

/// One selector: the first call is ListJobs.
const ONE_SELECTOR: &str = r#"version: 1
account_id: "111122223333"
region: us-east-1
jobs:
  - name: stuck
    select: {status: [Suspended]}
    set: Cancelled
"#;

const SEED: &str = r#"
accounts:
  - id: "111122223333"
    jobs:
      - {id: job-suspended-1, status: Suspended, description: batch-a, priority: 10, tasks: 100}
"#;

/// A temp directory standing in for HOME, with its own (possibly absent) AWS config files.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs the binary with `args` in a clean environment: no `AWS_*` variables but `extra`, config files
    /// in the temp dir, instance metadata off.
    async fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut cmd = Command::cargo_bin("s3plan").unwrap();
        cmd.env_clear()
            .current_dir(self.path())
            .env("HOME", self.path())
            .env("AWS_CONFIG_FILE", self.path().join("aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.path().join("aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_COLOR", "1")
            .env("COLUMNS", "200")
            .args(args);
        for (key, value) in extra {
            cmd.env(key, value);
        }
        let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        Run::from(output)
    }
}

#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// stderr with miette's wrapping undone (its gutter removed, lines joined), for phrase checks.
    fn flat(&self) -> String {
        self.stderr
            .lines()
            .map(|line| line.trim_start().trim_start_matches(['│', '×']).trim())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

/// Dummy credentials a sandbox accepts.
const KEYS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "AKIDUXTEST"),
    ("AWS_SECRET_ACCESS_KEY", "ux-secret"),
];

async fn sandbox() -> SandboxHandle {
    Sandbox::builder()
        .seed(Seed::from_yaml(SEED, None).unwrap())
        .speed(0.0)
        .start()
        .await
        .unwrap()
}

fn total_calls(sandbox: &SandboxHandle) -> u64 {
    sandbox.call_counts().values().sum()
}

/// A local port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The one error a set-up failure prints: no SDK dump, no warnings before it.
fn assert_one_error(run: &Run) {
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.is_empty(), "nothing on stdout: {run:?}");
    for noise in [
        "WARN",
        "dispatch failure",
        "FailedToLoadToken",
        "SdkBody",
        "Request {",
    ] {
        assert!(!run.stderr.contains(noise), "{noise}: {}", run.stderr);
    }
    assert_eq!(
        run.stderr.matches('×').count(),
        1,
        "one error: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_says_aws_configure_before_any_call() {
    let home = Home::new();
    let sandbox = sandbox().await;
    let plan = home.write("plan.yaml", ONE_JOB);
    let url = sandbox.url();
    let run = home
        .run(
            &["plan", plan.to_str().unwrap(), "--endpoint-url", &url],
            &[],
        )
        .await;
    assert_one_error(&run);
    assert_eq!(total_calls(&sandbox), 0, "no call without credentials");
    insta::assert_snapshot!("set_up_no_credentials", run.stderr);

    // The same through apply: refused before any call either way.
    let run = home
        .run(
            &[
                "apply",
                "--yes",
                plan.to_str().unwrap(),
                "--endpoint-url",
                &url,
            ],
            &[],
        )
        .await;
    assert_one_error(&run);
    assert!(run.flat().contains("`aws configure`"), "{}", run.stderr);
    assert_eq!(total_calls(&sandbox), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_up_details_show_only_with_verbose() {
    let home = Home::new();
    let plan = home.write("plan.yaml", ONE_JOB);
    let quiet = home.run(&["plan", plan.to_str().unwrap()], &[]).await;
    assert!(
        !quiet.stderr.contains("no credentials found in chain"),
        "{}",
        quiet.stderr
    );
    let verbose = home.run(&["plan", "-v", plan.to_str().unwrap()], &[]).await;
    assert_eq!(verbose.code, 2, "{verbose:?}");
    assert!(
        verbose.stderr.contains("no credentials found in chain"),
        "the SDK's chain with -v: {}",
        verbose.stderr
    );
    assert!(
        verbose.flat().contains("no AWS credentials found"),
        "{}",
        verbose.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_without_a_scheme_says_add_http() {
    let home = Home::new();
    let sandbox = sandbox().await;
    let plan = home.write("plan.yaml", ONE_JOB);
    let bare = sandbox.url().replace("http://", "");
    let run = home
        .run(
            &["plan", plan.to_str().unwrap(), "--endpoint-url", &bare],
            &KEYS,
        )
        .await;
    assert_one_error(&run);
    assert_eq!(total_calls(&sandbox), 0);
    insta::assert_snapshot!(
        "set_up_endpoint_without_scheme",
        run.stderr.replace(&bare, "127.0.0.1:[PORT]")
    );

    // From the environment variable, the message names the variable.
    let run = home
        .run(
            &["plan", plan.to_str().unwrap()],
            &[KEYS[0], KEYS[1], ("AWS_ENDPOINT_URL", &bare)],
        )
        .await;
    assert_one_error(&run);
    assert!(
        run.flat().contains("AWS_ENDPOINT_URL `"),
        "names its source: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_region_with_instance_metadata_blocked_says_pass_region_once() {
    let home = Home::new();
    let plan = home.write("plan.yaml", &ONE_JOB.replace("region: us-east-1\n", ""));
    // Instance metadata enabled but unreachable, as on a laptop or a locked-down host: the SDK retries it
    // and warns each time; none of that is shown without -v.
    let imds = format!("http://127.0.0.1:{}", closed_port());
    let mut cmd_env = KEYS.to_vec();
    cmd_env.push(("AWS_EC2_METADATA_DISABLED", "false"));
    cmd_env.push(("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds));
    let run = home.run(&["plan", plan.to_str().unwrap()], &cmd_env).await;
    assert_one_error(&run);
    insta::assert_snapshot!("set_up_no_region", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_profile_is_named_with_the_profiles_that_exist() {
    let home = Home::new();
    home.write(
        "aws-config",
        "[default]\nregion = us-east-1\n[profile staging]\nregion = eu-west-1\n",
    );
    home.write(
        "aws-credentials",
        "[default]\naws_access_key_id = AKIDUX\naws_secret_access_key = ux\n",
    );
    let plan = home.write("plan.yaml", ONE_JOB);
    let run = home
        .run(&["plan", plan.to_str().unwrap(), "--profile", "prod"], &[])
        .await;
    assert_one_error(&run);
    insta::assert_snapshot!("set_up_missing_profile", run.stderr);

    // AWS_PROFILE is named as the source when it is where the name came from.
    let run = home
        .run(
            &["plan", plan.to_str().unwrap()],
            &[("AWS_PROFILE", "prod")],
        )
        .await;
    assert_one_error(&run);
    assert!(
        run.flat().contains("`prod` (AWS_PROFILE)"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_without_credentials_says_configure_that_profile() {
    let home = Home::new();
    home.write(
        "aws-config",
        "[profile empty]\nregion = us-east-1\n[profile corp]\nregion = us-east-1\nsso_session = corp\n\
         sso_account_id = 111122223333\nsso_role_name = Admin\n\
         [sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n",
    );
    let plan = home.write("plan.yaml", ONE_JOB);
    let run = home
        .run(&["plan", plan.to_str().unwrap(), "--profile", "empty"], &[])
        .await;
    assert_one_error(&run);
    assert!(
        run.flat().contains("`aws configure --profile empty`"),
        "{}",
        run.stderr
    );

    let run = home
        .run(&["plan", plan.to_str().unwrap(), "--profile", "corp"], &[])
        .await;
    assert_one_error(&run);
    insta::assert_snapshot!("set_up_sso_session_missing", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_says_the_endpoint_did_not_answer() {
    let home = Home::new();
    let url = format!("http://127.0.0.1:{}", closed_port());
    for plan in [ONE_JOB, ONE_SELECTOR] {
        let plan = home.write("plan.yaml", plan);
        for command in ["plan", "apply"] {
            let mut args = vec![command, plan.to_str().unwrap(), "--endpoint-url", &url];
            if command == "apply" {
                args.push("--yes");
            }
            let run = home.run(&args, &KEYS).await;
            assert_one_error(&run);
            assert!(
                !run.stderr.contains("poll_rate_limit"),
                "not a rate problem: {}",
                run.stderr
            );
            assert!(
                run.flat().contains("did not answer (connection refused)"),
                "{}",
                run.stderr
            );
        }
    }
    let plan = home.write("plan.yaml", ONE_JOB);
    let run = home
        .run(
            &["plan", plan.to_str().unwrap(), "--endpoint-url", &url],
            &KEYS,
        )
        .await;
    insta::assert_snapshot!(
        "endpoint_closed_port",
        run.stderr.replace(&url, "http://127.0.0.1:[PORT]")
    );
}

/// A web server that is not S3 Control: `status` and an HTML page for every request.
async fn not_s3_control(status: u16) -> (String, tokio::task::JoinHandle<()>) {
    let status = axum::http::StatusCode::from_u16(status).unwrap();
    let app = axum::Router::new().fallback(move || async move {
        (
            status,
            [("content-type", "text/html")],
            "<html><body><h1>Not here</h1></body></html>",
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_answering_404_is_said_not_to_speak_s3_control() {
    let home = Home::new();
    let (url, server) = not_s3_control(404).await;
    for (name, plan) in [("describe", ONE_JOB), ("list", ONE_SELECTOR)] {
        let plan = home.write("plan.yaml", plan);
        let run = home
            .run(
                &["plan", plan.to_str().unwrap(), "--endpoint-url", &url],
                &KEYS,
            )
            .await;
        assert_eq!(run.code, 2, "{run:?}");
        for wrong in ["no such job", "wrong account", "not found in account"] {
            assert!(!run.stderr.contains(wrong), "{wrong}: {}", run.stderr);
        }
        assert!(
            run.flat()
                .contains("the endpoint did not speak the S3 Control API"),
            "{}",
            run.stderr
        );
        insta::assert_snapshot!(
            format!("endpoint_not_s3_control_{name}"),
            run.stderr.replace(&url, "http://127.0.0.1:[PORT]")
        );
    }
    server.abort();

    // A server refusing the method (a static file server) is the same mistake.
    let (url, server) = not_s3_control(405).await;
    let plan = home.write("plan.yaml", ONE_SELECTOR);
    let run = home
        .run(
            &["plan", plan.to_str().unwrap(), "--endpoint-url", &url],
            &KEYS,
        )
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.flat()
            .contains("the endpoint did not speak the S3 Control API"),
        "{}",
        run.stderr
    );
    server.abort();
}

/// Runs the binary with `args` only (help, completions, man): nothing about AWS is read.
fn run_plain(args: &[&str]) -> Run {
    let output = Command::cargo_bin("s3plan")
        .unwrap()
        .env("COLUMNS", "100")
        .args(args)
        .output()
        .unwrap();
    Run::from(output)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_apply_prints_nothing_on_stderr() {
    let home = Home::new();
    let sandbox = sandbox().await;
    let plan = home.write("plan.yaml", ONE_SELECTOR);
    let url = sandbox.url();
    // Without --progress: -q turns the plain progress lines off as well.
    let run = home
        .run(
            &[
                "apply",
                "-q",
                "--yes",
                plan.to_str().unwrap(),
                "--endpoint-url",
                &url,
            ],
            &KEYS,
        )
        .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stderr, "", "nothing but errors with -q");
    assert!(run.stdout.contains("1 job"), "{}", run.stdout);
    assert_eq!(
        sandbox.calls(s3plan::sandbox::Operation::UpdateJobStatus),
        1,
        "the run happened"
    );
    // Without -q the same run says where its journal and report went.
    let loud = home
        .run(
            &[
                "apply",
                "--yes",
                "--progress",
                "never",
                plan.to_str().unwrap(),
                "--endpoint-url",
                &url,
            ],
            &KEYS,
        )
        .await;
    assert!(loud.stderr.contains("journal: "), "{}", loud.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_formats_have_one_spelling_and_the_old_ones_still_work() {
    let home = Home::new();
    let sandbox = sandbox().await;
    let plan = home.write("plan.yaml", ONE_SELECTOR);
    let url = sandbox.url();
    let plan_json = |flag: &'static str| {
        let args = [
            "plan",
            plan.to_str().unwrap(),
            flag,
            "json",
            "--endpoint-url",
            &url,
        ]
        .map(str::to_owned);
        let home = &home;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            home.run(&args, &KEYS).await
        }
    };
    let new = plan_json("--format").await;
    assert_eq!(new.code, 0, "{new:?}");
    let old = plan_json("--output").await;
    assert_eq!(old.code, 0, "{old:?}");
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    assert_eq!(
        parse(&new.stdout)["entries"],
        parse(&old.stdout)["entries"],
        "--output is an alias of --format"
    );

    let valid = run_plain(&["validate", "--format", "json", plan.to_str().unwrap()]);
    assert_eq!(valid.code, 0, "{valid:?}");
    parse(&valid.stdout);

    // A journal from an apply run, then `report --format markdown` (and the old `md`).
    let applied = home
        .run(
            &[
                "apply",
                "--yes",
                "--progress",
                "never",
                "--report",
                "run.json",
                "--report-format",
                "json",
                plan.to_str().unwrap(),
                "--endpoint-url",
                &url,
            ],
            &KEYS,
        )
        .await;
    assert_eq!(applied.code, 0, "{applied:?}");
    let journal = home.path().join("run.json.journal.jsonl");
    let markdown = run_plain(&["report", journal.to_str().unwrap(), "--format", "markdown"]);
    assert_eq!(markdown.code, 0, "{markdown:?}");
    assert!(markdown.stdout.contains('|'), "{}", markdown.stdout);
    let md = run_plain(&["report", journal.to_str().unwrap(), "--format", "md"]);
    assert_eq!(md.stdout, markdown.stdout, "md is an alias of markdown");
    let md_report = home
        .run(
            &[
                "apply",
                "--yes",
                "--progress",
                "never",
                "--report",
                "again.txt",
                "--report-format",
                "md",
                plan.to_str().unwrap(),
                "--endpoint-url",
                &url,
            ],
            &KEYS,
        )
        .await;
    assert_eq!(md_report.code, 0, "{md_report:?}");
    let text = std::fs::read_to_string(home.path().join("again.txt")).unwrap();
    assert!(text.contains('|'), "{text}");

    // The help shows one spelling: the aliases are hidden.
    for command in ["plan", "apply", "validate", "report"] {
        let help = run_plain(&[command, "--help"]);
        assert!(
            help.stdout.contains("--format <FORMAT>"),
            "{command}: {}",
            help.stdout
        );
        assert!(
            !help.stdout.contains("--output"),
            "{command}: {}",
            help.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selector_status_may_be_one_status_or_a_list() {
    let home = Home::new();
    let sandbox = sandbox().await;
    let url = sandbox.url();
    let one = home.write(
        "one.yaml",
        &ONE_SELECTOR.replace("{status: [Suspended]}", "{status: Suspended}"),
    );
    let valid = run_plain(&["validate", one.to_str().unwrap()]);
    assert_eq!(valid.code, 0, "{valid:?}");
    let single = home
        .run(
            &[
                "plan",
                one.to_str().unwrap(),
                "--format",
                "json",
                "--endpoint-url",
                &url,
            ],
            &KEYS,
        )
        .await;
    assert_eq!(single.code, 0, "{single:?}");
    let list = home.write("list.yaml", ONE_SELECTOR);
    let listed = home
        .run(
            &[
                "plan",
                list.to_str().unwrap(),
                "--format",
                "json",
                "--endpoint-url",
                &url,
            ],
            &KEYS,
        )
        .await;
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    assert_eq!(
        parse(&single.stdout)["entries"],
        parse(&listed.stdout)["entries"]
    );
    assert!(
        single.stdout.contains("job-suspended-1"),
        "{}",
        single.stdout
    );
    // An empty list is still a mistake, said where it is.
    let empty = home.write(
        "empty.yaml",
        &ONE_SELECTOR.replace("{status: [Suspended]}", "{status: []}"),
    );
    let refused = run_plain(&["validate", empty.to_str().unwrap()]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("empty"), "{}", refused.stderr);
}

#[test]
fn the_sandbox_speed_has_one_default_in_both_commands() {
    for (args, flag) in [
        (["sandbox", "--help"], "--speed"),
        (["plan", "--help"], "--sandbox-speed"),
        (["apply", "--help"], "--sandbox-speed"),
    ] {
        let help = run_plain(&args).stdout;
        let at = help.find(flag).unwrap_or_else(|| panic!("{help}"));
        let text: String = help[at..]
            .split("\n\n")
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(text.contains("60"), "{args:?}: {text}");
        assert!(
            !text.contains("[default"),
            "the seed's speed must still win: {text}"
        );
    }
}

#[test]
fn every_help_shows_each_example_once_on_its_own_line() {
    let commands = [
        "validate",
        "schema",
        "plan",
        "apply",
        "sandbox",
        "report",
        "completions",
        "man",
    ];
    for command in commands {
        let help = run_plain(&[command, "--help"]).stdout;
        let first = help.lines().next().unwrap_or_default();
        let example = first
            .strip_prefix("Example: ")
            .unwrap_or_else(|| panic!("{command}: {help}"));
        assert_eq!(
            help.matches(example).count(),
            1,
            "{command}: the example is repeated: {help}"
        );
        // Every example line of the block is a command, not a wrapped-over remainder.
        if let Some((_, block)) = help.split_once("More examples:\n") {
            for line in block.lines().take_while(|l| !l.is_empty()) {
                assert!(line.starts_with("  "), "{command}: {line:?} in {help}");
                let line = line.trim_start();
                assert!(
                    line.starts_with("s3plan ") || line.starts_with("for "),
                    "{command}: wrapped example {line:?}"
                );
            }
        }
        if !["plan", "apply"].contains(&command) {
            assert!(!help.contains("plan -v"), "{command}: {help}");
        }
    }
}

#[test]
fn completions_are_generated_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = run_plain(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {run:?}");
        assert!(run.stdout.contains("s3plan"), "{shell}");
        for flag in ["--endpoint-url", "--sandbox-speed", "--format"] {
            assert!(
                run.stdout.contains(flag.trim_start_matches('-')),
                "{shell}: {flag}"
            );
        }
    }
    let bash = run_plain(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s3plan.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    // Checked for syntax where bash exists (it does on every CI image this project uses).
    if let Ok(check) = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
    {
        assert!(
            check.status.success(),
            "bash -n: {}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    let refused = run_plain(&["completions", "tcsh"]);
    assert_eq!(refused.code, 2, "{refused:?}");
}

#[test]
fn man_pages_are_roff_for_s3plan_and_each_command() {
    let root = run_plain(&["man"]);
    assert_eq!(root.code, 0, "{root:?}");
    let title = |page: &str| {
        page.lines()
            .find(|l| l.starts_with('.') && !l.starts_with(".ie") && !l.starts_with(".el"))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        title(&root.stdout).starts_with(".TH s3plan 1"),
        "{}",
        root.stdout
    );
    assert!(root.stdout.contains(".SH SUBCOMMANDS"), "{}", root.stdout);
    let apply = run_plain(&["man", "apply"]);
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        title(&apply.stdout).starts_with(".TH s3plan-apply 1"),
        "{}",
        apply.stdout
    );
    assert!(apply.stdout.contains("dry\\-run"), "{}", apply.stdout);
    let unknown = run_plain(&["man", "nope"]);
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(unknown.stderr.contains("pick one of"), "{}", unknown.stderr);
    assert!(!unknown.stderr.contains("help"), "{}", unknown.stderr);
}

/// Starts `s3plan sandbox --port 0 ARGS` and answers its clock speed from the admin API.
fn sandbox_cli_speed(args: &[&str]) -> f64 {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_s3plan"))
        .args(["sandbox", "--port", "0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /_sandbox/clock HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let clock: serde_json::Value =
        serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {answer}"));
    clock["speed"].as_f64().unwrap()
}

#[test]
fn the_sandbox_runs_at_60_unless_the_flag_or_the_seed_says_otherwise() {
    assert_eq!(sandbox_cli_speed(&[]), 60.0);
    assert_eq!(sandbox_cli_speed(&["--speed", "1"]), 1.0);
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.yaml");
    std::fs::write(&seed, format!("speed: 0\n{SEED}")).unwrap();
    assert_eq!(sandbox_cli_speed(&["--seed", seed.to_str().unwrap()]), 0.0);
    assert_eq!(
        sandbox_cli_speed(&["--seed", seed.to_str().unwrap(), "--speed", "5"]),
        5.0
    );
}

#[test]
fn quiet_validate_prints_only_errors() {
    let dir = tempfile::tempdir().unwrap();
    // Valid, with a warning (a gate on a status the job can never leave).
    let warned = dir.path().join("warned.yaml");
    std::fs::write(
        &warned,
        ONE_JOB.replace(
            "    set: Cancelled",
            "    wait_for: Complete\n    set: Cancelled",
        ),
    )
    .unwrap();
    let loud = run_plain(&["validate", warned.to_str().unwrap()]);
    assert_eq!(loud.code, 0, "{loud:?}");
    assert!(loud.stderr.contains("1 warning"), "{}", loud.stderr);
    let quiet = run_plain(&["validate", "-q", warned.to_str().unwrap()]);
    assert_eq!(quiet.code, 0, "{quiet:?}");
    assert_eq!(quiet.stderr, "");

    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, ONE_JOB.replace("set: Cancelled", "set: Canceled")).unwrap();
    let quiet = run_plain(&["validate", "-q", broken.to_str().unwrap()]);
    assert_eq!(quiet.code, 2, "{quiet:?}");
    assert!(quiet.stderr.contains("Cancelled"), "{}", quiet.stderr);
    assert!(quiet.stderr.contains("1 error"), "{}", quiet.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_resolution_blames_the_failing_endpoint_not_the_read_rate() {
    let home = Home::new();
    let sandbox = sandbox().await;
    // The port answers TCP (so the set-up check passes) but every request's connection is dropped.
    let mut knobs = sandbox.knobs();
    knobs.drop_rate = 1.0;
    sandbox.set_knobs(knobs).unwrap();
    let plan = home.write("plan.yaml", ONE_SELECTOR);
    let url = sandbox.url();
    let run = home
        .run(
            &["plan", plan.to_str().unwrap(), "--endpoint-url", &url],
            &KEYS,
        )
        .await;
    assert_eq!(run.code, 2, "{run:?}");
    // The first note comes after 5 s; the default retry policy sleeps at least 6.3 s (half of each of its
    // 100 ms .. 6.4 s delays) before giving up, so it always comes.
    assert!(
        run.stderr.contains("the endpoint is not answering"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("poll_rate_limit"), "{}", run.stderr);
    assert!(
        run.flat().contains("the endpoint did not answer"),
        "{}",
        run.stderr
    );
}
