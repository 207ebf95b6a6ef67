//! Exit codes of the `s3plan` binary and the top-level error type that maps onto them.
//!
//! Owns the numbers every command exits with; does not own the per-job outcomes (see `exec`), which
//! only decide the exit code once a run has finished.

/// Every job ended `applied`, `unchanged`, `skipped` or `would_apply`; a valid plan; a clean sandbox stop.
pub const EXIT_OK: i32 = 0;
/// The run happened, and at least one job ended `failed`, `timed_out` or `not_run`.
pub const EXIT_JOBS_FAILED: i32 = 1;
/// Invalid plan, bad usage, or a run refused before any change was made.
pub const EXIT_INVALID: i32 = 2;
/// Interrupted by SIGINT or SIGTERM.
pub const EXIT_INTERRUPTED: i32 = 130;

use crate::api::client::ClientError;
use crate::plan::PlanError;
use crate::resolve::ResolveError;

/// Why a command stopped before (or instead of) running a plan. Nothing was changed when one of these is
/// returned; each renders as a miette report at the edge.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CommandError {
    /// The plan file is invalid.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Plan(#[from] Box<PlanError>),
    /// The AWS clients could not be set up (region, profile, credentials, endpoint, account id). Each
    /// cause says in one line what is wrong and what fixes it, so it is shown as is.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Client(#[from] ClientError),
    /// Resolving the plan into jobs failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Resolve(#[from] Box<ResolveError>),
    /// The in-process sandbox could not start.
    #[error("failed to start the in-process sandbox: {0}")]
    #[diagnostic(code(s3plan::sandbox), help("check the seed file given to --sandbox"))]
    Sandbox(String),
    /// The command refuses to go on (a safety check); nothing was changed.
    #[error("{message}")]
    #[diagnostic(code(s3plan::refused))]
    Refused {
        /// What was refused and why.
        message: String,
        /// What to do instead.
        #[help]
        help: Option<String>,
    },
    /// A local file could not be read or written.
    #[error("failed to {action} {path}")]
    #[diagnostic(code(s3plan::io), help("check the path exists and is writable"))]
    Io {
        /// What was being done (`write the report to`).
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A read outside a run (`s3plan jobs`) failed for good.
    #[error("{error}")]
    #[diagnostic(code(s3plan::api))]
    Api {
        /// The failure.
        error: Box<crate::api::ApiError>,
        /// What to do about it.
        #[help]
        hint: String,
    },
    /// Ctrl-C before any change.
    #[error("interrupted before any change was made")]
    #[diagnostic(code(s3plan::interrupted))]
    Interrupted,
}

impl CommandError {
    /// The exit code this error ends the process with.
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::Interrupted => EXIT_INTERRUPTED,
            CommandError::Resolve(error) if matches!(**error, ResolveError::Interrupted) => {
                EXIT_INTERRUPTED
            }
            _ => EXIT_INVALID,
        }
    }

    /// A refusal with a hint.
    pub fn refused(message: impl Into<String>, help: impl Into<String>) -> Self {
        CommandError::Refused {
            message: message.into(),
            help: Some(help.into()),
        }
    }
}

/// Prints `error` to stderr as a miette report and returns its exit code.
pub fn report(error: CommandError) -> i32 {
    let code = error.exit_code();
    // Printed after a run too (a failed report write): a closed stderr must not turn this into a panic.
    crate::console::note(format_args!("{:?}\n", miette::Report::new(error)));
    code
}
