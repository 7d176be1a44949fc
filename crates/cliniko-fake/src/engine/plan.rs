//! An item schema compiled once into a plan: what each property's values are made of (a code
//! list, a link into another resource, a time, text, a nested object), resolved from the spec's
//! `$ref`s, `oneOf`s and formats at start-up rather than on every record.
//!
//! A seeded record is a [`Row`], made from the plan, its seed and its ID when it is read (so a
//! million seeded records cost their IDs and index columns, not their JSON), and written as JSON
//! straight into a byte buffer. The same seed and ID give the same row, so the index columns read
//! off a row at start-up are the values its JSON says.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use cliniko_spec::nullable_one_of_branch;
use cliniko_spec::pointer::follow;
use serde_json::{Map, Value};

use crate::rng::SplitMix64;

/// The API root written into stored links; swapped for the request's own root when answering.
pub(crate) const BASE: &str = "https://base.cliniko-fake.invalid/v1";

/// The share of seeded records with a state field (`cancelled_at`, `archived_at`, `deleted_at`)
/// set, per field, among those whose generated value was not null.
const STATE_SHARE: f64 = 0.15;

/// 2020-01-01T00:00:00Z: seeded records are created from here on.
const FIRST_CREATED_AT: i64 = 1_577_836_800;

/// The state fields, in the order a record enters them.
pub(crate) const STATES: [&str; 3] = ["cancelled_at", "archived_at", "deleted_at"];

/// Free text for strings without a format: accents, CJK, emoji and quotes, so that encoders and
/// decoders are exercised.
const TEXT: [&str; 8] = [
    "Prefers the afternoon",
    "Zoë O'Brien-Łukasiewicz",
    "café \"au lait\" ✓",
    "東京 クリニック",
    "Ελληνικά κείμενα",
    "🦘 hop, skip & jump",
    "line one\nline two",
    "Ünïcödé — naïve",
];

/// When a seeded record at this position among the seeded ones was created: creation grows with
/// position, so ID order is creation order (the default sort needs no sorting).
pub(crate) fn created_at_of(index: usize) -> i64 {
    FIRST_CREATED_AT + index as i64 * 61
}

/// The IDs a link property picks from: the plural in its URL and the records that exist there.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) plural: String,
    pub(crate) ids: Arc<[i64]>,
}

/// What the plan needs from the engine: where a link property points.
pub(crate) trait Targets {
    /// The resource a property (`patient`, `booking`) links to, if the fake knows it.
    fn target(&self, property: &str) -> Option<Target>;
}

/// How a value is made.
enum Node {
    Null,
    /// The spec's nullable `oneOf` (or `anyOf`): null in 3 of 10, else the branch.
    NullableBranch(Box<Node>),
    OneOf(Vec<Node>),
    /// A code list, each code an index into the plan's code texts; `nullable` draws null in 1 of 5.
    Codes {
        codes: Vec<usize>,
        nullable: bool,
    },
    /// `nullable: true` on anything but a code list: null in 3 of 10.
    Nullable(Box<Node>),
    /// A link to a record of another resource (`{"links":{"self":…}}`).
    Link(LinkTarget),
    Object(Vec<Property>),
    Array {
        items: Box<Node>,
        least: u64,
        most: u64,
    },
    Integer {
        low: i64,
        high: i64,
        example: Option<i64>,
    },
    Number {
        low: f64,
        high: f64,
    },
    Bool,
    Text(Box<TextNode>),
}

enum LinkTarget {
    Known(Target),
    /// A link to a list of the record's own (`invoices`): `/{plural}/{id}/invoices`.
    Own(String),
    /// A link the fake knows no records of (a list such as `invoices`, or another API's
    /// resource): a made-up ID under this plural.
    Unknown(String),
}

struct Property {
    /// `"name":`, as JSON.
    key: String,
    node: Node,
    required: bool,
}

