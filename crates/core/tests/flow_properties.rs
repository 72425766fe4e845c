//! Invariants of the flow table on random packet sequences.

use ahash::RandomState;
use flowmine_core::codec::{Dec, Enc};
use flowmine_core::flow::packet::key_hasher;
use flowmine_core::flow::sharded::Routed;
use flowmine_core::flow::{EndReason, FlowBatch, FlowConfig, FlowRow, FlowTable, PacketLimit, ShardedTable};
use flowmine_core::wire::decode::{Fragment, FragmentId, PacketMeta, tunnel};
use flowmine_core::wire::protocol::{PROTOCOL_ICMP, PROTOCOL_TCP, PROTOCOL_UDP};
use proptest::prelude::*;

/// A packet among a small pool of hosts and ports, so keys collide often: IPv4 or IPv6,
/// untagged or in one of two VLANs, plain or tunnelled, whole or a fragment of one of two
/// datagrams per host pair (later fragments carry no ports, as decoded).
fn packet() -> impl Strategy<Value = (u64, PacketMeta)> {
    (
        (0u64..3_000_000_000, 0u8..4, 0u8..4, 0u16..3, 0u16..3),
        prop::sample::select(vec![PROTOCOL_TCP, PROTOCOL_UDP, PROTOCOL_ICMP]),
        any::<u8>(),
        40u32..1500,
        prop::sample::select(vec![4u8, 6]),
        prop::sample::select(vec![0u16, 0, 7, 4094]),
        prop::sample::select(vec![0u8, 0, tunnel::GRE, tunnel::VXLAN | tunnel::IP_IN_IP]),
        (0u8..8, 0u32..2),
    )
        .prop_map(|((gap, a, b, pa, pb), protocol, flags, len, ip_version, vlan, tunnel, (fragment, id))| {
            let ports = protocol != PROTOCOL_ICMP;
            let mut m = PacketMeta {
                ip_version,
                protocol,
                src: [0; 16],
                dst: [0; 16],
                src_port: if ports { 1000 + pa } else { 0 },
                dst_port: if ports { 1000 + pb } else { 0 },
                vlan,
                ip_len: len,
                l4_payload_len: len - 40,
                tcp_flags: if protocol == PROTOCOL_TCP { flags } else { 0 },
                tcp_window: 100,
                fragment: Fragment::None,
                tunnel,
            };
            let at = if ip_version == 4 { 0 } else { 15 };
            m.src[at] = a;
            m.dst[at] = b;
            let id = FragmentId {
                ip_version,
                protocol: if ip_version == 4 { protocol } else { 0 },
                src: m.src,
                dst: m.dst,
                id,
                vlan,
            };
            match fragment {
                6 => m.fragment = Fragment::First(id),
                7 => {
                    m.fragment = Fragment::Later(id);
                    (m.src_port, m.dst_port, m.tcp_flags, m.tcp_window) = (0, 0, 0, 0);
                }
                _ => {}
            }
            (gap, m)
        })
}

fn config() -> impl Strategy<Value = FlowConfig> {
    let timeout = prop::option::of(1u64..5_000_000_000);
    (timeout.clone(), timeout, any::<bool>(), 0u64..2_000_000_000).prop_map(|(idle, active, tcp_close, linger)| {
        FlowConfig {
            idle_timeout_ns: idle,
            active_timeout_ns: active,
            tcp_close,
            tcp_close_linger_ns: linger,
            packets: PacketLimit::All,
            max_flows: None,
            ..FlowConfig::default()
        }
    })
}

proptest! {
    // Each case starts shard threads: fewer cases, still every thread count and window.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sharded_table_gives_the_sequential_flows(
        config in config(),
        packets in prop::collection::vec(packet(), 0..300),
        threads in 1usize..5,
        window in 1usize..64,
    ) {
        let reference = run(&config, &packets);
        let sharded = run_sharded(&config, &packets, threads, window);
        prop_assert_eq!(sorted_rows(&sharded), sorted_rows(&reference));
    }

    #[test]
    fn sharded_rows_come_in_the_same_order_for_any_thread_count(
        config in config(),
        packets in prop::collection::vec(packet(), 0..300),
        window in 1usize..64,
    ) {
        let one = run_sharded(&config, &packets, 1, window);
        prop_assert_eq!(&one, &run_sharded(&config, &packets, 2, window));
        prop_assert_eq!(&one, &run_sharded(&config, &packets, 3, window));
        prop_assert_eq!(&one, &run_sharded(&config, &packets, 4, window));
    }
}

