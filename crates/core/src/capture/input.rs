//! The set of input files: command-line paths expanded (directories recursively), each
//! file read once however it was reached, ordered by the time of its first packet.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::{Event, Format, Reader};
use crate::Error;
use crate::walk::{Found, Walker};

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
pub fn collect(paths: &[PathBuf]) -> Result<InputSet, Error> {
    if paths.is_empty() {
        return Err(Error::NoInput);
    }
    let mut set = InputSet::default();
    let mut seen = HashSet::new();
    let mut walker = Walker::default();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(Error::io(path))?;
        if meta.is_dir() {
            add_dir(path, &mut walker, &mut seen, &mut set)?;
        } else if meta.is_file() {
            add_file(path, &mut seen, &mut set)?;
        } else {
            return Err(Error::NotRegular { path: path.clone() });
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

fn add_file(path: &Path, seen: &mut HashSet<PathBuf>, set: &mut InputSet) -> Result<(), Error> {
    let canonical = std::fs::canonicalize(path).map_err(Error::io(path))?;
    if seen.insert(canonical) {
        let len = std::fs::metadata(path).map_err(Error::io(path))?.len();
        set.files.push(InputFile { path: path.to_owned(), len, first_ts_ns: None });
    }
    Ok(())
}

/// Adds the captures below `root` to `set`, with what the walk passed over.
fn add_dir(root: &Path, walker: &mut Walker, seen: &mut HashSet<PathBuf>, set: &mut InputSet) -> Result<(), Error> {
    let mut found = Found::default();
    // n2disk writes `*.pcap.tmp` until a file is complete.
    let in_progress = |p: &Path| p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(".tmp"));
    // A timeline link written on the capture host, pointing into this dump set.
    let relocate = |link: &Path| relocate_link(root, link);
    walker.walk(root, &in_progress, &relocate, &mut found)?;
    set.in_progress.append(&mut found.set_aside);
    let mut ignored = found.passed_over;
    for path in found.files {
        if looks_like_capture(&path) {
            add_file(&path, seen, set)?;
        } else {
            ignored.push(path);
        }
    }
    // In walk order, as the walk met them (component-wise path order).
    ignored.sort();
    set.ignored.append(&mut ignored);
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
    pub fn open(path: &Path) -> Result<MappedFile, Error> {
        let file = File::open(path).map_err(Error::io(path))?;
        let len = file.metadata().map_err(Error::io(path))?.len();
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
        let map = unsafe { Mmap::map(&file) }.map_err(Error::io(path))?;
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
