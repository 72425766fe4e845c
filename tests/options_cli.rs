//! Every option of every subcommand, run once through the binary, and the options `--help`
//! lists compared with the usage blocks of README.md and formats/*.md, so neither can drift.
//!
//! To add an option: add a [`Case`] to [`cases`] that runs it (the coverage test names any
//! option of `flowmine SUB --help` no case runs), and document it in a usage block.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn flowmine<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowmine")).args(args).output().expect("flowmine runs")
}

fn text(out: &Output) -> String {
    format!("stdout: {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The subcommands `flowmine --help` lists (all but `help`).
fn subcommands() -> Vec<String> {
    let help = String::from_utf8(flowmine(&["--help"]).stdout).unwrap();
    let commands = help.split("Commands:").nth(1).expect("a Commands: section");
    let commands = commands.split("\n\n").next().unwrap();
    let names: Vec<String> = commands
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    assert!(names.len() >= 8, "subcommands found in --help: {names:?}");
    names
}

/// The long options of `flowmine SUB --help` (without --help and --version).
fn help_options(sub: &str) -> BTreeSet<String> {
    let out = flowmine(&[sub, "-h"]);
    assert_eq!(out.status.code(), Some(0), "{sub} -h: {}", text(&out));
    let help = String::from_utf8(out.stdout).unwrap();
    help.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            // `-q, --quiet  …` or `--out <OUT>  …`; possible-value lines start with `- `.
            let rest = line.strip_prefix("--").or_else(|| {
                let b = line.as_bytes();
                (b.len() > 6 && b[0] == b'-' && b[1].is_ascii_alphabetic() && &line[2..6] == ", --").then(|| &line[6..])
            })?;
            Some(option_name(rest))
        })
        .filter(|name| name != "help" && name != "version")
        .collect()
}

/// The option name at the start of `s` (after its `--`).
fn option_name(s: &str) -> String {
    s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
}

/// Every `--option` named in `s`.
fn options_in(s: &str) -> Vec<String> {
    s.match_indices("--")
        .filter(|(at, _)| *at == 0 || !s.as_bytes()[at - 1].is_ascii_alphanumeric())
        .map(|(at, _)| option_name(&s[at + 2..]))
        .filter(|name| name.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        .collect()
}

/// A documented invocation: the subcommand, its text (with its continuation lines) and
/// where it is written.
struct Usage {
    sub: String,
    text: String,
    at: String,
}

/// The `flowmine SUB …` (or `cargo run -- SUB …`) commands of the fenced code blocks of a
/// Markdown file. A command goes on over lines ending in `\` and over the indented or
/// comment lines that follow it.
fn usages(path: &Path, subs: &[String]) -> Vec<Usage> {
    let doc = std::fs::read_to_string(path).unwrap();
    let mut found: Vec<Usage> = Vec::new();
    let (mut in_code, mut open) = (false, false);
    for (n, line) in doc.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            (in_code, open) = (!in_code, false);
            continue;
        }
        if !in_code {
            continue;
        }
        let start = ["flowmine ", "cargo run -- "].iter().find_map(|p| {
            let at = line.find(p)?;
            let rest = &line[at + p.len()..];
            let sub = rest.split_whitespace().next()?;
            subs.iter().any(|s| s == sub).then(|| (sub.to_owned(), rest[sub.len()..].to_owned()))
        });
        let continues =
            open && (line.starts_with(char::is_whitespace) || line.starts_with('#')) && !line.trim().is_empty()
                || found.last().is_some_and(|u| open && u.text.trim_end().ends_with('\\'));
        match start {
            Some((sub, rest)) => {
                found.push(Usage { sub, text: rest, at: format!("{}:{}", path.display(), n + 1) });
                open = true;
            }
            None if continues => {
                let last = found.last_mut().unwrap();
                last.text.push('\n');
                last.text.push_str(line);
            }
            None => open = false,
        }
    }
    found
}

