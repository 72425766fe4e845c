//! The worked examples of `formats/*.md`, checked against the code.
//!
//! Each example's bytes are embedded here verbatim (the comments are the document's
//! annotations) and are also read back from the document's hex dump, so the documents,
//! this test and the code cannot drift apart unnoticed. Further tests check the rules the
//! documents state, on small variations of the same bytes.

use std::path::{Path, PathBuf};

use flowmine_core::capture::endian::Endian;
use flowmine_core::capture::pcap::{MAX_CAPLEN, Variant};
use flowmine_core::capture::pcapng::Interface;
use flowmine_core::capture::{Damage, Event, Format, Reader, Record};
use flowmine_core::scan::{ScanOptions, ScanReport, scan_to_batch};
use flowmine_core::wire::decode::{Fragment, PacketMeta, decode};
use flowmine_core::{EndReason, FlowBatch, SkipReason, collect_inputs};

/// formats/pcap.md, "Worked example": a 1-record little-endian µs pcap file.
#[rustfmt::skip]
const PCAP_EXAMPLE: [u8; 86] = [
    0xd4, 0xc3, 0xb2, 0xa1,                          // 0000  magic a1b2c3d4 stored little-endian: µs, little-endian
    0x02, 0x00,                                      // 0004  version_major 2
    0x04, 0x00,                                      // 0006  version_minor 4
    0x00, 0x00, 0x00, 0x00,                          // 0008  thiszone 0 (ignored)
    0x00, 0x00, 0x00, 0x00,                          // 000c  sigfigs 0 (ignored)
    0xff, 0xff, 0x00, 0x00,                          // 0010  snaplen 65535
    0x01, 0x00, 0x00, 0x00,                          // 0014  linktype 1 (Ethernet)
    0x00, 0xf1, 0x53, 0x65,                          // 0018  ts_sec 0x6553f100 = 1700000000 (2023-11-14T22:13:20Z)
    0x40, 0xe2, 0x01, 0x00,                          // 001c  ts_frac 0x0001e240 = 123456 µs
    0x2e, 0x00, 0x00, 0x00,                          // 0020  caplen 46
    0x2e, 0x00, 0x00, 0x00,                          // 0024  orig_len 46
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // 0028  Ethernet destination 02:00:00:00:00:02
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // 002e  Ethernet source 02:00:00:00:00:01
    0x08, 0x00,                                      // 0034  EtherType 0x0800 (IPv4)
    0x45, 0x00, 0x00, 0x20,                          // 0036  IPv4, header 20 bytes; total length 32
    0x00, 0x01, 0x00, 0x00,                          // 003a  identification 1; not a fragment
    0x40, 0x11, 0x8e, 0x95,                          // 003e  TTL 64; protocol 17 (UDP); header checksum
    0xc0, 0x00, 0x02, 0x01,                          // 0042  source 192.0.2.1
    0xc6, 0x33, 0x64, 0x02,                          // 0046  destination 198.51.100.2
    0xc3, 0x50, 0x00, 0x07,                          // 004a  UDP source port 50000, destination port 7
    0x00, 0x0c, 0x00, 0x00,                          // 004e  UDP length 12; checksum 0 (none)
    0x70, 0x69, 0x6e, 0x67,                          // 0052  payload "ping"
];

/// formats/pcapng.md, "Worked example": SHB + IDB (if_tsresol 9) + one EPB.
#[rustfmt::skip]
const PCAPNG_EXAMPLE: [u8; 140] = [
    0x0a, 0x0d, 0x0d, 0x0a,                          // 0000  SHB: block type
    0x1c, 0x00, 0x00, 0x00,                          // 0004  block total length 28
    0x4d, 0x3c, 0x2b, 0x1a,                          // 0008  byte-order magic: little-endian section
    0x01, 0x00, 0x00, 0x00,                          // 000c  version 1.0
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // 0010  section length -1 (not given)
    0x1c, 0x00, 0x00, 0x00,                          // 0018  block total length 28
    0x01, 0x00, 0x00, 0x00,                          // 001c  IDB: block type 1
    0x20, 0x00, 0x00, 0x00,                          // 0020  block total length 32
    0x01, 0x00,                                      // 0024  link type 1 (Ethernet)
    0x00, 0x00,                                      // 0026  reserved
    0xff, 0xff, 0x00, 0x00,                          // 0028  snaplen 65535
    0x09, 0x00, 0x01, 0x00,                          // 002c  option if_tsresol (code 9), length 1
    0x09, 0x00, 0x00, 0x00,                          // 0030  value 9: units of 10^-9 s; 3 bytes of padding
    0x00, 0x00, 0x00, 0x00,                          // 0034  opt_endofopt
    0x20, 0x00, 0x00, 0x00,                          // 0038  block total length 32
    0x06, 0x00, 0x00, 0x00,                          // 003c  EPB: block type 6
    0x50, 0x00, 0x00, 0x00,                          // 0040  block total length 80
    0x00, 0x00, 0x00, 0x00,                          // 0044  interface id 0
    0xfe, 0x9c, 0x97, 0x17,                          // 0048  timestamp high 0x17979cfe
    0x34, 0x5b, 0x9d, 0x3d,                          // 004c  timestamp low 0x3d9d5b34
    0x2e, 0x00, 0x00, 0x00,                          // 0050  captured length 46
    0x2e, 0x00, 0x00, 0x00,                          // 0054  original length 46
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // 0058  Ethernet destination 02:00:00:00:00:01
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // 005e  Ethernet source 02:00:00:00:00:02
    0x08, 0x00,                                      // 0064  EtherType 0x0800 (IPv4)
    0x45, 0x00, 0x00, 0x20,                          // 0066  IPv4, header 20 bytes; total length 32
    0x00, 0x01, 0x00, 0x00,                          // 006a  identification 1; not a fragment
    0x40, 0x11, 0x8e, 0x95,                          // 006e  TTL 64; protocol 17 (UDP); header checksum
    0xc6, 0x33, 0x64, 0x02,                          // 0072  source 198.51.100.2
    0xc0, 0x00, 0x02, 0x01,                          // 0076  destination 192.0.2.1
    0x00, 0x07, 0xc3, 0x50,                          // 007a  UDP source port 7, destination port 50000
    0x00, 0x0c, 0x00, 0x00,                          // 007e  UDP length 12; checksum 0 (none)
    0x70, 0x69, 0x6e, 0x67,                          // 0082  payload "ping"
    0x00, 0x00,                                      // 0086  padding to a multiple of 4
    0x50, 0x00, 0x00, 0x00,                          // 0088  block total length 80
];

