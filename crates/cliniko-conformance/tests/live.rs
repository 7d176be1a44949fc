//! The live scenario against the fake server: every operation is exercised, every exchange
//! conforms, and the recordings it writes hold no secret and check clean.

use std::collections::BTreeSet;
use std::path::PathBuf;

use cliniko_conformance::live::{LiveOptions, run};
use cliniko_conformance::{CheckOptions, Checker, Report};
use cliniko_fake::FakeCliniko;
use cliniko_spec::Spec;

const API_KEY: &str = "conformance-secret-key-au1";

fn options(base_url: String, record_dir: Option<PathBuf>) -> LiveOptions {
    LiveOptions {
        base_url,
        api_key: API_KEY.to_owned(),
        user_agent: "Conformance tests (tests@example.com)".to_owned(),
        record_dir,
        provoke_limits: true,
        group_appointment_id: None,
        patient_id: None,
        progress: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_exercises_every_operation_and_records_clean_exchanges() {
    let server = FakeCliniko::builder()
        .api_key(API_KEY)
        .seed(42)
        .attendees(150)
        .rate_limit_per_minute(Some(80))
        .start()
        .await
        .expect("the fake starts");
    let spec = Spec::embedded().expect("the embedded spec loads");
    let checker = Checker::new(
        &spec,
        CheckOptions {
            strict: true,
            ..CheckOptions::default()
        },
    )
    .expect("compiles");
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
    assert!(
        live.failed
            .iter()
            .all(|(_, error)| !error.contains(API_KEY))
    );
}
