//! A labelled store from one Android session: the captures are scanned into flows, the
//! strace logs into the app's socket table, flows matching a socket get the app's label,
//! and the store rows carry `labeling_type`, `device` and `session` columns
//! (`formats/session.md`). Optionally the app's packets are written to their own pcap.

pub mod session;
pub mod socket_csv;

use std::fs::File;
use std::io::BufWriter;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use flowmine_core::capture::input::InputSet;
use flowmine_core::flow::FlowBatch;
use flowmine_core::label::clock::{OffsetEstimate, estimate_offset};
use flowmine_core::label::dns::{DNS_PORT, dns_answers, match_dns};
use flowmine_core::label::filter::{FilterReport, write_kept_packets};
use flowmine_core::label::matcher::{flow_addr, phone_addrs};
use flowmine_core::label::strace::{Problem, parse_date, parse_utc_offset, pid_from_file_name};
use flowmine_core::label::{Clock, MatchConfig, SocketTable, StraceLog, match_flows};
use flowmine_core::scan::{ScanOptions, ScanReport, scan_to_batch};
use polars::prelude::*;

use crate::store::PART_ROWS;
use crate::store::StoreWriter;
use crate::store::manifest::Manifest;
use crate::store::rows::{RowContext, batch_to_rows};
use crate::store::schema;
use crate::{Error, FlowsJob, Result};

/// Default widening of a socket's lifetime on each side: syscall and packet are never
/// simultaneous, and a close is followed by the FIN exchange.
pub const DEFAULT_TOLERANCE_NS: i64 = 2_000_000_000;
/// capture clock = phone clock + offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockOffset {
    Fixed(i64),
    Estimate,
}

impl ClockOffset {
    pub fn parse(text: &str) -> Result<ClockOffset> {
        if text == "estimate" {
            return Ok(ClockOffset::Estimate);
        }
        let secs: f64 =
            text.parse().map_err(|_| Error::Config(format!("clock offset `{text}`: seconds or `estimate`")))?;
        if !secs.is_finite() {
            return Err(Error::Config(format!("clock offset `{text}` is not finite")));
        }
        Ok(ClockOffset::Fixed((secs * 1e9).round() as i64))
    }
}

/// Which unmatched flows a labelled store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmatched {
    /// Every flow: `background` and `unlabelled` rows too.
    Keep,
    /// The app's flows and the phone's other (`background`) flows.
    Phone,
    /// The app's flows only.
    Drop,
}

impl Unmatched {
    pub fn parse(text: &str) -> Result<Unmatched> {
        match text {
            "keep" => Ok(Unmatched::Keep),
            "phone" => Ok(Unmatched::Phone),
            "drop" => Ok(Unmatched::Drop),
            _ => Err(Error::Config(format!("unmatched `{text}`: expected `keep`, `phone` or `drop`"))),
        }
    }
}

/// How a row got (or did not get) its label: the `labeling_type` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelingType {
    /// Matched an app socket.
    Exact,
    /// A DNS flow whose answer the app used (only with the DNS rule on).
    Dns,
    /// The phone's flow, but no socket of the app matched: another process's.
    Background,
    /// Not the phone's at all.
    Unlabelled,
}

impl LabelingType {
    /// Whether the row carries the app's label.
    pub fn is_app(self) -> bool {
        matches!(self, LabelingType::Exact | LabelingType::Dns)
    }

    pub fn name(self) -> &'static str {
        match self {
            LabelingType::Exact => "exact",
            LabelingType::Dns => "dns",
            LabelingType::Background => "background",
            LabelingType::Unlabelled => "unlabelled",
        }
    }
}

pub fn seconds_to_ns(secs: f64) -> Result<i64> {
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(Error::Config(format!("`{secs}`: seconds must be zero or positive")));
    }
    Ok((secs * 1e9).round() as i64)
}

/// The strace clock from the optional date and UTC offset of a `-tt` log.
pub fn strace_clock(date: Option<&str>, utc_offset: Option<&str>) -> Result<Clock> {
    let Some(date) = date else {
        return match utc_offset {
            None => Ok(Clock::Epoch),
            Some(_) => Err(Error::Config("a strace UTC offset needs a strace date too".into())),
        };
    };
    let date_days =
        parse_date(date).ok_or_else(|| Error::Config(format!("strace date `{date}`: expected YYYY-MM-DD")))?;
    let utc_offset_s = match utc_offset {
        None => 0,
        Some(o) => parse_utc_offset(o)
            .ok_or_else(|| Error::Config(format!("strace UTC offset `{o}`: expected e.g. +02:00")))?,
    };
    Ok(Clock::TimeOfDay { date_days, utc_offset_s })
}

