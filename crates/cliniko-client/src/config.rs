//! Building a [`Client`]: the API key, the `User-Agent`, the shard or base URL, and the transport.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cliniko_types::facts;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, USER_AGENT};
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
    /// The key's suffix (after its last `-`) is not a shard name.
    #[error(
        "the api key's suffix{} is not a shard name; pass the shard or the base url explicitly",
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
    /// The base URL is plain `http` to a host that is not loopback: the API key would travel in
    /// clear text.
    #[error(
        "the base url uses plain http to a host that is not loopback, which would send the api key in clear text; use https"
    )]
    InsecureBaseUrl,
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
            return Ok(Shard::default_shard());
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
///
/// Cliniko opens new shards from time to time, so any name that matches the spec's pattern
/// ([`facts::SHARD_PATTERN`], two letters then digits) is a shard; the documented ones are
/// constants.
///
/// ```
/// use cliniko_client::Shard;
///
/// assert_eq!("au2".parse::<Shard>()?, Shard::AU2);
/// let newer: Shard = "uk3".parse()?;
/// assert_eq!(newer.base_url(), "https://api.uk3.cliniko.com/v1");
/// assert!("not a shard".parse::<Shard>().is_err());
/// # Ok::<(), cliniko_client::UnknownShard>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Shard(Cow<'static, str>);

impl Shard {
    /// Australia 1, the shard of keys without a suffix.
    pub const AU1: Self = Self(Cow::Borrowed("au1"));
    /// Australia 2.
    pub const AU2: Self = Self(Cow::Borrowed("au2"));
    /// Australia 3.
    pub const AU3: Self = Self(Cow::Borrowed("au3"));
    /// Australia 4.
    pub const AU4: Self = Self(Cow::Borrowed("au4"));
    /// Canada 1.
    pub const CA1: Self = Self(Cow::Borrowed("ca1"));
    /// United Kingdom 1.
    pub const UK1: Self = Self(Cow::Borrowed("uk1"));
    /// United Kingdom 2.
    pub const UK2: Self = Self(Cow::Borrowed("uk2"));
    /// Europe 1.
    pub const EU1: Self = Self(Cow::Borrowed("eu1"));

    /// The shards the spec documents ([`facts::DOCUMENTED_SHARDS`]).
    pub fn documented() -> impl Iterator<Item = Self> {
        facts::DOCUMENTED_SHARDS
            .iter()
            .map(|name| Self(Cow::Borrowed(name)))
    }

    /// The shard of keys without a suffix ([`facts::DEFAULT_SHARD`]).
    pub fn default_shard() -> Self {
        Self(Cow::Borrowed(facts::DEFAULT_SHARD))
    }

    /// The shard's name, as in the API key and the host name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The API's base URL on this shard, `https://api.{shard}.cliniko.com/v1`.
    pub fn base_url(&self) -> String {
        facts::SERVER_URL_TEMPLATE.replace("{shard}", self.as_str())
    }
}

impl fmt::Debug for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Shard({})", self.as_str())
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a shard name: it does not match the spec's pattern (two letters, digits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a shard name; a shard is two letters and a number, such as au1")]
pub struct UnknownShard(String);

impl FromStr for Shard {
    type Err = UnknownShard;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        static PATTERN: LazyLock<Option<regress::Regex>> =
            LazyLock::new(|| regress::Regex::new(facts::SHARD_PATTERN).ok());
        if let Some(known) = Self::documented().find(|shard| shard.as_str() == text) {
            return Ok(known);
        }
        match &*PATTERN {
            Some(pattern) if pattern.find(text).is_some() => Ok(Self(Cow::Owned(text.to_owned()))),
            _ => Err(UnknownShard(text.to_owned())),
        }
    }
}

/// The spec's pattern for `User-Agent` (`#/components/parameters/UserAgent`): a name, then an
/// email in parentheses ([`facts::USER_AGENT_PATTERN`]).
pub const USER_AGENT_PATTERN: &str = facts::USER_AGENT_PATTERN;

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
#[derive(Clone)]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    user_agent: String,
    base_url: Option<String>,
    shard: Option<Shard>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    rate_limit: Option<RateLimit>,
    customise_http: Option<Arc<HttpCustomisation>>,
}

