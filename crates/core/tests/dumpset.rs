//! n2disk dump sets: the files directory, the timeline tree of symlinks, files still being
//! written, and index files beside the captures.

mod common;

use std::os::unix::fs::symlink;
use std::path::PathBuf;

use flowmine_core::collect_inputs;

#[test]
fn dump_set_files_are_read_once_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("dump");
    // Two real captures of different times, named as n2disk names its files.
    let early = common::capture("messaging", "line.pcap"); // clock near epoch 0
    let late = common::capture("messaging", "threema.pcap");
    let early_dir = root.join("600");
    let late_dir = root.join("1500000000");
    std::fs::create_dir_all(&early_dir).unwrap();
    std::fs::create_dir_all(&late_dir).unwrap();
    let early_file = early_dir.join("600.123456.pcap");
    let late_file = late_dir.join("1500000000.654321.pcap");
    std::fs::copy(&early, &early_file).unwrap();
    std::fs::copy(&late, &late_file).unwrap();
    std::fs::write(late_dir.join("1500000000.654321.pcap.idx"), b"index, not a capture").unwrap();
    std::fs::copy(&late, late_dir.join("1500000060.000000.pcap.tmp")).unwrap();
    // The timeline tree: a relative link and an absolute link written on the capture host.
    let minute = root.join("timeline/2017/07/14/02/40");
    std::fs::create_dir_all(&minute).unwrap();
    symlink("../../../../../../1500000000/1500000000.654321.pcap", minute.join("1500000000.654321.pcap")).unwrap();
    symlink("/storage/n2disk/600/600.123456.pcap", minute.join("600.123456.pcap")).unwrap();
    symlink("/storage/n2disk/gone/missing.pcap", minute.join("missing.pcap")).unwrap();

    let set = collect_inputs(std::slice::from_ref(&root)).unwrap();
    let files: Vec<PathBuf> = set.files.iter().map(|f| std::fs::canonicalize(&f.path).unwrap()).collect();
    assert_eq!(files, vec![std::fs::canonicalize(&early_file).unwrap(), std::fs::canonicalize(&late_file).unwrap()]);
    assert_eq!(set.in_progress, vec![late_dir.join("1500000060.000000.pcap.tmp")]);
    assert!(set.ignored.contains(&late_dir.join("1500000000.654321.pcap.idx")));
    assert!(set.ignored.contains(&minute.join("missing.pcap")));
    assert_eq!(set.ignored.len(), 2, "{:?}", set.ignored);

    // The packets of both files, each read once.
    let (flows, report) = common::scan_files(
        &set.files.iter().map(|f| f.path.clone()).collect::<Vec<_>>(),
        flowmine_core::FlowConfig::unbounded(),
    );
    common::assert_conservation(&flows, &report, "dump set");
    assert_eq!(report.packets_total, 290 + 83);
}
