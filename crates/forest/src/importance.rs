//! Permutation importance (Breiman 2001; scikit-learn's `permutation_importance`): how much
//! a test set's accuracy drops when one feature's values are shuffled among its rows,
//! which breaks that feature's link to the class and nothing else. It needs only
//! predictions, so it means the same for any model, and it is measured on rows the model
//! did not train on: the trustworthy one of the two importances.

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::forest::Forest;
use crate::random::{SplitMix64, derive, stream};

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

fn accuracy(predicted: &[u32], truth: &[u32]) -> f64 {
    let correct = predicted.iter().zip(truth).filter(|(p, t)| p == t).count();
    if truth.is_empty() { 0.0 } else { correct as f64 / truth.len() as f64 }
}

/// The permutation importance of every feature on the test rows `x` (rows × features,
/// one row per entry of `truth`), `repeats` shuffles each. Shuffle r of feature j uses the stream
/// `derive(seed, [PERMUTATION, key..., j, r])`; `key` tells test sets and folds apart.
pub fn permutation_importance(
    forest: &Forest,
    x: ArrayView2<'_, f64>,
    truth: &[u32],
    repeats: usize,
    seed: u64,
    key: &[u64],
) -> Result<PermutationImportance, String> {
    if x.nrows() != truth.len() {
        return Err(format!("{} rows of features for {} classes", x.nrows(), truth.len()));
    }
    let features = forest.features;
    let baseline = accuracy(&forest.predict(x)?, truth);
    let drops: Result<Vec<Vec<f64>>, String> = (0..features)
        .into_par_iter()
        .map(|j| {
            (0..repeats)
                .map(|r| {
                    let mut path = vec![stream::PERMUTATION];
                    path.extend_from_slice(key);
                    path.extend([j as u64, r as u64]);
                    let mut rng = SplitMix64::new(derive(seed, &path));
                    let mut column = x.column(j).to_vec();
                    rng.shuffle(&mut column);
                    let mut shuffled = x.to_owned();
                    shuffled.index_axis_mut(Axis(1), j).assign(&ndarray::aview1(&column));
                    let predicted = forest.predict(shuffled.view())?;
                    Ok(baseline - accuracy(&predicted, truth))
                })
                .collect()
        })
        .collect();
    Ok(PermutationImportance { baseline_accuracy: baseline, drops: drops? })
}

/// Feature indices by decreasing importance (ties by column order), the first `n`.
pub fn top(importance: &[f64], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..importance.len()).collect();
    order.sort_by(|&a, &b| importance[b].total_cmp(&importance[a]).then(a.cmp(&b)));
    order.truncate(n);
    order
}
