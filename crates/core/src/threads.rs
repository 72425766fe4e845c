//! How many threads a run uses: one policy for the scan and the flow table's shards.

/// The threads a run uses for `requested` (0: one per core).
pub fn thread_count(requested: usize) -> usize {
    match requested {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}
