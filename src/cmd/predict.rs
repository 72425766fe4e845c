//! `flowmine predict`: a model saved by `evaluate` → the predicted class of every flow of
//! features files or flow stores.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use flowmine::evaluate::{Model, dataset::read_table};
use flowmine::features::{FeatureWriter, Format};

use flowmine::Error;

use super::usage_error;

#[derive(clap::Args)]
pub struct PredictArgs {
    /// The model file (`model.json.zst` in an `evaluate` output directory).
    model: PathBuf,
    /// Features files or flow store directories to label, read one after the other.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Write one row per flow (row, flow key, `predicted`, `probability`) here; the extension
    /// picks the format: .parquet, .arrow/.ipc, .csv. Without it only the counts are printed.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing file in --out.
    #[arg(long, requires = "out")]
    overwrite: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: PredictArgs) -> Result<ExitCode, Error> {
    let format = match &args.out {
        Some(out) => Some(Format::from_path(out).ok_or_else(|| {
            usage_error(format!("{}: unknown output format; use .parquet, .arrow, .ipc or .csv", out.display()))
        })?),
        None => None,
    };
    if let Some(out) = &args.out {
        super::refuse_existing(out, args.overwrite)?;
    }
    let model = Model::load(&args.model)?;
    let frame = model.predictions_frame(&read_table(&args.inputs)?)?;
    if let (Some(out), Some(format)) = (&args.out, format) {
        let mut writer = FeatureWriter::new(out, format);
        writer.write(&frame).and_then(|_| writer.finish(&frame))?;
    }
    if !args.quiet {
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        let predicted = frame.column("predicted").expect("written above");
        for class in predicted.str().expect("text").iter().flatten() {
            *counts.entry(class).or_default() += 1;
        }
        println!("{} flows labelled with `{}` by {} trees:", frame.height(), model.target, model.forest.trees.len());
        for (class, n) in counts {
            println!("  {n:>8}  {class}");
        }
        if let Some(out) = &args.out {
            println!("written: {}", out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
