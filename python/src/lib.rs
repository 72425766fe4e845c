//! `flowmine._flowmine`: the Python extension behind the `flowmine` package. Frames cross
//! into Python through the Arrow C stream interface (`__arrow_c_stream__`, the Arrow
//! PyCapsule protocol), which Python Polars reads without a copy through files and
//! without tying this crate to one Python Polars version.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use flowmine::core::flow::config::SECOND;
use flowmine::core::{FlowConfig, PacketLimit, Progress, ScanOptions};
use flowmine::features::{Anonymiser, FeatureOptions, features_frame, read_features};
use flowmine::{FlowsJob, store};
use polars::prelude::*;
use polars_arrow::array::{Array, StructArray};
use polars_arrow::datatypes::{ArrowDataType, Field as ArrowField};
use polars_arrow::ffi::{ArrowArrayStream, export_iterator};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

create_exception!(
    _flowmine,
    FlowmineError,
    PyException,
    "flowmine could not do what was asked; the message names the file and offset"
);

/// Problems with the input, as (path, offset, what): warnings on the Python side.
type Problems = Vec<(String, u64, String)>;

fn py_err(e: impl std::fmt::Display) -> PyErr {
    FlowmineError::new_err(e.to_string())
}

/// A DataFrame on its way to Python, handed over once through `__arrow_c_stream__`.
#[pyclass(name = "ArrowStream", module = "flowmine._flowmine")]
struct ArrowStream {
    df: Option<DataFrame>,
}

/// The C stream, moved into a capsule (its consumer takes it and leaves `release` empty).
#[repr(transparent)]
struct SendStream(ArrowArrayStream);
// SAFETY: the stream owns its batches (Arrow arrays of reference-counted buffers) and is
// used by one consumer at a time, which the capsule protocol guarantees.
unsafe impl Send for SendStream {}

#[pymethods]
impl ArrowStream {
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &mut self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema; // the frame is handed over in its own schema
        let df = self.df.take().ok_or_else(|| PyValueError::new_err("the stream was read already"))?;
        PyCapsule::new_with_value(py, SendStream(export(df)), c"arrow_array_stream")
    }
}

/// The frame as an Arrow stream of struct arrays, one per chunk.
fn export(mut df: DataFrame) -> ArrowArrayStream {
    df.rechunk_mut();
    let compat = CompatLevel::newest();
    let fields: Vec<ArrowField> = df.columns().iter().map(|c| c.field().to_arrow(compat)).collect();
    let dtype = ArrowDataType::Struct(fields);
    let batches: Vec<PolarsResult<Box<dyn Array>>> = df
        .iter_chunks(compat, false)
        .map(|b| Ok(StructArray::new(dtype.clone(), b.height(), b.into_arrays(), None).boxed()))
        .collect();
    export_iterator(Box::new(batches.into_iter()), ArrowField::new("".into(), dtype, false))
}

fn stream(df: DataFrame) -> ArrowStream {
    ArrowStream { df: Some(df) }
}

fn seconds(s: Option<f64>) -> PyResult<Option<u64>> {
    s.map(|s| {
        if s.is_finite() && s > 0.0 {
            Ok((s * SECOND as f64).round() as u64)
        } else {
            Err(PyValueError::new_err(format!("{s}: seconds must be positive (or None for off)")))
        }
    })
    .transpose()
}

