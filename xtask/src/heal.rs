//! `cargo xtask heal`: exchanges that disagree with the spec become a widened spec, the
//! regenerated code, the version bump `spec-diff` asks for, and a pull-request body.
//!
//! 1. It reads exchanges from recordings and HAR files (as `cliniko-conformance check` takes
//!    them), or records them with a `live --read-only` run against `--base-url`.
//! 2. It checks them against the spec, strictly (an undocumented field fails). When all conform
//!    there is nothing to heal: it says so and exits 0.
//! 3. It asks `suggest` what the failing traffic calls for. `suggest` only widens (a field, a
//!    code, a status, a null, an optional field), and only from what the traffic showed: nothing
//!    is removed or narrowed for lack of evidence.
//! 4. It applies those changes to the spec's YAML in place (comments, order and idioms kept; see
//!    [`edit`]), checks the result, and re-checks the same exchanges: each must now conform, or
//!    nothing is written.
//! 5. It writes the spec, a reason in `spec/differences-reasons.yaml` for each new difference from
//!    Cliniko's published document (the evidence is the reason), the regenerated code and
//!    `spec/DIFFERENCES.md` (`cargo xtask codegen`), and the crates' version bumped as `spec-diff`
//!    classifies the change. Then it writes the pull-request body (Markdown).
//!
//! Exit codes: 0 healed, or nothing to heal; 1 the traffic calls for something heal cannot write
//! (it names the exchanges); 2 unreadable input (no exchange, a file that is not a recording, a
//! server that could not be reached).

mod edit;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use cliniko_conformance::suggest::{Suggester, Suggestions};
use cliniko_conformance::{CheckOptions, Checker, Exchange, Verdict};
use cliniko_spec::Spec;
use cliniko_spec::diff::{Bump, Change, Level, Profile, bump_for};

use crate::codegen::{SPEC_PATH, write_atomically};
use crate::spec_diff::{CLIENT_MANIFEST, REASONS_PATH, Unreadable, plural};

/// The environment variable that holds the API key for `--base-url` (never a flag).
const API_KEY_VARIABLE: &str = "CLINIKO_API_KEY";

/// `cargo xtask heal`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Recordings (*.json) and HAR files (*.har), or folders searched for them.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Record the exchanges with a read-only live run against this server (its base URL, with
    /// `/v1`); the key is read from CLINIKO_API_KEY.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Keep the live run's recordings (scrubbed) in this folder [default: a temporary one].
    #[arg(long, value_name = "DIR", requires = "base_url")]
    pub record: Option<PathBuf>,
    /// The User-Agent of the live run, `NAME (EMAIL)`.
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "cliniko-heal (heal@example.com)"
    )]
    pub user_agent: String,
    /// Write the pull-request body (Markdown) to this file as well as to standard output.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// Show what would change and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// One exchange read, with where it came from.
struct Read {
    file: String,
    exchange: Exchange,
}

