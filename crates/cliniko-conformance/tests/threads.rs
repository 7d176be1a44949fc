//! `check` over a folder spreads files across threads; the report must not depend on how many.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::Command;

use cliniko_conformance::{CheckOptions, Checker, Report};
use cliniko_spec::Spec;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// Everything a report says, in every format that lists exchanges, with its coverage.
fn rendered(report: &Report, checker: &Checker) -> (String, String, String, String) {
    (
        report.human(),
        serde_json::to_string_pretty(&report.json()).expect("writes"),
        report.junit(),
        report.coverage(checker).human(),
    )
}

#[test]
fn the_report_is_the_same_on_one_thread_and_on_many() {
    let spec = Spec::embedded().expect("the embedded spec loads");
    let checker = Checker::new(&spec, CheckOptions::default()).expect("compiles");
    // Good and bad recordings, HAR archives, and files that cannot be read (the verdicts file
    // of recordings-bad is not a recording).
    let paths = [
        root().join("tests/recordings"),
        root().join("tests/recordings-bad"),
    ];
    let one = Report::check_paths_with_threads(&checker, &paths, NonZeroUsize::MIN);
    assert!(one.exchanges.len() > 50, "{}", one.exchanges.len());
    assert!(one.exchanges.iter().any(|e| !e.verdict.conforms()));
    assert!(!one.unreadable.is_empty());
    let expected = rendered(&one, &checker);
    for threads in [2, 3, 8, 64] {
        let many = Report::check_paths_with_threads(
            &checker,
            &paths,
            NonZeroUsize::new(threads).expect("not zero"),
        );
        assert_eq!(many.exchanges, one.exchanges, "{threads} threads");
        assert_eq!(rendered(&many, &checker), expected, "{threads} threads");
    }
    // The default, every core, too.
    assert_eq!(
        rendered(&Report::check_paths(&checker, &paths), &checker),
        expected
    );
}

#[test]
fn the_cli_prints_the_same_report_for_any_threads() {
    let run = |threads: &str| {
        Command::new(env!("CARGO_BIN_EXE_cliniko-conformance"))
            .args([
                "check",
                "--format",
                "json",
                "--threads",
                threads,
                "tests/recordings",
                "tests/recordings-bad",
            ])
            .current_dir(root())
            .env_remove("GITHUB_STEP_SUMMARY")
            .output()
            .expect("the CLI runs")
    };
    let one = run("1");
    assert_eq!(one.status.code(), Some(2));
    for threads in ["2", "7"] {
        let many = run(threads);
        assert_eq!(many.status.code(), one.status.code());
        assert_eq!(many.stdout, one.stdout, "--threads {threads}");
        assert_eq!(many.stderr, one.stderr, "--threads {threads}");
    }
    let zero = run("0");
    assert_eq!(zero.status.code(), Some(2));
}
