//! One test per rule of the table in the module docs, on small documents.

use serde_json::{Value, json};

use super::*;

/// A document with one operation, `POST /attendees`, whose request body and 200 response body
/// have the given schemas.
fn api(request: Value, response: Value) -> Value {
    json!({
        "openapi": "3.0.3",
        "info": { "title": "t", "version": "v1" },
        "paths": { "/attendees": { "post": {
            "operationId": "createAttendee",
            "requestBody": { "required": true, "content": { "application/json": { "schema": request } } },
            "responses": { "200": { "description": "ok", "content": { "application/json": { "schema": response } } } }
        } } }
    })
}

fn object(properties: Value) -> Value {
    json!({ "type": "object", "properties": properties })
}

/// The only change between two documents.
fn only(base: &Value, head: &Value) -> Change {
    let diff = diff_documents(base, head);
    assert_eq!(
        diff.changes().len(),
        1,
        "expected one change, found {:#?}",
        diff.changes()
    );
    diff.changes()[0].clone()
}

fn in_request(before: Value, after: Value) -> Change {
    only(&api(before, json!({})), &api(after, json!({})))
}

fn in_response(before: Value, after: Value) -> Change {
    only(&api(json!({}), before), &api(json!({}), after))
}

#[test]
fn removing_an_operation_breaks_and_adding_one_does_not() {
    let base = api(json!({}), json!({}));
    let mut head = base.clone();
    head["paths"]["/attendees"]["get"] = json!({ "operationId": "listAttendees", "responses": {} });
    let added = only(&base, &head);
    assert_eq!(
        (added.kind, added.verdict),
        (ChangeKind::OperationAdded, Verdict::NotBreaking)
    );
    assert_eq!(added.location, "GET /attendees");
    let removed = only(&head, &base);
    assert_eq!(
        (removed.kind, removed.verdict),
        (ChangeKind::OperationRemoved, Verdict::Breaking)
    );
    assert_eq!(removed.before.as_deref(), Some("listAttendees"));
}

#[test]
fn renaming_an_operation_id_breaks_the_generated_method() {
    let base = api(json!({}), json!({}));
    let mut head = base.clone();
    head["paths"]["/attendees"]["post"]["operationId"] = json!("addAttendee");
    let change = only(&base, &head);
    assert_eq!(
        (change.kind, change.verdict),
        (ChangeKind::OperationIdChanged, Verdict::Breaking)
    );
    assert_eq!(change.operations, ["addAttendee"]);
}

#[test]
fn removing_a_status_breaks_and_adding_one_does_not() {
    let base = api(json!({}), json!({}));
    let mut head = base.clone();
    head["paths"]["/attendees"]["post"]["responses"]["429"] = json!({ "description": "slow down" });
    let added = only(&base, &head);
    assert_eq!(
        (added.kind, added.verdict),
        (ChangeKind::StatusAdded, Verdict::NotBreaking)
    );
    assert_eq!(added.location, "POST /attendees → 429");
    let removed = only(&head, &base);
    assert_eq!(
        (removed.kind, removed.verdict),
        (ChangeKind::StatusRemoved, Verdict::Breaking)
    );
}

#[test]
fn removing_a_response_field_breaks() {
    let change = in_response(
        object(json!({ "id": { "type": "string" }, "notes": { "type": "string" } })),
        object(json!({ "id": { "type": "string" } })),
    );
    assert_eq!(
        (change.kind, change.verdict),
        (ChangeKind::PropertyRemoved, Verdict::Breaking)
    );
    assert_eq!(
        change.location,
        "POST /attendees → 200 application/json → /properties/notes"
    );
    assert_eq!(change.before.as_deref(), Some("string"));
}

