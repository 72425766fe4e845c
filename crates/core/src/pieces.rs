//! One capture file read in pieces, decoded side by side on several threads.
//!
//! A classic pcap file is cut where plausible chains of records start, found from even
//! splits of the file ([`chunk_starts`]). Each piece is walked from its start until a
//! record starts at or past the next piece's start, and its records are decoded into
//! [`Item`]s. A found start is only a candidate: the walk of the piece before must stop
//! exactly on it (the seam). Where it does not — a false boundary, or damage whose way
//! back in lies past the seam — the piece is walked again from where the one before
//! stopped, on the consuming thread. The items, in order, are therefore always those of
//! one walk from the start of the file; threads change only who decodes them.
//!
//! pcapng files, and every file when there is one thread, are walked once from the start,
//! in pieces of [`PIECE_BYTES`] so that decoded items never pile up.

use std::collections::VecDeque;
use std::sync::mpsc::sync_channel;

use ahash::RandomState;

use crate::capture::pcap::{FILE_HEADER_LEN, PcapInfo, PcapReader};
use crate::capture::resync::{TimeWindow, chunk_starts};
use crate::capture::{Damage, Event, Reader};
use crate::flow::packet::{FlowPacket, key_hasher};
use crate::skip::SkipReason;
use crate::wire::decode::{Fragment, PacketMeta, decode};

/// Bytes of input a piece covers: about 100 000 header-only records, whose items
/// (under 9 MB) stay in the last-level cache between decoding and use.
pub const PIECE_BYTES: usize = 8 << 20;

/// What one record of the file became, in file order.
#[derive(Debug, PartialEq)]
pub enum Item {
    /// A decoded packet, keyed and hashed, ready for the flow table.
    Packet(FlowPacket),
    /// A decoded IP fragment: the flow table must match it to its first fragment, in
    /// input order, before it has a key.
    Fragment(Box<Fragmented>),
    /// A record that was read but not used; `link_type` is set when the decoder refused it.
    Skip { reason: SkipReason, offset: u64, link_type: Option<u16> },
    /// A stretch that could not be framed, and where reading went on (if it could).
    Damage { damage: Damage, resumed_at: Option<u64> },
}

#[derive(Debug, PartialEq)]
pub struct Fragmented {
    pub meta: PacketMeta,
    pub ts_ns: i64,
    pub wire_len: u32,
}

/// The items of one piece.
pub struct Piece {
    /// Where the walk started.
    pub start: usize,
    pub items: Vec<Item>,
    /// Where it stopped: the first record at or past the piece's end; `None` when the
    /// file is over for the reader (its end, or damage with no way back in).
    pub stopped_at: Option<usize>,
}

/// Walks `reader` until a record starts at or past `end` (or the file is over), decoding
/// each record. Damage is passed over as the scan does: resynchronise and go on.
fn decode_piece(reader: &mut Reader, end: usize, input_index: u32, hasher: &RandomState) -> Piece {
    let start = Reader::position(reader);
    let mut items = Vec::new();
    loop {
        if Reader::position(reader) >= end {
            return Piece { start, items, stopped_at: Some(Reader::position(reader)) };
        }
        let Some(event) = reader.next_event() else {
            return Piece { start, items, stopped_at: None };
        };
        items.push(match event {
            Ok(Event::Packet(rec)) => match decode(rec.link_type, rec.data, rec.orig_len) {
                Ok(meta) if matches!(meta.fragment, Fragment::None) => {
                    Item::Packet(FlowPacket::new(&meta, rec.ts_ns, rec.orig_len, input_index, hasher))
                }
                Ok(meta) => Item::Fragment(Box::new(Fragmented { meta, ts_ns: rec.ts_ns, wire_len: rec.orig_len })),
                Err(reason) => Item::Skip { reason, offset: rec.offset, link_type: Some(rec.link_type) },
            },
            Ok(Event::Skipped { reason, offset }) => Item::Skip { reason, offset, link_type: None },
            Err(damage) => Item::Damage { resumed_at: reader.resync().map(|at| at as u64), damage },
        });
    }
}

/// Where the pieces of a pcap file start, and what a reader starting there must know.
struct Cuts {
    starts: Vec<usize>,
    info: PcapInfo,
    first_ts_ns: i64,
}

impl Cuts {
    /// Cuts for a pcap file of more than one piece whose first record can be read (its
    /// time bounds where chains may lie, as for the reader from the start).
    fn find(bytes: &[u8], reader: &Reader, piece_bytes: usize) -> Option<Cuts> {
        let Reader::Pcap(r) = reader else { return None };
        let pieces = bytes.len().div_ceil(piece_bytes.max(1));
        if pieces < 2 {
            return None;
        }
        let info = *r.info();
        let Some(Ok(Event::Packet(first))) = PcapReader::at(bytes, info, FILE_HEADER_LEN, None).next_event() else {
            return None;
        };
        let starts = chunk_starts(bytes, &info, TimeWindow::after(first.ts_ns), pieces);
        (starts.len() > 1).then_some(Cuts { starts, info, first_ts_ns: first.ts_ns })
    }

    fn reader_at<'a>(&self, bytes: &'a [u8], pos: usize) -> Reader<'a> {
        Reader::Pcap(PcapReader::at(bytes, self.info, pos, Some(self.first_ts_ns)))
    }

    fn end(&self, bytes: &[u8], piece: usize) -> usize {
        self.starts.get(piece + 1).copied().unwrap_or(bytes.len())
    }
}

