//! Typed `q[]` filters and `sort` orders: each route family gets only the fields and operators
//! Cliniko accepts on it, and date-times are written in UTC as Cliniko wants them.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use cliniko_client::filter::{Filter, Sort, SortField};
//!
//! let since = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
//! let filter = Filter::attendees()
//!     .updated_at().gt(since)
//!     .patient_id().one_of([1_i64, 2, 3])
//!     .cancelled_at().any();
//! assert_eq!(
//!     filter.conditions().collect::<Vec<_>>(),
//!     ["updated_at:>2024-01-01T00:00:00Z", "patient_id:=1,2,3", "cancelled_at:*"],
//! );
//! let sort = Sort::new().asc(SortField::UpdatedAt).desc(SortField::Id);
//! assert_eq!(sort.as_str(), "updated_at:asc,id:desc");
//! ```
//!
//! A field the route does not accept is not there to call: `Filter::single_attendee()` offers only
//! `archived_at`, `cancelled_at` and `deleted_at`, and a date-time field has no `eq`.
//!
//! ```compile_fail
//! use cliniko_client::filter::Filter;
//! let filter = Filter::single_attendee().patient_id().eq(1_i64);
//! ```
//!
//! ```compile_fail
//! use cliniko_client::filter::Filter;
//! let filter = Filter::patient_case_attendees().patient_case_id().eq(1_i64);
//! ```
//!
//! The route families, their fields and the sort fields are generated from the spec by `cargo
//! xtask codegen` (each `q[]` parameter's `x-cliniko-filter-fields`, each `sort` parameter's
//! pattern), so a resource added to the spec gets them too: patients filter and sort as
//! attendees do.
//!
//! ```
//! use chrono::NaiveDate;
//! use cliniko_client::filter::{Filter, PatientSortField, Sort};
//! use cliniko_client::types;
//!
//! let birthday = NaiveDate::from_ymd_opt(1987, 2, 14).unwrap();
//! let filter = Filter::patients().last_name().like_pattern("Ngu%").date_of_birth().anniversary_of(birthday);
//! let items: Vec<types::ListPatientsQItem> = filter.try_into()?;
//! assert_eq!(items.len(), 2);
//! let sort: types::ListPatientsSort =
//!     Sort::empty().asc(PatientSortField::LastName).desc(PatientSortField::Id).try_into()?;
//! assert_eq!(sort.as_str(), "last_name:asc,id:desc");
//! # Ok::<(), types::error::ConversionError>(())
//! ```

use std::fmt::Write as _;
use std::marker::PhantomData;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, TimeZone, Utc};
use cliniko_types::Id;

use crate::types;

/// `q[]` conditions for the routes `R` stands for, combined with AND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter<R> {
    conditions: Vec<String>,
    /// The first condition that cannot be sent, reported when the filter is handed to a builder.
    invalid: Option<&'static str>,
    route: PhantomData<fn() -> R>,
}

impl<R> Filter<R> {
    fn empty() -> Self {
        Self {
            conditions: Vec::new(),
            invalid: None,
            route: PhantomData,
        }
    }

    fn with(mut self, field: &'static str, condition: &str) -> Self {
        self.conditions.push(format!("{field}:{condition}"));
        self
    }

    /// Each condition as Cliniko reads it, `FIELD:OPERATORVALUE`.
    pub fn conditions(&self) -> impl Iterator<Item = &str> {
        self.conditions.iter().map(String::as_str)
    }

    /// Whether the filter has no condition.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// The conditions, or why one of them cannot be sent.
    pub(crate) fn into_conditions(self) -> Result<Vec<String>, &'static str> {
        match self.invalid {
            Some(reason) => Err(reason),
            None => Ok(self.conditions),
        }
    }

    /// The conditions as the generated per-route item type, checked against the spec's pattern.
    fn into_items<T>(self) -> Result<Vec<T>, types::error::ConversionError>
    where
        T: TryFrom<String, Error = types::error::ConversionError>,
    {
        if let Some(reason) = self.invalid {
            return Err(reason.into());
        }
        self.conditions.into_iter().map(T::try_from).collect()
    }
}

/// Chooses the operator for a numeric (ID) field; every method returns the filter.
#[derive(Debug)]
#[must_use = "a field without an operator adds no condition"]
pub struct Numeric<R> {
    filter: Filter<R>,
    field: &'static str,
}

