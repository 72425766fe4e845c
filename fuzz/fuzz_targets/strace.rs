//! The strace log parser over arbitrary bytes.
//!
//! Input: the first line is read as a date (`YYYY-MM-DD`), the second as a UTC offset;
//! when both parse, the rest is read as a `-tt` log of that day, else as a `-ttt` log.
//! The whole input is parsed as well, as a log with and without a `-ff` file pid. Checks:
//! no panic, every non-blank line is counted once, every problem names a real line,
//! calls come out in time order, and every call names a line of its file.

#![no_main]

use flowmine_core::label::strace::{Clock, StraceLog, parse_date, parse_utc_offset, pid_from_file_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let text = String::from_utf8_lossy(bytes);
    let mut parts = text.splitn(3, '\n');
    let (date, offset, rest) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let clock = match (parse_date(date), parse_utc_offset(offset)) {
        (Some(date_days), Some(utc_offset_s)) => Clock::TimeOfDay { date_days, utc_offset_s },
        _ => Clock::Epoch,
    };
    let _ = pid_from_file_name(date);

    let files: [(&str, Option<u32>, Clock); 3] =
        [(&text, None, Clock::Epoch), (&text, Some(4242), Clock::Epoch), (rest, None, clock)];
    let mut log = StraceLog::default();
    let mut non_blank = 0;
    for (index, &(file_text, file_pid, clock)) in files.iter().enumerate() {
        log.add_file(file_text, index, file_pid, clock);
        non_blank += file_text.lines().filter(|l| !l.trim().is_empty()).count();
    }
    let line_counts = files.map(|(file_text, _, _)| file_text.lines().count());
    assert_eq!(log.lines, non_blank, "every non-blank line is counted once");
    assert!(log.problems.len() <= log.lines);
    assert_eq!(log.lines_understood(), log.lines - log.problems.len());
    for p in &log.problems {
        assert!(p.line >= 1 && p.line <= line_counts[p.file], "problem on line {} of file {}", p.line, p.file);
        let _ = p.problem.name();
    }
    for c in &log.calls {
        let (_, file_pid, _) = files[c.file];
        assert!(c.line >= 1 && c.line <= line_counts[c.file], "call on line {} of file {}", c.line, c.file);
        assert!(!c.name.is_empty());
        if file_pid.is_some() {
            assert!(c.pid.is_some(), "a -ff file's calls have a pid");
        }
    }
    for pair in log.calls.windows(2) {
        let key = |c: &flowmine_core::label::strace::Call| (c.ts_ns, c.file, c.line);
        assert!(key(&pair[0]) <= key(&pair[1]), "calls out of order");
    }
    // Lines that parsed into something are calls, signals, exits or resumed halves.
    assert!(log.calls.len() + log.signals + log.exits <= log.lines_understood());
});
