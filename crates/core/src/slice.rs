//! Header-only copies of captures. Each packet keeps its IP and transport headers
//! (tunnels included: from the outer IP header to the innermost transport header), loses
//! its link layer and payload, and keeps its original length and timestamp, so the flows
//! read from the slice have the same statistics as those of the original. The VLAN tag is
//! link layer and is lost with it.
//!
//! The decoder says where the headers sit ([`Layers`]); the cut packet is decoded again
//! to check that it still gives the same packet, so a slice never changes a flow silently.

use std::io::Write;
use std::ops::Range;
use std::path::PathBuf;

use crate::Error;
use crate::capture::input::{InputSet, MappedFile};
use crate::capture::writer::{DEFAULT_SNAPLEN, PcapWriter};
use crate::capture::{Damage, Event, Reader};
use crate::skip::SkipReason;
use crate::wire::decode::{Fragment, Layers, PacketMeta, decode, decode_layers};
use crate::wire::linktype;

/// What slicing did with the packets of its inputs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SliceReport {
    pub read: u64,
    pub written: u64,
    /// Packets that are not IP (or not decodable): they are in no flow of the original.
    pub not_ip: u64,
    /// IP packets whose headers could not be cut out: they are missing from the slice.
    pub unsliceable: u64,
    /// Frames of a link type the decoder does not read, per file: (file, link type, offset
    /// of the first, count). They are in no flow of the original either, but the input
    /// could not be used, as `flows` reports it.
    pub unsupported_link_types: Vec<UnsupportedLinkType>,
    /// Damage met while reading, per file (reading went on where it could).
    pub damaged: Vec<(PathBuf, Damage)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedLinkType {
    pub path: PathBuf,
    pub link_type: u16,
    pub offset: u64,
    pub packets: u64,
}

impl SliceReport {
    /// Whether some input could not be used: damage, unsupported link types, or packets
    /// that could not be cut.
    pub fn has_unusable_input(&self) -> bool {
        !self.damaged.is_empty() || !self.unsupported_link_types.is_empty() || self.unsliceable > 0
    }
}

/// What a failed write was writing (the caller names the file).
const WRITING: &str = "writing the slice";

/// Writes the header-only copy of every packet of `inputs` to `out`, as a pcap of link
/// type RAW with nanosecond timestamps, and hands `out` back.
pub fn slice<W: Write>(inputs: &InputSet, out: W) -> Result<(SliceReport, W), Error> {
    let mut writer = PcapWriter::new(out, linktype::RAW, DEFAULT_SNAPLEN).map_err(Error::write(WRITING))?;
    let mut report = SliceReport::default();
    for input in &inputs.files {
        let mapped = MappedFile::open(&input.path)?;
        let mut reader = match Reader::new(mapped.bytes()) {
            Ok(r) => r,
            Err(damage) => {
                report.damaged.push((input.path.clone(), damage));
                continue;
            }
        };
        let mut unsupported: Option<UnsupportedLinkType> = None;
        while let Some(event) = reader.next_event() {
            let rec = match event {
                Ok(Event::Packet(rec)) => rec,
                Ok(Event::Skipped { .. }) => {
                    report.read += 1;
                    report.not_ip += 1;
                    continue;
                }
                Err(damage) => {
                    report.damaged.push((input.path.clone(), damage));
                    reader.resync();
                    continue;
                }
            };
            report.read += 1;
            match headers(rec.link_type, rec.data, rec.orig_len) {
                Ok(range) => {
                    writer.write(rec.ts_ns, rec.orig_len, &rec.data[range]).map_err(Error::write(WRITING))?;
                    report.written += 1;
                }
                Err(Unsliced::Skipped(SkipReason::UnsupportedLinkType)) => {
                    report.not_ip += 1;
                    let u = unsupported.get_or_insert(UnsupportedLinkType {
                        path: input.path.clone(),
                        link_type: rec.link_type,
                        offset: rec.offset,
                        packets: 0,
                    });
                    u.packets += 1;
                }
                Err(Unsliced::Skipped(_)) => report.not_ip += 1,
                Err(Unsliced::Changed) => report.unsliceable += 1,
            }
        }
        report.unsupported_link_types.extend(unsupported);
    }
    Ok((report, writer.finish().map_err(Error::write(WRITING))?))
}