fn documents() -> Vec<PathBuf> {
    let mut docs = vec![repo("README.md")];
    let mut formats: Vec<PathBuf> = std::fs::read_dir(repo("formats"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    formats.sort();
    docs.extend(formats);
    docs
}

/// The documented default of each option whose usage line says `default X`, and the
/// `[default: X]` of `--help` agree.
fn documented_defaults(usage: &Usage) -> Vec<(String, String)> {
    usage
        .text
        .lines()
        .filter_map(|line| {
            let (code, comment) = line.split_once('#')?;
            let [option] = &options_in(code)[..] else { return None };
            let rest = comment.split("default").nth(1)?.trim_start_matches([':', ' ']);
            let value: String = rest.chars().take_while(|c| !c.is_whitespace() && !",;:)".contains(*c)).collect();
            (!value.is_empty()).then_some((option.clone(), value))
        })
        .collect()
}

/// The text of each long option of `flowmine SUB -h`: its line and the description lines
/// under it.
fn help_texts(sub: &str) -> BTreeMap<String, String> {
    let help = String::from_utf8(flowmine(&[sub, "-h"]).stdout).unwrap();
    let mut texts = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in help.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("--") || trimmed.get(2..6) == Some(", --") {
            current = Some(option_name(trimmed.split("--").nth(1).unwrap()));
        } else if !line.starts_with("  ") {
            current = None;
        }
        if let Some(name) = &current {
            texts.entry(name.clone()).or_insert_with(String::new).push_str(line);
        }
    }
    texts
}

/// Whether `--help`'s text of an option agrees with a default the docs give it: a
/// `[default: X]` or its description saying "default X". A documented default in words
/// ("one per core") is compared only when `--help` shows one that is not a number.
fn default_agrees(help: &str, value: &str) -> bool {
    let shown = help.split("[default: ").nth(1).and_then(|d| d.split(']').next());
    if shown == Some(value) || help.to_lowercase().contains(&format!("default {value}")) {
        return true;
    }
    let numeric = |v: &str| v.starts_with(|c: char| c.is_ascii_digit());
    !numeric(value) && shown.is_none_or(numeric)
}

#[test]
fn help_and_documented_usage_agree() {
    let subs = subcommands();
    let usages: Vec<Usage> = documents().iter().flat_map(|d| usages(d, &subs)).collect();
    let mut problems = Vec::new();
    for sub in &subs {
        let help = help_options(sub);
        let texts = help_texts(sub);
        let mine: Vec<&Usage> = usages.iter().filter(|u| &u.sub == sub).collect();
        if mine.is_empty() {
            problems.push(format!("`flowmine {sub}` has no usage block in README.md or formats/"));
        }
        let mut documented = BTreeSet::new();
        for u in &mine {
            for option in options_in(&u.text) {
                if !help.contains(&option) {
                    problems.push(format!("{}: `{sub} --{option}` is not an option of `flowmine {sub} --help`", u.at));
                }
                documented.insert(option);
            }
            for (option, value) in documented_defaults(u) {
                let help = texts.get(&option).map_or("", String::as_str);
                if !default_agrees(help, &value) {
                    problems.push(format!("{}: `{sub} --{option}` documented with default {value}: {help}", u.at));
                }
            }
        }
        for option in help.difference(&documented) {
            problems.push(format!("`{sub} --{option}` is in --help but in no usage block of README.md or formats/"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The inputs the cases share, made once.
struct Fixtures {
    dir: tempfile::TempDir,
    /// A store of the messaging captures.
    store: PathBuf,
    /// Its features.
    features: PathBuf,
    /// An `evaluate` output directory (with its model) on them.
    experiment: PathBuf,
}

impl Fixtures {
    fn new() -> Fixtures {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let features = dir.path().join("features.parquet");
        let experiment = dir.path().join("experiment");
        let messaging = repo("testdata/pcaps/messaging");
        for args in [
            vec![os("flows"), messaging.into(), os("--out"), store.clone().into(), os("-q")],
            vec![os("features"), store.clone().into(), os("--out"), features.clone().into(), os("-q")],
            [vec![os("evaluate"), features.clone().into(), os("--out"), experiment.clone().into()], evaluate_small()]
                .concat(),
        ] {
            let out = flowmine(&args);
            assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        }
        Fixtures { dir, store, features, experiment }
    }

    /// A fresh path in the fixtures' directory.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn os(s: &str) -> OsString {
    s.into()
}

/// A quick experiment on the fixture features: capture files as classes, few trees.
fn evaluate_small() -> Vec<OsString> {
    ["--target", "capture", "--min-class-flows", "10", "--trees", "5", "--permutation-repeats", "1", "-q"]
        .map(os)
        .to_vec()
}

type Check = Box<dyn Fn(&Fixtures, &Output)>;
type MakeArgs = Box<dyn Fn(&Fixtures) -> Vec<OsString>>;

/// One run of the binary: the options it is there to exercise, its arguments, the exit
/// status it must end with (0), and what else must hold afterwards.
struct Case {
    sub: &'static str,
    covers: &'static [&'static str],
    args: MakeArgs,
    check: Check,
}

fn case(
    sub: &'static str,
    covers: &'static [&'static str],
    args: impl Fn(&Fixtures) -> Vec<OsString> + 'static,
) -> Case {
    Case { sub, covers, args: Box::new(args), check: Box::new(|_, _| {}) }
}

impl Case {
    fn check(mut self, check: impl Fn(&Fixtures, &Output) + 'static) -> Case {
        self.check = Box::new(check);
        self
    }
}

/// `[SUB, a, b, …]` with fixture paths given as `OsString`s.
macro_rules! args {
    ($($a:expr),* $(,)?) => { vec![$(OsString::from($a)),*] };
}

fn manifest_parameters(store: &Path) -> serde_json::Value {
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap();
    m["parameters"].clone()
}

fn threema() -> PathBuf {
    repo("testdata/pcaps/messaging/threema.pcap")
}

fn flows_cases() -> Vec<Case> {
    let param = |name: &'static str, want: serde_json::Value| {
        move |f: &Fixtures, _: &Output| assert_eq!(manifest_parameters(&f.path("p"))[name], want, "{name}")
    };
    let run = |extra: &'static [&'static str]| {
        move |f: &Fixtures| {
            let mut a = args!["flows", threema(), "--out", f.path("p"), "--overwrite", "-q"];
            a.extend(extra.iter().map(|s| os(s)));
            a
        }
    };
    vec![
        case("flows", &["out", "quiet"], |f| args!["flows", threema(), "--out", f.path("flows"), "--quiet"]).check(
            |f, out| {
                assert!(f.path("flows/manifest.json").exists());
                assert!(out.stdout.is_empty(), "--quiet prints nothing");
            },
        ),
        case("flows", &["overwrite"], run(&[])),
        case("flows", &["threads"], run(&["--threads", "1"])).check(param("threads", 1.into())),
        case("flows", &["idle-timeout"], run(&["--idle-timeout", "2.5"])).check(param("idle_timeout_s", 2.5.into())),
        case("flows", &["idle-timeout"], run(&["--idle-timeout", "off"]))
            .check(param("idle_timeout_s", serde_json::Value::Null)),
        case("flows", &["active-timeout"], run(&["--active-timeout", "off"]))
            .check(param("active_timeout_s", serde_json::Value::Null)),
        case("flows", &["tcp-close"], run(&["--tcp-close", "off"])).check(param("tcp_close", false.into())),
        case("flows", &["tcp-close"], run(&["--tcp-close", "on"])).check(param("tcp_close", true.into())),
        case("flows", &["tcp-close-linger"], run(&["--tcp-close-linger", "0.25"]))
            .check(param("tcp_close_linger_s", 0.25.into())),
        case("flows", &["packets"], run(&["--packets", "3"])).check(param("packets", "3".into())),
        case("flows", &["packets"], run(&["--packets", "none"])).check(param("packets", "0".into())),
        case("flows", &["max-flows"], run(&["--max-flows", "100"])).check(param("max_flows", 128.into())),
        case("flows", &["label"], run(&["--label", "threema"])).check(param("label", "threema".into())),
        case("flows", &["checkpoint-every"], run(&["--checkpoint-every", "1K"])),
        case("flows", &["strict"], run(&["--strict"])),
        case("flows", &["resume"], |f| args!["flows", threema(), "--out", f.path("flows"), "--resume"])
            .check(|_, out| assert!(String::from_utf8_lossy(&out.stdout).contains("complete already"))),
    ]
}

fn telegram(rel: &str) -> PathBuf {
    repo("testdata/label/telegram").join(rel)
}

fn label_cases() -> Vec<Case> {
    let flag_form = |f: &Fixtures| {
        let mut a = args!["label", "--capture", repo("testdata/pcaps/messaging/telegram.pcap"), "--strace"];
        a.extend(["telegram.strace.4001", "telegram.strace.4017", "telegram.strace.4018"].map(|s| telegram(s).into()));
        a.extend(args![
            "--app",
            "org.telegram.messenger",
            "--device",
            "Poco",
            "--session-name",
            "s1",
            "--phone-ip",
            "192.168.1.77",
            "--strace-date",
            "2020-05-06",
            "--strace-utc-offset",
            "+02:00",
            "--clock-offset",
            "-3.5",
            "--out",
            f.path("label-flags"),
        ]);
        a
    };
    vec![
        case("label", &["out", "quiet"], |f| args!["label", telegram("session.toml"), "--out", f.path("label"), "-q"])
            .check(|f, _| assert!(f.path("label/manifest.json").exists())),
        case(
            "label",
            &[
                "capture",
                "strace",
                "app",
                "device",
                "session-name",
                "phone-ip",
                "strace-date",
                "strace-utc-offset",
                "clock-offset",
            ],
            flag_form,
        )
        .check(|_, out| assert!(String::from_utf8_lossy(&out.stdout).contains("exact (org.telegram.messenger)"))),
        case("label", &["tolerance", "unmatched", "dns", "filtered-pcap", "sockets", "overwrite"], |f| {
            args![
                "label",
                telegram("session.toml"),
                "--out",
                f.path("label"),
                "--overwrite",
                "--tolerance",
                "1",
                "--unmatched",
                "drop",
                "--dns",
                "--filtered-pcap",
                f.path("app.pcap"),
                "--sockets",
                f.path("sockets.csv"),
            ]
        })
        .check(|f, _| {
            assert!(std::fs::metadata(f.path("app.pcap")).unwrap().len() > 24, "packets in the filtered pcap");
            assert!(std::fs::read_to_string(f.path("sockets.csv")).unwrap().lines().count() > 1);
        }),
    ]
}

fn other_cases() -> Vec<Case> {
    vec![
        case("slice", &["out", "quiet"], |f| args!["slice", threema(), "--out", f.path("sliced.pcap"), "-q"]).check(
            |f, out| {
                assert!(f.path("sliced.pcap").exists());
                assert!(out.stdout.is_empty());
            },
        ),
        case("features", &["out", "quiet", "sequence-len", "threads", "keep-addresses"], |f| {
            args![
                "features",
                f.store.clone(),
                "--out",
                f.path("f.csv"),
                "-q",
                "--sequence-len",
                "4",
                "--threads",
                "1",
                "--keep-addresses"
            ]
        })
        .check(|f, _| {
            let csv = std::fs::read_to_string(f.path("f.csv")).unwrap();
            assert!(csv.lines().next().unwrap().contains("seq_size"));
        }),
        case("features", &["anon-key-file"], |f| {
            std::fs::write(f.path("key"), b"a key").unwrap();
            args!["features", f.store.clone(), "--out", f.path("g.arrow"), "-q", "--anon-key-file", f.path("key")]
        }),
        case("export-mirage", &["out", "quiet", "packets", "group-by", "keep-addresses"], |f| {
            args![
                "export-mirage",
                f.store.clone(),
                "--out",
                f.path("mirage"),
                "-q",
                "--packets",
                "32",
                "--group-by",
                "label",
                "--keep-addresses"
            ]
        })
        .check(|f, _| assert!(f.path("mirage/unlabelled.json").exists())),
        case("export-mirage", &["layout"], |f| {
            args!["export-mirage", f.store.clone(), "--out", f.path("mirage22"), "-q", "--layout", "2022"]
        })
        .check(|f, _| {
            // A store from captures: MIRAGE-2022's top folder, one app folder (no label: unlabelled).
            let apps: Vec<_> =
                std::fs::read_dir(f.path("mirage22/Raw_JSON")).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(apps, ["unlabelled"]);
        }),
        case("export-mirage", &["anon-key-file", "overwrite"], |f| {
            std::fs::write(f.path("key2"), b"another key").unwrap();
            args![
                "export-mirage",
                f.store.clone(),
                "--out",
                f.path("mirage"),
                "-q",
                "--anon-key-file",
                f.path("key2"),
                "--overwrite"
            ]
        }),
        case("slice", &["overwrite"], |f| {
            args!["slice", threema(), "--out", f.path("sliced.pcap"), "--overwrite", "-q"]
        }),
        case("features", &["overwrite"], |f| {
            args!["features", f.store.clone(), "--out", f.path("f.csv"), "--overwrite", "-q"]
        }),
        case("import-mirage", &["out", "quiet"], |f| {
            args!["import-mirage", repo("testdata/mirage"), "--out", f.path("imported"), "-q"]
        })
        .check(|f, _| assert!(f.path("imported/manifest.json").exists())),
        case("import-mirage", &["overwrite"], |f| {
            args![
                "import-mirage",
                repo("testdata/mirage/mirage2019_record.json"),
                "--out",
                f.path("imported"),
                "--overwrite"
            ]
        }),
        case("predict", &["out", "quiet"], |f| {
            args![
                "predict",
                f.experiment.join("model.json.zst"),
                f.features.clone(),
                "--out",
                f.path("p.parquet"),
                "-q"
            ]
        })
        .check(|f, _| assert!(f.path("p.parquet").exists())),
        case("predict", &["overwrite"], |f| {
            args![
                "predict",
                f.experiment.join("model.json.zst"),
                f.features.clone(),
                "--out",
                f.path("p.parquet"),
                "--overwrite",
                "-q"
            ]
        }),
    ]
}

fn evaluate_cases() -> Vec<Case> {
    let run = |out: &'static str, extra: &'static [&'static str]| {
        move |f: &Fixtures| {
            let mut a = args!["evaluate", f.features.clone(), "--out", f.path(out)];
            a.extend(evaluate_small().into_iter().skip(if extra.contains(&"--target") { 2 } else { 0 }));
            a.extend(extra.iter().map(|s| os(s)));
            a
        }
    };
    let parameter = |out: &'static str, pointer: &'static str, want: serde_json::Value| {
        move |f: &Fixtures, _: &Output| {
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(f.path(out).join("metrics.json")).unwrap()).unwrap();
            assert_eq!(m.pointer(pointer), Some(&want), "{pointer} in {m}");
        }
    };
    vec![
        case(
            "evaluate",
            &["target", "out", "quiet", "trees", "min-class-flows", "permutation-repeats"],
            run("e1", &[]),
        ),
        case(
            "evaluate",
            &[
                "features",
                "test-fraction",
                "seed",
                "max-depth",
                "min-samples-leaf",
                "max-features",
                "balance",
                "threads",
            ],
            run(
                "e2",
                &[
                    "--features",
                    "packet_length_*,!*_var",
                    "--test-fraction",
                    "0.5",
                    "--seed",
                    "7",
                    "--max-depth",
                    "3",
                    "--min-samples-leaf",
                    "2",
                    "--max-features",
                    "4",
                    "--balance",
                    "undersample",
                    "--threads",
                    "1",
                ],
            ),
        )
        .check(parameter("e2", "/forest/max_depth", 3.into())),
        case("evaluate", &["folds", "overwrite"], run("e1", &["--folds", "3", "--overwrite"])),
        case("evaluate", &["split-by"], run("e3", &["--split-by", "capture", "--test-fraction", "0.3"])),
        case(
            "evaluate",
            &["train", "test"],
            // The derived `capture` column is the file name without extension.
            run(
                "e4",
                &[
                    "--target",
                    "protocol",
                    "--split-by",
                    "capture",
                    "--train",
                    "wechat,teams,signal",
                    "--test",
                    "telegram,whatsapp",
                ],
            ),
        )
        .check(|f, _| assert!(f.path("e4/confusion-telegram.svg").exists())),
    ]
}

/// Shards and their merge, MIRAGE's dataset folder, clusters, few labels and apps never
/// seen (each also has a test file of its own that checks what the options do).
fn later_cases() -> Vec<Case> {
    vec![
        case("flows", &["shard"], |f| {
            args!["flows", repo("testdata/pcaps/messaging"), "--out", f.path("shard-1"), "-q", "--shard", "1/1"]
        }),
        case("merge", &["out", "overwrite", "quiet"], |f| {
            let single = args!["flows", repo("testdata/pcaps/messaging"), "--out", f.path("single"), "-q"];
            assert_eq!(flowmine(&single).status.code(), Some(0));
            std::fs::create_dir_all(f.path("merged")).unwrap();
            args!["merge", f.path("shard-1"), "--out", f.path("merged"), "--overwrite", "--quiet"]
        })
        .check(|f, _| {
            let manifest = |dir: &str| -> serde_json::Value {
                serde_json::from_slice(&std::fs::read(f.path(dir).join("manifest.json")).unwrap()).unwrap()
            };
            let (m, s) = (manifest("merged"), manifest("single"));
            assert_eq!((&m["flows"], &m["packets_total"]), (&s["flows"], &s["packets_total"]));
        }),
        case("import-mirage", &["threads"], |f| {
            args![
                "import-mirage",
                repo("testdata/mirage/MIRAGE-2019"),
                "--out",
                f.path("mirage-store"),
                "-q",
                "--threads",
                "1"
            ]
        }),
        case("export-mirage", &["max-records-per-file"], |f| {
            args![
                "export-mirage",
                f.path("mirage-store"),
                "--out",
                f.path("mirage-out"),
                "-q",
                "--max-records-per-file",
                "10"
            ]
        })
        .check(|f, _| {
            let device = f.path("mirage-out/Nexus7_bc_ee_7b_a4_09_47");
            let names: Vec<String> = std::fs::read_dir(device)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert!(names.iter().any(|n| n.ends_with(".2.json")), "no file continued past 10 records: {names:?}");
        }),
        case(
            "cluster",
            &[
                "out",
                "target",
                "features",
                "k",
                "fit-rows",
                "eps",
                "min-samples",
                "dbscan-rows",
                "plot-rows",
                "seed",
                "threads",
                "quiet",
            ],
            |f| {
                args![
                    "cluster",
                    f.features.clone(),
                    "--out",
                    f.path("c1"),
                    "--target",
                    "capture",
                    "--features",
                    "packet_length_*",
                    "--k",
                    "4",
                    "--fit-rows",
                    "500",
                    "--eps",
                    "1.5",
                    "--min-samples",
                    "4",
                    "--dbscan-rows",
                    "300",
                    "--plot-rows",
                    "200",
                    "--seed",
                    "3",
                    "--threads",
                    "1",
                    "--quiet"
                ]
            },
        )
        .check(|f, _| assert!(f.path("c1/clusters.parquet").exists())),
        case("cluster", &["k-range", "silhouette-rows", "overwrite"], |f| {
            std::fs::create_dir_all(f.path("c2")).unwrap();
            std::fs::write(f.path("c2/old.txt"), b"earlier").unwrap();
            args![
                "cluster",
                f.features.clone(),
                "--out",
                f.path("c2"),
                "--k-range",
                "2..3",
                "--silhouette-rows",
                "200",
                "--overwrite",
                "-q"
            ]
        })
        .check(|f, _| assert!(f.path("c2/report.md").exists())),
        case(
            "evaluate",
            &[
                "labelled-fraction",
                "self-training-threshold",
                "self-training-rounds",
                "hold-out-classes",
                "unknown-threshold",
            ],
            |f| {
                let mut a = args![
                    "evaluate",
                    f.features.clone(),
                    "--out",
                    f.path("semi"),
                    "--labelled-fraction",
                    "0.5",
                    "--self-training-threshold",
                    "0.8",
                    "--self-training-rounds",
                    "2",
                    "--hold-out-classes",
                    "telegram",
                    "--unknown-threshold",
                    "0.6"
                ];
                a.extend(evaluate_small());
                a
            },
        )
        .check(|f, _| {
            assert!(f.path("semi/few_labels.csv").exists());
            assert!(f.path("semi/unknown_apps.json").exists());
        }),
    ]
}

fn cases() -> Vec<Case> {
    [flows_cases(), label_cases(), other_cases(), evaluate_cases(), later_cases()].into_iter().flatten().collect()
}

/// Subcommands whose options run through the binary in a test file of their own, because
/// they need fakes of other programs or a cluster: each option must be passed there.
const TESTED_IN: &[(&str, &str)] = &[("collect", "tests/collect_cli.rs")];

/// Whether the test file that runs `sub` passes `--option` to the binary.
fn tested_elsewhere(sub: &str, option: &str) -> bool {
    TESTED_IN.iter().filter(|(s, _)| *s == sub).any(|(_, file)| {
        let source = std::fs::read_to_string(repo(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        source.contains(&format!("\"--{option}\""))
    })
}

#[test]
fn every_option_of_every_subcommand_runs() {
    let cases = cases();
    let mut missing = Vec::new();
    for sub in subcommands() {
        for option in help_options(&sub) {
            let covered = cases.iter().any(|c| c.sub == sub && c.covers.contains(&option.as_str()));
            if !covered && !tested_elsewhere(&sub, &option) {
                missing.push(format!("{sub} --{option}"));
            }
        }
    }
    assert!(missing.is_empty(), "options no case of tests/options_cli.rs runs: {missing:?}");

    let fixtures = Fixtures::new();
    for c in &cases {
        let args = (c.args)(&fixtures);
        for option in c.covers {
            assert!(
                args.iter().any(|a| a.to_str() == Some(&format!("--{option}"))) || *option == "quiet",
                "a case said to cover --{option} does not pass it: {args:?}"
            );
        }
        let out = flowmine(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        (c.check)(&fixtures, &out);
    }
}
