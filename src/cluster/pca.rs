//! Principal component analysis for the 2-D picture of the clusters: the leading
//! eigenvectors of the covariance matrix (cyclic Jacobi rotations, exact for the small
//! symmetric matrices of a features table), signed as scikit-learn signs them (the
//! largest-magnitude weight of each component positive).

use ndarray::{Array1, Array2, ArrayView2, Axis};

/// A fitted projection.
#[derive(Debug, Clone)]
pub struct Pca {
    pub mean: Array1<f64>,
    /// One row per component.
    pub components: Array2<f64>,
    /// Variance along each component, and its share of the total.
    pub explained_variance: Vec<f64>,
    pub explained_ratio: Vec<f64>,
}

/// Eigenvalues and eigenvectors (columns) of the symmetric matrix `a`, by cyclic Jacobi.
fn symmetric_eigen(mut a: Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let d = a.nrows();
    let mut v = Array2::eye(d);
    for _sweep in 0..100 {
        let off: f64 = (0..d).flat_map(|p| (p + 1..d).map(move |q| (p, q))).map(|(p, q)| a[[p, q]].powi(2)).sum();
        let scale: f64 = a.iter().map(|x| x * x).sum();
        if off <= 1e-30 * scale.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                if a[[p, q]] == 0.0 {
                    continue;
                }
                let theta = (a[[q, q]] - a[[p, p]]) / (2.0 * a[[p, q]]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let (akp, akq) = (a[[k, p]], a[[k, q]]);
                    a[[k, p]] = c * akp - s * akq;
                    a[[k, q]] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[[p, k]], a[[q, k]]);
                    a[[p, k]] = c * apk - s * aqk;
                    a[[q, k]] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[[k, p]], v[[k, q]]);
                    v[[k, p]] = c * vkp - s * vkq;
                    v[[k, q]] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[[i, i]]).collect(), v)
}

/// Fits `components` principal components to the rows of `x`.
pub fn fit(x: ArrayView2<f64>, components: usize) -> Pca {
    let n = x.nrows();
    let mean = x.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(x.ncols()));
    let centred = &x - &mean;
    let covariance = centred.t().dot(&centred) / (n.max(2) - 1) as f64;
    let total: f64 = covariance.diag().sum();
    let (values, vectors) = symmetric_eigen(covariance);
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    order.truncate(components.min(values.len()));
    let mut rows = Array2::zeros((order.len(), x.ncols()));
    for (r, &i) in order.iter().enumerate() {
        let mut column = vectors.column(i).to_owned();
        let largest = column.iter().copied().fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
        if largest < 0.0 {
            column.mapv_inplace(|v| -v);
        }
        rows.row_mut(r).assign(&column);
    }
    let explained_variance: Vec<f64> = order.iter().map(|&i| values[i].max(0.0)).collect();
    let explained_ratio = explained_variance.iter().map(|v| if total > 0.0 { v / total } else { 0.0 }).collect();
    Pca { mean, components: rows, explained_variance, explained_ratio }
}

impl Pca {
    /// The rows of `x` in component coordinates.
    pub fn transform(&self, x: ArrayView2<f64>) -> Array2<f64> {
        (&x - &self.mean).dot(&self.components.t())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn points_on_a_line_have_one_component() {
        let x = array![[0.0, 0.0], [1.0, 2.0], [2.0, 4.0], [3.0, 6.0]];
        let p = fit(x.view(), 2);
        let s = 5f64.sqrt();
        assert!((p.components[[0, 0]] - 1.0 / s).abs() < 1e-12);
        assert!((p.components[[0, 1]] - 2.0 / s).abs() < 1e-12);
        assert!((p.explained_ratio[0] - 1.0).abs() < 1e-12);
        assert!(p.explained_variance[1].abs() < 1e-12);
        let t = p.transform(x.view());
        assert!((t[[3, 0]] - 1.5 * s).abs() < 1e-12);
    }
}
