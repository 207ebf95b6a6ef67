//! Command-line syntax: clap derive types for every subcommand, and logging set-up from the global flags.
//!
//! Owns flag names, help texts and examples; turns nothing into behaviour itself (`commands/` does).

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Confirm or cancel Amazon S3 Batch Operations jobs in bulk, safely and fast, from a reviewed YAML plan.
#[derive(Debug, Parser)]
#[command(
    name = "s3plan",
    version,
    propagate_version = true,
    before_help = QUICK_START,
    after_help = "Exit codes: 0 success, 1 some job failed, 2 invalid or refused (nothing changed), 130 interrupted.\n\
                  Docs: docs/plan.md (the plan format), docs/operator.md (plan, saved plans), docs/sandbox.md."
)]
pub struct Cli {
    /// Flags every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The example every help screen and the bare `s3plan` start with.
pub const QUICK_START: &str = "Quick start (no AWS account needed; runs against a built-in sandbox):\n  \
    s3plan plan --sandbox examples/incident-bulk-cancel.yaml\n  \
    s3plan apply --sandbox --yes examples/incident-bulk-cancel.yaml";

/// What a bare `s3plan` prints: the commands in one line each, and the quick start.
pub fn short_usage() -> String {
    format!(
        "s3plan: confirm or cancel Amazon S3 Batch Operations jobs in bulk from a reviewed YAML plan\n\n\
         Usage: s3plan <COMMAND> [OPTIONS]\n\n\
         \x20 validate  check plan files offline\n\
         \x20 plan      show what apply would do, change nothing (--out SAVED.json to save it)\n\
         \x20 apply     confirm or cancel the jobs of a plan or saved plan\n\
         \x20 sandbox   run a local S3 Control job API to rehearse against\n\
         \x20 report    turn a run's journal (even a cut-short one) into a report\n\
         \x20 jobs      list jobs (newest first, --watch to follow) or describe some; reads only\n\
         \x20 cancel    cancel jobs by id or selector flags, no YAML needed (overview, confirmation, journal)\n\
         \x20 confirm   confirm Suspended jobs by id or selector flags, as cancel does\n\
         \x20 schema    print the plan format's JSON Schema\n\
         \x20 completions, man  shell completion scripts and man pages\n\n\
         {QUICK_START}\n\n\
         More: s3plan --help, s3plan <COMMAND> --help"
    )
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More log output on stderr (-v info and the AWS SDK's warnings, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check plan files offline and report every mistake with its file, line and column.
    #[command(
        before_help = "Example: s3plan validate examples/*.yaml",
        after_help = "More examples:\n  s3plan validate --format json plan.yaml\n\n\
                      Exits 0 when every plan is valid (warnings are printed but allowed), 2 otherwise.\n\
                      Needs no network and no credentials. The format: docs/plan.md."
    )]
    Validate(ValidateArgs),
    /// Print the JSON Schema of the plan format (for editors and CI).
    #[command(
        before_help = "Example: s3plan schema > schemas/plan.schema.json",
        after_help = "More examples:\n  s3plan schema | jq '.properties | keys'   # the top-level keys\n\n\
                      Editors: start a plan with `# yaml-language-server: $schema=schemas/plan.schema.json`."
    )]
    Schema(SchemaArgs),
    /// Show what `apply` would do to each job, changing nothing; optionally save it for `apply`.
    #[command(
        before_help = "Example: s3plan plan --sandbox examples/incident-bulk-cancel.yaml",
        after_help = "More examples:\n  s3plan plan plan.yaml --region us-east-1 --out reviewed.json   # then: s3plan apply reviewed.json\n  s3plan plan plan.yaml --out reviewed.json --max-age 2h          # apply refuses it after 2h\n  s3plan plan plan.yaml --detailed-exitcode --format json\n  s3plan plan -v plan.yaml   # every job, not only the first of each entry\n\n\
                      Exit codes: 0 described (whatever it found), 2 the plan could not be described.\n\
                      With --detailed-exitcode: 0 nothing to do, 2 changes pending (or jobs waiting on a gate, or\n\
                      impossible), 1 the plan could not be described. Interrupted: 130 either way.\n\
                      Only reads (ListJobs, DescribeJob, GetJobTagging). Saved plans: docs/operator.md."
    )]
    Plan(PlanArgs),
    /// Resolve a plan, wait for each entry's gate, confirm or cancel its jobs, and write a report.
    #[command(
        before_help = "Example: s3plan apply --sandbox --yes examples/incident-bulk-cancel.yaml",
        after_help = "More examples:\n  s3plan apply --dry-run plan.yaml\n  s3plan apply plan.yaml --region us-east-1 --report incident-2041.json\n  s3plan apply reviewed.json   # saved by `plan --out`: its jobs only, refused if they moved\n\n\
                      Exit codes: 0 every job succeeded, 1 some job failed, timed out or did not run, 2 invalid or refused\n\
                      before any change, 130 interrupted."
    )]
    Apply(ApplyArgs),
    /// Run a local S3 Control Batch Operations server (the job API) to rehearse plans against.
    #[command(
        before_help = "Example: s3plan sandbox --port 9300",
        after_help = "More examples:\n  s3plan sandbox --seed jobs.yaml --speed 1 --throttle UpdateJobStatus=5:10 --fault-rate 0.01\n\nSee docs/sandbox.md for the seed format, the admin API and how to point the AWS CLI at it."
    )]
    Sandbox(SandboxArgs),
    /// Rebuild a report from an apply run's journal (`<report>.journal.jsonl`), even one cut short.
    #[command(
        before_help = "Example: s3plan report s3plan-report-plan-20261129T101500Z.json.journal.jsonl",
        after_help = "More examples:\n  s3plan report run.json.journal.jsonl --format markdown --out run.md\n\n\
                      Jobs the journal shows no request for are `no_call`; a request without a recorded answer is `unknown`."
    )]
    Report(JournalReportArgs),
    /// Print a shell completion script on stdout, generated from these definitions.
    #[command(
        before_help = "Example: s3plan completions bash > ~/.local/share/bash-completion/completions/s3plan",
        after_help = "More examples:\n  s3plan completions zsh > \"${fpath[1]}/_s3plan\"\n  s3plan completions fish > ~/.config/fish/completions/s3plan.fish\n  s3plan completions powershell >> $PROFILE"
    )]
    Completions(CompletionsArgs),
    /// Print the man page (roff) of s3plan, or of one of its commands, on stdout.
    #[command(
        before_help = "Example: s3plan man | man -l -",
        after_help = "More examples:\n  s3plan man apply > s3plan-apply.1\n  for c in validate plan apply sandbox report schema; do s3plan man $c > s3plan-$c.1; done"
    )]
    Man(ManArgs),
    /// List Batch Operations jobs (newest first) or describe some in full; reads only.
    #[command(
        before_help = "Example: s3plan jobs --sandbox --status Active,Suspended",
        after_help = "Examples:\n  s3plan jobs --sandbox --status Active,Suspended\n  s3plan jobs --description 'reindex-*' --created-after 2h --tags\n  s3plan jobs --status Active --watch 10s      # redraw every 10 s until Ctrl-C, marking changes\n  s3plan jobs --status Suspended --format ids   # one id a line, for pipes\n  s3plan jobs 6513270e-269e-4d37-b2a7-4de452e6b438   # everything about one job\n  s3plan jobs --targets-from incident.yaml --description 'reindex-*'   # in every target of the plan\n\n\
                      The selector flags mean exactly what a plan's `select:` means (docs/plan.md). Only reads\n\
                      (ListJobs, DescribeJob, GetJobTagging), at most --poll-rate-limit per second (default 10).\n\
                      --targets-from PLAN lists (or describes) in every target of PLAN's `targets:` at once, each\n\
                      row with its target, each target under its own read limit; --target NAME picks some.\n\
                      Exit codes: 0 listed, 2 a job id was not found or the listing failed, 130 interrupted."
    )]
    Jobs(JobsArgs),
    /// Cancel jobs by id or by selector, with every guarantee of `apply` (overview, confirmation, journal).
    #[command(
        before_help = "Example: s3plan cancel --sandbox --description 'reindex-*' --tag team=search --reason INC-2041",
        after_help = "Examples:\n  s3plan cancel --sandbox --description 'reindex-*' --tag team=search --reason INC-2041\n  s3plan cancel 8d116ece-1738-47d9-bd9c-172411e20b8f --yes --report incident.md\n  s3plan cancel --status Active --operation LambdaInvoke --dry-run\n  s3plan cancel --description 'reindex-*' --save-plan inc-2041.yaml --dry-run   # a plan for review\n  s3plan cancel --targets-from incident.yaml --target dr --description 'reindex-*'   # in a plan's targets\n\n\
                      Runs a one-entry plan (`set: Cancelled`) through exactly the path of `apply`: give job ids or\n\
                      selector flags (as `s3plan jobs`), not both. More than --max-jobs (100) matches is refused.\n\
                      --targets-from PLAN runs it in every target of PLAN's `targets:` (only those are taken from\n\
                      it); --target NAME picks some; job ids need --target naming their one target.\n\
                      Exit codes: as `apply`: 0 every job succeeded, 1 some job failed, 2 refused before any change,\n\
                      130 interrupted."
    )]
    Cancel(ActArgs),
    /// Confirm (set Ready) Suspended jobs by id or by selector, with every guarantee of `apply`.
    #[command(
        before_help = "Example: s3plan confirm --sandbox --status Suspended --description 'reindex-products-*'",
        after_help = "Examples:\n  s3plan confirm --sandbox --status Suspended --description 'reindex-products-*'\n  s3plan confirm 6513270e-269e-4d37-b2a7-4de452e6b438 --wait --yes   # waits for Suspended first\n\n\
                      Runs a one-entry plan (`set: Ready`, with --wait `wait_for: Suspended`) through exactly the path\n\
                      of `apply`: give job ids or selector flags, not both. --targets-from PLAN acts in every target\n\
                      of PLAN's `targets:` (--target picks some), as for cancel. Exit codes: as `apply`."
    )]
    Confirm(ConfirmArgs),
}

