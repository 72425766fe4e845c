//! The optional DNS rule. Android resolves names in netd, not in the app, so the app's
//! sockets never carry its DNS traffic. With the rule on, a DNS flow of the phone gets the
//! app's label when one of its answers (A/AAAA) names an address the app then contacts
//! within [`DNS_WINDOW_NS`]. Only DNS over UDP is read (netd's default; DNS over TLS is
//! encrypted and cannot be).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::Error;
use crate::capture::input::InputSet;
use crate::flow::FlowBatch;
use crate::wire::protocol::PROTOCOL_UDP;

use super::matcher::MatchConfig;
use super::replay::replay;
use super::sockets::SocketTable;

pub const DNS_PORT: u16 = 53;
/// How long after an answer a first contact with one of its addresses still counts as
/// caused by it. Longer windows credit answers the app never used (netd caches answers for
/// every app); shorter ones miss slow starts.
pub const DNS_WINDOW_NS: i64 = 30_000_000_000;

/// Per flow row, the (capture time, address) of every A/AAAA answer in DNS responses of
/// that flow; empty for rows not in `candidates` or without answers.
pub fn dns_answers(
    inputs: &InputSet,
    batch: &FlowBatch,
    candidates: &[bool],
) -> Result<Vec<Vec<(i64, IpAddr)>>, Error> {
    let mut answers = vec![Vec::new(); batch.len()];
    replay(inputs, batch, |rec, meta, row| -> Result<(), Error> {
        if candidates[row]
            && meta.protocol == PROTOCOL_UDP
            && meta.src_port == DNS_PORT
            && let Some(payload) = udp_payload(rec.data, meta.src_port, meta.dst_port, meta.l4_payload_len as usize)
        {
            answers[row].extend(answer_addrs(payload).into_iter().map(|a| (rec.ts_ns, a)));
        }
        Ok(())
    })?;
    Ok(answers)
}

/// Per flow row: the index of the app socket whose first contact with an answered address
/// came within the window after the answer. Rows without answers get `None`.
pub fn match_dns(answers: &[Vec<(i64, IpAddr)>], table: &SocketTable, config: &MatchConfig) -> Vec<Option<usize>> {
    answers
        .iter()
        .map(|row_answers| {
            row_answers.iter().find_map(|&(answered, addr)| {
                table.sockets.iter().position(|s| {
                    s.remotes.iter().any(|r| {
                        let contact = r.first_ts_ns.saturating_add(config.offset_ns);
                        r.addr == addr
                            && contact >= answered.saturating_sub(config.tolerance_ns)
                            && contact <= answered.saturating_add(DNS_WINDOW_NS)
                    })
                })
            })
        })
        .collect()
}

/// The UDP payload of a frame: the header before it is found by its ports and length
/// field, from the end of the frame (so the innermost header of a tunnel wins, and an
/// Ethernet trailer is skipped).
fn udp_payload(frame: &[u8], src_port: u16, dst_port: u16, len: usize) -> Option<&[u8]> {
    let header = |p: usize| -> bool {
        let be = |at: usize| u16::from_be_bytes([frame[at], frame[at + 1]]);
        be(p - 8) == src_port && be(p - 6) == dst_port && be(p - 4) as usize == len + 8
    };
    let last = frame.len().checked_sub(len)?;
    (8..=last).rev().find(|&p| header(p)).map(|p| &frame[p..p + len])
}

fn be16(msg: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]) as usize)
}

/// Past a (possibly compressed) domain name.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)? as usize;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l => at += 1 + l,
        }
    }
}

/// The A and AAAA addresses in the answer section of a DNS response.
pub fn answer_addrs(msg: &[u8]) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let Some(flags) = be16(msg, 2) else { return out };
    if flags & 0x8000 == 0 {
        return out;
    }
    let (Some(questions), Some(answers)) = (be16(msg, 4), be16(msg, 6)) else { return out };
    let mut at = 12;
    for _ in 0..questions {
        let Some(next) = skip_name(msg, at) else { return out };
        at = next + 4;
    }
    for _ in 0..answers {
        let Some(next) = skip_name(msg, at) else { return out };
        let (Some(kind), Some(rdlen)) = (be16(msg, next), be16(msg, next + 8)) else { return out };
        let rdata = next + 10;
        let Some(bytes) = msg.get(rdata..rdata + rdlen) else { return out };
        match (kind, rdlen) {
            (1, 4) => out.push(IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))),
            (28, 16) => out.push(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).expect("16 bytes")))),
            _ => {}
        }
        at = rdata + rdlen;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_compressed_names() {
        // Response, 1 question (a.b), 2 answers: CNAME, then A 192.0.2.7 (names compressed).
        let msg = [
            0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0, //
            1, b'a', 1, b'b', 0, 0, 1, 0, 1, //
            0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12, //
            0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7,
        ];
        assert_eq!(answer_addrs(&msg), [IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))]);
        let mut query = msg;
        query[2] = 0x01;
        assert!(answer_addrs(&query).is_empty());
    }
}
