//! One CART classification tree as scikit-learn grows the trees of its Random Forest:
//! Gini impurity, exact thresholds halfway between consecutive distinct values, a fresh
//! random subset of features at every split (more are tried when none of the subset can
//! split the node), leaves grown until pure unless a depth or leaf-size limit stops them.
//!
//! Written here rather than taken from smartcore: smartcore sorts every column again for
//! each tree and scans every training row at every split, which made training twice as
//! slow as scikit-learn; this grower sorts only a node's own rows, and only for the
//! features drawn at that node.

use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::random::SplitMix64;

/// The training values one feature at a time: `columns[[feature, row]]`, each feature's
/// values contiguous (a node's rows are gathered feature by feature).
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    values: &'a [f64],
    rows: usize,
    features: usize,
}

impl<'a> Columns<'a> {
    /// `by_feature` holds one row per feature (the transpose of the rows × features
    /// matrix) in standard layout.
    pub fn new(by_feature: &ArrayView2<'a, f64>) -> Columns<'a> {
        let values = by_feature.to_slice().expect("a feature-major matrix in standard layout");
        Columns { values, rows: by_feature.ncols(), features: by_feature.nrows() }
    }

    #[inline]
    fn feature(&self, f: usize) -> &'a [f64] {
        &self.values[f * self.rows..(f + 1) * self.rows]
    }
}

/// A node: a split (`feature`, `threshold`; rows with value ≤ threshold go `left`) or a
/// leaf (`feature` = [`LEAF`]) predicting `class`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub feature: u32,
    pub threshold: f64,
    pub left: u32,
    pub right: u32,
    /// The majority class of the node's training rows (the lowest index on ties).
    pub class: u32,
    /// Training rows (bootstrap copies counted) that reached the node.
    pub samples: u32,
    /// Gini impurity of those rows.
    pub impurity: f64,
}

pub const LEAF: u32 = u32::MAX;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

/// How a tree grows.
#[derive(Debug, Clone, Copy)]
pub struct Growth {
    pub max_depth: Option<u16>,
    pub min_samples_leaf: usize,
    /// Features drawn at each split (at least 1).
    pub max_features: usize,
}

fn gini(counts: &[u32], n: u32) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    1.0 - counts.iter().map(|&c| (f64::from(c) / n).powi(2)).sum::<f64>()
}

fn majority(counts: &[u32]) -> u32 {
    let mut best = 0;
    for (i, &c) in counts.iter().enumerate() {
        if c > counts[best] {
            best = i;
        }
    }
    best as u32
}

/// The best split of one node found so far.
struct Split {
    feature: usize,
    threshold: f64,
    /// Σ left_count² / n_left + Σ right_count² / n_right: larger is purer.
    score: f64,
}

impl Tree {
    /// Grows a tree on the rows `sample` of `x` (a bootstrap sample: rows may repeat).
    pub fn grow(
        x: Columns<'_>,
        y: &[u32],
        classes: usize,
        mut sample: Vec<u32>,
        growth: Growth,
        rng: &mut SplitMix64,
    ) -> Tree {
        let mut nodes: Vec<Node> = Vec::new();
        // (range of `sample` holding the node's rows, depth, the node's index)
        let mut stack = vec![(0..sample.len(), 0u16, 0u32)];
        nodes.push(Node { feature: LEAF, threshold: 0.0, left: 0, right: 0, class: 0, samples: 0, impurity: 0.0 });
        let mut counts = vec![0u32; classes];
        let mut features: Vec<usize> = (0..x.features).collect();
        let mut pairs: Vec<(f64, u32)> = Vec::new();
        let mut left = vec![0u32; classes];
        while let Some((range, depth, index)) = stack.pop() {
            let rows = &mut sample[range.clone()];
            counts.iter_mut().for_each(|c| *c = 0);
            for &r in rows.iter() {
                counts[y[r as usize] as usize] += 1;
            }
            let n = rows.len() as u32;
            let node = &mut nodes[index as usize];
            node.class = majority(&counts);
            node.samples = n;
            node.impurity = gini(&counts, n);
            let pure = counts.iter().filter(|&&c| c > 0).count() <= 1;
            if pure || (n as usize) < 2 * growth.min_samples_leaf.max(1) || growth.max_depth.is_some_and(|d| depth >= d)
            {
                continue;
            }
            let Some(split) = best_split(x, y, rows, &counts, growth, rng, &mut features, &mut pairs, &mut left) else {
                continue;
            };
            // Rows with value ≤ threshold first.
            let column = x.feature(split.feature);
            let mut mid = 0;
            for i in 0..rows.len() {
                if column[rows[i] as usize] <= split.threshold {
                    rows.swap(i, mid);
                    mid += 1;
                }
            }
            let (l, r) = (nodes.len() as u32, nodes.len() as u32 + 1);
            let node = &mut nodes[index as usize];
            node.feature = split.feature as u32;
            node.threshold = split.threshold;
            node.left = l;
            node.right = r;
            for _ in 0..2 {
                nodes.push(Node {
                    feature: LEAF,
                    threshold: 0.0,
                    left: 0,
                    right: 0,
                    class: 0,
                    samples: 0,
                    impurity: 0.0,
                });
            }
            stack.push((range.start + mid..range.end, depth + 1, r));
            stack.push((range.start..range.start + mid, depth + 1, l));
        }
        Tree { nodes }
    }

