//! Plan bytes -> text -> node tree -> typed model, with the limits that keep hostile files cheap.
//!
//! Owns the size limit, the UTF-8/binary checks, serde-saphyr's options (strict booleans, budgets against
//! alias bombs, deep nesting and huge documents) and the mapping of parser errors to diagnostics. Does not
//! own structural or semantic checks (`structure.rs`, `validate.rs`).

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{DuplicateKeyPolicy, Options, Spanned};

use super::diagnostic::{Diagnostic, Span};
use super::diagnostic_kind::DiagnosticKind;
use super::node::Node;

/// Plans larger than this are refused before parsing (10 MiB; a 10,000-entry plan is about 1.9 MiB).
pub const MAX_PLAN_BYTES: u64 = 10 * 1024 * 1024;

/// Deepest nesting of maps and lists accepted (a plan needs 5).
const MAX_DEPTH: usize = 32;

/// Checks the raw bytes and returns them as text.
pub(crate) fn decode(bytes: &[u8]) -> Result<&str, Box<Diagnostic>> {
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > MAX_PLAN_BYTES {
        return Err(Box::new(Diagnostic::file(DiagnosticKind::FileTooLarge {
            size,
            limit: MAX_PLAN_BYTES,
        })));
    }
    if bytes.contains(&0) {
        return Err(Box::new(Diagnostic::file(DiagnosticKind::Binary)));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Box::new(Diagnostic::file(DiagnosticKind::NotUtf8 {
            offset: e.valid_up_to(),
        }))
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

fn options() -> Options {
    serde_saphyr::options! {
        strict_booleans: true,
        // Plans never read comments; not capturing their text saves work on commented plans.
        emit_comments: false,
        // Duplicates reach the node visitor, so `structure.rs` can report every one with both places.
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_documents: 1,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_nodes: 2_000_000,
            max_events: 4_000_000,
            max_total_scalar_bytes: 16 * 1024 * 1024,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 1_000,
        },
    }
}

/// Reads the text into a node tree; fails only on YAML syntax or a budget breach.
pub(crate) fn nodes(text: &str) -> Result<Spanned<Node>, Box<Diagnostic>> {
    serde_saphyr::from_str_with_options::<Spanned<Node>>(text, options())
        .map_err(|e| to_diagnostic(&e, text))
}

fn to_diagnostic(error: &serde_saphyr::Error, text: &str) -> Box<Diagnostic> {
    let mut inner = error.without_snippet();
    // An error met while replaying an alias wraps the real one.
    while let serde_saphyr::Error::AliasError { error, .. } = inner {
        inner = error.without_snippet();
    }
    let message = plain_message(inner);
    let kind = match inner {
        serde_saphyr::Error::MultipleDocuments { .. }
        | serde_saphyr::Error::Budget {
            breach: BudgetBreach::Documents { .. },
            ..
        } => DiagnosticKind::MultipleDocuments,
        serde_saphyr::Error::Budget { breach, .. } => DiagnosticKind::TooComplex {
            message: match breach {
                BudgetBreach::Depth { .. } => {
                    format!("maps and lists nest deeper than {MAX_DEPTH} levels")
                }
                BudgetBreach::Aliases { .. } | BudgetBreach::Anchors { .. } => {
                    "too many anchors or aliases".to_owned()
                }
                BudgetBreach::Events { .. } | BudgetBreach::Nodes { .. } => {
                    "too many YAML nodes".to_owned()
                }
                other => format!("{other:?}"),
            },
        },
        serde_saphyr::Error::AliasReplayLimitExceeded { .. }
        | serde_saphyr::Error::AliasExpansionLimitExceeded { .. }
        | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. }
        | serde_saphyr::Error::AliasReplayCounterOverflow { .. }
        | serde_saphyr::Error::RecursiveReferencesRequireWeakTypes { .. } => {
            DiagnosticKind::TooComplex {
                message: "aliases expand to too many values (an alias bomb?)".to_owned(),
            }
        }
        _ if message.contains("recursion limit") => DiagnosticKind::TooComplex {
            message: format!("maps and lists nest deeper than {MAX_DEPTH} levels"),
        },
        _ => DiagnosticKind::Syntax { message },
    };
    Box::new(match error.location() {
        Some(location) if location.line() > 0 => Diagnostic::at(error_span(&location, text), kind),
        _ => Diagnostic::file(kind),
    })
}

/// The span of a parser error. Syntax errors carry line and column but no byte offset, so the offset is
/// found from those.
fn error_span(location: &serde_saphyr::Location, text: &str) -> Span {
    if location.span().byte_offset().is_some() {
        let mut span = Span::from_location(location);
        span.offset = span.offset.min(text.len());
        span.len = span.len.min(text.len() - span.offset);
        return span;
    }
    let line = usize::try_from(location.line()).unwrap_or(1).max(1);
    let column = usize::try_from(location.column()).unwrap_or(1).max(1);
    let line_start = text
        .match_indices('\n')
        .nth(line.saturating_sub(2))
        .map_or(0, |(i, _)| if line == 1 { 0 } else { i + 1 });
    let rest = &text[line_start..];
    let offset = rest
        .char_indices()
        .take_while(|(_, c)| *c != '\n')
        .nth(column - 1)
        .map_or_else(
            || line_start + rest.find('\n').unwrap_or(rest.len()),
            |(i, _)| line_start + i,
        );
    let len = text[offset..].chars().next().map_or(0, char::len_utf8);
    Span::new(offset, len)
}

/// The parser's message without its location suffix (the diagnostic carries the location itself).
fn plain_message(error: &serde_saphyr::Error) -> String {
    let rendered = error.render_with_options(serde_saphyr::render_options! {
        snippets: serde_saphyr::SnippetMode::Off,
    });
    let first = rendered.lines().next().unwrap_or_default().trim();
    let without_location = match first.find(" at line ") {
        Some(index) => &first[..index],
        None => first,
    };
    let message = without_location
        .trim_start_matches("error: ")
        .trim_end_matches('.');
    let mut chars = message.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => "the YAML does not parse".to_owned(),
    }
}
