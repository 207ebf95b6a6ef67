//! `s3plan schema`: prints the plan's JSON Schema (draft-07) on stdout.
//!
//! Owns printing only; the schema is generated in `plan::schema` from the model types.

use std::io::Write;

use crate::cli::SchemaArgs;
use crate::errors::{EXIT_INVALID, EXIT_OK};

/// Runs `s3plan schema`.
pub fn run(_args: &SchemaArgs) -> i32 {
    let text = crate::plan::schema::json_schema_text();
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => EXIT_OK,
        Err(error) => {
            tracing::error!("failed to write the schema: {error}");
            EXIT_INVALID
        }
    }
}
