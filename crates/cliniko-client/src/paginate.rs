//! Pagination: streams of pages and of attendees that follow `links.next` on the configured base
//! URL, own their client (so they can be spawned), and can resume from a [`PageCursor`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use chrono::{DateTime, Utc};
use cliniko_types::facts::{self, Operation, operations};
use cliniko_types::{Attendee, AttendeeList, Id};
use futures::Stream;
use progenitor_client::ClientInfo as _;
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;
use crate::filter::{AttendeeLists, Filter, PatientCaseAttendees, Sort};
use crate::policy::Waits;
use crate::{Client, Error};

/// A list route of attendees.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttendeeRoute {
    /// `GET /attendees`: neither cancelled nor archived (unless a `*` filter brings them in).
    Attendees,
    /// `GET /attendees/cancelled`.
    Cancelled,
    /// `GET /attendees/deleted`: the archived ones.
    Deleted,
    /// `GET /group_appointments/{id}/attendees`.
    GroupAppointment(Id),
    /// `GET /individual_appointments/{id}/attendees`.
    IndividualAppointment(Id),
    /// `GET /patient_cases/{id}/attendees`.
    PatientCase(Id),
}

impl AttendeeRoute {
    /// The spec's operation for the route.
    pub fn operation(&self) -> &'static Operation {
        match self {
            Self::Attendees => &operations::LIST_ATTENDEES,
            Self::Cancelled => &operations::LIST_CANCELLED_ATTENDEES,
            Self::Deleted => &operations::LIST_DELETED_ATTENDEES,
            Self::GroupAppointment(_) => &operations::LIST_GROUP_APPOINTMENT_ATTENDEES,
            Self::IndividualAppointment(_) => &operations::LIST_INDIVIDUAL_APPOINTMENT_ATTENDEES,
            Self::PatientCase(_) => &operations::LIST_PATIENT_CASE_ATTENDEES,
        }
    }

    /// The path under the base URL, such as `/attendees/cancelled`.
    pub fn path(&self) -> String {
        match self {
            Self::GroupAppointment(id) => format!("/group_appointments/{id}/attendees"),
            Self::IndividualAppointment(id) => format!("/individual_appointments/{id}/attendees"),
            Self::PatientCase(id) => format!("/patient_cases/{id}/attendees"),
            other => other.operation().path.to_owned(),
        }
    }
}

/// A filter that fits a list route: [`Filter::attendees`] or [`Filter::patient_case_attendees`].
pub trait ListFilter: sealed::Sealed {
    /// The conditions, or why one cannot be sent.
    #[doc(hidden)]
    fn into_conditions(self) -> Result<Vec<String>, &'static str>;
}

mod sealed {
    pub trait Sealed {}
}

impl sealed::Sealed for Filter<AttendeeLists> {}
impl ListFilter for Filter<AttendeeLists> {
    fn into_conditions(self) -> Result<Vec<String>, &'static str> {
        Filter::into_conditions(self)
    }
}
impl sealed::Sealed for Filter<PatientCaseAttendees> {}
impl ListFilter for Filter<PatientCaseAttendees> {
    fn into_conditions(self) -> Result<Vec<String>, &'static str> {
        Filter::into_conditions(self)
    }
}

/// What to list: a route, a page size, filters and a sort. Owned, so the streams made from it
/// own everything they need.
///
/// ```
/// use cliniko_client::filter::{Filter, Sort, SortField};
/// use cliniko_client::{AttendeeQuery, AttendeeRoute};
///
/// let query = AttendeeQuery::new(AttendeeRoute::Cancelled)
///     .per_page(100)
///     .filter(Filter::attendees().patient_id().eq(7_i64))
///     .sort(Sort::new().asc(SortField::UpdatedAt));
/// # let _ = query;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendeeQuery {
    route: AttendeeRoute,
    per_page: Option<i64>,
    conditions: Vec<String>,
    invalid: Option<String>,
    sort: Option<String>,
}

impl AttendeeQuery {
    /// Every attendee of `route`, with Cliniko's default page size and order.
    pub fn new(route: AttendeeRoute) -> Self {
        Self {
            route,
            per_page: None,
            conditions: Vec::new(),
            invalid: None,
            sort: None,
        }
    }

    /// `GET /attendees`.
    pub fn attendees() -> Self {
        Self::new(AttendeeRoute::Attendees)
    }

