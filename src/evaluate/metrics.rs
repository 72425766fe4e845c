//! Scores of predictions against the truth, with scikit-learn's definitions
//! (`accuracy_score`, `precision_recall_fscore_support` with `zero_division=0`,
//! `confusion_matrix`) so the numbers can be compared with its output.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    pub class: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Test rows of this class.
    pub support: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Rows scored.
    pub rows: u64,
    pub accuracy: f64,
    /// Unweighted mean over `labels` of precision, recall and F1.
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    /// Mean of F1 weighted by support.
    pub weighted_f1: f64,
    /// One entry per label, in label order.
    pub per_class: Vec<ClassScores>,
    /// The classes in the truth or the predictions, sorted: rows and columns of `confusion`.
    pub labels: Vec<String>,
    /// `confusion[i][j]`: rows of true class `labels[i]` predicted as `labels[j]`.
    pub confusion: Vec<Vec<u64>>,
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 { 0.0 } else { num as f64 / den as f64 }
}

/// Scores `predicted` against `truth` (class indices into `class_names`, which is
/// sorted). Labels are the classes that occur in either, as scikit-learn does.
pub fn score(truth: &[u32], predicted: &[u32], class_names: &[String]) -> Metrics {
    assert_eq!(truth.len(), predicted.len(), "one prediction per row");
    let mut occurs = vec![false; class_names.len()];
    for &c in truth.iter().chain(predicted) {
        occurs[c as usize] = true;
    }
    let labels: Vec<usize> = (0..class_names.len()).filter(|&c| occurs[c]).collect();
    let mut position = vec![usize::MAX; class_names.len()];
    for (i, &c) in labels.iter().enumerate() {
        position[c] = i;
    }
    let k = labels.len();
    let mut confusion = vec![vec![0u64; k]; k];
    for (&t, &p) in truth.iter().zip(predicted) {
        confusion[position[t as usize]][position[p as usize]] += 1;
    }
    let correct: u64 = (0..k).map(|i| confusion[i][i]).sum();
    let rows = truth.len() as u64;
    let per_class: Vec<ClassScores> = (0..k)
        .map(|i| {
            let tp = confusion[i][i];
            let support: u64 = confusion[i].iter().sum();
            let predicted_as: u64 = confusion.iter().map(|row| row[i]).sum();
            let (precision, recall) = (ratio(tp, predicted_as), ratio(tp, support));
            let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
            ClassScores { class: class_names[labels[i]].clone(), precision, recall, f1, support }
        })
        .collect();
    let mean = |f: fn(&ClassScores) -> f64| if k == 0 { 0.0 } else { per_class.iter().map(f).sum::<f64>() / k as f64 };
    let weighted_f1 =
        if rows == 0 { 0.0 } else { per_class.iter().map(|c| c.f1 * c.support as f64).sum::<f64>() / rows as f64 };
    Metrics {
        rows,
        accuracy: ratio(correct, rows),
        macro_precision: mean(|c| c.precision),
        macro_recall: mean(|c| c.recall),
        macro_f1: mean(|c| c.f1),
        weighted_f1,
        labels: labels.iter().map(|&c| class_names[c].clone()).collect(),
        per_class,
        confusion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Worked by hand. Truth a a a b b c, predicted a a b b c c:
    ///   a: tp 2, predicted as a 2, support 3 → P 1, R 2/3, F1 0.8
    ///   b: tp 1, predicted as b 2, support 2 → P 1/2, R 1/2, F1 1/2
    ///   c: tp 1, predicted as c 2, support 1 → P 1/2, R 1, F1 2/3
    ///   accuracy 4/6; macro F1 (0.8 + 0.5 + 2/3) / 3 = 0.65556;
    ///   weighted F1 (3·0.8 + 2·0.5 + 1·2/3) / 6 = 0.67778.
    #[test]
    fn hand_computed_scores() {
        let m = score(&[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 2, 2], &names(&["a", "b", "c"]));
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        close(m.accuracy, 4.0 / 6.0);
        close(m.per_class[0].precision, 1.0);
        close(m.per_class[0].recall, 2.0 / 3.0);
        close(m.per_class[0].f1, 0.8);
        close(m.per_class[1].f1, 0.5);
        close(m.per_class[2].precision, 0.5);
        close(m.per_class[2].recall, 1.0);
        close(m.per_class[2].f1, 2.0 / 3.0);
        close(m.macro_f1, (0.8 + 0.5 + 2.0 / 3.0) / 3.0);
        close(m.macro_precision, (1.0 + 0.5 + 0.5) / 3.0);
        close(m.weighted_f1, (3.0 * 0.8 + 2.0 * 0.5 + 2.0 / 3.0) / 6.0);
        assert_eq!(m.confusion, vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]);
        assert_eq!(m.per_class.iter().map(|c| c.support).collect::<Vec<_>>(), [3, 2, 1]);
    }

    /// A class never predicted and a class never true: both are labels; the unpredicted
    /// one scores precision 0 (zero division), the untrue one recall 0. A class in
    /// neither is left out, as scikit-learn does.
    #[test]
    fn labels_are_the_classes_in_truth_or_predictions() {
        // Truth x x y, predicted x z z; class w appears nowhere.
        let m = score(&[1, 1, 2], &[1, 3, 3], &names(&["w", "x", "y", "z"]));
        assert_eq!(m.labels, ["x", "y", "z"]);
        assert_eq!(m.confusion, vec![vec![1, 0, 1], vec![0, 0, 1], vec![0, 0, 0]]);
        let y = &m.per_class[1];
        assert_eq!((y.precision, y.recall, y.f1, y.support), (0.0, 0.0, 0.0, 1));
        let z = &m.per_class[2];
        assert_eq!((z.precision, z.recall, z.support), (0.0, 0.0, 0));
        // x: P 1, R 1/2, F1 2/3; macro F1 = (2/3 + 0 + 0) / 3.
        assert!((m.macro_f1 - 2.0 / 9.0).abs() < 1e-12);
        assert!((m.accuracy - 1.0 / 3.0).abs() < 1e-12);
    }
}
