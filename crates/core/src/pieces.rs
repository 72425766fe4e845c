//! One capture file read in pieces, decoded side by side on several threads.
//!
//! A file is cut at record (or block) starts near even splits of it. Each piece is walked
//! from its start until a record starts at or past the next piece's start, and its
//! records are decoded: packets go straight to their flow-table shard's bucket
//! ([`Routed`]), so that no thread handles every packet; other records become [`Item`]s.
//!
//! - A classic pcap file is cut where plausible chains of records start, found from the
//!   even splits ([`ChunkStarts`]): its record headers carry no marker, and nothing
//!   before a record is needed to read it.
//! - A pcapng file is cut by a first pass that hops from block to block ([`Hops`]),
//!   learning the sections and interfaces a piece's packets refer to, a few pieces ahead
//!   of the decoding.
//!
//! A start is only a candidate: the walk of the piece before must stop exactly on it,
//! knowing what the piece's reader was given (the seam). Where it does not — a false
//! boundary, or damage whose way back in lies past the seam — the piece is walked again
//! from where the one before stopped, on the consuming thread. The items, in order, are
//! therefore always those of one walk from the start of the file; threads change only who
//! decodes them. (ShardedTable::submit then takes the pieces in order, which the flow table
//! needs.)
//!
//! With one thread, files are walked once from the start, in pieces of [`PIECE_BYTES`] so
//! that decoded items never pile up.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, sync_channel};

use ahash::RandomState;

use crate::capture::pcap::{FILE_HEADER_LEN, PcapInfo, PcapReader};
use crate::capture::pcapng::PcapngReader;
use crate::capture::resync::{self, ChunkStarts, TimeWindow};
use crate::capture::{Damage, Event, Reader};
use crate::flow::packet::{FlowPacket, key_hasher};
use crate::flow::sharded::Routed;
use crate::skip::SkipReason;
use crate::wire::decode::{PacketMeta, decode};

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

/// The records of one piece: its packets already routed to their flow-table shards by the
/// thread that decoded them, and the records that are not packets.
pub struct Piece {
    /// Where the walk started.
    pub start: usize,
    /// The packets (fragments included).
    pub routed: Routed,
    /// Records that did not become packets ([`Item::Skip`], [`Item::Damage`]), each with
    /// the number of the piece's packets before it.
    pub others: Vec<(u32, Item)>,
    /// Where it stopped: the first record at or past the piece's end; `None` when the
    /// file is over for the reader (its end, or damage with no way back in).
    pub stopped_at: Option<usize>,
}

impl Piece {
    /// Records read (a damaged stretch counts as one).
    pub fn records(&self) -> u64 {
        (self.routed.len() + self.others.len()) as u64
    }

    /// The piece's records in file order, as one walk gives them (for tests).
    pub fn items(&self) -> Vec<Item> {
        let (packets, fragments) = self.routed.parts();
        // (packets before, whether it is a packet, order among others, item)
        let mut all: Vec<(u32, bool, usize, Item)> = packets.map(|(at, p)| (at, true, 0, Item::Packet(*p))).collect();
        all.extend(fragments.iter().map(|f| {
            let item = Item::Fragment(Box::new(Fragmented { meta: f.meta, ts_ns: f.ts_ns, wire_len: f.wire_len }));
            (f.at, true, 0, item)
        }));
        all.extend(self.others.iter().enumerate().map(|(i, (at, item))| {
            let item = match item {
                Item::Skip { reason, offset, link_type } => {
                    Item::Skip { reason: *reason, offset: *offset, link_type: *link_type }
                }
                Item::Damage { damage, resumed_at } => Item::Damage { damage: damage.clone(), resumed_at: *resumed_at },
                Item::Packet(_) | Item::Fragment(_) => unreachable!("packets are routed"),
            };
            (*at, false, i, item)
        }));
        all.sort_by_key(|&(at, packet, i, _)| (at, packet, i));
        all.into_iter().map(|(.., item)| item).collect()
    }
}

