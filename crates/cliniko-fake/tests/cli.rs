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
    (child, url, stderr)
}

#[tokio::test]
async fn serves_the_seeded_attendees_with_the_given_key_and_never_prints_it() {
    let (mut child, base_url, mut stderr) = start(&[
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
        !rest.contains("cli-secret-key"),
        "the key was printed: {rest}"
    );
}

#[tokio::test]
async fn fault_flags_reach_the_server() {
    let (mut child, base_url, _stderr) = start(&["--seed", "5", "--server-error-rate", "1"]).await;
    let answer = reqwest::Client::new()
        .get(format!("{base_url}/attendees"))
        .header("authorization", basic(cliniko_fake::DEFAULT_API_KEY))
        .header("user-agent", USER_AGENT)
        .send()
        .await
        .expect("an answer");
    assert!(answer.status().is_server_error(), "{}", answer.status());
    child.start_kill().expect("the child can be stopped");
    child.wait().await.expect("the child stops");
}
