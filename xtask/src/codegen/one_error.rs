//! One error type: each generated builder's `send()` returns `crate::Error`.
//!
//! progenitor's builders return `progenitor_client::Error<ErrorResponse>`, a second error type
//! that users would have to convert by hand. Each generated `send` is renamed `send_generated`
//! (private, unchanged) and a new `send` wraps it, handing the error and the operation's facts
//! (`cliniko_types::facts::operations::*`: id, method, path) to `crate::Error::from_generated`, so
//! every error names the operation it came from.

use anyhow::{Context, bail};
use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::quote;
use syn::visit_mut::VisitMut;

/// Rewrites every builder's `send` in the generated client.
pub fn rewrite(client: TokenStream) -> anyhow::Result<TokenStream> {
    let mut file: syn::File =
        syn::parse2(client).context("the generated client does not parse as Rust")?;
    let mut rewriter = Rewriter {
        rewritten: 0,
        error: None,
    };
    rewriter.visit_file_mut(&mut file);
    if let Some(error) = rewriter.error {
        return Err(error);
    }
    if rewriter.rewritten == 0 {
        bail!("found no builder `send` to rewrite; has progenitor's builder interface changed?");
    }
    Ok(quote! { #file })
}

struct Rewriter {
    rewritten: usize,
    error: Option<anyhow::Error>,
}

impl VisitMut for Rewriter {
    fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
        let mut added = Vec::new();
        for impl_item in &mut item.items {
            let syn::ImplItem::Fn(function) = impl_item else {
                continue;
            };
            if function.sig.ident != "send" || function.sig.asyncness.is_none() {
                continue;
            }
            match wrapper(function) {
                Ok(wrapper) => {
                    function.sig.ident = Ident::new("send_generated", Span::call_site());
                    function.vis = syn::Visibility::Inherited;
                    function.attrs.retain(|a| !a.path().is_ident("doc"));
                    added.push(wrapper);
                    self.rewritten += 1;
                }
                Err(error) => {
                    self.error.get_or_insert(error);
                }
            }
        }
        item.items.extend(added);
        syn::visit_mut::visit_item_impl_mut(self, item);
    }
}

/// The public `send` that wraps a generated one.
fn wrapper(function: &syn::ImplItemFn) -> anyhow::Result<syn::ImplItem> {
    let operation = operation_id(&function.block)
        .context("a generated `send` without `OperationInfo { operation_id }`")?;
    let constant = Ident::new(&operation.to_uppercase(), Span::call_site());
    let syn::ReturnType::Type(_, output) = &function.sig.output else {
        bail!("`send` of `{operation}` returns nothing");
    };
    let success = success_type(output).with_context(|| {
        format!("`send` of `{operation}` does not return Result<ResponseValue<T>, _>")
    })?;
    let doc = format!(
        " Sends the request. Every failure is a [`crate::Error`] naming this operation \
         ([`operations::{constant}`](::cliniko_types::facts::operations::{constant}))."
    );
    Ok(syn::parse_quote! {
        #[doc = #doc]
        pub async fn send(self) -> Result<ResponseValue<#success>, crate::Error> {
            self.send_generated().await.map_err(|error| {
                crate::Error::from_generated(error, &::cliniko_types::facts::operations::#constant)
            })
        }
    })
}

/// The `operation_id` string of the `OperationInfo` the generated body builds.
fn operation_id(block: &syn::Block) -> Option<String> {
    fn search(tokens: TokenStream) -> Option<String> {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        for (index, tree) in trees.iter().enumerate() {
            match tree {
                TokenTree::Ident(ident) if ident == "operation_id" => {
                    if let Some(TokenTree::Literal(literal)) = trees.get(index + 2) {
                        let text = literal.to_string();
                        return Some(text.trim_matches('"').to_owned());
                    }
                }
                TokenTree::Group(group) => {
                    if let Some(found) = search(group.stream()) {
                        return Some(found);
                    }
                }
                _ => {}
            }
        }
        None
    }
    search(quote! { #block })
}

/// `T` in `Result<ResponseValue<T>, E>`.
fn success_type(output: &syn::Type) -> Option<syn::Type> {
    let argument = |ty: &syn::Type, name: &str| -> Option<syn::Type> {
        let syn::Type::Path(path) = ty else {
            return None;
        };
        let last = path.path.segments.last()?;
        if last.ident != name {
            return None;
        }
        let syn::PathArguments::AngleBracketed(arguments) = &last.arguments else {
            return None;
        };
        match arguments.args.first()? {
            syn::GenericArgument::Type(ty) => Some(ty.clone()),
            _ => None,
        }
    };
    argument(&argument(output, "Result")?, "ResponseValue")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_is_wrapped_with_the_operations_facts() {
        let generated = quote! {
            impl<'a> GetAttendee<'a> {
                pub async fn send(self) -> Result<ResponseValue<::cliniko_types::Attendee>, Error<::cliniko_types::ErrorResponse>> {
                    let info = OperationInfo { operation_id: "get_attendee", };
                    todo!()
                }
            }
        };
        let out = rewrite(generated).expect("rewritten").to_string();
        assert!(out.contains("async fn send_generated"), "{out}");
        assert!(out.contains("pub async fn send (self) -> Result < ResponseValue < :: cliniko_types :: Attendee > , crate :: Error >"), "{out}");
        assert!(out.contains("operations :: GET_ATTENDEE"), "{out}");
    }

    #[test]
    fn a_client_without_builders_is_refused() {
        let error = rewrite(quote! { fn unrelated() {} }).expect_err("nothing to rewrite");
        assert!(error.to_string().contains("no builder `send`"));
    }
}