/// formats/decoding.md, "Worked example": an 802.1Q-tagged TCP frame cut after the fixed TCP header.
#[rustfmt::skip]
const DECODING_EXAMPLE: [u8; 58] = [
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01,              // 0000  Ethernet destination
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02,              // 0006  Ethernet source
    0x81, 0x00, 0x00, 0x64,                          // 000c  802.1Q tag: TPID 0x8100; priority 0, VLAN id 100
    0x08, 0x00,                                      // 0010  EtherType 0x0800 (IPv4)
    0x45, 0x00, 0x00, 0x98,                          // 0012  IPv4, header 20 bytes; total length 152
    0x12, 0x34, 0x40, 0x00,                          // 0016  identification 0x1234; don't fragment, offset 0
    0x40, 0x06, 0x3b, 0xf5,                          // 001a  TTL 64; protocol 6 (TCP); header checksum
    0xc6, 0x33, 0x64, 0x02,                          // 001e  source 198.51.100.2
    0xc0, 0x00, 0x02, 0x01,                          // 0022  destination 192.0.2.1
    0x01, 0xbb, 0xc7, 0x38,                          // 0026  TCP source port 443, destination port 51000
    0x00, 0x00, 0x03, 0xe8,                          // 002a  sequence number 1000
    0x00, 0x00, 0x07, 0xd0,                          // 002e  acknowledgement number 2000
    0x80, 0x18, 0x01, 0xf6,                          // 0032  data offset 8 (32-byte header); flags 0x18 (PSH, ACK); window 502
    0x00, 0x00, 0x00, 0x00,                          // 0036  checksum; urgent pointer
];

// ---------------------------------------------------------------------------------------
// Reading the documents
// ---------------------------------------------------------------------------------------

fn formats_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../formats")
}

fn read_doc(name: &str) -> String {
    let path = formats_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bytes of the hex dump in the first fenced block after the line `heading` of
/// `formats/<doc>`. A dump line is `OFFSET  BYTES  ANNOTATION`: a 4-digit hex offset, the
/// bytes as 2-digit hex separated by single spaces, then two or more spaces and free text.
/// Lines that do not start with a 4-digit hex offset (the column titles) are passed over.
fn doc_dump(doc: &str, heading: &str) -> Vec<u8> {
    let text = read_doc(doc);
    let mut lines = text.lines().skip_while(|l| *l != heading);
    assert!(lines.next().is_some(), "{doc}: heading {heading:?} not found");
    let mut lines = lines.skip_while(|l| !l.starts_with("```"));
    assert!(lines.next().is_some(), "{doc}: no fenced block after {heading:?}");
    let mut bytes = Vec::new();
    for line in lines.take_while(|l| !l.starts_with("```")) {
        let Some(offset) = line.get(..4).filter(|o| o.bytes().all(|b| b.is_ascii_hexdigit())) else {
            continue;
        };
        let offset = usize::from_str_radix(offset, 16).unwrap();
        assert_eq!(offset, bytes.len(), "{doc}: offset of line {line:?}");
        let rest = line[4..].trim_start();
        let hex = rest.split("  ").next().unwrap();
        for token in hex.split(' ') {
            assert_eq!(token.len(), 2, "{doc}: byte {token:?} in line {line:?}");
            bytes.push(u8::from_str_radix(token, 16).unwrap_or_else(|_| panic!("{doc}: {line:?}")));
        }
    }
    assert!(!bytes.is_empty(), "{doc}: empty dump after {heading:?}");
    bytes
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn v4(a: u8, b: u8, c: u8, d: u8) -> [u8; 16] {
    let mut x = [0; 16];
    x[..4].copy_from_slice(&[a, b, c, d]);
    x
}

const CLIENT: [u8; 4] = [192, 0, 2, 1];
const SERVER: [u8; 4] = [198, 51, 100, 2];

/// The request frame inside the pcap example (after the 24 + 16 header bytes).
fn request_frame() -> &'static [u8] {
    &PCAP_EXAMPLE[40..]
}

/// The reply frame inside the pcapng example (after the EPB's fixed fields).
fn reply_frame() -> &'static [u8] {
    &PCAPNG_EXAMPLE[0x58..0x58 + 46]
}

