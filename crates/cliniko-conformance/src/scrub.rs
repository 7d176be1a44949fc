//! Scrubbing exchanges before they are written as recordings.
//!
//! A recording must never hold the API key or an `Authorization` header, and must not carry
//! free text, personal data or capability URLs (`cancellation_url`, `telehealth_url`: whoever holds
//! one can cancel or join the patient's appointment) from a real account. [`Scrubber::exchange`] drops the credential
//! headers, removes the key wherever it appears, replaces the server's origin with
//! [`ORIGIN_PLACEHOLDER`], and replaces the string values of the properties the spec marks
//! `x-cliniko-personal` or `x-cliniko-capability-url` (in any schema, so request bodies too) with
//! fixed placeholders chosen by the property's `format`, which still satisfy the spec's schemas, so
//! the same run writes the same recording.

use serde_json::Value;

use base64::Engine as _;
use cliniko_types::resource::Placeholder;

use crate::check::Verdict;
use crate::recording::{Body, Exchange, Headers};

/// Replaces free text (notes, addresses, numbers written as text).
pub const NOTE_PLACEHOLDER: &str = "Scrubbed note";
/// Replaces dates (`format: date`), such as a date of birth.
pub const DATE_PLACEHOLDER: &str = "1970-01-01";
/// Replaces date-times (`format: date-time`).
pub const DATE_TIME_PLACEHOLDER: &str = "1970-01-01T00:00:00Z";
/// Replaces IP addresses (an address from TEST-NET-1, RFC 5737).
pub const IP_PLACEHOLDER: &str = "192.0.2.1";
/// Replaces names.
pub const NAME_PLACEHOLDER: &str = "Scrubbed Name";
/// Replaces email addresses.
pub const EMAIL_PLACEHOLDER: &str = "scrubbed@example.com";
/// Replaces the `User-Agent`, which names the caller and an email address.
pub const USER_AGENT_PLACEHOLDER: &str = "cliniko-conformance (conformance@example.com)";
/// Replaces the API key wherever it appears.
pub const SECRET_PLACEHOLDER: &str = "[redacted]";
/// Replaces capability URLs (`cancellation_url`, `telehealth_url`), still a valid `uri`.
pub const CAPABILITY_URL_PLACEHOLDER: &str = "https://cliniko.invalid/scrubbed-capability-url";
/// Replaces the origin (`scheme://host:port`) of the server that was recorded.
pub const ORIGIN_PLACEHOLDER: &str = "https://cliniko.invalid";

/// Headers that carry credentials or session state, never written.
const DROPPED_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// What replaces the string value of a property marked `x-cliniko-personal` or
/// `x-cliniko-capability-url` in any schema of the spec (the table is generated from the marks, so
/// a resource added to the spec is scrubbed with no change here).
fn placeholder_for(property: &str, value: &str) -> Option<&'static str> {
    let marked = cliniko_types::resource::scrubbed(property)?;
    Some(match marked.placeholder_for(value) {
        Placeholder::Name => NAME_PLACEHOLDER,
        Placeholder::Email => EMAIL_PLACEHOLDER,
        Placeholder::Date => DATE_PLACEHOLDER,
        Placeholder::DateTime => DATE_TIME_PLACEHOLDER,
        Placeholder::Ipv4 => IP_PLACEHOLDER,
        Placeholder::Uri => CAPABILITY_URL_PLACEHOLDER,
        Placeholder::Example(example) => example,
        _ => NOTE_PLACEHOLDER,
    })
}

/// One `q[]=FIELD:OPERATOR OPERAND` parameter with the operand replaced, when FIELD is a marked
/// property; `None` for any other parameter (kept as sent).
fn scrubbed_filter(segment: &str) -> Option<String> {
    let (raw_key, _) = segment.split_once('=')?;
    let (key, value) = url::form_urlencoded::parse(segment.as_bytes()).next()?;
    if key != "q[]" {
        return None;
    }
    let (field, condition) = value.split_once(':')?;
    let operator = condition
        .find(|c: char| !"=!<>~?".contains(c))
        .unwrap_or(condition.len());
    let (operator, operand) = condition.split_at(operator);
    if operand.is_empty() {
        return None;
    }
    let placeholder = placeholder_for(field, operand)?;
    let condition: String =
        url::form_urlencoded::byte_serialize(format!("{field}:{operator}{placeholder}").as_bytes())
            .collect();
    Some(format!("{raw_key}={condition}"))
}

