//! Structural checks: walks the shape-free node tree against the plan's own JSON Schema and reports every
//! unknown or missing key, duplicate key, wrong type, unknown name and malformed id, duration or time.
//!
//! Why a second pass beside serde: serde stops at the first error, and the format promises every mistake
//! in one run. The schema is generated from the model types (`schema.rs`), so this pass and the typed
//! parse agree by construction; once it finds nothing, the typed parse cannot fail on shape. Does not own
//! semantic checks that need the typed model (`validate.rs`).

use std::collections::HashSet;

use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use super::diagnostic::{Diagnostic, Span};
use super::diagnostic_kind::DiagnosticKind;
use super::model::{FORMAT_ACCOUNT_ID, FORMAT_DATE_TIME, FORMAT_DURATION, FORMAT_JOB_ID};
use super::node::Node;
use crate::api::{AccountId, JobId};

/// Identifies a node of the tree: its span and kind (a map and its first key start at the same byte).
type NodeId = (Span, u8);

fn id(node: &Spanned<Node>) -> NodeId {
    let kind = match node.value {
        Node::Null => 0,
        Node::Bool(_) => 1,
        Node::Int(_) => 2,
        Node::Float(_) => 3,
        Node::Str(_) => 4,
        Node::Seq(_) => 5,
        Node::Map(_) => 6,
    };
    (Span::of(node), kind)
}

/// What the structural check found.
pub(crate) struct Structure {
    /// Every structural problem.
    pub(crate) diagnostics: Vec<Diagnostic>,
    /// The nodes at fault: pruning them leaves a tree the typed model can read.
    bad: HashSet<NodeId>,
}

impl Structure {
    /// The tree without the nodes at fault (a map missing a required key goes whole); `None` when the
    /// root itself is at fault.
    pub(crate) fn prune(&self, node: &Spanned<Node>) -> Option<Spanned<Node>> {
        if self.bad.contains(&id(node)) {
            return None;
        }
        let value = match &node.value {
            Node::Seq(items) => Node::Seq(items.iter().filter_map(|i| self.prune(i)).collect()),
            Node::Map(pairs) => Node::Map(
                pairs
                    .iter()
                    .filter(|(key, _)| !self.bad.contains(&id(key)))
                    .filter_map(|(key, value)| Some((key.clone(), self.prune(value)?)))
                    .collect(),
            ),
            other => other.clone(),
        };
        Some(Spanned::new(value, node.referenced, node.defined))
    }
}

/// Checks `root` against the plan schema; returns every problem found.
pub(crate) fn check(root: &Spanned<Node>) -> Structure {
    let schema = &*super::schema::SCHEMA;
    let mut walker = Walker {
        root: schema,
        out: Vec::new(),
        bad: HashSet::new(),
    };
    match &root.value {
        Node::Null => {
            walker.bad.insert(id(root));
            walker.out.push(Diagnostic::file(DiagnosticKind::Empty));
        }
        Node::Map(_) => walker.check(schema, root, None),
        other => walker.fault(
            root,
            DiagnosticKind::NotAMap {
                found: other.kind_name(),
            },
        ),
    }
    Structure {
        diagnostics: walker.out,
        bad: walker.bad,
    }
}

/// The kinds of node a schema accepts.
#[derive(Debug, Clone, Copy, Default)]
struct Accepts {
    null: bool,
    boolean: bool,
    integer: bool,
    number: bool,
    string: bool,
    array: bool,
    object: bool,
}

impl Accepts {
    fn node(&self, node: &Node) -> bool {
        match node {
            Node::Null => self.null,
            Node::Bool(_) => self.boolean,
            Node::Int(_) => self.integer || self.number,
            Node::Float(_) => self.number,
            Node::Str(_) => self.string,
            Node::Seq(_) => self.array,
            Node::Map(_) => self.object,
        }
    }

