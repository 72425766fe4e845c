//! The table an experiment reads (features files and flow stores, one after the other),
//! the columns derived for labelling and grouping by capture or day, and the numbers the
//! forest is trained on.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::Error;
use crate::features::{FeatureOptions, read_features};
use crate::store::schema;

/// Derived columns: name, what it is computed from, what it holds.
pub const DERIVED: [(&str, &str, &str); 3] = [
    ("capture", schema::CAPTURE_FILE, "the capture's file name without its extension"),
    ("capture_dir", schema::CAPTURE_FILE, "the name of the directory holding the capture (MIRAGE-2019: the device)"),
    ("day", schema::FIRST_TS_NS, "the UTC date of the flow's first packet, YYYY-MM-DD"),
];

fn input_error(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Input { path: path.to_owned(), what: message.to_string() }
}

/// One input as a table: a directory is a flow store (its features are computed, addresses
/// pseudonymised under a key of this run), a file is a features table by extension.
pub fn read_input(path: &Path) -> Result<DataFrame, Error> {
    if path.is_dir() {
        let anonymiser = crate::features::Anonymiser::random().map_err(|e| input_error(path, e))?;
        // The store's errors name it (and the file) already.
        return read_features(path, &FeatureOptions::new(Some(anonymiser)));
    }
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
    let open = || std::fs::File::open(path).map_err(|e| input_error(path, e));
    let read = match ext.as_str() {
        "parquet" => ParquetReader::new(open()?).finish(),
        "arrow" | "ipc" | "feather" => IpcReader::new(open()?).finish(),
        "csv" => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(None)
            .try_into_reader_with_file_path(Some(path.to_owned()))
            .and_then(|r| r.finish()),
        _ => {
            return Err(input_error(
                path,
                "not a flow store directory nor a features file (.parquet, .arrow, .ipc, .csv)",
            ));
        }
    };
    read.map_err(|e| input_error(path, e))
}

/// Every input's rows, in input order, under the union of their columns (a column
/// missing from one input is null in its rows; list columns left out), with the derived
/// columns added.
pub fn read_table(inputs: &[PathBuf]) -> Result<DataFrame, Error> {
    let mut tables = Vec::with_capacity(inputs.len());
    for path in inputs {
        tables.push((path, read_input(path)?));
    }
    // Per-packet list columns (`seq_*`) are never features, targets or groups, and a CSV
    // holds them as text: a name that is a list in any input is left out of all of them.
    let lists: Vec<PlSmallStr> = tables
        .iter()
        .flat_map(|(_, t)| t.schema().iter().filter(|(_, d)| d.is_nested()).map(|(n, _)| n.clone()).collect::<Vec<_>>())
        .collect();
    let mut schema = Schema::default();
    for (_, table) in &tables {
        for (name, dtype) in table.schema().iter() {
            if !schema.contains(name) && !lists.contains(name) {
                schema.insert(name.clone(), dtype.clone());
            }
        }
    }
    let mut all: Option<DataFrame> = None;
    for (path, table) in tables {
        let height = table.height();
        let mut columns = Vec::with_capacity(schema.len());
        for (name, dtype) in schema.iter() {
            let column = match table.column(name) {
                Ok(c) if c.dtype() == dtype => c.clone(),
                Ok(c) => c.strict_cast(dtype).map_err(|_| {
                    input_error(path, format!("column `{name}` is {} here but {dtype} in an earlier input", c.dtype()))
                })?,
                Err(_) => Column::full_null(name.clone(), height, dtype),
            };
            columns.push(column);
        }
        let table = DataFrame::new(height, columns).map_err(|e| input_error(path, e))?;
        match &mut all {
            None => all = Some(table),
            Some(acc) => {
                acc.vstack_mut_owned(table).map_err(|e| input_error(path, e))?;
            }
        }
    }
    let mut table = all.ok_or_else(|| Error::Config("no inputs".to_owned()))?;
    table.rechunk_mut();
    add_derived(&mut table)?;
    Ok(table)
}