/// Calls `callback(bytes_done, bytes_total, packets, flows)` at most every 100 ms.
fn progress_to(callback: Option<Py<PyAny>>) -> impl FnMut(Progress) {
    let mut last: Option<Instant> = None;
    move |p: Progress| {
        let Some(cb) = &callback else { return };
        let done = p.bytes_done >= p.bytes_total;
        if !done && last.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
            return;
        }
        last = Some(Instant::now());
        Python::attach(|py| {
            // A failing progress callback does not stop the run.
            let _ = cb.call1(py, (p.bytes_done, p.bytes_total, p.packets, p.flows));
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn job(
    paths: Vec<PathBuf>,
    idle_timeout: Option<f64>,
    active_timeout: Option<f64>,
    tcp_close: bool,
    tcp_close_linger: f64,
    packets: Option<usize>,
    label: Option<String>,
    threads: usize,
) -> PyResult<FlowsJob> {
    if !(tcp_close_linger.is_finite() && tcp_close_linger >= 0.0) {
        return Err(PyValueError::new_err("tcp_close_linger: seconds, 0 or more"));
    }
    let flow = FlowConfig {
        idle_timeout_ns: seconds(idle_timeout)?,
        active_timeout_ns: seconds(active_timeout)?,
        tcp_close,
        tcp_close_linger_ns: (tcp_close_linger * SECOND as f64).round() as u64,
        packets: packets.map_or(PacketLimit::All, PacketLimit::First),
        max_flows: None,
        ..FlowConfig::default()
    };
    let mut job = FlowsJob::new(paths, ScanOptions { flow, threads, ..ScanOptions::default() });
    job.label = label;
    Ok(job)
}

/// Runs `job` into one frame; also returns each problem with the input as
/// (path, offset, what), for the Python side to warn about.
fn run_flows(py: Python<'_>, job: &FlowsJob, progress: Option<Py<PyAny>>) -> PyResult<(DataFrame, Problems)> {
    py.detach(|| {
        let mut all: Option<DataFrame> = None;
        let report = job
            .run(
                |df| {
                    match &mut all {
                        None => all = Some(df),
                        Some(acc) => {
                            acc.vstack_mut_owned(df)?;
                        }
                    }
                    Ok(())
                },
                progress_to(progress),
            )
            .map_err(py_err)?;
        let mut df = match all {
            Some(df) => df,
            None => flowmine::store::rows::batch_to_rows(flowmine::core::FlowBatch::new(), &Default::default())
                .map_err(py_err)?,
        };
        df.rechunk_mut();
        let problems = report
            .files
            .iter()
            .flat_map(|f| f.problems().into_iter().map(|(o, w)| (f.path.to_string_lossy().into_owned(), o, w)))
            .collect();
        Ok((df, problems))
    })
}

/// Flows of the captures in `paths` (files or directories), as an Arrow stream, and the
/// problems found in the input. Timeouts in seconds, `None` = off; `packets`: per-packet
/// entries kept per flow, `None` = all.
#[pyfunction]
#[pyo3(signature = (paths, idle_timeout, active_timeout, tcp_close, tcp_close_linger, packets, label, threads, progress))]
#[allow(clippy::too_many_arguments)]
fn flows(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    idle_timeout: Option<f64>,
    active_timeout: Option<f64>,
    tcp_close: bool,
    tcp_close_linger: f64,
    packets: Option<usize>,
    label: Option<String>,
    threads: usize,
    progress: Option<Py<PyAny>>,
) -> PyResult<(ArrowStream, Problems)> {
    let job = job(paths, idle_timeout, active_timeout, tcp_close, tcp_close_linger, packets, label, threads)?;
    let (df, problems) = run_flows(py, &job, progress)?;
    Ok((stream(df), problems))
}

fn feature_options(keep_addresses: bool, sequence_len: Option<usize>, threads: usize) -> PyResult<FeatureOptions> {
    let anonymiser = if keep_addresses { None } else { Some(Anonymiser::random().map_err(py_err)?) };
    let mut options = FeatureOptions::new(anonymiser);
    if let Some(n) = sequence_len {
        options.sequence_len = n;
    }
    if threads > 0 {
        options.threads = threads;
    }
    Ok(options)
}

/// Features of the flows of a store directory.
#[pyfunction]
#[pyo3(signature = (store, keep_addresses, sequence_len, threads))]
fn store_features(
    py: Python<'_>,
    store: PathBuf,
    keep_addresses: bool,
    sequence_len: Option<usize>,
    threads: usize,
) -> PyResult<ArrowStream> {
    let options = feature_options(keep_addresses, sequence_len, threads)?;
    let df = py.detach(|| read_features(&store, &options)).map_err(py_err)?;
    Ok(stream(df))
}

/// Features of the flows of captures, computed in memory (no store written).
#[pyfunction]
#[pyo3(signature = (paths, idle_timeout, active_timeout, tcp_close, tcp_close_linger, label, threads, progress, keep_addresses, sequence_len))]
#[allow(clippy::too_many_arguments)]
fn capture_features(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    idle_timeout: Option<f64>,
    active_timeout: Option<f64>,
    tcp_close: bool,
    tcp_close_linger: f64,
    label: Option<String>,
    threads: usize,
    progress: Option<Py<PyAny>>,
    keep_addresses: bool,
    sequence_len: Option<usize>,
) -> PyResult<(ArrowStream, Problems)> {
    let job = job(paths, idle_timeout, active_timeout, tcp_close, tcp_close_linger, None, label, threads)?;
    let options = feature_options(keep_addresses, sequence_len, threads)?;
    let (flows, problems) = run_flows(py, &job, progress)?;
    let df = py.detach(|| features_frame(&flows, &options)).map_err(py_err)?;
    Ok((stream(df), problems))
}

/// Every flow row of a store directory.
#[pyfunction]
fn read_store(py: Python<'_>, path: PathBuf) -> PyResult<ArrowStream> {
    let df = py.detach(|| store::read_flows(&path)).map_err(py_err)?;
    Ok(stream(df))
}

#[pymodule]
fn _flowmine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("FlowmineError", m.py().get_type::<FlowmineError>())?;
    m.add_class::<ArrowStream>()?;
    m.add_function(wrap_pyfunction!(flows, m)?)?;
    m.add_function(wrap_pyfunction!(store_features, m)?)?;
    m.add_function(wrap_pyfunction!(capture_features, m)?)?;
    m.add_function(wrap_pyfunction!(read_store, m)?)?;
    Ok(())
}