    fn add_type(&mut self, name: &str) {
        match name {
            "null" => self.null = true,
            "boolean" => self.boolean = true,
            "integer" => self.integer = true,
            "number" => self.number = true,
            "string" => self.string = true,
            "array" => self.array = true,
            "object" => self.object = true,
            _ => {}
        }
    }

    fn union(self, other: Accepts) -> Accepts {
        Accepts {
            null: self.null || other.null,
            boolean: self.boolean || other.boolean,
            integer: self.integer || other.integer,
            number: self.number || other.number,
            string: self.string || other.string,
            array: self.array || other.array,
            object: self.object || other.object,
        }
    }

    /// "a string or a list" (null is never suggested).
    fn describe(&self) -> String {
        let mut names = Vec::new();
        if self.string {
            names.push("a string");
        }
        if self.number {
            names.push("a number");
        } else if self.integer {
            names.push("an integer");
        }
        if self.boolean {
            names.push("a boolean");
        }
        if self.array {
            names.push("a list");
        }
        if self.object {
            names.push("a map");
        }
        match names.as_slice() {
            [] => "nothing".to_owned(),
            [one] => (*one).to_owned(),
            [init @ .., last] => format!("{} or {last}", init.join(", ")),
        }
    }
}

struct Walker<'a> {
    root: &'a Value,
    out: Vec<Diagnostic>,
    bad: HashSet<NodeId>,
}

impl<'a> Walker<'a> {
    /// Records a problem at `node` and marks the node for pruning.
    fn fault(&mut self, node: &Spanned<Node>, kind: DiagnosticKind) {
        self.bad.insert(id(node));
        self.out.push(Diagnostic::at(Span::of(node), kind));
    }

    fn resolve(&self, schema: &'a Value) -> (&'a Value, Option<&'a str>) {
        let mut schema = schema;
        let mut name = None;
        // References are one level deep in schemars output; the bound only guards against a loop.
        for _ in 0..8 {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let Some(def) = reference.strip_prefix("#/definitions/") else {
                break;
            };
            match self.root.get("definitions").and_then(|d| d.get(def)) {
                Some(target) => {
                    schema = target;
                    name = Some(def);
                }
                None => break,
            }
        }
        (schema, name)
    }

