//! Pagination: a [`Stream`] of attendees that follows `links.next`, one page in memory at a time.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use cliniko_types::{Attendee, AttendeeList};
use futures::Stream;
use progenitor_client::ClientInfo as _;
use reqwest::{StatusCode, Url};

use crate::{Client, Error, builder};

type PageFuture<'a> = Pin<Box<dyn Future<Output = Result<AttendeeList, Error>> + Send + 'a>>;

/// A request for the first page of a list route: any of the generated list builders, with its
/// path ID, `per_page`, `q[]` and `sort` already set.
pub trait ListRequest<'a>: sealed::Sealed + Send + 'a {
    /// Sends the request for the first page.
    fn first_page(self) -> impl Future<Output = Result<AttendeeList, Error>> + Send + 'a;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! list_request {
    ($($builder:ident),*) => {
        $(
            impl sealed::Sealed for builder::$builder<'_> {}

            impl<'a> ListRequest<'a> for builder::$builder<'a> {
                fn first_page(self) -> impl Future<Output = Result<AttendeeList, Error>> + Send + 'a {
                    async move { Ok(self.send().await?.into_inner()) }
                }
            }
        )*
    };
}

list_request!(
    ListAttendees,
    ListDeletedAttendees,
    ListCancelledAttendees,
    ListGroupAppointmentAttendees,
    ListIndividualAppointmentAttendees,
    ListPatientCaseAttendees
);

impl Client {
    /// Streams every attendee the list request matches, following `links.next` page by page.
    ///
    /// Only one page is held at a time. The page size is the request's `per_page` (Cliniko's
    /// default is 50, its most 100); [`AttendeeStream::limit`] stops early. A `next` link that
    /// does not move forward, or that leaves the client's host, ends the stream with
    /// [`Error::InvalidNextLink`] rather than looping or sending the API key elsewhere.
    ///
    /// ```no_run
    /// # async fn run(client: cliniko_client::Client) -> cliniko_client::Result<()> {
    /// use futures::TryStreamExt as _;
    ///
    /// let mut attendees = client.stream_attendees(client.list_attendees().per_page(100)).limit(500);
    /// while let Some(attendee) = attendees.try_next().await? {
    ///     println!("{}", attendee.id);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_attendees<'a>(&'a self, request: impl ListRequest<'a>) -> AttendeeStream<'a> {
        AttendeeStream {
            client: self,
            fetching: Some(Box::pin(request.first_page())),
            next: None,
            page: Vec::new().into_iter(),
            page_number: None,
            remaining: None,
            finished: false,
        }
    }
}

/// The attendees of a list route, page after page. Made by [`Client::stream_attendees`].
#[must_use = "a stream does nothing until polled"]
pub struct AttendeeStream<'a> {
    client: &'a Client,
    fetching: Option<PageFuture<'a>>,
    next: Option<String>,
    page: std::vec::IntoIter<Attendee>,
    /// The `page` of the last page fetched, which each `next` must exceed.
    page_number: Option<u64>,
    remaining: Option<u64>,
    finished: bool,
}

impl std::fmt::Debug for AttendeeStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttendeeStream")
            .field("next", &self.next)
            .field("buffered", &self.page.len())
            .field("remaining", &self.remaining)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl AttendeeStream<'_> {
    /// Stops after `count` attendees, without fetching pages beyond them.
    pub fn limit(mut self, count: u64) -> Self {
        self.remaining = Some(count);
        self
    }

    /// Takes a fetched page: its attendees, and its `next` link once checked.
    fn accept(&mut self, list: AttendeeList) {
        if self.page_number.is_none() {
            self.page_number = Some(page_of(&list.links.self_).unwrap_or(1));
        }
        self.page = list.attendees.into_iter();
        self.next = list.links.next;
    }

    /// Checks a `next` link before it is followed: same origin as the client, and a later page.
    fn check_next(&mut self, next: &str) -> Result<(), Error> {
        let invalid = |reason| Error::InvalidNextLink {
            reason,
            url: next.to_owned(),
        };
        let url = Url::parse(next).map_err(|_| invalid("it is not a url"))?;
        let base = Url::parse(self.client.baseurl())
            .map_err(|_| invalid("the client's base url does not parse"))?;
        if url.origin() != base.origin() || !url.path().starts_with(base.path()) {
            return Err(invalid("it leaves the client's base url"));
        }
        let page = page_of(next).ok_or_else(|| invalid("it has no page number"))?;
        if self.page_number.is_some_and(|current| page <= current) {
            return Err(invalid(
                "it does not move forward, so pagination would loop",
            ));
        }
        self.page_number = Some(page);
        Ok(())
    }
}

