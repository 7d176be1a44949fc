//! Cliniko IDs: 64-bit integers that travel as JSON strings of digits.

use std::fmt;
use std::str::FromStr;

/// A Cliniko ID.
///
/// Cliniko's IDs are 64-bit integers, and since 2020 the API sends every one as a JSON string of
/// digits (`"id": "1"`), because JavaScript clients lost precision on large IDs. `Id` keeps the
/// full 64 bits, serialises as a string, and never goes through a float. It also accepts a JSON
/// integer, as the API's examples from before 2020 show, and still writes a string back.
///
/// ```
/// use cliniko_types::Id;
///
/// let id: Id = serde_json::from_str("\"9007199254740993\"")?;
/// assert_eq!(id.get(), 9_007_199_254_740_993);
/// assert_eq!(serde_json::to_string(&id)?, "\"9007199254740993\"");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(i64);

impl Id {
    /// An ID from its integer value.
    pub const fn new(value: i64) -> Self {
        Self(value)
    }

    /// The integer value.
    pub const fn get(self) -> i64 {
        self.0
    }
}

/// Why a text is not an [`Id`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseIdError {
    text: String,
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected an ID as a string of digits without leading zeros that fits in 64 bits, found {:?}",
            self.text
        )
    }
}

impl std::error::Error for ParseIdError {}

impl FromStr for Id {
    type Err = ParseIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseIdError {
            text: text.to_owned(),
        };
        // Only the canonical form, as the spec's pattern says: "007" would not survive a round trip.
        let canonical = text == "0" || !text.starts_with('0');
        if text.is_empty() || !canonical || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error());
        }
        text.parse().map(Self).map_err(|_| error())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

impl From<i64> for Id {
    fn from(value: i64) -> Self {
        Self(value)
    }
}

impl From<Id> for i64 {
    fn from(id: Id) -> Self {
        id.0
    }
}

impl TryFrom<&str> for Id {
    type Error = ParseIdError;

    fn try_from(text: &str) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl TryFrom<String> for Id {
    type Error = ParseIdError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl serde::de::Visitor<'_> for IdVisitor {
            type Value = Id;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ID as a string of digits")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Id, E> {
                text.parse().map_err(E::custom)
            }

            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Id, E> {
                Ok(Id(value))
            }

            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Id, E> {
                i64::try_from(value)
                    .map(Id)
                    .map_err(|_| E::custom(format!("ID {value} does not fit in 64 signed bits")))
            }
        }

        deserializer.deserialize_any(IdVisitor)
    }
}

impl schemars::JsonSchema for Id {
    fn schema_name() -> String {
        "Id".to_owned()
    }

    fn json_schema(_: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            format: Some("int64".to_owned()),
            string: Some(Box::new(schemars::schema::StringValidation {
                pattern: Some("^(0|[1-9][0-9]{0,18})$".to_owned()),
                ..Default::default()
            })),
            ..Default::default()
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_above_two_to_the_53_survive_a_round_trip() {
        let text = "\"9223372036854775807\"";
        let id: Id = serde_json::from_str(text).expect("parses");
        assert_eq!(id.get(), i64::MAX);
        assert_eq!(serde_json::to_string(&id).expect("serialises"), text);
    }

    #[test]
    fn refuses_what_is_not_an_id() {
        for bad in [
            "\"\"",
            "\"007\"",
            "\"1.0\"",
            "\"-1\"",
            "\"1e3\"",
            "\"99999999999999999999\"",
            "1.5",
            "true",
        ] {
            assert!(
                serde_json::from_str::<Id>(bad).is_err(),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn accepts_a_legacy_integer_and_writes_a_string() {
        let id: Id = serde_json::from_str("82").expect("parses");
        assert_eq!(serde_json::to_string(&id).expect("serialises"), "\"82\"");
    }
}