    /// How many attendees a page holds, from [`facts::PER_PAGE_MIN`] to [`facts::PER_PAGE_MAX`]
    /// (1 to 100); anything else is refused before a request is sent.
    pub fn per_page(mut self, per_page: i64) -> Self {
        self.per_page = Some(per_page);
        self
    }

    /// Adds the filter's conditions (AND).
    pub fn filter(mut self, filter: impl ListFilter) -> Self {
        match filter.into_conditions() {
            Ok(conditions) => self.conditions.extend(conditions),
            Err(reason) => {
                self.invalid.get_or_insert_with(|| reason.to_owned());
            }
        }
        self
    }

    /// The order of the attendees.
    pub fn sort(mut self, sort: Sort) -> Self {
        self.sort = Some(sort.as_str().to_owned());
        self
    }

    /// The route listed.
    pub fn route(&self) -> &AttendeeRoute {
        &self.route
    }

    /// The cursor of the first page, once the query is checked against the spec.
    pub fn first_page(&self) -> Result<PageCursor, Error> {
        let operation = self.route.operation();
        let invalid =
            |message: String| Error::new(ErrorKind::InvalidRequest(message), Some(operation));
        if let Some(reason) = &self.invalid {
            return Err(invalid(reason.clone()));
        }
        if let Some(per_page) = self.per_page {
            check_per_page(per_page).map_err(invalid)?;
        }
        for condition in &self.conditions {
            let field = condition.split(':').next().unwrap_or_default();
            if operation.filter(field).is_none() {
                return Err(invalid(format!(
                    "{} does not filter on {field}; it filters on {}",
                    operation.id,
                    operation.filter_names()
                )));
            }
        }
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("page", "1");
        if let Some(per_page) = self.per_page {
            query.append_pair("per_page", &per_page.to_string());
        }
        for condition in &self.conditions {
            query.append_pair("q[]", condition);
        }
        if let Some(sort) = &self.sort {
            query.append_pair("sort", sort);
        }
        Ok(PageCursor {
            route: self.route.clone(),
            query: query.finish(),
            page: 1,
        })
    }
}

/// Refuses a `per_page` outside the spec's range, with a message naming the range.
pub(crate) fn check_per_page(per_page: i64) -> Result<(), String> {
    if (facts::PER_PAGE_MIN..=facts::PER_PAGE_MAX).contains(&per_page) {
        return Ok(());
    }
    Err(format!(
        "per_page must be from {} to {}, not {per_page}",
        facts::PER_PAGE_MIN,
        facts::PER_PAGE_MAX
    ))
}

/// Where a page is: its route and query string (`page`, `per_page`, `q[]`, `sort`), independent
/// of the base URL. Save it to resume a stream that failed without reading its pages again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PageCursor {
    route: AttendeeRoute,
    query: String,
    page: u64,
}

impl PageCursor {
    /// The page number, counted from 1.
    pub fn page(&self) -> u64 {
        self.page
    }

    /// The route.
    pub fn route(&self) -> &AttendeeRoute {
        &self.route
    }

    /// The cursor of the page a `links.next` names: its query on this cursor's route. The link's
    /// host is ignored (behind a proxy it names Cliniko, not the proxy); its path must end with
    /// the route's path, and its page must come after this one.
    fn follow(&self, link: &str) -> Result<Self, Error> {
        let invalid = |reason| {
            Error::new(
                ErrorKind::InvalidNextLink {
                    reason,
                    url: link.to_owned(),
                },
                Some(self.route.operation()),
            )
        };
        let url = Url::parse(link).map_err(|_| invalid("it is not a url"))?;
        if !url.path().ends_with(&self.route.path()) {
            return Err(invalid("it names another route"));
        }
        let page = url
            .query_pairs()
            .find(|(name, _)| name == "page")
            .and_then(|(_, value)| value.parse::<u64>().ok())
            .ok_or_else(|| invalid("it has no page number"))?;
        if page <= self.page {
            return Err(invalid(
                "it does not move forward, so pagination would loop",
            ));
        }
        Ok(Self {
            route: self.route.clone(),
            query: url.query().unwrap_or_default().to_owned(),
            page,
        })
    }
}