/// The civil date (proleptic Gregorian, UTC) of `days` since 1970-01-01, as YYYY-MM-DD
/// (H. Hinnant's `civil_from_days`).
pub fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn add_derived(table: &mut DataFrame) -> Result<(), Error> {
    let schema = table.schema().clone();
    if schema.contains(schema::CAPTURE_FILE) {
        let paths: Vec<Option<String>> = table
            .column(schema::CAPTURE_FILE)?
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|p| p.map(str::to_owned))
            .collect();
        for (name, part) in [("capture", 0), ("capture_dir", 1)] {
            if schema.contains(name) {
                continue;
            }
            let values: Vec<Option<String>> = paths
                .iter()
                .map(|p| {
                    let path = Path::new(p.as_deref()?);
                    let part = if part == 0 { path.file_stem() } else { path.parent()?.file_name() };
                    Some(part?.to_string_lossy().into_owned())
                })
                .collect();
            table.with_column(Column::new(name.into(), values))?;
        }
    }
    if schema.contains(schema::FIRST_TS_NS) && !schema.contains("day") {
        const NS_PER_DAY: i64 = 86_400 * 1_000_000_000;
        let ts = table.column(schema::FIRST_TS_NS)?.cast(&DataType::Int64)?;
        let days: Vec<Option<String>> =
            ts.i64()?.iter().map(|t| t.map(|t| civil_date(t.div_euclid(NS_PER_DAY)))).collect();
        table.with_column(Column::new("day".into(), days))?;
    }
    Ok(())
}

/// The text of a column, one entry per row (null stays `None`), for targets and groups.
pub fn text_column(table: &DataFrame, name: &str) -> Result<Vec<Option<String>>, Error> {
    let column = table.column(name).map_err(|_| {
        let names: Vec<&str> = table.get_column_names().into_iter().map(|n| n.as_str()).collect();
        let close = close_names(name, &names);
        let hint = if close.is_empty() {
            format!("none of its {} columns is close", names.len())
        } else {
            format!("did you mean {}?", close.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))
        };
        Error::Config(format!("no column `{name}` in the features table ({hint})"))
    })?;
    let text = column.cast(&DataType::String)?;
    Ok(text.str()?.iter().map(|v| v.map(str::to_owned)).collect())
}

/// Up to three of `names` close to `wanted`: within an edit distance of a third of its
/// length (at least 2), or holding it, closest first.
fn close_names<'a>(wanted: &str, names: &[&'a str]) -> Vec<&'a str> {
    let wanted_lower = wanted.to_ascii_lowercase();
    let limit = (wanted.chars().count() / 3).max(2);
    let mut close: Vec<(usize, &str)> = names
        .iter()
        .map(|&n| (edit_distance(&wanted_lower, &n.to_ascii_lowercase()), n))
        .filter(|&(d, n)| d <= limit || n.to_ascii_lowercase().contains(&wanted_lower))
        .collect();
    close.sort();
    close.into_iter().take(3).map(|(_, n)| n).collect()
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_of_known_days() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(-1), "1969-12-31");
        // 1700000000 s is 2023-11-14T22:13:20Z.
        assert_eq!(civil_date(1_700_000_000 / 86_400), "2023-11-14");
        assert_eq!(civil_date(11_016), "2000-02-29");
    }

    #[test]
    fn derived_columns_and_null_handling() {
        let mut table = df!(
            "capture_file" => [Some("data/Nexus7/123_app.json"), Some("cap.pcap"), None],
            "first_ts_ns" => [1_700_000_000_000_000_000i64, 0, 5],
        )
        .unwrap();
        add_derived(&mut table).unwrap();
        let capture = text_column(&table, "capture").unwrap();
        assert_eq!(capture, [Some("123_app".to_owned()), Some("cap".to_owned()), None]);
        let dir = text_column(&table, "capture_dir").unwrap();
        assert_eq!(dir, [Some("Nexus7".to_owned()), None, None]);
        assert_eq!(text_column(&table, "day").unwrap()[0].as_deref(), Some("2023-11-14"));
        assert!(text_column(&table, "nope").unwrap_err().to_string().contains("nope"));
        let err = text_column(&table, "captur").unwrap_err().to_string();
        assert_eq!(
            err,
            "no column `captur` in the features table (did you mean `capture`, `capture_dir`, `capture_file`?)"
        );
        let err = text_column(&table, "zzzzzzzz").unwrap_err().to_string();
        assert_eq!(err, "no column `zzzzzzzz` in the features table (none of its 5 columns is close)");
    }
}
