//! s3plan: confirm or cancel Amazon S3 Batch Operations jobs in bulk from a reviewed YAML plan.
//!
//! The engine as a library; `main.rs` only calls [`run`]. Layout follows `../shared/STYLE.md`: the plan
//! language (`plan`), resolution into concrete jobs (`resolve`, `resolved`), the API behind `JobControl`
//! (`api`), the executor and its events (`exec`, `event`), reporters (`report`), and the local S3 Control
//! emulator (`sandbox`), which shares no code with the client side.

pub mod api;
pub mod cli;
pub mod commands;
pub(crate) mod decision;
pub mod errors;
pub mod event;
pub mod exec;
pub(crate) mod forecast;
pub mod plan;
pub mod report;
pub mod resolve;
pub mod resolved;
pub mod sandbox;
pub(crate) mod saved;

use std::ffi::OsString;

use clap::Parser;

/// Parses `args`, runs the command and returns the process exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<T> = args.into_iter().collect();
    if args.len() <= 1 {
        eprintln!("{}", cli::short_usage());
        return errors::EXIT_INVALID;
    }
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                errors::EXIT_INVALID
            } else {
                errors::EXIT_OK
            };
            // Help and version go to stdout; usage errors to stderr. Printing can only fail on a closed pipe.
            let _ = err.print();
            return code;
        }
    };
    let log = report::progress::LogWriter::new();
    cli::init_logging(&cli.global, &log);
    commands::dispatch(cli, &log)
}
