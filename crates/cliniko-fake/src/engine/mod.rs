//! The resource engine: every resource of the spec's `x-cliniko-resources`, with its routes,
//! statuses, filters, sorts and bodies read from the spec at start-up, and Cliniko's rules that
//! OpenAPI cannot state in one module per resource ([`rules`]).
//!
//! Each item schema is compiled once into a [`plan`]: seeded records are made from it when read
//! and written straight into bytes. Records are JSON once written, checked against the request
//! schemas on the way in. Each resource's [`store`] keeps the index columns its routes filter and
//! sort on, so a page costs its own size.
//!
//! The generic rules are named by the schema's properties: a record with `archived_at` or
//! `deleted_at` set is left out of the main list unless a `*` filter on either brings it back,
//! likewise `cancelled_at`; a delete sets `deleted_at` (or `archived_at`) when the item has one
//! and removes the record otherwise; a request's `X_id` sets the link `X`, which must name a
//! record that exists.

pub(crate) mod plan;
mod query;
mod rules;
mod store;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse as _, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use cliniko_spec::facts::{FilterKind, OperationFacts};
use cliniko_spec::pointer::{escape, follow};
use cliniko_spec::resources::Role;
use cliniko_spec::{SchemaOptions, SchemaValidator, Spec};
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use serde_json::{Map, Value};

use crate::routes::{ApiError, check_accept, json_response, origin, read_object};
use crate::seed::Fixtures;
use crate::server::{Shared, unix_now};

use self::plan::{BASE, Identity, Plan, Row, Slot, Target, Targets, time};
use self::query::{ColumnsOf, Condition, Filter, Found, Operand, Query, Scope};
use self::rules::Rules;
use self::store::{Layout, NULL, Store};

/// How many records of each resource are seeded when the fixtures do not name its IDs.
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

/// Written records by resource name and ID (`None` for a deleted one), as the state file holds them.
pub(crate) type Written = BTreeMap<String, BTreeMap<i64, Option<Map<String, Value>>>>;

/// One resource.
pub(crate) struct Model {
    pub(crate) name: String,
    pub(crate) plural: String,
    pub(crate) list_key: String,
    plan: Plan,
    /// The item's properties that may be null: a new record has them null unless sent.
    nullable: Vec<String>,
    seed: u64,
    /// The lowest ID a created record gets.
    id_floor: i64,
    store: RwLock<Store>,
    /// Whether the resource's get route filters on `q[]`, so that an archived or deleted
    /// record needs a `*` filter to be read (and cannot be changed).
    get_hides: bool,
    rules: Box<dyn Rules>,
}

impl Model {
    fn has(&self, property: &str) -> bool {
        self.plan.field(property).is_some()
    }

