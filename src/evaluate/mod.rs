//! Random-forest experiments on the features table: can apps be told apart from flow
//! metadata, and does a model trained on one device still work on another?
//!
//! [`run`] reads features files or flow stores, splits the rows (stratified hold-out,
//! k-fold, or by a group column such as the device), trains a Random Forest, scores each
//! test set and measures feature importances; [`Evaluation::write`] puts `metrics.json`,
//! `importance.csv`, the charts, `report.md` and the model in a directory. Formats:
//! `formats/evaluate.md`.
//!
//! ```no_run
//! use flowmine::evaluate::{EvaluateConfig, SplitConfig, run};
//! let mut config = EvaluateConfig::new(vec!["features.parquet".into()], "label");
//! config.split = SplitConfig::Groups {
//!     column: "device".into(), train: vec!["Nexus 7".into()], test: vec!["Xiaomi".into()], held_out: 0.3,
//! };
//! let evaluation = run(&config).unwrap();
//! println!("{:.3}", evaluation.test_sets[0].metrics.accuracy);
//! evaluation.write("experiment".as_ref(), true).unwrap();
//! ```

pub mod charts;
pub mod columns;
pub mod dataset;
pub mod files;
pub mod matrix;
pub mod metrics;
pub mod model;
pub mod outputs;
pub mod report;
pub mod split;

pub use flowmine_forest::{forest, importance, random};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ndarray::Axis;

use crate::Error;

pub use forest::{Forest, ForestParams};
pub use metrics::Metrics;
pub use model::{Model, Predictions};
pub use split::{Balance, SplitConfig};

use importance::permutation_importance_observed;

/// Everything an experiment depends on; the same config and data give the same results.
#[derive(Debug, Clone)]
pub struct EvaluateConfig {
    /// Features files (.parquet, .arrow/.ipc, .csv) or flow store directories, read in
    /// this order.
    pub inputs: Vec<PathBuf>,
    /// The class column (also a derived one: `capture`, `capture_dir`, `day`).
    pub target: String,
    /// Glob patterns of feature columns (`!` excludes); empty: the default set.
    pub features: Vec<String>,
    pub split: SplitConfig,
    pub forest: ForestParams,
    pub balance: Balance,
    /// Classes with fewer rows than this (over the whole table) are left out.
    pub min_class_rows: usize,
    /// Shuffles per feature and test set for the permutation importance.
    pub permutation_repeats: usize,
    pub seed: u64,
    /// Threads for training and importance; 0: one per core.
    pub threads: usize,
    /// Classes left out of training and testing, as apps never seen (`semi::unknown`).
    pub hold_out_classes: Vec<String>,
}

impl EvaluateConfig {
    /// A stratified 70/30 hold-out of `inputs` predicting `target`, 100 trees, seed 0.
    pub fn new(inputs: Vec<PathBuf>, target: &str) -> EvaluateConfig {
        EvaluateConfig {
            inputs,
            target: target.to_owned(),
            features: Vec::new(),
            split: SplitConfig::Holdout { test_fraction: 0.3 },
            forest: ForestParams::default(),
            balance: Balance::None,
            min_class_rows: 1,
            permutation_repeats: 5,
            seed: 0,
            threads: 0,
            hold_out_classes: Vec::new(),
        }
    }
}

/// Rows read and rows used.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DataSummary {
    pub rows_read: u64,
    pub rows_without_target: u64,
    /// Rows of classes with fewer than `min_class_rows` rows, or held out.
    pub rows_in_small_classes: u64,
    pub rows_used: u64,
    /// Classes used and their rows.
    pub classes: Vec<(String, u64)>,
    /// Classes left out for having too few rows, or held out.
    pub classes_left_out: Vec<(String, u64)>,
}

/// The scores of one test set (pooled over the folds of a k-fold split).
#[derive(Debug, Clone, PartialEq)]
pub struct TestSetResult {
    pub name: String,
    pub metrics: Metrics,
    /// Accuracy in each fold (one entry unless k-fold).
    pub fold_accuracy: Vec<f64>,
    /// Permutation importance per feature: mean and standard deviation of the accuracy
    /// drops over all shuffles in all folds.
    pub permutation_mean: Vec<f64>,
    pub permutation_std: Vec<f64>,
}

/// Where a dataset row went in one fold.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Row of the input table (inputs one after the other, from 0).
    pub row: usize,
    pub fold: usize,
    /// `train` or a test set's name.
    pub set: String,
    /// Times the row is in the training rows after balancing (0 for test rows).
    pub train_copies: usize,
    pub class: String,
}

