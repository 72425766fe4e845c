//! `flowmine flows`: captures → flow store.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use flowmine::core::flow::config::SECOND;
use flowmine::core::{FlowConfig, PacketLimit, Progress, ScanOptions};
use flowmine::{Error, FlowsJob, Resumption, StoreOutcome};
use indicatif::{ProgressBar, ProgressStyle};

use super::report_problems;

#[derive(clap::Args)]
pub struct FlowsArgs {
    /// pcap/pcapng files, or directories searched recursively (files recognised by magic).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Store directory to create.
    #[arg(long)]
    out: PathBuf,
    /// Threads at work (0 = one per core): decoding, the flow table's shards and encoding
    /// the store share one pool of this many; with 1 everything runs on one thread. The
    /// flows written are the same for any value.
    #[arg(long, default_value_t = 0, value_parser = super::parse_threads)]
    threads: usize,
    /// End a flow after this many seconds without a packet, or `off`.
    #[arg(long, default_value = "120", value_parser = parse_timeout)]
    idle_timeout: Timeout,
    /// End a flow once it has lasted this many seconds, or `off`.
    #[arg(long, default_value = "1800", value_parser = parse_timeout)]
    active_timeout: Timeout,
    /// End TCP flows on FIN from both sides or RST: `on` or `off`.
    // A `bool` field takes a flag action unless told to take a value.
    #[arg(long, default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    tcp_close: bool,
    /// Seconds after a TCP close during which non-SYN packets still join the closed flow.
    #[arg(long, default_value_t = 1.0, value_parser = super::parse_non_negative_seconds)]
    tcp_close_linger: f64,
    /// Per-packet arrays to keep per flow: `all`, `none`, or the first N packets.
    #[arg(long, default_value = "all", value_parser = parse_packets)]
    packets: PacketLimit,
    /// Most flows open at once: past it the least recently seen flows end early (reason
    /// `evicted`, counted in the manifest), so a flood of new keys cannot exhaust memory.
    /// Split evenly over the table's 64 shards, so rounded up to a multiple of 64 (the
    /// manifest records the cap enforced). Default: no cap.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_flows: Option<u64>,
    /// Value of the `label` column for every flow of this run.
    #[arg(long)]
    label: Option<String>,
    /// Replace an existing store in --out.
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    /// Finish the store of an interrupted run in --out from its last checkpoint, with the
    /// same inputs and flow parameters: the store then holds exactly the flows of an
    /// uninterrupted run. A complete store is left alone.
    #[arg(long)]
    resume: bool,
    /// Take a checkpoint (for --resume) at the first input-file boundary after this much
    /// input since the last one (or eight times the last checkpoint's size, if more):
    /// bytes, or with a K, M, G or T suffix (powers of 1024).
    #[arg(long, default_value = "4G", value_parser = parse_size)]
    checkpoint_every: u64,
    /// Make any damaged input or unsupported link type fatal: stop at the first such file,
    /// exit 1, and leave the store without a manifest.
    #[arg(long)]
    strict: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
    /// Run shard K of N (1-based) of the inputs, cut into N runs of consecutive files, into
    /// a partial store in --out; `flowmine merge` joins the N partial stores into the
    /// store of one run over all inputs.
    #[arg(long, value_parser = parse_shard, conflicts_with_all = ["resume", "max_flows"])]
    shard: Option<(usize, usize)>,
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let expected = || format!("`{s}`: expected K/N with 1 <= K <= N, such as 2/8");
    let (k, n) = s.split_once('/').ok_or_else(expected)?;
    let (k, n): (usize, usize) = (k.parse().map_err(|_| expected())?, n.parse().map_err(|_| expected())?);
    if k == 0 || k > n {
        return Err(expected());
    }
    Ok((k, n))
}

#[derive(Clone, Copy)]
struct Timeout(Option<u64>);