    /// The class the tree gives one row of feature values.
    pub fn predict_row(&self, row: ArrayView1<'_, f64>) -> u32 {
        let mut node = &self.nodes[0];
        while node.feature != LEAF {
            let next = if row[node.feature as usize] <= node.threshold { node.left } else { node.right };
            node = &self.nodes[next as usize];
        }
        node.class
    }

    /// Weighted impurity decrease per feature (scikit-learn's unnormalised
    /// `compute_feature_importances`): Σ over the feature's splits of
    /// n·impurity − n_left·impurity_left − n_right·impurity_right.
    pub fn impurity_decrease(&self, features: usize) -> Vec<f64> {
        let mut out = vec![0.0; features];
        for node in self.nodes.iter().filter(|n| n.feature != LEAF) {
            let (l, r) = (&self.nodes[node.left as usize], &self.nodes[node.right as usize]);
            out[node.feature as usize] += f64::from(node.samples) * node.impurity
                - f64::from(l.samples) * l.impurity
                - f64::from(r.samples) * r.impurity;
        }
        out
    }

    /// Checks that the tree's indices hold together (a model file read back may not).
    pub fn check(&self, features: usize, classes: usize) -> Result<(), String> {
        let n = self.nodes.len() as u32;
        for (i, node) in self.nodes.iter().enumerate() {
            let bad = if node.feature == LEAF {
                node.class as usize >= classes
            } else {
                node.feature as usize >= features
                    || node.left <= i as u32
                    || node.right <= i as u32
                    || node.left >= n
                    || node.right >= n
            };
            if bad {
                return Err(format!("node {i} of a tree is inconsistent"));
            }
        }
        if self.nodes.is_empty() { Err("a tree without nodes".to_owned()) } else { Ok(()) }
    }
}

