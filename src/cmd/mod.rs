//! One module per subcommand.

pub mod cluster;
pub mod evaluate;
pub mod features;
pub mod flows;
pub mod label;
pub mod mirage;
pub mod predict;
pub mod slice;

/// Something failed; nothing usable was written.
pub const EXIT_FAILED: u8 = 1;
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
