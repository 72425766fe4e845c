//! `flowmine slice` through the binary: exit status and messages on input it cannot use.

use std::path::Path;
use std::process::{Command, Output};

use flowmine::core::capture::writer::{DEFAULT_SNAPLEN, PcapWriter};

fn flowmine(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowmine")).args(args).output().expect("flowmine runs")
}

/// A pcap of `link_type` holding one 60-byte frame of an IPv4 UDP packet behind Ethernet.
fn capture(path: &Path, link_type: u16) {
    let mut frame = vec![0u8; 12];
    frame.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    frame.extend_from_slice(&[0x13, 0x88, 0x00, 0x35, 0, 8, 0, 0]);
    frame.resize(60, 0);
    let mut w = PcapWriter::new(Vec::new(), link_type, DEFAULT_SNAPLEN).unwrap();
    w.write(1_000_000_000, 60, &frame).unwrap();
    std::fs::write(path, w.finish().unwrap()).unwrap();
}

#[test]
fn slice_exits_3_on_an_unsupported_link_type_as_flows_does() {
    let dir = tempfile::tempdir().unwrap();
    let (eth, wifi) = (dir.path().join("eth.pcap"), dir.path().join("wifi.pcap"));
    capture(&eth, 1);
    capture(&wifi, 105);
    let sliced = dir.path().join("sliced.pcap");

    let ok = flowmine(&["slice".as_ref(), &eth, "--out".as_ref(), &sliced]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    // File header, one record header, IPv4 + UDP headers.
    assert_eq!(std::fs::metadata(&sliced).unwrap().len(), 24 + 16 + 28);

    let out = flowmine(&["slice".as_ref(), &eth, &wifi, "--out".as_ref(), &sliced, "--overwrite".as_ref()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("{}: offset 24: link type 105 is not supported (1 packet skipped)", wifi.display())),
        "{stderr}"
    );
    let flows = flowmine(&["flows".as_ref(), &wifi, "--out".as_ref(), &dir.path().join("store")]);
    assert_eq!(flows.status.code(), Some(3), "{}", String::from_utf8_lossy(&flows.stderr));
}
