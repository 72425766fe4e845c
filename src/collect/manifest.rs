//! The session manifest `collect` writes: the keys `flowmine label` reads
//! (formats/session.md) and a `[collect]` table recording how the session was run.

use std::path::Path;

use serde::Serialize;

use super::clock::ClockOffset;
use crate::Error;

/// The manifest's file name in a session folder.
pub const MANIFEST_FILE: &str = "session.toml";

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub app: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    pub device: String,
    pub session: String,
    pub phone_ip: Vec<String>,
    pub capture: Vec<String>,
    pub strace: Vec<String>,
    /// capture clock − phone clock, seconds: the mean of the start and end measurements.
    pub clock_offset: f64,
    pub notes: Vec<String>,
    pub collect: Record,
}

/// How the session was recorded; `flowmine label` does not read it.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// UTC, RFC 3339.
    pub started: String,
    pub ended: String,
    pub duration_s: f64,
    pub phone_serial: String,
    pub phone_manufacturer: String,
    pub phone_model: String,
    pub android_version: String,
    pub ap_interface: String,
    pub snaplen: u32,
    pub bpf_filter: String,
    pub capture_packets: u64,
    /// tcpdump's closing lines (packets captured, received, dropped by the kernel).
    pub tcpdump_said: Vec<String>,
    pub strace_version: String,
    pub strace_options: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_start: Option<ClockOffset>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_end: Option<ClockOffset>,
    pub processes: Vec<Process>,
}

/// One process of the app that strace was attached to.
#[derive(Debug, Clone, Serialize)]
pub struct Process {
    pub pid: u32,
    pub name: String,
    /// AP clock, seconds since the epoch.
    pub first_seen: f64,
    /// When it was last seen alive (its end lies between this and the next poll).
    pub last_seen: f64,
    /// Its strace log in the session folder.
    pub strace: String,
}

impl Manifest {
    pub fn write(&self, dir: &Path) -> Result<std::path::PathBuf, Error> {
        let path = dir.join(MANIFEST_FILE);
        let text = toml::to_string(self).map_err(|e| Error::Manifest(e.to_string()))?;
        let header = "# Written by `flowmine collect`; `flowmine label` reads it as it is (formats/session.md).\n";
        std::fs::write(&path, format!("{header}{text}")).map_err(|source| Error::Io { path: path.clone(), source })?;
        Ok(path)
    }
}
