#!/usr/bin/env python3
"""Writes the strace-labelling fixtures under testdata/label/ from the real captures in
testdata/pcaps/messaging. Needs tshark (only to make the fixtures; the tests do not).

Each session directory gets a session.toml, strace log(s) in one of the variants strace
writes, and truth.csv: the app's flows (5-tuples as designed here, not derived by flowmine)
with the number of capture packets of each tuple as counted by tshark. problems.csv lists
the lines deliberately broken, with what is wrong with them.

Clock: the phone's clock differs from the capture's; phone time = capture time - offset.
"""
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
PCAPS = HERE.parent / "pcaps" / "messaging"


def tshark(capture, display_filter, fields):
    out = subprocess.run(
        ["tshark", "-r", str(capture), "-Y", display_filter, "-T", "fields"] + sum([["-e", f] for f in fields], []),
        check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def span(capture, proto, phone, port, remote=None, rport=None):
    """(first, last, packets) of the packets of one phone endpoint (and peer, if given)."""
    ipf = "ipv6" if ":" in phone else "ip"
    f = f"{ipf}.addr=={phone} && {proto}.port=={port}"
    if remote:
        f += f" && {ipf}.addr=={remote} && {proto}.port=={rport}"
    rows = tshark(capture, f, ["frame.time_epoch"])
    times = [float(r[0]) for r in rows]
    return min(times), max(times), len(times)


def write(path, lines):
    path.write_text("".join(l + "\n" for l in lines))


def epoch(t):
    return f"{t:.6f}"


# ---------------------------------------------------------------- signal: -f -ttt, [pid N]
def signal():
    d = HERE / "signal"
    d.mkdir(exist_ok=True)
    cap = PCAPS / "signal.pcap"
    phone = "192.168.2.17"
    offset = 7.25
    # (phone port, remote, fd, v6 decorations?, close?)
    app = [
        (49226, "34.225.240.173", 57, False, True),
        (57019, "34.225.240.173", 61, True, False),
        (57020, "34.225.240.173", 62, False, False),
        (57021, "34.225.240.173", 63, True, False),
        (49227, "35.169.3.40", 57, True, True),   # fd 57 reused
        (57023, "35.169.3.40", 61, False, True),  # fd 61 reused (57019's socket is closed first below)
        (57024, "35.169.3.40", 64, True, True),
        (57025, "35.169.3.40", 65, False, True),
        (57026, "35.169.3.40", 66, True, True),
        (57027, "13.35.253.42", 67, False, True),
    ]
    events = []  # (phone time, pid, body)
    inode = 4_400_000
    truth = []
    pids = [5120, 5133, 5140, 5141]
    for k, (port, remote, fd, v6, close) in enumerate(app):
        first, last, packets = span(cap, "tcp", phone, port, remote, 443)
        syn = float(tshark(cap, f"tcp.srcport=={port} && tcp.flags.syn==1 && tcp.flags.ack==0", ["frame.time_epoch"])[0][0])
        truth.append(("6", phone, port, remote, 443, packets))
        inode += 1
        kind = "TCPv6" if v6 else "TCP"
        pid = pids[k % len(pids)]
        t_connect = syn - offset - 0.0003
        if v6:
            fam = "AF_INET6"
            sa = (f"{{sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), "
                  f"inet_pton(AF_INET6, \"::ffff:{remote}\", &sin6_addr), sin6_scope_id=0}}, 28")
            full = f"{fd}<TCPv6:[[::ffff:{phone}]:{port}->[::ffff:{remote}]:443]>"
            local_sa = (f"{{sa_family=AF_INET6, sin6_port=htons({port}), sin6_flowinfo=htonl(0), "
                        f"inet_pton(AF_INET6, \"::ffff:{phone}\", &sin6_addr), sin6_scope_id=0}}, [28]")
        else:
            fam = "AF_INET"
            sa = f"{{sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr(\"{remote}\")}}, 16"
            full = f"{fd}<TCP:[{phone}:{port}->{remote}:443]>"
            local_sa = f"{{sa_family=AF_INET, sin_port=htons({port}), sin_addr=inet_addr(\"{phone}\")}}, [16]"
        bare = f"{fd}<{kind}:[{inode}]>"
        events.append((t_connect - 0.0002, pid, f"socket({fam}, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP) = {bare}"))
        if k % 2 == 0:
            # connect interrupted by another thread's line: unfinished, then resumed.
            other = pids[(k + 1) % len(pids)]
            events.append((t_connect, pid, f"connect({bare}, {sa} <unfinished ...>"))
            events.append((t_connect + 0.00005, other, "--- SIGURG {si_signo=SIGURG, si_code=SI_KERNEL} ---"))
            sep = " " if k % 4 == 0 else ""
            events.append((t_connect + 0.0001, pid, f"<... connect resumed>{sep}) = -1 EINPROGRESS (Operation now in progress)"))
        else:
            events.append((t_connect, pid, f"connect({bare}, {sa}) = -1 EINPROGRESS (Operation now in progress)"))
        events.append((t_connect + 0.0005, pid, f"getsockname({full}, {local_sa}) = 0"))
        t_send = min(syn - offset + 0.08, last - offset - 0.001)
        events.append((t_send, pid, f"sendto({full}, \"\\26\\3\\1\\2\\0\\1\\0\\1\\374\\3\\3\"..., 517, MSG_NOSIGNAL, NULL, 0) = 517"))
        rpid = pids[(k + 2) % len(pids)]
        t_recv = min(syn - offset + 0.15, last - offset)
        events.append((t_recv - 0.00001, rpid, f"recvfrom({full}, <unfinished ...>"))
        events.append((t_recv, pid, f"write(33</data/data/org.thoughtcrime.securesms/databases/signal.db-wal>, \"\\0\\0\"..., 4096) = 4096"))
        events.append((t_recv + 0.00001, rpid, f"<... recvfrom resumed>\"\\26\\3\\3\\0z\\2\\0\\0v\\3\\3\"..., 16384, 0, NULL, NULL) = 1418"))
        if close:
            events.append((last - offset - 0.002, pid, f"close({full}) = 0"))
        if port == 57019:
            # 57019's socket ends (as far as the log shows) before fd 61 is reused by 57023.
            events.append((syn - offset + 16.0, pid, f"close({full}) = 0"))
    # Decoys: the system resolver over netd's sockets, netlink, a file, a failed connect.
    t0 = min(e[0] for e in events)
    events += [
        (t0 - 0.002, 5120, "socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 70<UNIX:[881001]>"),
        (t0 - 0.0019, 5120, "connect(70<UNIX:[881001]>, {sa_family=AF_UNIX, sun_path=\"/dev/socket/dnsproxyd\"}, 110) = 0"),
        (t0 - 0.0018, 5120, "write(70<UNIX:[881001->881002]>, \"getaddrinfo chat.signal.org ^ 1024 0 1 0\\0\", 42) = 42"),
        (t0 - 0.0017, 5120, "close(70<UNIX:[881001->881002]>) = 0"),
        (t0 - 0.0012, 5133, "socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 70<UNIX:[881003]>"),
        (t0 - 0.0011, 5133, "connect(70<UNIX:[881003]>, {sa_family=AF_UNIX, sun_path=\"/dev/socket/fwmarkd\"}, 110) = 0"),
        (t0 - 0.0010, 5133, "sendmsg(70<UNIX-STREAM:[881003->881004,\"/dev/socket/fwmarkd\"]>, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=\"\\1\\0\\0\\0\", iov_len=16}], msg_iovlen=1, msg_control=[{cmsg_len=20, cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[57]}], msg_controllen=24, msg_flags=0}, 0) = 16"),
        (t0 - 0.0009, 5133, "close(70<UNIX-STREAM:[881003->881004,\"/dev/socket/fwmarkd\"]>) = 0"),
        (t0 + 1.0, 5140, "socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 80<NETLINK:[990500]>"),
        (t0 + 1.0001, 5140, "sendto(80<NETLINK:[990500]>, {{len=20, type=RTM_GETLINK, flags=NLM_F_REQUEST|NLM_F_DUMP, seq=1, pid=0}, {ifi_family=AF_UNSPEC}}, 20, 0, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 20"),
        (t0 + 1.0002, 5140, "close(80<NETLINK:[990500]>) = 0"),
        (t0 + 2.0, 5141, "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP) = 75<TCP:[990001]>"),
        (t0 + 2.0001, 5141, "connect(75<TCP:[990001]>, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr(\"10.9.9.9\")}, 16) = -1 ENETUNREACH (Network is unreachable)"),
        (t0 + 2.0002, 5141, "close(75<TCP:[990001]>) = 0"),
        # An app UDP socket on port 60793, closed 4.3 s (phone clock) before the resolver
        # uses that port for a DNS query: the DNS flow is outside its lifetime, not the app's.
        (t0 - 10.0, 5141, "socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_UDP) = 77<UDP:[990700]>"),
        (t0 - 9.9999, 5141, "bind(77<UDP:[990700]>, {sa_family=AF_INET, sin_port=htons(60793), sin_addr=inet_addr(\"0.0.0.0\")}, 16) = 0"),
        (t0 - 4.3, 5141, "close(77<UDP:[0.0.0.0:60793]>) = 0"),
        # fd 57 is a file between the two sockets that hold it.
        (t0 + 12.0, 5120, "fstat(57</data/data/org.thoughtcrime.securesms/cache/tmp1.bin>, {st_mode=S_IFREG|0600, st_size=0, ...}) = 0"),
    ]
    events.sort(key=lambda e: e[0])
    lines = ["strace: Process 5120 attached with 4 threads"]
    problems = [(1, "unrecognised")]
    for i, (t, pid, body) in enumerate(events):
        lines.append(f"[pid {pid:5d}] {epoch(t)} {body}")
        if i == len(events) // 2:
            lines.append("@@ 0x7f3a garbage from a crashed terminal @@")
            problems.append((len(lines), "unrecognised"))
    lines.append(f"[pid  5120] {epoch(events[-1][0] + 0.5)} +++ exited with 0 +++")
    lines.append(f"[pid  5141] {epoch(events[-1][0] + 0.6)} recvfrom(66<TCP:[{phone}:57026->35.169.3.40:443]>, \"\\27\\3")
    problems.append((len(lines), "truncated"))
    write(d / "signal.strace", lines)
    write(d / "problems.csv", ["line,problem"] + [f"{n},{p}" for n, p in problems])
    write_truth(d, truth)
    # With the DNS rule: the resolver's answer at 264.114 (capture clock) to the query from
    # port 56263 lists 35.169.3.40, which the app connects to from 57026 half a second later.
    # The other DNS flow (60793) answers 23.57.24.16, an address only the decoys use.
    dns_packets = len(tshark(cap, "udp.port==56263 && !icmp", ["frame.time_epoch"]))
    write(d / "dns_truth.csv", ["protocol,phone_ip,phone_port,remote_ip,remote_port,packets",
                                f"17,{phone},56263,192.168.2.1,53,{dns_packets}"])
    (d / "session.toml").write_text(
        'app = "org.thoughtcrime.securesms"\n'
        'device = "Samsung A51"\n'
        'session = "signal-a51-1"\n'
        'phone_ip = ["192.168.2.17"]\n'
        'capture = ["../../pcaps/messaging/signal.pcap"]\n'
        'strace = ["signal.strace"]\n'
        '# The log was written by a phone whose clock was 7.25 s behind the capture\'s.\n'
        'clock_offset = "estimate"\n')


# ---------------------------------------------------------------- telegram: -ff -tt, UDP
def telegram():
    d = HERE / "telegram"
    d.mkdir(exist_ok=True)
    cap = PCAPS / "telegram.pcap"
    phone = "192.168.1.77"
    offset = -3.5          # the phone's clock is 3.5 s ahead
    tz = 2 * 3600          # the phone's local time is UTC+02:00
    import datetime

    def tod(t):
        local = datetime.datetime.fromtimestamp(t - offset + tz, tz=datetime.timezone.utc)
        return local.strftime("%H:%M:%S.%f")

    files = {4001: [], 4017: [], 4018: []}
    truth = []
    b_remotes = [("91.108.8.7", 521), ("91.108.12.5", 523), ("91.108.16.1", 527), ("91.108.12.1", 536),
                 ("91.108.8.8", 538), ("91.108.16.4", 538)]
    a_remotes = [("91.108.8.8", 529), ("91.108.16.1", 529), ("91.108.12.3", 530), ("91.108.8.1", 533),
                 ("91.108.12.5", 537), ("91.108.16.3", 537)]
    b_first, b_last, _ = span(cap, "udp", phone, 23174)
    a_first, a_last, _ = span(cap, "udp", phone, 28150)
    for port, remotes in ((23174, b_remotes + [("192.168.1.52", 31480), ("87.11.205.195", 60723)]),
                          (28150, a_remotes + [("87.11.205.195", 59772)])):
        for r, rp in remotes:
            truth.append(("17", phone, port, r, rp, span(cap, "udp", phone, port, r, rp)[2]))
    # Socket B: plain AF_INET, bound to 23174, later connected to the LAN peer.
    f = files[4001]
    f.append((b_first - 0.5, "socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_UDP) = 91<UDP:[7001001]>"))
    f.append((b_first - 0.49, "bind(91<UDP:[7001001]>, {sa_family=AF_INET, sin_port=htons(23174), sin_addr=inet_addr(\"0.0.0.0\")}, 16) = 0"))
    f.append((b_first - 0.48, "socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 92<UNIX:[7001900]>"))
    f.append((b_first - 0.47, "connect(92<UNIX:[7001900]>, {sa_family=AF_UNIX, sun_path=\"/dev/socket/fwmarkd\"}, 110) = 0"))
    f.append((b_first - 0.46, "close(92<UNIX-STREAM:[7001900->7001901,\"/dev/socket/fwmarkd\"]>) = 0"))
    s = files[4017]
    for r, rp in b_remotes:
        t = float(tshark(cap, f"udp.srcport==23174 && ip.dst=={r} && udp.dstport=={rp}", ["frame.time_epoch"])[0][0])
        s.append((t - 0.0004, f"sendto(91<UDP:[0.0.0.0:23174]>, \"\\1\\0\\0\\0\\0\\0\\0\\0\"..., 60, 0, {{sa_family=AF_INET, sin_port=htons({rp}), sin_addr=inet_addr(\"{r}\")}}, 16) = 60"))
    lan_first = float(tshark(cap, "udp.srcport==23174 && ip.dst==192.168.1.52", ["frame.time_epoch"])[0][0])
    s.append((lan_first - 0.002, "connect(91<UDP:[0.0.0.0:23174]>, {sa_family=AF_INET, sin_port=htons(31480), sin_addr=inet_addr(\"192.168.1.52\")}, 16) = 0"))
    s.append((lan_first - 0.0004, "write(91<UDP:[192.168.1.77:23174->192.168.1.52:31480]>, \"\\2\\0\"..., 120) = 120"))
    # A connected socket may still name another peer; the cached decoration is then stale.
    s.append((lan_first + 0.5, "sendto(91<UDP:[192.168.1.77:23174->192.168.1.52:31480]>, \"\\3\\0\"..., 80, 0, {sa_family=AF_INET, sin_port=htons(521), sin_addr=inet_addr(\"91.108.8.7\")}, 16) = 80"))
    r = files[4018]
    r.append((lan_first + 1.0, "recvfrom(91<UDP:[192.168.1.77:23174->192.168.1.52:31480]>, \"\\2\\1\"..., 2048, 0, {sa_family=AF_INET, sin_port=htons(31480), sin_addr=inet_addr(\"192.168.1.52\")}, [16]) = 120"))
    r.append((lan_first + 1.1, "recvfrom(91<UDP:[192.168.1.77:23174->192.168.1.52:31480]>, 0x7a3c001000, 2048, 0, 0x7a3c000f80, [16]) = -1 EAGAIN (Resource temporarily unavailable)"))
    f.append((b_last + 0.3, "close(91<UDP:[192.168.1.77:23174->192.168.1.52:31480]>) = 0"))
    # Socket A: AF_INET6 (Java), IPv4-mapped peers, on the reused fd 91.
    f.append((a_first - 1.0, "socket(AF_INET6, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 91<UDPv6:[7002002]>"))
    f.append((a_first - 0.99, "bind(91<UDPv6:[7002002]>, {sa_family=AF_INET6, sin6_port=htons(28150), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"::\", &sin6_addr), sin6_scope_id=0}, 28) = 0"))
    for rr, rp in a_remotes:
        t = float(tshark(cap, f"udp.srcport==28150 && ip.dst=={rr} && udp.dstport=={rp}", ["frame.time_epoch"])[0][0])
        s.append((t - 0.0004, f"sendto(91<UDPv6:[[::]:28150]>, \"\\0\\0\"..., 100, 0, {{sa_family=AF_INET6, sin6_port=htons({rp}), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"::ffff:{rr}\", &sin6_addr), sin6_scope_id=0}}, 28) = 100"))
    t87 = float(tshark(cap, "udp.port==28150 && ip.addr==87.11.205.195", ["frame.time_epoch"])[0][0])
    r.append((t87 + 0.0005, "recvfrom(91<UDPv6:[[::]:28150]>, \"\\0\\1\"..., 2048, 0, {sa_family=AF_INET6, sin6_port=htons(59772), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"::ffff:87.11.205.195\", &sin6_addr), sin6_scope_id=0}, [28]) = 100"))
    f.append((a_last + 0.2, "close(91<UDPv6:[[::]:28150]>) = 0"))
    problems = []
    for pid, evs in files.items():
        evs.sort(key=lambda e: e[0])
        lines = [f"{tod(t)} {body}" for t, body in evs]
        if pid == 4018:
            lines.insert(1, "??? this line is not strace output")
            problems.append((f"telegram.strace.{pid}", 2, "unrecognised"))
        lines.append(f"{tod(evs[-1][0] + 1.0)} +++ exited with 0 +++")
        write(d / f"telegram.strace.{pid}", lines)
    write(d / "problems.csv", ["file,line,problem"] + [f"{a},{b},{c}" for a, b, c in problems])
    write_truth(d, truth)
    (d / "session.toml").write_text(
        'app = "org.telegram.messenger"\n'
        'device = "Xiaomi Poco X3"\n'
        'session = "telegram-pocox3-1"\n'
        'phone_ip = ["192.168.1.77"]\n'
        'capture = ["../../pcaps/messaging/telegram.pcap"]\n'
        '# strace -ff -tt: one file per thread, local time of day.\n'
        'strace = ["telegram.strace.4001", "telegram.strace.4017", "telegram.strace.4018"]\n'
        'strace_date = "2020-05-06"\n'
        'strace_utc_offset = "+02:00"\n'
        '# The phone\'s clock was 3.5 s ahead of the capture\'s.\n'
        'clock_offset = -3.5\n')


# ---------------------------------------------------------------- ipv6: -f -ttt, "PID " prefix
def ipv6():
    d = HERE / "ipv6"
    d.mkdir(exist_ok=True)
    cap = PCAPS / "lru_ipv6_caches.pcapng"
    phone = "2001:db8:1::1"
    server = "2001:db8:200::1"
    offset = 12.0
    lines = []
    truth = []
    inode = 555000
    for k, port in enumerate((44144, 44150)):
        first, last, packets = span(cap, "tcp", phone, port, server, 443)
        truth.append(("6", phone, port, server, 443, packets))
        inode += 1
        t = first - offset - 0.05
        bare = f"12<TCPv6:[{inode}]>"
        # The current bracketed form, then the old unbracketed one.
        full = (f"12<TCPv6:[[{phone}]:{port}->[{server}]:443]>" if k == 0
                else f"12<TCPv6:[{phone}:{port}->{server}:443]>")
        lines += [
            f"6100  {epoch(t)} socket(AF_INET6, SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC, IPPROTO_TCP) = {bare}",
            f"6100  {epoch(t + 0.0001)} connect({bare}, {{sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"{server}\", &sin6_addr), sin6_scope_id=0}}, 28) = -1 EINPROGRESS (Operation now in progress)",
            f"6111  {epoch(t + 0.06)} getsockopt({full}, SOL_SOCKET, SO_ERROR, [0], [4]) = 0",
            f"6111  {epoch(last - offset)} close({full}) = 0",
        ]
    # Another process's connection (44192) is in the capture but not in this log.
    lines.insert(0, "6100  1639052950.000000 socket(AF_INET6, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 13<UDPv6:[555100]>")
    lines.insert(1, "6100  1639052950.000100 close(13<UDPv6:[555100]>) = 0")
    write(d / "app.strace", lines)
    write_truth(d, truth)
    (d / "session.toml").write_text(
        'app = "com.example.chat"\n'
        'device = "Samsung A51"\n'
        'phone_ip = ["2001:db8:1::1"]\n'
        'capture = ["../../pcaps/messaging/lru_ipv6_caches.pcapng"]\n'
        'strace = ["app.strace"]\n'
        '# The capture holds no SYN from the phone, so the offset cannot be estimated.\n'
        'clock_offset = 12.0\n')


def write_truth(d, truth):
    write(d / "truth.csv", ["protocol,phone_ip,phone_port,remote_ip,remote_port,packets"]
          + [",".join(str(x) for x in row) for row in truth])


if __name__ == "__main__":
    signal()
    telegram()
    ipv6()