impl Stream for AttendeeStream<'_> {
    type Item = Result<Attendee, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.finished || this.remaining == Some(0) {
                return Poll::Ready(None);
            }
            if let Some(attendee) = this.page.next() {
                if let Some(remaining) = &mut this.remaining {
                    *remaining -= 1;
                }
                return Poll::Ready(Some(Ok(attendee)));
            }
            if let Some(fetching) = &mut this.fetching {
                let outcome = ready!(fetching.as_mut().poll(cx));
                this.fetching = None;
                match outcome {
                    Ok(list) => this.accept(list),
                    Err(error) => {
                        this.finished = true;
                        return Poll::Ready(Some(Err(error)));
                    }
                }
                continue;
            }
            let Some(next) = this.next.take() else {
                this.finished = true;
                return Poll::Ready(None);
            };
            if let Err(error) = this.check_next(&next) {
                this.finished = true;
                return Poll::Ready(Some(Err(error)));
            }
            this.fetching = Some(Box::pin(fetch_page(this.client, next)));
        }
    }
}

/// Fetches the page a `next` link names, under the client's request policy.
async fn fetch_page(client: &Client, url: String) -> Result<AttendeeList, Error> {
    let request = client.client().get(url).build().map_err(Error::Transport)?;
    let response = client
        .inner()
        .execute(client.client(), request, "list_attendees_next_page")
        .await
        .map_err(Error::Transport)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(Error::Transport)?;
    if status != StatusCode::OK {
        return Err(Error::from_response(status, &headers, &body));
    }
    serde_json::from_slice(&body).map_err(|source| Error::InvalidPayload { source })
}

/// The `page` query parameter of a link.
fn page_of(link: &str) -> Option<u64> {
    let url = Url::parse(link).ok()?;
    url.query_pairs()
        .find(|(name, _)| name == "page")
        .and_then(|(_, value)| value.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_number_is_read_from_the_link() {
        assert_eq!(
            page_of("https://api.au1.cliniko.com/v1/attendees?page=3&per_page=100"),
            Some(3)
        );
        assert_eq!(
            page_of("https://api.au1.cliniko.com/v1/attendees?per_page=100&page=12"),
            Some(12)
        );
        assert_eq!(page_of("https://api.au1.cliniko.com/v1/attendees"), None);
        assert_eq!(page_of("not a link"), None);
    }

    fn stream(client: &Client) -> AttendeeStream<'_> {
        let mut stream = client.stream_attendees(client.list_attendees());
        stream.fetching = None;
        stream.page_number = Some(2);
        stream
    }

    #[test]
    fn next_links_must_move_forward_on_the_same_host() {
        let client = Client::builder("key", "App (dev@example.com)")
            .base_url("https://api.au1.cliniko.com/v1")
            .build()
            .expect("built");
        let mut attendees = stream(&client);
        attendees
            .check_next("https://api.au1.cliniko.com/v1/attendees?page=3")
            .expect("forward");
        for (link, reason) in [
            ("https://api.au1.cliniko.com/v1/attendees?page=3", "loop"),
            ("https://api.au1.cliniko.com/v1/attendees?page=1", "loop"),
            ("https://evil.example.com/v1/attendees?page=9", "leaves"),
            ("http://api.au1.cliniko.com/v1/attendees?page=9", "leaves"),
            ("https://api.au1.cliniko.com/v2/attendees?page=9", "leaves"),
            ("https://api.au1.cliniko.com/v1/attendees", "no page"),
        ] {
            let error = attendees.check_next(link).expect_err(link);
            assert!(error.to_string().contains(reason), "{link}: {error}");
        }
    }
}
