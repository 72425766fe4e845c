//! The features table: flow rows of a store (one part at a time) → one row of features
//! per flow. Columns and definitions: `formats/features.md`.

use flowmine_core::wire::tcp;
use polars::prelude::*;

use super::anonymise::Anonymiser;
use super::stats::{STAT_NAMES, Scratch, summarize};
use crate::store::schema;

/// Default length of the first-packets sequence columns.
pub const DEFAULT_SEQUENCE_LEN: usize = 32;

/// The per-packet quantities summarised, as named in the feature columns: IP packet
/// length, inter-arrival time, transport payload length.
pub const QUANTITIES: [&str; 3] = ["packet_length", "iat", "payload_length"];

/// The quantities MIRAGE's `flow_features` hold (the first of [`QUANTITIES`]).
pub const DATASET_QUANTITIES: [&str; 2] = ["packet_length", "iat"];
/// The three packet sets summarised: all, from the initiator, towards it.
pub const DIRECTIONS: [&str; 3] = ["biflow", "upstream", "downstream"];

/// TCP flag bits and their column names, in bit order (entry k is bit k).
const TCP_FLAGS: [(u8, &str); 8] = [
    (tcp::FIN, "tcp_fin_count"),
    (tcp::SYN, "tcp_syn_count"),
    (tcp::RST, "tcp_rst_count"),
    (tcp::PSH, "tcp_psh_count"),
    (tcp::ACK, "tcp_ack_count"),
    (tcp::URG, "tcp_urg_count"),
    (tcp::ECE, "tcp_ece_count"),
    (tcp::CWR, "tcp_cwr_count"),
];

/// Store columns copied into the features table: key, label and provenance, then the first
/// counter (the rest of the counters follow with the ones computed here).
pub const PASSTHROUGH: [&str; 14] = [
    schema::IP_VERSION,
    schema::PROTOCOL,
    schema::SRC_IP,
    schema::DST_IP,
    schema::SRC_PORT,
    schema::DST_PORT,
    schema::VLAN,
    schema::FIRST_TS_NS,
    schema::LAST_TS_NS,
    schema::END_REASON,
    schema::TUNNEL,
    schema::LABEL,
    schema::CAPTURE_FILE,
    schema::FWD_PACKETS,
];

/// The [`PASSTHROUGH`] columns that describe the traffic rather than name the flow, its
/// capture or its label: the only ones of them a model may learn from.
pub const PASSTHROUGH_FEATURES: [&str; 2] = [schema::PROTOCOL, schema::FWD_PACKETS];

/// Columns only stores written by `flowmine label` have (formats/session.md), copied after
/// `capture_file` when present: experiments split by device or session need them.
pub const LABEL_PASSTHROUGH: [&str; 3] = [schema::LABELING_TYPE, schema::DEVICE, schema::SESSION];

#[derive(Debug, Clone)]
pub struct FeatureOptions {
    /// Packets in the `seq_*` columns (the first N of each flow).
    pub sequence_len: usize,
    /// `None` keeps addresses; otherwise `src_ip`/`dst_ip` hold pseudonyms.
    pub anonymiser: Option<Anonymiser>,
    /// Threads computing features (each on a share of the rows).
    pub threads: usize,
}

impl FeatureOptions {
    /// Pseudonymised addresses under `anonymiser` (`None`: addresses kept), sequences of
    /// the default length, one thread per CPU.
    pub fn new(anonymiser: Option<Anonymiser>) -> FeatureOptions {
        FeatureOptions { sequence_len: DEFAULT_SEQUENCE_LEN, anonymiser, threads: flowmine_core::scan::thread_count(0) }
    }
}

/// The name of a statistics column, e.g. `iat_upstream_p90`.
pub fn stat_column(quantity: &str, direction: &str, stat: &str) -> String {
    format!("{quantity}_{direction}_{stat}")
}

/// The store column holding a dataset's own value of a statistic (`mirage_` + the features
/// column name), written by `import-mirage` from a record's `flow_features`.
pub fn dataset_column(quantity: &str, direction: &str, stat: &str) -> String {
    format!("{DATASET_PREFIX}{}", stat_column(quantity, direction, stat))
}

/// Prefix of the store columns an import takes from a dataset's records.
pub const DATASET_PREFIX: &str = "mirage_";