    /// A field's name after the resource's aliases.
    fn resolve<'a>(&self, name: &'a str) -> &'a str {
        self.rules.alias(name).unwrap_or(name)
    }

    /// The seeded record with this ID at this position among the seeded ones, made into `row`.
    fn seeded_into<'a>(&'a self, row: &mut Row<'a>, id: i64, index: usize) {
        self.plan.seeded_into(row, self.seed, id, index);
        self.rules.seeded(&self.plan, row);
    }

    fn seeded_row(&self, id: i64, index: usize) -> Row<'_> {
        let mut row = Row::default();
        self.seeded_into(&mut row, id, index);
        row
    }

    /// Where each index column's value is in a row.
    fn sources(&self, layout: &Layout) -> Vec<Source> {
        layout
            .names
            .iter()
            .map(|name| {
                if name == "id" {
                    return Source::Id;
                }
                if let Some(k) = self.plan.field(name) {
                    return Source::Slot(k);
                }
                match name
                    .strip_suffix("_id")
                    .and_then(|stem| self.plan.field(stem))
                {
                    Some(k) => Source::Slot(k),
                    None => Source::Null,
                }
            })
            .collect()
    }

    /// The index column values of a row.
    fn values_of_row(&self, sources: &[Source], row: &Row<'_>) -> Vec<i64> {
        sources
            .iter()
            .map(|source| match source {
                Source::Id => row.id,
                Source::Null => NULL,
                Source::Slot(k) => match &row.slots[*k] {
                    Slot::Time(secs) => secs.saturating_mul(1_000_000_000),
                    Slot::Int(v) | Slot::Id(v) | Slot::Link(v) => *v,
                    Slot::Text(text) => number_of(text).unwrap_or(NULL),
                    slot @ Slot::Json(_) => self
                        .plan
                        .code_of(slot)
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(NULL),
                    _ => NULL,
                },
            })
            .collect()
    }

    /// The index column values of a stored record.
    fn values_of_map(&self, layout: &Layout, record: &Map<String, Value>) -> Vec<i64> {
        layout
            .names
            .iter()
            .map(|name| match found_in_map(record, name) {
                Found::Number(v) => i64::try_from(v).unwrap_or(NULL),
                _ => NULL,
            })
            .collect()
    }

    /// The record at a position as stored JSON (links under [`BASE`]).
    fn map_at(&self, store: &Store, position: u32) -> Option<Map<String, Value>> {
        match store.seeded_index(position) {
            Some(index) => Some(
                self.plan
                    .to_map(&self.seeded_row(store.id(position), index)),
            ),
            None => store.written.get(&store.id(position)).cloned().flatten(),
        }
    }

    /// Writes the record at a position as JSON, links under `base`; a seeded one is made into
    /// `row`, which a page reuses.
    fn write<'a>(
        &'a self,
        out: &mut Vec<u8>,
        row: &mut Row<'a>,
        store: &Store,
        position: u32,
        base: &str,
    ) {
        match store.seeded_index(position) {
            Some(index) => {
                self.seeded_into(row, store.id(position), index);
                self.plan.write_row(out, row, base);
            }
            None => match store.written.get(&store.id(position)) {
                Some(Some(record)) => self.plan.write_stored(out, record, base),
                _ => out.extend_from_slice(b"null"),
            },
        }
    }

    /// A field's value read off the record (for text filters and sorts without a column).
    fn found(&self, store: &Store, position: u32, name: &str) -> Found {
        let name = self.resolve(name);
        match store.seeded_index(position) {
            Some(index) => {
                let row = self.seeded_row(store.id(position), index);
                let Some(k) = self.plan.field(name) else {
                    let map = self.plan.to_map(&row);
                    return found_in_map(&map, name);
                };
                match &row.slots[k] {
                    Slot::Null => Found::Null,
                    slot @ (Slot::Text(_) | Slot::Url(..) | Slot::Ipv4(_) | Slot::Email(_)) => {
                        Found::Text(slot.text().unwrap_or_default().into_owned())
                    }
                    Slot::Bool(flag) => Found::Text(flag.to_string()),
                    Slot::Int(v) | Slot::Id(v) | Slot::Link(v) => Found::Number(i128::from(*v)),
                    slot @ Slot::Json(_) => match self.plan.code_of(slot) {
                        Some(code) => match serde_json::from_str::<Value>(code) {
                            Ok(Value::String(text)) => Found::Text(text),
                            Ok(Value::Number(n)) => {
                                n.as_i64().map_or(Found::Null, |v| Found::Number(v.into()))
                            }
                            Ok(Value::Bool(flag)) => Found::Text(flag.to_string()),
                            _ => Found::Null,
                        },
                        None => Found::Null,
                    },
                    Slot::Time(secs) => Found::Number(i128::from(*secs) * 1_000_000_000),
                    _ => {
                        let map = self.plan.to_map(&row);
                        found_in_map(&map, name)
                    }
                }
            }
            None => match store.written.get(&store.id(position)) {
                Some(Some(record)) => found_in_map(record, name),
                _ => Found::Null,
            },
        }
    }
}

/// Where an index column's value is in a row.
#[derive(Clone, Copy)]
enum Source {
    Id,
    Slot(usize),
    Null,
}

