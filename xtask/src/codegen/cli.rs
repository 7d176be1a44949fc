//! The `cliniko` command tree, generated from the spec: one clap subcommand per operation, its
//! arguments typed from the operation's parameters and request-body schema, its help from the
//! spec's summaries and descriptions, code lists from `x-enum-varnames`, and `q[]` filters checked
//! against `cliniko_types::facts`.
//!
//! progenitor has a CLI generator (`Generator::cli`), but it targets progenitor's own error type
//! (`progenitor_client::Error`), which our builders' `send()` no longer return (they return
//! `cliniko_client::Error`), it maps body fields one to one (no `--reason sick` for a code list, no
//! way to clear a field of a partial update) and it knows nothing of the filter facts. So the tree is
//! generated here, from the same spec, as clap builder calls.
//!
//! Naming rules (documented in the `cliniko-cli` crate docs):
//! - The command group is the operation's tag, lower case (`Attendee` → `attendee`).
//! - The subcommand is the `operationId` in kebab case without the tag's word
//!   (`listDeletedAttendees` → `list-deleted`, `updateAttendeeViaPut` → `update-via-put`); when
//!   the path starts at another resource (`/group_appointments/{group_appointment_id}/attendees`),
//!   `for` joins the verb and that resource (`list-for-group-appointment`).
//! - Path parameters are positional (`ID`, `GROUP_APPOINTMENT_ID`); query parameters and body
//!   properties are `--kebab-case` options, except that a body property whose first word begins
//!   with the operation's verb loses that word (`cancellation_reason` → `--reason` on `cancel`).
//! - The `q[]` parameter is `--filter`, repeatable.
//! - A nullable property of a partial-update body (see `patch_fields`) also gets `--clear-NAME`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};
use cliniko_spec::Spec;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

/// The generated command tree.
pub const CLI_PATH: &str = "crates/cliniko-cli/src/generated_cli.rs";

/// One operation, as the generator sees it.
struct Operation {
    id: String,
    rust_name: String,
    method: String,
    path: String,
    tag: String,
    command: String,
    summary: String,
    description: String,
    deprecated: bool,
    parameters: Vec<Value>,
    body: Option<(String, Value)>,
    success: Success,
}

/// What a successful answer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Success {
    /// A page of records.
    List,
    /// One record.
    Item,
    /// No body.
    Empty,
}