/// Store column (Boolean) saying a row's statistics are the dataset's own (its record had
/// `flow_features`); the `dataset_column`s hold them.
pub const DATASET_FEATURES: &str = "mirage_flow_features";

/// A list column of the store as flat values plus Arrow offsets.
struct FlatList<T> {
    offsets: Vec<i64>,
    values: Vec<T>,
}

fn flat_list<T: PolarsNumericType>(df: &DataFrame, name: &str) -> PolarsResult<FlatList<T::Native>> {
    let list = df.column(name)?.list()?.rechunk();
    if list.is_empty() {
        return Ok(FlatList { offsets: vec![0], values: Vec::new() });
    }
    // A sliced list keeps the whole child array: copy only this slice's values and rebase
    // its offsets to 0.
    let offsets = list.downcast_as_array().offsets().as_slice();
    let (start, end) = (offsets[0], offsets[offsets.len() - 1]);
    let inner = list.get_inner().rechunk();
    let values: &ChunkedArray<T> = inner.as_ref().as_ref();
    let values = if end == start { Vec::new() } else { values.cont_slice()?[start as usize..end as usize].to_vec() };
    Ok(FlatList { offsets: offsets.iter().map(|o| o - start).collect(), values })
}

fn u64_values(df: &DataFrame, name: &str) -> PolarsResult<Vec<u64>> {
    Ok(df.column(name)?.u64()?.into_no_null_iter().collect())
}

fn i64_values(df: &DataFrame, name: &str) -> PolarsResult<Vec<i64>> {
    Ok(df.column(name)?.i64()?.into_no_null_iter().collect())
}

/// Per-packet values of one flow gathered for the nine summaries, by the rules of
/// MIRAGE's `flow_features` (formats/features.md#statistics).
#[derive(Default)]
pub struct FlowSeries {
    /// `[quantity][set]`: quantities as in [`QUANTITIES`], sets as in [`DIRECTIONS`].
    pub sets: [[Vec<f64>; 3]; 3],
}

impl FlowSeries {
    pub fn fill(&mut self, ts: &[i64], dir: &[u8], ip_len: &[u32], payload: &[u32]) {
        for v in self.sets.iter_mut().flatten() {
            v.clear();
        }
        let [lengths, iats, payloads] = &mut self.sets;
        // Previous timestamp per direction: an IAT is a gap between packets of one direction.
        let mut previous: [Option<i64>; 2] = [None; 2];
        for (((&t, &d), &len), &pay) in ts.iter().zip(dir).zip(ip_len).zip(payload) {
            let side = if d == 0 { 1 } else { 2 };
            for set in [0, side] {
                lengths[set].push(len as f64);
                payloads[set].push(pay as f64);
            }
            let prev = &mut previous[side - 1];
            if let Some(p) = *prev {
                // Integer difference first, then seconds: the same as np.diff(ts) / 1e9.
                iats[side].push((t - p) as f64 / 1e9);
            }
            *prev = Some(t);
        }
        // MIRAGE's biflow IATs: the upstream list followed by the downstream list, not the
        // gaps of the merged packet sequence.
        let [both, up, down] = iats;
        both.extend_from_slice(up);
        both.extend_from_slice(down);
    }
}

/// The store columns the features are computed from (the rest is not read), for a store
/// whose rows have the columns of `schema`.
pub fn input_columns(schema: &Schema) -> Vec<String> {
    let computed = [
        schema::BWD_PACKETS,
        schema::FWD_BYTES,
        schema::BWD_BYTES,
        schema::PKT_TS_NS,
        schema::PKT_DIR,
        schema::PKT_IP_LEN,
    ];
    let lists = [schema::PKT_L4_PAYLOAD_LEN, schema::PKT_TCP_FLAGS];
    let label = LABEL_PASSTHROUGH.iter().filter(|c| schema.contains(c));
    let mut columns: Vec<String> =
        PASSTHROUGH.iter().chain(label).chain(&computed).chain(&lists).map(|c| (*c).to_owned()).collect();
    if schema.contains(DATASET_FEATURES) {
        columns.push(DATASET_FEATURES.to_owned());
        columns.extend(dataset_columns().filter(|c| schema.contains(c)));
    }
    columns
}

