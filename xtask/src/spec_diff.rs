//! `cargo xtask spec-diff`: what changed in the spec since a base (a git revision or a file), what
//! breaks for code generated from the base, and the version bump the client crate needs.
//!
//! The comparison itself, and the table of rules that decides what breaks, live in
//! [`cliniko_spec::diff`]. This module reads the two documents, prints the report (human,
//! Markdown or JSON), checks the client crate's version bump for CI, and generates
//! `spec/DIFFERENCES.md`: every way our spec differs from Cliniko's published one, each with the
//! reason from `spec/differences-reasons.yaml`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use cliniko_spec::Spec;
use cliniko_spec::diff::{Bump, ChangeGroup, SpecDiff, Verdict};
use serde::Deserialize;

use crate::codegen::SPEC_PATH;

/// Cliniko's published attendee document, relative to the workspace root.
pub const OFFICIAL_PATH: &str = "spec/upstream/cliniko-attendee-subset-2025-08.yaml";
/// The generated list of differences from Cliniko's document.
pub const DIFFERENCES_PATH: &str = "spec/DIFFERENCES.md";
/// Why each difference is there, written by hand.
pub const REASONS_PATH: &str = "spec/differences-reasons.yaml";
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
    /// Exit with 1 when any change breaks code generated from the base.
    #[arg(long)]
    pub fail_on_breaking: bool,
    /// Exit with 1 when a breaking change comes without the bump it needs of the version in this
    /// Cargo.toml, read at the base revision and now (the base must be a git revision).
    #[arg(long, value_name = "CARGO_TOML")]
    pub require_version_bump: Option<PathBuf>,
}

/// The report's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a terminal.
    Human,
    /// Every change with its location, kind, values and verdict.
    Json,
    /// For a pull request or a CI step summary.
    Markdown,
}

/// A document (or a version) that cannot be read; `cargo xtask` exits with 2 for it.
#[derive(Debug)]
pub struct Unreadable(String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreadable {}

/// Runs `cargo xtask spec-diff`: prints the report and says how to exit.
pub fn run(root: &Path, args: &Args) -> anyhow::Result<ExitCode> {
    let head_path = locate(root, &args.spec);
    let head = Spec::load(&head_path)
        .map_err(|error| Unreadable(format!("cannot use the spec: {error}")))?;
    let (base, base_label) = read_base(root, &args.base)?;
    let diff = cliniko_spec::diff::diff(&base, &head);
    let manifest = args
        .require_version_bump
        .clone()
        .unwrap_or_else(|| PathBuf::from(CLIENT_MANIFEST));
    let version = version_now(root, &manifest).ok();
    let report = Report {
        base: &base_label,
        head: &args.spec.display().to_string(),
        diff: &diff,
        version: version.as_ref(),
    };
    let text = match args.format {
        Format::Human => report.human(),
        Format::Markdown => report.markdown(),
        Format::Json => report.json()?,
    };
    // A reader that stops early (`| head`) is no error of ours.
    match std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(error).context("cannot print the report");
        }
        _ => {}
    }
    let mut failed = false;
    if args.fail_on_breaking && diff.is_breaking() {
        eprintln!(
            "error: {} breaking change{} since {base_label}",
            diff.breaking_count(),
            plural(diff.breaking_count())
        );
        failed = true;
    }
    if let Some(manifest) = &args.require_version_bump {
        if let Some(problem) = missing_bump(root, &args.base, manifest, &diff)? {
            eprintln!("error: {problem}");
            failed = true;
        }
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
            let report = Report {
                base: &label,
                head: SPEC_PATH,
                diff: &diff,
                version: version.as_ref(),
            };
            eprint!("{}", report.human());
        }
        Err(error) => eprintln!("spec-diff: no summary of changes: {error:#}"),
    }
}

