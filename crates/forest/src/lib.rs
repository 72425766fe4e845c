//! The Random Forest of `flowmine evaluate`, apart from the Polars crate so that its hot
//! loops are compiled optimised even in test builds: smartcore's trees are generic, and
//! generic code is compiled with the optimisation level of the crate that instantiates it.

pub mod forest;
pub mod importance;
pub mod random;

pub use forest::{Forest, ForestParams, matrix, most_votes};
