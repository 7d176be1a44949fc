//! The query string of the list routes: `page`, `per_page`, `sort`, `order` and `q[]` filters,
//! parsed into a [`ListQuery`] or refused with a message that says what to send instead.

use std::cmp::Ordering;

use cliniko_types::facts::{FilterKind, Operation};

use crate::record::AttendeeRecord;

/// The highest page number accepted: the spec's `page` is any int64 from 1, and a page past the
/// last is an empty page (offsets saturate instead of overflowing).
pub(crate) const MAX_PAGE: u64 = i64::MAX as u64;
/// The page size when `per_page` is not given.
pub(crate) const DEFAULT_PER_PAGE: u32 = 50;
/// The largest page size Cliniko allows.
pub(crate) const MAX_PER_PAGE: u32 = 100;

/// Which attendees a list route starts from, before `*` filters widen it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Neither cancelled nor archived.
    Plain,
    /// Cancelled and not archived.
    Cancelled,
    /// Archived (deleted).
    Deleted,
}

/// An attendee field the fake can read off its records, to filter and sort on. Which of them a
/// route filters on, and with which operators, comes from the spec's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    AppointmentId,
    BookingId,
    Id,
    PatientCaseId,
    PatientId,
    ArchivedAt,
    CancelledAt,
    CreatedAt,
    DeletedAt,
    UpdatedAt,
}

