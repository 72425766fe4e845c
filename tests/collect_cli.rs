//! `flowmine collect` through the binary, against fake `adb` and `tcpdump` (tests/fakes/):
//! Python scripts on PATH that answer as the real ones do, replay the Signal capture of
//! testdata/pcaps/messaging and write strace logs from testdata/label/signal consistent with
//! it. The session folder is then labelled by `flowmine label` and compared with the
//! fixture's truth.csv (the app's 5-tuples, counted by tshark).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use flowmine::store::read_flows;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError};
use serde_json::{Value, json};

const APP: &str = "org.thoughtcrime.securesms";
const PHONE: &str = "192.168.2.17";
/// Packets of testdata/pcaps/messaging/signal.pcap.
const PACKETS: usize = 637;
/// Where the fixture log's first process ends and the restarted one begins (phone clock).
const RESTART_AT: f64 = 1569051256.6;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The interpreter behind `python3`, for the fakes' `#!/usr/bin/env python3` (found once:
/// version-manager shims on PATH cost a second per start on a busy machine).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output();
        let out = out.expect("python3 runs the fake adb and tcpdump");
        PathBuf::from(text(&out.stdout).trim())
    })
}

/// A scenario for the fakes in a fresh folder: a rooted phone running Signal (pid 5120),
/// which restarts as pid 6120 0.5 s after strace attached to it; 0.3 s after strace
/// attached to the new process, adb loses the phone for three calls. The phone's clock is
/// 7.25 s behind the AP's, as in the fixture's log; pid 5120 logs the fixture's calls up to
/// the restart, pid 6120 the rest.
struct Fake {
    dir: tempfile::TempDir,
    scenario: Value,
}

impl Fake {
    fn new() -> Fake {
        let log = repo("testdata/label/signal/signal.strace");
        let scenario = json!({
            "serial": "R58M41ABCDE",
            "rooted": true,
            "strace_on_phone": true,
            "installed": [APP],
            "version": ["5.24.3", "594"],
            "phone_ip": PHONE,
            "clock_behind": 7.25,
            "interfaces": ["wlan0", "lo"],
            "capture": repo("testdata/pcaps/messaging/signal.pcap"),
            "processes": [
                {"pid": 5120, "name": APP, "from": 0, "to": {"after_traced": 5120, "plus": 0.3},
                 "log": {"path": log, "until": RESTART_AT}},
                {"pid": 6120, "name": APP, "from": {"after_traced": 5120, "plus": 0.5},
                 "log": {"path": log, "from": RESTART_AT, "pid_add": 1000}},
            ],
            "disconnected": [{"at": {"after_traced": 6120, "plus": 0.3}, "failures": 3}],
        });
        let fake = Fake { dir: tempfile::tempdir().unwrap(), scenario };
        std::fs::create_dir(fake.phone_dir()).unwrap();
        let bin = fake.dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(python(), bin.join("python3")).unwrap();
        fake
    }

    /// The same phone with Signal running throughout, the whole log its one process's, and
    /// no disconnection.
    fn steady() -> Fake {
        let log = repo("testdata/label/signal/signal.strace");
        Fake::new()
            .set("processes", json!([{"pid": 5120, "name": APP, "from": 0, "log": {"path": log}}]))
            .set("disconnected", json!([]))
    }

    fn set(mut self, key: &str, value: Value) -> Fake {
        self.scenario[key] = value;
        self
    }

    fn phone_dir(&self) -> PathBuf {
        self.dir.path().join("phone")
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("sessions")
    }

