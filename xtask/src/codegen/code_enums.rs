//! Tolerant Rust enums for the spec's code lists (`x-enum-varnames`).
//!
//! typify turns an integer `enum` into a validated newtype, and a string `enum` into an enum that
//! refuses unknown values. Cliniko adds codes over time (31, "COVID-19 related", came late), and a
//! client that refuses a whole attendee over one new code loses data. So each schema with
//! `x-enum-varnames` becomes an enum with one named variant per code plus `Unknown`, which keeps
//! an unlisted code as sent, and round-trips it unchanged.

use anyhow::{Context, bail};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;
use serde_json::Value;

/// One generated enum.
pub struct CodeEnum {
    /// The schema (and type) name.
    pub name: String,
    /// Its definition and impls.
    pub tokens: TokenStream,
}

/// Every schema under `components/schemas` that has `x-enum-varnames`, in name order.
pub fn generate(document: &Value) -> anyhow::Result<Vec<CodeEnum>> {
    let Some(schemas) = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (name, schema) in schemas {
        if schema.get("x-enum-varnames").is_some() {
            let tokens = code_enum(name, schema)
                .with_context(|| format!("at /components/schemas/{name}"))?;
            out.push(CodeEnum {
                name: name.clone(),
                tokens,
            });
        }
    }
    Ok(out)
}

struct Variant {
    ident: Ident,
    value: Value,
    meaning: String,
}

fn code_enum(name: &str, schema: &Value) -> anyhow::Result<TokenStream> {
    let strings = |key: &str| -> anyhow::Result<Vec<String>> {
        schema
            .get(key)
            .and_then(Value::as_array)
            .with_context(|| format!("{key} must be a list"))?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .with_context(|| format!("{key} must hold strings"))
            })
            .collect()
    };
    let names = strings("x-enum-varnames")?;
    let meanings = strings("x-enum-descriptions").unwrap_or_else(|_| names.clone());
    let values = schema
        .get("enum")
        .and_then(Value::as_array)
        .context("x-enum-varnames needs an enum")?;
    if names.len() != values.len() || meanings.len() != values.len() {
        bail!("x-enum-varnames and x-enum-descriptions need one entry per enum value");
    }
    let variants: Vec<Variant> = names
        .iter()
        .zip(values)
        .zip(&meanings)
        .map(|((ident, value), meaning)| Variant {
            ident: Ident::new(ident, Span::call_site()),
            value: value.clone(),
            meaning: meaning.clone(),
        })
        .collect();
    let doc = schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_owned();
    let ident = Ident::new(name, Span::call_site());
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") => integer_enum(&ident, &doc, &variants),
        Some("string") => string_enum(&ident, &doc, &variants),
        other => bail!("x-enum-varnames works on integer and string enums, not {other:?}"),
    }
}

fn table(doc: &str, variants: &[Variant], show: impl Fn(&Value) -> String) -> String {
    let mut text = format!("{doc}\n\n| Value | Meaning |\n|---|---|\n");
    for variant in variants {
        text.push_str(&format!(
            "| `{}` | {} |\n",
            show(&variant.value),
            variant.meaning
        ));
    }
    text.push_str(
        "\nA value the spec does not list is kept in `Unknown` as sent, so that a code Cliniko adds \
         later neither fails deserialisation nor changes on the way back.",
    );
    text
}

