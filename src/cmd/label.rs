//! `flowmine label`: a session (captures + strace logs of one app) → labelled flow store,
//! and optionally the app's packets as their own pcap.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use flowmine::label::socket_csv::write_socket_table;
use flowmine::label::{
    ClockOffset, LabelJob, LabelOutcome, LabelingType, Unmatched, seconds_to_ns, session, strace_clock,
};

use flowmine::Error;

use super::report_problems;

/// Problem lines printed one by one; the rest are only counted.
const PROBLEMS_SHOWN: usize = 20;

#[derive(clap::Args)]
pub struct LabelArgs {
    /// Session manifest (TOML, see formats/session.md); or describe the session with
    /// --capture, --strace and --app instead.
    #[arg(conflicts_with_all = ["capture", "strace", "app", "device", "session_name", "phone_ip", "strace_date", "strace_utc_offset"])]
    session: Option<PathBuf>,
    /// Capture files or directories of the session.
    #[arg(long, num_args = 1.., required_unless_present = "session")]
    capture: Vec<PathBuf>,
    /// strace logs of the app (all files of a `-ff` run).
    #[arg(long, num_args = 1.., required_unless_present = "session")]
    strace: Vec<PathBuf>,
    /// The app's label (its package name).
    #[arg(long, required_unless_present = "session")]
    app: Option<String>,
    /// Value of the `device` column.
    #[arg(long)]
    device: Option<String>,
    /// Value of the `session` column.
    #[arg(long = "session-name")]
    session_name: Option<String>,
    /// The phone's address(es); by default those seen as the app sockets' local addresses.
    #[arg(long = "phone-ip", num_args = 1..)]
    phone_ip: Vec<IpAddr>,
    /// capture clock − phone clock in seconds, or `estimate` (default 0, or the manifest's).
    #[arg(long, allow_hyphen_values = true)]
    clock_offset: Option<String>,
    /// Seconds a socket's lifetime is widened by on each side (default 2).
    #[arg(long)]
    tolerance: Option<f64>,
    /// Date (YYYY-MM-DD) on which a `strace -tt` log starts.
    #[arg(long)]
    strace_date: Option<String>,
    /// The phone's UTC offset for a `strace -tt` log, e.g. +02:00.
    #[arg(long, allow_hyphen_values = true)]
    strace_utc_offset: Option<String>,
    /// Unmatched flows in the store: `keep` (default), `phone` (only the phone's) or `drop`.
    #[arg(long)]
    unmatched: Option<String>,
    /// Also label the phone's DNS flows whose answers the app used (formats/session.md).
    #[arg(long)]
    dns: bool,
    /// Store directory to create.
    #[arg(long)]
    out: PathBuf,
    /// Also write the app's packets to this pcap file.
    #[arg(long)]
    filtered_pcap: Option<PathBuf>,
    /// Also write the app's socket table (CSV) to this file.
    #[arg(long)]
    sockets: Option<PathBuf>,
    /// Replace an existing store in --out.
    #[arg(long)]
    overwrite: bool,
    /// Print nothing but errors and warnings.
    #[arg(long, short)]
    quiet: bool,
}

/// The job the arguments describe; what does not fit (a session file too) is a usage
/// error.
fn job(args: &LabelArgs) -> Result<LabelJob, Error> {
    job_of(args).map_err(|e| Error::Usage(e.to_string()))
}

fn job_of(args: &LabelArgs) -> Result<LabelJob, Error> {
    let mut job = match &args.session {
        Some(path) => session::load(path)?,
        None => {
            let mut job =
                LabelJob::new(args.capture.clone(), args.strace.clone(), args.app.clone().unwrap_or_default());
            job.device = args.device.clone();
            job.session = args.session_name.clone();
            job.phone_addrs = args.phone_ip.clone();
            job.clock = strace_clock(args.strace_date.as_deref(), args.strace_utc_offset.as_deref())?;
            job
        }
    };
    if let Some(o) = &args.clock_offset {
        job.clock_offset = ClockOffset::parse(o)?;
    }
    if let Some(t) = args.tolerance {
        job.tolerance_ns = seconds_to_ns(t)?;
    }
    if args.dns {
        job.dns = true;
    }
    if let Some(u) = &args.unmatched {
        job.unmatched = Unmatched::parse(u)?;
    }
    Ok(job)
}

