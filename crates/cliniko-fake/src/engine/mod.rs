//! The generic resource engine: every resource of the spec's `x-cliniko-resources` that no
//! hand-written module serves, with its routes, statuses, filters and bodies read from the spec at
//! start-up. Records are JSON, checked against the request schemas on the way in; seeded records
//! are made from the item schema (see [`generate`]).
//!
//! The rules OpenAPI cannot state are generic here and named by the schema's properties: a
//! record with `archived_at` or `deleted_at` set is left out of the main list unless a `*` filter
//! on either brings it back, likewise `cancelled_at`; a delete sets `deleted_at` (or
//! `archived_at`) when the item has one and removes the record otherwise.

pub(crate) mod generate;
mod list;
mod table;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse as _, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use cliniko_spec::facts::OperationFacts;
use cliniko_spec::pointer::{escape, follow};
use cliniko_spec::resources::Role;
use cliniko_spec::{SchemaOptions, SchemaValidator, Spec};
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use serde_json::{Map, Value};

use crate::routes::{ApiError, check_accept, json_response, origin, read_object};
use crate::seed::Fixtures;
use crate::server::{Shared, unix_now};

use self::generate::{BASE, Generator, Targets, time};
use self::list::ListRequest;
use self::table::{Found, Table};

pub(crate) use self::list::ListScope;

/// How many records of each resource are seeded when the attendee fixtures do not name its IDs.
pub(crate) const DEFAULT_RECORDS: usize = 25;