fn only_packet(bytes: &[u8]) -> Record<'_> {
    let mut reader = Reader::new(bytes).expect("file header");
    let Some(Ok(Event::Packet(rec))) = reader.next_event() else { panic!("no packet") };
    assert!(reader.next_event().is_none(), "more than one event");
    rec
}

/// Every event of a file: packets as Ok(record), skips as Err(reason); damage panics.
fn events(bytes: &[u8]) -> Vec<Result<Record<'_>, (SkipReason, u64)>> {
    let reader = Reader::new(bytes).expect("file header");
    reader
        .map(|e| match e.expect("no damage") {
            Event::Packet(r) => Ok(r),
            Event::Skipped { reason, offset } => Err((reason, offset)),
        })
        .collect()
}

/// The damage a file ends with, after `packets` good packets.
fn damage_after(bytes: &[u8], packets: usize) -> Damage {
    let mut reader = Reader::new(bytes).expect("file header");
    for _ in 0..packets {
        assert!(matches!(reader.next_event(), Some(Ok(Event::Packet(_)))));
    }
    let Some(Err(d)) = reader.next_event() else { panic!("no damage") };
    assert!(reader.next_event().is_none(), "reading goes on after damage");
    d
}

fn header_damage(bytes: &[u8]) -> Damage {
    match Reader::new(bytes) {
        Err(d) => d,
        Ok(_) => panic!("file header accepted"),
    }
}

// ---------------------------------------------------------------------------------------
// pcap.md
// ---------------------------------------------------------------------------------------

#[test]
fn pcap_example_is_the_documented_dump() {
    assert_eq!(doc_dump("pcap.md", "## Worked example"), PCAP_EXAMPLE);
}

#[test]
fn pcap_example_reads_as_documented() {
    let reader = Reader::new(&PCAP_EXAMPLE).unwrap();
    assert_eq!(reader.format(), Format::Pcap);
    let Reader::Pcap(r) = &reader else { panic!("not pcap") };
    let info = r.info();
    assert_eq!((info.variant, info.endian, info.version), (Variant::Micro, Endian::Little, (2, 4)));
    assert_eq!((info.snaplen, info.link_type), (65535, 1));

    let rec = only_packet(&PCAP_EXAMPLE);
    assert_eq!(rec.ts_ns, 1_700_000_000_123_456_000);
    assert_eq!((rec.link_type, rec.offset, rec.data.len(), rec.orig_len), (1, 24, 46, 46));
    assert_eq!(rec.data, request_frame());

    let m = decode(rec.link_type, rec.data, rec.orig_len).unwrap();
    assert_eq!((m.ip_version, m.protocol), (4, 17));
    assert_eq!((m.src, m.src_port, m.dst, m.dst_port), (v4(192, 0, 2, 1), 50000, v4(198, 51, 100, 2), 7));
    assert_eq!((m.vlan, m.ip_len, m.l4_payload_len, m.tunnel), (0, 32, 4, 0));
    assert_eq!((m.tcp_flags, m.tcp_window, m.fragment), (0, 0, Fragment::None));
}

/// The example with every header field in big-endian order.
fn pcap_example_big_endian() -> Vec<u8> {
    let mut f = PCAP_EXAMPLE.to_vec();
    for (at, len) in [(0, 4), (4, 2), (6, 2), (8, 4), (12, 4), (16, 4), (20, 4), (24, 4), (28, 4), (32, 4), (36, 4)] {
        f[at..at + len].reverse();
    }
    f
}

#[test]
fn pcap_big_endian_twin_reads_identically() {
    let f = pcap_example_big_endian();
    // The bytes pcap.md quotes for the big-endian twin.
    assert_eq!(f[..8], [0xa1, 0xb2, 0xc3, 0xd4, 0x00, 0x02, 0x00, 0x04]);
    assert_eq!(f[24..40], [0x65, 0x53, 0xf1, 0x00, 0x00, 0x01, 0xe2, 0x40, 0, 0, 0, 0x2e, 0, 0, 0, 0x2e]);
    let Reader::Pcap(r) = Reader::new(&f).unwrap() else { panic!("not pcap") };
    assert_eq!(r.info().endian, Endian::Big);
    assert_eq!(only_packet(&f), only_packet(&PCAP_EXAMPLE));
}

