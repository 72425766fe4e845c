//! Flows grouped without labels: do messaging apps form groups of their own in the flow
//! features, and which flows belong to no group?
//!
//! [`run`] reads features files or flow stores (as `evaluate` does, with the same feature
//! selection), standardises the features, fits k-means (k given, or the k of the best
//! silhouette in a range) on a seeded sample and assigns every flow to its nearest
//! centre, runs DBSCAN on a sample for the flows in no dense group, projects a sample on
//! two principal components, and, when a label column is named, scores the clusters
//! against it. [`Clustering::write`] puts `clusters.parquet`, `metrics.json`, the charts
//! and `report.md` in a directory. Formats: `formats/cluster.md`.
//!
//! ```no_run
//! use flowmine::cluster::{ClusterConfig, run};
//! let mut config = ClusterConfig::new(vec!["features.parquet".into()]);
//! config.target = Some("label".into());
//! config.k = Some(6);
//! let clustering = run(&config).unwrap();
//! println!("ARI {:.3}", clustering.kmeans_scores.as_ref().unwrap().adjusted_rand);
//! clustering.write("clusters".as_ref(), true).unwrap();
//! ```

pub mod charts;
pub mod dbscan;
pub mod kmeans;
pub mod outputs;
pub mod pca;
pub mod scores;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use ndarray::{Array2, ArrayView2, Axis};
use polars::prelude::*;

use crate::evaluate::model::IDENTITY;
use crate::evaluate::{columns, dataset, matrix};
use crate::{Error, Result};
use flowmine_forest::random::{SplitMix64, derive};
use kmeans::{KMeans, KMeansParams};
use scores::Agreement;

/// Stream names under the run's seed.
const FIT_SAMPLE: u64 = 21;
const SILHOUETTE_SAMPLE: u64 = 22;
const DBSCAN_SAMPLE: u64 = 23;
const PLOT_SAMPLE: u64 = 24;

/// Everything a clustering depends on; the same config and data give the same result on
/// any number of threads.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Features files (.parquet, .arrow/.ipc, .csv) or flow store directories.
    pub inputs: Vec<PathBuf>,
    /// Glob patterns of feature columns (`!` excludes); empty: `evaluate`'s default set.
    pub features: Vec<String>,
    /// A label column to score the clusters against (never a feature).
    pub target: Option<String>,
    /// Clusters; `None`: the k in `k_range` of the best silhouette.
    pub k: Option<usize>,
    pub k_range: (usize, usize),
    /// Rows the k-means is fitted on (a seeded sample of larger tables); every row is
    /// then assigned.
    pub fit_rows: usize,
    /// Rows the silhouette of each k is measured on.
    pub silhouette_rows: usize,
    /// DBSCAN radius in standardised units; `None`: the 90th percentile of the distances
    /// to the `min_samples`-th nearest row.
    pub eps: Option<f64>,
    pub min_samples: usize,
    /// Rows DBSCAN runs on (it is quadratic).
    pub dbscan_rows: usize,
    /// Rows drawn in the projection plot.
    pub plot_rows: usize,
    pub seed: u64,
    /// Threads; 0: one per core.
    pub threads: usize,
}

impl ClusterConfig {
    pub fn new(inputs: Vec<PathBuf>) -> ClusterConfig {
        ClusterConfig {
            inputs,
            features: Vec::new(),
            target: None,
            k: None,
            k_range: (2, 12),
            fit_rows: 100_000,
            silhouette_rows: 2_000,
            eps: None,
            min_samples: 5,
            dbscan_rows: 5_000,
            plot_rows: 5_000,
            seed: 0,
            threads: 0,
        }
    }
}

/// DBSCAN on a sample of the rows.
#[derive(Debug, Clone)]
pub struct DbscanResult {
    /// Rows of the table DBSCAN ran on, ascending.
    pub rows: Vec<usize>,
    /// Their labels (`dbscan::NOISE` for none).
    pub labels: Vec<i32>,
    pub eps: f64,
    pub min_samples: usize,
    pub clusters: usize,
    pub noise: usize,
}

/// A finished clustering.
#[derive(Debug)]
pub struct Clustering {
    pub config: ClusterConfig,
    pub features: Vec<String>,
    pub rows: usize,
    /// Mean and standard deviation of each feature (population, as scikit-learn's
    /// `StandardScaler`; a constant feature keeps scale 1).
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub k: usize,
    /// Silhouette per k tried (empty when k was given).
    pub silhouettes: Vec<(usize, f64)>,
    pub fit_rows: usize,
    pub kmeans: KMeans,
    /// Cluster of every row and its distance to the centre.
    pub labels: Vec<u32>,
    pub distance: Vec<f64>,
    pub sizes: Vec<u64>,
    pub dbscan: DbscanResult,
    /// Class names and each row's class (`None`: no label), when a target was named.
    pub classes: Vec<String>,
    pub class_of_row: Vec<Option<u32>>,
    pub kmeans_scores: Option<Agreement>,
    /// DBSCAN's scores on its labelled sample rows, noise counted as one more cluster.
    pub dbscan_scores: Option<Agreement>,
    /// `contingency[cluster][class]` over the labelled rows.
    pub contingency: Vec<Vec<u64>>,
    /// Plot sample: table rows and their first two principal components.
    pub plot_rows: Vec<usize>,
    pub projection: Array2<f64>,
    pub explained_ratio: Vec<f64>,
    /// Flow-identifying columns of the input kept for `clusters.parquet`.
    pub identity: Vec<Column>,
    pub seconds: BTreeMap<&'static str, f64>,
    pub threads: usize,
}

