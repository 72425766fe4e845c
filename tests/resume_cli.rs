//! `flowmine flows --resume`: a run killed (SIGKILL) at random moments and resumed, again
//! and again, ends with exactly the store an uninterrupted run writes.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use flowmine::store::{Manifest, RESUME_FILE, read_flows};
use polars::prelude::*;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(rel)
}

fn flows_command(store: &Path, extra: &[&str]) -> Command {
    flows_command_idle(store, "10", extra)
}

fn flows_command_idle(store: &Path, idle_timeout: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flowmine"));
    c.arg("flows").arg(testdata("pcaps/messaging")).arg(testdata("pcaps/genres")).arg("--out").arg(store);
    // A checkpoint after every file, short timeouts so flows end everywhere, and a cap so
    // evictions are part of the state too.
    c.args([
        "--checkpoint-every",
        "1",
        "--idle-timeout",
        idle_timeout,
        "--max-flows",
        "640",
        "--quiet",
        "--threads",
        "2",
    ]);
    c.args(extra);
    c
}

const SIGKILL: i32 = 9;

/// Kills `child` and tells whether that interrupted it: it was still running, so the
/// kill ended it (a run that had finished exits with a status, not the signal).
fn kill_mid_run(mut child: Child) -> bool {
    let _ = child.kill();
    child.wait().unwrap().signal() == Some(SIGKILL)
}

fn manifest(store: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap()
}

/// Every row of the store, in a canonical order.
fn rows(store: &Path) -> DataFrame {
    let by = ["first_ts_ns", "src_port", "dst_port", "protocol", "vlan", "src_ip", "dst_ip", "last_ts_ns"];
    read_flows(store).unwrap().sort(by, SortMultipleOptions::default()).unwrap()
}

#[test]
fn killed_and_resumed_runs_give_the_uninterrupted_store() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    assert!(flows_command(&reference, &[]).status().unwrap().success());
    let expected = rows(&reference);

    let store = dir.path().join("store");
    // Kill delays in milliseconds: a fixed spread, so the test is the same every time.
    let delays = [40u64, 120, 70, 200, 30, 150, 90, 260, 60, 180];
    let mut interrupted = 0;
    for delay in delays {
        let child = flows_command(&store, &["--resume"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        // The run may have finished already: only a kill that ended it counts.
        if kill_mid_run(child) {
            assert!(!store.join("manifest.json").exists(), "a killed run left a manifest");
            interrupted += 1;
        }
    }
    let finish = flows_command(&store, &["--resume"]).output().unwrap();
    assert!(finish.status.success(), "{}", String::from_utf8_lossy(&finish.stderr));
    eprintln!("{interrupted} of {} kills interrupted the run", delays.len());
    assert!(interrupted >= 2, "only {interrupted} kills left an interrupted run: the test proves little");

    let (m, r) = (manifest(&store), manifest(&reference));
    assert_eq!(
        (m.packets_total, m.packets_in_flows, m.flows, m.flows_evicted),
        (r.packets_total, r.packets_in_flows, r.flows, r.flows_evicted)
    );
    assert_eq!(m.inputs, r.inputs);
    let got = rows(&store);
    assert_eq!(got.height() as u64, r.flows);
    assert!(got.equals_missing(&expected), "resumed store differs from the uninterrupted one");
    // Nothing of the interrupted runs is left behind.
    let names: Vec<String> =
        std::fs::read_dir(&store).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(
        names.iter().all(|n| n == "manifest.json" || (n.starts_with("part-") && n.ends_with(".parquet"))),
        "{names:?}"
    );
}

#[test]
fn resume_refuses_other_parameters_and_plain_runs_refuse_an_interrupted_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let child = flows_command(&store, &[]).spawn().unwrap();
    // Wait for the first checkpoint (after the first of 130 files), then kill.
    for _ in 0..5_000 {
        if store.join(RESUME_FILE).exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(store.join(RESUME_FILE).exists(), "no checkpoint written in 10 s");
    assert!(kill_mid_run(child), "the run ended before the kill: nothing interrupted to check");
    assert!(!store.join("manifest.json").exists());
    let plain = flows_command(&store, &[]).output().unwrap();
    assert_eq!(plain.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&plain.stderr).contains("holds an interrupted run; pass --resume"));
    let other = flows_command_idle(&store, "30", &["--resume"]).output().unwrap();
    assert_eq!(other.status.code(), Some(1));
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(
        err.contains("cannot resume with other parameters") && err.contains("idle_timeout_s: 30.0 now, 10.0 then"),
        "{err}"
    );
    assert!(flows_command(&store, &["--resume"]).status().unwrap().success());
}

/// A store that runs out of room (here: a file size limit, which fails writes as a full
/// disk does) fails with a clear error naming the file, leaves no file that looks
/// complete, and `--resume` finishes it once there is room again.
#[test]
fn a_full_disk_fails_cleanly_and_the_store_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    assert!(flows_command(&reference, &[]).status().unwrap().success());
    let store = dir.path().join("store");
    let command = flows_command(&store, &[]);
    let args: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| format!("'{}'", a.to_str().unwrap()))
        .collect();
    // Files may grow to 40 KiB; writing past that fails with EFBIG (SIGXFSZ ignored).
    let script = format!("trap '' XFSZ; ulimit -f 40; exec {}", args.join(" "));
    let out = Command::new("bash").arg("-c").arg(script).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("flowmine: error: {}/", store.display())) && err.contains("File too large"),
        "{err}"
    );
    assert!(!store.join("manifest.json").exists(), "a failed store must not look complete");
    assert!(store.join(RESUME_FILE).exists(), "checkpoints taken before the failure");
    assert!(flows_command(&store, &["--resume"]).status().unwrap().success());
    assert!(rows(&store).equals_missing(&rows(&reference)));
}
