//! Value parsers that the generated command tree uses, and its confirmation prompt ([`confirm`]): `--filter` checked against the route's
//! facts, code lists by name, strings checked by the client's own types, and request bodies.

use std::ffi::OsStr;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, Command};
use cliniko_types::facts::{FilterField, FilterKind, Operation};
use serde::de::DeserializeOwned;

use crate::exit::Usage;

/// The operators of a numeric (ID) field, in the order help and errors list them (the facts' own
/// lists decide what is allowed; a test keeps the two the same sets).
const NUMERIC_OPERATORS: &[&str] = &["!=", ">=", "<=", "!?", "=", ">", "<", "?"];
/// The operators of a date-time field, in the order help and errors list them.
const DATE_TIME_OPERATORS: &[&str] = &[">=", "<=", "!?", ">", "<", "?", "*"];
/// Every operator Cliniko knows, longest first, to find where the field name ends.
const ALL_OPERATORS: &[&str] = &["!=", ">=", "<=", "!?", "~~", "=", ">", "<", "?", "*", "~"];

/// Parses `--filter FIELD OPERATOR VALUE` (`updated_at>2024-01-01T00:00:00Z`, or Cliniko's own
/// `updated_at:>2024-01-01T00:00:00Z`) into Cliniko's `q[]` form, after checking the field, the
/// operator and the value against the operation's facts; nothing is sent until all are right.
#[derive(Debug, Clone, Copy)]
pub struct FilterParser {
    operation: &'static Operation,
}

impl FilterParser {
    /// A parser for the filters of `operation`.
    pub fn new(operation: &'static Operation) -> Self {
        Self { operation }
    }
}

impl TypedValueParser for FilterParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let text = value.to_str().ok_or_else(|| {
            invalid(
                cmd,
                arg,
                &value.to_string_lossy(),
                "a filter is plain text".to_owned(),
            )
        })?;
        parse_filter(self.operation, text).map_err(|reason| invalid(cmd, arg, text, reason))
    }
}

/// The condition `text` makes on `operation`, as Cliniko's `FIELD:OPERATORVALUE`.
pub fn parse_filter(operation: &Operation, text: &str) -> Result<String, String> {
    let text = text.trim();
    let field_end = text
        .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
        .unwrap_or(text.len());
    let (name, rest) = text.split_at(field_end);
    let rest = rest.strip_prefix(':').unwrap_or(rest).trim_start();
    let fields = || operation.filter_names();
    if name.is_empty() {
        return Err(format!(
            "write a filter as FIELD OPERATOR VALUE, such as updated_at>2024-01-01T00:00:00Z; the fields are {}",
            fields()
        ));
    }
    let Some(field) = operation.filter(name) else {
        return Err(if operation.filters.is_empty() {
            format!("{} takes no filters", operation.id)
        } else {
            format!(
                "{} does not filter on {name}; it filters on {}",
                operation.id,
                fields()
            )
        });
    };
    let Some(operator) = ALL_OPERATORS.iter().find(|op| rest.starts_with(**op)) else {
        return Err(format!(
            "{name} needs an operator: {}",
            operators(field).join(" ")
        ));
    };
    if !field.kind.operators().contains(operator) {
        return Err(format!(
            "{name} takes the operators {}, not {operator}",
            operators(field).join(" ")
        ));
    }
    let value = rest[operator.len()..].trim();
    let takes_no_value = matches!(*operator, "?" | "!?" | "*");
    if takes_no_value {
        if !value.is_empty() {
            return Err(format!("{name}:{operator} takes no value"));
        }
        return Ok(format!("{name}:{operator}"));
    }
    let value = match field.kind {
        FilterKind::Numeric => {
            let list_allowed = matches!(*operator, "=" | "!=");
            let ids: Vec<&str> = value.split(',').map(str::trim).collect();
            if ids.len() > 1 && !list_allowed {
                return Err(format!("{name}{operator} takes one id, not a list"));
            }
            for id in &ids {
                if id.parse::<cliniko_types::Id>().is_err() {
                    return Err(format!(
                        "{name} takes ids (digits, such as 1390726237298631770), not {id:?}"
                    ));
                }
            }
            ids.join(",")
        }
        FilterKind::DateTime => {
            let at = DateTime::parse_from_rfc3339(value).map_err(|_| {
                format!(
                    "{name} takes a date-time with its offset, such as 2024-01-01T00:00:00Z, not {value:?}"
                )
            })?;
            at.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::AutoSi, true)
        }
        _ => {
            return Err(format!(
                "{name} has a filter type this cliniko does not know"
            ));
        }
    };
    Ok(format!("{name}:{operator}{value}"))
}