struct TextNode {
    format: TextFormat,
    /// The schema's example, fitted to its pattern and lengths.
    example: Option<String>,
    /// [`TEXT`], each fitted.
    texts: Vec<String>,
    /// The name for URLs (`cancellation-url`).
    host: String,
    fit: Fit,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TextFormat {
    DateTime,
    Date,
    Email,
    Uri,
    Ipv4,
    Int64,
    Free,
}

/// How text is made to fit a schema: its pattern (falling back to the example) and lengths.
#[derive(Default)]
struct Fit {
    pattern: Option<regress::Regex>,
    example: Option<String>,
    max: Option<usize>,
    min: Option<usize>,
}

impl Fit {
    fn apply<'t>(&self, text: Cow<'t, str>) -> Cow<'t, str> {
        let mut text = text;
        if let (Some(pattern), Some(example)) = (&self.pattern, &self.example)
            && pattern.find(&text).is_none()
        {
            text = Cow::Owned(example.clone());
        }
        if let Some(most) = self.max
            && text.chars().count() > most
        {
            text = Cow::Owned(text.chars().take(most).collect());
        }
        if let Some(least) = self.min {
            let count = text.chars().count();
            if count < least {
                let mut owned = text.into_owned();
                owned.extend(std::iter::repeat_n('x', least - count));
                text = Cow::Owned(owned);
            }
        }
        text
    }

    fn is_identity(&self) -> bool {
        self.pattern.is_none() && self.max.is_none() && self.min.is_none()
    }
}

/// What a top-level property is to a record's identity.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Identity {
    Plain,
    Id,
    /// `links`, with its `self`.
    SelfLinks,
    CreatedAt,
    UpdatedAt,
    /// One of [`STATES`], by position.
    State(usize),
}

/// One top-level property of the item.
pub(crate) struct Field {
    pub(crate) name: String,
    /// `"name":`, after a comma unless it is the first field.
    key: String,
    node: Node,
    pub(crate) identity: Identity,
    /// Where a link's URL goes after the API root: `/patients/` (then the ID), or for the
    /// record's own list the plural's part (then the record's ID and `link_suffix`).
    link_prefix: String,
    link_suffix: String,
}

/// An item schema, compiled.
pub(crate) struct Plan {
    pub(crate) plural: String,
    pub(crate) fields: Vec<Field>,
    by_name: HashMap<String, usize>,
    /// Every code of every code list, as JSON text.
    codes: Vec<String>,
    identities: Identities,
}

/// One value of a top-level property, borrowing text from the plan (or a resource's rules).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Slot<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// UNIX seconds, written as a UTC date-time.
    Time(i64),
    /// An ID, written as a string of digits.
    Id(i64),
    /// Text (JSON-escaped when written).
    Text(Cow<'a, str>),
    /// JSON text from the plan (a code), written as it is.
    Json(usize),
    /// A link to this ID of the property's target.
    Link(i64),
    /// The record's `links` (its `self`).
    SelfLinks,
    /// A nested value, as JSON text whose links are under [`BASE`].
    Nested(String),
    /// A made-up URL, `https://{host}.cliniko-fake.invalid/{n}`, written when the record is.
    Url(&'a str, u32),
    /// `198.51.100.{n}`.
    Ipv4(u8),
    /// `someone{n}@example.com`.
    Email(u16),
}

impl Slot<'_> {
    /// The text a string slot writes (without quotes); `None` for other slots.
    pub(crate) fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Slot::Text(text) => Some(Cow::Borrowed(text)),
            Slot::Url(host, n) => Some(Cow::Owned(format!(
                "https://{host}.cliniko-fake.invalid/{n}"
            ))),
            Slot::Ipv4(n) => Some(Cow::Owned(format!("198.51.100.{n}"))),
            Slot::Email(n) => Some(Cow::Owned(format!("someone{n}@example.com"))),
            _ => None,
        }
    }
}

/// A record as the plan made it: one slot per top-level property, in the plan's order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Row<'a> {
    pub(crate) id: i64,
    pub(crate) slots: Vec<Slot<'a>>,
}

/// Where the identity fields are among the plan's fields.
#[derive(Clone, Copy, Debug, Default)]
struct Identities {
    id: Option<usize>,
    links: Option<usize>,
    created: Option<usize>,
    updated: Option<usize>,
    states: [Option<usize>; 3],
}

/// Compiles schemas into nodes, collecting the code texts.
struct Compiler<'a> {
    document: &'a Value,
    targets: &'a dyn Targets,
    codes: Vec<String>,
    /// How many objects and arrays deep the node being compiled is (0 for the item's own
    /// properties).
    nesting: usize,
}