#[test]
fn pcap_nanosecond_and_modified_magics() {
    let mut ns = PCAP_EXAMPLE.to_vec();
    ns[..4].copy_from_slice(&[0x4d, 0x3c, 0xb2, 0xa1]);
    let Reader::Pcap(r) = Reader::new(&ns).unwrap() else { panic!("not pcap") };
    assert_eq!(r.info().variant, Variant::Nano);
    assert_eq!(only_packet(&ns).ts_ns, 1_700_000_000_000_123_456);

    // Modified (Kuznetzov): 8 more record-header bytes, ignored; µs timestamps.
    let mut modified = PCAP_EXAMPLE[..40].to_vec();
    modified[..4].copy_from_slice(&[0x34, 0xcd, 0xb2, 0xa1]);
    modified.extend_from_slice(&[7, 0, 0, 0, 0x08, 0x00, 0, 0]);
    modified.extend_from_slice(request_frame());
    let Reader::Pcap(r) = Reader::new(&modified).unwrap() else { panic!("not pcap") };
    assert_eq!(r.info().variant, Variant::Modified);
    let rec = only_packet(&modified);
    assert_eq!((rec.ts_ns, rec.data, rec.orig_len), (1_700_000_000_123_456_000, request_frame(), 46));

    // A fraction of a second or more carries into the seconds.
    let mut carry = PCAP_EXAMPLE.to_vec();
    carry[28..32].copy_from_slice(&1_500_000u32.to_le_bytes());
    assert_eq!(only_packet(&carry).ts_ns, 1_700_000_001_500_000_000);
}

#[test]
fn pcap_length_rules() {
    let set_lengths = |minor: u8, caplen: u32, orig_len: u32| {
        let mut f = PCAP_EXAMPLE.to_vec();
        f[6] = minor;
        f[32..36].copy_from_slice(&caplen.to_le_bytes());
        f[36..40].copy_from_slice(&orig_len.to_le_bytes());
        f
    };
    // caplen < orig_len is normal.
    let f = set_lengths(4, 46, 1500);
    let rec = only_packet(&f);
    assert_eq!((rec.data.len(), rec.orig_len), (46, 1500));
    // Before 2.3 the fields are always exchanged: offset 8 holds orig_len, offset 12 caplen.
    for minor in [0, 2] {
        let f = set_lengths(minor, 1500, 46);
        let rec = only_packet(&f);
        assert_eq!((rec.data.len(), rec.orig_len), (46, 1500));
    }
    // At 2.3 they are exchanged only when the first is the larger.
    for (first, second) in [(1500, 46), (46, 1500)] {
        let f = set_lengths(3, first, second);
        let rec = only_packet(&f);
        assert_eq!((rec.data.len(), rec.orig_len), (46, 1500));
    }
    // From 2.4 on they are kept as written, even caplen > orig_len.
    let f = set_lengths(4, 46, 40);
    let rec = only_packet(&f);
    assert_eq!((rec.data.len(), rec.orig_len), (46, 40));
    // The link type is the low 16 bits of the header field.
    let mut f = PCAP_EXAMPLE.to_vec();
    f[20..24].copy_from_slice(&0x1004_0001u32.to_le_bytes());
    assert_eq!(only_packet(&f).link_type, 1);
}

#[test]
fn pcap_damage_as_documented() {
    // "Cut the file one byte short": damage at the record, with the documented message.
    let d = damage_after(&PCAP_EXAMPLE[..85], 0);
    assert_eq!(d.offset, 24);
    assert_eq!(d.kind.to_string(), "record of 46 captured bytes runs past the end of the file (45 bytes left)");

    let d = damage_after(&PCAP_EXAMPLE[..30], 0);
    assert_eq!((d.offset, d.kind.to_string()), (24, "record header cut short: 6 of 16 bytes at end of file".into()));

    let mut huge = PCAP_EXAMPLE.to_vec();
    huge[32..36].copy_from_slice(&(MAX_CAPLEN + 1).to_le_bytes());
    huge[36..40].copy_from_slice(&(MAX_CAPLEN + 1).to_le_bytes());
    assert_eq!(MAX_CAPLEN, 268_435_456);
    let d = damage_after(&huge, 0);
    assert_eq!((d.offset, d.kind.to_string()), (24, "implausible captured length 268435457 (limit 268435456)".into()));

    // Records before the damage are kept: two good records, then a cut one.
    let mut three = PCAP_EXAMPLE.to_vec();
    three.extend_from_slice(&PCAP_EXAMPLE[24..]);
    three.extend_from_slice(&PCAP_EXAMPLE[24..85]);
    assert_eq!(damage_after(&three, 2).offset, 24 + 2 * 62);

    // File header damage: nothing is read.
    let d = header_damage(&PCAP_EXAMPLE[..23]);
    assert_eq!((d.offset, d.kind.to_string()), (0, "file header cut short: 23 of 24 bytes".into()));
    let mut v3 = PCAP_EXAMPLE.to_vec();
    v3[4] = 3;
    let d = header_damage(&v3);
    assert_eq!((d.offset, d.kind.to_string()), (4, "unsupported pcap version 3.4".into()));

    // A file that ends right after its header, or after a complete record, is not damaged.
    assert!(Reader::new(&PCAP_EXAMPLE[..24]).unwrap().next_event().is_none());
}

// ---------------------------------------------------------------------------------------
// pcapng.md
// ---------------------------------------------------------------------------------------

/// A small pcapng writer for variations on the example.
struct Png {
    big: bool,
    bytes: Vec<u8>,
}