/// Which jobs, as flags: each one means what the same key of a plan's `select:` means, and every flag
/// given must match.
#[derive(Debug, Clone, Default, Args)]
#[group(id = "selector", multiple = true)]
pub struct SelectArgs {
    /// Only jobs in one of these statuses (repeat, or separate with commas): `--status Active,Suspended`.
    #[arg(long, value_name = "STATUS", value_delimiter = ',', value_parser = crate::commands::flag_plan::parse_status)]
    pub status: Vec<crate::api::JobStatus>,
    /// Only jobs whose description matches this glob (`reindex-*`), or a regex written `regex:^reindex-\d+$`.
    #[arg(long, value_name = "GLOB", value_parser = crate::commands::flag_plan::parse_description)]
    pub description: Option<String>,
    /// Only jobs created at or after T: RFC 3339 (`2026-11-29T10:00:00Z`) or a duration ago (`2h`).
    #[arg(long, value_name = "T", value_parser = crate::commands::flag_plan::parse_time)]
    pub created_after: Option<jiff::Timestamp>,
    /// Only jobs created before T: RFC 3339 or a duration ago (`30m`).
    #[arg(long, value_name = "T", value_parser = crate::commands::flag_plan::parse_time)]
    pub created_before: Option<jiff::Timestamp>,
    /// Only jobs running this operation (repeat, or separate with commas): `LambdaInvoke`, `S3PutObjectCopy`...
    #[arg(long, value_name = "OP", value_delimiter = ',', value_parser = crate::commands::flag_plan::parse_operation)]
    pub operation: Vec<crate::plan::model::OperationName>,
    /// Only jobs with a priority in MIN..MAX (`10..`, `..50`; `N` alone means exactly N).
    #[arg(long, value_name = "MIN..MAX", value_parser = crate::commands::flag_plan::parse_priority)]
    pub priority: Option<crate::commands::flag_plan::PriorityBounds>,
    /// Only jobs carrying this tag (repeat: all must match); one GetJobTagging per candidate.
    #[arg(long, value_name = "KEY=VALUE", value_parser = crate::commands::flag_plan::parse_tag)]
    pub tag: Vec<(String, String)>,
}