impl Plan {
    /// Compiles the item schema `schema` (a `$ref` object) of the resource with this plural.
    pub(crate) fn compile(
        document: &Value,
        schema: &Value,
        plural: &str,
        targets: &dyn Targets,
    ) -> Self {
        let mut compiler = Compiler {
            document,
            targets,
            codes: Vec::new(),
            nesting: 0,
        };
        let root = follow(document, schema);
        let mut fields = Vec::new();
        if let Some(Value::Object(properties)) = root.get("properties") {
            for (name, schema) in properties {
                let identity = match name.as_str() {
                    "id" => Identity::Id,
                    "created_at" => Identity::CreatedAt,
                    "updated_at" => Identity::UpdatedAt,
                    "links"
                        if follow(document, schema)
                            .pointer("/properties/self")
                            .is_some() =>
                    {
                        Identity::SelfLinks
                    }
                    other => match STATES.iter().position(|s| *s == other) {
                        Some(k) => Identity::State(k),
                        None => Identity::Plain,
                    },
                };
                let node = compiler.node(schema, name, 0);
                let (link_prefix, link_suffix) = match link_of(&node) {
                    Some(LinkTarget::Own(list)) => (format!("/{plural}/"), format!("/{list}")),
                    Some(LinkTarget::Known(target)) => {
                        (format!("/{}/", target.plural), String::new())
                    }
                    Some(LinkTarget::Unknown(other)) => (format!("/{other}/"), String::new()),
                    None => (String::new(), String::new()),
                };
                fields.push(Field {
                    key: format!(
                        "{}{}:",
                        if fields.is_empty() { "" } else { "," },
                        json_string(name)
                    ),
                    name: name.clone(),
                    node,
                    identity,
                    link_prefix,
                    link_suffix,
                });
            }
        }
        let by_name = fields
            .iter()
            .enumerate()
            .map(|(k, f)| (f.name.clone(), k))
            .collect();
        let at = |identity: Identity| fields.iter().position(|f| f.identity == identity);
        let identities = Identities {
            id: at(Identity::Id),
            links: at(Identity::SelfLinks),
            created: at(Identity::CreatedAt),
            updated: at(Identity::UpdatedAt),
            states: [
                at(Identity::State(0)),
                at(Identity::State(1)),
                at(Identity::State(2)),
            ],
        };
        Self {
            plural: plural.to_owned(),
            fields,
            by_name,
            codes: compiler.codes,
            identities,
        }
    }

    /// The position of a top-level property.
    pub(crate) fn field(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The record with this ID at this position among the seeded records, from `seed`, made
    /// into `row` (whose slots are reused).
    pub(crate) fn seeded_into<'a>(&'a self, row: &mut Row<'a>, seed: u64, id: i64, index: usize) {
        let mut rng = SplitMix64::new(seed ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self.generate_into(row, id, &mut rng);
        self.fix_identity(row, created_at_of(index));
    }

    /// A random record with this ID, before its identity is set.
    pub(crate) fn generate(&self, id: i64, rng: &mut SplitMix64) -> Row<'_> {
        let mut row = Row::default();
        self.generate_into(&mut row, id, rng);
        row
    }

