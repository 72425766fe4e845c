//! k-means (Lloyd's algorithm from greedy k-means++ seeds, as scikit-learn's `KMeans`),
//! with the fit on a seeded sample of a large table and every row assigned afterwards.
//!
//! Rows are handled in blocks of [`BLOCK`] rows on the rayon pool; each block's partial
//! sums are added in block order, so a seed gives the same centres on any number of
//! threads. The matrix may be in either memory order: distances are accumulated one
//! feature column at a time.

use ndarray::{Array1, Array2, ArrayView2, Axis, Zip, s};
use rayon::prelude::*;

use flowmine_forest::random::{SplitMix64, derive};

use crate::{Error, Result};

/// Rows per block of parallel work (fixed: the sums must not depend on the thread count).
pub const BLOCK: usize = 4096;

/// Stream names under the run's seed (see `flowmine_forest::random::derive`).
const INIT: u64 = 11;

#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams {
    pub k: usize,
    /// Lloyd iterations at most per start.
    pub max_iter: usize,
    /// Convergence: the squared shift of all centres at most `tol` times the mean
    /// feature variance (scikit-learn's rule).
    pub tol: f64,
    /// Starts from different seeds; the one of least inertia is kept.
    pub starts: usize,
}

impl KMeansParams {
    pub fn new(k: usize) -> KMeansParams {
        KMeansParams { k, max_iter: 300, tol: 1e-4, starts: 3 }
    }
}

/// A fitted k-means.
#[derive(Debug, Clone)]
pub struct KMeans {
    /// One row per cluster.
    pub centres: Array2<f64>,
    /// Sum of squared distances of the fitted rows to their centres.
    pub inertia: f64,
    pub iterations: usize,
}

/// A uniform number in [0, 1).
pub fn unit(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Squared distances of `x`'s rows to each row of `centres`: `k × rows`.
fn distances(x: ArrayView2<f64>, centres: &Array2<f64>) -> Array2<f64> {
    let mut d = Array2::zeros((centres.nrows(), x.nrows()));
    for (j, column) in x.axis_iter(Axis(1)).enumerate() {
        for (c, mut row) in d.axis_iter_mut(Axis(0)).enumerate() {
            let centre = centres[[c, j]];
            Zip::from(&mut row).and(&column).for_each(|acc, &v| *acc += (v - centre) * (v - centre));
        }
    }
    d
}

/// The nearest centre (lowest index on ties) and its squared distance, per row of `x`.
pub fn assign(x: ArrayView2<f64>, centres: &Array2<f64>) -> (Vec<u32>, Vec<f64>) {
    let blocks: Vec<(Vec<u32>, Vec<f64>)> = (0..x.nrows().div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let rows = x.slice(s![b * BLOCK..((b + 1) * BLOCK).min(x.nrows()), ..]);
            nearest(&distances(rows, centres))
        })
        .collect();
    let mut labels = Vec::with_capacity(x.nrows());
    let mut best = Vec::with_capacity(x.nrows());
    for (l, d) in blocks {
        labels.extend(l);
        best.extend(d);
    }
    (labels, best)
}

fn nearest(d: &Array2<f64>) -> (Vec<u32>, Vec<f64>) {
    (0..d.ncols())
        .map(|i| {
            let mut best = (0u32, f64::INFINITY);
            for (c, &v) in d.column(i).iter().enumerate() {
                if v < best.1 {
                    best = (c as u32, v);
                }
            }
            best
        })
        .unzip()
}

/// Greedy k-means++ (Arthur and Vassilvitskii 2007, with scikit-learn's 2 + ⌊ln k⌋ trials
/// per centre): each next centre is the best of a few rows drawn with probability
/// proportional to their squared distance to the centres so far.
pub fn kmeans_plus_plus(x: ArrayView2<f64>, k: usize, rng: &mut SplitMix64) -> Array2<f64> {
    let n = x.nrows();
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centres = Array2::zeros((k, x.ncols()));
    centres.row_mut(0).assign(&x.row(rng.below(n)));
    let mut closest = distances(x, &centres.slice(s![0..1, ..]).to_owned()).row(0).to_owned();
    for c in 1..k {
        let total: f64 = closest.sum();
        let cumulative: Vec<f64> = closest
            .iter()
            .scan(0.0, |acc, &d| {
                *acc += d;
                Some(*acc)
            })
            .collect();
        let candidates: Vec<usize> = (0..trials)
            .map(|_| {
                let r = unit(rng) * total;
                cumulative.partition_point(|&c| c <= r).min(n - 1)
            })
            .collect();
        let mut best: Option<(f64, usize, Array1<f64>)> = None;
        for &candidate in &candidates {
            let one = x.select(Axis(0), &[candidate]);
            let d = distances(x, &one).row(0).to_owned();
            let mut merged = closest.clone();
            Zip::from(&mut merged).and(&d).for_each(|m, &v| *m = m.min(v));
            let potential = merged.sum();
            if best.as_ref().is_none_or(|(p, _, _)| potential < *p) {
                best = Some((potential, candidate, merged));
            }
        }
        let (_, chosen, merged) = best.expect("at least two trials");
        centres.row_mut(c).assign(&x.row(chosen));
        closest = merged;
    }
    centres
}

