//! The Random Forest of `flowmine evaluate`, apart from the Polars crate so that its hot
//! loops are compiled optimised even in test builds.

pub mod forest;
pub mod importance;
pub mod random;
pub mod tree;

pub use forest::{Forest, ForestParams, most_likely};
pub use tree::Tree;

/// What can go wrong training or applying a forest.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForestError {
    #[error("the training rows hold {0} class(es); a classifier needs two or more")]
    OneClass(usize),
    #[error("a forest needs at least one tree")]
    NoTrees,
    #[error("{rows} rows of features but {classes} class indices")]
    Rows { rows: usize, classes: usize },
    #[error("row {row} has class index {class}, not below the {classes} classes")]
    Class { row: usize, class: u32, classes: usize },
    #[error("row {row}, feature {feature} is {value}; trees need finite values")]
    NotFinite { row: usize, feature: usize, value: f64 },
    #[error("the model takes {model} features, the rows have {rows}")]
    Features { model: usize, rows: usize },
    #[error("node {node} of tree {tree} is inconsistent")]
    Damaged { tree: usize, node: usize },
    #[error("permutation importance needs at least one shuffle and one test row")]
    NoPermutations,
}
