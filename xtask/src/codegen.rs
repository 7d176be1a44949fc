//! `cargo xtask codegen`: the spec in, the schema types and the client out.
//!
//! One code path serves both modes: everything is generated in memory first, then either written
//! (each file atomically, and only after every file generated) or compared with the checked-in files.

mod cli;
mod code_enums;
mod facts;
mod filters;
mod one_error;
mod optional_arrays;
mod patch_fields;
mod resources;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cliniko_spec::Spec;
use proc_macro2::TokenStream;
use progenitor_impl::{GenerationSettings, Generator, InterfaceStyle, TagStyle, TypeImpl};

pub use crate::SPEC_PATH;
/// The generated schema types.
pub const TYPES_PATH: &str = "crates/cliniko-types/src/generated_types.rs";
/// The generated client.
pub const CLIENT_PATH: &str = "crates/cliniko-client/src/generated_sdk.rs";
/// The generated Cliniko facts.
pub const FACTS_PATH: &str = "crates/cliniko-types/src/generated_facts.rs";

/// Schemas that hand-written code in `cliniko-types` provides instead of typify.
const HAND_WRITTEN: &[(&str, &[TypeImpl])] = &[("Id", &[TypeImpl::FromStr, TypeImpl::Display])];

/// Write the files, or only compare them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Write what changed.
    Write,
    /// Write nothing; fail when a file differs.
    Check,
}

/// One generated file.
#[derive(Debug)]
pub struct GeneratedFile {
    /// Relative to the workspace root.
    pub path: &'static str,
    /// The whole file.
    pub contents: String,
}

