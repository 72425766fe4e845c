//! Which columns of the features table the model sees: glob patterns over column names,
//! and the default set (every numeric per-flow feature, nothing that names the flow, the
//! capture or the class).

use polars::prelude::*;

use crate::features::table::{LABEL_PASSTHROUGH, PASSTHROUGH, PASSTHROUGH_FEATURES};
use crate::{Error, Result};

/// Columns that identify a flow, its capture or its label rather than describe its
/// traffic: a model that used them would learn the capture, not the app. Never features
/// by default; a `--features` pattern can still name them. These are the features table's
/// key, label and provenance columns, the label-session columns, whether the per-packet
/// arrays were complete, and the columns derived when the table is loaded (dataset.rs).
pub fn is_identifying(name: &str) -> bool {
    const ALSO: [&str; 4] = ["pkt_arrays_complete", "capture", "capture_dir", "day"];
    (PASSTHROUGH.contains(&name) && !PASSTHROUGH_FEATURES.contains(&name))
        || LABEL_PASSTHROUGH.contains(&name)
        || ALSO.contains(&name)
}

/// Does `name` match the glob `pattern`? `*` matches any run of characters (also none),
/// `?` exactly one; everything else matches itself.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative matching with backtracking to the last `*` only: linear in practice.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn is_numeric_feature(dtype: &DataType) -> bool {
    dtype.is_primitive_numeric() || dtype == &DataType::Boolean
}

/// The feature columns for `patterns` in the table's column order. No pattern: every
/// numeric or boolean column that is not [identifying](is_identifying) and not in `exclude` (the target
/// and the split column). Patterns starting with `!` remove what earlier ones added;
/// a list of only `!` patterns starts from the default set. A pattern that matches
/// nothing, or a match that is not numeric, is an error.
pub fn select_features(schema: &Schema, patterns: &[String], exclude: &[&str]) -> Result<Vec<String>> {
    let names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
    let default = || -> Vec<bool> {
        schema
            .iter()
            .map(|(name, dtype)| {
                is_numeric_feature(dtype) && !is_identifying(name) && !exclude.contains(&name.as_str())
            })
            .collect()
    };
    let mut chosen = if patterns.iter().all(|p| p.starts_with('!')) { default() } else { vec![false; names.len()] };
    for pattern in patterns {
        let (remove, glob) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern.as_str()),
        };
        let mut matched = false;
        for (i, name) in names.iter().enumerate() {
            if glob_match(glob, name) {
                matched = true;
                chosen[i] = !remove;
            }
        }
        if !matched {
            return Err(Error::setting("features", format!("`{pattern}`"), "matches no column of the features table"));
        }
    }
    let mut features = Vec::new();
    for (i, (name, dtype)) in schema.iter().enumerate() {
        if !chosen[i] {
            continue;
        }
        if !is_numeric_feature(dtype) {
            return Err(Error::Config(format!("column `{name}` is {dtype}, not a number: it cannot be a feature")));
        }
        if exclude.contains(&name.as_str()) {
            let what = format!("column `{name}` is the target or the split column: it cannot be a feature");
            return Err(Error::Config(what));
        }
        features.push(name.to_string());
    }
    if features.is_empty() {
        return Err(Error::Config("no feature columns selected".to_owned()));
    }
    Ok(features)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_labels_and_provenance_are_not_features() {
        for name in ["src_ip", "dst_port", "first_ts_ns", "capture_file", "label", "device", "day", "capture"] {
            assert!(is_identifying(name), "{name}");
        }
        for name in ["protocol", "fwd_packets", "bwd_bytes", "packet_length_upstream_min", "duration_s"] {
            assert!(!is_identifying(name), "{name}");
        }
    }

    #[test]
    fn globs_match_like_a_shell() {
        assert!(glob_match("iat_*_p90", "iat_upstream_p90"));
        assert!(glob_match("*", ""));
        assert!(glob_match("tcp_???_count", "tcp_syn_count"));
        assert!(!glob_match("tcp_???_count", "tcp_sy_count"));
        assert!(glob_match("*_payload_*", "fwd_payload_bytes"));
        assert!(!glob_match("packet_length_*", "iat_biflow_mean"));
        assert!(glob_match("a*b*c", "aXXbYYbc"));
        assert!(!glob_match("a*b*c", "aXXbYYbd"));
    }

    fn schema() -> Schema {
        Schema::from_iter([
            Field::new("src_port".into(), DataType::UInt16),
            Field::new("label".into(), DataType::String),
            Field::new("packets".into(), DataType::UInt64),
            Field::new("fwd_payload_bytes".into(), DataType::UInt64),
            Field::new("iat_biflow_mean".into(), DataType::Float64),
            Field::new("pkt_arrays_complete".into(), DataType::Boolean),
            Field::new("seq_size".into(), DataType::List(Box::new(DataType::UInt32))),
            Field::new("score".into(), DataType::Float64),
        ])
    }

    #[test]
    fn default_set_leaves_out_identity_lists_and_the_target() {
        let s = schema();
        assert_eq!(select_features(&s, &[], &["score"]).unwrap(), ["packets", "fwd_payload_bytes", "iat_biflow_mean"]);
        let only = select_features(&s, &["*payload*".into(), "iat_*".into()], &[]).unwrap();
        assert_eq!(only, ["fwd_payload_bytes", "iat_biflow_mean"]);
        let without = select_features(&s, &["!iat_*".into()], &["score"]).unwrap();
        assert_eq!(without, ["packets", "fwd_payload_bytes"]);
        // Named explicitly, an identity column is allowed.
        assert_eq!(select_features(&s, &["src_port".into()], &[]).unwrap(), ["src_port"]);
    }

    #[test]
    fn bad_patterns_are_errors_that_name_them() {
        let s = schema();
        assert!(select_features(&s, &["nope*".into()], &[]).unwrap_err().to_string().contains("nope*"));
        assert!(select_features(&s, &["seq_*".into()], &[]).unwrap_err().to_string().contains("seq_size"));
        assert!(select_features(&s, &["score".into()], &["score"]).unwrap_err().to_string().contains("target"));
    }
}
