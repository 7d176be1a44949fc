//! The spec's resources: what OpenAPI cannot say about which operations and schemas make up one
//! Cliniko resource, read from the root `x-cliniko-resources` extension, and the marks on
//! properties that hold personal data or capability URLs.
//!
//! ```yaml
//! x-cliniko-resources:
//!   - name: attendee            # singular, snake case: the CLI group, the names in messages
//!     plural: attendees
//!     tag: Attendee             # every operation with this tag has a role below
//!     schema: Attendee          # the item schema, under components/schemas
//!     list: {schema: AttendeeList, key: attendees}
//!     operations:               # role: operationId (list-nested: a list of them)
//!       list: listAttendees
//!       get: getAttendee
//! ```
//!
//! [`Spec::resources`] checks that every role resolves: the operation exists, carries the resource's tag, has
//! the role's method, and (for the reads) answers with the resource's schema; the list schema holds
//! an array of the item schema under its key; and no operation of the tag is left without a role.
//! Each problem names its JSON pointer.
//!
//! A property is marked with `x-cliniko-personal: true` (a patient's name, date of birth, notes:
//! scrubbed from anything written to disk) or `x-cliniko-capability-url: true` (a URL that grants
//! what it names to whoever holds it: secret). [`Spec::marks`] lists them across `components/schemas`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::pointer::{escape, push};
use crate::{METHODS, Problem, Spec};

/// What an operation does for its resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The main list route (`GET /attendees`).
    List,
    /// The cancelled ones (`GET /attendees/cancelled`).
    ListCancelled,
    /// The deleted ones (`GET /attendees/deleted`).
    ListDeleted,
    /// The archived ones.
    ListArchived,
    /// A list nested under another resource (`GET /patient_cases/{id}/attendees`).
    ListNested,
    /// One record by its ID.
    Get,
    /// A new record (`POST`).
    Create,
    /// A partial update (`PATCH`).
    Update,
    /// A whole update (`PUT`).
    Replace,
    /// A cancellation.
    Cancel,
    /// An archive.
    Archive,
    /// An unarchive.
    Unarchive,
    /// A delete (`DELETE`; Cliniko may document it as archiving).
    Delete,
}

impl Role {
    /// Every role, in the order the spec lists them.
    pub const ALL: [Role; 13] = [
        Role::List,
        Role::ListCancelled,
        Role::ListDeleted,
        Role::ListArchived,
        Role::ListNested,
        Role::Get,
        Role::Create,
        Role::Update,
        Role::Replace,
        Role::Cancel,
        Role::Archive,
        Role::Unarchive,
        Role::Delete,
    ];

    /// The key of this role under `operations`.
    pub fn key(self) -> &'static str {
        match self {
            Role::List => "list",
            Role::ListCancelled => "list-cancelled",
            Role::ListDeleted => "list-deleted",
            Role::ListArchived => "list-archived",
            Role::ListNested => "list-nested",
            Role::Get => "get",
            Role::Create => "create",
            Role::Update => "update",
            Role::Replace => "replace",
            Role::Cancel => "cancel",
            Role::Archive => "archive",
            Role::Unarchive => "unarchive",
            Role::Delete => "delete",
        }
    }

    /// The role a key names.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.key() == key)
    }

    /// Whether the operation answers with a page of the resource.
    pub fn is_list(self) -> bool {
        matches!(
            self,
            Role::List
                | Role::ListCancelled
                | Role::ListDeleted
                | Role::ListArchived
                | Role::ListNested
        )
    }

    /// The methods an operation of this role may have.
    fn methods(self) -> &'static [&'static str] {
        match self {
            _ if self.is_list() => &["get"],
            Role::Get => &["get"],
            Role::Create => &["post"],
            Role::Update => &["patch"],
            Role::Replace => &["put"],
            Role::Cancel | Role::Archive | Role::Unarchive => &["post", "patch", "put"],
            Role::Delete => &["delete"],
            _ => &[],
        }
    }
}

