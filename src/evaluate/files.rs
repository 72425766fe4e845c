//! The names of the files of an evaluation directory, said once: `outputs` writes them
//! and `report` links them.

pub const METRICS: &str = "metrics.json";
pub const IMPORTANCE: &str = "importance.csv";
pub const ASSIGNMENTS: &str = "assignments.csv";
pub const REPORT: &str = "report.md";
pub const MODEL: &str = "model.json.zst";
/// Chart file names without extension (each is written as .png and .svg).
pub const IMPORTANCE_CHART: &str = "importance";
pub const IMPURITY_CHART: &str = "impurity_importance";
/// Features shown in the importance charts.
pub const CHART_FEATURES: usize = 20;

/// The confusion chart of a test set: `confusion-<name as a file name>`.
pub fn confusion_chart_name(test_set: &str) -> String {
    let mut slug = String::new();
    for c in test_set.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    format!("confusion-{}", slug.trim_matches('-'))
}
