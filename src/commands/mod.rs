//! One module per subcommand; each turns parsed flags into behaviour and returns an exit code.

mod act;
pub mod apply;
pub mod flag_plan;
mod job_view;
mod jobs;
pub mod plan;
pub mod report;
pub mod sandbox;
pub mod schema;
mod session;
pub mod validate;

use crate::cli::{Cli, Command};
use crate::report::progress::LogWriter;

/// Runs the parsed command and returns its exit code.
pub fn dispatch(cli: Cli, log: &LogWriter) -> i32 {
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Schema(args) => schema::run(&args),
        Command::Plan(args) => plan::run(&args, cli.global.verbose > 0),
        Command::Apply(args) => apply::run(&args, log),
        Command::Sandbox(args) => sandbox::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Jobs(args) => jobs::run(&args),
        Command::Cancel(args) => act::cancel(&args, log),
        Command::Confirm(args) => act::confirm(&args, log),
    }
}
