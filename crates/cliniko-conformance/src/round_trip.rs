//! The typed round trip: a body that passes its schema goes through the generated type and back.
//!
//! A difference means the generated types and the spec disagree. Properties the schema does not
//! name are left out of the comparison (the generated types drop them by design; `--strict`
//! reports them as `undocumented_field`). Two more differences are not counted, because they lose
//! nothing:
//!
//! - a property that is `null` on one side and absent on the other (the generated types leave out
//!   optional properties that are `None`, so `"archived_at": null` comes back absent);
//! - two date-time strings that name the same instant (`2016-06-28T21:33:26.000+00:00` comes back
//!   as `2016-06-28T21:33:26Z`), and two numbers of equal value (`50.0` and `50`).
//!
//! The typed value is not serialised into a new JSON tree: [`Compare`] is a serde `Serializer`
//! that walks the original body as the typed value serialises itself, so a body that comes back
//! unchanged costs no allocation beyond the typed value.

use serde::de::DeserializeOwned;
use serde::ser::{self, Serialize};
use serde_json::{Map, Value};

use cliniko_spec::dom::{Dom, DomObject};
use cliniko_types::resource::SchemaVisitor;

use crate::violation::Violation;

/// A schema of the spec that has a generated type: every one under `components/schemas`
/// (`cliniko_types::resource::SCHEMAS`, generated from the spec, so a schema added to the spec is
/// round-tripped with no change here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TypedSchema(&'static str);

impl TypedSchema {
    /// The generated type for a `$ref` such as `#/components/schemas/Attendee`.
    pub(crate) fn for_ref(reference: &str) -> Option<Self> {
        let name = reference.strip_prefix("#/components/schemas/")?;
        cliniko_types::resource::SCHEMAS
            .iter()
            .find(|known| **known == name)
            .map(|known| Self(known))
    }

    /// Every difference between `body` and `body` sent through the generated type.
    /// `schema` is the body's JSON Schema (as compiled), used to tell documented properties from
    /// the others.
    pub(crate) fn round_trip(self, body: &Value, schema: &Value) -> Vec<Violation> {
        struct Through<'a> {
            body: &'a Value,
            schema: &'a Value,
        }
        impl SchemaVisitor for Through<'_> {
            type Output = Vec<Violation>;
            fn visit<T: DeserializeOwned + Serialize + schemars::JsonSchema + 'static>(
                self,
                name: &'static str,
            ) -> Vec<Violation> {
                through::<T>(name, self.body, self.schema)
            }
        }
        cliniko_types::resource::visit_schema(self.0, Through { body, schema }).unwrap_or_default()
    }

    /// Whether `body`, read into a zero-copy DOM, comes back from the generated type unchanged
    /// (no violation from [`TypedSchema::round_trip`] on the same body). The typed value is read
    /// from the DOM (the body's text, tokenised once) and compared with it in place; `false` says
    /// only that [`TypedSchema::round_trip`] has something to report, which it then does from a
    /// `serde_json` value.
    pub(crate) fn comes_back_unchanged(self, body: Dom<'_>, schema: &Value) -> bool {
        struct Through<'a, 's> {
            body: Dom<'a>,
            schema: &'s Value,
        }
        impl SchemaVisitor for Through<'_, '_> {
            type Output = bool;
            fn visit<T: DeserializeOwned + Serialize + schemars::JsonSchema + 'static>(
                self,
                _: &'static str,
            ) -> bool {
                let Ok(typed) = self.body.deserialize::<T>() else {
                    return false;
                };
                let root = Place::Root(Some(self.schema));
                typed
                    .serialize(Same {
                        body: Some(self.body),
                        place: &root,
                    })
                    .is_ok()
            }
        }
        cliniko_types::resource::visit_schema(self.0, Through { body, schema }).unwrap_or(true)
    }
}

