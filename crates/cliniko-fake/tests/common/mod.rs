//! A harness for the fake's behaviour tests: a server, a client that sends Cliniko's headers,
//! and a conformance check of every answer against the spec.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use base64::Engine as _;
use cliniko_conformance::{CheckOptions, Checker, recording_from_value};
use cliniko_fake::{FakeCliniko, FakeClinikoBuilder};
use reqwest::Method;
use serde_json::{Value, json};

pub const KEY: &str = "fake-key-au1";
pub const USER_AGENT: &str = "Fake tests (tests@cliniko-fake.example)";

/// One answer, as received.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `message` of an error body.
    pub fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// A running fake, a client for it, and the spec checker.
pub struct Harness {
    pub server: FakeCliniko,
    pub client: reqwest::Client,
    checker: Checker,
}

pub fn builder() -> FakeClinikoBuilder {
    FakeCliniko::builder()
        .api_key(KEY)
        .seed(7)
        .attendees(300)
        .rate_limit_per_minute(None)
}

pub fn basic(key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))
    )
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(builder()).await
    }

    pub async fn with(builder: FakeClinikoBuilder) -> Self {
        let server = builder.start().await.expect("the fake starts");
        let spec = cliniko_spec::Spec::embedded().expect("the spec loads");
        let checker = Checker::new(
            &spec,
            CheckOptions {
                strict: true,
                round_trip: true,
            },
        )
        .expect("the checker compiles");
        Self {
            server,
            client: reqwest::Client::new(),
            checker,
        }
    }

    /// The URL of a path under `/v1`, such as `/attendees?page=2`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    /// Sends with the right key and User-Agent and checks the answer against the spec.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let request = self
            .client
            .request(method.clone(), self.url(path))
            .header("authorization", basic(KEY))
            .header("user-agent", USER_AGENT)
            .header("accept", "application/json");
        let request = match &body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(body.to_string()),
            None => request,
        };
        self.checked(method, path, request).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    /// Sends a request built by the test (to get headers or bodies wrong) and checks the answer.
    pub async fn checked(
        &self,
        method: Method,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> Answer {
        let answer = send(request).await;
        self.assert_conforms(method.as_str(), path, &answer);
        answer
    }

    pub fn assert_conforms(&self, method: &str, path: &str, answer: &Answer) {
        let headers: serde_json::Map<String, Value> = answer
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    json!(value.to_str().unwrap_or_default()),
                )
            })
            .collect();
        let body = if answer.text.is_empty() {
            Value::Null
        } else {
            json!(answer.text)
        };
        let recording = json!({
            "request": { "method": method, "url": format!("/v1{path}") },
            "response": { "status": answer.status, "headers": headers, "body": body },
        });
        let exchanges = recording_from_value(recording, "fake").expect("a well-formed exchange");
        let verdict = self.checker.check(&exchanges[0]);
        assert!(
            verdict.violations.is_empty(),
            "{method} {path} answered {} against the spec: {:#?}\nbody: {}",
            answer.status,
            verdict
                .violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            answer.text
        );
        assert!(
            answer
                .header("x-request-id")
                .is_some_and(|id| !id.is_empty()),
            "no X-Request-Id"
        );
    }

    /// The IDs on one page of a list answer.
    pub async fn ids(&self, path: &str) -> Vec<String> {
        let answer = self.get(path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        ids_of(&answer.json())
    }

    /// Every ID over all pages, following `links.next`.
    pub async fn all_ids(&self, path: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut next = Some(self.url(path));
        while let Some(url) = next {
            let relative = url
                .strip_prefix(&self.server.base_url())
                .expect("links point at the fake")
                .to_owned();
            let answer = self.get(&relative).await;
            assert_eq!(answer.status, 200, "{relative}: {}", answer.text);
            let json = answer.json();
            ids.extend(ids_of(&json));
            next = json["links"]["next"].as_str().map(str::to_owned);
        }
        ids
    }
}

pub fn ids_of(list: &Value) -> Vec<String> {
    list["attendees"]
        .as_array()
        .expect("an attendees array")
        .iter()
        .map(|a| a["id"].as_str().expect("string IDs").to_owned())
        .collect()
}

pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("the request gets an answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("the body arrives whole");
    Answer {
        status,
        headers,
        text,
    }
}
