//! Report file formats (`--report FILE`, `--report-format`) and the one reporter that writes any of them.
//!
//! Owns the mapping of file extensions to formats and [`FileReporter`]: it accumulates the run's
//! [`RunRecord`] from events (for a file, its job records spooled beside the report, so memory does not grow
//! with finished jobs; for a writer such as stdout, in memory, so a full disk cannot take that report too)
//! and, at `RunFinished`, renders it with the format's `render(&RunRecord, &mut dyn
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
        let record = match &sink {
            ReportSink::File(path) => {
                RunRecord::new(meta).spooled_in(directory_of(path).to_owned())
            }
            ReportSink::Writer(_) => RunRecord::new(meta),
        };
        FileReporter {
            format: self,
            record,
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
        if self.record.observe(event)?
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

/// The directory a report file goes to.
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Writes `path` through a temporary file beside it: fsync, rename over `path`, fsync the directory. On
/// failure the temporary file is removed and `path` is untouched.
fn write_atomically(
    path: &Path,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = directory_of(path);
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
    use crate::event::Event;
    use crate::report::run_record::fixtures::{
        SharedBuf, meta, multi_target_events, run_events, two_target_events,
    };
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

    /// A synthetic run's events, in a mode, interrupted or not.
    type Events = fn(RunMode, bool) -> Vec<Event>;

    #[test]
    fn a_report_spooled_beside_its_file_is_byte_for_byte_the_one_kept_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let runs: [(&str, Events); 3] = [
            ("one target", run_events),
            ("two targets", two_target_events),
            ("three targets", multi_target_events),
        ];
        for (format, name) in [
            (ReportFormat::Json, "run.json"),
            (ReportFormat::Markdown, "run.md"),
            (ReportFormat::Junit, "run.xml"),
        ] {
            for (run, events) in runs {
                for interrupted in [false, true] {
                    let buffer = SharedBuf::default();
                    let mut in_memory =
                        format.reporter(meta(), ReportSink::Writer(Box::new(buffer.clone())));
                    let path = dir.path().join(name);
                    let mut spooled = format.reporter(meta(), ReportSink::File(path.clone()));
                    for event in events(RunMode::Apply, interrupted) {
                        in_memory.report(&event).unwrap();
                        spooled.report(&event).unwrap();
                    }
                    let text = std::fs::read_to_string(&path).unwrap();
                    assert_eq!(text, buffer.text(), "{name}, {run}");
                    if run == "two targets" {
                        // The third target's jobs moved to `dr/us-east-1`; in Markdown the job over its
                        // task condition is listed before the other failures.
                        assert!(!text.contains("dr/us-west-2"), "{name}: {text}");
                        let at =
                            |job: &str| text.find(job).unwrap_or_else(|| panic!("{job}: {text}"));
                        if format == ReportFormat::Markdown {
                            assert!(at("job-not-run") < at("job-timed-out"), "{text}");
                        }
                    }
                }
            }
        }
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
