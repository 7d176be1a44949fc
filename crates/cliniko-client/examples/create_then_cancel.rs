//! Add a patient to a group appointment, then cancel the attendee.
//!
//! ```text
//! CLINIKO_API_KEY=... CLINIKO_USER_AGENT='My app (me@example.com)' \
//!     cargo run -p cliniko-client --example create_then_cancel -- GROUP_APPOINTMENT_ID PATIENT_ID
//! ```
//!
//! Without `CLINIKO_API_KEY` it runs against a local fake Cliniko, with IDs from its seed data.
//! `CLINIKO_BASE_URL` overrides the shard named by the key.

mod common;

use std::error::Error;

use cliniko_client::filter::Filter;
use cliniko_client::{ErrorKind, ResponseExt as _};
use cliniko_types::{AttendeeCancel, AttendeeCreate, CancellationReason, Id};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (client, fake) = common::connect(100).await?;
    let (booking_id, patient_id): (Id, Id) =
        match (std::env::args().nth(1), std::env::args().nth(2), &fake) {
            (Some(booking), Some(patient), _) => (booking.parse()?, patient.parse()?),
            (_, _, Some(fake)) => (
                fake.fixtures().group_appointments[0],
                fake.fixtures().patients[0],
            ),
            _ => return Err("pass a group appointment ID and a patient ID".into()),
        };

    let body = AttendeeCreate {
        booking_id,
        patient_id,
        patient_case_id: None,
        arrived: None,
        notes: None,
    };
    // A create is never retried after an error whose outcome is unknown: check before sending again.
    let created = match client.create_attendee().body(body).send().await {
        Ok(created) => created,
        Err(error) if matches!(error.kind(), ErrorKind::Validation { .. }) => {
            if let ErrorKind::Validation { errors, .. } = error.kind() {
                for (field, why) in errors {
                    eprintln!("{field}: {why}");
                }
            }
            return Err("Cliniko refused the attendee".into());
        }
        Err(error) => return Err(error.into()),
    };
    let location = created
        .location()
        .map(|url| url.to_string())
        .unwrap_or_default();
    println!("created attendee {} at {location}", created.id);

    let cancel = AttendeeCancel {
        cancellation_reason: CancellationReason::FeelingBetter,
        cancellation_note: Some("Cancelled by the create_then_cancel example".to_owned()),
        apply_to_repeats: None,
    };
    client
        .cancel_attendee()
        .id(created.id)
        .body(cancel)
        .send()
        .await?;

    // A cancelled attendee is only found with the `*` filter on `cancelled_at`.
    let cancelled = client
        .get_attendee()
        .id(created.id)
        .q(Filter::single_attendee().cancelled_at().any())
        .send()
        .await?;
    println!(
        "cancelled at {}: {:?}",
        cancelled
            .cancelled_at
            .map(|at| at.to_rfc3339())
            .unwrap_or_default(),
        cancelled.cancellation_reason
    );

    if let Some(fake) = fake {
        fake.shutdown().await;
    }
    Ok(())
}
