//! `s3plan validate`: offline checks of plan files.

use crate::cli::ValidateArgs;

/// Runs `s3plan validate`.
pub fn run(_args: &ValidateArgs) -> i32 {
    eprintln!("error: validate is not built yet");
    crate::errors::EXIT_INVALID
}