/// One page of a list route.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AttendeePage {
    /// The attendees on the page.
    pub attendees: Vec<Attendee>,
    /// How many attendees match, over all pages, when the page was read.
    pub total_entries: u64,
    /// This page.
    pub cursor: PageCursor,
    /// The next page, if there is one.
    pub next: Option<PageCursor>,
    /// The server's clock when it answered (its `Date` header).
    pub answered_at: Option<DateTime<Utc>>,
}

/// Fetches one page under the client's request policy.
pub(crate) async fn fetch_page(
    client: &Client,
    cursor: PageCursor,
) -> (Result<AttendeePage, Error>, Waits) {
    let operation = cursor.route.operation();
    let url = format!(
        "{}{}?{}",
        client.baseurl(),
        cursor.route.path(),
        cursor.query
    );
    let request = match client.client().get(url).build() {
        Ok(request) => request,
        Err(error) => return (Err(Error::transport(operation, error)), Waits::default()),
    };
    let path = request.url().path().to_owned();
    let (result, waits) = client
        .inner()
        .execute(client.client(), request, Some(operation))
        .await;
    (read_page(result, operation, &path, cursor).await, waits)
}

async fn read_page(
    result: reqwest::Result<reqwest::Response>,
    operation: &'static Operation,
    path: &str,
    cursor: PageCursor,
) -> Result<AttendeePage, Error> {
    let response = result.map_err(|error| Error::transport(operation, error))?;
    let (head, body) = http::Response::from(response).into_parts();
    let (status, headers) = (head.status, head.headers);
    // The policy read the body whole; this takes it back without copying.
    let body = http_body_util::BodyExt::collect(body)
        .await
        .map_err(|error| Error::transport(operation, error))?
        .to_bytes();
    if status != StatusCode::OK {
        return Err(Error::from_response(
            operation,
            status,
            &headers,
            &body,
            Some(path),
        ));
    }
    // UTF-8 is checked once for the whole body, rather than string by string as `from_slice`
    // does (a tenth of the parse); a body that is not UTF-8 goes to `from_slice` for its error.
    let parsed = match std::str::from_utf8(&body) {
        Ok(text) => serde_json::from_str::<AttendeeList>(text),
        Err(_) => serde_json::from_slice::<AttendeeList>(&body),
    };
    let list = parsed
        .map_err(|source| Error::new(ErrorKind::InvalidPayload { source }, Some(operation)))?;
    let next = match &list.links.next {
        Some(link) => Some(cursor.follow(link)?),
        None => None,
    };
    Ok(AttendeePage {
        attendees: list.attendees,
        total_entries: u64::try_from(list.total_entries).unwrap_or_default(),
        cursor,
        next,
        answered_at: crate::policy::server_date(&headers),
    })
}

/// A page being fetched, owning its clone of the client (so the stream that holds it is `'static`).
pub(crate) type PageFuture =
    Pin<Box<dyn Future<Output = (Result<AttendeePage, Error>, Waits)> + Send>>;

/// Starts fetching the page at `cursor`.
pub(crate) fn start_fetch(client: &Client, cursor: PageCursor) -> PageFuture {
    let client = client.clone();
    Box::pin(async move { fetch_page(&client, cursor).await })
}

impl Client {
    /// Streams the pages of `query`, following `links.next`. The stream owns a clone of the
    /// client, so it can be handed to `tokio::spawn`.
    pub fn attendee_pages(&self, query: &AttendeeQuery) -> AttendeePages {
        match query.first_page() {
            Ok(cursor) => self.resume_attendee_pages(cursor),
            Err(error) => AttendeePages {
                client: self.clone(),
                next: None,
                fetching: None,
                failed: Some(error),
                ended: false,
            },
        }
    }

    /// Streams pages from `cursor` on: the first page not read yet of a stream that failed.
    pub fn resume_attendee_pages(&self, cursor: PageCursor) -> AttendeePages {
        AttendeePages {
            client: self.clone(),
            next: Some(cursor),
            fetching: None,
            failed: None,
            ended: false,
        }
    }

