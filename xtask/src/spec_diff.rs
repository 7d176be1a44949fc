//! `cargo xtask spec-diff`: what changed in the spec since a base (a git revision or a file), how
//! much each change matters for code generated from the base, and the version bump the client
//! crate needs.
//!
//! The comparison itself, and the table of rules that decides what breaks, live in
//! [`cliniko_spec::diff`]. This module reads the two documents (refusing, with exit status 2, one
//! whose `$ref`s do not resolve), applies the accepted changes of `spec/spec-diff-ignore.yaml`,
//! prints the report (human, Markdown, JSON, GitHub Actions annotations or JUnit XML), fails on a
//! level (`--fail-on`) or a missing version bump for CI, and generates `spec/DIFFERENCES.md`:
//! every way our spec differs from Cliniko's published documents (`spec/upstream/*.yaml`, read as
//! one), each with the reason from `spec/differences-reasons.yaml`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use cliniko_spec::diff::{Bump, Change, Level, Profile, SpecDiff, Verdict, bump_for};
use cliniko_spec::{LineIndex, Spec};
use serde::Deserialize;
use serde_json::Value;

use crate::SPEC_PATH;

/// The folder of Cliniko's published documents, relative to the workspace root.
pub const UPSTREAM_DIR: &str = "spec/upstream";
/// The generated list of differences from Cliniko's documents.
pub const DIFFERENCES_PATH: &str = "spec/DIFFERENCES.md";
/// Why each difference is there, written by hand.
pub const REASONS_PATH: &str = "spec/differences-reasons.yaml";
/// The changes accepted on purpose, each with its reason; read when it exists.
pub const IGNORE_PATH: &str = "spec/spec-diff-ignore.yaml";
/// The crate whose version follows the spec.
pub const CLIENT_MANIFEST: &str = "crates/cliniko-client/Cargo.toml";

/// Compare the spec with a base and say what breaks for code generated from the base.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The base: a spec file, or a git revision whose spec/cliniko-attendees.yaml is read.
    #[arg(long, default_value = "HEAD", value_name = "GIT_REV_OR_FILE")]
    pub base: String,
    /// The newer spec.
    #[arg(long, default_value = SPEC_PATH, value_name = "FILE")]
    pub spec: PathBuf,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Whose generated code the changes are judged for: `ours` (this client, whose code enums
    /// keep unknown values) or `strict` (any generator: a new response enum value breaks).
    #[arg(long, value_enum, default_value_t = ProfileArg::Ours)]
    pub profile: ProfileArg,
    /// Exit with 1 when a change not accepted in the ignore file is at this level or above.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<LevelArg>,
    /// The same as `--fail-on breaking`.
    #[arg(long)]
    pub fail_on_breaking: bool,
    /// Exit with 1 when a breaking change comes without the bump it needs of the version in this
    /// Cargo.toml, read at the base revision and now (the base must be a git revision).
    #[arg(long, value_name = "CARGO_TOML")]
    pub require_version_bump: Option<PathBuf>,
    /// Changes accepted on purpose, each with a reason [default: spec/spec-diff-ignore.yaml when
    /// it exists].
    #[arg(long, value_name = "FILE")]
    pub ignore: Option<PathBuf>,
}

/// The report's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a terminal.
    Human,
    /// Every change with its location, kind, values, level and verdict.
    Json,
    /// For a pull request or a CI step summary.
    Markdown,
    /// GitHub Actions workflow commands: an annotation per change at its line of the spec.
    Githubactions,
    /// JUnit XML: a test case per change, failed at the `--fail-on` level (breaking by default).
    Junit,
}

/// `--profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileArg {
    /// This workspace's client.
    Ours,
    /// Any generator, closed enums included.
    Strict,
}

impl From<ProfileArg> for Profile {
    fn from(profile: ProfileArg) -> Self {
        match profile {
            ProfileArg::Ours => Profile::Ours,
            ProfileArg::Strict => Profile::Strict,
        }
    }
}

/// `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LevelArg {
    /// Breaks code generated from the base.
    Breaking,
    /// Breaks some generated code, or was not judged.
    Warning,
    /// Any change.
    Info,
}

impl From<LevelArg> for Level {
    fn from(level: LevelArg) -> Self {
        match level {
            LevelArg::Breaking => Level::Breaking,
            LevelArg::Warning => Level::Warning,
            LevelArg::Info => Level::Info,
        }
    }
}

/// A document (or a version) that cannot be read; `cargo xtask` exits with 2 for it.
#[derive(Debug)]
pub struct Unreadable(pub String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreadable {}

/// Reads a spec and checks its `$ref`s: one that resolves nowhere, or leads back to itself, makes
/// the document unreadable (its file, line and JSON pointer named).
fn load(path: &Path, what: &str) -> anyhow::Result<Spec> {
    let spec =
        Spec::load(path).map_err(|error| Unreadable(format!("cannot use {what}: {error}")))?;
    spec.check_references()
        .map_err(|error| Unreadable(format!("cannot use {what}: {error}")))?;
    Ok(spec)
}

/// Runs `cargo xtask spec-diff`: prints the report and says how to exit.
pub fn run(root: &Path, args: &Args) -> anyhow::Result<ExitCode> {
    let head_path = locate(root, &args.spec);
    let head = load(&head_path, "the spec")?;
    let (base, base_label) = read_base(root, &args.base)?;
    let diff = cliniko_spec::diff::diff(&base, &head);
    let ignore = match &args.ignore {
        Some(path) => Some(IgnoreFile::load(
            &locate(root, path),
            &path.display().to_string(),
        )?),
        None if root.join(IGNORE_PATH).is_file() => {
            Some(IgnoreFile::load(&root.join(IGNORE_PATH), IGNORE_PATH)?)
        }
        None => None,
    };
    let (accepted, unmatched) = match &ignore {
        Some(file) => file.apply(&diff)?,
        None => (vec![None; diff.changes().len()], Vec::new()),
    };
    let manifest = args
        .require_version_bump
        .clone()
        .unwrap_or_else(|| PathBuf::from(CLIENT_MANIFEST));
    let version = version_now(root, &manifest).ok();
    let profile = Profile::from(args.profile);
    let fail_on = args
        .fail_on
        .map(Level::from)
        .or(args.fail_on_breaking.then_some(Level::Breaking));
    let head_label = args.spec.display().to_string();
    let report = Report {
        base: &base_label,
        head: &head_label,
        lines: Some(&head),
        diff: &diff,
        accepted: &accepted,
        profile,
        fail_on,
        version: version.as_ref(),
    };
    let text = match args.format {
        Format::Human => report.human(),
        Format::Markdown => report.markdown(),
        Format::Json => report.json()?,
        Format::Githubactions => report.github(),
        Format::Junit => report.junit(),
    };
    // A reader that stops early (`| head`) is no error of ours.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(error).context("cannot print the report");
        }
        _ => {}
    }
    for entry in &unmatched {
        eprintln!("warning: {entry} matches no change: remove it, or fix its `kind` or `where`");
    }
    let counted = report.counted();
    let mut failed = false;
    if let Some(level) = fail_on {
        let count = counted
            .changes()
            .iter()
            .filter(|c| c.level(profile) >= level)
            .count();
        if count > 0 {
            eprintln!(
                "error: {count} change{} at level {level} or above since {base_label}",
                plural(count)
            );
            failed = true;
        }
    }
    if let Some(manifest) = &args.require_version_bump
        && let Some(problem) = missing_bump(root, &args.base, manifest, &counted, profile)?
    {
        eprintln!("error: {problem}");
        failed = true;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The exit status for an error: 2 when a document could not be read, else 1.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.chain().any(|cause| cause.is::<Unreadable>()) {
        2
    } else {
        1
    }
}