/// One resource, as `x-cliniko-resources` declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// Singular, snake case (`attendee`).
    pub name: String,
    /// Plural, snake case (`attendees`).
    pub plural: String,
    /// The tag its operations carry.
    pub tag: String,
    /// The item schema's name under `components/schemas`.
    pub schema: String,
    /// The list schema's name.
    pub list_schema: String,
    /// The property of the list schema that holds the page's records.
    pub list_key: String,
    /// Its operations, each with its role, in the order of [`Role::ALL`] (nested lists in the
    /// order given).
    pub operations: Vec<(Role, String)>,
}

impl Resource {
    /// The operations that have `role`.
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &str> {
        self.operations
            .iter()
            .filter(move |(r, _)| *r == role)
            .map(|(_, id)| id.as_str())
    }
}

/// What a marked property holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MarkKind {
    /// Personal data (`x-cliniko-personal: true`).
    Personal,
    /// A URL that grants what it names (`x-cliniko-capability-url: true`).
    CapabilityUrl,
}

/// A property that carries a mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The schema under `components/schemas` that holds it.
    pub schema: String,
    /// The JSON pointer of the property's schema in the document.
    pub pointer: String,
    /// The property's name.
    pub property: String,
    /// The mark.
    pub kind: MarkKind,
    /// The property's `format` (of its non-null branch), if any.
    pub format: Option<String>,
    /// The property's `example`, when it has a `pattern` (a placeholder must match it, and the
    /// spec's example does, and is public).
    pub pattern_example: Option<String>,
}

/// The pointer of the root extension.
pub const RESOURCES_POINTER: &str = "/x-cliniko-resources";