/// Hands the pieces of the file `bytes`, read by `reader` (fresh from
/// [`Reader::new`]), to `consume` in file order, pieces of about `piece_bytes`. With a `pool`, pcap pieces are decoded on
/// it, a few ahead of the one consumed; the items are the same either way. Returns how
/// many pieces had to be walked again because their seam did not hold.
pub fn walk<E>(
    bytes: &[u8],
    reader: Reader,
    piece_bytes: usize,
    pool: Option<&rayon::ThreadPool>,
    input_index: u32,
    mut consume: impl FnMut(Piece) -> Result<(), E>,
) -> Result<usize, E> {
    let hasher = key_hasher();
    let (Some(pool), Some(cuts)) = (pool, Cuts::find(bytes, &reader, piece_bytes)) else {
        let mut reader = reader;
        loop {
            let end = Reader::position(&reader).saturating_add(piece_bytes.max(1));
            let piece = decode_piece(&mut reader, end, input_index, &hasher);
            let over = piece.stopped_at.is_none();
            consume(piece)?;
            if over {
                return Ok(0);
            }
        }
    };
    // Pieces decoded ahead of the one consumed: enough that decoding goes on while the
    // thread that feeds the flow table waits for the shard work. On the 20M campus capture
    // with 2 threads, 8 ran in 0.94 of the time of 3 (paired, n=5); 16 was no faster.
    let ahead = 4 * (pool.current_num_threads() + 1);
    let (cuts, hasher) = (&cuts, &hasher);
    pool.in_place_scope(|scope| {
        let mut pending = VecDeque::new();
        let mut expected = Some(cuts.starts[0]);
        let mut walked_again = 0;
        for i in 0..cuts.starts.len() {
            while pending.len() < ahead && i + pending.len() < cuts.starts.len() {
                let next = i + pending.len();
                let (tx, rx) = sync_channel(1);
                scope.spawn(move |_| {
                    let mut reader = cuts.reader_at(bytes, cuts.starts[next]);
                    let _ = tx.send(decode_piece(&mut reader, cuts.end(bytes, next), input_index, hasher));
                });
                pending.push_back(rx);
            }
            let piece = pending.pop_front().expect("spawned above").recv().expect("a decoding task answers");
            let Some(from) = expected else { break };
            let piece = if piece.start == from {
                piece
            } else {
                // The seam did not hold: walk this piece again from where the last stopped.
                walked_again += 1;
                decode_piece(&mut cuts.reader_at(bytes, from), cuts.end(bytes, i), input_index, hasher)
            };
            expected = piece.stopped_at;
            consume(piece)?;
        }
        Ok(walked_again)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::writer::PcapWriter;

    /// An Ethernet/IPv4/UDP frame from port `n`, 60 bytes.
    fn frame(n: u16) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[16..18].copy_from_slice(&46u16.to_be_bytes());
        f[22] = 64;
        f[23] = 17;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        f[34..36].copy_from_slice(&n.to_be_bytes());
        f[36..38].copy_from_slice(&53u16.to_be_bytes());
        f[38..40].copy_from_slice(&26u16.to_be_bytes());
        f
    }

    /// A capture of 60 frames, the 31st of which carries, as its payload, ten records of
    /// a pcap file of the same time: plausible record chains that are not boundaries.
    fn pcap_with_records_inside_a_record() -> Vec<u8> {
        let mut inner = PcapWriter::new(Vec::new(), 1, 65535).unwrap();
        for i in 0..10 {
            inner.write((1000 + i) * 1_000_000_000, 60, &frame(9000 + i as u16)).unwrap();
        }
        let inner = inner.finish().unwrap()[FILE_HEADER_LEN..].to_vec();
        let mut outer = PcapWriter::new(Vec::new(), 1, 65535).unwrap();
        for i in 0..61i64 {
            let data = if i == 30 { [frame(1).as_slice(), &inner].concat() } else { frame(i as u16) };
            outer.write((1000 + i) * 1_000_000_000, data.len() as u32, &data).unwrap();
        }
        outer.finish().unwrap()
    }

    fn items_of(bytes: &[u8], piece_bytes: usize, pool: Option<&rayon::ThreadPool>) -> (Vec<Item>, usize) {
        let mut items = Vec::new();
        let reader = Reader::new(bytes).unwrap();
        let again = walk(bytes, reader, piece_bytes, pool, 0, |piece| {
            items.extend(piece.items);
            Ok::<(), ()>(())
        })
        .unwrap();
        (items, again)
    }

    #[test]
    fn pieces_give_the_items_of_one_walk_even_where_seams_fail() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let bytes = pcap_with_records_inside_a_record();
        let (expected, _) = items_of(&bytes, usize::MAX, None);
        assert_eq!(expected.len(), 61);
        let mut walked_again = 0;
        for piece_bytes in (40..bytes.len()).step_by(23) {
            let (sequential, _) = items_of(&bytes, piece_bytes, None);
            assert_eq!(sequential, expected, "one thread, pieces of {piece_bytes}");
            let (parallel, again) = items_of(&bytes, piece_bytes, Some(&pool));
            assert_eq!(parallel, expected, "pieces of {piece_bytes}");
            walked_again += again;
        }
        // Some cuts fell inside the record that holds records: their seams failed.
        assert!(walked_again > 0);
    }

    #[test]
    fn damage_across_a_seam_gives_the_items_of_one_walk() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let mut bytes = pcap_with_records_inside_a_record();
        // Break the caplen of the 11th record (76 bytes each, after the 24-byte header).
        let at = FILE_HEADER_LEN + 10 * 76;
        bytes[at + 8..at + 12].copy_from_slice(&[0xff; 4]);
        let (expected, _) = items_of(&bytes, usize::MAX, None);
        assert!(expected.iter().any(|i| matches!(i, Item::Damage { resumed_at: Some(_), .. })));
        for piece_bytes in (40..bytes.len()).step_by(17) {
            assert_eq!(items_of(&bytes, piece_bytes, Some(&pool)).0, expected, "pieces of {piece_bytes}");
        }
    }
}
