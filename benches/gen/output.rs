//! Where the packets and the ground truth go: classic pcap files (one, or K consecutive
//! parts) and a CSV with one row per flow.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// Large buffers: the writer emits ~90-byte records, hundreds of thousands per second.
const BUFFER_BYTES: usize = 4 << 20;

/// Classic pcap, microsecond magic, little-endian, version 2.4.
fn pcap_file_header(snaplen: u32) -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone and sigfigs stay 0.
    h[16..20].copy_from_slice(&snaplen.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    h
}

/// Writes a packet sequence into one file or into consecutive parts of (nearly) equal
/// packet counts.
pub struct PcapSink {
    paths: Vec<PathBuf>,
    snaplen: u32,
    packets_total: u64,
    /// Packets written so far, and the count at which the current part ends.
    written: u64,
    part: usize,
    part_end: u64,
    out: BufWriter<File>,
    bytes_written: u64,
}

impl PcapSink {
    /// `paths` are the parts in order; `packets_total` is split evenly among them.
    pub fn create(paths: Vec<PathBuf>, packets_total: u64, snaplen: u32) -> io::Result<PcapSink> {
        assert!(!paths.is_empty());
        let out = Self::open(&paths[0], snaplen)?;
        let part_end = Self::end_of_part(0, paths.len(), packets_total);
        Ok(PcapSink { paths, snaplen, packets_total, written: 0, part: 0, part_end, out, bytes_written: 24 })
    }

    fn open(path: &Path, snaplen: u32) -> io::Result<BufWriter<File>> {
        let file = File::create(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let mut out = BufWriter::with_capacity(BUFFER_BYTES, file);
        out.write_all(&pcap_file_header(snaplen))?;
        Ok(out)
    }

    fn end_of_part(part: usize, parts: usize, total: u64) -> u64 {
        total * (part as u64 + 1) / parts as u64
    }

    /// Appends one record; `data` is cut to the snaplen.
    #[inline]
    pub fn write(&mut self, ts_us: u64, data: &[u8], orig_len: u32) -> io::Result<()> {
        while self.written == self.part_end && self.part + 1 < self.paths.len() {
            self.out.flush()?;
            self.part += 1;
            self.out = Self::open(&self.paths[self.part], self.snaplen)?;
            self.bytes_written += 24;
            self.part_end = Self::end_of_part(self.part, self.paths.len(), self.packets_total);
        }
        let caplen = data.len().min(self.snaplen as usize);
        let mut header = [0u8; 16];
        header[0..4].copy_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        header[4..8].copy_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        header[8..12].copy_from_slice(&(caplen as u32).to_le_bytes());
        header[12..16].copy_from_slice(&orig_len.to_le_bytes());
        self.out.write_all(&header)?;
        self.out.write_all(&data[..caplen])?;
        self.written += 1;
        self.bytes_written += 16 + caplen as u64;
        Ok(())
    }

    /// Flushes the last part; returns the bytes written over all parts.
    pub fn finish(mut self) -> io::Result<u64> {
        self.out.flush()?;
        Ok(self.bytes_written)
    }
}

/// Column names of the ground truth, in order.
pub const TRUTH_HEADER: &str = "ip_version,protocol,src_ip,dst_ip,src_port,dst_port,vlan,first_ts_ns,last_ts_ns,\
fwd_packets,bwd_packets,fwd_bytes,bwd_bytes,fwd_wire_bytes,bwd_wire_bytes";

/// Counters of one side of a flow, as flowmine keeps them.
#[derive(Clone, Copy, Debug, Default)]
pub struct SideCounts {
    pub packets: u64,
    /// Sum of IP total lengths.
    pub bytes: u64,
    /// Sum of original frame lengths.
    pub wire_bytes: u64,
}

/// A ground-truth row: the flow from its initiator's side.
pub struct TruthRow<'a> {
    pub ipv6: bool,
    pub protocol: u8,
    pub src: (&'a [u8; 16], u16),
    pub dst: (&'a [u8; 16], u16),
    pub vlan: u16,
    pub first_ts_ns: u64,
    pub last_ts_ns: u64,
    pub fwd: SideCounts,
    pub bwd: SideCounts,
}

/// The ground-truth CSV, or nothing when no path was given.
pub struct TruthSink {
    out: Option<BufWriter<File>>,
}

impl TruthSink {
    pub fn create(path: Option<&Path>) -> io::Result<TruthSink> {
        let out = match path {
            None => None,
            Some(path) => {
                let file =
                    File::create(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
                let mut out = BufWriter::with_capacity(BUFFER_BYTES, file);
                writeln!(out, "{TRUTH_HEADER}")?;
                Some(out)
            }
        };
        Ok(TruthSink { out })
    }

    pub fn write(&mut self, row: &TruthRow) -> io::Result<()> {
        let Some(out) = self.out.as_mut() else { return Ok(()) };
        let version = if row.ipv6 { 6 } else { 4 };
        write!(out, "{version},{},", row.protocol)?;
        write_ip(out, row.src.0, row.ipv6)?;
        out.write_all(b",")?;
        write_ip(out, row.dst.0, row.ipv6)?;
        writeln!(
            out,
            ",{},{},{},{},{},{},{},{},{},{},{}",
            row.src.1,
            row.dst.1,
            row.vlan,
            row.first_ts_ns,
            row.last_ts_ns,
            row.fwd.packets,
            row.bwd.packets,
            row.fwd.bytes,
            row.bwd.bytes,
            row.fwd.wire_bytes,
            row.bwd.wire_bytes
        )
    }

    pub fn finish(self) -> io::Result<()> {
        match self.out {
            Some(mut out) => out.flush(),
            None => Ok(()),
        }
    }
}

/// Dotted quad for IPv4 (first 4 bytes), RFC 5952 text for IPv6.
fn write_ip(out: &mut impl Write, addr: &[u8; 16], ipv6: bool) -> io::Result<()> {
    if ipv6 {
        write!(out, "{}", Ipv6Addr::from(*addr))
    } else {
        write!(out, "{}", Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]))
    }
}
