//! The operator's display (stdout and stderr) as writers that never stop a run.
//!
//! Owns one rule: losing the display is not a reason to abandon jobs. `s3plan apply … | head` closes the
//! pipe while jobs are still changing; `println!`/`eprintln!` panic on a closed pipe and a failing progress
//! reporter would cancel the run, so every write after start-up goes through these writers instead (ripgrep
//! `crates/core/main.rs` treats a broken pipe as a quiet end for the same reason). The record of the run is
//! the journal and the report files, which are written whatever happens to the display. Does not own what is
//! printed (`report`, `commands`).

use std::io::Write;

/// Stderr that swallows every write error: progress and notes have nowhere else to go.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A lost display still counts as written, so `write_all` does not loop or fail.
        let _ = std::io::stderr().lock().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Stdout that treats a closed pipe as written (the reader went away); other errors still surface, since
/// stdout may be the only copy of a `--output json` report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::io::stdout().lock().write_all(buf) {
            Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error),
            _ => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match std::io::stdout().flush() {
            Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error),
            _ => Ok(()),
        }
    }
}

/// Writes `text` to stderr, ignoring a closed or failing stderr (in place of `eprint!`).
pub fn note(text: impl std::fmt::Display) {
    let _ = write!(Stderr, "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_display_writers_report_every_byte_written() {
        assert_eq!(Stderr.write(b"").unwrap(), 0);
        assert_eq!(Stdout.write(b"").unwrap(), 0);
    }
}
