//! The set of input files: command-line paths expanded (directories recursively), each
//! file read once however it was reached, ordered by the time of its first packet.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::{Event, Format, Reader};

/// Nesting below which a directory walk stops (symlink loops end here too).
const MAX_DEPTH: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no input given")]
    Empty,
    /// A FIFO, socket or device given as an input: it cannot be mapped, and opening a
    /// FIFO waits for a writer.
    #[error("{}: not a regular file or directory", path.display())]
    NotRegular { path: PathBuf },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> InputError + '_ {
    move |source| InputError::Io { path: path.to_owned(), source }
}

/// One capture file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    pub len: u64,
    /// Timestamp of the first packet; `None` when the file has none or cannot be read.
    pub first_ts_ns: Option<i64>,
}

/// The expanded inputs, in reading order.
#[derive(Debug, Clone, Default)]
pub struct InputSet {
    pub files: Vec<InputFile>,
    /// Files inside given directories that are not captures (by their magic), links
    /// that lead nowhere, and what is not a regular file (FIFOs, sockets, devices).
    pub ignored: Vec<PathBuf>,
    /// Files a capture appliance is still writing (n2disk's `*.pcap.tmp`): not read; a
    /// later run picks them up under their final name.
    pub in_progress: Vec<PathBuf>,
}

/// Expands `paths`: a file is taken as is (and reported later if it is not a capture);
/// a directory contributes every capture below it, recognised by magic, not by name.
pub fn collect(paths: &[PathBuf]) -> Result<InputSet, InputError> {
    if paths.is_empty() {
        return Err(InputError::Empty);
    }
    let mut set = InputSet::default();
    let mut seen = Seen::default();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(io_error(path))?;
        if meta.is_dir() {
            walk_dir(path, path, 0, &mut seen, &mut set)?;
        } else if meta.is_file() {
            add_file(path, &mut seen.files, &mut set)?;
        } else {
            return Err(InputError::NotRegular { path: path.clone() });
        }
    }
    for f in &mut set.files {
        f.first_ts_ns = first_timestamp(&f.path);
    }
    // Capture-time order; files without a first packet keep their place at the front
    // (they cannot change any flow), and equal times fall back to the path.
    set.files.sort_by(|a, b| (a.first_ts_ns, &a.path).cmp(&(b.first_ts_ns, &b.path)));
    Ok(set)
}

fn add_file(path: &Path, seen: &mut HashSet<PathBuf>, set: &mut InputSet) -> Result<(), InputError> {
    let canonical = std::fs::canonicalize(path).map_err(io_error(path))?;
    if seen.insert(canonical) {
        let len = std::fs::metadata(path).map_err(io_error(path))?.len();
        set.files.push(InputFile { path: path.to_owned(), len, first_ts_ns: None });
    }
    Ok(())
}

/// Canonical paths already taken, so each file and each directory is read once however
/// many links lead to it.
#[derive(Default)]
struct Seen {
    files: HashSet<PathBuf>,
    dirs: HashSet<PathBuf>,
}

/// Walks `dir`, part of the tree given as `root` (the root resolves dangling absolute links).
fn walk_dir(root: &Path, dir: &Path, depth: usize, seen: &mut Seen, set: &mut InputSet) -> Result<(), InputError> {
    // Without the directory check, two links back to a parent would make the walk
    // exponential in MAX_DEPTH; the depth limit stays as a bound on path length.
    let canonical = std::fs::canonicalize(dir).map_err(io_error(dir))?;
    if depth > MAX_DEPTH || !seen.dirs.insert(canonical) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io_error(dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io_error(dir))?;
    entries.sort();
    for mut path in entries {
        if path.file_name().is_some_and(|n| n.to_string_lossy().ends_with(".tmp")) {
            set.in_progress.push(path);
            continue;
        }
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(_) => match relocate_link(root, &path) {
                // A timeline link written on the capture host, pointing into this dump set.
                Some(found) => {
                    path = found;
                    std::fs::metadata(&path).map_err(io_error(&path))?
                }
                // Broken links and unreadable entries are passed over, not fatal.
                None => {
                    set.ignored.push(path);
                    continue;
                }
            },
        };
        if meta.is_dir() {
            walk_dir(root, &path, depth + 1, seen, set)?;
        } else if !meta.is_file() {
            // FIFOs, sockets, devices: opening a FIFO to read its magic would wait forever
            // for a writer.
            set.ignored.push(path);
        } else if looks_like_capture(&path) {
            add_file(&path, &mut seen.files, set)?;
        } else {
            set.ignored.push(path);
        }
    }
    Ok(())
}

/// n2disk's timeline tree (`YYYY/MM/DD/HH/MM/…`) holds symlinks with absolute targets
/// on the capture host (`/storage/n2disk/1700000000/1700000000.123456.pcap`). When such a
/// target is missing here, the dump set was copied or mounted elsewhere: the longest tail
/// of the target path that exists below `root` is taken instead.
fn relocate_link(root: &Path, link: &Path) -> Option<PathBuf> {
    let target = std::fs::read_link(link).ok()?;
    if !target.is_absolute() {
        return None;
    }
    let parts: Vec<_> = target.components().skip(1).collect();
    (0..parts.len())
        .map(|skip| root.join(parts[skip..].iter().collect::<PathBuf>()))
        .find(|candidate| candidate.is_file())
}

fn looks_like_capture(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && Format::detect(&magic).is_some()
}

