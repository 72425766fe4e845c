//! Checks shared by the fuzz targets.

use flowmine_core::capture::{Event, Format, Reader, Record};

/// Where a slice borrowed from `whole` starts and ends in it; panics if it lies elsewhere.
pub fn span_in(whole: &[u8], part: &[u8]) -> (usize, usize) {
    let base = whole.as_ptr() as usize;
    let start = part.as_ptr() as usize;
    assert!(start >= base, "slice starts before the input");
    let start = start - base;
    let end = start + part.len();
    assert!(end <= whole.len(), "slice [{start}, {end}) runs past the input of {} bytes", whole.len());
    (start, end)
}

/// What a whole-file walk saw.
#[derive(Debug, Default)]
pub struct Walk {
    /// Offsets of the records (pcap) or blocks (pcapng) that yielded a packet.
    pub packets: Vec<usize>,
    pub skipped: usize,
    /// Where reading stopped for damage, if it did.
    pub damage: Option<u64>,
}

/// Walks every event of a capture of the given format to the end, checking what every
/// reader promises:
/// - an event's offset lies at or after where the reader stood before it, inside the input,
///   and before where the reader stands after it (positions strictly increase);
/// - a record's bytes lie inside the input, after its offset and before the next position;
/// - damage is reported once, at or after the reader's position, and nothing follows it;
/// - the walk ends, and a walk that ends without damage has consumed the whole input.
///
/// `record_layout` checks format-specific facts of a packet record (given the record, the
/// position before it and the position after it).
pub fn walk(bytes: &[u8], format: Format, record_layout: impl Fn(&Record, usize, usize)) -> Walk {
    let mut out = Walk::default();
    let Ok(mut reader) = Reader::new(bytes) else { return out };
    assert_eq!(reader.format(), format);
    // Every event consumes at least a 12-byte block or a 16-byte record header.
    let max_events = bytes.len() / 12 + 1;
    let mut events = 0;
    loop {
        let before = reader.position();
        assert!(before <= bytes.len(), "position {before} past the end {}", bytes.len());
        let Some(event) = reader.next_event() else { break };
        events += 1;
        assert!(events <= max_events, "more events than the input can hold");
        let after = reader.position();
        match event {
            Ok(Event::Packet(record)) => {
                let offset = record.offset as usize;
                assert!(before <= offset && offset < after, "record at {offset} outside [{before}, {after})");
                assert!(after <= bytes.len());
                let (start, end) = span_in(bytes, record.data);
                assert!(offset < start, "data at {start} not after its header at {offset}");
                assert!(end <= after, "data ends at {end}, after the next position {after}");
                record_layout(&record, before, after);
                out.packets.push(offset);
            }
            Ok(Event::Skipped { offset, .. }) => {
                let offset = offset as usize;
                assert!(before <= offset && offset < after, "skip at {offset} outside [{before}, {after})");
                out.skipped += 1;
            }
            Err(damage) => {
                let offset = damage.offset as usize;
                assert!(offset >= before && offset < bytes.len(), "damage at {offset}, reader at {before}");
                // Formatting the message must not panic either.
                let _ = damage.to_string();
                out.damage = Some(damage.offset);
                assert!(reader.next_event().is_none(), "an event after damage");
                assert!(reader.next_event().is_none(), "an event after damage");
                return out;
            }
        }
    }
    assert_eq!(reader.position(), bytes.len(), "a walk without damage ends at the end of the input");
    out
}