impl SelectArgs {
    /// Whether any selector flag was given.
    pub fn is_given(&self) -> bool {
        !self.status.is_empty()
            || self.description.is_some()
            || self.created_after.is_some()
            || self.created_before.is_some()
            || !self.operation.is_empty()
            || self.priority.is_some()
            || !self.tag.is_empty()
    }
}

/// What `s3plan jobs` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JobsOutput {
    /// A table for people, cut to the terminal's width.
    Table,
    /// JSON with the API's field names.
    Json,
    /// One job id a line.
    Ids,
}

/// `s3plan jobs`.
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// Describe these jobs in full (DescribeJob and their tags) instead of listing.
    #[arg(value_name = "JOB_ID", conflicts_with_all = ["selector", "watch", "limit"], value_parser = crate::commands::flag_plan::parse_job_id)]
    pub ids: Vec<crate::api::JobId>,
    /// Which jobs to list (all when no flag is given).
    #[command(flatten)]
    pub select: SelectArgs,
    /// Also show each listed job's tags (one GetJobTagging per job shown).
    #[arg(long)]
    pub tags: bool,
    /// What goes to stdout.
    // `--output`, the spelling of the first release's other commands, stays accepted (hidden).
    #[arg(long = "format", alias = "output", value_enum, value_name = "FORMAT", default_value_t = JobsOutput::Table)]
    pub output: JobsOutput,
    /// List again every INTERVAL (default 5s) until Ctrl-C, marking what changed; one ListJobs sweep a round.
    #[arg(long, value_name = "INTERVAL", num_args = 0..=1, default_missing_value = "5s", value_parser = humantime::parse_duration)]
    pub watch: Option<std::time::Duration>,
    /// Show at most N jobs, the newest.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Look in every target of this plan's `targets:` (its jobs are not run); `--target NAME` then picks
    /// some of them.
    #[arg(long, value_name = "PLAN")]
    pub targets_from: Option<PathBuf>,
    /// Where to connect; `--poll-rate-limit` bounds the reads.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `s3plan cancel` (and the common part of `s3plan confirm`).