/// The store columns of the dataset's statistics, in [`DATASET_QUANTITIES`] ×
/// [`DIRECTIONS`] × [`STAT_NAMES`] order.
pub fn dataset_columns() -> impl Iterator<Item = String> {
    DATASET_QUANTITIES.into_iter().flat_map(|q| {
        DIRECTIONS.into_iter().flat_map(move |d| STAT_NAMES.into_iter().map(move |s| dataset_column(q, d, s)))
    })
}

/// The dataset's own statistics of an imported store's rows, where a row has them.
struct DatasetStats {
    has: Vec<bool>,
    /// One column per [`dataset_columns`] entry.
    values: Vec<Vec<Option<f64>>>,
}

impl DatasetStats {
    fn read(flows: &DataFrame) -> PolarsResult<Option<DatasetStats>> {
        if !flows.schema().contains(DATASET_FEATURES) {
            return Ok(None);
        }
        let has = flows.column(DATASET_FEATURES)?.bool()?.iter().map(|b| b.unwrap_or(false)).collect();
        let values = dataset_columns()
            .map(|name| match flows.column(&name) {
                Ok(c) => Ok(c.cast(&DataType::Float64)?.f64()?.iter().collect()),
                Err(_) => Ok(vec![None; flows.height()]),
            })
            .collect::<PolarsResult<_>>()?;
        Ok(Some(DatasetStats { has, values }))
    }
}

/// Column saying, for an imported store, where a row's `packet_length_*` and `iat_*`
/// statistics come from: `dataset` (the record's own `flow_features`) or `recomputed`
/// (from the row's packet entries, the record had none).
pub const STATISTICS_SOURCE: &str = "statistics_source";

/// [`features_frame`] on `threads` slices of `flows` at once, rows in the same order.
pub fn features_frame_parallel(flows: &DataFrame, options: &FeatureOptions, threads: usize) -> PolarsResult<DataFrame> {
    // Below a few thousand flows a thread costs more than it saves.
    const MIN_ROWS_PER_THREAD: usize = 4096;
    let threads = threads.min(flows.height() / MIN_ROWS_PER_THREAD).max(1);
    if threads == 1 {
        return features_frame(flows, options);
    }
    let per_thread = flows.height().div_ceil(threads);
    let pieces: Vec<PolarsResult<DataFrame>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let slice = flows.slice((t * per_thread) as i64, per_thread);
                scope.spawn(move || features_frame(&slice, options))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("feature thread panicked")).collect()
    });
    let mut pieces = pieces.into_iter();
    let mut all = pieces.next().expect("at least one thread")?;
    for piece in pieces {
        all.vstack_mut_owned(piece?)?;
    }
    all.rechunk_mut();
    Ok(all)
}

