//! The forest's prediction (rows walking each tree in step, block by block) gives exactly
//! the probabilities of the plain walk — one row at a time down [`Tree::leaf`], adding its
//! leaf's shares tree after tree, then dividing by the trees, as the forest did before —
//! on real flows: the reference features table, its destination port as the class.

use std::path::Path;

use flowmine::evaluate::ForestParams;
use flowmine::evaluate::dataset::read_table;
use flowmine::evaluate::forest::Forest;
use flowmine::evaluate::matrix::feature_matrix;
use ndarray::{Array2, ArrayView2};
use polars::prelude::*;

/// The plain walk: every row down every tree in turn.
fn plain_proba(forest: &Forest, x: ArrayView2<'_, f64>) -> Array2<f64> {
    let mut proba = Array2::zeros((x.nrows(), forest.classes));
    for (row, mut p) in x.rows().into_iter().zip(proba.rows_mut()) {
        for tree in &forest.trees {
            for &(class, share) in tree.leaf_shares(tree.leaf(row)) {
                p[class as usize] += share;
            }
        }
    }
    proba / forest.trees.len() as f64
}

#[test]
fn prediction_gives_exactly_the_plain_walks_probabilities_on_real_flows() {
    let table = read_table(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/features/reference.parquet")])
        .expect("the reference table");
    let features: Vec<String> =
        table.columns().iter().filter(|c| c.dtype() == &DataType::Float64).map(|c| c.name().to_string()).collect();
    assert!(features.len() > 100, "{} features", features.len());
    let x = feature_matrix(&table, &features, None).expect("the feature matrix");
    let ports: Vec<u16> = table.column("dst_port").unwrap().u16().unwrap().iter().map(|p| p.unwrap_or(0)).collect();
    let mut classes = ports.clone();
    classes.sort_unstable();
    classes.dedup();
    let y: Vec<u32> = ports.iter().map(|p| classes.binary_search(p).unwrap() as u32).collect();
    // Trained on the first 1000 rows, applied to all 1577: rows it never saw, and a row
    // count that is a multiple of neither the block nor the rows walked in step.
    let params = ForestParams { trees: 20, ..ForestParams::default() };
    let forest = Forest::train(x.slice(ndarray::s![..1000, ..]), &y[..1000], classes.len(), &params, 4).unwrap();
    assert!(forest.trees.iter().all(|t| t.nodes.len() > 50), "deep enough trees to walk");
    let proba = forest.predict_proba(x.view()).unwrap();
    let plain = plain_proba(&forest, x.view());
    assert_eq!(proba.dim(), (1577, classes.len()));
    for (row, (p, q)) in proba.rows().into_iter().zip(plain.rows()).enumerate() {
        assert_eq!(p, q, "row {row}");
    }
    // Soft votes on unseen rows: not every probability is 0 or 1.
    assert!(proba.iter().any(|&p| p > 0.0 && p < 1.0));
    // Any memory layout of the rows: a column-major copy predicts the same.
    let by_column = x.t().as_standard_layout().into_owned();
    assert_eq!(forest.predict_proba(by_column.t()).unwrap(), proba);
}
