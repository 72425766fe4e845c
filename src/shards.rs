//! Shards of a dump set: `flows --shard K/N` writes a partial store of files K of N
//! ([`FlowsJob::to_shard`]), and [`merge`] joins the partial stores into the store of one
//! run over all files. The engine's side is `flowmine_core::handoff`; the partial store
//! is `formats/shards.md`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flowmine_core::capture::input::MappedFile;
use flowmine_core::handoff::{self, Joiner};
use flowmine_core::scan::{Progress, ScanReport};
use flowmine_core::threads::work_pool;
use flowmine_core::{FlowBatch, FlowConfig, PacketLimit};
use serde::{Deserialize, Serialize};

use crate::store::manifest::{Parameters, Part};
use crate::store::parts::with_parts;
use crate::store::rows::{RowContext, batch_to_rows};
pub use crate::store::writer::{HANDOFF_FILE, JOURNAL_FILE, SHARD_FILE, SHARD_FILES};
use crate::store::writer::{StoreWriter, part_name, write_atomically};
use crate::store::{MANIFEST_FILE, Manifest};
use crate::{Error, FlowsJob, Result, StoreOutcome};

pub const SHARD_FORMAT_NAME: &str = "flowmine-shard";
pub const SHARD_FORMAT_VERSION: u32 = 1;

/// `shard.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardManifest {
    pub format: String,
    pub format_version: u32,
    pub flowmine_version: String,
    /// 1-based.
    pub shard: usize,
    pub shards: usize,
    pub parameters: Parameters,
    /// The flow rules exactly (the parameters above are rounded to seconds as text).
    pub config: ExactConfig,
    /// The whole input list (every shard has the same), in reading order.
    pub inputs: Vec<ListedInput>,
    /// This shard's files: `inputs[first..end]`.
    pub first: usize,
    pub end: usize,
    pub ignored_inputs: Vec<String>,
    pub inputs_in_progress: Vec<String>,
    /// Rows of the part files, all flows of a single run.
    pub parts: Vec<Part>,
    /// Rows of the part files by `input_index` (index, rows).
    pub rows_by_input: Vec<(u32, u64)>,
    pub journal_blake3: String,
    pub handoff_blake3: String,
}

/// [`FlowConfig`] as written in `shard.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExactConfig {
    pub idle_timeout_ns: Option<u64>,
    pub active_timeout_ns: Option<u64>,
    pub tcp_close: bool,
    pub tcp_close_linger_ns: u64,
    /// Per-packet entries kept per flow; null: all.
    pub packets: Option<usize>,
}

impl ExactConfig {
    fn of(c: &FlowConfig) -> ExactConfig {
        ExactConfig {
            idle_timeout_ns: c.idle_timeout_ns,
            active_timeout_ns: c.active_timeout_ns,
            tcp_close: c.tcp_close,
            tcp_close_linger_ns: c.tcp_close_linger_ns,
            packets: match c.packets {
                PacketLimit::All => None,
                PacketLimit::First(n) => Some(n),
            },
        }
    }

