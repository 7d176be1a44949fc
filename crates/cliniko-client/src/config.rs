//! Building a [`Client`]: the API key, the `User-Agent`, the shard or base URL, and the transport.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, USER_AGENT};
use secrecy::{ExposeSecret, SecretString};

use crate::Client;
use crate::policy::{RateLimit, RequestPolicy, RetryPolicy};

/// Why a [`Client`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The API key is empty or holds characters no HTTP header may carry.
    #[error("the api key is empty or has characters a header cannot carry")]
    InvalidApiKey,
    /// The key's suffix (after its last `-`) names a shard this client does not know.
    #[error(
        "the api key's suffix{} is not a shard this client knows; pass the shard or the base url explicitly",
        shard.as_ref().map(|shard| format!(" {shard:?}")).unwrap_or_default()
    )]
    UnknownShard {
        /// The suffix, when it looks like a shard name (otherwise it may be part of the secret).
        shard: Option<String>,
    },
    /// The `User-Agent` is not `Name (email)`.
    #[error(
        "the user-agent must read `Name (email)`, as in `Really helpful app (devs@helpfulapp.com)`"
    )]
    InvalidUserAgent,
    /// The base URL does not parse, or is not http(s). The URL is not repeated: it could hold a
    /// credential.
    #[error("invalid base url: {reason}")]
    InvalidBaseUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// reqwest could not build its client (for example, no TLS roots).
    #[error("could not build the http client")]
    Http(#[source] reqwest::Error),
}

/// A Cliniko API key. It never appears in `Debug` output, and has no `Display`.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Wraps a key. A key is visible ASCII without spaces.
    pub fn new(key: impl Into<String>) -> Result<Self, ConfigError> {
        let key: String = key.into();
        if key.is_empty() || !key.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(ConfigError::InvalidApiKey);
        }
        Ok(Self(SecretString::from(key)))
    }

    /// The shard the key belongs to: its suffix after the last `-`, or `au1` when it has none.
    pub fn shard(&self) -> Result<Shard, ConfigError> {
        let key = self.0.expose_secret();
        let Some((_, suffix)) = key.rsplit_once('-') else {
            return Ok(Shard::Au1);
        };
        suffix.parse().map_err(|_| ConfigError::UnknownShard {
            // Only a suffix shaped like a shard name is echoed: anything else may be secret.
            shard: looks_like_a_shard(suffix).then(|| suffix.to_owned()),
        })
    }

    /// The value of the `Authorization` header: HTTP Basic, the key as user, an empty password.
    fn authorization(&self) -> Result<HeaderValue, ConfigError> {
        let credentials = STANDARD.encode(format!("{}:", self.0.expose_secret()));
        let mut value = HeaderValue::from_str(&format!("Basic {credentials}"))
            .map_err(|_| ConfigError::InvalidApiKey)?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

fn looks_like_a_shard(suffix: &str) -> bool {
    (2..=6).contains(&suffix.len())
        && suffix.bytes().take_while(u8::is_ascii_lowercase).count() >= 2
        && suffix
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
}

/// A Cliniko shard: the data centre an account lives in, named by the API key's suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Shard {
    Au1,
    Au2,
    Au3,
    Au4,
    Ca1,
    Uk1,
    Uk2,
    Eu1,
}

impl Shard {
    /// Every shard Cliniko documents.
    pub const ALL: [Self; 8] = [
        Self::Au1,
        Self::Au2,
        Self::Au3,
        Self::Au4,
        Self::Ca1,
        Self::Uk1,
        Self::Uk2,
        Self::Eu1,
    ];

    /// The shard's name, as in the API key and the host name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Au1 => "au1",
            Self::Au2 => "au2",
            Self::Au3 => "au3",
            Self::Au4 => "au4",
            Self::Ca1 => "ca1",
            Self::Uk1 => "uk1",
            Self::Uk2 => "uk2",
            Self::Eu1 => "eu1",
        }
    }

    /// The API's base URL on this shard, `https://api.{shard}.cliniko.com/v1`.
    pub fn base_url(self) -> String {
        format!("https://api.{}.cliniko.com/v1", self.as_str())
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a shard Cliniko documents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown shard {0:?}")]
pub struct UnknownShard(String);

impl FromStr for Shard {
    type Err = UnknownShard;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|shard| shard.as_str() == text)
            .ok_or_else(|| UnknownShard(text.to_owned()))
    }
}

