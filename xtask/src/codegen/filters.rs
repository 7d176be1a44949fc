//! `cliniko_client::filter`'s per-route items: for each `q[]` parameter of the spec, a marker type,
//! its constructor and one accessor per field of its `x-cliniko-filter-fields` (by family:
//! numeric, date-time, date, string, boolean), with the conversions into the generated builders'
//! `q[]` items; and for each `sort` parameter, an enum of the fields its pattern lists. The
//! operator types (`Numeric<R>`, `Timestamp<R>`, `Date<R>`, `Text<R>`, `Flag<R>`) and `Sort` stay
//! hand-written in `filter.rs`.
//!
//! Names follow the routes that take the parameter (`x-cliniko-resources` gives their roles):
//! the parameter of a resource's list route is `{Resource}Lists` with the constructor
//! `Filter::{plural}()`, of its get route `Single{Resource}` and `Filter::single_{name}()`, and
//! one taken by a single other route is named after that route without its verb
//! (`listPatientCaseAttendees` → `PatientCaseAttendees`, `Filter::patient_case_attendees()`). A
//! `sort` parameter defined as `components/parameters/X` gives the enum `XField` (`Sort` →
//! `SortField`).

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use cliniko_spec::Spec;
use cliniko_spec::facts::{FilterField, FilterKind, query_parameter, sort_fields_of_pattern};
use cliniko_spec::resources::Role;
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

/// The generated filters, a child module of `cliniko_client::filter`.
pub const FILTERS_PATH: &str = "crates/cliniko-client/src/generated_filters.rs";

/// One `q[]` parameter and the routes that take it.
struct Family {
    /// Where the parameter is defined (a JSON pointer).
    at: String,
    fields: Vec<FilterField>,
    /// The operations, with their method and path.
    operations: Vec<(String, String, String)>,
}

/// One `sort` parameter and the routes that take it.
struct SortFamily {
    at: String,
    fields: Vec<String>,
    operations: Vec<String>,
}