    fn flow_config(&self) -> FlowConfig {
        FlowConfig {
            idle_timeout_ns: self.idle_timeout_ns,
            active_timeout_ns: self.active_timeout_ns,
            tcp_close: self.tcp_close,
            tcp_close_linger_ns: self.tcp_close_linger_ns,
            packets: self.packets.map_or(PacketLimit::All, PacketLimit::First),
            max_flows: None,
            ..FlowConfig::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedInput {
    pub path: String,
    pub bytes: u64,
}

fn bad(path: &Path, what: impl Into<String>) -> Error {
    Error::Input { path: path.to_owned(), what: what.into() }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    Error::io(path)
}

impl FlowsJob {
    /// Runs shard `k` (1-based) of `n` of the inputs into the partial store `out`.
    pub fn to_shard(
        &self,
        out: &Path,
        k: usize,
        n: usize,
        overwrite: bool,
        progress: impl FnMut(Progress),
    ) -> Result<ShardManifest, Error> {
        assert!((1..=n).contains(&k), "shard numbers are 1..=n");
        if let Some(cap) = self.options.flow.max_flows {
            let what = "cannot be held by a shard: which flows it ends depends on all the flows open at once, \
                        which no shard knows";
            return Err(Error::setting("max_flows", cap, what));
        }
        let inputs = flowmine_core::collect_inputs(&self.inputs)?;
        let range = handoff::plan(&inputs, n)[k - 1].clone();
        let mut writer = StoreWriter::create(out, overwrite)?;
        let ctx = self.row_context(&inputs);
        let journal_path = out.join(JOURNAL_FILE);
        let mut journal = std::io::BufWriter::new(fs::File::create(&journal_path).map_err(io_error(&journal_path))?);
        let mut journal_hash = blake3::Hasher::new();
        let mut rows_by_input: std::collections::BTreeMap<u32, u64> = Default::default();
        // As in a whole run (lib.rs), parts are encoded as jobs of the run's pool, here
        // beside decoding and the flow table; the packet loop keeps this thread.
        let pool = work_pool(self.options.threads);
        let encode = |batch| Ok(batch_to_rows(batch, &ctx)?);
        let run = with_parts(&mut writer, pool.as_deref(), &encode, |parts| {
            handoff::scan_shard_on(
                pool.clone(),
                &inputs,
                &self.options,
                range.clone(),
                |batch: FlowBatch| -> Result<(), Error> {
                    for &i in &batch.input_index {
                        *rows_by_input.entry(i).or_default() += 1;
                    }
                    parts.add(batch)
                },
                |bytes| {
                    journal_hash.update(bytes);
                    journal.write_all(bytes).map_err(|e| io_error(&journal_path)(e))
                },
                progress,
            )
        })?;
        let file = journal.into_inner().map_err(|e| io_error(&journal_path)(e.into_error()))?;
        file.sync_all().map_err(io_error(&journal_path))?;
        let handoff_path = out.join(HANDOFF_FILE);
        write_atomically(&handoff_path, |f| f.write_all(&run.tail).map_err(io_error(&handoff_path)))?;
        let manifest = ShardManifest {
            format: SHARD_FORMAT_NAME.to_owned(),
            format_version: SHARD_FORMAT_VERSION,
            flowmine_version: env!("CARGO_PKG_VERSION").to_owned(),
            shard: k,
            shards: n,
            parameters: self.parameters(),
            config: ExactConfig::of(&self.options.flow),
            inputs: inputs
                .files
                .iter()
                .map(|f| ListedInput { path: f.path.to_string_lossy().into_owned(), bytes: f.len })
                .collect(),
            first: range.start,
            end: range.end,
            ignored_inputs: inputs.ignored.iter().map(|p| p.to_string_lossy().into_owned()).collect(),
            inputs_in_progress: inputs.in_progress.iter().map(|p| p.to_string_lossy().into_owned()).collect(),
            parts: writer.parts().to_vec(),
            rows_by_input: rows_by_input.into_iter().collect(),
            journal_blake3: journal_hash.finalize().to_hex().to_string(),
            handoff_blake3: blake3::hash(&run.tail).to_hex().to_string(),
        };
        let path = out.join(SHARD_FILE);
        write_atomically(&path, |f| {
            let mut text = serde_json::to_vec_pretty(&manifest).expect("shard manifest serialises");
            text.push(b'\n');
            f.write_all(&text).map_err(io_error(&path))
        })?;
        Ok(manifest)
    }
}

/// Reads and checks the partial stores `parts`: each finished, the same parameters and
/// input list, shards 1..=N each once. Returns them in shard order.
pub fn check_parts(parts: &[PathBuf]) -> Result<Vec<(PathBuf, ShardManifest)>> {
    let mut read = Vec::new();
    for dir in parts {
        let path = dir.join(SHARD_FILE);
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(_) => return Err(Error::Unfinished(dir.clone())),
        };
        let m: ShardManifest =
            serde_json::from_slice(&text).map_err(|e| bad(&path, format!("not a shard manifest: {e}")))?;
        if m.format != SHARD_FORMAT_NAME || m.format_version != SHARD_FORMAT_VERSION {
            return Err(bad(&path, format!("not a version {SHARD_FORMAT_VERSION} {SHARD_FORMAT_NAME} manifest")));
        }
        if m.flowmine_version != env!("CARGO_PKG_VERSION") {
            return Err(bad(
                &path,
                format!("made by flowmine {}, this is {}", m.flowmine_version, env!("CARGO_PKG_VERSION")),
            ));
        }
        read.push((dir.clone(), m));
    }
    let Some((first_dir, first)) = read.first().cloned() else {
        return Err(Error::MissingShard { shard: 1, shards: 1 });
    };
    for (dir, m) in &read[1..] {
        let mut what = first.parameters.differences(&m.parameters);
        if what.is_empty() && m.config != first.config {
            what.push(format!("flow rules {:?} vs {:?}", m.config, first.config));
        }
        if !what.is_empty() {
            return Err(Error::ShardParameters { path: dir.clone(), first: first_dir.clone(), what: what.join(", ") });
        }
        if m.inputs != first.inputs {
            return Err(Error::ShardInputs { path: dir.clone(), first: first_dir.clone() });
        }
        if m.shards != first.shards {
            return Err(bad(
                dir,
                format!("is shard {} of {}, {} is of {}", m.shard, m.shards, first_dir.display(), first.shards),
            ));
        }
    }
    let n = first.shards;
    let mut slots: Vec<Option<(PathBuf, ShardManifest)>> = vec![None; n];
    for (dir, m) in read {
        let slot = &mut slots[m.shard - 1];
        if let Some((earlier, _)) = slot {
            return Err(Error::RepeatedShard { shard: m.shard, shards: n, first: earlier.clone(), second: dir });
        }
        *slot = Some((dir, m));
    }
    slots.into_iter().enumerate().map(|(i, s)| s.ok_or(Error::MissingShard { shard: i + 1, shards: n })).collect()
}

/// Reads a shard file and checks it against its hash in `shard.json`.
fn read_checked(dir: &Path, name: &str, blake3_hex: &str) -> Result<MappedFile> {
    let path = dir.join(name);
    let map = MappedFile::open(&path).map_err(|e| bad(&path, e.to_string()))?;
    if blake3::hash(map.bytes()).to_hex().as_str() != blake3_hex {
        return Err(bad(&path, format!("does not match its hash in {SHARD_FILE}")));
    }
    Ok(map)
}

/// Joins the partial stores `parts` (any order) into the store `out`: the flows and the
/// manifest of one run over all their files (rows in another order: `formats/shards.md`).
pub fn merge(parts: &[PathBuf], out: &Path, overwrite: bool) -> Result<StoreOutcome, Error> {
    let shards = check_parts(parts)?;
    let first = &shards[0].1;
    let parameters = first.parameters.clone();
    let config = first.config.flow_config();
    let input_paths: Vec<PathBuf> = first.inputs.iter().map(|i| PathBuf::from(&i.path)).collect();
    let ctx = RowContext { label: parameters.label.clone(), input_paths };
    let mut writer = StoreWriter::create(out, overwrite)?;
    let mut joiner = Joiner::new(config);
    let mut report = ScanReport {
        ignored: first.ignored_inputs.iter().map(PathBuf::from).collect(),
        in_progress: first.inputs_in_progress.iter().map(PathBuf::from).collect(),
        ..Default::default()
    };
    let mut flows_by_input = vec![0u64; first.inputs.len()];
    let write_rows = |writer: &mut StoreWriter, flows: &mut [u64], batch: FlowBatch| -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        for &i in &batch.input_index {
            flows[i as usize] += 1;
        }
        writer.write_part(&mut batch_to_rows(batch, &ctx)?)?;
        Ok(())
    };
    for (dir, m) in &shards {
        let journal = read_checked(dir, JOURNAL_FILE, &m.journal_blake3)?;
        let tail = read_checked(dir, HANDOFF_FILE, &m.handoff_blake3)?;
        let mut rows = FlowBatch::new();
        let files = joiner
            .join(journal.bytes(), tail.bytes(), &mut rows)
            .map_err(|source| Error::Join { path: dir.clone(), source })?;
        if files.len() != m.end - m.first {
            return Err(bad(
                dir,
                format!("{HANDOFF_FILE} reports {} files, {SHARD_FILE} {}", files.len(), m.end - m.first),
            ));
        }
        report.files.extend(files);
        write_rows(&mut writer, &mut flows_by_input, rows)?;
        for part in &m.parts {
            let from = dir.join(&part.file);
            let name = part_name(writer.parts().len());
            let to = writer.dir().join(&name);
            write_atomically(&to, |f| {
                let mut src = fs::File::open(&from).map_err(io_error(&from))?;
                std::io::copy(&mut src, f).map(|_| ()).map_err(io_error(&to))
            })?;
            writer.add_part(Part { file: name, rows: part.rows });
        }
        for &(i, n) in &m.rows_by_input {
            flows_by_input[i as usize] += n;
        }
    }
    let mut rows = FlowBatch::new();
    let last = &shards[shards.len() - 1].0;
    joiner.finish(&mut rows).map_err(|source| Error::Join { path: last.clone(), source })?;
    write_rows(&mut writer, &mut flows_by_input, rows)?;
    if writer.parts().is_empty() {
        writer.write_part(&mut batch_to_rows(FlowBatch::new(), &RowContext::default())?)?;
    }
    for (file, n) in report.files.iter_mut().zip(&flows_by_input) {
        file.flows = *n;
        report.packets_total += file.packets_total;
        report.skipped.merge(&file.skipped);
    }
    report.packets_in_flows = report.packets_total - report.skipped.total();
    report.flows = flows_by_input.iter().sum();
    report.fragments = joiner.fragment_counts();
    let manifest = Manifest::new(parameters, &report, writer.parts().to_vec());
    let manifest_path = writer.finish(&manifest)?;
    debug_assert!(manifest_path.ends_with(MANIFEST_FILE));
    Ok(StoreOutcome { report, manifest, manifest_path })
}
