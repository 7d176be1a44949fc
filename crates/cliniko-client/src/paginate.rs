//! Pagination: streams of pages and of records of any list route of any resource (generic over
//! the generated list type, `cliniko_types::resource::ListPage`) that follow `links.next` on the
//! configured base URL, own their client (so they can be spawned), and can resume from a
//! [`ListCursor`]. The attendee names ([`AttendeeQuery`], [`AttendeeStream`], [`PageCursor`]) are
//! the same types for attendees, kept as aliases and thin wrappers.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use chrono::{DateTime, Utc};
use cliniko_types::facts::{self, Operation, operations};
use cliniko_types::resource::{self, ListPage, Role};
use cliniko_types::{Attendee, AttendeeList, Id};
use futures::Stream;
use progenitor_client::ClientInfo as _;
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::error::ErrorKind;
use crate::filter::Sort;
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

/// A list route: the operation that lists, and how to build its path.
///
/// [`AttendeeRoute`] names the attendee routes by hand (kept for the attendee API); [`ListRoute`]
/// names any list route of any resource in the spec.
pub trait Route: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The spec's operation for the route.
    fn operation(&self) -> &'static Operation;
    /// The path under the base URL, such as `/attendees/cancelled`.
    fn path(&self) -> String;
}

impl Route for AttendeeRoute {
    fn operation(&self) -> &'static Operation {
        AttendeeRoute::operation(self)
    }
    fn path(&self) -> String {
        AttendeeRoute::path(self)
    }
}

/// Any list route of any resource of the spec, by its operation (`listPatients`) and, for a
/// route nested under another resource (`/patient_cases/{patient_case_id}/attendees`), the
/// parent's ID. Serialises as `{"operation": "listPatients"}` (with `"parent"` when nested).
///
/// ```
/// use cliniko_client::{ListQuery, ListRoute};
/// use cliniko_types::resource::Role;
/// use cliniko_types::AttendeeList;
///
/// let route = ListRoute::nested("listPatientCaseAttendees", "7".parse()?)?;
/// assert_eq!(cliniko_client::Route::path(&route), "/patient_cases/7/attendees");
/// let cancelled = ListQuery::<AttendeeList>::role(Role::ListCancelled)?.per_page(100);
/// assert_eq!(cliniko_client::Route::path(cancelled.route()), "/attendees/cancelled");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListRoute {
    operation: &'static Operation,
    parent: Option<Id>,
}

impl ListRoute {
    /// The list route of `operation_id` (an `operationId` or its Rust name), which must be a list
    /// role of a resource (see `x-cliniko-resources`) and not nested.
    pub fn new(operation_id: &str) -> Result<Self, Error> {
        Self::make(operation_id, None)
    }

    /// The nested list route of `operation_id` under the parent `parent`.
    pub fn nested(operation_id: &str, parent: Id) -> Result<Self, Error> {
        Self::make(operation_id, Some(parent))
    }

    fn make(operation_id: &str, parent: Option<Id>) -> Result<Self, Error> {
        let invalid = |message: String| Error::new(ErrorKind::InvalidRequest(message), None);
        let operation = facts::operation(operation_id)
            .ok_or_else(|| invalid(format!("the spec has no operation `{operation_id}`")))?;
        let role = resource::of_operation(operation.id)
            .map(|(_, role)| role)
            .filter(|role| role.is_list())
            .ok_or_else(|| {
                invalid(format!(
                    "`{}` is not a list route of a resource in the spec",
                    operation.id
                ))
            })?;
        match (role == Role::ListNested, &parent) {
            (true, None) => Err(invalid(format!(
                "`{}` is nested ({}): give its parent's ID",
                operation.id, operation.path
            ))),
            (false, Some(_)) => Err(invalid(format!(
                "`{}` is not nested ({}): it takes no parent",
                operation.id, operation.path
            ))),
            _ => Ok(Self { operation, parent }),
        }
    }

    /// The parent's ID of a nested route.
    pub fn parent(&self) -> Option<&Id> {
        self.parent.as_ref()
    }
}

impl Route for ListRoute {
    fn operation(&self) -> &'static Operation {
        self.operation
    }
    fn path(&self) -> String {
        let path = self.operation.path;
        match (&self.parent, path.find('{'), path.find('}')) {
            (Some(parent), Some(open), Some(close)) if open < close => {
                format!("{}{parent}{}", &path[..open], &path[close + 1..])
            }
            _ => path.to_owned(),
        }
    }
}

