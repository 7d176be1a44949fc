//! Updates that can clear: the nullable fields of a partial-update body become `crate::Patch<T>`.
//!
//! typify makes an optional nullable property `Option<T>` and leaves `None` out of the JSON, so a
//! field could be kept or set but never cleared. Cliniko clears a field sent as `null`. So in every
//! schema that is the body of a `PUT` or `PATCH` and requires nothing (a partial update), each
//! nullable property becomes `Patch<T>` (keep, set or clear): in the struct, with serde's `default`
//! and `skip_serializing_if = "Patch::is_keep"`, and in its generated builder.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::bail;
use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;
use syn::visit_mut::VisitMut;

/// For each partial-update schema, its nullable properties.
pub fn targets<'a>(document: &'a Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    // A request body may itself be a `$ref` (to `components/requestBodies`).
    let follow = |value: &'a Value| {
        let chased = cliniko_spec::pointer::chase(document, value);
        chased.broken.is_none().then_some(chased.value)
    };
    for item in document
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(_, item)| item)
    {
        for method in ["put", "patch"] {
            let Some(body) = item
                .pointer(&format!("/{method}/requestBody"))
                .and_then(follow)
            else {
                continue;
            };
            let Some(reference) = body
                .pointer("/content/application~1json/schema/$ref")
                .and_then(Value::as_str)
            else {
                continue;
            };
            let Some(name) = reference.strip_prefix("#/components/schemas/") else {
                continue;
            };
            let Some(schema) = document.pointer(&format!("/components/schemas/{name}")) else {
                continue;
            };
            let requires_nothing = schema
                .get("required")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
            if !requires_nothing {
                continue;
            }
            let nullable: BTreeSet<String> = schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter(|(_, property)| cliniko_spec::nullable::allows_null(document, property))
                .map(|(field, _)| field.clone())
                .collect();
            if !nullable.is_empty() {
                out.insert(name.to_owned(), nullable);
            }
        }
    }
    out
}

/// Rewrites the generated types so each target field is a `crate::Patch<T>`.
pub fn rewrite(
    types: TokenStream,
    targets: &BTreeMap<String, BTreeSet<String>>,
) -> anyhow::Result<TokenStream> {
    if targets.is_empty() {
        return Ok(types);
    }
    let mut file: syn::File = syn::parse2(types)?;
    let mut rewriter = Rewriter {
        targets,
        rewritten: BTreeSet::new(),
    };
    rewriter.visit_file_mut(&mut file);
    for (schema, fields) in targets {
        for field in fields {
            if !rewriter
                .rewritten
                .contains(&(schema.clone(), field.clone()))
            {
                bail!(
                    "found no `Option` field `{field}` in the generated `{schema}` to make a Patch"
                );
            }
        }
    }
    Ok(quote! { #file })
}

struct Rewriter<'a> {
    targets: &'a BTreeMap<String, BTreeSet<String>>,
    rewritten: BTreeSet<(String, String)>,
}

impl VisitMut for Rewriter<'_> {
    fn visit_item_struct_mut(&mut self, item: &mut syn::ItemStruct) {
        let name = item.ident.to_string();
        if let Some(fields) = self.targets.get(&name) {
            for field in item.fields.iter_mut() {
                let Some(ident) = &field.ident else { continue };
                if !fields.contains(&ident.to_string()) {
                    continue;
                }
                if OptionToPatch::apply(&mut field.ty) {
                    self.rewritten.insert((name.clone(), ident.to_string()));
                }
                for attribute in &mut field.attrs {
                    if attribute.path().is_ident("serde") {
                        *attribute = syn::parse_quote! {
                            #[serde(default, skip_serializing_if = "crate::Patch::is_keep")]
                        };
                    }
                }
            }
        }
        syn::visit_mut::visit_item_struct_mut(self, item);
    }

    fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
        // The builder's setters: `fn notes<T>(..) where T: TryInto<Option<String>>`.
        for_each_setter_predicate(item, self.targets, OptionToPatch::apply_in);
    }
}

/// Calls `change` on each `where` predicate of the setters, in an impl of a struct named in
/// `targets`, that are named after one of its target fields (typify's builder setters:
/// `fn notes<T>(mut self, value: T) -> Self where T: TryInto<...>`).
pub(super) fn for_each_setter_predicate(
    item: &mut syn::ItemImpl,
    targets: &BTreeMap<String, BTreeSet<String>>,
    mut change: impl FnMut(&mut syn::WherePredicate),
) {
    let syn::Type::Path(self_type) = &*item.self_ty else {
        return;
    };
    let name = self_type
        .path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    let Some(fields) = targets.get(&name) else {
        return;
    };
    for impl_item in &mut item.items {
        if let syn::ImplItem::Fn(function) = impl_item
            && fields.contains(&function.sig.ident.to_string())
            && let Some(clause) = &mut function.sig.generics.where_clause
        {
            for predicate in &mut clause.predicates {
                change(predicate);
            }
        }
    }
}

/// Replaces `::std::option::Option<X>` with `crate::Patch<X>` inside a type or predicate.
struct OptionToPatch {
    replaced: bool,
}

impl OptionToPatch {
    fn apply(ty: &mut syn::Type) -> bool {
        let mut visitor = Self { replaced: false };
        visitor.visit_type_mut(ty);
        visitor.replaced
    }

    fn apply_in(predicate: &mut syn::WherePredicate) {
        Self { replaced: false }.visit_where_predicate_mut(predicate);
    }
}

impl VisitMut for OptionToPatch {
    fn visit_type_path_mut(&mut self, path: &mut syn::TypePath) {
        let is_option = path.qself.is_none()
            && path.path.segments.len() == 3
            && path.path.segments[0].ident == "std"
            && path.path.segments[1].ident == "option"
            && path.path.segments[2].ident == "Option";
        if is_option {
            let arguments = path.path.segments[2].arguments.clone();
            *path = syn::parse_quote! { crate::Patch #arguments };
            self.replaced = true;
            return;
        }
        syn::visit_mut::visit_type_path_mut(self, path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_spec_has_one_partial_update() {
        let spec = cliniko_spec::Spec::embedded().expect("the spec loads");
        let targets = targets(spec.raw());
        let fields: Vec<&str> = targets["AttendeeUpdate"]
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(fields, ["arrived", "notes", "patient_case_id"]);
        assert!(
            !targets.contains_key("AttendeeCancel"),
            "cancel requires its reason"
        );
    }
}
