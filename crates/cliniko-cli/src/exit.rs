//! How a command ends: a usage mistake ([`Usage`], exit code 2) and the exit codes ([`Exit`]).
//! Every other module reports a mistake through this one, so none of them needs the crate root.

/// A mistake in how the command was called: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(String);

impl Usage {
    /// A usage error saying what is wrong and what to do.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// How a command ended, as a process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: it worked.
    Success = 0,
    /// 1: Cliniko refused (an error answer).
    Api = 1,
    /// 2: the command was called wrongly, or the configuration (key, base URL) is wrong.
    Usage = 2,
    /// 3: the network failed: no connection, no answer in time, or an answer cut short.
    Network = 3,
    /// 130: Ctrl-C; a sync saved its checkpoint.
    Interrupted = 130,
}

/// The exit codes, as `--help` shows them.
pub const EXIT_CODES: &str = "Exit codes: 0 ok, 1 Cliniko refused, 2 bad usage or configuration, 3 network failure, 130 interrupted";
