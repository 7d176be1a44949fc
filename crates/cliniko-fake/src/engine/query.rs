//! The query string of a list (or get) route: `page`, `per_page` in the spec's range, `sort`
//! and `order`, and the `q[]` filters the operation's `x-cliniko-filter-fields` name, parsed into
//! a [`Query`] or refused with a message that says what to send instead.
//!
//! A filter on a numeric or date-time field reads the store's index column for it (an ID, or a
//! time in nanoseconds); one on text, a date or a boolean reads the record itself.

use std::cmp::Ordering;

use cliniko_spec::facts::{FilterField, FilterKind};

/// The highest page number accepted: the spec's `page` is any int64 from 1, and a page past the
/// last is an empty page (offsets saturate instead of overflowing).
pub(crate) const MAX_PAGE: u64 = i64::MAX as u64;

/// Which records a list route shows before `*` filters widen it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Neither cancelled, archived nor deleted.
    Plain,
    /// Cancelled (and not archived or deleted).
    Cancelled,
    /// Deleted or archived.
    Deleted,
    /// Archived.
    Archived,
}

/// A value a filter compares with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    /// An ID, or a time in nanoseconds: compared with an index column.
    Number(i128),
    /// Text, a date or a boolean: compared with the record's text.
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    OneOf(Vec<Operand>),
    NoneOf(Vec<Operand>),
    Compare(Comparison, Operand),
    /// `~` or `~~` (Cliniko's matching, `%` a wildcard); true for a match.
    Like(String),
    Present,
    Absent,
    /// `*`: matches everything, and lifts the route's exclusion of cancelled or archived ones.
    Anything,
}

/// One `q[]` filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    pub(crate) name: String,
    pub(crate) kind: FilterKind,
    /// The index column it reads, for numeric and date-time fields the store keeps.
    pub(crate) column: Option<usize>,
    pub(crate) condition: Condition,
}

/// One key of `sort`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SortKey {
    pub(crate) name: String,
    pub(crate) column: Option<usize>,
    pub(crate) descending: bool,
}

/// A parsed list request.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) page: u64,
    pub(crate) per_page: u64,
    pub(crate) sort: Vec<SortKey>,
    pub(crate) filters: Vec<Filter>,
    pub(crate) scope: Scope,
    pub(crate) include_cancelled: bool,
    pub(crate) include_gone: bool,
    /// The query's own pairs other than `page`, kept to build the page links.
    pub(crate) link_pairs: Vec<(String, String)>,
}

/// What the parser needs from the resource: which names have an index column.
pub(crate) trait ColumnsOf {
    /// The index column of a field (after the resource's aliases), if the store keeps one.
    fn column(&self, name: &str) -> Option<usize>;
}