fn integer_enum(ident: &Ident, doc: &str, variants: &[Variant]) -> anyhow::Result<TokenStream> {
    let codes: Vec<Literal> = variants
        .iter()
        .map(|v| {
            v.value
                .as_i64()
                .map(Literal::i64_unsuffixed)
                .context("integer enum values must be integers")
        })
        .collect::<anyhow::Result<_>>()?;
    let names: Vec<&Ident> = variants.iter().map(|v| &v.ident).collect();
    let meanings: Vec<&str> = variants.iter().map(|v| v.meaning.as_str()).collect();
    let variant_docs: Vec<String> = variants
        .iter()
        .map(|v| format!("`{}`: {}", v.value, v.meaning))
        .collect();
    let type_doc = table(doc, variants, Value::to_string);
    let count = variants.len();
    let json_schema = json_schema_impl(ident, quote!(Integer), &codes);
    Ok(quote! {
        #[doc = #type_doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum #ident {
            #( #[doc = #variant_docs] #names, )*
            /// A code this version of the spec does not list, kept as sent.
            Unknown(i64),
        }

        impl #ident {
            /// Every code the spec lists, in its order.
            pub const KNOWN: [Self; #count] = [ #( Self::#names, )* ];

            /// The code Cliniko sends for this value.
            pub const fn code(self) -> i64 {
                match self {
                    #( Self::#names => #codes, )*
                    Self::Unknown(code) => code,
                }
            }

            /// The value for a code; a code the spec does not list becomes `Unknown`.
            pub const fn from_code(code: i64) -> Self {
                match code {
                    #( #codes => Self::#names, )*
                    other => Self::Unknown(other),
                }
            }

            /// What the code means, or `None` for an unknown code.
            pub const fn meaning(self) -> Option<&'static str> {
                match self {
                    #( Self::#names => Some(#meanings), )*
                    Self::Unknown(_) => None,
                }
            }
        }

        impl From<i64> for #ident {
            fn from(code: i64) -> Self {
                Self::from_code(code)
            }
        }

        impl From<#ident> for i64 {
            fn from(value: #ident) -> Self {
                value.code()
            }
        }

        impl ::std::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match self.meaning() {
                    Some(meaning) => f.write_str(meaning),
                    None => write!(f, "unknown code {}", self.code()),
                }
            }
        }

        impl ::serde::Serialize for #ident {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_i64(self.code())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #ident {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <i64 as ::serde::Deserialize>::deserialize(deserializer).map(Self::from_code)
            }
        }


        #json_schema
    })
}

fn string_enum(ident: &Ident, doc: &str, variants: &[Variant]) -> anyhow::Result<TokenStream> {
    let texts: Vec<&str> = variants
        .iter()
        .map(|v| {
            v.value
                .as_str()
                .context("string enum values must be strings")
        })
        .collect::<anyhow::Result<_>>()?;
    let names: Vec<&Ident> = variants.iter().map(|v| &v.ident).collect();
    let variant_docs: Vec<String> = variants
        .iter()
        .map(|v| format!("`{:?}`: {}", v.value, v.meaning))
        .collect();
    let type_doc = table(doc, variants, Value::to_string);
    let count = variants.len();
    let json_schema = json_schema_impl(ident, quote!(String), &texts);
    Ok(quote! {
        #[doc = #type_doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum #ident {
            #( #[doc = #variant_docs] #names, )*
            /// A value this version of the spec does not list, kept as sent.
            Unknown(String),
        }

        impl #ident {
            /// Every value the spec lists, in its order.
            pub const KNOWN: [Self; #count] = [ #( Self::#names, )* ];

            /// The text Cliniko sends for this value.
            pub fn as_str(&self) -> &str {
                match self {
                    #( Self::#names => #texts, )*
                    Self::Unknown(text) => text,
                }
            }
        }

        impl From<&str> for #ident {
            fn from(text: &str) -> Self {
                match text {
                    #( #texts => Self::#names, )*
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl From<String> for #ident {
            fn from(text: String) -> Self {
                match Self::from(text.as_str()) {
                    Self::Unknown(_) => Self::Unknown(text),
                    known => known,
                }
            }
        }

        impl ::std::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for #ident {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for #ident {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <String as ::serde::Deserialize>::deserialize(deserializer).map(Self::from)
            }
        }


        #json_schema
    })
}

/// `impl JsonSchema`: the spec's enum of `instance_type` values, all of them, whatever
/// `Unknown` may hold at run time.
fn json_schema_impl(
    ident: &Ident,
    instance_type: TokenStream,
    values: &[impl quote::ToTokens],
) -> TokenStream {
    let name = ident.to_string();
    quote! {
        impl ::schemars::JsonSchema for #ident {
            fn schema_name() -> String {
                #name.to_owned()
            }

            fn json_schema(_: &mut ::schemars::r#gen::SchemaGenerator) -> ::schemars::schema::Schema {
                ::schemars::schema::SchemaObject {
                    instance_type: Some(::schemars::schema::InstanceType::#instance_type.into()),
                    enum_values: Some(vec![ #( #values.into(), )* ]),
                    ..Default::default()
                }
                .into()
            }
        }
    }
}
