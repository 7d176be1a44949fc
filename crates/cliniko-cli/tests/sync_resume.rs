//! `cliniko attendee sync` interrupted half-way (Ctrl-C, then `kill -9`, then a page cut short)
//! and resumed ends with exactly the records of an uninterrupted run; and no output, log or file
//! holds the API key.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use cliniko_fake::FakeCliniko;
use tokio::process::{Child, Command};

/// A key in Cliniko's form; the fake accepts only it.
const KEY: &str = "MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-au2";
/// The same key as it travels in `Authorization: Basic`.
const KEY_BASE64: &str = "TXhKclpYa2lPaUkxTmpkMWFtSm1aVFExTnlKOS1hdTI6";
const ATTENDEES: usize = 1_000;

async fn slow_fake() -> FakeCliniko {
    // Ten requests a second: a sync of 40 pages takes a few seconds, long enough to interrupt.
    FakeCliniko::builder()
        .api_key(KEY)
        .seed(42)
        .attendees(ATTENDEES)
        .rate_limit_per_minute(Some(10))
        .rate_limit_window(Duration::from_secs(1))
        .start()
        .await
        .expect("the fake starts")
}

/// `cliniko attendee sync --out OUT`, with `--since SINCE` unless `since` is empty (then the
/// checkpoint beside `OUT` says where to go on, as the CLI's advice says: "the same command").
fn sync(fake: &FakeCliniko, since: &str, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cliniko"));
    command
        .env("CLINIKO_API_KEY", KEY)
        .args(["--base-url", &fake.base_url(), "attendee", "sync"]);
    if !since.is_empty() {
        command.args(["--since", since]);
    }
    command
        .arg("--out")
        .arg(out)
        .args(["--per-page", "25", "--progress", "log"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// How many records the checkpoint file says are kept, once it exists.
fn kept(checkpoint: &Path) -> u64 {
    std::fs::read_to_string(checkpoint)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| json.pointer("/unfinished/records")?.as_u64())
        .unwrap_or(0)
}

/// Waits until the running sync has saved at least `records`, then signals it.
async fn interrupt_after(child: &mut Child, checkpoint: &Path, records: u64, signal: &str) {
    while kept(checkpoint) < records {
        assert!(
            child.try_wait().expect("the child is watched").is_none(),
            "the sync ended before it was interrupted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = child.id().expect("the child runs").to_string();
    let status = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn ids(jsonl: &str) -> Vec<String> {
    jsonl
        .lines()
        .map(|line| {
            let json: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
            json["id"].as_str().expect("ids are strings").to_owned()
        })
        .collect()
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn finish(child: Child) -> Run {
    let output = child.wait_with_output().await.expect("the child ends");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn assert_no_key(what: &str, text: &str) {
    assert!(!text.contains(KEY), "{what} holds the api key");
    assert!(
        !text.contains(KEY_BASE64),
        "{what} holds the encoded api key"
    );
    assert!(
        !text.contains("MxJrZXkiOiI1Njd1amJmZTQ1NyJ9"),
        "{what} holds part of the key"
    );
}

fn every_file(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("the folder lists")
        .map(|entry| entry.expect("an entry").path())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_sync_resumes_to_exactly_the_records_of_an_uninterrupted_one() {
    let fake = slow_fake().await;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut logs = String::new();

    // The reference: one run from start to end.
    let whole = dir.path().join("whole.jsonl");
    let run = finish(sync(&fake, "everything", &whole).spawn().expect("spawns")).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    logs.push_str(&run.stdout);
    logs.push_str(&run.stderr);
    let expected = std::fs::read_to_string(&whole).expect("the output was written");
    let expected_ids = ids(&expected);
    assert_eq!(
        expected_ids.len(),
        ATTENDEES,
        "every attendee, in every state"
    );
    let mut unique = expected_ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ATTENDEES, "no attendee twice");

    // The same sync, stopped three times.
    let out = dir.path().join("day.jsonl");
    let checkpoint = dir.path().join("day.jsonl.checkpoint.json");
    let partial = dir.path().join("day.jsonl.partial");

    // 1. Ctrl-C after 200 records: exit 130, the checkpoint kept, no output file.
    let mut child = sync(&fake, "everything", &out).spawn().expect("spawns");
    interrupt_after(&mut child, &checkpoint, 200, "-INT").await;
    let run = finish(child).await;
    assert_eq!(run.code, Some(130), "{}", run.stderr);
    assert!(
        run.stderr.contains("run the same command again to go on"),
        "it says how to go on: {}",
        run.stderr
    );
    logs.push_str(&run.stdout);
    logs.push_str(&run.stderr);
    assert!(!out.exists(), "the output is never half-written");
    let after_sigint = kept(&checkpoint);
    assert!((200..ATTENDEES as u64).contains(&after_sigint));

    // 2. Resumed by the same command (its advice), then killed outright after 500 records.
    let child = sync(&fake, "everything", &out).spawn().expect("spawns");
    let refused = finish(child).await;
    assert_eq!(
        refused.code,
        Some(2),
        "--since everything does not silently restart: {}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("without --since to go on"),
        "{}",
        refused.stderr
    );
    let mut child = sync(&fake, "", &out).spawn().expect("spawns");
    interrupt_after(&mut child, &checkpoint, 500, "-KILL").await;
    let run = finish(child).await;
    assert_eq!(run.code, None, "killed by a signal");
    logs.push_str(&run.stdout);
    logs.push_str(&run.stderr);
    assert!(!out.exists(), "the output is never half-written");

    // 3. A page cut short: bytes after the last checkpoint, as a crash mid-page leaves them.
    let mut cut = std::fs::read(&partial).expect("the partial output is kept");
    cut.extend_from_slice(b"{\"id\":\"1\",\"half a record");
    std::fs::write(&partial, cut).expect("written");

    // 4. Resumed to the end, with the checkpoint named (the older form) this time.
    let since = checkpoint.to_str().expect("a utf-8 path");
    let run = finish(sync(&fake, since, &out).spawn().expect("spawns")).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    logs.push_str(&run.stdout);
    logs.push_str(&run.stderr);
    let resumed = std::fs::read_to_string(&out).expect("the output was written");
    assert_eq!(
        ids(&resumed),
        expected_ids,
        "the same attendees, in the same order"
    );
    assert_eq!(resumed, expected, "byte for byte");
    assert!(
        !partial.exists(),
        "the partial output was renamed into place"
    );
    let saved = std::fs::read_to_string(&checkpoint).expect("the checkpoint is kept");
    assert!(
        !saved.contains("unfinished"),
        "the next run starts afresh: {saved}"
    );
    assert!(
        run.stderr
            .contains("run the same command again to add what changes next"),
        "{}",
        run.stderr
    );

    // 5. The advice followed: the same command again appends nothing when nothing changed, and
    //    the file stays equal to the uninterrupted export.
    let run = finish(sync(&fake, "", &out).spawn().expect("spawns")).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("appended 0 attendees"),
        "{}",
        run.stderr
    );
    logs.push_str(&run.stderr);
    assert_eq!(
        std::fs::read_to_string(&out).expect("kept"),
        expected,
        "nothing repeated"
    );

    // 6. Attendees change; the same command appends exactly their new versions.
    let changed: Vec<String> = expected
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("JSON"))
        .filter(|attendee| attendee["archived_at"].is_null() && attendee["deleted_at"].is_null())
        .step_by(97)
        .map(|attendee| attendee["id"].as_str().expect("an id").to_owned())
        .collect();
    assert!(changed.len() > 3, "enough attendees to change");
    for (n, id) in changed.iter().enumerate() {
        let output = Command::new(env!("CARGO_BIN_EXE_cliniko"))
            .env("CLINIKO_API_KEY", KEY)
            .args(["--base-url", &fake.base_url(), "attendee", "update", id])
            .args(["--notes", &format!("change {n}")])
            .output()
            .await
            .expect("runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let run = finish(sync(&fake, "", &out).spawn().expect("spawns")).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    logs.push_str(&run.stderr);
    let appended = std::fs::read_to_string(&out).expect("kept");
    assert!(
        appended.starts_with(&expected),
        "the earlier export is kept as it was"
    );
    let lines: Vec<serde_json::Value> = appended
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect();
    let mut versions = std::collections::HashSet::new();
    for line in &lines {
        assert!(
            versions.insert((line["id"].to_string(), line["updated_at"].to_string())),
            "a version twice: {line}"
        );
    }
    assert_eq!(
        lines.len(),
        ATTENDEES + changed.len(),
        "each changed attendee once more"
    );
    // The latest version of each attendee is what an uninterrupted export made now holds.
    let fresh = dir.path().join("fresh.jsonl");
    let run = finish(sync(&fake, "everything", &fresh).spawn().expect("spawns")).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let mut latest = std::collections::BTreeMap::new();
    for line in lines {
        latest.insert(line["id"].as_str().expect("an id").to_owned(), line);
    }
    let mut now = std::collections::BTreeMap::new();
    for line in std::fs::read_to_string(&fresh).expect("written").lines() {
        let line: serde_json::Value = serde_json::from_str(line).expect("JSON");
        now.insert(line["id"].as_str().expect("an id").to_owned(), line);
    }
    assert_eq!(latest, now, "the appended export ends equal to a fresh one");

    // 7. Writing over an existing file needs --overwrite; a missing folder is a usage error.
    let run = finish(
        sync(&fake, "2020-01-01T00:00:00Z", &out)
            .spawn()
            .expect("spawns"),
    )
    .await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("--overwrite"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(&out).expect("kept"),
        appended,
        "untouched"
    );
    let mut command = sync(&fake, "2099-01-01T00:00:00Z", &out);
    command.arg("--overwrite");
    let run = finish(command.spawn().expect("spawns")).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&out).expect("replaced"), "");
    let run = finish(
        sync(&fake, "", &dir.path().join("missing/out.jsonl"))
            .spawn()
            .expect("spawns"),
    )
    .await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);

    // The key is nowhere: not in what was printed, nor in any file written.
    assert_no_key("the output and logs", &logs);
    for file in every_file(dir.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).expect("readable")).into_owned();
        assert_no_key(&file.display().to_string(), &text);
    }
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_sync_is_resumed_too_and_refuses_to_restart_over_an_unfinished_one() {
    let fake = slow_fake().await;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let whole = dir.path().join("whole.csv");
    let mut command = sync(&fake, "everything", &whole);
    command.args(["--format", "csv"]);
    let run = finish(command.spawn().expect("spawns")).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let expected = std::fs::read_to_string(&whole).expect("written");
    // Counted as CSV records, not lines: seeded notes hold line breaks, which CSV quotes.
    let rows = csv::Reader::from_reader(expected.as_bytes())
        .records()
        .collect::<Result<Vec<_>, _>>()
        .expect("the export is CSV");
    assert_eq!(rows.len(), ATTENDEES, "a header and a row each");

    let out = dir.path().join("day.csv");
    let checkpoint = dir.path().join("day.csv.checkpoint.json");
    let mut command = sync(&fake, "everything", &out);
    command.args(["--format", "csv"]);
    let mut child = command.spawn().expect("spawns");
    interrupt_after(&mut child, &checkpoint, 300, "-KILL").await;
    finish(child).await;

    // Starting over from a time while a sync is unfinished is refused (exit 2), with what to do.
    let mut command = sync(&fake, "2020-01-01T00:00:00Z", &out);
    command.args(["--format", "csv"]);
    let run = finish(command.spawn().expect("spawns")).await;
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains("run the command again without --since to go on"),
        "{}",
        run.stderr
    );

    let mut command = sync(&fake, "", &out);
    command.args(["--format", "csv"]);
    let run = finish(command.spawn().expect("spawns")).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&out).expect("written"), expected);
    let header = expected.lines().next().expect("a header");
    assert!(
        header.contains("patient_id") && header.contains("booking_id"),
        "{header}"
    );

    // The next run appends rows, without a second header.
    let mut command = sync(&fake, "", &out);
    command.args(["--format", "csv"]);
    let run = finish(command.spawn().expect("spawns")).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&out).expect("kept"), expected);

    // An export with no record still has its header.
    let empty = dir.path().join("empty.csv");
    let mut command = sync(&fake, "2099-01-01T00:00:00Z", &empty);
    command.args(["--format", "csv"]);
    let run = finish(command.spawn().expect("spawns")).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(&empty).expect("written"),
        format!("{header}\n")
    );
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_named_by_its_variable_and_never_printed() {
    let fake = slow_fake().await;
    let wrong = "WrongKeyThatMustNotLeak123-au2";
    let output = Command::new(env!("CARGO_BIN_EXE_cliniko"))
        .env("CLINIKO_API_KEY", wrong)
        .args(["--base-url", &fake.base_url(), "attendee", "list"])
        .output()
        .await
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "an api error: {stderr}");
    assert!(stderr.contains("CLINIKO_API_KEY"), "{stderr}");
    assert!(!stderr.contains("WrongKeyThatMustNotLeak"), "{stderr}");
    assert!(output.stdout.is_empty());
    fake.shutdown().await;
}

