//! Structural checks: walks the shape-free node tree against the plan's own JSON Schema and reports every
//! unknown or missing key, duplicate key, wrong type, unknown name and malformed id, duration or time.
//!
//! Why a second pass beside serde: serde stops at the first error, and the format promises every mistake
//! in one run. The schema is generated from the model types (`schema.rs`), so this pass and the typed
//! parse agree by construction; once it finds nothing, the typed parse cannot fail on shape. Does not own
//! semantic checks that need the typed model (`validate.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use serde_json::Value;
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
    let mut walker = Walker {
        schema: &COMPILED,
        out: Vec::new(),
        bad: HashSet::new(),
    };
    match &root.value {
        Node::Null => {
            walker.bad.insert(id(root));
            walker.out.push(Diagnostic::file(DiagnosticKind::Empty));
        }
        Node::Map(_) => walker.check(0, root, None),
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

/// What a node of the schema accepts, with every reference resolved, computed once per process.
///
/// Walking `serde_json::Value` directly costs a string-keyed lookup per keyword per YAML node, which
/// showed as a fifth of the time on a 10,000-entry plan; this flattens the schema into indexes.
struct SchemaNode {
    /// The definition this node came from (`JobStatus`, `TargetStatus`, ...), for messages.
    name: Option<&'static str>,
    /// Node kinds accepted by the node and its branches.
    accepts: Accepts,
    /// The node's own `format`.
    format: Option<&'static str>,
    /// The node's or any branch's `format` (for hints on a wrong type).
    any_format: Option<&'static str>,
    /// The allowed strings, when the node is a set of constants.
    constants: Option<Vec<&'static str>>,
    /// `anyOf`/`oneOf` branches.
    branches: Vec<usize>,
    /// `allOf` parts.
    all_of: Vec<usize>,
    /// `items`.
    items: Option<usize>,
    /// `minItems`.
    min_items: u64,
    /// `properties`, sorted by name.
    properties: Vec<(&'static str, usize)>,
    /// `additionalProperties`: `Some(None)` is `false`, `Some(Some(i))` a schema.
    additional: Option<Option<usize>>,
    /// `required`.
    required: Vec<&'static str>,
}

struct Compiled {
    nodes: Vec<SchemaNode>,
}

static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let root: &'static Value = &super::schema::SCHEMA;
    let mut compiler = Compiler {
        root,
        nodes: Vec::new(),
        definitions: HashMap::new(),
    };
    compiler.compile(root, None);
    Compiled {
        nodes: compiler.nodes,
    }
});

struct Compiler {
    root: &'static Value,
    nodes: Vec<SchemaNode>,
    definitions: HashMap<&'static str, usize>,
}

impl Compiler {
    /// Compiles `schema` and returns its index (the root is index 0).
    fn compile(&mut self, schema: &'static Value, name: Option<&'static str>) -> usize {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let target = reference
                .strip_prefix("#/definitions/")
                .and_then(|def| Some((def, self.root.get("definitions")?.get(def)?)));
            if let Some((def, body)) = target {
                if let Some(index) = self.definitions.get(def) {
                    return *index;
                }
                let index = self.reserve();
                self.definitions.insert(def, index);
                let node = self.build(body, Some(def));
                self.nodes[index] = node;
                return index;
            }
        }
        let index = self.reserve();
        let node = self.build(schema, name);
        self.nodes[index] = node;
        index
    }

    fn reserve(&mut self) -> usize {
        self.nodes.push(SchemaNode {
            name: None,
            accepts: Accepts::default(),
            format: None,
            any_format: None,
            constants: None,
            branches: Vec::new(),
            all_of: Vec::new(),
            items: None,
            min_items: 0,
            properties: Vec::new(),
            additional: None,
            required: Vec::new(),
        });
        self.nodes.len() - 1
    }

    fn build(&mut self, schema: &'static Value, name: Option<&'static str>) -> SchemaNode {
        let list = |key: &str| schema.get(key).and_then(Value::as_array);
        let branch_values = list("anyOf").or_else(|| list("oneOf"));
        let constants = match schema.get("enum").and_then(Value::as_array) {
            Some(values) => values.iter().map(Value::as_str).collect(),
            None => branch_values.and_then(|branches| {
                branches
                    .iter()
                    .map(|b| b.get("const").and_then(Value::as_str))
                    .collect()
            }),
        };
        let branches: Vec<usize> = match (&constants, branch_values) {
            (None, Some(values)) => values.iter().map(|b| self.compile(b, None)).collect(),
            _ => Vec::new(),
        };
        let all_of: Vec<usize> = list("allOf")
            .map(|parts| parts.iter().map(|p| self.compile(p, None)).collect())
            .unwrap_or_default();
        let items = schema.get("items").map(|i| self.compile(i, None));
        let mut properties: Vec<(&'static str, usize)> = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|props| {
                props
                    .iter()
                    .map(|(k, v)| (k.as_str(), self.compile(v, None)))
                    .collect()
            })
            .unwrap_or_default();
        properties.sort_unstable_by_key(|(k, _)| *k);
        let additional = match schema.get("additionalProperties") {
            Some(Value::Bool(false)) => Some(None),
            Some(other @ Value::Object(_)) => Some(Some(self.compile(other, None))),
            _ => None,
        };
        let mut accepts = Accepts::default();
        match schema.get("type") {
            Some(Value::String(t)) => accepts.add_type(t),
            Some(Value::Array(types)) => types
                .iter()
                .filter_map(Value::as_str)
                .for_each(|t| accepts.add_type(t)),
            _ => {}
        }
        if constants.is_some() {
            accepts.string = true;
        }
        let format = schema.get("format").and_then(Value::as_str);
        let mut any_format = format;
        for part in branches.iter().chain(&all_of) {
            accepts = accepts.union(self.nodes[*part].accepts);
            any_format = any_format.or(self.nodes[*part].any_format);
        }
        SchemaNode {
            name,
            accepts,
            format,
            any_format,
            constants,
            branches,
            all_of,
            items,
            min_items: schema.get("minItems").and_then(Value::as_u64).unwrap_or(0),
            properties,
            additional,
            required: list("required")
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default(),
        }
    }
}

