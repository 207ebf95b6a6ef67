//! The `s3plan` binary: parse the command line, run it, print any error, exit with its code.

use std::process::ExitCode;

/// Every SDK call allocates and frees hundreds of small blocks (request parts, headers, signing strings,
/// the orchestrator's type-erased state); glibc's malloc spent about a fifth of a run's CPU on them, most
/// of it consolidating free lists. mimalloc's thread-local free lists make that a small share. The
/// `system-allocator` feature keeps the system's malloc so heap profilers (heaptrack, valgrind) see every
/// allocation with its call stack.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let code = s3plan::run(std::env::args_os());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
