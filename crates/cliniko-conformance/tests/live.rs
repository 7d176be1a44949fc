//! The live scenario against the fake server: every operation is exercised, every exchange
//! conforms, and the recordings it writes hold no secret and check clean.

use std::collections::BTreeSet;
use std::path::PathBuf;

use cliniko_conformance::live::{LiveOptions, RecordFormat, run};
use cliniko_conformance::{CheckOptions, Checker, Outcome, Report};
use cliniko_fake::FakeCliniko;
use cliniko_spec::Spec;

const API_KEY: &str = "conformance-secret-key-au1";

fn options(base_url: String, record_dir: Option<PathBuf>) -> LiveOptions {
    LiveOptions {
        base_url,
        api_key: API_KEY.to_owned(),
        user_agent: "Conformance tests (tests@example.com)".to_owned(),
        record_dir,
        record_format: RecordFormat::Json,
        provoke_limits: true,
        group_appointment_id: None,
        patient_id: None,
        progress: false,
        read_only: false,
        allow_writes: false,
    }
}

fn strict_checker(spec: &Spec) -> Checker {
    Checker::new(
        spec,
        CheckOptions {
            strict: true,
            ..CheckOptions::default()
        },
    )
    .expect("compiles")
}

async fn fake() -> FakeCliniko {
    FakeCliniko::builder()
        .api_key(API_KEY)
        .seed(42)
        .attendees(150)
        .rate_limit_per_minute(Some(80))
        .start()
        .await
        .expect("the fake starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_exercises_every_operation_and_records_clean_exchanges() {
    let server = fake().await;
    let spec = Spec::embedded().expect("the embedded spec loads");
    let checker = strict_checker(&spec);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let live = run(
        &options(server.base_url(), Some(dir.path().to_owned())),
        &checker,
    )
    .await
    .expect("the run completes");
    server.shutdown().await;

    assert!(live.failed.is_empty(), "{:?}", live.failed);
    assert!(live.deviations.is_empty(), "{:?}", live.deviations);
    assert!(live.problems().is_empty(), "{:?}", live.problems());
    assert_eq!(live.outcome(), Outcome::Conforms);
    let failing: Vec<String> = live
        .report
        .exchanges
        .iter()
        .filter(|e| !e.verdict.conforms())
        .map(|e| format!("{}: {:?}", e.title(), e.verdict.violations))
        .collect();
    assert!(failing.is_empty(), "{}", failing.join("\n"));

    let operations: BTreeSet<&str> = live
        .report
        .exchanges
        .iter()
        .filter_map(|e| e.verdict.operation.as_deref())
        .collect();
    for operation in spec
        .document()
        .operations()
        .filter_map(|(_, _, op)| op.operation_id.as_deref())
    {
        assert!(
            operations.contains(operation),
            "the scenario never called {operation}"
        );
    }
    let statuses: BTreeSet<u16> = live
        .report
        .exchanges
        .iter()
        .map(|e| e.verdict.status)
        .collect();
    for status in [200, 201, 204, 400, 401, 403, 404, 422, 429] {
        assert!(
            statuses.contains(&status),
            "the scenario never got {status}: {statuses:?}"
        );
    }

    let mut files = 0;
    for entry in std::fs::read_dir(dir.path()).expect("the recordings are there") {
        let text =
            std::fs::read_to_string(entry.expect("an entry").path()).expect("a recording reads");
        files += 1;
        for secret in [
            API_KEY,
            "Y29uZm9ybWFuY2Utc2VjcmV0LWtleS1hdTE6",
            "authorization",
            "tests@example.com",
            "127.0.0.1",
            "/connect",
            "/bookings/cancel",
        ] {
            assert!(
                !text.to_lowercase().contains(&secret.to_lowercase()),
                "a recording holds {secret:?}:\n{text}"
            );
        }
    }
    assert_eq!(files, live.report.exchanges.len());
    let rechecked = Report::check_paths(&checker, &[dir.path().to_owned()]);
    assert!(
        rechecked.unreadable.is_empty(),
        "{:?}",
        rechecked.unreadable
    );
    assert_eq!(rechecked.exchanges.len(), files);
    assert!(rechecked.exchanges.iter().all(|e| e.verdict.conforms()));
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_reported_not_a_panic() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = listener.local_addr().expect("an address");
    drop(listener);
    let spec = Spec::embedded().expect("the embedded spec loads");
    let checker = Checker::new(&spec, CheckOptions::default()).expect("compiles");
    let mut options = options(format!("http://{address}/v1"), None);
    options.provoke_limits = false;
    let live = run(&options, &checker).await.expect("the run completes");
    assert!(live.report.exchanges.is_empty());
    assert!(!live.failed.is_empty());
    assert_eq!(live.outcome(), Outcome::Unreadable);
    assert!(
        live.failed
            .iter()
            .all(|(_, error)| !error.contains(API_KEY))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_never_looks_green() {
    let server = fake().await;
    let spec = Spec::embedded().expect("the embedded spec loads");
    let checker = strict_checker(&spec);
    let mut options = options(server.base_url(), None);
    options.api_key = "not-the-key-au1".to_owned();
    options.provoke_limits = false;
    let live = run(&options, &checker).await.expect("the run completes");
    server.shutdown().await;

    // Every exchange conforms (401 is documented), and yet the run fails, naming the steps.
    assert!(live.report.exchanges.iter().all(|e| e.verdict.conforms()));
    assert_eq!(live.outcome(), Outcome::Violations);
    let problems = live.problems().join("\n");
    assert!(
        problems.contains("step `list attendees` was meant to succeed and was answered 401: the API key was refused"),
        "{problems}"
    );
    assert!(
        problems.contains("step `get an attendee` did not run"),
        "{problems}"
    );
    assert!(!problems.contains("not-the-key-au1"), "{problems}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_runs_only_get_routes_and_still_passes() {
    let server = fake().await;
    let spec = Spec::embedded().expect("the embedded spec loads");
    let checker = strict_checker(&spec);
    let mut options = options(server.base_url(), None);
    options.read_only = true;
    let live = run(&options, &checker).await.expect("the run completes");
    server.shutdown().await;

    assert!(!live.report.exchanges.is_empty());
    assert!(
        live.report
            .exchanges
            .iter()
            .all(|e| e.verdict.method == "GET"),
        "{:?}",
        live.report
            .exchanges
            .iter()
            .map(|e| e.title())
            .collect::<Vec<_>>()
    );
    assert_eq!(live.outcome(), Outcome::Conforms, "{:?}", live.problems());
    assert_eq!(live.notes, ["read-only: only the GET routes were run"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_allow_writes_on_a_host_that_is_not_loopback() {
    // 0.0.0.0 is not a loopback address, and nothing listens on port 9: each step fails at once.
    // Only the GET steps are tried.
    let spec = Spec::embedded().expect("the embedded spec loads");
    let checker = strict_checker(&spec);
    let mut options = options("http://0.0.0.0:9/v1".to_owned(), None);
    options.provoke_limits = false;
    let client_timeout = std::time::Duration::from_secs(120);
    let live = tokio::time::timeout(client_timeout, run(&options, &checker))
        .await
        .expect("the run ends")
        .expect("the run completes");
    assert!(live.notes[0].starts_with("0.0.0.0 is not a loopback address: the writing steps"));
    assert!(
        live.failed.iter().all(
            |(step, _)| !["create", "update", "cancel ", "archive", "delete"]
                .iter()
                .any(|verb| step.starts_with(verb))
        ),
        "{:?}",
        live.failed
    );
    assert_eq!(live.outcome(), Outcome::Unreadable);
}
