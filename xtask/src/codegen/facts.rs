//! `cliniko_types::facts`: the spec's Cliniko facts (see `cliniko_spec::facts`) as Rust constants.

use cliniko_spec::Spec;
use cliniko_spec::facts::{FilterKind, Retry};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

/// The generated module's items, for `crates/cliniko-types/src/generated_facts.rs`.
pub fn generate(spec: &Spec) -> anyhow::Result<TokenStream> {
    let facts = spec
        .facts()
        .map_err(|problems| cliniko_spec::SpecError::Invalid {
            file: spec.source().to_owned(),
            problems,
        })?;
    let user_agent = &facts.user_agent_pattern;
    let server = &facts.server_url_template;
    let shard_pattern = &facts.shard_pattern;
    let shards = &facts.documented_shards;
    let default_shard = &facts.default_shard;
    let (per_page_min, per_page_max, per_page_default) = facts.per_page;
    let (rate_requests, rate_window) = facts.rate_limit;
    let numeric_operators = cliniko_spec::facts::NUMERIC_OPERATORS;
    let date_time_operators = cliniko_spec::facts::DATE_TIME_OPERATORS;
    let date_operators = cliniko_spec::facts::DATE_OPERATORS;
    let string_operators = cliniko_spec::facts::STRING_OPERATORS;
    let boolean_operators = cliniko_spec::facts::BOOLEAN_OPERATORS;
    let mut constants = Vec::new();
    let mut names = Vec::new();
    for operation in &facts.operations {
        let rust_name = rust_name(&operation.id);
        let constant = Ident::new(&rust_name.to_uppercase(), Span::call_site());
        let id = &operation.id;
        let method = &operation.method;
        let path = &operation.path;
        let retry = match operation.retry {
            Retry::Always => quote! { Retry::Always },
            Retry::OnlyIfNotSent => quote! { Retry::OnlyIfNotSent },
        };
        let filters = operation.filters.iter().map(|field| {
            let name = &field.name;
            let kind = match field.kind {
                FilterKind::Numeric => quote! { FilterKind::Numeric },
                FilterKind::DateTime => quote! { FilterKind::DateTime },
                FilterKind::Date => quote! { FilterKind::Date },
                FilterKind::String => quote! { FilterKind::String },
                FilterKind::Boolean => quote! { FilterKind::Boolean },
            };
            quote! { FilterField { name: #name, kind: #kind } }
        });
        let doc = format!(" `{method} {path}` (`{id}`).");
        constants.push(quote! {
            #[doc = #doc]
            pub const #constant: Operation = Operation {
                id: #id,
                rust_name: #rust_name,
                method: #method,
                path: #path,
                retry: #retry,
                filters: &[#(#filters),*],
            };
        });
        names.push(constant);
    }
    Ok(quote! {
        use crate::facts::{FilterField, FilterKind, Operation, Retry};

        /// The pattern a `User-Agent` must match: `APP_VENDOR_NAME (APP_VENDOR_EMAIL)`.
        pub const USER_AGENT_PATTERN: &str = #user_agent;
        /// The base URL, with the shard as `{shard}`.
        pub const SERVER_URL_TEMPLATE: &str = #server;
        /// The pattern of any shard name; Cliniko opens new shards over time.
        pub const SHARD_PATTERN: &str = #shard_pattern;
        /// The shards Cliniko documents.
        pub const DOCUMENTED_SHARDS: &[&str] = &[#(#shards),*];
        /// The shard of an API key without a `-shard` suffix.
        pub const DEFAULT_SHARD: &str = #default_shard;
        /// The smallest `per_page`.
        pub const PER_PAGE_MIN: i64 = #per_page_min;
        /// The largest `per_page`.
        pub const PER_PAGE_MAX: i64 = #per_page_max;
        /// The `per_page` Cliniko uses when none is sent.
        pub const PER_PAGE_DEFAULT: i64 = #per_page_default;
        /// How many requests may start in one rate-limit window, per API key.
        pub const RATE_LIMIT_REQUESTS: u32 = #rate_requests;
        /// The rate-limit window, in seconds.
        pub const RATE_LIMIT_WINDOW_SECONDS: u32 = #rate_window;
        /// The operators of a numeric filter (`=` and `!=` also take lists: `id:=1,2,3`).
        pub const NUMERIC_OPERATORS: &[&str] = &[#(#numeric_operators),*];
        /// The operators of a date-time filter.
        pub const DATE_TIME_OPERATORS: &[&str] = &[#(#date_time_operators),*];
        /// The operators of a date filter (`=` also takes `*` wildcards: `****-05-**`).
        pub const DATE_OPERATORS: &[&str] = &[#(#date_operators),*];
        /// The operators of a string filter (`%` is a wildcard in the values of `~` and `~~`).
        pub const STRING_OPERATORS: &[&str] = &[#(#string_operators),*];
        /// The operators of a boolean filter.
        pub const BOOLEAN_OPERATORS: &[&str] = &[#(#boolean_operators),*];
        /// One constant per operation, named after the generated client's method.
        pub mod operations {
            use super::*;
            #(#constants)*
        }
        /// Every operation, in the spec's order.
        pub const OPERATIONS: &[Operation] = &[#(operations::#names),*];
    })
}

/// progenitor's method name for an `operationId`: `updateAttendeeViaPut` → `update_attendee_via_put`.
pub fn rust_name(operation_id: &str) -> String {
    let mut out = String::with_capacity(operation_id.len() + 4);
    for (index, c) in operation_id.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if index > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn rust_names_are_progenitors() {
        assert_eq!(
            super::rust_name("updateAttendeeViaPut"),
            "update_attendee_via_put"
        );
        assert_eq!(super::rust_name("getAttendee"), "get_attendee");
    }
}
