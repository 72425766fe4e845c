//! Few labels: each fold's training rows keep their labels only in a stratified fraction;
//! the forest trained on those is compared with self-training (Yarowsky 1995, as
//! scikit-learn's `SelfTrainingClassifier` with the threshold criterion): the rest of the
//! training rows that the forest labels with a probability at or above a threshold join
//! the training rows with that label, and the forest is trained again, until a round adds
//! none or the rounds run out. The labelled rows of a smaller fraction are among those of
//! a larger one (one seeded order per class), so the curve compares like with like.

use ndarray::Axis;
use serde::Serialize;

use flowmine_forest::random::{SplitMix64, derive};

use super::{Prepared, confident_predictions};
use crate::Error;
use crate::evaluate::metrics::score;
use crate::evaluate::{EvaluateConfig, Forest};

/// Stream name under the run's seed.
const LABELLED: u64 = 31;

/// The fractions of the learning curve.
pub const CURVE: [f64; 5] = [0.05, 0.10, 0.25, 0.50, 1.0];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelfTraining {
    /// Vote share at or above which a prediction becomes a pseudo-label.
    pub threshold: f64,
    /// Rounds of pseudo-labelling at most.
    pub rounds: usize,
}

impl Default for SelfTraining {
    fn default() -> Self {
        SelfTraining { threshold: 0.75, rounds: 10 }
    }
}

/// Scores at one labelled fraction, pooled over the folds' test sets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    pub fraction: f64,
    pub labelled_rows: u64,
    pub unlabelled_rows: u64,
    pub supervised_accuracy: f64,
    pub supervised_macro_f1: f64,
    pub self_training_accuracy: f64,
    pub self_training_macro_f1: f64,
    /// Unlabelled rows that got a pseudo-label, and how many of those were right.
    pub pseudo_labelled: u64,
    pub pseudo_labels_right: u64,
    pub rounds: usize,
}

/// The training rows of `train` whose labels are kept at `fraction`: the first
/// ⌈n_c · fraction⌉ (at least one) of each class's seeded order.
pub fn labelled_rows(train: &[usize], y: &[u32], fraction: f64, seed: u64, fold: usize) -> Vec<usize> {
    let mut by_class: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for &r in train {
        by_class.entry(y[r]).or_default().push(r);
    }
    let mut kept = Vec::new();
    for (class, mut rows) in by_class {
        SplitMix64::new(derive(seed, &[LABELLED, fold as u64, u64::from(class)])).shuffle(&mut rows);
        let n = ((rows.len() as f64 * fraction).ceil() as usize).clamp(1, rows.len());
        kept.extend_from_slice(&rows[..n]);
    }
    kept.sort_unstable();
    kept
}

/// What self-training ends with: the forest, the pseudo-labels given (row, class) and the
/// rounds run.
pub type SelfTrained = (Forest, Vec<(usize, u32)>, usize);

/// Self-training from the `labelled` rows with the `unlabelled` ones.
pub fn self_train(
    p: &Prepared,
    config: &EvaluateConfig,
    labelled: &[usize],
    unlabelled: &[usize],
    how: &SelfTraining,
) -> Result<SelfTrained, Error> {
    let train = |rows: &[usize], labels: &[u32]| {
        Forest::train(p.x.select(Axis(0), rows).view(), labels, p.classes.len(), &config.forest, config.seed)
            .map_err(Error::from)
    };
    let mut rows: Vec<usize> = labelled.to_vec();
    let mut labels: Vec<u32> = labelled.iter().map(|&r| p.y[r]).collect();
    let mut pseudo = Vec::new();
    let mut left: Vec<usize> = unlabelled.to_vec();
    let mut forest = train(&rows, &labels)?;
    let mut rounds = 0;
    while rounds < how.rounds && !left.is_empty() {
        let (predicted, share) = confident_predictions(&forest, p.x.select(Axis(0), &left).view())?;
        let mut still = Vec::new();
        let before = pseudo.len();
        for ((&r, &c), &s) in left.iter().zip(&predicted).zip(&share) {
            if s >= how.threshold {
                pseudo.push((r, c));
                rows.push(r);
                labels.push(c);
            } else {
                still.push(r);
            }
        }
        if pseudo.len() == before {
            break;
        }
        left = still;
        rounds += 1;
        forest = train(&rows, &labels)?;
    }
    Ok((forest, pseudo, rounds))
}