impl<R> Numeric<R> {
    fn compare(self, operator: &str, id: Id) -> Filter<R> {
        self.filter.with(self.field, &format!("{operator}{id}"))
    }

    fn list(self, operator: &str, ids: impl IntoIterator<Item = impl Into<Id>>) -> Filter<R> {
        let mut value = String::from(operator);
        for (index, id) in ids.into_iter().enumerate() {
            if index > 0 {
                value.push(',');
            }
            let _ = write!(value, "{}", id.into());
        }
        if value.len() == operator.len() {
            let mut filter = self.filter;
            filter
                .invalid
                .get_or_insert("a list filter needs at least one id");
            return filter;
        }
        self.filter.with(self.field, &value)
    }

    /// `=`: equal to.
    pub fn eq(self, id: impl Into<Id>) -> Filter<R> {
        self.compare("=", id.into())
    }
    /// `!=`: not equal to.
    pub fn ne(self, id: impl Into<Id>) -> Filter<R> {
        self.compare("!=", id.into())
    }
    /// `>`: greater than.
    pub fn gt(self, id: impl Into<Id>) -> Filter<R> {
        self.compare(">", id.into())
    }
    /// `>=`: greater than or equal to.
    pub fn ge(self, id: impl Into<Id>) -> Filter<R> {
        self.compare(">=", id.into())
    }
    /// `<`: less than.
    pub fn lt(self, id: impl Into<Id>) -> Filter<R> {
        self.compare("<", id.into())
    }
    /// `<=`: less than or equal to.
    pub fn le(self, id: impl Into<Id>) -> Filter<R> {
        self.compare("<=", id.into())
    }
    /// `=1,2,3`: any of these (at least one).
    pub fn one_of(self, ids: impl IntoIterator<Item = impl Into<Id>>) -> Filter<R> {
        self.list("=", ids)
    }
    /// `!=1,2,3`: none of these (at least one).
    pub fn none_of(self, ids: impl IntoIterator<Item = impl Into<Id>>) -> Filter<R> {
        self.list("!=", ids)
    }
    /// `?`: has a value.
    pub fn is_not_null(self) -> Filter<R> {
        self.filter.with(self.field, "?")
    }
    /// `!?`: has no value.
    pub fn is_null(self) -> Filter<R> {
        self.filter.with(self.field, "!?")
    }
}

/// Chooses the operator for a date-time field; every method returns the filter. Times are sent
/// in UTC (`2014-08-30T18:00:00Z`), with fractions of a second only when there are any.
#[derive(Debug)]
#[must_use = "a field without an operator adds no condition"]
pub struct Timestamp<R> {
    filter: Filter<R>,
    field: &'static str,
}

impl<R> Timestamp<R> {
    fn compare<Tz: TimeZone>(self, operator: &str, at: &DateTime<Tz>) -> Filter<R> {
        let utc = at
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::AutoSi, true);
        self.filter.with(self.field, &format!("{operator}{utc}"))
    }

    /// `>`: after.
    pub fn gt<Tz: TimeZone>(self, at: DateTime<Tz>) -> Filter<R> {
        self.compare(">", &at)
    }
    /// `>=`: at or after.
    pub fn ge<Tz: TimeZone>(self, at: DateTime<Tz>) -> Filter<R> {
        self.compare(">=", &at)
    }
    /// `<`: before.
    pub fn lt<Tz: TimeZone>(self, at: DateTime<Tz>) -> Filter<R> {
        self.compare("<", &at)
    }
    /// `<=`: at or before.
    pub fn le<Tz: TimeZone>(self, at: DateTime<Tz>) -> Filter<R> {
        self.compare("<=", &at)
    }
    /// `?`: has a value.
    pub fn is_not_null(self) -> Filter<R> {
        self.filter.with(self.field, "?")
    }
    /// `!?`: has no value.
    pub fn is_null(self) -> Filter<R> {
        self.filter.with(self.field, "!?")
    }
    /// `*`: any value, null or not, which also brings back the attendees the route leaves out
    /// (for example `cancelled_at:*` includes cancelled attendees).
    pub fn any(self) -> Filter<R> {
        self.filter.with(self.field, "*")
    }
}

/// Chooses the operator for a date field (`date_of_birth`); every method returns the filter.
/// Dates are sent as `YYYY-MM-DD`.
#[derive(Debug)]
#[must_use = "a field without an operator adds no condition"]
pub struct Date<R> {
    filter: Filter<R>,
    field: &'static str,
}