impl Png {
    fn new(big: bool) -> Png {
        let mut p = Png { big, bytes: Vec::new() };
        p.shb();
        p
    }

    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big { v.to_be_bytes() } else { v.to_le_bytes() }
    }

    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big { v.to_be_bytes() } else { v.to_le_bytes() }
    }

    fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Png {
        let mut body = body.to_vec();
        body.resize(body.len().next_multiple_of(4), 0);
        let len = (body.len() + 12) as u32;
        let (t, l) = (self.u32(block_type), self.u32(len));
        self.bytes.extend_from_slice(&t);
        self.bytes.extend_from_slice(&l);
        self.bytes.extend_from_slice(&body);
        self.bytes.extend_from_slice(&l);
        self
    }

    fn shb(&mut self) -> &mut Png {
        let mut body = self.u32(0x1a2b_3c4d).to_vec();
        body.extend_from_slice(&self.u16(1));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&[0xff; 8]);
        self.block(0x0a0d_0d0a, &body)
    }

    /// An IDB with the given (code, value) options and opt_endofopt.
    fn idb(&mut self, link_type: u16, snaplen: u32, options: &[(u16, &[u8])]) -> &mut Png {
        let mut body = self.u16(link_type).to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.u32(snaplen));
        for &(code, value) in options {
            body.extend_from_slice(&self.u16(code));
            body.extend_from_slice(&self.u16(value.len() as u16));
            body.extend_from_slice(value);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        body.extend_from_slice(&[0; 4]);
        self.block(1, &body)
    }

    fn epb(&mut self, iface: u32, ts: u64, caplen: u32, orig_len: u32, data: &[u8]) -> &mut Png {
        let mut body = Vec::new();
        for v in [iface, (ts >> 32) as u32, ts as u32, caplen, orig_len] {
            body.extend_from_slice(&self.u32(v));
        }
        body.extend_from_slice(data);
        self.block(6, &body)
    }

    fn spb(&mut self, orig_len: u32, data: &[u8]) -> &mut Png {
        let mut body = self.u32(orig_len).to_vec();
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    /// Obsolete Packet Block: interface id u16, drops u16, then like an EPB.
    fn pb(&mut self, iface: u16, ts: u64, caplen: u32, orig_len: u32, data: &[u8]) -> &mut Png {
        let mut body = self.u16(iface).to_vec();
        body.extend_from_slice(&self.u16(0));
        for v in [(ts >> 32) as u32, ts as u32, caplen, orig_len] {
            body.extend_from_slice(&self.u32(v));
        }
        body.extend_from_slice(data);
        self.block(2, &body)
    }
}

const EXAMPLE_TS_NS: i64 = 1_700_000_000_125_000_500;

#[test]
fn pcapng_example_is_the_documented_dump() {
    assert_eq!(doc_dump("pcapng.md", "## Worked example"), PCAPNG_EXAMPLE);
}

#[test]
fn pcapng_example_reads_as_documented() {
    let mut reader = Reader::new(&PCAPNG_EXAMPLE).unwrap();
    assert_eq!(reader.format(), Format::Pcapng);
    let Some(Ok(Event::Packet(rec))) = reader.next_event() else { panic!("no packet") };
    assert_eq!(rec.ts_ns, EXAMPLE_TS_NS);
    assert_eq!(0x1797_9cfe_3d9d_5b34_u64, EXAMPLE_TS_NS as u64);
    assert_eq!((rec.link_type, rec.offset, rec.data.len(), rec.orig_len), (1, 60, 46, 46));
    assert_eq!(rec.data, reply_frame());
    let Reader::Pcapng(r) = &reader else { panic!("not pcapng") };
    let expected = Interface { link_type: 1, snaplen: 65535, units_per_sec: 1_000_000_000, offset_sec: 0 };
    assert_eq!(r.interfaces(), [expected]);
    assert!(reader.next_event().is_none());

    let m = decode(rec.link_type, rec.data, rec.orig_len).unwrap();
    assert_eq!((m.ip_version, m.protocol), (4, 17));
    assert_eq!((m.src, m.src_port, m.dst, m.dst_port), (v4(198, 51, 100, 2), 7, v4(192, 0, 2, 1), 50000));
    assert_eq!((m.vlan, m.ip_len, m.l4_payload_len, m.tunnel), (0, 32, 4, 0));
}

#[test]
fn pcapng_microsecond_resolution_makes_the_example_a_bad_timestamp() {
    let mut f = PCAPNG_EXAMPLE.to_vec();
    assert_eq!(f[0x30], 9);
    f[0x30] = 6;
    assert_eq!(events(&f), [Err((SkipReason::BadTimestamp, 60))]);
}

#[test]
fn pcapng_builder_reproduces_the_example_and_its_big_endian_twin() {
    let ts = EXAMPLE_TS_NS as u64;
    let le = Png::new(false).idb(1, 65535, &[(9, &[9])]).epb(0, ts, 46, 46, reply_frame()).bytes.clone();
    assert_eq!(le, PCAPNG_EXAMPLE);
    let be = Png::new(true).idb(1, 65535, &[(9, &[9])]).epb(0, ts, 46, 46, reply_frame()).bytes.clone();
    assert_eq!(be[8..12], [0x1a, 0x2b, 0x3c, 0x4d]);
    assert_eq!(only_packet(&be), only_packet(&PCAPNG_EXAMPLE));
}

