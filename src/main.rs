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
    /// Record an Android session: tcpdump on the AP, strace on the app, a folder for `label`.
    Collect(Box<cmd::collect::CollectArgs>),
    /// Join the partial stores of `flows --shard K/N` into the store of one run.
    Merge(cmd::merge::MergeArgs),
    /// Group flows without labels (k-means, DBSCAN), scored against a label column if named.
    Cluster(Box<cmd::cluster::ClusterArgs>),
}

/// mimalloc's `mi_option_purge_delay` (the enum `mi_option_e` of mimalloc.h, version 3);
/// libmimalloc-sys names only the older options.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// Its default in mimalloc 3: freed memory goes back to the OS after 1 s.
const MI_PURGE_DELAY_DEFAULT: std::ffi::c_long = 1000;

/// Keeps freed memory instead of handing it back to the OS a second later: flows and
/// feature batches free and allocate hundreds of megabytes over and over, and each page
/// handed back comes back zeroed by the kernel. On the 20 M-packet capture page clearing
/// was a fifth of `features`; without purging it ran 1.4-1.7x faster, for 5-10 % more
/// peak memory (the memory is reused, not leaked). Changed only when the option is found
/// where mimalloc 3 keeps it, with its default value.
fn keep_freed_memory() {
    // SAFETY: plain calls into the allocator's option table, before any other thread.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MI_PURGE_DELAY_DEFAULT {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}

/// Asks the kernel for plain 4 KiB pages. mimalloc marks its arenas for transparent huge
/// pages, and on a machine whose memory is fragmented (any machine that has been up a
/// while) each 2 MiB page is first compacted and then cleared in the fault: on the
/// 20 M-packet capture after an hour of other work the kernel's share of `flows --threads
/// 2` went from 1.4 to 3.6 CPU-seconds and the run took 5.6 s instead of 5.0 s (paired,
/// n=7). The tables are read and written all over, so huge pages saved no measurable TLB
/// time either. Only for `flows`: the forest's tree walks were not measured without
/// huge pages. mimalloc reads its own option for this before `main`, hence the call.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with an integer flag; it changes no memory of this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    if matches!(cli.command, Command::Flows(_)) {
        no_huge_pages();
    }
    match run(cli.command) {
        Ok(status) => status,
        Err(e) => cmd::report_error(&e),
    }
}

/// Runs one subcommand: the status of a run that finished, or the error that stopped it.
fn run(command: Command) -> Result<ExitCode, flowmine::Error> {
    match command {
        Command::Flows(args) => cmd::flows::run(args),
        Command::Label(args) => cmd::label::run(*args),
        Command::Slice(args) => cmd::slice::run(args),
        Command::Features(args) => cmd::features::run(args),
        Command::ExportMirage(args) => cmd::mirage::run_export(args),
        Command::ImportMirage(args) => cmd::mirage::run_import(args),
        Command::Evaluate(args) => cmd::evaluate::run(*args),
        Command::Predict(args) => cmd::predict::run(args),
        Command::Collect(args) => cmd::collect::run(*args),
        Command::Merge(args) => cmd::merge::run(args),
        Command::Cluster(args) => cmd::cluster::run(*args),
    }
}