#[derive(Debug, Args)]
pub struct ActArgs {
    /// The jobs, by id; or select them with the flags below (not both).
    #[arg(value_name = "JOB_ID", conflicts_with = "selector", value_parser = crate::commands::flag_plan::parse_job_id)]
    pub ids: Vec<crate::api::JobId>,
    /// Which jobs (a selector, as in `s3plan jobs`).
    #[command(flatten)]
    pub select: SelectArgs,
    /// `StatusUpdateReason` sent with every change, 1 to 256 characters (e.g. the incident ticket).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Refuse the run when more jobs than this are named or match (a plan's `max_jobs`).
    #[arg(long, value_name = "N", default_value_t = crate::plan::model::DEFAULT_MAX_JOBS)]
    pub max_jobs: u32,
    /// Also write the equivalent YAML plan to FILE (with this command line as a comment), for review.
    #[arg(long, value_name = "FILE")]
    pub save_plan: Option<PathBuf>,
    /// Act in every target of this plan's `targets:` (its jobs are not run); `--target NAME` then picks
    /// some of them. The targets are written into the plan the command runs (and into --save-plan's).
    #[arg(long, value_name = "PLAN")]
    pub targets_from: Option<PathBuf>,
    /// How the run goes, as for `apply`.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `s3plan confirm`.
#[derive(Debug, Args)]
pub struct ConfirmArgs {
    /// Which jobs and how, as for `cancel`.
    #[command(flatten)]
    pub act: ActArgs,
    /// Wait for each job to reach Suspended before confirming it (a plan's `wait_for: Suspended`).
    #[arg(long)]
    pub wait: bool,
    /// With --wait: how long to wait, e.g. `1h` (default 30m).
    #[arg(long, value_name = "DURATION", requires = "wait", value_parser = humantime::parse_duration)]
    pub timeout: Option<std::time::Duration>,
}

/// `s3plan completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `s3plan man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print (`apply` prints s3plan-apply(1)); none prints s3plan(1).
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

/// `s3plan report` formats, spelled as `--report-format` spells them (`md` is kept as an alias).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JournalReportFormat {
    /// JSON.
    Json,
    /// A Markdown table.
    #[value(name = "markdown", alias = "md")]
    Md,
}

/// `s3plan report`.
#[derive(Debug, Args)]
pub struct JournalReportArgs {
    /// The journal written by `s3plan apply`.
    #[arg(value_name = "JOURNAL")]
    pub journal: PathBuf,
    /// What is written to stdout (or to --out).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = JournalReportFormat::Json)]
    pub format: JournalReportFormat,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Output format of diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiagnosticFormat {
    /// Rendered for people (miette).
    Human,
    /// One JSON document (for editors and CI).
    Json,
}

/// `s3plan validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Plan files to check.
    #[arg(required = true, value_name = "PLAN")]
    pub plans: Vec<PathBuf>,
    /// How diagnostics are printed.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = DiagnosticFormat::Human)]
    pub format: DiagnosticFormat,
}

