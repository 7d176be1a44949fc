//! Checks HTTP exchanges with the Cliniko attendees API against the workspace's OpenAPI spec.
//!
//! A team runs it in CI over recorded exchanges (`cliniko-conformance check tests/recordings`) and,
//! now and then, against a live server (`cliniko-conformance live --base-url URL`), so that it learns
//! the day Cliniko's behaviour and the spec part ways. The spec is the one embedded in
//! `cliniko-spec` unless another is loaded at run time with [`cliniko_spec::Spec::load`].
//!
//! ```
//! use cliniko_conformance::{CheckOptions, Checker, ViolationKind, parse_recording};
//!
//! let spec = cliniko_spec::Spec::embedded()?;
//! let checker = Checker::new(&spec, CheckOptions::default())?;
//! let recording = br#"{
//!   "request":  { "method": "GET", "url": "/v1/attendees/1" },
//!   "response": { "status": 200, "headers": { "Content-Type": "application/json" },
//!                 "body": { "id": 1 } }
//! }"#;
//! let exchanges = parse_recording(recording, "example.json")?;
//! let verdict = checker.check(&exchanges[0]);
//! assert_eq!(verdict.operation.as_deref(), Some("getAttendee"));
//! assert!(verdict.violations.iter().any(|v| v.kind() == ViolationKind::BodySchema && v.pointer() == Some("/id")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Recordings
//!
//! A recording is a JSON file holding one exchange, or several as `{"interactions": [exchange, ...]}`:
//!
//! ```json
//! {
//!   "request":  { "method": "GET", "url": "https://api.au1.cliniko.com/v1/attendees/1?x=1",
//!                 "headers": { "accept": "application/json" }, "body": null },
//!   "response": { "status": 200, "headers": { "content-type": "application/json; charset=utf-8" },
//!                 "body": { "id": "1" } }
//! }
//! ```
//!
//! - `request.method` and `request.url` are required. `url` may be absolute or a path
//!   (`/v1/attendees/1` or `/attendees/1`); the path of the spec's first server (`/v1`) is stripped
//!   before the path is matched against the spec's routes, and the query string is ignored.
//! - `response.status` (100 to 599) is required.
//! - `headers` (optional) map names to a string or an array of strings; names are
//!   case-insensitive. Numbers and booleans are read as their text.
//! - `body` (optional): a JSON string is the raw body text as received, so that a body that is not
//!   JSON can be recorded; any other JSON value is the body itself; `null`, `""` or absent means no
//!   body. A JSON body that is itself a string is therefore recorded as its raw text, `"\"text\""`.
//! - Other fields are ignored, so the format can grow.
//!
//! # HAR archives
//!
//! A HAR 1.2 archive (what browser devtools, mitmproxy and schemathesis' `--report har` export) is
//! read too: a file named `*.har`, or any JSON file that is an object with `log`. Each entry of
//! `log.entries` is an exchange, reported as `FILE#entry-N` (N counting from 0, as in the JSON
//! pointer `/log/entries/N`). The fields are read as the HAR 1.2 specification defines them:
//!
//! | HAR | exchange |
//! |---|---|
//! | `request.method`, `request.url` | the method and the absolute URL, query string included |
//! | `request.headers` (`[{name, value}]`) | the request headers; an absent or empty list is "not recorded" (many exports leave them out), and the header checks are skipped |
//! | `request.postData.text` | the request body (for a form without `text`, its `params` encoded); `postData.mimeType` is the `Content-Type` when the recorded headers have none |
//! | `response.status` | the status, 100 to 599 (a browser's 0, a request that got no answer, is refused) |
//! | `response.headers` | the response headers, as recorded |
//! | `response.content.text` | the response body, decoded first when `content.encoding` is `base64`; a `text` left out while `content.size` is above 0 is refused rather than read as "no body" |
//!
//! The response's `content.mimeType` is not read: the checker judges the `Content-Type` header
//! the server sent, and browsers fill `mimeType` in by sniffing. Timings, cookies and sizes are
//! ignored. An archive that is not shaped like this is unreadable (exit 2), and the error names
//! the file, the entry, the JSON pointer and what was expected:
//! `x.har#entry-3: at /log/entries/3/response/status: not HAR 1.2: expected an HTTP status as a number`.
//!
//! `live --record DIR --record-format har` writes one archive, `DIR/live.har`, scrubbed exactly as
//! JSON recordings are.
//!
//! # Checks
//!
//! Each problem is a [`Violation`] with a [`ViolationKind`]:
//!
//! | kind | meaning |
//! |---|---|
//! | `unknown_operation` | no operation in the spec has this method and path |
//! | `undocumented_status` | the operation does not document the status (exact code, `5XX` class, or `default`) |
//! | `content_type` | the body's media type is missing or not documented for the status (parameters such as `charset` are ignored) |
//! | `missing_header` | a header the spec marks `required` (`Location`, `X-RateLimit-Reset`) is absent |
//! | `header_schema` | a header fails its schema (an integer header is read as an integer first) |
//! | `body_not_json` | a JSON response whose body is empty or does not parse |
//! | `unexpected_body` | a body where the spec documents none (204) |
//! | `body_schema` | the body fails its schema, with OpenAPI 3.0 semantics; every error is reported with its JSON pointer |
//! | `undocumented_field` | only with [`CheckOptions::strict`]: a property the schema does not name |
//! | `round_trip` | a body that passes its schema is refused or changed by the generated type (see below) |
//!
//! The typed round trip sends each body that passes its schema through the matching generated
//! type of `cliniko-types` (`Attendee`, `AttendeeList`, `ErrorResponse`) and back to JSON. A
//! property that is `null` on one side and absent on the other is not a difference: the generated
//! types leave out optional properties that are `None`, and nothing is lost. Date-times naming the
//! same instant and numbers of equal value are not differences either.
//!
//! # Live runs
//!
//! [`live::run`] plays a scenario against a server (every operation, every list route, a filter,
//! pagination, and the error paths it can provoke), checks every exchange and can write them as
//! recordings, scrubbed by [`scrub`]: no `Authorization` header, no API key anywhere, and notes,
//! cancellation notes, IP addresses, names and emails replaced by fixed placeholders that still
//! satisfy the schema.
//!
//! # Performance
//!
//! `cargo bench -p cliniko-conformance` checks a generated corpus of 10,000 recorded list pages
//! (100 attendees each) and prints the throughput of checking next to that of parsing the same
//! bytes into a `serde_json::Value`, `check` over a folder on one thread and on every core side by
//! side, and the peak memory for 1,000 and 10,000 recordings (each thread reads one file at a
//! time; only a verdict per exchange is kept). [`Report::check_paths`] spreads the files of a
//! folder across every core and puts the report together in file order, so it is the same for any
//! number of threads ([`Report::check_paths_with_threads`], `check --threads N`).
//! `benches/openapi_core.sh` validates the same corpus with Python's openapi-core for comparison.
//!
//! A file is read once, by simd-json, into a zero-copy DOM ([`cliniko_spec::dom`]): each JSON body
//! is validated and round-tripped where it lies ([`Checker::check_recording`], and
//! [`Checker::check_received`] for the proxy's answers), and a `serde_json::Value` is built only
//! for a body that fails a check (its errors are collected from it) or that the DOM cannot hold
//! exactly as serde_json reads it (a repeated key, a decimal, `-0`, deep nesting), so the verdicts
//! are the same either way.
#![deny(missing_docs)]

mod check;
mod compile;
mod exchange;
mod fields;
mod har;
pub mod live;
pub mod proxy;
mod recording;
mod report;
mod request;
mod round_trip;
pub mod scrub;
mod sink;
pub mod suggest;
mod violation;

pub use check::{Checker, DocumentedOperation, Verdict};
pub use compile::{CheckOptions, CheckerError};
pub use recording::{
    Body, Exchange, Headers, RecordedRequest, RecordedResponse, RecordingError, parse_recording,
    read_recording, recording_from_value,
};
pub use report::{
    Coverage, ExchangeReport, OperationCoverage, Outcome, Report, Summary, recording_files,
};
pub use violation::{RequestPart, Violation, ViolationKind};
