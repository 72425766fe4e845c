//! Permutation importance (Breiman 2001; scikit-learn's `permutation_importance`): how much
//! a test set's accuracy drops when one feature's values are shuffled among its rows,
//! which breaks that feature's link to the class and nothing else. It needs only
//! predictions, so it means the same for any model, and it is measured on rows the model
//! did not train on: the trustworthy one of the two importances.
//!
//! Shuffling feature j changes a row's path through a tree only where that path tests j.
//! So each row's leaf in each tree is found once, with the set of features its path
//! tests; a shuffle walks again only the (row, tree) pairs whose path tests j, and sums
//! the trees' leaf shares as `predict_proba` does, so the result is exactly that of
//! predicting the shuffled rows afresh, at a fraction of the work.

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ForestError;
use crate::forest::{Forest, most_likely};
use crate::random::{SplitMix64, derive, stream};
use crate::tree::{LEAF, Tree};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermutationImportance {
    /// Accuracy on the unshuffled rows.
    pub baseline_accuracy: f64,
    /// Per feature, per shuffle: baseline − accuracy with the feature shuffled.
    pub drops: Vec<Vec<f64>>,
}

/// Per feature: the mean of its drops, and their population standard deviation (numpy's
/// `std`, as scikit-learn reports `importances_std`).
pub fn mean_and_std(drops: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let mean: Vec<f64> = drops.iter().map(|d| d.iter().sum::<f64>() / d.len().max(1) as f64).collect();
    let std = drops
        .iter()
        .zip(&mean)
        .map(|(d, m)| (d.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / d.len().max(1) as f64).sqrt())
        .collect();
    (mean, std)
}

/// Every row's leaf in every tree, and the features its path there tests.
struct Paths {
    trees: usize,
    /// Words of a feature set.
    words: usize,
    /// `leaf[row * trees + tree]`
    leaf: Vec<u32>,
    /// `tests[(row * trees + tree) * words ..][..words]`: a bit per feature.
    tests: Vec<u64>,
}

impl Paths {
    fn new(forest: &Forest, x: ArrayView2<'_, f64>) -> Paths {
        let (trees, words) = (forest.trees.len(), forest.features.div_ceil(64).max(1));
        let mut leaf = vec![0u32; x.nrows() * trees];
        let mut tests = vec![0u64; x.nrows() * trees * words];
        leaf.par_chunks_mut(trees).zip(tests.par_chunks_mut(trees * words)).enumerate().for_each(
            |(row, (leaves, tests))| {
                let values = x.row(row);
                for (t, tree) in forest.trees.iter().enumerate() {
                    let set = &mut tests[t * words..(t + 1) * words];
                    let mut node = tree.nodes[0];
                    while node.feature != LEAF {
                        let f = node.feature as usize;
                        set[f / 64] |= 1 << (f % 64);
                        node = tree.nodes[(node.next + u32::from(values[f] > node.threshold)) as usize];
                    }
                    leaves[t] = node.next;
                }
            },
        );
        Paths { trees, words, leaf, tests }
    }

    #[inline]
    fn tests_feature(&self, row: usize, tree: usize, feature: usize) -> bool {
        self.tests[(row * self.trees + tree) * self.words + feature / 64] & (1 << (feature % 64)) != 0
    }
}

/// The leaf of `tree` for a row whose feature `j` reads `value` instead.
#[inline]
fn leaf_with(tree: &Tree, row: ndarray::ArrayView1<'_, f64>, j: usize, value: f64) -> u32 {
    let mut node = tree.nodes[0];
    while node.feature != LEAF {
        let f = node.feature as usize;
        let v = if f == j { value } else { row[f] };
        node = tree.nodes[(node.next + u32::from(v > node.threshold)) as usize];
    }
    node.next
}

/// The share of rows whose predicted class is the truth, feature `j` of row i reading
/// `column[i]` (the unshuffled values when `j` is `None`).
fn accuracy(forest: &Forest, x: ArrayView2<'_, f64>, paths: &Paths, truth: &[u32], j: Option<(usize, &[f64])>) -> f64 {
    let trees = forest.trees.len() as f64;
    let mut proba = vec![0.0; forest.classes];
    let mut correct = 0usize;
    for (row, &class) in truth.iter().enumerate() {
        proba.iter_mut().for_each(|p| *p = 0.0);
        for (t, tree) in forest.trees.iter().enumerate() {
            let leaf = match j {
                Some((j, column)) if paths.tests_feature(row, t, j) => leaf_with(tree, x.row(row), j, column[row]),
                _ => paths.leaf[row * paths.trees + t],
            };
            for &(c, share) in tree.leaf_shares(leaf) {
                proba[c as usize] += share;
            }
        }
        proba.iter_mut().for_each(|p| *p /= trees);
        correct += usize::from(most_likely(&proba) == class);
    }
    correct as f64 / truth.len() as f64
}

