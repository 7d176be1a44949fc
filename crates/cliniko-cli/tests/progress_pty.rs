//! The progress bar in a pseudo-terminal (`script`), against a fake whose rate limit is met:
//! during each wait for the limit to reset the bar shows a countdown that moves, and the spinner
//! keeps turning; the run ends with the summary and its advice.

use std::time::Duration;

use cliniko_fake::FakeCliniko;

const KEY: &str = "MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-au2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_wait_shows_a_moving_countdown_in_a_terminal() {
    // Three requests in any five seconds: the sync meets 429 and waits seconds for each reset.
    let fake = FakeCliniko::builder()
        .api_key(KEY)
        .seed(3)
        .attendees(300)
        .rate_limit_per_minute(Some(3))
        .rate_limit_window(Duration::from_secs(5))
        .start()
        .await
        .expect("the fake starts");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = dir.path().join("a.jsonl");
    let command = format!(
        "{} --base-url {} attendee sync --out {} --per-page 50 --progress bar",
        env!("CARGO_BIN_EXE_cliniko"),
        fake.base_url(),
        out.display()
    );
    // `script` runs the command with a pseudo-terminal as its stdout and stderr, and copies
    // what is drawn there to its own stdout.
    let output = tokio::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("CLINIKO_API_KEY", KEY)
        .env("COLUMNS", "200")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("script runs (util-linux)");
    let screen = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{screen}");
    // Each redraw of the countdown, in order, with repeats of the same second dropped.
    let mut countdown: Vec<u64> = Vec::new();
    for piece in screen.split("resets in ").skip(1) {
        let seconds: String = piece.chars().take_while(char::is_ascii_digit).collect();
        let seconds = seconds.parse().expect("a count of seconds");
        if countdown.last() != Some(&seconds) {
            countdown.push(seconds);
        }
    }
    let moving = countdown
        .windows(2)
        .filter(|pair| pair[1] + 1 == pair[0])
        .count();
    assert!(
        moving >= 2,
        "the countdown did not move during the wait: {countdown:?}\n{screen}"
    );
    // The spinner turned while the bar waited: several of its frames were drawn.
    let frames = ["⠁", "⠂", "⠄", "⡀", "⢀", "⠠", "⠐", "⠈"];
    let drawn = frames
        .iter()
        .filter(|frame| screen.contains(**frame))
        .count();
    assert!(drawn >= 3, "the spinner did not turn: {screen}");
    assert!(
        screen.contains("run the same command again"),
        "the summary and its advice: {screen}"
    );
    assert_eq!(
        std::fs::read_to_string(&out)
            .expect("written")
            .lines()
            .count(),
        300
    );
    fake.shutdown().await;
}

/// Runs `cliniko ARGS` in a pseudo-terminal with `input` typed on it; its exit code and screen.
fn in_terminal(args: &str, input: &str) -> (Option<i32>, String) {
    use std::io::Write as _;
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_cliniko"));
    let mut child = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env_remove("CLINIKO_API_KEY")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script runs (util-linux)");
    // Typed after the question is shown (the fake starts first).
    std::thread::sleep(Duration::from_millis(1500));
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(input.as_bytes()).expect("typed");
    drop(stdin);
    let output = child.wait_with_output().expect("it ends");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// On a terminal, `archive` and `delete` ask first: "n" sends nothing (exit 2), "y" goes ahead,
/// and `--yes` does not ask.
#[test]
fn archive_and_delete_ask_on_a_terminal() {
    let id = "9007199254740793";
    let (code, screen) = in_terminal(&format!("--fake attendee archive {id}"), "n\n");
    assert!(screen.contains("are you sure? [y/N]"), "{screen}");
    assert!(
        screen.contains("not confirmed; nothing was sent"),
        "{screen}"
    );
    assert_eq!(code, Some(2), "{screen}");
    let (code, screen) = in_terminal(&format!("--fake attendee delete {id}"), "y\n");
    assert!(screen.contains("are you sure? [y/N]"), "{screen}");
    assert_eq!(code, Some(0), "{screen}");
    let (code, screen) = in_terminal(&format!("--fake attendee archive {id} --yes"), "");
    assert!(!screen.contains("are you sure"), "{screen}");
    assert_eq!(code, Some(0), "{screen}");
}
