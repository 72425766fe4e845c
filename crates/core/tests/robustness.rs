//! Hostile input: whatever bytes the readers and the decoder are given, they answer with
//! a result or an error, never a panic, and a reader always comes to an end. Cutting a
//! real capture anywhere keeps every complete record before the cut.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flowmine_core::capture::{Damage, DamageKind, Event, Reader};
use flowmine_core::wire::decode::{decode, tunnel};
use flowmine_core::wire::linktype;
use flowmine_core::{FlowBatch, FlowConfig, SkipReason};
use proptest::prelude::*;

/// The smallest thing a reader can step over: a pcapng block (a pcap record header is 16).
const MIN_FRAMING: usize = 12;

/// What a reader made of a byte string.
#[derive(Debug, Default)]
struct Walk {
    opened: bool,
    packets: usize,
    skipped: usize,
    damage: Option<Damage>,
}

/// Opens `bytes` and iterates to the end, checking the reader's contract on the way:
/// the walk ends (each event consumes at least one block), offsets only grow, records
/// lie inside the input after their own offset, damage is the last thing said. Every
/// packet also goes through the decoder, which must not panic on it either.
fn walk(bytes: &[u8]) -> Walk {
    let mut walk = Walk::default();
    let Ok(mut reader) = Reader::new(bytes) else { return walk };
    walk.opened = true;
    let bound = bytes.len() / MIN_FRAMING + 1;
    let mut last_offset = None;
    let mut events = 0;
    while let Some(event) = reader.next_event() {
        events += 1;
        assert!(events <= bound, "more than {bound} events from {} bytes: the walk does not end", bytes.len());
        assert!(walk.damage.is_none(), "an event after damage");
        let offset = match event {
            Ok(Event::Packet(rec)) => {
                let start = rec.data.as_ptr() as usize - bytes.as_ptr() as usize;
                assert!(start as u64 > rec.offset && start + rec.data.len() <= bytes.len(), "record outside its block");
                let _ = decode(rec.link_type, rec.data, rec.orig_len);
                walk.packets += 1;
                rec.offset
            }
            Ok(Event::Skipped { offset, .. }) => {
                walk.skipped += 1;
                offset
            }
            Err(damage) => {
                let offset = damage.offset;
                walk.damage = Some(damage);
                offset
            }
        };
        assert!((offset as usize) < bytes.len(), "offset {offset} past the end ({})", bytes.len());
        assert!(last_offset < Some(offset), "offset {offset} after {last_offset:?}");
        last_offset = Some(offset);
    }
    // `None` is final.
    assert!(reader.next_event().is_none());
    walk
}

/// A byte order to write test files in (sections and files choose their own).
#[derive(Debug, Clone, Copy)]
struct Order {
    big: bool,
}

impl Order {
    fn u16(self, v: u16) -> [u8; 2] {
        if self.big { v.to_be_bytes() } else { v.to_le_bytes() }
    }

    fn u32(self, v: u32) -> [u8; 4] {
        if self.big { v.to_be_bytes() } else { v.to_le_bytes() }
    }
}

/// Classic pcap file headers of every flavour, in either byte order.
fn pcap_header() -> impl Strategy<Value = Vec<u8>> {
    let magic = prop::sample::select(vec![0xa1b2_c3d4u32, 0xa1b2_3c4d, 0xa1b2_cd34]);
    (magic, any::<bool>(), 0u16..6, any::<u32>(), prop::sample::select(linktype::SUPPORTED.to_vec())).prop_map(
        |(magic, big, minor, snaplen, link)| {
            let mut h = Vec::with_capacity(24);
            let o = Order { big };
            h.extend_from_slice(&o.u32(magic));
            h.extend_from_slice(&o.u16(2));
            h.extend_from_slice(&o.u16(minor));
            h.extend_from_slice(&[0; 8]);
            h.extend_from_slice(&o.u32(snaplen));
            h.extend_from_slice(&o.u32(u32::from(link)));
            h
        },
    )
}