/// Prints what changed in the spec since `HEAD`, for `cargo xtask codegen`; says so and goes on
/// when `HEAD` has no spec (outside a git checkout, say).
pub fn print_summary_against_head(root: &Path, spec: &Spec) {
    match read_base(root, "HEAD") {
        Ok((base, label)) => {
            let diff = cliniko_spec::diff::diff(&base, spec);
            let version = version_now(root, Path::new(CLIENT_MANIFEST)).ok();
            let accepted = vec![None; diff.changes().len()];
            let report = Report {
                base: &label,
                head: SPEC_PATH,
                lines: Some(spec),
                diff: &diff,
                accepted: &accepted,
                profile: Profile::Ours,
                fail_on: None,
                version: version.as_ref(),
            };
            eprint!("{}", report.human());
        }
        Err(error) => eprintln!("spec-diff: no summary of changes: {error:#}"),
    }
}

/// `spec/DIFFERENCES.md`, generated, with the warnings about it.
#[derive(Debug)]
pub struct DifferencesFile {
    /// Where it goes.
    pub path: &'static str,
    /// The Markdown.
    pub contents: String,
    /// Each difference without a reason, and each reason that matches nothing: documentation
    /// debts that `cargo xtask codegen --strict` (run by CI) refuses.
    pub warnings: Vec<String>,
}

/// `spec/DIFFERENCES.md`: every difference from Cliniko's published documents (all of
/// `spec/upstream/*.yaml`, read as one), with its reason, or "no reason given yet" and a warning.
/// Fails when Cliniko's documents cannot be read.
pub fn differences_file(root: &Path, spec: &Spec) -> anyhow::Result<DifferencesFile> {
    let (official, names) = upstream(root)?;
    let reasons = read_reasons(root)?;
    let diff = cliniko_spec::diff::diff(&official, spec);
    let (contents, warnings) = differences(&diff, &reasons, &names)?;
    Ok(DifferencesFile {
        path: DIFFERENCES_PATH,
        contents,
        warnings,
    })
}

/// The differences from Cliniko's published documents that no reason in
/// `spec/differences-reasons.yaml` explains (those `spec/DIFFERENCES.md` lists as "no reason given
/// yet").
pub fn unexplained_differences(root: &Path, spec: &Spec) -> anyhow::Result<Vec<Change>> {
    let (official, _) = upstream(root)?;
    let reasons = read_reasons(root)?;
    let selectors = compiled_selectors(&reasons)?;
    let diff = cliniko_spec::diff::diff(&official, spec);
    Ok(diff
        .changes()
        .iter()
        .filter(|change| matching_selector(&selectors, change).is_none())
        .cloned()
        .collect())
}

fn read_reasons(root: &Path) -> anyhow::Result<Reasons> {
    let text = std::fs::read_to_string(root.join(REASONS_PATH))
        .with_context(|| format!("cannot read {REASONS_PATH}"))?;
    serde_yaml_ng::from_str(&text).map_err(|error| anyhow::anyhow!("{REASONS_PATH}: {error}"))
}

/// Cliniko's published documents, `spec/upstream/*.yaml` in name order, read as one: the union of
/// their paths and components. Two documents that define the same operation or component
/// differently are an error.
fn upstream(root: &Path) -> anyhow::Result<(Spec, Vec<String>)> {
    let folder = root.join(UPSTREAM_DIR);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map_err(|error| Unreadable(format!("cannot read {UPSTREAM_DIR}: {error}")))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut names = Vec::new();
    let mut merged: Option<(Value, Vec<(String, String)>)> = None;
    for file in &files {
        let name = format!(
            "{UPSTREAM_DIR}/{}",
            file.file_name().unwrap_or_default().to_string_lossy()
        );
        let spec = load(file, &format!("Cliniko's document {name}"))?;
        names.push(name.clone());
        match &mut merged {
            None => {
                let owners = owned(spec.raw(), &name);
                merged = Some((spec.raw().clone(), owners));
            }
            Some((union, owners)) => unite(union, owners, spec.raw(), &name)?,
        }
    }
    let Some((union, _)) = merged else {
        return Err(Unreadable(format!(
            "no Cliniko document (*.yaml) in {UPSTREAM_DIR} to compare the spec with"
        ))
        .into());
    };
    let label = names.join(" + ");
    let text = serde_json::to_string(&union).context("cannot write Cliniko's documents as one")?;
    let spec = Spec::from_yaml_str(&text, &label)
        .map_err(|error| Unreadable(format!("cannot read Cliniko's documents as one: {error}")))?;
    Ok((spec, names))
}

/// The JSON pointers of what a document defines (each operation and component), with its file.
fn owned(document: &Value, file: &str) -> Vec<(String, String)> {
    definitions(document)
        .into_iter()
        .map(|(at, _)| (at, file.to_owned()))
        .collect()
}