/// Pieces decoded ahead of the one consumed, at most, whatever the thread count: one per
/// thread of a 16-thread run is decoding to spare (decoding is a third of a run's work;
/// the flow table and the store give the rest), and each piece in flight holds its
/// packets decoded (about 10 MB for 8 MB of capture). Four per thread at 16 threads
/// kept 64 in flight: on the 20 M-packet campus capture the run peaked at 2.0 GiB
/// instead of 1.8, and when one thread had a core to itself at the start of an
/// oversubscribed run it decoded half of them while the thread that feeds the flow
/// table waited for a turn (`scripts/thread_times.py --threads 16` on 2 cores: busiest
/// thread 0.59–0.71 CPU-s against 0.45 for the others; with 16, 0.53–0.59).
const AHEAD_MAX: usize = 16;

/// Packets decoded before a piece's buckets are sized for the rest of it.
const SAMPLE_PACKETS: usize = 256;

/// Walks `reader` until a record starts at or past `end` (or the file is over), decoding
/// each record. Damage is passed over as the scan does: resynchronise and go on.
fn decode_piece(reader: &mut Reader, end: usize, input_index: u32, hasher: &RandomState) -> Piece {
    let start = Reader::position(reader);
    let mut routed = Routed::new();
    let mut others = Vec::new();
    loop {
        let at = Reader::position(reader);
        if at >= end {
            return Piece { start, routed, others, stopped_at: Some(at) };
        }
        if routed.len() == SAMPLE_PACKETS {
            // Records of a capture are much alike in size: the first ones tell how many
            // the piece holds. (A walk of a whole file in one piece has no end to go by:
            // room for a piece's worth, then the buckets grow.)
            let per_packet = (at - start).div_ceil(SAMPLE_PACKETS).max(1);
            routed.reserve((end - at).min(PIECE_BYTES) / per_packet);
        }
        let Some(event) = reader.next_event() else {
            return Piece { start, routed, others, stopped_at: None };
        };
        let other = match event {
            Ok(Event::Packet(rec)) => match decode(rec.link_type, rec.data, rec.orig_len) {
                Ok(meta) => {
                    routed.push_meta(&meta, rec.ts_ns, rec.orig_len, input_index, hasher);
                    continue;
                }
                Err(reason) => Item::Skip { reason, offset: rec.offset, link_type: Some(rec.link_type) },
            },
            Ok(Event::Skipped { reason, offset }) => Item::Skip { reason, offset, link_type: None },
            Err(damage) => Item::Damage { resumed_at: reader.resync().map(|at| at as u64), damage },
        };
        others.push((routed.len() as u32, other));
    }
}

/// Where the pieces of a file start: for each, a reader standing there as the walk from
/// the start of the file would (a candidate, for pcap; exact, for pcapng).
enum Starts<'a> {
    /// Plausible chains of records found from even splits of a pcap file.
    /// (Each start is looked for as the walk comes near it.)
    Pcap { bytes: &'a [u8], cuts: ChunkStarts<'a>, info: PcapInfo, first_ts_ns: i64 },
    /// The first pass over a pcapng file.
    Pcapng(Hops<'a>),
}

impl<'a> Starts<'a> {
    /// Starts for a file of more than one piece, or `None` when it is read in one walk:
    /// a pcap file whose first record cannot be read (its time bounds where chains may
    /// lie, as for the reader from the start) or where no second start is found.
    fn find(bytes: &'a [u8], reader: &Reader<'a>, piece_bytes: usize) -> Option<Starts<'a>> {
        let pieces = bytes.len().div_ceil(piece_bytes.max(1));
        if pieces < 2 {
            return None;
        }
        let r = match reader {
            Reader::Pcapng(r) => return Some(Starts::Pcapng(Hops { reader: r.clone(), piece_bytes, first: true })),
            Reader::Pcap(r) => r,
        };
        let info = *r.info();
        let Some(Ok(Event::Packet(first))) = PcapReader::at(bytes, info, FILE_HEADER_LEN, None).next_event() else {
            return None;
        };
        let cuts = ChunkStarts::new(bytes, info, TimeWindow::after(first.ts_ns), pieces);
        // Without a second start the file is read in one walk.
        cuts.clone().nth(1)?;
        Some(Starts::Pcap { bytes, cuts, info, first_ts_ns: first.ts_ns })
    }
}

