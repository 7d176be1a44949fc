//! Cliniko's facts, read from the spec: the one place the client, the fake and the checker take
//! them from.
//!
//! Some are plain OpenAPI (the `User-Agent` pattern, the `per_page` range, each route's method and
//! path); the rest are `x-cliniko-*` extensions that no OpenAPI keyword can hold: the rate limit,
//! the form of a shard name, whether an operation may be sent again after an ambiguous failure, and
//! each `q[]` parameter's filterable fields. `cargo xtask codegen` writes them into
//! `cliniko_types::facts` as constants, and refuses a spec in which one is missing or malformed, or
//! in which a `q[]` pattern is not the one built from its fields ([`Spec::facts`] lists each such
//! problem with its JSON pointer).

use serde_json::Value;

use crate::pointer::push;
use crate::{METHODS, Problem, Spec};

/// The operators of a numeric filter, in the order the pattern lists them.
pub const NUMERIC_OPERATORS: &[&str] = &["=", "!=", ">=", ">", "<=", "<", "?", "!?"];
/// The operators of a date-time filter.
pub const DATE_TIME_OPERATORS: &[&str] = &[">=", ">", "<=", "<", "?", "!?", "*"];
/// The operators of a date filter (`=` also takes `*` wildcards, as in `****-05-**`).
pub const DATE_OPERATORS: &[&str] = &["=", ">=", ">", "<=", "<", "?", "!?"];
/// The operators of a string filter: `~` and `~~` are Cliniko's matching operators, in whose
/// values `%` is a wildcard (sent percent-encoded, as `%25`, like every `%` in a query).
pub const STRING_OPERATORS: &[&str] = &["=", "!=", "~", "~~", "?", "!?"];
/// The operators of a boolean filter.
pub const BOOLEAN_OPERATORS: &[&str] = &["=", "!="];

/// A numeric value in a filter: a 64-bit ID, at most 19 digits.
const NUMBER: &str = "[0-9]{1,19}";
/// A UTC date-time in a filter, as Cliniko writes them.
const DATE_TIME: &str = "[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?Z";
/// A calendar date in a filter, `YYYY-MM-DD`.
const DATE: &str = "[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])";
/// A date for `=`, where any of year, month and day may be all asterisks: `****-05-**` is any day
/// in May of any year, `****-12-25` every Christmas Day.
const DATE_WILDCARD: &str =
    "(?:[0-9]{4}|\\*{4})-(?:0[1-9]|1[0-2]|\\*{2})-(?:0[1-9]|[12][0-9]|3[01]|\\*{2})";
/// A string value: at least one character, none a line break.
const TEXT: &str = ".+";

/// Everything [`Spec::facts`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The pattern a `User-Agent` must match (`components/parameters/UserAgent`).
    pub user_agent_pattern: String,
    /// The first server's URL, with `{shard}` in it.
    pub server_url_template: String,
    /// The pattern any shard name matches (`x-cliniko-pattern` of the `shard` variable).
    pub shard_pattern: String,
    /// The documented shards (the variable's `enum`).
    pub documented_shards: Vec<String>,
    /// The shard of a key without a suffix (the variable's `default`).
    pub default_shard: String,
    /// `per_page`: minimum, maximum and default.
    pub per_page: (i64, i64, i64),
    /// `x-cliniko-rate-limit`: requests per window, and the window in seconds.
    pub rate_limit: (u32, u32),
    /// Every operation, in the order of the spec's paths.
    pub operations: Vec<OperationFacts>,
}

/// What the spec says about one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationFacts {
    /// The `operationId`.
    pub id: String,
    /// The HTTP method, upper case.
    pub method: String,
    /// The path template, such as `/attendees/{id}`.
    pub path: String,
    /// `x-cliniko-retry`.
    pub retry: Retry,
    /// The fields its `q[]` parameter accepts (empty when it has none).
    pub filters: Vec<FilterField>,
}

