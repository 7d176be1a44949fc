//! JSON bodies read once into a zero-copy DOM, which the schema validators read in place.
//!
//! [`read`] parses a body with simd-json into its tape: one flat array of nodes whose strings
//! point into the body's own text (unescaped in place), so that reading a body allocates no
//! string and builds no tree. A [`Dom`] is a value of that tape; [`DomJson`] lets `jsonschema`
//! validate it ([`crate::SchemaValidator::is_valid_dom`]), and [`Dom::deserialize`] reads a
//! serde type from it without parsing the text again.
//!
//! A DOM holds exactly what `serde_json` reads into a [`Value`] from the same text, because a body
//! is read into one only when the two readings cannot differ: [`read`] gives `None` (and the
//! caller reads the text with serde_json, which then decides) when simd-json refuses the text,
//! when an object repeats a key (serde_json keeps the last, a tape keeps both), when a number is
//! not an integer (the two parsers may round a decimal differently, and serde_json refuses some
//! that simd-json reads) or is `-0` (serde_json reads it as a float), or when it nests deeper than
//! [`MAX_DEPTH`] (serde_json stops at 128).

use std::borrow::Cow;
use std::cell::Cell;

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, JsonNumber, Node, NodeIdentity, Object};
use serde_json::{Map, Number, Value};
use simd_json::{Node as TapeNode, StaticNode};

/// The deepest nesting read into a DOM; a deeper body is left to serde_json.
pub const MAX_DEPTH: usize = 100;

/// One JSON value of a body read by [`read`]: the run of tape nodes that holds it.
#[derive(Clone, Copy)]
pub struct Dom<'a> {
    nodes: &'a [TapeNode<'a>],
}

impl std::fmt::Debug for Dom<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dom({})", self.to_value())
    }
}

/// The buffers one thread reuses from body to body: the padded copy of the text simd-json writes
/// its unescaped strings into, its own scratch buffers, and the tape.
struct Reader {
    input: Vec<u8>,
    buffers: simd_json::Buffers,
    tape: simd_json::Tape<'static>,
}

impl Reader {
    fn new() -> Self {
        Self {
            input: Vec::new(),
            buffers: simd_json::Buffers::with_max_depth(0, MAX_DEPTH),
            tape: simd_json::Tape::null().reset(),
        }
    }
}

thread_local! {
    static READER: Cell<Option<Box<Reader>>> = const { Cell::new(None) };
    /// The tape [`Dom::deserialize`] copies a value into.
    static SCRATCH: Cell<Option<simd_json::Tape<'static>>> = const { Cell::new(None) };
}

