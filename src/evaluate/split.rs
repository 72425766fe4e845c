//! Which rows train the model and which test it: stratified hold-out and k-fold, and
//! splits by a group column (device, capture, session, day) that never put rows of one
//! group on both sides.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::random::{SplitMix64, derive, stream};
use crate::{Error, Result};

/// How to split, as asked on the command line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SplitConfig {
    /// Stratified: each class is cut in the same proportion.
    Holdout { test_fraction: f64 },
    /// Stratified k-fold: every row is tested once, by a model that did not see it.
    KFold { folds: usize },
    /// Whole groups of `column` go to the test side until it holds `test_fraction` of the rows.
    GroupHoldout { column: String, test_fraction: f64 },
    /// Whole groups of `column` dealt into `folds` folds of about equal rows.
    GroupKFold { column: String, folds: usize },
    /// Train on the rows whose `column` is one of `train` (less a stratified `held_out`
    /// fraction, tested as a set of its own); each value of `test` is a test set.
    Groups { column: String, train: Vec<String>, test: Vec<String>, held_out: f64 },
}

impl SplitConfig {
    /// The group column, for splits by group.
    pub fn group_column(&self) -> Option<&str> {
        match self {
            SplitConfig::Holdout { .. } | SplitConfig::KFold { .. } => None,
            SplitConfig::GroupHoldout { column, .. }
            | SplitConfig::GroupKFold { column, .. }
            | SplitConfig::Groups { column, .. } => Some(column),
        }
    }

    /// A one-line description for reports.
    pub fn describe(&self) -> String {
        match self {
            SplitConfig::Holdout { test_fraction } => {
                format!("stratified random hold-out, {:.0} % of each class tested", test_fraction * 100.0)
            }
            SplitConfig::KFold { folds } => format!("stratified {folds}-fold cross-validation"),
            SplitConfig::GroupHoldout { column, test_fraction } => {
                format!("hold-out by `{column}`: whole groups, {:.0} % of rows tested", test_fraction * 100.0)
            }
            SplitConfig::GroupKFold { column, folds } => format!("{folds}-fold cross-validation by `{column}`"),
            SplitConfig::Groups { column, train, test, held_out } => format!(
                "by `{column}`: trained on {}{}, tested on {}",
                train.join(", "),
                if *held_out > 0.0 {
                    format!(" less a stratified {:.0} % held out", held_out * 100.0)
                } else {
                    String::new()
                },
                test.join(", ")
            ),
        }
    }
}

/// One training run: the rows it trains on and the test sets it is scored on (indices
/// into the dataset's rows).
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    pub train: Vec<usize>,
    pub tests: Vec<TestRows>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TestRows {
    pub name: String,
    pub rows: Vec<usize>,
}

/// The default name of the test set of a hold-out or k-fold split.
pub const TEST: &str = "test";

/// The fraction `f` of the setting `name`.
fn check_fraction(f: f64, name: &'static str) -> Result<()> {
    if f > 0.0 && f < 1.0 { Ok(()) } else { Err(Error::setting(name, f, "must be between 0 and 1 (exclusive)")) }
}

fn check_folds(folds: usize, units: usize, what: &str) -> Result<()> {
    if folds < 2 {
        return Err(Error::setting("folds", folds, "must be at least 2"));
    }
    if units < folds {
        return Err(Error::Config(format!("{folds} folds need at least {folds} {what}, there are {units}")));
    }
    Ok(())
}

/// Rows of `rows` by class, each class's rows shuffled by `rng`, classes in index order.
fn shuffled_by_class(rows: &[usize], y: &[u32], rng: &mut SplitMix64) -> Vec<Vec<usize>> {
    let mut by_class: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for &r in rows {
        by_class.entry(y[r]).or_default().push(r);
    }
    let mut classes: Vec<Vec<usize>> = by_class.into_values().collect();
    for rows in &mut classes {
        rng.shuffle(rows);
    }
    classes
}

