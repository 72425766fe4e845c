//! Times the forest alone (no Polars, so a release build takes a minute): training, the
//! permutation importance on the test rows and predict, on a table written by
//! `scripts/bench_forest.py raw` (row-major f64 features, u32 classes).
//!
//!     cargo run --release -p flowmine-forest --example forest_bench -- DIR [REPEATS] [THREADS]
//!
//! DIR holds `x.f64`, `y.u32`, `shape.txt` ("rows features classes train_rows"); the
//! first `train_rows` rows train, the rest test. Prints seconds per step.

use std::time::Instant;

use flowmine_forest::importance::permutation_importance;
use flowmine_forest::{Forest, ForestParams};
use ndarray::{Array2, s};

fn read(dir: &str, name: &str) -> Vec<u8> {
    std::fs::read(format!("{dir}/{name}")).unwrap_or_else(|e| panic!("{dir}/{name}: {e}"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).expect("usage: forest_bench DIR [REPEATS] [THREADS]");
    let repeats: usize = args.get(2).map_or(5, |r| r.parse().expect("repeats"));
    let threads: usize = args.get(3).map_or(2, |t| t.parse().expect("threads"));
    let shape = String::from_utf8(read(dir, "shape.txt")).unwrap();
    let shape: Vec<usize> = shape.split_whitespace().map(|v| v.parse().unwrap()).collect();
    let (rows, features, classes, train_rows) = (shape[0], shape[1], shape[2], shape[3]);
    let x: Vec<f64> = read(dir, "x.f64").chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect();
    let y: Vec<u32> = read(dir, "y.u32").chunks_exact(4).map(|b| u32::from_le_bytes(b.try_into().unwrap())).collect();
    let x = Array2::from_shape_vec((rows, features), x).expect("rows x features values");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let started = Instant::now();
        let (train, test) = (x.slice(s![..train_rows, ..]), x.slice(s![train_rows.., ..]));
        let forest = Forest::train(train, &y[..train_rows], classes, &ForestParams::default(), 1).unwrap();
        let trained = Instant::now();
        let perm = permutation_importance(&forest, test, &y[train_rows..], repeats, 1, &[0]).unwrap();
        let importance = Instant::now();
        let predicted = forest.predict(x.view()).unwrap();
        let done = Instant::now();
        let nodes: usize = forest.trees.iter().map(|t| t.nodes.len()).sum();
        println!(
            "flowmine-forest: train {:.1} s ({} nodes), permutation importance {:.1} s (accuracy {:.4}), \
             predict {:.1} s of {} rows; {threads} threads",
            (trained - started).as_secs_f64(),
            nodes,
            (importance - trained).as_secs_f64(),
            perm.baseline_accuracy,
            (done - importance).as_secs_f64(),
            predicted.len(),
        );
    });
}