    fn generate_into<'a>(&'a self, row: &mut Row<'a>, id: i64, rng: &mut SplitMix64) {
        row.id = id;
        row.slots.clear();
        // The identity fields are set by `fix_identity` whatever a draw would say.
        row.slots
            .extend(self.fields.iter().map(|field| match field.identity {
                Identity::Plain => self.slot(&field.node, rng),
                _ => Slot::Null,
            }));
    }

    /// Sets what every record's identity fields must say whatever was generated: its ID, its self
    /// link, and times in order (`created_at` ≤ `updated_at` ≤ any state change). The times are
    /// drawn from the ID alone, apart from the other values.
    fn fix_identity(&self, row: &mut Row<'_>, created_at: i64) {
        let id = row.id;
        let ids = self.identities;
        if let Some(k) = ids.id {
            row.slots[k] = Slot::Id(id);
        }
        if let Some(k) = ids.links {
            row.slots[k] = Slot::SelfLinks;
        }
        if let Some(k) = ids.created {
            row.slots[k] = Slot::Time(created_at);
        }
        let mut times = SplitMix64::new((id as u64) ^ 0x57A7_E5EE_D000_0001);
        let mut at = created_at;
        if ids.updated.is_some() && times.chance(0.5) {
            at += times.below(3 * 86_400) as i64;
        }
        // A record in a state (cancelled, archived, deleted) is the exception, as in a real
        // account: each state field the item has is set in `STATE_SHARE` of the records, so that
        // the plain lists are not mostly empty.
        for k in ids.states.into_iter().flatten() {
            if times.chance(STATE_SHARE) {
                at += 1;
                row.slots[k] = Slot::Time(at);
            } else {
                row.slots[k] = Slot::Null;
            }
        }
        if let Some(k) = ids.updated {
            row.slots[k] = Slot::Time(at);
        }
    }

    fn slot<'a>(&'a self, node: &'a Node, rng: &mut SplitMix64) -> Slot<'a> {
        match node {
            Node::Null => Slot::Null,
            Node::NullableBranch(branch) => {
                if rng.chance(0.3) {
                    Slot::Null
                } else {
                    self.slot(branch, rng)
                }
            }
            Node::OneOf(branches) => {
                let branch = &branches[rng.below(branches.len() as u64) as usize];
                self.slot(branch, rng)
            }
            Node::Codes { codes, nullable } => {
                if codes.is_empty() || (*nullable && rng.chance(0.2)) {
                    return Slot::Null;
                }
                Slot::Json(codes[rng.below(codes.len() as u64) as usize])
            }
            Node::Nullable(inner) => {
                if rng.chance(0.3) {
                    Slot::Null
                } else {
                    self.slot(inner, rng)
                }
            }
            Node::Link(target) => Slot::Link(pick(target, rng)),
            Node::Integer { low, high, example } => Slot::Int(integer(*low, *high, *example, rng)),
            Node::Number { low, high } => {
                Slot::Float(low + (high - low) * (rng.below(1000) as f64 / 1000.0))
            }
            Node::Bool => Slot::Bool(rng.chance(0.5)),
            Node::Text(text) => text_slot(text, rng),
            Node::Object(_) | Node::Array { .. } => {
                let mut out = String::new();
                write_nested(&mut out, &self.codes, node, rng);
                Slot::Nested(out)
            }
        }
    }

    /// Writes a row's JSON, with links under `base`.
    pub(crate) fn write_row(&self, out: &mut Vec<u8>, row: &Row<'_>, base: &str) {
        out.push(b'{');
        for (field, slot) in self.fields.iter().zip(&row.slots) {
            out.extend_from_slice(field.key.as_bytes());
            match slot {
                Slot::Null => out.extend_from_slice(b"null"),
                Slot::Bool(flag) => out.extend_from_slice(if *flag { b"true" } else { b"false" }),
                Slot::Int(value) => write_int(out, *value),
                Slot::Float(value) => {
                    let _ = serde_json::to_writer(&mut *out, value);
                }
                Slot::Time(secs) => write_time(out, *secs),
                Slot::Id(id) => {
                    out.push(b'"');
                    write_int(out, *id);
                    out.push(b'"');
                }
                Slot::Text(text) => write_str(out, text),
                Slot::Json(code) => out.extend_from_slice(
                    self.codes
                        .get(*code)
                        .map_or("null", String::as_str)
                        .as_bytes(),
                ),
                Slot::Link(id) => {
                    out.extend_from_slice(b"{\"links\":{\"self\":\"");
                    out.extend_from_slice(base.as_bytes());
                    out.extend_from_slice(field.link_prefix.as_bytes());
                    if field.link_suffix.is_empty() {
                        write_int(out, *id);
                    } else {
                        write_int(out, row.id);
                        out.extend_from_slice(field.link_suffix.as_bytes());
                    }
                    out.extend_from_slice(b"\"}}");
                }
                Slot::SelfLinks => {
                    out.extend_from_slice(b"{\"self\":\"");
                    out.extend_from_slice(base.as_bytes());
                    out.push(b'/');
                    out.extend_from_slice(self.plural.as_bytes());
                    out.push(b'/');
                    write_int(out, row.id);
                    out.extend_from_slice(b"\"}");
                }
                Slot::Nested(text) => write_based(out, text, base),
                Slot::Url(host, n) => {
                    out.extend_from_slice(b"\"https://");
                    out.extend_from_slice(host.as_bytes());
                    out.extend_from_slice(b".cliniko-fake.invalid/");
                    write_int(out, *n);
                    out.push(b'"');
                }
                Slot::Ipv4(n) => {
                    out.extend_from_slice(b"\"198.51.100.");
                    write_int(out, *n);
                    out.push(b'"');
                }
                Slot::Email(n) => {
                    out.extend_from_slice(b"\"someone");
                    write_int(out, *n);
                    out.extend_from_slice(b"@example.com\"");
                }
            }
        }
        out.push(b'}');
    }

    /// Writes a stored record's JSON (links under [`BASE`] moved to `base`), its properties in
    /// the plan's order.
    pub(crate) fn write_stored(&self, out: &mut Vec<u8>, record: &Map<String, Value>, base: &str) {
        out.push(b'{');
        let mut first = true;
        let mut write = |out: &mut Vec<u8>, name: &str, value: &Value| {
            if !first {
                out.push(b',');
            }
            first = false;
            write_str(out, name);
            out.push(b':');
            let text = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
            write_based(out, &text, base);
        };
        for field in &self.fields {
            if let Some(value) = record.get(&field.name) {
                write(out, &field.name, value);
            }
        }
        for (name, value) in record {
            if self.field(name).is_none() {
                write(out, name, value);
            }
        }
        out.push(b'}');
    }

    /// A row as stored JSON (links under [`BASE`]).
    pub(crate) fn to_map(&self, row: &Row<'_>) -> Map<String, Value> {
        let mut out = Vec::with_capacity(2_048);
        self.write_row(&mut out, row, BASE);
        match serde_json::from_slice(&out) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    /// The JSON text of a code slot.
    pub(crate) fn code_of(&self, slot: &Slot<'_>) -> Option<&str> {
        match slot {
            Slot::Json(k) => self.codes.get(*k).map(String::as_str),
            _ => None,
        }
    }
}

