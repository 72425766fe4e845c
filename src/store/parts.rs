//! Part files encoded on the run's threads and recorded in order.
//!
//! Encoding a batch of flows as Parquet (nested per-packet lists, compression) costs about
//! as much as scanning it, and most flows of a capture shorter than the idle timeout end
//! together when the input is over: with one encoder, the second half of a run on the
//! 20 M-packet campus capture was that encoder alone. So batches are encoded on the same
//! pool as the scan (`threads::work_pool`), as jobs beside its decoding and shard work: a
//! run on N threads keeps N threads busy, whichever side has the work, and a run on one
//! thread encodes on it. A part's row groups are jobs of their own (store/encode.rs), so
//! that the work left when the input ends is spread thin over the threads. Batches are
//! numbered as they arrive, so part N holds the same rows whichever thread writes it;
//! parts are recorded in number order, and a checkpoint waits for every part before it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};

use flowmine_core::flow::FlowBatch;
use polars::prelude::DataFrame;

use super::manifest::Part;
use super::writer::{StoreWriter, write_part_file};
use crate::Error;

/// Turns a batch into the rows of its part.
pub type Encode<'a> = &'a (dyn Fn(FlowBatch) -> Result<DataFrame, Error> + Sync);

/// A part written by a job, under its number.
type Finished = (usize, Result<Part, Error>);

/// Batches on their way to becoming parts of a store: see [`with_parts`].
pub struct Parts<'w, 'scope, 'env> {
    writer: &'w mut StoreWriter,
    dir: &'env Path,
    encode: Encode<'env>,
    /// Where jobs go (`None`: one thread, a batch is written when it is added).
    scope: Option<&'scope rayon::Scope<'env>>,
    /// Jobs handed out and not yet finished, and how many may be: each holds a batch in
    /// memory, so as many as the pool has threads.
    in_flight: usize,
    most_in_flight: usize,
    done_tx: Sender<Finished>,
    done: Receiver<Finished>,
    /// Parts finished out of order, waiting for the ones before them.
    waiting: BTreeMap<usize, Part>,
    /// The number of the next batch.
    next: usize,
}

/// Runs `run` with a [`Parts`] that writes the batches it is given into `writer`, encoded
/// by `encode` on `pool` (`None`: at once, on this thread). Returns when `run` has and every
/// part handed out is written: at the first error, with it.
pub fn with_parts<T>(
    writer: &mut StoreWriter,
    pool: Option<&rayon::ThreadPool>,
    encode: Encode<'_>,
    run: impl FnOnce(&mut Parts) -> Result<T, Error>,
) -> Result<T, Error> {
    let dir = writer.dir().to_owned();
    let most_in_flight = pool.map_or(1, |p| p.current_num_threads());
    // The scope waits for every job it started, also when `run` stops early.
    match pool {
        None => drive(Parts::new(writer, &dir, encode, None, most_in_flight), run),
        Some(pool) => {
            pool.in_place_scope(|scope| drive(Parts::new(writer, &dir, encode, Some(scope), most_in_flight), run))
        }
    }
}

fn drive<T>(mut parts: Parts, run: impl FnOnce(&mut Parts) -> Result<T, Error>) -> Result<T, Error> {
    let value = run(&mut parts)?;
    parts.wait_all()?;
    Ok(value)
}

impl<'w, 'scope, 'env> Parts<'w, 'scope, 'env> {
    fn new(
        writer: &'w mut StoreWriter,
        dir: &'env Path,
        encode: Encode<'env>,
        scope: Option<&'scope rayon::Scope<'env>>,
        most_in_flight: usize,
    ) -> Self {
        let (done_tx, done) = channel();
        let next = writer.parts().len();
        Parts {
            writer,
            dir,
            encode,
            scope,
            in_flight: 0,
            most_in_flight,
            done_tx,
            done,
            waiting: BTreeMap::new(),
            next,
        }
    }

    /// Hands `batch` over as the next part.
    pub fn add(&mut self, batch: FlowBatch) -> Result<(), Error> {
        let index = self.next;
        self.next += 1;
        let Some(scope) = self.scope else {
            let part = encode_part(self.encode, self.dir, index, batch)?;
            self.writer.add_part(part);
            return Ok(());
        };
        while self.in_flight >= self.most_in_flight {
            self.receive(true)?;
        }
        let (encode, dir, done) = (self.encode, self.dir, self.done_tx.clone());
        scope.spawn(move |_| {
            // The receiver is gone only when the run stopped at an error.
            let _ = done.send((index, encode_part(encode, dir, index, batch)));
        });
        self.in_flight += 1;
        while self.in_flight > 0 && self.receive(false)? {}
        Ok(())
    }

    /// Waits for every part handed out, then gives the writer to `f` (a checkpoint, which
    /// must follow every part before it).
    pub fn after_all<T>(&mut self, f: impl FnOnce(&mut StoreWriter) -> Result<T, Error>) -> Result<T, Error> {
        self.wait_all()?;
        f(self.writer)
    }