/// Each operation (`/paths/P/METHOD`) and component (`/components/SECTION/NAME`) of a document.
fn definitions(document: &Value) -> Vec<(String, &Value)> {
    use cliniko_spec::pointer::push;
    let mut out = Vec::new();
    for (path, item) in document
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for (method, operation) in item.as_object().into_iter().flatten() {
            out.push((push(&push("/paths", path), method), operation));
        }
    }
    for (section, entries) in document
        .get("components")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for (name, entry) in entries.as_object().into_iter().flatten() {
            out.push((push(&push("/components", section), name), entry));
        }
    }
    out
}

/// Adds `document`'s operations and components to `union`.
fn unite(
    union: &mut Value,
    owners: &mut Vec<(String, String)>,
    document: &Value,
    file: &str,
) -> anyhow::Result<()> {
    for (at, value) in definitions(document) {
        match union.pointer(&at) {
            Some(existing) if existing == value => {}
            Some(_) => {
                let first = owners
                    .iter()
                    .find(|(a, _)| *a == at)
                    .map_or("another document", |(_, f)| f.as_str());
                bail!(Unreadable(format!(
                    "Cliniko's documents {first} and {file} define {at} differently; cannot read them as one"
                )));
            }
            None => {
                let tokens: Vec<String> = at
                    .split('/')
                    .skip(1)
                    .map(|t| t.replace("~1", "/").replace("~0", "~"))
                    .collect();
                let mut node = &mut *union;
                for token in &tokens[..tokens.len() - 1] {
                    let Some(object) = node.as_object_mut() else {
                        bail!("{file}: {at} sits where the union has no object");
                    };
                    node = object
                        .entry(token.clone())
                        .or_insert_with(|| Value::Object(Default::default()));
                }
                if let (Some(object), Some(last)) = (node.as_object_mut(), tokens.last()) {
                    object.insert(last.clone(), value.clone());
                }
                owners.push((at, file.to_owned()));
            }
        }
    }
    Ok(())
}

/// Where a path given on the command line is: as given when it exists from the current
/// directory, else from the workspace root.
fn locate(root: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() || path.exists() {
        path.to_path_buf()
    } else {
        root.join(path)
    }
}

/// Reads the base: the file it names, or the spec at the git revision it names.
fn read_base(root: &Path, base: &str) -> anyhow::Result<(Spec, String)> {
    let as_file = locate(root, Path::new(base));
    if as_file.is_file() {
        let spec = load(&as_file, "the base")?;
        return Ok((spec, base.to_owned()));
    }
    let label = format!("{base}:{SPEC_PATH}");
    let text = git_show(root, base, SPEC_PATH).map_err(|why| {
        Unreadable(format!(
            "cannot read the base {label}: {why} (name an existing file or a git revision)"
        ))
    })?;
    let spec = Spec::from_yaml_str(&text, &label)
        .map_err(|error| Unreadable(format!("cannot use the base: {error}")))?;
    spec.check_references()
        .map_err(|error| Unreadable(format!("cannot use the base: {error}")))?;
    Ok((spec, label))
}

/// The text of `path` at git revision `rev`, or what git said.
fn git_show(root: &Path, rev: &str, path: &str) -> Result<String, String> {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["show", &format!("{rev}:{path}")])
        .output()
        .map_err(|error| format!("cannot run git: {error}"))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let said = said.lines().next().unwrap_or("").trim();
        return Err(format!("git says: {said}"));
    }
    String::from_utf8(output.stdout).map_err(|_| "the file is not UTF-8".to_owned())
}

/// The package version in a Cargo.toml's text; `version.workspace = true` reads the workspace's.
fn version_in(
    text: &str,
    label: &str,
    workspace: impl Fn() -> anyhow::Result<String>,
) -> anyhow::Result<semver::Version> {
    let document: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{label} is not valid TOML"))?;
    let version = document
        .get("package")
        .and_then(|package| package.get("version"))
        .with_context(|| format!("{label} has no [package] version"))?;
    let text = if version.get("workspace").and_then(|w| w.as_bool()) == Some(true) {
        let root: toml_edit::DocumentMut = workspace()?
            .parse()
            .with_context(|| format!("the workspace Cargo.toml of {label} is not valid TOML"))?;
        root.get("workspace")
            .and_then(|w| w.get("package"))
            .and_then(|p| p.get("version"))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .with_context(|| {
                format!("{label} takes its version from the workspace, which has none")
            })?
    } else {
        version
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("{label}: [package] version is not a string"))?
    };
    semver::Version::parse(&text).with_context(|| format!("{label}: version {text} is not semver"))
}

pub fn version_now(root: &Path, manifest: &Path) -> anyhow::Result<semver::Version> {
    let path = locate(root, manifest);
    let text = std::fs::read_to_string(&path)
        .map_err(|error| Unreadable(format!("cannot read {}: {error}", path.display())))?;
    version_in(&text, &manifest.display().to_string(), || {
        std::fs::read_to_string(root.join("Cargo.toml")).context("cannot read Cargo.toml")
    })
}

fn version_at(root: &Path, rev: &str, manifest: &Path) -> anyhow::Result<semver::Version> {
    let relative = manifest.strip_prefix(root).unwrap_or(manifest);
    let relative = relative.to_string_lossy().replace('\\', "/");
    let label = format!("{rev}:{relative}");
    let text = git_show(root, rev, &relative).map_err(|why| {
        Unreadable(format!(
            "cannot read {label} for --require-version-bump: {why} (the base must be a git revision)"
        ))
    })?;
    version_in(&text, &label, || {
        git_show(root, rev, "Cargo.toml").map_err(|why| {
            anyhow::anyhow!(Unreadable(format!("cannot read {rev}:Cargo.toml: {why}")))
        })
    })
}

/// What is wrong with the client crate's version, when a breaking change needs a bump it lacks.
fn missing_bump(
    root: &Path,
    base: &str,
    manifest: &Path,
    diff: &SpecDiff,
    profile: Profile,
) -> anyhow::Result<Option<String>> {
    let before = version_at(root, base, manifest)?;
    let now = version_now(root, manifest)?;
    let breaking = diff.count(Level::Breaking, profile);
    Ok(bump_problem(&before, &now, diff, profile).map(|needed| {
        format!(
            "{} breaking change{} since {base} need a {needed} bump of {}: the version was {before} at {base} and is {now} now; make it at least {}{}",
            breaking,
            plural(breaking),
            manifest.display(),
            next_version(&before, needed),
            pre_1_0_note(&before),
        )
    }))
}