/// Whether an operation may be sent again after a failure whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Sending it again cannot change the outcome (`always`): reads and updates.
    Always,
    /// Only when the first attempt provably never reached Cliniko (`only-if-not-sent`).
    OnlyIfNotSent,
}

impl Retry {
    /// Reads an `x-cliniko-retry` value: `always` or `only-if-not-sent`.
    pub fn from_value(value: &Value) -> Option<Self> {
        match value.as_str()? {
            "always" => Some(Self::Always),
            "only-if-not-sent" => Some(Self::OnlyIfNotSent),
            _ => None,
        }
    }

    /// The value as the spec spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::OnlyIfNotSent => "only-if-not-sent",
        }
    }
}

/// Reads `x-cliniko-rate-limit` (`{requests, window-seconds}`, both positive): `None` when it is
/// malformed.
pub fn rate_limit_from_value(value: &Value) -> Option<(u32, u32)> {
    let number = |key: &str| -> Option<u32> {
        value
            .get(key)?
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
    };
    Some((number("requests")?, number("window-seconds")?))
}

/// The `q[]` parameter of an operation (its own, else its path item's), `$ref` followed, with the
/// JSON pointer where it is defined.
pub fn filter_parameter<'a>(
    document: &'a Value,
    path: &str,
    method: &str,
) -> Option<(String, &'a Value)> {
    let item_at = push("/paths", path);
    let item = document.pointer(&item_at)?;
    let at = push(&item_at, method);
    let operation = item.get(method)?;
    for (holder_at, holder) in [(at.as_str(), operation), (item_at.as_str(), item)] {
        let list_at = push(holder_at, "parameters");
        for (index, parameter) in holder
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let chased = crate::pointer::chase(document, parameter);
            if chased.broken.is_some() {
                continue;
            }
            let parameter = chased.value;
            let parameter_at = chased.pointer_or(&push(&list_at, &index.to_string()));
            if parameter.get("name").and_then(Value::as_str) == Some("q[]") {
                return Some((parameter_at, parameter));
            }
        }
    }
    None
}

/// Reads `x-cliniko-filter-fields` (`{numeric: [...], date-time: [...]}`): the fields, and each
/// problem as the JSON pointer below the extension (`/numeric`) and what was expected.
pub fn filter_fields_from_value(groups: &Value) -> (Vec<FilterField>, Vec<(String, String)>) {
    let mut fields = Vec::new();
    let mut problems = Vec::new();
    let Some(groups) = groups.as_object() else {
        problems.push((
            String::new(),
            "expected {numeric: [...], date-time: [...]}".to_owned(),
        ));
        return (fields, problems);
    };
    for (group, names) in groups {
        let Some(kind) = FilterKind::from_group(group) else {
            problems.push((
                push("", group),
                "expected the field type `numeric`, `date-time`, `date`, `string` or `boolean`"
                    .to_owned(),
            ));
            continue;
        };
        for name in names.as_array().into_iter().flatten() {
            match name.as_str() {
                Some(name) => fields.push(FilterField {
                    name: name.to_owned(),
                    kind,
                }),
                None => problems.push((push("", group), "expected field names".to_owned())),
            }
        }
    }
    (fields, problems)
}

impl FilterKind {
    /// The group name in `x-cliniko-filter-fields`.
    pub fn name(self) -> &'static str {
        self.group()
    }
}

/// One filterable field of a `q[]` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterField {
    /// The field's name.
    pub name: String,
    /// Its type, which decides the operators.
    pub kind: FilterKind,
}

/// The type of a filterable field: the group of `x-cliniko-filter-fields` that lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    /// `numeric`, an ID or a count: `NUMERIC_OPERATORS`, and lists with `=`/`!=`.
    Numeric,
    /// `date-time`, a UTC date-time: `DATE_TIME_OPERATORS`.
    DateTime,
    /// `date`, a calendar date: `DATE_OPERATORS`, with `*` wildcards after `=`.
    Date,
    /// `string`, text: `STRING_OPERATORS`.
    String,
    /// `boolean`, `true` or `false`: `BOOLEAN_OPERATORS`.
    Boolean,
}

