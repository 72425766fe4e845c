//! MIRAGE-2019/2022 JSON (the public mobile-app traffic datasets): export of a flow store
//! in MIRAGE's layout and field names, and import of MIRAGE files into a flow store.
//! Format and mapping: `formats/mirage.md`.

pub mod export;
pub mod import;
pub mod json;
pub mod record;

pub use export::{ExportOptions, ExportSummary, Grouping, export_store};
pub use import::{ImportProgress, ImportSummary, Rejection, import_mirage};