#[test]
fn making_a_request_field_required_breaks_but_not_a_response_field() {
    let optional = object(json!({ "notes": { "type": "string" } }));
    let mut required = optional.clone();
    required["required"] = json!(["notes"]);
    let request = in_request(optional.clone(), required.clone());
    assert_eq!(
        (request.kind, request.verdict),
        (ChangeKind::RequiredAdded, Verdict::Breaking)
    );
    assert_eq!(
        request.location,
        "POST /attendees → request application/json → /properties/notes"
    );
    let response = in_response(optional, required);
    assert_eq!(
        (response.kind, response.verdict),
        (ChangeKind::RequiredAdded, Verdict::NotBreaking)
    );
}

#[test]
fn narrowing_a_request_range_breaks() {
    let cases = [
        (
            json!({ "type": "integer", "minimum": 1 }),
            json!({ "type": "integer", "minimum": 2 }),
            ChangeKind::MinimumChanged,
        ),
        (
            json!({ "type": "integer" }),
            json!({ "type": "integer", "minimum": 0 }),
            ChangeKind::MinimumChanged,
        ),
        (
            json!({ "type": "integer", "minimum": 1 }),
            json!({ "type": "integer", "minimum": 1, "exclusiveMinimum": true }),
            ChangeKind::MinimumChanged,
        ),
        (
            json!({ "type": "integer", "maximum": 100 }),
            json!({ "type": "integer", "maximum": 50 }),
            ChangeKind::MaximumChanged,
        ),
        (
            json!({ "type": "string", "maxLength": 10 }),
            json!({ "type": "string", "maxLength": 5 }),
            ChangeKind::MaxLengthChanged,
        ),
        (
            json!({ "type": "string", "minLength": 0 }),
            json!({ "type": "string", "minLength": 1 }),
            ChangeKind::MinLengthChanged,
        ),
        (
            json!({ "type": "array", "maxItems": 3 }),
            json!({ "type": "array", "maxItems": 2 }),
            ChangeKind::MaxItemsChanged,
        ),
    ];
    for (before, after, kind) in cases {
        let narrower = in_request(before.clone(), after.clone());
        assert_eq!(
            (narrower.kind, narrower.verdict),
            (kind, Verdict::Breaking),
            "{before} → {after}"
        );
        // The same change in a response narrows what the client reads: nothing breaks.
        let response = in_response(before.clone(), after.clone());
        assert_eq!(
            response.verdict,
            Verdict::NotBreaking,
            "{before} → {after} in a response"
        );
        // Widening is the reverse: harmless in a request, breaking in a response.
        assert_eq!(
            in_request(after.clone(), before.clone()).verdict,
            Verdict::NotBreaking
        );
        assert_eq!(in_response(after, before).verdict, Verdict::Breaking);
    }
}

#[test]
fn minimum_change_shows_both_bounds() {
    let change = in_request(
        json!({ "type": "integer", "minimum": 1 }),
        json!({ "type": "integer", "minimum": 2 }),
    );
    assert_eq!(change.before.as_deref(), Some(">= 1"));
    assert_eq!(change.after.as_deref(), Some(">= 2"));
}

#[test]
fn adding_or_changing_a_request_pattern_breaks() {
    let added = in_request(
        json!({ "type": "string" }),
        json!({ "type": "string", "pattern": "^[0-9]+$" }),
    );
    assert_eq!(
        (added.kind, added.verdict),
        (ChangeKind::PatternAdded, Verdict::Breaking)
    );
    let changed = in_request(
        json!({ "type": "string", "pattern": "^[0-9]+$" }),
        json!({ "type": "string", "pattern": "^[1-9][0-9]*$" }),
    );
    assert_eq!(
        (changed.kind, changed.verdict),
        (ChangeKind::PatternChanged, Verdict::Breaking)
    );
    let removed = in_request(
        json!({ "type": "string", "pattern": "^a$" }),
        json!({ "type": "string" }),
    );
    assert_eq!(
        (removed.kind, removed.verdict),
        (ChangeKind::PatternRemoved, Verdict::NotBreaking)
    );
    let in_a_response = in_response(
        json!({ "type": "string" }),
        json!({ "type": "string", "pattern": "^a$" }),
    );
    assert_eq!(in_a_response.verdict, Verdict::NotBreaking);
    // A pattern that accepts everything the old one did, and more, is wider: fine in a request,
    // breaking in a response; the other way round the other way.
    let (narrow, wide) = (
        json!({ "type": "string", "pattern": "^[0-9]{2}$" }),
        json!({ "type": "string", "pattern": "^[0-9]{1,3}$" }),
    );
    let cases = [
        (
            in_request(narrow.clone(), wide.clone()),
            Verdict::NotBreaking,
        ),
        (in_request(wide.clone(), narrow.clone()), Verdict::Breaking),
        (in_response(narrow.clone(), wide.clone()), Verdict::Breaking),
        (in_response(wide, narrow), Verdict::NotBreaking),
    ];
    for (change, verdict) in cases {
        assert_eq!(
            (change.kind, change.verdict),
            (ChangeKind::PatternChanged, verdict)
        );
    }
}