impl FilterKind {
    /// Every kind, in the order [`filter_pattern`] lists them.
    pub const ALL: [Self; 5] = [
        Self::Numeric,
        Self::DateTime,
        Self::Date,
        Self::String,
        Self::Boolean,
    ];

    /// The name of its group in `x-cliniko-filter-fields`.
    pub fn group(self) -> &'static str {
        match self {
            Self::Numeric => "numeric",
            Self::DateTime => "date-time",
            Self::Date => "date",
            Self::String => "string",
            Self::Boolean => "boolean",
        }
    }

    /// The kind whose group in `x-cliniko-filter-fields` has this name.
    pub fn from_group(group: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.group() == group)
    }

    /// The operators a filter on a field of this kind takes.
    pub fn operators(self) -> &'static [&'static str] {
        match self {
            Self::Numeric => NUMERIC_OPERATORS,
            Self::DateTime => DATE_TIME_OPERATORS,
            Self::Date => DATE_OPERATORS,
            Self::String => STRING_OPERATORS,
            Self::Boolean => BOOLEAN_OPERATORS,
        }
    }

    /// What follows `FIELD:` in a filter on a field of this kind, as a regular expression.
    fn condition(self) -> String {
        match self {
            Self::Numeric => {
                format!("(?:=|!=){NUMBER}(?:,{NUMBER})*|(?:>=|>|<=|<){NUMBER}|\\?|!\\?")
            }
            Self::DateTime => format!("(?:>=|>|<=|<){DATE_TIME}|\\?|!\\?|\\*"),
            Self::Date => format!("={DATE_WILDCARD}|(?:>=|>|<=|<){DATE}|\\?|!\\?"),
            // `~~x` is `~~` then `x`, as Cliniko reads operators longest first; so a value after
            // `~` never starts with `~`, and `~~` alone is refused rather than read as `~` `~`.
            Self::String => {
                format!("(?:=|!=|~~){TEXT}|~[^~\\n\\r\\u2028\\u2029].*|\\?|!\\?")
            }
            Self::Boolean => "(?:=|!=)(?:true|false)".to_owned(),
        }
    }
}

/// The `q[]` item pattern that accepts exactly `FIELD:OPERATORVALUE` for these fields.
pub fn filter_pattern(fields: &[FilterField]) -> String {
    let names = |kind: FilterKind| -> Vec<&str> {
        fields
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| f.name.as_str())
            .collect()
    };
    let mut alternatives = Vec::new();
    for kind in FilterKind::ALL {
        let names = names(kind);
        if !names.is_empty() {
            alternatives.push(format!("(?:{}):(?:{})", names.join("|"), kind.condition()));
        }
    }
    format!("^(?:{})$", alternatives.join("|"))
}

/// Reads the facts, collecting a problem (with its JSON pointer) for each one missing or malformed.
pub(crate) fn read(spec: &Spec) -> Result<Facts, Vec<Problem>> {
    let mut reader = Reader {
        document: spec.raw(),
        problems: Vec::new(),
    };
    let facts = reader.facts();
    if reader.problems.is_empty() {
        Ok(facts)
    } else {
        Err(reader.problems)
    }
}

struct Reader<'a> {
    document: &'a Value,
    problems: Vec<Problem>,
}

impl<'a> Reader<'a> {
    fn problem(&mut self, pointer: &str, message: impl Into<String>) {
        self.problems
            .push(Problem::new(pointer.to_owned(), message.into()));
    }

