//! What changed between two versions of an OpenAPI document, and what breaks for code generated
//! from the older one.
//!
//! [`diff`] compares two documents after following every `$ref`, so moving a schema into
//! `components` (or inlining one) is no change. It walks servers, security, each operation
//! (matched by method and path, path parameter names ignored): its `operationId`, parameters,
//! request body, statuses, response headers and bodies; and Cliniko's facts (`x-cliniko-*`).
//! Descriptions, summaries, examples, tags and OpenAPI `links` are documentation and are not
//! compared. Both documents must pass [`Spec::check_references`](crate::Spec::check_references)
//! first: a `$ref` that resolves nowhere reads here as a schema that allows anything.
//!
//! One edit is one [`Change`]. A change inside a named component (a schema such as
//! `InvoiceStatus`, a shared parameter or response) is reported once, at the component
//! ([`Change::schema_location`] `InvoiceStatus`, [`Change::pointer`]
//! `#/components/schemas/InvoiceStatus/enum`), with every operation that reaches it
//! ([`Change::operations`]) and every place it is met ([`Change::locations`], such as
//! `GET /attendees/{id} → 200 application/json → /properties/invoice_status/oneOf/0`). The
//! variants of a `oneOf`/`anyOf` are matched by what they are (the same `$ref`, or the same schema
//! but for its documentation), not by their place: adding one is one `variant-added`, and
//! `oneOf: [$ref, {enum: [null]}]` is compared through to the `$ref`'d schema. A new `x-enum-varnames`
//! or `x-enum-descriptions` entry for a new enum value is part of the `enum-value-added`.
//!
//! Each change has its [`ChangeKind`], the value before and after, and a [`Verdict`] for a client
//! generated from the older document. A request is what the client sends (parameters and request
//! bodies), a response what it reads (response bodies and headers): narrowing what is accepted
//! breaks requests, widening what may come back breaks responses.
//!
//! | change | in a request | in a response |
//! |---|---|---|
//! | operation removed, status removed | breaking | breaking |
//! | operation added, status added | not breaking | not breaking |
//! | `operationId` changed (renames the generated method) | breaking | — |
//! | parameter or property removed | breaking | breaking |
//! | optional parameter or property added | not breaking | not breaking |
//! | required parameter or property added | breaking | not breaking |
//! | field made required (`required-added`) | breaking | not breaking |
//! | field no longer required (`required-removed`) | not breaking | breaking |
//! | `nullable` added | not breaking | breaking |
//! | `nullable` removed | breaking | not breaking |
//! | `type` or `format` changed | breaking | breaking |
//! | enum value removed | breaking | not breaking |
//! | enum value added | not breaking | warning when the older schema has `x-enum-varnames` (our code enums keep unknown values in an `Unknown` variant; breaking for generators without a catch-all variant, and so under [`Profile::Strict`]); breaking otherwise |
//! | enum constraint added or removed (the generated type changes) | breaking | breaking |
//! | `minimum` up, `maximum` down, `minLength` up, `maxLength` down, `minItems` up, `maxItems` down (narrower) | breaking | not breaking |
//! | the same bounds the other way, or removed (wider) | not breaking | breaking |
//! | `pattern` added | breaking | not breaking |
//! | `pattern` changed | breaking, unless the new pattern accepts every text the old one does | breaking, unless the old pattern accepts every text the new one does |
//! | `pattern` removed | not breaking | breaking |
//! | `additionalProperties` narrowed / widened | breaking / not breaking | not breaking / breaking |
//! | `oneOf`/`anyOf` variant added (`variant-added`) | not breaking | breaking |
//! | `oneOf`/`anyOf` variant removed (`variant-removed`: the generated type loses it) | breaking | breaking |
//! | `oneOf` became `anyOf`, or a composition appeared or went (`composition-changed`) | breaking | breaking |
//! | parameter `style`/`explode` changed | breaking | — |
//! | request body or request media type removed | breaking | — |
//! | response media type or response header removed | — | breaking |
//! | `x-enum-varnames` renames the variant of a kept value | breaking | breaking |
//! | other `x-` extensions, `default`, `deprecated` | not breaking | not breaking |
//! | server removed (unless a new templated URL still covers it), server variable value removed | breaking | |
//! | server added, server variable value added, server default changed | not breaking | |
//! | security alternative removed, security scheme changed, security added where there was none | breaking | |
//!
//! Cliniko's facts, read with the parsers of [`crate::facts`], change what the generated client
//! does, and are judged for it:
//!
//! | change | breaking | not breaking |
//! |---|---|---|
//! | `x-cliniko-retry` of an operation (`x-cliniko-retry-changed`; none reads as `only-if-not-sent`) | looser: `only-if-not-sent` → `always`, or a value the client does not know | stricter: `always` → `only-if-not-sent` |
//! | `x-cliniko-rate-limit` (`x-cliniko-rate-limit-changed`) | lower: a client keeping to the old limit may exceed the new one (R₂ < R₁ × ⌈W₂ / W₁⌉), a new limit, or an unreadable one | higher, or no longer stated |
//! | `x-cliniko-pattern` of a server variable (`x-cliniko-pattern-changed`) | narrower: some name the old one accepts is refused (decided on the two patterns' automata), added, or undecidable | wider or the same language, or removed |
//! | `x-cliniko-filter-fields` of a `q[]` parameter | a field removed (or its type changed): `x-cliniko-filter-field-removed` | a field added: `x-cliniko-filter-field-added` |
//! | any other `x-cliniko-*` extension | not judged: [`Verdict::Unjudged`], a warning | |
//!
//! A `q[]` pattern that is the one built from its filter fields on both sides changes with them;
//! that change is the fields', and is not reported a second time. Whether one pattern accepts
//! every text another does is decided on their automata (`regex-automata`, ASCII classes): a
//! pattern that it cannot read is judged as narrower.
//!
//! [`Verdict::level`] grades each verdict as oasdiff does ([`Level`]: breaking, warning, info), for
//! our client ([`Profile::Ours`]) or for any generator ([`Profile::Strict`], which the published
//! spec's changelog uses).
//!
//! [`SpecDiff::required_bump`] turns the verdicts into the version bump the generated client
//! needs: from 1.0 on, a breaking change needs a major bump and any other change a minor one;
//! before 1.0 (Cargo's rule for `0.x`), a breaking change needs a minor bump, `0.x` to `0.(x+1)`,
//! and any other change a patch bump ([`bump_for`] judges by a profile).
//!
//! ```
//! let base = cliniko_spec::Spec::from_yaml_str(
//!     "openapi: 3.0.3\ninfo: {title: t, version: v1}\npaths:\n  /a:\n    get:\n      operationId: getA\n      responses: {'200': {description: ok}}\n",
//!     "base.yaml",
//! )?;
//! let head = cliniko_spec::Spec::from_yaml_str(
//!     "openapi: 3.0.3\ninfo: {title: t, version: v1}\npaths: {}\n",
//!     "head.yaml",
//! )?;
//! let diff = cliniko_spec::diff::diff(&base, &head);
//! assert_eq!(diff.changes()[0].kind, cliniko_spec::diff::ChangeKind::OperationRemoved);
//! assert!(diff.is_breaking());
//! assert_eq!(diff.required_bump(0), cliniko_spec::diff::Bump::Minor);
//! # Ok::<(), cliniko_spec::SpecError>(())
//! ```

