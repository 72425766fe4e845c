//! Permutation importance (Breiman 2001; scikit-learn's `permutation_importance`): how much
//! a test set's accuracy drops when one feature's values are shuffled among its rows,
//! which breaks that feature's link to the class and nothing else. It needs only
//! predictions, so it means the same for any model, and it is measured on rows the model
//! did not train on: the trustworthy one of the two importances.
//!
//! Shuffling feature j changes a row's path through a tree only where that path tests j.
//! So each row's leaf in each tree is found once, with the features its path tests, and
//! the forest's class sums of every row are kept. A shuffle walks again only the (row,
//! tree) pairs whose path tests j, one tree at a time (so the tree stays in cache), and
//! moves a row's sums by the shares of the leaves it left and reached. A row whose best
//! class leads by more than those few float operations could have moved it keeps that
//! class; a near tie is summed again tree by tree, as `predict_proba` sums, so the result
//! is exactly that of predicting the shuffled rows afresh, at a fraction of the work.

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ForestError;
use crate::forest::{Forest, most_likely};
use crate::random::{SplitMix64, derive, stream};
use crate::tree::{LANES, Tree};

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

/// The test rows as the forest walks them: every row's leaf in every tree, the rows
/// whose path in a tree tests a feature, and every row's unshuffled class sums.
struct Paths<'a> {
    forest: &'a Forest,
    /// Row-major feature values.
    values: &'a [f64],
    truth: &'a [u32],
    /// Words of a row set.
    words: usize,
    /// `leaf[tree * rows + row]`
    leaf: Vec<u32>,
    /// `tests[(tree * features + feature) * words..][..words]`: bit `row` is set when
    /// the row's path in the tree tests the feature.
    tests: Vec<u64>,
    /// `sums[row * classes..][..classes]`: the trees' leaf shares added in tree order
    /// (`predict_proba` before it divides by the number of trees).
    sums: Vec<f64>,
    /// Whether the unshuffled row is predicted right.
    right: Vec<bool>,
}

impl<'a> Paths<'a> {
    fn new(forest: &'a Forest, values: &'a [f64], truth: &'a [u32]) -> Paths<'a> {
        let (rows, features, classes) = (truth.len(), forest.features, forest.classes);
        let words = rows.div_ceil(64);
        let stride = features.max(1) * words;
        let mut leaf = vec![0u32; forest.trees.len() * rows];
        let mut tests = vec![0u64; forest.trees.len() * stride];
        leaf.par_chunks_mut(rows).zip(tests.par_chunks_mut(stride)).zip(&forest.trees).for_each(
            |((leaves, tests), tree)| {
                for (row, leaf) in leaves.iter_mut().enumerate() {
                    let values = &values[row * features..][..features];
                    // Each feature the walk reads is one its path tests.
                    *leaf = tree.leaf_by(|f| {
                        tests[f * words + row / 64] |= 1 << (row % 64);
                        values[f]
                    });
                }
            },
        );
        let mut sums = vec![0.0; rows * classes];
        let right = sums
            .par_chunks_mut(classes)
            .enumerate()
            .map(|(row, sums)| {
                add_shares(forest, |t| leaf[t * rows + row], sums);
                class_of(sums, forest.trees.len()) == truth[row]
            })
            .collect();
        Paths { forest, values, truth, words, leaf, tests, sums, right }
    }

    fn rows(&self) -> usize {
        self.truth.len()
    }

    /// The set of rows whose path in `tree` tests `feature`, a bit per row.
    fn row_set(&self, tree: usize, feature: usize) -> &[u64] {
        &self.tests[(tree * self.forest.features.max(1) + feature) * self.words..][..self.words]
    }

    /// The rows whose path in `tree` tests `feature`, in order.
    fn testing(&self, tree: usize, feature: usize) -> impl Iterator<Item = usize> + '_ {
        self.row_set(tree, feature).iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let bit = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    w * 64 + bit
                })
            })
        })
    }

    fn tests(&self, tree: usize, feature: usize, row: usize) -> bool {
        self.row_set(tree, feature)[row / 64] & (1 << (row % 64)) != 0
    }

    fn row(&self, row: usize) -> &[f64] {
        &self.values[row * self.forest.features..][..self.forest.features]
    }

    fn right_count(&self) -> usize {
        self.right.iter().filter(|r| **r).count()
    }

    /// Moves a row's class sums from leaf `old` of `tree` to leaf `new`.
    #[inline]
    fn move_row(&self, scratch: &mut Scratch, tree: &Tree, row: usize, old: u32, new: u32) {
        if old == new {
            return;
        }
        if !std::mem::replace(&mut scratch.moved[row], true) {
            scratch.touched.push(row);
        }
        let classes = self.forest.classes;
        let sums = &mut scratch.sums[row * classes..][..classes];
        tree.leaf_shares(old).iter().for_each(|&(c, share)| sums[c as usize] -= share);
        tree.leaf_shares(new).iter().for_each(|&(c, share)| sums[c as usize] += share);
    }

    /// How many rows are predicted right when feature `j` of row i reads `column[i]`.
    fn right_shuffled(&self, j: usize, column: &[f64], scratch: &mut Scratch) -> usize {
        let (rows, classes) = (self.rows(), self.forest.classes);
        let mut group = [0usize; LANES];
        for (t, tree) in self.forest.trees.iter().enumerate() {
            let mut testing = self.testing(t, j).peekable();
            while testing.peek().is_some() {
                let n = group.iter_mut().zip(&mut testing).map(|(g, row)| *g = row).count();
                // Eight walks in step overlap their loads (see Tree::add_leaf_shares).
                let leaves = tree.leaves_in_step(n, |lane, f| match f == j {
                    true => column[group[lane]],
                    false => self.values[group[lane] * self.forest.features + f],
                });
                for (&row, new) in group[..n].iter().zip(leaves) {
                    self.move_row(scratch, tree, row, self.leaf[t * rows + row], new);
                }
            }
        }
        let mut right = self.right_count();
        let margin = exact_margin(self.forest.trees.len());
        for row in scratch.touched.drain(..) {
            let sums = &mut scratch.sums[row * classes..][..classes];
            let class = clear_winner(sums, margin).unwrap_or_else(|| {
                // A near tie: sum as predict_proba does.
                sums.fill(0.0);
                add_shares(
                    self.forest,
                    |t| match self.tests(t, j, row) {
                        true => leaf_with(&self.forest.trees[t], self.row(row), j, column[row]),
                        false => self.leaf[t * rows + row],
                    },
                    sums,
                );
                class_of(sums, self.forest.trees.len())
            });
            right = right + usize::from(class == self.truth[row]) - usize::from(self.right[row]);
            sums.copy_from_slice(&self.sums[row * classes..][..classes]);
            scratch.moved[row] = false;
        }
        right
    }
}

