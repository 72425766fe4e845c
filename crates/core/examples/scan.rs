//! Runs the engine alone (no Parquet) and prints the totals: a whole-run benchmark of
//! reading, decoding and flow tables that builds in seconds in release.
//!
//! `cargo run --release -p flowmine-core --example scan -- [--timeouts-off] [--threads N] FILE_OR_DIR...`

use std::path::PathBuf;
use std::time::Instant;

use flowmine_core::scan::{ScanOptions, scan};
use flowmine_core::{FlowBatch, FlowConfig};

/// As in the flowmine binary: flows allocate and free their packet arrays by the million.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let timeouts_off = args.iter().any(|a| a == "--timeouts-off");
    args.retain(|a| a != "--timeouts-off");
    let mut threads = 1;
    if let Some(i) = args.iter().position(|a| a == "--threads") {
        threads = args.get(i + 1).and_then(|n| n.parse().ok()).expect("--threads takes a number");
        args.drain(i..i + 2);
    }
    let paths: Vec<PathBuf> = args.into_iter().map(PathBuf::from).collect();
    let flow = if timeouts_off { FlowConfig::unbounded() } else { FlowConfig::default() };
    let options = ScanOptions { flow, threads, ..ScanOptions::default() };
    let started = Instant::now();
    let inputs = flowmine_core::collect_inputs(&paths).unwrap_or_else(|e| panic!("{e}"));
    let mut rows = 0usize;
    let mut entries = 0usize;
    let report = scan(
        &inputs,
        &options,
        |b: FlowBatch| -> Result<(), flowmine_core::Error> {
            rows += b.len();
            entries += b.packet_entries();
            Ok(())
        },
        |_| {},
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{} packets, {} in flows, {} flows ({} rows, {} packet entries) in {:.2} s: {:.2} Mpps",
        report.packets_total,
        report.packets_in_flows,
        report.flows,
        rows,
        entries,
        secs,
        report.packets_total as f64 / secs / 1e6
    );
}
