//! Plan bytes -> text -> node tree -> typed model, with the limits that keep hostile files cheap.
//!
//! Owns the size limit, the UTF-8/binary checks, serde-saphyr's options (strict booleans, budgets against
//! alias bombs, deep nesting and huge documents) and the mapping of parser errors to diagnostics. Does not
//! own structural or semantic checks (`structure.rs`, `validate.rs`).

use serde::de::DeserializeOwned;
use serde_saphyr::{DuplicateKeyPolicy, Options, Spanned};

use super::diagnostic::{Diagnostic, Span};
use super::diagnostic_kind::DiagnosticKind;
use super::model::Plan;
use super::node::Node;

/// Plans larger than this are refused before parsing (10 MiB; a 10,000-entry plan is about 1 MiB).
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
    typed::<Spanned<Node>>(text)
}

/// Reads the text into the typed model. After a clean structural check this does not fail; if it does,
/// the error still becomes a diagnostic.
pub(crate) fn plan(text: &str) -> Result<Plan, Box<Diagnostic>> {
    let mut options = options();
    // The structure pass has reported duplicates already; the typed parse needs no second opinion.
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    serde_saphyr::from_str_with_options::<Plan>(text, options).map_err(|e| to_diagnostic(&e, text))
}

fn typed<T: DeserializeOwned>(text: &str) -> Result<T, Box<Diagnostic>> {
    serde_saphyr::from_str_with_options::<T>(text, options()).map_err(|e| to_diagnostic(&e, text))
}

fn to_diagnostic(error: &serde_saphyr::Error, text: &str) -> Box<Diagnostic> {
    let inner = error.without_snippet();
    let message = plain_message(inner);
    let kind = match inner {
        serde_saphyr::Error::MultipleDocuments { .. } => DiagnosticKind::MultipleDocuments,
        serde_saphyr::Error::Budget { .. }
        | serde_saphyr::Error::AliasReplayLimitExceeded { .. }
        | serde_saphyr::Error::AliasExpansionLimitExceeded { .. }
        | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. }
        | serde_saphyr::Error::AliasReplayCounterOverflow { .. }
        | serde_saphyr::Error::RecursiveReferencesRequireWeakTypes { .. } => {
            DiagnosticKind::TooComplex { message }
        }
        _ if message.contains("budget") || message.contains("alias") => {
            DiagnosticKind::TooComplex { message }
        }
        _ => DiagnosticKind::Syntax { message },
    };
    Box::new(match error.location() {
        Some(location) if location.line() > 0 => {
            let mut span = Span::from_location(&location);
            span.offset = span.offset.min(text.len());
            span.len = span.len.min(text.len() - span.offset);
            Diagnostic::at(span, kind)
        }
        _ => Diagnostic::file(kind),
    })
}

/// The parser's message without its location suffix (the diagnostic carries the location itself).
fn plain_message(error: &serde_saphyr::Error) -> String {
    let rendered = error.render_with_options(serde_saphyr::render_options! {
        snippets: serde_saphyr::SnippetMode::Off,
    });
    let first = rendered.lines().next().unwrap_or_default().trim();
    let without_location = match first.rfind(" at line ") {
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
