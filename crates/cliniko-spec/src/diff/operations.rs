//! Walking two documents side by side: servers, security, operations, parameters, bodies,
//! statuses and response headers.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::schema::{EMPTY, deref, summary};
use super::{Change, ChangeKind, Direction, Verdict, show};
use crate::METHODS;
use crate::pointer::escape;

/// Where a comparison is: the operation part of the location, and the place inside a schema.
#[derive(Debug, Clone)]
pub(super) struct Site {
    location: String,
    operation_id: Option<String>,
    pointer: String,
    component: Option<(String, String)>,
    /// Where the compared node is in the newer document, as a JSON pointer.
    doc: String,
    pub(super) direction: Direction,
}

impl Site {
    pub(super) fn new(
        location: String,
        operation_id: Option<String>,
        direction: Direction,
    ) -> Self {
        Self {
            location,
            operation_id,
            pointer: String::new(),
            component: None,
            doc: String::new(),
            direction,
        }
    }

    /// The same site, at `doc` in the newer document.
    pub(super) fn at(&self, doc: impl Into<String>) -> Self {
        Self {
            doc: doc.into(),
            ..self.clone()
        }
    }

    /// The same site, one token deeper in the newer document only (a keyword such as
    /// `x-cliniko-retry`, which is no step of the location).
    pub(super) fn doc_child(&self, token: &str) -> Self {
        self.at(crate::pointer::push(&self.doc, token))
    }

    /// The same site one level further in (another segment of the location).
    pub(super) fn then(&self, segment: &str) -> Self {
        let mut site = Self::new(
            format!("{} → {segment}", self.location),
            self.operation_id.clone(),
            self.direction,
        );
        site.doc = self.doc.clone();
        // Inside a shared parameter or response, the component's name goes on as well.
        if let Some((name, pointer)) = &self.component
            && pointer.is_empty()
        {
            site.component = Some((format!("{name} → {segment}"), String::new()));
        }
        site
    }

    fn with_direction(&self, direction: Direction) -> Self {
        Self {
            direction,
            ..self.clone()
        }
    }

    /// One token deeper in the schema.
    pub(super) fn child(&self, token: &str) -> Self {
        let token = escape(token);
        let mut child = self.clone();
        child.pointer = format!("{}/{token}", self.pointer);
        child.doc = format!("{}/{token}", self.doc);
        if let Some((_, pointer)) = &mut child.component {
            *pointer = format!("{pointer}/{token}");
        }
        child
    }

    /// Into a schema that a `$ref` names `name`, when it does.
    pub(super) fn entering(&self, name: Option<&str>) -> Self {
        let mut site = self.clone();
        if let Some(name) = name {
            site.component = Some((name.to_owned(), String::new()));
        }
        site
    }

    fn location(&self) -> String {
        if self.pointer.is_empty() {
            self.location.clone()
        } else {
            format!("{} → {}", self.location, self.pointer)
        }
    }

    fn schema_location(&self) -> Option<String> {
        self.component.as_ref().map(|(name, pointer)| {
            if pointer.is_empty() {
                name.clone()
            } else {
                format!("{name} → {pointer}")
            }
        })
    }
}

/// Walks two documents and collects their changes.
pub(super) struct Walker<'a> {
    pub(super) base: &'a Value,
    pub(super) head: &'a Value,
    /// The pairs of schemas being compared, to stop at recursive schemas.
    pub(super) active: Vec<(usize, usize, Direction)>,
    changes: Vec<Change>,
}

impl<'a> Walker<'a> {
    pub(super) fn new(base: &'a Value, head: &'a Value) -> Self {
        Self {
            base,
            head,
            active: Vec::new(),
            changes: Vec::new(),
        }
    }

    pub(super) fn into_changes(self) -> Vec<Change> {
        self.changes
    }

    /// Drops the pattern changes at `pointer`: a pattern derived from facts whose change is
    /// reported already.
    pub(super) fn forget_derived_pattern(&mut self, pointer: &str) {
        self.changes
            .retain(|c| !(c.kind == ChangeKind::PatternChanged && c.pointer == pointer));
    }

