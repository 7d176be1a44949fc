//! Pagination, sorting and every `q[]` operator on every kind of field.

mod common;

use common::Harness;
use serde_json::Value;

/// Every attendee the plain list would show with cancelled and archived brought in.
async fn everyone(h: &Harness) -> Vec<Value> {
    let mut all = Vec::new();
    let mut page = 1;
    loop {
        let json = h
            .get(&format!(
                "/attendees?per_page=100&page={page}&q%5B%5D=cancelled_at:*&q%5B%5D=archived_at:*"
            ))
            .await
            .json();
        all.extend(json["attendees"].as_array().expect("array").iter().cloned());
        if json["links"]["next"].is_null() {
            return all;
        }
        page += 1;
    }
}

/// Which attendees a filter should keep.
type Keep = Box<dyn Fn(&Value) -> bool>;

fn id_of(a: &Value) -> String {
    a["id"].as_str().expect("id").to_owned()
}

fn link_id(a: &Value, field: &str) -> Option<i64> {
    a[field]["links"]["self"]
        .as_str()
        .and_then(|l| l.rsplit('/').next())
        .and_then(|s| s.parse().ok())
}

/// The IDs over all pages of `path` (a list route with its own filters), sorted.
async fn matching(h: &Harness, filters: &str) -> Vec<String> {
    let mut ids = h
        .all_ids(&format!(
            "/attendees?per_page=100&q%5B%5D=cancelled_at:*&q%5B%5D=archived_at:*&{filters}"
        ))
        .await;
    ids.sort();
    ids
}

fn expected(all: &[Value], keep: impl Fn(&Value) -> bool) -> Vec<String> {
    let mut ids: Vec<String> = all.iter().filter(|a| keep(a)).map(id_of).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn pages_cover_every_attendee_once_with_links_and_totals() {
    let h = Harness::start().await;
    let first = h.get("/attendees?per_page=7").await.json();
    let total = first["total_entries"].as_u64().expect("total");
    assert!(first["links"]["previous"].is_null());
    assert!(
        first["links"]["next"]
            .as_str()
            .expect("next")
            .contains("page=2")
    );
    assert!(
        first["links"]["next"]
            .as_str()
            .expect("next")
            .contains("per_page=7")
    );
    let ids = h.all_ids("/attendees?per_page=7").await;
    assert_eq!(ids.len() as u64, total);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "an attendee appeared on two pages");

    let last_page = total.div_ceil(7);
    let last = h
        .get(&format!("/attendees?per_page=7&page={last_page}"))
        .await
        .json();
    assert!(last["links"]["next"].is_null());
    assert!(
        last["links"]["previous"]
            .as_str()
            .expect("previous")
            .contains(&format!("page={}", last_page - 1))
    );
    let beyond = h
        .get(&format!("/attendees?per_page=7&page={}", last_page + 5))
        .await
        .json();
    assert_eq!(beyond["attendees"].as_array().expect("array").len(), 0);
    assert_eq!(beyond["total_entries"].as_u64(), Some(total));

    let default = h.get("/attendees").await.json();
    assert_eq!(
        default["attendees"].as_array().expect("array").len(),
        50,
        "50 a page by default"
    );
}

#[tokio::test]
async fn links_are_absolute_and_built_from_the_host_header() {
    let h = Harness::start().await;
    let answer = h
        .checked(
            reqwest::Method::GET,
            "/attendees?per_page=2",
            h.client
                .get(h.url("/attendees?per_page=2"))
                .header("host", "fake.example:8443")
                .header("authorization", common::basic(common::KEY))
                .header("user-agent", common::USER_AGENT),
        )
        .await;
    let json = answer.json();
    assert_eq!(
        json["links"]["self"],
        "http://fake.example:8443/v1/attendees?page=1&per_page=2"
    );
    assert!(
        json["attendees"][0]["links"]["self"]
            .as_str()
            .expect("link")
            .starts_with("http://fake.example:8443/v1/attendees/")
    );
}

#[tokio::test]
async fn absurd_paging_is_refused_with_400() {
    let h = Harness::start().await;
    for query in [
        "page=0",
        "page=-3",
        "page=abc",
        "page=1.5",
        "page=99999999999999999999999",
        "per_page=0",
        "per_page=101",
        "per_page=x",
    ] {
        let answer = h.get(&format!("/attendees?{query}")).await;
        assert_eq!(answer.status, 400, "{query}");
        assert!(
            answer.message().contains("Invalid"),
            "{query}: {}",
            answer.message()
        );
    }
}