    fn wait_all(&mut self) -> Result<(), Error> {
        while self.in_flight > 0 {
            self.receive(true)?;
        }
        Ok(())
    }

    /// Takes one finished part (waiting for it with `wait`) and records every part that
    /// is next in order; false if none had finished.
    fn receive(&mut self, wait: bool) -> Result<bool, Error> {
        let (index, part) = if wait {
            self.done.recv().expect("this holds a sender")
        } else {
            match self.done.try_recv() {
                Ok(finished) => finished,
                Err(_) => return Ok(false),
            }
        };
        self.in_flight -= 1;
        self.waiting.insert(index, part?);
        while let Some(part) = self.waiting.remove(&self.writer.parts().len()) {
            self.writer.add_part(part);
        }
        Ok(true)
    }
}

fn encode_part(encode: Encode, dir: &Path, index: usize, batch: FlowBatch) -> Result<Part, Error> {
    let mut rows = encode(batch)?;
    write_part_file(dir, index, &mut rows)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::mpsc::sync_channel;
    use std::thread::ThreadId;

    use polars::prelude::*;

    use super::*;

    /// A batch of `rows` rows (only their count matters to the encoders below).
    fn batch(rows: usize) -> FlowBatch {
        let mut b = FlowBatch::new();
        b.ip_version = vec![4; rows];
        b
    }

    fn rows_frame(b: &FlowBatch) -> Result<DataFrame, Error> {
        Ok(df!("n" => vec![b.len() as u64; b.len()])?)
    }

    fn store() -> (tempfile::TempDir, StoreWriter) {
        let dir = tempfile::tempdir().unwrap();
        let writer = StoreWriter::create(&dir.path().join("s"), false).unwrap();
        (dir, writer)
    }

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
    }

    #[test]
    fn one_thread_encodes_on_the_callers_thread() {
        let (_dir, mut writer) = store();
        let threads = Mutex::new(Vec::<ThreadId>::new());
        let encode = |b: FlowBatch| {
            threads.lock().unwrap().push(std::thread::current().id());
            rows_frame(&b)
        };
        with_parts(&mut writer, None, &encode, |parts| (1..=3).try_for_each(|n| parts.add(batch(n)))).unwrap();
        assert_eq!(*threads.lock().unwrap(), vec![std::thread::current().id(); 3]);
        let rows: Vec<u64> = writer.parts().iter().map(|p| p.rows).collect();
        assert_eq!(rows, [1, 2, 3]);
    }

    #[test]
    fn parts_finished_out_of_order_are_recorded_in_order() {
        let (_dir, mut writer) = store();
        let pool = pool(2);
        // The batch of one row waits until the batch of two rows is written.
        let (two_done, wait_for_two) = sync_channel::<()>(1);
        let wait_for_two = Mutex::new(wait_for_two);
        let caller = std::thread::current().id();
        let encode = |b: FlowBatch| {
            assert_ne!(std::thread::current().id(), caller, "a pool thread encodes");
            if b.len() == 1 {
                wait_for_two.lock().unwrap().recv().unwrap();
            }
            rows_frame(&b)
        };
        let checkpoint_saw = with_parts(&mut writer, Some(&pool), &encode, |parts| {
            parts.add(batch(1))?;
            parts.add(batch(2))?;
            // Part 1 (two rows) is written first; part 0 is still waiting for it.
            let written = || -> Vec<_> {
                std::fs::read_dir(parts.dir)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            };
            let names = (0..30_000)
                .map(|_| std::thread::sleep(std::time::Duration::from_millis(1)))
                .map(|_| written())
                .find(|n| n.iter().any(|n| n == "part-00001.parquet"))
                .expect("part 1 is written while part 0 waits");
            assert!(!names.iter().any(|n| n == "part-00000.parquet"));
            two_done.send(()).unwrap();
            parts.add(batch(3))?;
            parts.after_all(|w| Ok(w.parts().iter().map(|p| p.rows).collect::<Vec<_>>()))
        })
        .unwrap();
        assert_eq!(checkpoint_saw, [1, 2, 3], "a checkpoint follows every part before it");
        let names: Vec<&str> = writer.parts().iter().map(|p| p.file.as_str()).collect();
        assert_eq!(names, ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]);
    }

    #[test]
    fn an_encoding_error_stops_the_run_with_it() {
        for threads in [1, 2] {
            let (_dir, mut writer) = store();
            let pool = pool(threads);
            let encode = |b: FlowBatch| match b.len() {
                2 => Err(Error::Usage("batch two cannot be encoded".into())),
                _ => rows_frame(&b),
            };
            let pool = (threads > 1).then_some(&pool);
            let result = with_parts(&mut writer, pool, &encode, |parts| (1..=5).try_for_each(|n| parts.add(batch(n))));
            let err = result.expect_err("the second batch fails");
            assert!(err.to_string().contains("batch two cannot be encoded"), "{err}");
            assert!(writer.parts().iter().all(|p| p.rows != 2), "the failed part is not recorded");
        }
    }
}