/// Why the engine could not be built from a spec.
#[derive(Debug, thiserror::Error)]
pub enum SpecProblem {
    /// The spec's facts or resources do not read.
    #[error("the spec's {what} do not read: {problems}")]
    Unreadable {
        /// `facts` or `resources`.
        what: &'static str,
        /// Each problem with its pointer.
        problems: String,
    },
    /// A schema does not compile.
    #[error("{0}")]
    Schema(#[from] cliniko_spec::SpecError),
    /// An operation of a resource is not in the spec's paths.
    #[error("resource {resource}: operation {operation} is not in the spec's paths")]
    MissingOperation {
        /// The resource.
        resource: String,
        /// The `operationId`.
        operation: String,
    },
}

/// One resource served by the engine.
pub(crate) struct Model {
    pub(crate) name: String,
    pub(crate) plural: String,
    pub(crate) list_key: String,
    /// The item schema (a `$ref` object).
    item: Value,
    properties: Vec<String>,
    /// The item's properties that may be null: a new record has them null unless sent.
    nullable: Vec<String>,
    seed: u64,
    /// The lowest ID a created record gets.
    id_floor: i64,
    /// The seeded IDs (also in the table), read without its lock when another record links here.
    seeded: Arc<Vec<i64>>,
    table: RwLock<Table>,
    /// Whether the resource's get route filters on `q[]`, so that an archived or deleted
    /// record needs a `*` filter to be read (and cannot be changed).
    get_hides: bool,
}

impl Model {
    fn has(&self, property: &str) -> bool {
        self.properties.iter().any(|p| p == property)
    }
}

/// Every resource the engine serves, and how their links resolve.
pub(crate) struct Engine {
    document: Value,
    models: Vec<Model>,
    /// The IDs the hand-written modules seeded, by plural (shared, not copied: a million
    /// attendees' IDs are 8 MB).
    fixtures: Arc<Fixtures>,
    per_page: (i64, i64, i64),
}

/// One route: an operation of a resource.
struct Route {
    model: usize,
    role: Role,
    facts: OperationFacts,
    /// The success status and whether it has a body.
    success: (StatusCode, bool),
    /// The request body's schema, compiled, with its required properties.
    request: Option<(SchemaValidator, Vec<String>)>,
}

impl Engine {
    /// Builds the engine for every resource of `spec` not in `hand_served`.
    pub(crate) fn build(
        spec: &Spec,
        hand_served: &[&str],
        fixtures: Arc<Fixtures>,
        seed: u64,
    ) -> Result<(Self, Routes), SpecProblem> {
        let unreadable = |what, problems: Vec<cliniko_spec::Problem>| SpecProblem::Unreadable {
            what,
            problems: problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        };
        let facts = spec.facts().map_err(|p| unreadable("facts", p))?;
        let resources = spec.resources().map_err(|p| unreadable("resources", p))?;
        let mut models = Vec::new();
        let mut routes: Routes = Vec::new();
        for (index, resource) in resources
            .iter()
            .filter(|r| !hand_served.contains(&r.name.as_str()))
            .enumerate()
        {
            let item_pointer = format!("/components/schemas/{}", escape(&resource.schema));
            let item = serde_json::json!({"$ref": format!("#{item_pointer}")});
            let declared = follow(spec.raw(), &item)
                .get("properties")
                .and_then(Value::as_object);
            let properties = declared
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            let nullable = declared
                .map(|p| {
                    p.iter()
                        .filter(|(_, schema)| is_nullable(spec.raw(), schema))
                        .map(|(name, _)| name.clone())
                        .collect()
                })
                .unwrap_or_default();
            let id_floor = (1_i64 << 53) + 1 + ((index as i64 + 1) << 40);
            let seeded = match fixtures.ids_of(&resource.plural) {
                Some(runs) => {
                    let mut ids: Vec<i64> = runs
                        .iter()
                        .flat_map(|run| run.iter().map(|id| id.get()))
                        .collect();
                    ids.sort_unstable();
                    ids
                }
                None => (0..DEFAULT_RECORDS as i64)
                    .map(|k| id_floor + 2 * k)
                    .collect(),
            };
            let seeded = Arc::new(seeded);
            let model_index = models.len();
            models.push(Model {
                name: resource.name.clone(),
                plural: resource.plural.clone(),
                list_key: resource.list_key.clone(),
                item,
                properties,
                nullable,
                seed: seed ^ (index as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F),
                id_floor: id_floor + 2 * DEFAULT_RECORDS as i64,
                table: RwLock::new(Table {
                    seeded: seeded.clone(),
                    ..Table::default()
                }),
                seeded,
                get_hides: false,
            });
            for (role, operation_id) in &resource.operations {
                let operation = facts
                    .operations
                    .iter()
                    .find(|o| &o.id == operation_id)
                    .ok_or_else(|| SpecProblem::MissingOperation {
                        resource: resource.name.clone(),
                        operation: operation_id.clone(),
                    })?;
                let at = format!(
                    "/paths/{}/{}",
                    escape(&operation.path),
                    operation.method.to_ascii_lowercase()
                );
                let raw = spec.raw().pointer(&at).cloned().unwrap_or(Value::Null);
                let success = success_of(spec.raw(), &raw);
                let request = match raw.pointer("/requestBody/content/application~1json/schema") {
                    Some(schema) => {
                        let pointer = format!("{at}/requestBody/content/application~1json/schema");
                        let validator =
                            spec.validator(&pointer, schema, SchemaOptions::default())?;
                        let required = follow(spec.raw(), schema)
                            .get("required")
                            .and_then(Value::as_array)
                            .map(|r| {
                                r.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_owned)
                                    .collect()
                            })
                            .unwrap_or_default();
                        Some((validator, required))
                    }
                    None => None,
                };
                if *role == Role::Get && !operation.filters.is_empty() {
                    models[model_index].get_hides = true;
                }
                let path = format!("/v1{}", operation.path);
                let spec_route = RouteSpec(Arc::new(Route {
                    model: model_index,
                    role: *role,
                    facts: operation.clone(),
                    success,
                    request,
                }));
                match routes.iter_mut().find(|(p, _)| *p == path) {
                    Some((_, list)) => list.push(spec_route),
                    None => routes.push((path, vec![spec_route])),
                }
            }
        }
        Ok((
            Self {
                document: spec.raw().clone(),
                models,
                fixtures,
                per_page: facts.per_page,
            },
            routes,
        ))
    }

    /// The records written since seeding, by resource name (`null` for a deleted one).
    pub(crate) fn written(&self) -> BTreeMap<String, BTreeMap<i64, Option<Map<String, Value>>>> {
        self.models
            .iter()
            .map(|m| (m.name.clone(), read(&m.table).written.clone()))
            .collect()
    }

