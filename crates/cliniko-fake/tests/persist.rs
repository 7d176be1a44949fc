//! `--state FILE` / `FakeClinikoBuilder::state_file`: a write in one run is read in the next, the
//! file is replaced whole, and a file from another seed or a broken one is refused by name.

mod common;

use common::{Harness, builder};
use reqwest::Method;
use serde_json::json;

fn temporary(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cliniko-fake-persist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

#[tokio::test]
async fn a_write_in_one_run_is_read_in_the_next() {
    let path = temporary("state.json");
    let first = Harness::with(builder().state_file(&path)).await;
    let first_base = first.server.base_url();
    let fixtures = first.server.fixtures().clone();
    let body = json!({
        "booking_id": fixtures.group_appointments[0].to_string(),
        "patient_id": fixtures.patients[0].to_string(),
        "notes": "Kept between runs ✓",
    });
    let created = first.call(Method::POST, "/attendees", Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json()["id"].as_str().expect("an ID").to_owned();
    let archived = fixtures.attendees[3];
    let gone = first
        .call(Method::DELETE, &format!("/attendees/{archived}"), None)
        .await;
    assert_eq!(gone.status, 204);
    let count = first.server.attendee_count();
    first
        .server
        .shutdown_and_save()
        .await
        .expect("the state is written");
    assert!(path.exists());
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("a directory"))
        .expect("lists")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    let second = Harness::with(builder().state_file(&path)).await;
    assert_eq!(second.server.attendee_count(), count);
    let read = second.get(&format!("/attendees/{id}")).await;
    assert_eq!(read.status, 200, "{}", read.text);
    // The same record; only the port in its links differs between the two runs.
    assert_eq!(
        read.text,
        created.text.replace(&first_base, &second.server.base_url())
    );
    let still_gone = second.get(&format!("/attendees/{archived}")).await;
    assert_eq!(
        still_gone.status, 404,
        "an archived attendee stays archived"
    );
    second.server.shutdown().await;

    // Another seed's file names other patients: refused, naming the file.
    let error = builder()
        .seed(8)
        .state_file(&path)
        .start()
        .await
        .expect_err("another seed");
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string()) && message.contains("seed 7"),
        "{message}"
    );

    std::fs::write(&path, "{\"format\": 1, \"seed\": \"seven\"}").expect("writes");
    let error = builder()
        .state_file(&path)
        .start()
        .await
        .expect_err("a broken file");
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string()) && message.contains("seed"),
        "{message}"
    );
    let _ = std::fs::remove_file(&path);
}