/// Removes secrets and personal data from exchanges.
#[derive(Clone)]
pub struct Scrubber {
    secrets: Vec<String>,
    origin: Option<String>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field("secrets", &format_args!("[{} hidden]", self.secrets.len()))
            .field("origin", &self.origin)
            .finish()
    }
}

impl Scrubber {
    /// A scrubber that removes `api_key` (and its Basic-auth encoding) wherever it appears.
    pub fn new(api_key: &str) -> Self {
        let mut secrets = Vec::new();
        if !api_key.is_empty() {
            secrets.push(api_key.to_owned());
            secrets.push(base64::engine::general_purpose::STANDARD.encode(format!("{api_key}:")));
        }
        Self {
            secrets,
            origin: None,
        }
    }

    /// Also replaces `origin` (such as `http://127.0.0.1:8080`) with [`ORIGIN_PLACEHOLDER`], so that
    /// recordings from a server on a random port do not change from run to run.
    pub fn with_origin(mut self, origin: &str) -> Self {
        let origin = origin.trim_end_matches('/');
        if !origin.is_empty() {
            self.origin = Some(origin.to_owned());
        }
        self
    }

    /// The exchange with its secrets and personal data replaced.
    pub fn exchange(&self, exchange: &Exchange) -> Exchange {
        let mut out = exchange.clone();
        out.request.url = self.url(&out.request.url);
        self.headers(&mut out.request.headers);
        self.headers(&mut out.response.headers);
        self.body(&mut out.request.body);
        self.body(&mut out.response.body);
        out
    }

    /// The verdict with every secret and the origin replaced in its path and messages (a server
    /// may echo what it was sent).
    pub fn verdict(&self, verdict: Verdict) -> Verdict {
        let change = |text: &str| self.text(text);
        Verdict {
            path: self.text(&verdict.path),
            violations: verdict
                .violations
                .into_iter()
                .map(|v| v.map_text(&change))
                .collect(),
            notes: verdict
                .notes
                .into_iter()
                .map(|v| v.map_text(&change))
                .collect(),
            ..verdict
        }
    }

    fn headers(&self, headers: &mut Headers) {
        for name in DROPPED_HEADERS {
            headers.remove(name);
        }
        headers.map_values(|name, value| {
            if name == "user-agent" {
                USER_AGENT_PLACEHOLDER.to_owned()
            } else {
                self.text(value)
            }
        });
    }

    fn body(&self, body: &mut Body) {
        match body {
            Body::Empty => {}
            Body::Text(text) => *text = self.text(text),
            Body::Json(value) => self.value(value),
        }
    }