    /// Puts back records written in an earlier run; resources the spec no longer has are left out.
    pub(crate) fn restore(
        &self,
        written: BTreeMap<String, BTreeMap<i64, Option<Map<String, Value>>>>,
    ) {
        for (name, records) in written {
            if let Some(model) = self.models.iter().find(|m| m.name == name) {
                write(&model.table).written = records;
            }
        }
    }

    /// Every live record of a resource, in ID order, with links under `base`.
    pub(crate) fn all(&self, name: &str, base: &str) -> Option<Vec<Value>> {
        let model = self.models.iter().find(|m| m.name == name)?;
        let table = read(&model.table);
        let records = self.records(model, &table);
        drop(table);
        Some(
            records
                .into_iter()
                .filter_map(|(_, record)| {
                    let text = serde_json::to_string(&record).ok()?.replace(BASE, base);
                    serde_json::from_str(&text).ok()
                })
                .collect(),
        )
    }

    /// How many live records a resource holds.
    pub(crate) fn count(&self, name: &str) -> Option<usize> {
        let model = self.models.iter().find(|m| m.name == name)?;
        Some(read(&model.table).ids().count())
    }

    fn generator<'a>(&'a self, model: &'a Model) -> Generator<'a> {
        Generator {
            document: &self.document,
            plural: &model.plural,
            targets: self,
        }
    }

    /// The record of `model` with this ID, as stored (links under [`BASE`]).
    pub(crate) fn record(&self, model: &Model, table: &Table, id: i64) -> Option<Value> {
        match table.find(id)? {
            Found::Written(record) => Some(Value::Object(record.clone())),
            Found::Seeded(index) => {
                Some(
                    self.generator(model)
                        .record(&model.item, model.seed, id, index),
                )
            }
        }
    }

    /// Every live record of a model, in ID order.
    fn records(&self, model: &Model, table: &Table) -> Vec<(i64, Value)> {
        table
            .ids()
            .filter_map(|id| self.record(model, table, id).map(|r| (id, r)))
            .collect()
    }

    /// Whether an ID names a record of the resource with this plural (served here or by a
    /// hand-written module); `None` when the fake does not know the plural.
    fn exists(&self, plural: &str, id: i64) -> Option<bool> {
        if let Some(model) = self.models.iter().find(|m| m.plural == plural) {
            return Some(read(&model.table).find(id).is_some());
        }
        self.fixtures.ids_of(plural).map(|runs| {
            runs.iter()
                .any(|run| run.binary_search(&cliniko_types::Id::new(id)).is_ok())
        })
    }

    /// The plural a link property (`patient`) points into, if the fake knows it.
    fn plural_of(&self, property: &str) -> Option<String> {
        if let Some(model) = self.models.iter().find(|m| m.name == property) {
            return Some(model.plural.clone());
        }
        let guess = format!("{property}s");
        self.fixtures.ids_of(&guess).is_some().then_some(guess)
    }
}

impl Targets for Engine {
    fn pick(&self, property: &str, rng: &mut crate::rng::SplitMix64) -> Option<(String, i64)> {
        let plural = self.plural_of(property)?;
        // Never the table's lock: a record is made while its own table is locked.
        if let Some(model) = self.models.iter().find(|m| m.plural == plural) {
            if model.seeded.is_empty() {
                return None;
            }
            let id = model.seeded[rng.below(model.seeded.len() as u64) as usize];
            return Some((plural, id));
        }
        let runs = self.fixtures.ids_of(&plural)?;
        let total: usize = runs.iter().map(|run| run.len()).sum();
        if total == 0 {
            return None;
        }
        let mut at = rng.below(total as u64) as usize;
        for run in runs {
            if at < run.len() {
                return Some((plural, run[at].get()));
            }
            at -= run.len();
        }
        None
    }
}