/// The link a property's node makes, through the nullable and `oneOf` wrappers around it.
fn link_of(node: &Node) -> Option<&LinkTarget> {
    match node {
        Node::Link(target) => Some(target),
        Node::NullableBranch(inner) | Node::Nullable(inner) => link_of(inner),
        Node::OneOf(branches) => branches.iter().find_map(link_of),
        _ => None,
    }
}

/// Picks an ID of a link's target.
fn pick(target: &LinkTarget, rng: &mut SplitMix64) -> i64 {
    match target {
        LinkTarget::Known(target) if !target.ids.is_empty() => {
            target.ids[rng.below(target.ids.len() as u64) as usize]
        }
        _ => 1_000_000_001 + rng.below(1000) as i64,
    }
}

fn integer(low: i64, high: i64, example: Option<i64>, rng: &mut SplitMix64) -> i64 {
    if let Some(example) = example
        && rng.chance(0.3)
    {
        return example;
    }
    let span = (high.saturating_sub(low) as u64).saturating_add(1).max(1);
    low.saturating_add(rng.below(span) as i64)
}

/// A string property's slot: text from the plan is borrowed, and made-up URLs, addresses and
/// emails are written when the record is, unless the schema's pattern or lengths must be fitted.
fn text_slot<'a>(text: &'a TextNode, rng: &mut SplitMix64) -> Slot<'a> {
    let plain = text.fit.is_identity();
    match text.format {
        TextFormat::DateTime => Slot::Time(FIRST_CREATED_AT + rng.below(5 * 365 * 86_400) as i64),
        TextFormat::Free => Slot::Text(Cow::Borrowed(match &text.example {
            Some(example) if rng.chance(0.5) => example,
            _ => &text.texts[rng.below(text.texts.len() as u64) as usize],
        })),
        TextFormat::Uri if plain => Slot::Url(&text.host, rng.below(1_000_000) as u32),
        TextFormat::Ipv4 if plain => Slot::Ipv4(rng.below(254) as u8 + 1),
        TextFormat::Email if plain => Slot::Email(rng.below(1000) as u16),
        _ => Slot::Text(text_value(text, rng)),
    }
}

