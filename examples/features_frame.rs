//! The library route to the features table, as a notebook would take it: a flow store in,
//! a Polars `DataFrame` of per-flow features out, then a look at it.
//!
//! ```sh
//! cargo run -- flows testdata/pcaps/messaging --out target/demo-store --label messaging --overwrite
//! cargo run --example features_frame -- target/demo-store
//! ```

use std::path::PathBuf;
use std::time::Instant;

use flowmine::features::{Anonymiser, FeatureOptions, read_features};
use polars::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store: PathBuf = std::env::args_os().nth(1).map(Into::into).unwrap_or_else(|| "target/demo-store".into());
    // Pseudonymised addresses, as any analysis output should have them.
    let options = FeatureOptions::new(Some(Anonymiser::random()?));
    let started = Instant::now();
    let features: DataFrame = read_features(&store, &options)?;
    eprintln!("{} flows, {} columns in {:.2} s", features.height(), features.width(), started.elapsed().as_secs_f64());

    // The per-flow statistics of a few flows, largest first.
    let top = features
        .clone()
        .lazy()
        .sort(["packets"], SortMultipleOptions::default().with_order_descending(true))
        .select([
            col("src_ip"),
            col("dst_port"),
            col("label"),
            col("packets"),
            col("packet_length_biflow_mean"),
            col("packet_length_upstream_p90"),
            col("iat_downstream_p50"),
        ])
        .limit(5)
        .collect()?;
    println!("{top}");
    Ok(())
}
