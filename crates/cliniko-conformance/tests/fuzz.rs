//! Property tests of the recording reader and the checker: no panic and no hang on any input,
//! including deeply nested JSON and huge bodies.

use std::time::{Duration, Instant};

use cliniko_conformance::{
    Body, CheckOptions, Checker, Exchange, Headers, RecordedRequest, RecordedResponse,
    parse_recording, recording_from_value,
};
use cliniko_spec::Spec;
use proptest::prelude::*;
use serde_json::{Value, json};

fn checker(strict: bool) -> Checker {
    Checker::new(
        &Spec::embedded().expect("the embedded spec loads"),
        CheckOptions {
            strict,
            ..CheckOptions::default()
        },
    )
    .expect("the spec compiles")
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z0-9:./ -]{0,12}".prop_map(Value::from),
        Just(Value::from("2016-06-28T21:33:26Z")),
        Just(Value::from("10.0.0.1")),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("attendees".to_owned()),
                    Just("id".to_owned()),
                    Just("links".to_owned()),
                    Just("self".to_owned()),
                    Just("message".to_owned()),
                    "[a-z_]{1,10}"
                ],
                inner,
                0..8
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn exchange(
    method: &str,
    url: &str,
    status: u16,
    content_type: Option<&str>,
    body: Body,
) -> Exchange {
    let mut headers = Headers::new();
    if let Some(content_type) = content_type {
        headers.append("Content-Type", content_type);
    }
    headers.append("X-RateLimit-Reset", "not a number");
    Exchange {
        request: RecordedRequest {
            method: method.to_owned(),
            url: url.to_owned(),
            // The request's headers are not what these tests are about.
            headers: Headers::not_recorded(),
            body: Body::Empty,
        },
        response: RecordedResponse {
            status,
            headers,
            body,
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_reader_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_recording(&bytes, "fuzz.json");
    }

    #[test]
    fn the_reader_never_panics_on_json(value in json_value()) {
        let _ = recording_from_value(value.clone(), "fuzz.json");
        let _ = recording_from_value(json!({ "interactions": [value.clone()] }), "fuzz.json");
        let _ = recording_from_value(json!({ "request": value.clone(), "response": value }), "fuzz.json");
    }

    #[test]
    fn the_checker_never_panics(
        body in json_value(),
        method in prop_oneof![
            Just("GET".to_owned()),
            Just("POST".to_owned()),
            Just("PATCH".to_owned()),
            Just("DELETE".to_owned()),
            "[A-Za-z]{1,7}",
        ],
        url in prop_oneof![
            Just("/v1/attendees".to_owned()),
            Just("https://api.au1.cliniko.com/v1/attendees/1".to_owned()),
            Just("/attendees/1/cancel".to_owned()),
            Just("/v1/group_appointments/9/attendees?page=2".to_owned()),
            "[/a-z0-9?#:{}%]{0,40}",
        ],
        status in 100u16..600,
        content_type in prop_oneof![Just(None), Just(Some("application/json")), Just(Some("text/html; charset=utf-8")), Just(Some(""))],
        raw in any::<bool>(),
        strict in any::<bool>(),
    ) {
        let body = if raw { Body::Text(body.to_string()) } else { Body::from_recorded(body) };
        let verdict = checker(strict).check(&exchange(&method, &url, status, content_type, body));
        for violation in &verdict.violations {
            prop_assert!(!violation.to_string().is_empty());
        }
    }
}

#[test]
fn deeply_nested_json_is_an_error_not_a_crash() {
    for depth in [129, 10_000, 1_000_000] {
        let text = format!(
            "{{\"request\":{{\"method\":\"GET\",\"url\":\"/attendees\"}},\"response\":{{\"status\":200,\"body\":{}{}}}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert!(
            parse_recording(text.as_bytes(), "deep.json").is_err(),
            "depth {depth}"
        );
        // The same body recorded as raw text is parsed by the checker, with the same limit.
        let raw = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let verdict = checker(false).check(&exchange(
            "GET",
            "/attendees",
            200,
            Some("application/json"),
            Body::Text(raw),
        ));
        assert_eq!(verdict.violations.len(), 1, "{:?}", verdict.violations);
        assert!(
            verdict.violations[0]
                .to_string()
                .contains("recursion limit"),
            "{}",
            verdict.violations[0]
        );
    }
    // As deep as the parser allows, the validator and the round trip walk it without trouble.
    let deep = format!(
        "{{\"message\":\"x\",\"errors\":{}1{}}}",
        "[".repeat(120),
        "]".repeat(120)
    );
    let verdict = checker(true).check(&exchange(
        "GET",
        "/attendees",
        400,
        Some("application/json"),
        Body::Text(deep),
    ));
    assert!(!verdict.conforms());
}

#[test]
fn huge_bodies_are_checked_in_bounded_time() {
    let started = Instant::now();
    // A 64 MiB string where the spec wants an attendee list.
    let huge = Value::String("x".repeat(64 << 20));
    let verdict = checker(false).check(&exchange(
        "GET",
        "/attendees",
        200,
        Some("application/json"),
        Body::Json(huge),
    ));
    assert_eq!(verdict.violations.len(), 1);
    // 20,000 attendees, one of them wrong, and a 1 MiB note.
    let attendee: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/recordings/spec-examples/getAttendee-200.json"
        ))
        .expect("the example reads"),
    )
    .map(|recording: Value| recording["response"]["body"].clone())
    .expect("the example parses");
    let mut attendees = vec![attendee; 20_000];
    attendees[19_999]["id"] = json!(5);
    attendees[3]["notes"] = Value::String("n".repeat(1 << 20));
    let page = json!({ "attendees": attendees, "total_entries": 20_000, "links": { "self": "https://api.au1.cliniko.com/v1/attendees?page=1" } });
    let verdict = checker(false).check(&exchange(
        "GET",
        "/attendees",
        200,
        Some("application/json"),
        Body::Text(page.to_string()),
    ));
    assert_eq!(verdict.violations.len(), 1, "{:?}", verdict.violations);
    assert_eq!(verdict.violations[0].pointer(), Some("/attendees/19999/id"));
    // A generous bound: this is a hang detector, not a benchmark (that is `cargo bench`).
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "took {:?}",
        started.elapsed()
    );
}