/// A string of 1 to 19 digits as a number.
pub(crate) fn number_of(text: &str) -> Option<i64> {
    ((1..=19).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// A field's value in a stored record: a date-time in nanoseconds, an ID or number, text, or
/// for `X_id` the ID at the end of the link in `X`.
fn found_in_map(record: &Map<String, Value>, name: &str) -> Found {
    match record.get(name) {
        Some(Value::Null) => Found::Null,
        Some(Value::String(text)) => {
            if let Some(v) = number_of(text) {
                Found::Number(v.into())
            } else if let Some(nanos) = query::date_time_nanos(text).filter(|_| text.contains('T'))
            {
                Found::Number(nanos)
            } else {
                Found::Text(text.clone())
            }
        }
        Some(Value::Number(number)) => number
            .as_i64()
            .map_or(Found::Null, |v| Found::Number(v.into())),
        Some(Value::Bool(flag)) => Found::Text(flag.to_string()),
        Some(Value::Object(_)) if name == "id" => Found::Null,
        Some(value) => linked_id(value),
        None => name
            .strip_suffix("_id")
            .and_then(|stem| record.get(stem))
            .map_or(Found::Null, linked_id),
    }
}

/// The ID at the end of a link's `self` URL.
fn linked_id(link: &Value) -> Found {
    rules::link_id(link).map_or(Found::Null, |v| Found::Number(v.into()))
}

/// The index columns a model's parser reads.
struct Columns<'a>(&'a Model, &'a Layout);

impl ColumnsOf for Columns<'_> {
    fn column(&self, name: &str) -> Option<usize> {
        let name = self.0.resolve(name);
        self.1.names.iter().position(|n| n == name)
    }
}

/// Every resource the engine serves, and how their links resolve.
pub(crate) struct Engine {
    models: Vec<Model>,
    /// The IDs the seeded fixtures name, by plural (shared, not copied).
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
    /// The fields `sort` takes: those the operation's `sort` pattern lists.
    sortable: Vec<String>,
}

/// Where links point while plans compile: the seeded IDs of each resource and of the fixtures.
struct Seeded<'a> {
    resources: &'a [(String, String, Arc<[i64]>)],
    fixtures: &'a Fixtures,
}

impl Targets for Seeded<'_> {
    fn target(&self, property: &str) -> Option<Target> {
        if let Some((_, plural, ids)) = self.resources.iter().find(|(name, _, _)| name == property)
        {
            return Some(Target {
                plural: plural.clone(),
                ids: ids.clone(),
            });
        }
        let plural = format!("{property}s");
        let runs = self.fixtures.ids_of(&plural)?;
        let ids: Vec<i64> = runs
            .iter()
            .flat_map(|run| run.iter().map(|id| id.get()))
            .collect();
        Some(Target {
            plural,
            ids: ids.into(),
        })
    }
}

