//! How many threads a run uses: one policy, and one pool, for decoding, the flow table's
//! shards and whatever the caller runs beside them (the store's encoding).

use std::sync::Arc;

/// The threads a run uses for `requested` (0: one per core).
pub fn thread_count(requested: usize) -> usize {
    match requested {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// The pool of a run on `requested` threads ([`thread_count`]): `None` for one thread,
/// where everything runs on the caller's. All of a run's work goes to this one pool, so
/// that `threads` is the number of threads at work, not a number per stage.
pub fn work_pool(requested: usize) -> Option<Arc<rayon::ThreadPool>> {
    let threads = thread_count(requested);
    (threads > 1).then(|| {
        Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                // At most 15 characters, as the kernel keeps them: per-thread accounting
                // (scripts/thread_times.py) tells threads apart by name.
                .thread_name(|i| format!("fm-work-{i}"))
                .build()
                .expect("threads can be started"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_thread_has_no_pool_and_n_threads_a_pool_of_n() {
        assert!(work_pool(1).is_none());
        assert_eq!(work_pool(3).map(|p| p.current_num_threads()), Some(3));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(work_pool(0).map_or(1, |p| p.current_num_threads()), cores);
    }
}
