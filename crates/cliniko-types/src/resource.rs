//! The spec's resources, as generated from `x-cliniko-resources` and the property marks
//! (`x-cliniko-personal`, `x-cliniko-capability-url`): what the client, the CLI, the fake and the
//! checker do for every resource without naming one.
//!
//! ```
//! use cliniko_types::resource::{self, ListPage, Role};
//!
//! let attendee = resource::by_name("attendee").expect("declared in the spec");
//! assert_eq!(attendee.list_key, "attendees");
//! assert_eq!(attendee.operation(Role::Get), Some("getAttendee"));
//! assert_eq!(<cliniko_types::AttendeeList as ListPage>::KEY, "attendees");
//! // Every schema of the spec has a generated type that can be reached by its name.
//! assert!(resource::SCHEMAS.contains(&"Attendee"));
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::generated_resources::*;

/// What an operation does for its resource (the keys of `x-cliniko-resources/*/operations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// The main list route.
    List,
    /// The cancelled ones.
    ListCancelled,
    /// The deleted ones.
    ListDeleted,
    /// The archived ones.
    ListArchived,
    /// A list nested under another resource.
    ListNested,
    /// One record by its ID.
    Get,
    /// A new record.
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
    /// A delete.
    Delete,
}

impl Role {
    /// The date-time field a state change fills, whose `*` filter brings the record back to the
    /// routes that leave it out (`q[]=cancelled_at:*`); `None` for the other roles.
    pub fn state_field(self) -> Option<&'static str> {
        match self {
            Self::Cancel => Some("cancelled_at"),
            Self::Archive => Some("archived_at"),
            Self::Delete => Some("deleted_at"),
            _ => None,
        }
    }

    /// Whether the operation answers with a page of the resource.
    pub fn is_list(self) -> bool {
        matches!(
            self,
            Self::List
                | Self::ListCancelled
                | Self::ListDeleted
                | Self::ListArchived
                | Self::ListNested
        )
    }
}

/// One resource of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// Singular, snake case (`attendee`).
    pub name: &'static str,
    /// Plural, snake case (`attendees`).
    pub plural: &'static str,
    /// The tag its operations carry.
    pub tag: &'static str,
    /// The item schema (and generated type).
    pub schema: &'static str,
    /// The list schema (and generated type).
    pub list_schema: &'static str,
    /// The list schema's property that holds a page's records.
    pub list_key: &'static str,
    /// Its operations by role, as `operationId`s.
    pub operations: &'static [(Role, &'static str)],
    /// The item's properties marked as personal data.
    pub personal: &'static [&'static str],
    /// The item's properties marked as capability URLs.
    pub capability_urls: &'static [&'static str],
}

impl Resource {
    /// The first operation with `role`.
    pub fn operation(&self, role: Role) -> Option<&'static str> {
        self.operations
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, id)| *id)
    }

    /// Every operation with `role` (several for [`Role::ListNested`]).
    pub fn operations_with(&self, role: Role) -> impl Iterator<Item = &'static str> + use<> {
        self.operations
            .iter()
            .filter(move |(r, _)| *r == role)
            .map(|(_, id)| *id)
    }

    /// The role of an operation of this resource.
    pub fn role_of(&self, operation_id: &str) -> Option<Role> {
        self.operations
            .iter()
            .find(|(_, id)| *id == operation_id)
            .map(|(role, _)| *role)
    }
}

/// The resource declared with this name.
pub fn by_name(name: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.name == name)
}

/// The resource an operation belongs to, and its role there.
pub fn of_operation(operation_id: &str) -> Option<(&'static Resource, Role)> {
    RESOURCES
        .iter()
        .find_map(|r| r.role_of(operation_id).map(|role| (r, role)))
}

/// What replaces a marked property's value in anything written to disk; each is still valid for
/// the property's `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Placeholder {
    /// Free text.
    Text,
    /// A name (a property whose name ends in `name`).
    Name,
    /// An email address (`format: email`, or a name ending in `email`).
    Email,
    /// A date (`format: date`).
    Date,
    /// A date-time (`format: date-time`).
    DateTime,
    /// An IPv4 address (`format: ipv4`).
    Ipv4,
    /// A URL (`format: uri`), such as a capability URL.
    Uri,
    /// The spec's own example of a property with a `pattern` (a DVA file number).
    Example(&'static str),
}

/// A property name marked somewhere in the spec, with its placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrubbedProperty {
    /// The property's name.
    pub name: &'static str,
    /// What may replace a string value: one per format the name has in the spec's marked
    /// schemas (a custom field's `value` is a date in one shape and text in another), free text
    /// last.
    pub placeholders: &'static [Placeholder],
    /// Whether it is a capability URL rather than personal data.
    pub capability_url: bool,
}

impl ScrubbedProperty {
    /// The placeholder for `value`: the first whose format the value has (a date for a date),
    /// so the scrubbed value still fits the schema the original fitted.
    pub fn placeholder_for(&self, value: &str) -> Placeholder {
        let fits = |placeholder: &Placeholder| match placeholder {
            Placeholder::Date => {
                value.len() == 10 && chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok()
            }
            Placeholder::DateTime => chrono::DateTime::parse_from_rfc3339(value).is_ok(),
            Placeholder::Ipv4 => value.parse::<std::net::Ipv4Addr>().is_ok(),
            Placeholder::Email => value.contains('@'),
            Placeholder::Uri => value.contains("://"),
            Placeholder::Example(_) | Placeholder::Text | Placeholder::Name => true,
        };
        self.placeholders
            .iter()
            .copied()
            .find(fits)
            .or_else(|| self.placeholders.last().copied())
            .unwrap_or(Placeholder::Text)
    }
}

/// The placeholders of a property marked anywhere in the spec, by the property's name.
pub fn scrubbed(property: &str) -> Option<&'static ScrubbedProperty> {
    SCRUBBED_PROPERTIES
        .binary_search_by(|p| p.name.cmp(property))
        .ok()
        .map(|index| &SCRUBBED_PROPERTIES[index])
}

/// Called with the generated type of a schema: see [`visit_schema`].
pub trait SchemaVisitor {
    /// What the visit returns.
    type Output;
    /// Called once, with `T` the generated type of the schema named `name`.
    fn visit<T: DeserializeOwned + Serialize + schemars::JsonSchema + 'static>(
        self,
        name: &'static str,
    ) -> Self::Output;
}

/// A record whose versions can be told apart: its ID and when it was last changed. Generated for
/// every item schema with a required `id` and a required, non-null `updated_at`, which is what an
/// incremental sync needs.
pub trait Versioned {
    /// The record's ID.
    fn id(&self) -> crate::Id;
    /// When it was last changed.
    fn updated_at(&self) -> chrono::DateTime<chrono::Utc>;
}

/// A page of a list route: the generated list type of a resource.
pub trait ListPage: DeserializeOwned + Serialize {
    /// The resource's item type.
    type Item: DeserializeOwned + Serialize;
    /// The property that holds the records (`attendees`).
    const KEY: &'static str;
    /// The resource.
    fn resource() -> &'static Resource;
    /// The records, the total over every page, and the page's links.
    fn into_parts(self) -> (Vec<Self::Item>, i64, crate::PageLinks);
}
