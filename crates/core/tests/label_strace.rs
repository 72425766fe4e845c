//! The strace grammar of `formats/strace.md`, line by line, and the socket table built from
//! it: every expectation here is worked out by hand from the log text.

use std::net::IpAddr;

use flowmine_core::label::sockets::{Endpoint, SocketTable};
use flowmine_core::label::strace::{Clock, Problem, StraceLog};

fn parse(text: &str) -> StraceLog {
    let mut log = StraceLog::default();
    log.add_file(text, 0, None, Clock::Epoch);
    log
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ep(addr: &str, port: u16) -> Option<Endpoint> {
    Some(Endpoint { addr: Some(ip(addr)), port })
}

const S: i64 = 1_000_000_000;

#[test]
fn the_examples_of_the_format_document() {
    // The example log of formats/strace.md, verbatim.
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../formats/strace.md")).unwrap();
    let example = doc.split("```text\n").nth(1).unwrap().split("```").next().unwrap();
    let log = parse(example);
    let problems: Vec<(usize, Problem)> = log.problems.iter().map(|p| (p.line, p.problem)).collect();
    assert_eq!(problems, [(13, Problem::Unrecognised), (14, Problem::Truncated)]);
    assert_eq!((log.signals, log.exits, log.never_resumed), (1, 1, 0));
    let table = SocketTable::from_calls(&log.calls);
    let summary: Vec<_> = table
        .sockets
        .iter()
        .map(|s| {
            let remotes: Vec<_> = s.remotes.iter().map(|r| (r.addr, r.port)).collect();
            (s.protocol, s.inode, s.local, remotes, s.first_ts_ns, s.last_ts_ns, s.pids.clone(), s.closed)
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                6,
                Some(3141592),
                ep("192.168.2.17", 57019),
                vec![(ip("34.225.240.173"), 443)],
                1569051240 * S + 350_000_000,
                1569051255 * S + 100_000_000,
                vec![5120, 5133],
                true
            ),
            (
                17,
                Some(3141600),
                Some(Endpoint { addr: None, port: 28150 }),
                vec![(ip("91.108.8.8"), 529), (ip("87.11.205.195"), 59772)],
                1569051241 * S,
                1569051242 * S,
                vec![5120],
                false
            ),
            (
                6,
                Some(3141593),
                ep("2001:db8:1::1", 44144),
                vec![(ip("2001:db8:200::1"), 443)],
                1569051243 * S,
                1569051243 * S + 500_000_000,
                vec![5140],
                true
            ),
        ]
    );
    let first = &table.sockets[0];
    let calls: Vec<(&str, u64)> = first.syscalls.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(calls, [("close", 1), ("connect", 1), ("getsockname", 1), ("recvfrom", 1), ("socket", 1)]);
    assert_eq!(first.connect_ts_ns, Some(1569051240 * S + 350_100_000));
    assert_eq!(table.unix_paths.keys().collect::<Vec<_>>(), ["/dev/socket/dnsproxyd"]);
}

#[test]
fn a_reused_fd_is_a_new_socket() {
    let log = parse(concat!(
        "100.000000 connect(5<TCP:[10.0.0.2:4000->1.1.1.1:443]>, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr(\"1.1.1.1\")}, 16) = 0\n",
        // No close seen (lost with a cut log), but the decoration shows another connection.
        "200.000000 write(5<TCP:[10.0.0.2:4001->1.1.1.1:443]>, \"x\", 1) = 1\n",
        "201.000000 close(5<TCP:[10.0.0.2:4001->1.1.1.1:443]>) = 0\n",
        // A file on fd 5, then a socket known only by inode, then resolved by a later call.
        "202.000000 read(5</etc/hosts>, \"\", 10) = 0\n",
        "203.000000 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 5<UDP:[777]>\n",
        "204.000000 sendto(5<UDP:[10.0.0.2:5353->9.9.9.9:53]>, \"q\", 1, 0, NULL, 0) = 1\n",
        // Stale decoration: the socket sends elsewhere than its connected peer.
        "205.000000 sendto(5<UDP:[10.0.0.2:5353->9.9.9.9:53]>, \"q\", 1, 0, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr(\"8.8.8.8\")}, 16) = 1\n",
    ));
    assert!(log.problems.is_empty());
    let table = SocketTable::from_calls(&log.calls);
    let rows: Vec<_> = table
        .sockets
        .iter()
        .map(|s| {
            (s.protocol, s.local.unwrap().port, s.remotes.iter().map(|r| (r.addr, r.port)).collect::<Vec<_>>(), s.inode)
        })
        .collect();
    assert_eq!(
        rows,
        [
            (6, 4000, vec![(ip("1.1.1.1"), 443)], None),
            (6, 4001, vec![(ip("1.1.1.1"), 443)], None),
            (17, 5353, vec![(ip("9.9.9.9"), 53), (ip("8.8.8.8"), 53)], Some(777)),
        ]
    );
    assert_eq!(table.sockets[2].remotes[1].first_send_ts_ns, Some(205 * S));
}

