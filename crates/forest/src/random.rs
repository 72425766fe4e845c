//! The random numbers of an experiment: SplitMix64 streams derived from `--seed`, so every
//! shuffle, resample and tree has a seed of its own that does not depend on the order or
//! the thread in which it is used.

/// SplitMix64 (Steele, Lea and Flood 2014): 64 bits of state, passes BigCrush, and any
/// seed, 0 included, gives a good stream.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        mix(self.0)
    }

    /// A uniform integer in `0..n` (n > 0), without modulo bias (Lemire's method).
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as usize;
            }
        }
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// The seed of stream `path` under `seed`: e.g. `derive(seed, &[TREES, k])` for tree k.
/// Different paths give unrelated streams.
pub fn derive(seed: u64, path: &[u64]) -> u64 {
    path.iter().fold(mix(seed ^ GOLDEN_GAMMA), |acc, &p| mix(acc ^ mix(p.wrapping_add(GOLDEN_GAMMA))))
}

/// Stream names for [`derive`].
pub mod stream {
    pub const SPLIT: u64 = 1;
    pub const BALANCE: u64 = 2;
    pub const TREES: u64 = 3;
    pub const PERMUTATION: u64 = 4;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_gives_the_reference_values() {
        // The first outputs for seed 1234567, from the reference C implementation
        // (https://prng.di.unimi.it/splitmix64.c).
        let mut r = SplitMix64::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
        assert_eq!(r.next_u64(), 9817491932198370423);
    }

    #[test]
    fn shuffles_are_permutations_and_below_stays_in_range() {
        let mut r = SplitMix64::new(7);
        let mut v: Vec<usize> = (0..100).collect();
        r.shuffle(&mut v);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
        assert!((0..1000).all(|_| r.below(3) < 3));
        assert_ne!(derive(1, &[stream::TREES, 0]), derive(1, &[stream::TREES, 1]));
        assert_ne!(derive(1, &[stream::TREES, 0]), derive(2, &[stream::TREES, 0]));
    }
}
