//! `cargo xtask codegen`: the spec in, the schema types and the client out.
//!
//! One code path serves both modes: everything is generated in memory first, then either written
//! (each file atomically, and only after every file generated) or compared with the checked-in files.

mod cli;
mod code_enums;
mod facts;
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

/// Writes each file whose contents changed, atomically (a temporary file renamed into place).
fn write(root: &Path, files: &[GeneratedFile]) -> anyhow::Result<()> {
    for file in files {
        let path = root.join(file.path);
        if std::fs::read_to_string(&path).is_ok_and(|old| old == file.contents) {
            continue;
        }
        let dir = path.parent().context("generated files live in a folder")?;
        let mut temporary = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        std::io::Write::write_all(&mut temporary, file.contents.as_bytes())
            .with_context(|| format!("cannot write {}", temporary.path().display()))?;
        temporary
            .persist(&path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
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
        let root = crate::workspace_root();
        let read = |path: &str| -> serde_json::Value {
            let text = std::fs::read_to_string(root.join(path)).expect("readable");
            serde_yaml_ng::from_str(&text).expect("YAML")
        };
        let mut spec = read(SPEC_PATH);
        let fixture = read("xtask/fixtures/widget-resource.yaml");
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
        let widget = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
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
        );
        insta::assert_snapshot!("widget_resource", widget);
        assert!(
            resources
                .contains("name: \"owner_email\",\n        placeholders: &[Placeholder::Email],"),
            "the widget's marked property is scrubbed as an email"
        );
        assert!(file(CLIENT_PATH).contains("pub fn list_widgets(&self)"));
    }

    /// The code generated for the spec with widgets compiles: the types crate (with the
    /// resources and facts) is checked in a copy of the workspace, in its own target folder under
    /// `target/` so that later runs are incremental.
    #[test]
    fn the_code_generated_for_an_added_resource_compiles() {
        let root = crate::workspace_root();
        let spec = spec_with_widgets();
        let files = generate(&spec, &mut Timings::default()).expect("generation succeeds");
        let copy = tempfile::tempdir().expect("a temporary folder");
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("readable");
        let start = manifest.find("members = [").expect("a members list");
        let end = start + manifest[start..].find("]\n").expect("closed") + 2;
        let end = end
            + manifest[end..]
                .find("\n[workspace.package]")
                .expect("workspace.package");
        let manifest = format!(
            "{}members = [\"crates/cliniko-types\"]\n{}",
            &manifest[..start],
            &manifest[end..]
        );
        std::fs::write(copy.path().join("Cargo.toml"), manifest).expect("written");
        std::fs::copy(root.join("Cargo.lock"), copy.path().join("Cargo.lock")).expect("copied");
        let types = copy.path().join("crates/cliniko-types");
        std::fs::create_dir_all(types.join("src")).expect("created");
        std::fs::copy(
            root.join("crates/cliniko-types/Cargo.toml"),
            types.join("Cargo.toml"),
        )
        .expect("copied");
        for entry in std::fs::read_dir(root.join("crates/cliniko-types/src")).expect("listed") {
            let entry = entry.expect("an entry");
            std::fs::copy(entry.path(), types.join("src").join(entry.file_name())).expect("copied");
        }
        for file in &files {
            if let Some(name) = file.path.strip_prefix("crates/cliniko-types/") {
                std::fs::write(types.join(name), &file.contents).expect("written");
            }
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = std::process::Command::new(cargo)
            .args([
                "check",
                "--quiet",
                "--offline",
                "--lib",
                "-p",
                "cliniko-types",
            ])
            .current_dir(copy.path())
            .env("CARGO_TARGET_DIR", root.join("target/codegen-fixture"))
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "the generated code does not compile:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
