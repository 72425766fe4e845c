//! pcapng files read in pieces on several threads give exactly what one walk from the
//! start gives: random files of several sections in either byte order, interfaces
//! defined between packets, the three packet blocks, blocks that are stepped over, and
//! damage to read past, cut into pieces smaller than a block or of a few blocks.

mod common;

use std::path::Path;

use flowmine_core::capture::input::{InputFile, InputSet};
use flowmine_core::capture::pcapng::{EPB_TYPE, IDB_TYPE, PB_TYPE, SHB_TYPE, SPB_TYPE};
use flowmine_core::capture::{Format, Reader};
use flowmine_core::pieces::{Item, walk};
use flowmine_core::scan::{ScanOptions, ScanReport, scan_to_batch};
use flowmine_core::{FlowBatch, FlowConfig};
use proptest::prelude::*;

/// One block of a generated file.
#[derive(Debug, Clone)]
enum Block {
    /// A section header in little- or big-endian order.
    Section { big: bool },
    /// An interface: Ethernet or raw IP, `if_tsresol` (none: µs), `if_tsoffset`.
    Interface { raw_ip: bool, tsresol: Option<u8>, offset_sec: Option<i64> },
    /// An Enhanced (or obsolete) Packet Block on interface `iface`, `second` s after 2023.
    Packet { obsolete: bool, iface: u32, second: u32, port: u16 },
    /// A Simple Packet Block (interface 0, the last packet's time).
    Simple { port: u16 },
    /// A block that is stepped over: name resolution, statistics or custom.
    Other { block_type: u32, words: usize },
    /// Bytes that break the framing: a block whose length is no multiple of 4, or junk.
    Damage { junk: Vec<u8> },
}

fn block_strategy() -> impl Strategy<Value = Block> {
    prop_oneof![
        1 => any::<bool>().prop_map(|big| Block::Section { big }),
        2 => (any::<bool>(), prop::option::of(prop::sample::select(vec![3u8, 6, 9, 0x94])), prop::option::of(-5i64..5))
            .prop_map(|(raw_ip, tsresol, offset_sec)| Block::Interface { raw_ip, tsresol, offset_sec }),
        12 => (any::<bool>(), 0u32..4, 0u32..600, 1u16..12)
            .prop_map(|(obsolete, iface, second, port)| Block::Packet { obsolete: obsolete && port % 4 == 0, iface, second, port }),
        3 => (1u16..12).prop_map(|port| Block::Simple { port }),
        1 => (prop::sample::select(vec![4u32, 5, 0xbad]), 0usize..6).prop_map(|(block_type, words)| Block::Other { block_type, words }),
        1 => prop::collection::vec(any::<u8>(), 0..24).prop_map(|junk| Block::Damage { junk }),
    ]
}

/// An Ethernet/IPv4/UDP frame from port `n` to port 53, 60 bytes.
fn frame(n: u16) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 0, 0, 1]);
    f[30..34].copy_from_slice(&[10, 0, 0, 2]);
    f[34..36].copy_from_slice(&n.to_be_bytes());
    f[36..38].copy_from_slice(&53u16.to_be_bytes());
    f[38..40].copy_from_slice(&26u16.to_be_bytes());
    f
}

/// Writes blocks in the byte order of the section being written, knowing its interfaces.
struct Writer {
    out: Vec<u8>,
    big: bool,
    /// (raw IP, units per second, offset) of the section's interfaces.
    interfaces: Vec<(bool, u64, i64)>,
}