/// A pcapng block in either byte order; `length` overrides the true total length.
fn pcapng_block(block_type: u32, body: &[u8], big: bool, length: Option<u32>) -> Vec<u8> {
    let o = Order { big };
    let padded = body.len().next_multiple_of(4);
    let true_len = (padded + 12) as u32;
    let mut b = Vec::with_capacity(true_len as usize);
    // The section header's type reads the same in both orders; its body starts with the
    // byte-order magic, which the caller writes in `body`.
    b.extend_from_slice(&o.u32(block_type));
    b.extend_from_slice(&o.u32(length.unwrap_or(true_len)));
    b.extend_from_slice(body);
    b.resize(8 + padded, 0);
    b.extend_from_slice(&o.u32(length.unwrap_or(true_len)));
    b
}

/// Byte-order magic, version `major`.0, section length unknown.
fn shb_body(big: bool, major: u16) -> Vec<u8> {
    let o = Order { big };
    let mut body = o.u32(0x1a2b_3c4d).to_vec();
    body.extend_from_slice(&o.u16(major));
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&[0xff; 8]);
    body
}

/// What one pcapng block will hold; the byte order is the section's, fixed when the file
/// is put together.
#[derive(Debug, Clone)]
struct BlockSpec {
    block_type: u32,
    /// For a section header: the byte order of the section it opens.
    big: bool,
    body: Vec<u8>,
    options: Vec<(u16, Vec<u8>)>,
    iface: u32,
    ts: u64,
    /// Replaces the true total length (damaged framing).
    length: Option<u32>,
    /// Cuts the body short, framing intact: blocks too small for their fixed fields.
    cut: Option<prop::sample::Index>,
}

fn block_spec() -> impl Strategy<Value = BlockSpec> {
    // Packet blocks most, then interfaces; sections, statistics, name resolution and
    // unknown types now and then.
    let block_type = prop::sample::select(vec![6u32, 6, 6, 6, 3, 3, 2, 1, 1, 0x0a0d_0d0a, 4, 5, 0x0bad, 0x8000_0001]);
    let length = prop_oneof![30 => Just(None), 1 => any::<u32>().prop_map(Some)];
    let option = (prop::sample::select(vec![0u16, 2, 9, 9, 14, 0xffff]), prop::collection::vec(any::<u8>(), 0..10));
    let cut = prop::option::weighted(0.15, any::<prop::sample::Index>());
    let body = prop::collection::vec(any::<u8>(), 0..100);
    let options = prop::collection::vec(option, 0..4);
    (block_type, any::<bool>(), body, options, any::<u32>(), any::<u64>(), length, cut).prop_map(
        |(block_type, big, body, options, iface, ts, length, cut)| BlockSpec {
            block_type,
            big,
            body,
            options,
            iface,
            ts,
            length,
            cut,
        },
    )
}

/// A pcapng file: a section header and an interface, then blocks of all kinds, with
/// later section headers switching the byte order.
fn pcapng_file() -> impl Strategy<Value = Vec<u8>> {
    (any::<bool>(), prop::collection::vec(block_spec(), 0..12)).prop_map(|(big, specs)| {
        let mut f = pcapng_block(0x0a0d_0d0a, &shb_body(big, 1), big, None);
        let mut big = big;
        // An Ethernet interface with snaplen 60, so packet blocks have one to refer to.
        let first_idb = BlockSpec {
            block_type: 1,
            big,
            body: vec![0; 60],
            options: vec![],
            iface: 1,
            ts: 0,
            length: None,
            cut: None,
        };
        for spec in std::iter::once(first_idb).chain(specs) {
            let o = Order { big };
            let mut body = spec.body;
            match spec.block_type {
                0x0a0d_0d0a => {
                    big = spec.big;
                    // Now and then a version no reader knows, in the middle of the file.
                    body = shb_body(big, if spec.iface % 16 == 0 { 2 } else { 1 });
                }
                1 => {
                    let mut idb = o.u16(linktype::SUPPORTED[spec.iface as usize % linktype::SUPPORTED.len()]).to_vec();
                    idb.extend_from_slice(&[0, 0]);
                    idb.extend_from_slice(&o.u32(body.len() as u32 % 80));
                    for (code, value) in spec.options {
                        idb.extend_from_slice(&o.u16(code));
                        idb.extend_from_slice(&o.u16(value.len() as u16));
                        idb.extend_from_slice(&value);
                        idb.resize(idb.len().next_multiple_of(4), 0);
                    }
                    body = idb;
                }
                2 | 6 if body.len() >= 20 => {
                    let iface = spec.iface % 3;
                    body[..4].copy_from_slice(&o.u32(iface));
                    if spec.block_type == 2 {
                        body[..2].copy_from_slice(&o.u16(iface as u16));
                    }
                    body[4..8].copy_from_slice(&o.u32((spec.ts >> 32) as u32));
                    body[8..12].copy_from_slice(&o.u32(spec.ts as u32));
                    // Mostly the captured length the body holds; sometimes more.
                    let caplen = (body.len() - 20) as u32 + (spec.iface >> 29);
                    body[12..16].copy_from_slice(&o.u32(caplen));
                    body[16..20].copy_from_slice(&o.u32(caplen + (spec.iface >> 24)));
                }
                _ => {}
            }
            if let Some(cut) = spec.cut {
                body.truncate(cut.index(body.len() + 1));
            }
            let block_big = if spec.block_type == 0x0a0d_0d0a { spec.big } else { big };
            f.extend(pcapng_block(spec.block_type, &body, block_big, spec.length));
        }
        f
    })
}