mod facts;
mod operations;
mod patterns;
mod schema;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::Spec;

/// Compares two specs: what changed from `base` to `head`.
pub fn diff(base: &Spec, head: &Spec) -> SpecDiff {
    diff_documents(base.raw(), head.raw())
}

/// Compares two OpenAPI documents in their JSON form.
///
/// Both documents are read by their `$ref`s: check them first with
/// [`Spec::check_references`](crate::Spec::check_references), since a `$ref` that resolves
/// nowhere reads here as a schema that allows anything.
pub fn diff_documents(base: &Value, head: &Value) -> SpecDiff {
    let mut walker = operations::Walker::new(base, head);
    walker.servers();
    walker.security();
    walker.operations();
    facts::compare(&mut walker);
    SpecDiff {
        changes: merge(walker.into_changes()),
    }
}

/// One change per edit: the same change at the same place of a shared component, met through
/// several operations, becomes one change that lists them all, with the worst verdict met.
fn merge(raw: Vec<Change>) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    let mut index: std::collections::HashMap<
        (String, ChangeKind, Option<String>, Option<String>),
        usize,
    > = std::collections::HashMap::new();
    for change in raw {
        // A change inside a named component is one change wherever the component is used.
        let place = match &change.schema_location {
            Some(place) => place.clone(),
            None if change.pointer.starts_with("#/components/") => change.pointer.clone(),
            None => change.location.clone(),
        };
        let key = (
            place,
            change.kind,
            change.before.clone(),
            change.after.clone(),
        );
        match index.get(&key) {
            Some(&at) => {
                let kept = &mut out[at];
                for location in change.locations {
                    if !kept.locations.contains(&location) {
                        kept.locations.push(location);
                    }
                }
                for operation in change.operations {
                    if !kept.operations.contains(&operation) {
                        kept.operations.push(operation);
                    }
                }
                if change.verdict.rank() > kept.verdict.rank() {
                    kept.verdict = change.verdict;
                }
            }
            None => {
                index.insert(key, out.len());
                out.push(change);
            }
        }
    }
    out
}

