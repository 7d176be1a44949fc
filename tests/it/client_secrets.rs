//! The API key appears in no output: not in `Debug` of the builder, the client or any error, not
//! in an error's message, and not in the traces the client writes while it retries and fails.

use crate::client_support;

use base64::Engine as _;
use cliniko_client::{AttendeeQuery, Client, ConfigError, Error};
use cliniko_fake::Faults;
use cliniko_types::{AttendeeCreate, Id};
use futures::StreamExt as _;

use client_support::{API_KEY, Canned, Captured, USER_AGENT, fake, fast_retries};

/// Every form the key could leak in: as given, its secret part, and the Basic credentials.
fn leaks(text: &str) -> Vec<&'static str> {
    let basic: &'static str = Box::leak(
        base64::engine::general_purpose::STANDARD
            .encode(format!("{API_KEY}:"))
            .into_boxed_str(),
    );
    let secret_part = API_KEY
        .rsplit_once('-')
        .map_or(API_KEY, |(secret, _)| secret);
    [API_KEY, secret_part, basic]
        .into_iter()
        .filter(|form| text.contains(form))
        .collect()
}

#[tokio::test]
async fn the_key_appears_in_no_output() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = fake(30).await;
    let builder = Client::builder(API_KEY, USER_AGENT)
        .base_url(server.base_url())
        .retry(fast_retries());
    let client = builder.clone().build().expect("built");
    let mut outputs = vec![format!("{builder:?}"), format!("{client:?}")];

    // Requests that succeed, are retried, and fail in each typed way.
    server.set_faults(Faults {
        server_error_rate: 0.5,
        truncate_rate: 0.2,
        drop_rate: 0.2,
        ..Faults::default()
    });
    let _ = client
        .stream_attendees(&AttendeeQuery::attendees().per_page(10))
        .collect::<Vec<_>>()
        .await;
    server.set_faults(Faults {
        server_error_rate: 1.0,
        ..Faults::default()
    });
    let mut errors: Vec<Error> = vec![client.list_attendees().send().await.expect_err("5xx")];
    server.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    errors.push(client.list_attendees().send().await.expect_err("dropped"));
    server.set_faults(Faults::default());
    errors.push(
        client
            .get_attendee()
            .id(Id::new(7))
            .send()
            .await
            .expect_err("404"),
    );
    let body = AttendeeCreate {
        booking_id: Id::new(1),
        patient_id: Id::new(1),
        patient_case_id: None,
        arrived: None,
        notes: None,
    };
    errors.push(
        client
            .create_attendee()
            .body(body)
            .send()
            .await
            .expect_err("422"),
    );
    let wrong = Client::builder(format!("{API_KEY}x"), USER_AGENT)
        .base_url(server.base_url())
        .build()
        .expect("built");
    errors.push(wrong.list_attendees().send().await.expect_err("401"));
    let canned = Canned::start(404, "text/html", |_| "<html>gone</html>".to_owned()).await;
    errors.push(
        canned
            .client()
            .list_attendees()
            .send()
            .await
            .expect_err("html 404"),
    );
    server.shutdown().await;
    // Nothing listens any more: a connection error, retried and then reported.
    errors.push(client.list_attendees().send().await.expect_err("refused"));

    let config_errors: Vec<ConfigError> = vec![
        Client::builder(API_KEY, "no email")
            .build()
            .expect_err("bad user-agent"),
        Client::builder(format!("{API_KEY} "), USER_AGENT)
            .build()
            .expect_err("bad key"),
        Client::builder("MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-SecretTail", USER_AGENT)
            .build()
            .expect_err("unknown shard"),
    ];
    for error in &errors {
        outputs.push(format!("{error}"));
        outputs.push(format!("{error:?}"));
        let chain: Vec<String> =
            std::iter::successors(Some(error as &dyn std::error::Error), |e| e.source())
                .map(ToString::to_string)
                .collect();
        outputs.push(chain.join(": "));
    }
    for error in &config_errors {
        outputs.push(format!("{error} {error:?}"));
    }
    assert!(!config_errors[2].to_string().contains("SecretTail"));

    let traces = captured.text();
    assert!(
        traces.contains("retrying"),
        "the subscriber saw the client's retries:\n{traces}"
    );
    assert!(
        traces.contains("failed"),
        "the subscriber saw the client's failures:\n{traces}"
    );
    outputs.push(traces);
    for output in &outputs {
        assert!(
            leaks(output).is_empty(),
            "the key leaked as {:?} in:\n{output}",
            leaks(output)
        );
    }
    // The outputs checked are real: each error says what went wrong.
    assert!(outputs.iter().any(|o| o.contains("unauthorised")));
    assert!(outputs.iter().any(|o| o.contains("validation failed")));
}
