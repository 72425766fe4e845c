//! `report.md`: a short account of an experiment that links its charts, for a lab
//! notebook or a paper draft.

use std::fmt::Write;

use super::Evaluation;
use super::files::{ASSIGNMENTS, IMPORTANCE, IMPORTANCE_CHART, IMPURITY_CHART, METRICS, MODEL, confusion_chart_name};
use super::importance::top;

/// The report's Markdown.
pub fn markdown(e: &Evaluation) -> String {
    let c = &e.config;
    let mut md = String::new();
    let _ = writeln!(md, "# Random forest: `{}`\n", c.target);
    let inputs: Vec<String> = c.inputs.iter().map(|p| format!("`{}`", p.display())).collect();
    let _ = writeln!(
        md,
        "{} flows read from {}; {} used in {} classes ({} without a `{}`, {} in classes of fewer than {} flows left out).\n",
        e.data.rows_read,
        inputs.join(", "),
        e.data.rows_used,
        e.data.classes.len(),
        e.data.rows_without_target,
        c.target,
        e.data.rows_in_small_classes,
        c.min_class_rows,
    );
    let depth = c.forest.max_depth.map_or("unlimited".to_owned(), |d| d.to_string());
    let _ = writeln!(
        md,
        "Split: {}. Forest: {} trees, max depth {depth}, {} features, seed {}, balance `{}`. \
         Training took {:.2} s on {} thread(s).\n",
        c.split.describe(),
        c.forest.trees,
        e.features.len(),
        c.seed,
        serde_json::to_value(c.balance).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        e.training_seconds.iter().sum::<f64>(),
        e.threads,
    );
    let _ = writeln!(md, "## Scores\n");
    let _ = writeln!(md, "| test set | flows | accuracy | macro F1 | weighted F1 |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    for t in &e.test_sets {
        let m = &t.metrics;
        let _ =
            writeln!(md, "| {} | {} | {:.3} | {:.3} | {:.3} |", t.name, m.rows, m.accuracy, m.macro_f1, m.weighted_f1);
    }
    let _ = writeln!(md, "\nPer-class precision, recall and F1 are in [`{METRICS}`]({METRICS}).\n");
    let _ = writeln!(md, "## Feature importance\n");
    let _ = writeln!(
        md,
        "Permutation importance: the drop in accuracy on each test set when one feature is shuffled \
         ({} shuffles). It is measured on flows the model did not train on.\n",
        c.permutation_repeats
    );
    let _ = writeln!(md, "![permutation importance]({IMPORTANCE_CHART}.png)\n\n([SVG]({IMPORTANCE_CHART}.svg))\n");
    let mean = e.mean_permutation();
    let _ = writeln!(
        md,
        "| rank | feature | mean drop | {} |",
        e.test_sets.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(" | ")
    );
    let _ = writeln!(md, "|---:|---|---:|{}", "---:|".repeat(e.test_sets.len()));
    for (rank, j) in top(&mean, 10).into_iter().enumerate() {
        let per_set: Vec<String> = e.test_sets.iter().map(|t| format!("{:.4}", t.permutation_mean[j])).collect();
        let _ = writeln!(md, "| {} | `{}` | {:.4} | {} |", rank + 1, e.features[j], mean[j], per_set.join(" | "));
    }
    let _ = writeln!(
        md,
        "\nImpurity importance (mean decrease in Gini over the training rows, as scikit-learn's \
         `feature_importances_`; it favours features with many distinct values):\n\n\
         ![impurity importance]({IMPURITY_CHART}.png)\n\n([SVG]({IMPURITY_CHART}.svg))\n"
    );
    let _ = writeln!(md, "## Confusion matrices\n");
    for t in &e.test_sets {
        let name = confusion_chart_name(&t.name);
        let _ = writeln!(md, "### {}\n\n![confusion matrix, {}]({name}.png)\n\n([SVG]({name}.svg))\n", t.name, t.name);
    }
    let _ = writeln!(
        md,
        "## Files\n\n- [`{METRICS}`]({METRICS}): scores, split and parameters\n- [`{IMPORTANCE}`]({IMPORTANCE}): \
         every feature's importances\n- [`{ASSIGNMENTS}`]({ASSIGNMENTS}): which rows trained and which tested\n- \
         `{MODEL}`: the model, for `flowmine predict {MODEL} FEATURES`"
    );
    md
}