impl<'a> Iterator for Starts<'a> {
    type Item = Reader<'a>;

    fn next(&mut self) -> Option<Reader<'a>> {
        match self {
            Starts::Pcap { bytes, cuts, info, first_ts_ns } => {
                let at = cuts.next()?;
                Some(Reader::Pcap(PcapReader::at(bytes, *info, at, Some(*first_ts_ns))))
            }
            Starts::Pcapng(hops) => hops.next().map(Reader::Pcapng),
        }
    }
}

/// The first pass over a pcapng file: the reader itself, hopping from block to block
/// without decoding packets (a block's trailer lies next to the following header, so this
/// reads about one cache line per block). It stops at the first place, at or past each
/// multiple of the piece size, where a walk from the start would check whether its piece
/// is over (after a block that gave a packet or skip, or after a resynchronisation),
/// and hands out a copy of itself: the sections, interfaces and last packet time in force
/// there. Damage is passed over as the walk does. A piece walked from such a copy is
/// therefore the walk from the start, and it ends exactly where the next copy stands.
/// It runs on the consuming thread, a few pieces ahead of the pieces decoded.
struct Hops<'a> {
    reader: PcapngReader<'a>,
    piece_bytes: usize,
    first: bool,
}

impl<'a> Iterator for Hops<'a> {
    type Item = PcapngReader<'a>;

    fn next(&mut self) -> Option<PcapngReader<'a>> {
        if std::mem::take(&mut self.first) {
            return Some(self.reader.clone());
        }
        let pos = self.reader.position();
        let target = (pos / self.piece_bytes + 1).saturating_mul(self.piece_bytes);
        let r = &mut self.reader;
        loop {
            if r.damaged_at().is_some() || r.position() >= r.bytes().len() {
                return None;
            }
            if r.position() >= target {
                return Some(r.clone());
            }
            if let Some(Err(_)) = r.next_event() {
                resync::pcapng_reader(r);
            }
        }
    }
}

/// A piece handed to a decoding task: the reader where it starts, where it ends, and the
/// answer to come (the piece and the reader where its walk stopped).
struct Pending<'a> {
    start: Reader<'a>,
    end: usize,
    answer: Receiver<(Piece, Reader<'a>)>,
}

