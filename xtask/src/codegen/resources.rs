//! `cliniko_types::resource`: each resource of `x-cliniko-resources` as a descriptor, the marked
//! properties as a scrub table, every component schema reachable by name, and a `ListPage` impl
//! for each list schema (see `cliniko_spec::resources`).

use std::collections::BTreeMap;

use anyhow::bail;
use cliniko_spec::Spec;
use cliniko_spec::resources::{Mark, MarkKind, Role};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use serde_json::Value;

/// How the scrub table marks the placeholder that is the spec's example (the text follows).
const EXAMPLE: &str = "example:";

/// The generated descriptors.
pub const RESOURCES_PATH: &str = "crates/cliniko-types/src/generated_resources.rs";

/// The generated module's items.
pub fn generate(spec: &Spec) -> anyhow::Result<TokenStream> {
    let invalid = |problems| cliniko_spec::SpecError::Invalid {
        file: spec.source().to_owned(),
        problems,
    };
    let resources = spec.resources().map_err(invalid)?;
    let marks = spec.marks().map_err(invalid)?;

    let descriptors = resources.iter().map(|resource| {
        let name = &resource.name;
        let plural = &resource.plural;
        let tag = &resource.tag;
        let schema = &resource.schema;
        let list_schema = &resource.list_schema;
        let list_key = &resource.list_key;
        let operations = resource.operations.iter().map(|(role, id)| {
            let role = role_tokens(*role);
            quote! { (#role, #id) }
        });
        let marked = |kind: MarkKind| -> Vec<&str> {
            marks
                .iter()
                .filter(|m| m.schema == resource.schema && m.kind == kind)
                .map(|m| m.property.as_str())
                .collect()
        };
        let personal = marked(MarkKind::Personal);
        let capability_urls = marked(MarkKind::CapabilityUrl);
        quote! {
            Resource {
                name: #name,
                plural: #plural,
                tag: #tag,
                schema: #schema,
                list_schema: #list_schema,
                list_key: #list_key,
                operations: &[#(#operations),*],
                personal: &[#(#personal),*],
                capability_urls: &[#(#capability_urls),*],
            }
        }
    });

    let scrubbed =
        scrub_table(&marks)?
            .into_iter()
            .map(|(name, (placeholders, capability_url))| {
                let placeholders = placeholders.iter().map(|p| match p.strip_prefix(EXAMPLE) {
                    Some(example) => quote! { Placeholder::Example(#example) },
                    None => {
                        let variant = Ident::new(p, Span::call_site());
                        quote! { Placeholder::#variant }
                    }
                });
                quote! {
                    ScrubbedProperty {
                        name: #name,
                        placeholders: &[#(#placeholders),*],
                        capability_url: #capability_url,
                    }
                }
            });

    let schema_names: Vec<String> = spec
        .raw()
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|schemas| schemas.keys().cloned().collect())
        .unwrap_or_default();
    for name in &schema_names {
        if syn::parse_str::<Ident>(name).is_err()
            || !name.starts_with(|c: char| c.is_ascii_uppercase())
        {
            bail!(
                "schema name `{name}` is not a Rust type name in PascalCase; rename it in the spec"
            );
        }
    }
    let arms = schema_names.iter().map(|name| {
        let ty = Ident::new(name, Span::call_site());
        quote! { #name => Some(visitor.visit::<crate::#ty>(#name)), }
    });

    let list_impls = resources.iter().enumerate().map(|(index, resource)| {
        let list = Ident::new(&resource.list_schema, Span::call_site());
        let item = Ident::new(&resource.schema, Span::call_site());
        let key = Ident::new(&resource.list_key, Span::call_site());
        let key_text = &resource.list_key;
        quote! {
            impl ListPage for crate::#list {
                type Item = crate::#item;
                const KEY: &'static str = #key_text;
                fn resource() -> &'static Resource {
                    &RESOURCES[#index]
                }
                fn into_parts(self) -> (Vec<Self::Item>, i64, crate::PageLinks) {
                    (self.#key, self.total_entries, self.links)
                }
            }
        }
    });

    // An incremental sync pages by `updated_at` then `id`: every item schema that always has both
    // gets `Versioned`.
    let versioned = resources.iter().filter_map(|resource| {
        let schema = spec
            .raw()
            .pointer(&format!("/components/schemas/{}", resource.schema))?;
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let id = schema
            .pointer("/properties/id/$ref")
            .and_then(Value::as_str);
        let updated_at = schema.pointer("/properties/updated_at")?;
        let plain_date_time = updated_at.get("format").and_then(Value::as_str) == Some("date-time")
            && !cliniko_spec::nullable::allows_null(spec.raw(), updated_at);
        if !(required.contains(&"id")
            && required.contains(&"updated_at")
            && id == Some("#/components/schemas/Id")
            && plain_date_time)
        {
            return None;
        }
        let item = Ident::new(&resource.schema, Span::call_site());
        Some(quote! {
            impl Versioned for crate::#item {
                fn id(&self) -> crate::Id {
                    self.id
                }
                fn updated_at(&self) -> chrono::DateTime<chrono::Utc> {
                    self.updated_at
                }
            }
        })
    });

    Ok(quote! {
        use crate::resource::{
            ListPage, Placeholder, Resource, Role, SchemaVisitor, ScrubbedProperty, Versioned,
        };

        /// Every resource of the spec, in the order `x-cliniko-resources` declares them.
        pub const RESOURCES: &[Resource] = &[#(#descriptors),*];

        /// Every property name marked `x-cliniko-personal` or `x-cliniko-capability-url` in any
        /// schema, sorted by name.
        pub const SCRUBBED_PROPERTIES: &[ScrubbedProperty] = &[#(#scrubbed),*];

        /// Every schema under `components/schemas`; each has a generated type of the same name.
        pub const SCHEMAS: &[&str] = &[#(#schema_names),*];

        /// Calls `visitor` with the generated type of the schema named `name`; `None` for a name
        /// that is not in [`SCHEMAS`].
        pub fn visit_schema<V: SchemaVisitor>(name: &str, visitor: V) -> Option<V::Output> {
            match name {
                #(#arms)*
                _ => None,
            }
        }

        #(#list_impls)*

        #(#versioned)*
    })
}

/// `Role::X` in `cliniko_types::resource`, whose variants are named as `cliniko_spec`'s.
fn role_tokens(role: Role) -> TokenStream {
    let variant = Ident::new(&format!("{role:?}"), Span::call_site());
    quote! { Role::#variant }
}

/// Each marked property name with its placeholder variants (the ones its marked schemas call for,
/// the free-text ones last) and whether it is a capability URL. A name marked in several schemas
/// with different formats (a custom field's `value`: a date in one shape, text in another) gets
/// each placeholder; the scrubber picks the one the value's own shape fits. A name that is a
/// capability URL in one schema and personal data in another is refused.
fn scrub_table(marks: &[Mark]) -> anyhow::Result<BTreeMap<String, (Vec<String>, bool)>> {
    let mut table: BTreeMap<String, (Vec<String>, bool, &str)> = BTreeMap::new();
    for mark in marks {
        let capability_url = mark.kind == MarkKind::CapabilityUrl;
        let placeholder = match (mark.format.as_deref(), &mark.pattern_example) {
            // A patterned value keeps the spec's example, which matches the pattern.
            (_, Some(example)) => format!("{EXAMPLE}{example}"),
            (format, None) => match format {
                Some("uri") => "Uri",
                Some("date") => "Date",
                Some("date-time") => "DateTime",
                Some("ipv4") => "Ipv4",
                Some("email") => "Email",
                _ if mark.property.ends_with("email") => "Email",
                _ if mark.property.ends_with("name") => "Name",
                _ => "Text",
            }
            .to_owned(),
        };
        let entry = table
            .entry(mark.property.clone())
            .or_insert_with(|| (Vec::new(), capability_url, mark.pointer.as_str()));
        if entry.1 != capability_url {
            bail!(
                "`{}` is a capability URL at one of {} and {} but personal data at the other; rename one",
                mark.property,
                entry.2,
                mark.pointer
            );
        }
        if !entry.0.contains(&placeholder) {
            entry.0.push(placeholder);
        }
    }
    Ok(table
        .into_iter()
        .map(|(name, (mut placeholders, capability_url, _))| {
            // Free text fits any value, so it is tried last.
            placeholders.sort_by_key(|p| matches!(p.as_str(), "Text" | "Name"));
            (name, (placeholders, capability_url))
        })
        .collect())
}