/// A finished experiment.
#[derive(Debug)]
pub struct Evaluation {
    pub config: EvaluateConfig,
    pub data: DataSummary,
    /// Feature columns, in the model's order.
    pub features: Vec<String>,
    pub test_sets: Vec<TestSetResult>,
    /// Mean decrease in impurity per feature (training rows), mean over folds.
    pub impurity: Vec<f64>,
    /// Wall-clock seconds training each fold's forest, and the training rows of each.
    pub training_seconds: Vec<f64>,
    pub training_rows: Vec<u64>,
    /// Seconds to train the kept model on every row (k-fold only; else it is the fold's).
    pub final_training_seconds: Option<f64>,
    pub threads: usize,
    pub assignments: Vec<Assignment>,
    /// The model to keep: the hold-out's, or (k-fold) one trained on every row used.
    pub model: Model,
}

/// Where a running experiment is, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress<'a> {
    /// Trees trained so far for fold `fold` of `folds` (`fold == folds`: the model kept,
    /// trained on every row after k-fold).
    Training { fold: usize, folds: usize, done: u64, total: u64 },
    /// Shuffles of the permutation importance scored so far on a test set.
    Importance { test_set: &'a str, fold: usize, done: u64, total: u64 },
}

/// Runs the experiment of `config`: read, split, train, score, measure importances.
pub fn run(config: &EvaluateConfig) -> Result<Evaluation, Error> {
    run_observed(config, &|_| {})
}

