//! DBSCAN (Ester et al. 1996) with scikit-learn's conventions, so its labels can be
//! compared one for one: a row's neighbourhood holds every row within `eps` (Euclidean,
//! itself included), a core row has at least `min_samples` of them, clusters are numbered
//! in the order of their first core row, a border row joins the first cluster that
//! reaches it, and noise is -1. Neighbourhoods are found by brute force on the rayon pool
//! (quadratic: run it on a sample of a large table).

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;

/// The label of a row in no cluster.
pub const NOISE: i32 = -1;

fn squared_distance(a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The rows within `eps` of each row (itself included), in row order.
fn neighbourhoods(x: ArrayView2<f64>, eps: f64) -> Vec<Vec<u32>> {
    let limit = eps * eps;
    (0..x.nrows())
        .into_par_iter()
        .map(|i| {
            let row = x.row(i);
            x.axis_iter(Axis(0))
                .enumerate()
                .filter(|(_, other)| squared_distance(row, *other) <= limit)
                .map(|(j, _)| j as u32)
                .collect()
        })
        .collect()
}

/// Cluster labels (0, 1, … or [`NOISE`]) of the rows of `x`.
pub fn dbscan(x: ArrayView2<f64>, eps: f64, min_samples: usize) -> Vec<i32> {
    let near = neighbourhoods(x, eps);
    let core: Vec<bool> = near.iter().map(|n| n.len() >= min_samples).collect();
    let mut labels = vec![NOISE; x.nrows()];
    let mut next = 0;
    let mut stack = Vec::new();
    for start in 0..x.nrows() {
        if labels[start] != NOISE || !core[start] {
            continue;
        }
        stack.push(start);
        while let Some(i) = stack.pop() {
            if labels[i] != NOISE {
                continue;
            }
            labels[i] = next;
            if core[i] {
                stack.extend(near[i].iter().map(|&j| j as usize).filter(|&j| labels[j] == NOISE));
            }
        }
        next += 1;
    }
    labels
}

/// The distance of each row to its `m`-th nearest row (itself counted first): DBSCAN's
/// `eps` is often read off these sorted values.
pub fn kth_distances(x: ArrayView2<f64>, m: usize) -> Vec<f64> {
    (0..x.nrows())
        .into_par_iter()
        .map(|i| {
            let mut d: Vec<f64> = x.axis_iter(Axis(0)).map(|o| squared_distance(x.row(i), o)).collect();
            let m = m.clamp(1, d.len()) - 1;
            d.select_nth_unstable_by(m, f64::total_cmp);
            d[m].sqrt()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Two chains of three rows and an outlier, worked by hand with eps 1.0: with
    /// min_samples 3 the middle rows are core rows and the ends border rows.
    #[test]
    fn chains_borders_and_noise() {
        let x = array![[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [10.0, 0.0], [11.0, 0.0], [12.0, 0.0], [30.0, 0.0]];
        assert_eq!(dbscan(x.view(), 1.0, 3), [0, 0, 0, 1, 1, 1, NOISE]);
        // min_samples 4: no row has four neighbours.
        assert_eq!(dbscan(x.view(), 1.0, 4), [NOISE; 7]);
        // A row counts itself: with min_samples 1 every row is a core row.
        assert_eq!(dbscan(x.view(), 0.5, 1), [0, 1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn kth_distance_counts_the_row_itself() {
        let x = array![[0.0], [1.0], [3.0]];
        assert_eq!(kth_distances(x.view(), 1), [0.0, 0.0, 0.0]);
        assert_eq!(kth_distances(x.view(), 2), [1.0, 1.0, 2.0]);
    }
}
