//! The live scenario, planned from the spec: for every resource of
//! `cliniko_types::resource::RESOURCES`, in order, every list route (following `links.next`,
//! one filter per filterable field whose value the first page gives), the nested list routes
//! (with parents the resource's rules find), a get and a missing get; then, when writes are
//! allowed, create → get → update → replace → each state change → delete, with the spec's own
//! request examples as bodies; then the error paths a well-behaved client can reach (422, 400,
//! 401, no `User-Agent`, 404) and, with `provoke_limits`, 413 and 429 on the first resource once
//! every resource was read.
//!
//! Only what OpenAPI cannot say comes from a resource's rules module (see [`super::rules`]):
//! which parent a nested route takes, which record may be cancelled, which IDs a create needs.

use cliniko_spec::Spec;
use cliniko_types::facts::{self, FilterKind, Operation};
use cliniko_types::resource::{RESOURCES, Resource, Role};
use serde_json::{Value, json};

use super::rules::{self, Rules};
use super::{Credentials, LiveError, Request, Session};

/// An ID no record has (the largest 63-bit number).
pub(super) const MISSING_ID: &str = "9223372036854775807";

/// A timestamp every record was changed after.
const LONG_AGO: &str = "2000-01-01T00:00:00Z";

impl Session<'_> {
    pub(super) async fn scenario(&mut self) -> Result<(), LiveError> {
        let base = self.options.base_url.trim_end_matches('/').to_owned();
        let spec = Spec::embedded().map_err(|error| LiveError::Client(error.to_string()))?;
        for resource in RESOURCES {
            let mut rules = rules::for_resource(resource, self.options);
            self.resource(&base, &spec, resource, rules.as_mut())
                .await?;
        }
        // The limits last, once every resource was read: a 429 would spoil what follows it.
        let Some(first) = RESOURCES.first() else {
            return Ok(());
        };
        if !self.options.provoke_limits {
            return Ok(());
        }
        if self.writes
            && let Some(create) = operation(first, Role::Create)
        {
            self.oversized_body(&format!("{base}{}", create.path))
                .await?;
        }
        if let Some(list) = operation(first, Role::List) {
            self.rate_limit(&format!("{base}{}", list.path)).await?;
        }
        Ok(())
    }

    async fn resource(
        &mut self,
        base: &str,
        spec: &Spec,
        resource: &Resource,
        rules: &mut dyn Rules,
    ) -> Result<(), LiveError> {
        let mut records = Vec::new();
        if let Some(list) = operation(resource, Role::List) {
            let url = format!("{base}{}", list.path);
            let page = self
                .get(
                    &format!("list {}", resource.plural),
                    &format!("{url}?per_page=5"),
                    Some(200),
                )
                .await?;
            records = page
                .as_ref()
                .and_then(|b| b.get(resource.list_key))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let total = page
                .as_ref()
                .and_then(|b| b.get("total_entries"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            match page
                .as_ref()
                .and_then(|b| b.pointer("/links/next"))
                .and_then(Value::as_str)
            {
                Some(next) => {
                    let next = next.to_owned();
                    self.get("follow links.next", &next, Some(200)).await?;
                }
                // One page holds them all: there is no next page to follow.
                None if total <= 5 => {}
                None => self.skip(
                    "follow links.next",
                    &format!(
                        "the first page of {total} {} has no `links.next`",
                        resource.plural
                    ),
                ),
            }
            for field in list.filters {
                let Some(condition) = condition(field.name, field.kind, &records, rules) else {
                    continue;
                };
                let sort = if field.kind == FilterKind::DateTime {
                    format!("&sort={}:desc", field.name)
                } else {
                    String::new()
                };
                self.get(
                    &format!("filter {} by {}", resource.plural, field.name),
                    &format!("{url}?per_page=5{sort}&q%5B%5D={}", encode(&condition)),
                    Some(200),
                )
                .await?;
            }
        }
        for role in [Role::ListCancelled, Role::ListDeleted, Role::ListArchived] {
            if let Some(list) = operation(resource, role) {
                self.get(
                    &format!("{} {}", list_step(role), resource.plural),
                    &format!("{base}{}?per_page=5", list.path),
                    Some(200),
                )
                .await?;
            }
        }
        for id in resource.operations_with(Role::ListNested) {
            let Some(nested) = facts::operation(id) else {
                continue;
            };
            let parent = parent_of(nested);
            let mut found = false;
            for candidate in rules.parents(nested, &records) {
                let url = format!("{base}{}", with_id(nested.path, &candidate));
                let (status, _) = self
                    .request(Request {
                        step: &format!("list a {parent}'s {}", resource.plural),
                        method: reqwest::Method::GET,
                        url,
                        body: None,
                        credentials: Credentials::Valid,
                        expected: None,
                    })
                    .await?;
                if status == 200 {
                    rules.found_parent(nested, &candidate);
                    found = true;
                    break;
                }
            }
            if !found {
                self.get(
                    &format!("list an unknown {parent}'s {}", resource.plural),
                    &format!("{base}{}", with_id(nested.path, MISSING_ID)),
                    Some(404),
                )
                .await?;
            }
        }
        let get = operation(resource, Role::Get);
        if let Some(get) = get {
            let one = article(resource.name);
            match records
                .first()
                .and_then(|r| r.get("id"))
                .and_then(Value::as_str)
            {
                Some(id) => {
                    self.get(
                        &format!("get {one}"),
                        &format!("{base}{}", with_id(get.path, id)),
                        Some(200),
                    )
                    .await?;
                }
                None => self.skip(&format!("get {one}"), "the first page is empty"),
            }
            self.get(
                &format!("get a missing {}", resource.name),
                &format!("{base}{}", with_id(get.path, MISSING_ID)),
                Some(404),
            )
            .await?;
        }
        let created = if self.writes {
            self.lifecycle(base, spec, resource, rules, &records)
                .await?
        } else {
            None
        };
        self.error_paths(base, resource, rules, created.as_deref())
            .await
    }

    /// create → get → update → replace → state changes → delete, each state change that ends a
    /// record's life on a record of its own. Returns the ID of the first record created.
    async fn lifecycle(
        &mut self,
        base: &str,
        spec: &Spec,
        resource: &Resource,
        rules: &dyn Rules,
        records: &[Value],
    ) -> Result<Option<String>, LiveError> {
        let Some(create) = operation(resource, Role::Create) else {
            return Ok(None);
        };
        let one = article(resource.name);
        let roles = [
            Role::Get,
            Role::Update,
            Role::Replace,
            Role::Cancel,
            Role::Archive,
            Role::Unarchive,
            Role::Delete,
        ];
        let body =
            request_example(spec, create).and_then(|example| rules.create_body(example, records));
        let Some(body) = body else {
            for role in roles
                .into_iter()
                .filter(|r| operation(resource, *r).is_some())
            {
                self.skip(
                    &step_for(role, resource),
                    &format!("no request example or IDs to create {one} with"),
                );
            }
            return Ok(None);
        };
        let created = self.create(base, create, &one, &body).await?;
        let Some(id) = created.clone() else {
            for role in roles
                .into_iter()
                .filter(|r| operation(resource, *r).is_some())
            {
                self.skip(&step_for(role, resource), "the create gave no record");
            }
            return Ok(None);
        };
        // The record the life's steps run on; a step that ends it (archive, delete) is taken by
        // a new record for the next one.
        let mut current = id.clone();
        let mut ended = false;
        for role in roles {
            let Some(op) = operation(resource, role) else {
                continue;
            };
            if ended {
                match self.create(base, create, &one, &body).await? {
                    Some(fresh) => current = fresh,
                    None => {
                        self.skip(&step_for(role, resource), "the create gave no record");
                        continue;
                    }
                }
            }
            let url = format!("{base}{}", with_id(op.path, &current));
            let expected = success_status(spec, op);
            let step = step_for(role, resource);
            let body = match role {
                Role::Update | Role::Replace | Role::Cancel | Role::Archive | Role::Unarchive => {
                    request_example(spec, op)
                }
                _ => None,
            };
            let (status, _) = self
                .request(Request {
                    step: &step,
                    method: method(op),
                    url: url.clone(),
                    body: body.map(|b| b.to_string().into_bytes()),
                    credentials: Credentials::Valid,
                    expected,
                })
                .await?;
            // A state change hides the record from its routes; the `*` filter on the field that
            // records it brings it back (`q[]=cancelled_at:*`).
            if let (Some(field), Some(get)) =
                (rules.hidden_by(role), operation(resource, Role::Get))
                && (200..300).contains(&status)
                && get.filter(field).is_some()
            {
                self.get(
                    &format!("get {} {}", article(past(role)), resource.name),
                    &format!("{base}{}?q%5B%5D={field}:*", with_id(get.path, &current)),
                    Some(200),
                )
                .await?;
            }
            // Cancel, archive and delete end a record's life (an archived one is brought back
            // when the resource can unarchive, so unarchive runs on it).
            ended = match role {
                Role::Cancel | Role::Delete => true,
                Role::Archive => operation(resource, Role::Unarchive).is_none(),
                _ => false,
            };
        }
        Ok(created)
    }

    async fn create(
        &mut self,
        base: &str,
        create: &Operation,
        one: &str,
        body: &Value,
    ) -> Result<Option<String>, LiveError> {
        let created = self
            .send_json(
                &format!("create {one}"),
                reqwest::Method::POST,
                &format!("{base}{}", create.path),
                body,
                Some(201),
            )
            .await?;
        Ok(created
            .as_ref()
            .and_then(|b| b.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    async fn error_paths(
        &mut self,
        base: &str,
        resource: &Resource,
        rules: &dyn Rules,
        some_id: Option<&str>,
    ) -> Result<(), LiveError> {
        let create = operation(resource, Role::Create);
        if self.writes {
            if let Some(create) = create {
                let url = format!("{base}{}", create.path);
                self.send_json(
                    &format!(
                        "create {} without its required fields",
                        article(resource.name)
                    ),
                    reqwest::Method::POST,
                    &url,
                    &json!({}),
                    Some(422),
                )
                .await?;
            }
            for (step, op, body, expected) in rules.invalid_writes(some_id.unwrap_or(MISSING_ID)) {
                let url = format!("{base}{}", with_id(op.path, some_id.unwrap_or(MISSING_ID)));
                self.send_json(&step, method(op), &url, &body, expected)
                    .await?;
            }
            if let Some(update) = operation(resource, Role::Update) {
                self.send_json(
                    &format!("update a missing {}", resource.name),
                    method(update),
                    &format!("{base}{}", with_id(update.path, MISSING_ID)),
                    &json!({}),
                    Some(404),
                )
                .await?;
            }
            if let Some(create) = create {
                self.request(Request {
                    step: &format!("create {} with a malformed body", article(resource.name)),
                    method: reqwest::Method::POST,
                    url: format!("{base}{}", create.path),
                    body: Some(b"{\"id\":".to_vec()),
                    credentials: Credentials::Valid,
                    expected: Some(400),
                })
                .await?;
            }
        }
        let Some(list) = operation(resource, Role::List) else {
            return Ok(());
        };
        let url = format!("{base}{}", list.path);
        if !list.filters.is_empty() {
            self.get(
                &format!("filter {} on an unknown field", resource.plural),
                &format!("{url}?q%5B%5D=colour:%3Dred"),
                Some(400),
            )
            .await?;
        }
        self.request(Request {
            step: &format!("list {} with a wrong key", resource.plural),
            method: reqwest::Method::GET,
            url: url.clone(),
            body: None,
            credentials: Credentials::WrongKey,
            expected: Some(401),
        })
        .await?;
        self.request(Request {
            step: &format!("list {} without a User-Agent", resource.plural),
            method: reqwest::Method::GET,
            url: url.clone(),
            body: None,
            credentials: Credentials::NoUserAgent,
            expected: None,
        })
        .await?;
        Ok(())
    }
}

/// The spec's operation with `role` (the first, for a role several have).
fn operation(resource: &Resource, role: Role) -> Option<&'static Operation> {
    resource.operation(role).and_then(facts::operation)
}

/// `path` with its one path parameter (`{id}`, `{patient_case_id}`) replaced by `id`.
pub(super) fn with_id(path: &str, id: &str) -> String {
    match (path.find('{'), path.find('}')) {
        (Some(open), Some(close)) if open < close => {
            format!("{}{id}{}", &path[..open], &path[close + 1..])
        }
        _ => path.to_owned(),
    }
}

fn method(operation: &Operation) -> reqwest::Method {
    reqwest::Method::from_bytes(operation.method.as_bytes()).unwrap_or(reqwest::Method::GET)
}

/// "an attendee", "a patient".
fn article(name: &str) -> String {
    let name = name.replace('_', " ");
    if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {name}")
    } else {
        format!("a {name}")
    }
}

/// The step that calls `role` on the record the scenario created.
fn step_for(role: Role, resource: &Resource) -> String {
    let one = article(resource.name);
    match role {
        Role::Get => format!("get the new {}", resource.name.replace('_', " ")),
        other => format!("{} {one}", verb(other)),
    }
}

fn past(role: Role) -> &'static str {
    match role {
        Role::Cancel => "cancelled",
        Role::Archive => "archived",
        Role::Unarchive => "unarchived",
        Role::Delete => "deleted",
        _ => "changed",
    }
}

/// What a nested route's parent is called: `/group_appointments/{id}/attendees` → "group
/// appointment".
fn parent_of(nested: &Operation) -> String {
    rules::parent_name(nested).replace('_', " ")
}

fn verb(role: Role) -> &'static str {
    match role {
        Role::Get => "get",
        Role::Update => "update",
        Role::Replace => "replace",
        Role::Cancel => "cancel",
        Role::Archive => "archive",
        Role::Unarchive => "unarchive",
        Role::Delete => "delete",
        _ => "call",
    }
}

