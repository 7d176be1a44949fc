//! `cargo xtask heal` on small inputs, against a copy of the spec (`XTASK_ROOT`), so that nothing
//! here can write the workspace. The whole loop (drift → heal → the healed copy built, checked by
//! its own checker and the outside tools, healed twice) is `.ci/heal-e2e`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// A copy of what heal reads before it writes: the spec and the client's manifest.
fn copy_of_the_workspace() -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("a temporary folder");
    for file in [
        "spec/cliniko-attendees.yaml",
        "crates/cliniko-client/Cargo.toml",
        "Cargo.toml",
    ] {
        let to = copy.path().join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(workspace().join(file), &to).expect("copies");
    }
    copy
}

fn heal(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("heal")
        .args(args)
        .env("XTASK_ROOT", root)
        .env_remove("CLINIKO_API_KEY")
        .output()
        .expect("xtask runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A getAttendee exchange the fake recorded, changed by `change`, written into `folder`.
fn recording(folder: &Path, change: impl FnOnce(&mut Value)) -> PathBuf {
    let source = workspace().join("tests/recordings/live-fake/20-getAttendee-200.json");
    let mut recorded: Value =
        serde_json::from_str(&std::fs::read_to_string(source).unwrap()).unwrap();
    change(&mut recorded["response"]["body"]);
    let path = folder.join("getAttendee.json");
    std::fs::write(&path, serde_json::to_string_pretty(&recorded).unwrap()).unwrap();
    path
}

fn spec_of(root: &Path) -> String {
    std::fs::read_to_string(root.join("spec/cliniko-attendees.yaml")).unwrap()
}

#[test]
fn nothing_to_read_exits_2() {
    let root = copy_of_the_workspace();
    let out = heal(root.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("nothing to read"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_file_that_is_not_a_recording_exits_2_naming_it() {
    let root = copy_of_the_workspace();
    let bad = root.path().join("broken.json");
    std::fs::write(&bad, "{ not json").unwrap();
    let out = heal(root.path(), &[bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("broken.json"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn conforming_traffic_has_nothing_to_heal_and_nothing_is_written() {
    let root = copy_of_the_workspace();
    let before = spec_of(root.path());
    let folder = tempfile::tempdir().unwrap();
    let path = recording(folder.path(), |_| {});
    let out = heal(root.path(), &[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("nothing to heal: all 1 exchange conform"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert_eq!(spec_of(root.path()), before);
}

#[test]
fn a_dry_run_prints_the_body_and_writes_nothing() {
    let root = copy_of_the_workspace();
    let before = spec_of(root.path());
    let folder = tempfile::tempdir().unwrap();
    let path = recording(folder.path(), |body| {
        body["colour"] = Value::from("teal");
        body["created_at"] = Value::Null;
    });
    let out = heal(root.path(), &["--dry-run", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let body = text(&out.stdout);
    assert!(body.starts_with("# Heal the spec from Cliniko's answers: 2 changes, version "));
    assert!(
        body.contains("| add_field | `/components/schemas/Attendee/properties/colour` |"),
        "{body}"
    );
    assert!(
        body.contains("| make_nullable | `/components/schemas/Attendee/properties/created_at` |"),
        "{body}"
    );
    assert!(body.contains("Version bump: **minor**"), "{body}");
    assert!(!body.contains("teal"), "no value is quoted: {body}");
    assert!(text(&out.stderr).contains("--dry-run: nothing was written"));
    assert_eq!(spec_of(root.path()), before);
}

#[test]
fn a_disagreement_heal_cannot_widen_exits_1_and_writes_nothing() {
    let root = copy_of_the_workspace();
    let before = spec_of(root.path());
    let folder = tempfile::tempdir().unwrap();
    // An ID sent as a number: the spec says string, and heal never changes a type.
    let path = recording(folder.path(), |body| body["id"] = Value::from(7));
    let out = heal(root.path(), &[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let error = text(&out.stderr);
    assert!(
        error.contains("nothing in them is a widening heal can write"),
        "{error}"
    );
    assert!(
        error.contains("getAttendee (`GET`) → 200: body_schema at `/id`"),
        "{error}"
    );
    assert_eq!(spec_of(root.path()), before);
}