/// Computes the features of every flow row in `flows` (rows in the store's schema).
pub fn features_frame(flows: &DataFrame, options: &FeatureOptions) -> PolarsResult<DataFrame> {
    let n = flows.height();
    let ts = flat_list::<Int64Type>(flows, schema::PKT_TS_NS)?;
    let dir = flat_list::<UInt8Type>(flows, schema::PKT_DIR)?;
    let ip_len = flat_list::<UInt32Type>(flows, schema::PKT_IP_LEN)?;
    let payload = flat_list::<UInt32Type>(flows, schema::PKT_L4_PAYLOAD_LEN)?;
    let flags = flat_list::<UInt8Type>(flows, schema::PKT_TCP_FLAGS)?;
    // The six pkt_* lists of a row share their offsets (formats/store.md).
    let offsets = &ts.offsets;
    for other in [&dir.offsets, &ip_len.offsets, &payload.offsets, &flags.offsets] {
        polars_ensure!(other == offsets, ComputeError: "pkt_* list columns of a flow row differ in length");
    }

    let fwd_packets = u64_values(flows, schema::FWD_PACKETS)?;
    let bwd_packets = u64_values(flows, schema::BWD_PACKETS)?;
    let fwd_bytes = u64_values(flows, schema::FWD_BYTES)?;
    let bwd_bytes = u64_values(flows, schema::BWD_BYTES)?;
    let first_ts = i64_values(flows, schema::FIRST_TS_NS)?;
    let last_ts = i64_values(flows, schema::LAST_TS_NS)?;

    let mut stats: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(n); QUANTITIES.len() * 3 * STAT_NAMES.len()];
    let dataset = DatasetStats::read(flows)?;
    let mut sources = Vec::with_capacity(if dataset.is_some() { n } else { 0 });
    let mut packets = Vec::with_capacity(n);
    let mut bytes = Vec::with_capacity(n);
    let mut fwd_payload = Vec::with_capacity(n);
    let mut bwd_payload = Vec::with_capacity(n);
    let mut complete = Vec::with_capacity(n);
    let mut duration = Vec::with_capacity(n);
    let mut packets_per_s = Vec::with_capacity(n);
    let mut bytes_per_s = Vec::with_capacity(n);
    let mut flag_counts: Vec<Vec<u32>> = vec![Vec::with_capacity(n); TCP_FLAGS.len()];
    let seq_len = options.sequence_len;
    let mut seq_size =
        ListPrimitiveChunkedBuilder::<UInt32Type>::new("seq_size".into(), n, n * seq_len, DataType::UInt32);
    let mut seq_dir = ListPrimitiveChunkedBuilder::<UInt8Type>::new("seq_dir".into(), n, n * seq_len, DataType::UInt8);
    let mut seq_iat =
        ListPrimitiveChunkedBuilder::<Float64Type>::new("seq_iat".into(), n, n * seq_len, DataType::Float64);
    let mut iat_buf = Vec::with_capacity(seq_len);

    let mut series = FlowSeries::default();
    let mut scratch = Scratch::default();
    for row in 0..n {
        let range = offsets[row] as usize..offsets[row + 1] as usize;
        let (t, d, l) = (&ts.values[range.clone()], &dir.values[range.clone()], &ip_len.values[range.clone()]);
        series.fill(t, d, l, &payload.values[range.clone()]);
        let own = dataset.as_ref().filter(|ds| ds.has[row]);
        if let Some(ds) = &dataset {
            sources.push(if ds.has[row] { "dataset" } else { "recomputed" });
        }
        for (q, sets) in series.sets.iter_mut().enumerate() {
            for (s, values) in sets.iter_mut().enumerate() {
                let base = (q * 3 + s) * STAT_NAMES.len();
                match own.filter(|_| q < DATASET_QUANTITIES.len()) {
                    Some(ds) => {
                        for k in 0..STAT_NAMES.len() {
                            stats[base + k].push(ds.values[base + k][row]);
                        }
                    }
                    None => {
                        for (k, v) in summarize(values, &mut scratch).values().into_iter().enumerate() {
                            stats[base + k].push(v);
                        }
                    }
                }
            }
        }

        let total_packets = fwd_packets[row] + bwd_packets[row];
        let total_bytes = fwd_bytes[row] + bwd_bytes[row];
        packets.push(total_packets);
        bytes.push(total_bytes);
        let is_complete = range.len() as u64 == total_packets;
        complete.push(is_complete);
        let (mut up, mut down) = (0u64, 0u64);
        for (&p, &dd) in payload.values[range.clone()].iter().zip(d) {
            if dd == 0 { up += p as u64 } else { down += p as u64 }
        }
        // Payload totals exist only as sums of the arrays; a shortened array would undercount.
        fwd_payload.push(is_complete.then_some(up));
        bwd_payload.push(is_complete.then_some(down));
        let mut counts = [0u32; 8];
        for &f in &flags.values[range.clone()] {
            for (k, count) in counts.iter_mut().enumerate() {
                *count += u32::from(f >> k & 1);
            }
        }
        for (column, count) in flag_counts.iter_mut().zip(counts) {
            column.push(count);
        }
        let secs = (last_ts[row] - first_ts[row]) as f64 / 1e9;
        duration.push(secs);
        packets_per_s.push((secs > 0.0).then(|| total_packets as f64 / secs));
        bytes_per_s.push((secs > 0.0).then(|| total_bytes as f64 / secs));

        let head = range.start..range.start + range.len().min(seq_len);
        seq_size.append_slice(&ip_len.values[head.clone()]);
        seq_dir.append_slice(&dir.values[head.clone()]);
        iat_buf.clear();
        let head_ts = &ts.values[head];
        iat_buf.extend(
            head_ts.iter().enumerate().map(|(i, &x)| if i == 0 { 0.0 } else { (x - head_ts[i - 1]) as f64 / 1e9 }),
        );
        seq_iat.append_slice(&iat_buf);
    }

    let mut columns: Vec<Column> = Vec::with_capacity(PASSTHROUGH.len() + 200);
    for name in PASSTHROUGH {
        let column = flows.column(name)?.clone();
        let column = match (&options.anonymiser, name) {
            (Some(anon), schema::SRC_IP | schema::DST_IP) => {
                let pseudonyms: StringChunked =
                    column.str()?.apply_values(|ip| anon.pseudonym_text(ip).into()).with_name(name.into());
                pseudonyms.into_column()
            }
            _ => column,
        };
        columns.push(column);
        if name == schema::CAPTURE_FILE {
            for label_column in LABEL_PASSTHROUGH.iter().filter(|c| flows.schema().contains(c)) {
                columns.push(flows.column(label_column)?.clone());
            }
        }
    }
    columns.extend([
        flows.column(schema::BWD_PACKETS)?.clone(),
        Column::new("packets".into(), packets),
        flows.column(schema::FWD_BYTES)?.clone(),
        flows.column(schema::BWD_BYTES)?.clone(),
        Column::new("bytes".into(), bytes),
        Column::new("fwd_payload_bytes".into(), fwd_payload),
        Column::new("bwd_payload_bytes".into(), bwd_payload),
        Column::new("duration_s".into(), duration),
        Column::new("packets_per_s".into(), packets_per_s),
        Column::new("bytes_per_s".into(), bytes_per_s),
        Column::new("pkt_arrays_complete".into(), complete),
    ]);
    if dataset.is_some() {
        columns.push(Column::new(STATISTICS_SOURCE.into(), sources));
    }
    for ((_, name), counts) in TCP_FLAGS.iter().zip(flag_counts) {
        columns.push(Column::new((*name).into(), counts));
    }
    let mut stats = stats.into_iter();
    for quantity in QUANTITIES {
        for direction in DIRECTIONS {
            for stat in STAT_NAMES {
                let values = stats.next().expect("one vector per statistics column");
                columns.push(Column::new(stat_column(quantity, direction, stat).into(), values));
            }
        }
    }
    columns.push(seq_size.finish().into_series().into_column());
    columns.push(seq_dir.finish().into_series().into_column());
    columns.push(seq_iat.finish().into_series().into_column());
    // Columns copied from the store keep its row-group chunks; writers need equal chunks.
    let mut features = DataFrame::new(n, columns)?;
    features.rechunk_mut();
    Ok(features)
}

