//! A packet ready for a flow table: its canonical key and the key's hash, computed once
//! where the packet is decoded, with the facts a flow keeps.

use ahash::RandomState;

use super::key::FlowKey;
use crate::wire::decode::PacketMeta;

/// A packet ready for a flow table: fragments resolved, key and hash computed, and only
/// the facts a flow keeps (it is queued per shard, so it is kept small).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowPacket {
    pub key: FlowKey,
    pub hash: u64,
    pub ts_ns: i64,
    pub wire_len: u32,
    pub input_index: u32,
    pub ip_len: u32,
    pub l4_payload_len: u32,
    pub tcp_window: u16,
    pub tcp_flags: u8,
    pub tunnel: u8,
    pub sender_is_lo: bool,
}

/// Fixed seeds: the same key lands in the same shard on every run and machine, so the
/// row order of the output is reproducible too.
pub fn key_hasher() -> RandomState {
    RandomState::with_seeds(0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344, 0xa409_3822_299f_31d0, 0x082e_fa98_ec4e_6c89)
}

impl FlowPacket {
    #[inline]
    pub fn new(meta: &PacketMeta, ts_ns: i64, wire_len: u32, input_index: u32, hasher: &RandomState) -> FlowPacket {
        let (key, sender_is_lo) = FlowKey::of(meta);
        FlowPacket {
            key,
            hash: hasher.hash_one(key),
            ts_ns,
            wire_len,
            input_index,
            ip_len: meta.ip_len,
            l4_payload_len: meta.l4_payload_len,
            tcp_window: meta.tcp_window,
            tcp_flags: meta.tcp_flags,
            tunnel: meta.tunnel,
            sender_is_lo,
        }
    }
}