/// The permutation importance of every feature on the test rows `x` (rows × features,
/// one row per entry of `truth`), `repeats` shuffles each. Shuffle r of feature j uses
/// the stream `derive(seed, [PERMUTATION, key..., j, r])`; `key` tells test sets and
/// folds apart.
pub fn permutation_importance(
    forest: &Forest,
    x: ArrayView2<'_, f64>,
    truth: &[u32],
    repeats: usize,
    seed: u64,
    key: &[u64],
) -> Result<PermutationImportance, ForestError> {
    permutation_importance_observed(forest, x, truth, repeats, seed, key, &|| {})
}

/// [`permutation_importance`], calling `shuffle_done` after each shuffle is scored (for
/// a progress bar).
pub fn permutation_importance_observed(
    forest: &Forest,
    x: ArrayView2<'_, f64>,
    truth: &[u32],
    repeats: usize,
    seed: u64,
    key: &[u64],
    shuffle_done: &(dyn Fn() + Sync),
) -> Result<PermutationImportance, ForestError> {
    if x.ncols() != forest.features {
        return Err(ForestError::Features { model: forest.features, rows: x.ncols() });
    }
    if x.nrows() != truth.len() {
        return Err(ForestError::Rows { rows: x.nrows(), classes: truth.len() });
    }
    if repeats == 0 || truth.is_empty() {
        return Err(ForestError::NoPermutations);
    }
    let paths = Paths::new(forest, x);
    let baseline = accuracy(forest, x, &paths, truth, None);
    let drops = (0..forest.features * repeats)
        .into_par_iter()
        .map(|k| {
            let (j, r) = (k / repeats, k % repeats);
            let mut path = vec![stream::PERMUTATION];
            path.extend_from_slice(key);
            path.extend([j as u64, r as u64]);
            let mut rng = SplitMix64::new(derive(seed, &path));
            let mut column = x.column(j).to_vec();
            rng.shuffle(&mut column);
            let drop = baseline - accuracy(forest, x, &paths, truth, Some((j, &column)));
            shuffle_done();
            drop
        })
        .collect::<Vec<f64>>();
    Ok(PermutationImportance {
        baseline_accuracy: baseline,
        drops: drops.chunks(repeats).map(<[f64]>::to_vec).collect(),
    })
}

/// Feature indices by decreasing importance (ties by column order), the first `n`.
pub fn top(importance: &[f64], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..importance.len()).collect();
    order.sort_by(|&a, &b| importance[b].total_cmp(&importance[a]).then(a.cmp(&b)));
    order.truncate(n);
    order
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, Axis};

    use super::*;
    use crate::forest::ForestParams;

    #[test]
    fn walking_only_the_paths_that_test_the_feature_equals_predicting_afresh() {
        // 300 rows, 3 classes, 6 features of which 3 carry the class, with ties.
        let mut rng = SplitMix64::new(11);
        let y: Vec<u32> = (0..300).map(|r| (r % 3) as u32).collect();
        let x = Array2::from_shape_fn((300, 6), |(r, f)| {
            let noise = (rng.below(1000) as f64 / 100.0).round();
            if f < 3 { f64::from(y[r]) * (f as f64 + 1.0) + noise } else { noise }
        });
        let params = ForestParams { trees: 12, max_depth: Some(6), ..ForestParams::default() };
        let forest = Forest::train(x.view(), &y, 3, &params, 4).unwrap();
        let fast = permutation_importance(&forest, x.view(), &y, 3, 9, &[1, 2]).unwrap();
        let afresh = |predicted: Vec<u32>| predicted.iter().zip(&y).filter(|(p, t)| p == t).count() as f64 / 300.0;
        assert_eq!(fast.baseline_accuracy, afresh(forest.predict(x.view()).unwrap()));
        for j in 0..6 {
            for r in 0..3 {
                let mut shuffled = x.clone();
                let mut column = x.column(j).to_vec();
                SplitMix64::new(derive(9, &[stream::PERMUTATION, 1, 2, j as u64, r as u64])).shuffle(&mut column);
                shuffled.index_axis_mut(Axis(1), j).assign(&ndarray::aview1(&column));
                let expected = fast.baseline_accuracy - afresh(forest.predict(shuffled.view()).unwrap());
                assert_eq!(fast.drops[j][r], expected, "feature {j}, shuffle {r}");
            }
        }
        assert!(fast.drops[0].iter().sum::<f64>() > fast.drops[5].iter().sum::<f64>());
    }
}
