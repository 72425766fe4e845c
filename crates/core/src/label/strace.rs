//! strace log lines → syscalls. Accepts the output of `strace -f|-ff -tt|-ttt -yy` (see
//! `formats/strace.md`): optional pid prefix, mandatory timestamp, then a complete call, an
//! `<unfinished ...>` call, its `<... NAME resumed>` rest, a signal or an exit line.
//! Lines that fit none of these are counted with their line numbers, never fatal.

use std::collections::HashMap;

/// How the log's timestamps read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// `-ttt`: seconds since the epoch; `-tt` lines are refused.
    Epoch,
    /// `-tt`/`-t`: local time of day on the phone; the log starts on `date_days` (days since
    /// 1970-01-01) and the phone's local time is UTC + `utc_offset_s`. `-ttt` lines still read.
    TimeOfDay { date_days: i64, utc_offset_s: i64 },
}

/// One syscall, with its `<unfinished ...>` and `resumed>` halves joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Entry time on the phone's clock, ns since the epoch.
    pub ts_ns: i64,
    /// From the line's prefix, or from the `-ff` file name; `None` without either.
    pub pid: Option<u32>,
    pub name: String,
    /// Argument text between the parentheses (both halves for a resumed call).
    pub args: String,
    /// Text after `= `; empty for a call that never resumed.
    pub result: String,
    /// Index of the log file among those parsed, and 1-based line of the call's entry.
    pub file: usize,
    pub line: usize,
}

/// Why a line was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Problem {
    /// Nothing the grammar knows (garbage, or output of another program).
    Unrecognised,
    /// A call without its closing `) = RESULT`: the log was cut mid-line.
    Truncated,
    /// No timestamp: the log was not written with `-tt` or `-ttt`.
    NoTimestamp,
    /// A `-tt` time of day in a log parsed without a date.
    TimeOfDayWithoutDate,
    /// `<... NAME resumed>` with no `<unfinished ...>` of the same pid and call before it.
    ResumedWithoutStart,
}

impl Problem {
    pub fn name(self) -> &'static str {
        match self {
            Problem::Unrecognised => "unrecognised",
            Problem::Truncated => "truncated",
            Problem::NoTimestamp => "no_timestamp",
            Problem::TimeOfDayWithoutDate => "time_of_day_without_date",
            Problem::ResumedWithoutStart => "resumed_without_start",
        }
    }
}

/// A line that was not used: which file, which line, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    pub file: usize,
    pub line: usize,
    pub problem: Problem,
}

/// Everything read from one or more log files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StraceLog {
    /// In entry-time order (stable: equal times keep file and line order).
    pub calls: Vec<Call>,
    pub problems: Vec<LineProblem>,
    /// Non-blank lines read.
    pub lines: usize,
    /// `--- SIG... ---` and `+++ exited/killed +++` lines: understood, carry no socket.
    pub signals: usize,
    pub exits: usize,
    /// Calls whose `<unfinished ...>` never resumed (kept, with an empty result).
    pub never_resumed: usize,
}

impl StraceLog {
    /// Lines that parsed into something.
    pub fn lines_understood(&self) -> usize {
        self.lines - self.problems.len()
    }

    /// Parses one log file's text and adds it. `file_pid` is the pid of a `-ff` file
    /// (`FILE.<tid>`), used when lines carry no pid prefix. A `-tt` file starts on the
    /// clock's date: the files of one `-ff` log go through [`StraceLog::add_files`].
    pub fn add_file(&mut self, text: &str, file: usize, file_pid: Option<u32>, clock: Clock) {
        self.add_file_from_day(text, file, file_pid, clock, 0);
    }