/// The packets at their times: `gap` nanoseconds after the previous one.
fn timed(packets: &[(u64, PacketMeta)]) -> impl Iterator<Item = (i64, PacketMeta)> + '_ {
    packets.iter().scan(1_600_000_000_000_000_000i64, |ts, &(gap, meta)| {
        *ts += gap as i64;
        Some((*ts, meta))
    })
}

/// The reference: the sequential flow table.
fn run(config: &FlowConfig, packets: &[(u64, PacketMeta)]) -> FlowBatch {
    run_with(FlowTable::new(config.clone()), packets)
}

fn run_with(mut table: FlowTable, packets: &[(u64, PacketMeta)]) -> FlowBatch {
    let mut out = FlowBatch::new();
    for (ts, meta) in timed(packets) {
        table.add(meta, ts, meta.ip_len + 14, 0, &mut out);
    }
    table.finish(&mut out);
    out
}

fn run_sharded(config: &FlowConfig, packets: &[(u64, PacketMeta)], threads: usize, window: usize) -> FlowBatch {
    let mut table = ShardedTable::with_window(config.clone(), threads, window);
    let mut batches = Vec::new();
    for (ts, meta) in timed(packets) {
        table.add(meta, ts, meta.ip_len + 14, 0, &mut batches);
    }
    table.finish(&mut batches);
    joined(&batches)
}

proptest! {
    #[test]
    fn every_packet_lands_in_exactly_one_flow(config in config(), packets in prop::collection::vec(packet(), 0..300)) {
        let out = run(&config, &packets);
        let counted: u64 = out.fwd_packets.iter().chain(&out.bwd_packets).sum();
        prop_assert_eq!(counted, packets.len() as u64);
        prop_assert_eq!(out.pkt_ts_ns.len(), packets.len());
        let bytes: u64 = out.fwd_bytes.iter().chain(&out.bwd_bytes).sum();
        prop_assert_eq!(bytes, packets.iter().map(|(_, m)| u64::from(m.ip_len)).sum::<u64>());
        for i in 0..out.len() {
            let range = out.packet_range(i);
            let dirs = &out.pkt_dir[range.clone()];
            let fwd = dirs.iter().filter(|&&d| d == 0).count() as u64;
            prop_assert_eq!(fwd, out.fwd_packets[i]);
            prop_assert_eq!(dirs.len() as u64 - fwd, out.bwd_packets[i]);
            // The first packet defines the initiator.
            prop_assert_eq!(dirs.first().copied(), Some(0));
            let ts = &out.pkt_ts_ns[range];
            prop_assert_eq!(ts.first().copied(), Some(out.first_ts_ns[i]));
            prop_assert_eq!(ts.last().copied(), Some(out.last_ts_ns[i]));
            if let Some(idle) = config.idle_timeout_ns {
                prop_assert!(ts.windows(2).all(|w| ((w[1] - w[0]) as u64) < idle), "no idle gap inside a flow");
            }
            if let Some(active) = config.active_timeout_ns {
                prop_assert!(((out.last_ts_ns[i] - out.first_ts_ns[i]) as u64) < active, "no flow outlasts the active timeout");
            }
        }
    }

    #[test]
    fn output_does_not_depend_on_hash_seeds(
        config in config(),
        packets in prop::collection::vec(packet(), 0..200),
        seeds in any::<[u64; 4]>(),
    ) {
        // A table with other seeds places keys elsewhere in its hash table: same input,
        // same rows in the same order as with the fixed seeds.
        let [a, b, c, d] = seeds;
        let other = FlowTable::with_hasher(config.clone(), RandomState::with_seeds(a, b, c, d));
        prop_assert_eq!(run(&config, &packets), run_with(other, &packets));
    }
}

