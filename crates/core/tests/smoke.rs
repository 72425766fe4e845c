mod common;

use flowmine_core::FlowConfig;

#[test]
fn threema_capture_conserves_packets() {
    let (flows, report) = common::scan_file(&common::capture("messaging", "threema.pcap"), FlowConfig::unbounded());
    common::assert_conservation(&flows, &report, "threema.pcap");
    assert_eq!(report.packets_total, 83);
    assert_eq!(flows.len(), 6);
}