/// Reads `text` into a DOM and calls `f` with its root, or with `None` when the text is to be read
/// by serde_json instead (see the [module docs](self)).
///
/// The buffers are the calling thread's, reused from call to call; a call made from inside `f`
/// gets buffers of its own.
pub fn read<R>(text: &[u8], f: impl FnOnce(Option<Dom<'_>>) -> R) -> R {
    let mut reader = READER
        .with(Cell::take)
        .unwrap_or_else(|| Box::new(Reader::new()));
    let Reader {
        input,
        buffers,
        tape,
    } = &mut *reader;
    input.clear();
    input.extend_from_slice(text);
    input.resize(text.len() + simd_json::INPUT_PADDING, b' ');
    let mut filled = std::mem::replace(tape, simd_json::Tape::null().reset()).reset();
    let parsed = simd_json::fill_tape_padded(input, text.len(), buffers, &mut filled).is_ok();
    let root = Dom { nodes: &filled.0 };
    let result = if parsed && plain(root.nodes) {
        f(Some(root))
    } else {
        f(None)
    };
    *tape = filled.reset();
    READER.with(|cell| cell.set(Some(reader)));
    result
}

/// Whether a tape holds what serde_json would read from the same text: no repeated key, and only
/// integers other than `-0`.
fn plain(nodes: &[TapeNode<'_>]) -> bool {
    for (at, node) in nodes.iter().enumerate() {
        match node {
            // simd-json reads every integer written without a sign as `U64`, so `I64(0)` is `-0`.
            TapeNode::Static(StaticNode::F64(_) | StaticNode::I64(0)) => return false,
            TapeNode::Object { len, .. } if *len > 1 && repeats_key(&nodes[at..], *len) => {
                return false;
            }
            _ => {}
        }
    }
    true
}

/// Whether the object at the start of `nodes`, of `len` members, names a key twice.
///
/// Each key sets one bit of 128 chosen by a hash of it; only a key whose bit is already set is
/// compared with the keys before it, so a typical object costs one hash per key.
fn repeats_key(nodes: &[TapeNode<'_>], len: usize) -> bool {
    let mut seen = 0_u128;
    let mut at = 1;
    for index in 0..len {
        let Some(TapeNode::String(key)) = nodes.get(at) else {
            return false;
        };
        let bit = 1_u128 << (key_hash(key) >> 57);
        if seen & bit != 0 && previous_keys(nodes, index).any(|previous| previous == *key) {
            return true;
        }
        seen |= bit;
        at += 1;
        at += nodes.get(at).map_or(1, span);
    }
    false
}

/// The first `count` keys of the object at the start of `nodes`.
fn previous_keys<'a>(nodes: &'a [TapeNode<'a>], count: usize) -> impl Iterator<Item = &'a str> {
    let mut at = 1;
    (0..count).map_while(move |_| {
        let TapeNode::String(key) = nodes.get(at)? else {
            return None;
        };
        at += 1;
        at += nodes.get(at).map_or(1, span);
        Some(*key)
    })
}

fn key_hash(key: &str) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes = key.as_bytes();
    let word = |chunk: &[u8]| {
        let mut buffer = [0_u8; 8];
        buffer[..chunk.len()].copy_from_slice(chunk);
        u64::from_le_bytes(buffer)
    };
    let head = word(&bytes[..bytes.len().min(8)]);
    let tail = word(&bytes[bytes.len().saturating_sub(8)..]);
    ((bytes.len() as u64 ^ head).wrapping_mul(K) ^ tail).wrapping_mul(K)
}

/// How many tape nodes the value starting with `node` takes.
fn span(node: &TapeNode<'_>) -> usize {
    match node {
        TapeNode::Object { count, .. } | TapeNode::Array { count, .. } => count + 1,
        _ => 1,
    }
}

impl<'a> Dom<'a> {
    fn first(&self) -> &'a TapeNode<'a> {
        // A `Dom` is never empty: it is made from a parsed tape or a value's span within one.
        &self.nodes[0]
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&'a str> {
        match self.first() {
            TapeNode::String(text) => Some(text),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.first() {
            TapeNode::Static(StaticNode::Bool(value)) => Some(*value),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.first(), TapeNode::Static(StaticNode::Null))
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<DomNumber> {
        match self.first() {
            TapeNode::Static(number @ (StaticNode::I64(_) | StaticNode::U64(_))) => {
                Some(DomNumber(*number))
            }
            TapeNode::Static(StaticNode::F64(value)) => Some(DomNumber(StaticNode::F64(*value))),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<DomObject<'a>> {
        match self.first() {
            TapeNode::Object { len, .. } => Some(DomObject {
                nodes: self.nodes,
                len: *len,
            }),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<DomArray<'a>> {
        match self.first() {
            TapeNode::Array { len, .. } => Some(DomArray {
                nodes: self.nodes,
                len: *len,
            }),
            _ => None,
        }
    }

    /// The property `key` of an object.
    pub fn get(&self, key: &str) -> Option<Dom<'a>> {
        self.as_object()?.get_str(key)
    }

    /// The same value as a `serde_json` [`Value`] (what serde_json reads from the same text).
    pub fn to_value(&self) -> Value {
        match self.first() {
            TapeNode::String(text) => Value::String((*text).to_owned()),
            TapeNode::Static(StaticNode::Null) => Value::Null,
            TapeNode::Static(StaticNode::Bool(value)) => Value::Bool(*value),
            TapeNode::Static(_) => self
                .as_number()
                .map_or(Value::Null, |number| Value::Number(number.number())),
            TapeNode::Array { .. } => Value::Array(
                self.as_array()
                    .into_iter()
                    .flat_map(|array| array.iter())
                    .map(|item| item.to_value())
                    .collect(),
            ),
            TapeNode::Object { .. } => {
                let mut map = Map::new();
                for (key, value) in self.as_object().into_iter().flat_map(|o| o.iter()) {
                    map.insert(key.to_owned(), value.to_value());
                }
                Value::Object(map)
            }
        }
    }

    /// Reads a serde type from this value, as serde_json would read it from the text (the strings
    /// are the body's own, so a `&str` field borrows them).
    pub fn deserialize<T: serde::Deserialize<'a>>(&self) -> Result<T, simd_json::Error> {
        let mut tape = SCRATCH
            .with(Cell::take)
            .unwrap_or_else(|| simd_json::Tape::null().reset())
            .reset();
        tape.0.extend_from_slice(self.nodes);
        let mut deserializer = simd_json::Deserializer::from_tape(tape);
        let result = T::deserialize(&mut deserializer);
        let tape = deserializer.into_tape().reset();
        SCRATCH.with(|cell| cell.set(Some(tape)));
        result
    }

    /// Equality with a `serde_json` value as JSON Schema defines it (numbers by value).
    fn equals(&self, expected: &Value) -> bool {
        match expected {
            Value::Null => self.is_null(),
            Value::Bool(value) => self.as_bool() == Some(*value),
            Value::Number(number) => self
                .as_number()
                .is_some_and(|found| jsonschema::json::cmp::equal_numbers(&found, number)),
            Value::String(text) => self.as_str() == Some(text.as_str()),
            Value::Array(items) => self.as_array().is_some_and(|array| {
                array.len == items.len()
                    && array
                        .iter()
                        .zip(items)
                        .all(|(item, expected)| item.equals(expected))
            }),
            Value::Object(map) => self.as_object().is_some_and(|object| {
                object.len == map.len()
                    && object.iter().all(|(key, value)| {
                        map.get(key).is_some_and(|expected| value.equals(expected))
                    })
            }),
        }
    }
}

/// A number of a [`Dom`].
#[derive(Debug, Clone, Copy)]
pub struct DomNumber(StaticNode);

impl DomNumber {
    /// The number as `serde_json` holds it.
    pub fn number(&self) -> Number {
        match self.0 {
            StaticNode::I64(value) => Number::from(value),
            StaticNode::U64(value) => Number::from(value),
            StaticNode::F64(value) => Number::from_f64(value).unwrap_or_else(|| Number::from(0)),
            _ => Number::from(0),
        }
    }
}

impl JsonNumber for DomNumber {
    fn as_u64(&self) -> Option<u64> {
        match self.0 {
            StaticNode::U64(value) => Some(value),
            StaticNode::I64(value) => u64::try_from(value).ok(),
            _ => None,
        }
    }

    fn as_i64(&self) -> Option<i64> {
        match self.0 {
            StaticNode::U64(value) => i64::try_from(value).ok(),
            StaticNode::I64(value) => Some(value),
            _ => None,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self.0 {
            StaticNode::U64(value) => Some(value as f64),
            StaticNode::I64(value) => Some(value as f64),
            StaticNode::F64(value) => Some(value),
            _ => None,
        }
    }

    fn as_str(&self) -> Cow<'_, str> {
        Cow::Owned(self.number().to_string())
    }

    fn to_number(&self) -> Cow<'_, Number> {
        Cow::Owned(self.number())
    }

    fn is_integer(&self) -> bool {
        match self.0 {
            StaticNode::U64(_) | StaticNode::I64(_) => true,
            StaticNode::F64(value) => value.fract() == 0.0,
            _ => false,
        }
    }

    fn is_written_as_integer(&self) -> bool {
        matches!(self.0, StaticNode::U64(_) | StaticNode::I64(_))
    }
}

/// An object of a [`Dom`].
#[derive(Clone, Copy)]
pub struct DomObject<'a> {
    nodes: &'a [TapeNode<'a>],
    len: usize,
}

impl<'a> DomObject<'a> {
    /// The members, in the body's order.
    pub fn iter(&self) -> DomMembers<'a> {
        DomMembers {
            nodes: self.nodes,
            at: 1,
            left: self.len,
        }
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The member named `key` (a DOM repeats no key).
    pub fn get_str(&self, key: &str) -> Option<Dom<'a>> {
        self.iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value)
    }
}

