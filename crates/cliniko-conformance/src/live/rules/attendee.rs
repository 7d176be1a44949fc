//! Attendees: a booking link names a group or an individual appointment, and only the nested
//! routes tell which; only an attendee of a group appointment can be cancelled, so the scenario
//! creates its attendees in a group appointment; a cancel needs a reason.

use cliniko_types::facts::{Operation, operation};
use serde_json::{Value, json};

use super::{Rules, link_id};
use crate::live::LiveOptions;

pub(in crate::live) struct Attendee {
    group_appointment: Option<String>,
    patient: Option<String>,
}

impl Attendee {
    pub(in crate::live) fn new(options: &LiveOptions) -> Self {
        Self {
            group_appointment: options.group_appointment_id.clone(),
            patient: options.patient_id.clone(),
        }
    }
}

impl Rules for Attendee {
    /// Group and individual appointments are both named by the `booking` link.
    fn parents(&self, nested: &Operation, records: &[Value]) -> Vec<String> {
        if nested.path.starts_with("/group_appointments/")
            && let Some(group) = &self.group_appointment
        {
            return vec![group.clone()];
        }
        if nested.path.starts_with("/group_appointments/")
            || nested.path.starts_with("/individual_appointments/")
        {
            let mut out: Vec<String> = Vec::new();
            for booking in records
                .iter()
                .filter_map(|record| link_id(record, "booking"))
            {
                if !out.contains(&booking) && self.group_appointment.as_ref() != Some(&booking) {
                    out.push(booking);
                }
            }
            out.truncate(5);
            return out;
        }
        Self::default_parents(nested, records)
    }

    fn found_parent(&mut self, nested: &Operation, id: &str) {
        if nested.path.starts_with("/group_appointments/") && self.group_appointment.is_none() {
            self.group_appointment = Some(id.to_owned());
        }
    }

    /// In the group appointment found (only its attendees can be cancelled), for the patient
    /// given or the first one listed.
    fn create_body(&self, example: Value, records: &[Value]) -> Option<Value> {
        let group = self.group_appointment.clone()?;
        let patient = self
            .patient
            .clone()
            .or_else(|| records.iter().find_map(|r| link_id(r, "patient")))?;
        let Value::Object(mut body) = example else {
            return None;
        };
        body.insert("booking_id".to_owned(), Value::String(group));
        body.insert("patient_id".to_owned(), Value::String(patient));
        body.remove("patient_case_id");
        Some(Value::Object(body))
    }

    fn invalid_writes(&self, _id: &str) -> Vec<(String, &'static Operation, Value, Option<u16>)> {
        operation("cancelAttendee")
            .map(|cancel| {
                vec![(
                    "cancel an attendee without a reason".to_owned(),
                    cancel,
                    json!({}),
                    None,
                )]
            })
            .into_iter()
            .flatten()
            .collect()
    }
}

impl Attendee {
    fn default_parents(nested: &Operation, records: &[Value]) -> Vec<String> {
        super::Generic.parents(nested, records)
    }
}
