//! `suggest`: recordings that show what the spec lacks give a JSON Patch that, applied, makes
//! them conform.

use std::path::{Path, PathBuf};
use std::process::Command;

use cliniko_conformance::suggest::{SuggestError, Suggester};
use cliniko_conformance::{CheckOptions, Checker, Report, read_recording, recording_files};
use cliniko_spec::Spec;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

fn strict(spec: &Spec) -> Checker {
    Checker::new(
        spec,
        CheckOptions {
            strict: true,
            ..CheckOptions::default()
        },
    )
    .expect("the spec compiles")
}

#[test]
fn the_patch_proposes_the_field_the_code_and_the_status_and_applies() {
    let spec = Spec::embedded().expect("the embedded spec loads");
    let checker = strict(&spec);
    let recordings = vec![root().join("tests/recordings-bad/suggest")];
    let before = Report::check_paths(&checker, &recordings);
    assert_eq!(before.exchanges.len(), 3);
    assert!(before.exchanges.iter().all(|e| !e.verdict.conforms()));

    let (files, errors) = recording_files(&recordings);
    assert!(errors.is_empty(), "{errors:?}");
    let mut suggester = Suggester::new(&spec, &checker);
    for file in &files {
        for exchange in read_recording(file).expect("reads") {
            suggester.add(&exchange);
        }
    }
    let suggestions = suggester.finish().expect("the patch applies");
    let proposals: Vec<(&str, &str)> = suggestions
        .items
        .iter()
        .filter(|s| s.kind != "never_seen")
        .map(|s| (s.kind, s.pointer.as_str()))
        .collect();
    assert_eq!(
        proposals,
        [
            (
                "add_field",
                "/components/schemas/Attendee/properties/checked_in_at"
            ),
            (
                "add_field",
                "/components/schemas/Attendee/properties/checked_out_at"
            ),
            (
                "add_enum_value",
                "/components/schemas/TreatmentNoteStatus/enum"
            ),
            (
                "make_nullable",
                "/components/schemas/Attendee/properties/patient"
            ),
            ("add_status", "/paths/~1attendees~1{id}/get/responses/409"),
        ],
        "{}",
        suggestions.human()
    );
    let field = &suggestions.items[0].message;
    assert!(
        field.contains("string, format date-time, nullable"),
        "{field}"
    );

    // A field only ever seen as null gets a type all the same (`nullable` means nothing to a
    // strict OpenAPI 3.0.3 reader without one), and the list says that the type is a guess.
    let only_null = &suggestions.items[1].message;
    assert!(
        only_null.contains("string, nullable; only null was seen, so the type is a guess"),
        "{only_null}"
    );
    let patch = serde_json::to_value(&suggestions.patch).expect("serialises");
    let op = |path: &str| {
        patch
            .as_array()
            .into_iter()
            .flatten()
            .find(|op| op["path"] == path)
            .cloned()
            .unwrap_or_else(|| panic!("no operation on {path} in {patch:#}"))
    };
    assert_eq!(
        op("/components/schemas/Attendee/properties/checked_out_at")["value"]["type"],
        "string"
    );
    // A null `$ref` becomes the spec's idiom for a nullable reference, never `nullable` beside
    // `allOf`.
    assert_eq!(
        op("/components/schemas/Attendee/properties/patient"),
        serde_json::json!({
            "op": "replace",
            "path": "/components/schemas/Attendee/properties/patient",
            "value": { "oneOf": [
                { "$ref": "#/components/schemas/LinkedResource" },
                { "type": "object", "nullable": true, "enum": [null] }
            ] }
        })
    );

    let patched = suggestions.patched(&spec).expect("applies");
    let text = serde_json::to_string(&patched).expect("serialises");
    let patched = Spec::from_yaml_str(&text, "patched spec").expect("the patched spec loads");
    // What `cargo xtask codegen` checks first: a patch it would refuse is of no use.
    if let Err(error) = patched.check() {
        panic!(
            "the patched spec fails its checks:\n{error}\n{}",
            suggestions.human()
        );
    }
    // The schemas now agree with the recordings; the generated types follow only after
    // `cargo xtask codegen`, so the typed round trip is left out here.
    let schema_only = Checker::new(
        &patched,
        CheckOptions {
            strict: true,
            round_trip: false,
        },
    )
    .expect("the patched spec compiles");
    let after = Report::check_paths(&schema_only, &recordings);
    let failing: Vec<String> = after
        .exchanges
        .iter()
        .filter(|e| !e.verdict.conforms())
        .map(|e| format!("{}: {:?}", e.title(), e.verdict.violations))
        .collect();
    assert!(failing.is_empty(), "{}", failing.join("\n"));
    // The spec's other recordings still conform to the patched spec.
    let good = Report::check_paths(&strict(&patched), &[root().join("tests/recordings")]);
    assert!(good.exchanges.iter().all(|e| e.verdict.conforms()));
}

