//! The one layer through which `collect` touches the phone and the access point: `adb` and
//! `tcpdump`, found on `PATH` (or given as paths). Tests put fake `adb` and `tcpdump`
//! scripts first on `PATH`; nothing else in `collect` starts a process.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::Error;

/// What `adb` says when the phone is gone (unplugged, rebooting, USB reset).
const DISCONNECTED: [&str; 5] = ["not found", "no devices/emulators", "device offline", "closed", "protocol fault"];

/// The programs `collect` runs.
#[derive(Debug, Clone)]
pub struct Tools {
    pub adb: OsString,
    pub tcpdump: OsString,
}

impl Default for Tools {
    fn default() -> Self {
        Tools { adb: "adb".into(), tcpdump: "tcpdump".into() }
    }
}

/// Why an adb call failed.
#[derive(Debug)]
pub enum AdbFailure {
    /// The phone is not (or no longer) reachable.
    Disconnected(String),
    /// The command ran and failed; its first line of output.
    Failed(String),
    /// adb itself could not be started.
    Spawn(Error),
}

impl Tools {
    /// Runs a program to completion in its own process group, so a Ctrl-C at the terminal
    /// reaches `collect` alone and `collect` decides the order things stop in.
    fn output(&self, program: &OsString, args: &[&str]) -> Result<Output, Error> {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .process_group(0)
            .output()
            .map_err(|source| Error::Spawn { program: program.to_string_lossy().into_owned(), source })
    }

    /// `adb devices`: (serial, state) of every phone adb sees.
    pub fn adb_devices(&self) -> Result<Vec<(String, String)>, Error> {
        let out = self.output(&self.adb, &["devices"])?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .lines()
            .skip_while(|l| !l.starts_with("List of devices"))
            .skip(1)
            .filter_map(|l| l.split_once('\t'))
            .map(|(s, state)| (s.trim().to_owned(), state.trim().to_owned()))
            .collect())
    }

    /// `adb -s SERIAL ARGS…`, its stdout on success.
    pub fn adb(&self, serial: &str, args: &[&str]) -> Result<String, AdbFailure> {
        let mut all = vec!["-s", serial];
        all.extend_from_slice(args);
        let out = self.output(&self.adb, &all).map_err(AdbFailure::Spawn)?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said = first_line(&stderr).or_else(|| first_line(&stdout)).unwrap_or_else(|| format!("{}", out.status));
        let from_adb = said.starts_with("error:") || said.starts_with("adb:");
        if from_adb && DISCONNECTED.iter().any(|d| said.contains(d)) {
            Err(AdbFailure::Disconnected(said))
        } else {
            Err(AdbFailure::Failed(said))
        }
    }

    /// `adb -s SERIAL shell CMD`: CMD is one line for the phone's `sh`.
    pub fn shell(&self, serial: &str, cmd: &str) -> Result<String, AdbFailure> {
        self.adb(serial, &["shell", cmd])
    }

    /// CMD run as root on the phone.
    pub fn su(&self, serial: &str, cmd: &str) -> Result<String, AdbFailure> {
        self.shell(serial, &format!("su -c {}", sh_quote(cmd)))
    }

    /// `tcpdump -D`: the interfaces tcpdump can open.
    pub fn tcpdump_interfaces(&self) -> Result<Vec<String>, Error> {
        let out = self.output(&self.tcpdump, &["-D"])?;
        let text = String::from_utf8_lossy(&out.stdout);
        // "1.wlan0 [Up, Running, Wireless]"
        Ok(text
            .lines()
            .filter_map(|l| l.split_once('.'))
            .filter_map(|(_, rest)| rest.split_whitespace().next())
            .map(str::to_owned)
            .collect())
    }

    /// Starts `tcpdump ARGS…` and waits until it says it is listening; an early exit is an
    /// error with tcpdump's own words.
    pub fn start_tcpdump(&self, args: &[String], wait: Duration) -> Result<Tcpdump, Error> {
        let mut child = Command::new(&self.tcpdump)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|source| Error::Spawn { program: self.tcpdump.to_string_lossy().into_owned(), source })?;
        let stderr = Arc::new(Mutex::new(Vec::<String>::new()));
        let lines = Arc::clone(&stderr);
        let pipe = child.stderr.take().expect("stderr is piped");
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().expect("not poisoned").push(line);
            }
        });
        wait_listening(Tcpdump { child, stderr, reader: Some(reader) }, wait)
    }
}

/// Returns the tcpdump once it says "listening on"; its own error line when it exits.
fn wait_listening(mut tcpdump: Tcpdump, wait: Duration) -> Result<Tcpdump, Error> {
    let start = Instant::now();
    loop {
        if tcpdump.said().iter().any(|l| l.contains("listening on")) {
            return Ok(tcpdump);
        }
        if let Some(status) = tcpdump.child.try_wait().map_err(|e| Error::Tcpdump(e.to_string()))? {
            tcpdump.join_reader();
            let said = tcpdump.said();
            let why = said.iter().find(|l| l.starts_with("tcpdump:")).or(said.first()).cloned();
            return Err(Error::Tcpdump(why.unwrap_or_else(|| format!("it exited with {status}"))));
        }
        if start.elapsed() > wait {
            tcpdump.stop(Duration::from_secs(2));
            return Err(Error::Tcpdump(format!("it did not start listening within {} s", wait.as_secs())));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
/// A running tcpdump.
pub struct Tcpdump {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Tcpdump {
    /// Its stderr lines so far.
    pub fn said(&self) -> Vec<String> {
        self.stderr.lock().expect("not poisoned").clone()
    }

    fn join_reader(&mut self) {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops it with SIGINT, as Ctrl-C would: tcpdump then writes out what it buffered and
    /// closes the file. SIGKILL only when it has not exited after `grace`; returns whether
    /// it stopped cleanly, and its last words (the packet counts).
    pub fn stop(mut self, grace: Duration) -> (bool, Vec<String>) {
        let clean = match self.child.try_wait() {
            Ok(Some(_)) => true,
            _ => {
                send_sigint(self.child.id());
                let start = Instant::now();
                loop {
                    match self.child.try_wait() {
                        Ok(Some(_)) => break true,
                        Ok(None) if start.elapsed() < grace => std::thread::sleep(Duration::from_millis(20)),
                        _ => {
                            let _ = self.child.kill();
                            let _ = self.child.wait();
                            break false;
                        }
                    }
                }
            }
        };
        self.join_reader();
        (clean, self.said())
    }
}

fn send_sigint(pid: u32) {
    // SAFETY: kill(2) on the pid of our own child, which we have not yet reaped.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGINT);
    }
}

/// The first non-empty line of a program's output.
pub fn first_line(text: &str) -> Option<String> {
    text.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_owned)
}

/// `text` as one word for a POSIX shell.
pub fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