/// A response field whose schema is `oneOf` the given variants.
fn one_of(variants: Value) -> Value {
    object(json!({ "status": { "oneOf": variants } }))
}

#[test]
fn one_of_variants_are_matched_by_what_they_are() {
    let components = json!({ "schemas": {
        "A": { "type": "integer", "enum": [1, 2], "x-enum-varnames": ["One", "Two"] },
        "B": { "type": "string" },
    } });
    let with = |response: Value| {
        let mut document = api(json!({}), response);
        document["components"] = components.clone();
        document
    };
    let a = json!({ "$ref": "#/components/schemas/A" });
    let b = json!({ "$ref": "#/components/schemas/B" });
    // Reordered: no change.
    let base = with(one_of(json!([a, b])));
    assert!(
        diff_documents(&base, &with(one_of(json!([b, a]))))
            .changes()
            .is_empty()
    );
    // One branch added beside `oneOf: [$ref, null]`: one change, at the new branch.
    let nullable = with(one_of(json!([a, null])));
    let added = only(
        &nullable,
        &with(one_of(json!([a, { "type": "boolean" }, null]))),
    );
    assert_eq!(
        (added.kind, added.verdict),
        (ChangeKind::VariantAdded, Verdict::Breaking)
    );
    assert_eq!(added.summary(), "oneOf variant added: boolean");
    assert_eq!(
        added.location,
        "POST /attendees → 200 application/json → /properties/status/oneOf/1"
    );
    // A plain `$ref` that becomes one of two: the old schema is one of them.
    let plain = with(object(json!({ "status": a })));
    let widened = only(&plain, &with(one_of(json!([a, b]))));
    assert_eq!(widened.kind, ChangeKind::VariantAdded);
    assert_eq!(widened.after.as_deref(), Some("oneOf: B"));
    // A variant removed breaks, in a response too: the generated type loses it.
    let removed = only(&base, &with(one_of(json!([b]))));
    assert_eq!(
        (removed.kind, removed.verdict),
        (ChangeKind::VariantRemoved, Verdict::Breaking)
    );
    // An edit inside the `$ref`'d schema is located there, through the `oneOf` step.
    let mut edited = nullable.clone();
    edited["components"]["schemas"]["A"]["enum"] = json!([1, 2, 3]);
    edited["components"]["schemas"]["A"]["x-enum-varnames"] = json!(["One", "Two", "Three"]);
    let value = only(&nullable, &edited);
    assert_eq!(value.kind, ChangeKind::EnumValueAdded);
    assert_eq!(value.verdict, Verdict::BreakingWithoutCatchAll);
    assert_eq!(value.schema_location.as_deref(), Some("A"));
    assert_eq!(value.pointer, "#/components/schemas/A/enum");
    assert_eq!(
        value.location,
        "POST /attendees → 200 application/json → /properties/status/oneOf/0"
    );
    assert_eq!(value.level(Profile::Ours), Level::Warning);
    assert_eq!(value.level(Profile::Strict), Level::Breaking);
}