    pub(super) fn push(
        &mut self,
        site: &Site,
        kind: ChangeKind,
        before: Option<String>,
        after: Option<String>,
        verdict: Verdict,
    ) {
        let mut pointer = site.doc.clone();
        if let Some(keyword) = kind.keyword() {
            pointer.push('/');
            pointer.push_str(keyword);
        }
        let location = site.location();
        self.changes.push(Change {
            locations: vec![location.clone()],
            location,
            schema_location: site.schema_location(),
            pointer: format!("#{pointer}"),
            operations: site.operation_id.iter().cloned().collect(),
            kind,
            before,
            after,
            verdict,
        });
    }

    pub(super) fn deprecated(&mut self, site: &Site, before: bool, after: bool) {
        let describe = |on: bool| Some(if on { "deprecated" } else { "not deprecated" }.to_owned());
        self.push(
            site,
            ChangeKind::DeprecatedChanged,
            describe(before),
            describe(after),
            Verdict::NotBreaking,
        );
    }

    pub(super) fn servers(&mut self) {
        let list = |document: &'a Value| -> Vec<&'a Value> {
            document
                .get("servers")
                .and_then(Value::as_array)
                .map(|s| s.iter().collect())
                .unwrap_or_default()
        };
        let url = |server: &Value| {
            server
                .get("url")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let (old, new) = (list(self.base), list(self.head));
        let site = Site::new("servers".to_owned(), None, Direction::Request).at("/servers");
        let mut covered_by_template = BTreeSet::new();
        for server in &old {
            let old_url = url(server);
            if let Some(at) = new.iter().position(|s| url(s) == old_url) {
                let server_site = site.then(&old_url).at(format!("/servers/{at}"));
                self.server_variables(&server_site, server, new[at]);
                continue;
            }
            // A fixed URL that a new templated URL still produces (`api.au1…` within
            // `api.{shard}…` with `au1` among the shards) is still reachable.
            match new.iter().find(|s| expansions(s).contains(&old_url)) {
                Some(template) => {
                    covered_by_template.insert(url(template));
                    self.push(
                        &site,
                        ChangeKind::ServerTemplated,
                        Some(old_url),
                        Some(url(template)),
                        Verdict::NotBreaking,
                    );
                }
                None => self.push(
                    &site,
                    ChangeKind::ServerRemoved,
                    Some(old_url),
                    None,
                    Verdict::Breaking,
                ),
            }
        }
        for server in &new {
            let new_url = url(server);
            if old.iter().all(|s| url(s) != new_url) && !covered_by_template.contains(&new_url) {
                self.push(
                    &site,
                    ChangeKind::ServerAdded,
                    None,
                    Some(new_url),
                    Verdict::NotBreaking,
                );
            }
        }
    }

    fn server_variables(&mut self, site: &Site, old: &'a Value, new: &'a Value) {
        let variables = |server: &'a Value| -> BTreeMap<&'a str, &'a Value> {
            server
                .get("variables")
                .and_then(Value::as_object)
                .map(|v| v.iter().map(|(k, v)| (k.as_str(), v)).collect())
                .unwrap_or_default()
        };
        // The same URL has the same variables; only their values and defaults can differ.
        let (old, new) = (variables(old), variables(new));
        for (name, old_variable) in &old {
            let Some(new_variable) = new.get(name) else {
                continue;
            };
            let site = site
                .then(&format!("variable {name}"))
                .doc_child("variables")
                .doc_child(name);
            let values = |v: &Value| -> Vec<String> {
                v.get("enum")
                    .and_then(Value::as_array)
                    .map(|values| values.iter().map(show).collect())
                    .unwrap_or_default()
            };
            let (old_values, new_values) = (values(old_variable), values(new_variable));
            for value in old_values.iter().filter(|v| !new_values.contains(v)) {
                self.push(
                    &site,
                    ChangeKind::EnumValueRemoved,
                    Some(value.clone()),
                    None,
                    Verdict::Breaking,
                );
            }
            for value in new_values.iter().filter(|v| !old_values.contains(v)) {
                self.push(
                    &site,
                    ChangeKind::EnumValueAdded,
                    None,
                    Some(value.clone()),
                    Verdict::NotBreaking,
                );
            }
            let default = |v: &Value| v.get("default").map(show);
            if default(old_variable) != default(new_variable) {
                self.push(
                    &site,
                    ChangeKind::DefaultChanged,
                    default(old_variable),
                    default(new_variable),
                    Verdict::NotBreaking,
                );
            }
        }
    }