/// Every change from one document to another, in document order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SpecDiff {
    changes: Vec<Change>,
}

impl SpecDiff {
    /// Every change.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// Whether any change breaks code generated from the base document (by our client's
    /// judgement, [`Profile::Ours`]).
    pub fn is_breaking(&self) -> bool {
        self.breaking_count() > 0
    }

    /// How many changes break code generated from the base document ([`Profile::Ours`]).
    pub fn breaking_count(&self) -> usize {
        self.count(Level::Breaking, Profile::Ours)
    }

    /// How many changes are at `level` under `profile`.
    pub fn count(&self, level: Level, profile: Profile) -> usize {
        self.changes
            .iter()
            .filter(|c| c.level(profile) == level)
            .count()
    }

    /// The least version bump a crate generated from the documents needs, given its current major
    /// version: before 1.0, a breaking change needs a minor bump and any other change a patch bump.
    pub fn required_bump(&self, current_major: u64) -> Bump {
        bump_for(self.changes.iter(), Profile::Ours, current_major)
    }

    /// The changes whose place or any location matches `keep`, as a diff of their own (to leave
    /// out accepted changes).
    pub fn filtered(&self, mut keep: impl FnMut(&Change) -> bool) -> SpecDiff {
        SpecDiff {
            changes: self.changes.iter().filter(|c| keep(c)).cloned().collect(),
        }
    }
}

/// The least bump for `changes` judged by `profile`, given the current major version.
pub fn bump_for<'a>(
    changes: impl IntoIterator<Item = &'a Change>,
    profile: Profile,
    current_major: u64,
) -> Bump {
    let mut any = false;
    let mut breaking = false;
    for change in changes {
        any = true;
        breaking |= change.level(profile) == Level::Breaking;
    }
    match (any, breaking, current_major) {
        (false, _, _) => Bump::None,
        (true, true, 0) => Bump::Minor,
        (true, true, _) => Bump::Major,
        (true, false, 0) => Bump::Patch,
        (true, false, _) => Bump::Minor,
    }
}

/// One change: one edit of the document, however many operations reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Where, as `METHOD /path → part → /schema/pointer` (or `servers → …`, `security → …`):
    /// the first of [`locations`](Self::locations).
    pub location: String,
    /// Every place where an operation meets the change (one per use of a shared schema).
    pub locations: Vec<String>,
    /// The same place named inside the component it belongs to, such as
    /// `Attendee → /properties/notes`, when it sits in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_location: Option<String>,
    /// Where the change is in the newer document, as a JSON pointer reference such as
    /// `#/components/schemas/InvoiceStatus/enum` (for something removed, where it was: the
    /// newer document's nearest node is its line).
    pub pointer: String,
    /// The operations that reach the change, by `operationId` (the newer one when both have one).
    pub operations: Vec<String>,
    /// What changed.
    pub kind: ChangeKind,
    /// The value in the base document, when there is one.
    pub before: Option<String>,
    /// The value in the newer document, when there is one.
    pub after: Option<String>,
    /// What it means for code generated from the base document.
    pub verdict: Verdict,
}

impl Change {
    /// The schema location when there is one, else the location.
    pub fn place(&self) -> &str {
        self.schema_location.as_deref().unwrap_or(&self.location)
    }

    /// How much the change matters under `profile`.
    pub fn level(&self, profile: Profile) -> Level {
        self.verdict.level(profile)
    }

    /// The change as a person names it: `type changed integer → string`, `oneOf variant added
    /// string`, `enum value added 50`.
    pub fn summary(&self) -> String {
        if matches!(
            self.kind,
            ChangeKind::VariantAdded | ChangeKind::VariantRemoved
        ) {
            // The value reads `oneOf: string`.
            let value = self
                .after
                .as_deref()
                .or(self.before.as_deref())
                .unwrap_or("");
            let (keyword, schema) = value.split_once(": ").unwrap_or(("oneOf", value));
            let verb = if self.kind == ChangeKind::VariantAdded {
                "added"
            } else {
                "removed"
            };
            return format!("{keyword} variant {verb}: {schema}");
        }
        let mut text = self.kind.phrase();
        match (&self.before, &self.after) {
            (Some(before), Some(after)) => {
                let _ = fmt::Write::write_fmt(&mut text, format_args!(" {before} → {after}"));
            }
            (Some(value), None) | (None, Some(value)) => {
                text.push(' ');
                text.push_str(value);
            }
            (None, None) => {}
        }
        text
    }
}

