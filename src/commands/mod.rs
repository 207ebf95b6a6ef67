//! One module per subcommand; each turns parsed flags into behaviour and returns an exit code.

mod act;
pub mod apply;
pub mod completions;
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
    // `-q`: stderr is for errors only, so no live progress either.
    // `-v`: the overview lists every job.
    let quiet = |run: &mut crate::cli::RunArgs| {
        run.all_jobs = cli.global.verbose > 0;
        if cli.global.quiet {
            run.progress = crate::report::progress::ProgressMode::Never;
        }
    };
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Schema(args) => schema::run(&args),
        Command::Plan(args) => plan::run(&args, cli.global.verbose > 0),
        Command::Apply(mut args) => {
            quiet(&mut args.run);
            apply::run(&args, log)
        }
        Command::Sandbox(args) => sandbox::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Jobs(args) => jobs::run(&args),
        Command::Cancel(mut args) => {
            quiet(&mut args.run);
            act::cancel(&args, log)
        }
        Command::Confirm(mut args) => {
            quiet(&mut args.act.run);
            act::confirm(&args, log)
        }
        Command::Completions(args) => completions::completions(&args),
        Command::Man(args) => completions::man(&args),
    }
}
