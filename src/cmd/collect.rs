//! `flowmine collect`: records Android capture sessions (tcpdump on the AP, strace on the
//! phone) into session folders for `flowmine label`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use flowmine::Error;
use flowmine::collect::tools::Tools;
use flowmine::collect::{self, CollectJob, Session};

use super::report_error;

#[derive(clap::Args)]
pub struct CollectArgs {
    /// The app's package name; several (or --apps-file) record one session each, in turn.
    #[arg(long, required_unless_present = "apps_file")]
    app: Vec<String>,
    /// A file with one package name per line (`#` comments), recorded in turn.
    #[arg(long)]
    apps_file: Option<PathBuf>,
    /// The access point's interface the phone is connected to (e.g. the hotspot's wlan0).
    #[arg(long, short)]
    interface: String,
    /// The folder in which each session gets its own folder.
    #[arg(long)]
    out: PathBuf,
    /// The session's name (its folder and `session` column); one app only.
    #[arg(long)]
    session: Option<String>,
    /// The phone's adb serial; needed when adb sees several.
    #[arg(long, short)]
    serial: Option<String>,
    /// Seconds per session; without it a session runs until Ctrl-C.
    #[arg(long)]
    duration: Option<f64>,
    /// Start the app (its launcher activity) when it is not running.
    #[arg(long)]
    launch: bool,
    /// A static strace binary for the phone (arm64), pushed before the session.
    #[arg(long)]
    strace_binary: Option<PathBuf>,
    /// tcpdump's snapshot length.
    #[arg(long, default_value_t = 262_144)]
    snaplen: u32,
    /// BPF filter for tcpdump (default: `host` each of the phone's addresses).
    #[arg(long)]
    filter: Option<String>,
    /// Working folder on the phone (strace binary and logs).
    #[arg(long, default_value = "/data/local/tmp/flowmine")]
    phone_dir: String,
    /// The phone's Wi-Fi interface, to read its addresses.
    #[arg(long, default_value = "wlan0")]
    phone_iface: String,
    /// The `device` column (default: the phone's manufacturer and model).
    #[arg(long)]
    device: Option<String>,
    /// Clock round trips at the start and at the end; the tightest is kept.
    #[arg(long, default_value_t = 7)]
    clock_rounds: usize,
    /// Seconds a phone that disconnected gets to come back before the logs are pulled.
    #[arg(long, default_value_t = 30.0)]
    reconnect_wait: f64,
    /// Seconds between two sessions of a batch.
    #[arg(long, default_value_t = 10.0)]
    pause: f64,
    /// A note for the manifest (repeatable).
    #[arg(long)]
    note: Vec<String>,
}

fn seconds(what: &str, s: f64) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(s).map_err(|_| Error::Usage(format!("--{what} {s}: not a number of seconds")))
}

/// The sessions the arguments ask for; what does not fit (an unreadable --apps-file too)
/// is a usage error.
fn jobs(args: &CollectArgs) -> Result<Vec<CollectJob>, Error> {
    let mut apps = args.app.clone();
    if let Some(path) = &args.apps_file {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
        apps.extend(
            text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty()).map(str::to_owned),
        );
    }
    if apps.is_empty() {
        return Err(Error::Usage("no app to record".into()));
    }
    if args.session.is_some() && apps.len() > 1 {
        return Err(Error::Usage("--session names one session: give one app".into()));
    }
    let duration = args.duration.map(|d| seconds("duration", d)).transpose()?;
    let reconnect_wait = seconds("reconnect-wait", args.reconnect_wait)?;
    Ok(apps
        .into_iter()
        .map(|app| CollectJob {
            session: args.session.clone(),
            serial: args.serial.clone(),
            snaplen: args.snaplen,
            filter: args.filter.clone(),
            duration,
            launch: args.launch,
            strace_binary: args.strace_binary.clone(),
            phone_dir: args.phone_dir.clone(),
            phone_iface: args.phone_iface.clone(),
            device: args.device.clone(),
            clock_rounds: args.clock_rounds,
            reconnect_wait,
            notes: args.note.clone(),
            ..CollectJob::new(app, args.out.clone(), args.interface.clone())
        })
        .collect())
}

/// Records each app's session in turn; a failed one does not stop the others. Every
/// failure but the last is printed as it happens, the last is the run's error.
pub fn run(args: CollectArgs) -> Result<ExitCode, Error> {
    let jobs = jobs(&args)?;
    let pause = seconds("pause", args.pause)?;
    // Ctrl-C (or SIGTERM) ends the session cleanly instead of killing flowmine mid-way.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| Error::Check(format!("cannot catch signal {signal}: {e}")))?;
    }
    let tools = Tools::default();
    let mut failed: Option<Error> = None;
    for (i, job) in jobs.iter().enumerate() {
        if i > 0 {
            if stop.load(Ordering::Relaxed) {
                eprintln!("collect: stopped by Ctrl-C; {} app(s) not recorded", jobs.len() - i);
                break;
            }
            eprintln!("collect: pause of {:.0} s before {}", pause.as_secs_f64(), job.app);
            sleep_unless(pause, &stop);
        }
        eprintln!("collect: {}", job.app);
        match collect::run(job, &tools, &stop, &mut |line| eprintln!("collect: {line}")) {
            Ok(session) => print_session(&session),
            Err(e) => {
                if let Some(earlier) = failed.replace(Error::Session { app: job.app.clone(), source: Box::new(e) }) {
                    report_error(&earlier);
                }
            }
        }
    }
    failed.map_or(Ok(ExitCode::SUCCESS), Err)
}

fn print_session(s: &Session) {
    let m = &s.manifest;
    println!(
        "session: {} ({} packets, {} strace log(s), clock offset {:+.3} s)",
        s.dir.display(),
        m.collect.capture_packets,
        m.strace.len(),
        m.clock_offset
    );
    for note in &m.notes {
        println!("note:    {note}");
    }
    println!("next:    flowmine label {} --out {}", s.manifest_path.display(), s.dir.join("store").display());
}

fn sleep_unless(d: Duration, stop: &AtomicBool) {
    let end = std::time::Instant::now() + d;
    while std::time::Instant::now() < end && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
}
