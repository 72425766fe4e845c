//! `flowmine collect`: runs one Android capture session end to end and writes a session
//! folder that `flowmine label` takes as it is (formats/session.md): tcpdump on the access
//! point, strace on every process of the app on a rooted phone (following restarts), the
//! clock offset phone ↔ AP at the start and the end, the logs pulled, the manifest.
//!
//! Everything runs through [`tools::Tools`] (`adb`, `tcpdump` on `PATH`).

pub mod clock;
pub mod manifest;
pub mod phone;
pub mod tools;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use flowmine_core::capture::Reader;
use flowmine_core::capture::input::MappedFile;

use crate::Error;

use clock::{ClockOffset, tightest};
use manifest::{Manifest, Process, Record};
use phone::{Phone, Props, STRACE_OPTIONS, now};
use tools::{AdbFailure, Tcpdump, Tools, sh_quote};

/// The capture's file name in a session folder.
pub const CAPTURE_FILE: &str = "capture.pcap";
/// How often the app's processes are looked up (restarts are followed this fast).
const POLL: Duration = Duration::from_millis(250);
/// How long a launched app gets to show its first process.
const LAUNCH_WAIT: Duration = Duration::from_secs(10);
/// How long tcpdump gets to open the interface, and to flush and exit after SIGINT.
const TCPDUMP_WAIT: Duration = Duration::from_secs(5);

/// One session to record.
#[derive(Debug, Clone)]
pub struct CollectJob {
    /// The app's package name (the label).
    pub app: String,
    /// The folder the session folder is made in.
    pub out: PathBuf,
    /// The session's name and folder; default `APP-YYYYMMDDTHHMMSSZ`.
    pub session: Option<String>,
    pub serial: Option<String>,
    /// The access point's interface the phone is on.
    pub interface: String,
    pub snaplen: u32,
    /// BPF filter; default: the phone's addresses (`host A or host B`), none when unknown.
    pub filter: Option<String>,
    /// Until Ctrl-C when `None`.
    pub duration: Option<Duration>,
    /// Start the app when it is not running.
    pub launch: bool,
    /// A static strace to push to the phone.
    pub strace_binary: Option<PathBuf>,
    /// Working folder on the phone (strace binary, logs).
    pub phone_dir: String,
    /// The phone's Wi-Fi interface.
    pub phone_iface: String,
    /// The `device` column; default manufacturer and model.
    pub device: Option<String>,
    /// Clock round trips at the start and at the end.
    pub clock_rounds: usize,
    /// How long a phone that disconnected gets to come back at the end.
    pub reconnect_wait: Duration,
    pub notes: Vec<String>,
}

impl CollectJob {
    pub fn new(app: String, out: PathBuf, interface: String) -> CollectJob {
        CollectJob {
            app,
            out,
            session: None,
            serial: None,
            interface,
            snaplen: 262_144,
            filter: None,
            duration: None,
            launch: false,
            strace_binary: None,
            phone_dir: "/data/local/tmp/flowmine".into(),
            phone_iface: "wlan0".into(),
            device: None,
            clock_rounds: 7,
            reconnect_wait: Duration::from_secs(30),
            notes: Vec::new(),
        }
    }
}

/// A recorded session.
#[derive(Debug, Clone)]
pub struct Session {
    pub dir: PathBuf,
    pub manifest_path: PathBuf,
    pub manifest: Manifest,
}