    /// `flowmine collect ARGS --out … --phone-dir …` with the fakes first on PATH.
    fn command(&self, args: &[&str]) -> Command {
        let scenario = self.dir.path().join("scenario.json");
        std::fs::write(&scenario, self.scenario.to_string()).unwrap();
        let path = format!(
            "{}:{}:{}",
            repo("tests/fakes").display(),
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowmine"));
        cmd.arg("collect")
            .args(args)
            .args(["--interface", "wlan0", "--clock-rounds", "3"])
            .args(if args.contains(&"--reconnect-wait") { &[][..] } else { &["--reconnect-wait", "5"][..] })
            .arg("--out")
            .arg(self.out())
            .arg("--phone-dir")
            .arg(self.phone_dir())
            .env("PATH", path)
            .env("FLOWMINE_FAKE", scenario);
        cmd
    }

    fn collect(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("flowmine runs")
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("flowmine runs")
    }

    fn tcpdump_args(&self) -> Vec<String> {
        serde_json::from_str(&std::fs::read_to_string(self.dir.path().join("tcpdump.args")).unwrap()).unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one `flowmine: error:` line of a failed run.
fn error_line(out: &Output) -> String {
    let stderr = text(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("flowmine: error:")).collect();
    assert_eq!(errors.len(), 1, "one error line:\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    errors[0].to_owned()
}

/// Records of a classic pcap, read by pcap-parser (not by flowmine); panics on damage.
fn pcap_records(path: &Path) -> usize {
    let mut reader = LegacyPcapReader::new(65536, std::fs::File::open(path).unwrap()).expect("a pcap file");
    let mut records = 0;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                if let PcapBlockOwned::Legacy(_) = block {
                    records += 1;
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => return records,
            Err(PcapError::Incomplete(_)) => reader.refill().unwrap(),
            Err(e) => panic!("{}: pcap-parser: {e:?}", path.display()),
        }
    }
}

fn manifest(session: &Path) -> toml::Table {
    std::fs::read_to_string(session.join("session.toml")).unwrap().parse().unwrap()
}

/// (protocol, phone address, phone port, remote address, remote port).
type Tuple = (u8, String, u16, String, u16);

fn truth() -> BTreeSet<Tuple> {
    let text = std::fs::read_to_string(repo("testdata/label/signal/truth.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[1].into(), f[2].parse().unwrap(), f[3].into(), f[4].parse().unwrap())
        })
        .collect()
}

/// The tuples of the rows `flowmine label` gave the app's label, phone side first.
fn labelled(store: &Path) -> Vec<Tuple> {
    let df = read_flows(store).unwrap();
    let s = |c: &str| -> Vec<Option<String>> {
        df.column(c).unwrap().str().unwrap().iter().map(|v| v.map(str::to_owned)).collect()
    };
    let p = |c: &str| -> Vec<u16> { df.column(c).unwrap().u16().unwrap().into_no_null_iter().collect() };
    let (label, src, dst, sport, dport) = (s("label"), s("src_ip"), s("dst_ip"), p("src_port"), p("dst_port"));
    let proto: Vec<u8> = df.column("protocol").unwrap().u8().unwrap().into_no_null_iter().collect();
    (0..df.height())
        .filter(|&i| label[i].as_deref() == Some(APP))
        .map(|i| {
            let (a, b) = (src[i].clone().unwrap(), dst[i].clone().unwrap());
            if a == PHONE { (proto[i], a, sport[i], b, dport[i]) } else { (proto[i], b, dport[i], a, sport[i]) }
        })
        .collect()
}

/// Labels the session folder with `flowmine label` and checks the app's flows are exactly
/// the truth's, each once.
fn assert_labels_truth(session: &Path) {
    let store = session.join("store");
    let out = Command::new(env!("CARGO_BIN_EXE_flowmine"))
        .arg("label")
        .arg(session.join("session.toml"))
        .arg("--out")
        .arg(&store)
        .output()
        .unwrap();
    assert!(out.status.success(), "label: {}", text(&out.stderr));
    let rows = labelled(&store);
    let set: BTreeSet<Tuple> = rows.iter().cloned().collect();
    assert_eq!(set, truth(), "the app's flows of the capture, no other");
    assert_eq!(rows.len(), set.len(), "each flow once");
}

/// Runs collect until Ctrl-C, sent once it has seen the phone come back after the restart;
/// returns its output and what it said on stderr.
fn collect_until_reconnected(fake: &Fake, args: &[&str]) -> (Output, String) {
    let mut child = fake.spawn(args);
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    for line in stderr.lines() {
        let line = line.unwrap();
        said += &line;
        said.push('\n');
        if line.contains("adb reached the phone again") {
            // SAFETY: kill(2) on our own child, not yet reaped.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        }
    }
    (child.wait_with_output().unwrap(), said)
}

#[test]
fn a_session_with_a_restart_a_disconnect_and_ctrl_c_labels_exactly_the_apps_flows() {
    let fake = Fake::new();
    let (out, stderr) = collect_until_reconnected(&fake, &["--app", APP, "--session", "s1", "--note", "fake phone"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    let session = fake.out().join("s1");
    assert!(stderr.contains("strace attached to pid 5120"), "{stderr}");
    assert!(stderr.contains("strace attached to pid 6120 (org.thoughtcrime.securesms) (a new process"), "{stderr}");
    assert!(stderr.contains("adb lost the phone"), "{stderr}");
    let next = format!(
        "next:    flowmine label {} --out {}",
        session.join("session.toml").display(),
        session.join("store").display()
    );
    assert!(stdout.contains(&next), "{stdout}");

    assert_eq!(pcap_records(&session.join("capture.pcap")), PACKETS, "every packet: tcpdump stopped with SIGINT");
    let args = fake.tcpdump_args();
    assert_eq!(args.last().map(String::as_str), Some("host 192.168.2.17"), "{args:?}");
    assert!(args.windows(2).any(|w| w == ["-s", "262144"]) && args.contains(&"-U".to_owned()), "{args:?}");

    let m = manifest(&session);
    assert_eq!(m["app"].as_str(), Some(APP));
    assert_eq!(m["app_version"].as_str(), Some("5.24.3 (594)"));
    assert_eq!(m["device"].as_str(), Some("samsung SM-A515F"));
    assert_eq!(m["session"].as_str(), Some("s1"));
    assert_eq!(m["phone_ip"].as_array().unwrap(), &vec![toml::Value::from(PHONE)]);
    let logs: Vec<&str> = m["strace"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(logs, [format!("{APP}.strace.5120"), format!("{APP}.strace.6120")]);
    for log in &logs {
        assert!(session.join(log).is_file(), "{log} pulled");
    }
    // Each measurement is within half its round trip of the phone's true 7.25 s (the phone
    // answers somewhere inside the round trip); their mean within half the larger one.
    let collect = m["collect"].as_table().unwrap();
    let mut widest = 0.0f64;
    for key in ["clock_start", "clock_end"] {
        let c = collect[key].as_table().unwrap();
        assert_eq!(c["rounds"].as_integer(), Some(3));
        let (o, rtt) = (c["offset_s"].as_float().unwrap(), c["round_trip_s"].as_float().unwrap());
        assert!((o - 7.25).abs() <= rtt / 2.0 + 1e-3, "{key}: {o} ± {rtt}");
        widest = widest.max(rtt);
    }
    let offset = m["clock_offset"].as_float().unwrap();
    assert!((offset - 7.25).abs() <= widest / 2.0 + 1e-3, "offset {offset}");
    assert_eq!(collect["capture_packets"].as_integer(), Some(PACKETS as i64));
    assert_eq!(collect["phone_serial"].as_str(), Some("R58M41ABCDE"));
    let notes: Vec<&str> = m["notes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(notes[0], "fake phone");
    for note in ["pid 5120 (org.thoughtcrime.securesms) ended", "adb lost the phone from", "stopped by Ctrl-C"] {
        assert!(notes.iter().any(|n| n.starts_with(note)), "{note}: {notes:?}");
    }
    assert_labels_truth(&session);
}

#[test]
fn a_session_of_a_given_duration() {
    let fake = Fake::steady();
    let started = Instant::now();
    let out = fake.collect(&["--app", APP, "--session", "s1", "--duration", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(started.elapsed() >= Duration::from_secs(1));
    let session = fake.out().join("s1");
    let m = manifest(&session);
    assert!(m["collect"]["duration_s"].as_float().unwrap() >= 1.0);
    assert!(!m["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("Ctrl-C")));
    assert_eq!(pcap_records(&session.join("capture.pcap")), PACKETS);
    assert_labels_truth(&session);
}

#[test]
fn strace_is_pushed_when_the_phone_has_none() {
    let fake = Fake::steady().set("strace_on_phone", json!(false));
    let out = fake.collect(&["--app", APP, "--session", "s1", "--duration", "1"]);
    let line = error_line(&out);
    assert!(line.contains("strace is not on phone R58M41ABCDE") && line.contains("--strace-binary"), "{line}");
    assert!(!fake.out().join("s1").exists(), "nothing started");

    let binary = repo("tests/fakes/phone-strace");
    let out = fake.collect(&[
        "--app",
        APP,
        "--session",
        "s2",
        "--duration",
        "1",
        "--strace-binary",
        binary.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(fake.phone_dir().join("strace").is_file(), "pushed into --phone-dir");
    let m = manifest(&fake.out().join("s2"));
    assert_eq!(m["collect"]["strace_version"].as_str(), Some("strace -- version 6.6"));
    assert_eq!(m["strace"].as_array().unwrap().len(), 1);
}

#[test]
fn checks_before_the_session_fail_with_one_line_each() {
    let cases: [(&str, Value, &str, &str); 6] = [
        ("rooted", json!(false), "--app", "phone R58M41ABCDE is not rooted"),
        ("installed", json!([]), "--app", "app org.thoughtcrime.securesms is not installed on phone R58M41ABCDE"),
        ("serial", json!(null), "--app", "adb sees no phone"),
        ("device_state", json!("unauthorized"), "--app", "accept the USB debugging prompt"),
        (
            "interfaces",
            json!(["eth0", "lo"]),
            "--app",
            "the AP has no interface wlan0 (tcpdump -D lists: eth0, lo): the hotspot's is needed; give it with --interface",
        ),
        (
            "tcpdump_permission",
            json!(false),
            "--app",
            "tcpdump cannot capture: tcpdump: wlan0: You don't have permission",
        ),
    ];
    for (key, value, flag, cause) in cases {
        let fake = Fake::steady().set(key, value);
        let out = fake.collect(&[flag, APP, "--session", "s1", "--duration", "1"]);
        let line = error_line(&out);
        assert!(line.contains(cause), "{key}: {line}");
        let left: Vec<_> = fake.out().join("s1").read_dir().map(|d| d.collect()).unwrap_or_default();
        assert!(left.is_empty(), "{key}: nothing captured, nothing left: {left:?}");
    }
}

#[test]
fn a_phone_that_does_not_come_back_leaves_a_readable_capture() {
    let fake = Fake::steady().set("disconnected", json!([{"at": 0.5, "failures": 1_000_000}]));
    let out = fake.collect(&["--app", APP, "--session", "s1", "--duration", "1.5", "--reconnect-wait", "0.5"]);
    let line = error_line(&out);
    assert!(line.contains("phone R58M41ABCDE disconnected at"), "{line}");
    assert!(
        line.contains("did not come back") && line.contains("capture.pcap (637 packets), no strace log pulled"),
        "{line}"
    );
    let session = fake.out().join("s1");
    assert_eq!(pcap_records(&session.join("capture.pcap")), PACKETS);
    assert!(!session.join("session.toml").exists(), "no manifest for an incomplete session");
}

#[test]
fn a_batch_records_each_app_and_goes_on_after_a_failure() {
    let fake = Fake::steady();
    let apps = fake.dir.path().join("apps.txt");
    std::fs::write(&apps, "# two apps\norg.telegram.messenger\n").unwrap();
    let started = Instant::now();
    let out = fake.collect(&["--app", APP, "--apps-file", apps.to_str().unwrap(), "--duration", "1", "--pause", "1"]);
    let line = error_line(&out);
    assert!(
        line.starts_with("flowmine: error: org.telegram.messenger: app org.telegram.messenger is not installed"),
        "{line}"
    );
    assert!(text(&out.stderr).contains("collect: pause of 1 s before org.telegram.messenger"));
    assert!(started.elapsed() >= Duration::from_secs(2), "a session of 1 s and a pause of 1 s");
    let sessions: Vec<PathBuf> = fake.out().read_dir().unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let name = sessions[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&format!("{APP}-")) && name.ends_with('Z'), "{name}");
    assert_eq!(manifest(&sessions[0])["session"].as_str(), Some(name.as_str()));
}

#[test]
fn launch_serial_device_snaplen_filter_and_phone_interface() {
    let log = repo("testdata/label/signal/signal.strace");
    let fake =
        Fake::steady().set("processes", json!([{"pid": 5120, "name": APP, "from": "launch", "log": {"path": log}}]));
    let line = error_line(&fake.collect(&["--app", APP, "--serial", "R58XXXXXXXX", "--duration", "1"]));
    assert!(line.contains("adb does not see phone R58XXXXXXXX"), "{line}");

    let out = fake.collect(&[
        "--app",
        APP,
        "--session",
        "s1",
        "--duration",
        "1.5",
        "--launch",
        "--serial",
        "R58M41ABCDE",
        "--snaplen",
        "96",
        "--filter",
        "tcp or udp",
        "--device",
        "Samsung A51",
        "--phone-iface",
        "wlan1",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("collect: launched {APP}")), "{stderr}");
    let args = fake.tcpdump_args();
    assert!(args.windows(2).any(|w| w == ["-s", "96"]), "{args:?}");
    assert_eq!(args.last().map(String::as_str), Some("tcp or udp"));
    let session = fake.out().join("s1");
    let m = manifest(&session);
    assert_eq!(m["device"].as_str(), Some("Samsung A51"));
    assert_eq!(m["collect"]["snaplen"].as_integer(), Some(96));
    // wlan1 shows no address: none recorded, the labelling takes the sockets' own.
    assert_eq!(m["phone_ip"].as_array().map(Vec::len), Some(0));
    let notes: Vec<&str> = m["notes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(notes.contains(&format!("{APP} launched by collect").as_str()), "{notes:?}");
    assert!(notes.iter().any(|n| n.starts_with("the phone showed no address on wlan1")), "{notes:?}");
    assert_labels_truth(&session);
}
