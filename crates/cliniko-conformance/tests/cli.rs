//! The `cliniko-conformance` command as a user runs it: help, reports, exit codes, `--spec`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// Runs the command from the workspace root, so that reports show workspace-relative paths.
fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cliniko-conformance"))
        .args(args)
        .current_dir(root())
        .env_remove("CLINIKO_API_KEY")
        .output()
        .expect("the command runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("utf-8")
}

#[test]
fn help_texts() {
    insta::assert_snapshot!("help", stdout(&run(&["--help"])));
    insta::assert_snapshot!("check_help", stdout(&run(&["check", "--help"])));
    insta::assert_snapshot!("live_help", stdout(&run(&["live", "--help"])));
}

#[test]
fn the_good_recordings_pass_with_exit_0() {
    let output = run(&["check", "tests/recordings"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("conform, 0 do not (0 violations)\n"),
        "{}",
        stdout(&output)
    );
    // Every documented (operation, status) pair has a recording.
    assert!(
        stdout(&output).contains(
            "\ncoverage: 141 of 141 documented (operation, status) pairs seen (100.0%)\n"
        ),
        "{}",
        stdout(&output)
    );
}

#[test]
fn the_human_report_of_the_known_bad_recordings() {
    let output = run(&["check", "tests/recordings-bad/exchanges"]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!("human_report", stdout(&output));
}

#[test]
fn the_strict_json_report_lists_kind_pointer_and_message() {
    let output = run(&[
        "check",
        "--strict",
        "--format",
        "json",
        "tests/recordings-bad/exchanges/undocumented_field.json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let mut report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the report is JSON");
    // Coverage has its own test; the snapshot is about the violations.
    let coverage = report
        .as_object_mut()
        .and_then(|r| r.remove("coverage"))
        .expect("the report carries coverage");
    assert_eq!(coverage["pairs_documented"], 141);
    insta::assert_json_snapshot!("strict_json_report", report);
}

#[test]
fn the_junit_report_has_a_test_case_per_exchange() {
    let output = run(&[
        "check",
        "--format",
        "junit",
        "tests/recordings-bad/exchanges",
    ]);
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!("junit_report", stdout(&output));
}

#[test]
fn an_unreadable_recording_gives_exit_2_and_the_others_are_still_checked() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("a-broken.json"), "{ \"request\": ").expect("writes");
    std::fs::write(dir.path().join("b-not-a-recording.json"), "[1, 2]").expect("writes");
    std::fs::copy(
        root().join("tests/recordings/spec-examples/getAttendee-200.json"),
        dir.path().join("c-good.json"),
    )
    .expect("copies");
    std::fs::write(
        dir.path().join("notes.txt"),
        "not a recording, and not named .json",
    )
    .expect("writes");
    let output = run(&[
        "check",
        dir.path().to_str().expect("utf-8"),
        "does-not-exist.json",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let (out, err) = (stdout(&output), stderr(&output));
    assert!(
        out.contains("ok   ") && out.contains("c-good.json"),
        "{out}"
    );
    assert!(
        err.contains("a-broken.json:1:13: not JSON: EOF while parsing a value"),
        "{err}"
    );
    assert!(
        err.contains("b-not-a-recording.json: at /: not a recording"),
        "{err}"
    );
    assert!(err.contains("does-not-exist.json: cannot read"), "{err}");
    assert!(
        out.contains(
            "1 exchange checked: 1 conform, 0 do not (0 violations); 3 files could not be read\n"
        ),
        "{out}"
    );
}

#[test]
fn spec_is_read_at_run_time() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let edited = std::fs::read_to_string(root().join("spec/cliniko-attendees.yaml"))
        .expect("the spec reads")
        .replace("operationId: getAttendee\n", "operationId: fetchAttendee\n");
    let spec = dir.path().join("edited.yaml");
    std::fs::write(&spec, edited).expect("writes");
    let output = run(&[
        "check",
        "--spec",
        spec.to_str().expect("utf-8"),
        "--format",
        "json",
        "tests/recordings/spec-examples/getAttendee-200.json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the report is JSON");
    assert_eq!(report["exchanges"][0]["operation"], "fetchAttendee");
}

#[test]
fn a_spec_that_cannot_be_read_gives_exit_2_naming_it() {
    let output = run(&["check", "--spec", "no/such/spec.yaml", "tests/recordings"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("error: cannot read no/such/spec.yaml: "),
        "{}",
        stderr(&output)
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let spec = dir.path().join("bad.yaml");
    std::fs::write(&spec, "openapi: 3.0.3\npaths: [\n").expect("writes");
    let output = run(&[
        "check",
        "--spec",
        spec.to_str().expect("utf-8"),
        "tests/recordings",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("bad.yaml:"), "{}", stderr(&output));
}

#[test]
fn live_wants_the_key_in_the_environment() {
    let output = run(&["live", "--base-url", "http://127.0.0.1:9/v1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("set CLINIKO_API_KEY to the API key to use"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_check_that_finds_no_exchange_fails_saying_where_it_looked() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("notes.txt"), "not a recording").expect("writes");
    let output = run(&["check", dir.path().to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output).contains(&format!(
            "error: no exchange found in {}: looked for *.json recordings and *.har files",
            dir.path().display()
        )),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_invalid_request_answered_with_success_exits_1_and_a_rejected_one_exits_0() {
    let accepted = run(&[
        "check",
        "tests/recordings-bad/requests/per_page_over_100.json",
    ]);
    assert_eq!(accepted.status.code(), Some(1), "{}", stdout(&accepted));
    assert!(
        stdout(&accepted).contains(
            "request_parameter: request at /query/per_page: 500 is greater than the maximum of 100"
        ),
        "{}",
        stdout(&accepted)
    );
    let rejected = run(&[
        "check",
        "tests/recordings-bad/requests/rejected_per_page_over_100.json",
    ]);
    assert_eq!(rejected.status.code(), Some(0), "{}", stdout(&rejected));
    assert!(
        stdout(&rejected).contains("note: request_parameter: request at /query/per_page"),
        "{}",
        stdout(&rejected)
    );
}

#[test]
fn coverage_is_reported_and_min_coverage_fails_below_it() {
    let output = run(&[
        "check",
        "--format",
        "json",
        "tests/recordings/spec-examples/getAttendee-200.json",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the report is JSON");
    let coverage = &report["coverage"];
    assert_eq!(coverage["pairs_seen"], 1);
    let get = coverage["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .find(|o| o["operation"] == "getAttendee")
        .expect("getAttendee");
    assert_eq!(get["statuses_seen"], serde_json::json!(["200"]));
    assert!(
        get["statuses_not_seen"]
            .as_array()
            .expect("an array")
            .contains(&serde_json::json!("404"))
    );
    assert!(
        get["fields_never_non_null"]
            .as_array()
            .expect("an array")
            .contains(&serde_json::json!("/telehealth_url"))
    );

    let below = run(&[
        "check",
        "--min-coverage",
        "0.5",
        "tests/recordings/spec-examples/getAttendee-200.json",
    ]);
    assert_eq!(below.status.code(), Some(1));
    assert!(
        stderr(&below).contains("is below --min-coverage 0.5"),
        "{}",
        stderr(&below)
    );
    let above = run(&["check", "--min-coverage", "0.9", "tests/recordings"]);
    assert_eq!(above.status.code(), Some(0), "{}", stderr(&above));
    let human = stdout(&above);
    assert!(human.contains("operation  "), "{human}");
    assert!(human.contains("fields never non-null"), "{human}");
}

#[test]
fn the_github_format_gives_one_workflow_command_per_violation_and_a_summary() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let summary = dir.path().join("summary.md");
    let output = Command::new(env!("CARGO_BIN_EXE_cliniko-conformance"))
        .args([
            "check",
            "--format",
            "github",
            "tests/recordings-bad/requests/page_zero.json",
            "tests/recordings-bad/requests/rejected_per_page_over_100.json",
        ])
        .current_dir(root())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!("github_report", stdout(&output));
    let markdown = std::fs::read_to_string(&summary).expect("the summary is written");
    assert!(
        markdown.starts_with("## Conformance to the Cliniko attendees spec\n"),
        "{markdown}"
    );
    assert!(markdown.contains("| `getAttendee` |"), "{markdown}");
}
