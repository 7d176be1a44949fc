//! `--state FILE`: the data kept between runs. The file holds every record the engine has
//! written since seeding, with the seed and count they were seeded from; it is written whole
//! to a temporary file beside it and renamed over it, so a crash leaves the old file or the new
//! one, never half of one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The file's layout version; another one is refused. (Format 1 also held every attendee, from
/// when attendees were served apart from the other resources.)
const FORMAT: u32 = 2;

/// Why a state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file exists but cannot be read.
    #[error("cannot read state file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a state file of this version.
    #[error("state file {path} is not a cliniko-fake state file: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What was expected, with the JSON path where it failed.
        message: String,
    },
    /// The file was seeded differently: its records name other patients and appointments.
    #[error(
        "state file {path} was seeded with seed {found_seed} and {found_attendees} attendees, not seed {seed} and {attendees}; pass those, or another file"
    )]
    Seed {
        /// The file.
        path: PathBuf,
        /// The seed it holds.
        found_seed: u64,
        /// The count it holds.
        found_attendees: usize,
        /// The seed asked for.
        seed: u64,
        /// The count asked for.
        attendees: usize,
    },
    /// The file cannot be written.
    #[error("cannot write state file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What the file holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Saved {
    format: u32,
    pub(crate) seed: u64,
    pub(crate) attendees: usize,
    pub(crate) written: BTreeMap<String, BTreeMap<i64, Option<Map<String, Value>>>>,
}

impl Saved {
    pub(crate) fn new(
        seed: u64,
        attendees: usize,
        written: BTreeMap<String, BTreeMap<i64, Option<Map<String, Value>>>>,
    ) -> Self {
        Self {
            format: FORMAT,
            seed,
            attendees,
            written,
        }
    }
}

/// Reads a state file; `None` when there is none yet.
pub(crate) fn load(path: &Path, seed: u64, attendees: usize) -> Result<Option<Saved>, StateError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let malformed = |message: String| StateError::Malformed {
        path: path.to_owned(),
        message,
    };
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    let saved: Saved = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| malformed(format!("at {}: {}", error.path(), error.inner())))?;
    if saved.format != FORMAT {
        return Err(malformed(format!(
            "format {} (this fake reads format {FORMAT})",
            saved.format
        )));
    }
    if saved.seed != seed || saved.attendees != attendees {
        return Err(StateError::Seed {
            path: path.to_owned(),
            found_seed: saved.seed,
            found_attendees: saved.attendees,
            seed,
            attendees,
        });
    }
    Ok(Some(saved))
}

/// Writes the state atomically: a temporary file beside `path`, synced, then renamed over it.
pub(crate) fn save(path: &Path, saved: &Saved) -> Result<(), StateError> {
    let write_error = |source| StateError::Write {
        path: path.to_owned(),
        source,
    };
    let bytes = serde_json::to_vec(saved).map_err(|e| write_error(std::io::Error::other(e)))?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let result = (|| {
        use std::io::Write as _;
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.map_err(write_error)
}