#[test]
fn suggest_writes_the_patched_spec_but_never_the_spec_it_reads() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let target = dir.path().join("proposed.yaml");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cliniko-conformance"))
            .args(args)
            .current_dir(root())
            .output()
            .expect("runs")
    };
    let output = run(&[
        "suggest",
        "--write",
        target.to_str().expect("utf-8"),
        "tests/recordings-bad/suggest",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    assert!(
        stdout.contains("add_field: /components/schemas/Attendee/properties/checked_in_at"),
        "{stdout}"
    );
    assert!(stdout.contains("\"op\": \"add\""), "{stdout}");
    let written = Spec::load(&target).expect("the written spec loads");
    assert!(
        written
            .raw()
            .pointer("/components/schemas/Attendee/properties/checked_in_at")
            .is_some()
    );

    let spec_copy = dir.path().join("spec.yaml");
    std::fs::copy(root().join("spec/cliniko-attendees.yaml"), &spec_copy).expect("copies");
    let before = std::fs::read(&spec_copy).expect("reads");
    let output = run(&[
        "suggest",
        "--spec",
        spec_copy.to_str().expect("utf-8"),
        "--write",
        spec_copy.to_str().expect("utf-8"),
        "tests/recordings-bad/suggest",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is the spec being read"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(std::fs::read(&spec_copy).expect("reads"), before);
    let spec = root().join("spec/cliniko-attendees.yaml");
    let before = std::fs::read(&spec).expect("reads");
    let output = run(&[
        "suggest",
        "--write",
        "spec/cliniko-attendees.yaml",
        "tests/recordings-bad/suggest",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(std::fs::read(&spec).expect("reads"), before);
}

#[test]
fn the_error_for_the_spec_itself_names_it() {
    let error = SuggestError::WouldOverwriteSpec {
        file: "spec/cliniko-attendees.yaml".to_owned(),
    };
    assert_eq!(
        error.to_string(),
        "spec/cliniko-attendees.yaml is the spec being read; write the patched document elsewhere and let `cargo xtask spec-diff` classify it"
    );
}

/// Issue 19, item 7: `suggest` exited 0 when it read exchanges but could use none of them.
#[test]
fn suggest_fails_with_exit_2_saying_why_when_no_exchange_was_usable() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cliniko-conformance"))
            .args(args)
            .current_dir(root())
            .output()
            .expect("runs")
    };
    // One exchange matches no operation, the other answered 204, which documents no body.
    let output = run(&[
        "suggest",
        "tests/recordings-bad/exchanges/unknown_operation.json",
        "tests/recordings/live-fake/26-cancelAttendee-204.json",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "error: nothing to suggest from tests/recordings-bad/exchanges/unknown_operation.json, tests/recordings/live-fake/26-cancelAttendee-204.json: no usable exchange among the 2 read: 1 answered a status whose response documents no JSON body, 1 matched no operation in the spec; nothing was compared with the spec\n"
    );
    assert!(output.stdout.is_empty());

    // An empty directory: nothing read at all.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let output = run(&["suggest", dir.path().to_str().expect("utf-8")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no usable exchange among the 0 read: no exchange was given"),
        "{stderr}"
    );

    // The library says the same, and counts what it could use when something was usable.
    let spec = Spec::embedded().expect("the embedded spec loads");
    let checker = strict(&spec);
    let mut suggester = Suggester::new(&spec, &checker);
    for exchange in
        read_recording(&root().join("tests/recordings-bad/exchanges/unknown_operation.json"))
            .expect("reads")
    {
        suggester.add(&exchange);
    }
    assert!(matches!(
        suggester.finish(),
        Err(SuggestError::NoUsableExchange { exchanges: 1, .. })
    ));
    let mut suggester = Suggester::new(&spec, &checker);
    for file in [
        "tests/recordings-bad/exchanges/unknown_operation.json",
        "tests/recordings/live-fake/20-getAttendee-200.json",
    ] {
        for exchange in read_recording(&root().join(file)).expect("reads") {
            suggester.add(&exchange);
        }
    }
    let suggestions = suggester.finish().expect("one exchange was usable");
    assert_eq!((suggestions.exchanges, suggestions.usable), (2, 1));
}
