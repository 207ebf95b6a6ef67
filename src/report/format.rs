//! Report file formats (`--report FILE`, `--report-format`): which writer a file gets.
//!
//! Owns the mapping of file extensions to formats and [`FileReporter`], one reporter type for any format so
//! the command can add each `--report` to a `ReporterSet`. Does not own the formats themselves (`json.rs`,
//! `markdown.rs`, `junit.rs`) or the flags (`cli.rs`).

use std::path::Path;

use crate::event::Event;
use crate::report::Reporter;
use crate::report::json::{JsonReporter, ReportSink};
use crate::report::junit::JunitReporter;
use crate::report::markdown::MarkdownReporter;
use crate::report::run_record::RunMeta;

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
        match self {
            ReportFormat::Json => FileReporter::Json(JsonReporter::with_meta(meta, sink)),
            ReportFormat::Markdown => FileReporter::Markdown(MarkdownReporter::new(meta, sink)),
            ReportFormat::Junit => FileReporter::Junit(JunitReporter::new(meta, sink)),
        }
    }
}

/// A report file writer of any format.
#[derive(Debug)]
pub enum FileReporter {
    /// JSON.
    Json(JsonReporter),
    /// Markdown.
    Markdown(MarkdownReporter),
    /// JUnit XML.
    Junit(JunitReporter),
}

impl Reporter for FileReporter {
    fn name(&self) -> &str {
        match self {
            FileReporter::Json(r) => r.name(),
            FileReporter::Markdown(r) => r.name(),
            FileReporter::Junit(r) => r.name(),
        }
    }

    fn report(&mut self, event: &Event) -> std::io::Result<()> {
        match self {
            FileReporter::Json(r) => r.report(event),
            FileReporter::Markdown(r) => r.report(event),
            FileReporter::Junit(r) => r.report(event),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::run_record::fixtures::{SharedBuf, meta, run_events};
    use crate::resolved::RunMode;

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
