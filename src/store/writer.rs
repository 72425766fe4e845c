//! Writes a store: part files and the manifest, each written to a temporary name, synced,
//! then renamed, so a file that has its final name is complete.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars_utils::compression::ZstdLevel;

use serde::{Deserialize, Serialize};

use super::manifest::{Manifest, Parameters, Part};
use super::{MANIFEST_FILE, part_files};
use crate::Error;

/// Where an interrupted run stands: written at each checkpoint, removed once the manifest
/// is written.
pub const RESUME_FILE: &str = "resume.json";

/// Written last into a partial store: a shard without it did not finish.
pub const SHARD_FILE: &str = "shard.json";
/// The journal of keys the shard could not settle alone (`formats/shards.md`).
pub const JOURNAL_FILE: &str = "journal.bin";
/// What the next shards need: flows left open, clock, fragments, file reports.
pub const HANDOFF_FILE: &str = "handoff.bin";

/// Files of a partial store (`flows --shard`, formats/shards.md) besides its parts.
pub const SHARD_FILES: [&str; 3] = [SHARD_FILE, JOURNAL_FILE, HANDOFF_FILE];

/// `resume.json`: the last checkpoint of a run that has not finished (formats/store.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumePoint {
    pub format: String,
    pub format_version: u32,
    pub parameters: Parameters,
    /// Inputs fully read, in reading order.
    pub inputs_done: Vec<String>,
    /// Parts written before the checkpoint: the flows that ended in those inputs.
    pub parts: Vec<Part>,
    /// The run state file beside it, and its BLAKE3 hash.
    pub state_file: String,
    pub state_blake3: String,
}

pub const RESUME_FORMAT_NAME: &str = "flowmine-resume";
pub const RESUME_FORMAT_VERSION: u32 = 1;

/// Bytes gathered before a part file is written to.
const WRITE_BUFFER: usize = 1 << 20;

/// The name of part number `index`.
pub fn part_name(index: usize) -> String {
    format!("part-{index:05}.parquet")
}

/// Writes part number `index` of the store in `dir`, from any thread; the part counts
/// once it is recorded with [`StoreWriter::add_part`].
pub fn write_part_file(dir: &Path, index: usize, df: &mut DataFrame) -> Result<Part, Error> {
    let name = part_name(index);
    let path = dir.join(&name);
    // zstd level 1 rather than the default 3: on the 20 M-packet campus capture the whole
    // run took 10.2 s instead of 11.1 s for a store 19 % larger (221 MB vs 186 MB);
    // stores are rebuilt often, so time wins. Polars' own column threads are not used:
    // they only added buffers (peak 1586 -> 1521 MiB, time 0.99, paired n=5, same bytes);
    // row groups are jobs of the run's pool instead (store/encode.rs).
    let level = ZstdLevel::try_new(1).expect("1 is a zstd level");
    // The file Polars' writer would write, its list columns' levels computed faster and
    // their values byte-stream split (store/encode.rs).
    write_atomically(&path, |file| {
        // The Parquet writer writes each page header and page as it goes: unbuffered, a
        // part of the 20 M-packet campus capture took about 5 000 write calls.
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        super::encode::write_frame(&mut out, df, ParquetCompression::Zstd(Some(level)))
            .map_err(|source| Error::Polars { path: path.clone(), source })?;
        out.flush().map_err(io(&path))
    })?;
    Ok(Part { file: name, rows: df.height() as u64 })
}

/// Names a store directory may hold: the manifest, parts, the resume point and run
/// states, and temporaries of any of them.
fn is_store_file(p: &Path) -> bool {
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = name.strip_suffix(".tmp").unwrap_or(&name);
    p.is_file()
        && (name == MANIFEST_FILE
            || name == RESUME_FILE
            || (name.starts_with("part-") && name.ends_with(".parquet"))
            || (name.starts_with("state-") && name.ends_with(".bin"))
            || SHARD_FILES.contains(&name))
}

