//! Inputs as a capture appliance leaves them: files that grow while they are read, and
//! paths with spaces and bytes that are not UTF-8.

mod common;

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use common::capture;
use flowmine_core::scan::{ScanOptions, SizeChange, scan, scan_to_batch};
use flowmine_core::{FlowBatch, InputFile, InputSet, collect_inputs};

#[test]
fn a_file_that_grows_while_it_is_read_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("still-writing.pcap");
    let original = std::fs::read(capture("messaging", "threema.pcap")).unwrap();
    std::fs::write(&path, &original).unwrap();
    let len = original.len() as u64;
    let inputs =
        InputSet { files: vec![InputFile { path: path.clone(), len, first_ts_ns: None }], ..Default::default() };
    // The appliance appends a record just as the reader reaches the end of the file.
    let mut appended = false;
    let report = scan(
        &inputs,
        &ScanOptions::default(),
        |_: FlowBatch| Ok::<(), flowmine_core::Error>(()),
        |p| {
            if p.bytes_done == len && !appended {
                let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
                f.write_all(&original[24..24 + 16 + 60]).unwrap();
                appended = true;
            }
        },
    )
    .unwrap();
    let file = &report.files[0];
    assert_eq!(file.size_changed, Some(SizeChange { listed: len, read: len, after: Some(len + 76) }));
    assert_eq!(file.packets_total, 83, "the bytes read are all used");
    assert!(file.has_unusable_input());
    let (offset, what) = file.problems().pop().unwrap();
    assert_eq!(offset, len);
    assert!(
        what.starts_with(&format!(
            "the file changed while it was read ({len} bytes when listed, {len} read, {} bytes now)",
            len + 76
        )),
        "{what}"
    );
}

#[test]
fn a_file_that_grew_after_it_was_listed_is_reported() {
    let path = capture("messaging", "threema.pcap");
    let len = std::fs::metadata(&path).unwrap().len();
    let inputs = InputSet { files: vec![InputFile { path, len: len - 100, first_ts_ns: None }], ..Default::default() };
    let (_, report) = scan_to_batch(&inputs, &ScanOptions::default()).unwrap();
    assert_eq!(report.files[0].size_changed, Some(SizeChange { listed: len - 100, read: len, after: Some(len) }));
}

#[test]
fn paths_with_spaces_and_non_utf8_bytes_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join(OsStr::from_bytes(b"dump \xff\xfe set"));
    std::fs::create_dir(&sub).unwrap();
    let name = sub.join(OsStr::from_bytes(b"caf\xe9 1.pcap"));
    std::fs::copy(capture("messaging", "threema.pcap"), &name).unwrap();
    let inputs = collect_inputs(&[dir.path().to_owned()]).unwrap();
    assert_eq!(inputs.files.len(), 1);
    assert_eq!(inputs.files[0].path, name);
    let (flows, report) = scan_to_batch(&inputs, &ScanOptions::default()).unwrap();
    assert_eq!((report.packets_total, flows.len()), (83, 6));
    assert!(report.files[0].problems().is_empty());
}
