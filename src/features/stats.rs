//! Summary statistics of one series of values, computed the way numpy and scipy compute
//! them, operation for operation, so that results agree to the last bits rather than only
//! "closely": researchers compare against MIRAGE's numpy-made features.
//!
//! - sums are numpy's pairwise summation (`np.add.reduce` on a contiguous float64 array);
//! - `mean` = sum / n; `var` = mean of squared deviations (ddof 0), `std` = sqrt(var);
//! - `skew` and `kurtosis` as MIRAGE's `flow_features` hold them: `scipy.stats.skew(x,
//!   bias=False)` and `scipy.stats.kurtosis(x, fisher=True, bias=False)` with the edge rules
//!   of the scipy the dataset was made with: zero variance (m2 = 0) gives skew 0.0 and
//!   kurtosis −3.0; the bias correction applies only where n > 2 (skew) and n > 3
//!   (kurtosis), the biased value (m3 / m2^1.5, m4 / m2^2 − 3) below that;
//! - `mad` = median of |x − median(x)| (`scipy.stats.median_abs_deviation`, scale 1);
//! - percentiles by numpy's default linear interpolation, including its two-sided lerp.
//!
//! The definitions are documented in `formats/features.md`.

/// The percentiles reported, in percent.
pub const PERCENTILES: [u32; 9] = [10, 20, 30, 40, 50, 60, 70, 80, 90];

/// Statistic names in column order (the suffix of a feature column name).
pub const STAT_NAMES: [&str; 17] = [
    "min", "max", "mean", "std", "var", "mad", "skew", "kurtosis", "p10", "p20", "p30", "p40", "p50", "p60", "p70",
    "p80", "p90",
];

/// The statistics of one series; every field is `None` for an empty series.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub var: Option<f64>,
    pub mad: Option<f64>,
    pub skew: Option<f64>,
    pub kurtosis: Option<f64>,
    /// The values at [`PERCENTILES`].
    pub percentiles: [Option<f64>; 9],
}

impl Summary {
    /// The statistics in [`STAT_NAMES`] order.
    pub fn values(&self) -> [Option<f64>; 17] {
        let mut out = [None; 17];
        out[..8].copy_from_slice(&[
            self.min,
            self.max,
            self.mean,
            self.std,
            self.var,
            self.mad,
            self.skew,
            self.kurtosis,
        ]);
        out[8..].copy_from_slice(&self.percentiles);
        out
    }
}

/// numpy's pairwise summation (`pairwise_sum_DOUBLE`): blocks of at most 128 values are
/// summed with eight interleaved accumulators, larger arrays are split in halves (rounded
/// down to a multiple of 8). Plain left-to-right summation differs in the last bits.
pub fn pairwise_sum(values: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = values.len();
    if n < 8 {
        let mut sum = 0.0;
        for &v in values {
            sum += v;
        }
        sum
    } else if n <= BLOCK {
        let mut acc = [0.0f64; 8];
        acc.copy_from_slice(&values[..8]);
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (j, a) in acc.iter_mut().enumerate() {
                *a += values[i + j];
            }
            i += 8;
        }
        let mut sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for &v in &values[whole..] {
            sum += v;
        }
        sum
    } else {
        let mut half = n / 2;
        half -= half % 8;
        pairwise_sum(&values[..half]) + pairwise_sum(&values[half..])
    }
}

/// `np.mean`.
fn mean(values: &[f64]) -> f64 {
    pairwise_sum(values) / values.len() as f64
}

/// `np.median` of values already sorted ascending: the middle value, or the mean of the
/// two middle values computed as numpy does ((a + b) / 2 through a pairwise sum).
fn median_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 }
}

/// `np.percentile(sorted, q)` with the default linear method, on sorted values.
fn percentile_of_sorted(sorted: &[f64], q: u32) -> f64 {
    let n = sorted.len();
    // numpy divides q by 100 first, then multiplies by (n − 1).
    let virtual_index = (n - 1) as f64 * (q as f64 / 100.0);
    if virtual_index >= (n - 1) as f64 {
        return sorted[n - 1];
    }
    let below = virtual_index.floor();
    let gamma = virtual_index - below;
    let a = sorted[below as usize];
    let b = sorted[below as usize + 1];
    let diff = b - a;
    // numpy's _lerp interpolates from the nearer end, which changes the last bits.
    if gamma >= 0.5 { b - diff * (1.0 - gamma) } else { a + diff * gamma }
}

