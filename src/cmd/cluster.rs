//! `flowmine cluster`: features → k-means and DBSCAN groups, scores against a label
//! column, charts, report and `clusters.parquet` in a directory.

use std::path::PathBuf;
use std::process::ExitCode;

use flowmine::Error;
use flowmine::cluster::{ClusterConfig, outputs::REPORT};

#[derive(clap::Args)]
pub struct ClusterArgs {
    /// Features files (.parquet, .arrow/.ipc, .csv from `flowmine features`) or flow store
    /// directories, read one after the other.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Directory for clusters.parquet, metrics.json, charts and report.md.
    #[arg(long)]
    out: PathBuf,
    /// A label column to score the clusters against, e.g. `label` or `capture` (never a
    /// feature).
    #[arg(long)]
    target: Option<String>,
    /// Feature columns as glob patterns, as for `evaluate` (default: every numeric per-flow
    /// feature).
    #[arg(long, value_delimiter = ',')]
    features: Vec<String>,
    /// Clusters of the k-means (default: the k of the best silhouette in --k-range).
    #[arg(long, short)]
    k: Option<usize>,
    /// The k tried when --k is not given, as LOW..HIGH (both included).
    #[arg(long, default_value = "2..12", value_parser = parse_range)]
    k_range: (usize, usize),
    /// Rows the k-means is fitted on (a seeded sample of larger tables); every flow is then
    /// assigned to its nearest centre.
    #[arg(long, default_value_t = 100_000)]
    fit_rows: usize,
    /// Rows the silhouette of each k is measured on.
    #[arg(long, default_value_t = 2_000)]
    silhouette_rows: usize,
    /// DBSCAN radius in standard deviations (default: the 90th percentile of each row's
    /// distance to its --min-samples-th nearest row).
    #[arg(long)]
    eps: Option<f64>,
    /// Rows within --eps (itself included) that make a DBSCAN core row.
    #[arg(long, default_value_t = 5)]
    min_samples: usize,
    /// Rows DBSCAN runs on (a seeded sample; it is quadratic).
    #[arg(long, default_value_t = 5_000)]
    dbscan_rows: usize,
    /// Flows drawn in the projection plot.
    #[arg(long, default_value_t = 5_000)]
    plot_rows: usize,
    /// Seed of the samples and the k-means++ starts.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads (default: one per core); results are the same for any number.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Write into a non-empty --out directory.
    #[arg(long)]
    overwrite: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

fn parse_range(text: &str) -> Result<(usize, usize), String> {
    let (low, high) = text.split_once("..").ok_or("expected LOW..HIGH, e.g. 2..12")?;
    let number = |s: &str| s.trim().parse::<usize>().map_err(|e| format!("`{s}`: {e}"));
    let (low, high) = (number(low)?, number(high)?);
    if low < 2 || high < low {
        return Err(format!("{low}..{high}: k runs from 2 up"));
    }
    Ok((low, high))
}

pub fn run(args: ClusterArgs) -> Result<ExitCode, Error> {
    let config = ClusterConfig {
        inputs: args.inputs,
        features: args.features,
        target: args.target,
        k: args.k,
        k_range: args.k_range,
        fit_rows: args.fit_rows.max(1),
        silhouette_rows: args.silhouette_rows.max(2),
        eps: args.eps,
        min_samples: args.min_samples,
        dbscan_rows: args.dbscan_rows.max(1),
        plot_rows: args.plot_rows.max(1),
        seed: args.seed,
        threads: args.threads,
    };
    let clustering = flowmine::cluster::run(&config)?;
    clustering.write(&args.out, args.overwrite)?;
    if !args.quiet {
        println!("data:     {} flows, {} features", clustering.rows, clustering.features.len());
        println!("k-means:  k = {}, sizes {:?}", clustering.k, clustering.sizes);
        let d = &clustering.dbscan;
        println!("dbscan:   {} rows, eps {:.3}: {} clusters, {} in none", d.rows.len(), d.eps, d.clusters, d.noise);
        if let Some(s) = &clustering.kmeans_scores {
            println!(
                "scores:   ARI {:.3}, NMI {:.3}, homogeneity {:.3}, completeness {:.3}, purity {:.3}",
                s.adjusted_rand, s.normalized_mutual_info, s.homogeneity, s.completeness, s.purity
            );
        }
        println!("report:   {}", args.out.join(REPORT).display());
    }
    Ok(ExitCode::SUCCESS)
}
