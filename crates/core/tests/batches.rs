//! Batches handed to the sink: cut at the configured size, the same for any thread count,
//! and together exactly the flows of a run kept in one batch.

mod common;

use flowmine_core::capture::input::{InputFile, InputSet};
use flowmine_core::scan::{ScanOptions, scan, scan_to_batch};
use flowmine_core::{Error, FlowBatch};

fn inputs() -> InputSet {
    let files = common::captures_in("genres")
        .into_iter()
        .map(|path| InputFile { len: std::fs::metadata(&path).unwrap().len(), path, first_ts_ns: None })
        .collect();
    InputSet { files, ..Default::default() }
}

fn batches(inputs: &InputSet, options: &ScanOptions) -> Vec<FlowBatch> {
    let mut got = Vec::new();
    scan::<Error>(
        inputs,
        options,
        |b| {
            got.push(b);
            Ok(())
        },
        |_| {},
    )
    .unwrap();
    got
}

#[test]
fn small_batches_are_cut_at_their_size_and_hold_every_flow_in_order() {
    let inputs = inputs();
    let (whole, _) = scan_to_batch(&inputs, &ScanOptions::default()).unwrap();
    assert!(whole.len() > 50, "the sample captures hold enough flows to cut");
    for (rows, packets) in [(3, usize::MAX), (usize::MAX, 200), (7, 90)] {
        let mut runs = Vec::new();
        for threads in [1, 2, 3] {
            let options = ScanOptions { batch_rows: rows, batch_packets: packets, threads, ..ScanOptions::default() };
            let got = batches(&inputs, &options);
            assert!(got.len() > 2, "{rows} rows / {packets} packets: several batches");
            for b in &got[..got.len() - 1] {
                assert!(b.len() >= rows || b.packet_entries() >= packets, "a batch before the last is full");
            }
            assert!(got.iter().all(|b| !b.is_empty()));
            let mut joined = FlowBatch::new();
            for b in &got {
                joined.extend_from(b);
            }
            assert_eq!(joined, whole, "{rows} rows / {packets} packets, {threads} threads");
            assert_eq!(FlowBatch::concat(got.clone()), whole, "concat joins as appending does");
            runs.push(got);
        }
        assert!(
            runs.iter().all(|r| *r == runs[0]),
            "{rows} rows / {packets} packets: the same batches for 1-3 threads"
        );
    }
}

#[test]
fn concat_of_one_batch_is_that_batch() {
    let (whole, _) = scan_to_batch(&inputs(), &ScanOptions::default()).unwrap();
    assert_eq!(FlowBatch::concat(vec![whole.clone()]), whole);
}
