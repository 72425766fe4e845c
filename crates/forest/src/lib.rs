//! The Random Forest of `flowmine evaluate`, apart from the Polars crate so that its hot
//! loops are compiled optimised even in test builds.

pub mod forest;
pub mod importance;
pub mod random;
pub mod tree;

pub use forest::{Forest, ForestParams, most_votes};
pub use tree::Tree;