/// A pcap file whose records mostly frame right.
fn pcap_file() -> impl Strategy<Value = Vec<u8>> {
    let framed = prop::option::weighted(0.95, Just(()));
    let record = (any::<u64>(), framed, any::<u32>(), prop::collection::vec(any::<u8>(), 0..90));
    (pcap_header(), prop::collection::vec(record, 0..10)).prop_map(|(mut f, records)| {
        let big = f[0] == 0xa1;
        let modified = f[..4] == [0x34, 0xcd, 0xb2, 0xa1] || f[..4] == [0xa1, 0xb2, 0xcd, 0x34];
        let o = Order { big };
        for (ts, framed, orig, data) in records {
            f.extend_from_slice(&ts.to_le_bytes()); // random in either order
            let caplen = if framed.is_some() { data.len() as u32 } else { orig };
            f.extend_from_slice(&o.u32(caplen));
            f.extend_from_slice(&o.u32(orig));
            if modified {
                f.extend_from_slice(&[0; 8]);
            }
            f.extend_from_slice(&data);
        }
        f
    })
}

/// Every record of every edge capture: frames the decoder knows, to be mutated.
fn seed_frames() -> &'static [(u16, Vec<u8>, u32)] {
    static SEEDS: OnceLock<Vec<(u16, Vec<u8>, u32)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut seeds = Vec::new();
        for path in common::captures_in("edge") {
            let bytes = std::fs::read(&path).unwrap();
            let Ok(reader) = Reader::new(&bytes) else { continue };
            for event in reader {
                if let Ok(Event::Packet(rec)) = event {
                    seeds.push((rec.link_type, rec.data.to_vec(), rec.orig_len));
                }
            }
        }
        assert!(seeds.len() > 1000, "edge captures hold {} records", seeds.len());
        seeds
    })
}

/// A real frame with a few bytes changed, maybe cut short, maybe under another link type.
fn mutated_frame() -> impl Strategy<Value = (u16, Vec<u8>, u32)> {
    let n = seed_frames().len();
    let link = prop_oneof![
        8 => Just(None),
        1 => prop::sample::select(linktype::SUPPORTED.to_vec()).prop_map(Some),
        1 => any::<u16>().prop_map(Some),
    ];
    let orig = prop_oneof![8 => Just(None), 1 => any::<u32>().prop_map(Some)];
    let edits = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8);
    (0..n, link, orig, edits, prop::option::of(any::<prop::sample::Index>())).prop_map(|(i, link, orig, edits, cut)| {
        let (seed_link, frame, seed_orig) = &seed_frames()[i];
        let mut frame = frame.clone();
        if !frame.is_empty() {
            for (at, byte) in edits {
                let at = at.index(frame.len());
                frame[at] = byte;
            }
        }
        if let Some(cut) = cut {
            frame.truncate(cut.index(frame.len() + 1));
        }
        (link.unwrap_or(*seed_link), frame, orig.unwrap_or(*seed_orig))
    })
}

