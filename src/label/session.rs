//! The session manifest (TOML, `formats/session.md`): which captures and strace logs make
//! one labelled recording, of which app on which phone, and how the clocks relate.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ClockOffset, LabelJob, Unmatched};
use crate::Error;

/// The manifest as written; paths are relative to the manifest's directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionFile {
    pub app: String,
    pub device: Option<String>,
    /// The `session` column; the manifest's file stem when absent.
    pub session: Option<String>,
    #[serde(default)]
    pub phone_ip: Vec<IpAddr>,
    pub capture: Vec<PathBuf>,
    pub strace: Vec<PathBuf>,
    /// Seconds (capture clock = phone clock + offset), or `"estimate"`.
    pub clock_offset: Option<OffsetValue>,
    /// Seconds a socket's lifetime is widened by on each side.
    pub tolerance: Option<f64>,
    /// `YYYY-MM-DD` on which a `-tt` (time of day) log starts.
    pub strace_date: Option<String>,
    /// The phone's UTC offset for `-tt` logs: `+02:00`, `-0530`, `UTC`.
    pub strace_utc_offset: Option<String>,
    /// `keep`, `phone` or `drop`.
    pub unmatched: Option<String>,
    /// The DNS rule (default false).
    pub dns: Option<bool>,
    /// `versionName (versionCode)` of the recorded app; not read by the labelling.
    pub app_version: Option<String>,
    /// Free notes about the session; not read by the labelling.
    #[serde(default)]
    pub notes: Vec<String>,
    /// How `flowmine collect` recorded the session (formats/session.md); not read by the
    /// labelling.
    pub collect: Option<toml::Table>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OffsetValue {
    Seconds(f64),
    Word(String),
}

impl SessionFile {
    pub fn read(path: &Path) -> Result<SessionFile, Error> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        toml::from_str(&text).map_err(|e| Error::input(path, format!("not a session file: {e}")))
    }

    /// The job the manifest describes, its relative paths resolved against `base`.
    pub fn to_job(&self, base: &Path, stem: &str) -> Result<LabelJob, Error> {
        let resolve = |p: &PathBuf| if p.is_absolute() { p.clone() } else { base.join(p) };
        let mut job = LabelJob::new(
            self.capture.iter().map(resolve).collect(),
            self.strace.iter().map(resolve).collect(),
            self.app.clone(),
        );
        job.device = self.device.clone();
        job.session = Some(self.session.clone().unwrap_or_else(|| stem.to_owned()));
        job.phone_addrs = self.phone_ip.clone();
        if let Some(offset) = &self.clock_offset {
            job.clock_offset = match offset {
                OffsetValue::Seconds(s) => ClockOffset::parse(&s.to_string()),
                OffsetValue::Word(w) => ClockOffset::parse(w),
            }?;
        }
        if let Some(t) = self.tolerance {
            job.tolerance_ns = super::seconds_to_ns(t)?;
        }
        job.clock = super::strace_clock(self.strace_date.as_deref(), self.strace_utc_offset.as_deref())?;
        job.dns = self.dns.unwrap_or(false);
        if let Some(u) = &self.unmatched {
            job.unmatched = Unmatched::parse(u)?;
        }
        Ok(job)
    }
}

/// Reads a manifest file and builds its job.
pub fn load(path: &Path) -> Result<LabelJob, Error> {
    let file = SessionFile::read(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    // The job's settings are the file's: its errors name it.
    file.to_job(base, &stem).map_err(|e| Error::input(path, e))
}
