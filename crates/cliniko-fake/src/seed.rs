//! Deterministic seed data: patients, group and individual appointments, patient cases, and the
//! attendees that tie them together, the same for the same seed and count.

use std::net::Ipv4Addr;
use std::num::NonZeroI64;

use cliniko_types::Id;

use crate::record::AttendeeRecord;
use crate::rng::SplitMix64;

/// 2^53 + 1: the first integer a float cannot hold. Seeded attendee IDs are odd and centred on
/// it, so about half of them are above it and a client that parses IDs as floats gets them wrong.
const ATTENDEE_ID_MIDDLE: i64 = (1 << 53) + 1;
/// 2^54 + 1: patient IDs are odd from here, all beyond what a float holds exactly.
const PATIENT_ID_BASE: i64 = (1 << 54) + 1;
const GROUP_APPOINTMENT_ID_BASE: i64 = 1_000_000_001;
const INDIVIDUAL_APPOINTMENT_ID_BASE: i64 = 3_000_000_001;
const PATIENT_CASE_ID_BASE: i64 = 5_000_000_001;
/// 2020-01-01T00:00:00Z: the first seeded attendee is created at or just after it.
const FIRST_CREATED_AT: i64 = 1_577_836_800;

const SEEDED_NOTES: [&str; 5] = [
    "Prefers the afternoon class",
    "Bring a towel",
    "Knee rehab, week 3",
    "Wheelchair access needed",
    "Paid in advance \u{2713}",
];

/// The IDs the seeded data was built from, each list in ascending order.
///
/// Patients, appointments and patient cases exist only as IDs: the fake serves attendees, and
/// checks a new attendee's `patient_id`, `booking_id` and `patient_case_id` against these lists.
/// As in Cliniko, a booking ID names an appointment, group or individual, so the `booking_id` and
/// `appointment_id` filters match the same attendees. About 60% of seeded attendees belong to
/// group appointments (some 5% of those are cancelled), the rest to individual ones, some 3% of
/// all are archived, and about 30% are linked to a patient case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixtures {
    /// Every patient.
    pub patients: Vec<Id>,
    /// Every group appointment; its attendees can be cancelled with `PATCH /attendees/{id}/cancel`.
    pub group_appointments: Vec<Id>,
    /// Every individual appointment.
    pub individual_appointments: Vec<Id>,
    /// Every patient case.
    pub patient_cases: Vec<Id>,
    /// The attendees seeded at start (in every state: some are cancelled or archived); attendees
    /// created later are not added here.
    pub attendees: Vec<Id>,
}

/// What a booking ID names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BookingKind {
    Group,
    Individual,
}

impl Fixtures {
    /// The IDs of the resource these fixtures name by this plural in URLs (the attendee's links
    /// point at `/patients/{id}`, `/patient_cases/{id}`, `/bookings/{id}`), as ascending runs;
    /// the engine seeds a resource of that plural with exactly these IDs, so links resolve.
    pub(crate) fn ids_of(&self, plural: &str) -> Option<Vec<&[Id]>> {
        Some(match plural {
            "patients" => vec![&self.patients],
            "patient_cases" => vec![&self.patient_cases],
            "group_appointments" => vec![&self.group_appointments],
            "individual_appointments" => vec![&self.individual_appointments],
            "bookings" => vec![&self.group_appointments, &self.individual_appointments],
            "attendees" => vec![&self.attendees],
            _ => return None,
        })
    }

    /// Whether the ID names a seeded patient.
    pub(crate) fn has_patient(&self, id: i64) -> bool {
        self.patients.binary_search(&Id::new(id)).is_ok()
    }

    /// Whether the ID names a seeded patient case.
    pub(crate) fn has_patient_case(&self, id: i64) -> bool {
        self.patient_cases.binary_search(&Id::new(id)).is_ok()
    }

    /// What kind of appointment a booking ID names, if any.
    pub(crate) fn booking_kind(&self, id: i64) -> Option<BookingKind> {
        if self.group_appointments.binary_search(&Id::new(id)).is_ok() {
            Some(BookingKind::Group)
        } else if self
            .individual_appointments
            .binary_search(&Id::new(id))
            .is_ok()
        {
            Some(BookingKind::Individual)
        } else {
            None
        }
    }
}

fn ids(base: i64, count: usize, step: i64) -> Vec<Id> {
    (0..count as i64)
        .map(|k| Id::new(base + k * step))
        .collect()
}

