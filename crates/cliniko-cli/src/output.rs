//! What a command prints: a table for people, JSON for scripts (`--output json`).

use std::io::Write;

use anyhow::Context as _;
use cliniko_client::{ResponseExt as _, ResponseValue};
use cliniko_types::Id;
use cliniko_types::facts::Operation;
use comfy_table::{Table, presets};
use serde::Serialize;

/// One column of a record as a table or CSV shows it: a flattened property, or the ID at the end
/// of a link (`patient_id` from `patient.links.self`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The header.
    pub name: &'static str,
    /// Where the value is in the record's JSON (a JSON pointer).
    pub pointer: &'static str,
    /// Whether the value is a link whose last segment (the linked record's ID) is shown.
    pub link_id: bool,
}

impl Column {
    /// The text of this column of `record` (as JSON): empty when null or absent, strings as they
    /// are, anything else as JSON.
    pub fn cell(&self, record: &serde_json::Value) -> String {
        match record.pointer(self.pointer) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(text)) if self.link_id => {
                text.rsplit('/').next().unwrap_or_default().to_owned()
            }
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        }
    }
}

/// A record a command prints; implemented for each resource by the generated command tree, with
/// columns derived from the spec's schema.
pub trait Record: Serialize {
    /// The resource, singular (`attendee`).
    const SINGULAR: &'static str;
    /// The resource, plural (`attendees`).
    const PLURAL: &'static str;
    /// Every column: the ID, the linked IDs, then every property, nested objects flattened.
    const COLUMNS: &'static [Column];
    /// The columns of a list's table.
    const SUMMARY: &'static [Column];
    /// The time fields whose presence makes a record archived or cancelled, for the STATE column.
    const STATE_FIELDS: &'static [&'static str];
}

/// A page of records, as a list answers.
pub trait Page: Serialize {
    /// The records' type.
    type Item: Record;
    /// The records on this page.
    fn items(&self) -> &[Self::Item];
    /// How many records the list holds in all.
    fn total_entries(&self) -> u64;
    /// Whether another page follows.
    fn has_next(&self) -> bool;
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// JSON for scripts: records exactly as Cliniko sent them.
    Json,
}

/// Where results go, and how they look.
pub struct Output {
    format: Format,
    out: Box<dyn Write + Send>,
    list: ListState,
}

#[derive(Default)]
struct ListState {
    pages: u64,
    rows: Option<Table>,
    shown: u64,
    /// With `--all` on a terminal: a spinner on stderr with the pages read and the client's
    /// waits, so that a long list never looks hung.
    spinner: Option<(indicatif::ProgressBar, tokio::task::JoinHandle<()>)>,
}

impl Drop for ListState {
    fn drop(&mut self) {
        if let Some((bar, watcher)) = self.spinner.take() {
            watcher.abort();
            bar.finish_and_clear();
        }
    }
}

impl Output {
    /// Prints in `format` to `out`.
    pub fn new(format: Format, out: impl Write + Send + 'static) -> Self {
        Self {
            format,
            out: Box::new(out),
            list: ListState::default(),
        }
    }

