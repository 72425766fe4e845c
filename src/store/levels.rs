//! Parquet levels in the RLE/bit-packed hybrid encoding, byte for byte as Polars'
//! `hybrid_rle::encode` writes them, taken in runs instead of one level at a time.
//!
//! The levels of a list column are long runs (a flow of n packets: repetition 0 then n-1
//! ones; definition "value present" n times), and Polars' encoder pushed each level
//! through an iterator chain and its state machine: on the 20 M-packet campus capture
//! that was 4 % of a whole run. Its state machine does nothing for a level that repeats
//! the one before once eight repeats are buffered, so the rest of such a run is one
//! addition here; every other level takes the same steps as there.

use std::io::Write;

use polars_parquet::parquet::encoding::hybrid_rle::Encoder;

/// Levels a bit-packed literal run buffers at most (Polars' `MAX_VALUES_PER_LITERAL_RUN`).
const MAX_LITERAL: usize = 8 * 1024;

/// Writes `runs` (level, how many times) as `hybrid_rle::encode::<u32>` writes the levels
/// they spell out, with `num_bits` bits per level.
pub fn encode_runs<W: Write>(
    writer: &mut W,
    runs: impl IntoIterator<Item = (u32, usize)>,
    num_bits: u32,
) -> std::io::Result<()> {
    let mut state = Hybrid { buffer: vec![0; MAX_LITERAL], ..Hybrid::default() };
    for (level, count) in runs {
        let mut left = count;
        while left > 0 {
            if level == state.previous && state.repeats >= 8 {
                // Polars' loop would only count these.
                state.repeats += left;
                break;
            }
            state.push(writer, level, num_bits)?;
            left -= 1;
        }
    }
    state.finish(writer, num_bits)
}

/// The state of Polars' encoder between two levels (same names, same steps).
#[derive(Default)]
struct Hybrid {
    repeats: usize,
    previous: u32,
    buffer: Vec<u32>,
    buffered: usize,
    literal: usize,
}

impl Hybrid {
    fn push<W: Write>(&mut self, w: &mut W, level: u32, num_bits: u32) -> std::io::Result<()> {
        if level == self.previous {
            self.repeats += 1;
            if self.repeats >= 8 {
                if self.repeats > 8 {
                    return Ok(());
                }
                // A run long enough for RLE: pad the literal run to a multiple of 8.
                let padding = (8 - self.literal % 8) % 8;
                self.repeats -= padding;
                self.literal += padding;
            }
        } else if self.repeats > 8 {
            self.flush_literal(w, num_bits)?;
            u32::run_length_encode(w, self.repeats, self.previous, num_bits)?;
            self.repeats = 1;
            self.buffered = 0;
        } else {
            self.literal = self.buffered;
            self.repeats = 1;
        }
        if self.buffered == MAX_LITERAL {
            u32::bitpacked_encode(w, self.buffer.iter().copied(), num_bits as usize)?;
            self.repeats = 1;
            self.buffered = 0;
            self.literal = 0;
        }
        self.buffer[self.buffered] = level;
        self.previous = level;
        self.buffered += 1;
        Ok(())
    }

    fn flush_literal<W: Write>(&mut self, w: &mut W, num_bits: u32) -> std::io::Result<()> {
        if self.literal > 0 {
            u32::bitpacked_encode(w, self.buffer[..self.literal].iter().copied(), num_bits as usize)?;
            self.literal = 0;
        }
        Ok(())
    }

    fn finish<W: Write>(mut self, w: &mut W, num_bits: u32) -> std::io::Result<()> {
        if self.repeats <= 8 {
            self.literal = self.buffered;
        }
        self.flush_literal(w, num_bits)?;
        if self.repeats > 8 {
            u32::run_length_encode(w, self.repeats, self.previous, num_bits)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use polars_parquet::parquet::encoding::hybrid_rle;
    use proptest::prelude::*;

    use super::*;

    fn polars(runs: &[(u32, usize)], num_bits: u32) -> Vec<u8> {
        let levels = runs.iter().flat_map(|&(level, n)| std::iter::repeat_n(level, n));
        let mut out = Vec::new();
        hybrid_rle::encode::<u32, _, _>(&mut out, levels, num_bits).unwrap();
        out
    }

    fn ours(runs: &[(u32, usize)], num_bits: u32) -> Vec<u8> {
        let mut out = Vec::new();
        encode_runs(&mut out, runs.iter().copied(), num_bits).unwrap();
        out
    }

    #[test]
    fn literal_bytes_of_short_and_long_runs() {
        // 0 1 0 1 0 1 0 1: one bit-packed group of 8 (header 0b11), bits 0b10101010.
        let alternating = [(0, 1), (1, 1), (0, 1), (1, 1), (0, 1), (1, 1), (0, 1), (1, 1)];
        assert_eq!(ours(&alternating, 1), vec![0b11, 0b1010_1010]);
        // Twenty 3s: one RLE run (header 20 << 1), the value in one byte.
        assert_eq!(ours(&[(3, 20)], 2), vec![40, 3]);
    }

    #[test]
    fn runs_past_a_full_literal_buffer_match_polars() {
        // Alternating levels fill the 8192-level literal buffer; a long run follows.
        let mut runs: Vec<(u32, usize)> = (0..9000).map(|i| (i % 2, 1)).collect();
        runs.push((1, 50_000));
        runs.extend((0..100).map(|i| (i % 4, 1 + i as usize % 11)));
        for bits in [1, 2] {
            assert_eq!(ours(&runs, bits), polars(&runs, bits));
        }
    }

    proptest! {
        #[test]
        fn any_runs_match_polars(
            runs in prop::collection::vec((0u32..4, 0usize..40), 0..400),
            long in prop::collection::vec((0usize..400, 0usize..20_000), 0..3),
        ) {
            let mut runs = runs;
            for (at, n) in long {
                if at < runs.len() {
                    runs[at].1 = n;
                }
            }
            prop_assert_eq!(ours(&runs, 2), polars(&runs, 2));
            let bits_1: Vec<(u32, usize)> = runs.iter().map(|&(l, n)| (l % 2, n)).collect();
            prop_assert_eq!(ours(&bits_1, 1), polars(&bits_1, 1));
        }
    }
}
