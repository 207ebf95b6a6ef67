//! `s3plan cancel` and `s3plan confirm`: act on jobs named by id or selector flags, without writing a plan.
//!
//! Owns the usage rules (ids or a selector, not both, one of them required; `--max-jobs` over ids) and
//! `--save-plan`. The flags become a one-entry plan (`flag_plan.rs`) that runs through exactly the path of
//! `apply` (`apply::run_plan`): overview, confirmation or refusal without a terminal, journal, reports,
//! outcomes, exit codes and `--resume` are that path's, not copies.

use clap::CommandFactory;

use crate::api::TargetStatus;
use crate::cli::{ActArgs, Cli, ConfirmArgs};
use crate::commands::apply::{self, PlanSource};
use crate::commands::flag_plan::{self, FlagPlan};
use crate::errors::{self, CommandError};
use crate::matched::MatchSample;
use crate::report::progress::LogWriter;
use crate::resolve::ResolveError;
use crate::text::plural;

/// Runs `s3plan cancel`.
pub fn cancel(args: &ActArgs, log: &LogWriter) -> i32 {
    act(args, TargetStatus::Cancelled, None, log)
}

/// Runs `s3plan confirm`.
pub fn confirm(args: &ConfirmArgs, log: &LogWriter) -> i32 {
    let wait = args.wait.then_some(args.timeout);
    act(&args.act, TargetStatus::Ready, wait, log)
}

fn act(
    args: &ActArgs,
    set: TargetStatus,
    wait: Option<Option<std::time::Duration>>,
    log: &LogWriter,
) -> i32 {
    let name = match set {
        TargetStatus::Cancelled => "cancel",
        TargetStatus::Ready => "confirm",
    };
    if args.ids.is_empty() && !args.select.is_given() {
        let mut cli = Cli::command();
        cli.build();
        let mut command = cli
            .find_subcommand(name)
            .cloned()
            .unwrap_or_else(Cli::command);
        let error = command.error(
            clap::error::ErrorKind::MissingRequiredArgument,
            format!(
                "`s3plan {name}` needs job ids or at least one selector flag (--status, --description, \
                 --created-after, --created-before, --operation, --priority, --tag)\n\n\
                 Look first: s3plan jobs [SELECTOR FLAGS]"
            ),
        );
        let _ = error.print();
        return errors::EXIT_INVALID;
    }
    if args.ids.len() > args.max_jobs as usize {
        return errors::report(too_many(args.ids.len(), args.max_jobs, "names", None));
    }
    let targets = match flag_plan::flag_targets(
        name,
        args.targets_from.as_deref(),
        &args.run.connect,
        !args.ids.is_empty(),
    ) {
        Ok(targets) => targets,
        Err(error) => return errors::report(error),
    };
    let flags = FlagPlan {
        name,
        set: Some(set),
        ids: &args.ids,
        select: &args.select,
        reason: args.reason.as_deref(),
        max_jobs: Some(args.max_jobs),
        wait,
        connect: &args.run.connect,
        targets: targets.as_ref(),
    };
    let command_line = flag_plan::command_line();
    if let Some(path) = &args.save_plan {
        if let Err(source) = std::fs::write(path, flags.saved(&command_line)) {
            return errors::report(CommandError::Io {
                action: "write the plan to",
                path: path.display().to_string(),
                source,
            });
        }
        eprintln!(
            "plan saved: {} (review it, run it with `s3plan apply {}`)",
            path.display(),
            path.display()
        );
    }
    let body = flags.body();
    let source = PlanSource::Text {
        name: &command_line,
        stem: name,
        text: &body,
    };
    let runtime = match apply::run_runtime() {
        Ok(runtime) => runtime,
        Err(source) => {
            return errors::report(CommandError::Io {
                action: "start the async runtime for",
                path: command_line,
                source,
            });
        }
    };
    match runtime.block_on(apply::run_plan(&source, &args.run, log)) {
        Ok(code) => code,
        Err(CommandError::Resolve(error)) => match *error {
            ResolveError::TooManyJobs {
                matched,
                max_jobs,
                matches,
                ..
            } => errors::report(too_many(matched, max_jobs, "matches", Some(&*matches))),
            other => errors::report(CommandError::Resolve(Box::new(other))),
        },
        Err(error) => errors::report(error),
    }
}

/// The `max_jobs` refusal in the words of the command line: the count, the flag that raises it, and (for a
/// selector) the first matches and their breakdown, so the operator sees what to narrow.
fn too_many(
    count: usize,
    max_jobs: u32,
    verb: &str,
    matches: Option<&MatchSample>,
) -> CommandError {
    let mut help = format!(
        "look at them with `s3plan jobs` and narrow the selector, or pass --max-jobs {count} if {} is really what you mean",
        plural(count, "job")
    );
    if let Some(matches) = matches {
        help.push_str(&format!("\n{matches}"));
    }
    CommandError::refused(
        format!(
            "the command {verb} {}, more than --max-jobs {max_jobs}; nothing was changed",
            plural(count, "job")
        ),
        help,
    )
}