#[test]
fn pcapng_timestamp_resolution_and_offset() {
    let frame = reply_frame();
    let ts_of = |options: &[(u16, &[u8])], raw: u64| {
        let f = Png::new(false).idb(1, 0, options).epb(0, raw, 46, 46, frame).bytes.clone();
        only_packet(&f).ts_ns
    };
    // Default: microseconds.
    assert_eq!(ts_of(&[], 1_500_000), 1_500_000_000);
    // Binary: 0x80 | 10 → units of 2^-10 s.
    assert_eq!(ts_of(&[(9, &[0x8a])], 2560), 2_500_000_000);
    // Units finer than 1 ns round down.
    assert_eq!(ts_of(&[(9, &[12])], 1_999), 1);
    // if_tsoffset: signed seconds added.
    assert_eq!(ts_of(&[(14, &100i64.to_le_bytes())], 1_000_000), 101_000_000_000);
    assert_eq!(ts_of(&[(9, &[9]), (14, &(-1i64).to_le_bytes())], 1_500_000_000), 500_000_000);
    // A resolution whose 10^n does not fit in 128 bits is ignored (µs stays).
    assert_eq!(ts_of(&[(9, &[39])], 7), 7_000);
}

#[test]
fn pcapng_packet_rules() {
    let frame = reply_frame();
    let ts = EXAMPLE_TS_NS as u64;
    let mut f = Png::new(false);
    f.idb(1, 40, &[(9, &[9])]);
    f.spb(46, frame); // before any EPB: timestamp 0, cut to the snaplen 40
    f.epb(0, ts, 46, 46, frame); // the example packet
    f.epb(1, ts, 46, 46, frame); // unknown interface
    f.epb(0, ts, 200, 200, frame); // captured length beyond the block
    f.block(4, &[0; 8]); // a name resolution block: stepped over
    f.spb(46, frame); // last timestamp of the section; cut to the snaplen 40
    f.pb(0, ts + 1, 46, 60, frame); // obsolete Packet Block
    let offsets: Vec<u64> = {
        let mut at = 0u64;
        let mut v = Vec::new();
        let b = &f.bytes;
        while (at as usize) < b.len() {
            v.push(at);
            at += u64::from(u32::from_le_bytes(b[at as usize + 4..at as usize + 8].try_into().unwrap()));
        }
        v
    };
    let ev = events(&f.bytes);
    assert_eq!(ev.len(), 6);
    let Ok(spb) = ev[0] else { panic!() };
    assert_eq!((spb.ts_ns, spb.data, spb.orig_len, spb.offset), (0, &frame[..40], 46, offsets[2]));
    let Ok(epb) = ev[1] else { panic!() };
    assert_eq!((epb.ts_ns, epb.data.len()), (EXAMPLE_TS_NS, 46));
    assert_eq!(ev[2], Err((SkipReason::UnknownInterface, offsets[4])));
    assert_eq!(ev[3], Err((SkipReason::CorruptRecord, offsets[5])));
    let Ok(spb) = ev[4] else { panic!() };
    assert_eq!((spb.ts_ns, spb.data.len()), (EXAMPLE_TS_NS, 40));
    let Ok(pb) = ev[5] else { panic!() };
    assert_eq!((pb.ts_ns, pb.data.len(), pb.orig_len, pb.link_type), (EXAMPLE_TS_NS + 1, 46, 60, 1));

    // The SPB block must hold min(orig_len, snaplen) bytes; else corrupt_record, read on.
    let f = Png::new(false).idb(1, 0, &[]).spb(100, frame).spb(46, frame).bytes.clone();
    let ev = events(&f);
    assert!(matches!(ev[..], [Err((SkipReason::CorruptRecord, 52)), Ok(_)]), "{ev:?}");
    let f = Png::new(false).idb(1, 0, &[]).spb(46, &[]).bytes.clone();
    assert!(matches!(events(&f)[..], [Err((SkipReason::CorruptRecord, 52))]));

    // A new section forgets the interfaces, not the last timestamp.
    let mut f = Png::new(false);
    f.idb(1, 0, &[]).epb(0, 5, 46, 46, frame).shb().epb(0, 5, 46, 46, frame).idb(1, 0, &[]).spb(46, frame);
    let ev = events(&f.bytes);
    assert!(matches!(ev[0], Ok(Record { ts_ns: 5_000, .. })));
    assert!(matches!(ev[1], Err((SkipReason::UnknownInterface, _))));
    assert!(matches!(ev[2], Ok(Record { ts_ns: 5_000, .. })));
    // An SPB in a section without interface.
    let f = Png::new(false).spb(46, frame).bytes.clone();
    assert!(matches!(events(&f)[..], [Err((SkipReason::UnknownInterface, 28))]));
}