pub fn run(args: LabelArgs) -> Result<ExitCode, Error> {
    let job = job(&args)?;
    if let Some(path) = &args.sockets {
        flowmine::label::check_output_dir(path)?;
    }
    let outcome = job.to_store(&args.out, args.overwrite, args.filtered_pcap.as_deref())?;
    print_problems(&outcome);
    if let Some(path) = &args.sockets {
        write_sockets(path, &outcome).map_err(Error::io(path))?;
    }
    if !args.quiet {
        print_summary(&job, &outcome, &args);
    }
    // The same problems, lines and exit status as `flows`.
    Ok(report_problems(&outcome.labelled.scan.files))
}

fn write_sockets(path: &std::path::Path, outcome: &LabelOutcome) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    write_socket_table(&mut out, &outcome.labelled.sockets, &outcome.labelled.flows_per_socket())?;
    std::io::Write::flush(&mut out)
}

/// Every unusable strace line, by file and line number (the first ones in full).
fn print_problems(outcome: &LabelOutcome) {
    let problems = &outcome.labelled.problems;
    for p in problems.iter().take(PROBLEMS_SHOWN) {
        eprintln!("flowmine: warning: {}:{}: {} line ignored", p.path.display(), p.line, p.problem.name());
    }
    if problems.len() > PROBLEMS_SHOWN {
        eprintln!("flowmine: warning: {} more strace lines ignored", problems.len() - PROBLEMS_SHOWN);
    }
}

fn print_summary(job: &LabelJob, outcome: &LabelOutcome, args: &LabelArgs) {
    let l = &outcome.labelled;
    let log = &l.log;
    println!(
        "strace:  {} lines, {} understood, {} ignored; {} calls ({} never resumed), {} signal and {} exit lines",
        log.lines,
        log.lines_understood(),
        log.problems.len(),
        log.calls.len(),
        log.never_resumed,
        log.signals,
        log.exits
    );
    let s = &l.sockets;
    let unix: Vec<String> = s.unix_paths.keys().cloned().collect();
    println!(
        "sockets: {} TCP/UDP sockets of the app ({} without a local port, unmatchable); {} AF_UNIX calls ignored{}",
        s.sockets.len(),
        s.unresolved,
        s.unix_calls,
        if unix.is_empty() { String::new() } else { format!(" ({})", unix.join(", ")) }
    );
    if s.unknown_sockets > 0 {
        println!("         {} sockets of unknown family or protocol ignored", s.unknown_sockets);
    }
    match &l.estimate {
        Some(e) => println!(
            "clock:   offset {:+.6} s estimated (median of {} pairs, from {:+.6} to {:+.6} s)",
            e.offset_ns as f64 / 1e9,
            e.pairs,
            e.min_ns as f64 / 1e9,
            e.max_ns as f64 / 1e9
        ),
        None => println!("clock:   offset {:+.6} s as given", l.offset_ns as f64 / 1e9),
    }
    println!(
        "flows:   {} in the capture: {} exact ({}), {} dns, {} background, {} unlabelled; {} rows written",
        l.flows.len(),
        l.count(LabelingType::Exact),
        job.app,
        l.count(LabelingType::Dns),
        l.count(LabelingType::Background),
        l.count(LabelingType::Unlabelled),
        outcome.rows_written
    );
    if let (Some(f), Some(path)) = (&outcome.filtered, &args.filtered_pcap) {
        println!("pcap:    {} of {} packets written to {}", f.packets_written, f.packets_read, path.display());
    }
    println!("store:   {}", outcome.manifest_path.parent().unwrap_or(&outcome.manifest_path).display());
}