// Case counts: each case takes microseconds (the engine is optimised even in test
// builds), so these stay well under a second apiece.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn any_bytes_end_in_a_result(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        walk(&bytes);
    }

    #[test]
    fn random_bytes_after_a_valid_header_end_in_a_result(
        header in prop_oneof![pcap_header(), Just(pcapng_block(0x0a0d_0d0a, &shb_body(false, 1), false, None)),
                              Just(pcapng_block(0x0a0d_0d0a, &shb_body(true, 1), true, None))],
        tail in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut bytes = header;
        bytes.extend(tail);
        prop_assert!(walk(&bytes).opened);
    }

    #[test]
    fn pcap_records_end_in_a_result(bytes in pcap_file()) {
        prop_assert!(walk(&bytes).opened);
    }

    #[test]
    fn pcapng_blocks_end_in_a_result(bytes in pcapng_file()) {
        prop_assert!(walk(&bytes).opened);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8192))]

    #[test]
    fn decoder_takes_any_bytes_under_any_link_type(
        link in prop_oneof![prop::sample::select(linktype::SUPPORTED.to_vec()), any::<u16>()],
        frame in prop::collection::vec(any::<u8>(), 0..200),
        orig_len in any::<u32>(),
    ) {
        let _ = decode(link, &frame, orig_len);
    }

    #[test]
    fn decoder_takes_damaged_real_frames((link, frame, orig_len) in mutated_frame()) {
        if let Ok(meta) = decode(link, &frame, orig_len) {
            // What every decoded packet promises the flow layer.
            prop_assert!(meta.ip_version == 4 || meta.ip_version == 6);
            prop_assert!(meta.vlan < 4096, "a VLAN id is 12 bits");
            let known = tunnel::NAMES.iter().fold(0, |bits, (bit, _)| bits | bit);
            prop_assert_eq!(meta.tunnel & !known, 0);
            if meta.ip_version == 4 {
                prop_assert_eq!(&meta.src[4..], &[0; 12][..]);
                prop_assert_eq!(&meta.dst[4..], &[0; 12][..]);
            }
        }
    }
}

/// Small real captures covering the framings: pcap LE/BE, µs/ns, the modified variant,
/// pcapng LE/BE with several sections of either order, SPBs, several interfaces, and
/// packets the reader skips (impossible timestamps).
const CUT_CAPTURES: [(&str, &str); 9] = [
    ("edge", "fragmented-1.pcap"),
    ("edge", "tcp-handshake-nano.pcap"),
    ("edge", "modified-format.pcap"),
    ("edge", "pptp.pcap"),
    ("edge", "test202.pcapng"),
    ("edge", "test102.pcapng"),
    ("edge", "pcapng-multi-interface.pcapng"),
    ("edge", "dhcp_big_endian.pcapng"),
    ("messaging", "threema.pcap"),
];

/// The framing units of a capture found without the reader: (start, end) of each pcap
/// record or pcapng block after the file header, and the end of that header.
struct Framing {
    header_end: usize,
    units: Vec<(usize, usize)>,
    pcapng: bool,
    record_header_len: usize,
    big: bool,
}

fn framing(bytes: &[u8]) -> Framing {
    let word = |at: usize, big: bool| {
        let w: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        if big { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) }
    };
    let mut units = Vec::new();
    if bytes[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut big = false;
        let mut pos = 0;
        while pos < bytes.len() {
            if bytes[pos..pos + 4] == [0x0a, 0x0d, 0x0d, 0x0a] {
                big = bytes[pos + 8] == 0x1a;
            }
            let end = pos + word(pos + 4, big) as usize;
            units.push((pos, end));
            pos = end;
        }
        let header_end = units.remove(0).1;
        return Framing { header_end, units, pcapng: true, record_header_len: 0, big: false };
    }
    // Test captures here are pcap 2.4: lengths as written.
    let big = bytes[0] == 0xa1;
    let record_header_len = if bytes[..4] == [0x34, 0xcd, 0xb2, 0xa1] { 24 } else { 16 };
    let mut pos = 24;
    while pos < bytes.len() {
        let end = pos + record_header_len + word(pos + 8, big) as usize;
        units.push((pos, end));
        pos = end;
    }
    Framing { header_end: 24, units, pcapng: false, record_header_len, big }
}

