//! Inputs the fuzz targets (fuzz/, see fuzz/README.md) found to break the engine, kept
//! byte for byte so the fixes stay fixed. Each test names its target.

use flowmine_core::SkipReason;
use flowmine_core::label::strace::{Clock, Problem, StraceLog, parse_date, parse_utc_offset};
use flowmine_core::wire::decode::decode;
use flowmine_core::wire::linktype;

/// `decode`: an IPv6 packet whose hop-by-hop Jumbo Payload option says 0xffff_ffff bytes.
/// The IP length (payload + 40-byte header) overflowed u32: a panic in debug builds, a
/// wrapped length of 39 in release builds.
#[test]
fn decode_jumbo_payload_near_u32_max_is_malformed() {
    #[rustfmt::skip]
    let frame = [
        0x06, 0xf7, 0x2a, 0xad, 0xbe, 0xef, 0xb8, 0xce, 0xf6, 0x04, 0x8b, 0x14, 0x86, 0xdd, // Ethernet, IPv6
        0x60, 0x0a, 0x31, 0xee, 0x00, 0x00, 0x00, 0x40, // payload length 0, next header hop-by-hop
        0x26, 0x04, 0x13, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x65, 0x65, 0x65, 0x01, 0x00, 0x00, // src
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x00, // dst
        0x06, 0x00, 0xc2, 0x04, 0xff, 0xff, 0xff, 0xff, // hop-by-hop: TCP next, Jumbo 0xffffffff
    ];
    assert_eq!(decode(linktype::ETHERNET, &frame, frame.len() as u32), Err(SkipReason::MalformedHeader));
}

/// `strace`: a `-ttt` time of 9 511 260 260 s (year 2271) overflowed i64 nanoseconds.
#[test]
fn strace_epoch_time_beyond_i64_nanoseconds_is_unrecognised() {
    let mut log = StraceLog::default();
    log.add_file("9511260260", 0, None, Clock::Epoch);
    log.add_file("9511260260.5 close(3) = 0", 1, None, Clock::Epoch);
    assert!(log.calls.is_empty());
    assert_eq!(log.problems.iter().map(|p| p.problem).collect::<Vec<_>>(), [Problem::Unrecognised; 2]);
}

/// `strace`: the fuzz input `2-5-6\n+0\n1:4:9 o() = <` read as a `-tt` log dated year 2,
/// whose time of day overflowed i64 nanoseconds. Such dates are refused; a clock built
/// by hand with one makes its lines problems, not a panic.
#[test]
fn strace_time_of_day_beyond_i64_nanoseconds_is_refused() {
    assert_eq!(parse_date("2-5-6"), None);
    assert_eq!(parse_date("99999999999999-01-01"), None);
    assert_eq!(parse_date("1677-12-31"), None);
    assert_eq!(parse_date("2262-01-01"), None);
    assert_eq!(parse_date("1678-01-01"), Some(-106_650));
    assert_eq!(parse_date("2261-12-31"), Some(106_650));

    let year_2 = -719_000;
    let mut log = StraceLog::default();
    log.add_file("1:4:9 o() = <", 0, None, Clock::TimeOfDay { date_days: year_2, utc_offset_s: 0 });
    assert!(log.calls.is_empty());
    assert_eq!(log.problems.len(), 1);
    assert_eq!(log.problems[0].problem, Problem::Unrecognised);

    // 2262-04-11, the last day i64 nanoseconds reach (until 23:47:16), given by hand: a
    // log running past its midnight leaves the range.
    let text = "13:00:00 a() = 0\n00:00:00 b() = 0\n13:00:00 c() = 0\n";
    let mut log = StraceLog::default();
    log.add_file(text, 0, None, Clock::TimeOfDay { date_days: 106_751, utc_offset_s: 0 });
    let names: Vec<&str> = log.calls.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a"]);
    assert_eq!(log.problems.iter().map(|p| p.line).collect::<Vec<_>>(), [2, 3]);
}

/// `strace`: a UTC offset of four bytes whose second character is multi-byte (the fuzz
/// input `\n-\x941`, read lossily) was split inside that character: a panic.
#[test]
fn strace_utc_offset_split_inside_a_character_is_refused() {
    assert_eq!(parse_utc_offset("-\u{fffd}1"), None);
    assert_eq!(parse_utc_offset("+\u{e9}12"), None);
    assert_eq!(parse_utc_offset("+0530"), Some(19_800));
}

/// `strace`: the UTC offset line `-2888888888888888888` (fuzz input
/// `\n-2888888888888888888`) was multiplied into seconds before its range was checked.
#[test]
fn strace_utc_offset_of_huge_hours_is_refused() {
    assert_eq!(parse_utc_offset("-2888888888888888888"), None);
    assert_eq!(parse_utc_offset("+2888888888888888888:00"), None);
    assert_eq!(parse_utc_offset("+-5"), None);
    assert_eq!(parse_utc_offset("+05:-30"), None);
    assert_eq!(parse_utc_offset("-18"), Some(-64_800));
}

/// `strace`: the `-tt` time `0:-1000100020:0` had a negative minute, which passed the
/// upper-bound checks and overflowed the time of day in nanoseconds.
#[test]
fn strace_time_of_day_with_negative_fields_is_unrecognised() {
    let day = parse_date("2020-05-06").unwrap();
    let mut log = StraceLog::default();
    let text = "0:-1000100020:0\n10:-5:00 close(3) = 0\n10:05:-1 close(3) = 0\n10:05:01 close(3) = 0\n";
    log.add_file(text, 0, None, Clock::TimeOfDay { date_days: day, utc_offset_s: 0 });
    assert_eq!(log.calls.len(), 1);
    assert_eq!(log.calls[0].line, 4);
    let problems: Vec<_> = log.problems.iter().map(|p| (p.line, p.problem)).collect();
    assert_eq!(problems, [(1, Problem::Unrecognised), (2, Problem::Unrecognised), (3, Problem::Unrecognised)]);
}
