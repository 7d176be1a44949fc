//! The spec mutations of issue 19, each run through `cargo xtask spec-diff` on the workspace's
//! spec as a user would: one edit, the changes it reports, their level and the exit status.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn spec_text() -> String {
    std::fs::read_to_string(workspace().join("spec/cliniko-attendees.yaml")).expect("the spec")
}

/// The spec with `from` replaced by `to` (exactly once).
fn edited(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} is not in the spec once"
    );
    text.replacen(from, to, 1)
}

struct Run {
    output: Output,
}

impl Run {
    fn code(&self) -> i32 {
        self.output.status.code().expect("an exit status")
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout()).unwrap_or_else(|error| {
            panic!("not JSON ({error}): {}\n{}", self.stdout(), self.stderr())
        })
    }

    /// The changes of a JSON report.
    fn changes(&self) -> Vec<Value> {
        self.json()["changes"]
            .as_array()
            .expect("a list of changes")
            .clone()
    }

    fn only(&self) -> Value {
        let changes = self.changes();
        assert_eq!(changes.len(), 1, "expected one change: {changes:#?}");
        changes[0].clone()
    }
}

/// A workspace copy with the client crate at version 0.3.0.
fn workspace_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let client = dir.path().join("crates/cliniko-client");
    std::fs::create_dir_all(&client).expect("a client folder");
    std::fs::write(
        client.join("Cargo.toml"),
        "[package]\nname = \"cliniko-client\"\nversion = \"0.3.0\"\n",
    )
    .expect("write the client's manifest");
    dir
}

/// `xtask spec-diff --base base.yaml --spec head.yaml ARGS` in a fresh workspace copy.
fn spec_diff(base: &str, head: &str, args: &[&str]) -> Run {
    let dir = workspace_copy();
    std::fs::write(dir.path().join("base.yaml"), base).expect("write the base");
    std::fs::write(dir.path().join("head.yaml"), head).expect("write the head");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(dir.path())
        .env("XTASK_ROOT", dir.path())
        .args(["spec-diff", "--base", "base.yaml", "--spec", "head.yaml"])
        .args(args)
        .output()
        .expect("xtask runs");
    Run { output }
}

/// Both ways: `from` → `to`, then `to` → `from`, each as JSON.
fn both_ways(from: &str, to: &str) -> (Run, Run) {
    let text = spec_text();
    let changed = edited(&text, from, to);
    (
        spec_diff(&text, &changed, &["--format", "json"]),
        spec_diff(&changed, &text, &["--format", "json"]),
    )
}

fn field<'a>(change: &'a Value, name: &str) -> &'a str {
    change[name].as_str().unwrap_or_default()
}

#[test]
fn retry_made_looser_breaks_and_stricter_does_not() {
    let text = spec_text();
    let create = "      operationId: createAttendee\n";
    assert!(text.contains(create));
    // The create's retry is the first `only-if-not-sent` after its operationId.
    let at = text.find(create).expect("createAttendee");
    let retry_at = at
        + text[at..]
            .find("x-cliniko-retry: only-if-not-sent")
            .expect("its retry");
    let mut looser = text.clone();
    looser.replace_range(
        retry_at..retry_at + "x-cliniko-retry: only-if-not-sent".len(),
        "x-cliniko-retry: always",
    );
    let run = spec_diff(&text, &looser, &["--format", "json"]);
    let change = run.only();
    assert_eq!(field(&change, "kind"), "x-cliniko-retry-changed");
    assert_eq!(field(&change, "level"), "breaking");
    assert_eq!(field(&change, "before"), "only-if-not-sent");
    assert_eq!(field(&change, "after"), "always");
    assert_eq!(field(&change, "location"), "POST /attendees");
    assert_eq!(
        field(&change, "pointer"),
        "#/paths/~1attendees/post/x-cliniko-retry"
    );
    assert_eq!(change["operations"], serde_json::json!(["createAttendee"]));
    assert_eq!(
        run.json()["bump"],
        "minor",
        "0.x: a breaking change bumps the minor"
    );

    let back = spec_diff(&looser, &text, &["--format", "json"]).only();
    assert_eq!(field(&back, "kind"), "x-cliniko-retry-changed");
    assert_eq!(field(&back, "level"), "info");
}

