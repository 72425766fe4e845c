//! How well clusters match known labels, with scikit-learn's definitions
//! (`adjusted_rand_score`, `normalized_mutual_info_score` with the arithmetic mean,
//! `homogeneity_score`, `completeness_score`) and purity, all from the contingency table;
//! and the silhouette of a clustering.

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;
use serde::Serialize;

/// `table[c][k]`: rows of class `c` in cluster `k`.
pub fn contingency(classes: &[u32], clusters: &[u32]) -> Vec<Vec<u64>> {
    let rows = classes.iter().max().map_or(0, |&m| m as usize + 1);
    let columns = clusters.iter().max().map_or(0, |&m| m as usize + 1);
    let mut table = vec![vec![0u64; columns]; rows];
    for (&c, &k) in classes.iter().zip(clusters) {
        table[c as usize][k as usize] += 1;
    }
    table
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agreement {
    pub rows: u64,
    pub adjusted_rand: f64,
    pub normalized_mutual_info: f64,
    pub homogeneity: f64,
    pub completeness: f64,
    /// Share of rows in their cluster's most common class.
    pub purity: f64,
}

/// Entropy (natural log) of the distribution of `counts`; 0 for one value or none.
fn entropy(counts: impl Iterator<Item = u64> + Clone) -> f64 {
    let total: u64 = counts.clone().sum();
    if total == 0 {
        return 0.0;
    }
    let t = total as f64;
    -counts.filter(|&n| n > 0).map(|n| n as f64 / t * ((n as f64).ln() - t.ln())).sum::<f64>()
}

/// The scores of `clusters` against `classes` (both dense indices, one per row).
pub fn agreement(classes: &[u32], clusters: &[u32]) -> Agreement {
    let table = contingency(classes, clusters);
    let n: u64 = classes.len() as u64;
    let class_sums: Vec<u64> = table.iter().map(|r| r.iter().sum()).collect();
    let cluster_sums: Vec<u64> =
        (0..table.first().map_or(0, Vec::len)).map(|k| table.iter().map(|r| r[k]).sum()).collect();
    let used_classes = class_sums.iter().filter(|&&s| s > 0).count();
    let used_clusters = cluster_sums.iter().filter(|&&s| s > 0).count();

    // Pair counts (scikit-learn's pair_confusion_matrix), exact in integers.
    let square = |v: u64| i128::from(v) * i128::from(v);
    let sum_cells: i128 = table.iter().flatten().map(|&v| square(v)).sum();
    let sum_classes: i128 = class_sums.iter().map(|&v| square(v)).sum();
    let sum_clusters: i128 = cluster_sums.iter().map(|&v| square(v)).sum();
    let n128 = i128::from(n);
    let tp = sum_cells - n128;
    let fp = sum_clusters - sum_cells;
    let fneg = sum_classes - sum_cells;
    let tn = n128 * n128 - fp - fneg - sum_cells;
    let adjusted_rand = if fneg == 0 && fp == 0 {
        1.0
    } else {
        let (tp, tn, fp, fneg) = (tp as f64, tn as f64, fp as f64, fneg as f64);
        2.0 * (tp * tn - fneg * fp) / ((tp + fneg) * (fneg + tn) + (tp + fp) * (fp + tn))
    };

    let t = n as f64;
    let mutual_info = table
        .iter()
        .enumerate()
        .flat_map(|(c, row)| row.iter().enumerate().map(move |(k, &v)| (c, k, v)))
        .filter(|&(_, _, v)| v > 0)
        .map(|(c, k, v)| {
            let v = v as f64;
            v / t * (v.ln() + t.ln() - (class_sums[c] as f64).ln() - (cluster_sums[k] as f64).ln())
        })
        .sum::<f64>()
        .max(0.0);
    let h_classes = entropy(class_sums.iter().copied());
    let h_clusters = entropy(cluster_sums.iter().copied());
    let ratio = |h: f64| if h == 0.0 { 1.0 } else { mutual_info / h };
    let normalized_mutual_info = if used_classes == used_clusters && used_classes <= 1 {
        1.0
    } else if mutual_info == 0.0 {
        0.0
    } else {
        mutual_info / ((h_classes + h_clusters) / 2.0)
    };
    let majority: u64 = (0..cluster_sums.len()).map(|k| table.iter().map(|r| r[k]).max().unwrap_or(0)).sum();
    Agreement {
        rows: n,
        adjusted_rand,
        normalized_mutual_info,
        homogeneity: ratio(h_classes),
        completeness: ratio(h_clusters),
        purity: if n == 0 { 0.0 } else { majority as f64 / t },
    }
}

/// Mean silhouette (Rousseeuw 1987) of the rows of `x` under `labels`, Euclidean; a row
/// alone in its cluster scores 0, as in scikit-learn. Quadratic: pass a sample.
pub fn silhouette(x: ArrayView2<f64>, labels: &[u32]) -> f64 {
    let k = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[l as usize] += 1;
    }
    let per_row: Vec<f64> = (0..x.nrows())
        .into_par_iter()
        .map(|i| {
            let mut sum = vec![0.0; k];
            for (j, other) in x.axis_iter(Axis(0)).enumerate() {
                let d: f64 = x.row(i).iter().zip(other.iter()).map(|(a, b)| (a - b) * (a - b)).sum();
                sum[labels[j] as usize] += d.sqrt();
            }
            let own = labels[i] as usize;
            if sizes[own] <= 1 {
                return 0.0;
            }
            let a = sum[own] / (sizes[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && sizes[c] > 0)
                .map(|c| sum[c] / sizes[c] as f64)
                .fold(f64::INFINITY, f64::min);
            if b.is_infinite() { 0.0 } else { (b - a) / a.max(b) }
        })
        .collect();
    per_row.iter().sum::<f64>() / per_row.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn identical_and_renamed_partitions_score_one() {
        let s = agreement(&[0, 0, 1, 1, 2], &[2, 2, 0, 0, 1]);
        for v in [s.adjusted_rand, s.normalized_mutual_info, s.homogeneity, s.completeness, s.purity] {
            close(v, 1.0);
        }
    }

    /// Worked by hand: classes a a b b, clusters x y x y. The contingency is all ones:
    /// no information (MI 0); pairs (ordered, as scikit-learn counts them): tp 0, fp 4, fn 4,
    /// tn 4, so ARI = 2(0·4 − 4·4) / ((0 + 4)(4 + 4) + (0 + 4)(4 + 4)) = −0.5.
    #[test]
    fn crossed_partitions() {
        let s = agreement(&[0, 0, 1, 1], &[0, 1, 0, 1]);
        close(s.adjusted_rand, -0.5);
        close(s.normalized_mutual_info, 0.0);
        close(s.homogeneity, 0.0);
        close(s.completeness, 0.0);
        close(s.purity, 0.5);
    }

    /// One cluster holding two classes: complete, not homogeneous.
    #[test]
    fn one_cluster_is_complete() {
        let s = agreement(&[0, 0, 1, 1], &[0, 0, 0, 0]);
        close(s.completeness, 1.0);
        close(s.homogeneity, 0.0);
        close(s.adjusted_rand, 0.0);
    }

    #[test]
    fn silhouette_of_two_tight_pairs() {
        let x = ndarray::array![[0.0], [1.0], [10.0], [11.0]];
        // Row 0: a = 1, b = (10 + 11) / 2 = 10.5 → 9.5 / 10.5; row 1: a 1, b 9.5 → 8.5/9.5.
        let expected = (9.5 / 10.5 + 8.5 / 9.5) / 2.0;
        close(silhouette(x.view(), &[0, 0, 1, 1]), expected);
    }
}
