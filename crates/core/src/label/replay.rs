//! A second pass over the inputs that tells, for each packet record, which flow row of a
//! finished scan it belongs to. Flow rows do not keep capture offsets, so each record is
//! decoded and keyed again by the flow tables' own code ([`FragmentTable::packet`]: later
//! IP fragments take their first fragment's key). The flows of one key follow each other
//! in reading order and each holds a known number of packets, so the n-th packet of a key
//! belongs to the flow the counts put it in.

use std::collections::{HashMap, VecDeque};

use crate::Error;
use crate::capture::input::{InputSet, MappedFile};
use crate::capture::{Event, Reader, Record};
use crate::flow::fragments::FragmentTable;
use crate::flow::packet::key_hasher;
use crate::flow::{FlowBatch, FlowKey};
use crate::wire::decode::{PacketMeta, decode};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub packets_read: u64,
    /// Decoded packets with no flow left for their key: zero unless the batch did not come
    /// from a scan of these inputs.
    pub packets_without_flow: u64,
}

/// The canonical key of a flow row.
pub fn row_key(batch: &FlowBatch, row: usize) -> FlowKey {
    let src = (batch.src_addr[row], batch.src_port[row]);
    let dst = (batch.dst_addr[row], batch.dst_port[row]);
    FlowKey::between(batch.vlan[row], batch.ip_version[row], batch.protocol[row], src, dst).0
}

/// Calls `visit(record, packet, row)` for every packet of `inputs` that is in a flow of
/// `batch` (every flow of a scan of `inputs`, rows in the order the scan emitted them).
/// `visit` may stop the pass by returning an error.
pub fn replay<E: From<Error>>(
    inputs: &InputSet,
    batch: &FlowBatch,
    mut visit: impl FnMut(&Record<'_>, &PacketMeta, usize) -> Result<(), E>,
) -> Result<ReplayReport, E> {
    let mut flows: HashMap<FlowKey, VecDeque<(u64, usize)>> = HashMap::new();
    for row in 0..batch.len() {
        let packets = batch.fwd_packets[row] + batch.bwd_packets[row];
        flows.entry(row_key(batch, row)).or_default().push_back((packets, row));
    }
    let mut report = ReplayReport::default();
    let mut fragments = FragmentTable::default();
    let hasher = key_hasher();
    for (index, input) in inputs.files.iter().enumerate() {
        let mapped = MappedFile::open(&input.path)?;
        let Ok(reader) = Reader::new(mapped.bytes()) else { continue };
        for event in reader {
            let Ok(Event::Packet(rec)) = event else { continue };
            report.packets_read += 1;
            let Ok(mut meta) = decode(rec.link_type, rec.data, rec.orig_len) else { continue };
            let key = fragments.packet(&mut meta, rec.ts_ns, rec.orig_len, index as u32, &hasher).key;
            let Some(front) = flows.get_mut(&key).and_then(|q| q.front_mut()) else {
                report.packets_without_flow += 1;
                continue;
            };
            let row = front.1;
            front.0 -= 1;
            if front.0 == 0 {
                flows.get_mut(&key).expect("just seen").pop_front();
            }
            visit(&rec, &meta, row)?;
        }
    }
    Ok(report)
}