#[test]
fn a_lower_rate_limit_breaks_and_a_higher_one_does_not() {
    let (lower, higher) = both_ways("  requests: 200\n", "  requests: 100\n");
    let change = lower.only();
    assert_eq!(field(&change, "kind"), "x-cliniko-rate-limit-changed");
    assert_eq!(field(&change, "level"), "breaking");
    assert_eq!(field(&change, "before"), "200 per 60 s");
    assert_eq!(field(&change, "after"), "100 per 60 s");
    assert_eq!(field(&change, "pointer"), "#/x-cliniko-rate-limit");
    let change = higher.only();
    assert_eq!(field(&change, "kind"), "x-cliniko-rate-limit-changed");
    assert_eq!(field(&change, "level"), "info");
}

#[test]
fn a_narrower_shard_pattern_breaks_and_a_wider_one_does_not() {
    let (narrower, wider) = both_ways(
        "x-cliniko-pattern: '^[a-z]{2}[0-9]+$'",
        "x-cliniko-pattern: '^[a-z]{2}[0-9]$'",
    );
    let change = narrower.only();
    assert_eq!(field(&change, "kind"), "x-cliniko-pattern-changed");
    assert_eq!(field(&change, "level"), "breaking");
    assert_eq!(
        field(&change, "pointer"),
        "#/servers/0/variables/shard/x-cliniko-pattern"
    );
    let change = wider.only();
    assert_eq!(field(&change, "kind"), "x-cliniko-pattern-changed");
    assert_eq!(field(&change, "level"), "info");
}

#[test]
fn a_removed_filter_field_breaks_and_an_added_one_does_not() {
    // The field goes from the list and from the pattern built from it, as codegen demands: one
    // edit of the fact, one change.
    let text = spec_text();
    let without = edited(
        &edited(
            &text,
            "numeric: [appointment_id, booking_id, id, patient_case_id, patient_id]",
            "numeric: [appointment_id, booking_id, id, patient_id]",
        ),
        "pattern: '^(?:(?:appointment_id|booking_id|id|patient_case_id|patient_id):",
        "pattern: '^(?:(?:appointment_id|booking_id|id|patient_id):",
    );
    let removed = spec_diff(&text, &without, &["--format", "json"]).only();
    assert_eq!(field(&removed, "kind"), "x-cliniko-filter-field-removed");
    assert_eq!(field(&removed, "level"), "breaking");
    assert_eq!(field(&removed, "before"), "patient_case_id (numeric)");
    assert_eq!(
        field(&removed, "pointer"),
        "#/components/parameters/AttendeeFilter/x-cliniko-filter-fields/numeric"
    );
    assert!(
        removed["operations"]
            .as_array()
            .is_some_and(|ops| ops.len() > 1 && ops.iter().any(|o| o == "listAttendees")),
        "{removed:#}"
    );
    let added = spec_diff(&without, &text, &["--format", "json"]).only();
    assert_eq!(field(&added, "kind"), "x-cliniko-filter-field-added");
    assert_eq!(field(&added, "level"), "info");
}

#[test]
fn an_unknown_cliniko_extension_is_reported_unjudged() {
    let text = spec_text();
    let head = edited(
        &text,
        "x-cliniko-rate-limit:\n",
        "x-cliniko-burst: 20\nx-cliniko-rate-limit:\n",
    );
    let change = spec_diff(&text, &head, &["--format", "json"]).only();
    assert_eq!(field(&change, "kind"), "extension-added");
    assert_eq!(field(&change, "verdict"), "unjudged");
    assert_eq!(field(&change, "level"), "warning");
    assert_eq!(field(&change, "pointer"), "#/x-cliniko-burst");
}

#[test]
fn a_dangling_ref_exits_2_with_file_line_and_pointer() {
    let text = spec_text();
    let head = edited(
        &text,
        "            - $ref: '#/components/schemas/InvoiceStatus'\n",
        "            - $ref: '#/components/schemas/Nope'\n",
    );
    let line = head
        .lines()
        .position(|l| l.contains("#/components/schemas/Nope"))
        .expect("the edit")
        + 1;
    let run = spec_diff(&text, &head, &[]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stdout().is_empty(), "no report: {}", run.stdout());
    let stderr = run.stderr();
    assert!(
        stderr.contains(&format!(
            "head.yaml:{line}: at /components/schemas/Attendee/properties/invoice_status/oneOf/0/$ref: $ref #/components/schemas/Nope does not resolve"
        )),
        "{stderr}"
    );
    // The same in the base.
    let run = spec_diff(&head, &text, &[]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("base.yaml:"), "{}", run.stderr());
}

