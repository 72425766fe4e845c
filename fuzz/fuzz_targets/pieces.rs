//! A capture decoded in pieces on two threads gives the items of one walk from the start.
//!
//! The input is a capture (pcap or pcapng; the seeds are real captures) cut into pieces
//! of a size chosen by its last byte, from 16 bytes (smaller than a record) up. Checks:
//! no panic, the walk ends, and the items (packets, skips, damage with where reading went
//! on) equal, in order, those of one reader walking the whole file.

#![no_main]

use std::sync::OnceLock;

use flowmine_core::capture::{Format, Reader};
use flowmine_core::pieces::{Item, walk};
use libfuzzer_sys::fuzz_target;

/// Seams are found by searches that may scan to the end of the input: the first 64 KiB
/// keep runs fast.
const MAX_LEN: usize = 64 << 10;

fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("threads"))
}

fn items(bytes: &[u8], piece_bytes: usize, pool: Option<&rayon::ThreadPool>) -> Vec<Item> {
    let mut items = Vec::new();
    let reader = Reader::new(bytes).expect("checked before");
    walk(bytes, reader, piece_bytes, pool, 0, |piece| {
        items.extend(piece.items());
        Ok::<(), ()>(())
    })
    .expect("the consumer never fails");
    items
}

fuzz_target!(|input: &[u8]| {
    let bytes = &input[..input.len().min(MAX_LEN)];
    if Format::detect(bytes).is_none() || Reader::new(bytes).is_err() {
        return;
    }
    let piece_bytes = 16 + usize::from(bytes[bytes.len() - 1]) * 29;
    let expected = items(bytes, usize::MAX, None);
    assert_eq!(items(bytes, piece_bytes, Some(pool())), expected, "pieces of {piece_bytes} bytes");
});
