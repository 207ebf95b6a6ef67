//! Report file formats (`--report FILE`, `--report-format`) and the one reporter that writes any of them.
//!
//! Owns the mapping of file extensions to formats and [`FileReporter`]: it accumulates the run's
//! [`RunRecord`] from events and, at `RunFinished`, renders it with the format's `render(&RunRecord, &mut dyn
//! Write)` into its sink. A file is written atomically (a temporary file in the same directory, fsync,
//! rename, then the directory), so a crash or a full disk never leaves half a report under the report's
//! name. Does not own the formats themselves (`json.rs`, `markdown.rs`, `junit.rs`) or the flags (`cli.rs`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::event::Event;
use crate::report::Reporter;
use crate::report::run_record::{ReportSink, RunMeta, RunRecord};
use crate::report::{json, junit, markdown};

/// A report file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// The reference format (`.json`).
    Json,
    /// For incident tickets (`.md`, `.markdown`).
    #[value(alias = "md")]
    Markdown,
    /// JUnit XML for CI systems (`.xml`).
    Junit,
}

impl ReportFormat {
    /// The format a file's extension names, if any (case-insensitive).
    pub fn from_path(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "json" => Some(ReportFormat::Json),
            "md" | "markdown" => Some(ReportFormat::Markdown),
            "xml" => Some(ReportFormat::Junit),
            _ => None,
        }
    }

    /// A reporter writing this format to `sink` at `RunFinished`.
    pub fn reporter(self, meta: RunMeta, sink: ReportSink) -> FileReporter {
        FileReporter {
            format: self,
            record: RunRecord::new(meta),
            sink: Some(sink),
        }
    }

    /// The format's name (the reporter's name in errors).
    pub fn name(self) -> &'static str {
        match self {
            ReportFormat::Json => "json",
            ReportFormat::Markdown => "markdown",
            ReportFormat::Junit => "junit",
        }
    }

    /// Renders a finished run in this format.
    pub fn render(self, record: &RunRecord, out: &mut dyn Write) -> std::io::Result<()> {
        match self {
            ReportFormat::Json => json::render(record, out),
            ReportFormat::Markdown => markdown::render(record, out),
            ReportFormat::Junit => junit::render(record, out),
        }
    }
}

/// Accumulates a run and writes its report, in one format, at `RunFinished`.
#[derive(Debug)]
pub struct FileReporter {
    format: ReportFormat,
    record: RunRecord,
    sink: Option<ReportSink>,
}

impl Reporter for FileReporter {
    fn name(&self) -> &str {
        self.format.name()
    }

    fn report(&mut self, event: &Event) -> std::io::Result<()> {
        if self.record.observe(event)
            && let Some(sink) = self.sink.take()
        {
            let format = self.format;
            let record = &self.record;
            write_sink(sink, |out| format.render(record, out))?;
        }
        Ok(())
    }
}

/// Writes through `render` into `sink`: a writer buffered, a file atomically.
fn write_sink(
    sink: ReportSink,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    match sink {
        ReportSink::Writer(writer) => {
            let mut out = BufWriter::new(writer);
            render(&mut out)?;
            out.flush()
        }
        ReportSink::File(path) => write_atomically(&path, render),
    }
}

/// Writes `path` through a temporary file beside it: fsync, rename over `path`, fsync the directory. On
/// failure the temporary file is removed and `path` is untouched.
fn write_atomically(
    path: &Path,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path.file_name().map_or_else(
        || "report".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut out = BufWriter::new(File::create(&temp)?);
        render(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if let Err(error) = written {
        // Best effort: the temporary file is ours and useless now; the error that matters is `error`.
        let _ = std::fs::remove_file(&temp);
        return Err(error);
    }
    // Makes the rename durable: fsync of the file does not cover its new name.
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::run_record::fixtures::{SharedBuf, meta, run_events};
    use crate::resolved::RunMode;

    #[test]
    fn a_report_file_is_written_atomically_and_a_failed_write_leaves_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_atomically(&path, |out| out.write_all(b"first")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first");
        let failed = write_atomically(&path, |out| {
            out.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.json"], "no temporary file is left behind");
    }

    #[test]
    fn extensions_name_formats() {
        for (path, expected) in [
            ("out/run.json", Some(ReportFormat::Json)),
            ("run.MD", Some(ReportFormat::Markdown)),
            ("run.markdown", Some(ReportFormat::Markdown)),
            ("junit.xml", Some(ReportFormat::Junit)),
            ("run.txt", None),
            ("run", None),
        ] {
            assert_eq!(ReportFormat::from_path(Path::new(path)), expected, "{path}");
        }
    }

    #[test]
    fn each_format_writes_its_own_document() {
        for (format, name, start) in [
            (ReportFormat::Json, "json", "{"),
            (ReportFormat::Markdown, "markdown", "# s3plan apply"),
            (ReportFormat::Junit, "junit", "<?xml"),
        ] {
            let buffer = SharedBuf::default();
            let mut reporter =
                format.reporter(meta(), ReportSink::Writer(Box::new(buffer.clone())));
            assert_eq!(reporter.name(), name);
            for event in run_events(RunMode::Apply, false) {
                reporter.report(&event).unwrap();
            }
            let text = buffer.text();
            assert!(text.starts_with(start), "{name}: {text}");
            assert!(text.contains("job-failed"), "{name}: {text}");
        }
    }
}
