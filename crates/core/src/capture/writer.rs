//! Writes classic pcap files: nanosecond magic (so timestamps read from any input are kept
//! exactly), little-endian, version 2.4, one link type per file. tcpdump, Wireshark and
//! every libpcap reader open them.

use std::io::{self, Write};

/// The nanosecond-resolution pcap magic, written little-endian.
pub const NANOSECOND_MAGIC: u32 = 0xa1b2_3c4d;
/// Snapshot length written in the header: libpcap's default maximum.
pub const DEFAULT_SNAPLEN: u32 = 262_144;

pub struct PcapWriter<W: Write> {
    out: W,
    link_type: u16,
    records: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut out: W, link_type: u16, snaplen: u32) -> io::Result<Self> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&NANOSECOND_MAGIC.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes()); // thiszone: timestamps are UTC
        header.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        header.extend_from_slice(&snaplen.to_le_bytes());
        header.extend_from_slice(&u32::from(link_type).to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out, link_type, records: 0 })
    }

    pub fn link_type(&self) -> u16 {
        self.link_type
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// Appends one record: `data` is what was captured, `orig_len` the length on the wire.
    pub fn write(&mut self, ts_ns: i64, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let secs = u32::try_from(ts_ns.div_euclid(1_000_000_000)).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("timestamp {ts_ns} ns outside pcap's range"))
        })?;
        let frac = ts_ns.rem_euclid(1_000_000_000) as u32;
        let caplen = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record longer than 4 GiB"))?;
        let mut header = [0u8; 16];
        header[0..4].copy_from_slice(&secs.to_le_bytes());
        header[4..8].copy_from_slice(&frac.to_le_bytes());
        header[8..12].copy_from_slice(&caplen.to_le_bytes());
        header[12..16].copy_from_slice(&orig_len.max(caplen).to_le_bytes());
        self.out.write_all(&header)?;
        self.out.write_all(data)?;
        self.records += 1;
        Ok(())
    }

    /// Flushes and hands back the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{Event, Reader};

    #[test]
    fn written_records_read_back_exactly() {
        let mut w = PcapWriter::new(Vec::new(), 101, DEFAULT_SNAPLEN).unwrap();
        w.write(1_600_000_000_123_456_789, 1500, &[0x45, 0, 0, 20]).unwrap();
        let bytes = w.finish().unwrap();
        let mut reader = Reader::new(&bytes).unwrap();
        let Some(Ok(Event::Packet(r))) = reader.next_event() else { panic!("one record") };
        assert_eq!(
            (r.ts_ns, r.orig_len, r.link_type, r.data),
            (1_600_000_000_123_456_789, 1500, 101, &[0x45, 0, 0, 20][..])
        );
        assert!(reader.next_event().is_none());
    }
}