fn list_step(role: Role) -> &'static str {
    match role {
        Role::ListCancelled => "list cancelled",
        Role::ListDeleted => "list deleted",
        Role::ListArchived => "list archived",
        _ => "list",
    }
}

/// One condition on `field` that the first page's records make meaningful, with a value that is
/// no personal data (it is written into recorded URLs): an ID, a time, `true`, or `?` (not null).
fn condition(name: &str, kind: FilterKind, records: &[Value], rules: &dyn Rules) -> Option<String> {
    match kind {
        FilterKind::Numeric => {
            let value = records
                .iter()
                .find_map(|record| rules.id_of(record, name))?;
            Some(format!("{name}:={value}"))
        }
        FilterKind::DateTime => Some(format!("{name}:>{LONG_AGO}")),
        FilterKind::Boolean => Some(format!("{name}:=true")),
        _ => Some(format!("{name}:?")),
    }
}

/// The query-string form of a condition.
fn encode(condition: &str) -> String {
    url::form_urlencoded::byte_serialize(condition.as_bytes()).collect()
}

/// The operation's request body example: the media type's `example`, its first `examples`
/// entry, or its schema's `example`.
pub(super) fn request_example(spec: &Spec, operation: &Operation) -> Option<Value> {
    let document = spec.raw();
    let at = cliniko_spec::pointer::push(
        &cliniko_spec::pointer::push("/paths", operation.path),
        &operation.method.to_lowercase(),
    );
    let body = document.pointer(&format!("{at}/requestBody"))?;
    let body = cliniko_spec::pointer::follow(document, body);
    let media = body.pointer("/content/application~1json")?;
    if let Some(example) = media.get("example") {
        return Some(example.clone());
    }
    if let Some(first) = media
        .get("examples")
        .and_then(Value::as_object)
        .and_then(|examples| examples.values().next())
    {
        return cliniko_spec::pointer::follow(document, first)
            .get("value")
            .cloned();
    }
    let schema = cliniko_spec::pointer::follow(document, media.get("schema")?);
    schema.get("example").cloned()
}