fn read(table: &RwLock<Table>) -> std::sync::RwLockReadGuard<'_, Table> {
    table
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write(table: &RwLock<Table>) -> std::sync::RwLockWriteGuard<'_, Table> {
    table
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The first 2xx response of an operation: its status and whether it has a JSON body.
fn success_of(document: &Value, operation: &Value) -> (StatusCode, bool) {
    let responses = operation.get("responses").and_then(Value::as_object);
    responses
        .and_then(|r| {
            r.iter().find_map(|(code, response)| {
                let status = code
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (200..300).contains(c))?;
                let status = StatusCode::from_u16(status).ok()?;
                let body = follow(document, response).get("content").is_some();
                Some((status, body))
            })
        })
        .unwrap_or((StatusCode::OK, true))
}

/// The engine's routes, grouped by path (with the `/v1` prefix).
pub(crate) type Routes = Vec<(String, Vec<RouteSpec>)>;

/// One route, handed to the router.
#[derive(Clone)]
pub(crate) struct RouteSpec(Arc<Route>);

/// The router for every route the engine serves, under `/v1`.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(
    shared: &Arc<Shared>,
    routes: Routes,
) -> Router<S> {
    let mut router = Router::new();
    for (path, operations) in routes {
        let mut methods: Option<MethodRouter<S>> = None;
        for RouteSpec(route) in operations {
            let filter = match route.facts.method.as_str() {
                "GET" => MethodFilter::GET,
                "POST" => MethodFilter::POST,
                "PUT" => MethodFilter::PUT,
                "PATCH" => MethodFilter::PATCH,
                "DELETE" => MethodFilter::DELETE,
                _ => continue,
            };
            let shared = shared.clone();
            let handler = move |headers: HeaderMap, uri: Uri, body: Body| {
                let shared = shared.clone();
                let route = route.clone();
                async move {
                    match handle(&shared, &route, &headers, &uri, body).await {
                        Ok(response) => response,
                        Err(error) => error.into_response(),
                    }
                }
            };
            methods = Some(match methods {
                Some(m) => m.on(filter, handler),
                None => on(filter, handler),
            });
        }
        if let Some(methods) = methods {
            router = router.route(&path, methods);
        }
    }
    router
}

/// The ID in the path's last `{…}` placeholder, or 404.
fn path_id(template: &str, uri: &Uri) -> Result<Option<i64>, ApiError> {
    let template: Vec<&str> = template.split('/').collect();
    let actual: Vec<&str> = uri.path().trim_start_matches("/v1").split('/').collect();
    let Some(at) = template.iter().rposition(|s| s.starts_with('{')) else {
        return Ok(None);
    };
    actual
        .get(at)
        .and_then(|text| text.parse::<cliniko_types::Id>().ok())
        .map(|id| Some(id.get()))
        .ok_or_else(not_found)
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not Found")
}