impl<R> Date<R> {
    fn compare(self, operator: &str, date: NaiveDate) -> Filter<R> {
        let text = date.format("%Y-%m-%d").to_string();
        self.filter.with(self.field, &format!("{operator}{text}"))
    }

    /// `=`: on this date.
    pub fn eq(self, date: NaiveDate) -> Filter<R> {
        self.compare("=", date)
    }
    /// `=` with wildcards: every date whose given parts match, the others written as asterisks.
    /// `matching(None, Some(5), None)` is `=****-05-**`, any day in May of any year; a month
    /// outside 1 to 12, a day outside 1 to 31 or a year outside 0 to 9999 is refused when the
    /// filter is sent.
    pub fn matching(self, year: Option<i32>, month: Option<u32>, day: Option<u32>) -> Filter<R> {
        let year_ok = year.is_none_or(|y| (0..=9999).contains(&y));
        let month_ok = month.is_none_or(|m| (1..=12).contains(&m));
        let day_ok = day.is_none_or(|d| (1..=31).contains(&d));
        if !(year_ok && month_ok && day_ok) {
            let mut filter = self.filter;
            filter
                .invalid
                .get_or_insert("a date filter's year, month or day is out of range");
            return filter;
        }
        let year = year.map_or_else(|| "****".to_owned(), |y| format!("{y:04}"));
        let month = month.map_or_else(|| "**".to_owned(), |m| format!("{m:02}"));
        let day = day.map_or_else(|| "**".to_owned(), |d| format!("{d:02}"));
        self.filter
            .with(self.field, &format!("={year}-{month}-{day}"))
    }
    /// `=****-MM-DD`: the same day of the year as `date`, in any year (a birthday).
    pub fn anniversary_of(self, date: NaiveDate) -> Filter<R> {
        self.matching(None, Some(date.month()), Some(date.day()))
    }
    /// `>`: after.
    pub fn gt(self, date: NaiveDate) -> Filter<R> {
        self.compare(">", date)
    }
    /// `>=`: on or after.
    pub fn ge(self, date: NaiveDate) -> Filter<R> {
        self.compare(">=", date)
    }
    /// `<`: before.
    pub fn lt(self, date: NaiveDate) -> Filter<R> {
        self.compare("<", date)
    }
    /// `<=`: on or before.
    pub fn le(self, date: NaiveDate) -> Filter<R> {
        self.compare("<=", date)
    }
    /// `?`: has a value.
    pub fn is_not_null(self) -> Filter<R> {
        self.filter.with(self.field, "?")
    }
    /// `!?`: has no value.
    pub fn is_null(self) -> Filter<R> {
        self.filter.with(self.field, "!?")
    }
}

/// Chooses the operator for a string field; every method returns the filter. A value is one
/// line of at least one character (the spec's pattern refuses others when the filter is sent).
/// The query encoder sends a `%` in a value as `%25`, as Cliniko needs.
#[derive(Debug)]
#[must_use = "a field without an operator adds no condition"]
pub struct Text<R> {
    filter: Filter<R>,
    field: &'static str,
}

impl<R> Text<R> {
    fn compare(self, operator: &str, value: &str) -> Filter<R> {
        self.filter.with(self.field, &format!("{operator}{value}"))
    }

    /// `=`: exactly this text.
    pub fn eq(self, value: &str) -> Filter<R> {
        self.compare("=", value)
    }
    /// `!=`: anything but this text.
    pub fn ne(self, value: &str) -> Filter<R> {
        self.compare("!=", value)
    }
    /// `~`: Cliniko's first matching operator. A value that starts with `~` is refused when the
    /// filter is sent: Cliniko would read `~~…` as the other operator.
    pub fn like(self, value: &str) -> Filter<R> {
        if value.starts_with('~') {
            let mut filter = self.filter;
            filter.invalid.get_or_insert(
                "a `~` filter's value cannot start with `~` (it would read as `~~`)",
            );
            return filter;
        }
        self.compare("~", value)
    }
    /// `~~`: Cliniko's second matching operator, in whose value `%` is a wildcard (`Ngu%`).
    pub fn like_pattern(self, pattern: &str) -> Filter<R> {
        self.compare("~~", pattern)
    }
    /// `?`: has a value.
    pub fn is_not_null(self) -> Filter<R> {
        self.filter.with(self.field, "?")
    }
    /// `!?`: has no value.
    pub fn is_null(self) -> Filter<R> {
        self.filter.with(self.field, "!?")
    }
}

