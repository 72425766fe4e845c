//! `flowmine merge`: partial stores of `flows --shard K/N` → the store of one run.

use std::path::PathBuf;
use std::process::ExitCode;

use super::report_problems;

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The partial stores written by `flowmine flows … --shard K/N`, one per shard, in any order.
    #[arg(required = true)]
    parts: Vec<PathBuf>,
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

pub fn run(args: MergeArgs) -> Result<ExitCode, flowmine::Error> {
    let outcome = flowmine::shards::merge(&args.parts, &args.out, args.overwrite)?;
    let status = report_problems(&outcome.report.files);
    if !args.quiet {
        let r = &outcome.report;
        println!(
            "merged {} shards: {} packets, {} flows, store {}",
            args.parts.len(),
            r.packets_total,
            r.flows,
            args.out.display()
        );
    }
    Ok(status)
}
