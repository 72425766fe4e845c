//! Part files encoded on several threads and recorded in order.
//!
//! Encoding a batch of flows as Parquet (nested per-packet lists, compression) costs about
//! as much as scanning it, and most flows of a capture shorter than the idle timeout end
//! together when the input is over: with one encoder, the second half of a run on the
//! 20 M-packet campus capture was that encoder alone. Batches are numbered as they
//! arrive, so part N holds the same rows whichever thread writes it; parts are recorded
//! in number order, and a checkpoint waits for every part before it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, channel, sync_channel};

use flowmine_core::flow::FlowBatch;
use flowmine_core::scan::Checkpoint;
use polars::prelude::DataFrame;

use super::manifest::Part;
use super::writer::{StoreWriter, write_part_file};
use crate::Error;

/// What the store writer is handed, in order.
pub enum ToWriter {
    Flows(Box<FlowBatch>),
    Checkpoint(Checkpoint),
}

/// Writes everything `work` brings into `writer`: batches become parts, encoded by
/// `encode` on `encoders` threads; checkpoints are handed to `checkpoint` once every part
/// before them is recorded. Returns at the end of `work` with every part recorded, or at
/// the first error.
pub fn write_parts<E: From<Error> + Send>(
    work: Receiver<ToWriter>,
    writer: &mut StoreWriter,
    encoders: usize,
    encode: impl Fn(FlowBatch) -> Result<DataFrame, E> + Sync,
    mut checkpoint: impl FnMut(&mut StoreWriter, Checkpoint) -> Result<(), E>,
) -> Result<(), E> {
    let dir = writer.dir().to_owned();
    // A rendezvous: a batch is handed over only when an encoder is free, so no batch
    // waits here holding memory.
    let (jobs, job) = sync_channel::<(usize, Box<FlowBatch>)>(0);
    let job = Mutex::new(job);
    let (done_tx, done) = channel::<(usize, Result<Part, E>)>();
    std::thread::scope(|scope| {
        // Owned here, so that leaving early (an error) ends the encoders.
        let (jobs, done) = (jobs, done);
        for i in 0..encoders.max(1) {
            let (job, done_tx, encode, dir) = (&job, done_tx.clone(), &encode, &dir);
            std::thread::Builder::new()
                .name(format!("fm-parts-{i}"))
                .spawn_scoped(scope, move || {
                    loop {
                        // The lock is held only while waiting for the next batch.
                        let next = job.lock().map(|j| j.recv());
                        let Ok(Ok((index, batch))) = next else { break };
                        let part = encode(*batch).and_then(|mut df| Ok(write_part_file(dir, index, &mut df)?));
                        if done_tx.send((index, part)).is_err() {
                            break;
                        }
                    }
                })
                .expect("threads can be started");
        }
        drop(done_tx);

        let mut written: BTreeMap<usize, Part> = BTreeMap::new();
        let mut next = writer.parts().len();
        // Records finished parts in order; with `wait`, until every part handed out is.
        let mut record = |writer: &mut StoreWriter, next: usize, wait: bool| -> Result<(), E> {
            loop {
                while let Some(part) = written.remove(&writer.parts().len()) {
                    writer.add_part(part);
                }
                if writer.parts().len() == next {
                    return Ok(());
                }
                let (index, part) = if wait {
                    done.recv().expect("an encoder holds each batch handed out")
                } else {
                    match done.try_recv() {
                        Ok(d) => d,
                        Err(_) => return Ok(()),
                    }
                };
                written.insert(index, part?);
            }
        };
        for item in work {
            match item {
                ToWriter::Flows(batch) => {
                    jobs.send((next, batch)).expect("encoders run while jobs are sent");
                    next += 1;
                    record(writer, next, false)?;
                }
                ToWriter::Checkpoint(c) => {
                    record(writer, next, true)?;
                    checkpoint(writer, c)?;
                }
            }
        }
        drop(jobs);
        record(writer, next, true)
    })
}