impl Field {
    const ALL: [Self; 10] = [
        Self::AppointmentId,
        Self::BookingId,
        Self::Id,
        Self::PatientCaseId,
        Self::PatientId,
        Self::ArchivedAt,
        Self::CancelledAt,
        Self::CreatedAt,
        Self::DeletedAt,
        Self::UpdatedAt,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::AppointmentId => "appointment_id",
            Self::BookingId => "booking_id",
            Self::Id => "id",
            Self::PatientCaseId => "patient_case_id",
            Self::PatientId => "patient_id",
            Self::ArchivedAt => "archived_at",
            Self::CancelledAt => "cancelled_at",
            Self::CreatedAt => "created_at",
            Self::DeletedAt => "deleted_at",
            Self::UpdatedAt => "updated_at",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The field's value as a number that orders correctly: an ID, or a time in nanoseconds.
    pub(crate) fn value(self, record: &AttendeeRecord) -> Option<i128> {
        let nanos = |secs: i64| i128::from(secs) * 1_000_000_000;
        match self {
            Self::AppointmentId | Self::BookingId => Some(record.booking_id.into()),
            Self::Id => Some(record.id.into()),
            Self::PatientCaseId => record.patient_case_id.map(|id| id.get().into()),
            Self::PatientId => Some(record.patient_id.into()),
            Self::ArchivedAt | Self::DeletedAt => record.archived_at.map(nanos),
            Self::CancelledAt => record.cancelled_at.map(nanos),
            Self::CreatedAt => Some(nanos(record.created_at)),
            Self::UpdatedAt => Some(nanos(record.updated_at)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    OneOf(Vec<i128>),
    NoneOf(Vec<i128>),
    Compare(Comparison, i128),
    Present,
    Absent,
    /// `*`: matches everything, and lifts the route's exclusion of cancelled or archived ones.
    Anything,
}

/// One `q[]` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    field: Field,
    condition: Condition,
}

impl Filter {
    /// Whether the attendee passes; a null value passes only `!?` and `*`, as in SQL.
    pub(crate) fn matches(&self, record: &AttendeeRecord) -> bool {
        let value = self.field.value(record);
        match (&self.condition, value) {
            (Condition::Anything, _) => true,
            (Condition::Present, value) => value.is_some(),
            (Condition::Absent, value) => value.is_none(),
            (_, None) => false,
            (Condition::OneOf(list), Some(v)) => list.contains(&v),
            (Condition::NoneOf(list), Some(v)) => !list.contains(&v),
            (Condition::Compare(op, bound), Some(v)) => match op {
                Comparison::Greater => v > *bound,
                Comparison::GreaterOrEqual => v >= *bound,
                Comparison::Less => v < *bound,
                Comparison::LessOrEqual => v <= *bound,
            },
        }
    }
}

impl Filter {
    /// The range of values of `field` this filter admits, when it is a comparison (or a single
    /// `=` value) on that field: what an ordered index can find by binary search. Bounds are
    /// inclusive, in [`Field::value`]'s units.
    pub(crate) fn range_on(&self, field: Field) -> Option<(i128, i128)> {
        if self.field != field {
            return None;
        }
        match &self.condition {
            Condition::Compare(Comparison::Greater, v) => Some((v.saturating_add(1), i128::MAX)),
            Condition::Compare(Comparison::GreaterOrEqual, v) => Some((*v, i128::MAX)),
            Condition::Compare(Comparison::Less, v) => Some((i128::MIN, v.saturating_sub(1))),
            Condition::Compare(Comparison::LessOrEqual, v) => Some((i128::MIN, *v)),
            Condition::OneOf(values) if values.len() == 1 => Some((values[0], values[0])),
            _ => None,
        }
    }

    /// Whether this is a `*` filter (it admits every record; only the scope reads it).
    pub(crate) fn is_anything(&self) -> bool {
        self.condition == Condition::Anything
    }
}

/// One key of `sort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SortKey {
    field: Field,
    descending: bool,
}

impl SortKey {
    /// The field this key sorts on, and whether descending.
    pub(crate) fn parts(&self) -> (Field, bool) {
        (self.field, self.descending)
    }

    /// Orders two attendees by this key; nulls sort last ascending and first descending.
    pub(crate) fn compare(&self, a: &AttendeeRecord, b: &AttendeeRecord) -> Ordering {
        let order = match (self.field.value(a), self.field.value(b)) {
            (Some(a), Some(b)) => a.cmp(&b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if self.descending {
            order.reverse()
        } else {
            order
        }
    }
}

/// A parsed list request.
#[derive(Debug, Clone)]
pub(crate) struct ListQuery {
    pub(crate) page: u64,
    pub(crate) per_page: u32,
    pub(crate) sort: Vec<SortKey>,
    pub(crate) filters: Vec<Filter>,
    pub(crate) scope: Scope,
    pub(crate) include_cancelled: bool,
    pub(crate) include_archived: bool,
    /// The query's own pairs other than `page`, kept to build the page links.
    pub(crate) link_pairs: Vec<(String, String)>,
}

impl ListQuery {
    /// Whether the sort is the store's own order (`created_at` and `id`, one direction): IDs and
    /// creation times grow together, so no sorting is needed.
    pub(crate) fn is_default_order(&self) -> bool {
        let first = self.sort[0].descending;
        self.sort
            .iter()
            .all(|k| matches!(k.field, Field::CreatedAt | Field::Id) && k.descending == first)
    }

    /// Whether the default order runs backwards.
    pub(crate) fn descending_default(&self) -> bool {
        self.sort[0].descending
    }

    /// Whether the route (widened by `*` filters) includes this attendee at all.
    pub(crate) fn scope_admits(&self, record: &AttendeeRecord) -> bool {
        let archived_ok = !record.is_archived() || self.include_archived;
        match self.scope {
            Scope::Plain => archived_ok && (!record.is_cancelled() || self.include_cancelled),
            Scope::Cancelled => record.is_cancelled() && archived_ok,
            Scope::Deleted => record.is_archived(),
        }
    }

    /// Parses a raw query string for a route of this scope, whose `q[]` filters are those of
    /// `operation` in the spec.
    pub(crate) fn parse(
        raw: &str,
        scope: Scope,
        operation: &'static Operation,
    ) -> Result<Self, String> {
        let mut page = 1;
        let mut per_page = DEFAULT_PER_PAGE;
        let mut sort_text: Option<String> = None;
        let mut descending = false;
        let mut filters = Vec::new();
        let mut link_pairs = Vec::new();
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            match key.as_ref() {
                "page" => {
                    page = parse_bounded(&value, 1, MAX_PAGE).ok_or_else(|| {
                        format!(
                            "Invalid page {value:?}: expected a whole number from 1 to {MAX_PAGE}"
                        )
                    })?;
                    continue;
                }
                "per_page" => {
                    per_page = parse_bounded(&value, 1, u64::from(MAX_PER_PAGE))
                        .map(|n| n as u32)
                        .ok_or_else(|| {
                            format!("Invalid per_page {value:?}: expected a whole number from 1 to {MAX_PER_PAGE}")
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
                "q[]" => filters.push(parse_filter(&value, operation)?),
                _ => {}
            }
            link_pairs.push((key.into_owned(), value.into_owned()));
        }
        let sort = match sort_text.as_deref() {
            // An empty `sort=` fails the spec's pattern: refused like any other bad sort.
            Some(text) => parse_sort(text, descending)?,
            _ => vec![SortKey {
                field: Field::CreatedAt,
                descending,
            }],
        };
        let include = |wanted: &[Field]| {
            filters
                .iter()
                .any(|f: &Filter| f.condition == Condition::Anything && wanted.contains(&f.field))
        };
        let include_cancelled = include(&[Field::CancelledAt]);
        let include_archived = include(&[Field::ArchivedAt, Field::DeletedAt]);
        Ok(Self {
            page,
            per_page,
            sort,
            filters,
            scope,
            include_cancelled,
            include_archived,
            link_pairs,
        })
    }
}

fn parse_bounded(text: &str, low: u64, high: u64) -> Option<u64> {
    let number: u64 = text.trim().parse().ok()?;
    (low..=high).contains(&number).then_some(number)
}

fn parse_sort(text: &str, default_descending: bool) -> Result<Vec<SortKey>, String> {
    text.split(',')
        .map(|part| {
            let (name, direction) = match part.split_once(':') {
                Some((name, direction)) => (name, Some(direction)),
                None => (part, None),
            };
            let field = Field::from_name(name.trim()).ok_or_else(|| {
                format!(
                    "Invalid sort {text:?}: unknown field {name:?}; sortable fields are {}",
                    Field::ALL.map(Field::name).join(", ")
                )
            })?;
            let descending = match direction.map(str::trim) {
                None => default_descending,
                Some("asc") => false,
                Some("desc") => true,
                Some(other) => {
                    return Err(format!(
                        "Invalid sort {text:?}: unknown direction {other:?}; use asc or desc"
                    ));
                }
            };
            Ok(SortKey { field, descending })
        })
        .collect()
}

fn parse_filter(text: &str, operation: &'static Operation) -> Result<Filter, String> {
    let (name, rest) = text.split_once(':').ok_or_else(|| {
        format!("Invalid filter {text:?}: expected FIELD:OPERATORVALUE, as in q[]=updated_at:>2024-01-01T00:00:00Z")
    })?;
    let unknown_field = || {
        format!(
            "Invalid filter: unknown field {name:?}; filterable fields here are {}",
            operation.filter_names()
        )
    };
    let kind = operation.filter(name).ok_or_else(unknown_field)?.kind;
    // Longer operators first, so that `!?` is not read as `!` and `~~` not as `~`.
    const OPERATORS: [&str; 11] = ["!?", "!=", ">=", "<=", "~~", ">", "<", "=", "?", "*", "~"];
    let operator = OPERATORS.into_iter().find(|op| rest.starts_with(op));
    let allowed = kind.operators();
    let unknown = |shown: &str| {
        format!(
            "Invalid filter {text:?}: unknown operator {shown:?} for {name}; use one of {}",
            allowed.join(" ")
        )
    };
    let operator = match operator {
        Some(op) if allowed.contains(&op) => op,
        Some(op) => return Err(unknown(op)),
        None => {
            let shown: String = rest
                .chars()
                .take_while(|c| !c.is_ascii_alphanumeric())
                .collect();
            return Err(unknown(&shown));
        }
    };
    let value = &rest[operator.len()..];
    let no_value = |condition: Condition| {
        if value.is_empty() {
            Ok(condition)
        } else {
            Err(format!(
                "Invalid filter {text:?}: the operator {operator} takes no value"
            ))
        }
    };
    let takes_value = !matches!(operator, "?" | "!?" | "*");
    // The value's form is checked for every kind, as the spec's `q[]` pattern does, so that a
    // malformed filter is refused as such even on a field the fake cannot read.
    if takes_value {
        check_value_form(text, kind, operator, value)?;
    } else {
        no_value(Condition::Anything)?;
    }
    // The spec lists the field, so a field the fake cannot read is the fake's gap, answered 400
    // like any filter it cannot apply rather than ignored.
    let field = Field::from_name(name).ok_or_else(|| {
        format!("Invalid filter {text:?}: this fake cannot filter on {name:?} (it reads only attendee fields)")
    })?;
    let parse_value = |value: &str| -> Result<i128, String> {
        match kind {
            FilterKind::DateTime => chrono::DateTime::parse_from_rfc3339(value)
                .map(|t| {
                    let t = t.to_utc();
                    i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
                })
                .map_err(|_| {
                    format!("Invalid filter {text:?}: {value:?} is not a UTC date-time such as 2014-08-30T18:00:00Z")
                }),
            // What the spec's `q[]` pattern admits: 1 to 19 digits, so leading zeros (`007` is 7)
            // and numbers past i64::MAX, which name no ID, are values too.
            FilterKind::Numeric => value.parse::<i128>().map_err(|e| e.to_string()),
            // Every field the fake reads is an ID or a date-time; a spec that gave one of them
            // another type is refused here rather than compared wrongly.
            other => Err(format!(
                "Invalid filter {text:?}: this fake cannot filter on {name:?} as a {other:?} field"
            )),
        }
    };
    let list = |value: &str| {
        value
            .split(',')
            .map(parse_value)
            .collect::<Result<Vec<_>, _>>()
    };
    let condition = match operator {
        "?" => no_value(Condition::Present)?,
        "!?" => no_value(Condition::Absent)?,
        "*" => no_value(Condition::Anything)?,
        "=" => Condition::OneOf(list(value)?),
        "!=" => Condition::NoneOf(list(value)?),
        ">" => Condition::Compare(Comparison::Greater, parse_value(value)?),
        ">=" => Condition::Compare(Comparison::GreaterOrEqual, parse_value(value)?),
        "<" => Condition::Compare(Comparison::Less, parse_value(value)?),
        _ => Condition::Compare(Comparison::LessOrEqual, parse_value(value)?),
    };
    Ok(Filter { field, condition })
}

/// Whether `value`, after `operator`, has the form a filter of this kind takes: what the spec's
/// `q[]` patterns admit (see `cliniko_spec::facts::filter_pattern`).
fn check_value_form(
    text: &str,
    kind: FilterKind,
    operator: &str,
    value: &str,
) -> Result<(), String> {
    // The piece of the value shown in the message: for a list of IDs, the first bad one.
    let mut shown = value;
    let ok = match kind {
        FilterKind::Numeric => {
            let one =
                |id: &str| (1..=19).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit());
            let bad = if matches!(operator, "=" | "!=") {
                value.split(',').find(|id| !one(id))
            } else {
                Some(value).filter(|id| !one(id))
            };
            if let Some(bad) = bad {
                shown = bad;
            }
            bad.is_none()
        }
        // Parsed (and refused) with its own message when the condition is built.
        FilterKind::DateTime => true,
        FilterKind::Date => is_date(value, operator == "="),
        FilterKind::String => {
            !value.is_empty()
                && !value
                    .chars()
                    .any(|c| matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}'))
        }
        FilterKind::Boolean => matches!(value, "true" | "false"),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let expected = match kind {
        FilterKind::Numeric => "an ID (a string of at most 19 digits)",
        FilterKind::Date if operator == "=" => {
            "a date such as 1984-05-17, where year, month or day may be asterisks (****-05-**)"
        }
        FilterKind::Date => "a date such as 1984-05-17",
        FilterKind::String => "some text on one line",
        FilterKind::Boolean => "true or false",
        _ => "a value of a type this fake knows",
    };
    Err(format!(
        "Invalid filter {text:?}: {shown:?} is not {expected}"
    ))
}

/// `YYYY-MM-DD` with a month from 01 to 12 and a day from 01 to 31; with `wildcards`, any of the
/// three parts may instead be all asterisks.
fn is_date(value: &str, wildcards: bool) -> bool {
    let mut parts = value.split('-');
    let (Some(year), Some(month), Some(day), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let part = |text: &str, width: usize, range: std::ops::RangeInclusive<u32>| {
        text.len() == width
            && ((wildcards && text.bytes().all(|b| b == b'*'))
                || (text.bytes().all(|b| b.is_ascii_digit())
                    && text.parse().is_ok_and(|n: u32| range.contains(&n))))
    };
    part(year, 4, 0..=9999) && part(month, 2, 1..=12) && part(day, 2, 1..=31)
}

/// A filter fixed by a route's path, such as the booking of `/group_appointments/{id}/attendees`.
pub(crate) fn path_filter(field: PathField, id: i64) -> Filter {
    let field = match field {
        PathField::Booking => Field::BookingId,
        PathField::PatientCase => Field::PatientCaseId,
    };
    Filter {
        field,
        condition: Condition::OneOf(vec![id.into()]),
    }
}

/// The fields a nested route's path can fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathField {
    Booking,
    PatientCase,
}

#[cfg(test)]
mod tests {
    use super::*;

    use cliniko_types::facts::{FilterField, OPERATIONS, operations};

    fn parse(raw: &str) -> Result<ListQuery, String> {
        ListQuery::parse(raw, Scope::Plain, &operations::LIST_ATTENDEES)
    }

    /// Every field the spec lets an attendee route filter on is one the fake can read off its
    /// records. (The fake serves attendee routes only; its patients come with a later issue.)
    #[test]
    fn the_fake_reads_every_field_the_spec_filters_on() {
        let served: Vec<&Operation> = OPERATIONS
            .iter()
            .filter(|operation| operation.path.contains("attendees"))
            .collect();
        assert!(served.len() >= 7, "{served:?}");
        for operation in served {
            for field in operation.filters {
                assert!(
                    Field::from_name(field.name).is_some(),
                    "{} filters on {}, which the fake cannot read",
                    operation.id,
                    field.name
                );
            }
        }
    }

    /// The operators of each kind are those the spec's `q[]` patterns are built from.
    #[test]
    fn each_kind_takes_the_operators_of_the_spec() {
        assert_eq!(
            FilterKind::Numeric.operators(),
            cliniko_spec::facts::NUMERIC_OPERATORS
        );
        assert_eq!(
            FilterKind::DateTime.operators(),
            cliniko_spec::facts::DATE_TIME_OPERATORS
        );
        assert_eq!(
            FilterKind::Date.operators(),
            cliniko_spec::facts::DATE_OPERATORS
        );
        assert_eq!(
            FilterKind::String.operators(),
            cliniko_spec::facts::STRING_OPERATORS
        );
        assert_eq!(
            FilterKind::Boolean.operators(),
            cliniko_spec::facts::BOOLEAN_OPERATORS
        );
    }

    /// A route with a field of every kind, as a patient list has: the fake serves no such route
    /// yet, but parses and refuses its filters as the spec's pattern does.
    static EVERY_KIND: Operation = Operation {
        id: "listEveryKind",
        rust_name: "list_every_kind",
        method: "GET",
        path: "/every_kind",
        retry: cliniko_types::facts::Retry::Always,
        filters: &[
            FilterField {
                name: "id",
                kind: FilterKind::Numeric,
            },
            FilterField {
                name: "updated_at",
                kind: FilterKind::DateTime,
            },
            FilterField {
                name: "date_of_birth",
                kind: FilterKind::Date,
            },
            FilterField {
                name: "first_name",
                kind: FilterKind::String,
            },
            FilterField {
                name: "accepted_privacy_policy",
                kind: FilterKind::Boolean,
            },
        ],
    };

    fn parse_every_kind(filter: &str) -> Result<ListQuery, String> {
        let raw: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("q[]", filter)
            .finish();
        ListQuery::parse(&raw, Scope::Plain, &EVERY_KIND)
    }

    #[test]
    fn filters_of_the_new_kinds_are_refused_for_their_form_as_the_spec_refuses_them() {
        for (filter, expected) in [
            ("first_name:>A", "unknown operator \">\" for first_name"),
            ("first_name:*", "unknown operator \"*\""),
            ("first_name:=", "\"\" is not some text on one line"),
            ("first_name:~two\nlines", "is not some text on one line"),
            ("date_of_birth:!=1984-05-17", "unknown operator \"!=\""),
            ("date_of_birth:*", "unknown operator \"*\""),
            (
                "date_of_birth:=1984-13-01",
                "is not a date such as 1984-05-17, where",
            ),
            ("date_of_birth:=19**-05-17", "is not a date"),
            (
                "date_of_birth:>****-05-**",
                "\"****-05-**\" is not a date such as 1984-05-17",
            ),
            ("date_of_birth:?1984-05-17", "takes no value"),
            (
                "accepted_privacy_policy:=yes",
                "\"yes\" is not true or false",
            ),
            ("accepted_privacy_policy:?", "unknown operator \"?\""),
            ("accepted_privacy_policy:~true", "unknown operator \"~\""),
        ] {
            let error = parse_every_kind(filter).expect_err(filter);
            assert!(error.contains(expected), "{filter}: {error}");
        }
    }

    #[test]
    fn well_formed_filters_on_fields_the_fake_cannot_read_are_refused_as_such() {
        for filter in [
            "first_name:~~Jo%",
            "first_name:~Nguyễn",
            "first_name:!=O'Brien",
            "first_name:?",
            "date_of_birth:=****-05-**",
            "date_of_birth:<2000-01-01",
            "date_of_birth:!?",
            "accepted_privacy_policy:!=false",
        ] {
            let error = parse_every_kind(filter).expect_err(filter);
            let name = filter.split(':').next().expect("a field");
            assert!(
                error.contains(&format!("this fake cannot filter on \"{name}\"")),
                "{filter}: {error}"
            );
        }
        assert!(parse_every_kind("id:=1,2").is_ok());
        assert!(parse_every_kind("updated_at:*").is_ok());
    }

    /// On every route of the spec, patients' included, the fake refuses a filter's form exactly
    /// when the route's own `q[]` pattern does.
    #[test]
    fn the_fake_and_every_route_pattern_of_the_spec_agree() {
        let spec = cliniko_spec::Spec::embedded().expect("the spec loads");
        let facts = spec.facts().expect("the facts read");
        let operators = ["=", "!=", ">=", ">", "<=", "<", "?", "!?", "*", "~", "~~"];
        let values = [
            "",
            "7",
            "1,2",
            "true",
            "1984-05-17",
            "****-05-**",
            "2024-01-01T00:00:00Z",
            "Nguy%",
        ];
        let mut routes = 0;
        for spec_operation in facts.operations.iter().filter(|o| !o.filters.is_empty()) {
            let operation = cliniko_types::facts::operation(&spec_operation.id).expect("generated");
            let pattern = regress::Regex::new(&cliniko_spec::facts::filter_pattern(
                &spec_operation.filters,
            ))
            .expect("a valid pattern");
            for field in &spec_operation.filters {
                for operator in operators {
                    for value in values {
                        let filter = format!("{}:{operator}{value}", field.name);
                        let raw: String = form_urlencoded::Serializer::new(String::new())
                            .append_pair("q[]", &filter)
                            .finish();
                        let fake_accepts = match ListQuery::parse(&raw, Scope::Plain, operation) {
                            Ok(_) => true,
                            Err(error) => error.contains("this fake cannot filter on"),
                        };
                        assert_eq!(
                            fake_accepts,
                            pattern.find(&filter).is_some(),
                            "{}: {filter}",
                            spec_operation.id
                        );
                    }
                }
            }
            routes += 1;
        }
        assert!(
            cliniko_types::facts::operations::LIST_PATIENTS
                .filters
                .iter()
                .any(|field| field.kind == FilterKind::String),
            "the patient list filters on strings"
        );
        assert!(routes >= 9, "{routes} routes with filters");
    }

    /// The fake refuses a filter's form exactly when the spec's `q[]` pattern does.
    #[test]
    fn the_fake_and_the_spec_pattern_agree_on_every_kind() {
        let fields: Vec<cliniko_spec::facts::FilterField> = EVERY_KIND
            .filters
            .iter()
            .map(|field| cliniko_spec::facts::FilterField {
                name: field.name.to_owned(),
                kind: match field.kind {
                    FilterKind::Numeric => cliniko_spec::facts::FilterKind::Numeric,
                    FilterKind::DateTime => cliniko_spec::facts::FilterKind::DateTime,
                    FilterKind::Date => cliniko_spec::facts::FilterKind::Date,
                    FilterKind::String => cliniko_spec::facts::FilterKind::String,
                    FilterKind::Boolean => cliniko_spec::facts::FilterKind::Boolean,
                    other => panic!("a kind this test does not know: {other:?}"),
                },
            })
            .collect();
        let pattern = regress::Regex::new(&cliniko_spec::facts::filter_pattern(&fields))
            .expect("a valid pattern");
        let operators = ["=", "!=", ">=", ">", "<=", "<", "?", "!?", "*", "~", "~~"];
        let values = [
            "",
            "7",
            "1,2",
            "1,,2",
            "abc",
            "true",
            "false",
            "TRUE",
            "1984-05-17",
            "1984-13-01",
            "****-05-**",
            "1984-**-**",
            "19**-05-17",
            "2024-01-01T00:00:00Z",
            "Jo%",
        ];
        let mut compared = 0;
        for field in EVERY_KIND.filters {
            for operator in operators {
                for value in values {
                    let filter = format!("{}:{operator}{value}", field.name);
                    let spec_accepts = pattern.find(&filter).is_some();
                    let fake_accepts = match parse_every_kind(&filter) {
                        Ok(_) => true,
                        Err(error) => error.contains("this fake cannot filter on"),
                    };
                    assert_eq!(fake_accepts, spec_accepts, "{filter}");
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, 5 * 11 * 15);
    }

    /// A route accepts exactly the fields its operation lists in the spec.
    #[test]
    fn each_route_accepts_exactly_its_fields() {
        for operation in OPERATIONS.iter().filter(|op| op.method == "GET") {
            for field in Field::ALL {
                let value = match operation.filter(field.name()).map(|f| f.kind) {
                    Some(FilterKind::DateTime) => ">2024-01-01T00:00:00Z",
                    _ => "=7",
                };
                let raw = format!("q[]={}:{value}", field.name());
                let parsed = ListQuery::parse(&raw, Scope::Plain, operation);
                match operation.filter(field.name()) {
                    Some(_) => assert!(parsed.is_ok(), "{}: {raw}: {parsed:?}", operation.id),
                    None => {
                        let error = parsed.expect_err(&format!("{}: {raw}", operation.id));
                        assert!(error.contains("unknown field"), "{error}");
                    }
                }
            }
        }
        let error = ListQuery::parse(
            "q[]=patient_case_id:=7",
            Scope::Plain,
            &operations::LIST_PATIENT_CASE_ATTENDEES,
        )
        .expect_err("the path fixes the patient case");
        assert!(!error.contains("patient_case_id,"), "{error}");
        assert!(
            ListQuery::parse("q[]=id:=7", Scope::Plain, &operations::GET_ATTENDEE).is_err(),
            "a single attendee filters only on its archive and cancellation dates"
        );
    }

    #[test]
    fn defaults_to_the_first_page_of_fifty_by_creation() {
        let query = parse("").expect("parses");
        assert_eq!((query.page, query.per_page), (1, 50));
        assert!(query.is_default_order() && !query.descending_default());
    }

    #[test]
    fn refuses_unknown_fields_and_operators_with_their_names() {
        let error = parse("q%5B%5D=colour:=1").expect_err("unknown field");
        assert!(error.contains("unknown field \"colour\""), "{error}");
        let error = parse("q[]=id:~1").expect_err("unknown operator");
        assert!(error.contains("unknown operator \"~\""), "{error}");
        let error = parse("q[]=created_at:=2020-01-01T00:00:00Z").expect_err("= on a date-time");
        assert!(error.contains("unknown operator \"=\""), "{error}");
        let error = parse("q[]=id:*").expect_err("* on an ID");
        assert!(error.contains("unknown operator \"*\""), "{error}");
    }

    #[test]
    fn the_star_filter_widens_the_scope() {
        let query = parse("q[]=cancelled_at:*").expect("parses");
        assert!(query.include_cancelled && !query.include_archived);
        let query = parse("q[]=deleted_at:*").expect("parses");
        assert!(query.include_archived && !query.include_cancelled);
    }

    #[test]
    fn refuses_absurd_pages() {
        for raw in [
            "page=0",
            "page=-1",
            "page=1e3",
            "page=99999999999999999999999",
            "per_page=101",
            "per_page=0",
        ] {
            assert!(parse(raw).is_err(), "{raw} was accepted");
        }
    }
}
