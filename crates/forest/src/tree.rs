//! One CART classification tree as scikit-learn grows the trees of its Random Forest
//! (`sklearn/tree/_splitter.pyx`, `BestSplitter`; `_tree.pyx`, `DepthFirstTreeBuilder`):
//! the bootstrap sample is given as a weight per training row (the times it was drawn),
//! Gini impurity over the weights, exact thresholds halfway between consecutive distinct
//! values, and at every node `max_features` features drawn at random without replacement,
//! constant ones counted among them, more drawn only while every one drawn was constant.
//! Leaves keep the weighted class shares of their rows (`predict_proba`).
//!
//! Written here rather than taken from smartcore: smartcore sorts every column again for
//! each tree and scans every training row at every split, which made training twice as
//! slow as scikit-learn; this grower sorts only a node's own rows, and only for the
//! features drawn at that node.

use ndarray::{ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::random::SplitMix64;

/// Values closer than this are not told apart: scikit-learn's `FEATURE_THRESHOLD`, so no
/// threshold falls between two values that differ by rounding only.
const FEATURE_THRESHOLD: f64 = 1e-7;

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

/// A node as prediction walks it: a split (rows with `feature` ≤ `threshold` go to the
/// child `next`, the others to `next + 1`) or a leaf (`feature` = [`LEAF`]), whose class
/// shares are `Tree::leaf_classes[leaf_start[next]..leaf_start[next + 1]]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub threshold: f64,
    pub feature: u32,
    pub next: u32,
}

/// What the training rows did at a node, for the impurity importance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NodeStats {
    /// Distinct training rows that reached the node (scikit-learn's `n_node_samples`).
    pub rows: u32,
    /// Their bootstrap draws (`weighted_n_node_samples`).
    pub weight: u32,
    /// Gini impurity of those draws.
    pub impurity: f64,
}

pub const LEAF: u32 = u32::MAX;

/// Rows that walk a tree together in [`Tree::add_leaf_shares`].
pub const LANES: usize = 8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub nodes: Vec<Node>,
    pub stats: Vec<NodeStats>,
    /// Per leaf, where its (class, share) pairs start in `leaf_classes`; one more entry
    /// closes the last leaf.
    pub leaf_start: Vec<u32>,
    /// (class, share of the leaf's weight), classes with a share only, by class.
    pub leaf_classes: Vec<(u32, f64)>,
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

/// The best split of one node found so far.
struct Split {
    feature: usize,
    threshold: f64,
    /// Σ left_count² / w_left + Σ right_count² / w_right (weights): larger is purer
    /// (scikit-learn's `proxy_impurity_improvement` for Gini).
    score: f64,
}

/// Buffers reused from node to node.
struct Scratch {
    features: Vec<usize>,
    pairs: Vec<(f64, u32)>,
    left: Vec<u32>,
}