/// Runs the session: checks, capture, strace, until `duration` or until `stop` is set
/// (Ctrl-C), then stops everything cleanly and writes the session folder. `say` gets one
/// line per event (attached, restarted, disconnected, …).
pub fn run(job: &CollectJob, tools: &Tools, stop: &AtomicBool, say: &mut dyn FnMut(&str)) -> Result<Session, Error> {
    let ready = check(job, tools)?;
    let phone = &ready.phone;
    let started = SystemTime::now();
    let name = job.session.clone().unwrap_or_else(|| format!("{}-{}", job.app, utc(started, "%Y%m%dT%H%M%SZ")));
    let dir = job.out.join(&name);
    let phone_logs = format!("{}/{name}", job.phone_dir);
    phone
        .su(&format!("mkdir -p {}", sh_quote(&phone_logs)))
        .map_err(|e| Error::Check(format!("cannot create {phone_logs} on phone {}: {}", phone.serial, said(e))))?;
    let mut notes = job.notes.clone();
    let clock_start = measure_clock(phone, job.clock_rounds, "start", &mut notes);
    let filter = job.filter.clone().unwrap_or_else(|| host_filter(&ready.addrs));
    if ready.addrs.is_empty() {
        let unfiltered = if job.filter.is_none() { ": the capture is not filtered" } else { "" };
        notes.push(format!("the phone showed no address on {}{unfiltered}", job.phone_iface));
    }
    create_session_dir(&dir)?;
    let capture = dir.join(CAPTURE_FILE);
    let mut tcpdump = tools.start_tcpdump(&tcpdump_args(job, &capture, &filter), TCPDUMP_WAIT).inspect_err(|_| {
        // Nothing was captured: no empty folder is left behind.
        let _ = std::fs::remove_dir(&dir);
    })?;
    say(&format!("tcpdump: capturing on {} into {}", job.interface, capture.display()));

    let mut watch =
        Watch { phone: Some(phone), app: &job.app, strace: &ready.strace, logs: &phone_logs, ..Watch::default() };
    let watched = watch.run(job, &mut tcpdump, stop, say).and_then(|ended| watch.finish(&dir, job).map(|()| ended));
    notes.append(&mut watch.notes);
    let ended = match watched {
        Ok(ended) => ended,
        Err(cause) => return Err(stopped(cause, &dir, &capture, tcpdump, &watch.pulled)),
    };
    let clock_end = measure_clock(phone, job.clock_rounds, "end", &mut notes);
    let (clean, tcpdump_said) = tcpdump.stop(TCPDUMP_WAIT);
    if !clean {
        notes.push("tcpdump did not exit on SIGINT and was killed: the capture may lack its last packets".into());
    }
    let record = Record {
        started: utc(started, "%Y-%m-%dT%H:%M:%S%.3fZ"),
        ended: utc(ended, "%Y-%m-%dT%H:%M:%S%.3fZ"),
        duration_s: ended.duration_since(started).unwrap_or_default().as_secs_f64(),
        phone_serial: phone.serial.clone(),
        phone_manufacturer: ready.props.manufacturer.clone(),
        phone_model: ready.props.model.clone(),
        android_version: ready.props.android.clone(),
        ap_interface: job.interface.clone(),
        snaplen: job.snaplen,
        bpf_filter: filter,
        capture_packets: count_packets(&capture)?,
        tcpdump_said: tcpdump_said.into_iter().filter(|l| l.contains("packets")).collect(),
        strace_version: ready.strace_version.clone(),
        strace_options: STRACE_OPTIONS.to_owned(),
        clock_start,
        clock_end,
        processes: watch.processes,
    };
    let manifest = Manifest {
        app: job.app.clone(),
        app_version: phone.app_version(&job.app),
        device: job.device.clone().unwrap_or_else(|| ready.props.device_name()),
        session: name,
        phone_ip: ready.addrs.iter().map(IpAddr::to_string).collect(),
        capture: vec![CAPTURE_FILE.to_owned()],
        strace: watch.pulled,
        clock_offset: session_offset(clock_start, clock_end, &mut notes),
        notes,
        collect: record,
    };
    let manifest_path = manifest.write(&dir)?;
    Ok(Session { dir, manifest_path, manifest })
}

/// A phone and an AP that passed the checks.
struct Ready<'t> {
    phone: Phone<'t>,
    /// strace's path on the phone, and its version line.
    strace: String,
    strace_version: String,
    props: Props,
    addrs: Vec<IpAddr>,
}

