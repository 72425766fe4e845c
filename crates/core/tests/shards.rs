//! Shards of a dump set joined by `handoff::Joiner` give exactly the flows and counters of
//! one run over all files: for every cut of a 20-file dump set into 1 to 7 shards, with
//! the timeouts on and off.

#[path = "support/dumpset.rs"]
mod dumpset;

use flowmine_core::Error;
use flowmine_core::flow::FlowRow;
use flowmine_core::flow::config::SECOND;
use flowmine_core::handoff::{self, Joiner};
use flowmine_core::scan::{FileReport, ScanOptions, ScanReport, scan_to_batch};
use flowmine_core::{FlowBatch, FlowConfig, InputSet, collect_inputs};

fn dump_set() -> (tempfile::TempDir, InputSet) {
    let dir = tempfile::tempdir().unwrap();
    let files = dumpset::write(dir.path(), 20, 240, 7);
    assert_eq!(files.len(), 20);
    let inputs = collect_inputs(&[dir.path().to_owned()]).unwrap();
    assert_eq!(inputs.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(), files);
    (dir, inputs)
}

/// The rows sorted: the order of rows is not part of the contract, their content is.
fn sorted(batch: &FlowBatch) -> Vec<FlowRow> {
    let mut rows = batch.rows();
    rows.sort();
    rows
}

struct Joined {
    flows: FlowBatch,
    files: Vec<FileReport>,
    fragments: (u64, u64),
}

/// Runs every shard of `n` (journals and tails kept in memory), then joins them in order.
fn sharded(inputs: &InputSet, options: &ScanOptions, n: usize) -> Result<Joined, Error> {
    let mut joiner = Joiner::new(options.flow.clone());
    let mut flows = FlowBatch::new();
    let mut files = Vec::new();
    for range in handoff::plan(inputs, n) {
        let mut journal = Vec::new();
        let run = handoff::scan_shard::<Error>(
            inputs,
            options,
            range,
            |b| {
                flows.extend_from(&b);
                Ok(())
            },
            |bytes| {
                journal.extend_from_slice(bytes);
                Ok(())
            },
            |_| {},
        )
        .unwrap();
        let mut rows = FlowBatch::new();
        let shard_files = joiner.join(&journal, &run.tail, &mut rows)?;
        assert_eq!(shard_files, run.report.files);
        files.extend(shard_files);
        flows.extend_from(&rows);
    }
    let mut rows = FlowBatch::new();
    joiner.finish(&mut rows).expect("the spill file works");
    flows.extend_from(&rows);
    let c = joiner.fragment_counts();
    Ok(Joined { flows, files, fragments: (c.joined, c.unmatched) })
}

/// File reports as a single run gives them, less the flow counts (the store counts rows).
fn without_flows(files: &[FileReport]) -> Vec<FileReport> {
    files.iter().cloned().map(|f| FileReport { flows: 0, ..f }).collect()
}

fn assert_sharded_runs_equal_the_single_run(config: FlowConfig, what: &str) {
    let (_dir, inputs) = dump_set();
    let options = ScanOptions { flow: config, ..ScanOptions::default() };
    let (single, report): (FlowBatch, ScanReport) = scan_to_batch(&inputs, &options).unwrap();
    let expected = sorted(&single);
    // The dump set is what it claims to be: flows that cross boundaries, fragments that
    // join their first fragment in another file, packets that are not IP.
    let rows = single.rows();
    for file in &inputs.files[1..] {
        let boundary = file.first_ts_ns.expect("files hold packets");
        let crossing = rows.iter().filter(|r| r.first_ts_ns < boundary && r.last_ts_ns >= boundary).count();
        assert!(crossing >= 3, "{what}: {crossing} flows cross the boundary at {}", file.path.display());
    }
    assert!(report.fragments.joined > 20, "{what}: fragments");
    assert!(report.skipped.total() > 0, "{what}: non-IP frames");
    for n in 1..=7 {
        for threads in [1, 2] {
            let options = ScanOptions { threads, ..options.clone() };
            let joined = sharded(&inputs, &options, n).unwrap_or_else(|e| panic!("{what}, {n} shards: {e}"));
            let rows = sorted(&joined.flows);
            assert_eq!(rows.len(), expected.len(), "{what}, {n} shards, {threads} threads: row count");
            for (got, want) in rows.iter().zip(&expected) {
                assert_eq!(got, want, "{what}, {n} shards, {threads} threads");
            }
            assert_eq!(without_flows(&joined.files), without_flows(&report.files), "{what}, {n} shards");
            assert_eq!(
                joined.fragments,
                (report.fragments.joined, report.fragments.unmatched),
                "{what}, {n} shards: fragment counts"
            );
        }
    }
}

#[test]
fn shards_with_timeouts_join_into_the_single_run() {
    let config = FlowConfig {
        idle_timeout_ns: Some(20 * SECOND),
        active_timeout_ns: Some(60 * SECOND),
        tcp_close: true,
        ..FlowConfig::default()
    };
    assert_sharded_runs_equal_the_single_run(config, "timeouts on");
}

#[test]
fn shards_with_default_rules_join_into_the_single_run() {
    // 120 s idle over a 240 s capture: most keys stay pending in the shards.
    assert_sharded_runs_equal_the_single_run(FlowConfig::default(), "defaults");
}

#[test]
fn shards_with_timeouts_off_join_into_the_single_run() {
    assert_sharded_runs_equal_the_single_run(FlowConfig::unbounded(), "timeouts off");
}