fn through<T: DeserializeOwned + Serialize>(
    type_name: &str,
    body: &Value,
    schema: &Value,
) -> Vec<Violation> {
    // The plain deserialiser first; the path-tracking one, slower, only to explain a refusal.
    let typed = match T::deserialize(body) {
        Ok(typed) => typed,
        Err(plain) => {
            let (pointer, message) = match serde_path_to_error::deserialize::<_, T>(body) {
                Err(error) => (
                    cliniko_spec::pointer::from_serde_path(error.path()),
                    error.into_inner().to_string(),
                ),
                Ok(_) => (String::new(), plain.to_string()),
            };
            return vec![Violation::RoundTripRefused {
                type_name: type_name.to_owned(),
                pointer,
                message,
            }];
        }
    };
    let mut differences = Vec::new();
    let root = Place::Root(Some(schema));
    let compare = Compare {
        body: Some(body),
        place: &root,
        out: &mut differences,
    };
    if let Err(error) = typed.serialize(compare) {
        return vec![Violation::RoundTripRefused {
            type_name: type_name.to_owned(),
            pointer: String::new(),
            message: format!("does not serialise again: {error}"),
        }];
    }
    differences
        .into_iter()
        .map(
            |(pointer, body, round_tripped)| Violation::RoundTripChanged {
                type_name: type_name.to_owned(),
                pointer,
                body,
                round_tripped,
            },
        )
        .collect()
}

/// A difference: where, the body's value and the round-tripped value (`None`: absent).
type Difference = (String, Option<Value>, Option<Value>);

/// Where a value sits in the body. Its JSON pointer and its schema are worked out only when a
/// difference needs them, so that comparing an unchanged body does no string or schema work.
#[derive(Clone, Copy)]
enum Place<'a, 'o> {
    /// The body itself, with its schema.
    Root(Option<&'a Value>),
    /// A property of the object at the parent place.
    Property(&'o Place<'a, 'o>, &'o str),
    /// An element of the array at the parent place.
    Item(&'o Place<'a, 'o>, usize),
}

impl<'a> Place<'a, '_> {
    fn pointer(&self) -> String {
        match self {
            Self::Root(_) => String::new(),
            Self::Property(parent, key) => {
                let mut pointer = parent.pointer();
                push_token(&mut pointer, key);
                pointer
            }
            Self::Item(parent, index) => format!("{}/{index}", parent.pointer()),
        }
    }

    fn schema(&self) -> Option<&'a Value> {
        match self {
            Self::Root(schema) => *schema,
            Self::Property(parent, key) => {
                let parent = parent.schema()?;
                find(parent, "properties")
                    .and_then(|properties| properties.get(*key))
                    .or_else(|| find(parent, "additionalProperties").filter(|a| a.is_object()))
            }
            Self::Item(parent, _) => find(parent.schema()?, "items"),
        }
    }
}

/// A serde `Serializer` that compares what it is given with `body`, recording each difference.
struct Compare<'a, 'o> {
    /// The value in the body at `place` (`None`: absent).
    body: Option<&'a Value>,
    place: &'o Place<'a, 'o>,
    out: &'o mut Vec<Difference>,
}

/// Why the comparison could not go on (only a failing `Serialize` implementation gives one).
#[derive(Debug)]
struct CompareError(String);

impl std::fmt::Display for CompareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CompareError {}

impl ser::Error for CompareError {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        Self(message.to_string())
    }
}

impl<'a, 'o> Compare<'a, 'o> {
    fn differs(self, round_tripped: Value) {
        self.out.push((
            self.place.pointer(),
            self.body.cloned(),
            Some(round_tripped),
        ));
    }

    fn scalar(self, round_tripped: Value) -> Result<(), CompareError> {
        let same = match (self.body, &round_tripped) {
            (Some(Value::String(a)), Value::String(b)) => a == b || same_instant(a, b),
            (Some(Value::Number(a)), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
            (None, Value::Null) => true,
            (Some(a), b) => a == b,
            (None, _) => false,
        };
        if !same {
            self.differs(round_tripped);
        }
        Ok(())
    }

    /// For shapes the generated types do not produce (tuples, enum variants): serialise the value
    /// and compare the trees.
    fn whole<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CompareError> {
        let round_tripped = serde_json::to_value(value).map_err(|e| CompareError(e.to_string()))?;
        if self.body != Some(&round_tripped) {
            self.differs(round_tripped);
        }
        Ok(())
    }
}

macro_rules! compare_scalars {
    ($($method:ident($type:ty);)*) => {$(
        fn $method(self, value: $type) -> Result<(), CompareError> {
            self.scalar(Value::from(value))
        }
    )*};
}

impl<'a, 'o> ser::Serializer for Compare<'a, 'o> {
    type Ok = ();
    type Error = CompareError;
    type SerializeSeq = CompareSeq<'a, 'o>;
    type SerializeTuple = CompareSeq<'a, 'o>;
    type SerializeTupleStruct = CompareSeq<'a, 'o>;
    type SerializeTupleVariant = ser::Impossible<(), CompareError>;
    type SerializeMap = CompareObject<'a, 'o>;
    type SerializeStruct = CompareObject<'a, 'o>;
    type SerializeStructVariant = ser::Impossible<(), CompareError>;

