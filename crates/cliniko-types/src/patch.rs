//! [`Patch`]: a field of a partial update that can be left alone, set, or cleared.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One field of a partial update (`PATCH`/`PUT /attendees/{id}`).
///
/// Cliniko keeps a field that the body leaves out and clears one sent as `null`; an `Option`
/// cannot tell those apart, so a nullable field of an update is a `Patch`:
///
/// | value | on the wire | effect |
/// |---|---|---|
/// | [`Patch::Keep`] (the default) | the field is left out | the field keeps its value |
/// | [`Patch::Set`]`(v)` | `"field": v` | the field becomes `v` |
/// | [`Patch::Clear`] | `"field": null` | the field becomes null |
///
/// ```
/// use cliniko_types::{AttendeeUpdate, Patch};
///
/// let update = AttendeeUpdate { notes: Patch::Clear, arrived: Patch::Set(true), ..Default::default() };
/// assert_eq!(serde_json::to_string(&update)?, r#"{"arrived":true,"notes":null}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
///
/// `From<T>` sets, and `From<Option<T>>` sets or clears (`None` clears), so the generated
/// builders take plain values: `AttendeeUpdate::builder().notes("Late".to_owned())`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Patch<T> {
    /// Leave the field out: it keeps its value.
    #[default]
    Keep,
    /// Send the value.
    Set(T),
    /// Send `null`: the field is cleared.
    Clear,
}

impl<T> Patch<T> {
    /// Whether the field is left out of the body (serde's `skip_serializing_if`).
    pub fn is_keep(&self) -> bool {
        matches!(self, Self::Keep)
    }

    /// `None` to keep the field, `Some(None)` to clear it, `Some(Some(v))` to set it.
    pub fn into_option(self) -> Option<Option<T>> {
        match self {
            Self::Keep => None,
            Self::Set(value) => Some(Some(value)),
            Self::Clear => Some(None),
        }
    }

    /// [`Patch::into_option`] by reference.
    pub fn as_option(&self) -> Option<Option<&T>> {
        match self {
            Self::Keep => None,
            Self::Set(value) => Some(Some(value)),
            Self::Clear => Some(None),
        }
    }
}

impl<T> From<T> for Patch<T> {
    fn from(value: T) -> Self {
        Self::Set(value)
    }
}

impl<T> From<Option<T>> for Patch<T> {
    /// `Some(v)` sets the field, `None` clears it.
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Clear, Self::Set)
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Set(value) => value.serialize(serializer),
            // `Keep` is skipped by the struct (`skip_serializing_if = "Patch::is_keep"`); on its
            // own, as in a map, it can only be written as null.
            Self::Clear | Self::Keep => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    /// A present value sets, `null` clears; a missing field is `Keep` (serde's `default`).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(Self::from)
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Patch<T> {
    fn is_referenceable() -> bool {
        false
    }

    fn schema_name() -> String {
        <Option<T>>::schema_name()
    }

    fn json_schema(generator: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        <Option<T>>::json_schema(generator)
    }

    // A `Patch` field may be left out, like an `Option` one: not in the schema's `required`.
    fn _schemars_private_is_option() -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Body {
        #[serde(default, skip_serializing_if = "Patch::is_keep")]
        notes: Patch<String>,
    }

    #[test]
    fn keep_set_and_clear_on_the_wire() {
        let keep = Body { notes: Patch::Keep };
        let set = Body {
            notes: Patch::Set("Late".into()),
        };
        let clear = Body {
            notes: Patch::Clear,
        };
        assert_eq!(serde_json::to_string(&keep).unwrap(), "{}");
        assert_eq!(serde_json::to_string(&set).unwrap(), r#"{"notes":"Late"}"#);
        assert_eq!(serde_json::to_string(&clear).unwrap(), r#"{"notes":null}"#);
        for body in [keep, set, clear] {
            let text = serde_json::to_string(&body).unwrap();
            assert_eq!(serde_json::from_str::<Body>(&text).unwrap(), body, "{text}");
        }
    }

    #[test]
    fn conversions() {
        assert_eq!(Patch::from(3), Patch::Set(3));
        assert_eq!(Patch::<i32>::from(None), Patch::Clear);
        assert_eq!(Patch::from(Some(3)), Patch::Set(3));
        assert_eq!(Patch::<i32>::Keep.as_option(), None);
        assert_eq!(Patch::<i32>::Clear.as_option(), Some(None));
    }
}
