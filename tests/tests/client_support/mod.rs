//! What the client's end-to-end tests share: a fake Cliniko and a client pointed at it.

use std::time::Duration;

use cliniko_client::{Client, RetryPolicy};
use cliniko_fake::FakeCliniko;

/// The key every fake accepts in these tests; shaped like a real one so that a leak is findable.
pub const API_KEY: &str = "MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-au2";
/// A `User-Agent` of the form Cliniko asks for.
pub const USER_AGENT: &str = "Cliniko client tests (tests@example.com)";

/// A fake with `attendees` seeded attendees and no rate limit.
pub async fn fake(attendees: usize) -> FakeCliniko {
    FakeCliniko::builder()
        .api_key(API_KEY)
        .seed(42)
        .attendees(attendees)
        .rate_limit_per_minute(None)
        .start()
        .await
        .expect("the fake starts")
}

/// Short backoffs, so that retries do not slow the tests down.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(10))
}

/// A client for `server` with fast retries.
pub fn client(server: &FakeCliniko) -> Client {
    Client::builder(API_KEY, USER_AGENT)
        .base_url(server.base_url())
        .retry(fast_retries())
        .build()
        .expect("the client builds")
}
