//! Loading a plan: read the file within limits, run every check, and hand back either a valid plan with
//! its warnings or a [`PlanError`] carrying every problem.
//!
//! Owns the order of the passes (bytes, YAML, structure against the schema, typed parse, semantics) and
//! the file-level result types. Does not own any check itself.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use miette::NamedSource;
use sha2::{Digest, Sha256};

use serde_saphyr::Spanned;

use super::diagnostic::{Diagnostic, Span};
use super::diagnostic_kind::DiagnosticKind;
use super::model::Plan;
use super::node::Node;
use super::parse::{self, MAX_PLAN_BYTES};
use super::structure::Structure;
use super::{node_de, structure, validate};

/// A plan that passed validation.
#[derive(Debug, Clone)]
pub struct LoadedPlan {
    /// The path it was read from (or the name given to [`load_str`]).
    pub path: PathBuf,
    /// The file's text.
    pub source: String,
    /// Hex SHA-256 of the file's bytes (for the report: which plan ran).
    pub sha256: String,
    /// The plan.
    pub plan: Plan,
    /// Problems that do not fail validation, in file order.
    pub warnings: Vec<Diagnostic>,
}

/// A plan that failed validation: every problem found, errors and warnings, in file order.
#[derive(Debug, Clone)]
pub struct PlanError {
    /// The path it was read from (or the name given to [`load_str`]).
    pub path: PathBuf,
    /// The text, named after the path, so the diagnostics render with snippets.
    pub source_code: NamedSource<String>,
    /// Every problem, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl PlanError {
    /// How many problems fail validation.
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.error_count();
        write!(
            f,
            "plan `{}` is invalid: {count} error{}",
            self.path.display(),
            if count == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for PlanError {}

impl miette::Diagnostic for PlanError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("s3plan::plan::invalid"))
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source_code)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        Some(Box::new(
            self.diagnostics
                .iter()
                .map(|d| d as &dyn miette::Diagnostic),
        ))
    }
}