/// The bump that breaking changes need and the versions lack, if any.
fn bump_problem(
    before: &semver::Version,
    now: &semver::Version,
    diff: &SpecDiff,
    profile: Profile,
) -> Option<Bump> {
    if diff.count(Level::Breaking, profile) == 0 {
        return None;
    }
    let needed = bump_for(diff.changes(), profile, before.major);
    (bump_between(before, now) < needed).then_some(needed)
}

fn bump_between(before: &semver::Version, now: &semver::Version) -> Bump {
    if now.major > before.major {
        Bump::Major
    } else if now.major == before.major && now.minor > before.minor {
        Bump::Minor
    } else if now.major == before.major && now.minor == before.minor && now.patch > before.patch {
        Bump::Patch
    } else {
        Bump::None
    }
}

pub fn next_version(version: &semver::Version, bump: Bump) -> semver::Version {
    let (major, minor, patch) = (version.major, version.minor, version.patch);
    match bump {
        Bump::None => version.clone(),
        Bump::Patch => semver::Version::new(major, minor, patch + 1),
        Bump::Minor => semver::Version::new(major, minor + 1, 0),
        Bump::Major => semver::Version::new(major + 1, 0, 0),
    }
}

fn pre_1_0_note(version: &semver::Version) -> &'static str {
    if version.major == 0 {
        " (before 1.0 a breaking change bumps 0.x to 0.(x+1), as Cargo reads 0.x versions)"
    } else {
        ""
    }
}

/// `""` for one, `"s"` for any other count.
pub fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// A diff with what it was taken between, and how it is judged.
struct Report<'a> {
    base: &'a str,
    head: &'a str,
    /// The newer spec, for the line of each change.
    lines: Option<&'a Spec>,
    diff: &'a SpecDiff,
    /// For each change, the reason it was accepted (from the ignore file), if it was.
    accepted: &'a [Option<String>],
    profile: Profile,
    fail_on: Option<Level>,
    version: Option<&'a semver::Version>,
}