/// Runs `heal` on the workspace at `root`.
pub fn run(root: &Path, args: &Args) -> anyhow::Result<ExitCode> {
    if args.paths.is_empty() && args.base_url.is_none() {
        return Err(anyhow!(Unreadable(
            "nothing to read: give recordings or HAR files (PATH...) or --base-url".to_owned()
        )));
    }
    let spec_path = root.join(SPEC_PATH);
    let text = std::fs::read_to_string(&spec_path)
        .map_err(|e| Unreadable(format!("cannot read {SPEC_PATH}: {e}")))?;
    let spec = Spec::from_yaml_str(&text, SPEC_PATH).map_err(|e| Unreadable(format!("{e}")))?;
    let checker = checker(&spec)?;

    let mut paths = args.paths.clone();
    let _live_folder = match &args.base_url {
        Some(base_url) => {
            let (folder, keep) = live_folder(args)?;
            record_live(base_url, &args.user_agent, &folder, &checker)?;
            paths.push(folder);
            keep
        }
        None => None,
    };
    let exchanges = read_exchanges(&paths)?;

    let failing: Vec<(&Read, Verdict)> = exchanges
        .iter()
        .map(|read| (read, checker.check(&read.exchange)))
        .filter(|(_, verdict)| !verdict.conforms())
        .collect();
    if failing.is_empty() {
        eprintln!(
            "nothing to heal: all {} exchange{} conform to {SPEC_PATH}",
            exchanges.len(),
            plural(exchanges.len())
        );
        return Ok(ExitCode::SUCCESS);
    }

    let mut suggester = Suggester::new(&spec, &checker);
    for read in &exchanges {
        suggester.add(&read.exchange);
    }
    let suggestions = suggester
        .finish()
        .map_err(|e| Unreadable(format!("nothing to propose: {e}")))?;
    if suggestions.patch.0.is_empty() {
        bail!(
            "{} exchange{} do not conform, and nothing in them is a widening heal can write:\n{}",
            failing.len(),
            plural(failing.len()),
            evidence_lines(&failing)
        );
    }

    // The spec, widened in place; read back, checked, and the traffic checked again.
    let healed_text = edit::apply(&text, SPEC_PATH, &suggestions.patch)?;
    let healed = Spec::from_yaml_str(&healed_text, SPEC_PATH)
        .map_err(|e| anyhow!("the healed spec does not load: {e}"))?;
    healed
        .check()
        .map_err(|e| anyhow!("the healed spec fails its own checks: {e}"))?;
    // The round trip goes through the generated types compiled into this program, which are
    // the old spec's until the code is regenerated and rebuilt: the schema checks run here, and
    // the round trip runs in the pull request's CI on the recordings saved below.
    let healed_checker = checker_for(&healed, false)?;
    let still: Vec<(&Read, Verdict)> = failing
        .iter()
        .map(|(read, _)| (*read, healed_checker.check(&read.exchange)))
        .filter(|(_, verdict)| !verdict.conforms())
        .collect();
    if !still.is_empty() {
        bail!(
            "the changes heal can make leave {} exchange{} failing, so nothing was written:\n{}",
            still.len(),
            plural(still.len()),
            evidence_lines(&still)
        );
    }

    let diff = cliniko_spec::diff::diff(&spec, &healed);
    let version = crate::spec_diff::version_now(root, Path::new(CLIENT_MANIFEST))?;
    let bump = bump_for(diff.changes(), Profile::Ours, version.major);
    let next = crate::spec_diff::next_version(&version, bump);

    let mut plan = Plan {
        failing: &failing,
        suggestions: &suggestions,
        changes: diff.changes(),
        bump,
        version: &version,
        next: &next,
        differences_added: Vec::new(),
        exchanges: exchanges.len(),
        saved: Vec::new(),
    };
    if args.dry_run {
        emit_body(&plan.body(), args.body.as_deref())?;
        eprintln!("--dry-run: nothing was written");
        return Ok(ExitCode::SUCCESS);
    }

    let differences_before = read_optional(&root.join(crate::spec_diff::DIFFERENCES_PATH));
    let reasons_path = root.join(REASONS_PATH);
    let reasons_before = std::fs::read_to_string(&reasons_path)
        .map_err(|e| Unreadable(format!("cannot read {REASONS_PATH}: {e}")))?;
    // The spec and its reasons are written first; if what follows fails, both are put back, so
    // that a failed heal leaves the workspace as it found it. codegen writes its files only once
    // all of them are generated.
    let written = (|| -> anyhow::Result<()> {
        write_atomically(&spec_path, &healed_text)?;
        give_reasons(root, &healed, &plan)?;
        crate::codegen::run(root, crate::codegen::Mode::Write, false, true)
            .context("cargo xtask codegen failed on the healed spec")
    })();
    if let Err(error) = written {
        write_atomically(&spec_path, &text)?;
        write_atomically(&reasons_path, &reasons_before)?;
        crate::codegen::run(root, crate::codegen::Mode::Write, false, false)
            .context("cannot regenerate the code of the spec as it was")?;
        return Err(error.context(format!(
            "nothing was healed: {SPEC_PATH} and {REASONS_PATH} are as they were"
        )));
    }
    if bump != Bump::None {
        set_version(root, &version, &next)?;
    }
    plan.saved = save_evidence(root, &failing, &next)?;
    let differences_after = read_optional(&root.join(crate::spec_diff::DIFFERENCES_PATH));
    plan.differences_added = added_lines(&differences_before, &differences_after);
    emit_body(&plan.body(), args.body.as_deref())?;
    eprintln!(
        "healed {SPEC_PATH}: {} change{}, version {version} → {next}",
        plan.changes.len(),
        plural(plan.changes.len())
    );
    Ok(ExitCode::SUCCESS)
}

