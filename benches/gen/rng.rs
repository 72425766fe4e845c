//! A small deterministic PRNG (SplitMix64) and the few distributions the traffic model
//! draws from. Written here rather than taken from `rand` so a seed gives the same capture
//! on every toolchain and crate version: the ground truth of a benchmark must not drift.

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function: a bijective 64-bit mixer.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Randomness for item `index` of a stream seeded with `seed`, without state: packet k of a
/// flow is drawn from (flow seed, k), so any packet can be computed without its predecessors.
#[inline]
pub fn hash2(seed: u64, index: u64) -> u64 {
    mix(seed ^ index.wrapping_add(1).wrapping_mul(GOLDEN_GAMMA))
}

/// `bits` (uniform 64-bit value) scaled to `0..n`, without the bias of `%`.
#[inline]
pub fn scale(bits: u64, n: u64) -> u64 {
    ((u128::from(bits) * u128::from(n)) >> 64) as u64
}

/// `bits` as a uniform float in [0, 1).
#[inline]
pub fn unit_of(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: mix(seed ^ 0x6a09_e667_f3bc_c909) }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix(self.state)
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn unit(&mut self) -> f64 {
        unit_of(self.next_u64())
    }

    /// Uniform in `lo..=hi`.
    #[inline]
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + scale(self.next_u64(), hi - lo + 1)
    }

    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Exponential with the given mean.
    #[inline]
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// Log-uniform in [lo, hi): every decade equally likely.
    #[inline]
    pub fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo * (hi / lo).powf(self.unit())
    }

    /// Pareto with scale `xm` and shape `alpha`, capped at `cap`.
    #[inline]
    pub fn pareto(&mut self, xm: f64, alpha: f64, cap: f64) -> f64 {
        (xm / (1.0 - self.unit()).powf(1.0 / alpha)).min(cap)
    }
}