/// The checks before a session, in the order a user fixes them; each error says what to do.
fn check<'t>(job: &CollectJob, tools: &'t Tools) -> Result<Ready<'t>, Error> {
    let phone = Phone::connect(tools, job.serial.as_deref())?;
    phone.check_root()?;
    let (strace, strace_version) = phone.find_strace(&job.phone_dir, job.strace_binary.as_deref())?;
    phone.check_installed(&job.app)?;
    check_interface(tools, &job.interface)?;
    let props = phone.props();
    let addrs = phone.addresses(&job.phone_iface);
    Ok(Ready { phone, strace, strace_version, props, addrs })
}

/// The session loop and its state: which processes are traced, whether adb reaches the phone.
#[derive(Default)]
struct Watch<'a> {
    phone: Option<&'a Phone<'a>>,
    app: &'a str,
    strace: &'a str,
    /// The session's folder on the phone.
    logs: &'a str,
    processes: Vec<Process>,
    /// strace's pid per traced process (same order as `processes`).
    stracers: Vec<u32>,
    gone: Vec<bool>,
    /// Since when (AP clock) adb has not reached the phone, and what it said.
    disconnected: Option<(f64, String)>,
    notes: Vec<String>,
    /// Logs pulled into the session folder (file names).
    pulled: Vec<String>,
}

impl<'a> Watch<'a> {
    fn phone(&self) -> &'a Phone<'a> {
        self.phone.expect("set")
    }

    /// Polls the app's processes until the end of the session.
    fn run(
        &mut self,
        job: &CollectJob,
        tcpdump: &mut Tcpdump,
        stop: &AtomicBool,
        say: &mut dyn FnMut(&str),
    ) -> Result<SystemTime, Error> {
        let start = Instant::now();
        let mut launched = false;
        loop {
            if stop.load(Ordering::Relaxed) {
                self.notes.push(format!("stopped by Ctrl-C after {:.1} s", start.elapsed().as_secs_f64()));
                say("stopping (Ctrl-C)");
                break;
            }
            if job.duration.is_some_and(|d| start.elapsed() >= d) {
                break;
            }
            if !tcpdump.running() {
                let last = tcpdump.said().into_iter().rfind(|l| l.starts_with("tcpdump:")).unwrap_or_default();
                return Err(Error::Tcpdump(format!("it stopped during the session {last}")));
            }
            match self.phone().processes(self.app) {
                Ok(mut list) => {
                    self.reconnected(say);
                    if list.is_empty() && self.processes.is_empty() && job.launch && !launched {
                        launched = true;
                        self.phone().launch(self.app)?;
                        say(&format!("launched {}", self.app));
                        self.notes.push(format!("{} launched by collect", self.app));
                        list = self.started_processes(stop);
                    }
                    self.follow(&list, say)?;
                }
                Err(AdbFailure::Disconnected(said)) => self.disconnect(said, say),
                Err(AdbFailure::Failed(said)) => {
                    self.notes.push(format!("at {}: ps failed: {said}", clock_time(now())))
                }
                Err(AdbFailure::Spawn(e)) => return Err(e),
            }
            sleep_unless(POLL, stop);
        }
        if self.processes.is_empty() {
            self.notes.push(format!("{} never ran during the session: no strace log", self.app));
        }
        Ok(SystemTime::now())
    }

