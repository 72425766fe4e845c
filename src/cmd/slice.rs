//! `flowmine slice`: header-only copies of captures. Each packet keeps its IP and transport
//! headers (tunnels included: from the outer IP header to the innermost transport header),
//! loses its link layer and payload, and keeps its original length and timestamp, so the
//! flows read from the slice have the same statistics as those of the original. The VLAN
//! tag is link layer and is lost with it.
//!
//! Where the IP header starts is not guessed from the link type alone: a candidate offset
//! is accepted only when decoding from it gives the same packet as decoding the whole frame,
//! and the cut packet is decoded again to check that it still does.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use flowmine::core::capture::input::MappedFile;
use flowmine::core::capture::writer::{DEFAULT_SNAPLEN, PcapWriter};
use flowmine::core::capture::{Event, Reader};
use flowmine::core::wire::decode::{Fragment, PacketMeta, decode};
use flowmine::core::wire::linktype;

use flowmine::Error;

use super::EXIT_DAMAGED_INPUT;

/// How far into a frame an IP header is looked for when the link type's usual offset fails.
const MAX_LINK_HEADER: usize = 256;

#[derive(clap::Args)]
pub struct SliceArgs {
    /// pcap/pcapng files, or directories searched recursively; read in capture-time order.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The header-only pcap to write (link type RAW, nanosecond timestamps).
    #[arg(long)]
    out: PathBuf,
    /// Replace an existing file in --out.
    #[arg(long)]
    overwrite: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Default)]
struct SliceReport {
    read: u64,
    written: u64,
    /// Packets that are not IP (or not decodable): they are in no flow of the original.
    not_ip: u64,
    /// IP packets whose headers could not be cut out: they are missing from the slice.
    unsliceable: u64,
    damaged: Vec<String>,
}

pub fn run(args: SliceArgs) -> Result<ExitCode, Error> {
    let report = slice(&args)?;
    for d in &report.damaged {
        eprintln!("flowmine: error: {d}");
    }
    if report.unsliceable > 0 {
        eprintln!(
            "flowmine: warning: {} IP packets could not be cut to their headers and are missing from {}",
            report.unsliceable,
            args.out.display()
        );
    }
    if !args.quiet {
        println!(
            "sliced:  {} packets read, {} written to {}, {} not IP (in no flow) left out, {} unsliceable",
            report.read,
            report.written,
            args.out.display(),
            report.not_ip,
            report.unsliceable
        );
    }
    Ok(if report.damaged.is_empty() && report.unsliceable == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DAMAGED_INPUT)
    })
}

fn slice(args: &SliceArgs) -> Result<SliceReport, Error> {
    super::refuse_existing(&args.out, args.overwrite)?;
    let inputs = flowmine::core::collect_inputs(&args.inputs)?;
    let file = File::create(&args.out).map_err(Error::io(&args.out))?;
    let mut writer =
        PcapWriter::new(BufWriter::new(file), linktype::RAW, DEFAULT_SNAPLEN).map_err(Error::io(&args.out))?;
    let mut report = SliceReport::default();
    for input in &inputs.files {
        let mapped = MappedFile::open(&input.path)?;
        let reader = match Reader::new(mapped.bytes()) {
            Ok(r) => r,
            Err(damage) => {
                report.damaged.push(format!("{}: {damage}", input.path.display()));
                continue;
            }
        };
        for event in reader {
            let rec = match event {
                Ok(Event::Packet(rec)) => rec,
                Ok(Event::Skipped { .. }) => {
                    report.read += 1;
                    report.not_ip += 1;
                    continue;
                }
                Err(damage) => {
                    report.damaged.push(format!("{}: {damage}", input.path.display()));
                    continue;
                }
            };
            report.read += 1;
            let Ok(meta) = decode(rec.link_type, rec.data, rec.orig_len) else {
                report.not_ip += 1;
                continue;
            };
            match headers(rec.link_type, rec.data, rec.orig_len, &meta) {
                Some(range) => {
                    writer.write(rec.ts_ns, rec.orig_len, &rec.data[range]).map_err(Error::io(&args.out))?;
                    report.written += 1;
                }
                None => report.unsliceable += 1,
            }
        }
    }
    writer.finish().map_err(Error::io(&args.out))?;
    Ok(report)
}

/// The packet without its VLAN (lost with the link layer).
fn without_vlan(mut m: PacketMeta) -> PacketMeta {
    m.vlan = 0;
    m.fragment = match m.fragment {
        Fragment::None => Fragment::None,
        Fragment::First(mut id) => {
            id.vlan = 0;
            Fragment::First(id)
        }
        Fragment::Later(mut id) => {
            id.vlan = 0;
            Fragment::Later(id)
        }
    };
    m
}

/// The byte range from the first IP header to the end of the innermost transport header,
/// checked to decode to the same packet as the whole frame.
fn headers(link_type: u16, data: &[u8], orig_len: u32, meta: &PacketMeta) -> Option<std::ops::Range<usize>> {
    let want = without_vlan(*meta);
    let usual = usual_ip_offset(link_type, data);
    let limit = data.len().min(MAX_LINK_HEADER);
    for start in usual.into_iter().chain(0..limit) {
        let version = data.get(start).map(|b| b >> 4);
        if version != Some(4) && version != Some(6) {
            continue;
        }
        let same = |bytes: &[u8]| decode(linktype::RAW, bytes, orig_len).is_ok_and(|m| without_vlan(m) == want);
        if !same(&data[start..]) {
            continue;
        }
        let end = header_end(data, start, meta).min(data.len());
        if same(&data[start..end]) {
            return Some(start..end);
        }
    }
    None
}

/// Where IP usually starts for the link type (Ethernet: after any VLAN tags).
fn usual_ip_offset(link_type: u16, data: &[u8]) -> Option<usize> {
    match link_type {
        linktype::RAW | linktype::IPV4 | linktype::IPV6 => Some(0),
        linktype::NULL | linktype::LOOP => Some(4),
        linktype::LINUX_SLL => Some(16),
        linktype::LINUX_SLL2 => Some(20),
        linktype::ETHERNET => {
            let mut at = 12;
            while let Some(t) = data.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]])) {
                if matches!(t, 0x8100 | 0x88a8 | 0x9100) {
                    at += 4;
                } else {
                    return Some(at + 2);
                }
            }
            None
        }
        _ => None,
    }
}

/// End of the innermost transport header: the outer IP packet's end minus the payload the
/// decoder found (tunnelled packets end where their outer packet ends).
fn header_end(data: &[u8], start: usize, meta: &PacketMeta) -> usize {
    let field = |at: usize| data.get(start + at..start + at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize);
    let total = match data[start] >> 4 {
        4 => field(2).unwrap_or(0),
        _ => field(4).map_or(0, |payload| payload + 40),
    };
    if total == 0 {
        // A TSO/GSO super-packet leaves the length at zero: keep the captured rest.
        return data.len();
    }
    start + total.saturating_sub(meta.l4_payload_len as usize)
}