/// [`run`], telling `progress` of every tree trained and every shuffle scored (from any
/// thread of the pool).
pub fn run_observed(config: &EvaluateConfig, progress: &(dyn Fn(Progress<'_>) + Sync)) -> Result<Evaluation, Error> {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if config.threads > 0 {
        pool = pool.num_threads(config.threads);
    }
    let pool = pool.build().map_err(|e| Error::Config(format!("thread pool: {e}")))?;
    pool.install(|| run_in_pool(config, pool.current_num_threads(), progress))
}

/// Trains a forest, telling `progress` of each tree.
fn train_observed(
    x: ndarray::ArrayView2<'_, f64>,
    y: &[u32],
    classes: usize,
    config: &EvaluateConfig,
    (fold, folds): (usize, usize),
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> Result<Forest, Error> {
    let done = AtomicU64::new(0);
    let total = u64::from(config.forest.trees);
    let tree_done = || {
        let done = done.fetch_add(1, Ordering::Relaxed) + 1;
        progress(Progress::Training { fold, folds, done, total });
    };
    Ok(Forest::train_observed(x, y, classes, &config.forest, config.seed, &tree_done)?)
}

fn run_in_pool(
    config: &EvaluateConfig,
    threads: usize,
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> Result<Evaluation, Error> {
    if config.permutation_repeats == 0 {
        return Err(Error::setting("permutation_repeats", 0, "must be at least 1"));
    }
    let table = dataset::read_table(&config.inputs)?;
    let target = dataset::text_column(&table, &config.target)?;
    let group_column = config.split.group_column();
    let groups = group_column.map(|g| dataset::text_column(&table, g)).transpose()?;

    // Rows with a target, in classes with enough rows.
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for t in target.iter().flatten() {
        *counts.entry(t.as_str()).or_default() += 1;
    }
    let min = config.min_class_rows as u64;
    let kept = |(c, n): &(&&str, &u64)| **n >= min && !config.hold_out_classes.iter().any(|h| h == **c);
    let classes: Vec<String> = counts.iter().filter(kept).map(|(c, _)| (*c).to_owned()).collect();
    let class_index: BTreeMap<&str, u32> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i as u32)).collect();
    let mut used = Vec::new();
    let mut y = Vec::new();
    for (row, t) in target.iter().enumerate() {
        if let Some(&c) = t.as_deref().and_then(|t| class_index.get(t)) {
            used.push(row);
            y.push(c);
        }
    }
    let without_target = target.iter().filter(|t| t.is_none()).count() as u64;
    let data = DataSummary {
        rows_read: table.height() as u64,
        rows_without_target: without_target,
        rows_in_small_classes: table.height() as u64 - without_target - used.len() as u64,
        rows_used: used.len() as u64,
        classes: counts.iter().filter(kept).map(|(c, n)| ((*c).to_owned(), *n)).collect(),
        classes_left_out: counts.iter().filter(|e| !kept(e)).map(|(c, n)| ((*c).to_owned(), *n)).collect(),
    };
    if classes.len() < 2 {
        return Err(Error::Config(format!(
            "`{}` has {} class(es) with at least {min} row(s); a classifier needs two or more",
            config.target,
            classes.len()
        )));
    }

    let mut exclude = vec![config.target.as_str()];
    exclude.extend(group_column);
    let features = columns::select_features(table.schema(), &config.features, &exclude)?;
    let n = used.len();
    let x_all = matrix::feature_matrix(&table, &features, Some(&used))?;
    drop(table);
    let used_groups: Option<Vec<Option<String>>> = groups.map(|g| used.iter().map(|&r| g[r].clone()).collect());
    let folds = split::make_folds(&config.split, &y, used_groups.as_deref(), config.seed)?;

    let mut training_seconds = Vec::new();
    let mut training_rows = Vec::new();
    let mut impurity_sum = vec![0.0; features.len()];
    let mut assignments = Vec::new();
    // Per test set name: pooled truth and predictions, fold accuracies, drops per feature.
    struct Pooled {
        truth: Vec<u32>,
        predicted: Vec<u32>,
        fold_accuracy: Vec<f64>,
        drops: Vec<Vec<f64>>,
    }
    let mut pooled: Vec<(String, Pooled)> = Vec::new();
    let mut kept: Option<(Forest, u64)> = None;
    let single_fold = folds.len() == 1;
    for (f, fold) in folds.iter().enumerate() {
        let train = split::balance(&fold.train, &y, config.balance, config.seed, f);
        let mut copies = vec![0usize; n];
        for &r in &train {
            copies[r] += 1;
        }
        for &r in &fold.train {
            assignments.push(Assignment {
                row: used[r],
                fold: f,
                set: "train".to_owned(),
                train_copies: copies[r],
                class: classes[y[r] as usize].clone(),
            });
        }
        let x_train = x_all.select(Axis(0), &train);
        let y_train: Vec<u32> = train.iter().map(|&r| y[r]).collect();
        let started = Instant::now();
        let model = train_observed(x_train.view(), &y_train, classes.len(), config, (f, folds.len()), progress)?;
        training_seconds.push(started.elapsed().as_secs_f64());
        training_rows.push(train.len() as u64);
        for (sum, i) in impurity_sum.iter_mut().zip(model.impurity_importance()) {
            *sum += i;
        }
        for (s, test) in fold.tests.iter().enumerate() {
            for &r in &test.rows {
                assignments.push(Assignment {
                    row: used[r],
                    fold: f,
                    set: test.name.clone(),
                    train_copies: 0,
                    class: classes[y[r] as usize].clone(),
                });
            }
            if test.rows.is_empty() {
                return Err(Error::Config(format!("test set `{}` has no rows", test.name)));
            }
            let x_test = x_all.select(Axis(0), &test.rows);
            let truth: Vec<u32> = test.rows.iter().map(|&r| y[r]).collect();
            let predicted = model.predict(x_test.view())?;
            let key = [f as u64, s as u64];
            let done = AtomicU64::new(0);
            let total = (features.len() * config.permutation_repeats) as u64;
            let shuffle_done = || {
                let done = done.fetch_add(1, Ordering::Relaxed) + 1;
                progress(Progress::Importance { test_set: &test.name, fold: f, done, total });
            };
            let (repeats, seed) = (config.permutation_repeats, config.seed);
            let perm =
                permutation_importance_observed(&model, x_test.view(), &truth, repeats, seed, &key, &shuffle_done)?;
            let entry = match pooled.iter().position(|(name, _)| *name == test.name) {
                Some(i) => &mut pooled[i].1,
                None => {
                    let empty = Pooled {
                        truth: Vec::new(),
                        predicted: Vec::new(),
                        fold_accuracy: Vec::new(),
                        drops: vec![Vec::new(); features.len()],
                    };
                    pooled.push((test.name.clone(), empty));
                    &mut pooled.last_mut().expect("just pushed").1
                }
            };
            entry.fold_accuracy.push(perm.baseline_accuracy);
            entry.truth.extend(truth);
            entry.predicted.extend(predicted);
            for (all, fold_drops) in entry.drops.iter_mut().zip(perm.drops) {
                all.extend(fold_drops);
            }
        }
        if single_fold {
            kept = Some((model, train.len() as u64));
        }
    }

    // The model to keep: k-fold models each miss a fold, so one more is trained on all rows.
    let mut final_training_seconds = None;
    let (forest, kept_rows) = match kept {
        Some(k) => k,
        None => {
            let all: Vec<usize> = (0..n).collect();
            let train = split::balance(&all, &y, config.balance, config.seed, folds.len());
            let x = x_all.select(Axis(0), &train);
            let y_train: Vec<u32> = train.iter().map(|&r| y[r]).collect();
            let started = Instant::now();
            let forest =
                train_observed(x.view(), &y_train, classes.len(), config, (folds.len(), folds.len()), progress)?;
            final_training_seconds = Some(started.elapsed().as_secs_f64());
            (forest, train.len() as u64)
        }
    };

    let test_sets = pooled
        .into_iter()
        .map(|(name, p)| {
            let (permutation_mean, permutation_std) = importance::mean_and_std(&p.drops);
            TestSetResult {
                name,
                metrics: metrics::score(&p.truth, &p.predicted, &classes),
                fold_accuracy: p.fold_accuracy,
                permutation_mean,
                permutation_std,
            }
        })
        .collect();
    let impurity = impurity_sum.into_iter().map(|s| s / folds.len() as f64).collect();
    let model = Model {
        target: config.target.clone(),
        features: features.clone(),
        classes,
        params: config.forest.clone(),
        seed: config.seed,
        training_rows: kept_rows,
        forest,
    };
    Ok(Evaluation {
        config: config.clone(),
        data,
        features,
        test_sets,
        impurity,
        training_seconds,
        training_rows,
        final_training_seconds,
        threads,
        assignments,
        model,
    })
}
