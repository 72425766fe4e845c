//! The saved model (`model.json.zst`): what `flowmine predict` needs to label new flows —
//! the feature columns in order, the class names, the trees — as zstd-compressed JSON
//! with a format name and version checked on load. Format: `formats/evaluate.md`.

use std::io::{Read, Write};
use std::path::Path;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::EvaluateError;
use super::forest::{Forest, ForestParams, most_votes};
use super::matrix::feature_matrix;

/// The `format` field of every model file.
pub const FORMAT: &str = "flowmine-random-forest";
/// The version of the model file layout this flowmine writes and reads. It changes when
/// the fields change or when the trees' form does. Version 1 held smartcore's trees.
pub const VERSION: u32 = 2;
/// What grew the `forest.trees` (formats/evaluate.md).
pub const TREES_FROM: &str = "flowmine-forest CART";

/// A trained forest with what it takes to apply it to a features table.
#[derive(Debug, Serialize, Deserialize)]
pub struct Model {
    /// The column the model predicts.
    pub target: String,
    /// Feature columns, in the order the trees index them.
    pub features: Vec<String>,
    /// Class names; the trees vote by index into this list.
    pub classes: Vec<String>,
    pub params: ForestParams,
    pub seed: u64,
    /// Rows the forest was trained on (after balancing).
    pub training_rows: u64,
    pub forest: Forest,
}

#[derive(Serialize)]
struct Saved<'a> {
    format: &'static str,
    version: u32,
    trees_from: &'static str,
    written_by: String,
    #[serde(flatten)]
    model: &'a Model,
}

#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    version: Option<u32>,
}

/// Labels predicted for the rows of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// The predicted class of every row.
    pub classes: Vec<String>,
    /// The share of the trees that voted for it.
    pub vote_share: Vec<f64>,
}

impl Model {
    /// Writes the model to `path` (complete or not at all: a temporary file is renamed).
    pub fn save(&self, path: &Path) -> Result<(), EvaluateError> {
        let io = |e: std::io::Error| EvaluateError::Output { path: path.to_owned(), message: e.to_string() };
        let saved = Saved {
            format: FORMAT,
            version: VERSION,
            trees_from: TREES_FROM,
            written_by: format!("flowmine {}", env!("CARGO_PKG_VERSION")),
            model: self,
        };
        let tmp = path.with_extension("zst.tmp");
        let file = std::fs::File::create(&tmp).map_err(io)?;
        let mut encoder = zstd::Encoder::new(std::io::BufWriter::new(file), 3).map_err(io)?;
        serde_json::to_writer(&mut encoder, &saved)
            .map_err(|e| EvaluateError::Output { path: path.to_owned(), message: e.to_string() })?;
        encoder.finish().map_err(io)?.flush().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads a model written by [`Model::save`], refusing other files and other versions.
    pub fn load(path: &Path) -> Result<Model, EvaluateError> {
        let bad = |message: String| EvaluateError::Input { path: path.to_owned(), message };
        let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
        let mut text = Vec::new();
        zstd::Decoder::new(file)
            .and_then(|mut d| d.read_to_end(&mut text))
            .map_err(|e| bad(format!("not a flowmine model (zstd-compressed JSON expected): {e}")))?;
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| bad(format!("not a flowmine model: {e}")))?;
        let header: Header = serde_json::from_value(value.clone()).map_err(|e| bad(e.to_string()))?;
        if header.format.as_deref() != Some(FORMAT) {
            return Err(bad(format!("not a flowmine model (format is {:?}, not {FORMAT:?})", header.format)));
        }
        if header.version != Some(VERSION) {
            return Err(bad(format!(
                "model file version {:?}; this flowmine reads version {VERSION} (train the model again)",
                header.version
            )));
        }
        let model: Model = serde_json::from_value(value).map_err(|e| bad(format!("damaged model: {e}")))?;
        let forest = &model.forest;
        if forest.features != model.features.len() || forest.classes != model.classes.len() || forest.trees.is_empty() {
            return Err(bad("damaged model: its feature, class and tree counts disagree".to_owned()));
        }
        forest.check().map_err(|e| bad(format!("damaged model: {e}")))?;
        Ok(model)
    }

    /// The predicted class of every row of `table`, which must have the model's feature
    /// columns (any other column is ignored).
    pub fn predict_table(&self, table: &DataFrame) -> Result<Predictions, EvaluateError> {
        let missing: Vec<&str> =
            self.features.iter().filter(|f| table.column(f).is_err()).map(String::as_str).collect();
        if !missing.is_empty() {
            return Err(EvaluateError::Config(format!(
                "the table lacks the model's feature column(s) {}",
                missing.join(", ")
            )));
        }
        let rows = table.height();
        if rows == 0 {
            return Ok(Predictions { classes: Vec::new(), vote_share: Vec::new() });
        }
        let x = feature_matrix(table, &self.features, None)?;
        let votes = self.forest.votes(x.view()).map_err(EvaluateError::Model)?;
        let trees = self.forest.trees.len() as f64;
        let (mut classes, mut vote_share) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
        for row_votes in votes.chunks(self.classes.len()) {
            let best = most_votes(row_votes) as usize;
            classes.push(self.classes[best].clone());
            vote_share.push(f64::from(row_votes[best]) / trees);
        }
        Ok(Predictions { classes, vote_share })
    }

    /// The rows of `table` with their predicted class: `row` (position in the table), the
    /// columns that identify the flow (those present of [`IDENTITY`]), the `label` when
    /// the table has one, then `predicted` and `vote_share`.
    pub fn predictions_frame(&self, table: &DataFrame) -> Result<DataFrame, EvaluateError> {
        let predictions = self.predict_table(table)?;
        let mut columns = vec![Column::new("row".into(), (0..table.height() as u64).collect::<Vec<_>>())];
        for name in IDENTITY.iter().chain(["label"].iter()) {
            if let Ok(column) = table.column(name) {
                columns.push(column.clone());
            }
        }
        columns.push(Column::new("predicted".into(), predictions.classes));
        columns.push(Column::new("vote_share".into(), predictions.vote_share));
        Ok(DataFrame::new(table.height(), columns)?)
    }
}

/// Columns that identify a flow in a predictions table, as far as the input has them.
pub const IDENTITY: [&str; 10] =
    ["capture_file", "first_ts_ns", "protocol", "src_ip", "src_port", "dst_ip", "dst_port", "device", "session", "day"];
