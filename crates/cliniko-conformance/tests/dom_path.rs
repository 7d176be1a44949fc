//! The zero-copy path gives the verdicts of the `serde_json::Value` path, exchange for exchange:
//! `Checker::check_recording` (a file read once into a DOM) and `Checker::check` of a body held
//! as text (read into a DOM) against `Checker::check` of the same body held as a `Value`, on every
//! recording of the repository and on bodies changed in every way the DOM treats apart (repeated
//! keys, decimals, `-0`, deep nesting) or that the checks report (schema, round trip).

use std::path::{Path, PathBuf};

use cliniko_conformance::{
    Body, CheckOptions, Checker, Exchange, Verdict, parse_recording, recording_files,
};
use cliniko_spec::Spec;
use serde_json::Value;

fn checkers() -> Vec<Checker> {
    let spec = Spec::embedded().expect("the embedded spec loads");
    [
        CheckOptions::default(),
        CheckOptions {
            strict: true,
            ..CheckOptions::default()
        },
        CheckOptions {
            round_trip: false,
            ..CheckOptions::default()
        },
    ]
    .into_iter()
    .map(|options| Checker::new(&spec, options).expect("the spec compiles"))
    .collect()
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The verdicts of the `Value` path: the file parsed by `parse_recording`, each compact text body
/// parsed by serde_json into the `Value` the checker then reads (the same verdict as the text).
fn by_value(checker: &Checker, bytes: &[u8], file: &str) -> Result<Vec<Verdict>, String> {
    let exchanges = parse_recording(bytes, file).map_err(|e| e.to_string())?;
    Ok(exchanges
        .into_iter()
        .map(|mut exchange| {
            if let Body::Text(text) = &exchange.response.body
                && let Ok(value) = serde_json::from_str::<Value>(text)
                && !value.is_string()
                && serde_json::to_string(&value).is_ok_and(|compact| compact == *text)
            {
                exchange.response.body = Body::Json(value);
            }
            checker.check(&exchange)
        })
        .collect())
}

fn same_verdicts(checker: &Checker, bytes: &[u8], file: &str) {
    let fast = checker
        .check_recording(bytes, file)
        .map_err(|e| e.to_string());
    let slow = by_value(checker, bytes, file);
    assert_eq!(fast, slow, "{file}: check_recording");
    // Each exchange again with its body as text (a HAR entry), and as bytes received (the proxy).
    if let Ok(exchanges) = parse_recording(bytes, file) {
        for (index, exchange) in exchanges.iter().enumerate() {
            let received = match &exchange.response.body {
                Body::Empty => String::new(),
                Body::Text(text) => text.clone(),
                Body::Json(value) => value.to_string(),
            };
            let mut without_body = exchange.clone();
            without_body.response.body = Body::Empty;
            let recorded = Exchange {
                request: exchange.request.clone(),
                response: cliniko_conformance::RecordedResponse {
                    body: match serde_json::from_str::<Value>(&received) {
                        Ok(value) if !value.is_string() => Body::Json(value),
                        _ if received.is_empty() => Body::Empty,
                        _ => Body::Text(received.clone()),
                    },
                    ..exchange.response.clone()
                },
            };
            assert_eq!(
                checker.check_received(&without_body, received.as_bytes()),
                checker.check(&recorded),
                "{file}#{index}: as received"
            );
            let Body::Json(value) = &exchange.response.body else {
                continue;
            };
            let text = Exchange {
                request: exchange.request.clone(),
                response: cliniko_conformance::RecordedResponse {
                    body: Body::Text(value.to_string()),
                    ..exchange.response.clone()
                },
            };
            assert_eq!(
                checker.check(&text),
                checker.check(exchange),
                "{file}#{index}: as text"
            );
        }
    }
}

#[test]
fn every_recording_gets_the_same_verdicts_on_both_paths() {
    let (files, errors) = recording_files(&[
        repository().join("tests/recordings"),
        repository().join("tests/recordings-bad"),
    ]);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(files.len() > 40, "found {} recordings", files.len());
    for checker in checkers() {
        for file in &files {
            let bytes = std::fs::read(file).expect("a recording reads");
            same_verdicts(&checker, &bytes, &file.display().to_string());
        }
    }
}

/// A recording of `GET /attendees/ID` whose body is `body`, written as it stands.
fn recording(body: &str) -> String {
    format!(
        r#"{{"request": {{"method": "GET", "url": "https://api.au1.cliniko.com/v1/attendees/9007199254740893",
             "headers": {{"accept": "application/json", "user-agent": "tests (tests@example.com)"}}}},
            "response": {{"status": 200, "headers": {{"content-type": "application/json"}}, "body": {body}}}}}"#
    )
}

#[test]
fn changed_bodies_get_the_same_verdicts_on_both_paths() {
    let base = std::fs::read_to_string(
        repository().join("tests/recordings/live-fake/20-getAttendee-200.json"),
    )
    .expect("the recording reads");
    let base: Value = serde_json::from_str(&base).expect("JSON");
    let body = base["response"]["body"].to_string();
    assert!(body.contains(r#""invoice_status":40"#), "{body}");
    let changes: Vec<String> = vec![
        body.clone(),
        // A repeated key, valid last and invalid first, and the other way round.
        body.replacen('{', r#"{"invoice_status": "x", "#, 1),
        body.replacen('{', r#"{"id": 5, "id": "7", "#, 1),
        body.replace(r#""invoice_status":40"#, r#""invoice_status":40,"invoice_status":"x""#),
        // Decimals, -0, exponents and big numbers, where the two parsers may part.
        body.replace(r#""invoice_status":40"#, r#""invoice_status":40.0"#),
        body.replace(r#""invoice_status":40"#, r#""invoice_status":4e1"#),
        body.replace(r#""invoice_status":40"#, r#""invoice_status":-0"#),
        body.replace(r#""invoice_status":40"#, r#""invoice_status":18446744073709551616"#),
        body.replace(r#""invoice_status":40"#, r#""invoice_status":1e400"#),
        // Schema violations and round-trip differences.
        body.replace(r#""invoice_status":40"#, r#""invoice_status":41"#),
        body.replace(r#""arrived":true"#, r#""arrived":"yes""#),
        body.replace("T00:00:14Z", "T00:00:14.000+00:00"),
        body.replace("T00:00:14Z", "T00:00:14+01:00"),
        body.replacen('{', r#"{"undocumented": {"a": [1, 2]}, "#, 1),
        body.replacen('{', r#"{"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], "#, 1),
        "[]".to_owned(),
        "{}".to_owned(),
        r#""text""#.to_owned(),
        "null".to_owned(),
        "7".to_owned(),
    ];
    for checker in checkers() {
        for (index, body) in changes.iter().enumerate() {
            let file = format!("change-{index}.json");
            same_verdicts(&checker, recording(body).as_bytes(), &file);
        }
    }
}

#[test]
fn a_file_that_is_not_json_or_not_a_recording_gets_the_same_error() {
    let checker = &checkers()[0];
    for text in [
        "{",
        "[]",
        r#"{"request": {"method": "GET"}}"#,
        r#"{"interactions": [{"request": {"method": "GET", "url": "/attendees"}, "response": {"status": "200", "body": {}}}]}"#,
        "{\"request\": \"\u{1}\"}",
        r#"{"log": {"entries": []}}"#,
    ] {
        same_verdicts(checker, text.as_bytes(), "bad.json");
    }
    let bytes = b"{\"request\": {\"method\": \"GET\", \"url\": \"/attendees\xff\"}}";
    same_verdicts(checker, bytes, "bad.json");
}
