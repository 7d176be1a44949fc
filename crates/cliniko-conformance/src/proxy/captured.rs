//! An exchange the proxy passed on whole, as it goes from the forwarding to a checker thread.

use bytes::Bytes;

use crate::recording::{Exchange, Headers, RecordedRequest, RecordedResponse};
use crate::sink;

/// Work for the checker threads.
pub(super) enum Job {
    Check(Box<Captured>),
    Stop,
}

/// An exchange as the upstream saw and sent it, complete.
pub(super) struct Captured {
    pub(super) sequence: usize,
    /// The request, its body still to be read from `request_body` (off the forwarding path).
    pub(super) request: RecordedRequest,
    pub(super) request_body: Bytes,
    /// The API key from `Authorization` (for the scrubber), if it held one.
    pub(super) api_key: Option<String>,
    pub(super) status: u16,
    pub(super) headers: Headers,
    pub(super) body: Vec<u8>,
}

impl Captured {
    /// The exchange, its bodies read (on a checker thread, off the forwarding path).
    pub(super) fn into_exchange(self) -> Exchange {
        let mut request = self.request;
        request.body = sink::body(&self.request_body);
        Exchange {
            request,
            response: RecordedResponse {
                status: self.status,
                headers: self.headers,
                body: sink::body(&self.body),
            },
        }
    }

    /// What it holds in bodies, as counted against [`MAX_PENDING_CHECK_BYTES`](super::MAX_PENDING_CHECK_BYTES).
    pub(super) fn bytes(&self) -> usize {
        self.request_body.len() + self.body.len()
    }
}
