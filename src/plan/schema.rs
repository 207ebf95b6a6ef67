//! The plan's JSON Schema, generated from the model types (draft-07, which editors' YAML servers read).
//!
//! Owns generation only; `schemas/plan.schema.json` is this output, and `structure.rs` walks the same
//! schema to find structural mistakes. Does not own the model (`model.rs`).

use std::sync::LazyLock;

use schemars::generate::SchemaSettings;

use super::model::Plan;

/// The schema as a JSON value (generated once per process).
pub(crate) static SCHEMA: LazyLock<serde_json::Value> = LazyLock::new(|| json_schema().to_value());

/// Generates the plan's JSON Schema (draft-07).
pub fn json_schema() -> schemars::Schema {
    SchemaSettings::draft07()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<Plan>()
}

/// The schema as pretty JSON with a final newline, exactly as committed in `schemas/plan.schema.json`.
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&*SCHEMA).expect("a JSON value always serializes");
    text.push('\n');
    text
}