impl Report<'_> {
    /// The changes not accepted in the ignore file: those that `--fail-on` and the version bump
    /// count.
    fn counted(&self) -> SpecDiff {
        let mut index = 0;
        self.diff.filtered(|_| {
            let keep = self.accepted.get(index).is_none_or(Option::is_none);
            index += 1;
            keep
        })
    }

    fn reason(&self, index: usize) -> Option<&str> {
        self.accepted.get(index).and_then(Option::as_deref)
    }

    fn line(&self, change: &Change) -> Option<usize> {
        self.lines?.line_of(change.pointer.trim_start_matches('#'))
    }

    fn bump(&self, major: u64) -> Bump {
        let counted = self.counted();
        match bump_for(counted.changes(), self.profile, major) {
            // Accepted changes are still changes.
            Bump::None if !self.diff.changes().is_empty() => {
                if major == 0 {
                    Bump::Patch
                } else {
                    Bump::Minor
                }
            }
            bump => bump,
        }
    }

    fn headline(&self) -> String {
        let diff = self.diff;
        let count = diff.changes().len();
        if count == 0 {
            return "no changes: no version bump needed".to_owned();
        }
        let counted = self.counted();
        let levels = |level| counted.count(level, self.profile);
        let breaking = levels(Level::Breaking);
        let mut line = format!(
            "{count} change{}, {breaking} breaking for code generated from the base",
            plural(count),
        );
        let warnings = levels(Level::Warning);
        if warnings > 0 {
            let _ = write!(line, ", {warnings} warning{}", plural(warnings));
        }
        let accepted = self.accepted.iter().filter(|a| a.is_some()).count();
        if accepted > 0 {
            let _ = write!(line, ", {accepted} accepted");
        }
        if self.profile == Profile::Strict {
            line.push_str(" (strict: judged for any generator)");
        }
        match self.version {
            Some(version) => {
                let bump = self.bump(version.major);
                let _ = write!(
                    line,
                    "; the client crate ({version}) needs a {bump} bump, to {}",
                    next_version(version, bump)
                );
                if breaking > 0 {
                    line.push_str(pre_1_0_note(version));
                }
            }
            None => {
                let _ = write!(
                    line,
                    "; the client crate needs a {} bump from 1.0 on, a {} bump before",
                    self.bump(1),
                    self.bump(0)
                );
            }
        }
        line
    }

    fn human(&self) -> String {
        let mut out = format!(
            "spec-diff: {} → {}\n{}\n",
            self.base,
            self.head,
            self.headline()
        );
        for (index, change) in self.diff.changes().iter().enumerate() {
            let level = change.level(self.profile);
            let _ = writeln!(
                out,
                "\n{level:<9}{:<30}{}",
                change.kind.to_string(),
                change.place()
            );
            let _ = writeln!(out, "{:9}{}", "", change.summary());
            let at = match self.line(change) {
                Some(line) => format!("{} (line {line})", change.pointer),
                None => change.pointer.clone(),
            };
            let _ = writeln!(out, "{:9}at:      {at}", "");
            if !change.operations.is_empty() {
                let _ = writeln!(out, "{:9}reached: {}", "", change.operations.join(", "));
            }
            for (index, location) in places(change).iter().enumerate() {
                let label = if index == 0 { "in:" } else { "" };
                let _ = writeln!(out, "{:9}{label:<9}{location}", "");
            }
            if let Some(reason) = self.reason(index) {
                let _ = writeln!(out, "{:9}accepted: {reason}", "");
            }
        }
        if self
            .diff
            .changes()
            .iter()
            .any(|c| c.verdict == Verdict::BreakingWithoutCatchAll)
        {
            out.push_str(match self.profile {
                Profile::Ours => "\nA new response enum value is a warning: this client's code enums keep unknown values in\n`Unknown`, but it breaks generators without a catch-all variant (`--profile strict`).\n",
                Profile::Strict => "\nA new response enum value breaks generators without a catch-all variant; this client's code\nenums keep it in `Unknown` (`--profile ours`).\n",
            });
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!(
            "### Spec changes: `{}` → `{}`\n\n{}.\n",
            self.base,
            self.head,
            capitalise(&self.headline())
        );
        if self.diff.changes().is_empty() {
            return out;
        }
        out.push_str("\n| level | change | where | before | after |\n|---|---|---|---|---|\n");
        for (index, change) in self.diff.changes().iter().enumerate() {
            let mut level = level_cell(change.level(self.profile)).to_owned();
            if let Some(reason) = self.reason(index) {
                let _ = write!(level, " (accepted: {})", reason.replace('|', "\\|"));
            }
            let _ = writeln!(
                out,
                "| {level} | `{}` | {} | {} | {} |",
                change.kind,
                where_cell(change),
                value_cell(change.before.as_deref()),
                value_cell(change.after.as_deref()),
            );
        }
        out
    }

    fn json(&self) -> anyhow::Result<String> {
        let counted = self.counted();
        let mut changes = Vec::new();
        for (index, change) in self.diff.changes().iter().enumerate() {
            let mut value = serde_json::to_value(change)?;
            if let Some(object) = value.as_object_mut() {
                object.insert(
                    "level".into(),
                    serde_json::to_value(change.level(self.profile))?,
                );
                object.insert("line".into(), serde_json::to_value(self.line(change))?);
                object.insert("summary".into(), change.summary().into());
                if let Some(reason) = self.reason(index) {
                    object.insert("accepted".into(), reason.into());
                }
            }
            changes.push(value);
        }
        let value = serde_json::json!({
            "base": self.base,
            "head": self.head,
            "profile": self.profile,
            "breaking": counted.count(Level::Breaking, self.profile),
            "warnings": counted.count(Level::Warning, self.profile),
            "info": counted.count(Level::Info, self.profile),
            "version": self.version.map(ToString::to_string),
            "bump": self.version.map(|v| self.bump(v.major)),
            "changes": changes,
        });
        Ok(serde_json::to_string_pretty(&value)? + "\n")
    }

    /// GitHub Actions workflow commands: `::error` for a breaking change, `::warning` for a
    /// warning, `::notice` for the rest, each at the change's line of the newer spec.
    fn github(&self) -> String {
        let mut out = String::new();
        for (index, change) in self.diff.changes().iter().enumerate() {
            if self.reason(index).is_some() {
                continue;
            }
            let command = match change.level(self.profile) {
                Level::Breaking => "error",
                Level::Warning => "warning",
                Level::Info => "notice",
            };
            let mut properties = format!("file={}", github_property(self.head));
            if let Some(line) = self.line(change) {
                let _ = write!(properties, ",line={line}");
            }
            let _ = write!(
                properties,
                ",title={}",
                github_property(&format!("spec-diff: {}", change.kind))
            );
            let mut message = format!(
                "{} at {} ({})",
                change.summary(),
                change.place(),
                change.pointer
            );
            if !change.operations.is_empty() {
                let _ = write!(message, "; reached by {}", change.operations.join(", "));
            }
            let _ = writeln!(
                out,
                "::{command} {properties}::{}",
                github_message(&message)
            );
        }
        out.push_str(&self.headline());
        out.push('\n');
        out
    }

    /// JUnit XML: one test case per change, a failure at the `--fail-on` level (breaking when
    /// not given) or above, skipped when accepted.
    fn junit(&self) -> String {
        use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
        let fail_at = self.fail_on.unwrap_or(Level::Breaking);
        let mut report = quick_junit::Report::new("spec-diff");
        let mut suite = TestSuite::new(format!("{} → {}", self.base, self.head));
        for (index, change) in self.diff.changes().iter().enumerate() {
            let level = change.level(self.profile);
            let status = if let Some(reason) = self.reason(index) {
                let mut status = TestCaseStatus::skipped();
                status.set_message(format!("accepted: {reason}"));
                status
            } else if level >= fail_at {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_type(level.to_string());
                status.set_message(change.summary());
                status.set_description(change.locations.join("\n"));
                status
            } else {
                TestCaseStatus::success()
            };
            let mut case = TestCase::new(format!("{} at {}", change.kind, change.place()), status);
            case.set_classname(change.pointer.clone());
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
        report
            .to_string()
            .unwrap_or_else(|error| format!("<!-- cannot write the JUnit report: {error} -->\n"))
    }
}

/// A workflow command's property value, escaped as GitHub's runner reads it.
fn github_property(text: &str) -> String {
    github_message(text).replace(':', "%3A").replace(',', "%2C")
}

/// A workflow command's message, escaped as GitHub's runner reads it.
fn github_message(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The full locations of a change, when they say more than its place.
fn places(change: &Change) -> Vec<String> {
    if change.locations.len() == 1 && change.locations[0] == change.place() {
        return Vec::new();
    }
    change.locations.clone()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn level_cell(level: Level) -> &'static str {
    match level {
        Level::Breaking => "**breaking**",
        Level::Warning => "warning",
        Level::Info => "info",
    }
}

fn verdict_cell(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Breaking => "**breaking**",
        Verdict::NotBreaking => "not breaking",
        Verdict::BreakingWithoutCatchAll => {
            "not breaking here; breaking for generators without a catch-all variant"
        }
        Verdict::Unjudged => "not judged",
    }
}

/// Text in a code span of a Markdown table cell.
fn code(text: &str) -> String {
    format!("`{}`", text.replace('|', "\\|").replace('`', "'"))
}

fn value_cell(value: Option<&str>) -> String {
    value.map(code).unwrap_or_default()
}

fn where_cell(change: &Change) -> String {
    let places = places(change);
    let mut cell = code(change.place());
    if !places.is_empty() {
        let _ = write!(
            cell,
            "<br>in {}",
            places
                .iter()
                .map(|p| code(p))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }
    cell
}

/// `spec/spec-diff-ignore.yaml`: changes accepted on purpose.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IgnoreEntries {
    accepted: Vec<IgnoreEntry>,
}

/// One accepted change: its kind and place (globs, as in the reasons file) and why.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IgnoreEntry {
    kind: String,
    #[serde(rename = "where")]
    place: String,
    #[serde(default)]
    reason: Option<String>,
}

/// A read ignore file.
#[derive(Debug)]
struct IgnoreFile {
    label: String,
    entries: Vec<(IgnoreEntry, Option<usize>)>,
}