    pub(super) fn security(&mut self) {
        let site = Site::new("security".to_owned(), None, Direction::Request).at("/security");
        let (old, new) = (
            requirements(self.base.get("security")),
            requirements(self.head.get("security")),
        );
        self.requirements(&site, &old, &new);
        let schemes = |document: &'a Value| -> BTreeMap<&'a str, &'a Value> {
            document
                .pointer("/components/securitySchemes")
                .and_then(Value::as_object)
                .map(|s| s.iter().map(|(k, v)| (k.as_str(), v)).collect())
                .unwrap_or_default()
        };
        let (old, new) = (schemes(self.base), schemes(self.head));
        for name in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
            let site = site
                .then(&format!("scheme {name}"))
                .at(crate::pointer::push("/components/securitySchemes", name));
            let (before, after) = (
                old.get(name).map(|s| scheme(self.base, s)),
                new.get(name).map(|s| scheme(self.head, s)),
            );
            let (kind, verdict) = match (&before, &after) {
                (None, Some(_)) => (ChangeKind::SecuritySchemeAdded, Verdict::NotBreaking),
                (Some(_), None) => (ChangeKind::SecuritySchemeRemoved, Verdict::Breaking),
                (Some(b), Some(a)) if b != a => {
                    (ChangeKind::SecuritySchemeChanged, Verdict::Breaking)
                }
                _ => continue,
            };
            self.push(&site, kind, before, after, verdict);
        }
    }

    /// Compares lists of security requirement alternatives.
    fn requirements(&mut self, site: &Site, old: &[String], new: &[String]) {
        for alternative in old.iter().filter(|a| !new.contains(a)) {
            self.push(
                site,
                ChangeKind::SecurityRequirementRemoved,
                Some(alternative.clone()),
                None,
                Verdict::Breaking,
            );
        }
        for alternative in new.iter().filter(|a| !old.contains(a)) {
            // A new way to authenticate breaks nothing, unless none was needed before.
            let verdict = if old.is_empty() || old.iter().any(|a| a == ANONYMOUS) {
                Verdict::Breaking
            } else {
                Verdict::NotBreaking
            };
            let verdict = if alternative == ANONYMOUS {
                Verdict::NotBreaking
            } else {
                verdict
            };
            self.push(
                site,
                ChangeKind::SecurityRequirementAdded,
                None,
                Some(alternative.clone()),
                verdict,
            );
        }
    }

    pub(super) fn operations(&mut self) {
        let (old, new) = (operations(self.base), operations(self.head));
        let keys: BTreeSet<&(String, usize)> = old.keys().chain(new.keys()).collect();
        for key in keys {
            match (old.get(key), new.get(key)) {
                (Some(before), None) => {
                    let site =
                        Site::new(before.label(), before.id(), Direction::Request).at(before.at());
                    self.push(
                        &site,
                        ChangeKind::OperationRemoved,
                        before.id(),
                        None,
                        Verdict::Breaking,
                    );
                }
                (None, Some(after)) => {
                    let site =
                        Site::new(after.label(), after.id(), Direction::Request).at(after.at());
                    self.push(
                        &site,
                        ChangeKind::OperationAdded,
                        None,
                        after.id(),
                        Verdict::NotBreaking,
                    );
                }
                (Some(before), Some(after)) => self.operation(before, after),
                (None, None) => {}
            }
        }
    }

    fn operation(&mut self, before: &Operation<'a>, after: &Operation<'a>) {
        let site = Site::new(
            after.label(),
            after.id().or_else(|| before.id()),
            Direction::Request,
        )
        .at(after.at());
        if before.id() != after.id() {
            self.push(
                &site,
                ChangeKind::OperationIdChanged,
                before.id(),
                after.id(),
                Verdict::Breaking,
            );
        }
        let deprecated =
            |o: &Operation<'_>| o.operation.get("deprecated") == Some(&Value::Bool(true));
        if deprecated(before) != deprecated(after) {
            self.deprecated(&site, deprecated(before), deprecated(after));
        }
        self.parameters(&site, before, after);
        self.request_body(
            &site,
            before.operation.get("requestBody"),
            after.operation.get("requestBody"),
        );
        self.responses(&site, before.operation, after.operation);
        if before.operation.get("security").is_some() || after.operation.get("security").is_some() {
            let effective = |document: &Value, operation: &Value| {
                requirements(
                    operation
                        .get("security")
                        .or_else(|| document.get("security")),
                )
            };
            let (old, new) = (
                effective(self.base, before.operation),
                effective(self.head, after.operation),
            );
            self.requirements(&site.then("security").doc_child("security"), &old, &new);
        }
    }

    fn parameters(&mut self, site: &Site, before: &Operation<'a>, after: &Operation<'a>) {
        let (old, new) = (parameters(self.base, before), parameters(self.head, after));
        let keys: BTreeSet<&(String, String)> = old.keys().chain(new.keys()).collect();
        for key in keys {
            let (old_entry, new_entry) = (old.get(key), new.get(key));
            let name = new_entry
                .or(old_entry)
                .and_then(|(_, p, _)| p.get("name"))
                .and_then(Value::as_str)
                .unwrap_or(&key.1);
            // A parameter shared through `components/parameters` is named by its component.
            let component = new_entry.or(old_entry).and_then(|(c, _, _)| *c);
            let site = site
                .then(&format!("{} {name}", key.0))
                .entering(component.map(|c| format!("parameter {c}")).as_deref())
                .at(new_entry
                    .or(old_entry)
                    .map_or_else(String::new, |(_, _, at)| at.clone()));
            let (old_parameter, new_parameter) =
                (old_entry.map(|(_, p, _)| *p), new_entry.map(|(_, p, _)| *p));
            let required = |p: &Value| p.get("required") == Some(&Value::Bool(true));
            let schema = |p: &'a Value| p.get("schema").unwrap_or(&EMPTY);
            match (old_parameter, new_parameter) {
                (Some(_), None) => self.push(
                    &site,
                    ChangeKind::ParameterRemoved,
                    Some(name.to_owned()),
                    None,
                    Verdict::Breaking,
                ),
                (None, Some(parameter)) => {
                    let mut text = summary(self.head, schema(parameter));
                    if required(parameter) {
                        text.push_str(", required");
                    }
                    let verdict = if required(parameter) {
                        Verdict::Breaking
                    } else {
                        Verdict::NotBreaking
                    };
                    self.push(&site, ChangeKind::ParameterAdded, None, Some(text), verdict);
                }
                (Some(old), Some(new)) => {
                    self.required(&site, required(old), required(new));
                    let deprecated = |p: &Value| p.get("deprecated") == Some(&Value::Bool(true));
                    if deprecated(old) != deprecated(new) {
                        self.deprecated(&site, deprecated(old), deprecated(new));
                    }
                    let (old_style, new_style) = (style(&key.0, old), style(&key.0, new));
                    if old_style != new_style {
                        self.push(
                            &site,
                            ChangeKind::StyleChanged,
                            Some(old_style),
                            Some(new_style),
                            Verdict::Breaking,
                        );
                    }
                    self.schema(&site.doc_child("schema"), schema(old), schema(new));
                }
                (None, None) => {}
            }
        }
    }

    /// A change of `required` on a parameter, header, body or property, in the site's direction.
    pub(super) fn required(&mut self, site: &Site, before: bool, after: bool) {
        match (before, after) {
            (false, true) => self.push(
                site,
                ChangeKind::RequiredAdded,
                None,
                Some("required".to_owned()),
                site.direction.narrowing(true),
            ),
            (true, false) => self.push(
                site,
                ChangeKind::RequiredRemoved,
                Some("required".to_owned()),
                None,
                site.direction.narrowing(false),
            ),
            _ => {}
        }
    }

    fn request_body(&mut self, site: &Site, before: Option<&'a Value>, after: Option<&'a Value>) {
        let site = site.then("request").doc_child("requestBody");
        let required = |b: &Value| b.get("required") == Some(&Value::Bool(true));
        match (before, after) {
            (None, None) => {}
            (Some(_), None) => self.push(
                &site,
                ChangeKind::RequestBodyRemoved,
                Some("request body".to_owned()),
                None,
                Verdict::Breaking,
            ),
            (None, Some(body)) => {
                let body = follow(self.head, body);
                let verdict = if required(body) {
                    Verdict::Breaking
                } else {
                    Verdict::NotBreaking
                };
                self.push(
                    &site,
                    ChangeKind::RequestBodyAdded,
                    None,
                    Some(
                        if required(body) {
                            "required"
                        } else {
                            "optional"
                        }
                        .to_owned(),
                    ),
                    verdict,
                );
            }
            (Some(old), Some(new)) => {
                let site = site.at(follow_at(self.head, new, &site.doc));
                let (old, new) = (follow(self.base, old), follow(self.head, new));
                self.required(&site, required(old), required(new));
                self.content(&site, old, new, Direction::Request);
            }
        }
    }

    fn responses(&mut self, site: &Site, before: &'a Value, after: &'a Value) {
        let responses = |operation: &'a Value| -> BTreeMap<String, (&'a str, &'a Value)> {
            operation
                .get("responses")
                .and_then(Value::as_object)
                .map(|r| {
                    r.iter()
                        .map(|(k, v)| (k.to_ascii_uppercase(), (k.as_str(), v)))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (old, new) = (responses(before), responses(after));
        let site = site.with_direction(Direction::Response);
        for status in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
            // A response shared through `components/responses` is named by its component.
            let component = new
                .get(status)
                .or(old.get(status))
                .and_then(|(_, r)| component_name(r, "responses"));
            let key = new.get(status).or(old.get(status)).map_or("", |(k, _)| k);
            let status_site = site
                .then(status)
                .entering(component.map(|c| format!("response {c}")).as_deref())
                .doc_child("responses")
                .doc_child(key);
            match (old.get(status), new.get(status)) {
                (Some(_), None) => self.push(
                    &status_site,
                    ChangeKind::StatusRemoved,
                    Some(status.clone()),
                    None,
                    Verdict::Breaking,
                ),
                (None, Some(_)) => self.push(
                    &status_site,
                    ChangeKind::StatusAdded,
                    None,
                    Some(status.clone()),
                    Verdict::NotBreaking,
                ),
                (Some((_, old)), Some((_, new))) => {
                    let status_site = status_site.at(follow_at(self.head, new, &status_site.doc));
                    let (old, new) = (follow(self.base, old), follow(self.head, new));
                    self.headers(&status_site, old, new);
                    // The status and the media type read as one segment: `200 application/json`.
                    self.content(&status_site, old, new, Direction::Response);
                }
                (None, None) => {}
            }
        }
    }

    fn headers(&mut self, site: &Site, before: &'a Value, after: &'a Value) {
        let headers = |response: &'a Value| -> BTreeMap<String, (&'a str, &'a Value)> {
            response
                .get("headers")
                .and_then(Value::as_object)
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), (k.as_str(), v)))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (old, new) = (headers(before), headers(after));
        for key in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
            let (old_header, new_header) = (old.get(key), new.get(key));
            let name = new_header
                .or(old_header)
                .map(|(name, _)| *name)
                .unwrap_or(key);
            let site = site
                .then(&format!("header {name}"))
                .doc_child("headers")
                .doc_child(name);
            match (old_header, new_header) {
                (Some(_), None) => self.push(
                    &site,
                    ChangeKind::HeaderRemoved,
                    Some(name.to_owned()),
                    None,
                    Verdict::Breaking,
                ),
                (None, Some((_, header))) => {
                    let header = follow(self.head, header);
                    let schema = header.get("schema").unwrap_or(&EMPTY);
                    self.push(
                        &site,
                        ChangeKind::HeaderAdded,
                        None,
                        Some(summary(self.head, schema)),
                        Verdict::NotBreaking,
                    );
                }
                (Some((_, old)), Some((_, new))) => {
                    let site = site.at(follow_at(self.head, new, &site.doc));
                    let (old, new) = (follow(self.base, old), follow(self.head, new));
                    let required = |h: &Value| h.get("required") == Some(&Value::Bool(true));
                    self.required(&site, required(old), required(new));
                    self.schema(
                        &site.doc_child("schema"),
                        old.get("schema").unwrap_or(&EMPTY),
                        new.get("schema").unwrap_or(&EMPTY),
                    );
                }
                (None, None) => {}
            }
        }
    }

    /// Compares the media types of a request or response body. `site` ends with the part that
    /// the media type is appended to (`request`, or the status).
    fn content(&mut self, site: &Site, before: &'a Value, after: &'a Value, direction: Direction) {
        let content = |body: &'a Value| -> BTreeMap<&'a str, &'a Value> {
            body.get("content")
                .and_then(Value::as_object)
                .map(|c| c.iter().map(|(k, v)| (k.as_str(), v)).collect())
                .unwrap_or_default()
        };
        let (old, new) = (content(before), content(after));
        let site = site.with_direction(direction);
        for media in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
            let media_site = site
                .append(&format!(" {media}"))
                .doc_child("content")
                .doc_child(media);
            match (old.get(media), new.get(media)) {
                (Some(_), None) => self.push(
                    &media_site,
                    ChangeKind::MediaTypeRemoved,
                    Some((*media).to_owned()),
                    None,
                    Verdict::Breaking,
                ),
                (None, Some(_)) => self.push(
                    &media_site,
                    ChangeKind::MediaTypeAdded,
                    None,
                    Some((*media).to_owned()),
                    Verdict::NotBreaking,
                ),
                (Some(old), Some(new)) => self.schema(
                    &media_site.doc_child("schema"),
                    old.get("schema").unwrap_or(&EMPTY),
                    new.get("schema").unwrap_or(&EMPTY),
                ),
                (None, None) => {}
            }
        }
    }
}