/// Hands the pieces of the file `bytes`, read by `reader` (fresh from
/// [`Reader::new`]), to `consume` in file order, pieces of about `piece_bytes`. With a
/// `pool`, pieces are decoded on it, a few ahead of the one consumed; the items are the
/// same either way. Returns how many pieces had to be walked again because their seam did
/// not hold.
pub fn walk<E>(
    bytes: &[u8],
    reader: Reader,
    piece_bytes: usize,
    pool: Option<&rayon::ThreadPool>,
    input_index: u32,
    mut consume: impl FnMut(Piece) -> Result<(), E>,
) -> Result<usize, E> {
    let hasher = key_hasher();
    // (Starts are looked for only when there is a pool to decode pieces on.)
    let Some((pool, mut starts)) = pool.and_then(|pool| Some((pool, Starts::find(bytes, &reader, piece_bytes)?)))
    else {
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
    // (At most `AHEAD_MAX`.)
    let ahead = (4 * pool.current_num_threads()).min(AHEAD_MAX);
    let hasher = &hasher;
    pool.in_place_scope(|scope| {
        let mut pending = VecDeque::new();
        let mut upcoming = starts.next();
        // The walk from the start: where it stands, and what it knows there.
        let mut walker = upcoming.clone().expect("two starts at least");
        let mut walked_again = 0;
        loop {
            while pending.len() < ahead
                && let Some(start) = upcoming.take()
            {
                upcoming = starts.next();
                let end = upcoming.as_ref().map_or(bytes.len(), Reader::position);
                let (tx, answer) = sync_channel(1);
                let mut reader = start.clone();
                scope.spawn(move |_| {
                    let piece = decode_piece(&mut reader, end, input_index, hasher);
                    let _ = tx.send((piece, reader));
                });
                pending.push_back(Pending { start, end, answer });
            }
            let Some(next) = pending.pop_front() else { break };
            let (piece, after) = next.answer.recv().expect("a decoding task answers");
            let at = &mut walker;
            let piece = if next.start.same_state(at) {
                *at = after;
                piece
            } else {
                // The seam did not hold: walk this piece again from where the last stopped.
                walked_again += 1;
                decode_piece(at, next.end, input_index, hasher)
            };
            let over = piece.stopped_at.is_none();
            consume(piece)?;
            if over {
                break;
            }
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
            items.extend(piece.items());
            Ok::<(), ()>(())
        })
        .unwrap();
        (items, again)
    }

    /// Records put in place by position: packets of many shards, a fragment, and records
    /// that are not packets before the first packet, between two, and after the last.
    #[test]
    fn a_pieces_items_are_in_file_order() {
        let hasher = key_hasher();
        let mut routed = Routed::new();
        let metas: Vec<PacketMeta> = (0..200).map(|n| decode(1, &frame(n), 60).unwrap()).collect();
        for (i, meta) in metas.iter().enumerate() {
            if i == 7 {
                routed.push_fragment(*meta, i as i64, 60, 0);
            } else {
                routed.push_meta(meta, i as i64, 60, 0, &hasher);
            }
        }
        let skip = |offset| Item::Skip { reason: SkipReason::NonIp, offset, link_type: None };
        let others = vec![(0, skip(1)), (7, skip(2)), (7, skip(3)), (200, skip(4))];
        let piece = Piece { start: 0, routed, others, stopped_at: None };
        let got: Vec<(u32, Option<u64>)> = piece
            .items()
            .iter()
            .map(|item| match item {
                Item::Packet(p) => (1, Some(p.ts_ns as u64)),
                Item::Fragment(f) => (2, Some(f.ts_ns as u64)),
                Item::Skip { offset, .. } => (0, Some(*offset)),
                Item::Damage { .. } => (3, None),
            })
            .collect();
        let mut expected = vec![(0, Some(1))];
        expected.extend((0..7).map(|i| (1, Some(i))));
        expected.extend([(0, Some(2)), (0, Some(3)), (2, Some(7))]);
        expected.extend((8..200).map(|i| (1, Some(i))));
        expected.push((0, Some(4)));
        assert_eq!(got, expected);
        let shards: std::collections::HashSet<usize> =
            metas.iter().map(|m| crate::flow::sharded::shard_of(FlowPacket::new(m, 0, 60, 0, &hasher).hash)).collect();
        assert!(shards.len() > 32, "the packets are spread over the shards: {}", shards.len());
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
    fn pieces_past_the_sample_that_sizes_their_buckets_give_the_same_items() {
        let mut pcap = PcapWriter::new(Vec::new(), 1, 65535).unwrap();
        for i in 0..3 * SAMPLE_PACKETS as i64 {
            pcap.write((1000 + i) * 1_000_000, 60, &frame(i as u16)).unwrap();
        }
        let bytes = pcap.finish().unwrap();
        // One piece for the whole file (no end to size the buckets by), then small pieces.
        let (whole, _) = items_of(&bytes, usize::MAX, None);
        assert_eq!(whole.len(), 3 * SAMPLE_PACKETS);
        let piece = 300 * 76;
        assert_eq!(items_of(&bytes, piece, None).0, whole);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        assert_eq!(items_of(&bytes, piece, Some(&pool)).0, whole);
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
