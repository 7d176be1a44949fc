//! The generic resource engine: a made-up resource (`xtask/fixtures/widget-resource.yaml`)
//! merged into a copy of the spec is served with no code written for it (list, get, create,
//! update, delete), every answer conforming to that spec; and every seeded record of every
//! resource the engine serves validates against its schema.

use base64::Engine as _;
use cliniko_conformance::{CheckOptions, Checker, recording_from_value};
use cliniko_fake::{FakeCliniko, Spec};
use reqwest::Method;
use serde_json::{Value, json};

const KEY: &str = "fake-key-au1";
const USER_AGENT: &str = "Engine tests (tests@cliniko-fake.example)";

/// The workspace's spec with the widget fixture merged in, as xtask's codegen test does.
fn spec_with_widgets() -> Spec {
    Spec::from_yaml_str(
        &serde_yaml_ng::to_string(&widgets_document()).expect("YAML"),
        "spec-with-widgets.yaml",
    )
    .expect("loads")
}

/// The widget spec's document, before it is loaded.
fn widgets_document() -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let read = |path: &str| -> Value {
        let text = std::fs::read_to_string(root.join(path)).expect("readable");
        serde_yaml_ng::from_str(&text).expect("YAML")
    };
    let mut spec = read("spec/cliniko-attendees.yaml");
    let fixture = read("xtask/fixtures/widget-resource.yaml");
    for (key, value) in fixture.as_object().expect("a map") {
        match (spec.get_mut(key.as_str()), value) {
            (Some(Value::Array(items)), Value::Array(more)) => items.extend(more.iter().cloned()),
            (Some(Value::Object(map)), Value::Object(more)) => {
                for (name, part) in more {
                    match (map.get_mut(name.as_str()), part) {
                        (Some(Value::Object(inner)), Value::Object(added)) => {
                            inner.extend(added.clone())
                        }
                        _ => {
                            map.insert(name.clone(), part.clone());
                        }
                    }
                }
            }
            _ => panic!("the fixture's `{key}` does not merge into the spec"),
        }
    }
    let yaml = serde_yaml_ng::to_string(&spec).expect("YAML");
    Spec::from_yaml_str(&yaml, "spec-with-widgets.yaml")
        .expect("loads")
        .check()
        .expect("the spec with widgets passes its checks");
    spec
}

struct Widgets {
    server: FakeCliniko,
    client: reqwest::Client,
    checker: Checker,
}

struct Answer {
    status: u16,
    location: Option<String>,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl Widgets {
    async fn start(seed: u64) -> Self {
        let spec = spec_with_widgets();
        let checker = Checker::new(
            &spec,
            CheckOptions {
                strict: true,
                round_trip: false,
            },
        )
        .expect("the checker compiles");
        let server = FakeCliniko::builder()
            .api_key(KEY)
            .seed(seed)
            .attendees(20)
            .rate_limit_per_minute(None)
            .spec(spec)
            .start()
            .await
            .expect("the fake starts with the widget spec");
        Self {
            server,
            client: reqwest::Client::new(),
            checker,
        }
    }

    /// Sends with Cliniko's headers and checks the answer against the widget spec.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.send(method, path, body, true).await
    }

    /// Sends; checks the answer against the spec when the request itself keeps to it.
    async fn send(&self, method: Method, path: &str, body: Option<Value>, check: bool) -> Answer {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"));
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.server.base_url()))
            .header("authorization", format!("Basic {auth}"))
            .header("user-agent", USER_AGENT)
            .header("accept", "application/json");
        if let Some(body) = &body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("the fake answers");
        let status = response.status().as_u16();
        let headers: serde_json::Map<String, Value> = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), json!(v.to_str().unwrap_or_default())))
            .collect();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("a body");
        let mut exchange = json!({
            "request": {
                "method": method.as_str(),
                "url": format!("/v1{path}"),
                "headers": {"user-agent": USER_AGENT, "accept": "application/json"},
            },
            "response": {
                "status": status,
                "headers": headers,
                "body": if text.is_empty() { Value::Null } else { json!(text) },
            },
        });
        if let Some(body) = body {
            exchange["request"]["headers"]["content-type"] = json!("application/json");
            exchange["request"]["body"] = json!(body.to_string());
        }
        let exchanges = recording_from_value(exchange, "engine test").expect("an exchange");
        let verdict = self.checker.check(&exchanges[0]);
        assert!(
            !check || verdict.violations.is_empty(),
            "{method} {path} answered {status} against the widget spec: {:#?}\nbody: {text}",
            verdict
                .violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
        Answer {
            status,
            location,
            text,
        }
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["widgets"]
        .as_array()
        .expect("a widgets array")
        .iter()
        .map(|w| w["id"].as_str().expect("string IDs").to_owned())
        .collect()
}