    /// Parses the files of one log (`-ff`: one per thread, each `(text, file_pid)`), file
    /// `i` being file `i` of the calls. With `-tt` the date is the day the log starts on,
    /// and a thread's file whose first line is after midnight is on the next day: the log
    /// starts at the first line that follows the longest pause between the files' first
    /// times of day (a log shorter than a day has all its first lines on one arc of the
    /// clock, the pause being the rest of it).
    pub fn add_files(&mut self, files: &[(&str, Option<u32>)], clock: Clock) {
        let firsts: Vec<Option<i64>> = files.iter().map(|(text, _)| first_time_of_day(text)).collect();
        let start = log_start(&firsts);
        for (file, ((text, pid), first)) in files.iter().zip(&firsts).enumerate() {
            let next_day = matches!((first, start), (Some(f), Some(s)) if f < &s);
            self.add_file_from_day(text, file, *pid, clock, if next_day { DAY_NS } else { 0 });
        }
    }

    fn add_file_from_day(&mut self, text: &str, file: usize, file_pid: Option<u32>, clock: Clock, day_shift_ns: i64) {
        let mut pending: HashMap<Option<u32>, Call> = HashMap::new();
        let mut day_shift_ns = day_shift_ns;
        let mut last_tod_ns: Option<i64> = None;
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim_end();
            if line.trim().is_empty() {
                continue;
            }
            self.lines += 1;
            let fail = |log: &mut StraceLog, problem| log.problems.push(LineProblem { file, line: line_no, problem });
            let parsed = match parse_line(line) {
                Ok(p) => p,
                Err(problem) => {
                    fail(self, problem);
                    continue;
                }
            };
            let ts_ns = match parsed.time {
                Stamp::Epoch(ns) => ns,
                Stamp::TimeOfDay(tod_ns) => match clock {
                    Clock::Epoch => {
                        fail(self, Problem::TimeOfDayWithoutDate);
                        continue;
                    }
                    Clock::TimeOfDay { date_days, utc_offset_s } => {
                        // A time of day far below the previous one is the next day: a log
                        // that runs past midnight.
                        if last_tod_ns.is_some_and(|last| tod_ns + HALF_DAY_NS < last) {
                            day_shift_ns += DAY_NS;
                        }
                        last_tod_ns = Some(tod_ns);
                        // A day the time cannot be told in i64 nanoseconds (before 1678,
                        // after 2261) overflowed here (found by fuzzing): the line's time is
                        // garbage, as for an `-ttt` time out of range.
                        let ts_ns = date_days
                            .checked_mul(DAY_NS)
                            .and_then(|ns| ns.checked_add(tod_ns))
                            .and_then(|ns| ns.checked_add(day_shift_ns))
                            .and_then(|ns| ns.checked_sub(utc_offset_s.checked_mul(1_000_000_000)?));
                        let Some(ts_ns) = ts_ns else {
                            fail(self, Problem::Unrecognised);
                            continue;
                        };
                        ts_ns
                    }
                },
            };
            let pid = parsed.pid.or(file_pid);
            match parsed.body {
                Body::Signal => self.signals += 1,
                Body::Exit => self.exits += 1,
                Body::Complete { name, args, result } => {
                    self.calls.push(Call { ts_ns, pid, name, args, result, file, line: line_no })
                }
                Body::Unfinished { name, args } => {
                    let call = Call { ts_ns, pid, name, args, result: String::new(), file, line: line_no };
                    if let Some(earlier) = pending.insert(pid, call) {
                        // strace never leaves two calls of one pid open; keep what we had.
                        self.never_resumed += 1;
                        self.calls.push(earlier);
                    }
                }
                Body::Resumed { name, rest, result } => match pending.remove(&pid) {
                    Some(mut call) if call.name == name => {
                        call.args.push_str(&rest);
                        call.result = result;
                        self.calls.push(call);
                    }
                    other => {
                        if let Some(o) = other {
                            pending.insert(pid, o);
                        }
                        fail(self, Problem::ResumedWithoutStart);
                    }
                },
            }
        }
        for call in pending.into_values() {
            self.never_resumed += 1;
            self.calls.push(call);
        }
        self.calls.sort_by_key(|c| (c.ts_ns, c.file, c.line));
    }
}