/// Longest timeout: flow times are i64 nanoseconds (292 years); a longer one could not be
/// kept exactly (1e300 was stored as 18446744073.7 s). Use `off` for none.
const MAX_TIMEOUT_SECS: f64 = (i64::MAX / SECOND as i64) as f64;

fn parse_seconds(s: &str) -> Result<u64, String> {
    let secs: f64 = s.parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("`{s}`: seconds must be positive"));
    }
    if secs > MAX_TIMEOUT_SECS {
        return Err(format!("`{s}`: at most {MAX_TIMEOUT_SECS} seconds; `off` for no timeout"));
    }
    Ok((secs * SECOND as f64).round() as u64)
}

fn parse_timeout(s: &str) -> Result<Timeout, String> {
    if s == "off" { Ok(Timeout(None)) } else { parse_seconds(s).map(|t| Timeout(Some(t))) }
}

fn parse_on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("`{s}`: expected `on` or `off`")),
    }
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, shift) = match s.strip_suffix(['K', 'M', 'G', 'T']) {
        Some(d) => (d, 10 * (1 + "KMGT".find(s.chars().last().expect("a suffix")).expect("a suffix"))),
        None => (s, 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("`{s}`: expected a size such as 500M or 1G"))?;
    n.checked_mul(1 << shift).filter(|&n| n > 0).ok_or_else(|| format!("`{s}`: size out of range"))
}

fn parse_packets(s: &str) -> Result<PacketLimit, String> {
    match s {
        "all" => Ok(PacketLimit::All),
        "none" => Ok(PacketLimit::First(0)),
        n => n.parse().map(PacketLimit::First).map_err(|_| format!("`{s}`: expected `all`, `none` or a count")),
    }
}

/// The environment variable that sets the bytes of a piece of a file read on several
/// threads: the flows are the same for any value, so it is no option, but tests force
/// small captures into many pieces with it (formats/pcapng.md, "Reading in pieces").
const PIECE_BYTES_VAR: &str = "FLOWMINE_PIECE_BYTES";

fn piece_bytes() -> Result<usize, Error> {
    match std::env::var(PIECE_BYTES_VAR) {
        Err(std::env::VarError::NotPresent) => Ok(flowmine::core::pieces::PIECE_BYTES),
        Ok(v) => v
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| Error::Usage(format!("{PIECE_BYTES_VAR}={v:?}: not a positive number of bytes"))),
        Err(e) => Err(Error::Usage(format!("{PIECE_BYTES_VAR}: {e}"))),
    }
}

