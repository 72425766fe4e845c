//! The Random Forest (Breiman 2001, as scikit-learn's `RandomForestClassifier`): each
//! tree grown on a bootstrap sample of the training rows, with a fresh random subset of
//! features at every split ([`tree`](crate::tree)); the forest votes. Tree k's bootstrap
//! and feature draws come from a stream of its own derived from the seed, so the trees
//! are trained on all cores at once and a seed gives the same forest on any number of
//! threads.

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

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

impl Forest {
    /// Trains `params.trees` trees on `x` (rows × features, one row per flow, any memory
    /// layout) and class indices `y` (below
    /// `classes`), on the current rayon pool. Tree k's bootstrap and feature draws come
    /// from `derive(seed, [TREES, k])`, so a seed gives the same forest on any number of
    /// threads.
    pub fn train(
        x: ArrayView2<'_, f64>,
        y: &[u32],
        classes: usize,
        params: &ForestParams,
        seed: u64,
    ) -> Result<Forest, String> {
        let present: std::collections::BTreeSet<u32> = y.iter().copied().collect();
        if present.len() < 2 {
            return Err(format!("the training rows hold {} class(es); a classifier needs two or more", present.len()));
        }
        if params.trees == 0 {
            return Err("--trees must be at least 1".to_owned());
        }
        if y.len() != x.nrows() || y.iter().any(|&c| c as usize >= classes) {
            return Err(format!("{} classes for {} rows, or a class index out of range", y.len(), x.nrows()));
        }
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
                let sample: Vec<u32> = (0..rows).map(|_| rng.below(rows) as u32).collect();
                Tree::grow(columns, y, classes, sample, growth, &mut rng)
            })
            .collect();
        Ok(Forest { classes, features: x.ncols(), trees })
    }

    /// Checks a forest read from a file: every tree's indices in range.
    pub fn check(&self) -> Result<(), String> {
        self.trees.iter().try_for_each(|t| t.check(self.features, self.classes))
    }

    /// Votes per class for every row of `x` (rows × features): `votes[row * classes + class]`.
    pub fn votes(&self, x: ArrayView2<'_, f64>) -> Result<Vec<u32>, String> {
        if x.ncols() != self.features {
            return Err(format!("the model takes {} features, the rows have {}", self.features, x.ncols()));
        }
        let classes = self.classes;
        let mut votes = vec![0u32; x.nrows() * classes];
        votes.par_chunks_mut(classes).enumerate().for_each(|(row, counts)| {
            for tree in &self.trees {
                counts[tree.predict_row(x.row(row)) as usize] += 1;
            }
        });
        Ok(votes)
    }

    /// The class with the most votes for every row of `x`; ties go to the lower class
    /// index.
    pub fn predict(&self, x: ArrayView2<'_, f64>) -> Result<Vec<u32>, String> {
        let votes = self.votes(x)?;
        Ok(votes.chunks(self.classes).map(most_votes).collect())
    }

    /// Mean decrease in impurity (Gini importance) per feature, as scikit-learn computes
    /// `feature_importances_`: each tree's weighted impurity decreases, normalised to sum
    /// 1, averaged over the trees that split at all, normalised again.
    pub fn impurity_importance(&self) -> Vec<f64> {
        let mut sum = vec![0.0; self.features];
        for tree in &self.trees {
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

/// The index of the largest count, the first one on ties.
pub fn most_votes(counts: &[u32]) -> u32 {
    let mut best = 0;
    for (i, &c) in counts.iter().enumerate() {
        if c > counts[best] {
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
    fn ties_go_to_the_lower_class_and_one_class_is_refused() {
        assert_eq!(most_votes(&[2, 5, 5, 1]), 1);
        assert_eq!(most_votes(&[0, 0]), 0);
        let (x, _) = separable();
        let err = Forest::train(x.view(), &[1; 40], 2, &params(), 0).unwrap_err();
        assert!(err.contains("1 class"), "{err}");
    }
}
