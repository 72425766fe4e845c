//! The phone, through adb: the checks before a session, the app's processes, strace on
//! them, the phone's clock, and pulling the logs.

use std::net::IpAddr;
use std::path::Path;
use std::time::SystemTime;

use super::tools::{AdbFailure, Tools, first_line, sh_quote};
use crate::Error;

/// The syscalls the labelling reads (formats/strace.md): `-f` follows threads and
/// children, `-ttt` gives epoch times, `-yy` decorates descriptors with socket endpoints.
pub const STRACE_OPTIONS: &str = "-f -ttt -yy -e trace=%network,%desc";

/// One phone seen by adb.
pub struct Phone<'t> {
    tools: &'t Tools,
    pub serial: String,
}

/// What `getprop` tells about the phone.
#[derive(Debug, Clone, Default)]
pub struct Props {
    pub manufacturer: String,
    pub model: String,
    pub android: String,
}

impl Props {
    /// "manufacturer model", the default `device` column.
    pub fn device_name(&self) -> String {
        format!("{} {}", self.manufacturer, self.model).trim().to_owned()
    }
}

/// One clock reading: the AP's clock before and after the phone's answer, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct ClockSample {
    pub ap_before: f64,
    pub phone: f64,
    pub ap_after: f64,
}

impl<'t> Phone<'t> {
    /// The phone `serial`, or the only one adb sees; it must be online and authorised.
    pub fn connect(tools: &'t Tools, serial: Option<&str>) -> Result<Phone<'t>, Error> {
        let devices = tools.adb_devices()?;
        let (serial, state) = match serial {
            Some(s) => devices.into_iter().find(|(d, _)| d == s).ok_or_else(|| {
                Error::Check(format!("adb does not see phone {s}: plug it in and enable USB debugging"))
            })?,
            None => match devices.len() {
                0 => {
                    return Err(Error::Check(
                        "adb sees no phone: plug it in, enable USB debugging and accept the prompt".into(),
                    ));
                }
                1 => devices.into_iter().next().expect("one device"),
                n => {
                    let all: Vec<&str> = devices.iter().map(|(s, _)| s.as_str()).collect();
                    let what = format!("adb sees {n} phones ({}): one must be chosen by its serial", all.join(", "));
                    return Err(Error::Needs { what, setting: "serial" });
                }
            },
        };
        match state.as_str() {
            "device" => Ok(Phone { tools, serial }),
            "unauthorized" => Err(Error::Check(format!(
                "phone {serial} is unauthorized: accept the USB debugging prompt on the phone"
            ))),
            other => Err(Error::Check(format!("phone {serial} is {other}, not ready: reconnect it"))),
        }
    }

    fn check(&self, result: Result<String, AdbFailure>, what: impl FnOnce(String) -> String) -> Result<String, Error> {
        result.map_err(|e| self.failure(e, what))
    }

    /// The error of a failed adb call; `what` words a refusal.
    fn failure(&self, e: AdbFailure, what: impl FnOnce(String) -> String) -> Error {
        match e {
            AdbFailure::Spawn(e) => e,
            AdbFailure::Disconnected(said) => Error::Check(format!("phone {}: {said}", self.serial)),
            AdbFailure::Failed(said) => Error::Check(what(said)),
        }
    }

    pub fn shell(&self, cmd: &str) -> Result<String, AdbFailure> {
        self.tools.shell(&self.serial, cmd)
    }

    pub fn su(&self, cmd: &str) -> Result<String, AdbFailure> {
        self.tools.su(&self.serial, cmd)
    }

    /// `su` must give uid 0.
    pub fn check_root(&self) -> Result<(), Error> {
        let not_rooted = |said: String| {
            format!(
                "phone {} is not rooted: `su -c id` said \"{said}\"; root it (e.g. Magisk) and grant root to the shell",
                self.serial
            )
        };
        let id = self.check(self.su("id"), not_rooted)?;
        if id.contains("uid=0") { Ok(()) } else { Err(Error::Check(not_rooted(id.trim().to_owned()))) }
    }

    /// The strace to run: `binary` pushed into `phone_dir` when given, else the phone's
    /// own (on its PATH or left in `phone_dir` by an earlier push). Returns (path, version).
    pub fn find_strace(&self, phone_dir: &str, binary: Option<&Path>) -> Result<(String, String), Error> {
        let pushed = format!("{phone_dir}/strace");
        if let Some(binary) = binary {
            self.check(self.su(&format!("mkdir -p {}", sh_quote(phone_dir))), |said| {
                format!("cannot create {phone_dir} on phone {}: {said}", self.serial)
            })?;
            let local = binary.to_string_lossy();
            self.check(self.tools.adb(&self.serial, &["push", &local, &pushed]), |said| {
                format!("cannot push {local} to phone {}: {said}", self.serial)
            })?;
            self.check(self.su(&format!("chmod 755 {}", sh_quote(&pushed))), |said| {
                format!("cannot make {pushed} executable on phone {}: {said}", self.serial)
            })?;
        }
        let find = format!("command -v strace || {{ test -x {p} && echo {p}; }}", p = sh_quote(&pushed));
        let path = self.su(&find).ok().and_then(|out| first_line(&out)).ok_or_else(|| Error::Needs {
            what: format!("strace is not on phone {}: a static arm64 strace is needed", self.serial),
            setting: "strace_binary",
        })?;
        let version = self.su(&format!("{} -V", sh_quote(&path))).map_err(|e| match e {
            AdbFailure::Failed(said) => Error::Needs {
                what: format!(
                    "strace on phone {} ({path}) does not run: {said}; a static arm64 build is needed",
                    self.serial
                ),
                setting: "strace_binary",
            },
            e => self.failure(e, |said| said),
        })?;
        Ok((path, first_line(&version).unwrap_or_default()))
    }

    /// The app must be installed (`pm path`).
    pub fn check_installed(&self, app: &str) -> Result<(), Error> {
        let not_installed = |_| format!("app {app} is not installed on phone {} (see `pm list packages`)", self.serial);
        let out = self.check(self.shell(&format!("pm path {}", sh_quote(app))), not_installed)?;
        if out.lines().any(|l| l.starts_with("package:")) {
            Ok(())
        } else {
            Err(Error::Check(not_installed(String::new())))
        }
    }

    /// `versionName (versionCode)` from `dumpsys package`.
    pub fn app_version(&self, app: &str) -> Option<String> {
        let out = self.shell(&format!("dumpsys package {}", sh_quote(app))).ok()?;
        let field = |key: &str| out.split_whitespace().find_map(|w| w.strip_prefix(key)).map(str::to_owned);
        match (field("versionName="), field("versionCode=")) {
            (Some(name), Some(code)) => Some(format!("{name} ({code})")),
            (name, code) => name.or(code),
        }
    }

    /// Manufacturer, model and Android version (`getprop`).
    pub fn props(&self) -> Props {
        let all = self.shell("getprop").unwrap_or_default();
        // "[ro.product.model]: [SM-A515F]"
        let get = |key: &str| {
            all.lines()
                .find_map(|l| l.strip_prefix(&format!("[{key}]: [")))
                .map(|v| v.trim_end_matches(']').to_owned())
                .unwrap_or_default()
        };
        Props {
            manufacturer: get("ro.product.manufacturer"),
            model: get("ro.product.model"),
            android: get("ro.build.version.release"),
        }
    }

    /// The phone's global addresses on `iface` (`ip -o addr show`).
    pub fn addresses(&self, iface: &str) -> Vec<IpAddr> {
        let out = self.shell(&format!("ip -o addr show {}", sh_quote(iface))).unwrap_or_default();
        out.lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                words.find(|w| *w == "inet" || *w == "inet6")?;
                words.next()?.split('/').next()?.parse::<IpAddr>().ok()
            })
            .filter(|a| !a.is_loopback() && !matches!(a, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80))
            .collect()
    }

    /// (pid, process name) of the app's processes: the package and its `package:name` ones.
    pub fn processes(&self, app: &str) -> Result<Vec<(u32, String)>, AdbFailure> {
        let out = self.shell("ps -A -o PID,NAME")?;
        let sub = format!("{app}:");
        Ok(out
            .lines()
            .filter_map(|l| {
                let (pid, name) = l.trim().split_once(char::is_whitespace)?;
                let name = name.trim();
                (name == app || name.starts_with(&sub)).then(|| Some((pid.parse().ok()?, name.to_owned())))?
            })
            .collect())
    }

    /// Starts the app's launcher activity.
    pub fn launch(&self, app: &str) -> Result<(), Error> {
        self.check(self.shell(&format!("monkey -p {} -c android.intent.category.LAUNCHER 1", sh_quote(app))), |said| {
            format!("cannot launch {app} on phone {}: {said}", self.serial)
        })
        .map(drop)
    }

    /// One reading of the phone's clock between two of the AP's.
    pub fn clock_sample(&self) -> Result<ClockSample, AdbFailure> {
        let ap_before = now();
        let out = self.shell("date +%s.%N")?;
        let ap_after = now();
        let phone = first_line(&out)
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| AdbFailure::Failed(format!("`date +%s.%N` on the phone said \"{}\"", out.trim())))?;
        Ok(ClockSample { ap_before, phone, ap_after })
    }

    /// Starts strace on `pid` as root, detached from the adb connection so it survives a
    /// disconnect, logging to `log` on the phone; returns strace's pid.
    pub fn attach_strace(&self, strace: &str, pid: u32, log: &str) -> Result<u32, AdbFailure> {
        let cmd = format!(
            "nohup {} {STRACE_OPTIONS} -o {} -p {pid} </dev/null >/dev/null 2>&1 & echo $!",
            sh_quote(strace),
            sh_quote(log)
        );
        let out = self.su(&cmd)?;
        first_line(&out)
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| AdbFailure::Failed(format!("strace did not start on pid {pid}: \"{}\"", out.trim())))
    }

    /// Stops the stracers with SIGINT (they detach and flush), waits up to 5 s for them
    /// to exit, makes the logs readable for `adb pull` and returns the files of `logs_dir`.
    pub fn stop_strace(&self, strace_pids: &[u32], logs_dir: &str) -> Result<Vec<String>, AdbFailure> {
        let pids: Vec<String> = strace_pids.iter().map(u32::to_string).collect();
        let pids = pids.join(" ");
        let dir = sh_quote(logs_dir);
        let cmd = format!(
            "for p in {pids}; do kill -INT $p 2>/dev/null; done; i=0; for p in {pids}; do \
             while [ $i -lt 50 ] && kill -0 $p 2>/dev/null; do sleep 0.1; i=$((i+1)); done; done; \
             cd {dir} && chmod 644 * 2>/dev/null; ls"
        );
        Ok(self.su(&cmd)?.split_whitespace().map(str::to_owned).collect())
    }

    /// Copies a file from the phone.
    pub fn pull(&self, remote: &str, local: &Path) -> Result<(), AdbFailure> {
        self.tools.adb(&self.serial, &["pull", remote, &local.to_string_lossy()]).map(drop)
    }

    /// Whether adb reaches the phone now.
    pub fn reachable(&self) -> bool {
        self.shell("true").is_ok()
    }
}

/// The AP's clock, seconds since the epoch.
pub fn now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}
