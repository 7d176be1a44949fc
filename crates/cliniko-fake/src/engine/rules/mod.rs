//! Cliniko's rules that OpenAPI cannot state, one module per resource that has any; every other
//! resource is served from the spec alone.
//!
//! A resource's rules can read one field as another (a filter the spec names that is the same
//! value as another field), make seeded records coherent where the schema lets each field vary
//! on its own, refuse a change the schema allows, and set the fields a change derives.

mod attendee;

use cliniko_spec::resources::Role;
use serde_json::{Map, Value};

use super::plan::{Plan, Row};
use crate::routes::ApiError;
use crate::seed::Fixtures;

/// One resource's rules; each method's default is "no rule".
pub(crate) trait Rules: Send + Sync {
    /// The field a filter, sort or nested route's path parameter reads instead of `name`.
    fn alias(&self, _name: &str) -> Option<&'static str> {
        None
    }

    /// Makes a seeded record coherent.
    fn seeded<'a>(&'a self, _plan: &Plan, _row: &mut Row<'a>) {}

    /// Refuses a change (`Err`) of a record as it is before the change.
    fn check(&self, _role: Role, _record: &Map<String, Value>) -> Result<(), ApiError> {
        Ok(())
    }

    /// Sets what a change derives, on the record after it.
    fn changed(&self, _role: Role, _record: &mut Map<String, Value>) {}
}

/// No rules: the spec says everything.
struct None_;

impl Rules for None_ {}

/// The rules of the resource with this name, bound to its plan.
pub(crate) fn of(
    name: &str,
    document: &Value,
    fixtures: &std::sync::Arc<Fixtures>,
    plan: &Plan,
) -> Box<dyn Rules> {
    match name {
        "attendee" => Box::new(attendee::Attendee::new(document, fixtures.clone(), plan)),
        _ => Box::new(None_),
    }
}

/// The ID at the end of a link's `self` URL.
pub(crate) fn link_id(link: &Value) -> Option<i64> {
    super::number_of(link.pointer("/links/self")?.as_str()?.rsplit('/').next()?)
}
