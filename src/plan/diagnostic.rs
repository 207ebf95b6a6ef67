//! One plan problem: a kind and where it is, as a miette diagnostic and as a JSON record.
//!
//! Owns spans (byte ranges into the plan text), ordering in file order, line/column computation and the
//! JSON shape of `s3plan validate --format json`. Does not own wording (`diagnostic_kind.rs`) or the
//! checks that find problems.

use std::fmt;

use miette::{LabeledSpan, SourceCode, SourceSpan};
use serde::Serialize;
use serde_saphyr::{Location, Spanned};

use super::diagnostic_kind::{DiagnosticKind, Severity};

/// A byte range of the plan text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    /// Byte offset of the first byte.
    pub offset: usize,
    /// Length in bytes (0 points between characters).
    pub len: usize,
}

impl Span {
    /// A span at `offset` of `len` bytes.
    pub fn new(offset: usize, len: usize) -> Self {
        Self { offset, len }
    }

    /// The span of a serde-saphyr location (0..0 when it carries no byte offset).
    pub fn from_location(location: &Location) -> Self {
        let span = location.span();
        let offset = span.byte_offset().unwrap_or(0);
        let len = span.byte_len().unwrap_or(0);
        Self {
            offset: usize::try_from(offset).unwrap_or(usize::MAX),
            len: usize::try_from(len).unwrap_or(0),
        }
    }

    /// Where a spanned value was written.
    pub fn of<T>(value: &Spanned<T>) -> Self {
        Self::from_location(&value.referenced)
    }
}

impl From<Span> for SourceSpan {
    fn from(span: Span) -> Self {
        SourceSpan::new(span.offset.into(), span.len)
    }
}

/// A problem in a plan: its kind, where it is and, for some kinds, a second place ("first used here").
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// What is wrong.
    pub kind: DiagnosticKind,
    /// Where; `None` for problems of the whole file (unreadable, binary, empty, ...).
    pub span: Option<Span>,
    /// A related place, labelled by [`DiagnosticKind::other_label`].
    pub other: Option<Span>,
}

impl Diagnostic {
    /// A problem at `span`.
    pub fn at(span: Span, kind: DiagnosticKind) -> Self {
        Self {
            kind,
            span: Some(span),
            other: None,
        }
    }

    /// A problem of the whole file.
    pub fn file(kind: DiagnosticKind) -> Self {
        Self {
            kind,
            span: None,
            other: None,
        }
    }

    /// Adds the related place.
    pub fn with_other(mut self, other: Span) -> Self {
        self.other = Some(other);
        self
    }

    /// Error or warning.
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }

    /// Whether it fails validation.
    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }

    /// 1-based line and column (in characters) of the span's start in `source`, `(1, 1)` without a span.
    pub fn line_column(&self, source: &str) -> (usize, usize) {
        let Some(span) = self.span else {
            return (1, 1);
        };
        let offset = floor_char_boundary(source, span.offset);
        let before = &source[..offset];
        let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// The JSON record of this problem.
    pub fn to_record(&self, file: &str, source: &str) -> DiagnosticRecord {
        let (line, column) = self.line_column(source);
        DiagnosticRecord {
            file: file.to_owned(),
            line,
            column,
            severity: self.severity(),
            code: self.kind.code(),
            message: self.kind.message(),
            help: self.kind.help(),
        }
    }

    /// Orders problems in file order (whole-file problems first), then by code for a stable output.
    pub(crate) fn sort(diagnostics: &mut [Diagnostic]) {
        diagnostics.sort_by(|a, b| {
            a.span
                .map(|s| s.offset)
                .cmp(&b.span.map(|s| s.offset))
                .then_with(|| a.kind.code().cmp(b.kind.code()))
        });
    }
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind.message())
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.kind.code()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity() {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.kind
            .help()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        let mut labels = vec![LabeledSpan::new_primary_with_span(
            Some(self.kind.label().to_owned()),
            span,
        )];
        if let Some(other) = self.other {
            labels.push(LabeledSpan::new_with_span(
                Some(self.kind.other_label().to_owned()),
                other,
            ));
        }
        Some(Box::new(labels.into_iter()))
    }
}

/// A diagnostic together with the text it points into, ready for a miette handler.
pub struct Located<'a> {
    /// The problem.
    pub diagnostic: &'a Diagnostic,
    /// The named plan text.
    pub source: &'a miette::NamedSource<String>,
}

impl fmt::Debug for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diagnostic, f)
    }
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.diagnostic, f)
    }
}

impl std::error::Error for Located<'_> {}

impl miette::Diagnostic for Located<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        miette::Diagnostic::code(self.diagnostic)
    }

    fn severity(&self) -> Option<miette::Severity> {
        miette::Diagnostic::severity(self.diagnostic)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        miette::Diagnostic::help(self.diagnostic)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        miette::Diagnostic::labels(self.diagnostic)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.diagnostic.span.map(|_| self.source as &dyn SourceCode)
    }
}

/// One problem as `--format json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiagnosticRecord {
    /// The plan file as named on the command line.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// `error` or `warning`.
    pub severity: Severity,
    /// Stable code, e.g. `s3plan::plan::unknown_key`.
    pub code: &'static str,
    /// The message.
    pub message: String,
    /// How to fix it, when known.
    pub help: Option<String>,
}