/// What a change means for code generated from the base document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Code generated from the base document may fail against the newer API.
    Breaking,
    /// Code generated from the base document keeps working.
    NotBreaking,
    /// A new value of a code list in a response: our code enums keep it in their `Unknown`
    /// variant, but a generator without such a catch-all variant would refuse it.
    BreakingWithoutCatchAll,
    /// An `x-cliniko-*` extension that spec-diff has no rule for changed: not judged.
    Unjudged,
}

impl Verdict {
    /// How much the verdict matters when several uses of one change are merged.
    fn rank(self) -> u8 {
        match self {
            Self::NotBreaking => 0,
            Self::BreakingWithoutCatchAll => 1,
            Self::Unjudged => 2,
            Self::Breaking => 3,
        }
    }

    /// The severity under `profile`: [`Profile::Strict`] judges for any generator, so the
    /// closed-enum case breaks there.
    pub fn level(self, profile: Profile) -> Level {
        match (self, profile) {
            (Self::Breaking, _) | (Self::BreakingWithoutCatchAll, Profile::Strict) => {
                Level::Breaking
            }
            (Self::BreakingWithoutCatchAll, Profile::Ours) | (Self::Unjudged, _) => Level::Warning,
            (Self::NotBreaking, _) => Level::Info,
        }
    }
}

/// How much a change matters, as oasdiff grades them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Nothing breaks.
    Info,
    /// Breaks only some generated code (a closed enum), or was not judged.
    Warning,
    /// Breaks code generated from the base document.
    Breaking,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Breaking => "breaking",
        })
    }
}

/// Whose generated code a change is judged for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// This workspace's client, whose code enums keep unknown values in an `Unknown` variant.
    #[default]
    Ours,
    /// Any generator, closed enums included: what the published spec's changelog uses.
    Strict,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Breaking => "breaking",
            Self::NotBreaking => "not breaking",
            Self::BreakingWithoutCatchAll => {
                "not breaking (breaking for generators without a catch-all variant)"
            }
            Self::Unjudged => "not judged (an x-cliniko extension without a rule)",
        })
    }
}

/// A version bump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bump {
    /// No change.
    None,
    /// The last number.
    Patch,
    /// The middle number.
    Minor,
    /// The first number.
    Major,
}

