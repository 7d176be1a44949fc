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

/// Follows `value`'s local `$ref`, and the target's, until a schema that is not a reference;
/// `value` itself when it is not one, and the last node reached when a reference does not resolve
/// or the chain loops (a spec check reports both).
pub fn follow<'a>(
    document: &'a serde_json::Value,
    mut value: &'a serde_json::Value,
) -> &'a serde_json::Value {
    // A chain longer than the document's node count would loop; 64 hops is far beyond any spec.
    for _ in 0..64 {
        match value
            .get("$ref")
            .and_then(serde_json::Value::as_str)
            .and_then(|reference| resolve(document, reference))
        {
            Some(target) => value = target,
            None => break,
        }
    }
    value
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
}