impl Query {
    /// Parses a raw query string for a route whose `q[]` takes `fields`; `sortable` are the
    /// fields `sort` takes.
    pub(crate) fn parse(
        raw: &str,
        scope: Scope,
        fields: &[FilterField],
        sortable: &[String],
        per_page_range: (i64, i64, i64),
        columns: &dyn ColumnsOf,
    ) -> Result<Self, String> {
        let (least, most, default) = per_page_range;
        let (least, most) = (least.max(1) as u64, most.max(1) as u64);
        let mut page = 1;
        let mut per_page = default.max(1) as u64;
        let mut sort_text: Option<String> = None;
        let mut descending = false;
        let mut filters = Vec::new();
        let mut link_pairs = Vec::new();
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            match key.as_ref() {
                "page" => {
                    page = bounded(&value, 1, MAX_PAGE).ok_or_else(|| {
                        format!(
                            "Invalid page {value:?}: expected a whole number from 1 to {MAX_PAGE}"
                        )
                    })?;
                    continue;
                }
                "per_page" => {
                    per_page = bounded(&value, least, most).ok_or_else(|| {
                        format!(
                            "Invalid per_page {value:?}: expected a whole number from {least} to {most}"
                        )
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
                "q[]" => filters.push(parse_filter(&value, fields, columns)?),
                _ => {}
            }
            link_pairs.push((key.into_owned(), value.into_owned()));
        }
        let sort = match sort_text.as_deref() {
            // An empty `sort=` fails the spec's pattern: refused like any other bad sort.
            Some(text) => parse_sort(text, descending, sortable, columns)?,
            None => vec![SortKey {
                name: "created_at".to_owned(),
                column: columns.column("created_at"),
                descending,
            }],
        };
        let include = |wanted: &[&str]| {
            filters.iter().any(|f: &Filter| {
                f.condition == Condition::Anything && wanted.contains(&f.name.as_str())
            })
        };
        let include_cancelled = include(&["cancelled_at"]);
        let include_gone = include(&["archived_at", "deleted_at"]);
        Ok(Self {
            page,
            per_page,
            sort,
            filters,
            scope,
            include_cancelled,
            include_gone,
            link_pairs,
        })
    }

    /// Whether the sort is ID (and creation) order, one direction.
    pub(crate) fn is_default_order(&self) -> bool {
        let first = self.sort[0].descending;
        self.sort
            .iter()
            .all(|k| matches!(k.name.as_str(), "created_at" | "id") && k.descending == first)
    }
}

fn bounded(text: &str, low: u64, high: u64) -> Option<u64> {
    let number: u64 = text.trim().parse().ok()?;
    (low..=high).contains(&number).then_some(number)
}

fn parse_sort(
    text: &str,
    default_descending: bool,
    sortable: &[String],
    columns: &dyn ColumnsOf,
) -> Result<Vec<SortKey>, String> {
    text.split(',')
        .map(|part| {
            let (name, direction) = match part.split_once(':') {
                Some((name, direction)) => (name.trim(), Some(direction)),
                None => (part.trim(), None),
            };
            if !sortable.iter().any(|f| f == name) {
                return Err(format!(
                    "Invalid sort {text:?}: unknown field {name:?}; sortable fields are {}",
                    sortable.join(", ")
                ));
            }
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
            Ok(SortKey {
                name: name.to_owned(),
                column: columns.column(name),
                descending,
            })
        })
        .collect()
}

fn parse_filter(
    text: &str,
    fields: &[FilterField],
    columns: &dyn ColumnsOf,
) -> Result<Filter, String> {
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
    let kind = field.kind;
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
    let takes_value = !matches!(operator, "?" | "!?" | "*");
    if takes_value {
        check_value_form(text, kind, operator, value)?;
    } else if !value.is_empty() {
        return Err(format!(
            "Invalid filter {text:?}: the operator {operator} takes no value"
        ));
    }
    let column = match kind {
        FilterKind::Numeric | FilterKind::DateTime => columns.column(name),
        _ => None,
    };
    let parse_value = |value: &str| -> Result<Operand, String> {
        match kind {
            FilterKind::DateTime => date_time_nanos(value).map(Operand::Number).ok_or_else(|| {
                format!("Invalid filter {text:?}: {value:?} is not a UTC date-time such as 2014-08-30T18:00:00Z")
            }),
            // What the spec's `q[]` pattern admits: 1 to 19 digits, so leading zeros (`007` is 7)
            // and numbers past i64::MAX, which name no ID, are values too.
            FilterKind::Numeric => value
                .parse::<i128>()
                .map(Operand::Number)
                .map_err(|e| e.to_string()),
            _ => Ok(Operand::Text(value.to_owned())),
        }
    };
    let list = |value: &str| {
        value
            .split(',')
            .map(parse_value)
            .collect::<Result<Vec<_>, _>>()
    };
    let condition = match operator {
        "?" => Condition::Present,
        "!?" => Condition::Absent,
        "*" => Condition::Anything,
        "=" if kind == FilterKind::Numeric => Condition::OneOf(list(value)?),
        "!=" if kind == FilterKind::Numeric => Condition::NoneOf(list(value)?),
        "=" => Condition::OneOf(vec![parse_value(value)?]),
        "!=" => Condition::NoneOf(vec![parse_value(value)?]),
        "~" | "~~" => Condition::Like(value.to_lowercase()),
        ">" => Condition::Compare(Comparison::Greater, parse_value(value)?),
        ">=" => Condition::Compare(Comparison::GreaterOrEqual, parse_value(value)?),
        "<" => Condition::Compare(Comparison::Less, parse_value(value)?),
        _ => Condition::Compare(Comparison::LessOrEqual, parse_value(value)?),
    };
    Ok(Filter {
        name: name.to_owned(),
        kind,
        column,
        condition,
    })
}

/// A UTC date-time in nanoseconds since 1970.
pub(crate) fn date_time_nanos(value: &str) -> Option<i128> {
    chrono::DateTime::parse_from_rfc3339(value).ok().map(|t| {
        let t = t.to_utc();
        i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
    })
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
            let one_line = !value
                .chars()
                .any(|c| matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}'));
            !value.is_empty() && one_line && (operator != "~" || !value.starts_with('~'))
        }
        FilterKind::Boolean => matches!(value, "true" | "false"),
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
        FilterKind::DateTime => "a UTC date-time",
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

/// A field's value as a filter or sort reads it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found {
    Null,
    Number(i128),
    Text(String),
}

impl Filter {
    /// Whether a value passes; a null value passes only `!?` and `*`, as in SQL.
    pub(crate) fn matches(&self, value: &Found) -> bool {
        match (&self.condition, value) {
            (Condition::Anything, _) => true,
            (Condition::Present, value) => *value != Found::Null,
            (Condition::Absent, value) => *value == Found::Null,
            (_, Found::Null) => false,
            (Condition::OneOf(list), value) => list.iter().any(|o| self.equal(o, value)),
            (Condition::NoneOf(list), value) => !list.iter().any(|o| self.equal(o, value)),
            (Condition::Like(pattern), Found::Text(text)) => like(&text.to_lowercase(), pattern),
            (Condition::Like(_), _) => false,
            (Condition::Compare(op, bound), value) => {
                let order = match (value, bound) {
                    (Found::Number(v), Operand::Number(b)) => v.cmp(b),
                    (Found::Text(v), Operand::Text(b)) => v.as_str().cmp(b.as_str()),
                    _ => return false,
                };
                match op {
                    Comparison::Greater => order == Ordering::Greater,
                    Comparison::GreaterOrEqual => order != Ordering::Less,
                    Comparison::Less => order == Ordering::Less,
                    Comparison::LessOrEqual => order != Ordering::Greater,
                }
            }
        }
    }