/// `s3plan sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// TCP port (0 picks a free one; the first stdout line names it).
    #[arg(long, default_value_t = 9300)]
    pub port: u16,
    /// Address to listen on. Anything but loopback exposes an unauthenticated admin API.
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: std::net::IpAddr,
    /// Seed file (YAML, schemas/sandbox-seed.schema.json). Default: the built-in demo seed.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// Sandbox seconds per real second: 60 (a minute per second) unless the seed sets `speed`; 1 = real
    /// time; 0 = frozen except admin advances.
    #[arg(long, value_name = "X")]
    pub speed: Option<f64>,
    /// Throttle an operation (or `all`) with a token bucket: OP=RATE or OP=RATE:BURST, e.g. UpdateJobStatus=5:10.
    #[arg(long, value_name = "OP=RATE[:BURST]")]
    pub throttle: Vec<String>,
    /// Probability (0..1) that a call answers 500 InternalServiceException.
    #[arg(long, value_name = "P")]
    pub fault_rate: Option<f64>,
    /// Probability (0..1) that a call's connection is closed without a response.
    #[arg(long, value_name = "P")]
    pub drop_rate: Option<f64>,
    /// Latency added to every call, with optional uniform jitter: BASE or BASE:JITTER, e.g. 20ms:10ms.
    #[arg(long, value_name = "BASE[:JITTER]")]
    pub latency: Option<String>,
    /// Seed of the random faults and jitter.
    #[arg(long, value_name = "N")]
    pub random_seed: Option<u64>,
    /// Verify SigV4 signatures against this key pair (repeatable). Without it any signed request passes.
    #[arg(long, value_name = "AKID:SECRET")]
    pub credentials: Vec<String>,
    /// Also append the audit log (every mutating call) to FILE as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// What a cancel of a New/Preparing/Ready job answers (the reference leaves it open).
    #[arg(long, value_enum, value_name = "STATUS")]
    pub cancel_before_start: Option<CancelBeforeStartArg>,
    /// Answer repeated requests (Ready on Ready, cancel on Cancelling) with 200 instead of JobStatusException.
    #[arg(long)]
    pub accept_repeats: bool,
    /// Print the seed file's JSON Schema and exit.
    #[arg(long)]
    pub print_seed_schema: bool,
    /// Print the built-in demo seed and exit.
    #[arg(long)]
    pub print_demo_seed: bool,
}

/// `--cancel-before-start` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CancelBeforeStartArg {
    /// Straight to Cancelled (default).
    Cancelled,
    /// Cancelling, then Cancelled.
    Cancelling,
}

/// `s3plan schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {}

/// How fast a sandbox started from the command line (`s3plan sandbox`, `--sandbox`) runs when neither the
/// flag nor the seed says: a sandbox minute per real second, so rehearsed gates open in seconds.
pub const SANDBOX_SPEED: f64 = 60.0;

/// Sets up `tracing` to stderr from `-v`/`-q` (and `RUST_LOG`, which wins when set), through `log` so
/// that log lines print above progress bars without tearing them.
pub fn init_logging(global: &GlobalArgs, log: &crate::report::progress::LogWriter) {
    crate::text::set_quiet(global.quiet);
    // The SDK's own warnings (e.g. "failed to load region from IMDS", once per retry, with its Debug
    // dump) repeat what s3plan's one-line set-up errors say: they show from -v on.
    let level = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "error,s3plan=warn",
            1 => "warn,s3plan=info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // A second initialisation (tests calling `run` twice) is harmless; ignore it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(log.clone())
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .try_init();
}