/// Generates `generated_cli.rs`.
pub fn generate(spec: &Spec) -> anyhow::Result<TokenStream> {
    let document = spec.raw();
    let partial_updates = super::patch_fields::targets(document);
    let operations = operations(spec)?;
    let mut tags: BTreeMap<String, Vec<&Operation>> = BTreeMap::new();
    for operation in &operations {
        tags.entry(operation.tag.clone())
            .or_default()
            .push(operation);
    }
    let mut seen = BTreeSet::new();
    for operation in &operations {
        if !seen.insert((operation.tag.clone(), operation.command.clone())) {
            bail!(
                "two operations of tag {} map to the command `{}`; rename one operationId",
                operation.tag,
                operation.command
            );
        }
    }

    let mut group_fns = Vec::new();
    let mut group_calls = Vec::new();
    let mut dispatch_arms = Vec::new();
    let mut command_entries = Vec::new();
    let mut operation_fns = Vec::new();
    for (tag, operations) in &tags {
        let group = tag.to_lowercase();
        let group_fn = format_ident!("{}_command", group);
        let about = tag_description(document, tag);
        let group_doc = format!("`cliniko {group}`: one subcommand per operation tagged `{tag}`.");
        let mut subcommands = Vec::new();
        let mut arms = Vec::new();
        for operation in operations {
            let command_fn = format_ident!("{}_command", operation.rust_name);
            let run_fn = format_ident!("run_{}", operation.rust_name);
            let name = &operation.command;
            let constant = format_ident!("{}", operation.rust_name.to_uppercase());
            subcommands.push(quote! { .subcommand(#command_fn()) });
            arms.push(quote! { Some((#name, matches)) => #run_fn(client, matches, output).await, });
            command_entries.push(quote! {
                OperationCommand { group: #group, name: #name, operation: &operations::#constant }
            });
            operation_fns.push(operation_tokens(document, operation, &partial_updates)?);
        }
        group_fns.push(quote! {
            #[doc = #group_doc]
            pub fn #group_fn() -> Command {
                Command::new(#group)
                    .about(#about)
                    .subcommand_required(true)
                    .arg_required_else_help(true)
                    #(#subcommands)*
            }
        });
        group_calls.push(quote! { #group_fn() });
        dispatch_arms.push(quote! {
            Some((#group, matches)) => match matches.subcommand() {
                #(#arms)*
                _ => Err(crate::Usage::new(concat!("unknown ", #group, " command; see `cliniko ", #group, " --help`")).into()),
            },
        });
    }

    let records = record_impls(document, &operations)?;
    Ok(quote! {
        use clap::{Arg, ArgAction, ArgMatches, Command};
        use cliniko_client::Client;
        use cliniko_client::types;
        use cliniko_types::facts::{operations, Operation};

        use crate::args;
        use crate::output::Output;

        /// One spec operation and the command that runs it.
        #[derive(Debug, Clone, Copy)]
        pub struct OperationCommand {
            /// The command group, such as `attendee`.
            pub group: &'static str,
            /// The subcommand, such as `list-deleted`.
            pub name: &'static str,
            /// The operation's facts.
            pub operation: &'static Operation,
        }

        /// Every operation's command, in the spec's order.
        pub const COMMANDS: &[OperationCommand] = &[#(#command_entries),*];

        #records

        #(#group_fns)*

        /// Every command group.
        pub fn groups() -> Vec<Command> {
            vec![#(#group_calls),*]
        }

        /// Runs the operation `matches` names (a group's subcommand).
        pub async fn run(client: &Client, matches: &ArgMatches, output: &mut Output) -> anyhow::Result<()> {
            match matches.subcommand() {
                #(#dispatch_arms)*
                _ => Err(crate::Usage::new("unknown command; see `cliniko --help`").into()),
            }
        }

        #(#operation_fns)*
    })
}

/// Every operation of the spec, in its order.
fn operations(spec: &Spec) -> anyhow::Result<Vec<Operation>> {
    let document = spec.raw();
    let mut out = Vec::new();
    for (path, item) in &spec.document().paths.paths {
        let openapiv3::ReferenceOr::Item(item) = item else {
            continue;
        };
        let path_parameters: Vec<Value> = document
            .pointer(&format!(
                "/paths/{}/parameters",
                cliniko_spec::pointer::escape(path)
            ))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (method, _) in item.iter() {
            let pointer = format!("/paths/{}/{method}", cliniko_spec::pointer::escape(path));
            let raw = document
                .pointer(&pointer)
                .with_context(|| format!("{pointer} is missing"))?;
            let id = text(raw, "operationId").context("every operation has an operationId")?;
            let tag = raw
                .pointer("/tags/0")
                .and_then(Value::as_str)
                .with_context(|| format!("{id} has no tag; the tag names its command group"))?
                .to_owned();
            let mut parameters = Vec::new();
            for parameter in path_parameters.iter().chain(
                raw.get("parameters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            ) {
                let parameter = resolve(document, parameter)?;
                let name = text(&parameter, "name").unwrap_or_default();
                let location = text(&parameter, "in").unwrap_or_default();
                // `User-Agent` is set once for the client, as in the generated builders.
                if location == "header" {
                    continue;
                }
                if !parameters
                    .iter()
                    .any(|p: &Value| text(p, "name") == Some(name))
                {
                    parameters.push(parameter);
                }
            }
            let body = match raw.get("requestBody") {
                Some(body) => {
                    let body = resolve(document, body)?;
                    let reference = body
                        .pointer("/content/application~1json/schema/$ref")
                        .and_then(Value::as_str)
                        .with_context(|| format!("the body of {id} is not a schema reference"))?;
                    let name = reference
                        .trim_start_matches("#/components/schemas/")
                        .to_owned();
                    let schema = resolve(document, &serde_json::json!({ "$ref": reference }))?;
                    Some((name, schema))
                }
                None => None,
            };
            let success = success(document, raw).with_context(|| format!("operation {id}"))?;
            out.push(Operation {
                command: command_name(id, &tag, path),
                rust_name: super::facts::rust_name(id),
                method: method.to_uppercase(),
                path: path.clone(),
                summary: text(raw, "summary").unwrap_or_default().to_owned(),
                description: text(raw, "description")
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
                deprecated: raw
                    .get("deprecated")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                id: id.to_owned(),
                tag,
                parameters,
                body,
                success,
            });
        }
    }
    Ok(out)
}

/// Whether the one 2xx answer is a page, a record or nothing.
fn success(document: &Value, operation: &Value) -> anyhow::Result<Success> {
    let responses = operation
        .get("responses")
        .and_then(Value::as_object)
        .context("no responses")?;
    let (_, response) = responses
        .iter()
        .find(|(status, _)| status.starts_with('2'))
        .context("no success response")?;
    let response = resolve(document, response)?;
    let Some(schema) = response.pointer("/content/application~1json/schema") else {
        return Ok(Success::Empty);
    };
    let schema = resolve(document, schema)?;
    Ok(if list_items(document, &schema)?.is_some() {
        Success::List
    } else {
        Success::Item
    })
}

/// A page is an object with a required array property; its items' schema.
fn list_items(document: &Value, schema: &Value) -> anyhow::Result<Option<Value>> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (name, property) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let property = resolve(document, property)?;
        if required.contains(&name.as_str()) && text(&property, "type") == Some("array") {
            let items = property.get("items").context("an array without items")?;
            return Ok(Some(resolve(document, items)?));
        }
    }
    Ok(None)
}

/// `listGroupAppointmentAttendees` on `/group_appointments/{…}/attendees` → `list-for-group-appointment`.
fn command_name(operation_id: &str, tag: &str, path: &str) -> String {
    let tag_words = words(tag);
    let resource = tag_words.join("");
    let plural = format!("{resource}s");
    let rest: Vec<String> = words(operation_id)
        .into_iter()
        .filter(|word| *word != resource && *word != plural)
        .collect();
    let first_segment = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    let nested = !first_segment.is_empty() && first_segment != plural;
    let mut out = Vec::new();
    for (index, word) in rest.iter().enumerate() {
        if index == 1 && nested {
            out.push("for".to_owned());
        }
        out.push(word.clone());
    }
    out.join("-")
}

/// `updateAttendeeViaPut` → `update`, `attendee`, `via`, `put`.
fn words(identifier: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in identifier.chars() {
        if c.is_ascii_uppercase() || out.is_empty() || c == '_' {
            out.push(String::new());
        }
        if c != '_'
            && let Some(last) = out.last_mut()
        {
            last.push(c.to_ascii_lowercase());
        }
    }
    out.retain(|word| !word.is_empty());
    out
}

fn kebab(name: &str) -> String {
    name.replace('_', "-")
}

/// The option name of a body property: its first word goes when it begins with the verb.
fn body_option(property: &str, verb: &str) -> String {
    match property.split_once('_') {
        Some((first, rest)) if !verb.is_empty() && first.starts_with(verb) => kebab(rest),
        _ => kebab(property),
    }
}

fn tag_description(document: &Value, tag: &str) -> String {
    document
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|t| text(t, "name") == Some(tag))
        .and_then(|t| text(t, "description"))
        .unwrap_or(tag)
        .to_owned()
}

fn operation_tokens(
    document: &Value,
    operation: &Operation,
    partial_updates: &BTreeMap<String, BTreeSet<String>>,
) -> anyhow::Result<TokenStream> {
    let command_fn = format_ident!("{}_command", operation.rust_name);
    let run_fn = format_ident!("run_{}", operation.rust_name);
    let builder_fn = format_ident!("{}", operation.rust_name);
    let constant = format_ident!("{}", operation.rust_name.to_uppercase());
    let name = &operation.command;
    let group = operation.tag.to_lowercase();
    let summary = &operation.summary;
    let mut long_about = if operation.description.is_empty() {
        summary.clone()
    } else {
        format!("{summary}.\n\n{}", operation.description)
    };
    if operation.deprecated && !long_about.to_lowercase().contains("deprecated") {
        long_about.push_str("\n\nDeprecated by Cliniko.");
    }
    let command_doc = format!("`{name}`: {summary}.");
    let example = example(document, operation, &group)?;
    let after_help = format!(
        "Example:\n  {example}\n\nCliniko: {} {} ({})",
        operation.method, operation.path, operation.id
    );
    let operation_type = pascal(&operation.id);
    let verb = words(&operation.id).first().cloned().unwrap_or_default();

    let mut args = Vec::new();
    let mut sets = Vec::new();
    for parameter in &operation.parameters {
        let param_name = text(parameter, "name").unwrap_or_default();
        let location = text(parameter, "in").unwrap_or_default();
        let help = first_sentence(text(parameter, "description").unwrap_or_default());
        let schema = resolve(document, parameter.get("schema").unwrap_or(&Value::Null))?;
        let setter = format_ident!("{}", param_name.trim_end_matches("[]"));
        if location == "path" {
            let value_name = param_name.to_uppercase();
            args.push(quote! {
                .arg(Arg::new(#param_name).value_name(#value_name).required(true).help(#help)
                    .value_parser(clap::value_parser!(cliniko_types::Id)))
            });
            sets.push(quote! {
                if let Some(value) = matches.get_one::<cliniko_types::Id>(#param_name) {
                    request = request.#setter(*value);
                }
            });
            continue;
        }
        if param_name == "q[]" {
            let item_type = format_ident!("{operation_type}QItem");
            args.push(quote! {
                .arg(Arg::new("filter").long("filter").value_name("FIELD OPERATOR VALUE")
                    .action(ArgAction::Append)
                    .help(args::filter_help(&operations::#constant))
                    .long_help(args::filter_long_help(&operations::#constant))
                    .value_parser(args::FilterParser::new(&operations::#constant)))
            });
            sets.push(quote! {
                if let Some(conditions) = matches.get_many::<String>("filter") {
                    request = request.q(args::conditions::<types::#item_type>(conditions)?);
                }
            });
            continue;
        }
        let option = kebab(param_name);
        let deprecated = parameter.get("deprecated").and_then(Value::as_bool) == Some(true);
        let hide = if deprecated {
            quote! { .hide(true) }
        } else {
            quote! {}
        };
        match text(&schema, "type") {
            Some("integer") => {
                let minimum = schema.get("minimum").and_then(Value::as_u64);
                let maximum = schema.get("maximum").and_then(Value::as_u64);
                // A range without a top is said as "N or more", not up to u64::MAX.
                let parser = match (minimum, maximum) {
                    (Some(min), Some(max)) => {
                        quote! { clap::value_parser!(u64).range(#min..=#max) }
                    }
                    (Some(min), None) => quote! { args::at_least(#min) },
                    _ => quote! { clap::value_parser!(u64) },
                };
                args.push(quote! {
                    .arg(Arg::new(#param_name).long(#option).value_name("N").help(#help)
                        .value_parser(#parser) #hide)
                });
                sets.push(quote! {
                    if let Some(value) = matches.get_one::<u64>(#param_name) {
                        request = request.#setter(*value);
                    }
                });
            }
            Some("string") => {
                let values: Vec<&str> = schema
                    .get("enum")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let parser = if values.is_empty() {
                    let checked = format_ident!("{operation_type}{}", pascal(param_name));
                    quote! { .value_parser(args::checked::<types::#checked>(#param_name)) }
                } else {
                    quote! { .value_parser([#(#values),*]) }
                };
                let value_name = param_name.to_uppercase();
                let long_help = text(parameter, "description")
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                args.push(quote! {
                    .arg(Arg::new(#param_name).long(#option).value_name(#value_name).help(#help)
                        .long_help(#long_help) #parser #hide)
                });
                sets.push(quote! {
                    if let Some(value) = matches.get_one::<String>(#param_name) {
                        request = request.#setter(value.as_str());
                    }
                });
            }
            other => bail!(
                "{}: parameter {param_name} has type {other:?}, which the CLI generator does not map",
                operation.id
            ),
        }
    }

    let mut body_tokens = quote! {};
    if let Some((schema_name, schema)) = &operation.body {
        let body_type = format_ident!("{schema_name}");
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let clearable = partial_updates
            .get(schema_name)
            .cloned()
            .unwrap_or_default();
        let mut inserts = Vec::new();
        for (property, raw) in &ordered_properties(schema) {
            let option = body_option(property, &verb);
            let is_required = required.contains(&property.as_str());
            let (target, nullable) = non_null_branch(document, raw);
            let target = resolve(document, &target)?;
            let help = first_sentence(
                text(raw, "description")
                    .or_else(|| text(&target, "description"))
                    .unwrap_or_default(),
            );
            let reference = raw_reference(raw);
            let (parser, value_name, read) = if reference.as_deref() == Some("Id") && nullable {
                // "or null for none", as the spec says: `null` is taken as well as an ID.
                (
                    quote! { args::nullable_id },
                    "ID|null".to_owned(),
                    quote! { matches.get_one::<serde_json::Value>(#option).cloned() },
                )
            } else if reference.as_deref() == Some("Id") {
                (
                    quote! { clap::value_parser!(cliniko_types::Id) },
                    "ID".to_owned(),
                    quote! { matches.get_one::<cliniko_types::Id>(#option).map(|id| serde_json::Value::String(id.to_string())) },
                )
            } else if let Some(varnames) = target.get("x-enum-varnames").and_then(Value::as_array) {
                let codes = target
                    .get("enum")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let descriptions = target
                    .get("x-enum-descriptions")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let mut entries = Vec::new();
                for (index, varname) in varnames.iter().enumerate() {
                    let varname = varname.as_str().context("x-enum-varnames holds names")?;
                    let value_name = kebab(&words(varname).join("_"));
                    let code = codes.get(index).context("as many varnames as values")?;
                    let code_text = match code {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let code_json = serde_json::to_string(code)?;
                    let description = descriptions
                        .get(index)
                        .and_then(Value::as_str)
                        .unwrap_or(varname);
                    let help = format!("{description} ({code_text})");
                    entries.push(quote! { args::Code { name: #value_name, code: #code_text, json: #code_json, help: #help } });
                }
                (
                    quote! { args::CodeParser::new(&[#(#entries),*]) },
                    "CODE".to_owned(),
                    quote! { matches.get_one::<serde_json::Value>(#option).cloned() },
                )
            } else {
                match text(&target, "type") {
                    Some("boolean") => (
                        quote! { clap::value_parser!(bool) },
                        "true|false".to_owned(),
                        quote! { matches.get_one::<bool>(#option).map(|value| serde_json::Value::Bool(*value)) },
                    ),
                    Some("string") => (
                        quote! { clap::value_parser!(String) },
                        "TEXT".to_owned(),
                        quote! { matches.get_one::<String>(#option).map(|value| serde_json::Value::String(value.clone())) },
                    ),
                    Some("integer") => (
                        quote! { clap::value_parser!(i64) },
                        "N".to_owned(),
                        quote! { matches.get_one::<i64>(#option).map(|value| serde_json::Value::from(*value)) },
                    ),
                    // An object or a list (a patient's custom fields, phone numbers) is given as
                    // JSON, checked as JSON here and against its schema by Cliniko.
                    Some("object") | Some("array") => (
                        quote! { args::json_value },
                        "JSON".to_owned(),
                        quote! { matches.get_one::<serde_json::Value>(#option).cloned() },
                    ),
                    other => bail!(
                        "{}: body property {property} has type {other:?}, which the CLI generator does not map",
                        operation.id
                    ),
                }
            };
            let clear_option = format!("clear-{option}");
            let clear = nullable && clearable.contains(property);
            let conflicts = if clear {
                quote! { .conflicts_with(#clear_option) }
            } else {
                quote! {}
            };
            args.push(quote! {
                .arg(Arg::new(#option).long(#option).value_name(#value_name).help(#help)
                    .required(#is_required).value_parser(#parser) #conflicts)
            });
            inserts.push(quote! {
                if let Some(value) = #read {
                    body.insert(#property.to_owned(), value);
                }
            });
            if clear {
                let clear_help = format!("Clear {property} (send null)");
                args.push(quote! {
                    .arg(Arg::new(#clear_option).long(#clear_option).help(#clear_help).action(ArgAction::SetTrue))
                });
                inserts.push(quote! {
                    if matches.get_flag(#clear_option) {
                        body.insert(#property.to_owned(), serde_json::Value::Null);
                    }
                });
            }
        }
        let options: Vec<String> = ordered_properties(schema)
            .iter()
            .map(|(property, _)| format!("--{}", body_option(property, &verb)))
            .collect();
        let nothing = format!(
            "give at least one field to change ({}); nothing was sent",
            options.join(", ")
        );
        let refuse_empty = if required.is_empty() {
            quote! {
                if body.is_empty() {
                    return Err(crate::Usage::new(#nothing).into());
                }
            }
        } else {
            quote! {}
        };
        body_tokens = quote! {
            let mut body = serde_json::Map::new();
            #(#inserts)*
            #refuse_empty
            request = request.body(args::body::<cliniko_types::#body_type>(body)?);
        };
    }

    // Deleting and archiving ask first on a terminal; `--yes` skips the question.
    let destructive = operation.method == "DELETE" || operation.path.ends_with("/archive");
    let (confirm_arg, confirm) = if destructive {
        let what = format!("{group} {name}");
        (
            quote! {
                .arg(Arg::new("yes").long("yes").short('y').action(ArgAction::SetTrue)
                    .help("Do not ask for confirmation on a terminal"))
            },
            quote! {
                crate::confirm(#what, matches.get_one::<cliniko_types::Id>("id").copied(), matches.get_flag("yes"))?;
            },
        )
    } else {
        (quote! {}, quote! {})
    };
    let (extra_args, send) = match operation.success {
        Success::List => (
            quote! {
                .arg(Arg::new("all").long("all").action(ArgAction::SetTrue)
                    .help("Follow `links.next` to the last page"))
            },
            quote! {
                let all = matches.get_flag("all");
                let mut page = matches.get_one::<u64>("page").copied().unwrap_or(1);
                output.list_start(client, all)?;
                loop {
                    let response = request.clone().page(page).send().await?.into_inner();
                    let more = all && response.links.next.is_some();
                    output.list_page(&response, all, !more)?;
                    if !more {
                        break;
                    }
                    page += 1;
                }
                Ok(())
            },
        ),
        Success::Item => (
            quote! {},
            quote! {
                let response = request.send().await?;
                output.item(&operations::#constant, &response)
            },
        ),
        Success::Empty => {
            let has_id = operation
                .parameters
                .iter()
                .any(|p| text(p, "in") == Some("path") && text(p, "name") == Some("id"));
            let id = if has_id {
                quote! { matches.get_one::<cliniko_types::Id>("id").copied() }
            } else {
                quote! { None }
            };
            (
                quote! {},
                quote! {
                    request.send().await?;
                    output.done(#group, #name, #id)
                },
            )
        }
    };

    Ok(quote! {
        #[doc = #command_doc]
        pub fn #command_fn() -> Command {
            Command::new(#name)
                .about(#summary)
                .long_about(#long_about)
                .after_help(#after_help)
                #(#args)*
                #extra_args
                #confirm_arg
        }

        async fn #run_fn(client: &Client, matches: &ArgMatches, output: &mut Output) -> anyhow::Result<()> {
            #[allow(unused_mut)]
            let mut request = client.#builder_fn();
            #(#sets)*
            #body_tokens
            #confirm
            #send
        }
    })
}

/// The success body schema of `operation`, by its component name, if it has one.
fn success_schema(document: &Value, operation: &Operation) -> anyhow::Result<Option<String>> {
    let pointer = format!(
        "/paths/{}/{}",
        cliniko_spec::pointer::escape(&operation.path),
        operation.method.to_lowercase()
    );
    let raw = document
        .pointer(&pointer)
        .context("the operation is in the spec")?;
    let responses = raw
        .get("responses")
        .and_then(Value::as_object)
        .context("responses")?;
    let Some((_, response)) = responses.iter().find(|(s, _)| s.starts_with('2')) else {
        return Ok(None);
    };
    let response = resolve(document, response)?;
    Ok(response
        .pointer("/content/application~1json/schema/$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .map(str::to_owned))
}

/// For each record type a command prints (the items of a page, or one record): a generated
/// `output::Record` impl with its columns, and for each page type an `output::Page` impl. A
/// second resource in the spec gets its own, so printing never names one resource.
fn record_impls(document: &Value, operations: &[Operation]) -> anyhow::Result<TokenStream> {
    let mut records: BTreeMap<String, String> = BTreeMap::new();
    let mut pages: BTreeMap<String, (String, String)> = BTreeMap::new();
    for operation in operations {
        let Some(schema_name) = success_schema(document, operation)? else {
            continue;
        };
        let schema = resolve(
            document,
            &serde_json::json!({ "$ref": format!("#/components/schemas/{schema_name}") }),
        )?;
        match operation.success {
            Success::List => {
                let (key, item) = list_key(document, &schema)?
                    .with_context(|| format!("{schema_name} is a page without an array"))?;
                records.insert(item.clone(), operation.tag.to_lowercase());
                pages.insert(schema_name, (key, item));
            }
            Success::Item => {
                records.insert(schema_name, operation.tag.to_lowercase());
            }
            Success::Empty => {}
        }
    }
    let mut out = Vec::new();
    for (name, singular) in &records {
        let schema = resolve(
            document,
            &serde_json::json!({ "$ref": format!("#/components/schemas/{name}") }),
        )?;
        let mut columns = Vec::new();
        flatten(document, &schema, "", &mut columns, 0)?;
        let properties = ordered_properties(&schema);
        // The ID of each linked record (`patient.links.self` → `patient_id`), unless the schema
        // has such a property already.
        let mut link_ids = Vec::new();
        for (property, _) in &properties {
            let link = format!("{property}.links.self");
            let id_name = format!("{property}_id");
            // A link to a list (`invoices`, `patient_forms`) ends in no ID: only links to one
            // record, named in the singular, get an ID column.
            let to_one = !property.ends_with('s');
            if to_one && columns.contains(&link) && !properties.iter().any(|(p, _)| *p == id_name) {
                link_ids.push((id_name, link));
            }
        }
        let column = |name: &str, source: &str, link: bool| {
            let pointer = format!("/{}", source.replace('.', "/"));
            quote! { crate::output::Column { name: #name, pointer: #pointer, link_id: #link } }
        };
        let mut all = Vec::new();
        if let Some(id) = columns.iter().find(|c| *c == "id") {
            all.push(column(id, id, false));
        }
        for (id_name, link) in &link_ids {
            all.push(column(id_name, link, true));
        }
        for name in columns.iter().filter(|c| *c != "id") {
            all.push(column(name, name, false));
        }
        // The list table: the ID, the linked IDs, the record's own booleans that are not
        // deprecated, its state and when it changed.
        let mut summary = Vec::new();
        if columns.iter().any(|c| c == "id") {
            summary.push(column("id", "id", false));
        }
        for (id_name, link) in &link_ids {
            summary.push(column(id_name, link, true));
        }
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (property, raw) in &properties {
            let (target, nullable) = non_null_branch(document, raw);
            let target = resolve(document, &target)?;
            let deprecated = raw.get("deprecated").and_then(Value::as_bool) == Some(true);
            let always_set = required.contains(&property.as_str()) && !nullable;
            if text(&target, "type") == Some("boolean") && !deprecated && always_set {
                summary.push(column(property, property, false));
            }
        }
        let state_fields: Vec<&str> = ["archived_at", "deleted_at", "cancelled_at"]
            .into_iter()
            .filter(|field| properties.iter().any(|(p, _)| p == field))
            .collect();
        if columns.iter().any(|c| c == "updated_at") {
            summary.push(column("updated_at", "updated_at", false));
        }
        let ty = format_ident!("{name}");
        let plural = format!("{singular}s");
        out.push(quote! {
            impl crate::output::Record for cliniko_types::#ty {
                const SINGULAR: &'static str = #singular;
                const PLURAL: &'static str = #plural;
                const COLUMNS: &'static [crate::output::Column] = &[#(#all),*];
                const SUMMARY: &'static [crate::output::Column] = &[#(#summary),*];
                const STATE_FIELDS: &'static [&'static str] = &[#(#state_fields),*];
            }
        });
    }
    for (name, (key, item)) in &pages {
        let ty = format_ident!("{name}");
        let item_ty = format_ident!("{item}");
        let field = format_ident!("{key}");
        out.push(quote! {
            impl crate::output::Page for cliniko_types::#ty {
                type Item = cliniko_types::#item_ty;
                fn items(&self) -> &[cliniko_types::#item_ty] {
                    &self.#field
                }
                fn total_entries(&self) -> u64 {
                    u64::try_from(self.total_entries).unwrap_or_default()
                }
                fn has_next(&self) -> bool {
                    self.links.next.is_some()
                }
            }
        });
    }
    Ok(quote! { #(#out)* })
}

/// A page schema's array property and its items' component name.
fn list_key(document: &Value, schema: &Value) -> anyhow::Result<Option<(String, String)>> {
    for (name, property) in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let property = resolve(document, property)?;
        if text(&property, "type") == Some("array") {
            let item = property
                .pointer("/items/$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .with_context(|| format!("the items of {name} are not a schema reference"))?;
            return Ok(Some((name.clone(), item.to_owned())));
        }
    }
    Ok(None)
}

/// An example command line for `operation`: its path IDs, its required options (or, for a
/// partial update, its first), each with a value it takes.
fn example(document: &Value, operation: &Operation, group: &str) -> anyhow::Result<String> {
    let mut words = vec![format!("cliniko {group} {}", operation.command)];
    for parameter in &operation.parameters {
        if text(parameter, "in") == Some("path") {
            words.push(EXAMPLE_ID.to_owned());
        }
    }
    if let Some((_, schema)) = &operation.body {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let verb = self::words(&operation.id)
            .first()
            .cloned()
            .unwrap_or_default();
        let properties = ordered_properties(schema);
        let chosen: Vec<&(String, Value)> = if required.is_empty() {
            properties.iter().take(1).collect()
        } else {
            properties
                .iter()
                .filter(|(name, _)| required.contains(&name.as_str()))
                .collect()
        };
        for (property, raw) in chosen {
            let (target, _) = non_null_branch(document, raw);
            let target = resolve(document, &target)?;
            let value = if raw_reference(raw).as_deref() == Some("Id") {
                EXAMPLE_ID.to_owned()
            } else if let Some(name) = target
                .get("x-enum-varnames")
                .and_then(|names| names.get(0))
                .and_then(Value::as_str)
            {
                kebab(&self::words(name).join("_"))
            } else {
                match text(&target, "type") {
                    Some("boolean") => "true".to_owned(),
                    Some("integer") => "1".to_owned(),
                    _ => "'Running late'".to_owned(),
                }
            };
            words.push(format!("--{} {value}", body_option(property, &verb)));
        }
    }
    if operation
        .parameters
        .iter()
        .any(|p| text(p, "name") == Some("per_page"))
    {
        words.push("--per-page 10".to_owned());
    }
    Ok(words.join(" "))
}

/// The ID the examples use: one of Cliniko's documented snowflake IDs.
const EXAMPLE_ID: &str = "1390726237298631770";

fn flatten(
    document: &Value,
    schema: &Value,
    prefix: &str,
    out: &mut Vec<String>,
    depth: usize,
) -> anyhow::Result<()> {
    if depth > 8 {
        bail!("{prefix}: schemas nest too deep to flatten into CSV columns");
    }
    for (name, property) in &ordered_properties(schema) {
        let (target, _) = non_null_branch(document, property);
        let target = resolve(document, &target)?;
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        if target.get("properties").is_some() {
            flatten(document, &target, &path, out, depth + 1)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// A schema's properties: the required ones in the order `required` lists them, then the others
/// by name (the parsed spec keeps no other order).
fn ordered_properties(schema: &Value) -> Vec<(String, Value)> {
    let properties = schema.get("properties").and_then(Value::as_object);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut out: Vec<(String, Value)> = required
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), properties?.get(*name)?.clone())))
        .collect();
    for (name, property) in properties.into_iter().flatten() {
        if !required.contains(&name.as_str()) {
            out.push((name.clone(), property.clone()));
        }
    }
    out
}

/// The branch of the spec's nullable idiom (`oneOf: [X, {nullable, enum: [null]}]`) that is not
/// null, and whether the schema admits null, as OpenAPI 3.0.3 reads it
/// ([`cliniko_spec::nullable::non_null`]).
fn non_null_branch(document: &Value, schema: &Value) -> (Value, bool) {
    let (branch, nullable) = cliniko_spec::nullable::non_null(document, schema);
    (branch.clone(), nullable)
}

/// The component a property refers to, through a nullable `oneOf`.
fn raw_reference(schema: &Value) -> Option<String> {
    let target = schema
        .as_object()
        .and_then(cliniko_spec::nullable_one_of_branch)
        .unwrap_or(schema);
    target
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .map(str::to_owned)
}

/// `value`, or what its `$ref` (and theirs, in turn) names.
fn resolve(document: &Value, value: &Value) -> anyhow::Result<Value> {
    let chased = cliniko_spec::pointer::chase(document, value);
    match chased.broken {
        None => Ok(chased.value.clone()),
        Some(cliniko_spec::pointer::Broken::Dangling(reference)) => {
            bail!("{reference} is not a local reference that resolves")
        }
        Some(cliniko_spec::pointer::Broken::Loop) => bail!("references nest too deep"),
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// `listAttendees` → `ListAttendees`; `per_page` → `PerPage`.
fn pascal(identifier: &str) -> String {
    words(identifier)
        .iter()
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The first sentence of a description, for one-line `--help`: its first paragraph's lines
/// joined (a YAML block wraps a sentence over several lines), cut at the first full stop that
/// ends a sentence (followed by a space and a capital, so `e.g. x` is no end), without the stop.
fn first_sentence(description: &str) -> String {
    let paragraph = description
        .trim()
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let bytes = paragraph.as_bytes();
    let end = (0..bytes.len()).find(|&at| {
        bytes[at] == b'.'
            && bytes.get(at + 1) == Some(&b' ')
            && bytes.get(at + 2).is_some_and(u8::is_ascii_uppercase)
    });
    match end {
        Some(end) => paragraph[..end].to_owned(),
        None => paragraph.trim_end_matches('.').to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names_follow_the_rule() {
        assert_eq!(
            command_name("listAttendees", "Attendee", "/attendees"),
            "list"
        );
        assert_eq!(
            command_name("listDeletedAttendees", "Attendee", "/attendees/deleted"),
            "list-deleted"
        );
        assert_eq!(
            command_name("updateAttendeeViaPut", "Attendee", "/attendees/{id}"),
            "update-via-put"
        );
        assert_eq!(
            command_name(
                "listGroupAppointmentAttendees",
                "Attendee",
                "/group_appointments/{group_appointment_id}/attendees"
            ),
            "list-for-group-appointment"
        );
        assert_eq!(
            command_name("cancelAttendee", "Attendee", "/attendees/{id}/cancel"),
            "cancel"
        );
    }

    #[test]
    fn body_options_drop_the_verbs_word() {
        assert_eq!(body_option("cancellation_reason", "cancel"), "reason");
        assert_eq!(body_option("cancellation_note", "cancel"), "note");
        assert_eq!(
            body_option("apply_to_repeats", "cancel"),
            "apply-to-repeats"
        );
        assert_eq!(body_option("booking_id", "create"), "booking-id");
    }

    #[test]
    fn every_operation_gets_a_command() {
        let spec = Spec::embedded().expect("the spec loads");
        let operations = operations(&spec).expect("operations");
        let names: Vec<&str> = operations.iter().map(|o| o.command.as_str()).collect();
        for expected in [
            "list",
            "list-deleted",
            "list-cancelled",
            "get",
            "create",
            "update",
            "update-via-put",
            "delete",
            "archive",
            "cancel",
            "list-for-group-appointment",
            "list-for-individual-appointment",
            "list-for-patient-case",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        generate(&spec).expect("the command tree generates");
    }

    /// A second resource added to a copy of the spec gets its own group, commands and columns:
    /// nothing in the generator is tied to attendees.
    #[test]
    fn a_second_resource_gets_its_own_group_and_columns() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/cliniko-attendees.yaml"),
        )
        .expect("the spec reads");
        let mut document: Value = serde_yaml_ng_or_json(&text);
        let widget = serde_json::json!({
            "type": "object",
            "required": ["id", "name", "owner"],
            "properties": {
                "id": { "$ref": "#/components/schemas/Id" },
                "name": { "type": "string", "description": "The widget's name. Shown on invoices." },
                "owner": {
                    "type": "object",
                    "required": ["links"],
                    "properties": { "links": { "type": "object", "required": ["self"], "properties": { "self": { "type": "string" } } } }
                }
            }
        });
        let list = serde_json::json!({
            "type": "object",
            "required": ["widgets", "total_entries", "links"],
            "properties": {
                "widgets": { "type": "array", "items": { "$ref": "#/components/schemas/Widget" } },
                "total_entries": { "type": "integer" },
                "links": { "$ref": "#/components/schemas/PageLinks" }
            }
        });
        let schemas = document
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
            .expect("schemas");
        schemas.insert("Widget".into(), widget);
        schemas.insert("WidgetList".into(), list);
        let ok = |schema: &str| serde_json::json!({ "200": { "description": "ok", "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } } });
        let paths = document
            .pointer_mut("/paths")
            .and_then(Value::as_object_mut)
            .expect("paths");
        paths.insert(
            "/widgets".into(),
            serde_json::json!({ "get": { "operationId": "listWidgets", "summary": "List widgets", "tags": ["Widget"], "responses": ok("WidgetList") } }),
        );
        paths.insert(
            "/widgets/{id}".into(),
            serde_json::json!({ "get": { "operationId": "getWidget", "summary": "Get a widget", "tags": ["Widget"],
                "parameters": [{ "name": "id", "in": "path", "required": true, "description": "The widget's ID.", "schema": { "$ref": "#/components/schemas/Id" } }],
                "responses": ok("Widget") } }),
        );
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("spec.json");
        std::fs::write(&path, serde_json::to_string(&document).expect("json")).expect("written");
        let spec = Spec::load(&path).expect("the changed spec loads");
        let code = generate(&spec).expect("generates").to_string();
        let file = syn::parse2::<syn::File>(code.parse().expect("tokens")).expect("parses");
        let pretty = prettyplease::unparse(&file);
        // The widget's part of the generated source, from its group to its record impl.
        let mut widget = String::new();
        let mut keep = false;
        for line in pretty.lines() {
            if line.starts_with("impl crate::output::Record for cliniko_types::Widget")
                || line.starts_with("impl crate::output::Page for cliniko_types::WidgetList")
                || line.starts_with("pub fn widget_command")
                || line.starts_with("pub fn list_widgets_command")
                || line.starts_with("pub fn get_widget_command")
            {
                keep = true;
            }
            if keep {
                widget.push_str(line);
                widget.push('\n');
                if line == "}" {
                    keep = false;
                }
            }
        }
        assert!(widget.contains("Command::new(\"widget\")"), "{pretty}");
        assert!(widget.contains("name: \"owner_id\""), "{widget}");
        insta::assert_snapshot!(widget);
    }

    fn serde_yaml_ng_or_json(text: &str) -> Value {
        Spec::from_yaml_str(text, "spec")
            .expect("the spec parses")
            .raw()
            .clone()
    }
}