    fn equal(&self, operand: &Operand, value: &Found) -> bool {
        match (operand, value) {
            (Operand::Number(a), Found::Number(b)) => a == b,
            (Operand::Text(a), Found::Text(b)) if self.kind == FilterKind::Date => a
                .split('-')
                .zip(b.split('-'))
                .all(|(want, have)| want.bytes().all(|c| c == b'*') || want == have),
            (Operand::Text(a), Found::Text(b)) => a == b,
            _ => false,
        }
    }

    /// The range of values of its column this filter admits, when it is a comparison (or a
    /// single `=` value): what an ordered index can find by binary search. Inclusive bounds.
    pub(crate) fn range(&self) -> Option<(i128, i128)> {
        match &self.condition {
            Condition::Compare(Comparison::Greater, Operand::Number(v)) => {
                Some((v.saturating_add(1), i128::MAX))
            }
            Condition::Compare(Comparison::GreaterOrEqual, Operand::Number(v)) => {
                Some((*v, i128::MAX))
            }
            Condition::Compare(Comparison::Less, Operand::Number(v)) => {
                Some((i128::MIN, v.saturating_sub(1)))
            }
            Condition::Compare(Comparison::LessOrEqual, Operand::Number(v)) => {
                Some((i128::MIN, *v))
            }
            Condition::OneOf(values) if values.len() == 1 => match values[0] {
                Operand::Number(v) => Some((v, v)),
                Operand::Text(_) => None,
            },
            _ => None,
        }
    }

    /// Whether this is a `*` filter (it admits every record; only the scope reads it).
    pub(crate) fn is_anything(&self) -> bool {
        self.condition == Condition::Anything
    }
}

/// Cliniko's matching: `%` is any run of characters; without one the value matches anywhere.
fn like(text: &str, pattern: &str) -> bool {
    if !pattern.contains('%') {
        return text.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('%').collect();
    let mut at = 0;
    for (k, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if k == 0 {
            if !text.starts_with(part) {
                return false;
            }
            at = part.len();
            continue;
        }
        match text[at..].find(part) {
            Some(found) => at += found + part.len(),
            None => return false,
        }
    }
    parts
        .last()
        .is_none_or(|last| last.is_empty() || text.ends_with(last))
}

impl SortKey {
    /// Orders two values by this key; nulls sort last ascending and first descending.
    pub(crate) fn compare(&self, a: &Found, b: &Found) -> Ordering {
        let order = match (a, b) {
            (Found::Null, Found::Null) => Ordering::Equal,
            (_, Found::Null) => Ordering::Less,
            (Found::Null, _) => Ordering::Greater,
            (Found::Number(x), Found::Number(y)) => x.cmp(y),
            (Found::Text(x), Found::Text(y)) => x.cmp(y),
            (Found::Number(_), Found::Text(_)) => Ordering::Less,
            (Found::Text(_), Found::Number(_)) => Ordering::Greater,
        };
        if self.descending {
            order.reverse()
        } else {
            order
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoColumns;
    impl ColumnsOf for NoColumns {
        fn column(&self, _: &str) -> Option<usize> {
            None
        }
    }

    #[test]
    fn like_reads_percent_as_a_wildcard() {
        assert!(like("nguyen", "ngu%"));
        assert!(like("nguyen", "guy"));
        assert!(!like("nguyen", "ngu%x"));
        assert!(like("ada lovelace", "%love%"));
        assert!(!like("ada lovelace", "love%"));
    }

    #[test]
    fn refuses_absurd_pages_and_unknown_fields() {
        let fields = vec![FilterField {
            name: "id".to_owned(),
            kind: FilterKind::Numeric,
        }];
        for raw in [
            "page=0",
            "page=-1",
            "per_page=101",
            "per_page=0",
            "q[]=colour:=1",
            "q[]=id:~1",
            "sort=colour",
        ] {
            assert!(
                Query::parse(
                    raw,
                    Scope::Plain,
                    &fields,
                    &["id".to_owned()],
                    (1, 100, 50),
                    &NoColumns
                )
                .is_err(),
                "{raw} was accepted"
            );
        }
    }
}