impl IgnoreFile {
    /// Reads an ignore file; an entry without a reason makes it unreadable.
    fn load(path: &Path, label: &str) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| Unreadable(format!("cannot read {label}: {error}")))?;
        Self::parse(&text, label)
    }

    fn parse(text: &str, label: &str) -> anyhow::Result<Self> {
        let file: IgnoreEntries = serde_yaml_ng::from_str(text).map_err(|error| {
            let line = error
                .location()
                .map(|l| format!(":{}", l.line()))
                .unwrap_or_default();
            Unreadable(format!(
                "{label}{line}: {error}; expected `accepted:` with entries {{kind, where, reason}}"
            ))
        })?;
        let lines = LineIndex::new(text);
        let mut entries = Vec::new();
        for (index, entry) in file.accepted.into_iter().enumerate() {
            let line = lines.line(&format!("/accepted/{index}"));
            if entry.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                return Err(Unreadable(format!(
                    "{label}:{}: at /accepted/{index}: the entry {{ kind: {}, where: {} }} has no reason; say why the change is accepted",
                    line.map_or_else(|| "?".to_owned(), |l| l.to_string()),
                    entry.kind,
                    entry.place
                ))
                .into());
            }
            entries.push((entry, line));
        }
        Ok(Self {
            label: label.to_owned(),
            entries,
        })
    }

    /// The reason each change is accepted with (the first entry that matches it), and each entry
    /// that matches no change, described.
    fn apply(&self, diff: &SpecDiff) -> anyhow::Result<(Vec<Option<String>>, Vec<String>)> {
        let mut compiled = Vec::new();
        for (entry, _) in &self.entries {
            compiled.push((
                glob(&entry.kind, &self.label)?,
                glob(&entry.place, &self.label)?,
            ));
        }
        let mut used = vec![false; self.entries.len()];
        let accepted = diff
            .changes()
            .iter()
            .map(|change| {
                let kind = change.kind.to_string();
                let found = compiled.iter().position(|(kinds, places)| {
                    kinds.is_match(&kind)
                        && (places.is_match(change.place())
                            || places.is_match(&change.pointer)
                            || change.locations.iter().any(|l| places.is_match(l)))
                })?;
                used[found] = true;
                self.entries[found].0.reason.clone()
            })
            .collect();
        let unmatched = self
            .entries
            .iter()
            .zip(&used)
            .filter(|(_, used)| !**used)
            .map(|((entry, line), _)| {
                format!(
                    "{}:{}: {{ kind: {}, where: {} }}",
                    self.label,
                    line.map_or_else(|| "?".to_owned(), |l| l.to_string()),
                    entry.kind,
                    entry.place
                )
            })
            .collect();
        Ok((accepted, unmatched))
    }
}

/// `spec/differences-reasons.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reasons {
    reasons: Vec<Reason>,
}

/// Why our spec differs from Cliniko's in some way, and which differences that covers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    title: String,
    why: String,
    differences: Vec<Selector>,
}

/// Differences by kind and place, each a glob where `*` matches any text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Selector {
    kind: String,
    #[serde(rename = "where")]
    place: String,
}

/// A compiled glob: `*` matches any text, everything else itself.
fn glob(pattern: &str, file: &str) -> anyhow::Result<regex::Regex> {
    let body: Vec<String> = pattern.split('*').map(regex::escape).collect();
    regex::Regex::new(&format!("^{}$", body.join(".*")))
        .with_context(|| format!("{file}: cannot use the pattern {pattern:?}"))
}

/// Each reason's selectors, compiled: (the reason's index, the selector, its kind and place globs).
type CompiledSelector<'r> = (usize, &'r Selector, regex::Regex, regex::Regex);

fn compiled_selectors(reasons: &Reasons) -> anyhow::Result<Vec<CompiledSelector<'_>>> {
    let mut selectors = Vec::new();
    for (index, reason) in reasons.reasons.iter().enumerate() {
        for selector in &reason.differences {
            selectors.push((
                index,
                selector,
                glob(&selector.kind, REASONS_PATH)?,
                glob(&selector.place, REASONS_PATH)?,
            ));
        }
    }
    Ok(selectors)
}