/// The members of a [`DomObject`].
#[derive(Clone)]
pub struct DomMembers<'a> {
    nodes: &'a [TapeNode<'a>],
    at: usize,
    left: usize,
}

impl<'a> Iterator for DomMembers<'a> {
    type Item = (&'a str, Dom<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let TapeNode::String(key) = self.nodes.get(self.at)? else {
            return None;
        };
        let start = self.at + 1;
        let end = start + span(self.nodes.get(start)?);
        self.at = end;
        Some((
            key,
            Dom {
                nodes: self.nodes.get(start..end)?,
            },
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// An array of a [`Dom`].
#[derive(Clone, Copy)]
pub struct DomArray<'a> {
    nodes: &'a [TapeNode<'a>],
    len: usize,
}

impl<'a> DomArray<'a> {
    /// The items, in order.
    pub fn iter(&self) -> DomItems<'a> {
        DomItems {
            nodes: self.nodes,
            at: 1,
            left: self.len,
        }
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no item.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The items of a [`DomArray`].
#[derive(Clone)]
pub struct DomItems<'a> {
    nodes: &'a [TapeNode<'a>],
    at: usize,
    left: usize,
}

impl<'a> Iterator for DomItems<'a> {
    type Item = Dom<'a>;

    fn next(&mut self) -> Option<Dom<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let start = self.at;
        let end = start + span(self.nodes.get(start)?);
        self.at = end;
        Some(Dom {
            nodes: self.nodes.get(start..end)?,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// The `jsonschema` representation of a [`Dom`], so that a compiled schema validates a body where
/// it lies.
pub struct DomJson;

impl Json for DomJson {
    type Node<'a> = Dom<'a>;
    type PreparedKey = Box<str>;
    type StringBuffer = ();

    // A lookup is a scan of the members (a tape has no index), so one pass over them wins.
    const KEYS_PER_LOOKUP: usize = 64;
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> Box<str> {
        key.into()
    }

    fn with_string_node<T>((): &mut (), string: &str, f: impl FnOnce(Dom<'_>) -> T) -> T {
        let nodes = [TapeNode::String(string)];
        f(Dom { nodes: &nodes })
    }
}

impl<'a> Node<'a, DomJson> for Dom<'a> {
    type Object = DomObject<'a>;
    type Array = DomArray<'a>;
    type Number = DomNumber;

    fn as_object(&self) -> Option<DomObject<'a>> {
        Dom::as_object(self)
    }

    fn as_array(&self) -> Option<DomArray<'a>> {
        Dom::as_array(self)
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        self.as_str().map(Cow::Borrowed)
    }

    fn as_number(&self) -> Option<DomNumber> {
        Dom::as_number(self)
    }

    fn as_boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn is_null(&self) -> bool {
        Dom::is_null(self)
    }

    fn json_type(&self) -> JsonType {
        match self.first() {
            TapeNode::String(_) => JsonType::String,
            TapeNode::Object { .. } => JsonType::Object,
            TapeNode::Array { .. } => JsonType::Array,
            TapeNode::Static(StaticNode::Null) => JsonType::Null,
            TapeNode::Static(StaticNode::Bool(_)) => JsonType::Boolean,
            TapeNode::Static(_) => JsonType::Number,
        }
    }

    fn string_length_within(&self, min: u64, max: u64) -> Option<bool> {
        let text = self.as_str()?;
        // A code point takes one to four bytes, so the count lies in `ceil(bytes / 4)..=bytes`.
        let bytes = text.len() as u64;
        let fewest = bytes.div_ceil(4);
        if bytes < min || fewest > max {
            return Some(false);
        }
        if min <= fewest && bytes <= max {
            return Some(true);
        }
        Some((min..=max).contains(&(text.chars().count() as u64)))
    }

    fn equals_value(&self, expected: &Value) -> bool {
        self.equals(expected)
    }

    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(Dom::to_value(self))
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(self.nodes.as_ptr() as usize))
    }
}