#[tokio::test]
async fn a_resource_added_to_the_spec_is_served_list_get_create_update_delete() {
    let fake = Widgets::start(3).await;
    assert_eq!(fake.server.record_count("widget"), Some(25));

    // List: pages of the spec's range, links and the total.
    let first = fake.call(Method::GET, "/widgets?per_page=10", None).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let page = first.json();
    assert_eq!(page["total_entries"], 25);
    assert_eq!(ids(&page).len(), 10);
    let next = page["links"]["next"].as_str().expect("a next page");
    assert!(
        next.contains("page=2") && next.contains("per_page=10"),
        "{next}"
    );
    let last = fake
        .call(Method::GET, "/widgets?per_page=10&page=3", None)
        .await;
    assert_eq!(ids(&last.json()).len(), 5);
    assert!(last.json()["links"].get("next").is_none());
    let everything = fake.call(Method::GET, "/widgets?per_page=100", None).await;
    let all = ids(&everything.json());
    assert_eq!(all.len(), 25);
    assert!(
        all.iter()
            .all(|id| id.parse::<i64>().expect("digits") > 1 << 53)
    );
    // Outside the spec's range (the widget spec documents no 400, so this answer is not checked).
    let refused = fake
        .send(Method::GET, "/widgets?per_page=101", None, false)
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);

    // Get: the record the list shows.
    let one = fake
        .call(Method::GET, &format!("/widgets/{}", all[0]), None)
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json(), everything.json()["widgets"][0]);
    let missing = fake.call(Method::GET, "/widgets/3", None).await;
    assert_eq!(missing.status, 404);

    // Create: 422 with field messages from the request schema, then 201 and readable.
    let blank = fake.call(Method::POST, "/widgets", Some(json!({}))).await;
    assert_eq!(blank.status, 422, "{}", blank.text);
    assert_eq!(blank.json()["errors"]["label"], "can't be blank");
    let wrong = fake
        .call(Method::POST, "/widgets", Some(json!({"label": 5})))
        .await;
    assert_eq!(wrong.status, 422, "{}", wrong.text);
    assert!(
        wrong.json()["errors"]["label"].is_string(),
        "{}",
        wrong.text
    );
    let created = fake
        .call(Method::POST, "/widgets", Some(json!({"label": "Grün ✓"})))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let widget = created.json();
    assert_eq!(widget["label"], "Grün ✓");
    assert_eq!(
        widget["owner_email"],
        Value::Null,
        "a field not sent starts null"
    );
    let id = widget["id"].as_str().expect("an ID").to_owned();
    assert!(!all.contains(&id));
    assert!(
        created
            .location
            .as_deref()
            .is_some_and(|l| l.ends_with(&format!("/widgets/{id}")))
    );
    let read = fake
        .call(Method::GET, &format!("/widgets/{id}"), None)
        .await;
    assert_eq!(read.json(), widget);
    assert_eq!(fake.server.record_count("widget"), Some(26));

    // Update: kept, and reads see it.
    let updated = fake
        .call(
            Method::PATCH,
            &format!("/widgets/{id}"),
            Some(json!({"label": "Blue"})),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.json()["label"], "Blue");
    let read = fake
        .call(Method::GET, &format!("/widgets/{id}"), None)
        .await;
    assert_eq!(read.json()["label"], "Blue");
    let bad = fake
        .call(
            Method::PATCH,
            &format!("/widgets/{id}"),
            Some(json!({"label": null})),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text);

    // Delete: gone from get and list (widgets have no `deleted_at`, so the record is removed).
    let deleted = fake
        .call(Method::DELETE, &format!("/widgets/{}", all[0]), None)
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let gone = fake
        .call(Method::GET, &format!("/widgets/{}", all[0]), None)
        .await;
    assert_eq!(gone.status, 404);
    let again = fake
        .call(Method::DELETE, &format!("/widgets/{}", all[0]), None)
        .await;
    assert_eq!(again.status, 404);
    let after = fake.call(Method::GET, "/widgets?per_page=100", None).await;
    let after_ids = ids(&after.json());
    assert_eq!(after.json()["total_entries"], 25);
    assert!(!after_ids.contains(&all[0]) && after_ids.contains(&id));

    // The attendee routes are still served beside it.
    let attendees = fake.call(Method::GET, "/attendees?per_page=5", None).await;
    assert_eq!(attendees.status, 200, "{}", attendees.text);
}