/// The serialised form of a [`ListRoute`].
#[derive(Serialize, Deserialize)]
struct ListRouteForm {
    operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<Id>,
}

impl Serialize for ListRoute {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ListRouteForm {
            operation: self.operation.id.to_owned(),
            parent: self.parent,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ListRoute {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let form = ListRouteForm::deserialize(deserializer)?;
        Self::make(&form.operation, form.parent).map_err(serde::de::Error::custom)
    }
}

/// A filter that fits a list route: a [`Filter`](crate::filter::Filter) whose routes all list, such as
/// [`Filter::attendees`](crate::filter::Filter::attendees) or
/// [`Filter::patients`](crate::filter::Filter::patients) (generated from the spec).
pub trait ListFilter: sealed::Sealed {
    /// The conditions, or why one cannot be sent.
    #[doc(hidden)]
    fn into_conditions(self) -> Result<Vec<String>, &'static str>;
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// What to list: a route, a page size, filters and a sort, for the list type `L` (the generated
/// type of the route's page, such as `PatientList`). Owned, so the streams made from it own
/// everything they need.
///
/// ```
/// use cliniko_client::ListQuery;
/// use cliniko_types::AttendeeList;
///
/// let query = ListQuery::<AttendeeList>::list()
///     .per_page(100)
///     .condition("updated_at:>2024-01-01T00:00:00Z")
///     .sort_by("updated_at,id");
/// assert!(query.first_page().is_ok());
/// let unknown = ListQuery::<AttendeeList>::list().condition("colour:=red");
/// assert!(unknown.first_page().unwrap_err().to_string().contains("does not filter on colour"));
/// ```
pub struct ListQuery<L, R = ListRoute> {
    route: R,
    per_page: Option<i64>,
    conditions: Vec<String>,
    invalid: Option<String>,
    sort: Option<String>,
    list: PhantomData<fn() -> L>,
}

/// What to list of attendees: a route, a page size, filters and a sort.
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
pub type AttendeeQuery = ListQuery<AttendeeList, AttendeeRoute>;

impl<L, R: Clone> Clone for ListQuery<L, R> {
    fn clone(&self) -> Self {
        Self {
            route: self.route.clone(),
            per_page: self.per_page,
            conditions: self.conditions.clone(),
            invalid: self.invalid.clone(),
            sort: self.sort.clone(),
            list: PhantomData,
        }
    }
}

impl<L, R: PartialEq> PartialEq for ListQuery<L, R> {
    fn eq(&self, other: &Self) -> bool {
        self.route == other.route
            && self.per_page == other.per_page
            && self.conditions == other.conditions
            && self.invalid == other.invalid
            && self.sort == other.sort
    }
}

impl<L, R: Eq> Eq for ListQuery<L, R> {}

impl<L, R: std::fmt::Debug> std::fmt::Debug for ListQuery<L, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListQuery")
            .field("route", &self.route)
            .field("per_page", &self.per_page)
            .field("conditions", &self.conditions)
            .field("invalid", &self.invalid)
            .field("sort", &self.sort)
            .finish()
    }
}

impl AttendeeQuery {
    /// `GET /attendees`.
    pub fn attendees() -> Self {
        Self::new(AttendeeRoute::Attendees)
    }

    /// The order of the attendees.
    pub fn sort(self, sort: Sort) -> Self {
        self.sort_by(sort.as_str())
    }
}

impl<L: ListPage> ListQuery<L, ListRoute> {
    /// The main list route of `L`'s resource (`GET /patients` for `PatientList`).
    pub fn list() -> Self {
        match Self::role(Role::List) {
            Ok(query) => query,
            Err(error) => {
                // No main list route: every request is refused, naming why.
                let mut query = Self::new(ListRoute {
                    operation: &FALLBACK,
                    parent: None,
                });
                query.invalid = Some(error.to_string());
                query
            }
        }
    }

    /// The route with `role` of `L`'s resource (not [`Role::ListNested`]: see [`ListRoute::nested`]).
    pub fn role(role: Role) -> Result<Self, Error> {
        let resource = L::resource();
        let id = resource.operation(role).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidRequest(format!(
                    "{} have no {role:?} route in the spec",
                    resource.plural
                )),
                None,
            )
        })?;
        Ok(Self::new(ListRoute::new(id)?))
    }
}