fn operators(field: &FilterField) -> &'static [&'static str] {
    match field.kind {
        FilterKind::Numeric => NUMERIC_OPERATORS,
        FilterKind::DateTime => DATE_TIME_OPERATORS,
        _ => &[],
    }
}

/// The one-line help of `--filter` on `operation`.
pub fn filter_help(operation: &Operation) -> String {
    let example = if operation.filter("updated_at").is_some() {
        "updated_at>2024-01-01T00:00:00Z".to_owned()
    } else {
        // A get route's filters find a hidden record: `*` on the first of its state fields.
        match operation
            .filters
            .iter()
            .find(|field| field.kind == FilterKind::DateTime)
        {
            Some(field) => format!("{}*", field.name),
            None => operation
                .filters
                .first()
                .map(|field| format!("{}?", field.name))
                .unwrap_or_default(),
        }
    };
    format!(
        "Only {} that match (repeatable, ANDed), such as {example}",
        records_of(operation)
    )
}

/// What `operation`'s resource calls its records (`patients`), from the spec's resources.
fn records_of(operation: &Operation) -> &'static str {
    cliniko_types::resource::of_operation(operation.id)
        .map_or("records", |(resource, _)| resource.plural)
}

/// The long help of `--filter`: each field of `operation` with its operators.
pub fn filter_long_help(operation: &Operation) -> String {
    let mut help = format!(
        "{}\n\nWrite FIELD OPERATOR VALUE, or Cliniko's FIELD:OPERATORVALUE. `?` means not null, \
         `!?` null, and `*` brings in the {} the route leaves out (cancelled, archived).\n",
        filter_help(operation),
        records_of(operation)
    );
    for field in operation.filters {
        let kind = match field.kind {
            FilterKind::Numeric => "id, lists with = and !=",
            FilterKind::DateTime => "UTC date-time",
            _ => "other",
        };
        help.push_str(&format!(
            "\n  {:<16} {}  ({kind})",
            field.name,
            operators(field).join(" ")
        ));
    }
    help
}

/// The generated `q[]` items for checked conditions.
pub fn conditions<'a, Q>(values: impl Iterator<Item = &'a String>) -> anyhow::Result<Vec<Q>>
where
    Q: TryFrom<&'a str>,
    Q::Error: std::fmt::Display,
{
    values
        .map(|value| {
            Q::try_from(value.as_str()).map_err(|error| {
                Usage::new(format!("filter {value:?} is not valid: {error}")).into()
            })
        })
        .collect()
}

/// A value parser that checks a string with the client's generated type for it (its pattern).
pub fn checked<T>(
    name: &'static str,
) -> impl Fn(&str) -> Result<String, String> + Clone + Send + Sync + 'static
where
    T: for<'a> TryFrom<&'a str>,
{
    move |value: &str| match T::try_from(value) {
        Ok(_) => Ok(value.to_owned()),
        Err(_) => Err(format!(
            "{value:?} is not a valid {name} for Cliniko; see --help"
        )),
    }
}

/// A whole number from `min` up, refused as "a whole number from 1 up" rather than with the
/// largest number a computer holds.
pub fn at_least(min: u64) -> impl Fn(&str) -> Result<u64, String> + Clone + Send + Sync + 'static {
    move |value: &str| match value.parse::<u64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!("{value:?} is not a whole number from {min} up")),
    }
}

/// An ID, or `null` (to clear a link): the JSON value sent.
pub fn nullable_id(value: &str) -> Result<serde_json::Value, String> {
    if value == "null" {
        return Ok(serde_json::Value::Null);
    }
    value
        .parse::<cliniko_types::Id>()
        .map(|id| serde_json::Value::String(id.to_string()))
        .map_err(|_| format!("{value:?} is neither an id (digits) nor null"))
}

/// One value of a code list: `--reason sick` or `--reason 30`.
#[derive(Debug, Clone, Copy)]
pub struct Code {
    /// The name on the command line, from `x-enum-varnames`.
    pub name: &'static str,
    /// Cliniko's code, also accepted.
    pub code: &'static str,
    /// The code as JSON, as it is sent.
    pub json: &'static str,
    /// The help, from `x-enum-descriptions`.
    pub help: &'static str,
}

/// Parses a code list by name or code into the JSON value Cliniko takes.
#[derive(Debug, Clone, Copy)]
pub struct CodeParser {
    codes: &'static [Code],
}

impl CodeParser {
    /// A parser for these codes.
    pub fn new(codes: &'static [Code]) -> Self {
        Self { codes }
    }
}

