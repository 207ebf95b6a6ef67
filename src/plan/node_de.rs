//! A serde `Deserializer` over the spanned node tree, so the typed model can be read from a tree that had
//! its structurally broken parts pruned (and every semantic problem still found in the same run).
//!
//! Owns the replay of serde-saphyr's `Spanned<T>` protocol: serde-saphyr asks for a newtype struct named
//! `__yaml_spanned` and answers with a map `{marker, value, referenced, defined}`; this module answers the
//! same way with the locations the node tree recorded. The protocol is serde-saphyr 2.2's (see
//! `serde-saphyr-2.2.0/src/spanned.rs`); the unit tests below fail if it changes. Does not own pruning
//! (`structure.rs`) or the model.

use serde::de::value::{Error, StrDeserializer};
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;
use serde_saphyr::{Location, Spanned};

use super::node::Node;

/// The name serde-saphyr's `Spanned<T>` asks for.
const SPANNED_NEWTYPE: &str = "__yaml_spanned";
/// The first key of the synthetic map that marks it as span data.
const SPANNED_MARKER: &str = "__serde_saphyr_private_spanned";

/// Reads `T` from a node tree.
pub(crate) fn from_node<'de, T: de::Deserialize<'de>>(node: &Spanned<Node>) -> Result<T, Error> {
    T::deserialize(NodeDe(node))
}

struct NodeDe<'a>(&'a Spanned<Node>);

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.0.value {
            Node::Null => visitor.visit_unit(),
            Node::Bool(b) => visitor.visit_bool(*b),
            Node::Int(i) => match i64::try_from(*i) {
                Ok(small) => visitor.visit_i64(small),
                Err(_) => visitor.visit_i128(*i),
            },
            Node::Float(f) => visitor.visit_f64(*f),
            Node::Str(s) => visitor.visit_str(s),
            Node::Seq(items) => visitor.visit_seq(Items(items.iter())),
            Node::Map(pairs) => visitor.visit_map(Pairs {
                pairs: pairs.iter(),
                value: None,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.value {
            Node::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == SPANNED_NEWTYPE {
            visitor.visit_newtype_struct(SpannedDe(self.0))
        } else {
            visitor.visit_newtype_struct(self)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match &self.0.value {
            Node::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

fn unexpected(node: &Node) -> de::Unexpected<'_> {
    match node {
        Node::Null => de::Unexpected::Unit,
        Node::Bool(b) => de::Unexpected::Bool(*b),
        Node::Int(_) => de::Unexpected::Other("an integer"),
        Node::Float(f) => de::Unexpected::Float(*f),
        Node::Str(s) => de::Unexpected::Str(s),
        Node::Seq(_) => de::Unexpected::Seq,
        Node::Map(_) => de::Unexpected::Map,
    }
}

struct Items<'a>(std::slice::Iter<'a, Spanned<Node>>);

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|n| seed.deserialize(NodeDe(n)))
            .transpose()
    }
}

struct Pairs<'a> {
    pairs: std::slice::Iter<'a, (Spanned<Node>, Spanned<Node>)>,
    value: Option<&'a Spanned<Node>>,
}

impl<'de> MapAccess<'de> for Pairs<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.pairs.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(NodeDe(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(NodeDe(value)),
            None => Err(de::Error::custom(
                "a map value was asked for before its key",
            )),
        }
    }
}

/// Answers `Spanned<T>`'s request with `{marker, value, referenced, defined}`.
struct SpannedDe<'a>(&'a Spanned<Node>);

impl<'de> de::Deserializer<'de> for SpannedDe<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(SpannedFields {
            node: self.0,
            next: 0,
        })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

struct SpannedFields<'a> {
    node: &'a Spanned<Node>,
    next: usize,
}

const SPANNED_KEYS: [&str; 4] = [SPANNED_MARKER, "value", "referenced", "defined"];

impl<'de> MapAccess<'de> for SpannedFields<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(key) = SPANNED_KEYS.get(self.next) else {
            return Ok(None);
        };
        seed.deserialize(StrDeserializer::<Error>::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let index = self.next;
        self.next += 1;
        match index {
            0 => seed.deserialize(().into_deserializer()),
            1 => seed.deserialize(NodeDe(self.node)),
            2 => seed.deserialize(location_value(&self.node.referenced)),
            _ => seed.deserialize(location_value(&self.node.defined)),
        }
    }
}

/// A location in the shape `Location`'s own `Deserialize` reads: `{line, column, span: {offset, len,
/// byte_info: [byte_offset, byte_len]}, source_id}`, replayed without allocating.
fn location_value(location: &Location) -> Fields<'static> {
    let span = location.span();
    let unknown = u64::from(u32::MAX);
    Fields::new(
        &["line", "column", "span", "source_id"],
        [
            Field::Int(location.line()),
            Field::Int(location.column()),
            Field::Span([
                span.offset(),
                span.len(),
                span.byte_offset().unwrap_or(unknown),
                span.byte_len().unwrap_or(unknown),
            ]),
            Field::Int(u64::from(location.source_id())),
        ],
    )
}

#[derive(Clone, Copy)]
enum Field {
    Int(u64),
    /// offset, len, byte offset, byte len.
    Span([u64; 4]),
    Pair([u64; 2]),
}

/// A small fixed map of numbers (a `Location`, a `Span`).
struct Fields<'k> {
    keys: &'k [&'static str],
    values: [Field; 4],
    next: usize,
}

impl<'k> Fields<'k> {
    fn new(keys: &'k [&'static str], values: [Field; 4]) -> Self {
        Self {
            keys,
            values,
            next: 0,
        }
    }
}

impl<'de> de::Deserializer<'de> for Fields<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(key) = self.keys.get(self.next) else {
            return Ok(None);
        };
        seed.deserialize(StrDeserializer::<Error>::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self.values[self.next.min(3)];
        self.next += 1;
        match value {
            Field::Int(n) => seed.deserialize(n.into_deserializer()),
            Field::Span([offset, len, byte_offset, byte_len]) => seed.deserialize(Fields::new(
                &["offset", "len", "byte_info"],
                [
                    Field::Int(offset),
                    Field::Int(len),
                    Field::Pair([byte_offset, byte_len]),
                    Field::Int(0),
                ],
            )),
            Field::Pair(pair) => {
                seed.deserialize(de::value::SeqDeserializer::new(pair.into_iter()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::model::{Plan, WaitFor};

    const PLAN: &str = "version: 1\njobs:\n  - name: a\n    job_id: \"abcde-1\"\n    wait_for: { status: [Suspended], timeout: 2h }\n    set: Ready\n";

    #[test]
    fn node_tree_reads_like_the_parser_with_the_same_spans() {
        let direct: Plan = serde_saphyr::from_str(PLAN).unwrap();
        let node: Spanned<Node> = serde_saphyr::from_str(PLAN).unwrap();
        let replayed: Plan = from_node(&node).unwrap();
        let (a, b) = (&direct.jobs.value[0], &replayed.jobs.value[0]);
        assert_eq!(a.value.name, b.value.name);
        assert_eq!(a.value.job_id, b.value.job_id);
        assert_eq!(a.value.set, b.value.set);
        assert_eq!(direct.version, replayed.version);
        assert_eq!(
            b.value.name.referenced.span().byte_offset(),
            Some(PLAN.find("a\n").unwrap() as u64)
        );
        let Some(WaitFor::Long(long)) = b.value.wait_for.as_ref().map(|w| &w.value) else {
            panic!("long form expected");
        };
        assert_eq!(long.status.referenced.line(), 5);
    }
}