impl Writer {
    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big { v.to_be_bytes() } else { v.to_le_bytes() }
    }

    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big { v.to_be_bytes() } else { v.to_le_bytes() }
    }

    fn block(&mut self, block_type: u32, body: &[u8]) {
        let padded = body.len().next_multiple_of(4);
        let length = (padded + 12) as u32;
        let (t, l) = (self.u32(block_type), self.u32(length));
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(body);
        self.out.resize(self.out.len() + padded - body.len(), 0);
        self.out.extend_from_slice(&l);
    }

    fn data(&self, iface: u32, port: u16) -> Vec<u8> {
        let raw_ip = self.interfaces.get(iface as usize).is_some_and(|i| i.0);
        let f = frame(port);
        if raw_ip { f[14..].to_vec() } else { f }
    }

    fn write(&mut self, block: &Block) {
        match *block {
            Block::Section { big } => {
                self.big = big;
                self.interfaces.clear();
                let mut body = self.u32(0x1a2b_3c4d).to_vec();
                body.extend(self.u16(1));
                body.extend(self.u16(0));
                body.extend([0xff; 8]);
                self.block(SHB_TYPE, &body);
            }
            Block::Interface { raw_ip, tsresol, offset_sec } => {
                let mut body = self.u16(if raw_ip { 101 } else { 1 }).to_vec();
                body.extend([0, 0]);
                body.extend(self.u32(0));
                let mut units = 1_000_000;
                if let Some(r) = tsresol {
                    units = if r & 0x80 != 0 { 1 << (r & 0x7f) } else { 10u64.pow(u32::from(r)) };
                    body.extend(self.u16(9));
                    body.extend(self.u16(1));
                    body.extend([r, 0, 0, 0]);
                }
                if let Some(o) = offset_sec {
                    body.extend(self.u16(14));
                    body.extend(self.u16(8));
                    body.extend(if self.big { o.to_be_bytes() } else { o.to_le_bytes() });
                }
                body.extend([0; 4]);
                self.interfaces.push((raw_ip, units, offset_sec.unwrap_or(0)));
                self.block(IDB_TYPE, &body);
            }
            Block::Packet { obsolete, iface, second, port } => {
                let units = self.interfaces.get(iface as usize).map_or(1_000_000, |i| i.1);
                let raw = (1_700_000_000 + u64::from(second)) * units + u64::from(port);
                let data = self.data(iface, port);
                let mut body =
                    if obsolete { [self.u16(iface as u16), self.u16(0)].concat() } else { self.u32(iface).to_vec() };
                body.extend(self.u32((raw >> 32) as u32));
                body.extend(self.u32(raw as u32));
                body.extend(self.u32(data.len() as u32));
                body.extend(self.u32(data.len() as u32));
                body.extend(data);
                self.block(if obsolete { PB_TYPE } else { EPB_TYPE }, &body);
            }
            Block::Simple { port } => {
                let data = self.data(0, port);
                let mut body = self.u32(data.len() as u32).to_vec();
                body.extend(data);
                self.block(SPB_TYPE, &body);
            }
            Block::Other { block_type, words } => self.block(block_type, &vec![0x5a; 4 * words]),
            Block::Damage { ref junk } => {
                let t = self.u32(EPB_TYPE);
                self.out.extend_from_slice(&t);
                self.out.extend_from_slice(&self.u32(0x0d0d_0d0d));
                self.out.extend_from_slice(junk);
            }
        }
    }
}

/// A file of a section header and `blocks`.
fn pcapng(big: bool, blocks: &[Block]) -> Vec<u8> {
    let mut w = Writer { out: Vec::new(), big, interfaces: Vec::new() };
    w.write(&Block::Section { big });
    for b in blocks {
        w.write(b);
    }
    w.out
}

/// The items of the file read in pieces of `piece_bytes` on `threads` threads (none: no
/// pool), and how many pieces there were. The first pass places every piece exactly: no
/// seam fails, so no piece is walked again.
fn items(bytes: &[u8], piece_bytes: usize, threads: usize) -> (Vec<Item>, usize) {
    let pool = (threads > 0).then(|| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap());
    let mut items = Vec::new();
    let mut pieces = 0;
    let reader = Reader::new(bytes).unwrap();
    let walked_again = walk(bytes, reader, piece_bytes, pool.as_ref(), 0, |piece| {
        pieces += 1;
        items.extend(piece.items());
        Ok::<(), ()>(())
    })
    .unwrap();
    assert_eq!(walked_again, 0, "seams failed with pieces of {piece_bytes} on {threads} threads");
    (items, pieces)
}