impl Site {
    /// Text appended to the last segment of the location.
    fn append(&self, text: &str) -> Self {
        let mut site = self.clone();
        site.location.push_str(text);
        if let Some((name, pointer)) = &mut site.component
            && pointer.is_empty()
        {
            name.push_str(text);
        }
        site
    }
}

/// The alternative `{}`: no authentication needed.
const ANONYMOUS: &str = "(none)";

/// Security requirement alternatives as text: `basicAuth`, `apiKey + oauth[read]`, `(none)`.
fn requirements(security: Option<&Value>) -> Vec<String> {
    let Some(list) = security.and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(Value::as_object)
        .map(|requirement| {
            if requirement.is_empty() {
                return ANONYMOUS.to_owned();
            }
            requirement
                .iter()
                .map(|(name, scopes)| {
                    let scopes: Vec<String> = scopes
                        .as_array()
                        .map(|s| s.iter().map(show).collect())
                        .unwrap_or_default();
                    if scopes.is_empty() {
                        name.clone()
                    } else {
                        format!("{name}[{}]", scopes.join(", "))
                    }
                })
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect()
}

/// A security scheme as the client sees it: everything but its description and extensions.
fn scheme(document: &Value, scheme: &Value) -> String {
    let scheme = follow(document, scheme);
    let Some(object) = scheme.as_object() else {
        return show(scheme);
    };
    object
        .iter()
        .filter(|(k, _)| *k != "description" && !k.starts_with("x-"))
        .map(|(k, v)| format!("{k}: {}", show(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The name of the component of `section` (`parameters`, `responses`) that `value` refers to.
fn component_name<'a>(value: &'a Value, section: &str) -> Option<&'a str> {
    value
        .get("$ref")
        .and_then(Value::as_str)?
        .strip_prefix("#/components/")?
        .strip_prefix(section)?
        .strip_prefix('/')
}

/// Where `value` is defined in `document`: the final target of its `$ref`s (as a JSON pointer),
/// or `at` when it is not a reference or its chain does not resolve.
fn follow_at(document: &Value, value: &Value, at: &str) -> String {
    let chased = crate::pointer::chase(document, value);
    match chased.broken {
        None => chased.pointer_or(at),
        Some(_) => at.to_owned(),
    }
}

/// Follows a `$ref` to a parameter, request body, response or header.
fn follow<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    deref(document, value).0
}

/// One operation of a document.
struct Operation<'a> {
    method: &'static str,
    path: &'a str,
    operation: &'a Value,
    path_item: &'a Value,
}

impl Operation<'_> {
    fn label(&self) -> String {
        format!("{} {}", self.method.to_ascii_uppercase(), self.path)
    }

    /// The operation's JSON pointer.
    fn at(&self) -> String {
        crate::pointer::push(&crate::pointer::push("/paths", self.path), self.method)
    }

    fn id(&self) -> Option<String> {
        self.operation
            .get("operationId")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

/// Every operation, keyed by its path with parameter names blanked (`/attendees/{}`) and the
/// method's place in [`METHODS`], so a renamed path parameter still matches.
fn operations(document: &Value) -> BTreeMap<(String, usize), Operation<'_>> {
    let mut out = BTreeMap::new();
    let Some(paths) = document.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        let item = follow(document, item);
        for (index, method) in METHODS.iter().enumerate() {
            if let Some(operation) = item.get(*method) {
                out.insert(
                    (template(path), index),
                    Operation {
                        method,
                        path,
                        operation,
                        path_item: item,
                    },
                );
            }
        }
    }
    out
}

pub(super) fn template(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push('{');
            }
            '}' => {
                inside = false;
                out.push('}');
            }
            _ if inside => {}
            _ => out.push(c),
        }
    }
    out
}

