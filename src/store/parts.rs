//! Part files encoded on the run's threads and recorded in order.
//!
//! Encoding a batch of flows as Parquet (nested per-packet lists, compression) costs about
//! as much as scanning it, and most flows of a capture shorter than the idle timeout end
//! together when the input is over: with one encoder, the second half of a run on the
//! 20 M-packet campus capture was that encoder alone. So batches are encoded on the same
//! pool as the scan (`threads::work_pool`), as jobs beside its decoding and shard work: a
//! run on N threads keeps N threads busy, whichever side has the work, and a run on one
//! thread encodes on it. Batches are numbered as they arrive, so part N holds the same rows
//! whichever thread writes it; parts are recorded in number order, and a checkpoint waits
//! for every part before it.

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