#[tokio::test]
async fn sorting_follows_sort_and_the_deprecated_order() {
    let h = Harness::start().await;
    let all = everyone(&h).await;
    let by_patient = h
        .get("/attendees?per_page=100&sort=patient_id:desc,id")
        .await
        .json();
    let page = by_patient["attendees"].as_array().expect("array");
    for pair in page.windows(2) {
        let (a, b) = (
            link_id(&pair[0], "patient").expect("patient"),
            link_id(&pair[1], "patient").expect("patient"),
        );
        assert!(
            a > b
                || (a == b
                    && pair[0]["id"].as_str().expect("id").parse::<i64>().ok()
                        < pair[1]["id"].as_str().expect("id").parse::<i64>().ok())
        );
    }
    // A route sorts on the fields its `sort` pattern lists, even one its `q[]` does not filter on
    // (the patient case's own list fixes `patient_case_id` in its path). schemathesis found it
    // refused.
    let case = h.server.fixtures().patient_cases[0];
    let sorted = h
        .get(&format!(
            "/patient_cases/{case}/attendees?sort=patient_case_id:desc,booking_id"
        ))
        .await;
    assert_eq!(sorted.status, 200, "{}", sorted.text);
    let unknown = h.get("/attendees?sort=notes").await;
    assert_eq!(unknown.status, 400, "{}", unknown.text);
    assert!(
        unknown.message().contains("sortable fields are"),
        "{}",
        unknown.text
    );
    let newest_first = h.get("/attendees?per_page=5&order=desc").await.json();
    let sorted_desc = h
        .get("/attendees?per_page=5&sort=created_at:desc")
        .await
        .json();
    assert_eq!(newest_first["attendees"], sorted_desc["attendees"]);
    let times: Vec<&str> = newest_first["attendees"]
        .as_array()
        .expect("array")
        .iter()
        .map(|a| a["created_at"].as_str().expect("time"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));
    let oldest = h.get("/attendees?per_page=1").await.json();
    let active_times: Vec<&str> = all
        .iter()
        .filter(|a| a["cancelled_at"].is_null() && a["archived_at"].is_null())
        .map(|a| a["created_at"].as_str().expect("time"))
        .collect();
    assert_eq!(
        oldest["attendees"][0]["created_at"].as_str(),
        active_times.iter().min().copied()
    );

    let cancelled_last = h
        .get("/attendees?per_page=100&q%5B%5D=cancelled_at:*&sort=cancelled_at")
        .await
        .json();
    let cancelled_at: Vec<&Value> = cancelled_last["attendees"]
        .as_array()
        .expect("array")
        .iter()
        .map(|a| &a["cancelled_at"])
        .collect();
    let first_null = cancelled_at
        .iter()
        .position(|v| v.is_null())
        .expect("some are not cancelled");
    assert!(
        cancelled_at[..first_null].iter().all(|v| v.is_string()),
        "nulls sort last ascending"
    );
    assert!(first_null > 0);

    for bad in ["sort=colour", "sort=id:sideways", "order=up"] {
        let answer = h.get(&format!("/attendees?{bad}")).await;
        assert_eq!(answer.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn id_filters_support_every_numeric_operator() {
    let h = Harness::start().await;
    let all = everyone(&h).await;
    let ids: Vec<i64> = all.iter().map(|a| id_of(a).parse().expect("id")).collect();
    let pivot = ids[ids.len() / 2];
    let some: Vec<i64> = ids.iter().step_by(37).copied().collect();
    let list = some
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let id = |a: &Value| id_of(a).parse::<i64>().expect("id");
    let cases: Vec<(String, Keep)> = vec![
        (format!("id:={pivot}"), Box::new(move |a| id(a) == pivot)),
        (format!("id:!={pivot}"), Box::new(move |a| id(a) != pivot)),
        (format!("id:>{pivot}"), Box::new(move |a| id(a) > pivot)),
        (format!("id:>={pivot}"), Box::new(move |a| id(a) >= pivot)),
        (format!("id:<{pivot}"), Box::new(move |a| id(a) < pivot)),
        (format!("id:<={pivot}"), Box::new(move |a| id(a) <= pivot)),
        (
            format!("id:={list}"),
            Box::new({
                let some = some.clone();
                move |a| some.contains(&id(a))
            }),
        ),
        (
            format!("id:!={list}"),
            Box::new({
                let some = some.clone();
                move |a| !some.contains(&id(a))
            }),
        ),
        (
            "patient_case_id:?".to_owned(),
            Box::new(|a| !a["patient_case"].is_null()),
        ),
        (
            "patient_case_id:!?".to_owned(),
            Box::new(|a| a["patient_case"].is_null()),
        ),
        ("id:?".to_owned(), Box::new(|_| true)),
        ("id:!?".to_owned(), Box::new(|_| false)),
    ];
    for (filter, keep) in cases {
        let encoded = filter.replace('>', "%3E").replace('<', "%3C");
        assert_eq!(
            matching(&h, &format!("q%5B%5D={encoded}")).await,
            expected(&all, keep),
            "q[]={filter}"
        );
    }
}

#[tokio::test]
async fn reference_filters_match_bookings_appointments_patients_and_cases() {
    let h = Harness::start().await;
    let all = everyone(&h).await;
    let sample = &all[10];
    let booking = link_id(sample, "booking").expect("booking");
    let patient = link_id(sample, "patient").expect("patient");
    for field in ["booking_id", "appointment_id"] {
        let got = matching(&h, &format!("q%5B%5D={field}:={booking}")).await;
        assert_eq!(
            got,
            expected(&all, |a| link_id(a, "booking") == Some(booking)),
            "{field}"
        );
        assert!(got.contains(&id_of(sample)));
    }
    let got = matching(&h, &format!("q%5B%5D=patient_id:={patient}")).await;
    assert_eq!(
        got,
        expected(&all, |a| link_id(a, "patient") == Some(patient))
    );
    let case = all
        .iter()
        .find_map(|a| link_id(a, "patient_case"))
        .expect("some case");
    let got = matching(&h, &format!("q%5B%5D=patient_case_id:={case}")).await;
    assert_eq!(
        got,
        expected(&all, |a| link_id(a, "patient_case") == Some(case))
    );
    let got = matching(
        &h,
        &format!("q%5B%5D=patient_id:%3E{patient}&q%5B%5D=booking_id:!={booking}"),
    )
    .await;
    assert_eq!(
        got,
        expected(&all, |a| link_id(a, "patient").expect("patient") > patient
            && link_id(a, "booking") != Some(booking)),
        "filters combine with AND"
    );
}

#[tokio::test]
async fn date_time_filters_support_every_operator() {
    let h = Harness::start().await;
    let all = everyone(&h).await;
    let pivot = all[all.len() / 3]["updated_at"]
        .as_str()
        .expect("time")
        .to_owned();
    let time = |a: &Value, f: &str| a[f].as_str().map(str::to_owned);
    for (op, encoded) in [(">", "%3E"), (">=", "%3E="), ("<", "%3C"), ("<=", "%3C=")] {
        for field in ["created_at", "updated_at"] {
            let got = matching(&h, &format!("q%5B%5D={field}:{encoded}{pivot}")).await;
            let want = expected(&all, |a| {
                let t = time(a, field).expect("time");
                match op {
                    ">" => t > pivot,
                    ">=" => t >= pivot,
                    "<" => t < pivot,
                    _ => t <= pivot,
                }
            });
            assert_eq!(got, want, "{field}:{op}{pivot}");
        }
    }
    let fractional = matching(
        &h,
        &format!("q%5B%5D=updated_at:%3E{}", pivot.replace('Z', ".5Z")),
    )
    .await;
    assert_eq!(
        fractional,
        expected(&all, |a| time(a, "updated_at").expect("time") > pivot)
    );
    for field in ["cancelled_at", "archived_at", "deleted_at"] {
        let present = matching(&h, &format!("q%5B%5D={field}:?")).await;
        assert_eq!(
            present,
            expected(&all, |a| a[field].is_string()),
            "{field}:?"
        );
        assert!(!present.is_empty());
        let absent = matching(&h, &format!("q%5B%5D={field}:!?")).await;
        assert_eq!(absent, expected(&all, |a| a[field].is_null()), "{field}:!?");
        let star = matching(&h, &format!("q%5B%5D={field}:*")).await;
        assert_eq!(star.len(), all.len(), "{field}:*");
        let since = matching(&h, &format!("q%5B%5D={field}:%3E=2020-01-01T00:00:00Z")).await;
        assert_eq!(since, present, "{field}:>= a date before all data");
    }
}

#[tokio::test]
async fn the_star_brings_cancelled_and_archived_into_the_plain_list() {
    let h = Harness::start().await;
    let plain = h.all_ids("/attendees?per_page=100").await;
    let with_cancelled = h
        .all_ids("/attendees?per_page=100&q%5B%5D=cancelled_at:*")
        .await;
    let with_archived = h
        .all_ids("/attendees?per_page=100&q%5B%5D=archived_at:*")
        .await;
    let cancelled = h.all_ids("/attendees/cancelled?per_page=100").await;
    // Each `*` lifts one exclusion: an attendee both archived and cancelled needs both.
    let archived_only = h
        .all_ids("/attendees/deleted?per_page=100&q%5B%5D=cancelled_at:!?")
        .await;
    assert_eq!(with_cancelled.len(), plain.len() + cancelled.len());
    assert_eq!(with_archived.len(), plain.len() + archived_only.len());
    assert!(
        cancelled
            .iter()
            .chain(&archived_only)
            .all(|id| !plain.contains(id))
    );
    assert_eq!(everyone(&h).await.len(), h.server.attendee_count());
}

#[tokio::test]
async fn unknown_fields_operators_and_values_get_a_clear_400() {
    let h = Harness::start().await;
    for (filter, says) in [
        ("colour:=1", "unknown field \"colour\""),
        ("notes:=x", "unknown field \"notes\""),
        ("id:~1", "unknown operator \"~\""),
        ("id:*", "unknown operator \"*\""),
        ("created_at:=2020-01-01T00:00:00Z", "unknown operator \"=\""),
        ("id:=abc", "is not an ID"),
        ("id:=1,,2", "is not an ID"),
        ("updated_at:%3Eyesterday", "is not a UTC date-time"),
        ("id:?1", "takes no value"),
        ("id", "expected FIELD:OPERATORVALUE"),
    ] {
        let answer = h.get(&format!("/attendees?q%5B%5D={filter}")).await;
        assert_eq!(answer.status, 400, "{filter}");
        assert!(
            answer.message().contains(says),
            "{filter}: {}",
            answer.message()
        );
    }
}

/// Each route takes the filter fields its operation lists in the spec, and answers 400 naming
/// them for a field it does not: the patient case route's path fixes `patient_case_id`, and a
/// single attendee is filtered only by its archive and cancellation dates.
#[tokio::test]
async fn a_field_the_route_does_not_list_gets_a_400_naming_those_it_does() {
    use cliniko_types::facts::operations;

    let h = Harness::start().await;
    let case = h.server.fixtures().patient_cases[0];
    let attendee = h.server.fixtures().attendees[0];
    for (path, refused, operation) in [
        (
            format!("/patient_cases/{case}/attendees"),
            format!("patient_case_id:={case}"),
            &operations::LIST_PATIENT_CASE_ATTENDEES,
        ),
        (
            format!("/attendees/{attendee}"),
            format!("id:={attendee}"),
            &operations::GET_ATTENDEE,
        ),
        (
            format!("/attendees/{attendee}"),
            "updated_at:>2020-01-01T00:00:00Z".to_owned(),
            &operations::GET_ATTENDEE,
        ),
    ] {
        let answer = h.get(&format!("{path}?q%5B%5D={refused}")).await;
        assert_eq!(answer.status, 400, "{path} {refused}");
        let message = answer.message();
        assert!(message.contains("unknown field"), "{path}: {message}");
        let listed: Vec<&str> = operation.filters.iter().map(|field| field.name).collect();
        assert!(
            message.ends_with(&listed.join(", ")),
            "{path}: {message} does not list {listed:?}"
        );
    }
    // What the route does list is accepted.
    let answer = h
        .get(&format!(
            "/attendees/{attendee}?q%5B%5D=cancelled_at:*&q%5B%5D=archived_at:*"
        ))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let answer = h
        .get(&format!(
            "/patient_cases/{case}/attendees?q%5B%5D=patient_id:?"
        ))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}