impl Engine {
    /// Builds the engine for every resource of `spec`, seeding each from the fixtures' IDs
    /// (or [`DEFAULT_RECORDS`]), with the records `written` in an earlier run put back.
    pub(crate) fn build(
        spec: &Spec,
        fixtures: Arc<Fixtures>,
        seed: u64,
        written: Option<Written>,
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
        let document = spec.raw();
        // Every resource's seeded IDs first, so that any plan can link to any resource.
        let seeded: Vec<(String, String, Arc<[i64]>)> = resources
            .iter()
            .enumerate()
            .map(|(index, resource)| {
                let ids: Vec<i64> = match fixtures.ids_of(&resource.plural) {
                    Some(runs) => {
                        let mut ids: Vec<i64> = runs
                            .iter()
                            .flat_map(|run| run.iter().map(|id| id.get()))
                            .collect();
                        ids.sort_unstable();
                        ids
                    }
                    None => (0..DEFAULT_RECORDS as i64)
                        .map(|k| id_floor(index) + 2 * k)
                        .collect(),
                };
                (resource.name.clone(), resource.plural.clone(), ids.into())
            })
            .collect();
        let targets = Seeded {
            resources: &seeded,
            fixtures: &fixtures,
        };
        let mut written = written.unwrap_or_default();
        let mut models = Vec::new();
        let mut routes: Routes = Vec::new();
        for (index, resource) in resources.iter().enumerate() {
            let item = serde_json::json!({
                "$ref": format!("#/components/schemas/{}", escape(&resource.schema))
            });
            let plan = Plan::compile(document, &item, &resource.plural, &targets);
            let nullable = follow(document, &item)
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| {
                    p.iter()
                        .filter(|(_, schema)| is_nullable(document, schema))
                        .map(|(name, _)| name.clone())
                        .collect()
                })
                .unwrap_or_default();
            let rules = rules::of(&resource.name, document, &fixtures, &plan);
            let mut operations = Vec::new();
            for (role, operation_id) in &resource.operations {
                let operation = facts
                    .operations
                    .iter()
                    .find(|o| &o.id == operation_id)
                    .ok_or_else(|| SpecProblem::MissingOperation {
                        resource: resource.name.clone(),
                        operation: operation_id.clone(),
                    })?;
                operations.push((*role, operation));
            }
            // The index columns: the identity and state fields, and every numeric or date-time
            // field a route filters on or a nested route's path names, after the aliases.
            let mut names: Vec<String> = Vec::new();
            let mut add = |name: &str| {
                let name = rules.alias(name).unwrap_or(name);
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            };
            for name in store::IDENTITY_COLUMNS {
                if plan.field(name).is_some() {
                    add(name);
                }
            }
            for (role, operation) in &operations {
                for field in &operation.filters {
                    if matches!(field.kind, FilterKind::Numeric | FilterKind::DateTime) {
                        add(&field.name);
                    }
                }
                if *role == Role::ListNested
                    && let Some(parameter) = first_parameter(&operation.path)
                {
                    add(parameter);
                }
            }
            let layout = Layout::new(names);
            let model_seed = seed ^ (index as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F);
            let mut model = Model {
                name: resource.name.clone(),
                plural: resource.plural.clone(),
                list_key: resource.list_key.clone(),
                plan,
                nullable,
                seed: model_seed,
                // Created records follow the seeded ones (two above the highest); a resource the
                // fixtures do not seed starts above its own range.
                id_floor: if fixtures.ids_of(&resource.plural).is_some() {
                    1
                } else {
                    id_floor(index) + 2 * DEFAULT_RECORDS as i64
                },
                store: RwLock::new(Store::default()),
                get_hides: false,
                rules,
            };
            let ids = &seeded[index].2;
            let sources = model.sources(&layout);
            let store = {
                let mut row = Row::default();
                let mut store = Store::seeded(
                    layout.clone(),
                    ids.iter().enumerate().map(|(k, id)| {
                        model.seeded_into(&mut row, *id, k);
                        (*id, model.values_of_row(&sources, &row))
                    }),
                );
                if let Some(records) = written.remove(&resource.name) {
                    store.restore(records, |record| model.values_of_map(&layout, record));
                }
                store
            };
            model.store = RwLock::new(store);
            let model_index = models.len();
            for (role, operation) in operations {
                let at = format!(
                    "/paths/{}/{}",
                    escape(&operation.path),
                    operation.method.to_ascii_lowercase()
                );
                let raw = document.pointer(&at).cloned().unwrap_or(Value::Null);
                let success = success_of(document, &raw);
                // The body, inline or a `$ref` to `components/requestBodies`.
                let body = raw
                    .get("requestBody")
                    .map(|b| cliniko_spec::pointer::chase(document, b));
                let body_at = match body.as_ref().and_then(|c| c.reference) {
                    Some(reference) => reference.trim_start_matches('#').to_owned(),
                    None => format!("{at}/requestBody"),
                };
                let request =
                    match body.and_then(|c| c.value.pointer("/content/application~1json/schema")) {
                        Some(schema) => {
                            let pointer = format!("{body_at}/content/application~1json/schema");
                            let validator =
                                spec.validator(&pointer, schema, SchemaOptions::default())?;
                            let required = follow(document, schema)
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
                if role == Role::Get && !operation.filters.is_empty() {
                    model.get_hides = true;
                }
                // The fields `sort` takes: those its pattern lists in the spec; else the
                // filterable ones ("the sortable fields are the filterable ones"), or the item's
                // properties on a route without filters.
                let from_pattern = cliniko_spec::facts::query_parameter(
                    document,
                    &operation.path,
                    &operation.method.to_ascii_lowercase(),
                    "sort",
                )
                .and_then(|(_, parameter)| {
                    let schema = follow(document, parameter.get("schema")?);
                    let pattern = schema.get("pattern")?.as_str()?;
                    cliniko_spec::facts::sort_fields_of_pattern(pattern)
                        .map(|fields| fields.into_iter().map(str::to_owned).collect::<Vec<_>>())
                });
                let sortable: Vec<String> = match from_pattern {
                    Some(fields) => fields,
                    None if operation.filters.is_empty() => {
                        model.plan.fields.iter().map(|f| f.name.clone()).collect()
                    }
                    None => operation.filters.iter().map(|f| f.name.clone()).collect(),
                };
                let path = format!("/v1{}", operation.path);
                let spec_route = RouteSpec(Arc::new(Route {
                    model: model_index,
                    role,
                    facts: operation.clone(),
                    success,
                    request,
                    sortable,
                }));
                match routes.iter_mut().find(|(p, _)| *p == path) {
                    Some((_, list)) => list.push(spec_route),
                    None => routes.push((path, vec![spec_route])),
                }
            }
            models.push(model);
        }
        Ok((
            Self {
                models,
                fixtures,
                per_page: facts.per_page,
            },
            routes,
        ))
    }

    fn model(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The records written since seeding, by resource name (`null` for a deleted one).
    pub(crate) fn written(&self) -> Written {
        self.models
            .iter()
            .map(|m| (m.name.clone(), read(&m.store).written.clone()))
            .collect()
    }

    /// Every live record of a resource, in ID order, with links under `base`.
    pub(crate) fn all(&self, name: &str, base: &str) -> Option<Vec<Value>> {
        let model = self.model(name)?;
        let store = read(&model.store);
        let mut out = Vec::new();
        let mut row = Row::default();
        for position in store.live_positions() {
            let mut bytes = Vec::with_capacity(2_048);
            model.write(&mut bytes, &mut row, &store, position, base);
            if let Ok(value) = serde_json::from_slice(&bytes) {
                out.push(value);
            }
        }
        Some(out)
    }

    /// How many live records a resource holds, in every state.
    pub(crate) fn count(&self, name: &str) -> Option<usize> {
        Some(read(&self.model(name)?.store).len())
    }

    /// Whether an ID names a record of the resource with this plural (a served resource or the
    /// fixtures); `None` when the fake does not know the plural.
    fn exists(&self, plural: &str, id: i64) -> Option<bool> {
        if let Some(model) = self.models.iter().find(|m| m.plural == plural) {
            return Some(read(&model.store).find(id).is_some());
        }
        self.fixtures
            .ids_of(plural)
            .map(|runs| runs.iter().any(|run| crate::seed::contains(run, id)))
    }

    /// The plural a link property (`patient`) points into, if the fake knows it.
    fn plural_of(&self, property: &str) -> Option<String> {
        if let Some(model) = self.model(property) {
            return Some(model.plural.clone());
        }
        let guess = format!("{property}s");
        self.fixtures.ids_of(&guess).is_some().then_some(guess)
    }
}

/// The lowest seeded ID of the resource at `index` when the fixtures do not name its IDs.
fn id_floor(index: usize) -> i64 {
    (1_i64 << 53) + 1 + ((index as i64 + 1) << 40)
}

/// The name of a path's first `{…}` parameter.
fn first_parameter(path: &str) -> Option<&str> {
    let start = path.find('{')?;
    let end = path[start..].find('}')?;
    Some(&path[start + 1..start + end])
}

fn read(store: &RwLock<Store>) -> std::sync::RwLockReadGuard<'_, Store> {
    store
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write(store: &RwLock<Store>) -> std::sync::RwLockWriteGuard<'_, Store> {
    store
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
    let Some(at) = template
        .split('/')
        .enumerate()
        .filter(|(_, s)| s.starts_with('{'))
        .map(|(k, _)| k)
        .last()
    else {
        return Ok(None);
    };
    uri.path()
        .trim_start_matches("/v1")
        .split('/')
        .nth(at)
        .and_then(|text| text.parse::<cliniko_types::Id>().ok())
        .map(|id| Some(id.get()))
        .ok_or_else(not_found)
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not Found")
}

fn scope_of(role: Role) -> Scope {
    match role {
        Role::ListCancelled => Scope::Cancelled,
        Role::ListDeleted => Scope::Deleted,
        Role::ListArchived => Scope::Archived,
        _ => Scope::Plain,
    }
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
    let id = path_id(&route.facts.path, uri)?;
    if route.role.is_list() {
        return list(shared, model, route, headers, uri, id);
    }
    let origin = origin(shared, headers);
    let base = format!("{origin}/v1");
    if route.role == Role::Get {
        check_accept(headers)?;
        let id = id.ok_or_else(not_found)?;
        // A get route's `q[]` takes only the `*` filters that bring a hidden record back; a
        // malformed or unknown one is refused as on the lists.
        let store = read(&model.store);
        let query = Query::parse(
            uri.query().unwrap_or(""),
            Scope::Plain,
            &route.facts.filters,
            &[],
            engine.per_page,
            &Columns(model, &store.layout),
        )
        .map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, message))?;
        let position = store.find(id).ok_or_else(not_found)?;
        if !route.facts.filters.is_empty()
            && !store.shows(&query, position, &|p, name| model.found(&store, p, name))
        {
            return Err(not_found());
        }
        let mut out = Vec::with_capacity(2_048);
        model.write(&mut out, &mut Row::default(), &store, position, &base);
        drop(store);
        return Ok(answer(route, Some(out), None));
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
    let links = match &object {
        Some(object) => engine.links_of(model, object)?,
        None => Vec::new(),
    };
    let now = unix_now();
    let mut store = write(&model.store);
    if route.role == Role::Create {
        let object = object.unwrap_or_default();
        let id = store.next_id(model.id_floor);
        let created_at = store.next_created_at(now);
        let mut rng = crate::rng::SplitMix64::new(model.seed ^ id as u64);
        let row = model.plan.generate(id, &mut rng);
        let mut fields = model.plan.to_map(&row);
        // A new record starts blank: no state, no optional values the request did not send.
        for (name, value) in fields.iter_mut() {
            if model.nullable.contains(name) {
                *value = Value::Null;
            }
        }
        apply(&mut fields, &object, links);
        for field in &model.plan.fields {
            let value = match field.identity {
                Identity::Id => Value::String(id.to_string()),
                Identity::SelfLinks => {
                    serde_json::json!({"self": format!("{BASE}/{}/{id}", model.plural)})
                }
                Identity::CreatedAt | Identity::UpdatedAt => time(created_at),
                _ => continue,
            };
            fields.insert(field.name.clone(), value);
        }
        model.rules.changed(Role::Create, &mut fields);
        let mut out = Vec::with_capacity(2_048);
        model.plan.write_stored(&mut out, &fields, &base);
        let values = model.values_of_map(&store.layout, &fields);
        store.insert(id, fields, values);
        drop(store);
        let location = format!("{base}/{}/{id}", model.plural);
        return Ok(answer(route, Some(out), Some(location)));
    }
    let id = id.ok_or_else(not_found)?;
    let position = store.find(id).ok_or_else(not_found)?;
    let Some(mut fields) = model.map_at(&store, position) else {
        return Err(not_found());
    };
    let before = fields.clone();
    // Where the get hides an archived or deleted record (404 without a `*` filter), it is gone
    // for every change but the one that brings it back.
    if model.get_hides
        && store.is_gone(position)
        && matches!(route.role, Role::Update | Role::Replace | Role::Cancel)
    {
        return Err(not_found());
    }
    model.rules.check(route.role, &fields)?;
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
                store.remove(position);
                drop(store);
                return Ok(answer(route, None, None));
            }
            if !set_state(&mut fields, &["deleted_at", "archived_at"], now) {
                return Err(not_found());
            }
        }
        _ => return Err(not_found()),
    }
    model.rules.changed(route.role, &mut fields);
    // Like Cliniko, a change that changes nothing leaves `updated_at` alone.
    if fields != before
        && let Some(updated) = fields.get("updated_at")
    {
        let previous = updated
            .as_str()
            .and_then(query::date_time_nanos)
            .map_or(now, |nanos| (nanos / 1_000_000_000) as i64);
        fields.insert("updated_at".to_owned(), time(now.max(previous)));
    }
    let mut out = Vec::with_capacity(2_048);
    model.plan.write_stored(&mut out, &fields, &base);
    let values = model.values_of_map(&store.layout, &fields);
    store.update(position, fields, values);
    drop(store);
    Ok(answer(route, Some(out), None))
}