/// The document of [`api`] with Cliniko's facts.
fn with_facts(retry: &str, requests: u32, shard: &str, fields: Value) -> Value {
    let mut document = api(json!({}), json!({}));
    document["x-cliniko-rate-limit"] = json!({ "requests": requests, "window-seconds": 60 });
    document["servers"] = json!([{ "url": "https://api.{shard}.example/v1", "variables": {
        "shard": { "default": "au1", "enum": ["au1"], "x-cliniko-pattern": shard } } }]);
    let post = &mut document["paths"]["/attendees"]["post"];
    post["x-cliniko-retry"] = json!(retry);
    let fields_list: Vec<crate::facts::FilterField> =
        crate::facts::filter_fields_from_value(&fields).0;
    post["parameters"] = json!([{ "name": "q[]", "in": "query", "x-cliniko-filter-fields": fields,
        "schema": { "type": "array", "items": { "type": "string",
            "pattern": crate::facts::filter_pattern(&fields_list) } } }]);
    document
}

#[test]
fn each_fact_breaks_one_way_only() {
    let base = with_facts(
        "only-if-not-sent",
        200,
        "^[a-z]{2}[0-9]+$",
        json!({ "numeric": ["id", "patient_id"] }),
    );
    let cases = [
        (
            with_facts(
                "always",
                200,
                "^[a-z]{2}[0-9]+$",
                json!({ "numeric": ["id", "patient_id"] }),
            ),
            ChangeKind::RetryChanged,
        ),
        (
            with_facts(
                "only-if-not-sent",
                100,
                "^[a-z]{2}[0-9]+$",
                json!({ "numeric": ["id", "patient_id"] }),
            ),
            ChangeKind::RateLimitChanged,
        ),
        (
            with_facts(
                "only-if-not-sent",
                200,
                "^[a-z]{2}[0-9]$",
                json!({ "numeric": ["id", "patient_id"] }),
            ),
            ChangeKind::ClinikoPatternChanged,
        ),
        (
            with_facts(
                "only-if-not-sent",
                200,
                "^[a-z]{2}[0-9]+$",
                json!({ "numeric": ["id"] }),
            ),
            ChangeKind::FilterFieldRemoved,
        ),
    ];
    for (head, kind) in cases {
        let breaking = only(&base, &head);
        assert_eq!(
            (breaking.kind, breaking.verdict),
            (kind, Verdict::Breaking),
            "{breaking:#?}"
        );
        let back = only(&head, &base);
        let back_kind = if kind == ChangeKind::FilterFieldRemoved {
            ChangeKind::FilterFieldAdded
        } else {
            kind
        };
        assert_eq!(
            (back.kind, back.verdict),
            (back_kind, Verdict::NotBreaking),
            "{back:#?}"
        );
    }
    // A limit that keeps the rate but allows a smaller burst still breaks: 200 at once was fine.
    let mut halved = base.clone();
    halved["x-cliniko-rate-limit"] = json!({ "requests": 100, "window-seconds": 30 });
    assert_eq!(only(&base, &halved).verdict, Verdict::Breaking);
    // An unknown retry value cannot be judged safe.
    let mut unknown = base.clone();
    unknown["paths"]["/attendees"]["post"]["x-cliniko-retry"] = json!("sometimes");
    assert_eq!(only(&base, &unknown).verdict, Verdict::Breaking);
}

#[test]
fn removing_a_request_enum_value_breaks_and_adding_one_does_not() {
    let removed = in_request(
        json!({ "type": "integer", "enum": [10, 20] }),
        json!({ "type": "integer", "enum": [10] }),
    );
    assert_eq!(
        (removed.kind, removed.verdict),
        (ChangeKind::EnumValueRemoved, Verdict::Breaking)
    );
    assert_eq!(removed.before.as_deref(), Some("20"));
    let added = in_request(
        json!({ "type": "integer", "enum": [10] }),
        json!({ "type": "integer", "enum": [10, 20] }),
    );
    assert_eq!(
        (added.kind, added.verdict),
        (ChangeKind::EnumValueAdded, Verdict::NotBreaking)
    );
    let response = in_response(
        json!({ "type": "integer", "enum": [10, 20] }),
        json!({ "type": "integer", "enum": [10] }),
    );
    assert_eq!(response.verdict, Verdict::NotBreaking);
}

