//! The checks a spec must pass before code is generated from it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::pointer::{push, resolve};
use crate::{METHODS, Problem, SchemaOptions, SchemaValidator, Spec};

pub(crate) fn problems(spec: &Spec) -> Vec<Problem> {
    let mut checker = Checker {
        document: spec.raw(),
        problems: Vec::new(),
    };
    checker.references(spec.raw(), "");
    checker.operations();
    checker.code_enums();
    checker.nullable_siblings(spec.raw(), "");
    checker.examples();
    let mut problems = checker.problems;
    problems.extend(crate::resources::read(spec).err().unwrap_or_default());
    problems.extend(crate::resources::marks(spec).err().unwrap_or_default());
    problems
}

/// Only the `$ref` problems: one that is not local, does not resolve, or leads back to itself
/// through other `$ref`s.
pub(crate) fn reference_problems(spec: &Spec) -> Vec<Problem> {
    let mut checker = Checker {
        document: spec.raw(),
        problems: Vec::new(),
    };
    checker.references(spec.raw(), "");
    checker.problems
}

struct Checker<'a> {
    document: &'a Value,
    problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    fn problem(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.problems
            .push(Problem::new(pointer.into(), message.into()));
    }

    /// Every `$ref` must be local and resolve.
    fn references(&mut self, value: &'a Value, at: &str) {
        match value {
            Value::Object(object) => {
                for (key, child) in object {
                    let here = push(at, key);
                    if key == "$ref" {
                        match child.as_str() {
                            Some(reference) if !reference.starts_with("#/") => self.problem(
                                here,
                                format!("$ref {reference} is not local; only `#/...` references are supported"),
                            ),
                            Some(reference) if resolve(self.document, reference).is_none() => {
                                self.problem(here, format!("$ref {reference} does not resolve"))
                            }
                            Some(reference) => {
                                if let Some(cycle) = ref_cycle(self.document, reference) {
                                    self.problem(
                                        here,
                                        format!("$ref {reference} leads back to itself: {cycle}"),
                                    );
                                }
                            }
                            None => self.problem(here, "$ref must be a string"),
                        }
                    } else {
                        self.references(child, &here);
                    }
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    self.references(child, &push(at, &index.to_string()));
                }
            }
            _ => {}
        }
    }

    /// Follows `$ref`s from `value`, with the last one followed; `None` for a chain that does not
    /// resolve or loops, which [`Checker::references`] already reported.
    fn deref(&self, value: &'a Value) -> Option<(&'a Value, Option<&'a str>)> {
        let chased = crate::pointer::chase(self.document, value);
        match chased.broken {
            None => Some((chased.value, chased.reference)),
            Some(_) => None,
        }
    }

    fn each_operation(&self) -> Vec<(String, &'a Value)> {
        let mut out = Vec::new();
        for (path, item) in self
            .document
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let item_pointer = push("/paths", path);
            for method in METHODS {
                if let Some(operation) = item.get(*method) {
                    out.push((push(&item_pointer, method), operation));
                }
            }
        }
        out
    }

    /// `nullable` adds null only to a `type` in the same schema object (OpenAPI 3.0.3, "Fixed
    /// Fields" of the Schema Object). Beside a lone `allOf`/`$ref` it is read as "not nullable" by
    /// strict tools and refused by redocly, while typify reads it as nullable: the same document
    /// would mean two things.
    fn nullable_siblings(&mut self, value: &'a Value, at: &str) {
        match value {
            Value::Object(object) => {
                if object.get("nullable").is_some_and(Value::is_boolean)
                    && !object.contains_key("type")
                {
                    let property = at
                        .rsplit_once("/properties/")
                        .map(|(_, name)| {
                            format!(
                                "property `{}`: ",
                                name.replace("~1", "/").replace("~0", "~")
                            )
                        })
                        .unwrap_or_default();
                    self.problem(
                        push(at, "nullable"),
                        format!(
                            "{property}`nullable` without a `type` beside it is not nullable to strict OpenAPI 3.0.3 readers; \
                             for a nullable reference write `oneOf: [{{$ref: ...}}, {{type: T, nullable: true, enum: [null]}}]`"
                        ),
                    );
                }
                for (key, child) in object {
                    // Examples are data, not schemas.
                    if matches!(
                        key.as_str(),
                        "example" | "examples" | "x-enum-varnames" | "x-enum-descriptions"
                    ) {
                        continue;
                    }
                    self.nullable_siblings(child, &push(at, key));
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    self.nullable_siblings(child, &push(at, &index.to_string()));
                }
            }
            _ => {}
        }
    }

    /// Every operation is named, summarised, uniquely identified, and has one success schema and
    /// one error schema (progenitor cannot generate more).
    fn operations(&mut self) {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (at, operation) in self.each_operation() {
            match operation.get("operationId").and_then(Value::as_str) {
                None | Some("") => self.problem(
                    &at,
                    "operation has no operationId; add a unique camelCase one",
                ),
                Some(id) => {
                    if let Some(first) = seen.get(id) {
                        self.problem(
                            &at,
                            format!("duplicate operationId `{id}`, already used at {first}"),
                        );
                    } else {
                        seen.insert(id.to_owned(), at.clone());
                    }
                }
            }
            if operation
                .get("summary")
                .and_then(Value::as_str)
                .is_none_or(|s| s.trim().is_empty())
            {
                self.problem(&at, "operation has no summary");
            }
            self.response_shapes(&at, operation);
        }
    }

    fn response_shapes(&mut self, at: &str, operation: &'a Value) {
        let mut success = BTreeSet::new();
        let mut failure = BTreeSet::new();
        for (status, response) in operation
            .get("responses")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let Some((response, _)) = self.deref(response) else {
                continue;
            };
            let shape = match response.get("content").and_then(Value::as_object) {
                None => "no body".to_owned(),
                Some(content) => match content
                    .iter()
                    .find(|(media, _)| media.starts_with("application/json"))
                {
                    Some((_, media)) => match media.get("schema") {
                        Some(schema) => match schema.get("$ref").and_then(Value::as_str) {
                            Some(reference) => reference.to_owned(),
                            None => schema.to_string(),
                        },
                        None => "a JSON body without a schema".to_owned(),
                    },
                    None => "a non-JSON body".to_owned(),
                },
            };
            if status.starts_with('2') {
                success.insert(shape);
            } else if status.starts_with('4') || status.starts_with('5') {
                failure.insert(shape);
            }
        }
        if success.is_empty() {
            self.problem(push(at, "responses"), "operation documents no 2xx response");
        }
        for (kind, shapes) in [("success", success), ("error", failure)] {
            if shapes.len() > 1 {
                let list: Vec<_> = shapes.into_iter().collect();
                self.problem(
                    push(at, "responses"),
                    format!(
                        "operation has {} different {kind} bodies ({}); progenitor needs a single one",
                        list.len(),
                        list.join(", ")
                    ),
                );
            }
        }
    }

    /// `x-enum-varnames` and `x-enum-descriptions` must name every enum value.
    fn code_enums(&mut self) {
        for (name, schema) in self.component("schemas") {
            let at = push("/components/schemas", name);
            let values = schema
                .get("enum")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            for extension in ["x-enum-varnames", "x-enum-descriptions"] {
                if let Some(names) = schema.get(extension) {
                    let count = names.as_array().map_or(0, Vec::len);
                    if count != values {
                        self.problem(
                            push(&at, extension),
                            format!("{extension} has {count} entries for {values} enum values; give one per value"),
                        );
                    }
                }
            }
        }
    }

    fn component(&self, kind: &str) -> Vec<(&'a String, &'a Value)> {
        self.document
            .get("components")
            .and_then(|c| c.get(kind))
            .and_then(Value::as_object)
            .map(|map| map.iter().collect())
            .unwrap_or_default()
    }

    /// Every example, wherever it stands, must pass the schema it illustrates.
    fn examples(&mut self) {
        for (name, schema) in self.component("schemas") {
            self.schema_examples(schema, &push("/components/schemas", name));
        }
        for (name, parameter) in self.component("parameters") {
            self.parameter_examples(parameter, &push("/components/parameters", name));
        }
        for (name, header) in self.component("headers") {
            self.parameter_examples(header, &push("/components/headers", name));
        }
        for (name, body) in self.component("requestBodies") {
            self.content_examples(body, &push("/components/requestBodies", name), false);
        }
        for (name, response) in self.component("responses") {
            self.response_examples(response, &push("/components/responses", name));
        }
        for (path, item) in self
            .document
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let item_pointer = push("/paths", path);
            self.parameter_list_examples(item, &item_pointer);
        }
        for (at, operation) in self.each_operation() {
            self.parameter_list_examples(operation, &at);
            match operation.get("requestBody") {
                Some(body) if body.get("$ref").is_none() => {
                    self.content_examples(body, &push(&at, "requestBody"), true)
                }
                Some(body) => {
                    if let Some((target, Some(reference))) = self.deref(body)
                        && !has_examples(target)
                    {
                        self.problem(
                            push(&at, "requestBody"),
                            format!("request body {reference} has no example"),
                        );
                    }
                }
                None => {}
            }
            for (status, response) in operation
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let here = push(&push(&at, "responses"), status);
                if response.get("$ref").is_none() {
                    self.response_examples(response, &here);
                }
                if status.starts_with('2')
                    && let Some((target, _)) = self.deref(response)
                    && target.get("content").is_some()
                    && !has_examples(target)
                {
                    self.problem(
                        here,
                        "success response has no example; add one under its media type",
                    );
                }
            }
        }
    }

    fn parameter_list_examples(&mut self, owner: &'a Value, at: &str) {
        for (index, parameter) in owner
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if parameter.get("$ref").is_none() {
                self.parameter_examples(
                    parameter,
                    &push(&push(at, "parameters"), &index.to_string()),
                );
            }
        }
    }

    fn response_examples(&mut self, response: &'a Value, at: &str) {
        for (name, header) in response
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if header.get("$ref").is_none() {
                self.parameter_examples(header, &push(&push(at, "headers"), name));
            }
        }
        self.content_examples(response, at, false);
    }

    /// Parameters and headers carry `example`/`examples` beside their `schema`.
    fn parameter_examples(&mut self, parameter: &'a Value, at: &str) {
        if let Some(schema) = parameter.get("schema") {
            let schema_at = push(at, "schema");
            self.schema_examples(schema, &schema_at);
            self.example_set(parameter, at, schema, &schema_at);
        }
    }

    fn content_examples(&mut self, owner: &'a Value, at: &str, require: bool) {
        if require && !has_examples(owner) {
            self.problem(
                at,
                "request body has no example; add one under its media type",
            );
        }
        let content_at = push(at, "content");
        for (media, media_type) in owner
            .get("content")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let media_at = push(&content_at, media);
            if let Some(schema) = media_type.get("schema") {
                let schema_at = push(&media_at, "schema");
                self.schema_examples(schema, &schema_at);
                self.example_set(media_type, &media_at, schema, &schema_at);
            }
        }
    }

    /// Checks `example` and each of `examples` held by `owner` against `schema`.
    fn example_set(&mut self, owner: &'a Value, at: &str, schema: &'a Value, schema_at: &str) {
        if let Some(example) = owner.get("example") {
            self.validate_example(example, &push(at, "example"), schema, schema_at);
        }
        for (name, example) in owner
            .get("examples")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let example_at = push(&push(at, "examples"), name);
            let Some((example, reference)) = self.deref(example) else {
                continue;
            };
            let value_at = match reference {
                Some(reference) => push(reference.trim_start_matches('#'), "value"),
                None => push(&example_at, "value"),
            };
            match example.get("value") {
                Some(value) => self.validate_example(value, &value_at, schema, schema_at),
                None => self.problem(example_at, "example has no `value`"),
            }
        }
    }

    /// Schema objects may carry an `example`; check those of `schema` and of its parts.
    fn schema_examples(&mut self, schema: &'a Value, at: &str) {
        let Some(object) = schema.as_object() else {
            return;
        };
        if object.contains_key("$ref") {
            return;
        }
        if let Some(example) = object.get("example") {
            self.validate_example(example, &push(at, "example"), schema, at);
        }
        for (name, property) in object
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            self.schema_examples(property, &push(&push(at, "properties"), name));
        }
        for key in ["items", "additionalProperties", "not"] {
            if let Some(part) = object.get(key) {
                self.schema_examples(part, &push(at, key));
            }
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            for (index, part) in object
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                self.schema_examples(part, &push(&push(at, key), &index.to_string()));
            }
        }
    }

    fn validate_example(&mut self, example: &Value, at: &str, schema: &Value, schema_at: &str) {
        match SchemaValidator::compile(self.document, schema, SchemaOptions::default()) {
            Ok(validator) => {
                for violation in validator.violations(example) {
                    self.problem(
                        format!("{at}{}", violation.pointer),
                        format!(
                            "example does not match the schema at {schema_at}: {}",
                            violation.message
                        ),
                    );
                }
            }
            // A broken `$ref` inside the schema is reported by `references`; anything else here is new.
            Err(message) if message.contains("does not resolve") => {}
            Err(message) => self.problem(schema_at, message),
        }
    }
}

