//! Criterion bench of the forest's prediction: `predict_proba` (rows walking each tree in
//! step, block by block, on all cores) against the walk it replaced, measured in the same
//! run — the same blocks on the same cores, but one row at a time down each tree — so the
//! figure to read is their ratio.
//! The table is synthetic and flow-like: 12 classes whose features are log-normal around
//! centres of their own, a tenth of the rows drawn from another class, so trees grow deep.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flowmine_forest::random::SplitMix64;
use flowmine_forest::{Forest, ForestParams};
use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;

const ROWS: usize = 20_000;
const FEATURES: usize = 40;
const CLASSES: usize = 12;

fn uniform(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A rows × features table and its classes.
fn table(rows: usize, seed: u64) -> (Array2<f64>, Vec<u32>) {
    let mut rng = SplitMix64::new(seed);
    let centres: Vec<f64> = (0..CLASSES * FEATURES).map(|_| uniform(&mut rng) * 3.0).collect();
    let y: Vec<u32> = (0..rows).map(|_| rng.below(CLASSES) as u32).collect();
    let mut x = Array2::zeros((rows, FEATURES));
    for (r, mut row) in x.rows_mut().into_iter().enumerate() {
        let law = if rng.below(10) == 0 { rng.below(CLASSES) } else { y[r] as usize };
        for (f, v) in row.iter_mut().enumerate() {
            // A sum of uniforms: close enough to a normal for a spread of values.
            let noise: f64 = (0..4).map(|_| uniform(&mut rng)).sum::<f64>() - 2.0;
            *v = (centres[law * FEATURES + f] + noise).exp().round();
        }
    }
    (x, y)
}

/// The prediction before rows walked in step: per block of 256 rows, tree after tree,
/// each row down to its leaf before the next starts.
fn row_at_a_time(forest: &Forest, x: ArrayView2<'_, f64>) -> Vec<f64> {
    const BLOCK: usize = 256;
    let mut proba = vec![0.0; x.nrows() * CLASSES];
    proba.par_chunks_mut(BLOCK * CLASSES).enumerate().for_each(|(b, out)| {
        let rows = x.slice(s![b * BLOCK..b * BLOCK + out.len() / CLASSES, ..]);
        for tree in &forest.trees {
            for (row, p) in rows.rows().into_iter().zip(out.chunks_exact_mut(CLASSES)) {
                for &(class, share) in tree.leaf_shares(tree.leaf(row)) {
                    p[class as usize] += share;
                }
            }
        }
    });
    proba
}

fn predict(c: &mut Criterion) {
    let (x, y) = table(ROWS, 1);
    let params = ForestParams { trees: 20, ..ForestParams::default() };
    let forest = Forest::train(x.view(), &y, CLASSES, &params, 1).expect("the forest trains");
    let (rows, _) = table(ROWS, 2);
    let mut group = c.benchmark_group("forest");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(20);
    group.bench_function("predict_proba", |b| b.iter(|| forest.predict_proba(rows.view()).expect("predicts")));
    group.bench_function("row_at_a_time", |b| b.iter(|| row_at_a_time(&forest, rows.view())));
    group.finish();
}

criterion_group!(benches, predict);
criterion_main!(benches);
