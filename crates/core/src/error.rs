//! The one error of the engine: what stopped a call, naming the file (and offset, where
//! there is one) it stopped on. A leaf: every module may return it, it imports none.
//!
//! Not every problem is an error: a damaged stretch of a capture, a packet the decoder
//! cannot read ([`wire::Unreadable`](crate::wire::Unreadable)) or of an unknown link type is
//! counted in the run's report and the run goes on. Only what stops a run is here.
//!
//! Functions that hand flows to a caller's sink ([`scan`](crate::scan::scan),
//! [`handoff::scan_shard`](crate::handoff::scan_shard)) return the sink's own error type
//! `E: From<Error>`, so the caller gets its sink's errors back unwrapped.

use std::path::PathBuf;

/// See the [module documentation](self).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory that could not be read.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// An output given as a writer failed; `what` says which (the caller knows its path).
    #[error("{what}: {source}")]
    Write { what: &'static str, source: std::io::Error },
    #[error("no input given")]
    NoInput,
    /// A FIFO, socket or device given as an input: it cannot be mapped, and opening a
    /// FIFO waits for a writer.
    #[error("{}: not a regular file or directory", path.display())]
    NotRegular { path: PathBuf },
    /// With [`ScanOptions::strict`](crate::scan::ScanOptions::strict): the first file with
    /// input that could not be used.
    #[error("{}: offset {offset}: {what} (strict mode: the run stops here)", path.display())]
    Strict { path: PathBuf, offset: u64, what: String },
    /// A run state (checkpoint or shard hand-off) that is not one.
    #[error("not a flowmine run state (magic or layout version differs)")]
    NotAState,
    /// A run state cut short or damaged at byte `offset` of the state.
    #[error("run state cut short or corrupt at byte {offset}")]
    CorruptState { offset: usize },
    /// A run state taken over other inputs than the run resuming from it.
    #[error(
        "input {index} is not the one the interrupted run read: it read {} ({then} bytes), this run has {} ({now} bytes)",
        was.display(), is.display()
    )]
    InputsChanged { index: usize, was: PathBuf, then: u64, is: PathBuf, now: u64 },
    /// A shard cannot be joined to the ones before it with the flows of a single run.
    #[error("cannot join exactly: {0}")]
    NotExact(String),
    /// Packets of several link types for one pcap file, which holds one.
    #[error("the app's packets have link types {0} and {1}; a pcap file holds one")]
    MixedLinkTypes(u16, u16),
    /// A long-lived flow's entries could not be moved out of memory or read back.
    #[error("spill file in {}: offset {offset}: {what}", dir.display())]
    Spill { dir: PathBuf, offset: u64, what: String },
}

/// The engine's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error for a file that could not be read.
    pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io { path: path.to_owned(), source }
    }

    /// An error writing the output `what` (e.g. "writing the slice").
    pub fn write(what: &'static str) -> impl FnOnce(std::io::Error) -> Error {
        move |source| Error::Write { what, source }
    }

    /// Whether a run state could not be used (the caller names the state's file).
    pub fn is_state(&self) -> bool {
        matches!(self, Error::NotAState | Error::CorruptState { .. } | Error::InputsChanged { .. })
    }
}