    /// The format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// A list starts; with `all` (every page), a spinner on stderr when it is a terminal.
    pub fn list_start(&mut self, client: &cliniko_client::Client, all: bool) -> anyhow::Result<()> {
        self.list = ListState::default();
        if all && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            let bar = indicatif::ProgressBar::new_spinner();
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {msg}{prefix}",
            ) {
                bar.set_style(style);
            }
            bar.set_message("reading the first page");
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
            let watcher = tokio::spawn(crate::progress::watch_bar(client.clone(), bar.clone()));
            self.list.spinner = Some((bar, watcher));
        }
        Ok(())
    }

    /// One page of a list; `last` when no page follows. In JSON a page prints as Cliniko's
    /// page object; with `--all` (`all`) each record prints as one line (JSON Lines), so that
    /// the shape does not depend on how many pages there were. The table's footer goes to stderr.
    pub fn list_page<P: Page>(&mut self, page: &P, all: bool, last: bool) -> anyhow::Result<()> {
        self.list.pages += 1;
        self.list.shown += page.items().len() as u64;
        if let Some((bar, _)) = &self.list.spinner {
            bar.set_message(format!(
                "{} of {} {}",
                self.list.shown,
                page.total_entries(),
                P::Item::PLURAL
            ));
            if last {
                bar.finish_and_clear();
            }
        }
        match self.format {
            Format::Json if all => {
                for record in page.items() {
                    serde_json::to_writer(&mut self.out, record)?;
                    writeln!(self.out)?;
                }
            }
            Format::Json => {
                serde_json::to_writer_pretty(&mut self.out, page)?;
                writeln!(self.out)?;
            }
            Format::Table => {
                let table = self.list.rows.get_or_insert_with(|| {
                    let mut table = Table::new();
                    let mut header: Vec<String> = P::Item::SUMMARY
                        .iter()
                        .map(|column| column.name.to_uppercase())
                        .collect();
                    if !P::Item::STATE_FIELDS.is_empty() {
                        header.insert(header.len().saturating_sub(1), "STATE".to_owned());
                    }
                    table.load_preset(presets::NOTHING).set_header(header);
                    table
                });
                for record in page.items() {
                    table.add_row(row(record)?);
                }
                if last {
                    write_table(&mut self.out, table)?;
                    let noun = if page.total_entries() == 1 {
                        P::Item::SINGULAR
                    } else {
                        P::Item::PLURAL
                    };
                    eprintln!(
                        "{} of {} {noun}{}",
                        self.list.shown,
                        page.total_entries(),
                        if page.has_next() {
                            " (more with --page or --all)"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
        Ok(())
    }

    /// One record, as a get, create or update answered it.
    pub fn item<T: Record>(
        &mut self,
        operation: &Operation,
        response: &ResponseValue<T>,
    ) -> anyhow::Result<()> {
        let record: &T = response;
        match self.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut self.out, record)?;
                writeln!(self.out)?;
            }
            Format::Table => {
                let mut table = Table::new();
                table.load_preset(presets::NOTHING);
                let json = serde_json::to_value(record).context("a record is JSON")?;
                for column in T::COLUMNS {
                    table.add_row(vec![column.name.to_string(), column.cell(&json)]);
                }
                if operation.method == "POST"
                    && let Some(location) = response.location()
                {
                    table.add_row(vec!["location".to_owned(), location.to_string()]);
                }
                write_table(&mut self.out, &table)?;
            }
        }
        Ok(())
    }

    /// An operation without a body succeeded.
    pub fn done(&mut self, group: &str, command: &str, id: Option<Id>) -> anyhow::Result<()> {
        match self.format {
            Format::Json => {
                let json = serde_json::json!({
                    "command": format!("{group} {command}"),
                    "id": id.map(|id| id.to_string()),
                    "done": true,
                });
                writeln!(self.out, "{json}")?;
            }
            Format::Table => match id {
                Some(id) => writeln!(self.out, "{group} {command} {id}: done")?,
                None => writeln!(self.out, "{group} {command}: done")?,
            },
        }
        Ok(())
    }

    /// A line of text for people, or a JSON object for scripts.
    pub fn summary(&mut self, text: &str, json: serde_json::Value) -> anyhow::Result<()> {
        match self.format {
            Format::Json => writeln!(self.out, "{json}")?,
            Format::Table => writeln!(self.out, "{text}")?,
        }
        Ok(())
    }

    /// Flushes what was printed.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

/// A table without the padding comfy-table leaves at the end of each line.
fn write_table(out: &mut dyn Write, table: &Table) -> anyhow::Result<()> {
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// A list row: the summary columns, with the record's state before the last.
fn row<T: Record>(record: &T) -> anyhow::Result<Vec<String>> {
    let json = serde_json::to_value(record).context("a record is JSON")?;
    let mut cells: Vec<String> = T::SUMMARY
        .iter()
        .map(|column| {
            let cell = column.cell(&json);
            if cell.is_empty() {
                "-".to_owned()
            } else {
                cell
            }
        })
        .collect();
    if !T::STATE_FIELDS.is_empty() {
        let set = |field: &str| json.get(field).is_some_and(|value| !value.is_null());
        let state = if set("archived_at") || set("deleted_at") {
            "archived"
        } else if set("cancelled_at") {
            "cancelled"
        } else {
            "active"
        };
        cells.insert(cells.len().saturating_sub(1), state.to_owned());
    }
    Ok(cells)
}