/// The generated module's items. `client` is the generated client's text: each conversion names
/// one of its types, which must exist.
pub fn generate(spec: &Spec, client: &str) -> anyhow::Result<TokenStream> {
    let invalid = |problems| cliniko_spec::SpecError::Invalid {
        file: spec.source().to_owned(),
        problems,
    };
    let facts = spec.facts().map_err(invalid)?;
    let resources = spec.resources().map_err(invalid)?;
    let roles: BTreeMap<&str, (&cliniko_spec::resources::Resource, Role)> = resources
        .iter()
        .flat_map(|resource| {
            resource
                .operations
                .iter()
                .map(move |(role, id)| (id.as_str(), (resource, *role)))
        })
        .collect();
    let document = spec.raw();

    let mut families: Vec<Family> = Vec::new();
    let mut sorts: Vec<SortFamily> = Vec::new();
    for operation in &facts.operations {
        let method = operation.method.to_lowercase();
        if let Some((at, _)) = query_parameter(document, &operation.path, &method, "q[]") {
            let entry = (
                operation.id.clone(),
                operation.method.clone(),
                operation.path.clone(),
            );
            match families.iter_mut().find(|family| family.at == at) {
                Some(family) => family.operations.push(entry),
                None => families.push(Family {
                    at,
                    fields: operation.filters.clone(),
                    operations: vec![entry],
                }),
            }
        }
        if let Some((at, parameter)) = query_parameter(document, &operation.path, &method, "sort") {
            let pattern = parameter
                .pointer("/schema/pattern")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default();
            let fields = sort_fields_of_pattern(pattern).with_context(|| {
                format!(
                    "{} (line {}): a sort parameter's pattern must be `^(?:FIELD|...)(?::(?:asc|desc))?(?:,(?:FIELD|...)(?::(?:asc|desc))?)*$`, which names its fields",
                    spec.source(),
                    spec.line_of(&format!("{at}/schema/pattern"))
                        .map_or_else(|| "?".to_owned(), |line| line.to_string())
                )
            })?;
            match sorts.iter_mut().find(|sort| sort.at == at) {
                Some(sort) => sort.operations.push(operation.id.clone()),
                None => sorts.push(SortFamily {
                    at,
                    fields: fields.into_iter().map(str::to_owned).collect(),
                    operations: vec![operation.id.clone()],
                }),
            }
        }
    }

    let need_type = |name: &str| -> anyhow::Result<Ident> {
        if !client.contains(&format!("pub struct {name}(")) {
            bail!("the generated client has no type `{name}`; progenitor names it otherwise");
        }
        Ok(Ident::new(name, Span::call_site()))
    };

    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut items = Vec::new();
    for family in &families {
        let (marker, constructor) = family_names(family, &roles)?;
        for name in [&marker, &constructor] {
            if let Some(other) = names.insert(name.clone(), family.at.clone()) {
                bail!(
                    "the q[] parameters at {other} and {} would both be named `{name}`; give one of them its own routes",
                    family.at
                );
            }
        }
        let marker = Ident::new(&marker, Span::call_site());
        let constructor = Ident::new(&constructor, Span::call_site());
        let routes: Vec<String> = family
            .operations
            .iter()
            .map(|(id, method, path)| format!("`{method} {path}` (`{id}`)"))
            .collect();
        let marker_doc = format!(
            " The routes whose `q[]` is defined at `{}`: {}.",
            family.at,
            routes.join(", ")
        );
        let constructor_doc = format!(" A filter for {}.", routes.join(", "));
        let accessors = family.fields.iter().map(|field| {
            let method = Ident::new(&field.name, Span::call_site());
            let name = &field.name;
            let (chooser, what) = match field.kind {
                FilterKind::Numeric => (quote! { Numeric }, ""),
                FilterKind::DateTime => (quote! { Timestamp }, " (UTC)"),
                FilterKind::Date => (quote! { Date }, " (a date)"),
                FilterKind::String => (quote! { Text }, " (text)"),
                FilterKind::Boolean => (quote! { Flag }, " (true or false)"),
            };
            let doc = format!(" Filters on `{name}`{what}.");
            quote! {
                #[doc = #doc]
                pub fn #method(self) -> #chooser<#marker> {
                    #chooser { filter: self, field: #name }
                }
            }
        });
        let kinds = family.fields.iter().map(|field| {
            let name = &field.name;
            let kind = Ident::new(&format!("{:?}", field.kind), Span::call_site());
            quote! { (#name, cliniko_types::facts::FilterKind::#kind) }
        });
        let conversions = family
            .operations
            .iter()
            .map(|(id, _, _)| -> anyhow::Result<TokenStream> {
                let item = need_type(&format!("{}QItem", pascal(id)))?;
                Ok(quote! {
                    impl TryFrom<Filter<#marker>> for Vec<types::#item> {
                        type Error = types::error::ConversionError;

                        fn try_from(filter: Filter<#marker>) -> Result<Self, Self::Error> {
                            filter.into_items()
                        }
                    }
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        // A filter fits `ListQuery::filter` when every route that takes it lists.
        let lists = family.operations.iter().all(|(id, _, _)| {
            roles
                .get(id.as_str())
                .is_some_and(|(_, role)| role.is_list())
        });
        let list_filter = lists.then(|| {
            quote! {
                impl crate::paginate::sealed::Sealed for Filter<#marker> {}
                impl crate::paginate::ListFilter for Filter<#marker> {
                    fn into_conditions(self) -> Result<Vec<String>, &'static str> {
                        Filter::into_conditions(self)
                    }
                }
            }
        });
        items.push(quote! {
            #[doc = #marker_doc]
            #[derive(Debug, Clone, Copy)]
            pub enum #marker {}

            impl Filter<#marker> {
                #[doc = #constructor_doc]
                pub fn #constructor() -> Self {
                    Self::empty()
                }

                /// The fields this family offers, with their kinds, for the test that ties them
                /// to the spec.
                #[cfg(test)]
                pub(crate) const FIELDS: &'static [(&'static str, cliniko_types::facts::FilterKind)] =
                    &[#(#kinds),*];

                #(#accessors)*
            }

            #(#conversions)*

            #list_filter
        });
    }

    for sort in &sorts {
        let name = match sort.at.strip_prefix("/components/parameters/") {
            Some(component) => format!("{}Field", pascal(component)),
            None => format!("{}SortField", pascal(&sort.operations[0])),
        };
        if let Some(other) = names.insert(name.clone(), sort.at.clone()) {
            bail!(
                "the parameters at {other} and {} would both be named `{name}`",
                sort.at
            );
        }
        let ty = Ident::new(&name, Span::call_site());
        let doc = format!(
            " A field to sort by, as `sort` at `{}` lists them (for {}).",
            sort.at,
            sort.operations
                .iter()
                .map(|id| format!("`{id}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let variants: Vec<Ident> = sort
            .fields
            .iter()
            .map(|field| Ident::new(&pascal(field), Span::call_site()))
            .collect();
        let variant_docs = sort.fields.iter().map(|field| format!(" `{field}`."));
        let texts = &sort.fields;
        let conversions = sort
            .operations
            .iter()
            .map(|id| -> anyhow::Result<TokenStream> {
                let target = need_type(&format!("{}Sort", pascal(id)))?;
                Ok(quote! {
                    impl TryFrom<Sort<#ty>> for types::#target {
                        type Error = types::error::ConversionError;

                        fn try_from(sort: Sort<#ty>) -> Result<Self, Self::Error> {
                            sort.into_string().try_into()
                        }
                    }
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        items.push(quote! {
            #[doc = #doc]
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            pub enum #ty {
                #(#[doc = #variant_docs] #variants,)*
            }

            impl #ty {
                /// The field's name in Cliniko.
                pub fn as_str(self) -> &'static str {
                    match self {
                        #(Self::#variants => #texts,)*
                    }
                }
            }

            impl SortKey for #ty {
                fn name(self) -> &'static str {
                    self.as_str()
                }
            }

            #(#conversions)*
        });
    }

    Ok(quote! {
        use super::{Date, Filter, Flag, Numeric, Sort, SortKey, Text, Timestamp};
        use crate::types;

        #(#items)*
    })
}