    fn at(&mut self, pointer: &str, what: &str) -> Option<&'a Value> {
        let found = self.document.pointer(pointer);
        if found.is_none() {
            self.problem(pointer, format!("missing: {what}"));
        }
        found
    }

    fn string(&mut self, pointer: &str, what: &str) -> String {
        match self.at(pointer, what).map(Value::as_str) {
            Some(Some(text)) => text.to_owned(),
            Some(None) => {
                self.problem(pointer, format!("expected a string: {what}"));
                String::new()
            }
            None => String::new(),
        }
    }

    fn integer(&mut self, pointer: &str, what: &str) -> i64 {
        match self.at(pointer, what).map(Value::as_i64) {
            Some(Some(number)) => number,
            Some(None) => {
                self.problem(pointer, format!("expected an integer: {what}"));
                0
            }
            None => 0,
        }
    }

    fn facts(&mut self) -> Facts {
        let user_agent_pattern = self.string(
            "/components/parameters/UserAgent/schema/pattern",
            "the User-Agent header's pattern",
        );
        let server_url_template = self.string("/servers/0/url", "the server URL");
        let shard = "/servers/0/variables/shard";
        let shard_pattern = self.string(
            &format!("{shard}/x-cliniko-pattern"),
            "the pattern of any shard name (x-cliniko-pattern)",
        );
        let default_shard = self.string(&format!("{shard}/default"), "the default shard");
        let documented_shards = match self
            .at(&format!("{shard}/enum"), "the documented shards")
            .map(Value::as_array)
        {
            Some(Some(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(None) => {
                self.problem(&format!("{shard}/enum"), "expected a list of shard names");
                Vec::new()
            }
            None => Vec::new(),
        };
        if let Ok(pattern) = regress::Regex::new(&shard_pattern) {
            for name in &documented_shards {
                if pattern.find(name).is_none() {
                    self.problem(
                        &format!("{shard}/enum"),
                        format!("documented shard `{name}` does not match x-cliniko-pattern {shard_pattern}"),
                    );
                }
            }
        } else if !shard_pattern.is_empty() {
            self.problem(
                &format!("{shard}/x-cliniko-pattern"),
                "not a valid ECMA-262 regular expression",
            );
        }
        let per_page_at = "/components/parameters/PerPage/schema";
        let per_page = (
            self.integer(&format!("{per_page_at}/minimum"), "per_page's minimum"),
            self.integer(&format!("{per_page_at}/maximum"), "per_page's maximum"),
            self.integer(&format!("{per_page_at}/default"), "per_page's default"),
        );
        let rate_limit = (
            self.integer("/x-cliniko-rate-limit/requests", "requests per window")
                .try_into()
                .unwrap_or(0),
            self.integer(
                "/x-cliniko-rate-limit/window-seconds",
                "the rate limit's window in seconds",
            )
            .try_into()
            .unwrap_or(0),
        );
        if rate_limit.0 == 0 || rate_limit.1 == 0 {
            self.problem(
                "/x-cliniko-rate-limit",
                "expected positive `requests` and `window-seconds`",
            );
        }
        let operations = self.operations();
        Facts {
            user_agent_pattern,
            server_url_template,
            shard_pattern,
            documented_shards,
            default_shard,
            per_page,
            rate_limit,
            operations,
        }
    }

    fn operations(&mut self) -> Vec<OperationFacts> {
        let mut out = Vec::new();
        let Some(paths) = self.document.get("paths").and_then(Value::as_object) else {
            return out;
        };
        for (path, item) in paths {
            let item_at = push("/paths", path);
            for method in METHODS {
                let Some(operation) = item.get(*method) else {
                    continue;
                };
                let at = push(&item_at, method);
                let id = operation
                    .get("operationId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let value = operation.get("x-cliniko-retry");
                let retry = match value.and_then(Retry::from_value) {
                    Some(retry) => retry,
                    None => {
                        let other =
                            value.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
                        self.problem(
                            &push(&at, "x-cliniko-retry"),
                            format!(
                                "expected `always` or `only-if-not-sent`, found {}",
                                other.map_or_else(|| "nothing".to_owned(), |o| format!("`{o}`"))
                            ),
                        );
                        Retry::OnlyIfNotSent
                    }
                };
                let filters = self.filters(path, method);
                out.push(OperationFacts {
                    id,
                    method: method.to_uppercase(),
                    path: path.clone(),
                    retry,
                    filters,
                });
            }
        }
        out
    }

    /// The fields of the operation's `q[]` parameter (its own or its path's), checked against its
    /// pattern.
    fn filters(&mut self, path: &str, method: &str) -> Vec<FilterField> {
        match filter_parameter(self.document, path, method) {
            Some((at, parameter)) => self.filter_fields(&at, parameter),
            None => Vec::new(),
        }
    }

    fn filter_fields(&mut self, at: &str, parameter: &Value) -> Vec<FilterField> {
        let fields_at = push(at, "x-cliniko-filter-fields");
        let Some(groups) = parameter
            .get("x-cliniko-filter-fields")
            .filter(|groups| groups.is_object())
        else {
            self.problem(
                &fields_at,
                "a q[] parameter needs x-cliniko-filter-fields: {numeric: [...], date-time: [...], date: [...], string: [...], boolean: [...]}",
            );
            return Vec::new();
        };
        let (fields, problems) = filter_fields_from_value(groups);
        for (below, message) in problems {
            self.problem(&format!("{fields_at}{below}"), message);
        }
        let pattern_at = push(&push(&push(at, "schema"), "items"), "pattern");
        let expected = filter_pattern(&fields);
        if parameter
            .pointer("/schema/items/pattern")
            .and_then(Value::as_str)
            != Some(&expected)
        {
            self.problem(
                &pattern_at,
                format!(
                    "the pattern is not the one built from x-cliniko-filter-fields; expected '{expected}'"
                ),
            );
        }
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_spec_has_every_fact() {
        let spec = Spec::embedded().expect("the spec loads");
        let facts = spec.facts().expect("every fact is there");
        assert_eq!(facts.rate_limit, (200, 60));
        assert_eq!(facts.per_page, (1, 100, 50));
        assert_eq!(facts.default_shard, "au1");
        assert!(facts.documented_shards.iter().any(|s| s == "uk2"));
        let create = facts
            .operations
            .iter()
            .find(|o| o.id == "createAttendee")
            .expect("createAttendee");
        assert_eq!(
            (create.method.as_str(), create.retry),
            ("POST", Retry::OnlyIfNotSent)
        );
        let list = facts
            .operations
            .iter()
            .find(|o| o.id == "listAttendees")
            .expect("listAttendees");
        assert!(
            list.filters
                .iter()
                .any(|f| f.name == "updated_at" && f.kind == FilterKind::DateTime)
        );
        assert!(
            list.filters
                .iter()
                .any(|f| f.name == "patient_id" && f.kind == FilterKind::Numeric)
        );
        let patients = facts
            .operations
            .iter()
            .find(|o| o.id == "listPatients")
            .expect("listPatients");
        for (name, kind) in [
            ("id", FilterKind::Numeric),
            ("updated_at", FilterKind::DateTime),
            ("date_of_birth", FilterKind::Date),
            ("last_name", FilterKind::String),
            ("accepted_privacy_policy", FilterKind::Boolean),
        ] {
            assert!(
                patients
                    .filters
                    .iter()
                    .any(|f| f.name == name && f.kind == kind),
                "{name}: {:?}",
                patients.filters
            );
        }
        let unarchive = facts
            .operations
            .iter()
            .find(|o| o.id == "unarchivePatient")
            .expect("unarchivePatient");
        assert_eq!(
            (unarchive.method.as_str(), unarchive.retry),
            ("POST", Retry::OnlyIfNotSent)
        );
    }

    #[test]
    fn a_filter_pattern_accepts_only_its_fields_and_operators() {
        let fields = [
            FilterField {
                name: "id".into(),
                kind: FilterKind::Numeric,
            },
            FilterField {
                name: "updated_at".into(),
                kind: FilterKind::DateTime,
            },
        ];
        let pattern = regress::Regex::new(&filter_pattern(&fields)).expect("a valid regex");
        for good in [
            "id:=1,2,3",
            "id:!?",
            "updated_at:>2024-01-01T00:00:00Z",
            "updated_at:*",
        ] {
            assert!(pattern.find(good).is_some(), "{good} should match");
        }
        for bad in [
            "colour:=1",
            "id:~1",
            "updated_at:=2024-01-01T00:00:00Z",
            "id:*",
            "updated_at:>yesterday",
            "updated_at:>2024-13-01T00:00:00Z",
            "updated_at:>2024-01-32T00:00:00Z",
            "updated_at:>2024-01-01T24:00:00Z",
        ] {
            assert!(pattern.find(bad).is_none(), "{bad} should not match");
        }
    }

    /// The pattern built for a single field of this kind.
    fn pattern_for(name: &str, kind: FilterKind) -> regress::Regex {
        let fields = [FilterField {
            name: name.into(),
            kind,
        }];
        regress::Regex::new(&filter_pattern(&fields)).expect("a valid regex")
    }

    fn assert_accepts_and_refuses(pattern: &regress::Regex, good: &[&str], bad: &[&str]) {
        for good in good {
            assert!(pattern.find(good).is_some(), "{good} should match");
        }
        for bad in bad {
            assert!(pattern.find(bad).is_none(), "{bad} should not match");
        }
    }

    #[test]
    fn a_string_filter_takes_the_string_operators_and_any_text() {
        let pattern = pattern_for("last_name", FilterKind::String);
        assert_accepts_and_refuses(
            &pattern,
            &[
                "last_name:=O'Brien",
                "last_name:!=Nguyễn",
                "last_name:~Sm",
                "last_name:~~Sm%th",
                "last_name:~~%",
                "last_name:~~~",
                "last_name:~S",
                "last_name:=1,2",
                "last_name:=Anne Marie",
                "last_name:?",
                "last_name:!?",
            ],
            &[
                "last_name:",
                "last_name:=",
                "last_name:~",
                "last_name:~~",
                "last_name:Smith",
                "last_name:>Smith",
                "last_name:<=Smith",
                "last_name:*",
                "last_name:?Smith",
                "last_name:!?Smith",
                "last_name:=two\nlines",
                "first_name:=Smith",
            ],
        );
    }

    #[test]
    fn a_date_filter_takes_dates_and_wildcards_only_with_equals() {
        let pattern = pattern_for("date_of_birth", FilterKind::Date);
        assert_accepts_and_refuses(
            &pattern,
            &[
                "date_of_birth:=1984-05-17",
                "date_of_birth:=****-05-**",
                "date_of_birth:=****-12-25",
                "date_of_birth:=1984-**-**",
                "date_of_birth:=****-**-**",
                "date_of_birth:>=1900-01-01",
                "date_of_birth:>2000-02-29",
                "date_of_birth:<=2024-12-31",
                "date_of_birth:<1950-06-30",
                "date_of_birth:?",
                "date_of_birth:!?",
            ],
            &[
                "date_of_birth:!=1984-05-17",
                "date_of_birth:>****-05-**",
                "date_of_birth:<1984-**-01",
                "date_of_birth:=1984-05-17T00:00:00Z",
                "date_of_birth:=84-05-17",
                "date_of_birth:=1984-13-01",
                "date_of_birth:=1984-00-01",
                "date_of_birth:=1984-05-32",
                "date_of_birth:=1984-5-7",
                "date_of_birth:=19**-05-17",
                "date_of_birth:=****-0*-**",
                "date_of_birth:=***-05-**",
                "date_of_birth:*",
                "date_of_birth:~1984",
                "date_of_birth:=",
                "date_of_birth:?1984-05-17",
            ],
        );
    }

    #[test]
    fn a_boolean_filter_takes_equals_and_not_equals_with_true_or_false() {
        let pattern = pattern_for("accepted_privacy_policy", FilterKind::Boolean);
        assert_accepts_and_refuses(
            &pattern,
            &[
                "accepted_privacy_policy:=true",
                "accepted_privacy_policy:=false",
                "accepted_privacy_policy:!=true",
                "accepted_privacy_policy:!=false",
            ],
            &[
                "accepted_privacy_policy:=TRUE",
                "accepted_privacy_policy:=1",
                "accepted_privacy_policy:=yes",
                "accepted_privacy_policy:=",
                "accepted_privacy_policy:?",
                "accepted_privacy_policy:!?",
                "accepted_privacy_policy:~true",
                "accepted_privacy_policy:>false",
                "accepted_privacy_policy:*",
                "accepted_privacy_policy:=truee",
            ],
        );
    }

    /// Each operator a kind lists is one its pattern accepts, and no other operator is.
    #[test]
    fn each_kind_accepts_exactly_its_operators() {
        const EVERY_OPERATOR: [&str; 11] =
            ["=", "!=", ">=", ">", "<=", "<", "?", "!?", "*", "~", "~~"];
        for kind in FilterKind::ALL {
            let value = match kind {
                FilterKind::Numeric => "7",
                FilterKind::DateTime => "2024-01-01T00:00:00Z",
                FilterKind::Date => "2024-01-01",
                FilterKind::String => "Smith",
                FilterKind::Boolean => "true",
            };
            let pattern = pattern_for("field", kind);
            for operator in EVERY_OPERATOR {
                let takes_no_value = matches!(operator, "?" | "!?" | "*");
                let filter = if takes_no_value {
                    format!("field:{operator}")
                } else {
                    format!("field:{operator}{value}")
                };
                assert_eq!(
                    pattern.find(&filter).is_some(),
                    kind.operators().contains(&operator),
                    "{kind:?}: {filter}"
                );
            }
            assert_eq!(FilterKind::from_group(kind.group()), Some(kind));
        }
        assert_eq!(FilterKind::from_group("text"), None);
    }

    #[test]
    fn fields_of_every_kind_share_one_pattern() {
        let fields: Vec<FilterField> = [
            ("id", FilterKind::Numeric),
            ("updated_at", FilterKind::DateTime),
            ("date_of_birth", FilterKind::Date),
            ("first_name", FilterKind::String),
            ("accepted_privacy_policy", FilterKind::Boolean),
        ]
        .into_iter()
        .map(|(name, kind)| FilterField {
            name: name.into(),
            kind,
        })
        .collect();
        let pattern = regress::Regex::new(&filter_pattern(&fields)).expect("a valid regex");
        assert_accepts_and_refuses(
            &pattern,
            &[
                "id:=1,2",
                "updated_at:*",
                "date_of_birth:=****-05-**",
                "first_name:~~Jo%",
                "accepted_privacy_policy:!=false",
            ],
            &[
                "id:~1",
                "updated_at:=2024-01-01",
                "date_of_birth:*",
                "first_name:>A",
                "accepted_privacy_policy:?",
            ],
        );
    }

    #[test]
    fn an_unknown_filter_group_is_refused_with_its_pointer() {
        let yaml = crate::EMBEDDED_YAML.replacen(
            "numeric: [appointment_id, booking_id, id, patient_case_id, patient_id]",
            "integer: [appointment_id, booking_id, id, patient_case_id, patient_id]",
            1,
        );
        let spec = Spec::from_yaml_str(&yaml, "unknown-group.yaml").expect("loads");
        let problems = spec.facts().expect_err("`integer` is no filter type");
        assert!(
            problems.iter().any(|p| p.pointer
                == "/components/parameters/AttendeeFilter/x-cliniko-filter-fields/integer"
                && p.message.contains("`string`")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_pattern_that_drifted_from_its_fields_is_refused() {
        let yaml = crate::EMBEDDED_YAML.replacen(
            "numeric: [appointment_id, booking_id, id, patient_case_id, patient_id]",
            "numeric: [appointment_id, booking_id, id, patient_case_id, patient_id, colour]",
            1,
        );
        let spec = Spec::from_yaml_str(&yaml, "drifted.yaml").expect("loads");
        let problems = spec.facts().expect_err("the pattern no longer fits");
        assert!(
            problems
                .iter()
                .any(|p| p.pointer == "/components/parameters/AttendeeFilter/schema/items/pattern"),
            "{problems:?}"
        );
    }
}