/// Builds `attendees` attendees for `seed`: the fixtures and the records in ID order.
pub(crate) fn seed(seed: u64, attendees: usize) -> (Fixtures, Vec<AttendeeRecord>) {
    let mut rng = SplitMix64::new(seed);
    let mut fixtures = Fixtures {
        patients: ids(PATIENT_ID_BASE, (attendees / 4).max(10), 2),
        group_appointments: ids(GROUP_APPOINTMENT_ID_BASE, (attendees / 10).max(5), 1),
        individual_appointments: ids(
            INDIVIDUAL_APPOINTMENT_ID_BASE,
            (attendees * 2 / 5).max(5),
            1,
        ),
        patient_cases: ids(PATIENT_CASE_ID_BASE, (attendees / 20).max(5), 1),
        attendees: Vec::with_capacity(attendees),
    };
    let pick =
        |rng: &mut SplitMix64, list: &[Id]| list[rng.below(list.len() as u64) as usize].get();
    let first_id = ATTENDEE_ID_MIDDLE - 2 * (attendees as i64 / 2);
    let mut created_at = FIRST_CREATED_AT;
    let mut records = Vec::with_capacity(attendees);
    for k in 0..attendees as i64 {
        let id = first_id + 2 * k;
        created_at += rng.below(60) as i64 + 1;
        let in_group_appointment = rng.chance(0.6);
        let booking_id = if in_group_appointment {
            pick(&mut rng, &fixtures.group_appointments)
        } else {
            pick(&mut rng, &fixtures.individual_appointments)
        };
        let patient_id = pick(&mut rng, &fixtures.patients);
        let patient_case_id = if rng.chance(0.3) {
            NonZeroI64::new(pick(&mut rng, &fixtures.patient_cases))
        } else {
            None
        };
        let mut updated_at = created_at
            + if rng.chance(0.5) {
                0
            } else {
                rng.below(3 * 86_400) as i64
            };
        let online = rng.chance(0.25);
        let booking_ip_address = online.then(|| {
            let network = if rng.chance(0.5) {
                [198, 51, 100]
            } else {
                [203, 0, 113]
            };
            Ipv4Addr::new(network[0], network[1], network[2], rng.below(254) as u8 + 1)
        });
        let cancelled = in_group_appointment && rng.chance(0.05);
        let cancelled_at = cancelled.then(|| {
            updated_at += rng.below(86_400) as i64 + 1;
            updated_at
        });
        let archived_at = rng.chance(0.03).then(|| {
            updated_at += rng.below(86_400) as i64 + 1;
            updated_at
        });
        let arrived = match rng.below(3) {
            0 => None,
            1 => Some(false),
            _ => Some(true),
        };
        records.push(AttendeeRecord {
            id,
            booking_id,
            patient_id,
            patient_case_id,
            created_at,
            updated_at,
            cancelled_at,
            archived_at,
            notes: rng
                .chance(0.1)
                .then(|| SEEDED_NOTES[rng.below(SEEDED_NOTES.len() as u64) as usize].into()),
            cancellation_note: (cancelled && rng.chance(0.5))
                .then(|| "Last minute cancellation".into()),
            booking_ip_address,
            arrived,
            online_booking_policy_accepted: online.then(|| rng.chance(0.9)),
            cancellation_reason: cancelled
                .then(|| [10, 20, 30, 31, 40, 50, 60][rng.below(7) as usize]),
            invoice_status: rng
                .chance(0.6)
                .then(|| [10, 20, 30, 40][rng.below(4) as usize]),
            treatment_note_status: rng
                .chance(0.5)
                .then(|| if rng.chance(0.7) { 90 } else { 10 }),
            sent_email_reminders: rng.below(3) as u8,
            sent_sms_reminders: rng.below(3) as u8,
            sent_email_follow_ups: rng.below(2) as u8,
            sent_sms_follow_ups: rng.below(2) as u8,
            in_group_appointment,
            has_telehealth: rng.chance(0.1),
        });
        fixtures.attendees.push(Id::new(id));
    }
    (fixtures, records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_straddle_two_to_the_53() {
        let (fixtures, records) = seed(7, 100);
        assert!(
            records
                .windows(2)
                .all(|w| w[0].id < w[1].id && w[0].created_at <= w[1].created_at)
        );
        assert!(fixtures.attendees.iter().any(|id| id.get() > 1 << 53));
        assert!(fixtures.attendees.iter().any(|id| id.get() < 1 << 53));
        assert!(fixtures.attendees.iter().all(|id| id.get() % 2 == 1));
    }

    #[test]
    fn a_single_attendee_is_already_beyond_a_float() {
        let (fixtures, _) = seed(0, 1);
        assert_eq!(fixtures.attendees, vec![Id::new((1 << 53) + 1)]);
    }
}
