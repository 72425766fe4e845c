//! `flowmine evaluate`: features → Random Forest experiment (scores, importances, charts,
//! report, model) in a directory.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use flowmine::evaluate::{
    Balance, EvaluateConfig, ForestParams, Progress, SplitConfig, importance::top, outputs::REPORT,
};
use indicatif::{ProgressBar, ProgressStyle};

use flowmine::Error;

use super::usage_error;

#[derive(clap::Args)]
pub struct EvaluateArgs {
    /// Features files (.parquet, .arrow/.ipc, .csv from `flowmine features`) or flow store
    /// directories, read one after the other.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The class column, e.g. `label`, `capture` (capture file name) or `device`.
    #[arg(long)]
    target: String,
    /// Directory for metrics.json, importance.csv, charts, report.md and the model.
    #[arg(long)]
    out: PathBuf,
    /// Feature columns as glob patterns (`*`, `?`), repeatable or comma-separated; `!GLOB`
    /// removes. Default: every numeric per-flow feature (no ports, addresses, times, labels).
    #[arg(long, value_delimiter = ',')]
    features: Vec<String>,
    /// Share of the rows tested (stratified by class; with --split-by alone: whole groups).
    /// With --train/--test: the share of the training groups held out as a test set of its
    /// own (0: none). Default 0.3.
    #[arg(long, value_parser = parse_fraction)]
    test_fraction: Option<f64>,
    /// k-fold cross-validation instead of one hold-out (by group with --split-by): 2 or more.
    #[arg(long, conflicts_with_all = ["train", "test", "test_fraction"], value_parser = clap::value_parser!(u64).range(2..))]
    folds: Option<u64>,
    /// Split by this column (e.g. device, capture, session, day): a group's rows are never on
    /// both sides.
    #[arg(long)]
    split_by: Option<String>,
    /// With --split-by: the group values to train on (repeatable or comma-separated).
    #[arg(long, value_delimiter = ',', requires_all = ["split_by", "test"])]
    train: Vec<String>,
    /// With --split-by: the group values to test on, each a test set of its own.
    #[arg(long, value_delimiter = ',', requires_all = ["split_by", "train"])]
    test: Vec<String>,
    /// Seed of the split, the balancing, the trees and the permutations.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Trees in the forest.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..))]
    trees: u16,
    /// Maximum tree depth (default: grow until leaves are pure).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    max_depth: Option<u16>,
    /// Minimum training rows in a leaf.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    min_samples_leaf: u64,
    /// Features tried at each split (default: ⌊√features⌋).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_features: Option<u64>,
    /// Balance the classes of the training rows: none, undersample (to the smallest class)
    /// or oversample (to the largest, repeating rows).
    #[arg(long, value_enum, default_value_t = Balance::None)]
    balance: Balance,
    /// Leave out classes with fewer flows than this.
    #[arg(long, default_value_t = 1)]
    min_class_flows: usize,
    /// Shuffles per feature for the permutation importance.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    permutation_repeats: u64,
    /// Threads (default: one per core); results are the same for any number.
    #[arg(long, default_value_t = 0, value_parser = super::parse_threads)]
    threads: usize,
    /// Write into a non-empty --out directory.
    #[arg(long)]
    overwrite: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
    /// Few labels: also train with only this share of each fold's training labels, with
    /// and without self-training on the unlabelled rest, and draw the learning curve over
    /// 5, 10, 25, 50 and 100 % and this share (few_labels.csv, learning_curve.png).
    #[arg(long)]
    labelled_fraction: Option<f64>,
    /// Self-training: probability (the forest's mean leaf share) at or above which a
    /// prediction becomes a pseudo-label.
    #[arg(long, default_value_t = 0.75, requires = "labelled_fraction")]
    self_training_threshold: f64,
    /// Self-training: rounds of pseudo-labelling at most.
    #[arg(long, default_value_t = 10, requires = "labelled_fraction")]
    self_training_rounds: usize,
    /// Apps never seen: leave these classes out of training (repeatable or comma-separated)
    /// and report how many of their flows come out "unknown" (unknown_apps.json).
    #[arg(long, value_delimiter = ',')]
    hold_out_classes: Vec<String>,
    /// A flow is "unknown" when the forest's probability of its most likely class is below
    /// this (default: calibrated on the training rows for 5 % false unknowns).
    #[arg(long, requires = "hold_out_classes")]
    unknown_threshold: Option<f64>,
}