/// `spec/DIFFERENCES.md`, generated: every difference from Cliniko's published document, with its
/// reason. Fails when Cliniko's document cannot be read, a difference has no reason, or a
/// reason matches no difference.
pub fn differences_file(root: &Path, spec: &Spec) -> anyhow::Result<(&'static str, String)> {
    let official = Spec::load(&root.join(OFFICIAL_PATH))
        .map_err(|error| Unreadable(format!("cannot use Cliniko's document: {error}")))?;
    let reasons_path = root.join(REASONS_PATH);
    let text = std::fs::read_to_string(&reasons_path)
        .with_context(|| format!("cannot read {REASONS_PATH}"))?;
    let reasons: Reasons = serde_yaml_ng::from_str(&text)
        .map_err(|error| anyhow::anyhow!("{REASONS_PATH}: {error}"))?;
    let diff = cliniko_spec::diff::diff(&official, spec);
    Ok((DIFFERENCES_PATH, differences(&diff, &reasons)?))
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
        let spec = Spec::load(&as_file)
            .map_err(|error| Unreadable(format!("cannot use the base: {error}")))?;
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

fn version_now(root: &Path, manifest: &Path) -> anyhow::Result<semver::Version> {
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
) -> anyhow::Result<Option<String>> {
    let before = version_at(root, base, manifest)?;
    let now = version_now(root, manifest)?;
    Ok(bump_problem(&before, &now, diff).map(|needed| {
        format!(
            "{} breaking change{} since {base} need a {needed} bump of {}: the version was {before} at {base} and is {now} now; make it at least {}{}",
            diff.breaking_count(),
            plural(diff.breaking_count()),
            manifest.display(),
            next_version(&before, needed),
            pre_1_0_note(&before),
        )
    }))
}

/// The bump that breaking changes need and the versions lack, if any.
fn bump_problem(before: &semver::Version, now: &semver::Version, diff: &SpecDiff) -> Option<Bump> {
    if !diff.is_breaking() {
        return None;
    }
    let needed = diff.required_bump(before.major);
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

fn next_version(version: &semver::Version, bump: Bump) -> semver::Version {
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

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// A diff with what it was taken between.
struct Report<'a> {
    base: &'a str,
    head: &'a str,
    diff: &'a SpecDiff,
    version: Option<&'a semver::Version>,
}

impl Report<'_> {
    fn headline(&self) -> String {
        let diff = self.diff;
        let count = diff.changes().len();
        if count == 0 {
            return "no changes: no version bump needed".to_owned();
        }
        let mut line = format!(
            "{count} change{}, {} breaking for code generated from the base",
            plural(count),
            diff.breaking_count()
        );
        match self.version {
            Some(version) => {
                let bump = diff.required_bump(version.major);
                let _ = write!(
                    line,
                    "; the client crate ({version}) needs a {bump} bump, to {}",
                    next_version(version, bump)
                );
                if diff.is_breaking() {
                    line.push_str(pre_1_0_note(version));
                }
            }
            None => {
                let _ = write!(
                    line,
                    "; the client crate needs a {} bump from 1.0 on, a {} bump before",
                    diff.required_bump(1),
                    diff.required_bump(0)
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
        for group in self.diff.groups() {
            let verdict = match group.verdict {
                Verdict::Breaking => "breaking",
                Verdict::NotBreaking => "ok",
                Verdict::BreakingWithoutCatchAll => "ok*",
            };
            let _ = writeln!(
                out,
                "\n{verdict:<9}{:<30}{}",
                group.kind.to_string(),
                group.place
            );
            if let Some(before) = group.before {
                let _ = writeln!(out, "{:9}before: {before}", "");
            }
            if let Some(after) = group.after {
                let _ = writeln!(out, "{:9}after:  {after}", "");
            }
            for (index, location) in places(&group).iter().enumerate() {
                let label = if index == 0 { "in:" } else { "" };
                let _ = writeln!(out, "{:9}{label:<8}{location}", "");
            }
        }
        if self
            .diff
            .changes()
            .iter()
            .any(|c| c.verdict == Verdict::BreakingWithoutCatchAll)
        {
            out.push_str(
                "\nok* not breaking for this client, whose code enums keep unknown values in `Unknown`,\n    but breaking for generators without a catch-all variant\n",
            );
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
        out.push_str("\n| verdict | change | where | before | after |\n|---|---|---|---|---|\n");
        for group in self.diff.groups() {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {} |",
                verdict_cell(group.verdict),
                group.kind,
                where_cell(&group),
                value_cell(group.before),
                value_cell(group.after),
            );
        }
        out
    }

    fn json(&self) -> anyhow::Result<String> {
        let value = serde_json::json!({
            "base": self.base,
            "head": self.head,
            "breaking": self.diff.breaking_count(),
            "version": self.version.map(ToString::to_string),
            "bump": self.version.map(|v| self.diff.required_bump(v.major)),
            "changes": self.diff.changes(),
        });
        Ok(serde_json::to_string_pretty(&value)? + "\n")
    }
}

/// The full locations of a group, when they say more than its place.
fn places(group: &ChangeGroup<'_>) -> Vec<String> {
    if group.changes.len() == 1 && group.changes[0].location == group.place {
        return Vec::new();
    }
    group.changes.iter().map(|c| c.location.clone()).collect()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn verdict_cell(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Breaking => "**breaking**",
        Verdict::NotBreaking => "not breaking",
        Verdict::BreakingWithoutCatchAll => {
            "not breaking here; breaking for generators without a catch-all variant"
        }
    }
}

/// Text in a code span of a Markdown table cell.
fn code(text: &str) -> String {
    format!("`{}`", text.replace('|', "\\|").replace('`', "'"))
}

fn value_cell(value: Option<&str>) -> String {
    value.map(code).unwrap_or_default()
}

fn where_cell(group: &ChangeGroup<'_>) -> String {
    let places = places(group);
    let mut cell = code(group.place);
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
fn glob(pattern: &str) -> anyhow::Result<regex::Regex> {
    let body: Vec<String> = pattern.split('*').map(regex::escape).collect();
    regex::Regex::new(&format!("^{}$", body.join(".*")))
        .with_context(|| format!("{REASONS_PATH}: cannot use the pattern {pattern:?}"))
}

/// The Markdown of `spec/DIFFERENCES.md`: the differences grouped by reason, in the reasons
/// file's order. A difference's kind and place (or its full location) must match a selector.
fn differences(diff: &SpecDiff, reasons: &Reasons) -> anyhow::Result<String> {
    let mut selectors = Vec::new();
    for (index, reason) in reasons.reasons.iter().enumerate() {
        for selector in &reason.differences {
            selectors.push((
                index,
                selector,
                glob(&selector.kind)?,
                glob(&selector.place)?,
            ));
        }
    }
    let groups = diff.groups();
    let mut by_reason: Vec<Vec<&ChangeGroup<'_>>> = vec![Vec::new(); reasons.reasons.len()];
    let mut used = vec![false; selectors.len()];
    let mut unexplained = Vec::new();
    for group in &groups {
        let kind = group.kind.to_string();
        let found = selectors.iter().position(|(_, _, kinds, places)| {
            kinds.is_match(&kind)
                && (places.is_match(group.place)
                    || group.changes.iter().all(|c| places.is_match(&c.location)))
        });
        match found {
            Some(at) => {
                used[at] = true;
                by_reason[selectors[at].0].push(group);
            }
            None => unexplained.push(format!(
                "  {kind} at {}{}{}",
                group.place,
                group
                    .before
                    .map(|b| format!(", before: {b}"))
                    .unwrap_or_default(),
                group
                    .after
                    .map(|a| format!(", after: {a}"))
                    .unwrap_or_default(),
            )),
        }
    }
    if !unexplained.is_empty() {
        bail!(
            "{} difference{} from Cliniko's document {} no reason:\n{}\nadd a reason for each to {REASONS_PATH} (a `kind` and a `where` glob under a reason's `differences`), then run `cargo xtask codegen`",
            unexplained.len(),
            plural(unexplained.len()),
            if unexplained.len() == 1 {
                "has"
            } else {
                "have"
            },
            unexplained.join("\n")
        );
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
        bail!(
            "{REASONS_PATH}: {} selector{} match{} no difference any more:\n{}\nremove {} (or fix the glob), then run `cargo xtask codegen`",
            unused.len(),
            plural(unused.len()),
            if unused.len() == 1 { "es" } else { "" },
            unused.join("\n"),
            if unused.len() == 1 { "it" } else { "them" },
        );
    }
    let mut out = format!(
        "<!-- @generated by `cargo xtask codegen` from {SPEC_PATH} and {REASONS_PATH}. Do not edit by hand:\n     change the reasons and run `cargo xtask codegen` again. -->\n\n\
         # How our spec differs from Cliniko's\n\n\
         `{SPEC_PATH}` is written by hand and is meant to be stricter and more complete than\n\
         Cliniko's published OpenAPI document, whose attendee part (dated 2025-08-28) is in\n\
         `{OFFICIAL_PATH}`. Every difference between the two, after following every `$ref`, is\n\
         listed below under its reason (from `{REASONS_PATH}`);\n\
         `cargo xtask spec-diff --base {OFFICIAL_PATH}` shows the same list. The verdict says\n\
         whether a difference would break code generated from Cliniko's document, by the rules in the\n\
         `cliniko_spec::diff` docs.\n\n\
         {} difference{} ({} change{}), {} of them breaking for code generated from Cliniko's document.\n",
        groups.len(),
        plural(groups.len()),
        diff.changes().len(),
        plural(diff.changes().len()),
        groups
            .iter()
            .filter(|g| g.verdict == Verdict::Breaking)
            .count(),
    );
    for (reason, groups) in reasons.reasons.iter().zip(&by_reason) {
        let _ = write!(
            out,
            "\n## {}\n\n{}\n\n| change | where | Cliniko's | ours | verdict |\n|---|---|---|---|---|\n",
            reason.title,
            reason.why.trim()
        );
        for group in groups {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                group.kind,
                where_cell(group),
                value_cell(group.before),
                value_cell(group.after),
                verdict_cell(group.verdict),
            );
        }
    }
    Ok(out)
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
        Report {
            base: "HEAD:spec/cliniko-attendees.yaml",
            head: "spec/cliniko-attendees.yaml",
            diff,
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
        let markdown = Report {
            base: "main",
            head: "spec/cliniko-attendees.yaml",
            diff: &diff,
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
            fail_on_breaking: false,
            require_version_bump: None,
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
            bump_problem(&v("0.1.0"), &v("0.1.1"), &breaking),
            Some(Bump::Minor)
        );
        assert_eq!(bump_problem(&v("0.1.0"), &v("0.2.0"), &breaking), None);
        assert_eq!(
            bump_problem(&v("1.2.0"), &v("1.3.0"), &breaking),
            Some(Bump::Major)
        );
        assert_eq!(bump_problem(&v("1.2.0"), &v("2.0.0"), &breaking), None);
        let added = BASE.replace(
            "notes: { type: string }",
            "notes: { type: string }\n        arrived: { type: boolean }",
        );
        let compatible = cliniko_spec::diff::diff(&base, &spec(&added));
        assert!(!compatible.is_breaking());
        assert_eq!(bump_problem(&v("0.1.0"), &v("0.1.0"), &compatible), None);
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
    fn a_difference_without_a_reason_is_named() {
        let diff = cliniko_spec::diff::diff(&spec(BASE), &head());
        let reasons: Reasons = serde_yaml_ng::from_str(
            "reasons:\n  - title: Statuses\n    why: We list every status.\n    differences:\n      - { kind: status-added, where: '*' }\n",
        )
        .expect("reasons parse");
        let error = differences(&diff, &reasons).expect_err("unexplained differences");
        let message = format!("{error:#}");
        assert!(
            message.contains("property-added at Attendee → /properties/arrived"),
            "{message}"
        );
        assert!(message.contains("add a reason"), "{message}");
        assert!(!message.contains("status-added"), "{message}");
    }

    #[test]
    fn a_reason_that_matches_nothing_is_named() {
        let diff = cliniko_spec::diff::diff(&spec(BASE), &spec(BASE));
        let reasons: Reasons = serde_yaml_ng::from_str(
            "reasons:\n  - title: Old\n    why: Gone.\n    differences:\n      - { kind: status-added, where: '*' }\n",
        )
        .expect("reasons parse");
        let error = differences(&diff, &reasons).expect_err("a stale reason");
        assert!(format!("{error:#}").contains("{ kind: status-added, where: * } under \"Old\""));
    }

    /// `spec/DIFFERENCES.md` is what `cargo xtask codegen` would write. Cliniko's document must be
    /// there: without it this test fails rather than skips. With `UPDATE_DIFFERENCES=1` it writes
    /// the file instead (and nothing else, unlike `cargo xtask codegen`).
    #[test]
    fn differences_document_is_fresh() {
        let root = crate::workspace_root();
        let spec = Spec::load(&root.join(SPEC_PATH)).expect("the spec loads");
        let (path, contents) = match differences_file(&root, &spec) {
            Ok(file) => file,
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
