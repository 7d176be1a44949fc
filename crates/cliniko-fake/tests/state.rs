//! State under concurrency, deterministic seeding, IDs beyond 2^53, and request counting.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{Harness, builder};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_are_neither_lost_nor_duplicated() {
    let h = Arc::new(Harness::start().await);
    let before = h.server.attendee_count();
    let groups = h.server.fixtures().group_appointments.clone();
    let patient = h.server.fixtures().patients[0].to_string();
    let mut tasks = Vec::new();
    for task in 0..8 {
        let (h, groups, patient) = (h.clone(), groups.clone(), patient.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..25 {
                let booking = groups[(task * 25 + n) % groups.len()].to_string();
                let answer = h
                    .call(
                        Method::POST,
                        "/attendees",
                        Some(json!({ "booking_id": booking, "patient_id": patient })),
                    )
                    .await;
                assert_eq!(answer.status, 201);
                ids.push(answer.json()["id"].as_str().expect("id").to_owned());
            }
            ids
        }));
    }
    let mut created = Vec::new();
    for task in tasks {
        created.extend(task.await.expect("task"));
    }
    let unique: BTreeSet<_> = created.iter().cloned().collect();
    assert_eq!(unique.len(), 200, "every create got its own ID");
    assert_eq!(h.server.attendee_count(), before + 200);
    assert_eq!(h.server.requests_to("POST", "/v1/attendees"), 200);

    // Many clients archive and cancel the same attendees at once: each change happens once.
    let targets: Vec<String> = created.iter().take(10).cloned().collect();
    let mut racers = Vec::new();
    for _ in 0..4 {
        for id in &targets {
            let (h, id) = (h.clone(), id.clone());
            racers.push(tokio::spawn(async move {
                let cancel = h
                    .call(
                        Method::PATCH,
                        &format!("/attendees/{id}/cancel"),
                        Some(json!({ "cancellation_reason": 40 })),
                    )
                    .await
                    .status;
                (id, cancel)
            }));
        }
    }
    let mut wins = std::collections::BTreeMap::<String, usize>::new();
    for racer in racers {
        let (id, status) = racer.await.expect("racer");
        assert!(status == 204 || status == 422, "{status}");
        if status == 204 {
            *wins.entry(id).or_default() += 1;
        }
    }
    assert_eq!(wins.len(), 10);
    assert!(wins.values().all(|n| *n == 1), "{wins:?}");
    let cancelled = h.all_ids("/attendees/cancelled?per_page=100").await;
    assert!(
        targets
            .iter()
            .all(|id| cancelled.iter().filter(|c| *c == id).count() == 1)
    );
    let total = h
        .get("/attendees?q%5B%5D=cancelled_at:*&q%5B%5D=archived_at:*&per_page=1")
        .await
        .json()["total_entries"]
        .clone();
    assert_eq!(total, json!(h.server.attendee_count()));
}

/// Every attendee, as JSON text with the server's own address taken out.
async fn snapshot(h: &Harness) -> String {
    let mut pages = String::new();
    let mut page = 1;
    loop {
        let answer = h
            .get(&format!(
                "/attendees?per_page=100&page={page}&q%5B%5D=cancelled_at:*&q%5B%5D=archived_at:*"
            ))
            .await;
        let next = answer.json()["links"]["next"].is_string();
        pages.push_str(&answer.text.replace(&h.server.base_url(), "BASE"));
        if !next {
            return pages;
        }
        page += 1;
    }
}

#[tokio::test]
async fn the_same_seed_gives_the_same_data() {
    let a = Harness::with(builder().seed(3).attendees(250)).await;
    let b = Harness::with(builder().seed(3).attendees(250)).await;
    let c = Harness::with(builder().seed(4).attendees(250)).await;
    assert_eq!(a.server.fixtures(), b.server.fixtures());
    let first = snapshot(&a).await;
    assert_eq!(first, snapshot(&b).await);
    assert_ne!(first, snapshot(&c).await);
    assert_eq!(a.server.fixtures().attendees.len(), 250);
    assert_eq!(a.server.attendee_count(), 250);
}