fn has_examples(owner: &Value) -> bool {
    owner
        .get("content")
        .and_then(Value::as_object)
        .is_some_and(|content| {
            content
                .values()
                .any(|media| media.get("example").is_some() || media.get("examples").is_some())
        })
}

/// The chain of `$ref`s from `reference` when it comes back to one already met before reaching
/// a schema (`#/a → #/b → #/a`), which no reader can follow.
fn ref_cycle(document: &Value, reference: &str) -> Option<String> {
    let mut chain = vec![reference];
    let mut current = reference;
    while let Some(next) = resolve(document, current)
        .and_then(|target| target.get("$ref"))
        .and_then(Value::as_str)
    {
        let seen = chain.contains(&next);
        chain.push(next);
        if seen {
            return Some(chain.join(" → "));
        }
        current = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ref_cycle_is_named_with_its_chain() {
        let yaml = "openapi: 3.0.3\ninfo: {title: t, version: v1}\npaths: {}\ncomponents:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n    B: {$ref: '#/components/schemas/A'}\n    C: {type: object, properties: {self: {$ref: '#/components/schemas/C'}}}\n";
        let spec = Spec::from_yaml_str(yaml, "cycle.yaml").expect("loads");
        let problems = reference_problems(&spec);
        let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "at /components/schemas/A/$ref: $ref #/components/schemas/B leads back to itself: #/components/schemas/B → #/components/schemas/A → #/components/schemas/B",
                "at /components/schemas/B/$ref: $ref #/components/schemas/A leads back to itself: #/components/schemas/A → #/components/schemas/B → #/components/schemas/A",
            ],
            "a recursive schema (C) is no cycle"
        );
        let error = spec.check_references().expect_err("refused");
        assert!(
            error
                .to_string()
                .contains("cycle.yaml:6: at /components/schemas/A/$ref"),
            "{error}"
        );
    }
}