#[tokio::test]
async fn every_seeded_record_validates_against_its_schema_and_repeats_by_seed() {
    let spec = spec_with_widgets();
    let resources = spec.resources().expect("resources read");
    let mut checked = 0;
    for seed in [0, 1, 99] {
        let server = FakeCliniko::builder()
            .seed(seed)
            .attendees(40)
            .spec(spec.clone())
            .start()
            .await
            .expect("starts");
        for resource in &resources {
            let Some(records) = server.records(&resource.name) else {
                continue;
            };
            assert!(!records.is_empty(), "{} seeded nothing", resource.name);
            let validator = spec
                .validator_for_ref(&format!("#/components/schemas/{}", resource.schema))
                .expect("compiles");
            let strict = spec
                .validator(
                    &format!("/components/schemas/{}", resource.schema),
                    spec.raw()
                        .pointer(&format!("/components/schemas/{}", resource.schema))
                        .expect("the schema"),
                    cliniko_spec::SchemaOptions { strict: true },
                )
                .expect("compiles");
            for record in &records {
                let violations = validator.violations(record);
                assert!(
                    violations.is_empty(),
                    "{}: {violations:?}\n{record}",
                    resource.name
                );
                assert!(strict.violations(record).is_empty(), "{record}");
                checked += 1;
            }
            // Nullable fields come out both ways over the seeded records.
            let owners: Vec<&Value> = records.iter().map(|r| &r["owner_email"]).collect();
            if resource.name == "widget" {
                assert!(owners.iter().any(|o| o.is_null()), "no null owner_email");
                assert!(owners.iter().any(|o| o.is_string()), "no owner_email");
            }
        }
        let again = FakeCliniko::builder()
            .seed(seed)
            .attendees(40)
            .spec(spec.clone())
            .start()
            .await
            .expect("starts");
        assert_eq!(
            again.records("widget").map(|r| r.to_vec()),
            server.records("widget").map(|r| {
                // The two servers listen on different ports; links differ only by that.
                let text = serde_json::to_string(&r).expect("JSON");
                serde_json::from_str::<Vec<Value>>(
                    &text.replace(&server.base_url(), &again.base_url()),
                )
                .expect("JSON")
            }),
            "seed {seed} gave different records"
        );
    }
    assert!(checked >= 75, "only {checked} records were checked");
    let a = FakeCliniko::builder()
        .seed(1)
        .spec(spec.clone())
        .start()
        .await
        .expect("starts");
    let b = FakeCliniko::builder()
        .seed(2)
        .spec(spec)
        .start()
        .await
        .expect("starts");
    assert_ne!(
        a.records("widget")
            .map(|r| r.iter().map(|w| w["label"].clone()).collect::<Vec<_>>()),
        b.records("widget")
            .map(|r| r.iter().map(|w| w["label"].clone()).collect::<Vec<_>>()),
        "the seed changes the data"
    );
}

