//! Checkpoints and resumption: a run resumed from any checkpoint hands out exactly the
//! flows an uninterrupted run does, in the same order.

mod common;

use common::captures_in;
use flowmine_core::Error;
use flowmine_core::flow::{FlowBatch, FlowRow};
use flowmine_core::scan::{Checkpoint, STATE_SPACING, ScanOptions, ScanReport, scan_resumable};
use flowmine_core::{FlowConfig, InputFile, InputSet};

fn inputs() -> InputSet {
    let mut files = captures_in("messaging");
    files.truncate(20);
    InputSet {
        files: files
            .into_iter()
            .map(|path| InputFile { len: std::fs::metadata(&path).unwrap().len(), path, first_ts_ns: None })
            .collect(),
        ..Default::default()
    }
}

/// Rows in order; checkpoints with the rows handed out before each; the report.
type Run = (Vec<FlowRow>, Vec<(usize, Checkpoint)>, ScanReport);

/// Runs (or resumes) a scan; returns its rows in order, the checkpoints with how many rows
/// had been handed out before each, and the report.
fn run(inputs: &InputSet, options: &ScanOptions, resume: Option<&[u8]>) -> Result<Run, Error> {
    let mut rows = Vec::new();
    let mut checkpoints = Vec::new();
    let rows_ref = std::cell::RefCell::new(&mut rows);
    let report = scan_resumable::<Error>(
        inputs,
        options,
        resume,
        |b: FlowBatch| {
            rows_ref.borrow_mut().extend(b.rows());
            Ok(())
        },
        |c| {
            checkpoints.push((rows_ref.borrow().len(), c));
            Ok(())
        },
        |_| {},
    )?;
    Ok((rows, checkpoints, report))
}

fn sorted(mut rows: Vec<FlowRow>) -> Vec<FlowRow> {
    rows.sort();
    rows
}

#[test]
fn resuming_from_any_checkpoint_gives_the_uninterrupted_flows() {
    let inputs = inputs();
    for threads in [1, 2] {
        // Short timeouts, so flows end inside files as well as across them.
        let flow = FlowConfig { idle_timeout_ns: Some(5_000_000_000), max_flows: Some(640), ..FlowConfig::default() };
        let plain = ScanOptions { flow, threads, ..ScanOptions::default() };
        let options = ScanOptions { checkpoint_bytes: Some(1), ..plain.clone() };
        let (reference, none, reference_report) = run(&inputs, &plain, None).unwrap();
        assert!(none.is_empty(), "no checkpoints unless asked for");
        let (rows, checkpoints, report) = run(&inputs, &options, None).unwrap();
        // Checkpoints at file boundaries, spaced by STATE_SPACING times the last state's
        // size (at least one file apart), and the same flows as without them.
        eprintln!("{threads} threads: {} checkpoints over {} files", checkpoints.len(), inputs.files.len());
        assert!(checkpoints.len() >= 3 && checkpoints.len() < inputs.files.len(), "{}", checkpoints.len());
        let mut done_bytes = vec![0u64];
        for f in &inputs.files {
            done_bytes.push(done_bytes.last().unwrap() + f.len);
        }
        for pair in checkpoints.windows(2) {
            let read = done_bytes[pair[1].1.files_done] - done_bytes[pair[0].1.files_done];
            let state = pair[0].1.state.len() as u64;
            let one_file_less = done_bytes[pair[1].1.files_done - 1] - done_bytes[pair[0].1.files_done];
            let min = STATE_SPACING * state;
            assert!(read >= min && one_file_less < min.max(1), "checkpoint spacing");
        }
        assert_eq!(sorted(rows.clone()), sorted(reference));
        assert_eq!(report, reference_report);
        for (before, c) in &checkpoints {
            let (after, later, resumed) = run(&inputs, &options, Some(&c.state)).unwrap();
            let mut all = rows[..*before].to_vec();
            all.extend(after);
            assert_eq!(all, rows, "{threads} threads, resumed after file {}", c.files_done);
            assert_eq!(resumed, report, "the resumed run's report covers every file");
            assert_eq!(later.len(), checkpoints.iter().filter(|(_, l)| l.files_done > c.files_done).count());
        }
    }
}

#[test]
fn a_checkpoint_of_other_inputs_is_refused() {
    let inputs = inputs();
    let options = ScanOptions { checkpoint_bytes: Some(1), ..ScanOptions::default() };
    let (_, checkpoints, _) = run(&inputs, &options, None).unwrap();
    let state = &checkpoints.iter().find(|(_, c)| c.files_done >= 3).expect("a checkpoint after file 3").1.state;
    let mut other = inputs.clone();
    other.files.swap(1, 2);
    let Err(Error::InputsChanged { index: 1, .. }) = run(&other, &options, Some(state)) else {
        panic!("a reordered input list must be refused")
    };
    // A damaged state is an error, never a panic.
    for cut in [0, 8, 16, state.len() / 2, state.len() - 1] {
        assert!(matches!(run(&inputs, &options, Some(&state[..cut])), Err(e) if e.is_state()), "cut at {cut}");
    }
    let mut flipped = state.clone();
    flipped[0] ^= 1;
    assert!(matches!(run(&inputs, &options, Some(&flipped)), Err(Error::NotAState)));
}
