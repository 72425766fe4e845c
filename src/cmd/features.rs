//! `flowmine features`: flow store → one row of ML features per flow.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use flowmine::features::{Anonymiser, FeatureOptions, Format, write_features};

use flowmine::Error;

use super::usage_error;

#[derive(clap::Args)]
pub struct FeaturesArgs {
    /// Flow store directory (made by `flowmine flows` or `flowmine import-mirage`).
    store: PathBuf,
    /// Output file; the extension picks the format: .parquet, .arrow/.ipc, .csv.
    #[arg(long)]
    out: PathBuf,
    /// Packets in the first-N sequence columns (seq_size, seq_dir, seq_iat).
    #[arg(long, default_value_t = flowmine::features::table::DEFAULT_SEQUENCE_LEN)]
    sequence_len: usize,
    /// Threads computing features (default: one per CPU but one, left to the thread that
    /// encodes the output).
    #[arg(long, value_parser = super::parse_threads)]
    threads: Option<usize>,
    /// Keep the real IP addresses (by default they are replaced by keyed pseudonyms).
    #[arg(long)]
    keep_addresses: bool,
    /// Key file for the address pseudonyms; without it a random key is used for this run
    /// only, so pseudonyms do not link across runs.
    #[arg(long, conflicts_with = "keep_addresses")]
    anon_key_file: Option<PathBuf>,
    /// Replace an existing file in --out.
    #[arg(long)]
    overwrite: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// The anonymiser the address options ask for (`None`: keep addresses).
pub fn anonymiser(keep_addresses: bool, key_file: Option<&PathBuf>) -> Result<Option<Anonymiser>, Error> {
    if keep_addresses {
        return Ok(None);
    }
    match key_file {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(Error::io(path))?;
            if bytes.is_empty() {
                // An empty key would give pseudonyms anyone can recompute.
                let empty = std::io::Error::new(std::io::ErrorKind::InvalidData, "the key file is empty");
                return Err(Error::io(path)(empty));
            }
            Ok(Some(Anonymiser::from_key_material(&bytes)))
        }
        None => Ok(Some(Anonymiser::random().map_err(Error::io(std::path::Path::new("random key")))?)),
    }
}

/// Whether `out` would be written inside the directory `store` (where it would replace a
/// part or become a stray Parquet file of the store).
fn inside(out: &std::path::Path, store: &std::path::Path) -> bool {
    let Ok(store) = store.canonicalize() else { return false };
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    dir.canonicalize().is_ok_and(|dir| dir.starts_with(&store))
}

pub fn run(args: FeaturesArgs) -> Result<ExitCode, Error> {
    if inside(&args.out, &args.store) {
        return Err(usage_error(format!(
            "--out {} is inside the store {}: write the features outside it",
            args.out.display(),
            args.store.display()
        )));
    }
    if Format::from_path(&args.out).is_none() {
        return Err(usage_error(format!(
            "{}: unknown output format; use .parquet, .arrow, .ipc or .csv",
            args.out.display()
        )));
    }
    super::refuse_existing(&args.out, args.overwrite)?;
    let anonymiser = anonymiser(args.keep_addresses, args.anon_key_file.as_ref())?;
    let addresses = if anonymiser.is_some() { "pseudonymised" } else { "kept" };
    let mut options = FeatureOptions::new(anonymiser);
    options.sequence_len = args.sequence_len;
    // The writer thread encodes (and compresses) a batch while the next is computed: on
    // the 20 M-packet capture's store, computing on every core made the two fight over
    // the CPUs (2 compute threads: 9.2 s; 1: 8.5 s on 2 cores).
    options.threads = args.threads.unwrap_or(options.threads.saturating_sub(1)).max(1);
    let started = Instant::now();
    let rows = write_features(&args.store, &args.out, &options)?;
    if !args.quiet {
        println!(
            "features: {rows} flows → {} in {:.2} s (addresses {addresses})",
            args.out.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}