/// Everything validation found in one file, valid or not (what `s3plan validate` prints).
#[derive(Debug, Clone)]
pub struct Checked {
    /// The path or name.
    pub path: PathBuf,
    /// The text (lossy when the file is not UTF-8; empty when unreadable).
    pub source: String,
    /// Hex SHA-256 of the bytes read.
    pub sha256: String,
    /// The plan, when it is valid.
    pub plan: Option<Plan>,
    /// Every problem, errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// Whether no problem fails validation.
    pub fn is_valid(&self) -> bool {
        self.plan.is_some() && !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The text named after the path, for miette.
    pub fn named_source(&self) -> NamedSource<String> {
        NamedSource::new(self.path.display().to_string(), self.source.clone())
    }

    /// The valid plan, or every problem.
    pub fn into_result(self) -> Result<LoadedPlan, PlanError> {
        match self.plan {
            Some(plan) if !self.diagnostics.iter().any(Diagnostic::is_error) => Ok(LoadedPlan {
                path: self.path,
                source: self.source,
                sha256: self.sha256,
                plan,
                warnings: self.diagnostics,
            }),
            _ => Err(PlanError {
                source_code: NamedSource::new(self.path.display().to_string(), self.source),
                path: self.path,
                diagnostics: self.diagnostics,
            }),
        }
    }
}

/// Reads and validates the plan at `path`. Files over 10 MiB are refused before they are read.
pub fn load(path: &Path) -> Result<LoadedPlan, PlanError> {
    check_file(path).into_result()
}

/// Validates `text` as if read from a file called `name` (for tests and stdin).
pub fn load_str(name: &str, text: &str) -> Result<LoadedPlan, PlanError> {
    check_bytes(Path::new(name), text.as_bytes()).into_result()
}

/// Reads and checks the plan at `path`, keeping every problem.
pub fn check_file(path: &Path) -> Checked {
    match read_limited(path) {
        Ok(bytes) => check_bytes(path, &bytes),
        Err(kind) => Checked {
            path: path.to_owned(),
            source: String::new(),
            sha256: String::new(),
            plan: None,
            diagnostics: vec![Diagnostic::file(kind)],
        },
    }
}

fn read_limited(path: &Path) -> Result<Vec<u8>, DiagnosticKind> {
    let unreadable = |e: std::io::Error| DiagnosticKind::Unreadable {
        error: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    if size > MAX_PLAN_BYTES {
        return Err(DiagnosticKind::FileTooLarge {
            size,
            limit: MAX_PLAN_BYTES,
        });
    }
    // The metadata may not tell the truth (pipes, /proc): read at most one byte past the limit.
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_PLAN_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    Ok(bytes)
}

/// Checks plan bytes as if read from `path`, keeping every problem.
pub fn check_bytes(path: &Path, bytes: &[u8]) -> Checked {
    let sha256 = hex::encode(Sha256::digest(bytes));
    let finish = |source: String, plan: Option<Plan>, mut diagnostics: Vec<Diagnostic>| {
        Diagnostic::sort(&mut diagnostics);
        Checked {
            path: path.to_owned(),
            source,
            sha256: sha256.clone(),
            plan,
            diagnostics,
        }
    };
    let text = match parse::decode(bytes) {
        Ok(text) => text,
        Err(diagnostic) => {
            // Keep a readable rendering for whole-file problems; snippets are not shown for them.
            return finish(String::new(), None, vec![*diagnostic]);
        }
    };
    if text.trim().is_empty() {
        return finish(
            text.to_owned(),
            None,
            vec![Diagnostic::file(DiagnosticKind::Empty)],
        );
    }
    let nodes = match parse::nodes(text) {
        Ok(nodes) => nodes,
        Err(diagnostic) => return finish(text.to_owned(), None, vec![*diagnostic]),
    };
    let structure = structure::check(&nodes);
    if !structure.diagnostics.is_empty() {
        let mut problems = semantic_despite(&nodes, &structure);
        point_at_keys(&nodes, &mut problems);
        problems.extend(structure.diagnostics);
        return finish(text.to_owned(), None, problems);
    }
    // The structure is sound, so the typed model reads from the same tree (no second parse).
    match node_de::from_node::<Plan>(&nodes) {
        Ok(plan) => {
            let mut problems = validate::validate(&plan);
            point_at_keys(&nodes, &mut problems);
            finish(text.to_owned(), Some(plan), problems)
        }
        Err(error) => finish(
            text.to_owned(),
            None,
            vec![Diagnostic::file(DiagnosticKind::Internal {
                message: error.to_string(),
            })],
        ),
    }
}

/// Semantic problems of a file with structural ones: the broken parts are pruned, the rest is read and
/// validated, and only problems that cannot be artefacts of the pruning are kept: none inside an entry
/// that had a structural problem except the plan-level name checks (duplicate names, unknown `after`
/// names), and no "no entries" when `jobs` had some. (An entry pruned whole has no usable `name`, so no
/// `after` can have meant it.)
fn semantic_despite(nodes: &Spanned<Node>, structure: &Structure) -> Vec<Diagnostic> {
    let Some(pruned) = structure.prune(nodes) else {
        return Vec::new();
    };
    let Ok(plan) = node_de::from_node::<Plan>(&pruned) else {
        return Vec::new();
    };
    let starts = entry_starts(nodes);
    let faulty: Vec<std::ops::Range<usize>> = starts
        .iter()
        .enumerate()
        .map(|(i, start)| *start..starts.get(i + 1).copied().unwrap_or(usize::MAX))
        .filter(|range| {
            structure
                .diagnostics
                .iter()
                .filter_map(|d| d.span)
                .any(|span| range.contains(&span.offset))
        })
        .collect();
    validate::validate(&plan)
        .into_iter()
        .filter(|d| {
            let offset = d.span.map_or(0, |s| s.offset);
            // `jobs` had entries before pruning, so "no entries" would only blame the pruning.
            let pruning_artefact =
                matches!(d.kind, DiagnosticKind::NoEntries) && !starts.is_empty();
            // Names are plan-level: a repeated name or an `after` naming no entry is wrong whatever else is
            // wrong inside the entry, and the operator should see it in the same run.
            let plan_level = matches!(
                d.kind,
                DiagnosticKind::DuplicateName { .. } | DiagnosticKind::UnknownAfter { .. }
            );
            !pruning_artefact && (plan_level || !faulty.iter().any(|range| range.contains(&offset)))
        })
        .collect()
}

/// Moves the label of problems about a key (an entry's second job set) from the key's value, where the
/// typed model knows its span, to the key itself: the value of a block-style `select:` starts at its own
/// first key (`status:`), which is not what is wrong.
fn point_at_keys(nodes: &Spanned<Node>, problems: &mut [Diagnostic]) {
    for problem in problems {
        if let (DiagnosticKind::SeveralJobSets { .. }, Some(span)) = (&problem.kind, problem.span)
            && let Some(key) = key_of(nodes, span.offset)
        {
            problem.span = Some(key);
        }
    }
}

/// The span of the map key whose value starts at `offset`, searching the whole tree.
fn key_of(node: &Spanned<Node>, offset: usize) -> Option<Span> {
    match &node.value {
        Node::Map(pairs) => pairs.iter().find_map(|(key, value)| {
            if Span::of(value).offset == offset && Span::of(key).offset != offset {
                Some(Span::of(key))
            } else {
                key_of(value, offset)
            }
        }),
        Node::Seq(items) => items.iter().find_map(|item| key_of(item, offset)),
        _ => None,
    }
}

/// Byte offsets where each entry of `jobs` starts, in the unpruned tree.
fn entry_starts(nodes: &Spanned<Node>) -> Vec<usize> {
    let Node::Map(pairs) = &nodes.value else {
        return Vec::new();
    };
    pairs
        .iter()
        .find(|(key, _)| key.value == Node::Str("jobs".to_owned()))
        .map(|(_, jobs)| match &jobs.value {
            Node::Seq(items) => items.iter().map(|i| Span::of(i).offset).collect(),
            _ => Vec::new(),
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;

    use super::check_bytes;

    const EXAMPLE: &str = include_str!("../../examples/release-runbook.yaml");

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the bytes, checking returns (never panics) and an invalid verdict carries a problem.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let checked = check_bytes(Path::new("p.yaml"), &bytes);
            prop_assert!(checked.is_valid() || !checked.diagnostics.is_empty());
        }

        /// A real plan with a slice cut out and arbitrary text put in its place.
        #[test]
        fn mutated_plans_never_panic(
            start in 0..EXAMPLE.len(),
            cut in 0usize..40,
            insert in "[ -~\n]{0,20}",
        ) {
            let start = (0..=start).rev().find(|i| EXAMPLE.is_char_boundary(*i)).unwrap_or(0);
            let end = (start + cut).min(EXAMPLE.len());
            let end = (end..=EXAMPLE.len()).find(|i| EXAMPLE.is_char_boundary(*i)).unwrap_or(EXAMPLE.len());
            let text = format!("{}{}{}", &EXAMPLE[..start], insert, &EXAMPLE[end..]);
            let checked = check_bytes(Path::new("p.yaml"), text.as_bytes());
            prop_assert!(checked.is_valid() || !checked.diagnostics.is_empty());
            for diagnostic in &checked.diagnostics {
                if let Some(span) = diagnostic.span {
                    prop_assert!(span.offset + span.len <= checked.source.len(), "{diagnostic:?}");
                }
            }
        }
    }
}
