//! Command-line syntax: clap derive types for every subcommand, and logging set-up from the global flags.
//!
//! Owns flag names, help texts and examples; turns nothing into behaviour itself (`commands/` does).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Confirm or cancel Amazon S3 Batch Operations jobs in bulk, safely and fast, from a reviewed YAML plan.
#[derive(Debug, Parser)]
#[command(name = "s3plan", version, propagate_version = true)]
pub struct Cli {
    /// Flags every subcommand takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
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
        after_help = "Examples:\n  s3plan validate examples/*.yaml\n  s3plan validate --format json plan.yaml\n\n\
                      Exits 0 when every plan is valid (warnings are printed but allowed), 2 otherwise.\n\
                      Needs no network and no credentials. The format: docs/plan.md."
    )]
    Validate(ValidateArgs),
    /// Print the JSON Schema of the plan format (for editors and CI).
    #[command(after_help = "Example:\n  s3plan schema > schemas/plan.schema.json")]
    Schema(SchemaArgs),
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
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
    pub format: DiagnosticFormat,
}

/// `s3plan schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {}

/// Sets up `tracing` to stderr from `-v`/`-q` (and `RUST_LOG`, which wins when set).
pub fn init_logging(global: &GlobalArgs) {
    let level = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // A second initialisation (tests calling `run` twice) is harmless; ignore it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
