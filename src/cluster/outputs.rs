//! The files of a clustering directory: `clusters.parquet`, `metrics.json`, the charts
//! and `report.md`. Their fields are specified in `formats/cluster.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde_json::json;

use super::Clustering;
use super::charts::{self, Line, Panel};
use crate::Error;

pub const CLUSTERS: &str = "clusters.parquet";
pub const METRICS: &str = "metrics.json";
pub const REPORT: &str = "report.md";
/// Chart file names without extension (each is written as .png and .svg).
pub const HEATMAP: &str = "cluster_by_class";
pub const PROJECTION: &str = "projection";
pub const SILHOUETTE: &str = "silhouette";

fn out_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Output { path: path.to_owned(), what: e.to_string() }
}

impl Clustering {
    /// One row per flow: `row`, the flow-identifying columns the input has, the label,
    /// `cluster`, `distance` to its centre, and `dbscan` (null outside DBSCAN's sample).
    pub fn clusters_frame(&self) -> Result<DataFrame, Error> {
        let mut columns = vec![Column::new("row".into(), (0..self.rows as u64).collect::<Vec<_>>())];
        columns.extend(self.identity.iter().cloned());
        columns.push(Column::new("cluster".into(), &self.labels));
        columns.push(Column::new("distance".into(), &self.distance));
        let mut dbscan: Vec<Option<i32>> = vec![None; self.rows];
        for (&r, &l) in self.dbscan.rows.iter().zip(&self.dbscan.labels) {
            dbscan[r] = Some(l);
        }
        columns.push(Column::new("dbscan".into(), dbscan));
        Ok(DataFrame::new(self.rows, columns)?)
    }

    /// The content of `metrics.json`.
    pub fn metrics_json(&self) -> serde_json::Value {
        let c = &self.config;
        json!({
            "format": "flowmine-clustering",
            "version": 1,
            "written_by": format!("flowmine {}", env!("CARGO_PKG_VERSION")),
            "inputs": c.inputs.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>(),
            "target": c.target,
            "seed": c.seed,
            "threads": self.threads,
            "rows": self.rows,
            "features": self.features,
            "standardisation": {"mean": self.mean, "scale": self.scale},
            "kmeans": {
                "k": self.k,
                "k_given": c.k.is_some(),
                "silhouette": self.silhouettes.iter().map(|(k, s)| json!({"k": k, "silhouette": s})).collect::<Vec<_>>(),
                "fit_rows": self.fit_rows,
                "inertia_on_fit_rows": self.kmeans.inertia,
                "iterations": self.kmeans.iterations,
                "sizes": self.sizes,
                "centres": self.kmeans.centres.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
                "scores": self.kmeans_scores,
            },
            "dbscan": {
                "rows": self.dbscan.rows.len(),
                "eps": self.dbscan.eps,
                "eps_given": c.eps.is_some(),
                "min_samples": self.dbscan.min_samples,
                "clusters": self.dbscan.clusters,
                "noise": self.dbscan.noise,
                "scores": self.dbscan_scores,
            },
            "classes": self.classes,
            "contingency": self.contingency,
            "pca_explained_ratio": self.explained_ratio,
            "seconds": self.seconds,
        })
    }

    /// Writes every output into `dir` (created; an existing non-empty directory needs
    /// `overwrite`). Returns the files written.
    pub fn write(&self, dir: &Path, overwrite: bool) -> Result<Vec<PathBuf>, Error> {
        if dir.exists() && !overwrite && std::fs::read_dir(dir).map_err(|e| out_err(dir, e))?.next().is_some() {
            return Err(Error::NotEmptyDir(dir.to_owned()));
        }
        std::fs::create_dir_all(dir).map_err(|e| out_err(dir, e))?;
        let mut written = Vec::new();
        let path = dir.join(CLUSTERS);
        let file = std::fs::File::create(&path).map_err(|e| out_err(&path, e))?;
        ParquetWriter::new(file).finish(&mut self.clusters_frame()?).map_err(|e| out_err(&path, e))?;
        written.push(path);
        let path = dir.join(METRICS);
        let metrics = serde_json::to_string_pretty(&self.metrics_json()).expect("plain data") + "\n";
        std::fs::write(&path, metrics).map_err(|e| out_err(&path, e))?;
        written.push(path);
        written.extend(self.charts(dir)?);
        let path = dir.join(REPORT);
        std::fs::write(&path, self.report()).map_err(|e| out_err(&path, e))?;
        written.push(path);
        Ok(written)
    }

    fn cluster_names(&self) -> Vec<String> {
        (0..self.k).map(|c| format!("cluster {c}")).collect()
    }