/// Skewness and excess kurtosis from the central moments, by the rules of the scipy that
/// made MIRAGE's features (scipy ≤ 1.8's `skew(bias=False)` and `kurtosis(bias=False)`),
/// operation for operation:
/// - m2 = 0 → skew 0.0 and kurtosis 0 − 3 = −3.0 (no NaN);
/// - skew: g1 = m3 / m2^1.5; where n > 2, √((n − 1)·n) / (n − 2) · m3 / m2^1.5;
/// - kurtosis: g2 = m4 / m2^2; where n > 3, 1/(n − 2)/(n − 3) · ((n² − 1)·m4/m2^2 − 3(n − 1)²)
///   + 3; then − 3 (Fisher). Below n = 4 the biased g2 − 3 (n = 2: −2.0).
fn shape(n: usize, m2: f64, m3: f64, m4: f64) -> (f64, f64) {
    if m2 == 0.0 {
        return (0.0, -3.0);
    }
    let n = n as f64;
    // scipy writes m2**1.5 and m2**2.0, which numpy evaluates with the C library's pow();
    // pow(x, 2) can differ from x·x in the last bit, and the compiler would turn a literal
    // powf(2.0) into x·x, so the exponent is hidden from it.
    let square = std::hint::black_box(2.0);
    let skew = if n > 2.0 { ((n - 1.0) * n).sqrt() / (n - 2.0) * m3 / m2.powf(1.5) } else { m3 / m2.powf(1.5) };
    let kurtosis = if n > 3.0 {
        1.0 / (n - 2.0) / (n - 3.0) * ((n * n - 1.0) * m4 / m2.powf(square) - 3.0 * (n - 1.0).powf(square)) + 3.0
    } else {
        m4 / m2.powf(square)
    };
    (skew, kurtosis - 3.0)
}

/// Reusable buffers, so that summarising millions of flows does not allocate per flow.
#[derive(Debug, Default)]
pub struct Scratch {
    deviations: Vec<f64>,
    powers: Vec<f64>,
}