/// One session to label.
#[derive(Debug, Clone)]
pub struct LabelJob {
    pub captures: Vec<PathBuf>,
    pub straces: Vec<PathBuf>,
    pub app: String,
    pub device: Option<String>,
    pub session: Option<String>,
    pub phone_addrs: Vec<IpAddr>,
    pub clock_offset: ClockOffset,
    pub clock: Clock,
    pub tolerance_ns: i64,
    pub unmatched: Unmatched,
    /// Label the phone's DNS flows whose answers the app used (off by default: the system
    /// resolver made them, and its cache serves every app).
    pub dns: bool,
    pub options: ScanOptions,
}

/// A strace line that was not used, by file path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StraceProblem {
    pub path: PathBuf,
    pub line: usize,
    pub problem: Problem,
}

/// The session's flows with their labels, before anything is written.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub inputs: InputSet,
    pub flows: FlowBatch,
    pub scan: ScanReport,
    pub log: StraceLog,
    pub problems: Vec<StraceProblem>,
    pub sockets: SocketTable,
    /// The offset used, and the estimate when one was asked for.
    pub offset_ns: i64,
    pub estimate: Option<OffsetEstimate>,
    /// Per flow row: the index in `sockets.sockets` it matched.
    pub socket_of: Vec<Option<usize>>,
    /// Per flow row; `is_app()` rows carry the app's label.
    pub labeling: Vec<LabelingType>,
}

impl Labelled {
    pub fn count(&self, t: LabelingType) -> usize {
        self.labeling.iter().filter(|&&l| l == t).count()
    }

    /// Per socket of the table, the number of flows it matched.
    pub fn flows_per_socket(&self) -> Vec<usize> {
        let mut counts = vec![0; self.sockets.sockets.len()];
        for s in self.socket_of.iter().flatten() {
            counts[*s] += 1;
        }
        counts
    }
}

/// What a finished labelled store holds.
#[derive(Debug, Clone)]
pub struct LabelOutcome {
    pub labelled: Labelled,
    pub rows_written: usize,
    pub manifest_path: PathBuf,
    pub filtered: Option<FilterReport>,
}

impl LabelJob {
    pub fn new(captures: Vec<PathBuf>, straces: Vec<PathBuf>, app: String) -> LabelJob {
        LabelJob {
            captures,
            straces,
            app,
            device: None,
            session: None,
            phone_addrs: Vec::new(),
            clock_offset: ClockOffset::Fixed(0),
            clock: Clock::Epoch,
            tolerance_ns: DEFAULT_TOLERANCE_NS,
            unmatched: Unmatched::Keep,
            dns: false,
            options: ScanOptions::default(),
        }
    }

    /// Reads the strace logs; an error only when not one line of them parses.
    pub fn read_straces(&self) -> Result<(StraceLog, Vec<StraceProblem>), Error> {
        let mut texts = Vec::with_capacity(self.straces.len());
        for path in &self.straces {
            let bytes = std::fs::read(path).map_err(Error::io(path))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            texts.push((String::from_utf8_lossy(&bytes).into_owned(), pid_from_file_name(&name)));
        }
        let files: Vec<(&str, Option<u32>)> = texts.iter().map(|(text, pid)| (text.as_str(), *pid)).collect();
        let mut log = StraceLog::default();
        log.add_files(&files, self.clock);
        let problems: Vec<StraceProblem> = log
            .problems
            .iter()
            .map(|p| StraceProblem { path: self.straces[p.file].clone(), line: p.line, problem: p.problem })
            .collect();
        if log.lines_understood() == 0 {
            let first = problems.first().map_or("the logs are empty".to_owned(), |p| {
                format!("{}:{}: {}", p.path.display(), p.line, p.problem.name())
            });
            return Err(Error::NothingParsed { lines: log.lines, first });
        }
        Ok((log, problems))
    }

    /// Scans, parses, matches.
    pub fn label(&self) -> Result<Labelled, Error> {
        let (log, problems) = self.read_straces()?;
        let sockets = SocketTable::from_calls(&log.calls);
        let inputs = flowmine_core::collect_inputs(&self.captures)?;
        let (flows, scan) = scan_to_batch(&inputs, &self.options)?;
        let mut config =
            MatchConfig { offset_ns: 0, tolerance_ns: self.tolerance_ns, phone_addrs: self.phone_addrs.clone() };
        let estimate = match self.clock_offset {
            ClockOffset::Fixed(ns) => {
                config.offset_ns = ns;
                None
            }
            ClockOffset::Estimate => {
                let e = estimate_offset(&flows, &sockets, &config).ok_or(Error::NoOffsetPairs)?;
                config.offset_ns = e.offset_ns;
                Some(e)
            }
        };
        let socket_of = match_flows(&flows, &sockets, &config);
        let phones = phone_addrs(&config, &sockets);
        let mut labeling: Vec<LabelingType> = (0..flows.len())
            .map(|row| {
                let v = flows.ip_version[row];
                let touches_phone = phones.contains(&flow_addr(v, &flows.src_addr[row]))
                    || phones.contains(&flow_addr(v, &flows.dst_addr[row]));
                match (socket_of[row], touches_phone) {
                    (Some(_), _) => LabelingType::Exact,
                    (None, true) => LabelingType::Background,
                    (None, false) => LabelingType::Unlabelled,
                }
            })
            .collect();
        if self.dns {
            let is_dns = |row: usize| {
                flows.protocol[row] == flowmine_core::wire::protocol::PROTOCOL_UDP
                    && (flows.src_port[row] == DNS_PORT || flows.dst_port[row] == DNS_PORT)
            };
            let candidates: Vec<bool> =
                (0..flows.len()).map(|row| labeling[row] == LabelingType::Background && is_dns(row)).collect();
            let answers = dns_answers(&inputs, &flows, &candidates)?;
            for (row, socket) in match_dns(&answers, &sockets, &config).into_iter().enumerate() {
                if socket.is_some() {
                    labeling[row] = LabelingType::Dns;
                }
            }
        }
        Ok(Labelled {
            inputs,
            flows,
            scan,
            log,
            problems,
            sockets,
            offset_ns: config.offset_ns,
            estimate,
            socket_of,
            labeling,
        })
    }

