//! `s3plan completions SHELL` and `s3plan man [COMMAND]`: shell completion scripts and roff man pages,
//! generated from the clap definitions in `cli.rs` so they cannot drift from the flags.
//!
//! Owns printing them; does not own the flags or their help texts (`cli.rs`).

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::errors::{EXIT_INVALID, EXIT_OK};

/// Runs `s3plan completions`.
pub fn completions(args: &CompletionsArgs) -> i32 {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "s3plan", &mut script);
    write_out(&script, "completion script")
}

/// Runs `s3plan man`.
pub fn man(args: &ManArgs) -> i32 {
    let mut root = Cli::command();
    // Building names each subcommand `s3plan-apply` (its page's title, as `git-commit(1)`) and gives it
    // the usage `s3plan apply`.
    root.build();
    let page = match &args.command {
        None => root,
        Some(name) => match root.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let known: Vec<&str> = root
                    .get_subcommands()
                    .map(|c| c.get_name())
                    .filter(|name| *name != "help")
                    .collect();
                eprintln!(
                    "error: s3plan has no command `{name}`: pick one of {}",
                    known.join(", ")
                );
                return EXIT_INVALID;
            }
        },
    };
    let mut roff = Vec::new();
    match clap_mangen::Man::new(page).render(&mut roff) {
        Ok(()) => write_out(&roff, "man page"),
        Err(error) => {
            tracing::error!("failed to render the man page: {error}");
            EXIT_INVALID
        }
    }
}

fn write_out(bytes: &[u8], what: &str) -> i32 {
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => EXIT_OK,
        Err(error) => {
            tracing::error!("failed to write the {what}: {error}");
            EXIT_INVALID
        }
    }
}