    fn branches(schema: &'a Value) -> Option<&'a Vec<Value>> {
        schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
    }

    fn accepts(&self, schema: &'a Value) -> Accepts {
        let (schema, _) = self.resolve(schema);
        let mut accepts = Accepts::default();
        match schema.get("type") {
            Some(Value::String(name)) => accepts.add_type(name),
            Some(Value::Array(names)) => names
                .iter()
                .filter_map(Value::as_str)
                .for_each(|n| accepts.add_type(n)),
            _ => {}
        }
        if let Some(branches) = Self::branches(schema) {
            for branch in branches {
                accepts = accepts.union(self.accepts(branch));
            }
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for branch in all {
                accepts = accepts.union(self.accepts(branch));
            }
        }
        accepts
    }

    /// The `format` of the schema or of any of its branches.
    fn format_of(&self, schema: &'a Value) -> Option<&'a str> {
        let (schema, _) = self.resolve(schema);
        if let Some(format) = schema.get("format").and_then(Value::as_str) {
            return Some(format);
        }
        Self::branches(schema)?
            .iter()
            .find_map(|branch| self.format_of(branch))
    }

    /// The allowed values when `schema` is a set of string constants.
    fn constants(schema: &'a Value) -> Option<Vec<&'a str>> {
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            return values.iter().map(Value::as_str).collect();
        }
        let branches = Self::branches(schema)?;
        branches
            .iter()
            .map(|b| b.get("const").and_then(Value::as_str))
            .collect()
    }

    fn check(&mut self, schema: &'a Value, node: &Spanned<Node>, field: Option<&str>) {
        let (schema, name) = self.resolve(schema);
        let accepts = self.accepts(schema);
        if !accepts.node(&node.value) {
            let format = self.format_of(schema);
            let kind = wrong_type(&accepts, format, &node.value, field);
            self.fault(node, kind);
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for branch in all {
                self.check(branch, node, field);
            }
        }
        if let Some(allowed) = Self::constants(schema) {
            if let Node::Str(value) = &node.value
                && !allowed.contains(&value.as_str())
            {
                self.fault(node, unknown_value(name, field, value, &allowed));
            }
            return;
        }
        if let Some(branches) = Self::branches(schema) {
            let chosen = branches
                .iter()
                .find(|b| !matches!(node.value, Node::Null) && self.accepts(b).node(&node.value));
            if let Some(branch) = chosen {
                self.check(branch, node, field);
            }
            return;
        }
        match &node.value {
            Node::Int(value) if i64::try_from(*value).is_err() => {
                self.fault(node, DiagnosticKind::IntegerTooLarge);
            }
            Node::Str(text) => {
                if let Some(format) = schema.get("format").and_then(Value::as_str)
                    && let Some(kind) = check_format(format, text)
                {
                    self.fault(node, kind);
                }
            }
            Node::Seq(items) => {
                if items.is_empty() && schema.get("minItems").and_then(Value::as_u64) > Some(0) {
                    self.fault(node, DiagnosticKind::EmptyList);
                }
                if let Some(item_schema) = schema.get("items") {
                    for item in items {
                        self.check(item_schema, item, field);
                    }
                }
            }
            Node::Map(pairs) => self.check_map(schema, node, pairs),
            _ => {}
        }
    }

    fn check_map(
        &mut self,
        schema: &'a Value,
        node: &Spanned<Node>,
        pairs: &[(Spanned<Node>, Spanned<Node>)],
    ) {
        static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY);
        let additional = schema.get("additionalProperties");
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut seen: Vec<(&str, Span)> = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            let Node::Str(key_text) = &key.value else {
                self.fault(
                    key,
                    DiagnosticKind::WrongType {
                        expected: "a string key".to_owned(),
                        found: key.value.kind_name(),
                        hint: None,
                    },
                );
                continue;
            };
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key_text) {
                self.bad.insert(id(key));
                self.out.push(
                    Diagnostic::at(
                        Span::of(key),
                        DiagnosticKind::DuplicateKey {
                            key: key_text.clone(),
                        },
                    )
                    .with_other(*first),
                );
                continue;
            }
            seen.push((key_text, Span::of(key)));
            if let Some(property) = properties.get(key_text) {
                self.check(property, value, Some(key_text));
                if self.bad.contains(&id(value)) && required.contains(&key_text.as_str()) {
                    // Without this key the map cannot become its type: prune it whole.
                    self.bad.insert(id(node));
                }
            } else {
                match additional {
                    Some(Value::Bool(false)) => {
                        let expected: Vec<String> = properties.keys().cloned().collect();
                        self.bad.insert(id(key));
                        self.out.push(Diagnostic::at(
                            Span::of(key),
                            DiagnosticKind::UnknownKey {
                                key: key_text.clone(),
                                suggestion: suggest(key_text, expected.iter().map(String::as_str))
                                    .map(str::to_owned),
                                expected,
                            },
                        ));
                    }
                    Some(item_schema @ Value::Object(_)) => {
                        self.check(item_schema, value, Some(key_text));
                    }
                    _ => {}
                }
            }
        }
        for key in required {
            if !seen.iter().any(|(k, _)| *k == key) {
                self.fault(
                    node,
                    DiagnosticKind::MissingKey {
                        key: key.to_owned(),
                    },
                );
            }
        }
    }
}

