//! The one directory walk: files below directories given as inputs (captures, Parquet
//! parts of a store, MIRAGE JSON files). Links are followed, each directory once however
//! many links lead to it, so a link back to a parent cannot make the walk endless; what
//! the walk passes over (links that lead nowhere, FIFOs, sockets, devices) is reported,
//! not dropped.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::Error;

/// How deep a walk descends: a bound on path length, far past real trees.
pub const MAX_DEPTH: usize = 64;

/// What a walk found below its roots; within each directory, entries in path order.
#[derive(Debug, Default)]
pub struct Found {
    /// Regular files, reached directly or through links.
    pub files: Vec<PathBuf>,
    /// Links that lead nowhere (and that `relocate` did not place) and what is not a
    /// regular file: FIFOs, sockets, devices. Opening a FIFO would wait for a writer.
    pub passed_over: Vec<PathBuf>,
    /// Entries the caller's `set_aside` picked out, neither opened nor walked into.
    pub set_aside: Vec<PathBuf>,
}

/// Walks directory trees; the directories it has been through are kept, so a directory
/// below two roots of one walker is walked once.
#[derive(Default)]
pub struct Walker {
    dirs: HashSet<PathBuf>,
}

impl Walker {
    /// Adds what is below `root` to `found`. Entries `set_aside` accepts are put aside
    /// by name; a link that leads nowhere is given to `relocate`, which may name the file
    /// it should have led to. A directory that cannot be read stops the walk.
    pub fn walk(
        &mut self,
        root: &Path,
        set_aside: &dyn Fn(&Path) -> bool,
        relocate: &dyn Fn(&Path) -> Option<PathBuf>,
        found: &mut Found,
    ) -> Result<(), Error> {
        self.walk_dir(root, 0, set_aside, relocate, found)
    }

    fn walk_dir(
        &mut self,
        dir: &Path,
        depth: usize,
        set_aside: &dyn Fn(&Path) -> bool,
        relocate: &dyn Fn(&Path) -> Option<PathBuf>,
        found: &mut Found,
    ) -> Result<(), Error> {
        // Without the directory check, two links back to a parent would make the walk
        // exponential in MAX_DEPTH; the depth limit stays as a bound on path length.
        let canonical = std::fs::canonicalize(dir).map_err(Error::io(dir))?;
        if depth > MAX_DEPTH || !self.dirs.insert(canonical) {
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(Error::io(dir))?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(Error::io(dir))?;
        entries.sort();
        for mut path in entries {
            if set_aside(&path) {
                found.set_aside.push(path);
                continue;
            }
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                Err(_) => match relocate(&path) {
                    Some(other) => {
                        path = other;
                        std::fs::metadata(&path).map_err(Error::io(&path))?
                    }
                    // Broken links and unreadable entries are passed over, not fatal.
                    None => {
                        found.passed_over.push(path);
                        continue;
                    }
                },
            };
            if meta.is_dir() {
                self.walk_dir(&path, depth + 1, set_aside, relocate, found)?;
            } else if meta.is_file() {
                found.files.push(path);
            } else {
                found.passed_over.push(path);
            }
        }
        Ok(())
    }
}

/// Every regular file below `dir` (links followed) whose path `keep` accepts, sorted by path.
pub fn files_below(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>, Error> {
    let mut found = Found::default();
    Walker::default().walk(dir, &|_| false, &|_| None, &mut found)?;
    let mut files: Vec<PathBuf> = found.files.into_iter().filter(|p| keep(p)).collect();
    files.sort();
    Ok(files)
}

/// Whether `path` ends in `.extension`, in any case.
pub fn has_extension(path: &Path, extension: &str) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case(extension))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_files_once_through_a_link_loop() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        for p in [dir.path().join("x.json"), sub.join("y.JSON"), sub.join("z.txt")] {
            std::fs::write(p, b"{}").unwrap();
        }
        std::os::unix::fs::symlink(dir.path(), sub.join("back")).unwrap();
        let found = files_below(dir.path(), |p| has_extension(p, "json")).unwrap();
        assert_eq!(found, [sub.join("y.JSON"), dir.path().join("x.json")]);
    }

    #[test]
    fn passes_over_dangling_links_and_sets_aside_what_it_is_told() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.bin"), b"x").unwrap();
        std::fs::write(dir.path().join("b.tmp"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("dangling")).unwrap();
        let mut found = Found::default();
        let tmp = |p: &Path| has_extension(p, "tmp");
        Walker::default().walk(dir.path(), &tmp, &|_| None, &mut found).unwrap();
        assert_eq!(found.files, [dir.path().join("a.bin")]);
        assert_eq!(found.passed_over, [dir.path().join("dangling")]);
        assert_eq!(found.set_aside, [dir.path().join("b.tmp")]);
        // A link that leads nowhere can be placed by the caller.
        let mut found = Found::default();
        let to_a = |_: &Path| Some(dir.path().join("a.bin"));
        Walker::default().walk(dir.path(), &|_| false, &to_a, &mut found).unwrap();
        assert_eq!(found.files, [dir.path().join("a.bin"), dir.path().join("b.tmp"), dir.path().join("a.bin")]);
        assert!(found.passed_over.is_empty());
    }

    #[test]
    fn a_directory_that_cannot_be_read_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let err = files_below(&missing, |_| true).unwrap_err();
        assert!(matches!(&err, Error::Io { path, .. } if *path == missing), "{err}");
        assert!(err.to_string().starts_with(&format!("{}: ", missing.display())), "{err}");
    }
}
