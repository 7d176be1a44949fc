//! Every subcommand run against `cliniko --fake`, its output snapshotted: what a person sees, the
//! exit code, and what goes to stderr.

use std::fmt::Write as _;
use std::process::Command;

use cliniko_cli::generated_cli::COMMANDS;

/// Runs `cliniko --fake ARGS`; without `CLINIKO_API_KEY`, which `--fake` does not need.
fn cliniko(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_cliniko"))
        .arg("--fake")
        .args(args)
        .env_remove("CLINIKO_API_KEY")
        .env_remove("CLINIKO_USER_AGENT")
        .env_remove("COLUMNS")
        .output()
        .expect("cliniko runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The transcript of one command, for a snapshot.
fn transcript(args: &[&str]) -> String {
    let (code, stdout, stderr) = cliniko(args);
    let mut text = format!("$ cliniko --fake {}\nexit {code}\n", args.join(" "));
    if !stdout.is_empty() {
        let _ = write!(text, "--- stdout\n{stdout}");
    }
    if !stderr.is_empty() {
        let _ = write!(text, "--- stderr\n{stderr}");
    }
    text
}

fn json(args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let (code, stdout, stderr) = cliniko(&all);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str(&stdout).expect("--output json prints JSON")
}

/// The ID in a link, such as the booking's in `booking.links.self`.
fn linked_id(attendee: &serde_json::Value, link: &str) -> String {
    attendee[link]["links"]["self"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .expect("a link")
        .to_owned()
}

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    settings.add_filter(&format!(r"{today}T[0-9:.]+Z"), "[now]");
    settings.add_filter(r"127\.0\.0\.1:[0-9]+", "[fake]");
    settings.add_filter(r"request id [0-9a-f]+", "request id [id]");
    settings.add_filter(
        r"cliniko-cli/[0-9]+\.[0-9]+\.[0-9]+",
        "cliniko-cli/[version]",
    );
    settings.set_prepend_module_to_snapshot(false);
    settings
}

#[test]
fn every_operation_runs_against_the_fake() {
    let first_page = json(&["attendee", "list", "--per-page", "100"]);
    let attendees = first_page["attendees"].as_array().expect("a page");
    // An attendee of a group appointment (only those can be cancelled), one of an individual
    // appointment, and one linked to a patient case.
    let in_group = attendees
        .iter()
        .find(|a| linked_id(a, "booking").starts_with('1'))
        .expect("a group attendee");
    let in_individual = attendees
        .iter()
        .find(|a| linked_id(a, "booking").starts_with('3'))
        .expect("an individual attendee");
    let with_case = attendees
        .iter()
        .find(|a| a["patient_case"].is_object())
        .expect("an attendee with a patient case");
    let id = in_group["id"].as_str().expect("an id");
    let group = linked_id(in_group, "booking");
    let individual = linked_id(in_individual, "booking");
    let case = linked_id(with_case, "patient_case");
    let patient = linked_id(in_group, "patient");
    let patients = json(&["patient", "list", "--per-page", "5"]);
    let some_patient = patients["patients"][0]["id"]
        .as_str()
        .expect("a seeded patient")
        .to_owned();

    let runs: Vec<Vec<&str>> = vec![
        vec!["attendee", "list", "--per-page", "3"],
        vec![
            "attendee",
            "list",
            "--per-page",
            "2",
            "--page",
            "2",
            "--filter",
            "updated_at>2020-01-01T12:00:00Z",
            "--sort",
            "updated_at:desc",
        ],
        vec!["attendee", "list-deleted", "--per-page", "2"],
        vec!["attendee", "list-cancelled", "--per-page", "2"],
        vec!["attendee", "list-for-group-appointment", &group],
        vec!["attendee", "list-for-individual-appointment", &individual],
        vec![
            "attendee",
            "list-for-patient-case",
            &case,
            "--per-page",
            "2",
        ],
        vec!["attendee", "get", id],
        vec![
            "attendee",
            "create",
            "--booking-id",
            &group,
            "--patient-id",
            &patient,
            "--notes",
            "first visit",
        ],
        vec![
            "attendee",
            "update",
            id,
            "--arrived",
            "true",
            "--notes",
            "on time",
        ],
        vec!["attendee", "update", id, "--clear-notes"],
        vec!["attendee", "update-via-put", id, "--arrived", "false"],
        vec![
            "attendee", "cancel", id, "--reason", "sick", "--note", "flu",
        ],
        vec!["attendee", "archive", id],
        vec!["attendee", "delete", id],
        vec!["attendee", "get", id, "--output", "json"],
        vec![
            "attendee", "cancel", id, "--reason", "30", "--output", "json",
        ],
        vec!["patient", "list", "--per-page", "2"],
        vec!["patient", "get", &some_patient],
        vec![
            "patient",
            "create",
            "--first-name",
            "Zoë",
            "--last-name",
            "Ngata",
        ],
        vec![
            "patient",
            "update",
            &some_patient,
            "--occupation",
            "Carpenter",
        ],
        vec!["patient", "archive", &some_patient],
        vec!["patient", "unarchive", &some_patient],
        vec!["patient", "delete", &some_patient],
    ];
    let mut text = String::new();
    for args in &runs {
        text.push_str(&transcript(args));
        text.push('\n');
    }
    // Every operation of the spec was run.
    for command in COMMANDS {
        assert!(
            runs.iter()
                .any(|args| args[0] == command.group && args[1] == command.name),
            "{} {} is not run",
            command.group,
            command.name
        );
    }
    settings().bind(|| insta::assert_snapshot!("every_operation", text));
}

#[test]
fn mistakes_exit_with_2_and_say_what_to_do_and_api_errors_with_1() {
    let runs: &[&[&str]] = &[
        &["attendee", "list", "--filter", "colour=red"],
        &[
            "attendee",
            "list",
            "--filter",
            "updated_at=2024-01-01T00:00:00Z",
        ],
        &["attendee", "list", "--filter", "updated_at>yesterday"],
        &[
            "attendee",
            "get",
            "1",
            "--filter",
            "updated_at>2024-01-01T00:00:00Z",
        ],
        &["attendee", "list", "--per-page", "101"],
        &["attendee", "list", "--page", "0"],
        &["attendee", "list", "--filter", "id=9007199254740793"],
        &["attendee", "cancel", "1"],
        &["attendee", "cancel", "1", "--reason", "bored"],
        &["attendee", "get", "not-an-id"],
        &["attendee", "update", "1", "--notes", "x", "--clear-notes"],
        &["attendee", "list", "--sort", "updated_at:sideways"],
        &["attendee", "get", "1"],
        &[
            "attendee",
            "create",
            "--booking-id",
            "1",
            "--patient-id",
            "1",
        ],
    ];
    let mut text = String::new();
    for args in runs {
        text.push_str(&transcript(args));
        text.push('\n');
    }
    settings().bind(|| insta::assert_snapshot!("mistakes", text));
}

#[test]
fn help_comes_from_the_spec() {
    let mut text = String::new();
    for args in [
        &["--help"][..],
        &["attendee", "--help"],
        &["attendee", "cancel", "--help"],
        &["attendee", "list", "--help"],
        &["attendee", "update", "--help"],
        &["attendee", "sync", "--help"],
    ] {
        text.push_str(&transcript(args));
        text.push('\n');
    }
    settings().bind(|| insta::assert_snapshot!("help", text));
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, stdout, stderr) = cliniko(&["completions", shell]);
        assert_eq!(code, 0, "{stderr}");
        for word in ["attendee", "list-for-group-appointment", "sync", "filter"] {
            assert!(stdout.contains(word), "{shell} completions lack {word}");
        }
    }
}