/// One worker's state for scoring shuffles: the class sums (equal to the unshuffled ones
/// between shuffles) and the rows a shuffle moved.
struct Scratch {
    sums: Vec<f64>,
    moved: Vec<bool>,
    touched: Vec<usize>,
}

impl Scratch {
    fn new(paths: &Paths<'_>) -> Scratch {
        Scratch { sums: paths.sums.clone(), moved: vec![false; paths.rows()], touched: Vec::new() }
    }
}

/// Adds each tree's leaf shares to `sums`, tree by tree, as `predict_proba` does.
fn add_shares(forest: &Forest, leaf: impl Fn(usize) -> u32, sums: &mut [f64]) {
    for (t, tree) in forest.trees.iter().enumerate() {
        for &(c, share) in tree.leaf_shares(leaf(t)) {
            sums[c as usize] += share;
        }
    }
}

/// The class `predict` gives a row whose trees' shares add up to `sums`.
fn class_of(sums: &[f64], trees: usize) -> u32 {
    let proba: Vec<f64> = sums.iter().map(|s| s / trees as f64).collect();
    most_likely(&proba)
}

/// A lead between two class sums that no difference of summation order can overturn.
/// A sum of `trees` shares in [0, 1], added in any order, is within trees²·u of the
/// true sum (u = ε/2, the unit roundoff); moving it by two shares per tree adds at most
/// 2·trees·(trees + 1)·u more. A lead above 16·trees²·u = 8·trees²·ε therefore keeps
/// its sign in `predict_proba`'s sums and after they are divided by `trees`.
fn exact_margin(trees: usize) -> f64 {
    let trees = trees as f64;
    8.0 * trees * trees * f64::EPSILON
}

/// The class of the largest sum when it leads every other by more than `margin`.
fn clear_winner(sums: &[f64], margin: f64) -> Option<u32> {
    let best = most_likely(sums) as usize;
    let runner_up =
        sums.iter().enumerate().filter(|(c, _)| *c != best).map(|(_, s)| *s).fold(f64::NEG_INFINITY, f64::max);
    (sums[best] - runner_up > margin).then_some(best as u32)
}

