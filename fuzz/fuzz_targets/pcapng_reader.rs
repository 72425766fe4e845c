//! The pcapng reader over arbitrary bytes: blocks are 4-byte aligned and framed one after
//! another, every packet's bytes lie inside its block, and the walk ends.

#![no_main]

use flowmine_core::capture::Format;
use flowmine_fuzz::{span_in, walk};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if Format::detect(bytes) != Some(Format::Pcapng) {
        return;
    }
    let result = walk(bytes, Format::Pcapng, |record, _before, after| {
        let offset = record.offset as usize;
        // Block lengths are multiples of 4 from the start of the file.
        assert_eq!(offset % 4, 0, "block at unaligned offset {offset}");
        assert_eq!(after % 4, 0, "next block at unaligned offset {after}");
        let (start, end) = span_in(bytes, record.data);
        // Type and length before the body, the trailing length after it.
        assert!(start >= offset + 12, "packet data at {start} inside the header of block {offset}");
        assert!(end + 4 <= after, "packet data ends at {end}, inside the trailer of the block ending at {after}");
    });
    if let Some(at) = result.damage {
        assert_eq!(at % 4, 0, "damage at unaligned offset {at}");
    }
    for pair in result.packets.windows(2) {
        assert!(pair[0] < pair[1], "packet blocks not in file order: {pair:?}");
    }
});
