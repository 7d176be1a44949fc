//! Issue 19, item 10: `cargo xtask codegen` regenerates after a valid spec edit even when the
//! edit is a difference from Cliniko's published documents without a reason; it lists it in
//! spec/DIFFERENCES.md as "no reason given yet" and warns, and only `--strict` (CI) fails. The
//! differences are taken against every `spec/upstream/*.yaml`, read as one.

use std::path::{Path, PathBuf};
use std::process::Output;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// A copy of what codegen reads (the spec, the reasons, Cliniko's documents) and the folders it
/// writes to, with the spec edited by `edit`, and `extra` documents in `spec/upstream`.
fn workspace_copy(edit: impl Fn(&str) -> String, extra: &[(&str, PathBuf)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = workspace();
    let spec = std::fs::read_to_string(root.join("spec/cliniko-attendees.yaml")).expect("the spec");
    std::fs::create_dir_all(dir.path().join("spec/upstream")).expect("spec/upstream");
    std::fs::write(dir.path().join("spec/cliniko-attendees.yaml"), edit(&spec)).expect("spec");
    std::fs::copy(
        root.join("spec/differences-reasons.yaml"),
        dir.path().join("spec/differences-reasons.yaml"),
    )
    .expect("the reasons");
    for entry in std::fs::read_dir(root.join("spec/upstream")).expect("spec/upstream") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().expect("a file name");
        std::fs::copy(&path, dir.path().join("spec/upstream").join(name)).expect("a document");
    }
    for (name, from) in extra {
        std::fs::copy(from, dir.path().join("spec/upstream").join(name)).expect("a document");
    }
    for folder in [
        "crates/cliniko-types/src",
        "crates/cliniko-client/src",
        "crates/cliniko-cli/src",
    ] {
        std::fs::create_dir_all(dir.path().join(folder)).expect("a crate folder");
    }
    dir
}

fn codegen(root: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .env("XTASK_ROOT", root)
        .arg("codegen")
        .args(args)
        .output()
        .expect("xtask runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const NOTES: &str =
    "        notes:\n          description: Free-text notes about the attendee, or null.\n";

fn with_a_nullable_property(spec: &str) -> String {
    assert_eq!(spec.matches(NOTES).count(), 1, "Attendee's notes");
    spec.replacen(
        NOTES,
        &format!("        favourite_colour:\n          description: The attendee's favourite colour, or null.\n          type: string\n          nullable: true\n{NOTES}"),
        1,
    )
}

#[test]
fn a_new_nullable_property_is_generated_and_warned_about() {
    let dir = workspace_copy(with_a_nullable_property, &[]);
    let root = dir.path();
    let run = codegen(root, &[]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "codegen refused: {stderr}");
    assert!(
        stderr.contains("warning: 1 difference from Cliniko's document"),
        "{stderr}"
    );
    assert!(
        stderr.contains("property-added at Attendee → /properties/favourite_colour"),
        "{stderr}"
    );
    let types = std::fs::read_to_string(root.join("crates/cliniko-types/src/generated_types.rs"))
        .expect("the types were written");
    assert!(
        types.contains("favourite_colour"),
        "the new field is generated"
    );
    let differences =
        std::fs::read_to_string(root.join("spec/DIFFERENCES.md")).expect("DIFFERENCES.md");
    let unexplained = differences
        .split("## No reason given yet")
        .nth(1)
        .expect("a section for the difference without a reason");
    assert!(
        unexplained.contains("| `property-added` | `Attendee → /properties/favourite_colour`"),
        "{unexplained}"
    );

    // Fresh files pass `--check`; CI's `--strict` fails on the missing reason.
    let check = codegen(root, &["--check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    let strict = codegen(root, &["--check", "--strict"]);
    let stderr = text(&strict.stderr);
    assert_eq!(strict.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--strict"), "{stderr}");
    assert!(stderr.contains("spec/differences-reasons.yaml"), "{stderr}");
}

#[test]
fn differences_are_taken_against_every_upstream_document() {
    // The workspace's own state: the attendee and the patient documents, every difference with
    // its reason.
    let dir = workspace_copy(str::to_owned, &[]);
    let root = dir.path();
    let run = codegen(root, &["--strict"]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let differences =
        std::fs::read_to_string(root.join("spec/DIFFERENCES.md")).expect("DIFFERENCES.md");
    assert!(
        differences.contains("`spec/upstream/cliniko-attendee-subset-2025-08.yaml`, `spec/upstream/cliniko-patient-subset-2025-08.yaml`"),
        "both documents are named"
    );
    assert!(
        !differences.contains("## No reason given yet"),
        "every difference has a reason"
    );
    assert!(differences.contains("| `operation-id-changed` | `GET /attendees` |"));
    assert!(differences.contains("| `operation-id-changed` | `GET /patients` |"));

    // Without the patient document, Cliniko publishes no patient route: each of ours is a
    // difference of its own, so the patient document was read.
    std::fs::remove_file(root.join("spec/upstream/cliniko-patient-subset-2025-08.yaml"))
        .expect("removed");
    let run = codegen(root, &[]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let differences =
        std::fs::read_to_string(root.join("spec/DIFFERENCES.md")).expect("DIFFERENCES.md");
    for route in ["GET /patients", "POST /patients/{id}/unarchive"] {
        assert!(
            differences.contains(&format!("| `operation-added` | `{route}` |")),
            "{route} missing: {differences}"
        );
    }
    std::fs::copy(
        workspace().join("spec/upstream/cliniko-patient-subset-2025-08.yaml"),
        root.join("spec/upstream/cliniko-patient-subset-2025-08.yaml"),
    )
    .expect("restored");

    // Two documents that define one component differently cannot be read as one.
    let other = root.join("spec/upstream/zz-conflict.yaml");
    std::fs::write(
        &other,
        "openapi: 3.0.3\ninfo: {title: t, version: v1}\npaths: {}\ncomponents:\n  parameters:\n    Page: {name: page, in: query, schema: {type: string}}\n",
    )
    .expect("write a conflicting document");
    let run = codegen(root, &["--check"]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "spec/upstream/zz-conflict.yaml define /components/parameters/Page differently"
        ),
        "{stderr}"
    );
}