/// Standardises the columns of `x` in place; returns their means and scales.
pub fn standardise(mut x: ndarray::ArrayViewMut2<f64>) -> (Vec<f64>, Vec<f64>) {
    let n = x.nrows().max(1) as f64;
    let mut means = Vec::new();
    let mut scales = Vec::new();
    for mut column in x.axis_iter_mut(Axis(1)) {
        let mean = column.sum() / n;
        let var = column.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let scale = if var > 0.0 { var.sqrt() } else { 1.0 };
        column.mapv_inplace(|v| (v - mean) / scale);
        means.push(mean);
        scales.push(scale);
    }
    (means, scales)
}

/// `count` distinct rows of `0..n` drawn by `seed`, ascending (all rows if `n <= count`).
pub fn sample_rows(n: usize, count: usize, seed: u64) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..n).collect();
    if n > count {
        let mut rng = SplitMix64::new(seed);
        for i in 0..count {
            rows.swap(i, i + rng.below(n - i));
        }
        rows.truncate(count);
        rows.sort_unstable();
    }
    rows
}

/// The k in `range` whose k-means (fitted on `x`) has the best silhouette on `x`.
pub fn best_k(x: ArrayView2<f64>, range: (usize, usize), seed: u64) -> Result<(usize, Vec<(usize, f64)>)> {
    let (low, high) = (range.0.max(2), range.1.min(x.nrows().saturating_sub(1)));
    if low > high {
        return Err(Error::Config(format!("no k in {}..={} fits {} rows", range.0, range.1, x.nrows())));
    }
    let mut tried = Vec::new();
    for k in low..=high {
        let fitted = kmeans::fit(x, &KMeansParams::new(k), seed)?;
        let (labels, _) = kmeans::assign(x, &fitted.centres);
        tried.push((k, scores::silhouette(x, &labels)));
    }
    let best = tried.iter().fold(tried[0], |b, &t| if t.1 > b.1 { t } else { b });
    Ok((best.0, tried))
}

/// Runs the clustering of `config`.
pub fn run(config: &ClusterConfig) -> Result<Clustering, Error> {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if config.threads > 0 {
        pool = pool.num_threads(config.threads);
    }
    let pool = pool.build().map_err(|e| Error::Config(format!("thread pool: {e}")))?;
    pool.install(|| run_in_pool(config, pool.current_num_threads()))
}