/// The spec's pattern for `User-Agent` (`#/components/parameters/UserAgent`): a name, then an
/// email in parentheses. A cross-crate test keeps it equal to the spec's.
pub const USER_AGENT_PATTERN: &str = r"^\S.* \([^\s()@]+@[^\s()@]+\.[^\s()@]+\)$";

/// Who is calling, as Cliniko requires: `APP_VENDOR_NAME (APP_VENDOR_EMAIL)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAgent(HeaderValue);

impl UserAgent {
    /// Checks the form `Name (email)` (the spec's pattern) and that a header can carry it.
    pub fn new(text: &str) -> Result<Self, ConfigError> {
        static PATTERN: LazyLock<regress::Regex> = LazyLock::new(|| {
            regress::Regex::new(USER_AGENT_PATTERN).expect("the pattern compiles")
        });
        if PATTERN.find(text).is_none() {
            return Err(ConfigError::InvalidUserAgent);
        }
        HeaderValue::from_str(text)
            .map(Self)
            .map_err(|_| ConfigError::InvalidUserAgent)
    }

    /// The header's text.
    pub fn as_str(&self) -> &str {
        // `new` accepted only text that `HeaderValue::from_str` took, which is visible ASCII.
        self.0.to_str().unwrap_or_default()
    }
}

/// How a [`Client`] is built. Start with [`Client::builder`].
///
/// ```
/// use std::time::Duration;
/// use cliniko_client::{Client, RateLimit, RetryPolicy};
///
/// let client = Client::builder("MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-au2", "Really helpful app (devs@helpfulapp.com)")
///     .timeout(Duration::from_secs(30))
///     .rate_limit(RateLimit::CLINIKO)
///     .retry(RetryPolicy::default().max_retries(5))
///     .build()?;
/// assert_eq!(client.base_url(), "https://api.au2.cliniko.com/v1");
/// # Ok::<(), cliniko_client::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    user_agent: String,
    base_url: Option<String>,
    shard: Option<Shard>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    rate_limit: Option<RateLimit>,
}

impl ClientBuilder {
    pub(crate) fn new(api_key: impl Into<String>, user_agent: impl Into<String>) -> Self {
        Self {
            api_key: ApiKey::new(api_key).ok(),
            user_agent: user_agent.into(),
            base_url: None,
            shard: None,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            rate_limit: None,
        }
    }

    /// Talks to this base URL instead of the key's shard: a fake server, a proxy, a test double.
    /// It should end in `/v1`, as in `http://127.0.0.1:8080/v1`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Uses this shard whatever the key's suffix says.
    pub fn shard(mut self, shard: Shard) -> Self {
        self.shard = Some(shard);
        self
    }

    /// The longest a whole request may take, body included (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest opening a connection may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How requests are retried (default [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Paces requests on the client's side, shared by all clones of the client (off by default).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Checks everything and builds the client.
    pub fn build(self) -> Result<Client, ConfigError> {
        let api_key = self.api_key.ok_or(ConfigError::InvalidApiKey)?;
        let user_agent = UserAgent::new(&self.user_agent)?;
        let base_url = match (self.base_url, self.shard) {
            (Some(url), _) => parse_base_url(&url)?,
            (None, Some(shard)) => shard.base_url(),
            (None, None) => api_key.shard()?.base_url(),
        };
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, api_key.authorization()?);
        headers.insert(USER_AGENT, user_agent.0);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .tls_version_min(reqwest::tls::Version::TLS_1_2)
            // Following a redirect to another host would hand it the key.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ConfigError::Http)?;
        Ok(Client::new_with_client(
            &base_url,
            http,
            RequestPolicy::new(self.retry, self.rate_limit),
        ))
    }
}