#[test]
fn a_new_response_enum_value_is_flagged_for_generators_without_a_catch_all() {
    let code_list = |values: Value, names: Value| json!({ "type": "integer", "enum": values, "x-enum-varnames": names });
    // The lists of names grow with the values, which is an extension change and harmless.
    let diff = diff_documents(
        &api(
            json!({}),
            code_list(json!([10, 20]), json!(["Open", "Paid"])),
        ),
        &api(
            json!({}),
            code_list(json!([10, 20, 30]), json!(["Open", "Paid", "Closed"])),
        ),
    );
    let added = diff
        .changes()
        .iter()
        .find(|c| c.kind == ChangeKind::EnumValueAdded)
        .expect("listed");
    assert_eq!(added.verdict, Verdict::BreakingWithoutCatchAll);
    assert_eq!(added.after.as_deref(), Some("30"));
    assert!(!diff.is_breaking(), "{:#?}", diff.changes());
    // Without `x-enum-varnames` the generated enum refuses the new value.
    let plain = in_response(
        json!({ "type": "integer", "enum": [10] }),
        json!({ "type": "integer", "enum": [10, 20] }),
    );
    assert_eq!(plain.verdict, Verdict::Breaking);
}

#[test]
fn renaming_a_code_enum_variant_breaks() {
    let change = in_response(
        json!({ "type": "integer", "enum": [10], "x-enum-varnames": ["Open"] }),
        json!({ "type": "integer", "enum": [10], "x-enum-varnames": ["Opened"] }),
    );
    assert_eq!(
        (change.kind, change.verdict),
        (ChangeKind::ExtensionChanged, Verdict::Breaking)
    );
}

#[test]
fn changing_a_type_or_format_breaks() {
    let ty = in_response(json!({ "type": "integer" }), json!({ "type": "string" }));
    assert_eq!(
        (ty.kind, ty.verdict),
        (ChangeKind::TypeChanged, Verdict::Breaking)
    );
    assert_eq!(
        (ty.before.as_deref(), ty.after.as_deref()),
        (Some("integer"), Some("string"))
    );
    let format = in_request(
        json!({ "type": "integer", "format": "int64" }),
        json!({ "type": "integer", "format": "int32" }),
    );
    assert_eq!(
        (format.kind, format.verdict),
        (ChangeKind::FormatChanged, Verdict::Breaking)
    );
}

#[test]
fn a_response_field_that_becomes_nullable_or_optional_breaks() {
    let nullable = in_response(
        object(json!({ "notes": { "type": "string" } })),
        object(json!({ "notes": { "type": "string", "nullable": true } })),
    );
    assert_eq!(
        (nullable.kind, nullable.verdict),
        (ChangeKind::NullableAdded, Verdict::Breaking)
    );
    let mut required = object(json!({ "notes": { "type": "string" } }));
    required["required"] = json!(["notes"]);
    let optional = in_response(required, object(json!({ "notes": { "type": "string" } })));
    assert_eq!(
        (optional.kind, optional.verdict),
        (ChangeKind::RequiredRemoved, Verdict::Breaking)
    );
    // In a request both are harmless.
    let request = in_request(
        json!({ "type": "string" }),
        json!({ "type": "string", "nullable": true }),
    );
    assert_eq!(request.verdict, Verdict::NotBreaking);
}

#[test]
fn adding_optional_fields_does_not_break() {
    let request = in_request(
        object(json!({})),
        object(json!({ "notes": { "type": "string" } })),
    );
    assert_eq!(
        (request.kind, request.verdict),
        (ChangeKind::PropertyAdded, Verdict::NotBreaking)
    );
    let response = in_response(
        object(json!({})),
        object(json!({ "notes": { "type": "string" } })),
    );
    assert_eq!(
        (response.kind, response.verdict),
        (ChangeKind::PropertyAdded, Verdict::NotBreaking)
    );
    let mut required = object(json!({ "notes": { "type": "string" } }));
    required["required"] = json!(["notes"]);
    let required_request = in_request(object(json!({})), required);
    assert_eq!(required_request.verdict, Verdict::Breaking);
    assert_eq!(required_request.after.as_deref(), Some("string, required"));
}