#[tokio::test]
async fn ids_beyond_two_to_the_53_travel_as_exact_strings() {
    let h = Harness::start().await;
    let big: Vec<i64> = h
        .server
        .fixtures()
        .attendees
        .iter()
        .map(|id| id.get())
        .filter(|id| *id > 1 << 53 && (*id as f64) as i64 != *id)
        .collect();
    assert!(!big.is_empty(), "some seeded IDs cannot be held by a float");
    let id = big[0];
    let answer = h
        .get(&format!(
            "/attendees/{id}?q%5B%5D=cancelled_at:*&q%5B%5D=archived_at:*"
        ))
        .await;
    assert_eq!(answer.status, 200);
    assert!(answer.text.contains(&format!("\"id\":\"{id}\"")));
    assert_eq!(answer.json()["id"], Value::String(id.to_string()));
    let as_float: f64 = answer.json()["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("float");
    assert_ne!(as_float as i64, id, "a float parser gets this ID wrong");
    let patient = h.server.fixtures().patients[0].get();
    assert!(patient > 1 << 54, "patients sit beyond 2^54");
    let listed = h
        .get(&format!(
            "/attendees?q%5B%5D=patient_id:={patient}&q%5B%5D=cancelled_at:*&q%5B%5D=archived_at:*"
        ))
        .await
        .json();
    assert!(
        listed["attendees"]
            .as_array()
            .expect("array")
            .iter()
            .all(|a| a["patient"]["links"]["self"]
                .as_str()
                .is_some_and(|l| l.ends_with(&format!("/patients/{patient}"))))
    );
}

#[tokio::test]
async fn requests_are_counted_by_literal_path_and_by_template() {
    let h = Harness::start().await;
    let ids: Vec<String> = h
        .server
        .fixtures()
        .attendees
        .iter()
        .take(3)
        .map(ToString::to_string)
        .collect();
    for id in &ids {
        h.get(&format!("/attendees/{id}")).await;
    }
    h.get(&format!("/attendees/{}", ids[0])).await;
    h.get("/attendees?page=1").await;
    assert_eq!(h.server.requests_received(), 5);
    assert_eq!(
        h.server
            .requests_to("GET", &format!("/v1/attendees/{}", ids[0])),
        2
    );
    assert_eq!(h.server.requests_to("GET", "/v1/attendees/{id}"), 4);
    assert_eq!(
        h.server.requests_to("get", "/v1/attendees"),
        1,
        "the query is not part of the path"
    );
    assert_eq!(h.server.requests_to("POST", "/v1/attendees"), 0);
    assert_eq!(h.server.requests_to("NOT A METHOD", "/v1/attendees"), 0);
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let h = Harness::start().await;
    let url = h.url("/attendees");
    assert_eq!(h.get("/attendees?per_page=1").await.status, 200);
    let Harness { server, client, .. } = h;
    server.shutdown().await;
    assert!(client.get(url).send().await.is_err());
}

#[tokio::test]
async fn debug_output_never_shows_the_key() {
    let builder = cliniko_fake::FakeCliniko::builder().api_key("debug-secret-key");
    assert!(!format!("{builder:?}").contains("debug-secret-key"));
    let server = builder.start().await.expect("starts");
    assert!(!format!("{server:?}").contains("debug-secret-key"));
    server.shutdown().await;
}

#[tokio::test]
async fn an_impossible_seed_count_is_an_error_not_a_panic() {
    let error = cliniko_fake::FakeCliniko::builder()
        .attendees(cliniko_fake::MAX_ATTENDEES + 1)
        .start()
        .await
        .expect_err("too many");
    assert!(matches!(
        error,
        cliniko_fake::Error::TooManyAttendees { .. }
    ));
    assert!(error.to_string().contains("at most 100000000"));
}