#[test]
fn garbage_is_counted_by_line_and_never_fatal() {
    let log = parse(concat!(
        "strace: Process 1 attached\n",
        "\n",
        "close(3) = 0\n",
        "1234 100.5 connect(3<TCP:[1]>, {sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr(\"1.2.3.4\")}, 16\n",
        "1234 100.6 <... sendto resumed>) = 1\n",
        "12:00:00.000000 close(3) = 0\n",
        "[pid 7] 100.7 close(3<TCP:[1]>) = 0\n",
    ));
    let problems: Vec<(usize, Problem)> = log.problems.iter().map(|p| (p.line, p.problem)).collect();
    assert_eq!(
        problems,
        [
            (1, Problem::Unrecognised),
            (3, Problem::NoTimestamp),
            (4, Problem::Truncated),
            (5, Problem::ResumedWithoutStart),
            (6, Problem::TimeOfDayWithoutDate),
        ]
    );
    assert_eq!((log.lines, log.lines_understood(), log.calls.len()), (6, 1, 1));
    assert_eq!(parse("garbage\n\u{0}\u{1}binary\n").lines_understood(), 0);
}

#[test]
fn an_unfinished_call_that_never_resumes_is_kept() {
    let log = parse(
        "[pid 9] 5.000000 connect(4<TCP:[42]>, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr(\"5.6.7.8\")}, 16 <unfinished ...>\n[pid 9] 6.000000 +++ killed by SIGKILL +++\n",
    );
    assert_eq!((log.never_resumed, log.exits, log.calls.len()), (1, 1, 1));
    assert_eq!(log.calls[0].result, "");
    let table = SocketTable::from_calls(&log.calls);
    assert_eq!(table.sockets[0].remotes[0].port, 80);
    assert_eq!(table.unresolved, 1);
}

#[test]
fn accepted_sockets_and_message_calls() {
    let log = parse(concat!(
        "1.000000 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 3<TCP:[100]>\n",
        "1.100000 bind(3<TCP:[100]>, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr(\"0.0.0.0\")}, 16) = 0\n",
        "1.200000 listen(3<TCP:[0.0.0.0:8080]>, 50) = 0\n",
        "2.000000 accept4(3<TCP:[0.0.0.0:8080]>, {sa_family=AF_INET, sin_port=htons(51000), sin_addr=inet_addr(\"10.0.0.9\")}, [16], SOCK_CLOEXEC) = 4<TCP:[10.0.0.2:8080->10.0.0.9:51000]>\n",
        "2.100000 getpeername(4<TCP:[10.0.0.2:8080->10.0.0.9:51000]>, {sa_family=AF_INET, sin_port=htons(51000), sin_addr=inet_addr(\"10.0.0.9\")}, [16]) = 0\n",
        "3.000000 socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP) = 5<UDP:[200]>\n",
        "3.100000 sendmsg(5<UDP:[200]>, {msg_name={sa_family=AF_INET, sin_port=htons(3478), sin_addr=inet_addr(\"198.51.100.1\")}, msg_namelen=16, msg_iov=[{iov_base=\"\\0\\1\", iov_len=20}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 20\n",
        "3.200000 getsockname(5<UDP:[0.0.0.0:40000]>, {sa_family=AF_INET, sin_port=htons(40000), sin_addr=inet_addr(\"0.0.0.0\")}, [16]) = 0\n",
        "3.300000 recvmsg(5<UDP:[0.0.0.0:40000]>, {msg_name={sa_family=AF_INET, sin_port=htons(3479), sin_addr=inet_addr(\"198.51.100.2\")}, msg_namelen=16, msg_iov=[{iov_base=\"\\0\\2\", iov_len=40}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 40\n",
        // A failed receive names no peer (strace prints the buffer's address only).
        "3.400000 recvfrom(5<UDP:[0.0.0.0:40000]>, 0x7f00, 2048, 0, 0x7f80, [16]) = -1 EAGAIN (Resource temporarily unavailable)\n",
    ));
    assert!(log.problems.is_empty());
    let table = SocketTable::from_calls(&log.calls);
    let rows: Vec<_> = table
        .sockets
        .iter()
        .map(|s| {
            let remotes: Vec<_> = s.remotes.iter().map(|r| (r.addr, r.port, r.first_send_ts_ns)).collect();
            let calls: Vec<_> = s.syscalls.iter().map(|(k, v)| (k.clone(), *v)).collect();
            (s.protocol, s.local, remotes, calls)
        })
        .collect();
    let calls = |c: &[(&str, u64)]| c.iter().map(|(k, v)| (k.to_string(), *v)).collect::<Vec<_>>();
    assert_eq!(
        rows,
        [
            (
                6,
                Some(Endpoint { addr: None, port: 8080 }),
                vec![],
                calls(&[("accept4", 1), ("bind", 1), ("listen", 1), ("socket", 1)])
            ),
            (
                6,
                ep("10.0.0.2", 8080),
                vec![(ip("10.0.0.9"), 51000, None)],
                calls(&[("accept4", 1), ("getpeername", 1)])
            ),
            (
                17,
                Some(Endpoint { addr: None, port: 40000 }),
                vec![(ip("198.51.100.1"), 3478, Some(3 * S + 100_000_000)), (ip("198.51.100.2"), 3479, None)],
                calls(&[("getsockname", 1), ("recvfrom", 1), ("recvmsg", 1), ("sendmsg", 1), ("socket", 1)])
            ),
        ]
    );
}

