//! One module per subcommand.

pub mod evaluate;
pub mod features;
pub mod flows;
pub mod label;
pub mod mirage;
pub mod predict;
pub mod slice;

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
pub fn refuse_existing(out: &std::path::Path, overwrite: bool) -> Result<(), String> {
    if out.exists() && !overwrite {
        return Err(format!("{}: exists already; pass --overwrite to replace it", out.display()));
    }
    Ok(())
}

/// Prints a usage error found after parsing (one argument against another) and returns
/// clap's exit status for bad arguments.
pub fn usage_error(message: &str) -> std::process::ExitCode {
    eprintln!("flowmine: error: {message}");
    std::process::ExitCode::from(EXIT_USAGE)
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