/// What [`StoreWriter::resume`] found.
pub enum Resumed {
    /// The store has its manifest: nothing is left to do.
    Complete(Manifest),
    /// Go on from this checkpoint (`None`: there was none; start from the first input).
    From(StoreWriter, Option<(ResumePoint, Vec<u8>)>),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_owned(), source }
}

pub struct StoreWriter {
    dir: PathBuf,
    parts: Vec<Part>,
}

impl StoreWriter {
    /// Opens `dir` for a new store. An existing non-empty directory is refused unless
    /// `overwrite` is set, and even then only if it holds nothing but a previous store.
    pub fn create(dir: &Path, overwrite: bool) -> Result<StoreWriter, Error> {
        if dir.exists() {
            let entries: Vec<PathBuf> = fs::read_dir(dir)
                .map_err(io(dir))?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()
                .map_err(io(dir))?;
            if !entries.is_empty() {
                if !overwrite && dir.join(RESUME_FILE).exists() && !dir.join(MANIFEST_FILE).exists() {
                    return Err(Error::Interrupted(dir.to_owned()));
                }
                if !overwrite {
                    return Err(Error::NotEmpty(dir.to_owned()));
                }
                if let Some(foreign) = entries.iter().find(|p| !is_store_file(p)) {
                    return Err(Error::Foreign { path: dir.to_owned(), example: foreign.clone() });
                }
                // The manifest goes first: a store without one is visibly incomplete.
                for p in entries.iter().filter(|p| p.ends_with(MANIFEST_FILE)).chain(entries.iter()) {
                    if p.exists() {
                        fs::remove_file(p).map_err(io(p))?;
                    }
                }
            }
        }
        fs::create_dir_all(dir).map_err(io(dir))?;
        debug_assert!(part_files(dir).is_err(), "a new store has no manifest yet");
        Ok(StoreWriter { dir: dir.to_owned(), parts: Vec::new() })
    }

