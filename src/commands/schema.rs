//! `s3plan schema`: prints the plan's JSON Schema.

use crate::cli::SchemaArgs;

/// Runs `s3plan schema`.
pub fn run(_args: &SchemaArgs) -> i32 {
    eprintln!("error: schema is not built yet");
    crate::errors::EXIT_INVALID
}
