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