/// Chooses the operator for a boolean field; every method returns the filter.
#[derive(Debug)]
#[must_use = "a field without an operator adds no condition"]
pub struct Flag<R> {
    filter: Filter<R>,
    field: &'static str,
}

impl<R> Flag<R> {
    /// `=`: equal to.
    pub fn eq(self, value: bool) -> Filter<R> {
        self.filter.with(self.field, &format!("={value}"))
    }
    /// `!=`: not equal to.
    pub fn ne(self, value: bool) -> Filter<R> {
        self.filter.with(self.field, &format!("!={value}"))
    }
}

/// A field a `sort` parameter accepts: one generated enum per `sort` parameter of the spec
/// ([`SortField`] for the attendee list routes, [`PatientSortField`] for `GET /patients`).
pub trait SortKey: Copy {
    /// The field's name in Cliniko.
    fn name(self) -> &'static str;
}

/// A `sort` order: fields in priority order, each ascending or descending. `F` is the route's
/// sort fields ([`SortField`], the attendees', unless said otherwise).
pub struct Sort<F = SortField> {
    text: String,
    fields: PhantomData<fn() -> F>,
}

impl<F> std::fmt::Debug for Sort<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sort").field(&self.text).finish()
    }
}

impl<F> Clone for Sort<F> {
    fn clone(&self) -> Self {
        Self {
            text: self.text.clone(),
            fields: PhantomData,
        }
    }
}

impl<F> Default for Sort<F> {
    fn default() -> Self {
        Self {
            text: String::new(),
            fields: PhantomData,
        }
    }
}

impl<F> PartialEq for Sort<F> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<F> Eq for Sort<F> {}

impl Sort {
    /// An order of the attendee list routes' fields ([`SortField`]), with no field yet;
    /// Cliniko's default is `created_at` ascending. For another route's fields, see
    /// [`empty`](Self::empty).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<F: SortKey> Sort<F> {
    /// No field yet, for the fields `F` (`Sort::empty().asc(PatientSortField::LastName)`);
    /// Cliniko's default is `created_at` ascending.
    pub fn empty() -> Self {
        Self::default()
    }

    fn then(mut self, field: F, direction: &str) -> Self {
        if !self.text.is_empty() {
            self.text.push(',');
        }
        self.text.push_str(field.name());
        self.text.push_str(direction);
        self
    }

    /// Then by `field`, ascending.
    pub fn asc(self, field: F) -> Self {
        self.then(field, ":asc")
    }

    /// Then by `field`, descending.
    pub fn desc(self, field: F) -> Self {
        self.then(field, ":desc")
    }
}

impl<F> Sort<F> {
    /// The value of `sort`, as in `updated_at:asc,id:desc`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn into_string(self) -> String {
        self.text
    }
}