/// Few labels and apps never seen: their files beside the evaluation's, their sections
/// appended to its report.
fn run_semi(args: &EvaluateArgs, config: &EvaluateConfig) -> Result<(), flowmine::Error> {
    use flowmine::semi::{self, few_labels, unknown};
    let mut report = String::new();
    if let Some(fraction) = args.labelled_fraction {
        let prepared = semi::prepare(config, &config.hold_out_classes)?;
        let how =
            few_labels::SelfTraining { threshold: args.self_training_threshold, rounds: args.self_training_rounds };
        let mut fractions = few_labels::CURVE.to_vec();
        if !fractions.contains(&fraction) {
            fractions.push(fraction);
            fractions.sort_by(f64::total_cmp);
        }
        let points = few_labels::learning_curve(&prepared, config, &fractions, &how)?;
        report += &semi::write_few_labels(&args.out, &points, &how)?;
        if !args.quiet {
            for p in points.iter().filter(|p| p.fraction == fraction) {
                println!(
                    "few labels {:.0} %: supervised accuracy {:.3}, macro F1 {:.3}; self-training accuracy {:.3}, macro F1 {:.3}",
                    fraction * 100.0,
                    p.supervised_accuracy,
                    p.supervised_macro_f1,
                    p.self_training_accuracy,
                    p.self_training_macro_f1
                );
            }
        }
    }
    if !args.hold_out_classes.is_empty() {
        let prepared = semi::prepare(config, &args.hold_out_classes)?;
        let u = unknown::unknown_apps(&prepared, config, &args.hold_out_classes, args.unknown_threshold)?;
        report += &semi::write_unknown(&args.out, &u)?;
        if !args.quiet {
            let a = &u.at_threshold;
            println!(
                "unknown apps (threshold {:.3}): {:.1} % of held-out flows, {:.1} % of known flows (false unknowns)",
                u.threshold,
                a.held_out_unknown_rate * 100.0,
                a.false_unknown_rate * 100.0
            );
        }
    }
    if !report.is_empty() {
        use std::io::Write as _;
        let path = args.out.join(REPORT);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("\n{report}").as_bytes()))
            .map_err(|e| flowmine::Error::Output { path, what: e.to_string() })?;
    }
    Ok(())
}

/// A share of rows: at least 0, below 1.
fn parse_fraction(s: &str) -> Result<f64, String> {
    let f: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if !(0.0..1.0).contains(&f) {
        return Err(format!("`{s}`: a share from 0 up to (not including) 1"));
    }
    Ok(f)
}

/// Whole numbers given as u64 to clap's range parsers.
fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn split_config(args: &EvaluateArgs) -> SplitConfig {
    let fraction = args.test_fraction.unwrap_or(0.3);
    match (&args.split_by, args.folds) {
        (None, None) => SplitConfig::Holdout { test_fraction: fraction },
        (None, Some(folds)) => SplitConfig::KFold { folds: count(folds) },
        (Some(column), Some(folds)) => SplitConfig::GroupKFold { column: column.clone(), folds: count(folds) },
        (Some(column), None) if args.train.is_empty() => {
            SplitConfig::GroupHoldout { column: column.clone(), test_fraction: fraction }
        }
        (Some(column), None) => SplitConfig::Groups {
            column: column.clone(),
            train: args.train.clone(),
            test: args.test.clone(),
            held_out: fraction,
        },
    }
}

pub fn run(args: EvaluateArgs) -> Result<ExitCode, Error> {
    if let Some(both) = args.train.iter().find(|group| args.test.contains(group)) {
        return Err(usage_error(format!("`{both}` is in both --train and --test: a group is on one side only")));
    }
    let config = EvaluateConfig {
        inputs: args.inputs.clone(),
        target: args.target.clone(),
        features: args.features.clone(),
        split: split_config(&args),
        forest: ForestParams {
            trees: args.trees,
            max_depth: args.max_depth,
            min_samples_leaf: count(args.min_samples_leaf),
            max_features: args.max_features.map(count),
        },
        balance: args.balance,
        min_class_rows: args.min_class_flows,
        permutation_repeats: count(args.permutation_repeats),
        seed: args.seed,
        threads: args.threads,
        hold_out_classes: args.hold_out_classes.clone(),
    };
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} eta {eta}").expect("valid template"));
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let show = |p: Progress<'_>| {
        let Some(bar) = &bar else { return };
        let (message, done, total) = match p {
            Progress::Training { fold, folds, done, total } if fold == folds => {
                ("training the kept model on every row: trees".to_owned(), done, total)
            }
            Progress::Training { fold, folds, done, total } => {
                (format!("training fold {}/{folds}: trees", fold + 1), done, total)
            }
            Progress::Importance { test_set, fold, done, total } => {
                (format!("permutation importance, fold {}, {test_set}: shuffles", fold + 1), done, total)
            }
        };
        if bar.length() != Some(total) || done <= 1 {
            bar.set_message(message);
            bar.set_length(total);
            bar.reset_eta();
        }
        bar.set_position(done);
    };
    let evaluation = flowmine::evaluate::run_observed(&config, &show);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let evaluation = evaluation?;
    evaluation.write(&args.out, args.overwrite)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| flowmine::Error::Config(format!("cannot start {} threads: {e}", args.threads)))?;
    pool.install(|| run_semi(&args, &config))?;
    if !args.quiet {
        let d = &evaluation.data;
        println!(
            "data:     {} flows, {} used in {} classes, {} features",
            d.rows_read,
            d.rows_used,
            d.classes.len(),
            evaluation.features.len()
        );
        println!("split:    {}", config.split.describe());
        println!(
            "training: {:.2} s for {} trees on {} rows ({} thread(s))",
            evaluation.training_seconds.iter().sum::<f64>(),
            config.forest.trees,
            evaluation.training_rows.iter().sum::<u64>(),
            evaluation.threads
        );
        for t in &evaluation.test_sets {
            let m = &t.metrics;
            println!(
                "test set {}: {} flows, accuracy {:.3}, macro F1 {:.3}, weighted F1 {:.3}",
                t.name, m.rows, m.accuracy, m.macro_f1, m.weighted_f1
            );
        }
        let mean = evaluation.mean_permutation();
        let names: Vec<&str> = top(&mean, 5).into_iter().map(|j| evaluation.features[j].as_str()).collect();
        println!("top features (permutation): {}", names.join(", "));
        println!("report:   {}", args.out.join(REPORT).display());
    }
    Ok(ExitCode::SUCCESS)
}