    /// The app's processes once a launch has started them (strace attaches to them at
    /// once, not a poll later); none after [`LAUNCH_WAIT`].
    fn started_processes(&self, stop: &AtomicBool) -> Vec<(u32, String)> {
        let start = Instant::now();
        while start.elapsed() < LAUNCH_WAIT && !stop.load(Ordering::Relaxed) {
            match self.phone().processes(self.app) {
                Ok(list) if !list.is_empty() => return list,
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        Vec::new()
    }

    fn disconnect(&mut self, said: String, say: &mut dyn FnMut(&str)) {
        if self.disconnected.is_none() {
            let t = now();
            say(&format!("adb lost the phone at {} ({said}); strace keeps logging on the phone", clock_time(t)));
            self.disconnected = Some((t, said));
        }
    }

    fn reconnected(&mut self, say: &mut dyn FnMut(&str)) {
        if let Some((since, said)) = self.disconnected.take() {
            let t = now();
            say(&format!("adb reached the phone again at {}", clock_time(t)));
            self.notes.push(format!(
                "adb lost the phone from {} to {} ({said}); processes started and ended meanwhile were seen late",
                clock_time(since),
                clock_time(t)
            ));
        }
    }

    /// Attaches strace to new processes, marks those gone.
    fn follow(&mut self, list: &[(u32, String)], say: &mut dyn FnMut(&str)) -> Result<(), Error> {
        let t = now();
        for (i, p) in self.processes.iter_mut().enumerate() {
            if self.gone[i] {
                continue;
            }
            if list.iter().any(|(pid, _)| *pid == p.pid) {
                p.last_seen = t;
            } else {
                self.gone[i] = true;
                say(&format!("pid {} ({}) ended", p.pid, p.name));
                self.notes.push(format!(
                    "pid {} ({}) ended between {} and {}",
                    p.pid,
                    p.name,
                    clock_time(p.last_seen),
                    clock_time(t)
                ));
            }
        }
        for (pid, name) in list {
            if self.processes.iter().any(|p| p.pid == *pid) {
                continue;
            }
            let file = format!("{}.strace.{pid}", self.app);
            let log = format!("{}/{file}", self.logs);
            let stracer = match self.phone().attach_strace(self.strace, *pid, &log) {
                Ok(stracer) => stracer,
                // Attached at the first poll after adb is back.
                Err(AdbFailure::Disconnected(said)) => {
                    self.disconnect(said, say);
                    return Ok(());
                }
                Err(e) => {
                    return Err(Error::Strace(format!("cannot attach to pid {pid} ({name}): {}", said(e))));
                }
            };
            let again = if self.processes.is_empty() { "" } else { " (a new process or a restart)" };
            say(&format!("strace attached to pid {pid} ({name}){again}"));
            if !self.processes.is_empty() {
                self.notes
                    .push(format!("pid {pid} ({name}) appeared at {} and was traced from then on", clock_time(t)));
            }
            self.processes.push(Process { pid: *pid, name: name.clone(), first_seen: t, last_seen: t, strace: file });
            self.stracers.push(stracer);
            self.gone.push(false);
        }
        Ok(())
    }

    /// Waits for a phone that is gone, stops the stracers and pulls their logs.
    fn finish(&mut self, dir: &Path, job: &CollectJob) -> Result<(), Error> {
        let phone = self.phone();
        if !phone.reachable() {
            let (since, said) = self.disconnected.take().unwrap_or_else(|| (now(), "adb does not reach it".into()));
            let deadline = Instant::now() + job.reconnect_wait;
            while !phone.reachable() {
                if Instant::now() >= deadline {
                    return Err(Error::Disconnected {
                        serial: phone.serial.clone(),
                        since: clock_time(since),
                        said,
                        waited: job.reconnect_wait.as_secs(),
                    });
                }
                std::thread::sleep(POLL);
            }
            self.disconnected = Some((since, said));
            self.reconnected(&mut |_| {});
        }
        let present = phone
            .stop_strace(&self.stracers, self.logs)
            .map_err(|e| Error::Strace(format!("cannot stop strace on the phone: {}", said(e))))?;
        for p in &self.processes {
            if !present.contains(&p.strace) {
                // strace found the process gone when it came to attach.
                self.notes.push(format!("pid {} ({}): strace wrote no log", p.pid, p.name));
                continue;
            }
            let remote = format!("{}/{}", self.logs, p.strace);
            phone.pull(&remote, &dir.join(&p.strace)).map_err(|e| Error::Pull {
                serial: phone.serial.clone(),
                remote,
                said: said(e),
            })?;
            self.pulled.push(p.strace.clone());
        }
        Ok(())
    }
}

/// The error of a session that failed after the capture started, with what it left on disk:
/// tcpdump is stopped cleanly first, so the capture is complete.
fn stopped(cause: Error, dir: &Path, capture: &Path, tcpdump: Tcpdump, pulled: &[String]) -> Error {
    tcpdump.stop(TCPDUMP_WAIT);
    let capture_state = match count_packets(capture) {
        Ok(n) => format!("{CAPTURE_FILE} ({n} packets)"),
        Err(e) => format!("{CAPTURE_FILE} (unreadable: {e})"),
    };
    let logs = match pulled.len() {
        0 => "no strace log pulled".to_owned(),
        n => format!("{n} strace log(s) pulled"),
    };
    Error::Stopped { cause: Box::new(cause), dir: dir.to_owned(), kept: format!("{capture_state}, {logs}") }
}

fn said(e: AdbFailure) -> String {
    match e {
        AdbFailure::Disconnected(s) | AdbFailure::Failed(s) => s,
        AdbFailure::Spawn(e) => e.to_string(),
    }
}

fn check_interface(tools: &Tools, interface: &str) -> Result<(), Error> {
    let all = tools.tcpdump_interfaces()?;
    if all.iter().any(|i| i == interface) {
        Ok(())
    } else {
        let what = format!(
            "the AP has no interface {interface} (tcpdump -D lists: {}): the hotspot's is needed",
            all.join(", ")
        );
        Err(Error::Needs { what, setting: "interface" })
    }
}

fn create_session_dir(dir: &Path) -> Result<(), Error> {
    if dir.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::SessionExists(dir.to_owned()));
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_owned(), source })
}