    fn keeps(&self, t: LabelingType) -> bool {
        match self.unmatched {
            Unmatched::Keep => true,
            Unmatched::Phone => t != LabelingType::Unlabelled,
            Unmatched::Drop => t.is_app(),
        }
    }

    /// The labelled rows the store gets, in the store's row schema plus `labeling_type`,
    /// `device` and `session`.
    pub fn frame(&self, labelled: &Labelled) -> Result<DataFrame, Error> {
        let ctx =
            RowContext { label: None, input_paths: labelled.inputs.files.iter().map(|f| f.path.clone()).collect() };
        let mut df = batch_to_rows(labelled.flows.clone(), &ctx)?;
        let n = labelled.flows.len();
        let label: Vec<Option<&str>> =
            labelled.labeling.iter().map(|l| l.is_app().then_some(self.app.as_str())).collect();
        let labeling: Vec<&str> = labelled.labeling.iter().map(|l| l.name()).collect();
        df.with_column(Column::new(schema::LABEL.into(), label))?;
        df.with_column(Column::new(schema::LABELING_TYPE.into(), labeling))?;
        df.with_column(Column::new(schema::DEVICE.into(), vec![self.device.as_deref(); n]))?;
        df.with_column(Column::new(schema::SESSION.into(), vec![self.session.as_deref(); n]))?;
        let keep: BooleanChunked = labelled.labeling.iter().map(|&l| self.keeps(l)).collect();
        Ok(df.filter(&keep)?)
    }

    /// Labels the session into a store at `out`, and writes the app's packets to
    /// `filtered_pcap` if given.
    pub fn to_store(&self, out: &Path, overwrite: bool, filtered_pcap: Option<&Path>) -> Result<LabelOutcome, Error> {
        // Outputs are checked before the work, and the manifest is written last: a run
        // that fails leaves no store that looks complete.
        if let Some(path) = filtered_pcap {
            check_output_dir(path)?;
        }
        let labelled = self.label()?;
        let mut writer = StoreWriter::create(out, overwrite)?;
        let pcap = match filtered_pcap {
            Some(path) => Some(File::create(path).map_err(Error::io(path))?),
            None => None,
        };
        let df = self.frame(&labelled)?;
        let rows_written = df.height();
        let mut offset = 0;
        loop {
            let mut part = df.slice(offset as i64, PART_ROWS);
            writer.write_part(&mut part)?;
            offset += PART_ROWS;
            if offset >= rows_written {
                break;
            }
        }
        let filtered = match (pcap, filtered_pcap) {
            (Some(file), Some(path)) => {
                let keep: Vec<bool> = labelled.labeling.iter().map(|l| l.is_app()).collect();
                let kept = write_kept_packets(&labelled.inputs, &labelled.flows, &keep, BufWriter::new(file));
                // A failed write names the pcap's file, as other output errors do.
                Some(kept.map_err(|e| match e {
                    flowmine_core::Error::Write { source, .. } => Error::io(path)(source),
                    e => e.into(),
                })?)
            }
            _ => None,
        };
        let mut flows_job = FlowsJob::new(self.captures.clone(), self.options.clone());
        flows_job.label = Some(self.app.clone());
        let manifest = Manifest::new(flows_job.parameters(), &labelled.scan, writer.parts().to_vec());
        let manifest_path = writer.finish(&manifest)?;
        Ok(LabelOutcome { labelled, rows_written, manifest_path, filtered })
    }
}

/// An output file can be created only in a directory that exists.
pub fn check_output_dir(path: &Path) -> Result<(), Error> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) if !dir.is_dir() => Err(Error::Io {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "its directory does not exist"),
        }),
        _ => Ok(()),
    }
}
