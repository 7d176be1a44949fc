//! The client's tracing: one `cliniko.request` span per attempt, carrying the operation, method,
//! path, attempt number, status and `X-Request-Id`, and never the API key or its Basic token.
//! Captured by a `tracing-subscriber` layer that writes each closed span to a buffer, beside the
//! `fmt` layer an application would use, whose whole output is searched for the key.

use crate::client_support;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use cliniko_client::AttendeeQuery;
use cliniko_types::Id;
use futures::TryStreamExt as _;
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id as SpanId, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

use client_support::{API_KEY, Captured, Scripted, attendee_list, http_answer, sample_attendee};

const ATTENDEE: i64 = 1_390_726_237_298_631_770;

/// A closed span: its name and every field recorded on it, as text.
#[derive(Debug, Clone)]
struct ClosedSpan {
    name: &'static str,
    fields: BTreeMap<String, String>,
}

impl ClosedSpan {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// The fields of a span while it is open.
#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

/// A layer that writes each span, with the fields it was given and those recorded later, to a
/// shared buffer when it closes.
#[derive(Clone, Default)]
struct SpanBuffer(Arc<Mutex<Vec<ClosedSpan>>>);

impl SpanBuffer {
    fn spans(&self) -> Vec<ClosedSpan> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl<S> Layer<S> for SpanBuffer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &SpanId, context: Context<'_, S>) {
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        if let Some(span) = context.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &SpanId, values: &Record<'_>, context: Context<'_, S>) {
        if let Some(span) = context.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(fields);
        }
    }

    fn on_close(&self, id: SpanId, context: Context<'_, S>) {
        let Some(span) = context.span(&id) else {
            return;
        };
        let fields = span
            .extensions_mut()
            .remove::<Fields>()
            .unwrap_or_default()
            .0;
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(ClosedSpan {
                name: span.name(),
                fields,
            });
    }
}

/// The forms the key could leak in: as given, its secret part, and the Basic credentials.
fn key_forms() -> [String; 3] {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{API_KEY}:"));
    let secret_part = API_KEY
        .rsplit_once('-')
        .map_or(API_KEY, |(secret, _)| secret);
    [API_KEY.to_owned(), secret_part.to_owned(), basic]
}

#[tokio::test]
async fn each_attempt_is_a_span_with_its_facts_and_without_the_key() {
    let server = Scripted::start(|request, index| {
        let request_id = ("x-request-id", format!("req-{index}"));
        if request.request_line.starts_with("GET /v1/attendees?") {
            return Some(http_answer(
                200,
                &[request_id],
                &attendee_list(1, 1, 1, None),
            ));
        }
        match index {
            // The first read is answered 502: a read is safe to repeat, so a second attempt goes.
            0 => Some(http_answer(
                502,
                &[request_id],
                r#"{"message":"Bad Gateway"}"#,
            )),
            _ => Some(http_answer(
                200,
                &[request_id],
                &sample_attendee(ATTENDEE as u64, "2024-01-01T00:00:00Z").to_string(),
            )),
        }
    })
    .await;
    let spans = SpanBuffer::default();
    let text = Captured::default();
    let writer = text.clone();
    let subscriber = tracing_subscriber::registry().with(spans.clone()).with(
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_span_events(FmtSpan::FULL)
            .with_writer(move || writer.clone()),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let client = server.client("/v1");
    let attendee = client
        .get_attendee()
        .id(Id::new(ATTENDEE))
        .send()
        .await
        .expect("the second attempt answers");
    assert_eq!(attendee.id.get(), ATTENDEE);
    let listed: Vec<_> = client
        .stream_attendees(&AttendeeQuery::attendees().per_page(10))
        .try_collect()
        .await
        .expect("one page");
    assert_eq!(listed.len(), 1);

    let requests: Vec<ClosedSpan> = spans
        .spans()
        .into_iter()
        .filter(|span| span.name == "cliniko.request")
        .collect();
    let summary: Vec<[Option<&str>; 6]> = requests
        .iter()
        .map(|span| {
            [
                span.field("operation"),
                span.field("method"),
                span.field("path"),
                span.field("attempt"),
                span.field("status"),
                span.field("request_id"),
            ]
        })
        .collect();
    let path = format!("/v1/attendees/{ATTENDEE}");
    assert_eq!(
        summary,
        [
            [
                Some("getAttendee"),
                Some("GET"),
                Some(path.as_str()),
                Some("1"),
                Some("502"),
                Some("req-0"),
            ],
            [
                Some("getAttendee"),
                Some("GET"),
                Some(path.as_str()),
                Some("2"),
                Some("200"),
                Some("req-1"),
            ],
            [
                Some("listAttendees"),
                Some("GET"),
                Some("/v1/attendees"),
                Some("1"),
                Some("200"),
                Some("req-2"),
            ],
        ],
        "{requests:#?}"
    );
    assert_eq!(server.requests().len(), 3);

    // Neither a recorded field nor anything the fmt layer wrote holds the key in any form, though
    // every request carried it.
    for request in server.requests() {
        assert!(request.header("authorization").is_some());
    }
    let output = text.text();
    assert!(
        output.contains("cliniko.request") && output.contains("req-1"),
        "the fmt layer saw the spans:\n{output}"
    );
    let everything_recorded = format!("{:?}\n{output}", spans.spans());
    for form in key_forms() {
        assert!(
            !everything_recorded.contains(&form),
            "the key leaked into the traces as {form:?}:\n{everything_recorded}"
        );
    }
    assert!(
        !everything_recorded.to_lowercase().contains("basic "),
        "an authorization value reached the traces:\n{everything_recorded}"
    );
}