/// The best Gini split of a node's `rows` over features drawn at random: `max_features`
/// of those that are not constant on the rows, or more until one yields a split.
#[allow(clippy::too_many_arguments)]
fn best_split(
    x: Columns<'_>,
    y: &[u32],
    rows: &[u32],
    counts: &[u32],
    growth: Growth,
    rng: &mut SplitMix64,
    features: &mut [usize],
    pairs: &mut Vec<(f64, u32)>,
    left: &mut [u32],
) -> Option<Split> {
    let n = rows.len();
    let min_leaf = growth.min_samples_leaf.max(1);
    let mut best: Option<Split> = None;
    let mut tried = 0;
    for k in 0..features.len() {
        if tried >= growth.max_features && best.is_some() {
            break;
        }
        // Draw the next feature (a partial Fisher–Yates shuffle).
        let pick = k + rng.below(features.len() - k);
        features.swap(k, pick);
        let f = features[k];
        let column = x.feature(f);
        pairs.clear();
        pairs.extend(rows.iter().map(|&r| (column[r as usize], y[r as usize])));
        pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        if pairs[0].0 == pairs[n - 1].0 {
            continue; // constant here: does not count as tried (as in scikit-learn)
        }
        tried += 1;
        left.iter_mut().for_each(|c| *c = 0);
        let mut left_sq = 0.0f64;
        let mut right_sq: f64 = counts.iter().map(|&c| f64::from(c).powi(2)).sum();
        for i in 0..n - 1 {
            let c = pairs[i].1 as usize;
            let right_c = counts[c] - left[c];
            left_sq += f64::from(2 * left[c] + 1);
            right_sq -= f64::from(2 * right_c - 1);
            left[c] += 1;
            let (v, next) = (pairs[i].0, pairs[i + 1].0);
            let n_left = i + 1;
            if v == next || n_left < min_leaf || n - n_left < min_leaf {
                continue;
            }
            let score = left_sq / n_left as f64 + right_sq / (n - n_left) as f64;
            if best.as_ref().is_none_or(|b| score > b.score) {
                // Halfway, unless rounding lands on the upper value.
                let mut threshold = v / 2.0 + next / 2.0;
                if threshold == next || !threshold.is_finite() {
                    threshold = v;
                }
                best = Some(Split { feature: f, threshold, score });
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, array};

    use super::*;

    /// Grows a tree on every row of `x` (rows × features) once.
    fn grow(x: &Array2<f64>, y: &[u32], growth: Growth, seed: u64) -> Tree {
        let by_feature = x.t().as_standard_layout().into_owned();
        let sample = (0..x.nrows() as u32).collect();
        Tree::grow(Columns::new(&by_feature.view()), y, 2, sample, growth, &mut SplitMix64::new(seed))
    }

    fn predict_all(tree: &Tree, x: &Array2<f64>) -> Vec<u32> {
        x.rows().into_iter().map(|row| tree.predict_row(row)).collect()
    }

    fn growth() -> Growth {
        Growth { max_depth: None, min_samples_leaf: 1, max_features: 1 }
    }

    #[test]
    fn a_pure_split_is_found_halfway() {
        // One feature: 1, 2, 3 are class 0; 10, 11 class 1.
        let x = array![[1.0], [2.0], [3.0], [10.0], [11.0]];
        let y = [0, 0, 0, 1, 1];
        let tree = grow(&x, &y, growth(), 1);
        assert_eq!(tree.nodes.len(), 3);
        assert_eq!((tree.nodes[0].feature, tree.nodes[0].threshold), (0, 6.5));
        assert_eq!(predict_all(&tree, &x), y);
        // Root impurity 1 − (0.6² + 0.4²) = 0.48 over 5 rows; pure children.
        assert!((tree.impurity_decrease(1)[0] - 5.0 * 0.48).abs() < 1e-12);
    }

    #[test]
    fn the_best_of_the_drawn_features_wins_and_constant_ones_are_skipped() {
        // Feature 0 is constant, feature 1 is noise, feature 2 separates the classes.
        let noise = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        let signal = [0.0, 0.1, 0.2, 0.3, 1.0, 1.1, 1.2, 1.3];
        let x = Array2::from_shape_fn((8, 3), |(r, f)| [5.0, noise[r], signal[r]][f]);
        let y = [0, 0, 0, 0, 1, 1, 1, 1];
        let all = Growth { max_features: 3, ..growth() };
        let tree = grow(&x, &y, all, 7);
        assert_eq!((tree.nodes[0].feature, tree.nodes[0].threshold), (2, 0.65));
        assert_eq!(tree.nodes.len(), 3);
    }

    #[test]
    fn depth_and_leaf_size_limits_stop_growth() {
        let x = array![[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]];
        let y = [0, 1, 0, 1, 0, 1];
        let stump = grow(&x, &y, Growth { max_depth: Some(1), ..growth() }, 3);
        assert_eq!(stump.nodes.len(), 3);
        let full = grow(&x, &y, growth(), 3);
        assert_eq!(predict_all(&full, &x), y);
        let wide = grow(&x, &y, Growth { min_samples_leaf: 3, ..growth() }, 3);
        assert!(wide.nodes.iter().all(|n| n.samples >= 3));
    }
}
