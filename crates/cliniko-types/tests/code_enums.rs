//! The code enums name every code the spec lists and keep the ones it does not.

use cliniko_types::{
    Attendee, CancellationReason, CancellationReasonDescription, InvoiceStatus, TreatmentNoteStatus,
};
use serde_json::json;

#[test]
fn named_variants_carry_the_codes_of_the_spec() {
    let codes: Vec<i64> = CancellationReason::KNOWN.iter().map(|r| r.code()).collect();
    assert_eq!(codes, [10, 20, 30, 31, 40, 50, 60]);
    assert_eq!(
        CancellationReason::from_code(31),
        CancellationReason::Covid19Related
    );
    assert_eq!(
        CancellationReason::FeelingBetter.to_string(),
        "Feeling better"
    );
    assert_eq!(InvoiceStatus::from_code(40), InvoiceStatus::OpenCredit);
    assert_eq!(TreatmentNoteStatus::Final.code(), 90);
}

#[test]
fn an_unknown_code_survives_a_round_trip() {
    let reason: CancellationReason =
        serde_json::from_value(json!(70)).expect("an unknown code is kept");
    assert_eq!(reason, CancellationReason::Unknown(70));
    assert_eq!(reason.meaning(), None);
    assert_eq!(reason.to_string(), "unknown code 70");
    assert_eq!(serde_json::to_value(reason).expect("serialises"), json!(70));

    let text: CancellationReasonDescription =
        serde_json::from_value(json!("Holiday")).expect("kept");
    assert_eq!(
        text,
        CancellationReasonDescription::Unknown("Holiday".to_owned())
    );
    assert_eq!(
        serde_json::to_value(&text).expect("serialises"),
        json!("Holiday")
    );
    let empty: CancellationReasonDescription = serde_json::from_value(json!("")).expect("known");
    assert_eq!(empty, CancellationReasonDescription::Empty);
}

#[test]
fn a_wrong_type_is_still_an_error() {
    assert!(serde_json::from_value::<CancellationReason>(json!("50")).is_err());
    assert!(serde_json::from_value::<InvoiceStatus>(json!(20.5)).is_err());
}

#[test]
fn an_attendee_with_a_new_code_is_not_lost() {
    let mut body: serde_json::Value = serde_json::from_str(ATTENDEE).expect("valid JSON");
    body["cancellation_reason"] = json!(70);
    body["invoice_status"] = json!(50);
    let attendee: Attendee = serde_json::from_value(body.clone()).expect("deserialises");
    assert_eq!(
        attendee.cancellation_reason,
        Some(CancellationReason::Unknown(70))
    );
    let back = serde_json::to_value(&attendee).expect("serialises");
    assert_eq!(back["cancellation_reason"], json!(70));
    assert_eq!(back["invoice_status"], json!(50));
}

const ATTENDEE: &str = r#"{
    "id": "1", "created_at": "2016-06-28T21:33:26Z", "updated_at": "2016-06-28T21:33:26Z",
    "arrived": null, "booking_ip_address": null, "cancellation_note": null,
    "cancellation_reason": null, "cancellation_reason_description": "", "email_reminder_sent": false,
    "invoice_status": null, "notes": null, "online_booking_policy_accepted": null,
    "sms_reminder_sent": false, "treatment_note_status": null, "deleted_at": null, "cancelled_at": null,
    "booking": { "links": { "self": "https://api.au1.cliniko.com/v1/bookings/1" } },
    "patient": { "links": { "self": "https://api.au1.cliniko.com/v1/patients/82" } },
    "invoices": { "links": { "self": "https://api.au1.cliniko.com/v1/attendees/1/invoices" } },
    "links": { "self": "https://api.au1.cliniko.com/v1/attendees/1" }
}"#;