/// Every row of a batch with its per-packet arrays, sorted: row order is not part of the
/// comparison (the sequential table writes flows as they end, the sharded one per window).
fn sorted_rows(b: &FlowBatch) -> Vec<FlowRow> {
    let mut rows = b.rows();
    rows.sort();
    rows
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Under a cap the sequential table never holds more open flows than allowed, and
    /// every packet still lands in exactly one flow.
    #[test]
    fn capped_table_stays_under_its_cap(
        config in config(),
        max in 1usize..6,
        packets in prop::collection::vec(packet(), 0..300),
    ) {
        let config = FlowConfig { max_flows: Some(max), ..config };
        let mut table = FlowTable::new(config);
        let mut out = FlowBatch::new();
        for (ts, meta) in timed(&packets) {
            table.add(meta, ts, meta.ip_len + 14, 0, &mut out);
            prop_assert!(table.open_flows() <= max);
        }
        table.finish(&mut out);
        let counted: u64 = out.fwd_packets.iter().chain(&out.bwd_packets).sum();
        prop_assert_eq!(counted, packets.len() as u64);
        let evicted = out.end_reason.iter().filter(|&&r| r == EndReason::Evicted).count() as u64;
        prop_assert_eq!(evicted, table.flows_evicted());
    }

    /// The sharded table splits the cap over its shards: what it evicts is the same for any
    /// thread count and window, and so are the rows in order for any thread count.
    #[test]
    fn capped_sharded_rows_do_not_depend_on_threads(
        config in config(),
        max in 1usize..200,
        packets in prop::collection::vec(packet(), 0..300),
        window in 1usize..64,
    ) {
        let config = FlowConfig { max_flows: Some(max), ..config };
        let one = run_sharded(&config, &packets, 1, window);
        prop_assert_eq!(&one, &run_sharded(&config, &packets, 2, window));
        prop_assert_eq!(&one, &run_sharded(&config, &packets, 3, window));
        // Another window hands rows out at other points, so only their order may differ.
        prop_assert_eq!(sorted_rows(&one), sorted_rows(&run_sharded(&config, &packets, 2, 1 + window / 2)));
        let counted: u64 = one.fwd_packets.iter().chain(&one.bwd_packets).sum();
        prop_assert_eq!(counted, packets.len() as u64);
    }
}

/// A port scan: 100 000 SYNs from one host to distinct ports, 10 µs apart. With a cap of
/// 6 400 open flows (100 per shard) the table evicts the oldest in bulk; every probe
/// still becomes its own flow, and the count of evictions is exact.
#[test]
fn a_port_scan_is_held_to_the_cap() {
    let config = FlowConfig { max_flows: Some(6_400), ..FlowConfig::default() };
    let mut table = ShardedTable::new(config, 2);
    let mut batches = Vec::new();
    let n = 100_000u32;
    for i in 0..n {
        let mut m = PacketMeta {
            ip_version: 4,
            protocol: 6,
            src: [0; 16],
            dst: [0; 16],
            src_port: 40_000,
            dst_port: 0,
            vlan: 0,
            ip_len: 40,
            l4_payload_len: 0,
            tcp_flags: 0x02,
            tcp_window: 1024,
            fragment: Fragment::None,
            tunnel: 0,
        };
        m.src[..4].copy_from_slice(&[10, 0, 0, 1]);
        m.dst[..4].copy_from_slice(&[10, 0, (i >> 16) as u8, 2]);
        m.dst_port = i as u16;
        table.add(m, 1_600_000_000_000_000_000 + i64::from(i) * 10_000, 54, 0, &mut batches);
    }
    table.finish(&mut batches);
    let rows: usize = batches.iter().map(|b| b.len()).sum();
    assert_eq!(rows, n as usize, "one flow per probe");
    let evicted: usize = batches.iter().flat_map(|b| &b.end_reason).filter(|&&r| r == EndReason::Evicted).count();
    assert_eq!(evicted as u64, table.flows_evicted());
    // Only the flows still open at the end escape eviction: at most the cap.
    let at_end: usize = batches.iter().flat_map(|b| &b.end_reason).filter(|&&r| r == EndReason::EndOfInput).count();
    assert_eq!(evicted + at_end, n as usize);
    assert!(at_end <= 6_400 && at_end > 6_400 / 2, "{at_end} open at the end");
}

/// Packet times that may go backwards: each packet comes `gap` minus 1.5 s after the one
/// before.
fn jittered(packets: &[(u64, PacketMeta)]) -> Vec<(i64, PacketMeta)> {
    timed(packets).enumerate().map(|(i, (ts, meta))| (ts - 1_500_000_000 * i as i64, meta)).collect()
}