    fn charts(&self, dir: &Path) -> Result<Vec<PathBuf>, Error> {
        let mut written = Vec::new();
        if !self.classes.is_empty() {
            let title = format!("k-means clusters × {} ({} flows)", self.target_name(), self.rows);
            written.extend(charts::heatmap(
                &dir.join(HEATMAP),
                &title,
                ("cluster", &self.cluster_names()),
                (self.target_name(), &self.classes),
                &self.contingency,
            )?);
        }
        let points: Vec<(f64, f64)> =
            self.projection.outer_iter().map(|r| (r[0], r.get(1).copied().unwrap_or(0.0))).collect();
        let clusters = self.cluster_names();
        let by_cluster: Vec<usize> = self.plot_rows.iter().map(|&r| self.labels[r] as usize).collect();
        let title = format!("k-means, k = {}", self.k);
        let mut panels = vec![Panel { title: &title, groups: &clusters, group_of_point: &by_cluster }];
        let mut classes = self.classes.clone();
        let by_class: Vec<usize> = self
            .plot_rows
            .iter()
            .map(|&r| self.class_of_row.get(r).copied().flatten().map_or(self.classes.len(), |c| c as usize))
            .collect();
        if by_class.contains(&self.classes.len()) {
            classes.push("(no label)".to_owned());
        }
        let class_title = format!("by {}", self.target_name());
        if !self.classes.is_empty() {
            panels.push(Panel { title: &class_title, groups: &classes, group_of_point: &by_class });
        }
        let ratio = |i: usize| self.explained_ratio.get(i).copied().unwrap_or(0.0) * 100.0;
        let axes = (format!("PC1 ({:.1} % of variance)", ratio(0)), format!("PC2 ({:.1} %)", ratio(1)));
        written.extend(charts::scatter(&dir.join(PROJECTION), (&axes.0, &axes.1), &points, &panels)?);
        if !self.silhouettes.is_empty() {
            let line = Line {
                name: "mean silhouette",
                points: self.silhouettes.iter().map(|&(k, s)| (k as f64, s)).collect(),
                dashed: false,
            };
            written.extend(charts::line_chart(
                &dir.join(SILHOUETTE),
                "Silhouette of k-means against k",
                ("k", "mean silhouette"),
                &[line],
            )?);
        }
        Ok(written)
    }

    fn target_name(&self) -> &str {
        self.config.target.as_deref().unwrap_or("class")
    }

    /// `report.md`: what was clustered, how, and how the clusters match the labels.
    pub fn report(&self) -> String {
        let c = &self.config;
        let mut r = String::new();
        let _ = writeln!(r, "# Clustering\n");
        let inputs: Vec<String> = c.inputs.iter().map(|p| format!("`{}`", p.display())).collect();
        let _ = writeln!(
            r,
            "{} flows from {}; {} standardised features; seed {}, {} thread(s).\n",
            self.rows,
            inputs.join(", "),
            self.features.len(),
            c.seed,
            self.threads
        );
        let chosen = if c.k.is_some() {
            "given".to_owned()
        } else {
            format!("best silhouette in {}..={}", c.k_range.0, c.k_range.1)
        };
        let _ = writeln!(
            r,
            "## k-means\n\nk = {} ({chosen}); fitted on {} rows (k-means++ starts, Lloyd), every flow assigned to its nearest centre.\n",
            self.k, self.fit_rows
        );
        if !self.silhouettes.is_empty() {
            let _ = writeln!(r, "| k | silhouette |\n|---|---|");
            for (k, s) in &self.silhouettes {
                let _ = writeln!(r, "| {k} | {s:.3} |");
            }
            let _ = writeln!(r, "\n![silhouette]({SILHOUETTE}.svg)\n");
        }
        let _ = writeln!(r, "| cluster | flows |\n|---|---|");
        for (i, n) in self.sizes.iter().enumerate() {
            let _ = writeln!(r, "| {i} | {n} |");
        }
        let _ = writeln!(
            r,
            "\n## DBSCAN\n\n{} rows, eps {:.3}, min_samples {}: {} clusters, {} rows ({:.1} %) in no cluster.\n",
            self.dbscan.rows.len(),
            self.dbscan.eps,
            self.dbscan.min_samples,
            self.dbscan.clusters,
            self.dbscan.noise,
            100.0 * self.dbscan.noise as f64 / self.dbscan.rows.len().max(1) as f64
        );
        if let (Some(k), Some(d)) = (&self.kmeans_scores, &self.dbscan_scores) {
            let _ = writeln!(r, "## Against `{}`\n", self.target_name());
            let _ = writeln!(
                r,
                "| method | flows | ARI | NMI | homogeneity | completeness | purity |\n|---|---|---|---|---|---|---|"
            );
            for (name, s) in [("k-means", k), ("DBSCAN (noise as one cluster)", d)] {
                let _ = writeln!(
                    r,
                    "| {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
                    s.rows, s.adjusted_rand, s.normalized_mutual_info, s.homogeneity, s.completeness, s.purity
                );
            }
            let _ = writeln!(r, "\n![clusters by class]({HEATMAP}.svg)\n");
            let _ = writeln!(
                r,
                "Majority class of each k-means cluster:\n\n| cluster | flows | majority | share |\n|---|---|---|---|"
            );
            for (i, row) in self.contingency.iter().enumerate() {
                let total: u64 = row.iter().sum();
                let majority = row.iter().enumerate().max_by_key(|&(j, &m)| (m, std::cmp::Reverse(j)));
                if let Some((j, &m)) = majority
                    && total > 0
                {
                    let _ = writeln!(r, "| {i} | {total} | {} | {:.2} |", self.classes[j], m as f64 / total as f64);
                }
            }
            r.push('\n');
        }
        let _ = writeln!(
            r,
            "## Projection\n\n{} flows on the first two principal components ({:.1} % and {:.1} % of the variance).\n\n![projection]({PROJECTION}.svg)\n",
            self.plot_rows.len(),
            self.explained_ratio.first().copied().unwrap_or(0.0) * 100.0,
            self.explained_ratio.get(1).copied().unwrap_or(0.0) * 100.0
        );
        r
    }
}