#[cfg(test)]
mod tests {
    use flowmine_core::flow::{EndReason, FlowBatch};

    use super::*;
    use crate::store::rows::{RowContext, batch_to_rows};

    /// The flow of the worked example in formats/store.md and formats/features.md.
    fn worked_example() -> DataFrame {
        let mut b = FlowBatch::new();
        let mut src = [0u8; 16];
        src[..4].copy_from_slice(&[192, 0, 2, 1]);
        let mut dst = [0u8; 16];
        dst[..4].copy_from_slice(&[198, 51, 100, 2]);
        b.ip_version.push(4);
        b.protocol.push(17);
        b.src_addr.push(src);
        b.dst_addr.push(dst);
        b.src_port.push(50000);
        b.dst_port.push(7);
        b.vlan.push(0);
        b.first_ts_ns.push(1700000000123456000);
        b.last_ts_ns.push(1700000000125000500);
        for v in [&mut b.fwd_packets, &mut b.bwd_packets] {
            v.push(1);
        }
        for v in [&mut b.fwd_bytes, &mut b.bwd_bytes] {
            v.push(32);
        }
        for v in [&mut b.fwd_wire_bytes, &mut b.bwd_wire_bytes] {
            v.push(46);
        }
        b.end_reason.push(EndReason::EndOfInput);
        b.tunnel.push(0);
        b.input_index.push(0);
        b.pkt_ts_ns.extend([1700000000123456000, 1700000000125000500]);
        b.pkt_dir.extend([0, 1]);
        b.pkt_ip_len.extend([32, 32]);
        b.pkt_l4_payload_len.extend([4, 4]);
        b.pkt_tcp_flags.extend([0, 0]);
        b.pkt_tcp_window.extend([0, 0]);
        b.pkt_offsets.push(2);
        batch_to_rows(b, &RowContext::default()).unwrap()
    }