fn checker(spec: &Spec) -> anyhow::Result<Checker> {
    checker_for(spec, true).map_err(|e| anyhow!(Unreadable(format!("{e:#}"))))
}

/// The strict checker: heal treats an undocumented field as a disagreement to heal.
fn checker_for(spec: &Spec, round_trip: bool) -> anyhow::Result<Checker> {
    Checker::new(
        spec,
        CheckOptions {
            strict: true,
            round_trip,
        },
    )
    .map_err(|e| anyhow!("cannot compile {SPEC_PATH} for checking: {e}"))
}

/// The folder the live run records into, and the temporary directory to keep alive, if any.
fn live_folder(args: &Args) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    match &args.record {
        Some(folder) => {
            std::fs::create_dir_all(folder)
                .map_err(|e| Unreadable(format!("cannot create {}: {e}", folder.display())))?;
            Ok((folder.clone(), None))
        }
        None => {
            let temporary = tempfile::tempdir().context("cannot make a temporary folder")?;
            Ok((temporary.path().to_owned(), Some(temporary)))
        }
    }
}

/// A `live --read-only` run that records every exchange (scrubbed) into `folder`.
fn record_live(
    base_url: &str,
    user_agent: &str,
    folder: &Path,
    checker: &Checker,
) -> anyhow::Result<()> {
    let api_key = std::env::var(API_KEY_VARIABLE).map_err(|_| {
        Unreadable(format!(
            "--base-url needs the API key in {API_KEY_VARIABLE} (it is never taken as a flag)"
        ))
    })?;
    let options = cliniko_conformance::live::LiveOptions {
        base_url: base_url.to_owned(),
        api_key,
        user_agent: user_agent.to_owned(),
        record_dir: Some(folder.to_owned()),
        record_format: cliniko_conformance::live::RecordFormat::Json,
        read_only: true,
        // No progress bar, no provoked limits, no writes, the scenario's own choice of records.
        ..Default::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let live = runtime
        .block_on(cliniko_conformance::live::run(&options, checker))
        .map_err(|e| Unreadable(format!("the live run against {base_url} failed: {e}")))?;
    let problems = live.problems();
    if live.report.exchanges.is_empty() || !live.failed.is_empty() || !live.refused.is_empty() {
        return Err(anyhow!(Unreadable(format!(
            "the live run against {base_url} could not read the API: {}",
            if problems.is_empty() {
                "no exchange was recorded".to_owned()
            } else {
                problems.join("; ")
            }
        ))));
    }
    eprintln!(
        "live --read-only: {} exchange{} recorded in {}",
        live.report.exchanges.len(),
        plural(live.report.exchanges.len()),
        folder.display()
    );
    Ok(())
}

/// Every exchange in `paths`; any unreadable file, or none at all, is exit 2.
fn read_exchanges(paths: &[PathBuf]) -> anyhow::Result<Vec<Read>> {
    let (files, errors) = cliniko_conformance::recording_files(paths);
    if let Some(error) = errors.first() {
        return Err(anyhow!(Unreadable(error.to_string())));
    }
    let mut out = Vec::new();
    for file in &files {
        let exchanges = cliniko_conformance::read_recording(file)
            .map_err(|e| anyhow!(Unreadable(e.to_string())))?;
        let name = file.display().to_string();
        out.extend(exchanges.into_iter().map(|exchange| Read {
            file: name.clone(),
            exchange,
        }));
    }
    if out.is_empty() {
        return Err(anyhow!(Unreadable(format!(
            "no exchange found in {}: looked for *.json recordings and *.har files",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))));
    }
    Ok(out)
}

/// Where heal saves the exchanges it healed from, for CI to check.
const EVIDENCE_DIR: &str = "tests/recordings/healed";

/// Saves one failing exchange per operation and status, scrubbed again (a HAR file given by hand
/// may not have been), as `VERSION-NN-OPERATION-STATUS.json` under [`EVIDENCE_DIR`].
fn save_evidence(
    root: &Path,
    failing: &[(&Read, Verdict)],
    version: &semver::Version,
) -> anyhow::Result<Vec<String>> {
    let folder = root.join(EVIDENCE_DIR);
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {EVIDENCE_DIR}"))?;
    let key = std::env::var(API_KEY_VARIABLE).unwrap_or_default();
    let scrubber = cliniko_conformance::scrub::Scrubber::new(&key);
    let mut kept = std::collections::BTreeSet::new();
    let mut saved = Vec::new();
    for (read, verdict) in failing {
        let operation = verdict.operation.as_deref().unwrap_or("unknown");
        if !kept.insert((operation.to_owned(), verdict.status)) {
            continue;
        }
        let name = format!(
            "{version}-{:02}-{operation}-{}.json",
            kept.len(),
            verdict.status
        );
        let recorded = scrubber.exchange(&read.exchange).to_recorded();
        let mut text =
            serde_json::to_string_pretty(&recorded).context("cannot write a recording")?;
        text.push('\n');
        write_atomically(&folder.join(&name), &text)?;
        saved.push(format!("{EVIDENCE_DIR}/{name}"));
    }
    Ok(saved)
}

/// One line per kind of failure: the request without its query (filters may name a patient),
/// the status, what failed where (list indexes as `*`), how often, and in which recordings. No
/// value from a body or header is shown.
fn evidence_lines(failing: &[(&Read, Verdict)]) -> String {
    let mut groups: std::collections::BTreeMap<(String, String, u16, String, String), Vec<&str>> =
        std::collections::BTreeMap::new();
    for (read, verdict) in failing {
        for violation in &verdict.violations {
            let pointer = violation
                .pointer()
                .map(|pointer| {
                    pointer
                        .split('/')
                        .map(|token| {
                            if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
                                "*"
                            } else {
                                token
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_else(|| "(the response)".to_owned());
            groups
                .entry((
                    verdict
                        .operation
                        .clone()
                        .unwrap_or_else(|| verdict.path.clone()),
                    verdict.method.clone(),
                    verdict.status,
                    violation.kind().to_string(),
                    pointer,
                ))
                .or_default()
                .push(file_name(&read.file));
        }
    }
    let mut out = String::new();
    for ((operation, method, status, kind, pointer), files) in groups {
        let mut distinct: Vec<&str> = files.clone();
        distinct.dedup();
        let shown: Vec<String> = distinct.iter().take(3).map(|f| format!("`{f}`")).collect();
        let _ = writeln!(
            out,
            "- {operation} (`{method}`) → {status}: {kind} at `{pointer}`, {} time{} in {} recording{} ({}{})",
            files.len(),
            plural(files.len()),
            distinct.len(),
            plural(distinct.len()),
            shown.join(", "),
            if distinct.len() > 3 { ", …" } else { "" },
        );
    }
    out
}

fn file_name(path: &str) -> &str {
    Path::new(path)
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or(path)
}

/// What a heal found and changed, for the pull-request body.
struct Plan<'a> {
    failing: &'a [(&'a Read, Verdict)],
    suggestions: &'a Suggestions,
    changes: &'a [Change],
    bump: Bump,
    version: &'a semver::Version,
    next: &'a semver::Version,
    differences_added: Vec<String>,
    exchanges: usize,
    /// The recordings saved under [`EVIDENCE_DIR`], relative to the workspace.
    saved: Vec<String>,
}

impl Plan<'_> {
    fn body(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Heal the spec from Cliniko's answers: {} change{}, version {} → {}\n",
            self.changes.len(),
            plural(self.changes.len()),
            self.version,
            self.next
        );
        let _ = writeln!(
            out,
            "`cargo xtask heal` read {} exchange{}; {} did not conform to `{SPEC_PATH}`. \
             This pull request widens the spec to what Cliniko sent, and only that: nothing the \
             traffic did not show is removed or narrowed. After the change every one of those \
             exchanges conforms (heal checked them again before writing).\n",
            self.exchanges,
            plural(self.exchanges),
            self.failing.len(),
        );
        let _ = writeln!(out, "## What Cliniko sent that the spec did not allow\n");
        let _ = writeln!(
            out,
            "Each line is a kind of failure: the operation, what failed where, how often and in \
             which recordings. No value is quoted (the recordings are scrubbed, and no key or \
             personal data reaches this text).\n"
        );
        out.push_str(&evidence_lines(self.failing));
        if !self.saved.is_empty() {
            let _ = writeln!(
                out,
                "\nOne exchange of each failing operation and status is saved, scrubbed, in \
                 `{EVIDENCE_DIR}` ({}), so that this pull request's CI checks it against the \
                 regenerated types (`cliniko-conformance check tests/recordings`, the round trip \
                 included).",
                self.saved
                    .iter()
                    .map(|file| format!("`{}`", file_name(file)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(out, "\n## The spec changes\n");
        let _ = writeln!(out, "| Proposal | Where | Evidence |\n|---|---|---|");
        for item in &self.suggestions.items {
            if item.kind == "never_seen" {
                continue;
            }
            let _ = writeln!(
                out,
                "| {} | `{}` | {} |",
                item.kind,
                item.pointer,
                item.message.replace('|', "\\|").replace('\n', " ")
            );
        }
        let _ = writeln!(
            out,
            "\n`spec-diff` classifies them (profile `ours`, the generated Rust client; `strict` for \
             any generator):\n"
        );
        let _ = writeln!(out, "| Change | Where | Ours | Strict |\n|---|---|---|---|");
        for change in self.changes {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                change.summary().replace('|', "\\|"),
                change.location,
                level(change.level(Profile::Ours)),
                level(change.level(Profile::Strict)),
            );
        }
        let _ = writeln!(
            out,
            "\nVersion bump: **{}** ({} → {}), as `spec-diff` requires for these changes.\n",
            bump_name(self.bump),
            self.version,
            self.next
        );
        let _ = writeln!(out, "## `spec/DIFFERENCES.md` lines added\n");
        if self.differences_added.is_empty() {
            let _ = writeln!(out, "None.");
        } else {
            let _ = writeln!(out, "```markdown");
            for line in &self.differences_added {
                let _ = writeln!(out, "{line}");
            }
            let _ = writeln!(out, "```");
        }
        let _ = writeln!(
            out,
            "\nThe regenerated client, types and CLI are in this pull request (`cargo xtask \
             codegen`); its CI runs the tests, the outside tools and `spec-diff` as for any change."
        );
        out
    }
}

fn level(level: Level) -> &'static str {
    match level {
        Level::Breaking => "breaking",
        Level::Warning => "warning",
        Level::Info => "info",
    }
}

fn bump_name(bump: Bump) -> &'static str {
    match bump {
        Bump::None => "none",
        Bump::Patch => "patch",
        Bump::Minor => "minor",
        Bump::Major => "major",
    }
}

/// A reason in `spec/differences-reasons.yaml` for each difference from Cliniko's document that
/// the heal created: the evidence is the reason, and `codegen --strict` (CI) then accepts it.
fn give_reasons(root: &Path, healed: &Spec, plan: &Plan<'_>) -> anyhow::Result<()> {
    let unexplained = crate::spec_diff::unexplained_differences(root, healed)?;
    if unexplained.is_empty() {
        return Ok(());
    }
    let path = root.join(REASONS_PATH);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {REASONS_PATH}"))?;
    let mut selectors = Vec::new();
    for change in &unexplained {
        let selector =
            serde_json::json!({ "kind": change.kind.to_string(), "where": change.place() });
        if !selectors.contains(&selector) {
            selectors.push(selector);
        }
    }
    let reason = serde_json::json!({
        "title": format!("Seen in Cliniko's answers (cargo xtask heal, version {})", plan.next),
        "why": format!(
            "Cliniko answered {} exchange{} in a way its published document does not allow; \
             the spec follows what Cliniko sends. The pull request that made this change lists \
             the exchanges.",
            plan.failing.len(),
            plural(plan.failing.len())
        ),
        "differences": selectors,
    });
    let patch: json_patch::Patch = serde_json::from_value(serde_json::json!([
        { "op": "add", "path": "/reasons/-", "value": reason }
    ]))
    .context("cannot build the reasons patch")?;
    let edited = edit::apply(&text, REASONS_PATH, &patch)?;
    write_atomically(&path, &edited)?;
    let left = crate::spec_diff::unexplained_differences(root, healed)?;
    if !left.is_empty() {
        bail!(
            "{} difference{} from Cliniko's document still {} no reason after the heal added one",
            left.len(),
            plural(left.len()),
            if left.len() == 1 { "has" } else { "have" }
        );
    }
    Ok(())
}

/// Sets every workspace crate at `from` to `to`: each `[package] version` and each
/// `[workspace.dependencies]` entry that names it.
fn set_version(root: &Path, from: &semver::Version, to: &semver::Version) -> anyhow::Result<()> {
    let from = from.to_string();
    let to = to.to_string();
    let mut manifests = vec![root.join("Cargo.toml")];
    let crates = root.join("crates");
    let mut members: Vec<PathBuf> = std::fs::read_dir(&crates)
        .with_context(|| format!("cannot read {}", crates.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("Cargo.toml")))
        .filter(|path| path.is_file())
        .collect();
    members.sort();
    manifests.extend(members);
    let mut bumped = std::collections::BTreeSet::new();
    for manifest in manifests {
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("cannot read {}", manifest.display()))?;
        let mut document: toml_edit::DocumentMut = text
            .parse()
            .with_context(|| format!("{} is not valid TOML", manifest.display()))?;
        let mut changed = false;
        let name = document
            .get("package")
            .and_then(|package| package.get("name"))
            .and_then(|name| name.as_str())
            .map(str::to_owned);
        if let Some(version) = document
            .get_mut("package")
            .and_then(|package| package.get_mut("version"))
            && version.as_str() == Some(from.as_str())
        {
            *version = toml_edit::value(to.as_str());
            changed = true;
            bumped.extend(name);
        }
        if let Some(dependencies) = document
            .get_mut("workspace")
            .and_then(|w| w.get_mut("dependencies"))
            .and_then(|d| d.as_table_like_mut())
        {
            for (_, dependency) in dependencies.iter_mut() {
                if !dependency_is_path(dependency) {
                    continue;
                }
                if let Some(version) = dependency
                    .as_table_like_mut()
                    .and_then(|table| table.get_mut("version"))
                    && version.as_str() == Some(from.as_str())
                {
                    *version = toml_edit::value(to.as_str());
                    changed = true;
                }
            }
        }
        if changed {
            write_atomically(&manifest, &document.to_string())?;
        }
    }
    // Cargo.lock names the workspace's packages with their versions (and no `source`): the same
    // bump there, so that a `--locked` build of the healed workspace needs no lock update.
    let lock = root.join("Cargo.lock");
    if lock.is_file() {
        let text = std::fs::read_to_string(&lock).context("cannot read Cargo.lock")?;
        let mut document: toml_edit::DocumentMut =
            text.parse().context("Cargo.lock is not valid TOML")?;
        let mut changed = false;
        if let Some(packages) = document
            .get_mut("package")
            .and_then(|p| p.as_array_of_tables_mut())
        {
            for package in packages.iter_mut() {
                let ours = package.get("source").is_none()
                    && package
                        .get("name")
                        .and_then(|n| n.as_str())
                        .is_some_and(|n| bumped.contains(n));
                if ours
                    && let Some(version) = package.get_mut("version")
                    && version.as_str() == Some(from.as_str())
                {
                    *version = toml_edit::value(to.as_str());
                    changed = true;
                }
            }
        }
        if changed {
            write_atomically(&lock, &document.to_string())?;
        }
    }
    Ok(())
}

fn dependency_is_path(dependency: &toml_edit::Item) -> bool {
    dependency
        .as_table_like()
        .is_some_and(|table| table.contains_key("path"))
}

fn read_optional(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The lines of `after` that `before` lacks, in order.
fn added_lines(before: &str, after: &str) -> Vec<String> {
    similar::TextDiff::from_lines(before, after)
        .iter_all_changes()
        .filter(|change| change.tag() == similar::ChangeTag::Insert)
        .map(|change| change.value().trim_end_matches('\n').to_owned())
        .filter(|line| !line.trim().is_empty())
        .collect()
}

fn emit_body(body: &str, file: Option<&Path>) -> anyhow::Result<()> {
    print!("{body}");
    if let Some(file) = file {
        write_atomically(file, body)?;
    }
    Ok(())
}