#[test]
fn a_ref_cycle_exits_2() {
    let text = spec_text();
    let head = edited(
        &text,
        "    InvoiceStatus:\n",
        "    Loop:\n      $ref: '#/components/schemas/Loop'\n    InvoiceStatus:\n",
    );
    let run = spec_diff(&text, &head, &[]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains(
            "at /components/schemas/Loop/$ref: $ref #/components/schemas/Loop leads back to itself"
        ),
        "{}",
        run.stderr()
    );
}

#[test]
fn one_one_of_branch_added_is_one_change() {
    let text = spec_text();
    let head = edited(
        &text,
        "            - $ref: '#/components/schemas/InvoiceStatus'\n",
        "            - $ref: '#/components/schemas/InvoiceStatus'\n            - type: string\n",
    );
    let run = spec_diff(&text, &head, &["--format", "json"]);
    let change = run.only();
    assert_eq!(field(&change, "kind"), "variant-added");
    assert_eq!(field(&change, "summary"), "oneOf variant added: string");
    assert_eq!(
        field(&change, "level"),
        "breaking",
        "a response may hold a new shape"
    );
    assert_eq!(
        field(&change, "pointer"),
        "#/components/schemas/Attendee/properties/invoice_status/oneOf/1"
    );
    assert_eq!(
        field(&change, "schema_location"),
        "Attendee → /properties/invoice_status/oneOf/1"
    );
    // Taking it away again is one change too.
    let back = spec_diff(&head, &text, &["--format", "json"]).only();
    assert_eq!(field(&back, "kind"), "variant-removed");
}

#[test]
fn one_type_change_is_one_change() {
    let text = spec_text();
    let head = edited(
        &text,
        "    TreatmentNoteStatus:\n      description: The state of the attendee's treatment note.\n      type: integer\n",
        "    TreatmentNoteStatus:\n      description: The state of the attendee's treatment note.\n      type: string\n",
    );
    let change = spec_diff(&text, &head, &["--format", "json"]).only();
    assert_eq!(field(&change, "summary"), "type changed integer → string");
    assert_eq!(
        field(&change, "pointer"),
        "#/components/schemas/TreatmentNoteStatus/type"
    );
}

/// The enum edit inside the `$ref`'d InvoiceStatus.
fn invoice_status_gains_a_value() -> (String, String) {
    let text = spec_text();
    let head = edited(
        &text,
        "      enum: [10, 20, 30, 40]\n      x-enum-varnames: [Open, Paid, Closed, OpenCredit]\n      x-enum-descriptions: [Open, Paid, Closed, Open credit]\n",
        "      enum: [10, 20, 30, 40, 50]\n      x-enum-varnames: [Open, Paid, Closed, OpenCredit, Void]\n      x-enum-descriptions: [Open, Paid, Closed, Open credit, Void]\n",
    );
    (text, head)
}

#[test]
fn an_enum_edit_in_a_shared_schema_is_one_change_located_at_the_schema() {
    let (text, head) = invoice_status_gains_a_value();
    let run = spec_diff(&text, &head, &["--format", "json"]);
    let change = run.only();
    assert_eq!(field(&change, "kind"), "enum-value-added");
    assert_eq!(field(&change, "after"), "50");
    assert_eq!(
        field(&change, "pointer"),
        "#/components/schemas/InvoiceStatus/enum"
    );
    assert_eq!(field(&change, "schema_location"), "InvoiceStatus");
    let line = head
        .lines()
        .position(|l| l.contains("enum: [10, 20, 30, 40, 50]"))
        .expect("the edit")
        + 1;
    assert_eq!(change["line"], line);
    // Every use site, each through the `oneOf` step, and every operation that reaches it.
    let locations = change["locations"].as_array().expect("locations");
    assert!(locations.len() > 1, "{change:#}");
    assert!(
        locations.iter().all(|l| l
            .as_str()
            .is_some_and(|l| l.ends_with("/properties/invoice_status/oneOf/0"))),
        "{change:#}"
    );
    let operations = change["operations"].as_array().expect("operations");
    for id in [
        "listAttendees",
        "getAttendee",
        "createAttendee",
        "updateAttendee",
    ] {
        assert!(
            operations.iter().any(|o| o == id),
            "{id} missing: {change:#}"
        );
    }
}

