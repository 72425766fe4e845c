//! The one feature matrix every model reads: an `ndarray` array built once from the
//! Polars frame, one row per flow and one column per feature, in standard (row-major)
//! layout. The forest, the clustering and the few-label models take views of it.

use ndarray::Array2;
use polars::prelude::*;

use crate::Error;

/// The values of the columns `features` of `table` (at `rows`, or every row) as a rows ×
/// features matrix, with null, NaN and ±∞ read as 0: models need a number, and "none" (no
/// inter-arrival time in a one-packet flow, no rate for a flow of zero duration) is
/// closest to 0 for these features. The scikit-learn cross-check does the same.
pub fn feature_matrix(table: &DataFrame, features: &[String], rows: Option<&[usize]>) -> Result<Array2<f64>, Error> {
    let columns = features
        .iter()
        .map(|name| {
            let column = table.column(name).map_err(|_| Error::Config(format!("no feature column `{name}`")))?;
            Ok(column.clone())
        })
        .collect::<Result<Vec<Column>, Error>>()?;
    let mut frame = DataFrame::new(table.height(), columns)?;
    if let Some(rows) = rows {
        let rows = IdxCa::from_vec("row".into(), rows.iter().map(|&r| r as IdxSize).collect());
        frame = frame.take(&rows)?;
    }
    // Nulls become NaN here (Polars' own conversion), then every non-finite value 0.
    let mut x = frame.to_ndarray::<Float64Type>(IndexOrder::C)?;
    x.mapv_inplace(|v| if v.is_finite() { v } else { 0.0 });
    Ok(x)
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn rows_in_the_order_asked_with_missing_values_as_zero() {
        let table = df!(
            "x" => [Some(1.5), None, Some(f64::NAN)],
            "n" => [Some(7u32), Some(8), None],
            "inf" => [f64::INFINITY, -2.0, f64::NEG_INFINITY],
        )
        .unwrap();
        let names = ["x", "n", "inf"].map(String::from);
        let x = feature_matrix(&table, &names, Some(&[2, 0, 1])).unwrap();
        assert_eq!(x, array![[0.0, 0.0, 0.0], [1.5, 7.0, 0.0], [0.0, 8.0, -2.0]]);
        assert!(x.is_standard_layout());
        assert_eq!(feature_matrix(&table, &names[..1], None).unwrap(), array![[1.5], [0.0], [0.0]]);
        let err = feature_matrix(&table, &["nope".into()], None).unwrap_err();
        assert!(err.to_string().contains("`nope`"), "{err}");
    }
}
