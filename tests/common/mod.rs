//! Helpers shared by the integration tests of the `flowmine` crate.

use std::path::PathBuf;
use std::process::Command;

/// The Python interpreter of the test environment: `FLOWMINE_PYTHON` if set, otherwise
/// `.venv/bin/python` in the repository root (made by `scripts/setup-python.sh`).
/// Panics, naming the fix, when neither exists or it lacks one of `modules`: a test that
/// needs an oracle must not pass without it.
#[allow(dead_code)]
pub fn python(modules: &[&str]) -> PathBuf {
    let python = match std::env::var_os("FLOWMINE_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
    };
    let import = format!("import {}", if modules.is_empty() { "sys".to_string() } else { modules.join(", ") });
    let ok = Command::new(&python).args(["-c", &import]).status().map(|s| s.success()).unwrap_or(false);
    assert!(ok, "{} cannot `{import}`: run scripts/setup-python.sh (or set FLOWMINE_PYTHON)", python.display());
    python
}