/// Messages that name the real mistake: a --base-url without /v1, a key with spaces around it
/// (taken, trimmed), and a key whose suffix names a shard Cliniko does not document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_name_the_real_mistake() {
    let fake = slow_fake().await;
    let without_v1 = fake.base_url().trim_end_matches("/v1").to_owned();
    let output = Command::new(env!("CARGO_BIN_EXE_cliniko"))
        .env("CLINIKO_API_KEY", KEY)
        .args(["--base-url", &without_v1, "attendee", "list"])
        .output()
        .await
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("should end in /v1"), "{stderr}");

    let output = Command::new(env!("CARGO_BIN_EXE_cliniko"))
        .env("CLINIKO_API_KEY", format!("  {KEY}\n"))
        .args([
            "--base-url",
            &fake.base_url(),
            "attendee",
            "list",
            "--per-page",
            "1",
        ])
        .output()
        .await
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "spaces around the key are trimmed: {stderr}"
    );
    assert!(
        stderr.contains("attendees (more with --page or --all)"),
        "the footer on stderr: {stderr}"
    );

    // A suffix shaped like a shard but not one: the host does not resolve (or answer); the error
    // is a network one (exit 3) and the hint names the shard, not the network alone.
    let output = Command::new(env!("CARGO_BIN_EXE_cliniko"))
        .env("CLINIKO_API_KEY", "MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-zz9")
        .args(["--timeout", "5", "attendee", "list"])
        .output()
        .await
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("names the shard zz9, which Cliniko does not document"),
        "{stderr}"
    );
    assert!(!stderr.contains("MxJrZXkiOiI1Njd1amJmZTQ1NyJ9"), "{stderr}");
    fake.shutdown().await;
}

