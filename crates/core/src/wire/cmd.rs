//! Cisco MetaData (CMD, EtherType and GRE protocol 0x8909): a Security Group Tag in front of
//! the packet. Its 6 bytes (version, length, option, SGT) come after the next EtherType
//! behind GRE and before it behind Ethernet, as Wireshark's packet-cisco-metadata.c reads
//! them.

use super::{Result, split_header};
use zerocopy::byteorder::network_endian::U16;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

/// The CMD fields proper.
#[derive(FromBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub struct CmdFields {
    pub version: u8,
    pub length: u8,
    option: U16,
    sgt: U16,
}

impl CmdFields {
    /// The Security Group Tag.
    pub fn sgt(&self) -> u16 {
        self.sgt.get()
    }
}

/// Behind GRE: EtherType, then the CMD fields; returns the EtherType and the packet.
pub fn after_gre(bytes: &[u8]) -> Result<(u16, &[u8])> {
    let (ethertype, rest) = split_header::<U16>(bytes)?;
    let (_, packet) = split_header::<CmdFields>(rest)?;
    Ok((ethertype.get(), packet))
}

/// Behind Ethernet: the CMD fields, then the EtherType; returns the EtherType and the packet.
pub fn after_ethernet(bytes: &[u8]) -> Result<(u16, &[u8])> {
    let (_, rest) = split_header::<CmdFields>(bytes)?;
    let (ethertype, packet) = split_header::<U16>(rest)?;
    Ok((ethertype.get(), packet))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gre_and_ethernet_orders() {
        // From testdata/pcaps/edge/various_gre.pcap: IPv4, version 1, length 1, option 1, SGT 0.
        let gre = [0x08, 0x00, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0x45];
        assert_eq!(after_gre(&gre).unwrap(), (0x0800, &[0x45][..]));
        let eth = [0x01, 0x01, 0x00, 0x01, 0x00, 0x2a, 0x86, 0xdd, 0x60];
        assert_eq!(after_ethernet(&eth).unwrap(), (0x86dd, &[0x60][..]));
        assert!(after_gre(&gre[..7]).is_err());
    }
}
