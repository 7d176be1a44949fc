//! An attendee's rules:
//! - only an attendee of a group appointment can be cancelled (an individual appointment is
//!   cancelled as a whole); seeded attendees of individual appointments are never cancelled;
//! - an attendee is archived and deleted at once: `archived_at` and `deleted_at` are one date;
//! - the cancellation's reason, note and description are set only while it is cancelled, and
//!   the description is the reason's text (the two code lists share their `x-enum-varnames`);
//! - `appointment_id`, and the appointment in `/group_appointments/{id}/attendees` and
//!   `/individual_appointments/{id}/attendees`, are the booking.

use std::collections::HashMap;
use std::sync::Arc;

use cliniko_spec::resources::Role;
use http::StatusCode;
use serde_json::{Map, Value};

use super::{Rules, link_id};
use crate::engine::plan::{Plan, Row, Slot};
use crate::routes::ApiError;
use crate::seed::{BookingKind, Fixtures};

pub(crate) struct Attendee {
    fixtures: Arc<Fixtures>,
    /// A cancellation reason's code → its description, from the spec's code lists.
    descriptions: HashMap<i64, String>,
    /// The reasons' codes, ascending.
    codes: Vec<i64>,
    /// Where the fields the rules read and set are in the plan.
    at: Positions,
}

#[derive(Default)]
struct Positions {
    booking: Option<usize>,
    cancelled_at: Option<usize>,
    reason: Option<usize>,
    note: Option<usize>,
    description: Option<usize>,
    archived_at: Option<usize>,
    deleted_at: Option<usize>,
}

impl Attendee {
    pub(crate) fn new(document: &Value, fixtures: Arc<Fixtures>, plan: &Plan) -> Self {
        let schema = |name: &str| document.pointer(&format!("/components/schemas/{name}"));
        let list = |schema: Option<&Value>, key: &str| -> Vec<Value> {
            schema
                .and_then(|s| s.get(key))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let reasons = schema("CancellationReason");
        let texts = schema("CancellationReasonDescription");
        let text_names = list(texts, "x-enum-varnames");
        let text_values = list(texts, "enum");
        let descriptions: HashMap<i64, String> = list(reasons, "enum")
            .iter()
            .zip(list(reasons, "x-enum-varnames"))
            .filter_map(|(code, name)| {
                let at = text_names.iter().position(|n| *n == name)?;
                Some((code.as_i64()?, text_values.get(at)?.as_str()?.to_owned()))
            })
            .collect();
        let mut codes: Vec<i64> = descriptions.keys().copied().collect();
        codes.sort_unstable();
        Self {
            fixtures,
            descriptions,
            codes,
            at: Positions {
                booking: plan.field("booking"),
                cancelled_at: plan.field("cancelled_at"),
                reason: plan.field("cancellation_reason"),
                note: plan.field("cancellation_note"),
                description: plan.field("cancellation_reason_description"),
                archived_at: plan.field("archived_at"),
                deleted_at: plan.field("deleted_at"),
            },
        }
    }

    fn in_group_appointment(&self, booking: Option<i64>) -> bool {
        booking.and_then(|id| self.fixtures.booking_kind(id)) == Some(BookingKind::Group)
    }

    fn description(&self, reason: Option<i64>) -> Value {
        Value::String(
            reason
                .and_then(|code| self.descriptions.get(&code))
                .cloned()
                .unwrap_or_default(),
        )
    }
}

impl Rules for Attendee {
    fn alias(&self, name: &str) -> Option<&'static str> {
        match name {
            "appointment_id" | "group_appointment_id" | "individual_appointment_id" => {
                Some("booking_id")
            }
            _ => None,
        }
    }

    fn seeded<'a>(&'a self, plan: &Plan, row: &mut Row<'a>) {
        let at = &self.at;
        let booking = at.booking.and_then(|k| match row.slots[k] {
            Slot::Link(id) => Some(id),
            _ => None,
        });
        if !self.in_group_appointment(booking)
            && let Some(k) = at.cancelled_at
        {
            row.slots[k] = Slot::Null;
        }
        let cancelled = at.cancelled_at.is_some_and(|k| row.slots[k] != Slot::Null);
        let mut reason = None;
        if let Some(k) = at.reason {
            if cancelled {
                let code = match &row.slots[k] {
                    slot @ Slot::Json(_) => plan.code_of(slot).and_then(|c| c.parse().ok()),
                    Slot::Int(code) => Some(*code),
                    _ => None,
                };
                // A cancelled attendee always has a reason.
                let code = code.unwrap_or_else(|| {
                    self.codes
                        .get((row.id.unsigned_abs() % self.codes.len().max(1) as u64) as usize)
                        .copied()
                        .unwrap_or(50)
                });
                row.slots[k] = Slot::Int(code);
                reason = Some(code);
            } else {
                row.slots[k] = Slot::Null;
            }
        }
        if !cancelled && let Some(k) = at.note {
            row.slots[k] = Slot::Null;
        }
        if let Some(k) = at.description {
            let text = reason
                .and_then(|code| self.descriptions.get(&code))
                .map_or("", String::as_str);
            row.slots[k] = Slot::Text(std::borrow::Cow::Borrowed(text));
        }
        if let (Some(archived), Some(deleted)) = (at.archived_at, at.deleted_at) {
            row.slots[deleted] = row.slots[archived].clone();
        }
    }

    fn check(&self, role: Role, record: &Map<String, Value>) -> Result<(), ApiError> {
        if role == Role::Cancel
            && !self.in_group_appointment(record.get("booking").and_then(link_id))
        {
            return Err(ApiError::validation(
                [(
                    "booking_id".to_owned(),
                    "is an individual appointment; cancel it with PATCH /individual_appointments/{id}/cancel".to_owned(),
                )]
                .into(),
            ));
        }
        if role == Role::Cancel && record.get("cancelled_at").is_some_and(|v| !v.is_null()) {
            return Err(
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed")
                    .with_error("cancelled_at", "the attendee is already cancelled"),
            );
        }
        Ok(())
    }

    fn changed(&self, role: Role, record: &mut Map<String, Value>) {
        match role {
            Role::Cancel => {
                let reason = record.get("cancellation_reason").and_then(Value::as_i64);
                record.insert(
                    "cancellation_reason_description".to_owned(),
                    self.description(reason),
                );
            }
            Role::Archive | Role::Delete => {
                let at = record
                    .get("archived_at")
                    .filter(|v| !v.is_null())
                    .or_else(|| record.get("deleted_at"))
                    .cloned()
                    .unwrap_or(Value::Null);
                record.insert("archived_at".to_owned(), at.clone());
                record.insert("deleted_at".to_owned(), at);
            }
            _ => {}
        }
    }
}