impl TypedValueParser for CodeParser {
    type Value = serde_json::Value;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let text = value.to_string_lossy();
        let found = self
            .codes
            .iter()
            .find(|code| code.name.eq_ignore_ascii_case(&text) || code.code == text);
        match found.map(|code| serde_json::from_str(code.json)) {
            Some(Ok(json)) => Ok(json),
            _ => {
                let mut error = clap::Error::new(ErrorKind::InvalidValue).with_cmd(cmd);
                if let Some(arg) = arg {
                    error.insert(
                        ContextKind::InvalidArg,
                        ContextValue::String(arg.to_string()),
                    );
                }
                error.insert(
                    ContextKind::InvalidValue,
                    ContextValue::String(text.into_owned()),
                );
                error.insert(
                    ContextKind::ValidValue,
                    ContextValue::Strings(
                        self.codes.iter().map(|code| code.name.to_owned()).collect(),
                    ),
                );
                Err(error)
            }
        }
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.codes.iter().map(|code| {
            PossibleValue::new(code.name)
                .help(code.help)
                .alias(code.code)
        })))
    }
}

/// A request body from the options given, checked by its type.
pub fn body<T: DeserializeOwned>(
    fields: serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::Object(fields)).map_err(|error| {
        Usage::new(format!("the options do not make a valid body: {error}")).into()
    })
}

fn invalid(cmd: &Command, arg: Option<&Arg>, value: &str, reason: String) -> clap::Error {
    let arg = arg.map(ToString::to_string).unwrap_or_default();
    cmd.clone().error(
        ErrorKind::ValueValidation,
        format!("invalid value {value:?} for {arg}: {reason}"),
    )
}

/// Parses an option given as JSON (an object or a list, such as a patient's custom fields).
pub fn json_value(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))
}

/// Asks on a terminal before `what` (`attendee delete`) is done to `id`, unless `yes`; without a
/// terminal it goes ahead (scripts pass `--yes` for clarity, but are not stopped).
pub fn confirm(what: &str, id: Option<cliniko_types::Id>, yes: bool) -> anyhow::Result<()> {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    if yes || !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(());
    }
    let target = id.map(|id| format!(" {id}")).unwrap_or_default();
    eprint!("{what}{target}: are you sure? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        Err(Usage::new(format!(
            "{what}{target} not confirmed; nothing was sent (--yes skips the question)"
        ))
        .into())
    }
}

#[cfg(test)]
mod tests {
    use cliniko_types::facts::operations;

    use super::*;

    /// The operators listed in help and errors are the facts' operators, in another order.
    #[test]
    fn the_listed_operators_are_the_facts_operators() {
        for (kind, listed) in [
            (FilterKind::Numeric, NUMERIC_OPERATORS),
            (FilterKind::DateTime, DATE_TIME_OPERATORS),
        ] {
            let mut listed = listed.to_vec();
            let mut facts = kind.operators().to_vec();
            listed.sort_unstable();
            facts.sort_unstable();
            assert_eq!(listed, facts, "{kind:?}");
        }
    }

    #[test]
    fn filters_are_read_in_both_forms_and_normalised_to_utc() {
        let list = &operations::LIST_ATTENDEES;
        assert_eq!(
            parse_filter(list, "updated_at>2024-01-01T00:00:00Z"),
            Ok("updated_at:>2024-01-01T00:00:00Z".to_owned())
        );
        assert_eq!(
            parse_filter(list, "updated_at:>=2024-01-01T10:00:00+10:00"),
            Ok("updated_at:>=2024-01-01T00:00:00Z".to_owned())
        );
        assert_eq!(
            parse_filter(list, "patient_id=1, 2,3"),
            Ok("patient_id:=1,2,3".to_owned())
        );
        assert_eq!(
            parse_filter(list, "cancelled_at*"),
            Ok("cancelled_at:*".to_owned())
        );
    }

    #[test]
    fn filters_outside_the_facts_are_refused_with_what_to_write() {
        let list = &operations::LIST_ATTENDEES;
        let unknown = parse_filter(list, "colour=red").expect_err("no such field");
        assert!(unknown.contains("it filters on archived_at"), "{unknown}");
        let operator = parse_filter(list, "updated_at=2024-01-01T00:00:00Z").expect_err("no =");
        assert!(
            operator.contains("takes the operators >= <= !? > < ? *"),
            "{operator}"
        );
        assert!(parse_filter(list, "id>1,2").is_err());
        assert!(parse_filter(list, "updated_at>yesterday").is_err());
        let single = &operations::GET_ATTENDEE;
        assert!(parse_filter(single, "updated_at>2024-01-01T00:00:00Z").is_err());
        assert_eq!(
            parse_filter(single, "archived_at:*"),
            Ok("archived_at:*".to_owned())
        );
    }
}