/// Summarises `values`; sorts them in place (the order is not needed afterwards).
pub fn summarize(values: &mut [f64], scratch: &mut Scratch) -> Summary {
    let n = values.len();
    if n == 0 {
        return Summary::default();
    }
    if n == 1 {
        // What the rules give for one value (mean x, no spread, zero-variance shape),
        // without the work: most flows of a campus have one packet in some direction.
        let x = values[0];
        return Summary {
            min: Some(x),
            max: Some(x),
            mean: Some(x),
            std: Some(0.0),
            var: Some(0.0),
            mad: Some(0.0),
            skew: Some(0.0),
            kurtosis: Some(-3.0),
            percentiles: [Some(x); 9],
        };
    }
    let mean = mean(values);

    // Central moments exactly as scipy's `_moment`: d = x − mean; m2 = mean(d·d);
    // m3 = mean((d·d)·d); m4 = mean((d·d)·(d·d)). numpy's var is the same m2.
    let d = &mut scratch.deviations;
    d.clear();
    d.extend(values.iter().map(|&x| x - mean));
    let p = &mut scratch.powers;
    p.clear();
    p.extend(d.iter().map(|&x| x * x));
    let m2 = self::mean(p);
    for (sq, &dev) in p.iter_mut().zip(d.iter()) {
        *sq *= dev;
    }
    let m3 = self::mean(p);
    p.clear();
    p.extend(d.iter().map(|&x| {
        let sq = x * x;
        sq * sq
    }));
    let m4 = self::mean(p);
    let (skew, kurtosis) = shape(n, m2, m3, m4);

    values.sort_unstable_by(f64::total_cmp);
    let median = median_of_sorted(values);
    d.clear();
    d.extend(values.iter().map(|&x| (x - median).abs()));
    d.sort_unstable_by(f64::total_cmp);
    let mad = median_of_sorted(d);

    Summary {
        min: Some(values[0]),
        max: Some(values[n - 1]),
        mean: Some(mean),
        std: Some(m2.sqrt()),
        var: Some(m2),
        mad: Some(mad),
        skew: Some(skew),
        kurtosis: Some(kurtosis),
        percentiles: PERCENTILES.map(|q| Some(percentile_of_sorted(values, q))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(values: &[f64]) -> Summary {
        summarize(&mut values.to_vec(), &mut Scratch::default())
    }

    #[test]
    fn empty_series_has_no_statistics() {
        assert_eq!(summary(&[]), Summary::default());
    }

    #[test]
    fn single_value_has_the_zero_variance_shape() {
        let s = summary(&[52.0]);
        assert_eq!((s.min, s.max, s.mean, s.var, s.mad), (Some(52.0), Some(52.0), Some(52.0), Some(0.0), Some(0.0)));
        assert_eq!((s.skew, s.kurtosis), (Some(0.0), Some(-3.0)));
        assert!(s.percentiles.iter().all(|p| *p == Some(52.0)));
    }

    #[test]
    fn known_values() {
        // scipy.stats.skew([2, 8, 0, 4, 1, 9, 9, 0]) is 0.2650554122698573 (scipy's own
        // documentation); bias=False scales it by √(8·7)/6.
        let s = summary(&[2.0, 8.0, 0.0, 4.0, 1.0, 9.0, 9.0, 0.0]);
        let unbiased = 0.2650554122698573 * (56.0f64).sqrt() / 6.0;
        assert!((s.skew.unwrap() - unbiased).abs() < 1e-15, "{:?}", s.skew);
        assert_eq!(s.mean, Some(4.125));
        // np.percentile([0, 0, 1, 2, 4, 8, 9, 9], 10) = 0.0, 50 → 3.0, 90 → 9.0
        assert_eq!(s.percentiles[0], Some(0.0));
        assert_eq!(s.percentiles[4], Some(3.0));
        assert_eq!(s.percentiles[8], Some(9.0));
        // median 3, |x − 3| = 1 5 3 1 2 6 6 3 → median 3
        assert_eq!(s.mad, Some(3.0));
    }

    #[test]
    fn mad_of_the_mirage_example_shape() {
        // 40 % of the sizes are 52 and the median is 129: the MAD is a median of
        // deviations, not a mean (the MIRAGE-2019 record shows 77.0).
        let s = summary(&[52.0, 52.0, 52.0, 52.0, 129.0, 129.0, 140.0, 300.0, 1400.0, 1400.0]);
        assert_eq!(s.percentiles[4], Some(129.0));
        assert_eq!(s.mad, Some(77.0));
    }

    #[test]
    fn edge_rules_of_the_scipy_mirage_was_made_with() {
        // Constant values: no variance, skew 0 and kurtosis −3 (not NaN).
        let s = summary(&[40.0, 40.0, 40.0, 40.0, 40.0]);
        assert_eq!((s.skew, s.kurtosis), (Some(0.0), Some(-3.0)));
        // Two values: the biased statistics (g1 = 0, g2 = 1 → −2).
        let s = summary(&[1.0, 3.0]);
        assert_eq!((s.skew, s.kurtosis), (Some(0.0), Some(-2.0)));
        // Three values: skew corrected (n > 2), kurtosis not (n ≤ 3): m2 = 2/9·…
        // [0, 0, 3]: mean 1, d = −1 −1 2, m2 = 2, m3 = 2, m4 = 6;
        // g1 = 2 / 2^1.5 = 0.7071…, corrected √6 · g1 = 1.7320508…; g2 − 3 = 1.5 − 3.
        let s = summary(&[0.0, 0.0, 3.0]);
        assert!((s.skew.unwrap() - 3f64.sqrt()).abs() < 1e-15, "{:?}", s.skew);
        assert_eq!(s.kurtosis, Some(-1.5));
    }

    #[test]
    fn pairwise_sum_splits_like_numpy() {
        // 0.1 summed 1000 times: numpy's np.sum gives 100.00000000000001 (naive: 99.9999999999986).
        let v = vec![0.1; 1000];
        assert_eq!(pairwise_sum(&v), 100.00000000000001);
    }
}
