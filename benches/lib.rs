//! Inputs shared by the criterion benches.

use flowmine_core::capture::{Event, Reader};
use flowmine_core::wire::decode::{PacketMeta, decode};

/// The bench capture: `FLOWMINE_BENCH_PCAP` if set (e.g. a generated header-only capture),
/// else the largest sample capture in `testdata/`.
pub fn sample_capture() -> Vec<u8> {
    let path = std::env::var_os("FLOWMINE_BENCH_PCAP").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/pcaps/genres/netflix.pcap")
    });
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every packet of `bytes` decoded, with its timestamp and wire length.
pub fn decoded_packets(bytes: &[u8]) -> Vec<(PacketMeta, i64, u32)> {
    let mut reader = Reader::new(bytes).expect("bench capture reads");
    let mut out = Vec::new();
    while let Some(Ok(event)) = reader.next_event() {
        if let Event::Packet(r) = event
            && let Ok(meta) = decode(r.link_type, r.data, r.orig_len)
        {
            out.push((meta, r.ts_ns, r.orig_len));
        }
    }
    out
}
