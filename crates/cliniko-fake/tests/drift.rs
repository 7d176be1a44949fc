//! `--drift`: on the routes a drift file names, the fake serves Cliniko changed from the spec
//! (an undocumented field, a new code, a field turned null, an undocumented status), and the
//! conformance checker sees each change; other routes are untouched.

mod common;

use cliniko_conformance::{CheckOptions, Checker, recording_from_value};
use cliniko_fake::Drift;
use common::{Answer, Harness, KEY, USER_AGENT, basic, builder, send};
use serde_json::json;

const RULES: &str = "\
- route: GET /attendees/{id}
  undocumented_field: {name: colour, value: teal}
- route: GET /attendees
  new_code: {field: invoice_status, value: 99}
- route: PATCH /attendees/{id}
  null_field: created_at
- route: POST /attendees/{id}/archive
  status: 202
";

/// The checker's violations for one exchange.
fn violations(checker: &Checker, method: &str, path: &str, answer: &Answer) -> Vec<String> {
    let headers: serde_json::Map<String, serde_json::Value> = answer
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), json!(v.to_str().unwrap_or_default())))
        .collect();
    let recording = json!({
        "request": { "method": method, "url": format!("/v1{path}") },
        "response": {
            "status": answer.status,
            "headers": headers,
            "body": if answer.text.is_empty() { serde_json::Value::Null } else { json!(answer.text) },
        },
    });
    let exchanges = recording_from_value(recording, "drift").expect("an exchange");
    checker
        .check(&exchanges[0])
        .violations
        .iter()
        .map(ToString::to_string)
        .collect()
}

async fn raw(harness: &Harness, method: reqwest::Method, path: &str, body: Option<&str>) -> Answer {
    let mut request = harness
        .client
        .request(method, harness.url(path))
        .header("authorization", basic(KEY))
        .header("user-agent", USER_AGENT)
        .header("accept", "application/json");
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    send(request).await
}

#[tokio::test]
async fn each_drift_is_served_and_the_checker_sees_it() {
    let drift = Drift::from_yaml_str(RULES, "drift.yaml").expect("the rules read");
    let harness = Harness::with(builder().drift(drift)).await;
    let spec = cliniko_spec::Spec::embedded().expect("the spec loads");
    let checker = Checker::new(
        &spec,
        CheckOptions {
            strict: true,
            round_trip: false,
        },
    )
    .expect("compiles");
    let id = harness.server.fixtures().attendees[1];

    let one = raw(
        &harness,
        reqwest::Method::GET,
        &format!("/attendees/{id}"),
        None,
    )
    .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["colour"], "teal");
    let seen = violations(&checker, "GET", &format!("/attendees/{id}"), &one);
    assert!(seen.iter().any(|v| v.contains("colour")), "{seen:?}");

    let page = raw(
        &harness,
        reqwest::Method::GET,
        "/attendees?per_page=3",
        None,
    )
    .await;
    let records = page.json()["attendees"].as_array().expect("a page").clone();
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r["invoice_status"] == 99));
    let seen = violations(&checker, "GET", "/attendees?per_page=3", &page);
    assert!(
        seen.iter().any(|v| v.contains("invoice_status")),
        "{seen:?}"
    );

    let patched = raw(
        &harness,
        reqwest::Method::PATCH,
        &format!("/attendees/{id}"),
        Some("{\"notes\":\"x\"}"),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert!(patched.json()["created_at"].is_null());
    let seen = violations(&checker, "PATCH", &format!("/attendees/{id}"), &patched);
    assert!(seen.iter().any(|v| v.contains("created_at")), "{seen:?}");

    let archived = raw(
        &harness,
        reqwest::Method::POST,
        &format!("/attendees/{id}/archive"),
        None,
    )
    .await;
    assert_eq!(archived.status, 202);
    let seen = violations(
        &checker,
        "POST",
        &format!("/attendees/{id}/archive"),
        &archived,
    );
    assert!(seen.iter().any(|v| v.contains("202")), "{seen:?}");

    // A route no rule names is as the spec says (the harness checks it).
    let other = harness.get("/attendees/deleted").await;
    assert_eq!(other.status, 200);
}

#[test]
fn a_bad_drift_file_is_refused_with_its_name_and_line() {
    let error = Drift::from_yaml_str("- route: GET /attendees\n  colour: teal\n", "drift.yaml")
        .expect_err("an unknown key");
    let message = error.to_string();
    assert!(
        message.starts_with("drift.yaml:2") && message.contains("colour"),
        "{message}"
    );
    let error = Drift::from_yaml_str("- route: FETCH attendees\n  status: 299\n", "drift.yaml")
        .expect_err("not a route");
    assert!(error.to_string().contains("[0].route"), "{error}");
    let error = Drift::from_yaml_str("- route: GET /attendees\n", "drift.yaml")
        .expect_err("changes nothing");
    assert!(error.to_string().contains("changes nothing"), "{error}");
    let error = Drift::from_yaml_str("- route: GET /attendees\n  status: 1000\n", "drift.yaml")
        .expect_err("not a status");
    assert!(error.to_string().contains("1000"), "{error}");
}