fn scan(path: &Path, threads: usize, piece_bytes: usize) -> (FlowBatch, ScanReport) {
    let len = std::fs::metadata(path).unwrap().len();
    let inputs =
        InputSet { files: vec![InputFile { path: path.to_owned(), len, first_ts_ns: None }], ..Default::default() };
    let options = ScanOptions { flow: FlowConfig::default(), threads, piece_bytes, ..ScanOptions::default() };
    scan_to_batch(&inputs, &options).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn pieces_on_any_threads_give_the_walk_from_the_start(
        big in any::<bool>(),
        blocks in prop::collection::vec(block_strategy(), 1..80),
        piece_bytes in 1usize..400,
    ) {
        let bytes = pcapng(big, &blocks);
        let (expected, _) = items(&bytes, usize::MAX, 0);
        for threads in 0..=4 {
            let (got, _) = items(&bytes, piece_bytes, threads);
            prop_assert_eq!(&got, &expected, "{} threads, pieces of {}", threads, piece_bytes);
        }
    }

    #[test]
    fn pieces_give_the_same_flows_and_counters(
        big in any::<bool>(),
        blocks in prop::collection::vec(block_strategy(), 1..80),
        piece_bytes in 1usize..400,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("random.pcapng");
        std::fs::write(&path, pcapng(big, &blocks)).unwrap();
        let expected = scan(&path, 1, usize::MAX);
        for threads in 2..=4 {
            let got = scan(&path, threads, piece_bytes);
            prop_assert!(got.0 == expected.0, "rows differ with {} threads, pieces of {}", threads, piece_bytes);
            prop_assert_eq!(&got.1, &expected.1, "{} threads, pieces of {}", threads, piece_bytes);
        }
    }
}

/// Several sections of both byte orders, interfaces defined between packets, SPBs and
/// damage across many seams: every piece size from smaller than a block to the file.
#[test]
fn every_piece_size_gives_the_walk_from_the_start() {
    let mut blocks = Vec::new();
    for s in 0..6u16 {
        blocks.push(Block::Section { big: s % 2 == 1 });
        blocks.push(Block::Interface { raw_ip: false, tsresol: Some(9), offset_sec: None });
        for p in 0..12u16 {
            blocks.push(Block::Packet {
                obsolete: p == 3,
                iface: u32::from(p % 3),
                second: u32::from(s * 20 + p),
                port: p,
            });
            if p == 4 {
                // Interfaces 1 and 2 only from here on: earlier packets on them are unknown.
                blocks.push(Block::Interface { raw_ip: true, tsresol: None, offset_sec: Some(2) });
                blocks.push(Block::Interface { raw_ip: false, tsresol: Some(0x94), offset_sec: None });
            }
            if p % 5 == 2 {
                blocks.push(Block::Simple { port: p + 100 });
            }
        }
        if s == 2 {
            blocks.push(Block::Damage { junk: vec![1, 2, 3] });
        }
        blocks.push(Block::Other { block_type: 5, words: 3 });
    }
    let bytes = pcapng(false, &blocks);
    assert_eq!(Format::detect(&bytes), Some(Format::Pcapng));
    let (expected, _) = items(&bytes, usize::MAX, 0);
    let packets = expected.iter().filter(|i| matches!(i, Item::Packet(_))).count();
    let skips = expected.iter().filter(|i| matches!(i, Item::Skip { .. })).count();
    assert!(packets > 60 && skips > 5, "{packets} packets, {skips} skips");
    assert!(expected.iter().any(|i| matches!(i, Item::Damage { resumed_at: Some(_), .. })));
    let mut most_pieces = 0;
    for piece_bytes in (8..bytes.len() + 8).step_by(29) {
        for threads in [0, 1, 2, 4] {
            let (got, pieces) = items(&bytes, piece_bytes, threads);
            assert_eq!(got, expected, "{threads} threads, pieces of {piece_bytes}");
            most_pieces = most_pieces.max(pieces);
        }
    }
    assert!(most_pieces > 50, "{most_pieces}");
}

/// Every pcapng sample capture, damaged or not: the same flows and report in pieces.
#[test]
fn every_sample_pcapng_gives_the_same_flows_in_pieces() {
    let files: Vec<_> = flowmine_core::collect_inputs(&[common::testdata().join("pcaps")])
        .unwrap()
        .files
        .into_iter()
        .map(|f| f.path)
        .filter(|p| std::fs::read(p).is_ok_and(|b| Format::detect(&b) == Some(Format::Pcapng)))
        .collect();
    assert!(files.len() >= 20, "{} pcapng files", files.len());
    for path in &files {
        let expected = scan(path, 1, usize::MAX);
        for piece_bytes in [16, 100, 613, 4099] {
            for threads in [2, 4] {
                let got = scan(path, threads, piece_bytes);
                assert!(
                    got.0 == expected.0,
                    "{}: rows differ, {threads} threads, pieces of {piece_bytes}",
                    path.display()
                );
                assert_eq!(got.1, expected.1, "{}: {threads} threads, pieces of {piece_bytes}", path.display());
            }
        }
    }
}