pub fn run(args: FlowsArgs) -> Result<ExitCode, Error> {
    if args.threads > 0 {
        // Polars sizes its pool from this variable when the pool is first used, after this.
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("POLARS_MAX_THREADS", args.threads.to_string()) };
    }
    let flow = FlowConfig {
        idle_timeout_ns: args.idle_timeout.0,
        active_timeout_ns: args.active_timeout.0,
        tcp_close: args.tcp_close,
        tcp_close_linger_ns: (args.tcp_close_linger * SECOND as f64).round() as u64,
        packets: args.packets,
        max_flows: args.max_flows.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        ..FlowConfig::default()
    };
    if let Some(asked) = args.max_flows
        && !args.quiet
    {
        let enforced = flowmine::core::flow::sharded::enforced_max_flows(usize::try_from(asked).unwrap_or(usize::MAX));
        if enforced as u64 != asked {
            println!("--max-flows {asked}: the cap is held per shard of the flow table, {enforced} open flows in all");
        }
    }
    let mut job = FlowsJob::new(
        args.inputs,
        ScanOptions {
            flow,
            threads: args.threads,
            strict: args.strict,
            checkpoint_bytes: Some(args.checkpoint_every),
            piece_bytes: piece_bytes()?,
            ..ScanOptions::default()
        },
    );
    job.label = args.label;

    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}")
                .expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let started = Instant::now();
    let resumed_packets = std::cell::OnceCell::new();
    let show = |p: Progress| {
        if let Some(bar) = &bar {
            bar.set_length(p.bytes_total);
            bar.set_position(p.bytes_done);
            // A resumed run starts with the packets of the files read before: not this run's.
            let base = *resumed_packets.get_or_init(|| p.packets);
            let rate = (p.packets - base) as f64 / started.elapsed().as_secs_f64().max(1e-3) / 1e6;
            bar.set_message(format!("{} packets ({rate:.2} M/s), {} flows", p.packets, p.flows));
        }
    };
    if let Some((k, n)) = args.shard {
        let result = job.to_shard(&args.out, k, n, args.overwrite, show);
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let shard = result?;
        if !args.quiet {
            println!(
                "shard {k} of {n}: input files {}..{} of {}, partial store {}",
                shard.first + 1,
                shard.end,
                shard.inputs.len(),
                args.out.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let result = if args.resume {
        job.resume_store(&args.out, show)
    } else {
        job.to_store(&args.out, args.overwrite, show)
            .map(|outcome| Resumption::Finished { outcome: Box::new(outcome), inputs_done: 0 })
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result? {
        Resumption::AlreadyComplete(_) => {
            if !args.quiet {
                println!("{}: the store is complete already; nothing to resume", args.out.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Resumption::Finished { outcome, inputs_done } => {
            if inputs_done > 0 && !args.quiet {
                println!("resumed after {inputs_done} input file(s) read by the interrupted run");
            }
            let status = report_problems(&outcome.report.files);
            if !args.quiet {
                print_summary(&outcome, started.elapsed());
            }
            Ok(status)
        }
    }
}

fn print_summary(outcome: &StoreOutcome, elapsed: Duration) {
    let r = &outcome.report;
    let bytes: u64 = r.files.iter().map(|f| f.bytes).sum();
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!(
        "read {} capture file{} ({:.1} MiB) in {:.2} s: {:.2} million packets/s",
        r.files.len(),
        if r.files.len() == 1 { "" } else { "s" },
        bytes as f64 / (1 << 20) as f64,
        secs,
        r.packets_total as f64 / secs / 1e6,
    );
    let skipped: Vec<String> = r.skipped.iter().map(|(reason, n)| format!("{} {n}", reason.name())).collect();
    println!(
        "packets: {} total = {} in flows + {} skipped{}",
        r.packets_total,
        r.packets_in_flows,
        r.skipped.total(),
        if skipped.is_empty() { String::new() } else { format!(" ({})", skipped.join(", ")) }
    );
    println!("flows:   {} bi-directional flows", r.flows);
    if r.flows_evicted > 0 {
        println!("evicted: {} flows ended early to stay under --max-flows (end_reason `evicted`)", r.flows_evicted);
    }
    if r.fragments.joined + r.fragments.unmatched > 0 {
        println!(
            "fragments: {} joined their first fragment's flow, {} without a first fragment (keyed with ports 0)",
            r.fragments.joined, r.fragments.unmatched
        );
    }
    if !r.ignored.is_empty() {
        println!(
            "ignored: {} file(s) in the input directories that are not captures (named in the manifest's ignored_inputs)",
            r.ignored.len()
        );
    }
    if !r.in_progress.is_empty() {
        println!("not read: {} file(s) still being written (*.tmp); a later run reads them", r.in_progress.len());
    }
    let damaged = r.damaged_files().count();
    if damaged > 0 {
        println!(
            "damaged: {damaged} file(s) with stretches that could not be read (see the lines above and the manifest)"
        );
    }
    let dir = outcome.manifest_path.parent().unwrap_or(&outcome.manifest_path);
    println!(
        "store:   {} ({} Parquet part file{}, manifest.json)",
        dir.display(),
        outcome.manifest.parts.len(),
        if outcome.manifest.parts.len() == 1 { "" } else { "s" }
    );
}