impl Tree {
    /// Grows a tree on the training rows with a nonzero `weight` (their bootstrap draws).
    pub fn grow(
        x: Columns<'_>,
        y: &[u32],
        classes: usize,
        weight: &[u32],
        growth: Growth,
        rng: &mut SplitMix64,
    ) -> Tree {
        let mut sample: Vec<u32> = (0..weight.len() as u32).filter(|&r| weight[r as usize] > 0).collect();
        let mut tree = Tree { nodes: Vec::new(), stats: Vec::new(), leaf_start: vec![0], leaf_classes: Vec::new() };
        // (range of `sample` holding the node's rows, depth, the node's index)
        let mut stack = vec![(0..sample.len(), 0u16, 0u32)];
        tree.push_placeholders(1);
        let mut counts = vec![0u32; classes];
        let mut scratch = Scratch { features: (0..x.features).collect(), pairs: Vec::new(), left: vec![0; classes] };
        while let Some((range, depth, index)) = stack.pop() {
            let rows = &mut sample[range.clone()];
            counts.iter_mut().for_each(|c| *c = 0);
            for &r in rows.iter() {
                counts[y[r as usize] as usize] += weight[r as usize];
            }
            let w: u32 = counts.iter().sum();
            let impurity = gini(&counts, w);
            tree.stats[index as usize] = NodeStats { rows: rows.len() as u32, weight: w, impurity };
            let min_leaf = growth.min_samples_leaf.max(1);
            let stop =
                rows.len() < 2 * min_leaf || growth.max_depth.is_some_and(|d| depth >= d) || impurity <= f64::EPSILON;
            let split = if stop { None } else { best_split(x, y, weight, rows, &counts, growth, rng, &mut scratch) };
            let Some(split) = split else {
                tree.make_leaf(index, &counts, w);
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
            let left = tree.nodes.len() as u32;
            tree.nodes[index as usize] = Node { threshold: split.threshold, feature: split.feature as u32, next: left };
            tree.push_placeholders(2);
            stack.push((range.start + mid..range.end, depth + 1, left + 1));
            stack.push((range.start..range.start + mid, depth + 1, left));
        }
        tree
    }

    fn push_placeholders(&mut self, n: usize) {
        for _ in 0..n {
            self.nodes.push(Node { threshold: 0.0, feature: LEAF, next: 0 });
            self.stats.push(NodeStats { rows: 0, weight: 0, impurity: 0.0 });
        }
    }

    fn make_leaf(&mut self, index: u32, counts: &[u32], weight: u32) {
        let leaf = self.leaf_start.len() as u32 - 1;
        self.nodes[index as usize] = Node { threshold: 0.0, feature: LEAF, next: leaf };
        let shares = counts.iter().enumerate().filter(|(_, c)| **c > 0);
        self.leaf_classes.extend(shares.map(|(class, &c)| (class as u32, f64::from(c) / f64::from(weight))));
        self.leaf_start.push(self.leaf_classes.len() as u32);
    }

    /// The leaf one row of feature values ends in.
    #[inline]
    pub fn leaf(&self, row: ArrayView1<'_, f64>) -> u32 {
        self.leaf_by(|f| row[f])
    }

    /// The leaf a row ends in when its feature f reads `value(f)`: a walk for rows that
    /// are not one slice (a feature replaced, a note of the features tested).
    #[inline]
    pub fn leaf_by(&self, mut value: impl FnMut(usize) -> f64) -> u32 {
        let mut node = self.nodes[0];
        while node.feature != LEAF {
            node = self.nodes[(node.next + u32::from(value(node.feature as usize) > node.threshold)) as usize];
        }
        node.next
    }

    /// Adds to `out` (`classes` values per row) the class shares of the leaf each row of
    /// `rows` (row-major, `features` values per row) ends in — the per-row sums of
    /// [`Tree::leaf`] and [`Tree::leaf_shares`], in the same order, so the same values.
    ///
    /// Rows walk the tree [`LANES`] at a time, in step: a walk is a chain of dependent
    /// loads, and walking several rows together lets those loads overlap instead of each
    /// waiting on the memory behind it.
    pub fn add_leaf_shares(&self, rows: &[f64], features: usize, out: &mut [f64], classes: usize) {
        if features == 0 {
            // A forest of no features is one leaf per tree, for every row.
            out.chunks_exact_mut(classes).for_each(|p| self.add_shares(self.leaf_of(&[]), p));
            return;
        }
        let mut groups = rows.chunks_exact(features * LANES);
        let mut outs = out.chunks_exact_mut(classes * LANES);
        for (group, out) in (&mut groups).zip(&mut outs) {
            let leaves = self.leaves_in_step(LANES, |lane, f| group[lane * features + f]);
            for (leaf, p) in leaves.into_iter().zip(out.chunks_exact_mut(classes)) {
                self.add_shares(leaf, p);
            }
        }
        let rest = groups.remainder().chunks_exact(features);
        for (row, p) in rest.zip(outs.into_remainder().chunks_exact_mut(classes)) {
            self.add_shares(self.leaf_of(row), p);
        }
    }

    /// The leaves of the first `n` of [`LANES`] rows walked together, lane i's feature f
    /// reading `value(i, f)` (lanes from `n` on are left at the root, their leaf unused).
    #[inline]
    pub fn leaves_in_step(&self, n: usize, value: impl Fn(usize, usize) -> f64) -> [u32; LANES] {
        let nodes = &self.nodes[..];
        let mut at = [0u32; LANES];
        loop {
            let mut moving = false;
            for (lane, at) in at[..n].iter_mut().enumerate() {
                let node = nodes[*at as usize];
                if node.feature != LEAF {
                    *at = node.next + u32::from(value(lane, node.feature as usize) > node.threshold);
                    moving = true;
                }
            }
            if !moving {
                return at.map(|a| nodes[a as usize].next);
            }
        }
    }

    /// [`Tree::leaf`] of a row given as a slice.
    #[inline]
    fn leaf_of(&self, row: &[f64]) -> u32 {
        self.leaf_by(|f| row[f])
    }

    #[inline]
    fn add_shares(&self, leaf: u32, p: &mut [f64]) {
        for &(class, share) in self.leaf_shares(leaf) {
            p[class as usize] += share;
        }
    }

    /// The (class, share) pairs of a leaf.
    #[inline]
    pub fn leaf_shares(&self, leaf: u32) -> &[(u32, f64)] {
        &self.leaf_classes[self.leaf_start[leaf as usize] as usize..self.leaf_start[leaf as usize + 1] as usize]
    }

    /// Weighted impurity decrease per feature (scikit-learn's unnormalised
    /// `compute_feature_importances`): Σ over the feature's splits of
    /// w·impurity − w_left·impurity_left − w_right·impurity_right.
    pub fn impurity_decrease(&self, features: usize) -> Vec<f64> {
        let mut out = vec![0.0; features];
        let part = |s: &NodeStats| f64::from(s.weight) * s.impurity;
        for (node, stats) in self.nodes.iter().zip(&self.stats).filter(|(n, _)| n.feature != LEAF) {
            let (l, r) = (&self.stats[node.next as usize], &self.stats[node.next as usize + 1]);
            out[node.feature as usize] += part(stats) - part(l) - part(r);
        }
        out
    }

    /// The number of splits (a tree of one leaf has none).
    pub fn splits(&self) -> usize {
        self.nodes.iter().filter(|n| n.feature != LEAF).count()
    }

    /// Checks that the tree's indices hold together (a model file read back may not):
    /// children after their parent, leaves and classes in range.
    pub fn check(&self, features: usize, classes: usize) -> Result<(), usize> {
        let n = self.nodes.len();
        let leaves = self.leaf_start.len().saturating_sub(1);
        if n == 0 || self.stats.len() != n || self.leaf_start.first() != Some(&0) {
            return Err(0);
        }
        if self.leaf_start.windows(2).any(|w| w[0] > w[1])
            || self.leaf_start[leaves] as usize != self.leaf_classes.len()
        {
            return Err(0);
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let bad = if node.feature == LEAF {
                node.next as usize >= leaves
            } else {
                node.feature as usize >= features || node.next as usize <= i || node.next as usize + 1 >= n
            };
            if bad {
                return Err(i);
            }
        }
        if self.leaf_classes.iter().any(|&(c, _)| c as usize >= classes) {
            return Err(0);
        }
        Ok(())
    }
}

/// The best Gini split of a node's `rows` (scikit-learn's `BestSplitter.node_split`):
/// features drawn one at a time without replacement until `max_features` have been
/// drawn, constant ones included, and on while every one drawn was constant; `None`
/// when none of them splits the rows into two sides of `min_samples_leaf` rows each.
#[allow(clippy::too_many_arguments)]
fn best_split(
    x: Columns<'_>,
    y: &[u32],
    weight: &[u32],
    rows: &[u32],
    counts: &[u32],
    growth: Growth,
    rng: &mut SplitMix64,
    scratch: &mut Scratch,
) -> Option<Split> {
    let n = rows.len();
    let min_leaf = growth.min_samples_leaf.max(1);
    let total: u32 = counts.iter().sum();
    let Scratch { features, pairs, left } = scratch;
    let mut best: Option<Split> = None;
    let (mut drawn, mut constant) = (0, 0);
    while drawn < features.len() && (drawn < growth.max_features || drawn == constant) {
        // Draw the next feature (a partial Fisher–Yates shuffle).
        let pick = drawn + rng.below(features.len() - drawn);
        features.swap(drawn, pick);
        let f = features[drawn];
        drawn += 1;
        let column = x.feature(f);
        pairs.clear();
        pairs.extend(rows.iter().map(|&r| (column[r as usize], r)));
        pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        if pairs[n - 1].0 <= pairs[0].0 + FEATURE_THRESHOLD {
            constant += 1;
            continue;
        }
        left.iter_mut().for_each(|c| *c = 0);
        let mut w_left = 0u32;
        let mut left_sq = 0.0f64;
        let mut right_sq: f64 = counts.iter().map(|&c| f64::from(c).powi(2)).sum();
        for i in 0..n - 1 {
            let r = pairs[i].1 as usize;
            let (c, w) = (y[r] as usize, weight[r]);
            let right_c = f64::from(counts[c] - left[c]);
            let left_c = f64::from(left[c]);
            let wf = f64::from(w);
            left_sq += wf * (2.0 * left_c + wf);
            right_sq -= wf * (2.0 * right_c - wf);
            left[c] += w;
            w_left += w;
            let (v, next) = (pairs[i].0, pairs[i + 1].0);
            let n_left = i + 1;
            if next <= v + FEATURE_THRESHOLD || n_left < min_leaf || n - n_left < min_leaf {
                continue;
            }
            let score = left_sq / f64::from(w_left) + right_sq / f64::from(total - w_left);
            if best.as_ref().is_none_or(|b| score > b.score) {
                // Halfway, unless rounding lands on the upper value.
                let mut threshold = v / 2.0 + next / 2.0;
                if threshold == next || threshold.is_infinite() {
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
        let weight = vec![1; x.nrows()];
        Tree::grow(Columns::new(&by_feature.view()), y, 2, &weight, growth, &mut SplitMix64::new(seed))
    }

    fn predict_all(tree: &Tree, x: &Array2<f64>) -> Vec<u32> {
        x.rows().into_iter().map(|row| tree.leaf_shares(tree.leaf(row))[0].0).collect()
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
        assert!(wide.stats.iter().all(|s| s.rows >= 3));
    }

    #[test]
    fn leaves_keep_the_weighted_class_shares_of_their_rows() {
        // x = 1 cannot be split: two rows of class 0 (one drawn twice), one of class 1.
        let x = array![[1.0], [1.0], [1.0], [5.0]];
        let by_feature = x.t().as_standard_layout().into_owned();
        let weight = [1, 2, 1, 1];
        let tree =
            Tree::grow(Columns::new(&by_feature.view()), &[0, 0, 1, 1], 2, &weight, growth(), &mut SplitMix64::new(1));
        assert_eq!((tree.nodes[0].feature, tree.nodes[0].threshold), (0, 3.0));
        assert_eq!(tree.leaf_shares(tree.leaf(x.row(0))), [(0, 0.75), (1, 0.25)]);
        assert_eq!(tree.leaf_shares(tree.leaf(x.row(3))), [(1, 1.0)]);
        assert_eq!(tree.stats[0], NodeStats { rows: 4, weight: 5, impurity: 1.0 - (0.6f64.powi(2) + 0.4f64.powi(2)) });
        // A row drawn 0 times takes no part.
        let tree = Tree::grow(
            Columns::new(&by_feature.view()),
            &[0, 0, 1, 1],
            2,
            &[1, 1, 0, 0],
            growth(),
            &mut SplitMix64::new(1),
        );
        assert_eq!(tree.nodes.len(), 1);
        assert_eq!(tree.leaf_shares(0), [(0, 1.0)]);
    }

    /// The root's feature of trees grown with `seed` in 0..`trees`.
    fn roots(x: &Array2<f64>, y: &[u32], growth: Growth, trees: u64) -> Vec<u32> {
        (0..trees).map(|seed| grow(x, y, growth, seed).nodes[0].feature).collect()
    }

    #[test]
    fn constant_features_count_among_the_draws_as_in_scikit_learn() {
        // Feature 0 is constant, 1 is a weak split, 2 a perfect one. Two draws per node: the
        // pair {0, 1} (one in three) splits on the weak feature, not on a third draw.
        let weak = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0];
        let x = Array2::from_shape_fn((8, 3), |(r, f)| [5.0, weak[r], r as f64][f]);
        let y = [0, 0, 0, 0, 1, 1, 1, 1];
        let roots = roots(&x, &y, Growth { max_features: 2, ..growth() }, 600);
        let weak_roots = roots.iter().filter(|&&f| f == 1).count();
        assert!((150..250).contains(&weak_roots), "{weak_roots} of 600 roots on the weak feature");
        assert!(!roots.contains(&0));
        // One draw that lands on the constant feature draws again: every tree splits.
        let one = Growth { max_features: 1, ..growth() };
        assert!((0..200).all(|seed| grow(&x, &y, one, seed).nodes.len() > 1));
    }

    #[test]
    fn a_feature_without_an_allowed_split_makes_a_leaf_without_more_draws() {
        // With 2 rows per leaf, feature 0 (1, 1, 1, 1, 1, 2) has no allowed split, feature 1
        // splits 3 | 3. One draw per node: half the trees are one leaf.
        let x =
            Array2::from_shape_fn((6, 2), |(r, f)| if f == 0 { f64::from(u8::from(r == 5)) + 1.0 } else { r as f64 });
        let y = [0, 0, 0, 1, 1, 1];
        let growth = Growth { max_features: 1, min_samples_leaf: 2, ..growth() };
        let leaves = (0..400).filter(|&seed| grow(&x, &y, growth, seed).nodes.len() == 1).count();
        assert!((150..250).contains(&leaves), "{leaves} of 400 trees unsplit");
    }
}