/// Per-cluster sums and counts of `x`'s rows under `labels`, added block by block in order.
fn sums(x: ArrayView2<f64>, labels: &[u32], k: usize) -> (Array2<f64>, Vec<u64>) {
    let blocks: Vec<(Array2<f64>, Vec<u64>)> = (0..x.nrows().div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let lo = b * BLOCK;
            let rows = x.slice(s![lo..((b + 1) * BLOCK).min(x.nrows()), ..]);
            let labels = &labels[lo..lo + rows.nrows()];
            let mut sum = Array2::zeros((k, x.ncols()));
            let mut count = vec![0u64; k];
            for &l in labels {
                count[l as usize] += 1;
            }
            for (j, column) in rows.axis_iter(Axis(1)).enumerate() {
                for (&l, &v) in labels.iter().zip(column.iter()) {
                    sum[[l as usize, j]] += v;
                }
            }
            (sum, count)
        })
        .collect();
    let mut sum = Array2::zeros((k, x.ncols()));
    let mut count = vec![0u64; k];
    for (s, c) in blocks {
        sum += &s;
        for (a, b) in count.iter_mut().zip(c) {
            *a += b;
        }
    }
    (sum, count)
}

/// Mean of the per-feature variances: the scale of `tol`.
fn mean_variance(x: ArrayView2<f64>) -> f64 {
    let n = x.nrows() as f64;
    let total: f64 = x
        .axis_iter(Axis(1))
        .map(|c| {
            let mean = c.sum() / n;
            c.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n
        })
        .sum();
    total / x.ncols().max(1) as f64
}

/// Lloyd iterations from `centres` until they move less than `tolerance`.
fn lloyd(x: ArrayView2<f64>, mut centres: Array2<f64>, params: &KMeansParams, tolerance: f64) -> KMeans {
    let k = centres.nrows();
    let mut iterations = 0;
    loop {
        let (labels, best) = assign(x, &centres);
        let (sum, count) = sums(x, &labels, k);
        let mut next = centres.clone();
        for (c, &rows) in count.iter().enumerate() {
            if rows > 0 {
                next.row_mut(c).assign(&(&sum.row(c) / rows as f64));
            } else {
                // An empty cluster takes the row farthest from its centre (lowest index on ties).
                let far = best.iter().enumerate().fold(0, |f, (i, &d)| if d > best[f] { i } else { f });
                next.row_mut(c).assign(&x.row(far));
            }
        }
        iterations += 1;
        let shift: f64 = (&next - &centres).mapv(|v| v * v).sum();
        centres = next;
        if shift <= tolerance || iterations >= params.max_iter {
            let (_, best) = assign(x, &centres);
            return KMeans { centres, inertia: best.iter().sum(), iterations };
        }
    }
}

/// Fits k-means to the rows of `x`: `params.starts` k-means++ starts, each refined by
/// Lloyd's algorithm; the start of least inertia is kept.
pub fn fit(x: ArrayView2<f64>, params: &KMeansParams, seed: u64) -> Result<KMeans> {
    if params.k == 0 || params.k > x.nrows() {
        return Err(Error::Config(format!("k = {} needs between 1 and {} rows", params.k, x.nrows())));
    }
    let tolerance = params.tol * mean_variance(x);
    let mut kept: Option<KMeans> = None;
    for start in 0..params.starts.max(1) {
        let mut rng = SplitMix64::new(derive(seed, &[INIT, start as u64]));
        let fitted = lloyd(x, kmeans_plus_plus(x, params.k, &mut rng), params, tolerance);
        if kept.as_ref().is_none_or(|k| fitted.inertia < k.inertia) {
            kept = Some(fitted);
        }
    }
    Ok(kept.expect("at least one start"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ShapeBuilder, array};

    #[test]
    fn two_obvious_groups_are_found_in_either_memory_order() {
        let x = array![[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [10.0, 10.0], [10.1, 10.0], [10.0, 10.1]];
        let mut fortran = Array2::zeros(x.raw_dim().f());
        fortran.assign(&x);
        assert!(!fortran.is_standard_layout());
        for m in [x.view(), fortran.view()] {
            let fitted = fit(m, &KMeansParams::new(2), 7).unwrap();
            let (labels, _) = assign(m, &fitted.centres);
            assert_eq!(labels[0], labels[1]);
            assert_eq!(labels[0], labels[2]);
            assert_eq!(labels[3], labels[5]);
            assert_ne!(labels[0], labels[3]);
            // Each group: squared deviations 2 × (1/900 + 4/900 + 1/900) from its mean.
            assert!((fitted.inertia - 0.08 / 3.0).abs() < 1e-9, "{}", fitted.inertia);
        }
    }

    #[test]
    fn k_out_of_range_is_an_error() {
        let x = array![[0.0], [1.0]];
        assert!(fit(x.view(), &KMeansParams::new(3), 0).unwrap_err().to_string().contains("k = 3"));
        assert!(fit(x.view(), &KMeansParams::new(0), 0).is_err());
    }

    #[test]
    fn same_centres_on_one_thread_and_on_many() {
        let mut rng = SplitMix64::new(3);
        let x = Array2::from_shape_fn((3 * BLOCK + 17, 3), |(i, _)| (i % 5) as f64 * 3.0 + unit(&mut rng));
        let on = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| fit(x.view(), &KMeansParams::new(4), 9).unwrap().centres)
        };
        assert_eq!(on(1), on(3));
    }
}