/// Stratified hold-out of `rows`: round(n_c · f) rows of each class c to the test side
/// (at least one when the class has two or more rows, never all of them).
fn stratified_holdout(rows: &[usize], y: &[u32], f: f64, rng: &mut SplitMix64) -> (Vec<usize>, Vec<usize>) {
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class_rows in shuffled_by_class(rows, y, rng) {
        let n = class_rows.len();
        let n_test = if n < 2 { 0 } else { ((n as f64 * f).round() as usize).clamp(1, n - 1) };
        test.extend_from_slice(&class_rows[..n_test]);
        train.extend_from_slice(&class_rows[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Groups of `rows` by `groups` value (null rows form the group `(none)`), in name order.
fn rows_by_group(rows: &[usize], groups: &[Option<String>]) -> BTreeMap<String, Vec<usize>> {
    let mut by_group: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &r in rows {
        let name = groups[r].clone().unwrap_or_else(|| NO_GROUP.to_owned());
        by_group.entry(name).or_default().push(r);
    }
    by_group
}

/// The group of rows whose group column is null.
pub const NO_GROUP: &str = "(none)";

/// The folds of `config` over the dataset rows `0..y.len()` (class index per row);
/// `groups` holds the group column's values for splits by group.
pub fn make_folds(config: &SplitConfig, y: &[u32], groups: Option<&[Option<String>]>, seed: u64) -> Result<Vec<Fold>> {
    let all: Vec<usize> = (0..y.len()).collect();
    let mut rng = SplitMix64::new(derive(seed, &[stream::SPLIT]));
    let groups = || groups.ok_or_else(|| Error::Config("a split by group needs the group column".to_owned()));
    let one_test = |train, rows| vec![Fold { train, tests: vec![TestRows { name: TEST.to_owned(), rows }] }];
    match config {
        SplitConfig::Holdout { test_fraction } => {
            check_fraction(*test_fraction, "test_fraction")?;
            let (train, test) = stratified_holdout(&all, y, *test_fraction, &mut rng);
            Ok(one_test(train, test))
        }
        SplitConfig::KFold { folds } => {
            check_folds(*folds, all.len(), "rows")?;
            let mut fold_of = vec![0; y.len()];
            // Deal each class round-robin, continuing where the previous class stopped,
            // so fold sizes differ by at most one row.
            let mut next = 0;
            for class_rows in shuffled_by_class(&all, y, &mut rng) {
                for r in class_rows {
                    fold_of[r] = next;
                    next = (next + 1) % folds;
                }
            }
            Ok(folds_from_assignment(&fold_of, *folds))
        }
        SplitConfig::GroupHoldout { column, test_fraction } => {
            check_fraction(*test_fraction, "test_fraction")?;
            let by_group = rows_by_group(&all, groups()?);
            if by_group.len() < 2 {
                let what = format!("a hold-out by `{column}` needs at least 2 groups, there is {}", by_group.len());
                return Err(Error::Config(what));
            }
            let mut names: Vec<&String> = by_group.keys().collect();
            rng.shuffle(&mut names);
            let wanted = (all.len() as f64 * test_fraction).round() as usize;
            let (mut train, mut test) = (Vec::new(), Vec::new());
            // Whole groups to the test side until it has its share; one group always
            // stays for training.
            for (i, name) in names.iter().enumerate() {
                let rows = &by_group[*name];
                if test.len() < wanted.max(1) && i + 1 < names.len() {
                    test.extend_from_slice(rows);
                } else {
                    train.extend_from_slice(rows);
                }
            }
            train.sort_unstable();
            test.sort_unstable();
            Ok(one_test(train, test))
        }
        SplitConfig::GroupKFold { column, folds } => {
            let by_group = rows_by_group(&all, groups()?);
            check_folds(*folds, by_group.len(), &format!("groups of `{column}`"))?;
            // Largest groups first (ties in a seeded random order), each to the fold with
            // the fewest rows so far: folds of about equal size.
            let mut order: Vec<(&String, &Vec<usize>)> = by_group.iter().collect();
            rng.shuffle(&mut order);
            order.sort_by_key(|(_, rows)| std::cmp::Reverse(rows.len()));
            let mut sizes = vec![0usize; *folds];
            let mut fold_of = vec![0; y.len()];
            for (_, rows) in order {
                let smallest = (0..*folds).min_by_key(|&f| (sizes[f], f)).expect("folds ≥ 2");
                sizes[smallest] += rows.len();
                for &r in rows {
                    fold_of[r] = smallest;
                }
            }
            Ok(folds_from_assignment(&fold_of, *folds))
        }
        SplitConfig::Groups { column, train, test, held_out } => {
            let by_group = rows_by_group(&all, groups()?);
            let known = |value: &String| -> Result<&Vec<usize>> {
                by_group.get(value).ok_or_else(|| {
                    let values: Vec<&str> = by_group.keys().take(30).map(String::as_str).collect();
                    Error::Config(format!("no rows with `{column}` = `{value}` (values: {})", values.join(", ")))
                })
            };
            if train.is_empty() || test.is_empty() {
                let what = format!("a split by `{column}` values needs both training and test values");
                return Err(Error::Config(what));
            }
            let train_set: BTreeSet<&String> = train.iter().collect();
            if let Some(both) = test.iter().find(|t| train_set.contains(t)) {
                return Err(Error::Config(format!("`{column}` = `{both}` is both a training and a test value")));
            }
            let mut train_rows = Vec::new();
            for value in train {
                train_rows.extend_from_slice(known(value)?);
            }
            train_rows.sort_unstable();
            let mut tests = Vec::new();
            if *held_out > 0.0 {
                check_fraction(*held_out, "test_fraction")?;
                let (kept, held) = stratified_holdout(&train_rows, y, *held_out, &mut rng);
                train_rows = kept;
                // Named after its group when there is one ("Nexus 7 held-out").
                let name = if train.len() == 1 { format!("{} held-out", train[0]) } else { "held-out".to_owned() };
                tests.push(TestRows { name, rows: held });
            }
            for value in test {
                tests.push(TestRows { name: value.clone(), rows: known(value)?.clone() });
            }
            Ok(vec![Fold { train: train_rows, tests }])
        }
    }
}

fn folds_from_assignment(fold_of: &[usize], folds: usize) -> Vec<Fold> {
    (0..folds)
        .map(|f| {
            let (test, train): (Vec<usize>, Vec<usize>) = (0..fold_of.len()).partition(|&r| fold_of[r] == f);
            Fold { train, tests: vec![TestRows { name: TEST.to_owned(), rows: test }] }
        })
        .collect()
}

/// How the training rows are balanced between classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// Train on the rows as they are.
    None,
    /// Every class cut down (random rows) to the size of the smallest.
    Undersample,
    /// Every class brought up to the size of the largest by repeating random rows.
    Oversample,
}

/// The training rows after balancing (a row may repeat when oversampling), sorted.
pub fn balance(train: &[usize], y: &[u32], how: Balance, seed: u64, fold: usize) -> Vec<usize> {
    if how == Balance::None {
        return train.to_vec();
    }
    let mut rng = SplitMix64::new(derive(seed, &[stream::BALANCE, fold as u64]));
    let classes = shuffled_by_class(train, y, &mut rng);
    let sizes = classes.iter().map(Vec::len);
    let target = if how == Balance::Undersample { sizes.min() } else { sizes.max() }.unwrap_or(0);
    let mut rows = Vec::with_capacity(target * classes.len());
    for class_rows in classes {
        if class_rows.len() >= target {
            rows.extend_from_slice(&class_rows[..target]);
        } else {
            rows.extend_from_slice(&class_rows);
            rows.extend((class_rows.len()..target).map(|_| class_rows[rng.below(class_rows.len())]));
        }
    }
    rows.sort_unstable();
    rows
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// 60 rows, 3 classes, 12 groups of 5 rows; rows 55..60 have no group.
    fn data() -> (Vec<u32>, Vec<Option<String>>) {
        let y = (0..60).map(|r| (r % 3) as u32).collect();
        let groups = (0..60).map(|r| (r < 55).then(|| format!("g{}", r / 5))).collect();
        (y, groups)
    }

    fn groups_of(rows: &[usize], groups: &[Option<String>]) -> BTreeSet<String> {
        rows.iter().map(|&r| groups[r].clone().unwrap_or_else(|| NO_GROUP.to_owned())).collect()
    }

    #[test]
    fn group_splits_never_put_a_group_on_both_sides() {
        let (y, groups) = data();
        for seed in 0..20 {
            let configs = [
                SplitConfig::GroupHoldout { column: "g".into(), test_fraction: 0.3 },
                SplitConfig::GroupKFold { column: "g".into(), folds: 4 },
            ];
            for config in configs {
                let folds = make_folds(&config, &y, Some(&groups), seed).unwrap();
                let mut tested = vec![0; y.len()];
                for fold in &folds {
                    let train = groups_of(&fold.train, &groups);
                    let test = groups_of(&fold.tests[0].rows, &groups);
                    assert!(train.is_disjoint(&test), "{config:?} seed {seed}: {train:?} / {test:?}");
                    assert_eq!(fold.train.len() + fold.tests[0].rows.len(), y.len());
                    for &r in &fold.tests[0].rows {
                        tested[r] += 1;
                    }
                }
                if folds.len() > 1 {
                    // k-fold: every row is tested exactly once.
                    assert!(tested.iter().all(|&t| t == 1));
                }
            }
        }
    }

    #[test]
    fn explicit_groups_train_and_test_on_the_values_named() {
        let (y, groups) = data();
        let config = SplitConfig::Groups {
            column: "g".into(),
            train: vec!["g0".into(), "g1".into()],
            test: vec!["g2".into(), "g3".into()],
            held_out: 0.3,
        };
        let folds = make_folds(&config, &y, Some(&groups), 1).unwrap();
        let fold = &folds[0];
        let names: Vec<&str> = fold.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["held-out", "g2", "g3"]);
        assert_eq!(fold.tests[1].rows, [10, 11, 12, 13, 14]);
        assert_eq!(fold.tests[2].rows, [15, 16, 17, 18, 19]);
        // The held-out rows come from the training groups and are not trained on.
        let mut train_side: Vec<usize> = fold.train.iter().chain(&fold.tests[0].rows).copied().collect();
        train_side.sort();
        assert_eq!(train_side, (0..10).collect::<Vec<_>>());
        assert!(fold.tests[0].rows.iter().all(|r| !fold.train.contains(r)));
        assert_eq!(fold.tests[0].rows.len(), 3, "round(0.3 × rows) of each class with ≥ 2 rows");

        let missing = SplitConfig::Groups {
            column: "g".into(),
            train: vec!["g0".into()],
            test: vec!["nope".into()],
            held_out: 0.0,
        };
        assert!(make_folds(&missing, &y, Some(&groups), 1).unwrap_err().to_string().contains("`nope`"));
        let both = SplitConfig::Groups {
            column: "g".into(),
            train: vec!["g0".into()],
            test: vec!["g0".into()],
            held_out: 0.0,
        };
        assert!(make_folds(&both, &y, Some(&groups), 1).unwrap_err().to_string().contains("both"));
    }

    #[test]
    fn stratified_holdout_cuts_each_class_in_proportion_and_seeds_repeat() {
        let (y, _) = data();
        let config = SplitConfig::Holdout { test_fraction: 0.25 };
        let a = make_folds(&config, &y, None, 7).unwrap();
        assert_eq!(a, make_folds(&config, &y, None, 7).unwrap());
        assert_ne!(a, make_folds(&config, &y, None, 8).unwrap());
        for class in 0..3 {
            let tested = a[0].tests[0].rows.iter().filter(|&&r| y[r] == class).count();
            assert_eq!(tested, 5, "20 rows of class {class} × 0.25");
        }
        let folds = make_folds(&SplitConfig::KFold { folds: 3 }, &y, None, 7).unwrap();
        for fold in &folds {
            let per_class: Vec<usize> =
                (0..3).map(|c| fold.tests[0].rows.iter().filter(|&&r| y[r] == c).count()).collect();
            assert!(per_class.iter().all(|&n| (6..=7).contains(&n)), "{per_class:?}");
        }
    }

    #[test]
    fn balancing_evens_out_the_classes() {
        // Class 0: 6 rows, class 1: 2 rows.
        let y = [0, 0, 0, 0, 0, 0, 1, 1];
        let all: Vec<usize> = (0..8).collect();
        let under = balance(&all, &y, Balance::Undersample, 3, 0);
        assert_eq!(under.iter().filter(|&&r| y[r] == 0).count(), 2);
        assert!(under.contains(&6) && under.contains(&7));
        let over = balance(&all, &y, Balance::Oversample, 3, 0);
        assert_eq!(over.iter().filter(|&&r| y[r] == 1).count(), 6);
        assert_eq!(over.iter().filter(|&&r| y[r] == 0).count(), 6);
        assert_eq!(balance(&all, &y, Balance::None, 3, 0), all);
    }
}