impl fmt::Display for Bump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Patch => "patch",
            Self::Minor => "minor",
            Self::Major => "major",
        })
    }
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A server URL was added.
    ServerAdded,
    /// A server URL was removed.
    ServerRemoved,
    /// A server URL was replaced by a templated one whose variables still produce it.
    ServerTemplated,
    /// A security requirement alternative was added.
    SecurityRequirementAdded,
    /// A security requirement alternative was removed.
    SecurityRequirementRemoved,
    /// A security scheme was added.
    SecuritySchemeAdded,
    /// A security scheme was removed.
    SecuritySchemeRemoved,
    /// A security scheme's type, scheme or placement changed.
    SecuritySchemeChanged,
    /// An operation was added.
    OperationAdded,
    /// An operation was removed.
    OperationRemoved,
    /// An operation's `operationId` changed.
    OperationIdChanged,
    /// Something was deprecated, or is no longer.
    DeprecatedChanged,
    /// A parameter was added.
    ParameterAdded,
    /// A parameter was removed.
    ParameterRemoved,
    /// A parameter's `style` or `explode` changed.
    StyleChanged,
    /// A request body was added.
    RequestBodyAdded,
    /// A request body was removed.
    RequestBodyRemoved,
    /// A media type was added to a request or response body.
    MediaTypeAdded,
    /// A media type was removed from a request or response body.
    MediaTypeRemoved,
    /// A response status was added.
    StatusAdded,
    /// A response status was removed.
    StatusRemoved,
    /// A response header was added.
    HeaderAdded,
    /// A response header was removed.
    HeaderRemoved,
    /// A parameter, header, request body or property became required.
    RequiredAdded,
    /// A parameter, header, request body or property is no longer required.
    RequiredRemoved,
    /// A property was added.
    PropertyAdded,
    /// A property was removed.
    PropertyRemoved,
    /// A schema now allows null.
    NullableAdded,
    /// A schema no longer allows null.
    NullableRemoved,
    /// A schema's `type` changed.
    TypeChanged,
    /// A schema's `format` changed.
    FormatChanged,
    /// A schema got an `enum` where it had none.
    EnumAdded,
    /// A schema lost its `enum`.
    EnumRemoved,
    /// A value was added to an `enum` (or to a server variable's).
    EnumValueAdded,
    /// A value was removed from an `enum` (or from a server variable's).
    EnumValueRemoved,
    /// `minimum` or `exclusiveMinimum` changed.
    MinimumChanged,
    /// `maximum` or `exclusiveMaximum` changed.
    MaximumChanged,
    /// `minLength` changed.
    MinLengthChanged,
    /// `maxLength` changed.
    MaxLengthChanged,
    /// `minItems` changed.
    MinItemsChanged,
    /// `maxItems` changed.
    MaxItemsChanged,
    /// A `pattern` was added.
    PatternAdded,
    /// A `pattern` changed.
    PatternChanged,
    /// A `pattern` was removed.
    PatternRemoved,
    /// `additionalProperties` was allowed or refused.
    AdditionalPropertiesChanged,
    /// `oneOf` became `anyOf` or the other way, or a composition appeared or went.
    CompositionChanged,
    /// A `oneOf`/`anyOf` variant was added (matched by its `$ref` or its schema, not its place).
    VariantAdded,
    /// A `oneOf`/`anyOf` variant was removed.
    VariantRemoved,
    /// A `default` changed (a schema's, or a server variable's).
    DefaultChanged,
    /// An `x-` extension was added.
    ExtensionAdded,
    /// An `x-` extension was removed.
    ExtensionRemoved,
    /// An `x-` extension changed.
    ExtensionChanged,
    /// An operation's `x-cliniko-retry` changed: looser (sent again after an ambiguous failure)
    /// breaks.
    #[serde(rename = "x-cliniko-retry-changed")]
    RetryChanged,
    /// `x-cliniko-rate-limit` changed: a lower limit breaks.
    #[serde(rename = "x-cliniko-rate-limit-changed")]
    RateLimitChanged,
    /// A server variable's `x-cliniko-pattern` changed: a narrower one breaks.
    #[serde(rename = "x-cliniko-pattern-changed")]
    ClinikoPatternChanged,
    /// A field was added to a `q[]` parameter's `x-cliniko-filter-fields`.
    #[serde(rename = "x-cliniko-filter-field-added")]
    FilterFieldAdded,
    /// A field was removed from a `q[]` parameter's `x-cliniko-filter-fields` (or changed type).
    #[serde(rename = "x-cliniko-filter-field-removed")]
    FilterFieldRemoved,
}

impl ChangeKind {
    /// The kebab-case name, as in JSON output and the reasons file.
    pub fn name(self) -> String {
        match serde_json::to_value(self) {
            Ok(Value::String(name)) => name,
            _ => format!("{self:?}"),
        }
    }

    /// The name as words: `type changed`, `x-cliniko-retry changed`.
    pub fn phrase(self) -> String {
        let name = self.name();
        match name.strip_prefix("x-cliniko-") {
            Some(rest) => match rest.rsplit_once('-') {
                Some((what, verb)) if matches!(verb, "changed" | "added" | "removed") => {
                    format!("x-cliniko-{what} {verb}")
                }
                _ => name,
            },
            None => name.replace('-', " "),
        }
    }

    /// The schema keyword a change of this kind is about, appended to its pointer.
    fn keyword(self) -> Option<&'static str> {
        Some(match self {
            Self::TypeChanged => "type",
            Self::FormatChanged => "format",
            Self::NullableAdded | Self::NullableRemoved => "nullable",
            Self::EnumAdded | Self::EnumRemoved | Self::EnumValueAdded | Self::EnumValueRemoved => {
                "enum"
            }
            Self::MinimumChanged => "minimum",
            Self::MaximumChanged => "maximum",
            Self::MinLengthChanged => "minLength",
            Self::MaxLengthChanged => "maxLength",
            Self::MinItemsChanged => "minItems",
            Self::MaxItemsChanged => "maxItems",
            Self::PatternAdded | Self::PatternChanged | Self::PatternRemoved => "pattern",
            Self::AdditionalPropertiesChanged => "additionalProperties",
            Self::DefaultChanged => "default",
            Self::OperationIdChanged => "operationId",
            _ => return None,
        })
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Which way a schema's values travel, which decides whether narrowing or widening breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Direction {
    /// Sent by the client: parameters and request bodies.
    Request,
    /// Read by the client: response bodies and headers.
    Response,
}

impl Direction {
    /// The verdict for a change that narrows (`true`) or widens what is accepted.
    fn narrowing(self, narrower: bool) -> Verdict {
        match (self, narrower) {
            (Direction::Request, true) | (Direction::Response, false) => Verdict::Breaking,
            _ => Verdict::NotBreaking,
        }
    }
}

/// A short text for a JSON value in `before`/`after`.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
