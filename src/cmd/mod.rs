//! One module per subcommand.

pub mod cluster;
pub mod collect;
pub mod evaluate;
pub mod features;
pub mod flows;
pub mod label;
pub mod merge;
pub mod mirage;
pub mod predict;
pub mod slice;

use flowmine::Error;

/// Something failed; nothing usable was written.
pub const EXIT_FAILED: u8 = 1;
/// Bad arguments (as clap exits on its own).
pub const EXIT_USAGE: u8 = 2;
/// Complete, but some input could not be used (damaged, or an unsupported link type).
pub const EXIT_DAMAGED_INPUT: u8 = 3;

/// Prints one line per problem of each file whose input could not all be used (path,
/// offset, what was wrong) and returns the exit status of a run that finished: complete,
/// or complete with unusable input.
pub fn report_problems(files: &[flowmine::core::FileReport]) -> std::process::ExitCode {
    for f in files {
        for (offset, what) in f.problems() {
            eprintln!("flowmine: error: {}: offset {offset}: {what}", f.path.display());
        }
    }
    if files.iter().any(|f| f.has_unusable_input()) {
        std::process::ExitCode::from(EXIT_DAMAGED_INPUT)
    } else {
        std::process::ExitCode::SUCCESS
    }
}

/// An output file that exists is replaced only with `--overwrite`, as every subcommand
/// does with its output.
pub fn refuse_existing(out: &std::path::Path, overwrite: bool) -> Result<(), Error> {
    if out.exists() && !overwrite {
        return Err(Error::Exists(out.to_owned()));
    }
    Ok(())
}

/// A usage error found after parsing (one argument against another): exit status 2, as
/// clap's own.
pub fn usage_error(message: String) -> Error {
    Error::Usage(message)
}

/// Prints the error that stopped a run, in one line with the option that helps where
/// there is one, and returns its exit status: 2 for bad arguments, 1 for the rest.
pub fn report_error(e: &Error) -> std::process::ExitCode {
    eprintln!("flowmine: error: {}", said(e));
    std::process::ExitCode::from(if e.is_usage() { EXIT_USAGE } else { EXIT_FAILED })
}

/// `e` as the command line words it: a setting named as the option that sets it, with
/// the option that helps where there is one.
fn said(e: &Error) -> String {
    let option = |name: &str| format!("--{}", name.replace('_', "-"));
    match e {
        Error::Setting { name, value, what } => format!("{} {value}: {what}", option(name)),
        Error::Needs { what, setting } => format!("{what}; give it with {}", option(setting)),
        Error::Session { app, source } => format!("{app}: {}", said(source)),
        e => match hint(e) {
            Some(hint) => format!("{e}; {hint}"),
            None => e.to_string(),
        },
    }
}

/// What the command line offers against an error (the library's messages name no option).
fn hint(e: &Error) -> Option<&'static str> {
    match e {
        Error::Exists(_) => Some("pass --overwrite to replace it"),
        Error::NotEmpty(_) => Some("pass --overwrite to replace the store"),
        Error::NotEmptyDir(_) => Some("pass --overwrite to write over them"),
        Error::Interrupted(_) => Some("pass --resume to finish it, or --overwrite to start again"),
        Error::SessionExists(_) => Some("choose another --session or --out"),
        Error::Stopped { cause, .. } => hint(cause),
        _ => None,
    }
}

/// Most threads `--threads` takes. More threads than cores only add overhead (1000 threads
/// made a 0.02 s run take 4.7 s) and the results are the same for any number; a fixed
/// bound rather than the core count keeps runs with a few more threads than cores (as
/// the tests that compare thread counts make) possible.
pub const MAX_THREADS: usize = 256;

/// `--threads N`: 0 (one per core) to [`MAX_THREADS`].
pub fn parse_threads(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|_| format!("`{s}` is not a number of threads"))?;
    if n > MAX_THREADS {
        return Err(format!("{n} threads: at most {MAX_THREADS} (0 = one per core)"));
    }
    Ok(n)
}

/// A number of seconds that may be 0: finite, not negative.
pub fn parse_non_negative_seconds(s: &str) -> Result<f64, String> {
    let secs: f64 = s.parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(format!("`{s}`: seconds must be 0 or more"));
    }
    Ok(secs)
}
