//! The `s3plan` binary: parse the command line, run it, print any error, exit with its code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = s3plan::run(std::env::args_os());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