/// Reads `x-cliniko-resources`, with a problem for each role, schema or key that does not resolve.
/// A spec without the extension has no resources (and no problem).
pub(crate) fn read(spec: &Spec) -> Result<Vec<Resource>, Vec<Problem>> {
    let document = spec.raw();
    let mut problems = Vec::new();
    let mut resources = Vec::new();
    let Some(declared) = document.get("x-cliniko-resources") else {
        return Ok(resources);
    };
    let Some(items) = declared.as_array() else {
        return Err(vec![Problem::new(
            RESOURCES_POINTER.to_owned(),
            "expected a list of resources".to_owned(),
        )]);
    };
    let operations = operations_by_id(document);
    let mut roles_of: BTreeMap<&str, String> = BTreeMap::new();
    for (index, item) in items.iter().enumerate() {
        let at = push(RESOURCES_POINTER, &index.to_string());
        let mut reader = Reader {
            document,
            at: &at,
            item,
            problems: &mut problems,
        };
        let name = reader.name("name");
        let plural = reader.name("plural");
        let tag = reader.string("tag");
        let schema = reader.schema("schema");
        let list_schema = reader.schema("list/schema");
        let list_key = reader.string("list/key");
        if !list_schema.is_empty() && !list_key.is_empty() && !schema.is_empty() {
            reader.list_holds(&list_schema, &list_key, &schema);
        }
        let mut resource = Resource {
            name,
            plural,
            tag,
            schema,
            list_schema,
            list_key,
            operations: Vec::new(),
        };
        let operations_at = push(&at, "operations");
        match item.get("operations").and_then(Value::as_object) {
            None => problems.push(Problem::new(
                operations_at.clone(),
                "expected `operations`: a map from role to operationId".to_owned(),
            )),
            Some(map) => {
                for key in map.keys() {
                    if Role::from_key(key).is_none() {
                        problems.push(Problem::new(
                            push(&operations_at, key),
                            format!(
                                "unknown role `{key}`; expected one of {}",
                                Role::ALL.map(Role::key).join(", ")
                            ),
                        ));
                    }
                }
                for role in Role::ALL {
                    let Some(value) = map.get(role.key()) else {
                        continue;
                    };
                    let role_at = push(&operations_at, role.key());
                    let ids: Vec<(String, &str)> = match (role, value) {
                        (Role::ListNested, Value::Array(ids)) => ids
                            .iter()
                            .enumerate()
                            .map(|(i, id)| {
                                (push(&role_at, &i.to_string()), id.as_str().unwrap_or(""))
                            })
                            .collect(),
                        (Role::ListNested, _) => {
                            problems.push(Problem::new(
                                role_at,
                                "expected a list of operationIds".to_owned(),
                            ));
                            continue;
                        }
                        (_, Value::String(id)) => vec![(role_at, id.as_str())],
                        _ => {
                            problems
                                .push(Problem::new(role_at, "expected an operationId".to_owned()));
                            continue;
                        }
                    };
                    for (id_at, id) in ids {
                        let Some(operation) = operations.get(id) else {
                            problems.push(Problem::new(
                                id_at,
                                format!("no operation has the operationId `{id}`"),
                            ));
                            continue;
                        };
                        if let Some(earlier) = roles_of.insert(operation.id, id_at.clone()) {
                            problems.push(Problem::new(
                                id_at.clone(),
                                format!("`{id}` already has a role at {earlier}"),
                            ));
                        }
                        check_operation(
                            document,
                            &resource,
                            role,
                            operation,
                            &id_at,
                            &mut problems,
                        );
                        resource.operations.push((role, id.to_owned()));
                    }
                }
            }
        }
        resources.push(resource);
    }
    // Every operation of a resource's tag has a role, so that no route is left out of what is
    // generated per resource.
    for resource in &resources {
        for operation in operations.values() {
            if operation.tags.contains(&resource.tag.as_str())
                && !roles_of.contains_key(operation.id)
            {
                problems.push(Problem::new(
                    operation.pointer.clone(),
                    format!(
                        "`{}` has the tag `{}` but no role in x-cliniko-resources (resource `{}`)",
                        operation.id, resource.tag, resource.name
                    ),
                ));
            }
        }
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, resource) in resources.iter().enumerate() {
        if let Some(first) = names.insert(&resource.name, index) {
            problems.push(Problem::new(
                push(&push(RESOURCES_POINTER, &index.to_string()), "name"),
                format!(
                    "resource `{}` is declared twice (first at index {first})",
                    resource.name
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok(resources)
    } else {
        Err(problems)
    }
}

/// Every marked property under `components/schemas` (nested objects and array items included),
/// in document order, with a problem for a mark that is not `true` or a capability URL that is
/// not a `uri`.
pub(crate) fn marks(spec: &Spec) -> Result<Vec<Mark>, Vec<Problem>> {
    let mut marks = Vec::new();
    let mut problems = Vec::new();
    let document = spec.raw();
    let Some(schemas) = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return Ok(marks);
    };
    for (name, schema) in schemas {
        let at = push("/components/schemas", name);
        walk_marks(document, name, schema, &at, &mut marks, &mut problems);
    }
    if problems.is_empty() {
        Ok(marks)
    } else {
        Err(problems)
    }
}

fn walk_marks(
    document: &Value,
    schema_name: &str,
    schema: &Value,
    at: &str,
    marks: &mut Vec<Mark>,
    problems: &mut Vec<Problem>,
) {
    let Some(object) = schema.as_object() else {
        return;
    };
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        let properties_at = push(at, "properties");
        for (property, child) in properties {
            let child_at = push(&properties_at, property);
            for (key, kind) in [
                ("x-cliniko-personal", MarkKind::Personal),
                ("x-cliniko-capability-url", MarkKind::CapabilityUrl),
            ] {
                match child.get(key) {
                    None | Some(Value::Bool(false)) => {}
                    Some(Value::Bool(true)) => {
                        let format = format_of(document, child);
                        let patterned = pattern_of(document, child);
                        let pattern_example = patterned.and_then(|(_, example)| example);
                        if patterned.is_some() && pattern_example.is_none() {
                            problems.push(Problem::new(
                                push(&child_at, key),
                                "a marked property with a `pattern` needs an `example`: its \
                                 placeholder in what is written to disk"
                                    .to_owned(),
                            ));
                        }
                        if kind == MarkKind::CapabilityUrl && format.as_deref() != Some("uri") {
                            problems.push(Problem::new(
                                push(&child_at, key),
                                "a capability URL must be a string of format `uri`".to_owned(),
                            ));
                        }
                        marks.push(Mark {
                            schema: schema_name.to_owned(),
                            pointer: child_at.clone(),
                            property: property.clone(),
                            kind,
                            format,
                            pattern_example: pattern_example.map(str::to_owned),
                        });
                    }
                    Some(_) => problems.push(Problem::new(
                        push(&child_at, key),
                        format!("expected `{key}: true`"),
                    )),
                }
            }
            walk_marks(document, schema_name, child, &child_at, marks, problems);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = object.get(key).filter(|c| c.is_object()) {
            walk_marks(
                document,
                schema_name,
                child,
                &push(at, key),
                marks,
                problems,
            );
        }
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for (index, child) in object
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            walk_marks(
                document,
                schema_name,
                child,
                &push(&push(at, key), &index.to_string()),
                marks,
                problems,
            );
        }
    }
}

/// The `pattern` of a string property (looking through a `$ref` and a nullable `oneOf`) and its
/// `example`, if it has a pattern.
fn pattern_of<'a>(document: &'a Value, schema: &'a Value) -> Option<(&'a str, Option<&'a str>)> {
    let mut schema = crate::pointer::follow(document, schema);
    if let Some(branch) = schema.as_object().and_then(crate::nullable_one_of_branch) {
        schema = crate::pointer::follow(document, branch);
    }
    let pattern = schema.get("pattern").and_then(Value::as_str)?;
    Some((pattern, schema.get("example").and_then(Value::as_str)))
}

/// The `format` of a property, looking through a `$ref` and the non-null branch of a nullable
/// `oneOf`.
fn format_of(document: &Value, schema: &Value) -> Option<String> {
    let schema = crate::pointer::follow(document, schema);
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        return Some(format.to_owned());
    }
    let branch = schema.as_object().and_then(crate::nullable_one_of_branch)?;
    let branch = crate::pointer::follow(document, branch);
    branch
        .get("format")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

struct Reader<'a, 'p> {
    document: &'a Value,
    at: &'p str,
    item: &'a Value,
    problems: &'p mut Vec<Problem>,
}

impl Reader<'_, '_> {
    fn pointer(&self, path: &str) -> String {
        path.split('/')
            .fold(self.at.to_owned(), |at, token| push(&at, token))
    }

    fn string(&mut self, path: &str) -> String {
        let pointer = format!("/{path}");
        match self.item.pointer(&pointer).map(Value::as_str) {
            Some(Some(text)) if !text.is_empty() => text.to_owned(),
            _ => {
                self.problems.push(Problem::new(
                    self.pointer(path),
                    format!("expected a non-empty string `{path}`"),
                ));
                String::new()
            }
        }
    }

    fn name(&mut self, path: &str) -> String {
        let name = self.string(path);
        if !name.is_empty()
            && !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            self.problems.push(Problem::new(
                self.pointer(path),
                format!("`{name}` is not snake case (a-z, 0-9, _)"),
            ));
        }
        name
    }

    fn schema(&mut self, path: &str) -> String {
        let name = self.string(path);
        if !name.is_empty()
            && self
                .document
                .pointer(&push("/components/schemas", &name))
                .is_none()
        {
            self.problems.push(Problem::new(
                self.pointer(path),
                format!("no schema `{name}` under components/schemas"),
            ));
        }
        name
    }

    fn list_holds(&mut self, list: &str, key: &str, item: &str) {
        let list_at = push("/components/schemas", list);
        let Some(schema) = self.document.pointer(&list_at) else {
            return;
        };
        let items = schema
            .pointer(&format!("/properties/{}/items/$ref", escape(key)))
            .and_then(Value::as_str);
        let expected = format!("#/components/schemas/{item}");
        if items != Some(expected.as_str()) {
            self.problems.push(Problem::new(
                self.pointer("list/key"),
                format!("{list}'s property `{key}` must be an array of `$ref: '{expected}'`"),
            ));
        }
        let required = schema
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|n| n.as_str() == Some(key)));
        if !required {
            self.problems.push(Problem::new(
                self.pointer("list/key"),
                format!("{list} must list `{key}` as required"),
            ));
        }
    }
}