impl<'a> Object<'a, DomJson> for DomObject<'a> {
    type Node = Dom<'a>;
    type MemberName = &'a str;
    type MembersIter = DomMembers<'a>;

    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, key: &Box<str>) -> Option<Dom<'a>> {
        self.get_str(key)
    }

    fn members(&self) -> DomMembers<'a> {
        self.iter()
    }
}

impl<'a> Array<'a, DomJson> for DomArray<'a> {
    type Node = Dom<'a>;
    type ElementsIter = DomItems<'a>;

    fn len(&self) -> usize {
        self.len
    }

    fn elements(&self) -> DomItems<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(text: &str) -> Option<Value> {
        read(text.as_bytes(), |dom| dom.map(|dom| dom.to_value()))
    }

    #[test]
    fn a_dom_holds_what_serde_json_reads() {
        for text in [
            r#"{"b": 1, "a": [true, null, -2, 18446744073709551615, "x\u00e9\n"], "c": {"z": {}, "y": []}}"#,
            "[]",
            "\"text\"",
            "-9223372036854775808",
            "0",
        ] {
            let expected: Value = serde_json::from_str(text).expect("JSON");
            assert_eq!(reads(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn what_the_two_parsers_may_read_differently_is_left_to_serde_json() {
        for text in [
            r#"{"a": 1, "b": 2, "a": 3}"#,
            "[1.5]",
            "-0",
            "1e400",
            "18446744073709551616",
            "{\"a\": }",
            "[1, 2",
            "",
            "\"\\ud800\"",
            "\"\u{1}\"",
            "\u{feff}{}",
            "{} {}",
            "{\"a\": tru}",
            "[01]",
            "[1,]",
            "{\"a\": 1,}",
            "'a'",
            "NaN",
        ] {
            assert_eq!(reads(text), None, "{text}");
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(reads(&deep), None);
    }

    #[test]
    fn repeated_keys_are_found_among_many() {
        let keys: Vec<String> = (0..200).map(|i| format!("\"key{i}\": {i}")).collect();
        let text = format!("{{{}}}", keys.join(","));
        assert!(reads(&text).is_some());
        let text = format!("{{{}, \"key137\": 0}}", keys.join(","));
        assert_eq!(reads(&text), None);
    }

    #[test]
    fn a_read_inside_a_read_has_buffers_of_its_own() {
        let inner = read(br#"{"outer": [1, 2]}"#, |outer| {
            let outer = outer.expect("read").to_value();
            let inner = reads(r#"{"inner": "x"}"#);
            (outer, inner)
        });
        assert_eq!(inner.0, serde_json::json!({ "outer": [1, 2] }));
        assert_eq!(inner.1, Some(serde_json::json!({ "inner": "x" })));
    }

    #[test]
    fn a_value_deserializes_where_it_lies() {
        #[derive(serde::Deserialize, PartialEq, Debug)]
        struct Item {
            name: String,
            size: u32,
        }
        let items = read(br#"{"items": [{"name": "a\"b", "size": 3}]}"#, |dom| {
            let items = dom.expect("read").get("items").expect("items");
            items.deserialize::<Vec<Item>>().expect("items")
        });
        assert_eq!(
            items,
            vec![Item {
                name: "a\"b".to_owned(),
                size: 3
            }]
        );
    }
}