    /// Streams every attendee `query` matches, page by page, one page in memory at a time.
    ///
    /// A `next` link is followed by its query on the configured base URL (so paging works
    /// behind a proxy, and never contacts another host); one that does not move forward ends the
    /// stream with [`ErrorKind::InvalidNextLink`]. After an error, [`AttendeeStream::cursor`] is
    /// the page to resume from with [`Client::resume_attendees`].
    ///
    /// ```no_run
    /// # async fn run(client: cliniko_client::Client) -> cliniko_client::Result<()> {
    /// use cliniko_client::AttendeeQuery;
    /// use futures::TryStreamExt as _;
    ///
    /// let mut attendees = client.stream_attendees(&AttendeeQuery::attendees().per_page(100)).limit(500);
    /// while let Some(attendee) = attendees.try_next().await? {
    ///     println!("{}", attendee.id);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream_attendees(&self, query: &AttendeeQuery) -> AttendeeStream {
        AttendeeStream::new(self.attendee_pages(query))
    }

    /// Streams attendees from `cursor` on.
    pub fn resume_attendees(&self, cursor: PageCursor) -> AttendeeStream {
        AttendeeStream::new(self.resume_attendee_pages(cursor))
    }
}

/// The pages of a list route. Made by [`Client::attendee_pages`].
#[must_use = "a stream does nothing until polled"]
pub struct AttendeePages {
    client: Client,
    /// The page to fetch next (while it is being fetched, too).
    next: Option<PageCursor>,
    fetching: Option<PageFuture>,
    /// An error found before any request, reported on the first poll.
    failed: Option<Error>,
    /// Whether a page failed: the stream has ended, and `next` is the page to resume from.
    ended: bool,
}

impl std::fmt::Debug for AttendeePages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttendeePages")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl AttendeePages {
    /// The page this stream reads next: after an error (which ends the stream), the page that
    /// failed, to resume from with [`Client::resume_attendee_pages`]. `None` once the last page
    /// was read.
    pub fn cursor(&self) -> Option<&PageCursor> {
        self.next.as_ref()
    }
}

impl Stream for AttendeePages {
    type Item = Result<AttendeePage, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(error) = this.failed.take() {
            return Poll::Ready(Some(Err(error)));
        }
        // A failed page ends the stream, rather than being fetched again on the next poll: a
        // caller that collects every item would otherwise repeat a 401 forever. Resume from
        // `cursor()` to try the page again.
        if this.ended {
            return Poll::Ready(None);
        }
        let fetching = match &mut this.fetching {
            Some(fetching) => fetching,
            None => {
                let Some(cursor) = this.next.clone() else {
                    return Poll::Ready(None);
                };
                this.fetching.insert(start_fetch(&this.client, cursor))
            }
        };
        let (outcome, _) = ready!(fetching.as_mut().poll(cx));
        this.fetching = None;
        match &outcome {
            Ok(page) => this.next = page.next.clone(),
            Err(_) => this.ended = true,
        }
        Poll::Ready(Some(outcome))
    }
}

/// The attendees of a list route, page after page. Made by [`Client::stream_attendees`].
#[must_use = "a stream does nothing until polled"]
pub struct AttendeeStream {
    pages: AttendeePages,
    page: std::vec::IntoIter<Attendee>,
    total_entries: Option<u64>,
    remaining: Option<u64>,
    finished: bool,
}

impl std::fmt::Debug for AttendeeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttendeeStream")
            .field("next", &self.pages.next)
            .field("buffered", &self.page.len())
            .field("remaining", &self.remaining)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl AttendeeStream {
    fn new(pages: AttendeePages) -> Self {
        Self {
            pages,
            page: Vec::new().into_iter(),
            total_entries: None,
            remaining: None,
            finished: false,
        }
    }

    /// Stops after `count` attendees, without fetching pages beyond them.
    pub fn limit(mut self, count: u64) -> Self {
        self.remaining = Some(count);
        self
    }

    /// How many attendees match, from the latest page read.
    pub fn total_entries(&self) -> Option<u64> {
        self.total_entries
    }

    /// The page to resume from with [`Client::resume_attendees`] once the attendees already
    /// yielded are handled: after an error, the page that failed.
    pub fn cursor(&self) -> Option<&PageCursor> {
        self.pages.cursor()
    }
}