    compare_scalars! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
    }

    /// Strings are compared in place, without copying them into a `Value` unless they differ.
    fn serialize_str(self, value: &str) -> Result<(), CompareError> {
        if let Some(Value::String(expected)) = self.body
            && expected == value
        {
            return Ok(());
        }
        self.scalar(Value::from(value))
    }

    fn serialize_char(self, value: char) -> Result<(), CompareError> {
        self.scalar(Value::from(value.to_string()))
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<(), CompareError> {
        self.scalar(Value::from(value.to_vec()))
    }

    /// IDs and date-times serialise through `collect_str`; compare their text as it is written,
    /// without building a `String` unless it differs.
    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<(), CompareError> {
        if let Some(Value::String(expected)) = self.body {
            let mut matcher = PrefixMatch {
                rest: expected,
                matches: true,
            };
            let _ = std::fmt::Write::write_fmt(&mut matcher, format_args!("{value}"));
            if matcher.matches && matcher.rest.is_empty() {
                return Ok(());
            }
        }
        self.scalar(Value::String(value.to_string()))
    }

    fn serialize_none(self) -> Result<(), CompareError> {
        self.scalar(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), CompareError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), CompareError> {
        self.scalar(Value::Null)
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), CompareError> {
        self.scalar(Value::Null)
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), CompareError> {
        self.scalar(Value::from(variant))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), CompareError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), CompareError> {
        struct Variant<'v, T: ?Sized>(&'static str, u32, &'static str, &'v T);
        impl<T: Serialize + ?Sized> Serialize for Variant<'_, T> {
            fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_newtype_variant(self.0, self.1, self.2, self.3)
            }
        }
        self.whole(&Variant(name, index, variant, value))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<CompareSeq<'a, 'o>, CompareError> {
        Ok(CompareSeq::new(self))
    }

    fn serialize_tuple(self, _: usize) -> Result<CompareSeq<'a, 'o>, CompareError> {
        Ok(CompareSeq::new(self))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<CompareSeq<'a, 'o>, CompareError> {
        Ok(CompareSeq::new(self))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, CompareError> {
        Err(CompareError(format!(
            "the generated types have no tuple variants, found `{variant}`"
        )))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<CompareObject<'a, 'o>, CompareError> {
        Ok(CompareObject::new(self))
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<CompareObject<'a, 'o>, CompareError> {
        Ok(CompareObject::new(self))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, CompareError> {
        Err(CompareError(format!(
            "the generated types have no struct variants, found `{variant}`"
        )))
    }
}

/// Checks text written in pieces against an expected string, stopping at the first difference.
struct PrefixMatch<'e> {
    rest: &'e str,
    matches: bool,
}

impl std::fmt::Write for PrefixMatch<'_> {
    fn write_str(&mut self, piece: &str) -> std::fmt::Result {
        match self.rest.strip_prefix(piece) {
            Some(rest) if self.matches => {
                self.rest = rest;
                Ok(())
            }
            _ => {
                self.matches = false;
                Err(std::fmt::Error)
            }
        }
    }
}

/// Compares an array element by element; when the body holds no array there, the elements are
/// collected so that the difference can show them.
struct CompareSeq<'a, 'o> {
    parent: Compare<'a, 'o>,
    items: Option<&'a Vec<Value>>,
    index: usize,
    collected: Option<Vec<Value>>,
}

impl<'a, 'o> CompareSeq<'a, 'o> {
    fn new(parent: Compare<'a, 'o>) -> Self {
        let items = parent.body.and_then(Value::as_array);
        let collected = items.is_none().then(Vec::new);
        Self {
            parent,
            items,
            index: 0,
            collected,
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CompareError> {
        let index = self.index;
        self.index += 1;
        if let Some(collected) = &mut self.collected {
            collected.push(serde_json::to_value(value).map_err(|e| CompareError(e.to_string()))?);
            return Ok(());
        }
        let place = Place::Item(self.parent.place, index);
        let body = self.items.and_then(|items| items.get(index));
        value.serialize(Compare {
            body,
            place: &place,
            out: self.parent.out,
        })
    }

    fn finish(self) -> Result<(), CompareError> {
        match (self.collected, self.items) {
            (Some(collected), _) => self.parent.differs(Value::Array(collected)),
            (None, Some(items)) if items.len() > self.index => {
                for (index, item) in items.iter().enumerate().skip(self.index) {
                    let pointer = Place::Item(self.parent.place, index).pointer();
                    self.parent.out.push((pointer, Some(item.clone()), None));
                }
            }
            (None, _) => {}
        }
        Ok(())
    }
}

impl ser::SerializeSeq for CompareSeq<'_, '_> {
    type Ok = ();
    type Error = CompareError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CompareError> {
        self.element(value)
    }

    fn end(self) -> Result<(), CompareError> {
        self.finish()
    }
}

impl ser::SerializeTuple for CompareSeq<'_, '_> {
    type Ok = ();
    type Error = CompareError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CompareError> {
        self.element(value)
    }

    fn end(self) -> Result<(), CompareError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for CompareSeq<'_, '_> {
    type Ok = ();
    type Error = CompareError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CompareError> {
        self.element(value)
    }

    fn end(self) -> Result<(), CompareError> {
        self.finish()
    }
}

/// Compares an object property by property. Properties of the body that the typed value does not
/// write are differences unless they are `null` or not named by the schema.
struct CompareObject<'a, 'o> {
    parent: Compare<'a, 'o>,
    object: Option<&'a Map<String, Value>>,
    /// How many of the body's properties the typed value wrote or skipped.
    handled: usize,
    /// The body's properties with their positions, in the map's order, after the last one found:
    /// the generated types write their fields in that same (alphabetical) order, so the next one
    /// is nearly always the one asked for, and finding it costs one comparison, not a lookup.
    upcoming: Option<std::iter::Peekable<std::iter::Enumerate<serde_json::map::Iter<'a>>>>,
    /// One bit per position (below 64) of a property found in step.
    in_step: u64,
    /// The properties found otherwise: out of step, or at position 64 and later.
    out_of_step: Vec<&'a str>,
    /// The key of a map entry whose value comes next.
    key: Option<String>,
    collected: Option<Map<String, Value>>,
}

impl<'a, 'o> CompareObject<'a, 'o> {
    fn new(parent: Compare<'a, 'o>) -> Self {
        let object = parent.body.and_then(Value::as_object);
        let collected = object.is_none().then(Map::new);
        Self {
            parent,
            object,
            handled: 0,
            upcoming: object.map(|object| object.iter().enumerate().peekable()),
            in_step: 0,
            out_of_step: Vec::new(),
            key: None,
            collected,
        }
    }

    fn property<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), CompareError> {
        if let Some(collected) = &mut self.collected {
            collected.insert(
                key.to_owned(),
                serde_json::to_value(value).map_err(|e| CompareError(e.to_string()))?,
            );
            return Ok(());
        }
        let entry = self.handle(key);
        let place = Place::Property(self.parent.place, key);
        value.serialize(Compare {
            body: entry.map(|(_, value)| value),
            place: &place,
            out: self.parent.out,
        })
    }

    /// A property the typed value leaves out (`skip_serializing_if`): only a non-null value in
    /// the body is a difference.
    fn skipped(&mut self, key: &str) {
        let Some((key, value)) = self.handle(key) else {
            return;
        };
        if !value.is_null() {
            let pointer = Place::Property(self.parent.place, key).pointer();
            self.parent.out.push((pointer, Some(value.clone()), None));
        }
    }

    /// The body's property `key`, if it has one, noted as handled.
    fn handle(&mut self, key: &str) -> Option<(&'a String, &'a Value)> {
        let (object, upcoming) = (self.object?, self.upcoming.as_mut()?);
        if let Some(&(position, (next, value))) = upcoming.peek()
            && next == key
        {
            upcoming.next();
            self.handled += 1;
            match position_bit(position) {
                Some(bit) => self.in_step |= bit,
                None => self.out_of_step.push(next),
            }
            return Some((next, value));
        }
        // Out of step (a property the typed value does not know, or one it left out): look it up,
        // and move on past it so that the properties after it are found in step again.
        let entry = object.get_key_value(key);
        while upcoming
            .next_if(|(_, (next, _))| next.as_str() <= key)
            .is_some()
        {}
        if let Some((key, _)) = entry {
            self.handled += 1;
            self.out_of_step.push(key);
        }
        entry
    }

    /// Whether the body's property at `position`, named `key`, was handled.
    fn was_handled(&self, position: usize, key: &str) -> bool {
        let in_step = position_bit(position).is_some_and(|bit| self.in_step & bit != 0);
        in_step || self.out_of_step.contains(&key)
    }

    fn finish(self) -> Result<(), CompareError> {
        let Some(object) = self.object else {
            if let Some(collected) = self.collected {
                self.parent.differs(Value::Object(collected));
            }
            return Ok(());
        };
        if self.handled == object.len() {
            return Ok(());
        }
        // The body has properties the typed value knows nothing about: a difference when the
        // schema names them (or there is no schema to ask).
        let schema = self.parent.place.schema();
        let properties = schema
            .and_then(|schema| find(schema, "properties"))
            .and_then(Value::as_object);
        let additional = schema
            .and_then(|schema| find(schema, "additionalProperties"))
            .is_some_and(Value::is_object);
        for (position, (key, value)) in object.iter().enumerate() {
            let documented = properties.is_none_or(|p| p.contains_key(key)) || additional;
            if value.is_null() || !documented || self.was_handled(position, key) {
                continue;
            }
            let pointer = Place::Property(self.parent.place, key).pointer();
            self.parent.out.push((pointer, Some(value.clone()), None));
        }
        Ok(())
    }
}

impl ser::SerializeStruct for CompareObject<'_, '_> {
    type Ok = ();
    type Error = CompareError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), CompareError> {
        self.property(key, value)
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), CompareError> {
        self.skipped(key);
        Ok(())
    }

    fn end(self) -> Result<(), CompareError> {
        self.finish()
    }
}

impl ser::SerializeMap for CompareObject<'_, '_> {
    type Ok = ();
    type Error = CompareError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), CompareError> {
        match serde_json::to_value(key).map_err(|e| CompareError(e.to_string()))? {
            Value::String(key) => self.key = Some(key),
            other => self.key = Some(other.to_string()),
        }
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), CompareError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| CompareError("a map value came without its key".to_owned()))?;
        self.property(&key, value)
    }

    fn end(self) -> Result<(), CompareError> {
        self.finish()
    }
}