/// The first selector, in file order, whose kind matches the change's and whose place matches its
/// place (or all its locations).
fn matching_selector(selectors: &[CompiledSelector<'_>], change: &Change) -> Option<usize> {
    let kind = change.kind.to_string();
    selectors.iter().position(|(_, _, kinds, places)| {
        kinds.is_match(&kind)
            && (places.is_match(change.place())
                || change.locations.iter().all(|l| places.is_match(l)))
    })
}

/// The Markdown of `spec/DIFFERENCES.md`: the differences grouped by reason, in the reasons
/// file's order, then those without a reason; and a warning for each difference without a reason
/// and each selector that matches nothing. A difference's kind and place (or all its locations)
/// must match a selector.
fn differences(
    diff: &SpecDiff,
    reasons: &Reasons,
    upstream: &[String],
) -> anyhow::Result<(String, Vec<String>)> {
    let selectors = compiled_selectors(reasons)?;
    let changes = diff.changes();
    let mut by_reason: Vec<Vec<&Change>> = vec![Vec::new(); reasons.reasons.len()];
    let mut used = vec![false; selectors.len()];
    let mut unexplained = Vec::new();
    for change in changes {
        match matching_selector(&selectors, change) {
            Some(at) => {
                used[at] = true;
                by_reason[selectors[at].0].push(change);
            }
            None => unexplained.push(change),
        }
    }
    let mut warnings = Vec::new();
    if !unexplained.is_empty() {
        warnings.push(format!(
            "{} difference{} from Cliniko's document{} {} no reason yet (listed in {DIFFERENCES_PATH} as \"no reason given yet\"):\n{}\nadd a reason for each to {REASONS_PATH} (a `kind` and a `where` glob under a reason's `differences`), then run `cargo xtask codegen`",
            unexplained.len(),
            plural(unexplained.len()),
            plural(upstream.len()),
            if unexplained.len() == 1 { "has" } else { "have" },
            unexplained
                .iter()
                .map(|change| format!(
                    "  {} at {}{}{}",
                    change.kind,
                    change.place(),
                    change
                        .before
                        .as_deref()
                        .map(|b| format!(", before: {b}"))
                        .unwrap_or_default(),
                    change
                        .after
                        .as_deref()
                        .map(|a| format!(", after: {a}"))
                        .unwrap_or_default(),
                ))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    let unused: Vec<String> = selectors
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|((index, selector, _, _), _)| {
            format!(
                "  {{ kind: {}, where: {} }} under {:?}",
                selector.kind, selector.place, reasons.reasons[*index].title
            )
        })
        .collect();
    if !unused.is_empty() {
        warnings.push(format!(
            "{REASONS_PATH}: {} selector{} match{} no difference any more:\n{}\nremove {} (or fix the glob), then run `cargo xtask codegen`",
            unused.len(),
            plural(unused.len()),
            if unused.len() == 1 { "es" } else { "" },
            unused.join("\n"),
            if unused.len() == 1 { "it" } else { "them" },
        ));
    }
    let documents = upstream
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = format!(
        "<!-- @generated by `cargo xtask codegen` from {SPEC_PATH}, {UPSTREAM_DIR}/*.yaml and {REASONS_PATH}. Do not edit by hand:\n     change the reasons and run `cargo xtask codegen` again. -->\n\n\
         # How our spec differs from Cliniko's\n\n\
         `{SPEC_PATH}` is written by hand and is meant to be stricter and more complete than\n\
         Cliniko's published OpenAPI document, whose parts (dated 2025-08-28) are in {documents},\n\
         read as one. Every difference between the two, after following every `$ref`, is\n\
         listed below under its reason (from `{REASONS_PATH}`);\n\
         `cargo xtask spec-diff --base {}` shows the same list for one document. The verdict says\n\
         whether a difference would break code generated from Cliniko's document, by the rules in the\n\
         `cliniko_spec::diff` docs.\n\n\
         {} difference{}, {} of them breaking for code generated from Cliniko's document.\n",
        upstream.first().map_or(UPSTREAM_DIR, String::as_str),
        changes.len(),
        plural(changes.len()),
        changes
            .iter()
            .filter(|c| c.verdict == Verdict::Breaking)
            .count(),
    );
    let sections = reasons
        .reasons
        .iter()
        .map(|r| (r.title.as_str(), r.why.trim()))
        .zip(&by_reason)
        .chain(std::iter::once((
            (
                "No reason given yet",
                "These differences have no reason in the reasons file yet; `cargo xtask codegen --strict` (run by CI) fails until each has one.",
            ),
            &unexplained,
        )));
    for ((title, why), changes) in sections {
        if title == "No reason given yet" && changes.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "\n## {title}\n\n{why}\n\n| change | where | Cliniko's | ours | verdict |\n|---|---|---|---|---|\n",
        );
        for change in changes {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                change.kind,
                where_cell(change),
                value_cell(change.before.as_deref()),
                value_cell(change.after.as_deref()),
                verdict_cell(change.verdict),
            );
        }
    }
    Ok((out, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> Spec {
        Spec::from_yaml_str(yaml, "test.yaml").expect("the test document loads")
    }

    const BASE: &str = "\
openapi: 3.0.3
info: { title: t, version: v1 }
paths:
  /attendees/{id}:
    get:
      operationId: getAttendee
      parameters:
        - { name: id, in: path, required: true, schema: { type: string } }
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: { $ref: '#/components/schemas/Attendee' }
components:
  schemas:
    Attendee:
      type: object
      properties:
        notes: { type: string }
        invoice_status: { type: integer, enum: [10, 20], x-enum-varnames: [Open, Paid] }
";

    fn head() -> Spec {
        spec(
            &BASE
                .replace("notes: { type: string }", "arrived: { type: boolean }")
                .replace(
                    "[10, 20], x-enum-varnames: [Open, Paid]",
                    "[10, 20, 30], x-enum-varnames: [Open, Paid, Closed]",
                )
                .replace(
                    "'200':",
                    "'404': { description: not found }\n        '200':",
                ),
        )
    }

    fn report(diff: &SpecDiff, version: Option<&semver::Version>) -> String {
        let accepted = vec![None; diff.changes().len()];
        Report {
            base: "HEAD:spec/cliniko-attendees.yaml",
            head: "spec/cliniko-attendees.yaml",
            lines: None,
            diff,
            accepted: &accepted,
            profile: Profile::Ours,
            fail_on: None,
            version,
        }
        .human()
    }

    #[test]
    fn human_report() {
        let diff = cliniko_spec::diff::diff(&spec(BASE), &head());
        let version = semver::Version::new(0, 1, 0);
        insta::assert_snapshot!(report(&diff, Some(&version)));
    }

    #[test]
    fn markdown_report() {
        let diff = cliniko_spec::diff::diff(&spec(BASE), &head());
        let version = semver::Version::new(1, 4, 2);
        let accepted = vec![None; diff.changes().len()];
        let markdown = Report {
            base: "main",
            head: "spec/cliniko-attendees.yaml",
            lines: None,
            diff: &diff,
            accepted: &accepted,
            profile: Profile::Ours,
            fail_on: None,
            version: Some(&version),
        }
        .markdown();
        insta::assert_snapshot!(markdown);
    }

    #[test]
    fn no_changes_need_no_bump() {
        let diff = cliniko_spec::diff::diff(&spec(BASE), &spec(BASE));
        assert_eq!(
            report(&diff, None),
            "spec-diff: HEAD:spec/cliniko-attendees.yaml → spec/cliniko-attendees.yaml\nno changes: no version bump needed\n"
        );
    }

    fn args(base: &Path, spec: &Path) -> Args {
        Args {
            base: base.display().to_string(),
            spec: spec.to_path_buf(),
            format: Format::Json,
            profile: ProfileArg::Ours,
            fail_on: None,
            fail_on_breaking: false,
            require_version_bump: None,
            ignore: None,
        }
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }

    #[test]
    fn exit_codes_are_0_then_1_with_fail_on_breaking_and_2_for_an_unreadable_base() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let base = write(dir.path(), "base.yaml", BASE);
        let breaking = write(
            dir.path(),
            "head.yaml",
            &BASE.replace("notes: { type: string }", ""),
        );
        let root = dir.path();
        let mut arguments = args(&base, &breaking);
        assert_eq!(run(root, &arguments).expect("runs"), ExitCode::SUCCESS);
        arguments.fail_on_breaking = true;
        assert_eq!(run(root, &arguments).expect("runs"), ExitCode::FAILURE);
        // Nothing breaks between a document and itself.
        assert_eq!(
            run(root, &args(&base, &base)).expect("runs"),
            ExitCode::SUCCESS
        );
        let mut same = args(&base, &base);
        same.fail_on_breaking = true;
        assert_eq!(run(root, &same).expect("runs"), ExitCode::SUCCESS);

        let unreadable = write(dir.path(), "broken.yaml", "openapi: 3.0.3\npaths: [\n");
        let error =
            run(root, &args(&unreadable, &base)).expect_err("an unreadable base is an error");
        assert_eq!(exit_code(&error), 2);
        let message = format!("{error:#}");
        assert!(message.contains("broken.yaml"), "{message}");
        assert!(message.contains("invalid YAML"), "{message}");

        // A base that is neither a file nor a revision is named, with what git said.
        let missing = args(Path::new("no-such-revision-or-file"), &base);
        let error = run(root, &missing).expect_err("an unknown base is an error");
        assert_eq!(exit_code(&error), 2);
        let message = format!("{error:#}");
        assert!(
            message.contains("no-such-revision-or-file:spec/cliniko-attendees.yaml"),
            "{message}"
        );
        assert!(message.contains("git"), "{message}");

        assert_eq!(exit_code(&anyhow::anyhow!("something else")), 1);
    }

    #[test]
    fn a_breaking_change_needs_its_bump() {
        let base = spec(BASE);
        let breaking =
            cliniko_spec::diff::diff(&base, &spec(&BASE.replace("notes: { type: string }", "")));
        let version = semver::Version::parse;
        let v = |text| version(text).expect("a version");
        assert_eq!(
            bump_problem(&v("0.1.0"), &v("0.1.1"), &breaking, Profile::Ours),
            Some(Bump::Minor)
        );
        assert_eq!(
            bump_problem(&v("0.1.0"), &v("0.2.0"), &breaking, Profile::Ours),
            None
        );
        assert_eq!(
            bump_problem(&v("1.2.0"), &v("1.3.0"), &breaking, Profile::Ours),
            Some(Bump::Major)
        );
        assert_eq!(
            bump_problem(&v("1.2.0"), &v("2.0.0"), &breaking, Profile::Ours),
            None
        );
        let added = BASE.replace(
            "notes: { type: string }",
            "notes: { type: string }\n        arrived: { type: boolean }",
        );
        let compatible = cliniko_spec::diff::diff(&base, &spec(&added));
        assert!(!compatible.is_breaking());
        assert_eq!(
            bump_problem(&v("0.1.0"), &v("0.1.0"), &compatible, Profile::Ours),
            None
        );
    }

    #[test]
    fn versions_are_read_from_the_package_or_the_workspace() {
        let plain = version_in(
            "[package]\nname = \"a\"\nversion = \"0.3.1\"\n",
            "a/Cargo.toml",
            || unreachable!(),
        );
        assert_eq!(plain.expect("read").to_string(), "0.3.1");
        let inherited = version_in(
            "[package]\nversion.workspace = true\n",
            "a/Cargo.toml",
            || Ok("[workspace.package]\nversion = \"2.0.0\"\n".to_owned()),
        );
        assert_eq!(inherited.expect("read").to_string(), "2.0.0");
        let missing = version_in(
            "[package]\nname = \"a\"\n",
            "a/Cargo.toml",
            || unreachable!(),
        );
        assert!(
            format!("{:#}", missing.expect_err("no version"))
                .contains("a/Cargo.toml has no [package] version")
        );
    }

    #[test]
    fn a_difference_without_a_reason_is_listed_and_warned_about() {
        let diff = cliniko_spec::diff::diff(&spec(BASE), &head());
        let reasons: Reasons = serde_yaml_ng::from_str(
            "reasons:\n  - title: Statuses\n    why: We list every status.\n    differences:\n      - { kind: status-added, where: '*' }\n",
        )
        .expect("reasons parse");
        let (markdown, warnings) =
            differences(&diff, &reasons, &["up.yaml".to_owned()]).expect("written anyway");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("property-added at Attendee → /properties/arrived"),
            "{}",
            warnings[0]
        );
        assert!(warnings[0].contains("add a reason"), "{}", warnings[0]);
        assert!(!warnings[0].contains("status-added"), "{}", warnings[0]);
        let unexplained = markdown
            .split("## No reason given yet")
            .nth(1)
            .expect("a section for differences without a reason");
        assert!(unexplained.contains("`property-added` | `Attendee → /properties/arrived`"));
        assert!(!unexplained.contains("status-added"));
    }

    #[test]
    fn a_reason_that_matches_nothing_is_warned_about() {
        let diff = cliniko_spec::diff::diff(&spec(BASE), &spec(BASE));
        let reasons: Reasons = serde_yaml_ng::from_str(
            "reasons:\n  - title: Old\n    why: Gone.\n    differences:\n      - { kind: status-added, where: '*' }\n",
        )
        .expect("reasons parse");
        let (markdown, warnings) =
            differences(&diff, &reasons, &["up.yaml".to_owned()]).expect("written anyway");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("{ kind: status-added, where: * } under \"Old\""));
        assert!(!markdown.contains("No reason given yet"));
    }

    /// `spec/DIFFERENCES.md` is what `cargo xtask codegen` would write. Cliniko's document must be
    /// there: without it this test fails rather than skips. With `UPDATE_DIFFERENCES=1` it writes
    /// the file instead (and nothing else, unlike `cargo xtask codegen`).
    #[test]
    fn differences_document_is_fresh() {
        let root = crate::workspace_root();
        let spec = Spec::load(&root.join(SPEC_PATH)).expect("the spec loads");
        let (path, contents) = match differences_file(&root, &spec) {
            Ok(file) => {
                assert!(file.warnings.is_empty(), "{:#?}", file.warnings);
                (file.path, file.contents)
            }
            Err(error) => panic!("{error:#}"),
        };
        if std::env::var_os("UPDATE_DIFFERENCES").is_some_and(|v| v == "1") {
            std::fs::write(root.join(path), &contents).expect("write spec/DIFFERENCES.md");
        }
        let files = [crate::codegen::GeneratedFile { path, contents }];
        if let Err(error) = crate::codegen::check(&root, &files) {
            panic!("{error:#}");
        }
    }
}
