//! The seeded IDs: patients, group and individual appointments, patient cases, and the attendees
//! that tie them together, the same for the same count. The engine makes each record from its ID
//! and the seed; an attendee's links pick among these IDs, so they resolve.

use cliniko_types::Id;

/// 2^53 + 1: the first integer a float cannot hold. Seeded attendee IDs are odd and centred on
/// it, so about half of them are above it and a client that parses IDs as floats gets them wrong.
const ATTENDEE_ID_MIDDLE: i64 = (1 << 53) + 1;
/// 2^54 + 1: patient IDs are odd from here, all beyond what a float holds exactly.
const PATIENT_ID_BASE: i64 = (1 << 54) + 1;
const GROUP_APPOINTMENT_ID_BASE: i64 = 1_000_000_001;
const INDIVIDUAL_APPOINTMENT_ID_BASE: i64 = 3_000_000_001;
const PATIENT_CASE_ID_BASE: i64 = 5_000_000_001;
/// The IDs the seeded data was built from, each list in ascending order.
///
/// Patients and attendees are served records with exactly these IDs; appointments and patient
/// cases, which the spec does not describe yet, exist as IDs that links and nested routes
/// resolve against. As in Cliniko, a booking ID names an appointment, group or individual, so the
/// `booking_id` and `appointment_id` filters match the same attendees; only an attendee of a group
/// appointment can be cancelled.
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

    /// What kind of appointment a booking ID names, if any.
    pub(crate) fn booking_kind(&self, id: i64) -> Option<BookingKind> {
        if contains(&self.group_appointments, id) {
            Some(BookingKind::Group)
        } else if contains(&self.individual_appointments, id) {
            Some(BookingKind::Individual)
        } else {
            None
        }
    }
}

/// Whether an ascending list holds `id`.
pub(crate) fn contains(list: &[Id], id: i64) -> bool {
    position(list, id, |i| i.get()).is_some()
}

/// Where `id` is in a list ascending by `key`: looked up where an evenly spaced list (as the
/// seeded ones are) has it, by binary search otherwise. Every seeded record read asks this, so a
/// million of them cost no cache miss each.
pub(crate) fn position<T>(list: &[T], id: i64, key: impl Fn(&T) -> i64) -> Option<usize> {
    let (first, last) = (key(list.first()?), key(list.last()?));
    if id < first || id > last {
        return None;
    }
    if list.len() > 1 {
        let step = (last - first) / (list.len() as i64 - 1);
        if step > 0 && (id - first) % step == 0 {
            let at = ((id - first) / step) as usize;
            if list.get(at).map(&key) == Some(id) {
                return Some(at);
            }
        }
    }
    list.binary_search_by_key(&id, key).ok()
}

fn ids(base: i64, count: usize, step: i64) -> Vec<Id> {
    (0..count as i64)
        .map(|k| Id::new(base + k * step))
        .collect()
}

/// The fixtures for `attendees` attendees.
pub(crate) fn seed(attendees: usize) -> Fixtures {
    let first_id = ATTENDEE_ID_MIDDLE - 2 * (attendees as i64 / 2);
    Fixtures {
        patients: ids(PATIENT_ID_BASE, (attendees / 4).max(10), 2),
        group_appointments: ids(GROUP_APPOINTMENT_ID_BASE, (attendees * 3 / 10).max(5), 1),
        individual_appointments: ids(INDIVIDUAL_APPOINTMENT_ID_BASE, (attendees / 5).max(5), 1),
        patient_cases: ids(PATIENT_CASE_ID_BASE, (attendees / 20).max(5), 1),
        attendees: ids(first_id, attendees, 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_straddle_two_to_the_53() {
        let fixtures = seed(100);
        assert!(fixtures.attendees.windows(2).all(|w| w[0] < w[1]));
        assert!(fixtures.attendees.iter().any(|id| id.get() > 1 << 53));
        assert!(fixtures.attendees.iter().any(|id| id.get() < 1 << 53));
        assert!(fixtures.attendees.iter().all(|id| id.get() % 2 == 1));
    }

    #[test]
    fn a_single_attendee_is_already_beyond_a_float() {
        let fixtures = seed(1);
        assert_eq!(fixtures.attendees, vec![Id::new((1 << 53) + 1)]);
    }
}