/// The sharded table fed stretches of input cut before the packets at `cuts`, as the
/// threads that decode a capture in pieces hand them over.
fn run_in_stretches(
    config: &FlowConfig,
    packets: &[(i64, PacketMeta)],
    threads: usize,
    window: usize,
    cuts: &[usize],
) -> FlowBatch {
    let hasher = key_hasher();
    let mut table = ShardedTable::with_window(config.clone(), threads, window);
    let mut batches = Vec::new();
    let mut stretch = Routed::new();
    for (i, &(ts, meta)) in packets.iter().enumerate() {
        if cuts.contains(&i) {
            table.submit(std::mem::take(&mut stretch), &mut batches);
        }
        stretch.push_meta(&meta, ts, meta.ip_len + 14, 0, &hasher);
    }
    table.submit(stretch, &mut batches);
    table.finish(&mut batches);
    joined(&batches)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Where the input is cut into stretches changes nothing: not the flows (those of the
    /// sequential table, whose clock decides where sweeps fall, even when time goes
    /// backwards), nor the order of the rows, for any thread count.
    #[test]
    fn stretches_give_the_rows_of_one_stream(
        config in config(),
        packets in prop::collection::vec(packet(), 0..300),
        window in 1usize..64,
        cuts in prop::collection::vec(0usize..300, 0..8),
    ) {
        let packets = jittered(&packets);
        let mut table = FlowTable::new(config.clone());
        let mut reference = FlowBatch::new();
        for &(ts, meta) in &packets {
            table.add(meta, ts, meta.ip_len + 14, 0, &mut reference);
        }
        table.finish(&mut reference);
        let whole = run_in_stretches(&config, &packets, 1, window, &[]);
        prop_assert_eq!(sorted_rows(&whole), sorted_rows(&reference));
        for threads in [1, 2, 3] {
            prop_assert_eq!(&run_in_stretches(&config, &packets, threads, window, &cuts), &whole);
        }
    }
}

/// A sharded run saved after `cut` packets and restored into a new table (a checkpoint).
fn run_resumed(config: &FlowConfig, packets: &[(u64, PacketMeta)], threads: usize, cut: usize) -> FlowBatch {
    let mut table = ShardedTable::new(config.clone(), threads);
    let mut batches = Vec::new();
    let mut timed = timed(packets);
    for (ts, meta) in timed.by_ref().take(cut) {
        table.add(meta, ts, meta.ip_len + 14, 0, &mut batches);
    }
    let mut state = Enc::default();
    table.save(&mut batches, &mut state);
    assert_eq!(table.spill_error(), None);
    let mut table = ShardedTable::restore(config.clone(), threads, &mut Dec::new(&state.0)).expect("its own state");
    for (ts, meta) in timed {
        table.add(meta, ts, meta.ip_len + 14, 0, &mut batches);
    }
    table.finish(&mut batches);
    assert_eq!(table.spill_error(), None);
    joined(&batches)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Flows that spill their entries after 1 to 4 of them (instead of thousands) give
    /// exactly the flows, in the same order, of a run that never spills: sequential,
    /// sharded on any thread count, and saved and restored mid-way.
    #[test]
    fn spilling_never_changes_the_flows(
        config in config(),
        packets in prop::collection::vec(packet(), 0..300),
        threads in 1usize..5,
        window in 1usize..64,
        spill_after in 1usize..5,
        cut in 0usize..300,
    ) {
        let spilling = FlowConfig { spill_after, ..config.clone() };
        prop_assert_eq!(&run(&spilling, &packets), &run(&config, &packets));
        let whole = run_sharded(&config, &packets, threads, window);
        prop_assert_eq!(&run_sharded(&spilling, &packets, threads, window), &whole);
        let resumed = run_resumed(&spilling, &packets, threads, cut.min(packets.len()));
        prop_assert_eq!(resumed, run_resumed(&config, &packets, threads, cut.min(packets.len())));
    }
}

#[test]
fn a_long_flow_spills_and_comes_back_whole() {
    // One UDP key, 10 000 packets, spilled every 7: the row keeps every entry, in order.
    let mut meta = PacketMeta {
        ip_version: 4,
        protocol: PROTOCOL_UDP,
        src: [0; 16],
        dst: [0; 16],
        src_port: 5000,
        dst_port: 6000,
        vlan: 0,
        ip_len: 100,
        l4_payload_len: 72,
        tcp_flags: 0,
        tcp_window: 0,
        fragment: Fragment::None,
        tunnel: 0,
    };
    meta.src[0] = 10;
    meta.dst[0] = 20;
    let packets: Vec<(u64, PacketMeta)> =
        (0..10_000u32).map(|i| (1_000_000, PacketMeta { ip_len: 100 + i % 1000, ..meta })).collect();
    let config = FlowConfig { spill_after: 7, ..FlowConfig::unbounded() };
    let mut table = FlowTable::new(config);
    let out = run_with_table(&mut table, &packets);
    assert_eq!(table.spill_error(), None);
    assert_eq!(out.len(), 1);
    assert_eq!(out.pkt_ip_len, (0..10_000u32).map(|i| 100 + i % 1000).collect::<Vec<_>>());
    assert_eq!(out, run(&FlowConfig::unbounded(), &packets));
}

fn run_with_table(table: &mut FlowTable, packets: &[(u64, PacketMeta)]) -> FlowBatch {
    let mut out = FlowBatch::new();
    for (ts, meta) in timed(packets) {
        table.add(meta, ts, meta.ip_len + 14, 0, &mut out);
    }
    table.finish(&mut out);
    out
}

/// The rows of `batches`, one after another.
fn joined(batches: &[FlowBatch]) -> FlowBatch {
    let mut out = FlowBatch::new();
    for b in batches {
        out.extend_from(b);
    }
    out
}