#[test]
fn descriptions_summaries_and_examples_are_no_change() {
    let base = api(object(json!({ "notes": { "type": "string" } })), json!({}));
    let mut head = base.clone();
    let post = &mut head["paths"]["/attendees"]["post"];
    post["summary"] = json!("Create an attendee");
    post["description"] = json!("Adds a patient to a booking.");
    post["requestBody"]["content"]["application/json"]["examples"] =
        json!({ "a": { "value": { "notes": "x" } } });
    post["requestBody"]["content"]["application/json"]["schema"]["properties"]["notes"]["description"] =
        json!("Notes.");
    post["requestBody"]["content"]["application/json"]["schema"]["example"] =
        json!({ "notes": "y" });
    post["responses"]["200"]["description"] = json!("The attendee.");
    post["responses"]["200"]["links"] = json!({ "self": { "operationId": "getAttendee" } });
    assert!(diff_documents(&base, &head).changes().is_empty());
}

#[test]
fn moving_a_schema_into_components_is_no_change() {
    let inline = object(
        json!({ "id": { "type": "string", "format": "int64" }, "notes": { "type": "string", "nullable": true } }),
    );
    let base = api(json!({}), inline.clone());
    let mut head = api(
        json!({}),
        json!({ "$ref": "#/components/schemas/Attendee" }),
    );
    head["components"] = json!({ "schemas": {
        "Id": { "type": "string", "format": "int64" },
        "Attendee": { "type": "object", "properties": {
            "id": { "$ref": "#/components/schemas/Id" },
            "notes": { "type": "string", "nullable": true }
        } }
    } });
    assert!(diff_documents(&base, &head).changes().is_empty());
    assert!(diff_documents(&head, &base).changes().is_empty());
}

#[test]
fn nullable_idioms_around_a_ref_compare_equal() {
    let components = json!({ "schemas": { "Status": { "type": "integer", "enum": [10, 90] } } });
    let spellings = [
        json!({ "nullable": true, "allOf": [{ "$ref": "#/components/schemas/Status" }] }),
        json!({ "anyOf": [{ "$ref": "#/components/schemas/Status" }, { "enum": [null] }] }),
        json!({ "oneOf": [{ "$ref": "#/components/schemas/Status" }, { "type": "integer", "nullable": true, "enum": [null] }] }),
        json!({ "type": "integer", "nullable": true, "enum": [10, 90, null] }),
    ];
    for (a, b) in spellings.iter().zip(spellings.iter().skip(1)) {
        let mut base = api(json!({}), a.clone());
        let mut head = api(json!({}), b.clone());
        base["components"] = components.clone();
        head["components"] = components.clone();
        let diff = diff_documents(&base, &head);
        assert!(
            diff.changes().is_empty(),
            "{a} → {b}: {:#?}",
            diff.changes()
        );
    }
}

/// A bare `{nullable: true}` takes any value under OpenAPI 3.0.3 (`nullable` widens only a `type`
/// beside it), so beside a `$ref` it is not the "or null" branch: the schema changed.
#[test]
fn a_bare_nullable_branch_is_not_an_or_null_branch() {
    let components = json!({ "schemas": { "Status": { "type": "integer", "enum": [10, 90] } } });
    let mut base = api(
        json!({}),
        json!({ "anyOf": [{ "$ref": "#/components/schemas/Status" }, { "enum": [null] }] }),
    );
    let mut head = api(
        json!({}),
        json!({ "oneOf": [{ "$ref": "#/components/schemas/Status" }, { "nullable": true }] }),
    );
    base["components"] = components.clone();
    head["components"] = components;
    assert!(!diff_documents(&base, &head).changes().is_empty());
}

