//! The strace parser and the socket table take any text: never a panic, every line either
//! understood or reported.

use flowmine_core::label::sockets::SocketTable;
use flowmine_core::label::strace::{Clock, StraceLog};
use proptest::prelude::*;

/// Fragments real strace lines are made of, so random lines come close to parsing.
fn fragment() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "1569051230.343590 ",
        "[pid  5141] ",
        "5141 ",
        "10:20:30.123456 ",
        "connect(",
        "sendto(",
        "recvfrom(",
        "socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)",
        "45<TCP:[192.168.2.17:57019->34.225.240.173:443]>",
        "7<TCPv6:[[::ffff:10.0.0.2]:5000->[::ffff:1.2.3.4]:443]>",
        "9<UDP:[3141592]>",
        ", ",
        ")",
        " = ",
        "0",
        "-1 EINPROGRESS (Operation now in progress)",
        "{sa_family=AF_INET, sin_port=htons(443), ",
        "sin_addr=inet_addr(\"1.2.3.4\")}",
        "inet_pton(AF_INET6, \"2001:db8::1\", &sin6_addr)",
        " <unfinished ...>",
        "<... connect resumed>",
        "<...connect resumed>",
        "+++ exited with 0 +++",
        "--- SIGCHLD {si_signo=SIGCHLD} ---",
        "close(",
        "\"",
        "<",
        ">",
        "[",
        "]",
        "\u{e9}",
        "\t",
    ])
    .prop_map(str::to_owned)
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![prop::collection::vec(fragment(), 0..12).prop_map(|f| f.concat()), ".{0,80}"]
}

proptest! {
    #[test]
    fn any_log_parses_or_reports_every_line(lines in prop::collection::vec(line(), 0..40)) {
        let text = lines.join("\n");
        let mut log = StraceLog::default();
        log.add_file(&text, 0, None, Clock::Epoch);
        log.add_file(&text, 1, Some(77), Clock::TimeOfDay { date_days: 18_000, utc_offset_s: 7_200 });
        let non_blank = text.lines().filter(|l| !l.trim().is_empty()).count();
        prop_assert_eq!(log.lines, 2 * non_blank);
        prop_assert!(log.problems.len() <= log.lines);
        for p in &log.problems {
            prop_assert!(p.line >= 1 && p.line <= text.lines().count());
        }
        let _ = SocketTable::from_calls(&log.calls);
    }
}