struct Walker {
    schema: &'static Compiled,
    out: Vec<Diagnostic>,
    bad: HashSet<NodeId>,
}

impl Walker {
    /// Records a problem at `node` and marks the node for pruning.
    fn fault(&mut self, node: &Spanned<Node>, kind: DiagnosticKind) {
        self.bad.insert(id(node));
        self.out.push(Diagnostic::at(Span::of(node), kind));
    }

    fn check(&mut self, index: usize, node: &Spanned<Node>, field: Option<&str>) {
        let schema = &self.schema.nodes[index];
        if !schema.accepts.node(&node.value) {
            let kind = wrong_type(&schema.accepts, schema.any_format, &node.value, field);
            self.fault(node, kind);
            return;
        }
        for part in &schema.all_of {
            self.check(*part, node, field);
        }
        if let Some(allowed) = &schema.constants {
            if let Node::Str(value) = &node.value
                && !allowed.contains(&value.as_str())
            {
                self.fault(node, unknown_value(schema.name, field, value, allowed));
            }
            return;
        }
        if !schema.branches.is_empty() {
            let nodes = &self.schema.nodes;
            let chosen =
                schema.branches.iter().copied().find(|b| {
                    !matches!(node.value, Node::Null) && nodes[*b].accepts.node(&node.value)
                });
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
                if let Some(kind) = schema.format.and_then(|f| check_format(f, text)) {
                    self.fault(node, kind);
                }
            }
            Node::Seq(items) => {
                if items.is_empty() && schema.min_items > 0 {
                    self.fault(node, DiagnosticKind::EmptyList);
                }
                if let Some(item_schema) = schema.items {
                    for item in items {
                        self.check(item_schema, item, field);
                    }
                }
            }
            Node::Map(pairs) => self.check_map(index, node, pairs),
            _ => {}
        }
    }

    fn check_map(
        &mut self,
        index: usize,
        node: &Spanned<Node>,
        pairs: &[(Spanned<Node>, Spanned<Node>)],
    ) {
        let schema = &self.schema.nodes[index];
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
            let property = schema
                .properties
                .binary_search_by_key(&key_text.as_str(), |(k, _)| *k)
                .ok()
                .map(|i| schema.properties[i].1);
            match (property, schema.additional) {
                (Some(property), _) => {
                    self.check(property, value, Some(key_text));
                    if schema.required.contains(&key_text.as_str()) && self.bad.contains(&id(value))
                    {
                        // Without this key the map cannot become its type: prune it whole.
                        self.bad.insert(id(node));
                    }
                }
                (None, Some(None)) => {
                    let expected: Vec<String> = schema
                        .properties
                        .iter()
                        .map(|(k, _)| (*k).to_owned())
                        .collect();
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
                (None, Some(Some(item_schema))) => self.check(item_schema, value, Some(key_text)),
                (None, None) => {}
            }
        }
        for key in &schema.required {
            if !seen.iter().any(|(k, _)| k == key) {
                self.fault(
                    node,
                    DiagnosticKind::MissingKey {
                        key: (*key).to_owned(),
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
