//! Regressions of the command line: each test fails on the bug it names.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn flowmine<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowmine")).args(args).output().expect("flowmine runs")
}

/// Runs flowmine, killing it (and failing) if it has not ended after a minute.
fn flowmine_within_a_minute<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowmine"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowmine runs");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("flowmine {:?} still running after a minute", args.iter().map(|a| a.as_ref()).collect::<Vec<_>>());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn threema() -> PathBuf {
    repo("testdata/pcaps/messaging/threema.pcap")
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(status.success());
}

#[test]
fn a_fifo_in_an_input_directory_is_ignored_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    std::fs::copy(threema(), inputs.join("threema.pcap")).unwrap();
    let fifo = inputs.join("zz-fifo");
    mkfifo(&fifo);
    let store = dir.path().join("store");
    let out = flowmine_within_a_minute(&["flows".as_ref(), inputs.as_os_str(), "--out".as_ref(), store.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["packets_total"], 83);
    let ignored = manifest["ignored_inputs"].as_array().unwrap();
    assert_eq!(ignored, &[serde_json::Value::from(fifo.to_string_lossy().into_owned())]);

    // Given by name, a FIFO is an error naming it.
    let out = flowmine_within_a_minute(&[
        "flows".as_ref(),
        fifo.as_os_str(),
        "--out".as_ref(),
        dir.path().join("s2").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!("{}: not a regular file", fifo.display())), "{}", stderr(&out));
}

#[test]
fn a_label_run_with_an_unwritable_output_leaves_no_store_and_can_be_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let session = repo("testdata/label/telegram/session.toml");
    for (option, missing) in [("--filtered-pcap", "missing/app.pcap"), ("--sockets", "missing/sockets.csv")] {
        let missing = dir.path().join(missing);
        let out = flowmine(&[
            "label".as_ref(),
            session.as_os_str(),
            "--out".as_ref(),
            store.as_os_str(),
            option.as_ref(),
            missing.as_os_str(),
        ]);
        assert_eq!(out.status.code(), Some(1), "{option}: {}", stderr(&out));
        assert!(stderr(&out).contains(&missing.display().to_string()), "{}", stderr(&out));
        assert!(!store.join("manifest.json").exists(), "{option}: no store that looks complete");
    }
    let pcap = dir.path().join("app.pcap");
    let out = flowmine(&[
        "label".as_ref(),
        session.as_os_str(),
        "--out".as_ref(),
        store.as_os_str(),
        "--filtered-pcap".as_ref(),
        pcap.as_os_str(),
        "-q".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(0), "the rerun is not refused: {}", stderr(&out));
    assert!(store.join("manifest.json").exists() && pcap.exists());
}

#[test]
fn bad_values_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let pcap = threema();
    let pcap = pcap.to_str().unwrap();
    let evaluate = |extra: &[&'static str]| {
        let mut a = vec!["evaluate", pcap, "--target", "label", "--out", out];
        a.extend(extra);
        a
    };
    let flows = |extra: &[&'static str]| {
        let mut a = vec!["flows", pcap, "--out", out];
        a.extend(extra);
        a
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (evaluate(&["--test-fraction", "1.5"]), "--test-fraction"),
        (evaluate(&["--test-fraction=-0.1"]), "--test-fraction"),
        (evaluate(&["--folds", "1"]), "--folds"),
        (evaluate(&["--trees", "0"]), "--trees"),
        (evaluate(&["--permutation-repeats", "0"]), "--permutation-repeats"),
        (evaluate(&["--max-depth", "0"]), "--max-depth"),
        (evaluate(&["--min-samples-leaf", "0"]), "--min-samples-leaf"),
        (evaluate(&["--max-features", "0"]), "--max-features"),
        (evaluate(&["--folds", "3", "--test-fraction", "0.2"]), "--test-fraction"),
        (evaluate(&["--split-by", "capture", "--train", "a,b", "--test", "c,a"]), "`a` is in both --train and --test"),
        (evaluate(&["--threads", "1000"]), "at most 256"),
        (flows(&["--tcp-close-linger=-1"]), "--tcp-close-linger"),
        (flows(&["--tcp-close-linger", "nan"]), "--tcp-close-linger"),
        (flows(&["--idle-timeout", "1e300"]), "--idle-timeout"),
        (flows(&["--active-timeout", "inf"]), "--active-timeout"),
        (flows(&["--threads", "1000"]), "at most 256"),
        (vec!["features", pcap, "--out", "f.parquet", "--threads", "1000"], "at most 256"),
    ];
    for (args, says) in cases {
        let run = flowmine(&args);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", stderr(&run));
        assert!(stderr(&run).contains(says), "{args:?} should say {says}: {}", stderr(&run));
    }
    // Still accepted: a linger of 0, the longest timeout, a hold-out of 0 with --train.
    let store = dir.path().join("s");
    let run = flowmine(&[
        "flows",
        pcap,
        "--out",
        store.to_str().unwrap(),
        "--tcp-close-linger",
        "0",
        "--idle-timeout",
        "9223372036",
        "-q",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["parameters"]["idle_timeout_s"], 9223372036.0);
    assert_eq!(manifest["parameters"]["tcp_close_linger_s"], 0.0);
}

