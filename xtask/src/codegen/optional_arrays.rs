//! An optional array keeps `[]` apart from absent: such a field becomes `Option<Vec<T>>`.
//!
//! typify makes a property that is an array and not required a plain `Vec<T>` with serde's
//! `default` and `skip_serializing_if = "Vec::is_empty"`. Reading `[]` and writing it back then
//! leaves the field out, and absent is not `[]`:
//! - in a request, an update that sets `patient_phone_numbers: []` to clear a patient's numbers
//!   would send nothing, and Cliniko would keep them;
//! - in a response, the checker's round trip reports the generated type turning `[]` into absent
//!   (the fake's seeded radiobuttons fields showed it).
//!
//! So every such field becomes `Option<Vec<T>>`, left out only when `None`, in the struct, in its
//! generated builder, and in the builder's setter.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::quote;
use syn::visit_mut::VisitMut;

/// The path typify writes in the attribute of an optional array.
const SKIP_EMPTY: &str = "::std::vec::Vec::is_empty";

/// Rewrites every optional array field of the generated types (see the module's docs).
pub fn rewrite(types: TokenStream) -> anyhow::Result<TokenStream> {
    let mut file: syn::File = syn::parse2(types)?;
    // First the fields, found by their attribute in the types' own structs ...
    let mut finder = Finder::default();
    finder.visit_file_mut(&mut file);
    if finder.fields.is_empty() {
        return Ok(quote! { #file });
    }
    // ... then each of them in the struct, its builder struct and the builder's setter.
    let mut rewriter = Rewriter {
        fields: &finder.fields,
    };
    rewriter.visit_file_mut(&mut file);
    Ok(quote! { #file })
}

/// Struct name → its optional array fields.
#[derive(Default)]
struct Finder {
    fields: BTreeMap<String, BTreeSet<String>>,
}

impl VisitMut for Finder {
    fn visit_item_struct_mut(&mut self, item: &mut syn::ItemStruct) {
        for field in &item.fields {
            let skips_empty = field.attrs.iter().any(|attribute| {
                attribute.path().is_ident("serde")
                    && attribute
                        .meta
                        .require_list()
                        .is_ok_and(|list| list.tokens.to_string().contains(SKIP_EMPTY))
            });
            if skips_empty && let Some(ident) = &field.ident {
                self.fields
                    .entry(item.ident.to_string())
                    .or_default()
                    .insert(ident.to_string());
            }
        }
        syn::visit_mut::visit_item_struct_mut(self, item);
    }
}

struct Rewriter<'a> {
    fields: &'a BTreeMap<String, BTreeSet<String>>,
}

impl VisitMut for Rewriter<'_> {
    fn visit_item_struct_mut(&mut self, item: &mut syn::ItemStruct) {
        if let Some(fields) = self.fields.get(&item.ident.to_string()) {
            for field in item.fields.iter_mut() {
                let Some(ident) = &field.ident else { continue };
                if !fields.contains(&ident.to_string()) {
                    continue;
                }
                WrapVec::apply(&mut field.ty);
                for attribute in &mut field.attrs {
                    let is_skip = attribute.path().is_ident("serde")
                        && attribute
                            .meta
                            .require_list()
                            .is_ok_and(|list| list.tokens.to_string().contains(SKIP_EMPTY));
                    if is_skip {
                        *attribute = syn::parse_quote! {
                            #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                        };
                    }
                }
            }
        }
        syn::visit_mut::visit_item_struct_mut(self, item);
    }

    fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
        // The builder's setters: `fn options<T>(..) where T: TryInto<Vec<PatientCustomFieldOption>>`.
        super::patch_fields::for_each_setter_predicate(item, self.fields, WrapVec::apply_in);
        syn::visit_mut::visit_item_impl_mut(self, item);
    }
}

/// Replaces the outermost `::std::vec::Vec<X>` in a type or predicate with
/// `::std::option::Option<::std::vec::Vec<X>>`.
struct WrapVec;

impl WrapVec {
    fn apply(ty: &mut syn::Type) {
        Self.visit_type_mut(ty);
    }

    fn apply_in(predicate: &mut syn::WherePredicate) {
        Self.visit_where_predicate_mut(predicate);
    }
}

impl VisitMut for WrapVec {
    fn visit_type_mut(&mut self, ty: &mut syn::Type) {
        if let syn::Type::Path(path) = ty {
            let is_vec = path.qself.is_none()
                && path.path.leading_colon.is_some()
                && path.path.segments.len() == 3
                && path.path.segments[0].ident == "std"
                && path.path.segments[1].ident == "vec"
                && path.path.segments[2].ident == "Vec";
            if is_vec {
                let inner = path.clone();
                *ty = syn::parse_quote! { ::std::option::Option<#inner> };
                return;
            }
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_optional_array_becomes_an_option_in_struct_builder_and_setter() {
        let types = quote! {
            pub struct Field {
                #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
                pub options: ::std::vec::Vec<::std::vec::Vec<String>>,
                pub required: ::std::vec::Vec<String>,
            }
            pub mod builder {
                pub struct Field {
                    options: ::std::result::Result<::std::vec::Vec<::std::vec::Vec<String>>, String>,
                    required: ::std::result::Result<::std::vec::Vec<String>, String>,
                }
                impl Field {
                    pub fn options<T>(mut self, value: T) -> Self
                    where
                        T: ::std::convert::TryInto<::std::vec::Vec<::std::vec::Vec<String>>>,
                    {
                        self
                    }
                    pub fn required<T>(mut self, value: T) -> Self
                    where
                        T: ::std::convert::TryInto<::std::vec::Vec<String>>,
                    {
                        self
                    }
                }
            }
        };
        let out = rewrite(types).unwrap().to_string();
        let option_vec = ":: std :: option :: Option < :: std :: vec :: Vec < :: std :: vec :: Vec < String > > >";
        assert_eq!(out.matches(option_vec).count(), 3, "{out}");
        assert!(out.contains("\"::std::option::Option::is_none\""), "{out}");
        assert!(!out.contains("Vec::is_empty"), "{out}");
        assert!(
            out.contains("pub required : :: std :: vec :: Vec < String >"),
            "a required array stays a Vec: {out}"
        );
    }
}