/// The bit of `CompareObject::in_step` for a property's position, if it has one.
fn position_bit(position: usize) -> Option<u64> {
    u32::try_from(position)
        .ok()
        .and_then(|position| 1_u64.checked_shl(position))
}

/// A keyword of a schema, looked for in the schema itself and then in its `anyOf`, `oneOf` and
/// `allOf` branches (where `nullable` and single-`$ref` wrappers put it).
fn find<'s>(schema: &'s Value, keyword: &str) -> Option<&'s Value> {
    if let Some(found) = schema.get(keyword) {
        return Some(found);
    }
    ["anyOf", "oneOf", "allOf"]
        .iter()
        .filter_map(|combinator| schema.get(*combinator).and_then(Value::as_array))
        .flatten()
        .find_map(|branch| find(branch, keyword))
}

fn same_instant(a: &str, b: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    if token.contains(['~', '/']) {
        pointer.push_str(&cliniko_spec::pointer::escape(token));
    } else {
        pointer.push_str(token);
    }
}

/// A serde `Serializer` that checks what it is given against a body read into a [`Dom`], stopping
/// at the first difference: the same rules as [`Compare`], without recording anything.
struct Same<'a, 'o> {
    /// The value in the body at `place` (`None`: absent).
    body: Option<Dom<'a>>,
    place: &'o Place<'a, 'o>,
}

