//! What changed between two versions of an OpenAPI document, and what breaks for code generated
//! from the older one.
//!
//! [`diff`] compares two documents after following every `$ref`, so moving a schema into
//! `components` (or inlining one) is no change. It walks servers, security, and each operation
//! (matched by method and path, path parameter names ignored): its `operationId`, parameters,
//! request body, statuses, response headers and bodies. Descriptions, summaries, examples, tags
//! and OpenAPI `links` are documentation and are not compared.
//!
//! Each [`Change`] names where it is (`GET /attendees/{id} → 200 application/json →
//! /properties/notes`), its [`ChangeKind`], the value before and after, and a [`Verdict`] for a
//! client generated from the older document. A request is what the client sends (parameters and
//! request bodies), a response what it reads (response bodies and headers): narrowing what is
//! accepted breaks requests, widening what may come back breaks responses.
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
//! | enum value added | not breaking | not breaking when the older schema has `x-enum-varnames` (our code enums keep unknown values in an `Unknown` variant), but flagged: breaking for generators without a catch-all variant; breaking otherwise |
//! | enum constraint added or removed (the generated type changes) | breaking | breaking |
//! | `minimum` up, `maximum` down, `minLength` up, `maxLength` down, `minItems` up, `maxItems` down (narrower) | breaking | not breaking |
//! | the same bounds the other way, or removed (wider) | not breaking | breaking |
//! | `pattern` added | breaking | not breaking |
//! | `pattern` changed | breaking | breaking |
//! | `pattern` removed | not breaking | breaking |
//! | `additionalProperties` narrowed / widened | breaking / not breaking | not breaking / breaking |
//! | `oneOf`/`anyOf` variants added or removed | breaking | breaking |
//! | parameter `style`/`explode` changed | breaking | — |
//! | request body or request media type removed | breaking | — |
//! | response media type or response header removed | — | breaking |
//! | `x-enum-varnames` renames the variant of a kept value | breaking | breaking |
//! | other `x-` extensions, `default`, `deprecated` | not breaking | not breaking |
//! | server removed (unless a new templated URL still covers it), server variable value removed | breaking | |
//! | server added, server variable value added, server default changed | not breaking | |
//! | security alternative removed, security scheme changed, security added where there was none | breaking | |
//!
//! [`SpecDiff::required_bump`] turns the verdicts into the version bump the generated client
//! needs: from 1.0 on, a breaking change needs a major bump and any other change a minor one;
//! before 1.0 (Cargo's rule for `0.x`), a breaking change needs a minor bump, `0.x` to `0.(x+1)`,
//! and any other change a patch bump.
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

mod operations;
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
pub fn diff_documents(base: &Value, head: &Value) -> SpecDiff {
    let mut walker = operations::Walker::new(base, head);
    walker.servers();
    walker.security();
    walker.operations();
    SpecDiff {
        changes: walker.into_changes(),
    }
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

    /// Whether any change breaks code generated from the base document.
    pub fn is_breaking(&self) -> bool {
        self.changes.iter().any(|c| c.verdict == Verdict::Breaking)
    }

    /// How many changes break code generated from the base document.
    pub fn breaking_count(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.verdict == Verdict::Breaking)
            .count()
    }

    /// The least version bump a crate generated from the documents needs, given its current major
    /// version: before 1.0, a breaking change needs a minor bump and any other change a patch bump.
    pub fn required_bump(&self, current_major: u64) -> Bump {
        match (self.changes.is_empty(), self.is_breaking(), current_major) {
            (true, _, _) => Bump::None,
            (false, true, 0) => Bump::Minor,
            (false, true, _) => Bump::Major,
            (false, false, 0) => Bump::Patch,
            (false, false, _) => Bump::Minor,
        }
    }

    /// The changes grouped for reading: changes of the same kind, verdict and values at the same
    /// place in a named schema (such as `Attendee → /properties/notes`) form one group, with every
    /// operation where that schema is used.
    pub fn groups(&self) -> Vec<ChangeGroup<'_>> {
        let mut groups: Vec<ChangeGroup<'_>> = Vec::new();
        for change in &self.changes {
            let place = change.place();
            let found = groups.iter_mut().find(|g| {
                g.place == place
                    && g.kind == change.kind
                    && g.verdict == change.verdict
                    && g.before == change.before.as_deref()
                    && g.after == change.after.as_deref()
            });
            match found {
                Some(group) => group.changes.push(change),
                None => groups.push(ChangeGroup {
                    place,
                    kind: change.kind,
                    verdict: change.verdict,
                    before: change.before.as_deref(),
                    after: change.after.as_deref(),
                    changes: vec![change],
                }),
            }
        }
        groups
    }
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Where, as `METHOD /path → part → /schema/pointer` (or `servers → …`, `security → …`).
    pub location: String,
    /// The same place named inside the component schema it belongs to, such as
    /// `Attendee → /properties/notes`, when it sits in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_location: Option<String>,
    /// The operation's `operationId` (the newer one when both have one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
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
}

/// Changes that are the same change at the same place of a shared schema.
#[derive(Debug, Clone)]
pub struct ChangeGroup<'a> {
    /// The schema location, or the location when the change is not in a named schema.
    pub place: &'a str,
    /// What changed.
    pub kind: ChangeKind,
    /// What it means for code generated from the base document.
    pub verdict: Verdict,
    /// The value in the base document.
    pub before: Option<&'a str>,
    /// The value in the newer document.
    pub after: Option<&'a str>,
    /// Each occurrence, with its full location.
    pub changes: Vec<&'a Change>,
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
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Breaking => "breaking",
            Self::NotBreaking => "not breaking",
            Self::BreakingWithoutCatchAll => {
                "not breaking (breaking for generators without a catch-all variant)"
            }
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
    /// `oneOf`/`anyOf` variants were added or removed.
    CompositionChanged,
    /// A `default` changed (a schema's, or a server variable's).
    DefaultChanged,
    /// An `x-` extension was added.
    ExtensionAdded,
    /// An `x-` extension was removed.
    ExtensionRemoved,
    /// An `x-` extension changed.
    ExtensionChanged,
}

impl ChangeKind {
    /// The kebab-case name, as in JSON output and the reasons file.
    pub fn name(self) -> String {
        match serde_json::to_value(self) {
            Ok(Value::String(name)) => name,
            _ => format!("{self:?}"),
        }
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