/// `host A or host B …`: the phone's packets only.
fn host_filter(addrs: &[IpAddr]) -> String {
    addrs.iter().map(|a| format!("host {a}")).collect::<Vec<_>>().join(" or ")
}

/// `-U`: every packet is written out at once, so the file is whole up to the last packet
/// even if tcpdump is killed; `-n`: no name lookups.
fn tcpdump_args(job: &CollectJob, capture: &Path, filter: &str) -> Vec<String> {
    let mut args: Vec<String> = ["-i", &job.interface, "-s", &job.snaplen.to_string(), "-n", "-U", "-w"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(capture.to_string_lossy().into_owned());
    if !filter.is_empty() {
        args.push(filter.to_owned());
    }
    args
}

fn measure_clock(phone: &Phone, rounds: usize, when: &str, notes: &mut Vec<String>) -> Option<ClockOffset> {
    let samples: Vec<_> = (0..rounds.max(1)).filter_map(|_| phone.clock_sample().ok()).collect();
    let offset = tightest(&samples);
    if offset.is_none() {
        notes.push(format!("the phone's clock could not be read at the {when}"));
    }
    offset
}

/// The offset the labelling uses: the mean of the start and end measurements.
fn session_offset(start: Option<ClockOffset>, end: Option<ClockOffset>, notes: &mut Vec<String>) -> f64 {
    match (start, end) {
        (Some(s), Some(e)) => {
            notes.push(format!(
                "clock offset {:+.3} s at the start, {:+.3} s at the end (drift {:+.1} ms)",
                s.offset_s,
                e.offset_s,
                (e.offset_s - s.offset_s) * 1e3
            ));
            (s.offset_s + e.offset_s) / 2.0
        }
        (Some(o), None) | (None, Some(o)) => o.offset_s,
        (None, None) => {
            notes.push("no clock offset measured: 0 written; label with --clock-offset estimate".into());
            0.0
        }
    }
}

/// Packets in a capture; its damage (a record cut short) is an error.
pub fn count_packets(path: &Path) -> Result<u64, Error> {
    let file = MappedFile::open(path)?;
    let damaged = |damage| Error::Capture { path: path.to_owned(), damage };
    let mut n = 0;
    for event in Reader::new(file.bytes()).map_err(damaged)? {
        event.map_err(damaged)?;
        n += 1;
    }
    Ok(n)
}

fn sleep_unless(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn utc(t: SystemTime, format: &str) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).format(format).to_string()
}

fn clock_time(t: f64) -> String {
    utc(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(t.max(0.0)), "%H:%M:%S%.3f")
}