/// Where a run talks to and with which limits: shared by `apply` and `plan`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The AWS account that owns the jobs; else the plan's `account_id`, `AWS_ACCOUNT_ID`, or STS.
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
    /// The AWS region; else the plan's `region`, then the standard AWS chain.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// The AWS profile to take credentials and region from.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Send every request to this endpoint (e.g. a running `s3plan sandbox`); else
    /// `AWS_ENDPOINT_URL_S3_CONTROL` or `AWS_ENDPOINT_URL`.
    #[arg(long, value_name = "URL", conflicts_with = "sandbox")]
    pub endpoint_url: Option<String>,
    /// Run against an in-process sandbox: the built-in demo account, or the given seed file. Needs no
    /// credentials.
    #[arg(long, value_name = "SEED", num_args = 0..=1, require_equals = true)]
    pub sandbox: Option<Option<PathBuf>>,
    /// With `--sandbox`: sandbox seconds per real second, as `s3plan sandbox --speed` (60 unless the
    /// seed sets `speed`).
    #[arg(long, value_name = "X", requires = "sandbox")]
    pub sandbox_speed: Option<f64>,
    /// UpdateJobStatus/UpdateJobPriority calls in flight at once (overrides the plan).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<u32>,
    /// Mutating calls per second, per target (overrides the plan).
    #[arg(long, value_name = "PER_SECOND")]
    pub rate_limit: Option<f64>,
    /// Read calls per second, per target (overrides the plan).
    #[arg(long, value_name = "PER_SECOND")]
    pub poll_rate_limit: Option<f64>,
    /// How often waiting entries poll their gate, e.g. `5s` (overrides the plan).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub poll_interval: Option<std::time::Duration>,
    /// With a plan that has `targets:` (for `jobs`, `cancel` and `confirm`: the plan of `--targets-from`):
    /// act only in this target (a target's name, or a group's name for all its regions). Repeat it for
    /// several.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
}

/// Format of the final output on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A summary for people.
    Human,
    /// JSON: for `apply` the JSON report, for `plan` the plan (docs/operator.md).
    Json,
}

/// `s3plan plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The plan file.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Also save the resolved jobs and what was seen, for `s3plan apply SAVED.json`.
    #[arg(long, value_name = "SAVED.json")]
    pub out: Option<PathBuf>,
    /// How long the saved plan may be applied after it is written (e.g. `2h`, `3d`); `apply` refuses it
    /// after that.
    #[arg(long, value_name = "DURATION", requires = "out", value_parser = parse_max_age, default_value = "24h")]
    pub max_age: std::time::Duration,
    /// Exit 0 when there is nothing to do, 2 when changes are pending, 1 on error (see below).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// What goes to stdout.
    // `--output`, the old spelling, stays accepted (hidden) so scripts keep working.
    #[arg(long = "format", alias = "output", value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
    /// Where to connect and with which limits.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `s3plan apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The plan file, or a saved plan written by `s3plan plan --out`.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// How the run goes: confirmation, dry run, reports, output, resume, connection and limits.
    #[command(flatten)]
    pub run: RunArgs,
}

/// The flags of a run, shared by `apply`, `cancel` and `confirm`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// `-v`: the overview lists every job of every entry, not the first few.
    #[arg(skip)]
    pub all_jobs: bool,
    /// Apply without asking for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Resolve and wait, but make no mutating call; jobs that would change end `would_apply`. A gate that
    /// only another entry's change can open is not waited for (listed before the run).
    #[arg(long)]
    pub dry_run: bool,
    /// Write a report to FILE; repeat for several. The format follows the extension (`.json`, `.md`,
    /// `.xml` for JUnit) or `--report-format`. A JSON report is always written: when no `--report` is JSON,
    /// to `s3plan-report-<plan>-<time>.json` in the current directory.
    #[arg(long, value_name = "FILE")]
    pub report: Vec<PathBuf>,
    /// The format of every `--report` file, whatever its extension.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub report_format: Option<crate::report::format::ReportFormat>,
    /// Live progress on stderr: bars on a terminal, plain lines every 5 s otherwise (`auto`).
    #[arg(long, value_enum, default_value_t = crate::report::progress::ProgressMode::Auto)]
    pub progress: crate::report::progress::ProgressMode,
    /// What goes to stdout at the end.
    // `--output`, the old spelling, stays accepted (hidden) so scripts keep working.
    #[arg(long = "format", alias = "output", value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
    /// Continue an interrupted run from its journal: jobs it changed (acknowledged) are not called again
    /// and keep their outcome; jobs with a request and no recorded answer are read again first.
    #[arg(long, value_name = "JOURNAL", conflicts_with = "dry_run")]
    pub resume: Option<PathBuf>,
    /// Where to connect and with which limits.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// A positive duration: a saved plan that expires at once could never be applied.
fn parse_max_age(text: &str) -> Result<std::time::Duration, String> {
    let duration = humantime::parse_duration(text.trim()).map_err(|e| e.to_string())?;
    if duration.is_zero() {
        return Err("a max age must be above zero, e.g. 30m or 24h".to_owned());
    }
    Ok(duration)
}