/// Placeholder operation of a query that has no route (it is refused before anything is sent).
static FALLBACK: Operation = Operation {
    id: "",
    rust_name: "",
    method: "GET",
    path: "",
    retry: cliniko_types::facts::Retry::Always,
    filters: &[],
};

impl<L, R: Route> ListQuery<L, R> {
    /// Every record of `route`, with Cliniko's default page size and order.
    pub fn new(route: R) -> Self {
        Self {
            route,
            per_page: None,
            conditions: Vec::new(),
            invalid: None,
            sort: None,
            list: PhantomData,
        }
    }

    /// How many records a page holds, from [`facts::PER_PAGE_MIN`] to [`facts::PER_PAGE_MAX`]
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

    /// Adds one `q[]` condition as Cliniko spells it (`updated_at:>2024-01-01T00:00:00Z`); its
    /// field is checked against the route's filterable fields before a request is sent.
    pub fn condition(mut self, condition: impl Into<String>) -> Self {
        self.conditions.push(condition.into());
        self
    }

    /// The order, as Cliniko spells it (`updated_at:desc,id`).
    pub fn sort_by(mut self, sort: impl Into<String>) -> Self {
        self.sort = Some(sort.into());
        self
    }

    /// The route listed.
    pub fn route(&self) -> &R {
        &self.route
    }