/// What the cut of a file at `cut` must report as damage, by the independent framing.
fn expected_damage(bytes: &[u8], f: &Framing, cut: usize) -> Option<Damage> {
    if cut < f.header_end {
        let kind = if f.pcapng {
            match cut {
                0..4 => DamageKind::TruncatedFileHeader { have: cut, need: 24 },
                4..12 => DamageKind::TruncatedBlockHeader { have: cut },
                _ => DamageKind::BlockPastEnd { length: f.header_end as u32, available: cut as u64 },
            }
        } else {
            DamageKind::TruncatedFileHeader { have: cut, need: 24 }
        };
        return Some(Damage { offset: 0, kind });
    }
    let &(start, end) = f.units.iter().find(|&&(start, end)| start < cut && cut < end)?;
    let have = cut - start;
    let kind = match (f.pcapng, have) {
        (true, 0..12) => DamageKind::TruncatedBlockHeader { have },
        (true, _) => DamageKind::BlockPastEnd { length: (end - start) as u32, available: have as u64 },
        (false, h) if h < f.record_header_len => DamageKind::TruncatedRecordHeader { have, need: f.record_header_len },
        (false, _) => {
            let w: [u8; 4] = bytes[start + 8..start + 12].try_into().unwrap();
            let caplen = if f.big { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) };
            DamageKind::RecordPastEnd { caplen, available: (have - f.record_header_len) as u64 }
        }
    };
    Some(Damage { offset: start as u64, kind })
}

/// A scratch file that each cut overwrites.
struct Scratch {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        // In memory where the system offers it: thousands of cut files need no disk.
        let dir = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir()).unwrap();
        let path = dir.path().join("cut");
        Scratch { _dir: dir, path }
    }

    fn scan(&self, bytes: &[u8]) -> (FlowBatch, flowmine_core::FileReport) {
        std::fs::write(&self.path, bytes).unwrap();
        let (flows, report) = common::scan_file(&self.path, FlowConfig::unbounded());
        common::assert_conservation(&flows, &report, &self.path.display().to_string());
        (flows, report.files.into_iter().next().unwrap())
    }
}

fn cut_everywhere(path: &Path, scratch: &Scratch) {
    let bytes = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy();
    let f = framing(&bytes);
    assert_eq!(f.units.last().map(|u| u.1), Some(bytes.len()), "{name}: framing walk");
    // The whole file's events by offset, and whether each goes into a flow.
    let full: Vec<(u64, bool)> = Reader::new(&bytes)
        .unwrap()
        .map(|event| match event.unwrap() {
            Event::Packet(rec) => (rec.offset, decode(rec.link_type, rec.data, rec.orig_len).is_ok()),
            Event::Skipped { offset, .. } => (offset, false),
        })
        .collect();
    let mut at_boundary: Option<(usize, FlowBatch, flowmine_core::FileReport)> = None;
    for cut in 0..=bytes.len() {
        let (flows, report) = scratch.scan(&bytes[..cut]);
        let what = format!("{name} cut at {cut}");
        let damage = expected_damage(&bytes, &f, cut);
        assert_eq!(report.damage, damage, "{what}");
        if cut < f.header_end {
            assert_eq!((report.packets_total, flows.len()), (0, 0), "{what}");
            continue;
        }
        // Everything before the last unit boundary at or before the cut must be there.
        let boundary = damage.as_ref().map_or(cut, |d| d.offset as usize);
        let before: Vec<_> = full.iter().filter(|&&(offset, _)| (offset as usize) < boundary).collect();
        let in_flows = before.iter().filter(|&&&(_, ok)| ok).count() as u64;
        let cut_records = u64::from(damage.is_some());
        assert_eq!(report.packets_total, before.len() as u64 + cut_records, "{what}: packets");
        assert_eq!(report.packets_in_flows(), in_flows, "{what}: packets in flows");
        if damage.is_none() {
            at_boundary = Some((cut, flows, report));
            continue;
        }
        // Cut inside a unit: exactly the run of the file cut at the unit's start, plus
        // the unreadable rest counted as one corrupt record.
        let (b, b_flows, b_report) = at_boundary.as_ref().expect("a boundary precedes every cut unit");
        assert_eq!(*b, boundary, "{what}");
        assert_eq!(&flows, b_flows, "{what}: flows");
        let corrupt = |r: &flowmine_core::FileReport| r.skipped.get(SkipReason::CorruptRecord);
        assert_eq!(corrupt(&report), corrupt(b_report) + 1, "{what}: corrupt records");
    }
    let (b, _, last) = at_boundary.unwrap();
    assert_eq!((b, last.packets_total), (bytes.len(), full.len() as u64), "{name}: the uncut file");
}