/// The leaf of `tree` for a row whose feature `j` reads `value` instead.
#[inline]
fn leaf_with(tree: &Tree, row: &[f64], j: usize, value: f64) -> u32 {
    tree.leaf_by(|f| if f == j { value } else { row[f] })
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
    let x = x.as_standard_layout();
    let paths = Paths::new(forest, x.as_slice().expect("standard layout"), truth);
    let rows = truth.len() as f64;
    let baseline = paths.right_count() as f64 / rows;
    let drops = (0..forest.features * repeats)
        .into_par_iter()
        .map_init(
            || Scratch::new(&paths),
            |scratch, k| {
                let (j, r) = (k / repeats, k % repeats);
                let mut path = vec![stream::PERMUTATION];
                path.extend_from_slice(key);
                path.extend([j as u64, r as u64]);
                let mut rng = SplitMix64::new(derive(seed, &path));
                let mut column = x.column(j).to_vec();
                rng.shuffle(&mut column);
                let drop = baseline - paths.right_shuffled(j, &column, scratch) as f64 / rows;
                shuffle_done();
                drop
            },
        )
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

    /// Asserts that every drop equals the accuracy lost by predicting the shuffled rows afresh.
    fn assert_drops_as_predicted_afresh(
        x: &Array2<f64>,
        y: &[u32],
        classes: usize,
        trees: u16,
        max_depth: Option<u16>,
    ) -> PermutationImportance {
        let params = ForestParams { trees, max_depth, ..ForestParams::default() };
        let forest = Forest::train(x.view(), y, classes, &params, 4).unwrap();
        let fast = permutation_importance(&forest, x.view(), y, 3, 9, &[1, 2]).unwrap();
        let rows = y.len() as f64;
        let afresh = |predicted: Vec<u32>| predicted.iter().zip(y).filter(|(p, t)| p == t).count() as f64 / rows;
        assert_eq!(fast.baseline_accuracy, afresh(forest.predict(x.view()).unwrap()));
        for j in 0..x.ncols() {
            for r in 0..3 {
                let mut shuffled = x.clone();
                let mut column = x.column(j).to_vec();
                SplitMix64::new(derive(9, &[stream::PERMUTATION, 1, 2, j as u64, r as u64])).shuffle(&mut column);
                shuffled.index_axis_mut(Axis(1), j).assign(&ndarray::aview1(&column));
                let expected = fast.baseline_accuracy - afresh(forest.predict(shuffled.view()).unwrap());
                assert_eq!(fast.drops[j][r], expected, "feature {j}, shuffle {r}");
            }
        }
        fast
    }

    #[test]
    fn walking_only_the_paths_that_test_the_feature_equals_predicting_afresh() {
        // 300 rows, 3 classes, 6 features of which 3 carry the class, with ties.
        let mut rng = SplitMix64::new(11);
        let y: Vec<u32> = (0..300).map(|r| (r % 3) as u32).collect();
        let x = Array2::from_shape_fn((300, 6), |(r, f)| {
            let noise = (rng.below(1000) as f64 / 100.0).round();
            if f < 3 { f64::from(y[r]) * (f as f64 + 1.0) + noise } else { noise }
        });
        let fast = assert_drops_as_predicted_afresh(&x, &y, 3, 12, Some(6));
        assert!(fast.drops[0].iter().sum::<f64>() > fast.drops[5].iter().sum::<f64>());
    }

    #[test]
    fn near_ties_are_summed_again_as_predict_sums_them() {
        // Random classes, unlimited depth: every tree learns its bootstrap by heart, its
        // leaves are pure, and an even number of trees splits its votes on many rows, an
        // exact tie of the class sums that moving them tree by tree cannot break.
        let mut rng = SplitMix64::new(5);
        let y: Vec<u32> = (0..200).map(|_| rng.below(2) as u32).collect();
        let x = Array2::from_shape_fn((200, 3), |_| rng.below(1_000_000) as f64);
        for trees in [2, 4] {
            assert_drops_as_predicted_afresh(&x, &y, 2, trees, None);
        }
    }

    #[test]
    fn a_clear_winner_leads_by_more_than_any_summation_order_can_move() {
        let margin = exact_margin(100);
        assert!(margin > 100.0 * 100.0 * f64::EPSILON && margin < 1e-10);
        assert_eq!(clear_winner(&[10.0, 60.0, 30.0], margin), Some(1));
        assert_eq!(clear_winner(&[50.0, 50.0], margin), None, "a tie");
        assert_eq!(clear_winner(&[50.0, 50.0 - margin / 2.0], margin), None, "within the margin");
        assert_eq!(clear_winner(&[50.0 - 2.0 * margin, 50.0], margin), Some(1));
        assert_eq!(clear_winner(&[100.0], margin), Some(0));
    }
}
