//! The one error of the `flowmine` crate: each variant says what failed and names the file
//! (and offset, where there is one) it failed on, in one line. What stops the engine is
//! [`Error::Core`], what the forest refuses [`Error::Forest`]; the stages of this crate
//! (store, shards, labelling, experiments, MIRAGE import, collection) each have their
//! variants here, so the binary prints every error the same way and picks its exit status
//! from it. Every module may return it; it imports nothing of theirs but a file name.
//!
//! Messages never name command-line options: the binary adds those hints (an existing
//! output, [`Error::Exists`], gets "pass --overwrite"; a bad [`Error::Setting`], and the
//! setting an [`Error::Needs`] asks for, are named as the option that sets them).

use std::path::PathBuf;

use flowmine_core::capture::Damage;
use flowmine_forest::ForestError;
use polars::prelude::PolarsError;

/// See the [module documentation](self).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// What stopped the engine: inputs that cannot be read, strict mode, a shard that
    /// cannot be joined (a run state that cannot be used is [`Error::Resume`]).
    #[error(transparent)]
    Core(flowmine_core::Error),
    /// The random forest refused its training data or rows.
    #[error("random forest: {0}")]
    Forest(#[from] ForestError),

    // Files.
    /// A file or directory that could not be read or written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A Parquet, Arrow or CSV file that Polars could not read or write.
    #[error("{}: {source}", path.display())]
    Polars { path: PathBuf, source: PolarsError },
    /// A table computation in memory (no file involved) that failed.
    #[error(transparent)]
    Frame(#[from] PolarsError),
    /// An input file that was read but cannot be used; `what` says why.
    #[error("{}: {what}", path.display())]
    Input { path: PathBuf, what: String },
    /// An output that cannot be written; `what` says why.
    #[error("{}: {what}", path.display())]
    Output { path: PathBuf, what: String },
    /// An output file that exists already.
    #[error("{}: exists already", .0.display())]
    Exists(PathBuf),
    /// An output directory that already holds files.
    #[error("{}: the directory already holds files", .0.display())]
    NotEmptyDir(PathBuf),

    // Settings.
    /// Arguments that do not fit together (exit status 2).
    #[error("{0}")]
    Usage(String),
    /// Settings that do not fit the data (e.g. no such column).
    #[error("{0}")]
    Config(String),
    /// One setting with a value it cannot take; `name` is the field of the job's
    /// configuration that holds it.
    #[error("{name} {value}: {what}")]
    Setting { name: &'static str, value: String, what: String },

    // Flow stores.
    /// A directory for a new store that already holds files.
    #[error("{}: the store directory already holds files", .0.display())]
    NotEmpty(PathBuf),
    /// A directory for a new store that holds the store of an interrupted run.
    #[error("{}: holds an interrupted run", .0.display())]
    Interrupted(PathBuf),
    /// A store whose interrupted run cannot be resumed; `what` says why.
    #[error("{}: cannot resume: {what}", path.display())]
    CannotResume { path: PathBuf, what: String },
    /// A store directory holding files that no store run wrote.
    #[error("{}: holds files that are not part of a flow store ({}); refusing to overwrite", path.display(), example.display())]
    Foreign { path: PathBuf, example: PathBuf },
    /// The checkpoint of an interrupted run cannot be used.
    #[error("{}: cannot resume: {source}", store.display())]
    Resume { store: PathBuf, source: flowmine_core::Error },
    /// Resuming with other flow parameters than the interrupted run's.
    #[error("{}: cannot resume with other parameters than the interrupted run's ({what})", store.display())]
    ResumeParameters { store: PathBuf, what: String },

    // Shards and their merge.
    /// A directory given to merge that holds no finished shard.
    #[error("{}: not a finished shard (no {}): its run did not finish, or this is not a partial store", .0.display(), crate::store::writer::SHARD_FILE)]
    Unfinished(PathBuf),
    /// Two partial stores that are the same shard.
    #[error("{} and {} are both shard {shard} of {shards}", first.display(), second.display())]
    RepeatedShard { shard: usize, shards: usize, first: PathBuf, second: PathBuf },
    /// A shard missing from a merge.
    #[error("shard {shard} of {shards} is missing")]
    MissingShard { shard: usize, shards: usize },
    /// A shard made with other flow parameters than the first one.
    #[error("{} was made with other parameters than {} ({what})", path.display(), first.display())]
    ShardParameters { path: PathBuf, first: PathBuf, what: String },
    /// A shard made from another input list than the first one.
    #[error("{} was made from another input list than {}", path.display(), first.display())]
    ShardInputs { path: PathBuf, first: PathBuf },
    /// A shard whose flows cannot be joined to those of the shards before it.
    #[error("{}: {source}", path.display())]
    Join { path: PathBuf, source: flowmine_core::Error },

    // Labelling.
    /// Strace logs of which no line could be read.
    #[error("no line of the strace logs could be read ({lines} lines, first problem: {first})")]
    NothingParsed { lines: usize, first: String },
    /// An estimated clock offset without the pairs to estimate it from.
    #[error("clock offset: no connect/SYN or sendto/datagram pair found to estimate it from; give it in seconds")]
    NoOffsetPairs,

    // Collecting sessions from a phone.
    /// A check before the session failed; the message says what to fix.
    #[error("{0}")]
    Check(String),
    /// A check before the session failed that a setting can answer; the binary names the
    /// option that gives it.
    #[error("{what}")]
    Needs { what: String, setting: &'static str },
    /// A tool that could not be started.
    #[error("cannot run {program}: {source} (is it installed and on PATH?)")]
    Spawn { program: String, source: std::io::Error },
    /// tcpdump did not capture.
    #[error("tcpdump cannot capture: {0}")]
    Tcpdump(String),
    /// strace on the phone failed.
    #[error("strace: {0}")]
    Strace(String),
    /// The phone went away during a session and did not come back.
    #[error("phone {serial} disconnected at {since} ({said}) and did not come back within {waited} s")]
    Disconnected { serial: String, since: String, said: String, waited: u64 },
    /// A file on the phone that could not be pulled.
    #[error("cannot pull {remote} from phone {serial}: {said}")]
    Pull { serial: String, remote: String, said: String },
    /// A session's capture that is damaged.
    #[error("{}: the capture is damaged at {damage}", path.display())]
    Capture { path: PathBuf, damage: Damage },
    /// A session folder that exists already.
    #[error("{}: already holds a session", .0.display())]
    SessionExists(PathBuf),
    /// A session's manifest that could not be written.
    #[error("writing the manifest: {0}")]
    Manifest(String),
    /// The session of `app` that failed (in a batch, the others are still recorded).
    #[error("{app}: {source}")]
    Session { app: String, source: Box<Error> },
    /// A session that failed after its capture started; `kept` says what is on disk.
    #[error("{cause}; kept in {}: {kept}", dir.display())]
    Stopped { cause: Box<Error>, dir: PathBuf, kept: String },
}

/// The crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error for a file that could not be read or written.
    pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io { path: path.to_owned(), source }
    }

    /// An error for a file that Polars could not read or write.
    pub fn polars(path: &std::path::Path) -> impl FnOnce(PolarsError) -> Error + '_ {
        move |source| Error::Polars { path: path.to_owned(), source }
    }

    /// An input at `path` that cannot be used, for `what` reason.
    pub fn input(path: &std::path::Path, what: impl std::fmt::Display) -> Error {
        Error::Input { path: path.to_owned(), what: what.to_string() }
    }

    /// An output at `path` that cannot be written, for `what` reason.
    pub fn output(path: &std::path::Path, what: impl std::fmt::Display) -> Error {
        Error::Output { path: path.to_owned(), what: what.to_string() }
    }

    /// The setting `name` cannot take `value`, for `what` reason.
    pub fn setting(name: &'static str, value: impl std::fmt::Display, what: impl Into<String>) -> Error {
        Error::Setting { name, value: value.to_string(), what: what.into() }
    }

    /// Whether the arguments were wrong rather than the run (exit status 2, not 1).
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }
}

/// The one conversion of the engine's error.
impl From<flowmine_core::Error> for Error {
    fn from(e: flowmine_core::Error) -> Self {
        if e.is_state() {
            // Only store runs resume, and they map this error with the store's path.
            Error::Resume { store: PathBuf::new(), source: e }
        } else {
            Error::Core(e)
        }
    }
}

impl From<std::convert::Infallible> for Error {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}