    /// Reopens the store of an interrupted run at its last checkpoint: parts written after
    /// it, temporaries and stale run states are removed, and the checkpoint's run state
    /// is read back and checked against its hash. A store with a manifest is complete.
    pub fn resume(dir: &Path) -> Result<Resumed, Error> {
        let cannot = |what: String| Error::CannotResume { path: dir.to_owned(), what };
        let manifest_path = dir.join(MANIFEST_FILE);
        if manifest_path.exists() {
            let manifest: Manifest = serde_json::from_slice(&fs::read(&manifest_path).map_err(io(&manifest_path))?)
                .map_err(|e| cannot(format!("{MANIFEST_FILE}: {e}")))?;
            // A run killed after its manifest but before its clean-up.
            remove_resume_files(dir, None)?;
            return Ok(Resumed::Complete(manifest));
        }
        if !dir.exists() {
            return Ok(Resumed::From(StoreWriter::create(dir, false)?, None));
        }
        let entries: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(io(dir))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io(dir))?;
        if let Some(foreign) = entries.iter().find(|p| !is_store_file(p)) {
            return Err(Error::Foreign { path: dir.to_owned(), example: foreign.clone() });
        }
        let resume_path = dir.join(RESUME_FILE);
        let point = if resume_path.exists() {
            let point: ResumePoint = serde_json::from_slice(&fs::read(&resume_path).map_err(io(&resume_path))?)
                .map_err(|e| cannot(format!("{RESUME_FILE}: {e}")))?;
            if point.format != RESUME_FORMAT_NAME || point.format_version != RESUME_FORMAT_VERSION {
                return Err(cannot(format!("{RESUME_FILE}: not a version {RESUME_FORMAT_VERSION} resume point")));
            }
            let state_path = dir.join(&point.state_file);
            let state = fs::read(&state_path).map_err(io(&state_path))?;
            if blake3::hash(&state).to_hex().as_str() != point.state_blake3 {
                return Err(cannot(format!("{}: does not match its hash in {RESUME_FILE}", point.state_file)));
            }
            Some((point, state))
        } else {
            None
        };
        // Everything not recorded at the checkpoint was written after it: it goes.
        let keep: Vec<&str> = match &point {
            Some((p, _)) => {
                p.parts.iter().map(|x| x.file.as_str()).chain([RESUME_FILE, p.state_file.as_str()]).collect()
            }
            None => Vec::new(),
        };
        for p in &entries {
            if !keep.iter().any(|k| p.file_name().is_some_and(|n| n == *k)) {
                fs::remove_file(p).map_err(io(p))?;
            }
        }
        let parts = point.as_ref().map(|(p, _)| p.parts.clone()).unwrap_or_default();
        for part in &parts {
            let path = dir.join(&part.file);
            if !path.is_file() {
                return Err(cannot(format!("{}: listed in {RESUME_FILE} but missing", part.file)));
            }
        }
        Ok(Resumed::From(StoreWriter { dir: dir.to_owned(), parts }, point))
    }

    /// Records a checkpoint: the run state (to a new file), then `resume.json` naming it and
    /// the parts written so far, each atomically; then the previous state file goes. A
    /// crash at any moment leaves a `resume.json` whose state and parts are all complete.
    pub fn checkpoint(&mut self, parameters: &Parameters, inputs_done: &[PathBuf], state: &[u8]) -> Result<(), Error> {
        let state_file = format!("state-{:06}.bin", inputs_done.len());
        let state_path = self.dir.join(&state_file);
        write_atomically(&state_path, |file| file.write_all(state).map_err(io(&state_path)))?;
        let point = ResumePoint {
            format: RESUME_FORMAT_NAME.to_owned(),
            format_version: RESUME_FORMAT_VERSION,
            parameters: parameters.clone(),
            inputs_done: inputs_done.iter().map(|p| p.to_string_lossy().into_owned()).collect(),
            parts: self.parts.clone(),
            state_file: state_file.clone(),
            state_blake3: blake3::hash(state).to_hex().to_string(),
        };
        let path = self.dir.join(RESUME_FILE);
        write_atomically(&path, |file| {
            let mut text = serde_json::to_vec_pretty(&point).expect("resume point serialises");
            text.push(b'\n');
            file.write_all(&text).map_err(io(&path))
        })?;
        remove_resume_files(&self.dir, Some(&state_file))
    }

    /// Writes the next part.
    pub fn write_part(&mut self, df: &mut DataFrame) -> Result<(), Error> {
        let part = write_part_file(&self.dir, self.parts.len(), df)?;
        self.add_part(part);
        Ok(())
    }

    /// Records a part written by [`write_part_file`]; parts are recorded in index order.
    pub fn add_part(&mut self, part: Part) {
        debug_assert_eq!(part.file, part_name(self.parts.len()));
        self.parts.push(part);
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Writes the manifest: the last file of a complete store. The resume point goes
    /// after it (a store with a manifest is complete whatever else it holds).
    pub fn finish(self, manifest: &Manifest) -> Result<PathBuf, Error> {
        let path = self.dir.join(MANIFEST_FILE);
        write_atomically(&path, |file| {
            let mut text = serde_json::to_vec_pretty(manifest).expect("manifest serialises");
            text.push(b'\n');
            file.write_all(&text).map_err(io(&path))
        })?;
        remove_resume_files(&self.dir, None)?;
        Ok(path)
    }
}

/// Removes run states other than `keep`, and `resume.json` too when `keep` is `None`.
fn remove_resume_files(dir: &Path, keep: Option<&str>) -> Result<(), Error> {
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let state = name.starts_with("state-") && (name.ends_with(".bin") || name.ends_with(".bin.tmp"));
        let resume = keep.is_none() && (name == RESUME_FILE || name == format!("{RESUME_FILE}.tmp"));
        if (state && keep != Some(name.as_str())) || resume {
            fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// Writes `path` through a temporary sibling: write, fsync, rename, fsync the directory.
pub fn write_atomically(path: &Path, write: impl FnOnce(&mut File) -> Result<(), Error>) -> Result<(), Error> {
    let mut tmp_name = path.file_name().expect("a file path").to_owned();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut file = File::create(&tmp).map_err(io(&tmp))?;
    write(&mut file)?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    Ok(())
}
