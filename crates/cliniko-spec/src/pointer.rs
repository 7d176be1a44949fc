//! JSON pointers (RFC 6901): building them and following local `$ref`s.

/// Escapes one reference token (`~` becomes `~0`, `/` becomes `~1`).
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Appends one token to a pointer.
pub fn push(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", escape(token))
}

/// Follows a local `$ref` (`#/components/...`) in `document`.
///
/// Returns `None` for a reference that is not local or does not resolve.
pub fn resolve<'a>(
    document: &'a serde_json::Value,
    reference: &str,
) -> Option<&'a serde_json::Value> {
    document.pointer(reference.strip_prefix('#')?)
}

/// How many `$ref`s a chain may have before it counts as a loop; far beyond any real spec.
pub const MAX_HOPS: usize = 64;

/// Where a chain of `$ref`s from a node ends: what [`chase`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chase<'a> {
    /// The node reached: the first that is not a reference, or, when the chain is
    /// [`broken`](Chase::broken), the last node that resolved (the one holding the bad `$ref`).
    pub value: &'a serde_json::Value,
    /// The last `$ref` that resolved (`#/components/schemas/X`), so the JSON pointer of `value`
    /// without its `#`; `None` when `value` is the node [`chase`] started from.
    pub reference: Option<&'a str>,
    /// The name of the last `#/components/schemas/NAME` the chain met, resolved or not.
    pub schema_name: Option<&'a str>,
    /// Why the chain stopped before a node that is not a reference, if it did.
    pub broken: Option<Broken<'a>>,
}

/// Why a chain of `$ref`s stopped short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken<'a> {
    /// This `$ref` is not local or resolves nowhere.
    Dangling(&'a str),
    /// The chain is longer than [`MAX_HOPS`]: it leads back to itself.
    Loop,
}

impl Chase<'_> {
    /// The JSON pointer of [`Chase::value`]: the last resolved `$ref`'s target, else `start`.
    pub fn pointer_or(&self, start: &str) -> String {
        self.reference.map_or_else(
            || start.to_owned(),
            |r| r.trim_start_matches('#').to_owned(),
        )
    }
}

/// Follows `value`'s local `$ref`, and the target's, until a node that is not a reference, and
/// says where it ended; the one `$ref` follower of the workspace (every tool that reads the spec
/// goes through it or [`follow`], each reporting a [`Broken`] chain its own way).
pub fn chase<'a>(document: &'a serde_json::Value, mut value: &'a serde_json::Value) -> Chase<'a> {
    let mut reference = None;
    let mut schema_name = None;
    for _ in 0..MAX_HOPS {
        let Some(next) = value.get("$ref").and_then(serde_json::Value::as_str) else {
            return Chase {
                value,
                reference,
                schema_name,
                broken: None,
            };
        };
        if let Some(name) = next.strip_prefix("#/components/schemas/") {
            schema_name = Some(name);
        }
        match resolve(document, next) {
            Some(target) => {
                value = target;
                reference = Some(next);
            }
            None => {
                return Chase {
                    value,
                    reference,
                    schema_name,
                    broken: Some(Broken::Dangling(next)),
                };
            }
        }
    }
    Chase {
        value,
        reference,
        schema_name,
        broken: Some(Broken::Loop),
    }
}

/// Follows `value`'s local `$ref`, and the target's, until a schema that is not a reference;
/// `value` itself when it is not one, and the last node reached when a reference does not resolve
/// or the chain loops (a spec check reports both). [`chase`] says which.
pub fn follow<'a>(
    document: &'a serde_json::Value,
    value: &'a serde_json::Value,
) -> &'a serde_json::Value {
    chase(document, value).value
}

/// Turns a `serde_path_to_error` path (`paths./attendees.get`) into a JSON pointer; the root is
/// the empty pointer.
pub fn from_serde_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out = push(&out, &index.to_string()),
            Segment::Map { key } => out = push(&out, key),
            Segment::Enum { variant } => out = push(&out, variant),
            Segment::Unknown => out.push_str("/?"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_tokens_as_rfc6901_says() {
        assert_eq!(
            push("/paths", "/attendees/{id}"),
            "/paths/~1attendees~1{id}"
        );
        assert_eq!(escape("a~b"), "a~0b");
    }

    #[test]
    fn resolves_only_local_references() {
        let doc =
            serde_json::json!({ "components": { "schemas": { "Id": { "type": "string" } } } });
        assert!(resolve(&doc, "#/components/schemas/Id").is_some());
        assert!(resolve(&doc, "#/components/schemas/Nope").is_none());
        assert!(resolve(&doc, "other.yaml#/components/schemas/Id").is_none());
    }

    #[test]
    fn a_chase_says_where_it_ended_and_why_it_stopped() {
        let doc = serde_json::json!({ "components": { "schemas": {
            "A": { "$ref": "#/components/schemas/B" },
            "B": { "type": "string" },
            "Bad": { "$ref": "#/components/schemas/Nope" },
            "Far": { "$ref": "other.yaml#/X" },
            "L1": { "$ref": "#/components/schemas/L2" },
            "L2": { "$ref": "#/components/schemas/L1" },
        } } });
        let start = serde_json::json!({ "$ref": "#/components/schemas/A" });
        let chased = chase(&doc, &start);
        assert_eq!(chased.value, &serde_json::json!({ "type": "string" }));
        assert_eq!(chased.reference, Some("#/components/schemas/B"));
        assert_eq!(chased.schema_name, Some("B"));
        assert_eq!(chased.broken, None);
        assert_eq!(chased.pointer_or("/x"), "/components/schemas/B");

        let plain = serde_json::json!({ "type": "integer" });
        let chased = chase(&doc, &plain);
        assert_eq!((chased.value, chased.reference), (&plain, None));
        assert_eq!(chased.pointer_or("/x"), "/x");

        let bad = serde_json::json!({ "$ref": "#/components/schemas/Bad" });
        let chased = chase(&doc, &bad);
        assert_eq!(
            chased.broken,
            Some(Broken::Dangling("#/components/schemas/Nope"))
        );
        assert_eq!(chased.schema_name, Some("Nope"));
        // The node holding the bad `$ref`, where a caller's error points.
        assert_eq!(chased.pointer_or("/x"), "/components/schemas/Bad");
        let far = serde_json::json!({ "$ref": "#/components/schemas/Far" });
        assert_eq!(
            chase(&doc, &far).broken,
            Some(Broken::Dangling("other.yaml#/X"))
        );

        let looped = serde_json::json!({ "$ref": "#/components/schemas/L1" });
        assert_eq!(chase(&doc, &looped).broken, Some(Broken::Loop));
        assert!(follow(&doc, &looped).get("$ref").is_some());
    }
}
