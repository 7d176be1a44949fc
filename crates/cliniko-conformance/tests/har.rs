//! HAR 1.2 archives: `check` gives a verdict per entry, `live --record-format har` writes one that
//! `check` reads back with the same verdicts, and a malformed archive is refused naming the entry.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cliniko_conformance::{CheckOptions, Checker, Report, ViolationKind};
use cliniko_fake::FakeCliniko;
use cliniko_spec::Spec;
use serde_json::Value;

const API_KEY: &str = "har-secret-key-au1";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cliniko-conformance"))
        .args(args)
        .current_dir(root())
        .env("CLINIKO_API_KEY", API_KEY)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("the CLI runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An entry's place, operation, status and violations (kind and pointer).
type Seen<'r> = (
    String,
    Option<&'r str>,
    u16,
    Vec<(ViolationKind, Option<&'r str>)>,
);

#[test]
fn every_entry_of_a_har_gets_its_own_verdict() {
    let spec = Spec::embedded().expect("the embedded spec loads");
    let checker = Checker::new(&spec, CheckOptions::default()).expect("compiles");
    let file = root().join("tests/recordings-bad/har/mixed.har");
    let report = Report::check_paths(&checker, std::slice::from_ref(&file));
    assert!(report.unreadable.is_empty(), "{:?}", report.unreadable);
    let verdicts: Vec<Seen<'_>> = report
        .exchanges
        .iter()
        .map(|e| {
            (
                e.place()[file.display().to_string().len()..].to_owned(),
                e.verdict.operation.as_deref(),
                e.verdict.status,
                e.verdict
                    .violations
                    .iter()
                    .map(|v| (v.kind(), v.pointer()))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("#entry-0".to_owned(), Some("listAttendees"), 200, vec![]),
            ("#entry-1".to_owned(), Some("getAttendee"), 200, vec![]),
            (
                "#entry-2".to_owned(),
                Some("getAttendee"),
                200,
                vec![(ViolationKind::BodySchema, Some("/id"))]
            ),
            ("#entry-3".to_owned(), Some("createAttendee"), 201, vec![]),
            ("#entry-4".to_owned(), Some("getAttendee"), 404, vec![]),
        ]
    );

    let output = cli(&["check", "tests/recordings-bad/har/mixed.har"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(
            "FAIL tests/recordings-bad/har/mixed.har#entry-2: GET /attendees/1 -> getAttendee 200"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "ok   tests/recordings-bad/har/mixed.har#entry-3: POST /attendees -> createAttendee 201"
        ),
        "{stdout}"
    );
}

#[test]
fn a_malformed_har_exits_2_naming_the_file_the_entry_and_what_was_expected() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let good: Value = serde_json::from_slice(
        &std::fs::read(root().join("tests/recordings-bad/har/mixed.har")).expect("reads"),
    )
    .expect("parses");
    let mut bad = good.clone();
    bad["log"]["entries"][3]["response"]["headers"][0] = serde_json::json!({ "name": "location" });
    let path = dir.path().join("bad.har");
    std::fs::write(&path, serde_json::to_vec(&bad).expect("serialises")).expect("writes");
    std::fs::write(
        dir.path().join("good.har"),
        serde_json::to_vec(&good).expect("serialises"),
    )
    .expect("writes");

    let output = cli(&["check", dir.path().to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stdout));
    let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
    let expected = format!(
        "{}#entry-3: at /log/entries/3/response/headers/0: not HAR 1.2: missing `value`",
        path.display()
    );
    assert!(all.contains(&expected), "expected {expected:?} in:\n{all}");
    // The readable archive beside it is still checked, entry by entry.
    assert!(all.contains("good.har#entry-2"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_har_recorded_live_reads_back_with_the_same_verdicts() {
    let server = FakeCliniko::builder()
        .api_key(API_KEY)
        .seed(7)
        .attendees(40)
        .rate_limit_per_minute(None)
        .start()
        .await
        .expect("the fake starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let record = dir.path().to_str().expect("utf-8").to_owned();
    let base_url = server.base_url();
    let live = tokio::task::spawn_blocking(move || {
        cli(&[
            "--format",
            "json",
            "--strict",
            "live",
            "--base-url",
            &base_url,
            "--record",
            &record,
            "--record-format",
            "har",
        ])
    })
    .await
    .expect("the CLI ran");
    server.shutdown().await;
    assert_eq!(live.status.code(), Some(0), "{}", text(&live.stderr));

    // One archive, nothing else, and nothing secret in it.
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .expect("lists")
        .map(|entry| entry.expect("an entry").path())
        .collect();
    let archive = dir.path().join("live.har");
    assert_eq!(files, std::slice::from_ref(&archive));
    let written = std::fs::read_to_string(&archive).expect("reads");
    for secret in [
        API_KEY,
        "aGFyLXNlY3JldC1rZXktYXUxOg",
        "authorization",
        "127.0.0.1",
        "/connect",
        "/bookings/cancel",
    ] {
        assert!(
            !written.to_lowercase().contains(&secret.to_lowercase()),
            "the archive holds {secret:?}"
        );
    }

    let check = cli(&[
        "--format",
        "json",
        "--strict",
        "check",
        dir.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    let live: Value = serde_json::from_slice(&live.stdout).expect("the live report is JSON");
    let check: Value = serde_json::from_slice(&check.stdout).expect("the check report is JSON");
    let exchanges = live["exchanges"].as_array().expect("exchanges");
    assert!(exchanges.len() >= 20, "{}", exchanges.len());
    assert_eq!(exchanges[0]["file"], archive.display().to_string());
    assert_eq!(exchanges[0]["index"], 0);
    // The same files, entries, operations, statuses, violations and notes, exchange by exchange.
    assert_eq!(live["exchanges"], check["exchanges"]);
    assert!(
        exchanges.iter().any(|e| e.get("notes").is_some()),
        "the scenario's rejected requests carry notes, which must survive the archive too"
    );
}

/// The coverage of one recording file: `getAttendee`'s fields never seen non-null.
fn get_attendee_fields_never_non_null(checker: &Checker, file: &Path) -> Vec<String> {
    let mut report = Report::default();
    report.check_file(checker, file);
    assert!(report.unreadable.is_empty(), "{:?}", report.unreadable);
    assert_eq!(report.exchanges.len(), 1);
    assert!(
        report.exchanges[0].verdict.conforms(),
        "{:?}",
        report.exchanges[0].verdict
    );
    report
        .coverage(checker)
        .operations
        .into_iter()
        .find(|operation| operation.operation == "getAttendee")
        .expect("getAttendee is documented")
        .fields_never_non_null
}

/// Issue 19, item 6: a HAR entry, and a recording whose body is text, had every field reported as
/// never non-null, because coverage read only bodies recorded as JSON values.
#[test]
fn coverage_counts_the_non_null_fields_of_a_har_entry_and_of_a_text_body() {
    let spec = Spec::embedded().expect("the embedded spec loads");
    let checker = Checker::new(&spec, CheckOptions::default()).expect("compiles");
    let source = root().join("tests/recordings/live-fake/20-getAttendee-200.json");
    let recording: Value =
        serde_json::from_slice(&std::fs::read(&source).expect("reads")).expect("is JSON");
    let body = &recording["response"]["body"];
    assert!(body["cancellation_url"].is_null() && body["archived_at"].is_null());
    let body_text = serde_json::to_string(body).expect("writes");

    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut as_text = recording.clone();
    as_text["response"]["body"] = Value::String(body_text.clone());
    let text_file = dir.path().join("text.json");
    std::fs::write(&text_file, as_text.to_string()).expect("writes");
    let har = serde_json::json!({ "log": { "version": "1.2", "creator": { "name": "t", "version": "1" }, "entries": [{
        "request": { "method": "GET", "url": recording["request"]["url"],
                     "headers": [{ "name": "Accept", "value": "application/json" },
                                 { "name": "User-Agent", "value": "t (t@example.com)" }] },
        "response": { "status": 200,
                      "headers": [{ "name": "Content-Type", "value": "application/json; charset=utf-8" }],
                      "content": { "size": body_text.len(), "mimeType": "application/json", "text": body_text } }
    }] } });
    let har_file = dir.path().join("one.har");
    std::fs::write(&har_file, har.to_string()).expect("writes");

    let from_json = get_attendee_fields_never_non_null(&checker, &source);
    let documented = checker
        .documented()
        .into_iter()
        .find(|operation| operation.operation == "getAttendee")
        .expect("getAttendee is documented")
        .fields;
    // The recording's null fields stay listed, its non-null ones do not.
    for field in ["/cancellation_url", "/archived_at"] {
        assert!(from_json.iter().any(|f| f == field), "{from_json:?}");
    }
    for field in ["/id", "/created_at", "/patient/links/self"] {
        assert!(documented.iter().any(|f| f == field), "{documented:?}");
        assert!(!from_json.iter().any(|f| f == field), "{from_json:?}");
    }
    assert!(from_json.len() < documented.len());
    // The same exchange read from a HAR entry, or from a body recorded as text, counts the same.
    assert_eq!(
        get_attendee_fields_never_non_null(&checker, &har_file),
        from_json
    );
    assert_eq!(
        get_attendee_fields_never_non_null(&checker, &text_file),
        from_json
    );
}