/// The typed value and the body differ (or the typed value cannot be compared).
#[derive(Debug)]
struct Differs;

impl std::fmt::Display for Differs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("differs")
    }
}

impl std::error::Error for Differs {}

impl ser::Error for Differs {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Self
    }
}

impl<'a> Same<'a, '_> {
    /// [`Compare::scalar`]'s rule.
    fn scalar(self, round_tripped: Value) -> Result<(), Differs> {
        let same = match (self.body, &round_tripped) {
            (None, Value::Null) => true,
            (None, _) => false,
            (Some(body), Value::String(b)) => {
                body.as_str().is_some_and(|a| a == b || same_instant(a, b))
            }
            (Some(body), Value::Number(b)) => body.as_number().is_some_and(|a| {
                let a = body_number(a);
                a == *b || a.as_f64() == b.as_f64()
            }),
            (Some(body), Value::Null) => body.is_null(),
            (Some(body), Value::Bool(b)) => body.as_bool() == Some(*b),
            (Some(body), other) => body.to_value() == *other,
        };
        if same { Ok(()) } else { Err(Differs) }
    }

    fn whole<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Differs> {
        let round_tripped = serde_json::to_value(value).map_err(|_| Differs)?;
        if self.body.map(|body| body.to_value()) == Some(round_tripped) {
            Ok(())
        } else {
            Err(Differs)
        }
    }
}

