//! What both examples share: a client for a real account, or for a local fake.

use std::error::Error;

use cliniko_client::{Client, RateLimit};
use cliniko_fake::FakeCliniko;

/// A client for the account named by `CLINIKO_API_KEY` (paced to Cliniko's rate limit), or, when
/// it is not set, for a local fake Cliniko seeded with `fake_attendees` attendees, returned too so
/// that the example can read its IDs and shut it down.
pub async fn connect(
    fake_attendees: usize,
) -> Result<(Client, Option<FakeCliniko>), Box<dyn Error>> {
    if let Ok(key) = std::env::var("CLINIKO_API_KEY") {
        let user_agent = std::env::var("CLINIKO_USER_AGENT")
            .map_err(|_| "set CLINIKO_USER_AGENT to `Your app (you@example.com)`")?;
        let mut builder = Client::builder(key, user_agent).rate_limit(RateLimit::CLINIKO);
        if let Ok(base_url) = std::env::var("CLINIKO_BASE_URL") {
            builder = builder.base_url(base_url);
        }
        return Ok((builder.build()?, None));
    }
    eprintln!("CLINIKO_API_KEY is not set: using a local fake Cliniko");
    let fake = FakeCliniko::builder()
        .api_key("fake-api-key")
        .seed(1)
        .attendees(fake_attendees)
        .start()
        .await?;
    let client = Client::builder(
        "fake-api-key",
        "Cliniko client example (examples@example.com)",
    )
    .base_url(fake.base_url())
    .build()?;
    Ok((client, Some(fake)))
}