#[test]
fn a_cut_anywhere_keeps_every_complete_record() {
    let scratch = Scratch::new();
    for (group, name) in CUT_CAPTURES {
        cut_everywhere(&common::capture(group, name), &scratch);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A real capture with bytes overwritten anywhere, headers and lengths included.
    #[test]
    fn damaged_real_captures_scan_to_the_end(
        which in 0..CUT_CAPTURES.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
    ) {
        let (group, name) = CUT_CAPTURES[which];
        let mut bytes = std::fs::read(common::capture(group, name)).unwrap();
        for (at, byte) in edits {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        walk(&bytes);
        Scratch::new().scan(&bytes);
    }
}

#[test]
fn pcap_record_sizes_bound_the_walk() {
    // 16-byte pcap record headers with caplen 0: the most events per byte a pcap can
    // hold, still inside the bound `walk` checks.
    let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes());
    for _ in 0..100 {
        f.extend_from_slice(&[0; 16]);
    }
    let w = walk(&f);
    assert_eq!((w.packets, w.skipped, w.damage), (100, 0, None));
}

/// Every sample capture (all groups) cut at many offsets — every offset of a small file —
/// gives exactly the flows of the file cut at the last record boundary before the cut,
/// plus one corrupt record when the cut falls inside a record. Record boundaries come
/// from the uncut file's own walk; captures that are damaged uncut are left to the
/// tests above.
#[test]
fn every_sample_capture_cut_anywhere_keeps_the_flows_before_the_cut() {
    let scratch = Scratch::new();
    let prefix = Scratch::new();
    let mut cuts_checked = 0;
    for group in ["messaging", "genres", "edge"] {
        for path in common::captures_in(group) {
            let bytes = std::fs::read(&path).unwrap();
            let Ok(mut reader) = Reader::new(&bytes) else { continue };
            let mut boundaries = vec![reader.position()];
            let mut damaged = false;
            while let Some(event) = reader.next_event() {
                damaged |= event.is_err();
                boundaries.push(reader.position());
            }
            if damaged || boundaries.len() < 2 {
                continue;
            }
            if bytes[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
                // Blocks that carry no packet (interfaces, statistics) end at boundaries too.
                let f = framing(&bytes);
                boundaries = std::iter::once(f.header_end).chain(f.units.iter().map(|u| u.1)).collect();
            }
            let header_end = boundaries[0];
            let cuts: Vec<usize> = if bytes.len() <= 4096 {
                (header_end..=bytes.len()).collect()
            } else {
                // Spread over the file, each nudged off any regular stride.
                (0..150).map(|i| header_end + (bytes.len() - header_end) * i / 150 + (i * 7919) % 97).collect()
            };
            for cut in cuts.into_iter().filter(|&c| c <= bytes.len()) {
                let boundary = *boundaries.iter().rev().find(|&&b| b <= cut).expect("the header is a boundary");
                let (flows, report) = scratch.scan(&bytes[..cut]);
                let (expected, clean) = prefix.scan(&bytes[..boundary]);
                let what = format!("{} cut at {cut} (boundary {boundary})", path.display());
                assert_eq!(flows, expected, "{what}");
                let inside = u64::from(cut > boundary);
                assert_eq!(report.packets_total, clean.packets_total + inside, "{what}");
                assert_eq!(report.damage.is_some(), cut > boundary, "{what}");
                cuts_checked += 1;
            }
        }
    }
    assert!(cuts_checked > 40_000, "{cuts_checked} cuts");
    eprintln!("{cuts_checked} cuts checked");
}