fn body_number(number: cliniko_spec::dom::DomNumber) -> serde_json::Number {
    number.number()
}

macro_rules! same_scalars {
    ($($method:ident($type:ty);)*) => {$(
        fn $method(self, value: $type) -> Result<(), Differs> {
            self.scalar(Value::from(value))
        }
    )*};
}

impl<'a, 'o> ser::Serializer for Same<'a, 'o> {
    type Ok = ();
    type Error = Differs;
    type SerializeSeq = SameSeq<'a, 'o>;
    type SerializeTuple = SameSeq<'a, 'o>;
    type SerializeTupleStruct = SameSeq<'a, 'o>;
    type SerializeTupleVariant = ser::Impossible<(), Differs>;
    type SerializeMap = SameObject<'a, 'o>;
    type SerializeStruct = SameObject<'a, 'o>;
    type SerializeStructVariant = ser::Impossible<(), Differs>;

    same_scalars! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
    }

    fn serialize_str(self, value: &str) -> Result<(), Differs> {
        if self.body.and_then(|body| body.as_str()) == Some(value) {
            return Ok(());
        }
        self.scalar(Value::from(value))
    }

    fn serialize_char(self, value: char) -> Result<(), Differs> {
        self.scalar(Value::from(value.to_string()))
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<(), Differs> {
        self.scalar(Value::from(value.to_vec()))
    }

    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<(), Differs> {
        if let Some(expected) = self.body.and_then(|body| body.as_str()) {
            let mut matcher = PrefixMatch {
                rest: expected,
                matches: true,
            };
            let _ = std::fmt::Write::write_fmt(&mut matcher, format_args!("{value}"));
            if matcher.matches && matcher.rest.is_empty() {
                return Ok(());
            }
        }
        self.scalar(Value::String(value.to_string()))
    }

    fn serialize_none(self) -> Result<(), Differs> {
        self.scalar(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Differs> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Differs> {
        self.scalar(Value::Null)
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Differs> {
        self.scalar(Value::Null)
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Differs> {
        self.scalar(Value::from(variant))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Differs> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Differs> {
        struct Variant<'v, T: ?Sized>(&'static str, u32, &'static str, &'v T);
        impl<T: Serialize + ?Sized> Serialize for Variant<'_, T> {
            fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_newtype_variant(self.0, self.1, self.2, self.3)
            }
        }
        self.whole(&Variant(name, index, variant, value))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<SameSeq<'a, 'o>, Differs> {
        SameSeq::new(self)
    }

    fn serialize_tuple(self, _: usize) -> Result<SameSeq<'a, 'o>, Differs> {
        SameSeq::new(self)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<SameSeq<'a, 'o>, Differs> {
        SameSeq::new(self)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Differs> {
        Err(Differs)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<SameObject<'a, 'o>, Differs> {
        SameObject::new(self)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<SameObject<'a, 'o>, Differs> {
        SameObject::new(self)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Differs> {
        Err(Differs)
    }
}

/// An array checked element by element; the body must hold an array of the same length.
struct SameSeq<'a, 'o> {
    place: &'o Place<'a, 'o>,
    items: cliniko_spec::dom::DomItems<'a>,
    index: usize,
}

impl<'a, 'o> SameSeq<'a, 'o> {
    fn new(parent: Same<'a, 'o>) -> Result<Self, Differs> {
        let array = parent
            .body
            .and_then(|body| body.as_array())
            .ok_or(Differs)?;
        Ok(Self {
            place: parent.place,
            items: array.iter(),
            index: 0,
        })
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Differs> {
        let place = Place::Item(self.place, self.index);
        self.index += 1;
        value.serialize(Same {
            body: Some(self.items.next().ok_or(Differs)?),
            place: &place,
        })
    }

    fn finish(mut self) -> Result<(), Differs> {
        if self.items.next().is_some() {
            Err(Differs)
        } else {
            Ok(())
        }
    }
}

impl ser::SerializeSeq for SameSeq<'_, '_> {
    type Ok = ();
    type Error = Differs;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Differs> {
        self.element(value)
    }

    fn end(self) -> Result<(), Differs> {
        self.finish()
    }
}

impl ser::SerializeTuple for SameSeq<'_, '_> {
    type Ok = ();
    type Error = Differs;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Differs> {
        self.element(value)
    }

    fn end(self) -> Result<(), Differs> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for SameSeq<'_, '_> {
    type Ok = ();
    type Error = Differs;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Differs> {
        self.element(value)
    }

    fn end(self) -> Result<(), Differs> {
        self.finish()
    }
}

/// An object checked property by property, as [`CompareObject`] does: the typed value writes its
/// fields in the body's order in the common case, so the next one is found in one comparison.
struct SameObject<'a, 'o> {
    place: &'o Place<'a, 'o>,
    object: DomObject<'a>,
    /// The body's members after the last one found in step, with their positions.
    upcoming: std::iter::Peekable<std::iter::Enumerate<cliniko_spec::dom::DomMembers<'a>>>,
    /// One bit per position (below 128) of a member handled, and the later positions handled.
    handled_bits: u128,
    handled_later: Vec<usize>,
    handled: usize,
    key: Option<String>,
}

impl<'a, 'o> SameObject<'a, 'o> {
    fn new(parent: Same<'a, 'o>) -> Result<Self, Differs> {
        let object = parent
            .body
            .and_then(|body| body.as_object())
            .ok_or(Differs)?;
        Ok(Self {
            place: parent.place,
            object,
            upcoming: object.iter().enumerate().peekable(),
            handled_bits: 0,
            handled_later: Vec::new(),
            handled: 0,
            key: None,
        })
    }

    /// The body's member `key`, noted as handled.
    fn handle(&mut self, key: &str) -> Option<Dom<'a>> {
        let found = match self.upcoming.peek() {
            Some((_, (next, _))) if *next == key => self.upcoming.next(),
            _ => self
                .object
                .iter()
                .enumerate()
                .find(|(_, (name, _))| *name == key),
        };
        let (position, (_, value)) = found?;
        match u32::try_from(position)
            .ok()
            .and_then(|p| 1_u128.checked_shl(p))
        {
            Some(bit) => self.handled_bits |= bit,
            None => self.handled_later.push(position),
        }
        self.handled += 1;
        Some(value)
    }

    fn was_handled(&self, position: usize) -> bool {
        match u32::try_from(position)
            .ok()
            .and_then(|p| 1_u128.checked_shl(p))
        {
            Some(bit) => self.handled_bits & bit != 0,
            None => self.handled_later.contains(&position),
        }
    }

    fn property<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Differs> {
        let body = self.handle(key);
        let place = Place::Property(self.place, key);
        value.serialize(Same {
            body,
            place: &place,
        })
    }

    fn finish(self) -> Result<(), Differs> {
        if self.handled == self.object.len() {
            return Ok(());
        }
        // As [`CompareObject::finish`]: a member the typed value did not write is a difference
        // unless it is null or the schema does not name it.
        let schema = self.place.schema();
        let properties = schema
            .and_then(|schema| find(schema, "properties"))
            .and_then(Value::as_object);
        let additional = schema
            .and_then(|schema| find(schema, "additionalProperties"))
            .is_some_and(Value::is_object);
        for (position, (key, value)) in self.object.iter().enumerate() {
            let documented = properties.is_none_or(|p| p.contains_key(key)) || additional;
            if value.is_null() || !documented || self.was_handled(position) {
                continue;
            }
            return Err(Differs);
        }
        Ok(())
    }
}

impl ser::SerializeStruct for SameObject<'_, '_> {
    type Ok = ();
    type Error = Differs;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Differs> {
        self.property(key, value)
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), Differs> {
        match self.handle(key) {
            Some(value) if !value.is_null() => Err(Differs),
            _ => Ok(()),
        }
    }

    fn end(self) -> Result<(), Differs> {
        self.finish()
    }
}

impl ser::SerializeMap for SameObject<'_, '_> {
    type Ok = ();
    type Error = Differs;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Differs> {
        match serde_json::to_value(key).map_err(|_| Differs)? {
            Value::String(key) => self.key = Some(key),
            other => self.key = Some(other.to_string()),
        }
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Differs> {
        let key = self.key.take().ok_or(Differs)?;
        self.property(&key, value)
    }

    fn end(self) -> Result<(), Differs> {
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn compare<T: Serialize>(body: &Value, typed: &T, schema: Option<&Value>) -> Vec<Difference> {
        let mut out = Vec::new();
        let root = Place::Root(schema);
        typed
            .serialize(Compare {
                body: Some(body),
                place: &root,
                out: &mut out,
            })
            .expect("compares");
        out
    }

    #[derive(serde::Serialize)]
    struct Sample {
        #[serde(skip_serializing_if = "Option::is_none")]
        a: Option<i32>,
        t: String,
        n: i64,
        list: Vec<i64>,
        #[serde(rename = "a/b")]
        slash: BTreeMap<String, String>,
    }

    #[test]
    fn null_and_absent_equal_instants_and_undocumented_properties_are_not_differences() {
        let body = json!({ "a": null, "t": "2016-06-28T21:33:26.000+00:00", "n": 50.0, "list": [1], "a/b": {}, "extra": 1 });
        let typed = Sample {
            a: None,
            t: "2016-06-28T21:33:26Z".to_owned(),
            n: 50,
            list: vec![1],
            slash: BTreeMap::new(),
        };
        let schema = json!({ "anyOf": [{ "type": "null" }, { "properties": { "a": {}, "t": {}, "n": {}, "list": {}, "a/b": {} } }] });
        assert_eq!(compare(&body, &typed, Some(&schema)), vec![]);
    }

    #[test]
    fn differences_carry_their_pointer() {
        let body = json!({ "a": 3, "t": "x", "n": 1, "list": [1, 2, 3], "a/b": { "k": "v" }, "gone": true });
        let typed = Sample {
            a: None,
            t: "y".to_owned(),
            n: 1,
            list: vec![1, 5],
            slash: BTreeMap::from([("k".to_owned(), "w".to_owned())]),
        };
        assert_eq!(
            compare(&body, &typed, None),
            vec![
                ("/a".to_owned(), Some(json!(3)), None),
                ("/t".to_owned(), Some(json!("x")), Some(json!("y"))),
                ("/list/1".to_owned(), Some(json!(2)), Some(json!(5))),
                ("/list/2".to_owned(), Some(json!(3)), None),
                ("/a~1b/k".to_owned(), Some(json!("v")), Some(json!("w"))),
                ("/gone".to_owned(), Some(json!(true)), None),
            ]
        );
    }

    #[test]
    fn properties_past_the_sixty_fourth_and_out_of_step_are_still_compared() {
        let typed: BTreeMap<String, i64> = (0..70).map(|i| (format!("k{i:02}"), i)).collect();
        let mut body = serde_json::to_value(&typed).expect("a map");
        body["k05"] = json!(-1);
        body["k68"] = json!(-1);
        body["k30x"] = json!(1);
        body["k69x"] = json!(2);
        let schema = json!({ "properties": { "k30x": {} } });
        assert_eq!(
            compare(&body, &typed, Some(&schema)),
            vec![
                ("/k05".to_owned(), Some(json!(-1)), Some(json!(5))),
                ("/k68".to_owned(), Some(json!(-1)), Some(json!(68))),
                ("/k30x".to_owned(), Some(json!(1)), None),
            ]
        );
    }

    #[test]
    fn a_shape_change_shows_the_whole_round_tripped_value() {
        let typed = Sample {
            a: Some(1),
            t: String::new(),
            n: 0,
            list: vec![7],
            slash: BTreeMap::new(),
        };
        let differences = compare(
            &json!({ "a": 1, "t": "", "n": 0, "list": "seven", "a/b": {} }),
            &typed,
            None,
        );
        assert_eq!(
            differences,
            vec![("/list".to_owned(), Some(json!("seven")), Some(json!([7])))]
        );
    }
}