/// Why a frame has no header-only copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsliced {
    /// The frame is in no flow: not IP, or not decodable.
    Skipped(SkipReason),
    /// The cut packet would decode to another packet than the frame does.
    Changed,
}

/// The byte range of `data` from the first IP header to the end of the innermost
/// transport header, checked to decode to the same packet as the whole frame (but for
/// the VLAN, lost with the link layer).
pub fn headers(link_type: u16, data: &[u8], orig_len: u32) -> Result<Range<usize>, Unsliced> {
    let (meta, Layers { ip, headers_end }) = decode_layers(link_type, data, orig_len).map_err(Unsliced::Skipped)?;
    let range = ip..headers_end.min(data.len());
    let same =
        decode(linktype::RAW, &data[range.clone()], orig_len).is_ok_and(|m| without_vlan(m) == without_vlan(meta));
    if same { Ok(range) } else { Err(Unsliced::Changed) }
}

/// The packet without its VLAN (lost with the link layer).
fn without_vlan(mut m: PacketMeta) -> PacketMeta {
    m.vlan = 0;
    if let Fragment::First(id) | Fragment::Later(id) = &mut m.fragment {
        id.vlan = 0;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::input::collect;

    #[rustfmt::skip]
    const TAGGED_TCP: [u8; 66] = [
        // Ethernet, 802.1Q tag (VLAN 5), IPv4.
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00,
        // IPv4, total length 20 + 20 + 4 = 44, TCP, 10.0.0.1 -> 10.0.0.2.
        0x45, 0, 0, 44, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        // TCP 1234 -> 443, data offset 5, ACK.
        0x04, 0xd2, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0x01, 0x00, 0, 0, 0, 0,
        // Payload, then Ethernet padding.
        0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0,
    ];

    #[test]
    fn headers_are_cut_from_the_ip_header_to_the_transport_payload() {
        let range = headers(linktype::ETHERNET, &TAGGED_TCP, 66).unwrap();
        assert_eq!(range, 18..58);
        assert_eq!(&TAGGED_TCP[range][..4], &[0x45, 0, 0, 44]);
    }

    #[test]
    fn frames_in_no_flow_are_not_cut() {
        assert_eq!(headers(105, &TAGGED_TCP, 66), Err(Unsliced::Skipped(SkipReason::UnsupportedLinkType)));
        let mut arp = TAGGED_TCP;
        arp[16..18].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(headers(linktype::ETHERNET, &arp, 66), Err(Unsliced::Skipped(SkipReason::NonIp)));
    }

    /// A pcap of `link_type` holding `frames`, one per second.
    fn capture(dir: &std::path::Path, name: &str, link_type: u16, frames: &[&[u8]]) -> PathBuf {
        let mut w = PcapWriter::new(Vec::new(), link_type, DEFAULT_SNAPLEN).unwrap();
        for (i, f) in frames.iter().enumerate() {
            w.write(i as i64 * 1_000_000_000, f.len() as u32, f).unwrap();
        }
        let path = dir.join(name);
        std::fs::write(&path, w.finish().unwrap()).unwrap();
        path
    }

    #[test]
    fn a_slice_holds_the_headers_and_names_unsupported_link_types() {
        let dir = tempfile::tempdir().unwrap();
        let eth = capture(dir.path(), "a.pcap", linktype::ETHERNET, &[&TAGGED_TCP, &TAGGED_TCP]);
        let wifi = capture(dir.path(), "b.pcap", 105, &[&TAGGED_TCP]);
        let inputs = collect(&[eth, wifi.clone()]).unwrap();
        let (report, out) = slice(&inputs, Vec::new()).unwrap();
        assert_eq!((report.read, report.written, report.not_ip, report.unsliceable), (3, 2, 1, 0));
        assert_eq!(
            report.unsupported_link_types,
            [UnsupportedLinkType { path: wifi, link_type: 105, offset: 24, packets: 1 }]
        );
        assert!(report.has_unusable_input());
        // File header, then two records of 16 + 40 bytes: the original length is kept.
        assert_eq!(out.len(), 24 + 2 * (16 + 40));
        assert_eq!(&out[20..24], &u32::from(linktype::RAW).to_le_bytes());
        assert_eq!(&out[24 + 8..24 + 16], &[40, 0, 0, 0, 66, 0, 0, 0]);
        assert_eq!(&out[24 + 16..24 + 56], &TAGGED_TCP[18..58]);
    }
}