#[test]
fn select_nfds_is_no_fd_and_a_failed_bind_binds_nothing() {
    let log = parse(concat!(
        "1.0 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 46<TCP:[10.0.0.2:5000->1.2.3.4:443]>\n",
        "1.5 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 47<UDP:[200]>\n",
        "2.0 bind(47<UDP:[200]>, {sa_family=AF_INET, sin_port=htons(5353), sin_addr=inet_addr(\"10.0.0.2\")}, 16) = -1 EADDRINUSE (Address already in use)\n",
        // nfds is 46 + 1 = 47, not a use of fd 47; the set's fd is not a use either.
        "9.0 select(47, [46<TCP:[10.0.0.2:5000->1.2.3.4:443]>], NULL, NULL, NULL) = 1 (in [46])\n",
        "9.5 pselect6(47, [46], NULL, NULL, NULL, NULL) = 1 (in [46])\n",
    ));
    let table = SocketTable::from_calls(&log.calls);
    let seen: Vec<_> = table.sockets.iter().map(|s| (s.protocol, s.local, s.first_ts_ns, s.last_ts_ns)).collect();
    assert_eq!(seen, [(6, ep("10.0.0.2", 5000), S, S), (17, None, 3 * S / 2, 2 * S)]);
    assert_eq!(table.unresolved, 1, "the UDP socket never got its port");
}

#[test]
fn unix_and_netlink_sockets_seen_by_inode_stay_what_they_are() {
    let log = parse(concat!(
        "1.0 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 70<socket:[881001]>\n",
        "1.1 connect(70<socket:[881001]>, {sa_family=AF_UNIX, sun_path=\"/dev/socket/dnsproxyd\"}, 110) = 0\n",
        "1.2 socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 71<socket:[881002]>\n",
        "1.3 sendto(71<socket:[881002]>, \"\\24\\0\", 20, 0, NULL, 0) = 20\n",
        // A socket only ever shown by inode: its family is unknown, and counted.
        "1.4 getsockopt(72<socket:[881003]>, SOL_SOCKET, SO_TYPE, [1], [4]) = 0\n",
    ));
    let table = SocketTable::from_calls(&log.calls);
    assert!(table.sockets.is_empty(), "{:?}", table.sockets);
    assert_eq!((table.unix_calls, table.other_socket_calls, table.unknown_sockets), (2, 2, 1));
    assert_eq!(table.unix_paths.get("/dev/socket/dnsproxyd"), Some(&1));
}

#[test]
fn fcntl_dupfd_and_close_range_are_followed() {
    let log = parse(concat!(
        "1.0 socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 46<TCP:[10.0.0.2:5000->1.2.3.4:443]>\n",
        "2.0 fcntl(46<TCP:[10.0.0.2:5000->1.2.3.4:443]>, F_DUPFD_CLOEXEC, 0) = 50\n",
        "2.5 close(46<TCP:[10.0.0.2:5000->1.2.3.4:443]>) = 0\n",
        // fd 50 holds the socket: this is a use of it.
        "3.0 sendto(50, \"x\", 1, 0, NULL, 0) = 1\n",
        "4.0 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 47<UDP:[10.0.0.2:6000]>\n",
        "5.0 close_range(3, ~0U, 0) = 0\n",
        // After close_range fd 47 and 50 hold nothing the log shows: not uses of the sockets.
        "6.0 sendto(47, \"x\", 1, 0, NULL, 0) = 1\n",
        "6.5 sendto(50, \"x\", 1, 0, NULL, 0) = 1\n",
    ));
    let table = SocketTable::from_calls(&log.calls);
    let seen: Vec<_> = table.sockets.iter().map(|s| (s.protocol, s.first_ts_ns, s.last_ts_ns, s.closed)).collect();
    assert_eq!(seen, [(6, S, 5 * S, true), (17, 4 * S, 5 * S, true)]);
    // With CLOSE_RANGE_CLOEXEC nothing is closed.
    let log = parse(concat!(
        "1.0 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 47<UDP:[10.0.0.2:6000]>\n",
        "2.0 close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) = 0\n",
        "3.0 sendto(47, \"x\", 1, 0, NULL, 0) = 1\n",
    ));
    let table = SocketTable::from_calls(&log.calls);
    assert_eq!((table.sockets[0].last_ts_ns, table.sockets[0].closed), (3 * S, false));
}
