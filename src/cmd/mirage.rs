//! `flowmine export-mirage` and `flowmine import-mirage`: flow stores ↔ MIRAGE JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use flowmine::mirage::{ExportOptions, Grouping, export_store, import_mirage};

use flowmine::Error;

use super::features::anonymiser;

#[derive(Clone, Copy, clap::ValueEnum)]
enum GroupBy {
    /// One JSON file per capture file.
    Capture,
    /// One JSON file per label.
    Label,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// Flow store directory.
    store: PathBuf,
    /// Directory for the JSON files.
    #[arg(long)]
    out: PathBuf,
    /// Packets per flow in the packet_data lists: `all` the store holds (MIRAGE-2022) or the
    /// first N (MIRAGE-2019: 32).
    #[arg(long, default_value = "all", value_parser = parse_packets)]
    packets: PacketCount,
    /// One file per capture file or per label.
    #[arg(long, value_enum, default_value = "capture")]
    group_by: GroupBy,
    /// Keep the real IP addresses in the record keys (by default: keyed pseudonyms).
    #[arg(long)]
    keep_addresses: bool,
    /// Key file for the address pseudonyms; without it a random key is used.
    #[arg(long, conflicts_with = "keep_addresses")]
    anon_key_file: Option<PathBuf>,
    /// Replace the JSON files of an earlier export in --out.
    #[arg(long)]
    overwrite: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy)]
struct PacketCount(Option<usize>);

fn parse_packets(s: &str) -> Result<PacketCount, String> {
    match s {
        "all" => Ok(PacketCount(None)),
        n => n
            .parse()
            .ok()
            .filter(|&n: &usize| n > 0)
            .map(|n| PacketCount(Some(n)))
            .ok_or_else(|| format!("`{s}`: expected `all` or a positive count such as 32")),
    }
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// MIRAGE JSON files, or directories searched recursively for `*.json`.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Store directory to create.
    #[arg(long)]
    out: PathBuf,
    /// Replace an existing store in --out.
    #[arg(long)]
    overwrite: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run_export(args: ExportArgs) -> Result<ExitCode, Error> {
    let anonymiser = anonymiser(args.keep_addresses, args.anon_key_file.as_ref())?;
    let grouping = match args.group_by {
        GroupBy::Capture => Grouping::Capture,
        GroupBy::Label => Grouping::Label,
    };
    let options = ExportOptions { packets: args.packets.0, grouping, anonymiser };
    let summary = export_store(&args.store, &args.out, &options, args.overwrite)?;
    if !args.quiet {
        println!(
            "export-mirage: {} flows → {} JSON file(s) in {}",
            summary.records,
            summary.files.len(),
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_import(args: ImportArgs) -> Result<ExitCode, Error> {
    let summary = import_mirage(&args.inputs, &args.out, args.overwrite)?;
    if !args.quiet {
        println!(
            "import-mirage: {} flows from {} JSON file(s) → store {}",
            summary.flows,
            summary.files,
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