/// An http(s) URL without a trailing `/`, so that the generated `{base}/attendees` is right.
fn parse_base_url(url: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidBaseUrl {
        reason: reason.to_owned(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|error| invalid(&error.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("only http and https are supported"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("a base url has no query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("credentials go in the api key, not the url"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UA: &str = "Really helpful app (devs@helpfulapp.com)";

    #[test]
    fn the_documented_key_gives_the_documented_header() {
        let key = ApiKey::new("MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-au2").expect("a valid key");
        let header = key.authorization().expect("a header");
        assert_eq!(
            header.to_str().expect("ascii"),
            "Basic TXhKclpYa2lPaUkxTmpkMWFtSm1aVFExTnlKOS1hdTI6"
        );
        assert!(header.is_sensitive());
        assert_eq!(key.shard().expect("a shard"), Shard::Au2);
    }

    #[test]
    fn a_key_without_suffix_is_au1() {
        assert_eq!(
            ApiKey::new("MxJrZXkiOiI1Njd1amJmZTQ1NyJ9")
                .and_then(|key| key.shard())
                .expect("au1"),
            Shard::Au1
        );
    }

    #[test]
    fn every_documented_shard_is_known() {
        for shard in Shard::ALL {
            let key = ApiKey::new(format!("secret-{shard}")).expect("a valid key");
            assert_eq!(key.shard().expect("known"), shard);
            assert_eq!(
                shard.base_url(),
                format!("https://api.{shard}.cliniko.com/v1")
            );
        }
    }

    #[test]
    fn an_unknown_shard_is_an_error_that_echoes_only_shard_like_suffixes() {
        let error = ApiKey::new("secret-zz9")
            .and_then(|key| key.shard())
            .expect_err("unknown");
        assert!(
            matches!(&error, ConfigError::UnknownShard { shard: Some(shard) } if shard == "zz9")
        );
        assert_eq!(
            error.to_string(),
            "the api key's suffix \"zz9\" is not a shard this client knows; \
             pass the shard or the base url explicitly"
        );
        let error = ApiKey::new("abc-SuperSecretTail")
            .and_then(|key| key.shard())
            .expect_err("unknown");
        assert!(matches!(error, ConfigError::UnknownShard { shard: None }));
        assert!(!error.to_string().contains("SuperSecretTail"));
        let error = Client::builder("secret-zz9", UA)
            .build()
            .expect_err("unknown shard");
        assert!(matches!(error, ConfigError::UnknownShard { .. }));
    }

    #[test]
    fn a_base_url_override_wins_over_the_shard() {
        let client = Client::builder("fake-api-key", UA)
            .base_url("http://127.0.0.1:9/v1/")
            .build()
            .expect("built");
        assert_eq!(client.base_url(), "http://127.0.0.1:9/v1");
        let client = Client::builder("secret", UA)
            .shard(Shard::Uk2)
            .build()
            .expect("built");
        assert_eq!(client.base_url(), "https://api.uk2.cliniko.com/v1");
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for url in [
            "not a url",
            "ftp://example.com/v1",
            "https://k:@example.com/v1",
            "https://example.com/v1?x=1",
        ] {
            let error = Client::builder("secret", UA)
                .base_url(url)
                .build()
                .expect_err(url);
            assert!(!error.to_string().contains("k:@"), "{error}");
            assert!(
                matches!(error, ConfigError::InvalidBaseUrl { .. }),
                "{url}: {error:?}"
            );
        }
    }

    #[test]
    fn user_agents_need_a_name_and_an_email() {
        UserAgent::new(UA).expect("the documented example");
        for text in [
            "",
            "Helpful app",
            "Helpful app devs@helpfulapp.com",
            "(devs@helpfulapp.com)",
            "App (not-an-email)",
            "App (a@b.c)\n",
        ] {
            assert!(
                matches!(UserAgent::new(text), Err(ConfigError::InvalidUserAgent)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn keys_with_spaces_or_nothing_are_refused() {
        for key in ["", "has space", "tab\there", "é"] {
            assert!(
                matches!(ApiKey::new(key), Err(ConfigError::InvalidApiKey)),
                "{key:?}"
            );
        }
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let secret = "MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-au2";
        let builder = Client::builder(secret, UA);
        let client = builder.clone().build().expect("built");
        let encoded = STANDARD.encode(format!("{secret}:"));
        for text in [
            format!("{builder:?}"),
            format!("{client:?}"),
            format!("{:?}", ApiKey::new(secret)),
        ] {
            assert!(!text.contains(secret), "{text}");
            assert!(!text.contains("MxJrZXki"), "{text}");
            assert!(!text.contains(&encoded), "{text}");
        }
    }
}
