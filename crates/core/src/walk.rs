//! The files below a directory, for inputs given as directories (Parquet parts of a store,
//! MIRAGE JSON files). Links are followed, each directory once, so a link back to a parent
//! cannot make the walk endless. (Capture inputs have their own walk in
//! [`capture::input`](crate::capture::input): it also reports what it passed over, files
//! still being written and dangling links of dump sets.)

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

/// How deep a walk descends: a bound on path length, far past real trees.
pub const MAX_DEPTH: usize = 64;

/// Every file below `dir` (links followed) whose path `keep` accepts, sorted by path.
pub fn files_below(dir: &Path, keep: impl Fn(&Path) -> bool) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(dir.to_owned(), 0)];
    while let Some((d, depth)) = stack.pop() {
        if depth > MAX_DEPTH || !seen.insert(std::fs::canonicalize(&d)?) {
            continue;
        }
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push((path, depth + 1));
            } else if keep(&path) {
                files.push(path);
            }
        }
    }
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
}
