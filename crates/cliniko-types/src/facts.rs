//! Cliniko's facts as the spec states them: the `User-Agent` rule, the shards, the `per_page`
//! range, the rate limit, and for each operation its method, path, retry rule and filter fields.
//!
//! The values are generated from `spec/cliniko-attendees.yaml` by `cargo xtask codegen` (see
//! `cliniko_spec::facts`), so the client, the fake server and the conformance checker share one
//! source instead of keeping copies.
//!
//! ```
//! use cliniko_types::facts::{self, Retry};
//!
//! let create = facts::operation("createAttendee").expect("documented");
//! assert_eq!((create.method, create.path), ("POST", "/attendees"));
//! assert_eq!(create.retry, Retry::OnlyIfNotSent);
//! assert_eq!((facts::PER_PAGE_MIN, facts::PER_PAGE_MAX), (1, 100));
//! ```

pub use crate::generated_facts::*;

/// Whether an operation may be sent again after a failure whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Retry {
    /// Sending it again cannot change the outcome: reads and updates (`x-cliniko-retry: always`).
    Always,
    /// Send it again only when the first attempt provably never reached Cliniko (a refused
    /// connection, a 429): create, cancel, archive, delete (`x-cliniko-retry: only-if-not-sent`).
    OnlyIfNotSent,
}

/// The type of a filterable field, which decides its operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FilterKind {
    /// An ID: `=` `!=` (with lists) `>=` `>` `<=` `<` `?` `!?`.
    Numeric,
    /// A UTC date-time: `>=` `>` `<=` `<` `?` `!?` `*`.
    DateTime,
    /// A calendar date: `=` `>=` `>` `<=` `<` `?` `!?`; after `=`, year, month or day may be
    /// asterisks (`****-05-**`).
    Date,
    /// Text: `=` `!=` `~` `~~` `?` `!?`; `%` is a wildcard in the values of `~` and `~~`.
    String,
    /// `true` or `false`: `=` `!=`.
    Boolean,
}

impl FilterKind {
    /// The operators a filter on a field of this kind takes, as the spec's `q[]` patterns spell
    /// them.
    pub fn operators(self) -> &'static [&'static str] {
        match self {
            Self::Numeric => NUMERIC_OPERATORS,
            Self::DateTime => DATE_TIME_OPERATORS,
            Self::Date => DATE_OPERATORS,
            Self::String => STRING_OPERATORS,
            Self::Boolean => BOOLEAN_OPERATORS,
        }
    }
}

/// One field a route's `q[]` filters accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FilterField {
    /// The field's name, as in `updated_at`.
    pub name: &'static str,
    /// Its type.
    pub kind: FilterKind,
}

/// One operation of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operation {
    /// The spec's `operationId`, such as `getAttendee`.
    pub id: &'static str,
    /// The generated client's name for it, such as `get_attendee`.
    pub rust_name: &'static str,
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path template under the base URL, such as `/attendees/{id}`.
    pub path: &'static str,
    /// Whether it may be sent again after an ambiguous failure.
    pub retry: Retry,
    /// The fields its `q[]` parameter accepts; empty when it takes no filters.
    pub filters: &'static [FilterField],
}

impl Operation {
    /// The filter field with this name, if the operation accepts it.
    pub fn filter(&self, name: &str) -> Option<&'static FilterField> {
        self.filters.iter().find(|field| field.name == name)
    }

    /// The fields it filters on, as `a, b, c`, for messages.
    pub fn filter_names(&self) -> String {
        self.filters
            .iter()
            .map(|field| field.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The operation with this `operationId` (`getAttendee`) or generated name (`get_attendee`).
pub fn operation(id_or_rust_name: &str) -> Option<&'static Operation> {
    OPERATIONS
        .iter()
        .find(|operation| operation.id == id_or_rust_name || operation.rust_name == id_or_rust_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_found_by_both_names() {
        for operation in OPERATIONS {
            assert_eq!(super::operation(operation.id), Some(operation));
            assert_eq!(super::operation(operation.rust_name), Some(operation));
        }
        assert_eq!(super::operation("noSuchOperation"), None);
    }

    #[test]
    fn writes_are_never_blindly_retried() {
        for operation in OPERATIONS {
            let write = matches!(operation.method, "POST" | "DELETE")
                || operation.path.ends_with("/cancel");
            if write {
                assert_eq!(operation.retry, Retry::OnlyIfNotSent, "{}", operation.id);
            }
        }
    }
}