/// The per-route items generated from the spec (`cargo xtask codegen`): each `q[]` parameter's
/// marker type, constructor and fields, and each `sort` parameter's fields.
#[rustfmt::skip]
mod generated {
    include!("generated_filters.rs");
}
pub use generated::*;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn at(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text).expect("a valid date-time")
    }

    fn items(filter: Filter<AttendeeLists>) -> Vec<String> {
        Vec::<types::ListAttendeesQItem>::try_from(filter)
            .expect("the spec's pattern accepts it")
            .into_iter()
            .map(String::from)
            .collect()
    }

    #[test]
    fn every_numeric_operator_matches_the_spec() {
        let filter = Filter::attendees()
            .id()
            .eq(1_i64)
            .booking_id()
            .ne(2_i64)
            .patient_id()
            .gt(3_i64)
            .appointment_id()
            .ge(4_i64)
            .patient_case_id()
            .lt(5_i64)
            .id()
            .le(i64::MAX)
            .patient_id()
            .one_of([1_i64, 2, 3])
            .patient_id()
            .none_of([4_i64])
            .patient_case_id()
            .is_not_null()
            .appointment_id()
            .is_null();
        assert_eq!(
            items(filter),
            [
                "id:=1",
                "booking_id:!=2",
                "patient_id:>3",
                "appointment_id:>=4",
                "patient_case_id:<5",
                "id:<=9223372036854775807",
                "patient_id:=1,2,3",
                "patient_id:!=4",
                "patient_case_id:?",
                "appointment_id:!?",
            ]
        );
    }

    #[test]
    fn every_timestamp_operator_matches_the_spec_in_utc() {
        let filter = Filter::attendees()
            .updated_at()
            .gt(at("2024-01-01T10:00:00+10:00"))
            .created_at()
            .ge(at("2014-08-30T18:00:00Z"))
            .archived_at()
            .lt(at("2024-06-30T23:59:59.250-02:00"))
            .deleted_at()
            .le(at("2024-01-01T00:00:00Z"))
            .cancelled_at()
            .is_not_null()
            .archived_at()
            .is_null()
            .cancelled_at()
            .any();
        assert_eq!(
            items(filter),
            [
                "updated_at:>2024-01-01T00:00:00Z",
                "created_at:>=2014-08-30T18:00:00Z",
                "archived_at:<2024-07-01T01:59:59.250Z",
                "deleted_at:<=2024-01-01T00:00:00Z",
                "cancelled_at:?",
                "archived_at:!?",
                "cancelled_at:*",
            ]
        );
    }

    #[test]
    fn each_route_family_converts_to_its_own_items() {
        let patient_case = Filter::patient_case_attendees().patient_id().eq(7_i64);
        let converted: Vec<types::ListPatientCaseAttendeesQItem> =
            patient_case.try_into().expect("fits");
        assert_eq!(converted.len(), 1);
        let single = Filter::single_attendee()
            .cancelled_at()
            .any()
            .archived_at()
            .any();
        let converted: Vec<types::GetAttendeeQItem> = single.try_into().expect("fits");
        assert_eq!(
            converted
                .iter()
                .map(|item| item.as_str())
                .collect::<Vec<_>>(),
            ["cancelled_at:*", "archived_at:*"]
        );
    }

    /// Each family offers exactly the fields, of the same kinds, that the spec lists for each
    /// route it converts to.
    #[test]
    fn each_family_offers_exactly_the_spec_fields_of_its_routes() {
        use cliniko_types::facts::{FilterKind, Operation, operations as op};
        fn sorted(fields: &[(&'static str, FilterKind)]) -> Vec<(&'static str, String)> {
            let mut out: Vec<_> = fields.iter().map(|(n, k)| (*n, format!("{k:?}"))).collect();
            out.sort();
            out
        }
        type Family = (
            &'static [(&'static str, FilterKind)],
            &'static [&'static Operation],
        );
        let families: [Family; 5] = [
            (
                Filter::<AttendeeLists>::FIELDS,
                &[
                    &op::LIST_ATTENDEES,
                    &op::LIST_DELETED_ATTENDEES,
                    &op::LIST_CANCELLED_ATTENDEES,
                    &op::LIST_GROUP_APPOINTMENT_ATTENDEES,
                    &op::LIST_INDIVIDUAL_APPOINTMENT_ATTENDEES,
                ],
            ),
            (
                Filter::<PatientCaseAttendees>::FIELDS,
                &[&op::LIST_PATIENT_CASE_ATTENDEES],
            ),
            (Filter::<SingleAttendee>::FIELDS, &[&op::GET_ATTENDEE]),
            (Filter::<PatientLists>::FIELDS, &[&op::LIST_PATIENTS]),
            (Filter::<SinglePatient>::FIELDS, &[&op::GET_PATIENT]),
        ];
        for (fields, operations) in families {
            for operation in operations {
                let spec: Vec<(&str, FilterKind)> = operation
                    .filters
                    .iter()
                    .map(|field| (field.name, field.kind))
                    .collect();
                assert_eq!(sorted(fields), sorted(&spec), "{}", operation.id);
            }
        }
    }

    #[test]
    fn every_patient_operator_matches_the_spec() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a valid date");
        let filter = Filter::patients()
            .last_name()
            .eq("Nguyễn")
            .first_name()
            .ne("O'Brien")
            .email()
            .like("example.com")
            .last_name()
            .like_pattern("Ngu%")
            .preferred_first_name()
            .is_not_null()
            .old_reference_id()
            .is_null()
            .date_of_birth()
            .eq(date(1987, 2, 14))
            .date_of_birth()
            .matching(None, Some(5), None)
            .date_of_birth()
            .anniversary_of(date(1987, 2, 14))
            .date_of_birth()
            .ge(date(1900, 1, 1))
            .date_of_birth()
            .lt(date(2000, 1, 1))
            .date_of_birth()
            .is_null()
            .accepted_privacy_policy()
            .eq(true)
            .accepted_privacy_policy()
            .ne(false)
            .id()
            .one_of([1_407_219_630_128_094_257_i64, 2])
            .updated_at()
            .gt(at("2024-01-01T10:00:00+10:00"))
            .archived_at()
            .any();
        let items: Vec<types::ListPatientsQItem> = filter.try_into().expect("the spec's pattern");
        assert_eq!(
            items.iter().map(|item| item.as_str()).collect::<Vec<_>>(),
            [
                "last_name:=Nguyễn",
                "first_name:!=O'Brien",
                "email:~example.com",
                "last_name:~~Ngu%",
                "preferred_first_name:?",
                "old_reference_id:!?",
                "date_of_birth:=1987-02-14",
                "date_of_birth:=****-05-**",
                "date_of_birth:=****-02-14",
                "date_of_birth:>=1900-01-01",
                "date_of_birth:<2000-01-01",
                "date_of_birth:!?",
                "accepted_privacy_policy:=true",
                "accepted_privacy_policy:!=false",
                "id:=1407219630128094257,2",
                "updated_at:>2024-01-01T00:00:00Z",
                "archived_at:*",
            ]
        );
        let single: Vec<types::GetPatientQItem> = Filter::single_patient()
            .archived_at()
            .any()
            .try_into()
            .expect("fits");
        assert_eq!(single[0].as_str(), "archived_at:*");
    }

    #[test]
    fn text_and_dates_the_spec_refuses_are_refused_when_sent() {
        for filter in [
            Filter::patients().last_name().eq(""),
            Filter::patients().last_name().like("~x"),
            Filter::patients().first_name().eq("two\nlines"),
            Filter::patients()
                .date_of_birth()
                .matching(None, Some(13), None),
            Filter::patients()
                .date_of_birth()
                .matching(Some(-1), None, None),
        ] {
            assert!(
                Vec::<types::ListPatientsQItem>::try_from(filter.clone()).is_err(),
                "{filter:?}"
            );
        }
    }

    #[test]
    fn an_empty_id_list_is_refused_when_sent() {
        let filter = Filter::attendees().id().one_of(Vec::<i64>::new());
        assert!(Vec::<types::ListAttendeesQItem>::try_from(filter).is_err());
    }

    #[test]
    fn a_negative_id_is_refused_by_the_spec_pattern() {
        let filter = Filter::attendees().id().eq(-1_i64);
        assert!(Vec::<types::ListAttendeesQItem>::try_from(filter).is_err());
    }

    #[test]
    fn sort_converts_and_an_empty_sort_is_refused() {
        let sort = Sort::new().desc(SortField::UpdatedAt).asc(SortField::Id);
        let converted: types::ListAttendeesSort = sort.try_into().expect("fits the pattern");
        assert_eq!(converted.as_str(), "updated_at:desc,id:asc");
        assert!(types::ListAttendeesSort::try_from(Sort::new()).is_err());
    }

    /// The generated builders put `q[]` through progenitor's `QueryParam` and reqwest's form
    /// encoder; this checks that pair writes `q[]` and `%` as Cliniko needs them.
    #[test]
    fn the_query_encodes_brackets_and_percent() {
        let filter = Filter::attendees()
            .updated_at()
            .gt(at("2024-01-01T00:00:00Z"))
            .id()
            .one_of([1_i64, 2]);
        let items: Vec<types::ListAttendeesQItem> = filter.try_into().expect("fits");
        let request = reqwest::Client::new()
            .get("http://127.0.0.1/v1/attendees")
            .query(&progenitor_client::QueryParam::new("q[]", &Some(items)))
            .query(&progenitor_client::QueryParam::new(
                "q[]",
                &Some(vec!["notes:~100%"]),
            ))
            .build()
            .expect("a request");
        assert_eq!(
            request.url().query(),
            Some(
                "q%5B%5D=updated_at%3A%3E2024-01-01T00%3A00%3A00Z&q%5B%5D=id%3A%3D1%2C2&q%5B%5D=notes%3A%7E100%25"
            )
        );
    }
}