async fn handle(
    shared: &Shared,
    route: &Route,
    headers: &HeaderMap,
    uri: &Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let engine = &shared.engine;
    let model = &engine.models[route.model];
    let base = format!("{}/v1", origin(shared, headers));
    let id = path_id(&route.facts.path, uri)?;
    if route.role.is_list() {
        check_accept(headers)?;
        let sortable: Vec<String> = if route.facts.filters.is_empty() {
            model.properties.clone()
        } else {
            route.facts.filters.iter().map(|f| f.name.clone()).collect()
        };
        let request = ListRequest::parse(
            uri.query().unwrap_or(""),
            &route.facts.filters,
            &sortable,
            engine.per_page,
        )
        .map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, message))?;
        let scope = ListScope::of(route.role);
        let parent = match (route.role, id) {
            (Role::ListNested, Some(parent)) => {
                let plural = route.facts.path.split('/').nth(1).unwrap_or("");
                if engine.exists(plural, parent) == Some(false) {
                    return Err(not_found());
                }
                Some((plural.to_owned(), parent))
            }
            _ => None,
        };
        let table = read(&model.table);
        let records = engine.records(model, &table);
        drop(table);
        let body = list::page(
            model,
            records,
            &request,
            scope,
            parent.as_ref(),
            &base,
            uri.path(),
        );
        return Ok(json_response(StatusCode::OK, body.into_bytes()));
    }
    let object = match route.role {
        Role::Create | Role::Update | Role::Replace | Role::Cancel => {
            if route.request.is_some() {
                Some(read_object(shared, headers, body).await?)
            } else {
                None
            }
        }
        _ => None,
    };
    if let (Some(object), Some((validator, required))) = (&object, &route.request) {
        check_body(object, validator, required, route.role)?;
    }
    let now = unix_now();
    let answer = match route.role {
        Role::Create => {
            let object = object.unwrap_or_default();
            let links = engine.links_of(model, &object)?;
            let mut table = write(&model.table);
            let id = table.next_id(model.id_floor);
            let mut rng = crate::rng::SplitMix64::new(model.seed ^ id as u64);
            let mut record = engine.generator(model).value(&model.item, "", &mut rng, 0);
            if let Value::Object(fields) = &mut record {
                // A new record starts blank: no state, no optional values the request did not send.
                for (name, value) in fields.iter_mut() {
                    if model.nullable.contains(name) {
                        *value = Value::Null;
                    }
                }
                apply(fields, &object, links);
                engine
                    .generator(model)
                    .fix_identity(fields, id, now, &mut rng);
                if fields.contains_key("updated_at") {
                    fields.insert("updated_at".to_owned(), time(now));
                }
                table.written.insert(id, Some(fields.clone()));
            }
            drop(table);
            let location = format!("{base}/{}/{id}", model.plural);
            let mut response = answer_with(route, Some(record), &base);
            if let Ok(location) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            return Ok(response);
        }
        Role::Get => {
            check_accept(headers)?;
            let id = id.ok_or_else(not_found)?;
            // A get route's `q[]` takes only the `*` filters that bring a hidden record back; a
            // malformed or unknown one is refused as on the lists.
            let request = ListRequest::parse(
                uri.query().unwrap_or(""),
                &route.facts.filters,
                &[],
                engine.per_page,
            )
            .map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, message))?;
            let table = read(&model.table);
            let record = engine.record(model, &table, id).ok_or_else(not_found)?;
            if !route.facts.filters.is_empty() && !list::shows(&request, &record) {
                return Err(not_found());
            }
            record
        }
        _ => {
            let id = id.ok_or_else(not_found)?;
            let links = match &object {
                Some(object) => engine.links_of(model, object)?,
                None => Vec::new(),
            };
            let mut table = write(&model.table);
            let Some(Value::Object(mut fields)) = engine.record(model, &table, id) else {
                return Err(not_found());
            };
            let before = fields.clone();
            // Where the get hides an archived or deleted record (404 without a `*` filter), it is
            // gone for every change but the one that brings it back, as an archived attendee is.
            let hidden = model.get_hides
                && ["archived_at", "deleted_at"]
                    .iter()
                    .any(|f| fields.get(*f).is_some_and(|v| !v.is_null()));
            if hidden && matches!(route.role, Role::Update | Role::Replace | Role::Cancel) {
                return Err(not_found());
            }
            match route.role {
                Role::Update | Role::Replace => {
                    if let Some(object) = &object {
                        apply(&mut fields, object, links);
                    }
                }
                Role::Cancel => {
                    if !set_state(&mut fields, &["cancelled_at"], now) {
                        return Err(ApiError::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "Already cancelled",
                        ));
                    }
                    if let Some(object) = &object {
                        apply(&mut fields, object, links);
                    }
                }
                Role::Archive => {
                    if !set_state(&mut fields, &["archived_at"], now) {
                        return Err(not_found());
                    }
                }
                Role::Unarchive => {
                    if let Some(value) = fields.get_mut("archived_at") {
                        *value = Value::Null;
                    }
                }
                Role::Delete => {
                    if !model.has("deleted_at") && !model.has("archived_at") {
                        table.written.insert(id, None);
                        drop(table);
                        return Ok(answer_with(route, None, &base));
                    }
                    if !set_state(&mut fields, &["deleted_at", "archived_at"], now) {
                        return Err(not_found());
                    }
                }
                _ => return Err(not_found()),
            }
            // Like Cliniko, a change that changes nothing leaves `updated_at` alone.
            if fields != before && fields.contains_key("updated_at") {
                fields.insert("updated_at".to_owned(), time(now));
            }
            table.written.insert(id, Some(fields.clone()));
            Value::Object(fields)
        }
    };
    Ok(answer_with(route, Some(answer), &base))
}