fn run_in_pool(config: &ClusterConfig, threads: usize) -> Result<Clustering, Error> {
    let mut seconds = BTreeMap::new();
    let mut clock = Instant::now();
    let mut lap = |name: &'static str, seconds: &mut BTreeMap<&'static str, f64>| {
        seconds.insert(name, clock.elapsed().as_secs_f64());
        clock = Instant::now();
    };
    let table = dataset::read_table(&config.inputs)?;
    let n = table.height();
    if n < 2 {
        return Err(Error::Config(format!("{n} flow(s): clustering needs two or more")));
    }
    let exclude: Vec<&str> = config.target.iter().map(String::as_str).collect();
    let features = columns::select_features(table.schema(), &config.features, &exclude)?;
    let target = config.target.as_deref().map(|t| dataset::text_column(&table, t)).transpose()?;
    let target_column = config.target.as_deref().filter(|t| !IDENTITY.contains(t));
    let identity: Vec<Column> =
        IDENTITY.iter().chain(target_column.iter()).filter_map(|name| table.column(name).ok().cloned()).collect();
    let mut x = matrix::feature_matrix(&table, &features, None)?;
    drop(table);
    let (mean, scale) = standardise(x.view_mut());
    lap("read", &mut seconds);

    let fit_rows = sample_rows(n, config.fit_rows, derive(config.seed, &[FIT_SAMPLE]));
    let fit_x = x.select(Axis(0), &fit_rows);
    let (k, silhouettes) = match config.k {
        Some(k) => (k, Vec::new()),
        None => {
            let rows = sample_rows(fit_x.nrows(), config.silhouette_rows, derive(config.seed, &[SILHOUETTE_SAMPLE]));
            best_k(fit_x.select(Axis(0), &rows).view(), config.k_range, config.seed)?
        }
    };
    let fitted = kmeans::fit(fit_x.view(), &KMeansParams::new(k), config.seed)?;
    drop(fit_x);
    lap("kmeans_fit", &mut seconds);
    let (labels, distance) = kmeans::assign(x.view(), &fitted.centres);
    let distance: Vec<f64> = distance.into_iter().map(f64::sqrt).collect();
    let mut sizes = vec![0u64; k];
    for &l in &labels {
        sizes[l as usize] += 1;
    }
    lap("kmeans_assign", &mut seconds);

    let dbscan = run_dbscan(x.view(), config)?;
    lap("dbscan", &mut seconds);

    let plot_rows = sample_rows(n, config.plot_rows, derive(config.seed, &[PLOT_SAMPLE]));
    let plot_x = x.select(Axis(0), &plot_rows);
    let projection = pca::fit(plot_x.view(), 2);
    let explained_ratio = projection.explained_ratio.clone();
    let projection = projection.transform(plot_x.view());
    lap("pca", &mut seconds);

    let (classes, class_of_row) = match &target {
        Some(t) => class_indices(t),
        None => (Vec::new(), Vec::new()),
    };
    let (kmeans_scores, dbscan_scores, contingency) = if classes.is_empty() {
        (None, None, Vec::new())
    } else {
        let labelled: Vec<usize> = (0..n).filter(|&r| class_of_row[r].is_some()).collect();
        let truth: Vec<u32> = labelled.iter().map(|&r| class_of_row[r].expect("labelled")).collect();
        let predicted: Vec<u32> = labelled.iter().map(|&r| labels[r]).collect();
        let (d_truth, d_predicted): (Vec<u32>, Vec<u32>) = dbscan
            .rows
            .iter()
            .zip(&dbscan.labels)
            .filter_map(|(&r, &l)| Some((class_of_row[r]?, (l + 1) as u32)))
            .unzip();
        let mut table = vec![vec![0u64; classes.len()]; k];
        for (&t, &p) in truth.iter().zip(&predicted) {
            table[p as usize][t as usize] += 1;
        }
        (Some(scores::agreement(&truth, &predicted)), Some(scores::agreement(&d_truth, &d_predicted)), table)
    };
    lap("scores", &mut seconds);
    Ok(Clustering {
        config: config.clone(),
        features,
        rows: n,
        mean,
        scale,
        k,
        silhouettes,
        fit_rows: fit_rows.len(),
        kmeans: fitted,
        labels,
        distance,
        sizes,
        dbscan,
        classes,
        class_of_row,
        kmeans_scores,
        dbscan_scores,
        contingency,
        plot_rows,
        projection,
        explained_ratio,
        identity,
        seconds,
        threads,
    })
}

fn run_dbscan(x: ArrayView2<f64>, config: &ClusterConfig) -> Result<DbscanResult, Error> {
    if config.min_samples == 0 {
        return Err(Error::setting("min_samples", config.min_samples, "must be at least 1"));
    }
    let rows = sample_rows(x.nrows(), config.dbscan_rows, derive(config.seed, &[DBSCAN_SAMPLE]));
    let sample = x.select(Axis(0), &rows);
    let eps = match config.eps {
        Some(eps) if eps > 0.0 && eps.is_finite() => eps,
        Some(eps) => return Err(Error::setting("eps", eps, "a positive radius is needed")),
        None => {
            let mut d = dbscan::kth_distances(sample.view(), config.min_samples);
            d.sort_by(f64::total_cmp);
            d[(d.len() - 1) * 9 / 10].max(f64::MIN_POSITIVE)
        }
    };
    let labels = dbscan::dbscan(sample.view(), eps, config.min_samples);
    let clusters = labels.iter().max().map_or(0, |&m| (m + 1) as usize);
    let noise = labels.iter().filter(|&&l| l == dbscan::NOISE).count();
    Ok(DbscanResult { rows, labels, eps, min_samples: config.min_samples, clusters, noise })
}

/// Sorted class names and each row's index among them.
fn class_indices(target: &[Option<String>]) -> (Vec<String>, Vec<Option<u32>>) {
    let names: std::collections::BTreeSet<&str> = target.iter().flatten().map(String::as_str).collect();
    let classes: Vec<String> = names.into_iter().map(str::to_owned).collect();
    let index: BTreeMap<&str, u32> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i as u32)).collect();
    let rows = target.iter().map(|t| t.as_deref().map(|t| index[t])).collect();
    (classes, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardised_columns_have_mean_0_and_scale_1() {
        let mut x = ndarray::array![[1.0, 5.0], [3.0, 5.0]];
        let (mean, scale) = standardise(x.view_mut());
        assert_eq!(mean, [2.0, 5.0]);
        assert_eq!(scale, [1.0, 1.0]);
        assert_eq!(x, ndarray::array![[-1.0, 0.0], [1.0, 0.0]]);
    }

    #[test]
    fn samples_are_distinct_sorted_and_seeded() {
        let a = sample_rows(1000, 10, 5);
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a, sample_rows(1000, 10, 5));
        assert_ne!(a, sample_rows(1000, 10, 6));
        assert_eq!(sample_rows(3, 10, 5), [0, 1, 2]);
    }
}