/// (rows, per-packet entries) of each batch a shard of all of `inputs` hands its sink.
fn shard_batch_sizes(inputs: &InputSet, options: &ScanOptions) -> Vec<(usize, usize)> {
    let mut sizes = Vec::new();
    handoff::scan_shard::<Error>(
        inputs,
        options,
        0..inputs.files.len(),
        |b| {
            sizes.push((b.len(), b.packet_entries()));
            Ok(())
        },
        |_| Ok(()),
        |_| {},
    )
    .unwrap();
    sizes
}

#[test]
fn a_shard_hands_over_batches_as_full_as_a_whole_run() {
    // Part files are the sink's batches: a batch per window point made thousands of
    // parts of a hundred rows on a long capture.
    let (_dir, inputs) = dump_set();
    let config = FlowConfig { idle_timeout_ns: Some(20 * SECOND), tcp_close: true, ..FlowConfig::default() };
    for threads in [1, 2] {
        let options = ScanOptions { flow: config.clone(), threads, batch_rows: 40, ..ScanOptions::default() };
        let sizes = shard_batch_sizes(&inputs, &options);
        assert!(sizes.len() > 3, "{threads} threads: {sizes:?}");
        let (last, full) = sizes.split_last().unwrap();
        assert!(last.0 > 0, "{threads} threads: an empty batch");
        for &(rows, packets) in full {
            assert!(options.batch_is_full(rows, packets), "{threads} threads: {sizes:?}");
        }
    }
}

#[test]
fn a_shard_gathers_what_the_table_hands_out_at_window_points() {
    // 150,000 exchanges (300,000 packets, more than a window of 2^18) over 150 s; an
    // idle timeout of 2 s ends each soon after it starts, and flows first seen 2 s plus
    // the fragment timeout after the shard's start go through its table: the table hands
    // ended flows out, shard by shard, at the window point inside the capture.
    let dir = tempfile::tempdir().unwrap();
    dumpset::write_short_flows(&dir.path().join("short.pcap"), 150_000, SECOND as i64 / 1000);
    let inputs = collect_inputs(&[dir.path().to_owned()]).unwrap();
    let config = FlowConfig { idle_timeout_ns: Some(2 * SECOND), ..FlowConfig::default() };
    let options = ScanOptions { flow: config, threads: 2, batch_rows: 10_000, ..ScanOptions::default() };
    let sizes = shard_batch_sizes(&inputs, &options);
    assert!(sizes.iter().map(|&(rows, _)| rows).sum::<usize>() > 100_000, "{sizes:?}");
    let (_, full) = sizes.split_last().unwrap();
    assert!(full.iter().all(|&(rows, _)| rows >= 10_000), "{sizes:?}");
}

#[test]
fn a_shard_joined_out_of_order_is_refused() {
    let (_dir, inputs) = dump_set();
    let options = ScanOptions {
        flow: FlowConfig { idle_timeout_ns: Some(20 * SECOND), ..FlowConfig::default() },
        ..ScanOptions::default()
    };
    let ranges = handoff::plan(&inputs, 3);
    let run = |k: usize| {
        let mut journal = Vec::new();
        let run = handoff::scan_shard::<Error>(
            &inputs,
            &options,
            ranges[k].clone(),
            |_| Ok(()),
            |b| {
                journal.extend_from_slice(b);
                Ok(())
            },
            |_| {},
        )
        .unwrap();
        (journal, run.tail)
    };
    let (j0, t0) = run(0);
    let (j2, t2) = run(2);
    let mut joiner = Joiner::new(options.flow.clone());
    let mut out = FlowBatch::new();
    // Shard 3 after shard 1 goes back in time across sweeps: refused, never joined wrong.
    joiner.join(&j2, &t2, &mut out).unwrap();
    let err = joiner.join(&j0, &t0, &mut out).unwrap_err();
    assert!(matches!(err, Error::NotExact(_)), "{err}");
    // A damaged tail is an error naming the byte, not a panic.
    let mut joiner = Joiner::new(options.flow.clone());
    assert!(joiner.join(&j0, &t0[..t0.len() - 3], &mut out).is_err());
}

#[test]
fn shards_are_consecutive_files_of_about_equal_size() {
    let (_dir, inputs) = dump_set();
    for n in 1..=25 {
        let ranges = handoff::plan(&inputs, n);
        assert_eq!(ranges.len(), n);
        assert_eq!(ranges[0].start, 0);
        assert_eq!(ranges[n - 1].end, 20);
        for w in ranges.windows(2) {
            assert_eq!(w[0].end, w[1].start, "{n} shards: consecutive");
        }
        // Every shard has a file while there are files for all.
        assert!(ranges.iter().all(|r| !r.is_empty()) || n > 20, "{n}: {ranges:?}");
    }
}

#[test]
fn shards_that_spill_join_into_the_single_run_that_does_not() {
    // Entries spilled after every 2: carried across boundaries in the hand-off tails, and
    // taken back when the joiner ends the flows.
    let spilling = FlowConfig { spill_after: 2, ..FlowConfig::default() };
    let (_dir, inputs) = dump_set();
    let plain = scan_to_batch(&inputs, &ScanOptions::default()).unwrap().0;
    let spilled = scan_to_batch(&inputs, &ScanOptions { flow: spilling.clone(), ..ScanOptions::default() }).unwrap().0;
    assert_eq!(spilled, plain);
    assert_sharded_runs_equal_the_single_run(spilling, "spilling");
}