#[test]
fn pcapng_framing_damage_stops_the_file() {
    let good = PCAPNG_EXAMPLE.to_vec();
    let with_tail = |tail: &[u8]| {
        let mut f = good.clone();
        f.extend_from_slice(tail);
        f
    };
    let msg = |f: &[u8]| {
        let d = damage_after(f, 1);
        (d.offset, d.kind.to_string())
    };
    assert_eq!(
        msg(&with_tail(&[6, 0, 0, 0, 12, 0])),
        (140, "block header cut short: 6 of 12 bytes at end of file".into())
    );
    assert_eq!(
        msg(&with_tail(&[6, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
        (140, "block total length 13 is invalid (must be a multiple of 4, at least 12)".into())
    );
    assert_eq!(
        msg(&with_tail(&[6, 0, 0, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
        (140, "block of 32 bytes runs past the end of the file (16 bytes left)".into())
    );
    assert_eq!(
        msg(&with_tail(&[5, 0, 0, 0, 12, 0, 0, 0, 16, 0, 0, 0])),
        (140, "block trailer length 16 differs from header length 12".into())
    );
    let mut bad_bom = good.clone();
    bad_bom.extend_from_slice(&good[..28]);
    bad_bom[140 + 8] = 0;
    assert_eq!(damage_after(&bad_bom, 1).offset, 140);
    // Damage in the first section header stops the file before any packet.
    let mut v2 = good.clone();
    v2[12] = 2;
    let d = header_damage(&v2);
    assert_eq!((d.offset, d.kind.to_string()), (0, "unsupported pcapng version 2.0".into()));
}

// ---------------------------------------------------------------------------------------
// decoding.md
// ---------------------------------------------------------------------------------------

#[test]
fn decoding_example_is_the_documented_dump() {
    assert_eq!(doc_dump("decoding.md", "## Worked example"), DECODING_EXAMPLE);
}

fn check_decoding_example(m: &PacketMeta) {
    assert_eq!((m.vlan, m.ip_version, m.protocol), (100, 4, 6));
    assert_eq!((m.src, m.src_port, m.dst, m.dst_port), (v4(198, 51, 100, 2), 443, v4(192, 0, 2, 1), 51000));
    assert_eq!((m.ip_len, m.l4_payload_len), (152, 100));
    assert_eq!((m.tcp_flags, m.tcp_window, m.tunnel, m.fragment), (0x18, 502, 0, Fragment::None));
}

#[test]
fn decoding_example_decodes_as_documented() {
    check_decoding_example(&decode(1, &DECODING_EXAMPLE, 170).unwrap());
    // TSO: a zero total length is replaced by orig_len minus the 18 bytes in front of IP.
    let mut tso = DECODING_EXAMPLE;
    tso[0x14..0x16].copy_from_slice(&[0, 0]);
    check_decoding_example(&decode(1, &tso, 170).unwrap());
    // One byte less and the fixed TCP header is cut: the packet is skipped.
    assert_eq!(decode(1, &DECODING_EXAMPLE[..57], 170), Err(SkipReason::TruncatedHeader));
}

#[test]
fn every_skip_reason_is_documented() {
    let decoding = read_doc("decoding.md");
    for reason in SkipReason::ALL {
        assert!(
            decoding.contains(&format!("| `{}` |", reason.name())),
            "decoding.md lacks skip reason {}",
            reason.name()
        );
    }
    // The manifest example lists every reason, sorted by name, zeros included.
    let store = read_doc("store.md");
    let start = store.find("\"skipped\": {").expect("manifest example");
    let block = &store[start..start + store[start..].find('}').unwrap()];
    let listed: Vec<&str> = block.lines().skip(1).filter_map(|l| l.trim().split('"').nth(1)).collect();
    let mut names: Vec<&str> = SkipReason::ALL.iter().map(|r| r.name()).collect();
    names.sort_unstable();
    assert_eq!(listed, names);
}

// ---------------------------------------------------------------------------------------
// inputs.md and store.md
// ---------------------------------------------------------------------------------------

/// The `captures/` directory of inputs.md, inside a fresh temporary directory.
fn example_captures() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("captures");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("example.pcap"), PCAP_EXAMPLE).unwrap();
    std::fs::write(dir.join("reply.pcapng"), PCAPNG_EXAMPLE).unwrap();
    std::fs::write(dir.join("cut.pcap"), &PCAP_EXAMPLE[..85]).unwrap();
    std::fs::write(dir.join("notes.txt"), "capture notes\n").unwrap();
    (tmp, dir)
}

fn names(paths: impl IntoIterator<Item = PathBuf>) -> Vec<String> {
    paths.into_iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect()
}

#[test]
fn inputs_example_order_and_ignored() {
    let (_tmp, dir) = example_captures();
    let set = collect_inputs(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(names(set.files.iter().map(|f| f.path.clone())), ["cut.pcap", "example.pcap", "reply.pcapng"]);
    let first: Vec<Option<i64>> = set.files.iter().map(|f| f.first_ts_ns).collect();
    assert_eq!(first, [None, Some(1_700_000_000_123_456_000), Some(EXAMPLE_TS_NS)]);
    assert_eq!(set.ignored, [dir.join("notes.txt")]);

    // Named twice (as a file and inside the directory): read once, under the first path.
    let again = collect_inputs(&[dir.join("example.pcap"), dir.clone()]).unwrap();
    let paths: Vec<PathBuf> = again.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(paths, [dir.join("cut.pcap"), dir.join("example.pcap"), dir.join("reply.pcapng")]);
    // Through a path with `..` as well.
    let dotted = dir.join("..").join("captures").join("reply.pcapng");
    assert_eq!(collect_inputs(&[dir.clone(), dotted]).unwrap().files.len(), 3);
}

#[test]
fn a_named_file_that_is_not_a_capture_is_read_and_reported_damaged() {
    let (_tmp, dir) = example_captures();
    let notes = dir.join("notes.txt");
    let set = collect_inputs(std::slice::from_ref(&notes)).unwrap();
    assert_eq!(set.files.len(), 1);
    assert!(set.ignored.is_empty());
    let (flows, report) = scan_dir(&notes);
    assert!(flows.is_empty());
    let file = &report.files[0];
    assert_eq!((file.format, file.packets_total), (None, 0));
    let d = file.damage.as_ref().unwrap();
    assert_eq!(d.offset, 0);
    assert!(d.kind.to_string().starts_with("not a pcap or pcapng file (magic "), "{}", d.kind);
}

fn scan_dir(dir: &Path) -> (FlowBatch, ScanReport) {
    let inputs = collect_inputs(&[dir.to_owned()]).unwrap();
    scan_to_batch(&inputs, &ScanOptions::default()).unwrap()
}

#[test]
fn store_example_row_and_manifest_counters() {
    let (_tmp, dir) = example_captures();
    let (flows, report) = scan_dir(&dir);

    // The row of store.md's worked example.
    assert_eq!(flows.len(), 1);
    assert_eq!((flows.ip_version[0], flows.protocol[0], flows.vlan[0]), (4, 17, 0));
    assert_eq!((flows.src_addr[0], flows.src_port[0]), (v4(CLIENT[0], CLIENT[1], CLIENT[2], CLIENT[3]), 50000));
    assert_eq!((flows.dst_addr[0], flows.dst_port[0]), (v4(SERVER[0], SERVER[1], SERVER[2], SERVER[3]), 7));
    assert_eq!((flows.first_ts_ns[0], flows.last_ts_ns[0]), (1_700_000_000_123_456_000, EXAMPLE_TS_NS));
    assert_eq!((flows.fwd_packets[0], flows.bwd_packets[0]), (1, 1));
    assert_eq!((flows.fwd_bytes[0], flows.bwd_bytes[0]), (32, 32));
    assert_eq!((flows.fwd_wire_bytes[0], flows.bwd_wire_bytes[0]), (46, 46));
    assert_eq!((flows.end_reason[0], flows.end_reason[0].name()), (EndReason::EndOfInput, "end_of_input"));
    assert_eq!(flows.tunnel[0], 0);
    assert_eq!(names([report.files[flows.input_index[0] as usize].path.clone()]), ["example.pcap"]);
    assert_eq!(flows.pkt_ts_ns, [1_700_000_000_123_456_000, EXAMPLE_TS_NS]);
    assert_eq!(flows.pkt_dir, [0, 1]);
    assert_eq!(flows.pkt_ip_len, [32, 32]);
    assert_eq!(flows.pkt_l4_payload_len, [4, 4]);
    assert_eq!((flows.pkt_tcp_flags.as_slice(), flows.pkt_tcp_window.as_slice()), (&[0, 0][..], &[0, 0][..]));

    // The counters of store.md's manifest.json.
    assert_eq!((report.packets_total, report.packets_in_flows, report.flows), (3, 2, 1));
    let skipped: Vec<(&str, u64)> = report.skipped.iter().map(|(r, n)| (r.name(), n)).collect();
    assert_eq!(skipped, [("corrupt_record", 1)]);
    assert_eq!((report.fragments.joined, report.fragments.unmatched), (0, 0));
    assert_eq!(names(report.ignored.clone()), ["notes.txt"]);
    type FileRow<'a> = (String, Option<&'a str>, u64, u64, u64, u64);
    let per_file: Vec<FileRow> = report
        .files
        .iter()
        .map(|f| {
            let name = f.path.file_name().unwrap().to_string_lossy().into_owned();
            (name, f.format.map(|x| x.name()), f.bytes, f.packets_total, f.packets_in_flows(), f.flows)
        })
        .collect();
    assert_eq!(
        per_file,
        [
            ("cut.pcap".to_owned(), Some("pcap"), 85, 1, 0, 0),
            ("example.pcap".to_owned(), Some("pcap"), 86, 1, 1, 1),
            ("reply.pcapng".to_owned(), Some("pcapng"), 140, 1, 1, 0),
        ]
    );
    let damage = report.files[0].damage.as_ref().unwrap();
    assert!(report.files[1..].iter().all(|f| f.damage.is_none()));

    // The same numbers and message appear in the document's manifest.
    let store = read_doc("store.md");
    for line in [
        format!("\"packets_total\": {},", report.packets_total),
        format!("\"packets_in_flows\": {},", report.packets_in_flows),
        format!("\"flows\": {},", report.flows),
        format!("\"offset\": {},", damage.offset),
        format!("\"message\": \"{}\"", damage.kind),
        format!("\"skipped_bytes\": {}", report.files[0].skipped_bytes),
        format!(
            "\"resumed_at\": {}",
            if report.files[0].damaged_stretches[0].resumed_at.is_none() { "null" } else { "?" }
        ),
    ] {
        assert!(store.contains(&line), "store.md manifest lacks {line:?}");
    }
}