/// The marker type and constructor of a `q[]` family, from the roles of the routes that take it.
fn family_names(
    family: &Family,
    roles: &BTreeMap<&str, (&cliniko_spec::resources::Resource, Role)>,
) -> anyhow::Result<(String, String)> {
    let with_role = |wanted: Role| {
        family.operations.iter().find_map(|(id, _, _)| {
            roles
                .get(id.as_str())
                .filter(|(_, role)| *role == wanted)
                .map(|(resource, _)| *resource)
        })
    };
    if let Some(resource) = with_role(Role::List) {
        return Ok((
            format!("{}Lists", pascal(&resource.name)),
            resource.plural.clone(),
        ));
    }
    if let Some(resource) = with_role(Role::Get) {
        return Ok((
            format!("Single{}", pascal(&resource.name)),
            format!("single_{}", resource.name),
        ));
    }
    if let [(id, _, _)] = family.operations.as_slice() {
        let rest = ["list", "get"]
            .into_iter()
            .find_map(|verb| {
                id.strip_prefix(verb)
                    .filter(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
            })
            .unwrap_or(id);
        let marker = pascal(rest);
        return Ok((marker.clone(), snake(&marker)));
    }
    match family.at.strip_prefix("/components/parameters/") {
        Some(component) => Ok((pascal(component), snake(&pascal(component)))),
        None => bail!(
            "the q[] parameter at {} is taken by several routes, none a resource's list or get: define it under components/parameters",
            family.at
        ),
    }
}

/// `list_patients`, `listPatients` or `patient` → `ListPatients`, `ListPatients`, `Patient`.
fn pascal(name: &str) -> String {
    name.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// `PatientCaseAttendees` → `patient_case_attendees`.
fn snake(name: &str) -> String {
    super::facts::rust_name(&pascal(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_convert() {
        assert_eq!(
            pascal("listPatientCaseAttendees"),
            "ListPatientCaseAttendees"
        );
        assert_eq!(pascal("patient_case"), "PatientCase");
        assert_eq!(snake("PatientCaseAttendees"), "patient_case_attendees");
    }
}