/// The parameters of an operation, those of its path item included, keyed by where they go and
/// their name (lowercase for headers, which are case-insensitive). Path parameters are keyed
/// by position, so that renaming one is no change.
fn parameters<'a>(
    document: &'a Value,
    operation: &Operation<'a>,
) -> BTreeMap<(String, String), (Option<&'a str>, &'a Value, String)> {
    let mut out = BTreeMap::new();
    let item_at = crate::pointer::push("/paths", operation.path);
    let lists = [
        (
            operation.path_item.get("parameters"),
            crate::pointer::push(&item_at, "parameters"),
        ),
        (
            operation.operation.get("parameters"),
            crate::pointer::push(&operation.at(), "parameters"),
        ),
    ];
    for (list, list_at) in lists {
        let Some(list) = list.and_then(Value::as_array) else {
            continue;
        };
        for (index, parameter) in list.iter().enumerate() {
            let at = follow_at(
                document,
                parameter,
                &crate::pointer::push(&list_at, &index.to_string()),
            );
            let component = component_name(parameter, "parameters");
            let parameter = follow(document, parameter);
            let place = parameter
                .get("in")
                .and_then(Value::as_str)
                .unwrap_or("query");
            let name = parameter.get("name").and_then(Value::as_str).unwrap_or("");
            let key = match place {
                "header" => name.to_ascii_lowercase(),
                "path" => operation
                    .path
                    .split('/')
                    .filter(|s| s.starts_with('{'))
                    .position(|s| s.trim_matches(|c| c == '{' || c == '}') == name)
                    .map_or_else(|| name.to_owned(), |index| format!("#{index}")),
                _ => name.to_owned(),
            };
            // An operation's parameter replaces its path item's of the same name and place.
            out.insert((place.to_owned(), key), (component, parameter, at));
        }
    }
    out
}

