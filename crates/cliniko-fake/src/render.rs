//! Writes attendees as the spec's `Attendee` and `AttendeeList` JSON, straight into a byte
//! buffer: a page of 100 is written without building an intermediate value per attendee.

use crate::store::{AttendeeRecord, Page, Store};

/// The links of one page of a list.
#[derive(Debug)]
pub(crate) struct PageLinks {
    pub(crate) this: String,
    pub(crate) next: Option<String>,
    pub(crate) previous: Option<String>,
}

/// The JSON of one attendee; `base` is the API root such as `http://127.0.0.1:8080/v1`, already
/// checked to need no escaping.
pub(crate) fn attendee_json(record: &AttendeeRecord, base: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(1_600);
    write_attendee(&mut out, record, base);
    out
}

/// The JSON of one page of attendees.
pub(crate) fn list_json(store: &Store, page: &Page, base: &str, links: &PageLinks) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + page.positions.len() * 1_600);
    out.extend_from_slice(b"{\"attendees\":[");
    for (i, position) in page.positions.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_attendee(&mut out, store.record(*position), base);
    }
    out.extend_from_slice(b"],\"total_entries\":");
    write_int(&mut out, page.total_entries);
    out.extend_from_slice(b",\"links\":{\"self\":");
    write_str(&mut out, &links.this);
    if let Some(next) = &links.next {
        out.extend_from_slice(b",\"next\":");
        write_str(&mut out, next);
    }
    if let Some(previous) = &links.previous {
        out.extend_from_slice(b",\"previous\":");
        write_str(&mut out, previous);
    }
    out.extend_from_slice(b"}}");
    out
}

fn write_attendee(out: &mut Vec<u8>, r: &AttendeeRecord, base: &str) {
    let id = r.id;
    out.extend_from_slice(b"{\"id\":\"");
    write_int(out, id);
    out.extend_from_slice(b"\",\"created_at\":");
    write_time(out, r.created_at);
    out.extend_from_slice(b",\"updated_at\":");
    write_time(out, r.updated_at);
    out.extend_from_slice(b",\"archived_at\":");
    write_optional_time(out, r.archived_at);
    out.extend_from_slice(b",\"arrived\":");
    write_optional_bool(out, r.arrived);
    out.extend_from_slice(b",\"booking_ip_address\":");
    match r.booking_ip_address {
        Some(ip) => {
            out.push(b'"');
            let [a, b, c, d] = ip.octets();
            for (i, octet) in [a, b, c, d].into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                write_int(out, octet);
            }
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"cancellation_note\":");
    write_optional_str(out, r.cancellation_note.as_deref());
    out.extend_from_slice(b",\"cancellation_reason\":");
    write_optional_int(out, r.cancellation_reason);
    out.extend_from_slice(b",\"cancellation_reason_description\":\"");
    out.extend_from_slice(cancellation_reason_description(r.cancellation_reason).as_bytes());
    out.extend_from_slice(b"\",\"cancellation_url\":");
    if r.booking_ip_address.is_some() {
        out.extend_from_slice(b"\"https://bookings.cliniko-fake.invalid/cancel/");
        write_int(out, id);
        out.push(b'"');
    } else {
        out.extend_from_slice(b"null");
    }
    out.extend_from_slice(b",\"cancelled_at\":");
    write_optional_time(out, r.cancelled_at);
    out.extend_from_slice(b",\"deleted_at\":");
    write_optional_time(out, r.archived_at);
    out.extend_from_slice(b",\"email_reminder_sent\":");
    write_bool(out, r.sent_email_reminders > 0);
    out.extend_from_slice(b",\"sms_reminder_sent\":");
    write_bool(out, r.sent_sms_reminders > 0);
    out.extend_from_slice(b",\"sent_email_reminders_count\":");
    write_int(out, r.sent_email_reminders);
    out.extend_from_slice(b",\"sent_sms_reminders_count\":");
    write_int(out, r.sent_sms_reminders);
    out.extend_from_slice(b",\"sent_email_follow_ups_count\":");
    write_int(out, r.sent_email_follow_ups);
    out.extend_from_slice(b",\"sent_sms_follow_ups_count\":");
    write_int(out, r.sent_sms_follow_ups);
    out.extend_from_slice(b",\"invoice_status\":");
    write_optional_int(out, r.invoice_status);
    out.extend_from_slice(b",\"notes\":");
    write_optional_str(out, r.notes.as_deref());
    out.extend_from_slice(b",\"online_booking_policy_accepted\":");
    write_optional_bool(out, r.online_booking_policy_accepted);
    out.extend_from_slice(b",\"telehealth_url\":");
    if r.has_telehealth {
        out.extend_from_slice(b"\"https://telehealth.cliniko-fake.invalid/attendees/");
        write_int(out, id);
        out.push(b'"');
    } else {
        out.extend_from_slice(b"null");
    }
    out.extend_from_slice(b",\"treatment_note_status\":");
    write_optional_int(out, r.treatment_note_status);
    out.extend_from_slice(b",\"booking\":");
    write_link(out, base, "/bookings/", r.booking_id, "");
    out.extend_from_slice(b",\"patient\":");
    write_link(out, base, "/patients/", r.patient_id, "");
    out.extend_from_slice(b",\"patient_case\":");
    match r.patient_case_id {
        Some(case) => write_link(out, base, "/patient_cases/", case.get(), ""),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"invoices\":");
    write_link(out, base, "/attendees/", id, "/invoices");
    out.extend_from_slice(b",\"patient_forms\":");
    write_link(out, base, "/attendees/", id, "/patient_forms");
    out.extend_from_slice(b",\"links\":{\"self\":\"");
    write_url(out, base, "/attendees/", id, "");
    out.extend_from_slice(b"\"}}");
}

