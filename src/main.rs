//! The `flowmine` command: parses arguments, calls the library, prints a summary.
//! One subcommand = one module of `cmd/` = one library call.
//!
//! Exit status: 0 complete; 1 failed (nothing usable was written); 2 usage error;
//! 3 complete, but some input could not be used — damaged, or of a link type the decoder
//! does not read (the rest is in the store; the manifest and the lines printed name each
//! file, offset and what was wrong).

mod cmd;

/// Flows allocate, grow and free their per-packet arrays by the million; mimalloc runs the
/// 20 M-packet benchmark capture 1.18x faster than the system allocator, in less memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "flowmine", version, about = "Packet captures to labelled bi-directional flow datasets")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a flow store (Parquet + manifest.json) from capture files or directories.
    Flows(cmd::flows::FlowsArgs),
    /// Label an Android session's flows with its app, from strace logs of the app's sockets.
    Label(Box<cmd::label::LabelArgs>),
    /// Keep only the IP and transport headers of each packet (link type RAW, lengths kept).
    Slice(cmd::slice::SliceArgs),
    /// Per-flow ML features of a flow store, to .parquet, .arrow/.ipc or .csv.
    Features(cmd::features::FeaturesArgs),
    /// Write a flow store as MIRAGE-2019/2022-style JSON, one file per capture or label.
    ExportMirage(cmd::mirage::ExportArgs),
    /// Read MIRAGE-2019/2022 JSON files into a flow store.
    ImportMirage(cmd::mirage::ImportArgs),
    /// Random-forest experiment on features: scores, importances, charts, report, model.
    Evaluate(Box<cmd::evaluate::EvaluateArgs>),
    /// Label flows with a model saved by `evaluate`.
    Predict(cmd::predict::PredictArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Flows(args) => cmd::flows::run(args),
        Command::Label(args) => cmd::label::run(*args),
        Command::Slice(args) => cmd::slice::run(args),
        Command::Features(args) => cmd::features::run(args),
        Command::ExportMirage(args) => cmd::mirage::run_export(args),
        Command::ImportMirage(args) => cmd::mirage::run_import(args),
        Command::Evaluate(args) => cmd::evaluate::run(*args),
        Command::Predict(args) => cmd::predict::run(args),
    }
}