#[test]
fn a_change_in_a_shared_schema_is_named_by_the_schema_and_grouped() {
    let components =
        |notes: Value| json!({ "schemas": { "Attendee": object(json!({ "notes": notes })) } });
    let reference = json!({ "$ref": "#/components/schemas/Attendee" });
    let list = json!({ "type": "object", "properties": { "attendees": { "type": "array", "items": reference } } });
    let mut base = api(json!({}), reference.clone());
    base["paths"]["/attendees"]["get"] = json!({ "operationId": "listAttendees", "responses": {
        "200": { "description": "ok", "content": { "application/json": { "schema": list } } } } });
    let mut head = base.clone();
    base["components"] = components(json!({ "type": "string" }));
    head["components"] = components(json!({ "type": "string", "nullable": true }));
    let change = only(&base, &head);
    assert_eq!(
        change.locations,
        [
            "GET /attendees → 200 application/json → /properties/attendees/items/properties/notes",
            "POST /attendees → 200 application/json → /properties/notes",
        ]
    );
    assert_eq!(change.place(), "Attendee → /properties/notes");
    assert_eq!(
        change.pointer,
        "#/components/schemas/Attendee/properties/notes/nullable"
    );
    assert_eq!(change.operations, ["listAttendees", "createAttendee"]);
}

#[test]
fn parameters_required_ones_added_break() {
    let with = |parameters: Value| {
        let mut document = api(json!({}), json!({}));
        document["paths"]["/attendees"]["post"]["parameters"] = parameters;
        document
    };
    let base = with(json!([]));
    let header = with(
        json!([{ "name": "User-Agent", "in": "header", "required": true, "schema": { "type": "string" } }]),
    );
    let change = only(&base, &header);
    assert_eq!(
        (change.kind, change.verdict),
        (ChangeKind::ParameterAdded, Verdict::Breaking)
    );
    assert_eq!(change.location, "POST /attendees → header User-Agent");
    let query = with(json!([{ "name": "page", "in": "query", "schema": { "type": "integer" } }]));
    assert_eq!(only(&base, &query).verdict, Verdict::NotBreaking);
    assert_eq!(only(&query, &base).verdict, Verdict::Breaking);
    // A header's name is case-insensitive.
    let lower = with(
        json!([{ "name": "user-agent", "in": "header", "required": true, "schema": { "type": "string" } }]),
    );
    assert!(diff_documents(&header, &lower).changes().is_empty());
}

#[test]
fn renaming_a_path_parameter_is_no_change() {
    let with = |path: &str, name: &str| {
        json!({ "openapi": "3.0.3", "info": { "title": "t", "version": "v1" }, "paths": { path: { "get": {
            "operationId": "getAttendee",
            "parameters": [{ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }],
            "responses": {}
        } } } })
    };
    let diff = diff_documents(
        &with("/attendees/{id}", "id"),
        &with("/attendees/{attendee_id}", "attendee_id"),
    );
    assert!(diff.changes().is_empty(), "{:#?}", diff.changes());
}

#[test]
fn removing_a_response_header_breaks() {
    let base = api(json!({}), json!({}));
    let mut head = base.clone();
    head["paths"]["/attendees"]["post"]["responses"]["200"]["headers"] = json!({ "Location": { "required": true, "schema": { "type": "string", "format": "uri" } } });
    let added = only(&base, &head);
    assert_eq!(
        (added.kind, added.verdict),
        (ChangeKind::HeaderAdded, Verdict::NotBreaking)
    );
    assert_eq!(added.location, "POST /attendees → 200 → header Location");
    let removed = only(&head, &base);
    assert_eq!(
        (removed.kind, removed.verdict),
        (ChangeKind::HeaderRemoved, Verdict::Breaking)
    );
}

