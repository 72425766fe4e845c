//! The files of an evaluation directory: `metrics.json`, `importance.csv`,
//! `assignments.csv`, the charts, `report.md` and the model. Their fields are specified in
//! `formats/evaluate.md`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::charts::{self, Series};
use super::importance::top;
use super::{Evaluation, report};
use crate::Error;

pub use super::files::{
    ASSIGNMENTS, CHART_FEATURES, IMPORTANCE, IMPORTANCE_CHART, IMPURITY_CHART, METRICS, MODEL, REPORT,
    confusion_chart_name,
};

/// A CSV field, quoted when it holds a separator, a quote or a line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

impl Evaluation {
    /// The permutation importance averaged over the test sets, per feature: the order of
    /// the importance chart.
    pub fn mean_permutation(&self) -> Vec<f64> {
        let sets = self.test_sets.len().max(1) as f64;
        (0..self.features.len())
            .map(|j| self.test_sets.iter().map(|t| t.permutation_mean[j]).sum::<f64>() / sets)
            .collect()
    }

    /// The content of `metrics.json`.
    pub fn metrics_json(&self) -> serde_json::Value {
        let c = &self.config;
        let mut split = serde_json::to_value(&c.split).expect("plain data");
        split["description"] = json!(c.split.describe());
        let max_features_used = c.forest.features_per_split(self.features.len());
        let test_sets: Vec<serde_json::Value> = self
            .test_sets
            .iter()
            .map(|t| {
                let mut v = serde_json::to_value(&t.metrics).expect("plain data");
                v["name"] = json!(t.name);
                v["fold_accuracy"] = json!(t.fold_accuracy);
                v
            })
            .collect();
        json!({
            "format": "flowmine-evaluation",
            "version": 1,
            "written_by": format!("flowmine {}", env!("CARGO_PKG_VERSION")),
            "inputs": c.inputs.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>(),
            "target": c.target,
            "seed": c.seed,
            "split": split,
            "forest": {
                "implementation": "flowmine-forest: scikit-learn's RandomForestClassifier (CART, Gini, bootstrap weights, features drawn per split, mean of leaf class shares)",
                "trees": c.forest.trees,
                "max_depth": c.forest.max_depth,
                "min_samples_leaf": c.forest.min_samples_leaf,
                "max_features": c.forest.max_features,
                "max_features_used": max_features_used,
            },
            "balance": c.balance,
            "min_class_rows": c.min_class_rows,
            "permutation_repeats": c.permutation_repeats,
            "threads": self.threads,
            "data": {
                "rows_read": self.data.rows_read,
                "rows_without_target": self.data.rows_without_target,
                "rows_in_small_classes": self.data.rows_in_small_classes,
                "rows_used": self.data.rows_used,
                "classes": self.data.classes.iter().map(|(c, n)| json!({"class": c, "rows": n})).collect::<Vec<_>>(),
                "classes_left_out": self.data.classes_left_out.iter().map(|(c, n)| json!({"class": c, "rows": n})).collect::<Vec<_>>(),
            },
            "features": self.features,
            "training": {
                "seconds": self.training_seconds,
                "rows": self.training_rows,
                "final_model_seconds": self.final_training_seconds,
            },
            "test_sets": test_sets,
        })
    }

    /// `importance.csv`: one line per feature and importance (impurity, then the
    /// permutation importance of each test set), ranked within each.
    pub fn importance_csv(&self) -> String {
        let mut out = String::from("feature,method,test_set,importance,std,rank\n");
        let block = |out: &mut String, method: &str, set: &str, values: &[f64], spread: Option<&[f64]>| {
            for (rank, j) in top(values, values.len()).into_iter().enumerate() {
                let std = spread.map_or(String::new(), |s| s[j].to_string());
                let (feature, set) = (csv_field(&self.features[j]), csv_field(set));
                *out += &format!("{feature},{method},{set},{},{std},{}\n", values[j], rank + 1);
            }
        };
        block(&mut out, "impurity", "", &self.impurity, None);
        for t in &self.test_sets {
            block(&mut out, "permutation", &t.name, &t.permutation_mean, Some(&t.permutation_std));
        }
        out
    }

