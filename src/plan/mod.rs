//! The plan language: the YAML model with spans, parsing, validation and diagnostics.
//!
//! Only re-exports. The passes, in order: `parse` (bytes -> text -> node tree), `structure` (the node tree
//! against the plan's JSON Schema), `parse` again (the typed model), `validate` and `validate_targets`
//! (semantics); `load` runs them. When the structure pass finds problems, `node_de` reads the typed model
//! from the pruned node tree so the semantic problems of the sound parts are reported in the same run.
//! `model` is the typed plan, `targets` the accounts and regions it acts in, `schema` its JSON Schema,
//! `diagnostic*` the problems.

pub mod diagnostic;
pub mod diagnostic_kind;
mod load;
pub mod model;
mod node;
mod node_de;
mod parse;
pub mod schema;
mod structure;
pub mod targets;
mod validate;
mod validate_targets;

pub use diagnostic::{Diagnostic, DiagnosticRecord, Located, Span};
pub use diagnostic_kind::{DiagnosticKind, Severity};
pub use load::{Checked, LoadedPlan, PlanError, check_bytes, check_file, load, load_str};
pub use model::Plan;
pub use parse::MAX_PLAN_BYTES;
pub use targets::{PlanTarget, TargetCredentials, TargetSpec};
