//! One attendee as the store holds it, apart from the store so that the query module (which
//! reads records) and the store (which runs queries) do not import each other.

use std::net::Ipv4Addr;
use std::num::NonZeroI64;

/// One attendee, stored compactly; the JSON form is written from it by `render`.
///
/// Times are UNIX seconds (UTC). An attendee is archived and deleted at the same moment, so one
/// field holds both `archived_at` and `deleted_at`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct AttendeeRecord {
    pub(crate) id: i64,
    pub(crate) booking_id: i64,
    pub(crate) patient_id: i64,
    pub(crate) patient_case_id: Option<NonZeroI64>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) cancelled_at: Option<i64>,
    pub(crate) archived_at: Option<i64>,
    pub(crate) notes: Option<Box<str>>,
    pub(crate) cancellation_note: Option<Box<str>>,
    pub(crate) booking_ip_address: Option<Ipv4Addr>,
    pub(crate) arrived: Option<bool>,
    pub(crate) online_booking_policy_accepted: Option<bool>,
    /// The cancellation reason's code (10, 20, ...), when cancelled.
    pub(crate) cancellation_reason: Option<u8>,
    /// The invoice status code (10, 20, 30, 40).
    pub(crate) invoice_status: Option<u8>,
    /// The treatment note status code (10, 90).
    pub(crate) treatment_note_status: Option<u8>,
    pub(crate) sent_email_reminders: u8,
    pub(crate) sent_sms_reminders: u8,
    pub(crate) sent_email_follow_ups: u8,
    pub(crate) sent_sms_follow_ups: u8,
    /// Whether the booking is a group appointment (only those attendees can be cancelled here).
    pub(crate) in_group_appointment: bool,
    pub(crate) has_telehealth: bool,
}

impl AttendeeRecord {
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled_at.is_some()
    }

    pub(crate) fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}