/// How long each step took, for `--timings`.
#[derive(Debug, Default)]
struct Timings {
    steps: Vec<(&'static str, Duration)>,
}

impl Timings {
    fn time<T>(&mut self, step: &'static str, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = work();
        self.steps.push((step, start.elapsed()));
        out
    }
}

/// Generates (or, with [`Mode::Check`], checks) every file. A difference from Cliniko's documents
/// without a reason is a warning, listed in `spec/DIFFERENCES.md` as "no reason given yet";
/// with `strict` (as CI runs it) it fails, once the files are written or checked.
pub fn run(root: &Path, mode: Mode, print_timings: bool, strict: bool) -> anyhow::Result<()> {
    let mut timings = Timings::default();
    let total = Instant::now();
    let spec_path = root.join(SPEC_PATH);
    let spec = timings.time("parse", || Spec::load(&spec_path))?;
    timings.time("check", || spec.check())?;
    let mut files = generate(&spec, &mut timings)?;
    let differences = crate::spec_diff::differences_file(root, &spec)?;
    for warning in &differences.warnings {
        eprintln!("warning: {warning}");
    }
    files.push(GeneratedFile {
        path: differences.path,
        contents: differences.contents,
    });
    if mode == Mode::Write {
        crate::spec_diff::print_summary_against_head(root, &spec);
    }
    let outcome = timings.time("compare", || match mode {
        Mode::Write => write(root, &files),
        Mode::Check => check(root, &files),
    });
    if print_timings {
        for (step, took) in &timings.steps {
            eprintln!("{step:>9}: {:>8.1} ms", took.as_secs_f64() * 1e3);
        }
        eprintln!(
            "{:>9}: {:>8.1} ms",
            "total",
            total.elapsed().as_secs_f64() * 1e3
        );
    }
    outcome?;
    if strict && !differences.warnings.is_empty() {
        bail!(
            "{} documentation warning{} about {} (--strict): give each difference a reason in {}",
            differences.warnings.len(),
            if differences.warnings.len() == 1 {
                ""
            } else {
                "s"
            },
            crate::spec_diff::DIFFERENCES_PATH,
            crate::spec_diff::REASONS_PATH,
        );
    }
    Ok(())
}

/// Generates every file from a checked spec, in memory.
fn generate(spec: &Spec, timings: &mut Timings) -> anyhow::Result<Vec<GeneratedFile>> {
    let (types, client, facts) = timings.time("generate", || -> anyhow::Result<_> {
        let code_enums = code_enums::generate(spec.raw())?;
        let enum_names: Vec<String> = code_enums.iter().map(|e| e.name.clone()).collect();
        let enum_tokens: Vec<TokenStream> = code_enums.into_iter().map(|e| e.tokens).collect();
        let types = types_tokens(spec, &enum_names)?;
        let client = client_tokens(spec)?;
        let facts = facts::generate(spec)?;
        Ok((quote::quote! { #types #(#enum_tokens)* }, client, facts))
    })?;
    // The facts name each operation as progenitor does; a mismatch would break the client's
    // lookups silently, so it stops generation.
    let client_text = client.to_string();
    let operation_ids: Vec<String> = spec
        .facts()
        .map(|facts| facts.operations.into_iter().map(|o| o.id).collect())
        .unwrap_or_default();
    for operation in operation_ids {
        let rust_name = facts::rust_name(&operation);
        if !client_text.contains(&format!("\"{rust_name}\"")) {
            bail!(
                "progenitor does not name operation `{operation}` `{rust_name}`; fix facts::rust_name"
            );
        }
    }
    let mut files = timings.time("format", || -> anyhow::Result<_> {
        Ok(vec![
            GeneratedFile {
                path: TYPES_PATH,
                contents: format_file(types, "types").context("formatting the schema types")?,
            },
            GeneratedFile {
                path: CLIENT_PATH,
                contents: format_file(client, "client").context("formatting the client")?,
            },
            GeneratedFile {
                path: FACTS_PATH,
                contents: format_file(facts, "facts").context("formatting the facts")?,
            },
        ])
    })?;
    let filters = timings.time("filters", || filters::generate(spec, &files[1].contents))?;
    files.push(GeneratedFile {
        path: filters::FILTERS_PATH,
        contents: format_file(filters, "filters").context("formatting the filters")?,
    });
    let resources = timings.time("resources", || resources::generate(spec))?;
    files.push(GeneratedFile {
        path: resources::RESOURCES_PATH,
        contents: format_file(resources, "resources").context("formatting the resources")?,
    });
    let cli = timings.time("cli", || cli::generate(spec))?;
    files.push(GeneratedFile {
        path: cli::CLI_PATH,
        contents: format_file(cli, "command tree").context("formatting the command tree")?,
    });
    Ok(files)
}

fn settings() -> GenerationSettings {
    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_derive("PartialEq")
        .with_map_type("::std::collections::BTreeMap");
    settings
}

/// The schema types: every component schema, through typify, in a crate without reqwest.
fn types_tokens(spec: &Spec, code_enums: &[String]) -> anyhow::Result<TokenStream> {
    let mut settings = settings();
    settings.with_derive("schemars::JsonSchema");
    for (name, impls) in HAND_WRITTEN {
        settings.with_replacement(name, format!("crate::{name}"), impls.iter().cloned());
    }
    for name in code_enums {
        settings.with_replacement(
            name,
            format!("crate::{name}"),
            [TypeImpl::Display].into_iter(),
        );
    }
    // Only the components: the types crate must not hold the client's per-operation types.
    let mut document = progenitor_document(spec)?;
    document.paths.paths.clear();
    let mut generator = Generator::new(&settings);
    run_progenitor(|| generator.generate_tokens(&document))?;
    let types = patch_fields::rewrite(
        generator.get_type_space().to_stream(),
        &patch_fields::targets(spec.raw()),
    )?;
    optional_arrays::rewrite(types)
}

/// The client: progenitor's builder interface over the types of `cliniko-types`.
fn client_tokens(spec: &Spec) -> anyhow::Result<TokenStream> {
    let mut settings = settings();
    let schemas = spec
        .document()
        .components
        .as_ref()
        .map(|c| c.schemas.keys().cloned().collect::<BTreeSet<_>>())
        .unwrap_or_default();
    for name in &schemas {
        settings.with_replacement(name, format!("::cliniko_types::{name}"), [].into_iter());
    }
    // The hand-written layer in `cliniko-client` carries its retry, rate-limit and error policy in
    // the client's inner value and implements `ClientHooks` for it; `Expected` turns a missing
    // implementation into one clear compile error instead of a silent fallback to plain requests.
    settings
        .with_inner_type(quote::quote! { crate::RequestPolicy })
        .with_hooks(progenitor_impl::HooksMode::Expected);
    let mut document = progenitor_document(spec)?;
    strip_user_agent(&mut document);
    let mut generator = Generator::new(&settings);
    let client = run_progenitor(|| generator.generate_tokens(&document))?;
    one_error::rewrite(client)
}

/// The spec as progenitor reads it best. The spec makes a reference nullable with
/// `oneOf: [{$ref: X}, {type: T, nullable: true, enum: [null]}]`, which every OpenAPI 3.0 tool reads
/// alike; typify recognises a null branch only when it has no `type`, so for it the idiom becomes
/// the equivalent `{nullable: true, allOf: [{$ref: X}]}`, which it turns into `Option<X>`.
fn progenitor_document(spec: &Spec) -> anyhow::Result<openapiv3::OpenAPI> {
    fn fold(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(object) => {
                if let Some(folded) = cliniko_spec::fold_nullable_one_of(object) {
                    *object = folded;
                }
                object.values_mut().for_each(fold);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(fold),
            _ => {}
        }
    }
    let mut raw = spec.raw().clone();
    fold(&mut raw);
    serde_json::from_value(raw)
        .context("the spec, its nullable references folded, is not OpenAPI 3.0")
}

/// The spec documents `User-Agent` as a required header of every operation, which is right for
/// the conformance checks; in the client it is set once at construction, so the generated
/// builders should not ask for it on every call.
fn strip_user_agent(document: &mut openapiv3::OpenAPI) {
    let is_user_agent = |parameter: &openapiv3::ReferenceOr<openapiv3::Parameter>| match parameter {
        openapiv3::ReferenceOr::Reference { reference } => {
            reference == "#/components/parameters/UserAgent"
        }
        openapiv3::ReferenceOr::Item(item) => {
            let data = item.parameter_data_ref();
            matches!(item, openapiv3::Parameter::Header { .. })
                && data.name.eq_ignore_ascii_case("user-agent")
        }
    };
    for item in document.paths.paths.values_mut() {
        if let openapiv3::ReferenceOr::Item(item) = item {
            item.parameters.retain(|p| !is_user_agent(p));
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                operation.parameters.retain(|p| !is_user_agent(p));
            }
        }
    }
}

/// progenitor reports some unsupported constructs by panicking; turn those into errors.
fn run_progenitor<T>(work: impl FnOnce() -> progenitor_impl::Result<T>) -> anyhow::Result<T> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    std::panic::set_hook(previous);
    match outcome {
        Ok(result) => {
            result.map_err(|error| anyhow::anyhow!("progenitor refused the spec: {error}"))
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            bail!("progenitor failed on the spec: {message}")
        }
    }
}

fn format_file(tokens: TokenStream, what: &str) -> anyhow::Result<String> {
    let file: syn::File = syn::parse2(tokens)
        .with_context(|| format!("the generated {what} do not parse as Rust"))?;
    let body = prettyplease::unparse(&file);
    Ok(format!(
        "// @generated by `cargo xtask codegen` from {SPEC_PATH}. Do not edit by hand: change the\n\
         // spec and run `cargo xtask codegen` again.\n\n{body}"
    ))
}

/// Writes `text` to `path` through a temporary file in the same folder, renamed over it, so that
/// a reader sees the old file or the new one, never half of one.
pub fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temporary = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    std::io::Write::write_all(&mut temporary, text.as_bytes())
        .with_context(|| format!("cannot write {}", temporary.path().display()))?;
    temporary
        .persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// Writes each file whose contents changed, atomically (a temporary file renamed into place).
fn write(root: &Path, files: &[GeneratedFile]) -> anyhow::Result<()> {
    for file in files {
        let path = root.join(file.path);
        if std::fs::read_to_string(&path).is_ok_and(|old| old == file.contents) {
            continue;
        }
        write_atomically(&path, &file.contents)?;
        eprintln!("wrote {}", file.path);
    }
    Ok(())
}

/// Compares each file with the checked-in one and fails with a unified diff on drift.
pub fn check(root: &Path, files: &[GeneratedFile]) -> anyhow::Result<()> {
    let mut report = String::new();
    for file in files {
        let path: PathBuf = root.join(file.path);
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        if old == file.contents {
            continue;
        }
        let diff = similar::TextDiff::from_lines(&old, &file.contents);
        let unified = diff
            .unified_diff()
            .context_radius(3)
            .header(&format!("a/{}", file.path), &format!("b/{}", file.path))
            .to_string();
        let _ = writeln!(report, "{unified}");
    }
    if report.is_empty() {
        return Ok(());
    }
    eprint!("{report}");
    bail!(
        "the generated code is stale against {SPEC_PATH} (diff above); run `cargo xtask codegen` and commit the result"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_code_is_fresh() {
        let root = crate::workspace_root();
        let spec = Spec::load(&root.join(SPEC_PATH)).expect("the spec loads");
        spec.check().expect("the spec passes its checks");
        let files = generate(&spec, &mut Timings::default()).expect("generation succeeds");
        if let Err(error) = check(&root, &files) {
            panic!("{error:#}");
        }
    }

    #[test]
    fn generation_is_deterministic() {
        let spec = Spec::embedded().expect("the spec loads");
        let first = generate(&spec, &mut Timings::default()).expect("generation succeeds");
        let second = generate(&spec, &mut Timings::default()).expect("generation succeeds");
        assert_eq!(
            first.len(),
            second.len(),
            "two runs generate different numbers of files"
        );
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(
                a.contents, b.contents,
                "{} differs between two runs",
                a.path
            );
        }
    }

    #[test]
    fn check_reports_drift_and_writes_nothing() {
        let root = tempfile::tempdir().expect("a temporary folder");
        let files = vec![GeneratedFile {
            path: "generated.rs",
            contents: "fn new() {}\n".to_owned(),
        }];
        std::fs::write(root.path().join("generated.rs"), "fn old() {}\n").expect("write");
        let error = check(root.path(), &files).expect_err("drift is an error");
        assert!(format!("{error:#}").contains("run `cargo xtask codegen`"));
        let on_disk = std::fs::read_to_string(root.path().join("generated.rs")).expect("read");
        assert_eq!(on_disk, "fn old() {}\n");
    }

    #[test]
    fn write_replaces_files_whole() {
        let root = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(root.path().join("generated.rs"), "fn old() {}\n").expect("write");
        let files = vec![GeneratedFile {
            path: "generated.rs",
            contents: "fn new() {}\n".to_owned(),
        }];
        write(root.path(), &files).expect("written");
        check(root.path(), &files).expect("now fresh");
        let leftovers = std::fs::read_dir(root.path()).expect("list").count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    /// The workspace's spec with the made-up `widget` resource of
    /// `xtask/fixtures/widget-resource.yaml` merged in.
    fn spec_with_widgets() -> Spec {
        spec_with_edited_widgets(|_| {})
    }

    /// [`spec_with_widgets`], with `edit` applied to the fixture first.
    fn spec_with_edited_widgets(edit: impl FnOnce(&mut serde_json::Value)) -> Spec {
        let root = crate::workspace_root();
        let read = |path: &str| -> serde_json::Value {
            let text = std::fs::read_to_string(root.join(path)).expect("readable");
            serde_yaml_ng::from_str(&text).expect("YAML")
        };
        let mut spec = read(SPEC_PATH);
        let mut fixture = read("xtask/fixtures/widget-resource.yaml");
        edit(&mut fixture);
        for (key, value) in fixture.as_object().expect("a map") {
            match (spec.get_mut(key.as_str()), value) {
                (Some(serde_json::Value::Array(items)), serde_json::Value::Array(more)) => {
                    items.extend(more.iter().cloned())
                }
                (Some(serde_json::Value::Object(map)), serde_json::Value::Object(more)) => {
                    for (name, part) in more {
                        match (map.get_mut(name.as_str()), part) {
                            (
                                Some(serde_json::Value::Object(inner)),
                                serde_json::Value::Object(added),
                            ) => inner.extend(added.clone()),
                            _ => {
                                map.insert(name.clone(), part.clone());
                            }
                        }
                    }
                }
                _ => panic!("the fixture's `{key}` does not merge into the spec"),
            }
        }
        let yaml = serde_yaml_ng::to_string(&spec).expect("YAML");
        let spec = Spec::from_yaml_str(&yaml, "spec-with-widgets.yaml").expect("loads");
        spec.check()
            .expect("the spec with widgets passes its checks");
        spec
    }

    /// The part of `text` from `start` to the first `end` after it (included).
    fn item<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
        let from = text
            .find(start)
            .unwrap_or_else(|| panic!("`{start}` is generated"));
        let rest = &text[from..];
        let to = rest
            .find(end)
            .unwrap_or_else(|| panic!("`{start}` ends with `{end}`"));
        &rest[..to + end.len()]
    }

    /// Adding a resource is a spec edit: a made-up resource merged into a copy of the spec gets
    /// its descriptor, its `ListPage` impl, its types and its facts, with no hand-written code.
    #[test]
    fn a_resource_added_to_the_spec_is_generated() {
        let spec = spec_with_widgets();
        let files = generate(&spec, &mut Timings::default()).expect("generation succeeds");
        let file = |path: &str| -> &str {
            &files
                .iter()
                .find(|f| f.path == path)
                .expect("generated")
                .contents
        };
        let resources = file(resources::RESOURCES_PATH);
        let types = file(TYPES_PATH);
        let facts = file(FACTS_PATH);
        let filters = file(filters::FILTERS_PATH);
        let widget = format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            item(
                resources,
                "    Resource {\n        name: \"widget\"",
                "\n    },\n"
            ),
            item(resources, "impl ListPage for crate::WidgetList", "\n}\n"),
            item(types, "pub struct Widget {", "\n}\n"),
            item(types, "pub struct WidgetList {", "\n}\n"),
            item(facts, "pub const LIST_WIDGETS", "};\n"),
            item(facts, "pub const DELETE_WIDGET", "};\n"),
            item(
                filters,
                "/// The routes whose `q[]` is defined at `/components/parameters/WidgetFilter`",
                "impl crate::paginate::ListFilter for Filter<WidgetLists> {"
            ),
            // The widgets' sort fields come last: the rest of the file.
            &filters[filters
                .find("/// A field to sort by, as `sort` at `/components/parameters/WidgetSort`")
                .expect("the widgets' sort fields are generated")..],
        );
        insta::assert_snapshot!("widget_resource", widget);
        assert!(
            resources
                .contains("name: \"owner_email\",\n        placeholders: &[Placeholder::Email],"),
            "the widget's marked property is scrubbed as an email"
        );
        assert!(file(CLIENT_PATH).contains("pub fn list_widgets(&self)"));
    }

    /// A field added to a `q[]` parameter's `x-cliniko-filter-fields` (and so to its pattern)
    /// becomes a method of that route's filter, of its kind; nothing else is written by hand.
    #[test]
    fn a_filter_field_added_to_the_spec_is_a_method() {
        let generated = |spec: &Spec| -> String {
            let files = generate(spec, &mut Timings::default()).expect("generation succeeds");
            files
                .into_iter()
                .find(|f| f.path == filters::FILTERS_PATH)
                .expect("generated")
                .contents
        };
        let method = "pub fn created_at(self) -> Timestamp<WidgetLists>";
        let before = generated(&spec_with_widgets());
        assert!(before.contains("pub fn label(self) -> Text<WidgetLists>"));
        assert!(
            !before.contains(method),
            "the fixture does not filter widgets on created_at yet"
        );
        let after = generated(&spec_with_edited_widgets(|fixture| {
            let parameter = fixture
                .pointer_mut("/components/parameters/WidgetFilter")
                .expect("the fixture's q[] parameter");
            parameter["x-cliniko-filter-fields"]["date-time"] = serde_json::json!(["created_at"]);
            let (fields, problems) = cliniko_spec::facts::filter_fields_from_value(
                &parameter["x-cliniko-filter-fields"],
            );
            assert!(problems.is_empty(), "{problems:?}");
            parameter["schema"]["items"]["pattern"] =
                cliniko_spec::facts::filter_pattern(&fields).into();
        }));
        assert!(after.contains(method), "{after}");
        assert!(after.contains("field: \"created_at\""));
    }

    /// Writes `contents` to `path` unless it already holds them, so that the copy's files keep
    /// their times and cargo rebuilds only what changed.
    fn write_if_changed(path: &std::path::Path, contents: &[u8]) {
        if std::fs::read(path).is_ok_and(|old| old == contents) {
            return;
        }
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("created");
        std::fs::write(path, contents).expect("written");
    }

    /// The code generated for the spec with widgets builds, and the generated CLI lists widgets
    /// from a server. The types, client and CLI crates (their generated files replaced by the
    /// widget spec's, the hand-written ones as they are) are built in a copy of the workspace
    /// under `target/codegen-fixture/workspace`, in its own target folder; files are rewritten only
    /// when they change, so later runs are incremental. The copy builds the CLI without `--fake`
    /// and the client without TLS (the slowest dependencies to build; the server is plain HTTP on
    /// 127.0.0.1). Then `cliniko widget list` runs against a scripted server, which checks the
    /// request it gets, and the test checks the rows printed.
    #[test]
    fn the_cli_generated_for_an_added_resource_lists_it_from_a_server() {
        let root = crate::workspace_root();
        let spec = spec_with_widgets();
        let files = generate(&spec, &mut Timings::default()).expect("generation succeeds");
        let copy = root.join("target/codegen-fixture/workspace");
        let crates = ["cliniko-types", "cliniko-client", "cliniko-cli"];

        let mut manifest: toml_edit::DocumentMut = std::fs::read_to_string(root.join("Cargo.toml"))
            .expect("readable")
            .parse()
            .expect("the workspace manifest parses");
        let workspace = manifest["workspace"]
            .as_table_mut()
            .expect("a [workspace] table");
        workspace.remove("default-members");
        workspace["members"] = toml_edit::value(toml_edit::Array::from_iter(
            crates.iter().map(|name| format!("crates/{name}")),
        ));
        workspace["dependencies"]["cliniko-client"]["default-features"] = toml_edit::value(false);
        write_if_changed(&copy.join("Cargo.toml"), manifest.to_string().as_bytes());
        let lock = std::fs::read(root.join("Cargo.lock")).expect("readable");
        write_if_changed(&copy.join("Cargo.lock"), &lock);
        for name in crates {
            let from = root.join("crates").join(name);
            let to = copy.join("crates").join(name);
            // Build targets only: the copy has no tests, benches or examples to resolve.
            let mut manifest: toml_edit::DocumentMut =
                std::fs::read_to_string(from.join("Cargo.toml"))
                    .expect("readable")
                    .parse()
                    .expect("the crate's manifest parses");
            for table in ["dev-dependencies", "bench", "test", "example"] {
                manifest.remove(table);
            }
            // An optional dependency on a crate the copy leaves out (the CLI's `cliniko-fake`,
            // behind its `fake` feature, which the build below turns off) goes, with its
            // features' `dep:` entries.
            let left_out: Vec<String> = manifest["dependencies"]
                .as_table_like()
                .expect("[dependencies]")
                .iter()
                .filter(|(dependency, spec)| {
                    dependency.starts_with("cliniko-")
                        && !crates.contains(dependency)
                        && spec.get("optional").and_then(|o| o.as_bool()) == Some(true)
                })
                .map(|(dependency, _)| dependency.to_owned())
                .collect();
            for dependency in &left_out {
                manifest["dependencies"]
                    .as_table_like_mut()
                    .expect("[dependencies]")
                    .remove(dependency);
                if let Some(features) = manifest
                    .get_mut("features")
                    .and_then(|f| f.as_table_like_mut())
                {
                    for (_, enables) in features.iter_mut() {
                        if let Some(enables) = enables.as_array_mut() {
                            enables.retain(|e| e.as_str() != Some(&format!("dep:{dependency}")));
                        }
                    }
                }
            }
            write_if_changed(&to.join("Cargo.toml"), manifest.to_string().as_bytes());
            for entry in std::fs::read_dir(from.join("src")).expect("listed") {
                let entry = entry.expect("an entry");
                let relative = format!("crates/{name}/src/{}", entry.file_name().to_string_lossy());
                let contents = match files.iter().find(|file| file.path == relative) {
                    Some(generated) => generated.contents.clone().into_bytes(),
                    None => std::fs::read(entry.path()).expect("readable"),
                };
                write_if_changed(&copy.join(&relative), &contents);
            }
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let target = root.join("target/codegen-fixture");
        let output = std::process::Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--offline",
                "-p",
                "cliniko-cli",
                "--no-default-features",
                "--bin",
                "cliniko",
            ])
            .current_dir(&copy)
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "the generated code does not build:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );

        // A server that answers one page of widgets twice, and says what it was asked.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let base = format!("http://{}/v1", listener.local_addr().expect("an address"));
        let page = serde_json::json!({
            "widgets": [
                {"id": "1407219630128094257", "label": "Blue"},
                {"id": "2", "label": "Blue-green", "owner_email": "someone@example.com"},
            ],
            "total_entries": 3,
            "links": {
                "self": format!("{base}/widgets?page=1"),
                "next": format!("{base}/widgets?page=2"),
            },
        })
        .to_string();
        let served = page.clone();
        let server = std::thread::spawn(move || {
            use std::io::{BufRead as _, Write as _};
            let mut requests = Vec::new();
            for _ in 0..2 {
                let (stream, _) = listener.accept().expect("the CLI connects");
                let mut reader = std::io::BufReader::new(stream);
                let mut request_line = String::new();
                reader.read_line(&mut request_line).expect("a request line");
                let mut line = String::new();
                while reader.read_line(&mut line).expect("a header") > 2 {
                    line.clear();
                }
                let mut stream = reader.into_inner();
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{served}",
                    served.len()
                )
                .expect("answered");
                requests.push(request_line);
            }
            requests
        });
        let list = |output: &str| {
            let output = std::process::Command::new(target.join("debug/cliniko"))
                .args(["--base-url", &base, "--output", output])
                .args(["widget", "list", "--per-page", "2", "--filter", "id:>1"])
                .env("CLINIKO_API_KEY", "MxJrZXkiOiI1Njd1amJmZTQ1NyJ9-au2")
                .env_remove("CLINIKO_USER_AGENT")
                .output()
                .expect("the generated CLI runs");
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(output.status.success(), "{stdout}\n{stderr}");
            (stdout, stderr)
        };
        let (table, footer) = list("table");
        let (json, _) = list("json");
        for request_line in server.join().expect("the server answered") {
            assert!(
                request_line.starts_with("GET /v1/widgets?")
                    && request_line.contains("per_page=2")
                    && request_line.contains("q%5B%5D=id%3A%3E1"),
                "{request_line}"
            );
        }
        // The table: the widget's summary columns (its ID: it has no links, flags or times).
        let rows: Vec<Vec<&str>> = table
            .lines()
            .map(|line| line.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows,
            [vec!["ID"], vec!["1407219630128094257"], vec!["2"]],
            "{table}"
        );
        assert!(
            footer.contains("2 of 3 widgets (more with --page or --all)"),
            "{footer}"
        );
        // JSON: the page as served, every field through the generated `WidgetList` and back.
        let printed: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(
            printed,
            serde_json::from_str::<serde_json::Value>(&page).expect("JSON")
        );
    }
}
