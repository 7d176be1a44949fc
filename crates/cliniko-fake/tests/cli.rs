//! The `cliniko-fake` binary: its help, and a server started from the command line.

mod common;

use std::process::Stdio;

use common::{USER_AGENT, basic};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_cliniko-fake");

#[test]
fn help_lists_every_flag() {
    let output = std::process::Command::new(BINARY)
        .arg("--help")
        .output()
        .expect("the binary runs");
    assert!(output.status.success());
    insta::assert_snapshot!(String::from_utf8_lossy(&output.stdout));
}

/// Starts the binary on a free port and returns it with its base URL.
async fn start(
    args: &[&str],
) -> (
    tokio::process::Child,
    String,
    BufReader<tokio::process::ChildStderr>,
    String,
) {
    let mut child = Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("CLINIKO_FAKE_API_KEY")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).await.expect("a first line");
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    (child, url, stderr, line)
}

#[tokio::test]
async fn serves_the_seeded_attendees_with_the_given_key_and_never_prints_it() {
    let (mut child, base_url, mut stderr, first_line) = start(&[
        "--seed",
        "40",
        "--api-key",
        "cli-secret-key-au2",
        "--random-seed",
        "9",
    ])
    .await;
    let client = reqwest::Client::new();
    let answer = client
        .get(format!(
            "{base_url}/attendees?q%5B%5D=cancelled_at:*&q%5B%5D=archived_at:*"
        ))
        .header("authorization", basic("cli-secret-key-au2"))
        .header("user-agent", USER_AGENT)
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 200);
    let json: serde_json::Value = answer.json().await.expect("JSON");
    assert_eq!(json["total_entries"], 40);
    let refused = client
        .get(format!("{base_url}/attendees"))
        .header("user-agent", USER_AGENT)
        .send()
        .await
        .expect("an answer");
    assert_eq!(refused.status(), 401);

    child.start_kill().expect("the child can be stopped");
    child.wait().await.expect("the child stops");
    let mut rest = String::new();
    while stderr.read_line(&mut rest).await.expect("stderr reads") > 0 {}
    assert!(
        !rest.contains("cli-secret-key") && !first_line.contains("cli-secret-key"),
        "the key was printed: {rest}"
    );
}

#[tokio::test]
async fn fault_flags_reach_the_server() {
    let (mut child, base_url, _stderr, first_line) =
        start(&["--seed", "5", "--server-error-rate", "1"]).await;
    let answer = reqwest::Client::new()
        .get(format!("{base_url}/attendees"))
        .header("authorization", basic(cliniko_fake::DEFAULT_API_KEY))
        .header("user-agent", USER_AGENT)
        .send()
        .await
        .expect("an answer");
    assert!(answer.status().is_server_error(), "{}", answer.status());
    // The default key is public: the start-up line says it, so a new user can call the fake.
    assert!(
        first_line.contains(&format!("API key {}", cliniko_fake::DEFAULT_API_KEY)),
        "{first_line}"
    );
    child.start_kill().expect("the child can be stopped");
    child.wait().await.expect("the child stops");
}

#[tokio::test]
async fn state_is_written_on_ctrl_c_and_read_at_the_next_start() {
    let dir = std::env::temp_dir().join(format!("cliniko-fake-cli-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let path = dir.join("state.json");
    let _ = std::fs::remove_file(&path);
    let state = path.to_str().expect("a UTF-8 path");
    let (mut child, base_url, mut stderr, _) = start(&["--seed", "6", "--state", state]).await;
    let client = reqwest::Client::new();
    let archive = |id: &str| {
        client
            .delete(format!("{base_url}/attendees/{id}"))
            .header("authorization", basic(cliniko_fake::DEFAULT_API_KEY))
            .header("user-agent", USER_AGENT)
            .send()
    };
    let list = client
        .get(format!("{base_url}/attendees"))
        .header("authorization", basic(cliniko_fake::DEFAULT_API_KEY))
        .header("user-agent", USER_AGENT)
        .send()
        .await
        .expect("an answer");
    let json: serde_json::Value = list.json().await.expect("JSON");
    let before = json["total_entries"].as_u64().expect("a total");
    let id = json["attendees"][0]["id"]
        .as_str()
        .expect("an ID")
        .to_owned();
    assert_eq!(archive(&id).await.expect("an answer").status(), 204);
    let pid = child.id().expect("running").to_string();
    let interrupted = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(interrupted.success());
    assert!(child.wait().await.expect("stops").success());
    let mut rest = String::new();
    while stderr.read_line(&mut rest).await.expect("stderr reads") > 0 {}
    assert!(rest.contains("saved the data to"), "{rest}");
    assert!(path.exists());

    let (_child, base_url, _stderr, _) = start(&["--seed", "6", "--state", state]).await;
    let list = client
        .get(format!("{base_url}/attendees"))
        .header("authorization", basic(cliniko_fake::DEFAULT_API_KEY))
        .header("user-agent", USER_AGENT)
        .send()
        .await
        .expect("an answer");
    let json: serde_json::Value = list.json().await.expect("JSON");
    assert_eq!(
        json["total_entries"].as_u64(),
        Some(before - 1),
        "the archive was kept"
    );
    let _ = std::fs::remove_file(&path);
}