fn text_value(text: &TextNode, rng: &mut SplitMix64) -> Cow<'static, str> {
    let made: Cow<'static, str> = match text.format {
        TextFormat::DateTime => random_date_time(rng),
        TextFormat::Date => {
            let days = rng.below(40_000) as i64 - 20_000;
            let at = chrono::DateTime::from_timestamp(days * 86_400, 0).unwrap_or_default();
            Cow::Owned(at.format("%Y-%m-%d").to_string())
        }
        TextFormat::Email => Cow::Owned(format!("someone{}@example.com", rng.below(1000))),
        TextFormat::Uri => Cow::Owned(format!(
            "https://{}.cliniko-fake.invalid/{}",
            text.host,
            rng.below(1_000_000)
        )),
        TextFormat::Ipv4 => Cow::Owned(format!("198.51.100.{}", rng.below(254) + 1)),
        // An ID: beyond what a float holds exactly.
        TextFormat::Int64 => {
            Cow::Owned(((1_i64 << 53) + 1 + 2 * rng.below(1 << 20) as i64).to_string())
        }
        TextFormat::Free => {
            // Already fitted at compile time.
            let chosen = match &text.example {
                Some(example) if rng.chance(0.5) => example.clone(),
                _ => text.texts[rng.below(text.texts.len() as u64) as usize].clone(),
            };
            return Cow::Owned(chosen);
        }
    };
    if text.fit.is_identity() {
        made
    } else {
        Cow::Owned(text.fit.apply(made).into_owned())
    }
}

/// A date-time from the five years after [`FIRST_CREATED_AT`], as text.
fn random_date_time(rng: &mut SplitMix64) -> Cow<'static, str> {
    let mut out = Vec::new();
    write_time(
        &mut out,
        FIRST_CREATED_AT + rng.below(5 * 365 * 86_400) as i64,
    );
    Cow::Owned(String::from_utf8_lossy(&out[1..out.len() - 1]).into_owned())
}

/// Writes a nested value (below the item) as JSON text with links under [`BASE`].
fn write_nested(out: &mut String, codes_text: &[String], node: &Node, rng: &mut SplitMix64) {
    match node {
        Node::Null => out.push_str("null"),
        Node::NullableBranch(branch) | Node::Nullable(branch) => {
            if rng.chance(0.3) {
                out.push_str("null");
            } else {
                write_nested(out, codes_text, branch, rng);
            }
        }
        Node::OneOf(branches) => {
            let branch = &branches[rng.below(branches.len() as u64) as usize];
            write_nested(out, codes_text, branch, rng);
        }
        Node::Codes { codes, nullable } => {
            if codes.is_empty() || (*nullable && rng.chance(0.2)) {
                out.push_str("null");
            } else {
                let code = codes[rng.below(codes.len() as u64) as usize];
                out.push_str(codes_text.get(code).map_or("null", String::as_str));
            }
        }
        Node::Link(target) => {
            let plural = match target {
                LinkTarget::Known(target) => target.plural.as_str(),
                LinkTarget::Unknown(plural) | LinkTarget::Own(plural) => plural.as_str(),
            };
            let _ = write!(
                out,
                "{{\"links\":{{\"self\":\"{BASE}/{plural}/{}\"}}}}",
                pick(target, rng)
            );
        }
        Node::Object(properties) => {
            out.push('{');
            let mut first = true;
            for property in properties {
                let mut value = String::new();
                write_nested(&mut value, codes_text, &property.node, rng);
                // Below the item, an optional list that came out empty is left out: the
                // generated types drop an empty optional list, so a client's round trip (and the
                // checker's) would otherwise differ.
                if !property.required && value == "[]" {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&property.key);
                out.push_str(&value);
            }
            out.push('}');
        }
        Node::Array { items, least, most } => {
            let count = least + rng.below(most - least + 1);
            out.push('[');
            for k in 0..count {
                if k > 0 {
                    out.push(',');
                }
                write_nested(out, codes_text, items, rng);
            }
            out.push(']');
        }
        Node::Integer { low, high, example } => {
            let _ = write!(out, "{}", integer(*low, *high, *example, rng));
        }
        Node::Number { low, high } => {
            let value = low + (high - low) * (rng.below(1000) as f64 / 1000.0);
            out.push_str(&serde_json::to_string(&value).unwrap_or_else(|_| "0".to_owned()));
        }
        Node::Bool => out.push_str(if rng.chance(0.5) { "true" } else { "false" }),
        Node::Text(text) => out.push_str(&json_string(&text_value(text, rng))),
    }
}

