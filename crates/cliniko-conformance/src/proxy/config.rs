//! The proxy's configuration: its options, why it could not start, and the upstream it forwards to.

use std::net::SocketAddr;
use std::path::PathBuf;

/// How to run a [`Proxy`].
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Where to listen (default `127.0.0.1:8080`); port 0 picks a free port.
    pub listen: SocketAddr,
    /// The upstream's base URL, with its `/v1` (`https://api.au1.cliniko.com/v1`).
    pub upstream: String,
    /// Accept a `listen` address that is not loopback; off by default, since whoever reaches the
    /// proxy can use the API keys passing through it.
    pub allow_remote: bool,
    /// Write each exchange, scrubbed, as a recording in this directory.
    pub record_dir: Option<PathBuf>,
}

impl ProxyOptions {
    /// Options that forward to `upstream`, listening on `127.0.0.1:8080` and recording nothing.
    pub fn new(upstream: impl Into<String>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            upstream: upstream.into(),
            allow_remote: false,
            record_dir: None,
        }
    }
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The listen address is not loopback and remote clients were not allowed.
    #[error(
        "refusing to listen on {addr}, which is not a loopback address: whoever reaches the proxy can use the API keys passing through it; allow remote clients explicitly (--allow-remote) to do it anyway"
    )]
    RemoteListen {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The upstream URL cannot be used. The URL itself is not repeated, as it might hold a secret.
    #[error("invalid upstream URL: {reason}")]
    Upstream {
        /// What is wrong with it.
        reason: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// The TLS client for the upstream could not be set up.
    #[error("cannot set up TLS for the upstream: {0}")]
    Tls(String),
    /// The recording directory could not be created.
    #[error("cannot create the recording directory {path}: {source}")]
    RecordDir {
        /// The directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A checker thread could not be started.
    #[error("cannot start a checker thread: {0}")]
    Thread(#[source] std::io::Error),
    /// SIGINT or SIGTERM could not be waited for.
    #[error("cannot wait for SIGINT or SIGTERM: {0}")]
    Signal(#[source] std::io::Error),
}

/// The upstream, split the way the proxy uses it.
#[derive(Debug, Clone)]
pub(super) struct Upstream {
    /// `https://api.au1.cliniko.com` (no trailing slash).
    pub(super) origin: String,
    /// `/v1`, or empty when the upstream URL has no path.
    pub(super) base_path: String,
}

pub(super) fn parse_upstream(text: &str) -> Result<Upstream, ProxyError> {
    let invalid = |reason: &str| ProxyError::Upstream {
        reason: reason.to_owned(),
    };
    let url = url::Url::parse(text).map_err(|error| ProxyError::Upstream {
        reason: error.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "it must not hold credentials; the app's own Authorization header is forwarded",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or a fragment"));
    }
    Ok(Upstream {
        origin: url.origin().ascii_serialization(),
        base_path: url.path().trim_end_matches('/').to_owned(),
    })
}
