//! The saved model (`model.json.zst`): what `flowmine predict` needs to label new flows —
//! the feature columns in order, the class names, the trees — as zstd-compressed JSON
//! with a format name and version checked on load. Format: `formats/evaluate.md`.

use std::io::{Read, Write};
use std::path::Path;

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::forest::{Forest, ForestParams, most_likely};
use super::matrix::feature_matrix;
use crate::Error;
use crate::store::schema;

/// The `format` field of every model file.
pub const FORMAT: &str = "flowmine-random-forest";
/// The version of the model file layout this flowmine writes and reads. It changes when
/// the fields change or when the trees' form does. Version 1 held smartcore's trees,
/// version 2 trees that voted with their leaves' majority class.
pub const VERSION: u32 = 3;
/// What grew the `forest.trees` (formats/evaluate.md).
pub const TREES_FROM: &str = "flowmine-forest CART";

/// A trained forest with what it takes to apply it to a features table.
#[derive(Debug, Serialize, Deserialize)]
pub struct Model {
    /// The column the model predicts.
    pub target: String,
    /// Feature columns, in the order the trees index them.
    pub features: Vec<String>,
    /// Class names; the trees predict indices into this list.
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
    /// Its probability: the mean over the trees of its share in the leaf the row ends in
    /// (scikit-learn's `predict_proba`).
    pub probability: Vec<f64>,
}

impl Model {
    /// Writes the model to `path` (complete or not at all: a temporary file is renamed).
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let io = |e: std::io::Error| Error::Output { path: path.to_owned(), what: e.to_string() };
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
            .map_err(|e| Error::Output { path: path.to_owned(), what: e.to_string() })?;
        encoder.finish().map_err(io)?.flush().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads a model written by [`Model::save`], refusing other files and other versions.
    pub fn load(path: &Path) -> Result<Model, Error> {
        let bad = |message: String| Error::Input { path: path.to_owned(), what: message };
        let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
        let mut text = Vec::new();
        zstd::Decoder::new(file)
            .and_then(|mut d| d.read_to_end(&mut text))
            .map_err(|e| bad(format!("not a flowmine model (zstd-compressed JSON expected): {e}")))?;
        // Two passes over the text, not a JSON value tree: a model of 100 deep trees holds
        // millions of nodes. The first reads only the header (skipping the rest).
        let header: Header = serde_json::from_slice(&text).map_err(|e| bad(format!("not a flowmine model: {e}")))?;
        if header.format.as_deref() != Some(FORMAT) {
            return Err(bad(format!("not a flowmine model (format is {:?}, not {FORMAT:?})", header.format)));
        }
        if header.version != Some(VERSION) {
            let version = header.version.map_or("missing".to_owned(), |v| v.to_string());
            return Err(bad(format!(
                "model file version {version}; this flowmine reads version {VERSION} (train the model again)"
            )));
        }
        let model: Model = serde_json::from_slice(&text).map_err(|e| bad(format!("damaged model: {e}")))?;
        let forest = &model.forest;
        if forest.features != model.features.len() || forest.classes != model.classes.len() || forest.trees.is_empty() {
            return Err(bad("damaged model: its feature, class and tree counts disagree".to_owned()));
        }
        forest.check().map_err(|e| bad(format!("damaged model: {e}")))?;
        Ok(model)
    }

    /// The predicted class of every row of `table`, which must have the model's feature
    /// columns (any other column is ignored).
    pub fn predict_table(&self, table: &DataFrame) -> Result<Predictions, Error> {
        let missing: Vec<&str> =
            self.features.iter().filter(|f| table.column(f).is_err()).map(String::as_str).collect();
        if !missing.is_empty() {
            return Err(Error::Config(format!("the table lacks the model's feature column(s) {}", missing.join(", "))));
        }
        let rows = table.height();
        if rows == 0 {
            return Ok(Predictions { classes: Vec::new(), probability: Vec::new() });
        }
        let x = feature_matrix(table, &self.features, None)?;
        let proba = self.forest.predict_proba(x.view())?;
        let (mut classes, mut probability) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
        for shares in proba.rows() {
            let best = most_likely(shares.as_slice().expect("standard layout")) as usize;
            classes.push(self.classes[best].clone());
            probability.push(shares[best]);
        }
        Ok(Predictions { classes, probability })
    }

    /// The rows of `table` with their predicted class: `row` (position in the table), the
    /// columns that identify the flow (those present of [`IDENTITY`]), the `label` when
    /// the table has one, then `predicted` and its `probability`.
    pub fn predictions_frame(&self, table: &DataFrame) -> Result<DataFrame, Error> {
        let predictions = self.predict_table(table)?;
        let mut columns = vec![Column::new("row".into(), (0..table.height() as u64).collect::<Vec<_>>())];
        for name in IDENTITY.iter().chain([schema::LABEL].iter()) {
            if let Ok(column) = table.column(name) {
                columns.push(column.clone());
            }
        }
        columns.push(Column::new("predicted".into(), predictions.classes));
        columns.push(Column::new("probability".into(), predictions.probability));
        Ok(DataFrame::new(table.height(), columns)?)
    }
}

/// Columns that identify a flow in a predictions table, as far as the input has them.
pub const IDENTITY: [&str; 10] = [
    schema::CAPTURE_FILE,
    schema::FIRST_TS_NS,
    schema::PROTOCOL,
    schema::SRC_IP,
    schema::SRC_PORT,
    schema::DST_IP,
    schema::DST_PORT,
    schema::DEVICE,
    schema::SESSION,
    "day",
];
