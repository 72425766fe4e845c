//! Fragment tracking: later fragments of an IP datagram carry no transport header, so they
//! take the key their first fragment had (looked up by the datagram's identity).

use ahash::RandomState;
use hashbrown::HashMap;

use super::packet::FlowPacket;
use crate::Error;
use crate::codec::{Dec, Enc};
use crate::wire::decode::{Fragment, FragmentId, PacketMeta};

/// How long (capture time) a first fragment's key is remembered. Linux drops incomplete
/// datagrams after 30 s (`ipfrag_time`); later fragments than that are orphans.
pub const FRAGMENT_TIMEOUT_NS: i64 = 30_000_000_000;

#[derive(Debug, Clone, Copy)]
struct Keyed {
    ip_version: u8,
    protocol: u8,
    src: [u8; 16],
    dst: [u8; 16],
    src_port: u16,
    dst_port: u16,
    tunnel: u8,
    seen_ns: i64,
}

/// Counters of what fragment tracking did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FragmentCounts {
    /// Later fragments that joined their first fragment's flow.
    pub joined: u64,
    /// Later fragments whose first fragment was not seen (in time): keyed by their own
    /// IP header with ports 0, so they are still in a flow.
    pub unmatched: u64,
}

#[derive(Default)]
pub struct FragmentTable {
    keys: HashMap<FragmentId, Keyed, RandomState>,
    pub counts: FragmentCounts,
}

impl FragmentTable {
    /// A decoded packet, seen at `ts_ns` in input order, as the flow tables take it: a
    /// later fragment with its first fragment's key (`meta` is [`resolve`](Self::resolve)d
    /// in place), keyed and hashed with `hasher`. Every flow table and the label replay
    /// key packets here, so they agree.
    #[inline]
    pub fn packet(
        &mut self,
        meta: &mut PacketMeta,
        ts_ns: i64,
        wire_len: u32,
        input_index: u32,
        hasher: &RandomState,
    ) -> FlowPacket {
        self.resolve(meta, ts_ns);
        FlowPacket::new(meta, ts_ns, wire_len, input_index, hasher)
    }

    /// Records a first fragment's key, or gives a later fragment the key of its first one.
    #[inline]
    pub fn resolve(&mut self, meta: &mut PacketMeta, ts_ns: i64) {
        match meta.fragment {
            Fragment::None => {}
            Fragment::First(id) => {
                let keyed = Keyed {
                    ip_version: meta.ip_version,
                    protocol: meta.protocol,
                    src: meta.src,
                    dst: meta.dst,
                    src_port: meta.src_port,
                    dst_port: meta.dst_port,
                    tunnel: meta.tunnel,
                    seen_ns: ts_ns,
                };
                self.keys.insert(id, keyed);
            }
            Fragment::Later(id) => match self.keys.get_mut(&id) {
                Some(k) if ts_ns.saturating_sub(k.seen_ns) < FRAGMENT_TIMEOUT_NS => {
                    k.seen_ns = k.seen_ns.max(ts_ns);
                    meta.ip_version = k.ip_version;
                    meta.protocol = k.protocol;
                    meta.src = k.src;
                    meta.dst = k.dst;
                    meta.src_port = k.src_port;
                    meta.dst_port = k.dst_port;
                    meta.tunnel = k.tunnel;
                    self.counts.joined += 1;
                }
                _ => self.counts.unmatched += 1,
            },
        }
    }

    /// Forgets datagrams not seen for the fragment timeout.
    pub fn expire(&mut self, now_ns: i64) {
        self.keys.retain(|_, k| now_ns.saturating_sub(k.seen_ns) < FRAGMENT_TIMEOUT_NS);
    }

    /// Writes the table's state (for a checkpoint).
    pub fn save(&self, e: &mut Enc) {
        e.u64(self.counts.joined);
        e.u64(self.counts.unmatched);
        e.u64(self.keys.len() as u64);
        for (id, k) in &self.keys {
            e.u8(id.ip_version);
            e.u8(id.protocol);
            e.array(&id.src);
            e.array(&id.dst);
            e.u32(id.id);
            e.u16(id.vlan);
            e.u8(k.ip_version);
            e.u8(k.protocol);
            e.array(&k.src);
            e.array(&k.dst);
            e.u16(k.src_port);
            e.u16(k.dst_port);
            e.u8(k.tunnel);
            e.i64(k.seen_ns);
        }
    }

    /// Reads what [`save`](Self::save) wrote.
    pub fn load(d: &mut Dec) -> Result<FragmentTable, Error> {
        let counts = FragmentCounts { joined: d.u64()?, unmatched: d.u64()? };
        let mut table = FragmentTable { counts, ..FragmentTable::default() };
        let n = d.count(80)?;
        for _ in 0..n {
            let id = FragmentId {
                ip_version: d.u8()?,
                protocol: d.u8()?,
                src: d.array()?,
                dst: d.array()?,
                id: d.u32()?,
                vlan: d.u16()?,
            };
            let keyed = Keyed {
                ip_version: d.u8()?,
                protocol: d.u8()?,
                src: d.array()?,
                dst: d.array()?,
                src_port: d.u16()?,
                dst_port: d.u16()?,
                tunnel: d.u8()?,
                seen_ns: d.i64()?,
            };
            table.keys.insert(id, keyed);
        }
        Ok(table)
    }

    /// Takes in the datagrams `later` knows, which it saw after this table's (its entries
    /// win), and adds its counts.
    pub fn absorb(&mut self, later: FragmentTable) {
        self.counts.joined += later.counts.joined;
        self.counts.unmatched += later.counts.unmatched;
        self.keys.extend(later.keys);
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