    /// `assignments.csv`: where each row went in each fold.
    pub fn assignments_csv(&self) -> String {
        let mut out = String::from("row,fold,set,train_copies,class\n");
        for a in &self.assignments {
            out += &format!("{},{},{},{},{}\n", a.row, a.fold, csv_field(&a.set), a.train_copies, csv_field(&a.class));
        }
        out
    }

    /// Writes every output into `dir` (created; an existing non-empty directory needs
    /// `overwrite`). Returns the files written.
    pub fn write(&self, dir: &Path, overwrite: bool) -> Result<Vec<PathBuf>, Error> {
        let out_err =
            |path: &Path, e: &dyn std::fmt::Display| Error::Output { path: path.to_owned(), what: e.to_string() };
        if dir.exists() && !overwrite && std::fs::read_dir(dir).map_err(|e| out_err(dir, &e))?.next().is_some() {
            return Err(Error::NotEmptyDir(dir.to_owned()));
        }
        std::fs::create_dir_all(dir).map_err(|e| out_err(dir, &e))?;
        let mut written = Vec::new();
        let mut text_file = |name: &str, content: &str| -> Result<(), Error> {
            let path = dir.join(name);
            std::fs::File::create(&path)
                .and_then(|mut f| f.write_all(content.as_bytes()))
                .map_err(|e| out_err(&path, &e))?;
            written.push(path);
            Ok(())
        };
        let metrics = serde_json::to_string_pretty(&self.metrics_json()).expect("plain data") + "\n";
        text_file(METRICS, &metrics)?;
        text_file(IMPORTANCE, &self.importance_csv())?;
        text_file(ASSIGNMENTS, &self.assignments_csv())?;
        let order = top(&self.mean_permutation(), CHART_FEATURES);
        let names: Vec<String> = order.iter().map(|&j| self.features[j].clone()).collect();
        // The paper's Figure 1: every test set's bars side by side, its scores in the legend.
        let legends: Vec<String> = self
            .test_sets
            .iter()
            .map(|t| {
                let m = &t.metrics;
                format!("{} ({} flows): accuracy {:.3}, macro F1 {:.3}", t.name, m.rows, m.accuracy, m.macro_f1)
            })
            .collect();
        let series: Vec<Series> = self
            .test_sets
            .iter()
            .zip(&legends)
            .map(|(t, legend)| Series {
                name: legend,
                values: order.iter().map(|&j| t.permutation_mean[j]).collect(),
                spread: Some(order.iter().map(|&j| t.permutation_std[j]).collect()),
            })
            .collect();
        let title = format!("Permutation importance, top {} features ({})", names.len(), self.config.target);
        let x = "mean drop in accuracy when the feature is shuffled (± std over shuffles)";
        let mut charts = charts::bar_chart(&dir.join(IMPORTANCE_CHART), &title, x, &names, &series)?;
        let order = top(&self.impurity, CHART_FEATURES);
        let names: Vec<String> = order.iter().map(|&j| self.features[j].clone()).collect();
        let series = [Series { name: "", values: order.iter().map(|&j| self.impurity[j]).collect(), spread: None }];
        let title = format!("Impurity importance (mean decrease in Gini), top {} features", names.len());
        let x = "share of the total impurity decrease, training rows";
        charts.extend(charts::bar_chart(&dir.join(IMPURITY_CHART), &title, x, &names, &series)?);
        for t in &self.test_sets {
            let title =
                format!("Confusion matrix: {} ({} rows, accuracy {:.3})", t.name, t.metrics.rows, t.metrics.accuracy);
            let base = dir.join(confusion_chart_name(&t.name));
            charts.extend(charts::confusion_chart(&base, &title, &t.metrics.labels, &t.metrics.confusion)?);
        }
        written.extend(charts);
        let report_path = dir.join(REPORT);
        std::fs::write(&report_path, report::markdown(self)).map_err(|e| out_err(&report_path, &e))?;
        written.push(report_path);
        let model_path = dir.join(MODEL);
        self.model.save(&model_path)?;
        written.push(model_path);
        Ok(written)
    }
}
