//! flowmine's engine: capture files in, exact bi-directional flows out.
//!
//! The data walks one way: [`capture`] (memory-mapped pcap/pcapng, record views) →
//! [`wire`] (zero-copy header views, decoding to packet facts) → [`flow`] (canonical keys,
//! flow tables, ended flows in columns) → [`scan`] (a whole run, with every packet either
//! in a flow or in a named [`skip`] counter). No module imports a later one, and no two
//! modules import each other.
//!
//! Beneath them all sit leaves: [`error`] (the one error type), [`skip`], [`codec`] (the cursors run states are
//! written with, each type's encoding beside the type), [`threads`] (the thread policy)
//! and [`walk`] (files below a directory). Between flow and scan: [`file_report`] (what happened to one input),
//! [`checkpoint`] (a run's state) and [`pieces`] (one file decoded on several threads).
//! [`slice`] (header-only copies of captures) and [`label`] stand beside the pipeline:
//! slice uses capture and wire, label capture, wire and flow.
//!
//! This crate has no Polars dependency, so it builds in seconds; the `flowmine` crate adds
//! the Parquet store, DataFrames and the command line.

pub mod capture;
pub mod checkpoint;
pub mod codec;
pub mod error;
pub mod file_report;
pub mod flow;
pub mod handoff;
pub mod label;
pub mod pieces;
pub mod scan;
pub mod skip;
pub mod slice;
pub mod threads;
pub mod walk;
pub mod wire;

pub use capture::input::{InputFile, InputSet, collect as collect_inputs};
pub use error::{Error, Result};
pub use flow::{EndReason, FlowBatch, FlowConfig, PacketLimit};
pub use scan::{FileReport, Progress, ScanOptions, ScanReport, scan};
pub use skip::{SkipCounts, SkipReason};