/// A change to the reqwest builder, applied last by [`ClientBuilder::customise_http`].
type HttpCustomisation = dyn Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync;

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key)
            .field("user_agent", &self.user_agent)
            .field("shard", &self.shard)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .field("customise_http", &self.customise_http.is_some())
            .finish_non_exhaustive()
    }
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
            customise_http: None,
        }
    }

    /// Talks to this base URL instead of the key's shard: a fake server, a proxy, a test double.
    /// It should end in `/v1`, as in `https://proxy.example.com/cliniko/v1`. Plain `http` is
    /// accepted only for loopback hosts (`http://127.0.0.1:8080/v1`), where the key cannot be
    /// overheard.
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

    /// Changes the reqwest builder before the client is built: proxies, root certificates, DNS,
    /// connection pools. The API key is not in it (the client adds `Authorization` to each of its
    /// own requests), and `User-Agent`, `Accept`, the timeouts and the redirect policy are set
    /// before `customise` runs, so it can change them.
    ///
    /// ```
    /// use std::time::Duration;
    /// use cliniko_client::Client;
    ///
    /// let client = Client::builder("MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-au2", "Really helpful app (devs@helpfulapp.com)")
    ///     .customise_http(|http| http.pool_idle_timeout(Duration::from_secs(30)))
    ///     .build()?;
    /// # Ok::<(), cliniko_client::ConfigError>(())
    /// ```
    pub fn customise_http(
        mut self,
        customise: impl Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync + 'static,
    ) -> Self {
        self.customise_http = Some(Arc::new(customise));
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
        let parsed =
            reqwest::Url::parse(&base_url).map_err(|error| ConfigError::InvalidBaseUrl {
                reason: error.to_string(),
            })?;
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, user_agent.0);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            // Following a redirect to another host would hand it the key.
            .redirect(reqwest::redirect::Policy::none());
        #[cfg(any(feature = "rustls", feature = "native-tls"))]
        let http = http.tls_version_min(reqwest::tls::Version::TLS_1_2);
        let http = match &self.customise_http {
            Some(customise) => customise(http),
            None => http,
        };
        let http = http.build().map_err(ConfigError::Http)?;
        Ok(Client::new_with_client(
            &base_url,
            http,
            RequestPolicy::new(
                self.retry,
                self.rate_limit,
                api_key.authorization()?,
                parsed,
            ),
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
        return Err(invalid(
            "only https (or http to a loopback host) is supported",
        ));
    }
    if parsed.scheme() == "http" && !is_loopback(&parsed) {
        return Err(ConfigError::InsecureBaseUrl);
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("a base url has no query or fragment"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("credentials go in the api key, not the url"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// Whether the URL's host is this machine: `localhost`, 127.0.0.0/8 or `::1`.
fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
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
        assert_eq!(key.shard().expect("a shard"), Shard::AU2);
    }

    #[test]
    fn a_key_without_suffix_is_au1() {
        assert_eq!(
            ApiKey::new("MxJrZXkiOiI1Njd1amJmZTQ1NyJ9")
                .and_then(|key| key.shard())
                .expect("au1"),
            Shard::AU1
        );
    }

    #[test]
    fn every_documented_shard_is_known() {
        let constants = [
            Shard::AU1,
            Shard::AU2,
            Shard::AU3,
            Shard::AU4,
            Shard::CA1,
            Shard::UK1,
            Shard::UK2,
            Shard::EU1,
        ];
        assert_eq!(Shard::documented().collect::<Vec<_>>(), constants);
        assert_eq!(Shard::default_shard(), Shard::AU1);
        for shard in Shard::documented() {
            let key = ApiKey::new(format!("secret-{shard}")).expect("a valid key");
            assert_eq!(key.shard().expect("known"), shard);
            assert_eq!(
                shard.base_url(),
                format!("https://api.{shard}.cliniko.com/v1")
            );
        }
    }

    #[test]
    fn a_new_shard_is_accepted_and_a_non_shard_suffix_is_refused_without_echoing_it() {
        let shard = ApiKey::new("secret-zz9")
            .and_then(|key| key.shard())
            .expect("any shard that matches the pattern");
        assert_eq!(shard.as_str(), "zz9");
        assert_eq!(shard.base_url(), "https://api.zz9.cliniko.com/v1");
        let error = ApiKey::new("secret-Zz9x")
            .and_then(|key| key.shard())
            .expect_err("not a shard");
        assert_eq!(
            error.to_string(),
            "the api key's suffix is not a shard name; pass the shard or the base url explicitly"
        );
        let error = ApiKey::new("abc-SuperSecretTail")
            .and_then(|key| key.shard())
            .expect_err("unknown");
        assert!(matches!(error, ConfigError::UnknownShard { shard: None }));
        assert!(!error.to_string().contains("SuperSecretTail"));
        let error = Client::builder("secret-SuperSecretTail", UA)
            .build()
            .expect_err("not a shard");
        assert!(matches!(error, ConfigError::UnknownShard { .. }));
        assert!("au".parse::<Shard>().is_err());
        assert!("au1 ".parse::<Shard>().is_err());
    }

    #[test]
    fn plain_http_is_only_for_loopback() {
        for url in [
            "http://127.0.0.1:9/v1",
            "http://127.8.0.1/v1",
            "http://localhost:8080/v1",
            "http://[::1]:8080/v1",
            "https://proxy.example.com/cliniko/v1",
        ] {
            Client::builder("secret", UA)
                .base_url(url)
                .build()
                .unwrap_or_else(|error| panic!("{url}: {error}"));
        }
        for url in [
            "http://api.au1.cliniko.com/v1",
            "http://10.0.0.8/v1",
            "http://[2001:db8::1]/v1",
            "http://localhost.evil.example/v1",
        ] {
            let error = Client::builder("secret", UA)
                .base_url(url)
                .build()
                .expect_err(url);
            assert!(
                matches!(error, ConfigError::InsecureBaseUrl),
                "{url}: {error:?}"
            );
            assert!(error.to_string().contains("use https"), "{error}");
        }
    }

    #[test]
    fn a_base_url_override_wins_over_the_shard() {
        let client = Client::builder("fake-api-key", UA)
            .base_url("http://127.0.0.1:9/v1/")
            .build()
            .expect("built");
        assert_eq!(client.base_url(), "http://127.0.0.1:9/v1");
        let client = Client::builder("secret", UA)
            .shard(Shard::UK2)
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