/// Accuracy and macro F1 of the supervised forest and of self-training at each fraction.
pub fn learning_curve(
    p: &Prepared,
    config: &EvaluateConfig,
    fractions: &[f64],
    how: &SelfTraining,
) -> Result<Vec<CurvePoint>, Error> {
    let mut points = Vec::new();
    for &fraction in fractions {
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(Error::setting("labelled_fraction", fraction, "between 0 (excluded) and 1"));
        }
        let (mut truth, mut supervised, mut self_trained) = (Vec::new(), Vec::new(), Vec::new());
        let mut point = CurvePoint {
            fraction,
            labelled_rows: 0,
            unlabelled_rows: 0,
            supervised_accuracy: 0.0,
            supervised_macro_f1: 0.0,
            self_training_accuracy: 0.0,
            self_training_macro_f1: 0.0,
            pseudo_labelled: 0,
            pseudo_labels_right: 0,
            rounds: 0,
        };
        for (f, fold) in p.folds.iter().enumerate() {
            let labelled = labelled_rows(&fold.train, &p.y, fraction, config.seed, f);
            let unlabelled: Vec<usize> =
                fold.train.iter().copied().filter(|r| labelled.binary_search(r).is_err()).collect();
            point.labelled_rows += labelled.len() as u64;
            point.unlabelled_rows += unlabelled.len() as u64;
            let labels: Vec<u32> = labelled.iter().map(|&r| p.y[r]).collect();
            if labels.iter().any(|&c| c != labels[0]) {
                let plain = Forest::train(
                    p.x.select(Axis(0), &labelled).view(),
                    &labels,
                    p.classes.len(),
                    &config.forest,
                    config.seed,
                )
                .map_err(Error::from)?;
                let (forest, pseudo, rounds) = self_train(p, config, &labelled, &unlabelled, how)?;
                point.pseudo_labelled += pseudo.len() as u64;
                point.pseudo_labels_right += pseudo.iter().filter(|&&(r, c)| p.y[r] == c).count() as u64;
                point.rounds = point.rounds.max(rounds);
                for test in &fold.tests {
                    let x = p.x.select(Axis(0), &test.rows);
                    truth.extend(test.rows.iter().map(|&r| p.y[r]));
                    supervised.extend(plain.predict(x.view()).map_err(Error::from)?);
                    self_trained.extend(forest.predict(x.view()).map_err(Error::from)?);
                }
            } else {
                let what = format!("leaves one class in fold {f}'s labelled rows");
                return Err(Error::setting("labelled_fraction", fraction, what));
            }
        }
        let s = score(&truth, &supervised, &p.classes);
        let t = score(&truth, &self_trained, &p.classes);
        (point.supervised_accuracy, point.supervised_macro_f1) = (s.accuracy, s.macro_f1);
        (point.self_training_accuracy, point.self_training_macro_f1) = (t.accuracy, t.macro_f1);
        points.push(point);
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_rows_are_stratified_nested_and_seeded() {
        let y: Vec<u32> = (0..100).map(|r| u32::from(r % 4 == 0)).collect();
        let train: Vec<usize> = (0..100).collect();
        let small = labelled_rows(&train, &y, 0.1, 3, 0);
        let large = labelled_rows(&train, &y, 0.5, 3, 0);
        // 75 rows of class 0 → 8, 25 of class 1 → 3.
        assert_eq!(small.iter().filter(|&&r| y[r] == 0).count(), 8);
        assert_eq!(small.iter().filter(|&&r| y[r] == 1).count(), 3);
        assert!(small.iter().all(|r| large.contains(r)), "a smaller fraction's rows are among a larger one's");
        assert_eq!(small, labelled_rows(&train, &y, 0.1, 3, 0));
        assert_ne!(small, labelled_rows(&train, &y, 0.1, 4, 0));
        assert_eq!(labelled_rows(&train, &y, 1.0, 3, 0), train);
    }
}