    fn value(&self, value: &mut Value) {
        match value {
            Value::String(text) => *text = self.text(text),
            Value::Array(items) => items.iter_mut().for_each(|item| self.value(item)),
            Value::Object(object) => {
                for (key, item) in object.iter_mut() {
                    match item {
                        Value::String(text) => match placeholder_for(key, text) {
                            Some(placeholder) => *item = Value::String(placeholder.to_owned()),
                            None => self.value(item),
                        },
                        _ => self.value(item),
                    }
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// The URL with its secrets and origin replaced, and the operand of each `q[]` filter on a
    /// marked property (`q[]=last_name:=Smith`: an app's search names its patient) replaced by the
    /// property's placeholder. The query's other parameters keep their text as sent.
    fn url(&self, url: &str) -> String {
        let url = self.text(url);
        let Some((base, query)) = url.split_once('?') else {
            return url;
        };
        let mut changed = false;
        let segments: Vec<String> = query
            .split('&')
            .map(|segment| match scrubbed_filter(segment) {
                Some(scrubbed) => {
                    changed = true;
                    scrubbed
                }
                None => segment.to_owned(),
            })
            .collect();
        if changed {
            format!("{base}?{}", segments.join("&"))
        } else {
            url
        }
    }

    /// The text with every secret and the origin replaced.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), SECRET_PLACEHOLDER);
            }
        }
        if let Some(origin) = &self.origin
            && out.contains(origin.as_str())
        {
            out = out.replace(origin.as_str(), ORIGIN_PLACEHOLDER);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::recording::{RecordedRequest, RecordedResponse};

    #[test]
    fn the_basic_token_of_clinikos_documented_example_is_scrubbed() {
        let scrubber = Scrubber::new("MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-au2");
        assert_eq!(
            scrubber.text("Basic TXhKclpYa2lPaUkxTmpkMWFtSm1aVFExTnlKOS1hdTI6"),
            format!("Basic {SECRET_PLACEHOLDER}")
        );
    }

    #[test]
    fn scrubs_credentials_and_personal_fields() {
        let mut request_headers = Headers::new();
        request_headers.append("Authorization", "Basic c2VjcmV0LWtleTo=");
        request_headers.append("User-Agent", "Me (me@private.example)");
        request_headers.append("X-Echo", "secret-key");
        let exchange = Exchange {
            request: RecordedRequest {
                method: "POST".to_owned(),
                url: "http://127.0.0.1:9/v1/attendees?key=secret-key".to_owned(),
                headers: request_headers,
                body: Body::Json(json!({ "notes": "Allergic to cats", "patient_id": "1" })),
            },
            response: RecordedResponse {
                status: 201,
                headers: Headers::new(),
                body: Body::Json(json!({
                    "notes": null, "booking_ip_address": "10.1.2.3", "cancellation_note": "Flu",
                    "cancellation_url": "https://clinic.au1.cliniko.com/bookings/cancel/Zx81",
                    "telehealth_url": "https://clinic.au1.cliniko.com/appointments/1/connect",
                    "links": { "self": "http://127.0.0.1:9/v1/attendees/1" } })),
            },
        };
        let scrubbed = Scrubber::new("secret-key")
            .with_origin("http://127.0.0.1:9")
            .exchange(&exchange);
        let text = scrubbed.to_recorded().to_string();
        assert!(
            !text.contains("secret-key") && !text.contains("c2VjcmV0LWtleTo="),
            "{text}"
        );
        assert!(scrubbed.request.headers.get("authorization").is_none());
        assert_eq!(
            scrubbed.request.headers.get("user-agent"),
            Some(USER_AGENT_PLACEHOLDER)
        );
        assert_eq!(
            scrubbed.request.url,
            "https://cliniko.invalid/v1/attendees?key=[redacted]"
        );
        assert_eq!(
            scrubbed.response.body,
            Body::Json(json!({
                "notes": null, "booking_ip_address": IP_PLACEHOLDER, "cancellation_note": NOTE_PLACEHOLDER,
                "cancellation_url": CAPABILITY_URL_PLACEHOLDER, "telehealth_url": CAPABILITY_URL_PLACEHOLDER,
                "links": { "self": "https://cliniko.invalid/v1/attendees/1" } }))
        );
        assert_eq!(
            scrubbed.request.body,
            Body::Json(json!({ "notes": NOTE_PLACEHOLDER, "patient_id": "1" }))
        );
    }

    /// A search in the URL names its patient: the operand of a `q[]` filter on a marked property
    /// is replaced, however the query is encoded; other filters and parameters are kept as sent.
    #[test]
    fn a_filter_on_a_marked_property_is_scrubbed_in_the_url() {
        let exchange = |url: &str| Exchange {
            request: RecordedRequest {
                method: "GET".to_owned(),
                url: url.to_owned(),
                headers: Headers::new(),
                body: Body::Empty,
            },
            response: RecordedResponse {
                status: 200,
                headers: Headers::new(),
                body: Body::Empty,
            },
        };
        let scrubber = Scrubber::new("").with_origin("http://127.0.0.1:9");
        let scrubbed = scrubber.exchange(&exchange(
            "http://127.0.0.1:9/v1/patients?q%5B%5D=last_name%3A%3DLovelace&q[]=id:%3E5&q[]=email:~ada%40example.com&q[]=date_of_birth:=*-12-10&per_page=10",
        ));
        let url = &scrubbed.request.url;
        for secret in ["Lovelace", "ada", "12-10"] {
            assert!(!url.contains(secret), "{secret} in {url}");
        }
        assert!(
            url.starts_with("https://cliniko.invalid/v1/patients?"),
            "{url}"
        );
        assert!(
            url.contains("&q[]=id:%3E5&"),
            "an unmarked filter is kept as sent: {url}"
        );
        assert!(url.ends_with("&per_page=10"), "{url}");
        let filters: Vec<String> =
            url::form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes())
                .filter(|(key, _)| key == "q[]")
                .map(|(_, value)| value.into_owned())
                .collect();
        assert_eq!(
            filters,
            [
                format!("last_name:={NAME_PLACEHOLDER}"),
                "id:>5".to_owned(),
                // The patient's email is patterned: its placeholder is the spec's example.
                format!(
                    "email:~{}",
                    placeholder_for("email", "ada@example.com").unwrap()
                ),
                format!("date_of_birth:={DATE_PLACEHOLDER}"),
            ]
        );
        // Nothing marked, nothing rewritten: the URL stays byte for byte.
        let plain = "http://127.0.0.1:9/v1/attendees?q%5B%5D=id%3A%3E5&page=2";
        assert_eq!(
            scrubber.exchange(&exchange(plain)).request.url,
            "https://cliniko.invalid/v1/attendees?q%5B%5D=id%3A%3E5&page=2"
        );
    }

    /// Every property the spec marks, in whatever schema, is replaced by a placeholder that is
    /// still valid for its format; unmarked neighbours and nested records are walked, not lost.
    #[test]
    fn every_property_the_spec_marks_is_scrubbed_with_a_placeholder_of_its_format() {
        let spec = cliniko_spec::Spec::embedded().expect("the spec loads");
        let marks = spec.marks().expect("well-formed marks");
        assert!(!marks.is_empty(), "the spec marks personal data");
        let scrubber = Scrubber::new("");
        for mark in &marks {
            // A value of the property's own format, as Cliniko would send it.
            let secret = match mark.format.as_deref() {
                Some("uri") => "https://ada.au1.cliniko.com/appointments/7/connect",
                Some("date") => "1815-12-10",
                Some("date-time") => "1815-12-10T08:00:00Z",
                Some("ipv4") => "10.1.2.3",
                Some("email") => "ada@lovelace.example",
                _ => "Ada Lovelace, 12 Private St",
            };
            let mut value = json!({
                "id": "1",
                "page": [{ (mark.property.as_str()): secret, "untouched": secret }],
            });
            scrubber.value(&mut value);
            let scrubbed = &value["page"][0][mark.property.as_str()];
            assert_ne!(
                scrubbed, secret,
                "{} at {} kept its value",
                mark.property, mark.pointer
            );
            let expected = match mark.format.as_deref() {
                _ if mark.pattern_example.is_some() => {
                    mark.pattern_example.as_deref().unwrap_or_default()
                }
                Some("uri") => CAPABILITY_URL_PLACEHOLDER,
                Some("date") => DATE_PLACEHOLDER,
                Some("date-time") => DATE_TIME_PLACEHOLDER,
                Some("ipv4") => IP_PLACEHOLDER,
                Some("email") => EMAIL_PLACEHOLDER,
                _ => scrubbed.as_str().unwrap_or_default(),
            };
            assert_eq!(scrubbed, expected, "{} at {}", mark.property, mark.pointer);
            assert_eq!(
                value["page"][0]["untouched"], secret,
                "an unmarked property is kept"
            );
        }
    }
}
