//! Every route answers with the spec's statuses, bodies and headers, in success and in error.

mod common;

use common::{Harness, ids_of};
use reqwest::Method;
use serde_json::json;

/// An attendee of a group appointment that is neither cancelled nor archived.
async fn active_group_attendee(h: &Harness) -> String {
    let group = h.server.fixtures().group_appointments[0];
    let created = h
        .call(
            Method::POST,
            "/attendees",
            Some(json!({ "booking_id": group.to_string(), "patient_id": h.server.fixtures().patients[0].to_string() })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.json()["id"].as_str().expect("an ID").to_owned()
}

#[tokio::test]
async fn the_plain_list_conforms_and_leaves_out_cancelled_and_archived() {
    let h = Harness::start().await;
    let answer = h.get("/attendees?per_page=100").await;
    assert_eq!(answer.status, 200);
    let json = answer.json();
    let spec = cliniko_spec::Spec::embedded().expect("spec");
    let list = spec
        .validator_for_ref("#/components/schemas/AttendeeList")
        .expect("schema");
    assert!(
        list.violations(&json).is_empty(),
        "{:?}",
        list.violations(&json)
    );
    let attendees = json["attendees"].as_array().expect("array");
    assert_eq!(attendees.len(), 100);
    assert!(
        attendees
            .iter()
            .all(|a| a["cancelled_at"].is_null() && a["archived_at"].is_null())
    );
    assert!(json["total_entries"].as_u64().expect("count") < 300);
    assert!(
        json["links"]["self"]
            .as_str()
            .expect("self")
            .starts_with(&h.url("/attendees?page=1"))
    );
}

#[tokio::test]
async fn deleted_and_cancelled_lists_hold_only_their_own() {
    let h = Harness::start().await;
    let deleted = h.get("/attendees/deleted?per_page=100").await.json();
    let deleted = deleted["attendees"].as_array().expect("array").clone();
    assert!(!deleted.is_empty());
    assert!(
        deleted
            .iter()
            .all(|a| a["archived_at"].is_string() && a["deleted_at"] == a["archived_at"])
    );
    let cancelled = h.get("/attendees/cancelled?per_page=100").await.json();
    let cancelled = cancelled["attendees"].as_array().expect("array").clone();
    assert!(!cancelled.is_empty());
    assert!(cancelled.iter().all(|a| {
        a["cancelled_at"].is_string()
            && a["cancellation_reason"].is_i64()
            && a["cancellation_reason_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
            && a["archived_at"].is_null()
    }));
}

#[tokio::test]
async fn nested_lists_filter_by_their_path_and_404_for_unknown_parents() {
    let h = Harness::start().await;
    let fixtures = h.server.fixtures().clone();
    for (route, ids, other) in [
        (
            "group_appointments",
            &fixtures.group_appointments,
            fixtures.individual_appointments[0],
        ),
        (
            "individual_appointments",
            &fixtures.individual_appointments,
            fixtures.group_appointments[0],
        ),
        (
            "patient_cases",
            &fixtures.patient_cases,
            fixtures.patients[0],
        ),
    ] {
        let mut seen_any = false;
        for id in ids.iter().take(20) {
            let json = h
                .get(&format!(
                    "/{route}/{id}/attendees?q%5B%5D=cancelled_at:*&q%5B%5D=archived_at:*"
                ))
                .await
                .json();
            let field = if route == "patient_cases" {
                "patient_case"
            } else {
                "booking"
            };
            let suffix = if route == "patient_cases" {
                format!("/patient_cases/{id}")
            } else {
                format!("/bookings/{id}")
            };
            for attendee in json["attendees"].as_array().expect("array") {
                seen_any = true;
                assert!(
                    attendee[field]["links"]["self"]
                        .as_str()
                        .expect("link")
                        .ends_with(&suffix)
                );
            }
        }
        assert!(
            seen_any,
            "no attendee found under any of the first 20 {route}"
        );
        let missing = h.get(&format!("/{route}/{other}/attendees")).await;
        assert_eq!(missing.status, 404, "{route} with a foreign ID");
        assert_eq!(
            h.get(&format!("/{route}/not-a-number/attendees"))
                .await
                .status,
            404
        );
    }
    let refused = h
        .get(&format!(
            "/patient_cases/{}/attendees?q%5B%5D=patient_case_id:=1",
            fixtures.patient_cases[0]
        ))
        .await;
    assert_eq!(
        refused.status, 400,
        "patient_case_id is fixed by the path there"
    );
}

#[tokio::test]
async fn get_finds_active_attendees_and_hides_the_rest_without_a_star() {
    let h = Harness::start().await;
    let active = h.ids("/attendees?per_page=1").await.remove(0);
    let answer = h.get(&format!("/attendees/{active}")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["id"], json!(active));

    let archived = h.ids("/attendees/deleted?per_page=1").await.remove(0);
    assert_eq!(h.get(&format!("/attendees/{archived}")).await.status, 404);
    assert_eq!(
        h.get(&format!("/attendees/{archived}?q%5B%5D=archived_at:*"))
            .await
            .status,
        200
    );
    assert_eq!(
        h.get(&format!("/attendees/{archived}?q%5B%5D=deleted_at:*"))
            .await
            .status,
        200
    );

    let cancelled = h.ids("/attendees/cancelled?per_page=1").await.remove(0);
    assert_eq!(h.get(&format!("/attendees/{cancelled}")).await.status, 404);
    assert_eq!(
        h.get(&format!("/attendees/{cancelled}?q%5B%5D=cancelled_at:*"))
            .await
            .status,
        200
    );

    assert_eq!(h.get("/attendees/1").await.status, 404);
    assert_eq!(h.get("/attendees/99999999999999999999").await.status, 404);
    let refused = h.get(&format!("/attendees/{active}?q%5B%5D=id:=1")).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.message().contains("unknown field \"id\""),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn create_answers_201_with_location_and_the_attendee() {
    let h = Harness::start().await;
    let fixtures = h.server.fixtures().clone();
    let before = h.server.attendee_count();
    let body = json!({
        "booking_id": fixtures.individual_appointments[3].to_string(),
        "patient_id": fixtures.patients[5].to_string(),
        "patient_case_id": fixtures.patient_cases[1].to_string(),
        "arrived": true,
        "notes": "First visit \"quoted\" \u{e9}",
    });
    let created = h.call(Method::POST, "/attendees", Some(body)).await;
    assert_eq!(created.status, 201);
    let json = created.json();
    let id = json["id"].as_str().expect("id").to_owned();
    assert_eq!(
        created.header("location"),
        Some(h.url(&format!("/attendees/{id}")).as_str())
    );
    assert!(
        created
            .header("location")
            .expect("location")
            .contains("/v1/attendees/")
    );
    assert_eq!(json["arrived"], json!(true));
    assert_eq!(json["notes"], json!("First visit \"quoted\" \u{e9}"));
    assert_eq!(json["created_at"], json["updated_at"]);
    assert!(
        json["patient_case"]["links"]["self"]
            .as_str()
            .expect("case")
            .ends_with(&fixtures.patient_cases[1].to_string())
    );
    assert_eq!(h.server.attendee_count(), before + 1);
    let fetched = h.get(&format!("/attendees/{id}")).await.json();
    assert_eq!(fetched, json);
}

#[tokio::test]
async fn create_refuses_blank_and_unknown_references_with_422() {
    let h = Harness::start().await;
    let blank = h.call(Method::POST, "/attendees", Some(json!({}))).await;
    assert_eq!(blank.status, 422);
    assert_eq!(
        blank.json(),
        json!({ "message": "Validation Failed", "errors": { "booking_id": "can't be blank", "patient_id": "can't be blank" } })
    );
    let unknown = h
        .call(
            Method::POST,
            "/attendees",
            Some(json!({ "booking_id": "1", "patient_id": "2", "patient_case_id": "3" })),
        )
        .await;
    assert_eq!(unknown.status, 422);
    let errors = unknown.json()["errors"].clone();
    for field in ["booking_id", "patient_id", "patient_case_id"] {
        assert!(errors[field].is_string(), "no error for {field}: {errors}");
    }
    let null = h
        .call(
            Method::POST,
            "/attendees",
            Some(json!({ "booking_id": null, "patient_id": "2" })),
        )
        .await;
    assert_eq!(null.status, 422);
    assert_eq!(null.json()["errors"]["booking_id"], json!("can't be blank"));
}

#[tokio::test]
async fn put_and_patch_update_only_the_given_fields() {
    let h = Harness::start().await;
    let id = active_group_attendee(&h).await;
    let case = h.server.fixtures().patient_cases[2].to_string();
    let patched = h
        .call(
            Method::PATCH,
            &format!("/attendees/{id}"),
            Some(json!({ "arrived": true, "patient_case_id": case })),
        )
        .await;
    assert_eq!(patched.status, 200);
    let patched = patched.json();
    assert_eq!(patched["arrived"], json!(true));
    assert!(
        patched["patient_case"]["links"]["self"]
            .as_str()
            .expect("case")
            .ends_with(&case)
    );
    let put = h
        .call(
            Method::PUT,
            &format!("/attendees/{id}"),
            Some(json!({ "notes": "Running late", "patient_case_id": null })),
        )
        .await;
    assert_eq!(put.status, 200);
    let put = put.json();
    assert_eq!(put["notes"], json!("Running late"));
    assert_eq!(
        put["arrived"],
        json!(true),
        "a field left out keeps its value"
    );
    assert!(put["patient_case"].is_null());

    let unknown_case = h
        .call(
            Method::PATCH,
            &format!("/attendees/{id}"),
            Some(json!({ "patient_case_id": "12" })),
        )
        .await;
    assert_eq!(unknown_case.status, 422);
    assert!(unknown_case.json()["errors"]["patient_case_id"].is_string());
    assert_eq!(
        h.call(
            Method::PATCH,
            "/attendees/5",
            Some(json!({ "arrived": false }))
        )
        .await
        .status,
        404
    );
    assert_eq!(
        h.call(
            Method::PUT,
            "/attendees/5",
            Some(json!({ "arrived": false }))
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn archive_and_delete_move_an_attendee_to_the_deleted_list() {
    let h = Harness::start().await;
    for method in [Method::POST, Method::DELETE] {
        let id = active_group_attendee(&h).await;
        let path = if method == Method::POST {
            format!("/attendees/{id}/archive")
        } else {
            format!("/attendees/{id}")
        };
        let answer = h.call(method.clone(), &path, None).await;
        assert_eq!(answer.status, 204, "{method} {path}");
        assert!(answer.text.is_empty(), "204 has no body");
        assert_eq!(h.get(&format!("/attendees/{id}")).await.status, 404);
        assert!(!h.all_ids("/attendees?per_page=100").await.contains(&id));
        let deleted = h
            .get(&format!("/attendees/deleted?q%5B%5D=id:={id}"))
            .await
            .json();
        assert_eq!(ids_of(&deleted), vec![id.clone()]);
        let attendee = &deleted["attendees"][0];
        assert!(
            attendee["archived_at"].is_string()
                && attendee["deleted_at"] == attendee["archived_at"]
        );
        assert_eq!(attendee["updated_at"], attendee["archived_at"]);
        assert_eq!(
            h.call(method, &path, None).await.status,
            404,
            "archiving twice"
        );
    }
    assert_eq!(
        h.call(Method::POST, "/attendees/3/archive", None)
            .await
            .status,
        404
    );
    assert_eq!(
        h.call(Method::DELETE, "/attendees/3", None).await.status,
        404
    );
}

#[tokio::test]
async fn cancel_needs_a_reason_and_a_group_appointment() {
    let h = Harness::start().await;
    let id = active_group_attendee(&h).await;
    let path = format!("/attendees/{id}/cancel");
    let blank = h
        .call(
            Method::PATCH,
            &path,
            Some(json!({ "cancellation_note": "no reason" })),
        )
        .await;
    assert_eq!(blank.status, 422);
    assert_eq!(
        blank.json()["errors"]["cancellation_reason"],
        json!("can't be blank")
    );
    let unlisted = h
        .call(
            Method::PATCH,
            &path,
            Some(json!({ "cancellation_reason": 99 })),
        )
        .await;
    assert_eq!(unlisted.status, 422);
    assert!(unlisted.json()["errors"]["cancellation_reason"].is_string());

    let done = h
        .call(
            Method::PATCH,
            &path,
            Some(json!({ "cancellation_reason": 31, "cancellation_note": "Fever" })),
        )
        .await;
    assert_eq!(done.status, 204);
    assert!(done.text.is_empty());
    let cancelled = h
        .get(&format!("/attendees/cancelled?q%5B%5D=id:={id}"))
        .await
        .json();
    let attendee = &cancelled["attendees"][0];
    assert_eq!(attendee["cancellation_reason"], json!(31));
    assert_eq!(
        attendee["cancellation_reason_description"],
        json!("COVID-19 related")
    );
    assert_eq!(attendee["cancellation_note"], json!("Fever"));
    assert!(!h.all_ids("/attendees?per_page=100").await.contains(&id));
    let twice = h
        .call(
            Method::PATCH,
            &path,
            Some(json!({ "cancellation_reason": 50 })),
        )
        .await;
    assert_eq!(twice.status, 422);

    let individual = h
        .call(
            Method::POST,
            "/attendees",
            Some(json!({
                "booking_id": h.server.fixtures().individual_appointments[0].to_string(),
                "patient_id": h.server.fixtures().patients[0].to_string(),
            })),
        )
        .await
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let refused = h
        .call(
            Method::PATCH,
            &format!("/attendees/{individual}/cancel"),
            Some(json!({ "cancellation_reason": 50 })),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.json()["errors"]["booking_id"]
            .as_str()
            .expect("why")
            .contains("individual_appointments")
    );
    assert_eq!(
        h.call(
            Method::PATCH,
            "/attendees/7/cancel",
            Some(json!({ "cancellation_reason": 50 }))
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn an_unknown_route_gets_a_json_404() {
    let h = Harness::start().await;
    let answer = common::send(
        h.client
            .get(h.url("/invoices"))
            .header("authorization", common::basic(common::KEY))
            .header("user-agent", common::USER_AGENT),
    )
    .await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json(), json!({ "message": "Not Found" }));
}

#[tokio::test]
#[should_panic(expected = "against the spec")]
async fn the_harness_catches_an_answer_the_spec_does_not_document() {
    let h = Harness::start().await;
    h.get("/invoices").await;
}