fn check_format(format: &str, text: &str) -> Option<DiagnosticKind> {
    match format {
        FORMAT_JOB_ID => JobId::parse(text)
            .err()
            .map(|_| DiagnosticKind::InvalidJobId {
                value: text.to_owned(),
            }),
        FORMAT_ACCOUNT_ID => {
            AccountId::parse(text)
                .err()
                .map(|_| DiagnosticKind::InvalidAccountId {
                    value: text.to_owned(),
                })
        }
        FORMAT_DURATION => {
            humantime::parse_duration(text)
                .err()
                .map(|e| DiagnosticKind::InvalidDuration {
                    value: text.to_owned(),
                    reason: e.to_string(),
                })
        }
        FORMAT_DATE_TIME => {
            text.parse::<jiff::Timestamp>()
                .err()
                .map(|e| DiagnosticKind::InvalidTimestamp {
                    value: text.to_owned(),
                    reason: e.to_string(),
                })
        }
        _ => None,
    }
}

fn wrong_type(
    accepts: &Accepts,
    format: Option<&str>,
    found: &Node,
    field: Option<&str>,
) -> DiagnosticKind {
    let hint = match (found, format) {
        (Node::Int(_), Some(FORMAT_ACCOUNT_ID)) => {
            Some("quote account ids: `account_id: \"111122223333\"`".to_owned())
        }
        (Node::Int(_) | Node::Float(_), Some(FORMAT_DURATION)) => {
            Some("durations need a unit, e.g. `10s`, `30m`, `2h`".to_owned())
        }
        (Node::Int(_) | Node::Float(_) | Node::Bool(_), _) if accepts.string => {
            Some("put the value in quotes".to_owned())
        }
        (Node::Str(text), _) if accepts.boolean => match text.to_lowercase().as_str() {
            "yes" | "on" | "y" => Some("write `true`".to_owned()),
            "no" | "off" | "n" => Some("write `false`".to_owned()),
            _ => None,
        },
        (Node::Str(text), _) if accepts.integer || accepts.number => {
            if text.trim().parse::<f64>().is_ok() {
                Some("write the number without quotes".to_owned())
            } else {
                Some("write a number, e.g. `8`".to_owned())
            }
        }
        (Node::Str(_), _) if accepts.array => Some(format!(
            "write a list, e.g. `{}: [value]`",
            field.unwrap_or("key")
        )),
        (Node::Null, _) => Some(format!(
            "give `{}` a value, or remove the key",
            field.unwrap_or("it")
        )),
        _ => None,
    };
    DiagnosticKind::WrongType {
        expected: accepts.describe(),
        found: found.kind_name(),
        hint,
    }
}

fn unknown_value(
    definition: Option<&str>,
    field: Option<&str>,
    value: &str,
    allowed: &[&str],
) -> DiagnosticKind {
    let what = match (definition, field) {
        (Some("TargetStatus"), _) | (_, Some("set")) => "target for `set`".to_owned(),
        (Some("JobStatus"), _) => "job status".to_owned(),
        (Some("OperationName"), _) => "operation".to_owned(),
        (_, Some(field)) => format!("value for `{field}`"),
        _ => "value".to_owned(),
    };
    DiagnosticKind::UnknownValue {
        what,
        value: value.to_owned(),
        suggestion: suggest(value, allowed.iter().copied()).map(str::to_owned),
        allowed: allowed.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// The candidate closest to `input`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'c>(
    input: &str,
    candidates: impl Iterator<Item = &'c str>,
) -> Option<&'c str> {
    let lower = input.to_lowercase();
    candidates
        .map(|c| {
            let score = if c.to_lowercase() == lower {
                2.0
            } else {
                strsim::jaro_winkler(&lower, &c.to_lowercase())
            };
            (c, score)
        })
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::suggest;

    #[test]
    fn suggestions_catch_typos_and_case_but_not_strangers() {
        let statuses = ["Cancelled", "Cancelling", "Complete", "Suspended"];
        for (input, expected) in [
            ("Canceled", Some("Cancelled")),
            ("cancelled", Some("Cancelled")),
            ("Suspend", Some("Suspended")),
            ("Bogus", None),
        ] {
            assert_eq!(
                suggest(input, statuses.iter().copied()),
                expected,
                "{input}"
            );
        }
    }
}