const DAY_NS: i64 = 86_400 * 1_000_000_000;
const HALF_DAY_NS: i64 = DAY_NS / 2;

/// The time of day of a file's first `-tt` line.
fn first_time_of_day(text: &str) -> Option<i64> {
    text.lines().find_map(|line| match parse_line(line.trim_end()) {
        Ok(Parsed { time: Stamp::TimeOfDay(t), .. }) => Some(t),
        _ => None,
    })
}

/// The time of day the log starts at, given its files' first times of day: the one after
/// the longest gap around the clock.
fn log_start(firsts: &[Option<i64>]) -> Option<i64> {
    let mut times: Vec<i64> = firsts.iter().flatten().copied().collect();
    times.sort_unstable();
    let last = *times.last()?;
    // The gap before each time: from the previous one (the last one, a day earlier, for
    // the first).
    let mut best = (times[0] + DAY_NS - last, times[0]);
    for pair in times.windows(2) {
        best = best.max((pair[1] - pair[0], pair[1]));
    }
    Some(best.1)
}

/// The pid of a `strace -ff -o FILE` output file, named `FILE.<pid>`.
pub fn pid_from_file_name(name: &str) -> Option<u32> {
    let (_, suffix) = name.rsplit_once('.')?;
    (!suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit())).then(|| suffix.parse().ok()).flatten()
}

/// Days since 1970-01-01 of a proleptic Gregorian `YYYY-MM-DD` date; `None` for years
/// outside 1678–2261, whose times i64 nanoseconds since the epoch cannot all hold.
pub fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    // Far-off years overflowed the arithmetic below, and every year outside the range
    // overflowed the nanosecond times of the log's lines (found by fuzzing).
    if !(1678..=2261).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Seconds east of UTC from `UTC`, `Z`, `+02:00`, `-0530` or `+2`.
pub fn parse_utc_offset(text: &str) -> Option<i64> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return Some(0);
    }
    let t = t.strip_prefix("UTC").unwrap_or(t);
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        // `split_at` panicked when byte 2 falls inside a multi-byte character, as in
        // `-\u{fffd}1` (found by fuzzing).
        None if rest.len() == 4 => rest.split_at_checked(2)?,
        None => (rest, "0"),
    };
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    // Range first, arithmetic after: `then_some` computed `h * 3600` for any hour and
    // overflowed (found by fuzzing). Negative parts (`+-5`) are no offset either.
    ((0..=18).contains(&h) && (0..60).contains(&m)).then(|| sign * (h * 3600 + m * 60))
}

enum Stamp {
    Epoch(i64),
    /// Nanoseconds since local midnight.
    TimeOfDay(i64),
}

enum Body {
    Complete { name: String, args: String, result: String },
    Unfinished { name: String, args: String },
    Resumed { name: String, rest: String, result: String },
    Signal,
    Exit,
}

struct Parsed {
    pid: Option<u32>,
    time: Stamp,
    body: Body,
}

const UNFINISHED: &str = "<unfinished ...>";

fn parse_line(line: &str) -> Result<Parsed, Problem> {
    let (pid, rest) = split_pid(line)?;
    let (time, body) = split_time(rest)?;
    let body = parse_body(body.trim_start())?;
    Ok(Parsed { pid, time, body })
}

