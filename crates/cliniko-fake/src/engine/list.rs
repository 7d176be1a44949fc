//! A list request on a generic resource: `page`, `per_page` in the spec's range, `sort` and
//! `order`, and the `q[]` filters the operation's `x-cliniko-filter-fields` name, applied to JSON
//! records.

use std::cmp::Ordering;

use cliniko_spec::facts::{DATE_TIME_OPERATORS, FilterField, FilterKind, NUMERIC_OPERATORS};
use cliniko_spec::resources::Role;
use serde_json::{Map, Value};

use super::Model;
use super::generate::BASE;

/// The largest page number accepted, as the attendee routes: the spec's `page` is any int64 from
/// 1, and a page past the last is an empty page (offsets saturate instead of overflowing).
const MAX_PAGE: u64 = crate::query::MAX_PAGE;

/// Which records a list route shows before `*` filters widen it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListScope {
    /// Neither cancelled, archived nor deleted.
    Plain,
    /// Cancelled ones.
    Cancelled,
    /// Deleted ones (or archived, where the item has no `deleted_at`).
    Deleted,
    /// Archived ones.
    Archived,
}

impl ListScope {
    pub(crate) fn of(role: Role) -> Self {
        match role {
            Role::ListCancelled => Self::Cancelled,
            Role::ListDeleted => Self::Deleted,
            Role::ListArchived => Self::Archived,
            _ => Self::Plain,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Key {
    Int(i128),
    Text(String),
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Key::Int(a), Key::Int(b)) => Some(a.cmp(b)),
            (Key::Text(a), Key::Text(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
enum Condition {
    Present,
    Absent,
    Anything,
    OneOf(Vec<Key>),
    NoneOf(Vec<Key>),
    Compare(&'static str, Key),
    /// `~` (contains) and `!~` (does not), for text.
    Contains(bool, String),
}

#[derive(Debug, Clone)]
struct Filter {
    field: String,
    kind: FilterKind,
    condition: Condition,
}

/// A parsed list request.
#[derive(Debug)]
pub(crate) struct ListRequest {
    page: u64,
    per_page: u64,
    sort: Vec<(String, bool)>,
    filters: Vec<Filter>,
    link_pairs: Vec<(String, String)>,
}

fn key_of(kind: FilterKind, value: &str) -> Option<Key> {
    if kind == FilterKind::Numeric {
        ((1..=19).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()))
            .then(|| value.parse().ok().map(Key::Int))
            .flatten()
    } else if kind == FilterKind::DateTime {
        chrono::DateTime::parse_from_rfc3339(value).ok().map(|t| {
            let t = t.to_utc();
            Key::Int(
                i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos()),
            )
        })
    } else {
        // Strings, dates (ISO dates order as text) and booleans compare as text.
        Some(Key::Text(value.to_owned()))
    }
}

/// The operators a filter kind takes: the spec's lists for numbers and date-times, and every
/// operator for kinds the spec adds later (compared as text).
fn operators(kind: FilterKind) -> &'static [&'static str] {
    if kind == FilterKind::Numeric {
        NUMERIC_OPERATORS
    } else if kind == FilterKind::DateTime {
        DATE_TIME_OPERATORS
    } else {
        &["=", "!=", ">=", ">", "<=", "<", "~", "!~", "?", "!?", "*"]
    }
}

impl ListRequest {
    /// Parses a raw query for a route filtering on `fields`; `sortable` are the fields `sort`
    /// takes (the spec: "the sortable fields are the filterable ones", or the item's properties
    /// on a route without filters).
    pub(crate) fn parse(
        raw: &str,
        fields: &[FilterField],
        sortable: &[String],
        per_page_range: (i64, i64, i64),
    ) -> Result<Self, String> {
        let (least, most, default) = per_page_range;
        let mut request = Self {
            page: 1,
            per_page: default.max(1) as u64,
            sort: Vec::new(),
            filters: Vec::new(),
            link_pairs: Vec::new(),
        };
        let mut descending = false;
        let mut sort_text = None;
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            match key.as_ref() {
                "page" => {
                    request.page = bounded(&value, 1, MAX_PAGE).ok_or_else(|| {
                        format!(
                            "Invalid page {value:?}: expected a whole number from 1 to {MAX_PAGE}"
                        )
                    })?;
                    continue;
                }
                "per_page" => {
                    request.per_page = bounded(&value, least.max(1) as u64, most.max(1) as u64)
                        .ok_or_else(|| {
                            format!("Invalid per_page {value:?}: expected a whole number from {least} to {most}")
                        })?;
                }
                "sort" => sort_text = Some(value.to_string()),
                "order" => {
                    descending = match value.as_ref() {
                        "asc" => false,
                        "desc" => true,
                        _ => return Err(format!("Invalid order {value:?}: expected asc or desc")),
                    }
                }
                "q[]" => request.filters.push(parse_filter(&value, fields)?),
                _ => {}
            }
            request
                .link_pairs
                .push((key.into_owned(), value.into_owned()));
        }
        request.sort = match sort_text {
            Some(text) => text
                .split(',')
                .map(|part| {
                    let (name, direction) = part.split_once(':').unwrap_or((part, ""));
                    let descending = match direction {
                        "" => descending,
                        "asc" => false,
                        "desc" => true,
                        other => {
                            return Err(format!(
                                "Invalid sort {text:?}: unknown direction {other:?}; use asc or desc"
                            ));
                        }
                    };
                    if !sortable.iter().any(|f| f == name) {
                        return Err(format!(
                            "Invalid sort {text:?}: unknown field {name:?}; sortable fields are {}",
                            sortable.join(", ")
                        ));
                    }
                    Ok((name.to_owned(), descending))
                })
                .collect::<Result<_, _>>()?,
            None => vec![("created_at".to_owned(), descending)],
        };
        Ok(request)
    }

    fn star(&self, fields: &[&str]) -> bool {
        self.filters.iter().any(|f| {
            matches!(f.condition, Condition::Anything) && fields.contains(&f.field.as_str())
        })
    }
}

fn bounded(text: &str, low: u64, high: u64) -> Option<u64> {
    let number: u64 = text.trim().parse().ok()?;
    (low..=high).contains(&number).then_some(number)
}

fn parse_filter(text: &str, fields: &[FilterField]) -> Result<Filter, String> {
    let (name, rest) = text.split_once(':').ok_or_else(|| {
        format!("Invalid filter {text:?}: expected FIELD:OPERATORVALUE, as in q[]=updated_at:>2024-01-01T00:00:00Z")
    })?;
    let field = fields.iter().find(|f| f.name == name).ok_or_else(|| {
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        format!(
            "Invalid filter: unknown field {name:?}; filterable fields here are {}",
            names.join(", ")
        )
    })?;
    const ALL: [&str; 11] = ["!?", "!~", "!=", ">=", "<=", ">", "<", "=", "~", "?", "*"];
    let allowed = operators(field.kind);
    let operator = ALL
        .into_iter()
        .find(|op| rest.starts_with(op))
        .filter(|op| allowed.contains(op))
        .ok_or_else(|| {
            format!(
                "Invalid filter {text:?}: unknown operator for {name}; use one of {}",
                allowed.join(" ")
            )
        })?;
    let value = &rest[operator.len()..];
    let one = |value: &str| {
        key_of(field.kind, value)
            .ok_or_else(|| format!("Invalid filter {text:?}: {value:?} is not a value of {name}"))
    };
    let no_value = |condition| {
        if value.is_empty() {
            Ok(condition)
        } else {
            Err(format!(
                "Invalid filter {text:?}: the operator {operator} takes no value"
            ))
        }
    };
    let condition = match operator {
        "?" => no_value(Condition::Present)?,
        "!?" => no_value(Condition::Absent)?,
        "*" => no_value(Condition::Anything)?,
        "=" => Condition::OneOf(value.split(',').map(one).collect::<Result<_, _>>()?),
        "!=" => Condition::NoneOf(value.split(',').map(one).collect::<Result<_, _>>()?),
        "~" => Condition::Contains(true, value.to_owned()),
        "!~" => Condition::Contains(false, value.to_owned()),
        other => Condition::Compare(other, one(value)?),
    };
    Ok(Filter {
        field: name.to_owned(),
        kind: field.kind,
        condition,
    })
}

/// A field's value in a record as text: the value itself, or for `X_id` the ID at the end of
/// the link in `X`.
fn field_text(record: &Map<String, Value>, name: &str) -> Option<String> {
    match record.get(name) {
        Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(Value::Number(number)) => Some(number.to_string()),
        Some(Value::Bool(flag)) => Some(flag.to_string()),
        Some(_) => None,
        None => {
            let stem = name.strip_suffix("_id")?;
            let url = record.get(stem)?.pointer("/links/self")?.as_str()?;
            url.rsplit('/').next().map(str::to_owned)
        }
    }
}

impl Filter {
    fn matches(&self, record: &Map<String, Value>) -> bool {
        let value = field_text(record, &self.field).and_then(|t| key_of(self.kind, &t));
        match (&self.condition, value) {
            (Condition::Anything, _) => true,
            (Condition::Present, v) => v.is_some(),
            (Condition::Absent, v) => v.is_none(),
            (_, None) => false,
            (Condition::Contains(wanted, part), Some(Key::Text(text))) => {
                text.to_lowercase().contains(&part.to_lowercase()) == *wanted
            }
            (Condition::Contains(..), Some(_)) => false,
            (Condition::OneOf(list), Some(v)) => list.contains(&v),
            (Condition::NoneOf(list), Some(v)) => !list.contains(&v),
            (Condition::Compare(op, bound), Some(v)) => match *op {
                ">" => v > *bound,
                ">=" => v >= *bound,
                "<" => v < *bound,
                _ => v <= *bound,
            },
        }
    }
}

fn is_set(record: &Map<String, Value>, field: &str) -> bool {
    record.get(field).is_some_and(|v| !v.is_null())
}

/// Whether a get route shows the record: a cancelled, archived or deleted one only when the
/// request's `*` filter on that field brings it back (Cliniko's rule for its lists and gets).
pub(crate) fn shows(request: &ListRequest, record: &Value) -> bool {
    record
        .as_object()
        .is_none_or(|record| admits(ListScope::Plain, request, record))
}

/// Whether the route's scope, widened by `*` filters, includes the record.
fn admits(scope: ListScope, request: &ListRequest, record: &Map<String, Value>) -> bool {
    let gone = is_set(record, "archived_at") || is_set(record, "deleted_at");
    let gone_ok = !gone || request.star(&["archived_at", "deleted_at"]);
    let cancelled = is_set(record, "cancelled_at");
    match scope {
        ListScope::Plain => gone_ok && (!cancelled || request.star(&["cancelled_at"])),
        ListScope::Cancelled => cancelled && gone_ok,
        ListScope::Deleted => gone,
        ListScope::Archived => is_set(record, "archived_at"),
    }
}

fn sort_key(record: &Map<String, Value>, field: &str) -> Option<Key> {
    let text = field_text(record, field)?;
    if (1..=19).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok().map(Key::Int)
    } else {
        Some(Key::Text(text))
    }
}

/// One page of the records, as the list schema's JSON with links under `base`.
pub(crate) fn page(
    model: &Model,
    records: Vec<(i64, Value)>,
    request: &ListRequest,
    scope: ListScope,
    parent: Option<&(String, i64)>,
    base: &str,
    path: &str,
) -> String {
    let parent_url = parent.map(|(plural, id)| format!("{BASE}/{plural}/{id}"));
    let mut matched: Vec<(i64, Map<String, Value>)> = records
        .into_iter()
        .filter_map(|(id, record)| match record {
            Value::Object(record) => Some((id, record)),
            _ => None,
        })
        .filter(|(_, record)| {
            admits(scope, request, record)
                && request.filters.iter().all(|f| f.matches(record))
                && parent_url.as_ref().is_none_or(|url| {
                    record.values().any(|v| {
                        v.pointer("/links/self").and_then(Value::as_str) == Some(url.as_str())
                    })
                })
        })
        .collect();
    // ID order first, so that ties keep it.
    matched.sort_by(|(a_id, a), (b_id, b)| {
        request
            .sort
            .iter()
            .map(|(field, descending)| {
                let order = match (sort_key(a, field), sort_key(b, field)) {
                    (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                };
                if *descending { order.reverse() } else { order }
            })
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a_id.cmp(b_id))
    });
    let total = matched.len() as u64;
    let start = (request.page - 1)
        .saturating_mul(request.per_page)
        .min(total) as usize;
    let end = (start as u64 + request.per_page).min(total) as usize;
    let items: Vec<Value> = matched[start..end]
        .iter()
        .map(|(_, r)| Value::Object(r.clone()))
        .collect();
    let origin = base.trim_end_matches("/v1");
    let url = |page: u64| {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        serializer.append_pair("page", itoa::Buffer::new().format(page));
        for (key, value) in &request.link_pairs {
            serializer.append_pair(key, value);
        }
        format!("{origin}{path}?{}", serializer.finish())
    };
    let mut links = Map::new();
    links.insert("self".to_owned(), Value::String(url(request.page)));
    if request.page.saturating_mul(request.per_page) < total {
        links.insert("next".to_owned(), Value::String(url(request.page + 1)));
    }
    if request.page > 1 {
        links.insert("previous".to_owned(), Value::String(url(request.page - 1)));
    }
    let mut body = Map::new();
    body.insert(model.list_key.clone(), Value::Array(items));
    body.insert("total_entries".to_owned(), total.into());
    body.insert("links".to_owned(), Value::Object(links));
    serde_json::to_string(&Value::Object(body))
        .unwrap_or_default()
        .replace(BASE, base)
}