impl AttendeeStream {
    /// The slow path of `poll_next`: the page is used up, so read the next one.
    #[inline(never)]
    fn poll_next_page(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Attendee, Error>>> {
        loop {
            if self.finished || self.remaining == Some(0) {
                return Poll::Ready(None);
            }
            if let Some(attendee) = self.page.next() {
                if let Some(remaining) = &mut self.remaining {
                    *remaining -= 1;
                }
                return Poll::Ready(Some(Ok(attendee)));
            }
            // The page's buffer is freed before the next page is read, not after.
            self.page = Vec::new().into_iter();
            match ready!(Pin::new(&mut self.pages).poll_next(cx)) {
                Some(Ok(page)) => {
                    self.total_entries = Some(page.total_entries);
                    self.page = page.attendees.into_iter();
                }
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => {
                    self.finished = true;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl Stream for AttendeeStream {
    type Item = Result<Attendee, Error>;

    /// The common case, an attendee of the page in hand, is small enough to inline into the
    /// caller's loop, which lets the compiler build the item in place instead of copying it (over
    /// 400 bytes) from frame to frame.
    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.remaining != Some(0)
            && let Some(attendee) = this.page.next()
        {
            if let Some(remaining) = &mut this.remaining {
                *remaining -= 1;
            }
            return Poll::Ready(Some(Ok(attendee)));
        }
        this.poll_next_page(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(page: u64) -> PageCursor {
        PageCursor {
            route: AttendeeRoute::Attendees,
            query: format!("page={page}&per_page=100"),
            page,
        }
    }

    #[test]
    fn next_links_must_move_forward_on_the_same_route() {
        let current = cursor(2);
        let next = current
            .follow("https://api.au1.cliniko.com/v1/attendees?page=3&per_page=100")
            .expect("forward");
        assert_eq!(next.page(), 3);
        assert_eq!(next.query, "page=3&per_page=100");
        // Another host (Cliniko's own, behind a proxy) is fine: only the query is used.
        current
            .follow("https://elsewhere.example.com/v1/attendees?page=3")
            .expect("the query is followed on the configured base url");
        for (link, reason) in [
            ("https://api.au1.cliniko.com/v1/attendees?page=2", "loop"),
            ("https://api.au1.cliniko.com/v1/attendees?page=1", "loop"),
            (
                "https://api.au1.cliniko.com/v1/attendees/cancelled?page=9",
                "another route",
            ),
            ("https://api.au1.cliniko.com/v1/attendees", "no page"),
            ("not a link", "not a url"),
        ] {
            let error = current.follow(link).expect_err(link);
            assert!(error.to_string().contains(reason), "{link}: {error}");
        }
    }

    /// A page is parsed from its text once the body is known to be UTF-8; a body that is not
    /// still gets serde_json's own error (with its line and column), not a panic or a UTF-8 error.
    #[tokio::test]
    async fn a_body_that_is_not_utf8_is_an_invalid_payload() {
        async fn read(body: &'static [u8]) -> Result<AttendeePage, Error> {
            let response = http::Response::builder()
                .status(200)
                .body(reqwest::Body::from(body))
                .expect("a response");
            let path = "/v1/attendees";
            read_page(
                Ok(response.into()),
                &operations::LIST_ATTENDEES,
                path,
                cursor(1),
            )
            .await
        }
        let good = read(
            br#"{"attendees":[],"total_entries":0,"links":{"self":"https://api.au1.cliniko.com/v1/attendees?page=1"}}"#,
        )
        .await
        .expect("a valid page");
        assert_eq!((good.attendees.len(), good.next), (0, None));

        let latin1 =
            read(b"{\"attendees\":[],\"total_entries\":0,\"links\":{\"self\":\"caf\xe9\"}}")
                .await
                .expect_err("not UTF-8");
        match latin1.kind() {
            ErrorKind::InvalidPayload { source } => {
                // The é of "café", in Latin-1: line 1, column 55.
                assert_eq!((source.line(), source.column()), (1, 55), "{source}");
                assert!(source.to_string().contains("invalid unicode"), "{source}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_query_is_checked_against_the_spec_before_sending() {
        for per_page in [0, 101, -1] {
            let error = AttendeeQuery::attendees()
                .per_page(per_page)
                .first_page()
                .expect_err("out of range");
            assert!(
                error.to_string().contains("per_page must be from 1 to 100"),
                "{error}"
            );
        }
        let cursor = AttendeeQuery::new(AttendeeRoute::Cancelled)
            .per_page(100)
            .filter(Filter::attendees().patient_id().eq(7_i64))
            .first_page()
            .expect("valid");
        assert_eq!(
            cursor.query,
            "page=1&per_page=100&q%5B%5D=patient_id%3A%3D7"
        );
        assert_eq!(cursor.route().path(), "/attendees/cancelled");
    }
}