    fn value(df: &DataFrame, name: &str) -> AnyValue<'static> {
        df.column(name).unwrap().get(0).unwrap().into_static()
    }

    #[test]
    fn worked_example_of_formats_features_md() {
        let f = features_frame(&worked_example(), &FeatureOptions::new(None)).unwrap();
        assert_eq!((value(&f, "packets"), value(&f, "bytes")), (AnyValue::UInt64(2), AnyValue::UInt64(64)));
        assert_eq!(value(&f, "fwd_payload_bytes"), AnyValue::UInt64(4));
        assert_eq!(value(&f, "duration_s"), AnyValue::Float64(0.0015445));
        assert_eq!(value(&f, "packets_per_s"), AnyValue::Float64(1294.9174490126254));
        assert_eq!(value(&f, "bytes_per_s"), AnyValue::Float64(41437.35836840401));
        for (stat, v) in [("mean", 32.0), ("std", 0.0), ("mad", 0.0), ("p50", 32.0)] {
            assert_eq!(value(&f, &format!("packet_length_biflow_{stat}")), AnyValue::Float64(v), "{stat}");
        }
        // Constant values: MIRAGE's scipy gave skew 0 and kurtosis −3, not NaN.
        assert_eq!(value(&f, "packet_length_biflow_skew"), AnyValue::Float64(0.0));
        assert_eq!(value(&f, "packet_length_biflow_kurtosis"), AnyValue::Float64(-3.0));
        assert_eq!(value(&f, "payload_length_upstream_mean"), AnyValue::Float64(4.0));
        // One packet each way: no gap within a direction, so no IAT at all (the biflow
        // IATs are the upstream ones followed by the downstream ones).
        assert_eq!(value(&f, "iat_biflow_p90"), AnyValue::Null);
        assert_eq!(value(&f, "iat_biflow_mean"), AnyValue::Null);
        assert_eq!(value(&f, "iat_upstream_mean"), AnyValue::Null);
        assert_eq!(value(&f, "iat_downstream_min"), AnyValue::Null);
        let seq_iat = f.column("seq_iat").unwrap().list().unwrap().get_as_series(0).unwrap();
        assert_eq!(seq_iat.f64().unwrap().iter().collect::<Vec<_>>(), [Some(0.0), Some(0.0015445)]);
    }

    #[test]
    fn addresses_become_pseudonyms_unless_kept() {
        let flows = worked_example();
        let anon = Anonymiser::from_key_material(b"k");
        let f = features_frame(&flows, &FeatureOptions::new(Some(anon.clone()))).unwrap();
        assert_eq!(value(&f, "src_ip"), AnyValue::StringOwned(anon.pseudonym_text("192.0.2.1").into()));
        let kept = features_frame(&flows, &FeatureOptions::new(None)).unwrap();
        assert_eq!(value(&kept, "dst_ip"), AnyValue::StringOwned("198.51.100.2".into()));
    }

    #[test]
    fn iat_is_per_direction_and_in_seconds() {
        let mut s = FlowSeries::default();
        let ts = [0, 1_000_000_000, 1_500_000_000, 4_000_000_000, 4_250_000_000];
        s.fill(&ts, &[0, 1, 0, 1, 1], &[60, 40, 1500, 40, 52], &[0, 0, 1460, 0, 12]);
        let [lengths, iats, payloads] = &s.sets;
        assert_eq!(lengths[0], [60.0, 40.0, 1500.0, 40.0, 52.0]);
        assert_eq!(lengths[1], [60.0, 1500.0]);
        assert_eq!(lengths[2], [40.0, 40.0, 52.0]);
        // Biflow: the upstream gaps, then the downstream gaps (not 1.0, 0.5, 2.5, 0.25).
        assert_eq!(iats[0], [1.5, 3.0, 0.25]);
        assert_eq!(iats[1], [1.5]);
        assert_eq!(iats[2], [3.0, 0.25]);
        assert_eq!(payloads[0], [0.0, 0.0, 1460.0, 0.0, 12.0]);
        assert_eq!(payloads[2], [0.0, 0.0, 12.0]);
    }
}