fn first_timestamp(path: &Path) -> Option<i64> {
    let mapped = MappedFile::open(path).ok()?;
    let mut reader = Reader::new(mapped.bytes()).ok()?;
    loop {
        match reader.next_event()? {
            Ok(Event::Packet(r)) => return Some(r.ts_ns),
            Ok(Event::Skipped { .. }) => continue,
            Err(_) => return None,
        }
    }
}

/// A file's bytes, memory-mapped (empty files are not mapped: a zero-length map fails).
pub struct MappedFile {
    map: Option<Mmap>,
}

impl MappedFile {
    pub fn open(path: &Path) -> Result<MappedFile, InputError> {
        let file = File::open(path).map_err(io_error(path))?;
        let len = file.metadata().map_err(io_error(path))?.len();
        if len == 0 {
            return Ok(MappedFile { map: None });
        }
        // SAFETY: `Mmap::map` is a read-only *shared* mapping (MAP_SHARED): the bytes are
        // the page cache's, not a private copy. What another process does to the file
        // while it is mapped (each case is tested below):
        // - appending (a capture appliance still writing): the map keeps the length seen
        //   here, so the new bytes are never read;
        // - writing inside the mapped range: the new bytes show through the map. The
        //   readers check every length against the slice, so such bytes can make them
        //   read garbage (damage, counted) but never read outside the map;
        // - truncating: touching a page past the new end raises SIGBUS and the process
        //   dies. Do not truncate captures being read.
        let map = unsafe { Mmap::map(&file) }.map_err(io_error(path))?;
        // The file is read front to back once: ask for read-ahead and early reclaim.
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(MappedFile { map: Some(map) })
    }

    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// Drops the pages of `[from, to)` from this process's memory. The pages stay in the
    /// page cache and come back from the file if touched again; without this, a file read
    /// front to back would count in full towards the process's resident memory.
    #[cfg(unix)]
    pub fn release(&self, from: usize, to: usize) {
        const PAGE: usize = 4096;
        let Some(map) = &self.map else { return };
        let (from, to) = (from.next_multiple_of(PAGE), to.min(map.len()) / PAGE * PAGE);
        if from < to {
            // SAFETY: the map is a read-only shared mapping of a file: DONTNEED discards no
            // data, a later access reads the file's bytes again from the page cache.
            let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from) };
        }
    }

    #[cfg(not(unix))]
    pub fn release(&self, _from: usize, _to: usize) {}
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A pcap with only its file header: a capture by magic, with no packets.
    const EMPTY_PCAP: [u8; 24] =
        [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];

    fn tree() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a.pcap"), EMPTY_PCAP).unwrap();
        std::fs::write(root.path().join("notes.txt"), b"not a capture").unwrap();
        root
    }

    #[test]
    fn the_map_is_shared_and_keeps_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("growing.pcap");
        std::fs::write(&path, EMPTY_PCAP).unwrap();
        let mapped = MappedFile::open(&path).unwrap();
        // Appended bytes are past the map: never seen.
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut file, &[0xee; 100]).unwrap();
        assert_eq!(mapped.bytes(), &EMPTY_PCAP[..]);
        // A write inside the mapped range shows through: the mapping is shared, not private.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&file, &[0x42], 20).unwrap();
        assert_eq!(mapped.bytes()[20], 0x42);
        assert_eq!(mapped.bytes().len(), EMPTY_PCAP.len());
    }

    /// Run by [`truncating_a_mapped_file_kills_the_reader`] in a process of its own.
    #[test]
    #[ignore = "dies of SIGBUS on purpose; run by truncating_a_mapped_file_kills_the_reader"]
    fn read_after_truncation() {
        let path = PathBuf::from(std::env::var_os("FLOWMINE_TRUNCATED").expect("run by the test below"));
        std::fs::write(&path, vec![7u8; 3 * 4096]).unwrap();
        let mapped = MappedFile::open(&path).unwrap();
        std::fs::File::options().write(true).open(&path).unwrap().set_len(0).unwrap();
        let byte = mapped.bytes()[2 * 4096];
        println!("read {byte} after truncation");
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn truncating_a_mapped_file_kills_the_reader() {
        use std::os::unix::process::ExitStatusExt;
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "capture::input::tests::read_after_truncation", "--ignored", "--nocapture"])
            .env("FLOWMINE_TRUNCATED", dir.path().join("t.pcap"))
            .output()
            .unwrap();
        const SIGBUS: i32 = 7; // Linux
        assert_eq!(status.status.signal(), Some(SIGBUS), "{status:?}");
    }

    #[test]
    fn a_directory_reached_through_a_link_is_walked_once() {
        let root = tree();
        symlink(root.path(), root.path().join("again")).unwrap();
        let set = collect(&[root.path().to_owned()]).unwrap();
        assert_eq!(set.files.len(), 1);
        assert_eq!(set.ignored, [root.path().join("notes.txt")]);
    }

    #[test]
    fn two_links_back_to_a_parent_do_not_blow_up_the_walk() {
        // Each level would otherwise double the paths walked, down to MAX_DEPTH.
        let root = tree();
        symlink(root.path(), root.path().join("left")).unwrap();
        symlink(root.path(), root.path().join("right")).unwrap();
        let set = collect(&[root.path().to_owned(), root.path().join("left")]).unwrap();
        assert_eq!(set.files.iter().map(|f| &f.path).collect::<Vec<_>>(), [&root.path().join("a.pcap")]);
        assert_eq!(set.ignored.len(), 1);
    }
}