/// `[pid  1234] `, `1234 ` (then a timestamp), or nothing.
fn split_pid(line: &str) -> Result<(Option<u32>, &str), Problem> {
    if let Some(rest) = line.strip_prefix("[pid") {
        let (num, rest) = rest.split_once(']').ok_or(Problem::Unrecognised)?;
        let pid = num.trim().parse().map_err(|_| Problem::Unrecognised)?;
        return Ok((Some(pid), rest.trim_start()));
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && line[digits..].starts_with([' ', '\t']) {
        let pid = line[..digits].parse().map_err(|_| Problem::Unrecognised)?;
        return Ok((Some(pid), line[digits..].trim_start()));
    }
    Ok((None, line))
}

/// `1557300000.123456` (`-ttt`), `14:20:00.123456` (`-tt`) or `14:20:00` (`-t`).
fn split_time(text: &str) -> Result<(Stamp, &str), Problem> {
    let end = text.find([' ', '\t']).unwrap_or(text.len());
    let token = &text[..end];
    let rest = &text[end..];
    let starts_like_time = token.bytes().next().is_some_and(|b| b.is_ascii_digit());
    if !starts_like_time {
        // A body straight after the prefix: the log has no timestamps (or is foreign).
        return Err(if looks_like_body(token) { Problem::NoTimestamp } else { Problem::Unrecognised });
    }
    let (whole, frac) = token.split_once('.').unwrap_or((token, ""));
    let frac_ns = fraction_ns(frac).ok_or(Problem::Unrecognised)?;
    if whole.contains(':') {
        let mut hms = whole.split(':').map(|p| p.parse::<i64>().ok());
        let (Some(Some(h)), Some(Some(m)), Some(Some(s)), None) = (hms.next(), hms.next(), hms.next(), hms.next())
        else {
            return Err(Problem::Unrecognised);
        };
        // Lower bounds too: `0:-1000100020:0` parsed a negative minute, and the time of
        // day overflowed (found by fuzzing).
        if !(0..=23).contains(&h) || !(0..=59).contains(&m) || !(0..=60).contains(&s) {
            return Err(Problem::Unrecognised);
        }
        return Ok((Stamp::TimeOfDay((h * 3600 + m * 60 + s) * 1_000_000_000 + frac_ns), rest));
    }
    let secs: i64 = whole.parse().map_err(|_| Problem::Unrecognised)?;
    // Past the year 2262 the time does not fit i64 nanoseconds: garbage, not a log line
    // (found by fuzzing; it overflowed).
    let ns = secs.checked_mul(1_000_000_000).and_then(|ns| ns.checked_add(frac_ns)).ok_or(Problem::Unrecognised)?;
    Ok((Stamp::Epoch(ns), rest))
}

fn looks_like_body(token: &str) -> bool {
    token.starts_with("<...") || token.starts_with("---") || token.starts_with("+++") || token.contains('(')
}

fn fraction_ns(frac: &str) -> Option<i64> {
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let padded = format!("{frac:0<9}");
    padded.parse().ok()
}

fn parse_body(body: &str) -> Result<Body, Problem> {
    if body.starts_with("--- ") && body.ends_with("---") {
        return Ok(Body::Signal);
    }
    if body.starts_with("+++ ") && body.ends_with("+++") {
        return Ok(Body::Exit);
    }
    if let Some(rest) = body.strip_prefix("<...") {
        let rest = rest.trim_start();
        let name_len = name_len(rest);
        let after = rest[name_len..].trim_start().strip_prefix("resumed>").ok_or(Problem::Unrecognised)?;
        if name_len == 0 {
            return Err(Problem::Unrecognised);
        }
        let (args, result) = split_result(after)?;
        return Ok(Body::Resumed { name: rest[..name_len].to_owned(), rest: args.to_owned(), result });
    }
    let name_len = name_len(body);
    if name_len == 0 || !body[name_len..].starts_with('(') {
        return Err(Problem::Unrecognised);
    }
    let name = body[..name_len].to_owned();
    let after = &body[name_len + 1..];
    if let Some(args) = after.strip_suffix(UNFINISHED) {
        return Ok(Body::Unfinished { name, args: args.trim_end().to_owned() });
    }
    let (args, result) = split_result(after)?;
    Ok(Body::Complete { name, args: args.to_owned(), result })
}

fn name_len(text: &str) -> usize {
    text.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count()
}

/// `ARGS) = RESULT`: split at the last `) = `, since argument strings may hold anything but
/// the result never holds that sequence.
fn split_result(text: &str) -> Result<(&str, String), Problem> {
    let at = text.rfind(") = ").ok_or(Problem::Truncated)?;
    let result = text[at + 4..].trim();
    if result.is_empty() {
        return Err(Problem::Truncated);
    }
    Ok((text[..at].trim_end(), result.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> StraceLog {
        let mut log = StraceLog::default();
        log.add_file(text, 0, None, Clock::Epoch);
        log
    }

    #[test]
    fn prefixes_and_resumed_halves() {
        let log = one(concat!(
            "1234  1600000000.000001 close(3) = 0\n",
            "[pid  1235] 1600000000.5 connect(45<TCP:[77]>, {sa_family=AF_INET}, 16 <unfinished ...>\n",
            "[pid  1234] 1600000000.6 --- SIGCHLD {si_signo=SIGCHLD} ---\n",
            "[pid  1235] 1600000000.7 <... connect resumed>) = 0\n",
            "1600000001.000000 +++ exited with 0 +++\n",
        ));
        assert!(log.problems.is_empty(), "{:?}", log.problems);
        assert_eq!(log.calls.len(), 2);
        let c = &log.calls[1];
        assert_eq!(
            (c.ts_ns, c.pid, c.name.as_str(), c.result.as_str()),
            (1_600_000_000_500_000_000, Some(1235), "connect", "0")
        );
        assert_eq!(c.args, "45<TCP:[77]>, {sa_family=AF_INET}, 16");
        assert_eq!((log.signals, log.exits), (1, 1));
    }

    #[test]
    fn time_of_day_needs_a_date_and_wraps_at_midnight() {
        let text = "23:59:59.5 close(3) = 0\n00:00:00.25 close(4) = 0\n";
        assert_eq!(one(text).problems.len(), 2);
        let mut log = StraceLog::default();
        let date_days = parse_date("2020-05-06").unwrap();
        log.add_file(text, 0, Some(9), Clock::TimeOfDay { date_days, utc_offset_s: 7200 });
        // 2020-05-06 is day 18388; local 23:59:59.5 at UTC+2 is 21:59:59.5 UTC.
        assert_eq!(date_days, 18_388);
        assert_eq!(log.calls[0].ts_ns, (18_388 * 86_400 + 21 * 3600 + 59 * 60 + 59) * 1_000_000_000 + 500_000_000);
        assert_eq!(log.calls[1].ts_ns - log.calls[0].ts_ns, 750_000_000);
        assert_eq!(log.calls[1].pid, Some(9));
    }

    #[test]
    fn a_thread_file_that_starts_after_midnight_is_on_the_next_day() {
        let clock = Clock::TimeOfDay { date_days: 18_388, utc_offset_s: 0 };
        let main = "23:59:00 close(3) = 0\n00:01:00 close(4) = 0\n";
        let thread = "00:00:30 close(5) = 0\n";
        for order in [[(main, Some(1)), (thread, Some(2))], [(thread, Some(2)), (main, Some(1))]] {
            let mut log = StraceLog::default();
            log.add_files(&order, clock);
            let times: Vec<(Option<u32>, i64)> = log.calls.iter().map(|c| (c.pid, c.ts_ns / 1_000_000_000)).collect();
            let day = 18_388 * 86_400;
            assert_eq!(times, [(Some(1), day + 86_340), (Some(2), day + 86_430), (Some(1), day + 86_460)]);
        }
        // Alone, a file starts on the date.
        let mut log = StraceLog::default();
        log.add_files(&[(thread, None)], clock);
        assert_eq!(log.calls[0].ts_ns / 1_000_000_000, 18_388 * 86_400 + 30);
    }

    #[test]
    fn offsets_and_file_names() {
        assert_eq!(parse_utc_offset("+02:00"), Some(7200));
        assert_eq!(parse_utc_offset("-0530"), Some(-19_800));
        assert_eq!(parse_utc_offset("UTC"), Some(0));
        assert_eq!(parse_utc_offset("2"), None);
        assert_eq!(pid_from_file_name("app.log.4321"), Some(4321));
        assert_eq!(pid_from_file_name("app.log"), None);
    }
}