#[test]
fn a_sync_against_the_fake_writes_every_attendee_and_its_checkpoint() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = dir.path().join("attendees.jsonl");
    let out_text = out.to_str().expect("utf-8");
    let (code, stdout, stderr) = cliniko(&[
        "attendee",
        "sync",
        "--since",
        "everything",
        "--out",
        out_text,
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(summary["records"], cliniko_cli::FAKE_ATTENDEES as u64);
    let lines = std::fs::read_to_string(&out).expect("written");
    assert_eq!(lines.lines().count(), cliniko_cli::FAKE_ATTENDEES);
    let checkpoint = summary["checkpoint"].as_str().expect("a path");
    // The next run starts from the checkpoint and finds nothing new in the (fresh) fake.
    let next = dir.path().join("next.jsonl");
    let (code, _, stderr) = cliniko(&[
        "attendee",
        "sync",
        "--since",
        checkpoint,
        "--out",
        next.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&next).expect("written"), "");
}

/// Every command's help: whole sentences (no description cut at a line end), "Deprecated" at
/// most once, and an example that is valid usage: run against the fake, it is never refused as
/// a mistake (exit 2); it may meet a 404, as its ID is Cliniko's documented one.
#[test]
fn every_help_has_whole_sentences_and_an_example_that_runs() {
    for command in COMMANDS {
        let (code, help, stderr) = cliniko(&[command.group, command.name, "--help"]);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            help.matches("Deprecated").count() <= 1,
            "{} {}: {help}",
            command.group,
            command.name
        );
        assert!(!help.contains("so that JavaScript clients\n"), "{help}");
        let example = help
            .split("Example:\n  ")
            .nth(1)
            .and_then(|rest| rest.lines().next())
            .unwrap_or_else(|| panic!("{} {} has no example: {help}", command.group, command.name));
        let words: Vec<String> = example
            .replace("'Running late'", "Running_late")
            .split_whitespace()
            .skip(1)
            .map(|word| word.replace('_', " "))
            .collect();
        let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
        if ["delete", "archive"].contains(&command.name) {
            args.push("--yes");
        }
        let (code, _, stderr) = cliniko(&args);
        assert!(
            code == 0 || code == 1,
            "the example `{example}` exits {code}: {stderr}"
        );
    }
    let (_, help, _) = cliniko(&["attendee", "create", "--help"]);
    assert!(
        help.contains("so that JavaScript clients do not lose precision"),
        "the whole sentence: {help}"
    );
}

/// A reader that stops early (`| head -1`) is no failure.
#[test]
fn a_pipe_into_head_exits_0() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cliniko"))
        .args(["--fake", "-o", "json", "attendee", "list", "--all"])
        .env_remove("CLINIKO_API_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cliniko runs");
    let mut stdout = child.stdout.take().expect("piped");
    let mut first = [0_u8; 1];
    std::io::Read::read_exact(&mut stdout, &mut first).expect("a first byte");
    drop(stdout);
    let output = child.wait_with_output().expect("it ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
}

/// An update with no field is refused before anything is sent.
#[test]
fn an_update_with_no_field_is_refused() {
    let (code, stdout, stderr) = cliniko(&["attendee", "update", "1"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("give at least one field to change"),
        "{stderr}"
    );
    let (code, _, stderr) = cliniko(&["attendee", "update", "1", "--patient-case-id", "null"]);
    assert_ne!(code, 2, "null is taken, as the help says: {stderr}");
}
