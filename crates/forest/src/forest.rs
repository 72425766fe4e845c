//! The Random Forest (Breiman 2001, as scikit-learn's `RandomForestClassifier` with its
//! defaults): each tree grown on a bootstrap sample of the training rows, with a fresh
//! random subset of features at every split ([`tree`](crate::tree)); the forest averages
//! the trees' class shares (`predict_proba`) and predicts the class with the largest
//! mean. Tree k's bootstrap and feature draws come from a stream of its own derived from
//! the seed, so the trees are trained on all cores at once and a seed gives the same
//! forest on any number of threads.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ForestError;
use crate::random::{SplitMix64, derive, stream};
use crate::tree::{Columns, Growth, Tree};

/// The forest's hyper-parameters (scikit-learn's names in the comments).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// n_estimators
    pub trees: u16,
    /// max_depth; `None`: grow until leaves are pure
    pub max_depth: Option<u16>,
    /// min_samples_leaf
    pub min_samples_leaf: usize,
    /// max_features; `None`: ⌊√features⌋, scikit-learn's "sqrt"
    pub max_features: Option<usize>,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams { trees: 100, max_depth: None, min_samples_leaf: 1, max_features: None }
    }
}

impl ForestParams {
    /// Features drawn at each split for a table of `features` columns.
    pub fn features_per_split(&self, features: usize) -> usize {
        self.max_features.unwrap_or((features as f64).sqrt().floor() as usize).clamp(1, features.max(1))
    }
}

/// A trained forest: its trees and the number of classes they vote among.
#[derive(Debug, Serialize, Deserialize)]
pub struct Forest {
    pub classes: usize,
    pub features: usize,
    pub trees: Vec<Tree>,
}

/// Rows predicted together: one tree's upper nodes and the rows' values stay in cache
/// while every row of the block walks it.
const BLOCK: usize = 256;

impl Forest {
    /// Trains `params.trees` trees on `x` (rows × features, any memory layout, finite
    /// values) and class indices `y` (below `classes`), on the current rayon pool. Tree
    /// k's bootstrap and feature draws come from `derive(seed, [TREES, k])`, so a seed
    /// gives the same forest on any number of threads.
    pub fn train(
        x: ArrayView2<'_, f64>,
        y: &[u32],
        classes: usize,
        params: &ForestParams,
        seed: u64,
    ) -> Result<Forest, ForestError> {
        Forest::train_observed(x, y, classes, params, seed, &|| {})
    }

    /// [`Forest::train`], calling `tree_done` as each tree is finished (for a progress bar).
    pub fn train_observed(
        x: ArrayView2<'_, f64>,
        y: &[u32],
        classes: usize,
        params: &ForestParams,
        seed: u64,
        tree_done: &(dyn Fn() + Sync),
    ) -> Result<Forest, ForestError> {
        check_training(x, y, classes, params)?;
        let growth = Growth {
            max_depth: params.max_depth,
            min_samples_leaf: params.min_samples_leaf,
            max_features: params.features_per_split(x.ncols()),
        };
        // Trees read a node's rows one feature at a time: each feature's values together.
        let by_feature = x.t().as_standard_layout().into_owned();
        let columns = Columns::new(&by_feature.view());
        let rows = x.nrows();
        let trees = (0..params.trees)
            .into_par_iter()
            .map(|k| {
                let mut rng = SplitMix64::new(derive(seed, &[stream::TREES, u64::from(k)]));
                // The bootstrap sample as the times each row is drawn (scikit-learn's
                // sample weights from `_generate_sample_indices`).
                let mut weight = vec![0u32; rows];
                for _ in 0..rows {
                    weight[rng.below(rows)] += 1;
                }
                let tree = Tree::grow(columns, y, classes, &weight, growth, &mut rng);
                tree_done();
                tree
            })
            .collect();
        Ok(Forest { classes, features: x.ncols(), trees })
    }

    /// Checks a forest read from a file: every tree's indices in range.
    pub fn check(&self) -> Result<(), ForestError> {
        if self.trees.is_empty() {
            return Err(ForestError::NoTrees);
        }
        for (tree, t) in self.trees.iter().enumerate() {
            t.check(self.features, self.classes).map_err(|node| ForestError::Damaged { tree, node })?;
        }
        Ok(())
    }