impl Compiler<'_> {
    fn node(&mut self, schema: &Value, name: &str, depth: usize) -> Node {
        let schema = follow(self.document, schema);
        let Some(object) = schema.as_object() else {
            return Node::Null;
        };
        // No schema of the spec is recursive; this only stops a cycle.
        if depth > 64 {
            return Node::Null;
        }
        if let Some(branch) = nullable_one_of_branch(object) {
            return Node::NullableBranch(Box::new(self.node(branch, name, depth + 1)));
        }
        if let Some(Value::Array(parts)) = object.get("allOf")
            && let [only] = parts.as_slice()
        {
            return self.node(only, name, depth + 1);
        }
        if let Some(Value::Array(branches)) = object.get("oneOf").or_else(|| object.get("anyOf"))
            && !branches.is_empty()
        {
            return Node::OneOf(
                branches
                    .iter()
                    .map(|b| self.node(b, name, depth + 1))
                    .collect(),
            );
        }
        let nullable = object.get("nullable") == Some(&Value::Bool(true));
        if let Some(Value::Array(codes)) = object.get("enum") {
            let codes = codes
                .iter()
                .filter(|c| !c.is_null())
                .map(|c| {
                    let text = serde_json::to_string(c).unwrap_or_else(|_| "null".to_owned());
                    match self.codes.iter().position(|known| *known == text) {
                        Some(k) => k,
                        None => {
                            self.codes.push(text);
                            self.codes.len() - 1
                        }
                    }
                })
                .collect();
            return Node::Codes { codes, nullable };
        }
        let inner = self.plain(object, name, depth);
        if nullable {
            Node::Nullable(Box::new(inner))
        } else {
            inner
        }
    }

    fn plain(&mut self, object: &Map<String, Value>, name: &str, depth: usize) -> Node {
        if self.is_linked_resource(object) {
            return Node::Link(match self.targets.target(name) {
                Some(target) => LinkTarget::Known(target),
                // A link named by a plural (`invoices`) is to the record's own list of them.
                None if name.ends_with('s') && self.nesting == 0 => {
                    LinkTarget::Own(name.to_owned())
                }
                None => LinkTarget::Unknown(if name.ends_with('s') {
                    name.to_owned()
                } else {
                    format!("{name}s")
                }),
            });
        }
        match object.get("type").and_then(Value::as_str) {
            Some("object") => {
                let required: Vec<&str> = object
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|names| names.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                self.nesting += 1;
                let properties = match object.get("properties") {
                    Some(Value::Object(properties)) => properties
                        .iter()
                        .map(|(name, schema)| Property {
                            key: format!("{}:", json_string(name)),
                            node: self.node(schema, name, depth + 1),
                            required: required.contains(&name.as_str()),
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                self.nesting -= 1;
                Node::Object(properties)
            }
            Some("array") => {
                let items = object.get("items").cloned().unwrap_or(Value::Null);
                let least = object.get("minItems").and_then(Value::as_u64).unwrap_or(0);
                let most = object
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(least + 2)
                    .max(least);
                self.nesting += 1;
                let items = Box::new(self.node(&items, name, depth + 1));
                self.nesting -= 1;
                Node::Array { items, least, most }
            }
            Some("integer") => {
                let low = object.get("minimum").and_then(Value::as_i64).unwrap_or(0);
                Node::Integer {
                    low,
                    high: object
                        .get("maximum")
                        .and_then(Value::as_i64)
                        .unwrap_or(low.saturating_add(9)),
                    example: object.get("example").and_then(Value::as_i64),
                }
            }
            Some("number") => {
                let low = object.get("minimum").and_then(Value::as_f64).unwrap_or(0.0);
                Node::Number {
                    low,
                    high: object
                        .get("maximum")
                        .and_then(Value::as_f64)
                        .unwrap_or(low + 1000.0),
                }
            }
            Some("boolean") => Node::Bool,
            Some("string") => Node::Text(Box::new(self.text(object, name))),
            _ => Node::Null,
        }
    }

    fn text(&self, object: &Map<String, Value>, name: &str) -> TextNode {
        let format = match object.get("format").and_then(Value::as_str).unwrap_or("") {
            "date-time" => TextFormat::DateTime,
            "date" => TextFormat::Date,
            "email" => TextFormat::Email,
            "uri" | "url" => TextFormat::Uri,
            "ipv4" => TextFormat::Ipv4,
            "int64" | "int32" => TextFormat::Int64,
            _ => TextFormat::Free,
        };
        let example = object.get("example").and_then(Value::as_str);
        let fit = Fit {
            pattern: object
                .get("pattern")
                .and_then(Value::as_str)
                .and_then(|p| regress::Regex::new(p).ok()),
            example: example.map(str::to_owned),
            max: object
                .get("maxLength")
                .and_then(Value::as_u64)
                .map(|n| n as usize),
            min: object
                .get("minLength")
                .and_then(Value::as_u64)
                .map(|n| n as usize),
        };
        let fitted = |text: &str| fit.apply(Cow::Borrowed(text)).into_owned();
        let mut node = TextNode {
            format,
            example: example.map(fitted),
            texts: TEXT.iter().map(|t| fitted(t)).collect(),
            host: name.replace('_', "-"),
            fit: Fit::default(),
        };
        // A made-up form (a URL, an address, an ID) that already fits the pattern and lengths
        // needs no fitting when each record is made: tried on a few of its values here.
        let mut rng = SplitMix64::new(0xF17);
        let form_fits = format != TextFormat::Free
            && (0..8).all(|_| {
                let made = text_value(&node, &mut rng);
                matches!(fit.apply(Cow::Borrowed(&made)), Cow::Borrowed(_))
            });
        if !form_fits {
            node.fit = fit;
        }
        node
    }

    /// Whether a schema is the spec's link to another record: an object whose only property is
    /// `links`, holding a `self` URL.
    fn is_linked_resource(&self, object: &Map<String, Value>) -> bool {
        let Some(Value::Object(properties)) = object.get("properties") else {
            return false;
        };
        properties.len() == 1
            && properties.get("links").is_some_and(|links| {
                follow(self.document, links)
                    .pointer("/properties/self")
                    .is_some()
            })
    }
}

/// Copies JSON text, moving links under [`BASE`] to `base`.
fn write_based(out: &mut Vec<u8>, text: &str, base: &str) {
    let mut rest = text;
    while let Some(at) = rest.find(BASE) {
        out.extend_from_slice(&rest.as_bytes()[..at]);
        out.extend_from_slice(base.as_bytes());
        rest = &rest[at + BASE.len()..];
    }
    out.extend_from_slice(rest.as_bytes());
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

pub(crate) fn write_int(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// UNIX seconds as the spec's UTC date-time, as a JSON value.
pub(crate) fn time(secs: i64) -> Value {
    let mut out = Vec::with_capacity(22);
    write_time(&mut out, secs);
    Value::String(String::from_utf8_lossy(&out[1..out.len() - 1]).into_owned())
}

/// Writes UNIX seconds as a quoted `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn write_time(out: &mut Vec<u8>, secs: i64) {
    let (days, second_of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let digits = |out: &mut Vec<u8>, value: i64, width: usize| {
        let mut buffer = [b'0'; 4];
        let mut value = value.clamp(0, 9_999);
        for slot in buffer[..width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
        out.extend_from_slice(&buffer[..width]);
    };
    out.push(b'"');
    digits(out, year, 4);
    out.push(b'-');
    digits(out, month, 2);
    out.push(b'-');
    digits(out, day, 2);
    out.push(b'T');
    digits(out, second_of_day / 3_600, 2);
    out.push(b':');
    digits(out, second_of_day / 60 % 60, 2);
    out.push(b':');
    digits(out, second_of_day % 60, 2);
    out.extend_from_slice(b"Z\"");
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_match_chrono_across_leap_years_and_month_ends() {
        let mut secs = 1_577_836_800 - 86_400 * 400;
        while secs < 1_900_000_000 {
            let mut out = Vec::new();
            write_time(&mut out, secs);
            let expected = chrono::DateTime::from_timestamp(secs, 0)
                .expect("in range")
                .format("\"%Y-%m-%dT%H:%M:%SZ\"")
                .to_string();
            assert_eq!(String::from_utf8_lossy(&out), expected);
            secs += 86_399 * 3 + 7;
        }
    }
}
