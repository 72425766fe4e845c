//! `flowmine slice`: header-only copies of captures (see `flowmine_core::slice`).

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use flowmine::Error;
use flowmine::core::slice::{SliceReport, slice};

use super::EXIT_DAMAGED_INPUT;

#[derive(clap::Args)]
pub struct SliceArgs {
    /// pcap/pcapng files, or directories searched recursively; read in capture-time order.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The header-only pcap to write (link type RAW, nanosecond timestamps).
    #[arg(long)]
    out: PathBuf,
    /// Replace an existing file in --out.
    #[arg(long)]
    overwrite: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: SliceArgs) -> Result<ExitCode, Error> {
    let report = run_slice(&args)?;
    print_report(&args, &report);
    Ok(if report.has_unusable_input() { ExitCode::from(EXIT_DAMAGED_INPUT) } else { ExitCode::SUCCESS })
}

fn run_slice(args: &SliceArgs) -> Result<SliceReport, Error> {
    super::refuse_existing(&args.out, args.overwrite)?;
    let inputs = flowmine::core::collect_inputs(&args.inputs)?;
    let file = File::create(&args.out).map_err(Error::io(&args.out))?;
    match slice(&inputs, BufWriter::new(file)) {
        Ok((report, _)) => Ok(report),
        Err(flowmine::core::Error::Write { source, .. }) => Err(Error::io(&args.out)(source)),
        Err(e) => Err(e.into()),
    }
}

fn print_report(args: &SliceArgs, report: &SliceReport) {
    for (path, damage) in &report.damaged {
        eprintln!("flowmine: error: {}: {damage}", path.display());
    }
    for u in &report.unsupported_link_types {
        let s = if u.packets == 1 { "" } else { "s" };
        eprintln!(
            "flowmine: error: {}: offset {}: link type {} is not supported ({} packet{s} skipped)",
            u.path.display(),
            u.offset,
            u.link_type,
            u.packets
        );
    }
    if report.unsliceable > 0 {
        eprintln!(
            "flowmine: warning: {} IP packets could not be cut to their headers and are missing from {}",
            report.unsliceable,
            args.out.display()
        );
    }
    if !args.quiet {
        println!(
            "sliced:  {} packets read, {} written to {}, {} not IP (in no flow) left out, {} unsliceable",
            report.read,
            report.written,
            args.out.display(),
            report.not_ip,
            report.unsliceable
        );
    }
}