#[test]
fn the_closed_enum_case_warns_for_us_and_breaks_under_strict() {
    let (text, head) = invoice_status_gains_a_value();
    let ours = spec_diff(&text, &head, &["--format", "json", "--fail-on-breaking"]);
    assert_eq!(ours.code(), 0, "{}", ours.stderr());
    assert_eq!(field(&ours.only(), "level"), "warning");
    assert_eq!(ours.json()["bump"], "patch");
    let warned = spec_diff(&text, &head, &["--fail-on", "warning"]);
    assert_eq!(warned.code(), 1, "{}", warned.stderr());
    assert!(
        warned
            .stderr()
            .contains("1 change at level warning or above")
    );

    let strict = spec_diff(
        &text,
        &head,
        &[
            "--format",
            "json",
            "--profile",
            "strict",
            "--fail-on",
            "breaking",
        ],
    );
    assert_eq!(strict.code(), 1, "{}", strict.stderr());
    assert_eq!(field(&strict.only(), "level"), "breaking");
    assert_eq!(strict.json()["bump"], "minor");
}

#[test]
fn github_actions_annotations_sit_at_the_line() {
    let (text, head) = invoice_status_gains_a_value();
    let run = spec_diff(
        &text,
        &head,
        &["--format", "githubactions", "--profile", "strict"],
    );
    let line = head
        .lines()
        .position(|l| l.contains("enum: [10, 20, 30, 40, 50]"))
        .expect("the edit")
        + 1;
    let stdout = run.stdout();
    let first = stdout.lines().next().expect("an annotation");
    assert_eq!(
        first,
        format!(
            "::error file=head.yaml,line={line},title=spec-diff%3A enum-value-added::enum value added 50 at InvoiceStatus (#/components/schemas/InvoiceStatus/enum); reached by {}",
            first.rsplit("reached by ").next().unwrap_or_default()
        )
    );
    let ours = spec_diff(&text, &head, &["--format", "githubactions"]);
    assert!(
        ours.stdout().starts_with("::warning file=head.yaml,"),
        "{}",
        ours.stdout()
    );
}

#[test]
fn junit_fails_a_case_per_breaking_change() {
    let (text, head) = invoice_status_gains_a_value();
    let removed = edited(&head, "  requests: 200\n", "  requests: 100\n");
    let run = spec_diff(&text, &removed, &["--format", "junit"]);
    let xml = run.stdout();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(
        xml.contains("x-cliniko-rate-limit-changed at x-cliniko-rate-limit"),
        "{xml}"
    );
    let strict = spec_diff(
        &text,
        &removed,
        &["--format", "junit", "--profile", "strict"],
    );
    assert_eq!(strict.stdout().matches("<failure ").count(), 2);
}

#[test]
fn an_ignore_file_accepts_a_change_with_its_reason() {
    let text = spec_text();
    let head = edited(&text, "  requests: 200\n", "  requests: 100\n");
    // Without the file, the lower limit fails the check.
    let plain = spec_diff(&text, &head, &["--fail-on-breaking"]);
    assert_eq!(plain.code(), 1);

    let dir = workspace_copy();
    let run_with = |yaml: &str, args: &[&str]| {
        std::fs::write(dir.path().join("base.yaml"), &text).expect("base");
        std::fs::write(dir.path().join("head.yaml"), &head).expect("head");
        std::fs::write(dir.path().join("ignore.yaml"), yaml).expect("ignore");
        std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
            .current_dir(dir.path())
            .env("XTASK_ROOT", dir.path())
            .args(["spec-diff", "--base", "base.yaml", "--spec", "head.yaml"])
            .args(["--ignore", "ignore.yaml"])
            .args(args)
            .output()
            .expect("xtask runs")
    };
    let accepted = run_with(
        "accepted:\n  - kind: x-cliniko-rate-limit-changed\n    where: '*'\n    reason: Cliniko lowered the limit; the client follows it.\n  - kind: property-removed\n    where: 'Attendee → *'\n    reason: Nothing was removed.\n",
        &["--fail-on-breaking"],
    );
    let stdout = String::from_utf8_lossy(&accepted.stdout);
    let stderr = String::from_utf8_lossy(&accepted.stderr);
    assert_eq!(accepted.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("accepted: Cliniko lowered the limit; the client follows it."),
        "{stdout}"
    );
    // The entry that matches nothing is reported, with its line.
    assert!(
        stderr.contains(
            "ignore.yaml:5: { kind: property-removed, where: Attendee → * } matches no change"
        ),
        "{stderr}"
    );

    let no_reason = run_with(
        "accepted:\n  - kind: x-cliniko-rate-limit-changed\n    where: '*'\n",
        &[],
    );
    let stderr = String::from_utf8_lossy(&no_reason.stderr);
    assert_eq!(no_reason.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ignore.yaml:2: at /accepted/0: the entry { kind: x-cliniko-rate-limit-changed, where: * } has no reason"),
        "{stderr}"
    );
}