/// Cliniko's text for a cancellation code, with its capitalisation; empty when not cancelled.
fn cancellation_reason_description(code: Option<u8>) -> &'static str {
    match code {
        Some(10) => "Feeling Better",
        Some(20) => "Condition Worse",
        Some(30) => "Sick",
        Some(31) => "COVID-19 related",
        Some(40) => "Away",
        Some(50) => "Other",
        Some(60) => "Work",
        _ => "",
    }
}

fn write_link(out: &mut Vec<u8>, base: &str, collection: &str, id: i64, suffix: &str) {
    out.extend_from_slice(b"{\"links\":{\"self\":\"");
    write_url(out, base, collection, id, suffix);
    out.extend_from_slice(b"\"}}");
}

fn write_url(out: &mut Vec<u8>, base: &str, collection: &str, id: i64, suffix: &str) {
    out.extend_from_slice(base.as_bytes());
    out.extend_from_slice(collection.as_bytes());
    write_int(out, id);
    out.extend_from_slice(suffix.as_bytes());
}

fn write_int(out: &mut Vec<u8>, value: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn write_optional_int(out: &mut Vec<u8>, value: Option<u8>) {
    match value {
        Some(value) => write_int(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

fn write_optional_bool(out: &mut Vec<u8>, value: Option<bool>) {
    match value {
        Some(value) => write_bool(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_str(out: &mut Vec<u8>, text: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

fn write_optional_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => write_str(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_optional_time(out: &mut Vec<u8>, secs: Option<i64>) {
    match secs {
        Some(secs) => write_time(out, secs),
        None => out.extend_from_slice(b"null"),
    }
}

/// Writes UNIX seconds as a quoted `YYYY-MM-DDTHH:MM:SSZ`.
fn write_time(out: &mut Vec<u8>, secs: i64) {
    let (days, second_of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let digits = |out: &mut Vec<u8>, value: i64, width: usize| {
        let mut buffer = [b'0'; 4];
        let mut value = value.clamp(0, 9_999);
        for slot in buffer[..width].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
        out.extend_from_slice(&buffer[..width]);
    };
    out.push(b'"');
    digits(out, year, 4);
    out.push(b'-');
    digits(out, month, 2);
    out.push(b'-');
    digits(out, day, 2);
    out.push(b'T');
    digits(out, second_of_day / 3_600, 2);
    out.push(b':');
    digits(out, second_of_day / 60 % 60, 2);
    out.push(b':');
    digits(out, second_of_day % 60, 2);
    out.extend_from_slice(b"Z\"");
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_match_chrono_across_leap_years_and_month_ends() {
        let mut secs = 1_577_836_800 - 86_400 * 400;
        while secs < 1_900_000_000 {
            let mut out = Vec::new();
            write_time(&mut out, secs);
            let expected = chrono::DateTime::from_timestamp(secs, 0)
                .expect("in range")
                .format("\"%Y-%m-%dT%H:%M:%SZ\"")
                .to_string();
            assert_eq!(String::from_utf8_lossy(&out), expected);
            secs += 86_399 * 3 + 7;
        }
    }

    #[test]
    fn descriptions_keep_clinikos_capitals() {
        assert_eq!(cancellation_reason_description(Some(10)), "Feeling Better");
        assert_eq!(cancellation_reason_description(None), "");
    }
}