    /// The cursor of the first page, once the query is checked against the spec.
    pub fn first_page(&self) -> Result<ListCursor<R>, Error> {
        let operation = self.route.operation();
        let invalid = |message: String| {
            Error::new(
                ErrorKind::InvalidRequest(message),
                Some(operation).filter(|o| !o.id.is_empty()),
            )
        };
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
        Ok(ListCursor {
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
#[serde(bound(serialize = "R: Serialize", deserialize = "R: Deserialize<'de>"))]
pub struct ListCursor<R = ListRoute> {
    route: R,
    query: String,
    page: u64,
}

/// Where a page of attendees is (see [`ListCursor`]).
pub type PageCursor = ListCursor<AttendeeRoute>;

impl<R: Route> ListCursor<R> {
    /// The page number, counted from 1.
    pub fn page(&self) -> u64 {
        self.page
    }

    /// The route.
    pub fn route(&self) -> &R {
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
pub struct Page<T, R = ListRoute> {
    /// The records on the page.
    pub records: Vec<T>,
    /// How many records match, over all pages, when the page was read.
    pub total_entries: u64,
    /// This page.
    pub cursor: ListCursor<R>,
    /// The next page, if there is one.
    pub next: Option<ListCursor<R>>,
    /// The server's clock when it answered (its `Date` header).
    pub answered_at: Option<DateTime<Utc>>,
}

/// One page of an attendee list route.
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

impl From<Page<Attendee, AttendeeRoute>> for AttendeePage {
    fn from(page: Page<Attendee, AttendeeRoute>) -> Self {
        Self {
            attendees: page.records,
            total_entries: page.total_entries,
            cursor: page.cursor,
            next: page.next,
            answered_at: page.answered_at,
        }
    }
}

/// Fetches one page under the client's request policy.
pub(crate) async fn fetch_page<L: ListPage, R: Route>(
    client: &Client,
    cursor: ListCursor<R>,
) -> (Result<Page<L::Item, R>, Error>, Waits) {
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
    (
        read_page::<L, R>(result, operation, &path, cursor).await,
        waits,
    )
}

async fn read_page<L: ListPage, R: Route>(
    result: reqwest::Result<reqwest::Response>,
    operation: &'static Operation,
    path: &str,
    cursor: ListCursor<R>,
) -> Result<Page<L::Item, R>, Error> {
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
        Ok(text) => serde_json::from_str::<L>(text),
        Err(_) => serde_json::from_slice::<L>(&body),
    };
    let list = parsed
        .map_err(|source| Error::new(ErrorKind::InvalidPayload { source }, Some(operation)))?;
    let (records, total_entries, links) = list.into_parts();
    let next = match &links.next {
        Some(link) => Some(cursor.follow(link)?),
        None => None,
    };
    Ok(Page {
        records,
        total_entries: u64::try_from(total_entries).unwrap_or_default(),
        cursor,
        next,
        answered_at: crate::policy::server_date(&headers),
    })
}

/// A page being fetched, owning its clone of the client (so the stream that holds it is `'static`).
pub(crate) type ListPageFuture<T, R> =
    Pin<Box<dyn Future<Output = (Result<Page<T, R>, Error>, Waits)> + Send>>;

/// Starts fetching the page of `L` at `cursor`.
pub(crate) fn start_list_fetch<L: ListPage, R: Route>(
    client: &Client,
    cursor: ListCursor<R>,
) -> ListPageFuture<L::Item, R>
where
    L::Item: Send + 'static,
{
    let client = client.clone();
    Box::pin(async move { fetch_page::<L, R>(&client, cursor).await })
}

impl Client {
    /// Streams the pages of `query`, any list route of any resource, following `links.next`.
    /// The stream owns a clone of the client, so it can be handed to `tokio::spawn`.
    pub fn pages<L: ListPage, R: Route>(&self, query: &ListQuery<L, R>) -> Pages<L, R>
    where
        L::Item: Send + 'static,
    {
        match query.first_page() {
            Ok(cursor) => self.resume_pages(cursor),
            Err(error) => Pages {
                client: self.clone(),
                next: None,
                fetching: None,
                failed: Some(error),
                ended: false,
                list: PhantomData,
            },
        }
    }

    /// Streams pages from `cursor` on: the first page not read yet of a stream that failed.
    pub fn resume_pages<L: ListPage, R: Route>(&self, cursor: ListCursor<R>) -> Pages<L, R>
    where
        L::Item: Send + 'static,
    {
        Pages {
            client: self.clone(),
            next: Some(cursor),
            fetching: None,
            failed: None,
            ended: false,
            list: PhantomData,
        }
    }

    /// Streams every record `query` matches, page by page, one page in memory at a time.
    ///
    /// A `next` link is followed by its query on the configured base URL (so paging works
    /// behind a proxy, and never contacts another host); one that does not move forward ends the
    /// stream with [`ErrorKind::InvalidNextLink`]. After an error, [`Records::cursor`] is the page
    /// to resume from with [`Client::resume`].
    ///
    /// ```no_run
    /// # async fn run(client: cliniko_client::Client) -> cliniko_client::Result<()> {
    /// use cliniko_client::ListQuery;
    /// use cliniko_types::AttendeeList;
    /// use futures::TryStreamExt as _;
    ///
    /// let mut records = client.stream(&ListQuery::<AttendeeList>::list().per_page(100)).limit(500);
    /// while let Some(record) = records.try_next().await? {
    ///     println!("{}", record.id);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream<L: ListPage, R: Route>(&self, query: &ListQuery<L, R>) -> Records<L, R>
    where
        L::Item: Send + 'static,
    {
        Records::new(self.pages(query))
    }

    /// Streams records from `cursor` on.
    pub fn resume<L: ListPage, R: Route>(&self, cursor: ListCursor<R>) -> Records<L, R>
    where
        L::Item: Send + 'static,
    {
        Records::new(self.resume_pages(cursor))
    }

    /// Streams the pages of attendees of `query` (see [`Client::pages`]).
    pub fn attendee_pages(&self, query: &AttendeeQuery) -> AttendeePages {
        AttendeePages(self.pages(query))
    }

    /// Streams pages of attendees from `cursor` on.
    pub fn resume_attendee_pages(&self, cursor: PageCursor) -> AttendeePages {
        AttendeePages(self.resume_pages(cursor))
    }

    /// Streams every attendee `query` matches (see [`Client::stream`]).
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
        self.stream(query)
    }

    /// Streams attendees from `cursor` on.
    pub fn resume_attendees(&self, cursor: PageCursor) -> AttendeeStream {
        self.resume(cursor)
    }
}

/// The pages of a list route. Made by [`Client::pages`].
#[must_use = "a stream does nothing until polled"]
pub struct Pages<L: ListPage, R = ListRoute> {
    client: Client,
    /// The page to fetch next (while it is being fetched, too).
    next: Option<ListCursor<R>>,
    fetching: Option<ListPageFuture<L::Item, R>>,
    /// An error found before any request, reported on the first poll.
    failed: Option<Error>,
    /// Whether a page failed: the stream has ended, and `next` is the page to resume from.
    ended: bool,
    list: PhantomData<fn() -> L>,
}

impl<L: ListPage, R: std::fmt::Debug> std::fmt::Debug for Pages<L, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl<L: ListPage, R> Pages<L, R> {
    /// The page this stream reads next: after an error (which ends the stream), the page that
    /// failed, to resume from with [`Client::resume_pages`]. `None` once the last page was read.
    pub fn cursor(&self) -> Option<&ListCursor<R>> {
        self.next.as_ref()
    }
}

impl<L: ListPage, R> Unpin for Pages<L, R> {}

impl<L: ListPage, R: Route> Stream for Pages<L, R>
where
    L::Item: Send + 'static,
{
    type Item = Result<Page<L::Item, R>, Error>;

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
                this.fetching
                    .insert(start_list_fetch::<L, R>(&this.client, cursor))
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

/// The pages of an attendee list route. Made by [`Client::attendee_pages`].
#[must_use = "a stream does nothing until polled"]
pub struct AttendeePages(Pages<AttendeeList, AttendeeRoute>);

impl std::fmt::Debug for AttendeePages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttendeePages")
            .field("next", &self.0.next)
            .finish_non_exhaustive()
    }
}

impl AttendeePages {
    /// The page this stream reads next: after an error (which ends the stream), the page that
    /// failed, to resume from with [`Client::resume_attendee_pages`]. `None` once the last page
    /// was read.
    pub fn cursor(&self) -> Option<&PageCursor> {
        self.0.cursor()
    }
}

impl Stream for AttendeePages {
    type Item = Result<AttendeePage, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0)
            .poll_next(cx)
            .map(|item| item.map(|page| page.map(AttendeePage::from)))
    }
}

/// The records of a list route, page after page. Made by [`Client::stream`].
#[must_use = "a stream does nothing until polled"]
pub struct Records<L: ListPage, R = ListRoute> {
    pages: Pages<L, R>,
    page: std::vec::IntoIter<L::Item>,
    total_entries: Option<u64>,
    remaining: Option<u64>,
    finished: bool,
}

/// The attendees of a list route, page after page. Made by [`Client::stream_attendees`].
pub type AttendeeStream = Records<AttendeeList, AttendeeRoute>;

impl<L: ListPage, R: std::fmt::Debug> std::fmt::Debug for Records<L, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("next", &self.pages.next)
            .field("buffered", &self.page.len())
            .field("remaining", &self.remaining)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl<L: ListPage, R> Records<L, R> {
    fn new(pages: Pages<L, R>) -> Self {
        Self {
            pages,
            page: Vec::new().into_iter(),
            total_entries: None,
            remaining: None,
            finished: false,
        }
    }

    /// Stops after `count` records, without fetching pages beyond them.
    pub fn limit(mut self, count: u64) -> Self {
        self.remaining = Some(count);
        self
    }

    /// How many records match, from the latest page read.
    pub fn total_entries(&self) -> Option<u64> {
        self.total_entries
    }

    /// The page to resume from with [`Client::resume`] once the records already yielded are
    /// handled: after an error, the page that failed.
    pub fn cursor(&self) -> Option<&ListCursor<R>> {
        self.pages.cursor()
    }
}

impl<L: ListPage, R> Unpin for Records<L, R> {}

impl<L: ListPage, R: Route> Records<L, R>
where
    L::Item: Send + 'static,
{
    /// The slow path of `poll_next`: the page is used up, so read the next one.
    #[inline(never)]
    fn poll_next_page(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<L::Item, Error>>> {
        loop {
            if self.finished || self.remaining == Some(0) {
                return Poll::Ready(None);
            }
            if let Some(record) = self.page.next() {
                if let Some(remaining) = &mut self.remaining {
                    *remaining -= 1;
                }
                return Poll::Ready(Some(Ok(record)));
            }
            // The page's buffer is freed before the next page is read, not after.
            self.page = Vec::new().into_iter();
            match ready!(Pin::new(&mut self.pages).poll_next(cx)) {
                Some(Ok(page)) => {
                    self.total_entries = Some(page.total_entries);
                    self.page = page.records.into_iter();
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

impl<L: ListPage, R: Route> Stream for Records<L, R>
where
    L::Item: Send + 'static,
{
    type Item = Result<L::Item, Error>;

    /// The common case, a record of the page in hand, is small enough to inline into the
    /// caller's loop, which lets the compiler build the item in place instead of copying it (an
    /// attendee is over 400 bytes) from frame to frame.
    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.remaining != Some(0)
            && let Some(record) = this.page.next()
        {
            if let Some(remaining) = &mut this.remaining {
                *remaining -= 1;
            }
            return Poll::Ready(Some(Ok(record)));
        }
        this.poll_next_page(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Filter;

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
            read_page::<AttendeeList, AttendeeRoute>(
                Ok(response.into()),
                &operations::LIST_ATTENDEES,
                path,
                cursor(1),
            )
            .await
            .map(AttendeePage::from)
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
