//! The schema types of the Cliniko attendees API.
//!
//! Everything here except [`Id`] is generated from `spec/cliniko-attendees.yaml` by
//! `cargo xtask codegen`; the client crate reuses these types, so each is defined once. The crate
//! does not depend on an HTTP stack, so a service that only stores or forwards attendees can use it
//! alone.
//!
//! ```
//! use cliniko_types::{Attendee, CancellationReason};
//!
//! let json = r#"{
//!     "id": "9007199254740993", "created_at": "2016-06-28T21:33:26Z",
//!     "updated_at": "2016-06-28T21:33:26Z", "arrived": null, "booking_ip_address": "10.0.0.43",
//!     "cancellation_note": "Last minute", "cancellation_reason": 50,
//!     "cancellation_reason_description": "Other", "email_reminder_sent": false,
//!     "invoice_status": null, "notes": null, "online_booking_policy_accepted": null,
//!     "sms_reminder_sent": false, "treatment_note_status": null, "deleted_at": null,
//!     "cancelled_at": "2016-06-28T21:33:26Z",
//!     "booking": { "links": { "self": "https://api.au1.cliniko.com/v1/bookings/1" } },
//!     "patient": { "links": { "self": "https://api.au1.cliniko.com/v1/patients/82" } },
//!     "invoices": { "links": { "self": "https://api.au1.cliniko.com/v1/attendees/1/invoices" } },
//!     "links": { "self": "https://api.au1.cliniko.com/v1/attendees/1" }
//! }"#;
//! let attendee: Attendee = serde_json::from_str(json)?;
//! assert_eq!(attendee.id.get(), 9_007_199_254_740_993);
//! assert_eq!(attendee.cancellation_reason, Some(CancellationReason::Other));
//! # Ok::<(), serde_json::Error>(())
//! ```
#![deny(missing_docs)]

pub mod facts;
mod id;
mod patch;
pub mod resource;
#[rustfmt::skip]
#[allow(missing_docs, clippy::all)]
mod generated_facts;
#[rustfmt::skip]
#[allow(missing_docs, unused_imports, clippy::all)]
mod generated_resources;
#[rustfmt::skip]
#[allow(missing_docs, clippy::all)]
mod generated_types;

pub use generated_types::*;
pub use id::{Id, ParseIdError};
pub use patch::Patch;