/// A widget that links to a patient (a `LinkedResource`, and `patient_id` in its create body):
/// seeded widgets link to patients that exist (the attendee fixtures' patients, the IDs the
/// attendees' own `links.patient` name), and a create naming an unknown patient is refused.
#[tokio::test]
async fn links_to_another_resource_resolve() {
    let mut document = widgets_document();
    document["components"]["schemas"]["Widget"]["properties"]["patient"] =
        json!({"$ref": "#/components/schemas/LinkedResource"});
    document["components"]["schemas"]["WidgetCreate"]["properties"]["patient_id"] =
        json!({"$ref": "#/components/schemas/Id"});
    let spec = Spec::from_yaml_str(
        &serde_yaml_ng::to_string(&document).expect("YAML"),
        "spec-with-linked-widgets.yaml",
    )
    .expect("loads");
    spec.check().expect("passes its checks");
    let server = FakeCliniko::builder()
        .api_key(KEY)
        .seed(5)
        .attendees(30)
        .rate_limit_per_minute(None)
        .spec(spec)
        .start()
        .await
        .expect("starts");
    let patients: Vec<String> = server
        .fixtures()
        .patients
        .iter()
        .map(ToString::to_string)
        .collect();
    let prefix = format!("{}/patients/", server.base_url());
    let widgets = server.records("widget").expect("widgets are served");
    for widget in &widgets {
        let link = widget["patient"]["links"]["self"].as_str().expect("a link");
        let id = link
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("{link}"));
        assert!(patients.iter().any(|p| p == id), "{link} names no patient");
    }
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"));
    let create = |body: Value| {
        reqwest::Client::new()
            .post(format!("{}/widgets", server.base_url()))
            .header("authorization", format!("Basic {auth}"))
            .header("user-agent", USER_AGENT)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let refused = create(json!({"label": "x", "patient_id": "3"}))
        .await
        .expect("answers");
    assert_eq!(refused.status(), 422);
    let errors: Value = refused.json().await.expect("JSON");
    assert_eq!(
        errors["errors"]["patient_id"],
        "does not name an existing patient"
    );
    let made = create(json!({"label": "x", "patient_id": patients[1]}))
        .await
        .expect("answers");
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.expect("JSON");
    assert_eq!(
        made["patient"]["links"]["self"],
        format!("{prefix}{}", patients[1])
    );
}