#[test]
fn max_flows_records_the_cap_enforced() {
    // 59 flows in the capture, many open at once: a cap of 1 evicts as one of 64 does.
    let dir = tempfile::tempdir().unwrap();
    let pcap = repo("testdata/pcaps/messaging/wechat.pcap");
    let run = |cap: &str| {
        let store = dir.path().join(cap);
        let out = flowmine(&[
            "flows".as_ref(),
            pcap.as_os_str(),
            "--out".as_ref(),
            store.as_os_str(),
            "--max-flows".as_ref(),
            cap.as_ref(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap();
        (String::from_utf8_lossy(&out.stdout).into_owned(), manifest)
    };
    let (said, one) = run("1");
    let (_, sixty_four) = run("64");
    assert!(
        said.contains("--max-flows 1: the cap is held per shard of the flow table, 64 open flows in all"),
        "{said}"
    );
    assert_eq!(one["parameters"]["max_flows"], 64);
    assert_eq!(one["flows_evicted"], sixty_four["flows_evicted"]);
    assert_eq!(one["flows"], sixty_four["flows"]);
    let (said, _) = run("128");
    assert!(!said.contains("the cap is held per shard"), "{said}");
}

fn store_of_threema(dir: &Path) -> PathBuf {
    let store = dir.join("store");
    let out = flowmine(&["flows".as_ref(), threema().as_os_str(), "--out".as_ref(), store.as_os_str(), "-q".as_ref()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    store
}

/// Exit status and the one line of stderr of each store reader on `store`.
fn readers_on(store: &Path, dir: &Path) -> Vec<(Option<i32>, String)> {
    let features = dir.join("f.parquet");
    let mirage = dir.join("mirage");
    let experiment = dir.join("experiment");
    [
        vec!["features".as_ref(), store.as_os_str(), "--out".as_ref(), features.as_os_str()],
        vec!["export-mirage".as_ref(), store.as_os_str(), "--out".as_ref(), mirage.as_os_str()],
        vec![
            "evaluate".as_ref(),
            store.as_os_str(),
            "--target".as_ref(),
            "label".as_ref(),
            "--out".as_ref(),
            experiment.as_os_str(),
        ],
    ]
    .iter()
    .map(|args| {
        let out = flowmine(args);
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        (out.status.code(), err)
    })
    .collect()
}

#[test]
fn store_readers_refuse_what_is_not_a_complete_store_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_of_threema(dir.path());

    // A folder of Parquet files that is no store.
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    std::fs::copy(repo("testdata/features/reference.parquet"), folder.join("x.parquet")).unwrap();
    for (code, err) in readers_on(&folder, dir.path()) {
        assert_eq!(code, Some(1));
        assert!(err.contains(&format!("{}: not a flow store: a store has a manifest.json", folder.display())), "{err}");
    }

    // A stray Parquet file in a store.
    let stray = store.join("notes.parquet");
    std::fs::copy(repo("testdata/features/reference.parquet"), &stray).unwrap();
    for (code, err) in readers_on(&store, dir.path()) {
        assert_eq!(code, Some(1));
        assert!(err.contains(&format!("{}: not one of the store's parts", stray.display())), "{err}");
    }
    std::fs::remove_file(&stray).unwrap();

    // A part that is not Parquet: the file is named.
    let part = store.join("part-00000.parquet");
    let rows = std::fs::read(&part).unwrap();
    std::fs::write(&part, b"not parquet at all").unwrap();
    for (code, err) in readers_on(&store, dir.path()) {
        assert_eq!(code, Some(1));
        assert!(err.contains(&format!("{}: not a Parquet file", part.display())), "{err}");
    }
    std::fs::write(&part, rows).unwrap();

    // An unfinished store: a checkpoint and no manifest. Refused, saying a resumed run finishes it.
    let manifest = std::fs::read(store.join("manifest.json")).unwrap();
    std::fs::remove_file(store.join("manifest.json")).unwrap();
    std::fs::write(store.join("resume.json"), b"{}").unwrap();
    for (code, err) in readers_on(&store, dir.path()) {
        assert_eq!(code, Some(1));
        assert!(err.contains("an unfinished store") && err.contains("resuming the run finishes it"), "{err}");
    }
    std::fs::remove_file(store.join("resume.json")).unwrap();

    // A manifest that lists no parts, and none beside it: nothing to read, said once.
    let mut empty: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    empty["parts"] = serde_json::json!([]);
    std::fs::write(store.join("manifest.json"), serde_json::to_vec(&empty).unwrap()).unwrap();
    std::fs::rename(&part, dir.path().join("part.parquet")).unwrap();
    for (code, err) in readers_on(&store, dir.path()) {
        assert_eq!(code, Some(1));
        assert!(err.contains(&format!("{}: no Parquet part files in the store", store.display())), "{err}");
    }
    std::fs::rename(dir.path().join("part.parquet"), &part).unwrap();
    std::fs::write(store.join("manifest.json"), manifest).unwrap();
    let features = dir.path().join("f.parquet");
    let run =
        flowmine(&["features".as_ref(), store.as_os_str(), "--out".as_ref(), features.as_os_str(), "-q".as_ref()]);
    assert_eq!(run.status.code(), Some(0), "the store is whole again: {}", stderr(&run));
}

#[test]
fn features_refuse_to_write_inside_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_of_threema(dir.path());
    let part = store.join("part-00000.parquet");
    let before = std::fs::read(&part).unwrap();
    for out in [part.clone(), store.join("features.parquet")] {
        let run = flowmine(&["features".as_ref(), store.as_os_str(), "--out".as_ref(), out.as_os_str()]);
        assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
        assert!(stderr(&run).contains("is inside the store"), "{}", stderr(&run));
    }
    assert_eq!(std::fs::read(&part).unwrap(), before, "the store's part is untouched");
    assert!(!store.join("features.parquet").exists());
}

#[test]
fn an_empty_anon_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_of_threema(dir.path());
    let key = dir.path().join("empty.key");
    std::fs::write(&key, b"").unwrap();
    for (sub, out) in [("features", "f.parquet"), ("export-mirage", "mirage")] {
        let out = dir.path().join(out);
        let run = flowmine(&[
            sub.as_ref(),
            store.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--anon-key-file".as_ref(),
            key.as_os_str(),
        ]);
        assert_eq!(run.status.code(), Some(1), "{sub}: {}", stderr(&run));
        assert!(stderr(&run).contains(&format!("{}: the key file is empty", key.display())), "{}", stderr(&run));
        assert!(!out.exists(), "{sub} wrote nothing");
    }
}

#[test]
fn a_model_of_another_version_is_named_with_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.json.zst");
    let json = br#"{"format": "flowmine-random-forest", "version": 999}"#;
    std::fs::write(&model, zstd::encode_all(&json[..], 3).unwrap()).unwrap();
    let run = flowmine(&["predict".as_ref(), model.as_os_str(), threema().as_os_str()]);
    assert_eq!(run.status.code(), Some(1));
    let err = stderr(&run);
    assert!(err.contains(&format!("{}: model file version 999;", model.display())), "{err}");
    assert!(!err.contains("Some("), "{err}");
}

#[test]
fn train_rf_on_unlabelled_features_says_what_to_do() {
    let python = common::python(&["polars", "sklearn"]);
    let dir = tempfile::tempdir().unwrap();
    let store = store_of_threema(dir.path());
    let features = dir.path().join("features.parquet");
    let run =
        flowmine(&["features".as_ref(), store.as_os_str(), "--out".as_ref(), features.as_os_str(), "-q".as_ref()]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let run = Command::new(python).arg(repo("scripts/train_rf.py")).arg(&features).output().unwrap();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(!err.contains("Traceback"), "{err}");
    assert!(err.contains("0 of 6 flows have a label") && err.contains("--label"), "{err}");
}

#[test]
fn every_output_file_is_replaced_only_with_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_of_threema(dir.path());
    let existing = |name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, b"keep me").unwrap();
        path
    };
    let sliced = existing("sliced.pcap");
    let features = existing("features.csv");
    let predicted = existing("predicted.csv");
    let model = dir.path().join("model.json.zst");
    let pcap = threema();
    let runs: Vec<(Vec<&std::ffi::OsStr>, &Path)> = vec![
        (vec!["slice".as_ref(), pcap.as_os_str(), "--out".as_ref(), sliced.as_os_str()], &sliced),
        (vec!["features".as_ref(), store.as_os_str(), "--out".as_ref(), features.as_os_str()], &features),
        (
            vec!["predict".as_ref(), model.as_os_str(), store.as_os_str(), "--out".as_ref(), predicted.as_os_str()],
            &predicted,
        ),
    ];
    for (args, out) in runs {
        let run = flowmine(&args);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {}", stderr(&run));
        assert!(stderr(&run).contains("exists already; pass --overwrite"), "{}", stderr(&run));
        assert_eq!(std::fs::read(out).unwrap(), b"keep me");
    }
}

#[test]
fn one_error_line_whose_option_hint_comes_from_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_of_threema(dir.path());
    // The library says what is wrong, naming the file, and no option.
    let e = flowmine::store::StoreWriter::create(&store, false).err().unwrap();
    assert!(matches!(&e, flowmine::Error::NotEmpty(dir) if dir == &store), "{e:?}");
    let said = format!("{}: the store directory already holds files", store.display());
    assert_eq!(e.to_string(), said);
    assert!(!e.is_usage());
    std::fs::remove_file(store.join("manifest.json")).unwrap();
    std::fs::write(store.join("resume.json"), b"{}").unwrap();
    let e = flowmine::store::read_flows(&store).unwrap_err();
    assert!(!e.to_string().contains("--"), "{e}");
    std::fs::remove_file(store.join("resume.json")).unwrap();
    // The binary prints it in one line with the option that helps.
    let run = flowmine(&["flows".as_ref(), threema().as_os_str(), "--out".as_ref(), store.as_os_str()]);
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(stderr(&run), format!("flowmine: error: {said}; pass --overwrite to replace the store\n"));
}