/// The operation's one success status (`201`, `204`), from the spec.
fn success_status(spec: &Spec, operation: &Operation) -> Option<u16> {
    let at = cliniko_spec::pointer::push(
        &cliniko_spec::pointer::push("/paths", operation.path),
        &operation.method.to_lowercase(),
    );
    spec.raw()
        .pointer(&format!("{at}/responses"))?
        .as_object()?
        .keys()
        .filter_map(|status| status.parse::<u16>().ok())
        .find(|status| (200..300).contains(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_ids_and_articles() {
        assert_eq!(
            with_id("/attendees/{id}/cancel", "7"),
            "/attendees/7/cancel"
        );
        assert_eq!(with_id("/attendees", "7"), "/attendees");
        assert_eq!(article("attendee"), "an attendee");
        assert_eq!(article("patient"), "a patient");
        let nested = facts::operation("listGroupAppointmentAttendees").expect("in the spec");
        assert_eq!(parent_of(nested), "group appointment");
    }

    #[test]
    fn every_create_of_the_spec_has_a_request_example() {
        let spec = Spec::embedded().expect("the spec loads");
        for resource in RESOURCES {
            if let Some(create) = operation(resource, Role::Create) {
                assert!(
                    request_example(&spec, create).is_some(),
                    "{} has no request example",
                    create.id
                );
                assert_eq!(success_status(&spec, create), Some(201), "{}", create.id);
            }
        }
    }
}