/// A server that accepts connections and never answers: `--timeout` bounds each try, the
/// command ends with exit 3 (a network failure), and the message names the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_named_after_the_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("an address");
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_cliniko"))
        .env("CLINIKO_API_KEY", KEY)
        .args([
            "--timeout",
            "1",
            "--base-url",
            &format!("http://{address}/v1"),
        ])
        .args(["attendee", "list"])
        .output()
        .await
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("{address} did not answer in time")),
        "{stderr}"
    );
    // Four tries of a second each and the backoffs between them: far from 4 × 60 s.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    silent.abort();
}

/// `cliniko ARGS...` against `fake`, run to its end.
async fn cliniko(fake: &FakeCliniko, args: &[&str]) -> Run {
    let child = Command::new(env!("CARGO_BIN_EXE_cliniko"))
        .env("CLINIKO_API_KEY", KEY)
        .args(["--base-url", &fake.base_url()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    finish(child).await
}

/// `cliniko patient sync --out OUT`: the command the sync's advice says to run again.
async fn patient_sync(fake: &FakeCliniko, out: &Path, extra: &[&str]) -> Run {
    let out = out.to_str().expect("utf-8");
    let mut args = vec!["patient", "sync", "--out", out];
    if !extra.contains(&"--per-page") {
        args.extend(["--per-page", "7"]);
    }
    args.extend_from_slice(extra);
    cliniko(fake, &args).await
}

/// Patients get `sync` from the spec as attendees do: the first run writes every patient (the
/// archived ones too) beside its checkpoint, a rerun with nothing changed appends nothing, the
/// patients changed between runs (updated, archived) are appended exactly once each, and a file
/// no checkpoint describes is replaced only with `--overwrite`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_sync_appends_each_changed_patient_once() {
    let fake = FakeCliniko::builder()
        .api_key(KEY)
        .seed(7)
        .attendees(10)
        .start()
        .await
        .expect("the fake starts");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = dir.path().join("patients.jsonl");
    let checkpoint = dir.path().join("patients.jsonl.checkpoint.json");
    let patients = fake
        .record_count("patient")
        .expect("the fake serves patients");
    assert!(patients > 7, "more than one page of patients: {patients}");
    // An archived patient before the first run (whatever share of them the seed archives), which
    // the first run must write too.
    let seeded = fake
        .records("patient")
        .expect("the fake lists its patients");
    let archived_first = seeded
        .iter()
        .rev()
        .find(|p| p["archived_at"].is_null() && p["deleted_at"].is_null())
        .and_then(|p| p["id"].as_str())
        .expect("an active patient")
        .to_owned();
    let run = cliniko(&fake, &["patient", "archive", &archived_first, "--yes"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    let run = patient_sync(&fake, &out, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("wrote {patients} patients")),
        "{}",
        run.stderr
    );
    let first = std::fs::read_to_string(&out).expect("the output was written");
    let mut first_ids = ids(&first);
    assert_eq!(first_ids.len(), patients, "every patient once");
    first_ids.sort();
    first_ids.dedup();
    assert_eq!(first_ids.len(), patients, "no patient twice");
    let records = fake
        .records("patient")
        .expect("the fake lists its patients");
    let id_of = |p: &serde_json::Value| p["id"].as_str().expect("an id").to_owned();
    let mut served: Vec<String> = records.iter().map(id_of).collect();
    served.sort();
    assert_eq!(first_ids, served, "exactly the fake's patients");
    assert!(checkpoint.exists(), "the checkpoint is beside the output");

    // Nothing changed: the same command appends nothing.
    let run = patient_sync(&fake, &out, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("appended 0 patients"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&out).expect("read"), first);

    // Two patients updated and one archived between runs.
    let active: Vec<String> = records
        .iter()
        .filter(|p| p["archived_at"].is_null() && p["deleted_at"].is_null())
        .map(id_of)
        .collect();
    assert!(
        active.len() < patients,
        "the fake seeds archived patients too, which the first run wrote"
    );
    let (a, b, c) = (&active[0], &active[1], &active[2]);
    for (id, name) in [(a, "Ngaio"), (b, "Aroha")] {
        let run = cliniko(&fake, &["patient", "update", id, "--first-name", name]).await;
        assert_eq!(run.code, Some(0), "{}", run.stderr);
    }
    let run = cliniko(&fake, &["patient", "archive", c, "--yes"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    let run = patient_sync(&fake, &out, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("appended 3 patients"), "{}", run.stderr);
    let second = std::fs::read_to_string(&out).expect("read");
    let appended = second
        .strip_prefix(&first)
        .expect("the first run's lines are kept");
    let lines: Vec<serde_json::Value> = appended
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect();
    let mut appended_ids: Vec<&str> = lines
        .iter()
        .map(|p| p["id"].as_str().expect("an id"))
        .collect();
    appended_ids.sort_unstable();
    let mut changed = vec![a.as_str(), b.as_str(), c.as_str()];
    changed.sort_unstable();
    assert_eq!(appended_ids, changed, "each changed patient exactly once");
    let by_id = |id: &str| lines.iter().find(|p| p["id"] == id).expect("appended");
    assert_eq!(by_id(a)["first_name"], "Ngaio");
    assert_eq!(by_id(b)["first_name"], "Aroha");
    assert!(
        !by_id(c)["archived_at"].is_null(),
        "the archived patient, archived"
    );

    // And nothing again after that.
    let run = patient_sync(&fake, &out, &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("appended 0 patients"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&out).expect("read"), second);

    // An attendee sync refuses the patients' checkpoint rather than mixing the two in one file.
    let run = cliniko(
        &fake,
        &["attendee", "sync", "--out", out.to_str().expect("utf-8")],
    )
    .await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("sync of patients, not attendees"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&out).expect("read"), second);

    // A file that no checkpoint describes is kept unless --overwrite says otherwise.
    let other = dir.path().join("other.jsonl");
    std::fs::write(&other, "keep me\n").expect("written");
    let run = patient_sync(&fake, &other, &[]).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("--overwrite"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&other).expect("read"), "keep me\n");
    let run = patient_sync(&fake, &other, &["--overwrite"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        ids(&std::fs::read_to_string(&other).expect("read")).len(),
        patients
    );
    fake.shutdown().await;
}

/// A patient sync killed half-way (`kill -9`) and run again ends with exactly the patients of an
/// uninterrupted run, as an attendee sync does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_patient_sync_resumes_to_exactly_the_patients_of_a_whole_one() {
    let fake = slow_fake().await;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let whole = dir.path().join("whole.jsonl");
    let run = patient_sync(&fake, &whole, &["--per-page", "5", "--progress", "log"]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let expected = std::fs::read_to_string(&whole).expect("written");

    let out = dir.path().join("patients.jsonl");
    let checkpoint = dir.path().join("patients.jsonl.checkpoint.json");
    let spawn = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cliniko"));
        command
            .env("CLINIKO_API_KEY", KEY)
            .args(["--base-url", &fake.base_url(), "patient", "sync", "--out"])
            .arg(&out)
            .args(["--per-page", "5", "--progress", "log"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.spawn().expect("spawns")
    };
    let mut child = spawn();
    interrupt_after(&mut child, &checkpoint, 10, "-KILL").await;
    let killed = finish(child).await;
    assert_eq!(killed.code, None, "killed by a signal: {}", killed.stderr);
    assert!(
        !out.exists(),
        "nothing is in place before the sync finishes"
    );

    let run = finish(spawn()).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let resumed = std::fs::read_to_string(&out).expect("written");
    assert_eq!(
        ids(&resumed),
        ids(&expected),
        "the same patients, in the same order"
    );
    fake.shutdown().await;
}