/// A list route: one page, `total_entries` and the page links.
fn list(
    shared: &Shared,
    model: &Model,
    route: &Route,
    headers: &HeaderMap,
    uri: &Uri,
    parent: Option<i64>,
) -> Result<Response, ApiError> {
    check_accept(headers)?;
    let engine = &shared.engine;
    let store = read(&model.store);
    let mut query = Query::parse(
        uri.query().unwrap_or(""),
        scope_of(route.role),
        &route.facts.filters,
        &route.sortable,
        engine.per_page,
        &Columns(model, &store.layout),
    )
    .map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, message))?;
    if let (Role::ListNested, Some(parent)) = (route.role, parent) {
        let plural = route.facts.path.split('/').nth(1).unwrap_or("");
        if engine.exists(plural, parent) == Some(false) {
            return Err(not_found());
        }
        let parameter = first_parameter(&route.facts.path).unwrap_or("");
        let name = model.resolve(parameter).to_owned();
        query.filters.push(Filter {
            column: Columns(model, &store.layout).column(&name),
            name,
            kind: FilterKind::Numeric,
            condition: Condition::OneOf(vec![Operand::Number(parent.into())]),
        });
    }
    let origin = origin(shared, headers);
    let base = format!("{origin}/v1");
    let page = store.list(&query, &|p, name| model.found(&store, p, name));
    let mut out = Vec::with_capacity(256 + page.positions.len() * 2_048);
    out.push(b'{');
    plan::write_str(&mut out, &model.list_key);
    out.extend_from_slice(b":[");
    let mut row = Row::default();
    for (k, position) in page.positions.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        model.write(&mut out, &mut row, &store, *position, &base);
    }
    drop(store);
    out.extend_from_slice(b"],\"total_entries\":");
    plan::write_int(&mut out, page.total_entries);
    let url = |page: u64| {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        serializer.append_pair("page", itoa::Buffer::new().format(page));
        for (key, value) in &query.link_pairs {
            serializer.append_pair(key, value);
        }
        format!("{origin}{}?{}", uri.path(), serializer.finish())
    };
    out.extend_from_slice(b",\"links\":{\"self\":");
    plan::write_str(&mut out, &url(query.page));
    if query.page.saturating_mul(query.per_page) < page.total_entries {
        out.extend_from_slice(b",\"next\":");
        plan::write_str(&mut out, &url(query.page + 1));
    }
    if query.page > 1 {
        out.extend_from_slice(b",\"previous\":");
        plan::write_str(&mut out, &url(query.page - 1));
    }
    out.extend_from_slice(b"}}");
    Ok(json_response(StatusCode::OK, out))
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
    // A create or a cancel sends a whole body; an update sends only what changes.
    if matches!(role, Role::Create | Role::Cancel) {
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

/// The success answer: the record's JSON (and where a created one lives), or no body.
fn answer(route: &Route, body: Option<Vec<u8>>, location: Option<String>) -> Response {
    let (status, has_body) = route.success;
    let mut response = match body {
        Some(body) if has_body => json_response(status, body),
        _ => {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = status;
            response
        }
    };
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}
