//! A typed client for the Cliniko attendees API, generated from `spec/cliniko-attendees.yaml`.
//!
//! The generated progenitor client sits in [`Client`], with one builder method per operation
//! (`client.get_attendee().id(id).send()`); request and response bodies are the types of
//! [`cliniko_types`], re-exported as [`types`].
#![deny(missing_docs)]

#[rustfmt::skip]
#[allow(missing_docs, clippy::all, unused_imports, deprecated)]
mod generated_sdk;

pub use generated_sdk::*;