/// Widgets with times, an archive and its undo, a deleted list, `q[]` filters and `sort`: the
/// generic rules (archived records leave the main list unless `*` brings them back, delete sets
/// `archived_at` when the item has it, `updated_at` moves on a change) and the filters of the
/// operation's `x-cliniko-filter-fields`.
#[tokio::test]
async fn filters_sort_list_variants_and_state_changes() {
    let mut document = widgets_document();
    let schemas = &mut document["components"]["schemas"];
    schemas["Widget"]["properties"]["created_at"] =
        json!({"type": "string", "format": "date-time"});
    schemas["Widget"]["properties"]["updated_at"] =
        json!({"type": "string", "format": "date-time"});
    schemas["Widget"]["properties"]["archived_at"] =
        json!({"type": "string", "format": "date-time", "nullable": true});
    let list = document["paths"]["/widgets"]["get"]["parameters"]
        .as_array_mut()
        .expect("parameters");
    // The fixture's own q[] and sort (on id and label) give way to the attendees' (with times).
    list.retain(|parameter| {
        !matches!(
            parameter["$ref"].as_str(),
            Some("#/components/parameters/WidgetFilter" | "#/components/parameters/WidgetSort")
        )
    });
    for parameter in ["Sort", "AttendeeFilter"] {
        list.push(json!({"$ref": format!("#/components/parameters/{parameter}")}));
    }
    let empty = |id: &str, summary: &str| {
        json!({"post": {
            "tags": ["Widget"], "operationId": id, "x-cliniko-retry": "only-if-not-sent",
            "summary": summary,
            "parameters": [{"$ref": "#/components/parameters/AttendeeId"},
                           {"$ref": "#/components/parameters/UserAgent"}],
            "responses": {"204": {"description": "Done."},
                          "404": {"$ref": "#/components/responses/NotFound"}},
        }})
    };
    document["paths"]["/widgets/{id}/archive"] = empty("archiveWidget", "Archive a widget");
    document["paths"]["/widgets/{id}/unarchive"] = empty("unarchiveWidget", "Unarchive a widget");
    let mut deleted = document["paths"]["/widgets"]["get"].clone();
    deleted["operationId"] = json!("listDeletedWidgets");
    deleted["summary"] = json!("List deleted widgets");
    document["paths"]["/widgets/deleted"] = json!({"get": deleted});
    let operations = &mut document["x-cliniko-resources"]
        .as_array_mut()
        .expect("resources")
        .iter_mut()
        .find(|r| r["name"] == "widget")
        .expect("the widget")["operations"];
    operations["archive"] = json!("archiveWidget");
    operations["unarchive"] = json!("unarchiveWidget");
    operations["list-deleted"] = json!("listDeletedWidgets");
    let spec = Spec::from_yaml_str(
        &serde_yaml_ng::to_string(&document).expect("YAML"),
        "spec-with-archived-widgets.yaml",
    )
    .expect("loads");
    spec.check().expect("passes its checks");
    let fake = Widgets {
        checker: Checker::new(
            &spec,
            CheckOptions {
                strict: true,
                round_trip: false,
            },
        )
        .expect("compiles"),
        server: FakeCliniko::builder()
            .api_key(KEY)
            .seed(11)
            .attendees(20)
            .rate_limit_per_minute(None)
            .spec(spec)
            .start()
            .await
            .expect("starts"),
        client: reqwest::Client::new(),
    };
    let all = fake.server.records("widget").expect("served");
    let live: Vec<&Value> = all.iter().filter(|w| w["archived_at"].is_null()).collect();
    let archived = all.len() - live.len();
    assert!(
        archived > 0 && !live.is_empty(),
        "seeded widgets are both ways"
    );

    let page = fake
        .call(Method::GET, "/widgets?per_page=100", None)
        .await
        .json();
    assert_eq!(page["total_entries"], live.len());
    let everything = fake
        .call(
            Method::GET,
            "/widgets?per_page=100&q%5B%5D=archived_at:*",
            None,
        )
        .await
        .json();
    assert_eq!(everything["total_entries"], all.len());
    let gone = fake
        .call(Method::GET, "/widgets/deleted?per_page=100", None)
        .await
        .json();
    assert_eq!(gone["total_entries"], archived);

    // Sort: updated_at descending, then a filter on it keeps those after a bound.
    let sorted = fake
        .call(
            Method::GET,
            "/widgets?per_page=100&sort=updated_at:desc",
            None,
        )
        .await
        .json();
    let times: Vec<&str> = sorted["widgets"]
        .as_array()
        .expect("widgets")
        .iter()
        .map(|w| w["updated_at"].as_str().expect("a time"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let bound = times[times.len() / 2];
    let later = fake
        .call(
            Method::GET,
            &format!("/widgets?per_page=100&q%5B%5D=updated_at:%3E{bound}"),
            None,
        )
        .await
        .json();
    let expected = times.iter().filter(|t| **t > bound).count();
    assert_eq!(later["total_entries"], expected);
    let one = live[0]["id"].as_str().expect("an ID");
    let by_id = fake
        .call(Method::GET, &format!("/widgets?q%5B%5D=id:={one}"), None)
        .await
        .json();
    assert_eq!(ids(&by_id), vec![one.to_owned()]);
    let refused = fake
        .send(Method::GET, "/widgets?sort=label", None, false)
        .await;
    assert_eq!(
        refused.status, 400,
        "label is not sortable: {}",
        refused.text
    );
    let refused = fake
        .send(Method::GET, "/widgets?q%5B%5D=label:=x", None, false)
        .await;
    assert_eq!(
        refused.status, 400,
        "label is not filterable: {}",
        refused.text
    );

    // Archive moves it to the deleted list with updated_at moved; unarchive brings it back.
    let before = fake
        .call(Method::GET, &format!("/widgets/{one}"), None)
        .await
        .json();
    let archive = fake
        .call(Method::POST, &format!("/widgets/{one}/archive"), None)
        .await;
    assert_eq!(archive.status, 204, "{}", archive.text);
    let after = fake
        .call(Method::GET, &format!("/widgets/{one}"), None)
        .await
        .json();
    assert!(after["archived_at"].is_string());
    assert!(
        after["updated_at"].as_str() > before["updated_at"].as_str(),
        "{after}"
    );
    let gone = fake
        .call(Method::GET, "/widgets/deleted?per_page=100", None)
        .await
        .json();
    assert!(ids(&gone).contains(&one.to_owned()));
    let again = fake
        .call(Method::POST, &format!("/widgets/{one}/archive"), None)
        .await;
    assert_eq!(again.status, 404, "already archived");
    let back = fake
        .call(Method::POST, &format!("/widgets/{one}/unarchive"), None)
        .await;
    assert_eq!(back.status, 204);
    let page = fake
        .call(Method::GET, "/widgets?per_page=100", None)
        .await
        .json();
    assert!(ids(&page).contains(&one.to_owned()));

    // Delete on an item with archived_at archives rather than removes.
    let deleted = fake
        .call(Method::DELETE, &format!("/widgets/{one}"), None)
        .await;
    assert_eq!(deleted.status, 204);
    let still = fake
        .call(Method::GET, &format!("/widgets/{one}"), None)
        .await;
    assert_eq!(still.status, 200);
    assert!(still.json()["archived_at"].is_string());
}

/// The embedded spec's patients: an archived patient is gone for a change as for a read (404
/// without `*`) until unarchived, and a page number anywhere in the spec's int64 range answers
/// (an empty page past the last) instead of 400. Both found by schemathesis.
#[tokio::test]
async fn archived_patients_cannot_be_changed_and_any_page_number_answers() {
    let server = FakeCliniko::builder()
        .api_key(KEY)
        .attendees(20)
        .rate_limit_per_minute(None)
        .start()
        .await
        .expect("starts");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{KEY}:"));
    let client = reqwest::Client::new();
    let send = |method: Method, path: String, body: Option<Value>| {
        let mut request = client
            .request(method, format!("{}{path}", server.base_url()))
            .header("authorization", format!("Basic {auth}"))
            .header("user-agent", USER_AGENT)
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        async move {
            let response = request.send().await.expect("answers");
            let status = response.status().as_u16();
            (status, response.text().await.expect("a body"))
        }
    };
    // A new patient: many seeded ones are archived or deleted already.
    let (status, text) = send(
        Method::POST,
        "/patients".to_owned(),
        Some(json!({"first_name": "Zoë", "last_name": "Nguyễn"})),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    let made: Value = serde_json::from_str(&text).expect("JSON");
    let patient = made["id"].as_str().expect("an ID").to_owned();
    let change = || json!({"notes": "moved"});
    let (status, text) = send(
        Method::PATCH,
        format!("/patients/{patient}"),
        Some(change()),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let (status, _) = send(Method::POST, format!("/patients/{patient}/archive"), None).await;
    assert_eq!(status, 204);
    let (status, text) = send(
        Method::PATCH,
        format!("/patients/{patient}"),
        Some(change()),
    )
    .await;
    assert_eq!(status, 404, "an archived patient was changed: {text}");
    let (status, _) = send(Method::GET, format!("/patients/{patient}"), None).await;
    assert_eq!(status, 404);
    let (status, _) = send(Method::POST, format!("/patients/{patient}/unarchive"), None).await;
    assert!((200..300).contains(&status), "unarchive answered {status}");
    let (status, text) = send(
        Method::PATCH,
        format!("/patients/{patient}"),
        Some(change()),
    )
    .await;
    assert_eq!(status, 200, "{text}");

    let last = i64::MAX;
    let (status, text) = send(Method::GET, format!("/patients?page={last}"), None).await;
    assert_eq!(status, 200, "{text}");
    let page: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(page["patients"], json!([]));
    assert!(page["total_entries"].as_u64() > Some(0));
    let (status, _) = send(
        Method::GET,
        format!("/patients?page={}", last as u64 + 1),
        None,
    )
    .await;
    assert_eq!(status, 400, "beyond int64 is refused");
}
