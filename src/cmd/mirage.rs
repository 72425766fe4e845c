//! `flowmine export-mirage` and `flowmine import-mirage`: flow stores ↔ MIRAGE JSON.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use flowmine::mirage::export::DEFAULT_MAX_RECORDS;
use flowmine::mirage::record::Layout;
use flowmine::mirage::{ExportOptions, Grouping, export_store, import_mirage};
use indicatif::{ProgressBar, ProgressStyle};

use flowmine::Error;

use super::features::anonymiser;

#[derive(Clone, Copy, clap::ValueEnum)]
enum GroupBy {
    /// One JSON file per capture file.
    Capture,
    /// One JSON file per label.
    Label,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LayoutArg {
    /// MIRAGE-2019: `<device>/<ts>_<package>_MIRAGE-2019_traffic_dataset_labeled_biflows.json`.
    #[value(name = "2019")]
    Mirage2019,
    /// MIRAGE-2022: `Raw_JSON/<App>/<ts>_<package>_mirage2020dataset_…_encryption_metadata.json`,
    /// its field order, TCP flags as text.
    #[value(name = "2022")]
    Mirage2022,
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
    /// File names, folders and field order of MIRAGE-2019 or MIRAGE-2022 (default: the
    /// layout of the files the store was imported from, else 2019).
    #[arg(long, value_enum)]
    layout: Option<LayoutArg>,
    /// Keep the real IP addresses in the record keys (by default: keyed pseudonyms).
    #[arg(long)]
    keep_addresses: bool,
    /// Key file for the address pseudonyms; without it a random key is used.
    #[arg(long, conflicts_with = "keep_addresses")]
    anon_key_file: Option<PathBuf>,
    /// Records per file at most; a larger session continues in NAME.2.json, NAME.3.json, …
    #[arg(long, default_value_t = DEFAULT_MAX_RECORDS as u64, value_parser = clap::value_parser!(u64).range(1..))]
    max_records_per_file: u64,
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
    /// Files read at once (default: one per CPU).
    #[arg(long, default_value_t = 0)]
    threads: usize,
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
    let mut options = ExportOptions::new(args.packets.0, grouping, anonymiser);
    options.max_records_per_file = usize::try_from(args.max_records_per_file).unwrap_or(usize::MAX);
    options.layout = args.layout.map(|l| match l {
        LayoutArg::Mirage2019 => Layout::Mirage2019,
        LayoutArg::Mirage2022 => Layout::Mirage2022,
    });
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
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} files {bytes_per_sec} eta {eta} {msg}")
                .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let show = |p: flowmine::mirage::ImportProgress| {
        if let Some(bar) = &bar {
            bar.set_length(p.files_total as u64);
            bar.set_position(p.files_done as u64);
            bar.set_message(format!("{} flows", p.flows));
        }
    };
    let result = import_mirage(&args.inputs, &args.out, args.overwrite, args.threads, show);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = result?;
    // Records left out are named, one a line, whatever --quiet says: data was dropped.
    for r in &summary.rejected {
        eprintln!("flowmine: warning: left out {r}");
    }
    if summary.rejected_total > summary.rejected.len() as u64 {
        eprintln!("flowmine: warning: … and {} more", summary.rejected_total - summary.rejected.len() as u64);
    }
    if !args.quiet {
        println!(
            "import-mirage: {} flows from {} JSON file(s) → store {} ({} records left out)",
            summary.flows,
            summary.files,
            args.out.display(),
            summary.rejected_total
        );
    }
    Ok(ExitCode::SUCCESS)
}