/// A parameter's serialisation, with the defaults of its place spelled out.
fn style(place: &str, parameter: &Value) -> String {
    let default_style = match place {
        "query" | "cookie" => "form",
        _ => "simple",
    };
    let style = parameter
        .get("style")
        .and_then(Value::as_str)
        .unwrap_or(default_style);
    let explode = parameter
        .get("explode")
        .and_then(Value::as_bool)
        .unwrap_or(style == "form");
    format!("style {style}, explode {explode}")
}

/// Every URL a server's template produces with its variables' listed values (or defaults).
fn expansions(server: &Value) -> Vec<String> {
    let Some(url) = server.get("url").and_then(Value::as_str) else {
        return Vec::new();
    };
    let mut urls = vec![url.to_owned()];
    let Some(variables) = server.get("variables").and_then(Value::as_object) else {
        return urls;
    };
    for (name, variable) in variables {
        let mut values: Vec<String> = variable
            .get("enum")
            .and_then(Value::as_array)
            .map(|v| v.iter().map(show).collect())
            .unwrap_or_default();
        if values.is_empty() {
            values.extend(variable.get("default").map(show));
        }
        let placeholder = format!("{{{name}}}");
        urls = urls
            .iter()
            .flat_map(|url| values.iter().map(|v| url.replace(&placeholder, v)))
            .take(10_000)
            .collect();
    }
    urls
}