/// One operation, where it is and what it says.
struct OperationAt<'a> {
    id: &'a str,
    method: &'static str,
    pointer: String,
    tags: Vec<&'a str>,
    operation: &'a Value,
}

fn operations_by_id(document: &Value) -> BTreeMap<&str, OperationAt<'_>> {
    let mut out = BTreeMap::new();
    for (path, item) in document
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for method in METHODS {
            let Some(operation) = item.get(*method) else {
                continue;
            };
            let Some(id) = operation.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            out.insert(
                id,
                OperationAt {
                    id,
                    method,
                    pointer: push(&push("/paths", path), method),
                    tags: operation
                        .get("tags")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect(),
                    operation,
                },
            );
        }
    }
    out
}

/// The role's method, the resource's tag, and for reads the schema of the success answer.
fn check_operation(
    document: &Value,
    resource: &Resource,
    role: Role,
    operation: &OperationAt<'_>,
    at: &str,
    problems: &mut Vec<Problem>,
) {
    if !role.methods().contains(&operation.method) {
        problems.push(Problem::new(
            at.to_owned(),
            format!(
                "`{}` is {} {}, but role `{}` needs {}",
                operation.id,
                operation.method.to_uppercase(),
                operation.pointer,
                role.key(),
                role.methods()
                    .iter()
                    .map(|m| m.to_uppercase())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ));
    }
    if !resource.tag.is_empty() && !operation.tags.contains(&resource.tag.as_str()) {
        problems.push(Problem::new(
            at.to_owned(),
            format!(
                "`{}` does not carry the tag `{}`",
                operation.id, resource.tag
            ),
        ));
    }
    let expected = if role.is_list() {
        Some(&resource.list_schema)
    } else if role == Role::Get {
        Some(&resource.schema)
    } else {
        None
    };
    let Some(expected) = expected.filter(|e| !e.is_empty()) else {
        return;
    };
    let answers = operation
        .operation
        .pointer("/responses/200")
        .map(|r| crate::pointer::follow(document, r))
        .and_then(|r| r.pointer("/content/application~1json/schema/$ref"))
        .and_then(Value::as_str);
    let wanted = format!("#/components/schemas/{expected}");
    if answers != Some(wanted.as_str()) {
        problems.push(Problem::new(
            at.to_owned(),
            format!(
                "role `{}` needs `{}` to answer 200 with `$ref: '{wanted}'`",
                role.key(),
                operation.id
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(yaml: &str) -> Vec<Problem> {
        Spec::from_yaml_str(yaml, "edited.yaml")
            .expect("loads")
            .resources()
            .expect_err("the edit breaks a role")
    }

    #[test]
    fn the_embedded_spec_declares_attendees_with_every_role() {
        let spec = Spec::embedded().expect("the spec loads");
        let resources = spec.resources().expect("every role resolves");
        let attendee = resources
            .iter()
            .find(|r| r.name == "attendee")
            .expect("attendee");
        assert_eq!(
            (attendee.plural.as_str(), attendee.list_key.as_str()),
            ("attendees", "attendees")
        );
        assert_eq!(
            attendee.with_role(Role::List).collect::<Vec<_>>(),
            ["listAttendees"]
        );
        assert_eq!(attendee.with_role(Role::ListNested).count(), 3);
        assert_eq!(
            attendee.with_role(Role::Cancel).collect::<Vec<_>>(),
            ["cancelAttendee"]
        );
    }

    #[test]
    fn an_unknown_operation_id_is_refused_at_its_pointer() {
        let yaml = crate::EMBEDDED_YAML.replacen("get: getAttendee", "get: getAtendee", 1);
        let problems = problems_of(&yaml);
        assert!(
            problems
                .iter()
                .any(|p| p.pointer == "/x-cliniko-resources/0/operations/get"
                    && p.message.contains("getAtendee")),
            "{problems:?}"
        );
        // getAttendee has lost its role, and is named too.
        assert!(
            problems
                .iter()
                .any(|p| p.pointer == "/paths/~1attendees~1{id}/get"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_role_with_the_wrong_method_or_answer_is_refused() {
        let yaml = crate::EMBEDDED_YAML
            .replacen("get: getAttendee", "get: createAttendee", 1)
            .replacen("create: createAttendee", "create: getAttendee", 1);
        let problems = problems_of(&yaml);
        let at_get: Vec<_> = problems
            .iter()
            .filter(|p| p.pointer == "/x-cliniko-resources/0/operations/get")
            .map(|p| p.message.as_str())
            .collect();
        assert!(at_get.iter().any(|m| m.contains("needs GET")), "{at_get:?}");
        assert!(
            at_get.iter().any(|m| m.contains("answer 200")),
            "{at_get:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.pointer == "/x-cliniko-resources/0/operations/create"
                    && p.message.contains("needs POST")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_list_key_that_does_not_hold_the_items_is_refused() {
        let yaml = crate::EMBEDDED_YAML.replacen(
            "list: {schema: AttendeeList, key: attendees}",
            "list: {schema: AttendeeList, key: people}",
            1,
        );
        let problems = problems_of(&yaml);
        assert!(
            problems
                .iter()
                .any(|p| p.pointer == "/x-cliniko-resources/0/list/key"
                    && p.message.contains("`people`")),
            "{problems:?}"
        );
    }

    #[test]
    fn unknown_roles_and_missing_schemas_are_refused() {
        let yaml = crate::EMBEDDED_YAML
            .replacen(
                "      replace: updateAttendeeViaPut",
                "      overwrite: updateAttendeeViaPut",
                1,
            )
            .replacen("    schema: Attendee\n", "    schema: Atendee\n", 1);
        let problems = problems_of(&yaml);
        let pointers: Vec<_> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert!(
            pointers.contains(&"/x-cliniko-resources/0/operations/overwrite"),
            "{problems:?}"
        );
        assert!(
            pointers.contains(&"/x-cliniko-resources/0/schema"),
            "{problems:?}"
        );
    }

    #[test]
    fn spec_check_refuses_a_broken_resource_with_its_line() {
        let yaml = crate::EMBEDDED_YAML.replacen("get: getAttendee", "get: getAtendee", 1);
        let spec = Spec::from_yaml_str(&yaml, "edited.yaml").expect("loads");
        let error = spec.check().expect_err("refused").to_string();
        let line = yaml
            .lines()
            .position(|l| l.trim() == "get: getAtendee")
            .expect("the edited line")
            + 1;
        assert!(
            error.contains(&format!("edited.yaml:{line}")) && error.contains("getAtendee"),
            "{error}"
        );
    }

    #[test]
    fn marks_are_read_and_malformed_ones_refused() {
        let yaml = crate::EMBEDDED_YAML.replacen(
            "        telehealth_url:\n          description: The attendee's telehealth link, or null.\n",
            "        telehealth_url:\n          x-cliniko-capability-url: true\n          description: The attendee's telehealth link, or null.\n",
            1,
        );
        let spec = Spec::from_yaml_str(&yaml, "marked.yaml").expect("loads");
        let marks = spec.marks().expect("well formed");
        let mark = marks
            .iter()
            .find(|m| m.property == "telehealth_url")
            .expect("the mark is read");
        assert_eq!(
            (mark.schema.as_str(), mark.kind, mark.format.as_deref()),
            ("Attendee", MarkKind::CapabilityUrl, Some("uri"))
        );
        let yaml = crate::EMBEDDED_YAML.replacen(
            "        arrived:\n          description: Whether the patient has arrived",
            "        arrived:\n          x-cliniko-capability-url: yes please\n          description: Whether the patient has arrived",
            1,
        );
        let spec = Spec::from_yaml_str(&yaml, "marked.yaml").expect("loads");
        let problems = spec.marks().expect_err("not `true`");
        assert_eq!(
            problems[0].pointer,
            "/components/schemas/Attendee/properties/arrived/x-cliniko-capability-url"
        );
    }
}