    /// The mean over the trees of the class shares of the leaf each row of `x` (rows ×
    /// features) ends in: `proba[[row, class]]`, scikit-learn's `predict_proba`.
    pub fn predict_proba(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>, ForestError> {
        self.check_features(x)?;
        let (classes, features) = (self.classes, self.features);
        // Row-major values as one slice (a copy only when `x` is in another layout).
        let x = x.as_standard_layout();
        let values = x.as_slice().expect("standard layout");
        let mut proba = vec![0.0; x.nrows() * classes];
        proba.par_chunks_mut(BLOCK * classes).enumerate().for_each(|(b, out)| {
            let rows = &values[b * BLOCK * features..(b * BLOCK + out.len() / classes) * features];
            for tree in &self.trees {
                tree.add_leaf_shares(rows, features, out, classes);
            }
        });
        let trees = self.trees.len() as f64;
        proba.iter_mut().for_each(|p| *p /= trees);
        Ok(Array2::from_shape_vec((x.nrows(), classes), proba).expect("rows × classes values"))
    }

    /// The class of largest mean share for every row of `x` (ties: the lower class index).
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Vec<u32>, ForestError> {
        Ok(self
            .predict_proba(x)?
            .rows()
            .into_iter()
            .map(|p| most_likely(p.as_slice().expect("standard layout")))
            .collect())
    }

    fn check_features(&self, x: ArrayView2<'_, f64>) -> Result<(), ForestError> {
        if x.ncols() != self.features {
            return Err(ForestError::Features { model: self.features, rows: x.ncols() });
        }
        Ok(())
    }

    /// Mean decrease in impurity (Gini importance) per feature, as scikit-learn computes
    /// `feature_importances_`: each tree's weighted impurity decreases, normalised to sum
    /// 1, averaged over the trees that split at all, normalised again.
    pub fn impurity_importance(&self) -> Vec<f64> {
        let mut sum = vec![0.0; self.features];
        for tree in self.trees.iter().filter(|t| t.splits() > 0) {
            let decreases = tree.impurity_decrease(self.features);
            let total: f64 = decreases.iter().sum();
            if total > 0.0 {
                for (s, d) in sum.iter_mut().zip(decreases) {
                    *s += d / total;
                }
            }
        }
        let total: f64 = sum.iter().sum();
        if total <= 0.0 {
            return sum;
        }
        sum.into_iter().map(|s| s / total).collect()
    }
}

/// Refuses training data a forest cannot learn from, naming the first fault.
fn check_training(x: ArrayView2<'_, f64>, y: &[u32], classes: usize, params: &ForestParams) -> Result<(), ForestError> {
    if params.trees == 0 {
        return Err(ForestError::NoTrees);
    }
    if y.len() != x.nrows() {
        return Err(ForestError::Rows { rows: x.nrows(), classes: y.len() });
    }
    if let Some((row, &class)) = y.iter().enumerate().find(|(_, c)| **c as usize >= classes) {
        return Err(ForestError::Class { row, class, classes });
    }
    let mut present = vec![false; classes];
    y.iter().for_each(|&c| present[c as usize] = true);
    let present = present.iter().filter(|p| **p).count();
    if present < 2 {
        return Err(ForestError::OneClass(present));
    }
    if let Some(((row, feature), &value)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(ForestError::NotFinite { row, feature, value });
    }
    Ok(())
}

/// The index of the largest value, the first one on ties (numpy's `argmax`).
pub fn most_likely(shares: &[f64]) -> u32 {
    let mut best = 0;
    for (i, &p) in shares.iter().enumerate() {
        if p > shares[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;
    use crate::importance::permutation_importance;

    /// 40 rows: feature 0 is the class (0 below 10, 1 above), feature 1 is noise.
    fn separable() -> (Array2<f64>, Vec<u32>) {
        let y: Vec<u32> = (0..40).map(|r| u32::from(r >= 20)).collect();
        let x = Array2::from_shape_fn((40, 2), |(r, f)| match f {
            0 if r >= 20 => 15.0 + r as f64,
            0 => r as f64 % 10.0,
            _ => ((r * 7919) % 13) as f64,
        });
        (x, y)
    }

    fn params() -> ForestParams {
        ForestParams { trees: 15, max_depth: None, min_samples_leaf: 1, max_features: Some(2) }
    }

    #[test]
    fn a_separating_feature_takes_all_the_importance() {
        let (x, y) = separable();
        let forest = Forest::train(x.view(), &y, 2, &params(), 5).unwrap();
        assert_eq!(forest.predict(x.view()).unwrap(), y);
        // Both features are tried at every split and feature 0 splits the root into two
        // pure halves: every tree has that one split, all the impurity decrease is f0's.
        assert_eq!(forest.impurity_importance(), [1.0, 0.0]);
        let perm = permutation_importance(&forest, x.view(), &y, 4, 5, &[0]).unwrap();
        assert_eq!(perm.baseline_accuracy, 1.0);
        assert!(perm.drops[1].iter().all(|&d| d == 0.0), "an unused feature never matters");
        assert!(perm.drops[0].iter().all(|&d| d > 0.2), "{:?}", perm.drops[0]);
    }

    #[test]
    fn a_seed_gives_the_same_forest_on_any_number_of_threads() {
        let (x, y) = separable();
        let mut p = params();
        p.max_features = None;
        let train = |threads: usize, seed: u64| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let forest = pool.install(|| Forest::train(x.view(), &y, 2, &p, seed).unwrap());
            serde_json::to_string(&forest).unwrap()
        };
        assert_eq!(train(1, 9), train(3, 9));
        assert_ne!(train(1, 9), train(1, 10));
    }

    #[test]
    fn ties_go_to_the_lower_class_and_bad_training_data_is_refused() {
        assert_eq!(most_likely(&[0.2, 0.4, 0.4, 0.0]), 1);
        assert_eq!(most_likely(&[0.0, 0.0]), 0);
        let (mut x, y) = separable();
        let train = |x: &Array2<f64>, y: &[u32], p: &ForestParams| Forest::train(x.view(), y, 2, p, 0).unwrap_err();
        assert_eq!(train(&x, &[1; 40], &params()), ForestError::OneClass(1));
        assert_eq!(train(&x, &y[1..], &params()), ForestError::Rows { rows: 40, classes: 39 });
        assert_eq!(
            train(&x, &[&y[1..], &[2]].concat(), &params()),
            ForestError::Class { row: 39, class: 2, classes: 2 }
        );
        assert_eq!(train(&x, &y, &ForestParams { trees: 0, ..params() }), ForestError::NoTrees);
        // A NaN used to give NaN thresholds that sent every row one way, and the tree grew
        // the same node again without end.
        x[[7, 1]] = f64::NAN;
        assert!(matches!(train(&x, &y, &params()), ForestError::NotFinite { row: 7, feature: 1, .. }));
        x[[7, 1]] = f64::NEG_INFINITY;
        assert!(matches!(train(&x, &y, &params()), ForestError::NotFinite { row: 7, feature: 1, .. }));
    }

    #[test]
    fn probabilities_are_the_mean_of_the_trees_leaf_shares() {
        // Rows 0..20 and 20..40 of class 0 and 1, but rows 18..22 share one value of the
        // only feature: no tree can tell them apart.
        let x = Array2::from_shape_fn((40, 1), |(r, _)| if (18..22).contains(&r) { 18.0 } else { r as f64 });
        let y: Vec<u32> = (0..40).map(|r| u32::from(r >= 20)).collect();
        let p = ForestParams { trees: 25, ..params() };
        let forest = Forest::train(x.view(), &y, 2, &p, 3).unwrap();
        let proba = forest.predict_proba(x.view()).unwrap();
        for (r, row) in proba.rows().into_iter().enumerate() {
            let mut expected = [0.0; 2];
            for tree in &forest.trees {
                for &(c, share) in tree.leaf_shares(tree.leaf(x.row(r))) {
                    expected[c as usize] += share;
                }
            }
            assert_eq!(row.to_vec(), expected.map(|e| e / 25.0), "row {r}");
            assert!((row.sum() - 1.0).abs() < 1e-12);
        }
        // Soft, not hard votes: a tree whose bootstrap drew rows 18..22 unevenly gives
        // their leaf a share strictly between 0 and 1.
        assert!(proba[[19, 0]] > 0.05 && proba[[19, 0]] < 0.95, "{}", proba[[19, 0]]);
        assert_eq!(proba[[0, 0]], 1.0);
        let err = forest.predict_proba(Array2::zeros((3, 2)).view()).unwrap_err();
        assert_eq!(err, ForestError::Features { model: 1, rows: 2 });
    }
}