#[test]
fn a_server_covered_by_a_new_template_still_works() {
    let with = |servers: Value| {
        let mut document = api(json!({}), json!({}));
        document["servers"] = servers;
        document
    };
    let fixed = with(json!([{ "url": "https://api.au1.cliniko.com/v1" }]));
    let templated = with(json!([{ "url": "https://api.{shard}.cliniko.com/v1",
        "variables": { "shard": { "default": "au1", "enum": ["au1", "au2"] } } }]));
    let change = only(&fixed, &templated);
    assert_eq!(
        (change.kind, change.verdict),
        (ChangeKind::ServerTemplated, Verdict::NotBreaking)
    );
    let other = with(json!([{ "url": "https://api.example.com/v1" }]));
    let removed = diff_documents(&fixed, &other);
    assert_eq!(removed.changes()[0].kind, ChangeKind::ServerRemoved);
    assert!(removed.is_breaking());
    let fewer = with(json!([{ "url": "https://api.{shard}.cliniko.com/v1",
        "variables": { "shard": { "default": "au1", "enum": ["au1"] } } }]));
    let value = only(&templated, &fewer);
    assert_eq!(
        (value.kind, value.verdict),
        (ChangeKind::EnumValueRemoved, Verdict::Breaking)
    );
    assert_eq!(
        value.location,
        "servers → https://api.{shard}.cliniko.com/v1 → variable shard"
    );
}

#[test]
fn removing_a_security_alternative_breaks() {
    let with = |security: Value| {
        let mut document = api(json!({}), json!({}));
        document["security"] = security;
        document
    };
    let basic = with(json!([{ "basicAuth": [] }]));
    let either = with(json!([{ "basicAuth": [] }, { "bearer": [] }]));
    assert_eq!(only(&basic, &either).verdict, Verdict::NotBreaking);
    let removed = only(&either, &basic);
    assert_eq!(
        (removed.kind, removed.verdict),
        (ChangeKind::SecurityRequirementRemoved, Verdict::Breaking)
    );
    let none = with(json!([]));
    assert_eq!(only(&none, &basic).verdict, Verdict::Breaking);
}

#[test]
fn a_recursive_schema_is_compared_without_looping() {
    let tree = |extra: Value| {
        let mut document = api(json!({}), json!({ "$ref": "#/components/schemas/Node" }));
        document["components"] = json!({ "schemas": { "Node": { "type": "object", "properties": {
            "children": { "type": "array", "items": { "$ref": "#/components/schemas/Node" } },
            "name": extra
        } } } });
        document
    };
    let change = only(
        &tree(json!({ "type": "string" })),
        &tree(json!({ "type": "integer" })),
    );
    assert_eq!(change.kind, ChangeKind::TypeChanged);
    assert_eq!(
        change.schema_location.as_deref(),
        Some("Node → /properties/name")
    );
}

#[test]
fn the_bump_follows_semver_and_cargo_before_1_0() {
    let none = diff_documents(&api(json!({}), json!({})), &api(json!({}), json!({})));
    assert_eq!(
        (none.required_bump(0), none.required_bump(1)),
        (Bump::None, Bump::None)
    );
    let compatible = diff_documents(
        &api(object(json!({})), json!({})),
        &api(object(json!({ "a": {} })), json!({})),
    );
    assert_eq!(
        (compatible.required_bump(0), compatible.required_bump(2)),
        (Bump::Patch, Bump::Minor)
    );
    let breaking = diff_documents(
        &api(object(json!({ "a": {} })), json!({})),
        &api(object(json!({})), json!({})),
    );
    assert_eq!(
        (breaking.required_bump(0), breaking.required_bump(2)),
        (Bump::Minor, Bump::Major)
    );
}

#[test]
fn the_workspace_spec_has_no_change_against_itself() {
    let spec = crate::Spec::embedded().expect("the embedded spec loads");
    assert!(diff(&spec, &spec).changes().is_empty());
}

#[test]
fn kinds_are_named_in_kebab_case() {
    assert_eq!(ChangeKind::EnumValueAdded.name(), "enum-value-added");
    assert_eq!(
        ChangeKind::OperationIdChanged.to_string(),
        "operation-id-changed"
    );
}