/// Whether a property's schema admits null (`nullable`, the spec's nullable `oneOf`, or a null
/// in its code list).
fn is_nullable(document: &Value, schema: &Value) -> bool {
    let schema = follow(document, schema);
    let Some(object) = schema.as_object() else {
        return false;
    };
    object.get("nullable") == Some(&Value::Bool(true))
        || cliniko_spec::nullable_one_of_branch(object).is_some()
        || object
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|codes| codes.iter().any(Value::is_null))
}

/// Sets the first of `fields` the record has to now; false when it was already set (or the
/// record has none of them).
fn set_state(record: &mut Map<String, Value>, fields: &[&str], now: i64) -> bool {
    let mut set = false;
    for field in fields {
        if let Some(value) = record.get_mut(*field) {
            if !value.is_null() {
                return false;
            }
            *value = time(now);
            set = true;
        }
    }
    set
}

/// Copies the request's fields the item has, and the links its `…_id` fields name.
fn apply(
    record: &mut Map<String, Value>,
    object: &Map<String, Value>,
    links: Vec<(String, Value)>,
) {
    for (name, value) in object {
        if let Some(slot) = record.get_mut(name)
            && !matches!(name.as_str(), "id" | "created_at" | "updated_at" | "links")
        {
            *slot = value.clone();
        }
    }
    for (name, link) in links {
        record.insert(name, link);
    }
}

impl Engine {
    /// The links a request's `X_id` fields set on the item's `X` property, each checked to name
    /// an existing record when the fake knows the resource (422 otherwise).
    fn links_of(
        &self,
        model: &Model,
        object: &Map<String, Value>,
    ) -> Result<Vec<(String, Value)>, ApiError> {
        let mut links = Vec::new();
        let mut errors = BTreeMap::new();
        for (name, value) in object {
            let Some(stem) = name.strip_suffix("_id") else {
                continue;
            };
            if !model.has(stem) || model.has(name) {
                continue;
            }
            let id = match value {
                Value::Null => {
                    links.push((stem.to_owned(), Value::Null));
                    continue;
                }
                Value::String(text) => text.parse::<i64>().ok(),
                Value::Number(number) => number.as_i64(),
                _ => None,
            };
            let plural = self.plural_of(stem).unwrap_or_else(|| format!("{stem}s"));
            match id {
                Some(id) if self.exists(&plural, id) != Some(false) => links.push((
                    stem.to_owned(),
                    serde_json::json!({"links": {"self": format!("{BASE}/{plural}/{id}")}}),
                )),
                _ => {
                    errors.insert(name.clone(), format!("does not name an existing {stem}"));
                }
            }
        }
        if errors.is_empty() {
            Ok(links)
        } else {
            Err(ApiError::validation(errors))
        }
    }
}

/// 422 with a message per field: blank required fields, then values of the wrong type or form.
fn check_body(
    object: &Map<String, Value>,
    validator: &SchemaValidator,
    required: &[String],
    role: Role,
) -> Result<(), ApiError> {
    let mut errors = BTreeMap::new();
    if role == Role::Create {
        for field in required {
            if object.get(field).is_none_or(Value::is_null) {
                errors.insert(field.clone(), "can't be blank".to_owned());
            }
        }
    }
    for violation in validator.violations(&Value::Object(object.clone())) {
        let field = violation
            .pointer
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .replace("~1", "/")
            .replace("~0", "~");
        if field.is_empty() {
            if violation.message.contains("required") {
                continue;
            }
            errors.insert("base".to_owned(), violation.message);
        } else {
            errors.entry(field).or_insert(violation.message);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// The success answer: the record (links under the request's root) or no body.
fn answer_with(route: &Route, record: Option<Value>, base: &str) -> Response {
    let (status, has_body) = route.success;
    match record {
        Some(record) if has_body => {
            let text = serde_json::to_string(&record).unwrap_or_default();
            json_response(status, text.replace(BASE, base).into_bytes())
        }
        _ => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = status;
            response
        }
    }
}
