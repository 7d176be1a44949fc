//! What a command prints: a table for people, JSON for scripts (`--output json`).

use std::io::Write;

use anyhow::Context as _;
use cliniko_client::{ResponseExt as _, ResponseValue};
use cliniko_types::facts::Operation;
use cliniko_types::{Attendee, AttendeeList, Id};
use comfy_table::{Table, presets};

use crate::generated_cli::CSV_COLUMNS;

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

    /// A list starts.
    pub fn list_start(&mut self) -> anyhow::Result<()> {
        self.list = ListState::default();
        Ok(())
    }

    /// One page of a list; `last` when no page follows. One page alone prints as Cliniko's page
    /// body in JSON; several (`--all`) as one JSON array of their attendees.
    pub fn list_page(&mut self, page: &AttendeeList, last: bool) -> anyhow::Result<()> {
        let first = self.list.pages == 0;
        self.list.pages += 1;
        self.list.shown += page.attendees.len() as u64;
        match self.format {
            Format::Json if first && last => {
                serde_json::to_writer_pretty(&mut self.out, page)?;
                writeln!(self.out)?;
            }
            Format::Json => {
                for (index, attendee) in page.attendees.iter().enumerate() {
                    let separator = if first && index == 0 {
                        "[\n  "
                    } else {
                        ",\n  "
                    };
                    write!(self.out, "{separator}")?;
                    serde_json::to_writer(&mut self.out, attendee)?;
                }
                if first && page.attendees.is_empty() {
                    write!(self.out, "[")?;
                }
                if last {
                    writeln!(self.out, "\n]")?;
                }
            }
            Format::Table => {
                let table = self.list.rows.get_or_insert_with(|| {
                    let mut table = Table::new();
                    table.load_preset(presets::NOTHING).set_header(vec![
                        "ID", "PATIENT", "BOOKING", "ARRIVED", "STATE", "UPDATED",
                    ]);
                    table
                });
                for attendee in &page.attendees {
                    table.add_row(row(attendee));
                }
                if last {
                    write_table(&mut self.out, table)?;
                    writeln!(
                        self.out,
                        "{} of {} attendees{}",
                        self.list.shown,
                        page.total_entries,
                        if page.links.next.is_some() {
                            " (more with --page or --all)"
                        } else {
                            ""
                        }
                    )?;
                }
            }
        }
        Ok(())
    }

    /// One attendee, as a get, create or update answered it.
    pub fn item(
        &mut self,
        operation: &Operation,
        response: &ResponseValue<Attendee>,
    ) -> anyhow::Result<()> {
        let attendee: &Attendee = response;
        match self.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut self.out, attendee)?;
                writeln!(self.out)?;
            }
            Format::Table => {
                let mut table = Table::new();
                table.load_preset(presets::NOTHING);
                let json = serde_json::to_value(attendee).context("an attendee is JSON")?;
                for column in CSV_COLUMNS {
                    table.add_row(vec![column.to_string(), cell(&json, column)]);
                }
                if operation.method == "POST" {
                    if let Some(location) = response.location() {
                        table.add_row(vec!["location".to_owned(), location.to_string()]);
                    }
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

/// A list row: the IDs of the linked patient and booking are the last segments of their links.
fn row(attendee: &Attendee) -> Vec<String> {
    let last_segment = |url: &str| url.rsplit('/').next().unwrap_or_default().to_owned();
    let state = if attendee.archived_at.is_some() || attendee.deleted_at.is_some() {
        "archived"
    } else if attendee.cancelled_at.is_some() {
        "cancelled"
    } else {
        "active"
    };
    vec![
        attendee.id.to_string(),
        last_segment(&attendee.patient.links.self_),
        last_segment(&attendee.booking.links.self_),
        attendee
            .arrived
            .map_or_else(|| "-".to_owned(), |arrived| arrived.to_string()),
        state.to_owned(),
        attendee
            .updated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    ]
}

/// The text of a flattened column (`booking.links.self`) of a record as JSON: empty when null or
/// absent, strings as they are, anything else as JSON.
pub fn cell(record: &serde_json::Value, column: &str) -> String {
    let pointer = format!("/{}", column.replace('.', "/"));
    match record.pointer(&pointer) {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}
