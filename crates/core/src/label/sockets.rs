//! Syscalls → the app's socket table. A socket is one kernel object, told by its inode or,
//! when `-yy` printed endpoints instead, by the fd that holds it until that fd is closed or
//! shows another socket: fds are reused, so an fd number alone never identifies a socket.
//! All pids of a log share one fd table (the threads of the traced app do).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::strace::Call;

pub use crate::wire::protocol::{PROTOCOL_TCP, PROTOCOL_UDP};

/// An address and port; `addr` is `None` for the wildcard (`0.0.0.0`, `::`) or when only
/// the port is known. IPv4-mapped IPv6 addresses are stored as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: Option<IpAddr>,
    pub port: u16,
}

/// A peer the socket talked to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub addr: IpAddr,
    pub port: u16,
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    /// Time of the first call that sends to this peer (connect, sendto, sendmsg), if any:
    /// the packet it sends is the first of the flow, which pairs it with the capture's clock.
    pub first_send_ts_ns: Option<i64>,
}

/// One TCP or UDP socket of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSocket {
    pub protocol: u8,
    pub inode: Option<u64>,
    pub local: Option<Endpoint>,
    /// TCP: at most one. UDP: every peer named by a decoration or a sockaddr argument.
    pub remotes: Vec<Remote>,
    /// First and last syscall on the socket, phone clock, ns since the epoch.
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    /// Pids (threads) that made calls on it, in order of first appearance: the first is
    /// the creator as far as the log shows.
    pub pids: Vec<u32>,
    /// Syscall name → calls.
    pub syscalls: BTreeMap<String, u64>,
    /// Entry of the first `connect`.
    pub connect_ts_ns: Option<i64>,
    /// Whether a successful `close` was seen.
    pub closed: bool,
}

/// What a log says about the app's sockets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketTable {
    pub sockets: Vec<AppSocket>,
    /// AF_UNIX traffic (netd's `fwmarkd`, `dnsproxyd`, …): path → calls; recognised, not labelled.
    pub unix_paths: BTreeMap<String, u64>,
    /// Calls on AF_UNIX sockets in all (with or without a path).
    pub unix_calls: u64,
    /// Calls on other socket families (netlink, …).
    pub other_socket_calls: u64,
    /// TCP/UDP sockets seen but never with a local port: they cannot be matched to a flow.
    pub unresolved: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// Protocol 0 until a decoration or `socket()` tells it.
    Inet(u8),
    Unix,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Decoration {
    /// `TCP:[3141592]`, `socket:[3141592]` (`-y`): the inode only.
    Inode {
        family: Family,
        inode: u64,
    },
    /// `TCP:[a:p]` or `TCP:[a:p->b:q]`.
    Inet {
        protocol: u8,
        local: Endpoint,
        remote: Option<(IpAddr, u16)>,
    },
    Unix {
        path: Option<String>,
    },
    /// A socket of another family (netlink, packet, …).
    Other,
    /// A file, pipe or other non-socket: the fd no longer holds a socket.
    NotSocket,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum SockAddr {
    Inet(Option<IpAddr>, u16),
    Unix(String),
}

struct Object {
    family: Family,
    socket: AppSocket,
}

#[derive(Default)]
struct Builder {
    objects: Vec<Object>,
    by_fd: HashMap<i64, usize>,
    by_inode: HashMap<u64, usize>,
    table: SocketTable,
}

impl SocketTable {
    /// Builds the table from calls in time order.
    pub fn from_calls(calls: &[Call]) -> SocketTable {
        let mut b = Builder::default();
        for call in calls {
            b.call(call);
        }
        let mut table = b.table;
        for o in b.objects {
            match o.family {
                Family::Inet(p) if p == PROTOCOL_TCP || p == PROTOCOL_UDP => {
                    if o.socket.local.is_none() {
                        table.unresolved += 1;
                    }
                    table.sockets.push(o.socket);
                }
                _ => {}
            }
        }
        table
    }
}

fn failed(result: &str) -> bool {
    result.starts_with('-') || result.starts_with('?')
}

impl Builder {
    fn call(&mut self, call: &Call) {
        let name = call.name.as_str();
        let first = parse_fd(&call.args);
        match name {
            "socket" => {
                let Some((fd, deco)) = parse_fd(&call.result) else { return };
                let family = family_of_socket_args(&call.args);
                let id = self.new_object(family);
                self.by_fd.insert(fd, id);
                self.sight(id, call, deco.as_ref());
            }
            "accept" | "accept4" => {
                let listener = first.and_then(|(fd, deco)| self.object_for(fd, deco.as_ref()));
                if let Some(l) = listener {
                    self.sight(l, call, None);
                }
                let Some((fd, deco)) = parse_fd(&call.result) else { return };
                let family = listener.map_or(Family::Inet(0), |l| self.objects[l].family);
                let id = self.new_object(family);
                self.by_fd.insert(fd, id);
                self.sight(id, call, deco.as_ref());
                if let Some(SockAddr::Inet(Some(addr), port)) = sockaddr(&call.args) {
                    self.add_remote(id, addr, port, call.ts_ns, false);
                }
            }
            "dup" | "dup2" | "dup3" => {
                let Some((old, deco)) = first else { return };
                let Some(id) = self.object_for(old, deco.as_ref()) else { return };
                if let Some((new, _)) = parse_fd(&call.result) {
                    self.by_fd.insert(new, id);
                }
            }
            _ => {
                let Some((fd, deco)) = first else { return };
                if deco == Some(Decoration::NotSocket) {
                    self.by_fd.remove(&fd);
                    return;
                }
                let Some(id) = self.object_for(fd, deco.as_ref()) else { return };
                self.sight(id, call, deco.as_ref());
                self.apply_sockaddr(id, call);
                if name == "close" && !failed(&call.result) {
                    self.objects[id].socket.closed = true;
                    self.by_fd.remove(&fd);
                }
            }
        }
    }

    fn new_object(&mut self, family: Family) -> usize {
        let protocol = if let Family::Inet(p) = family { p } else { 0 };
        self.objects.push(Object {
            family,
            socket: AppSocket {
                protocol,
                inode: None,
                local: None,
                remotes: Vec::new(),
                first_ts_ns: i64::MAX,
                last_ts_ns: i64::MIN,
                pids: Vec::new(),
                syscalls: BTreeMap::new(),
                connect_ts_ns: None,
                closed: false,
            },
        });
        self.objects.len() - 1
    }

    /// The socket an fd holds, given what the call's decoration shows; a decoration that
    /// contradicts the fd's current socket means the fd was reused.
    fn object_for(&mut self, fd: i64, deco: Option<&Decoration>) -> Option<usize> {
        let current = self.by_fd.get(&fd).copied();
        let id = match deco {
            None => return current,
            Some(Decoration::Inode { family, inode }) => match self.by_inode.get(inode) {
                Some(&id) => id,
                None => match current {
                    Some(c)
                        if self.objects[c].socket.inode.is_none() && same_family(self.objects[c].family, *family) =>
                    {
                        c
                    }
                    _ => self.new_object(*family),
                },
            },
            Some(Decoration::Inet { protocol, local, remote }) => match current {
                Some(c) if self.compatible(c, *protocol, local, remote.as_ref()) => c,
                _ => self.new_object(Family::Inet(*protocol)),
            },
            Some(Decoration::Unix { .. }) => match current {
                Some(c) if self.objects[c].family == Family::Unix => c,
                _ => self.new_object(Family::Unix),
            },
            Some(Decoration::Other) => match current {
                Some(c) if self.objects[c].family == Family::Other => c,
                _ => self.new_object(Family::Other),
            },
            Some(Decoration::NotSocket) => return None,
        };
        self.by_fd.insert(fd, id);
        Some(id)
    }

    fn compatible(&self, id: usize, protocol: u8, local: &Endpoint, remote: Option<&(IpAddr, u16)>) -> bool {
        let o = &self.objects[id];
        let Family::Inet(p) = o.family else { return false };
        if p != 0 && p != protocol {
            return false;
        }
        let s = &o.socket;
        if s.local.is_some_and(|l| l.port != 0 && local.port != 0 && l.port != local.port) {
            return false;
        }
        // A TCP socket has one peer for life; a UDP socket may connect anew or send anywhere.
        if protocol == PROTOCOL_TCP
            && let (Some(r), Some(seen)) = (remote, s.remotes.first())
        {
            return (seen.addr, seen.port) == *r;
        }
        true
    }

    fn sight(&mut self, id: usize, call: &Call, deco: Option<&Decoration>) {
        let ts = call.ts_ns;
        {
            let o = &mut self.objects[id];
            let s = &mut o.socket;
            s.first_ts_ns = s.first_ts_ns.min(ts);
            s.last_ts_ns = s.last_ts_ns.max(ts);
            if let Some(pid) = call.pid
                && !s.pids.contains(&pid)
            {
                s.pids.push(pid);
            }
            *s.syscalls.entry(call.name.clone()).or_default() += 1;
            if call.name == "connect" && s.connect_ts_ns.is_none() {
                s.connect_ts_ns = Some(ts);
            }
        }
        match deco {
            Some(Decoration::Inode { family, inode }) => {
                let o = &mut self.objects[id];
                if let (Family::Inet(0), Family::Inet(p)) = (o.family, *family) {
                    o.family = Family::Inet(p);
                    o.socket.protocol = p;
                }
                o.socket.inode.get_or_insert(*inode);
                self.by_inode.insert(*inode, id);
            }
            Some(Decoration::Inet { protocol, local, remote }) => {
                let o = &mut self.objects[id];
                o.family = Family::Inet(*protocol);
                o.socket.protocol = *protocol;
                merge_local(&mut o.socket.local, *local);
                if let Some((addr, port)) = *remote {
                    self.add_remote(id, addr, port, ts, false);
                }
            }
            Some(Decoration::Unix { path }) => {
                self.table.unix_calls += 1;
                if let Some(p) = path {
                    *self.table.unix_paths.entry(p.clone()).or_default() += 1;
                }
            }
            Some(Decoration::Other) => self.table.other_socket_calls += 1,
            Some(Decoration::NotSocket) => {}
            None => match self.objects[id].family {
                Family::Unix => self.table.unix_calls += 1,
                Family::Other => self.table.other_socket_calls += 1,
                Family::Inet(_) => {}
            },
        }
    }

    fn apply_sockaddr(&mut self, id: usize, call: &Call) {
        let name = call.name.as_str();
        let Some(addr) = sockaddr(&call.args) else { return };
        // Output arguments are only filled in when the call succeeds.
        let output = matches!(name, "recvfrom" | "recvmsg" | "recvmmsg" | "getsockname" | "getpeername");
        if output && failed(&call.result) {
            return;
        }
        match addr {
            SockAddr::Unix(path) => {
                if self.objects[id].family == Family::Unix {
                    *self.table.unix_paths.entry(path).or_default() += 1;
                }
            }
            SockAddr::Inet(ip, port) => match name {
                "bind" | "getsockname" => merge_local(&mut self.objects[id].socket.local, Endpoint { addr: ip, port }),
                "connect" | "sendto" | "sendmsg" | "sendmmsg" | "recvfrom" | "recvmsg" | "recvmmsg" | "getpeername" => {
                    if let Some(ip) = ip {
                        let sends = matches!(name, "connect" | "sendto" | "sendmsg" | "sendmmsg");
                        self.add_remote(id, ip, port, call.ts_ns, sends);
                    }
                }
                _ => {}
            },
        }
    }

    fn add_remote(&mut self, id: usize, addr: IpAddr, port: u16, ts: i64, sends: bool) {
        if port == 0 {
            return;
        }
        let s = &mut self.objects[id].socket;
        match s.remotes.iter_mut().find(|r| r.addr == addr && r.port == port) {
            Some(r) => {
                r.first_ts_ns = r.first_ts_ns.min(ts);
                r.last_ts_ns = r.last_ts_ns.max(ts);
                if sends && r.first_send_ts_ns.is_none() {
                    r.first_send_ts_ns = Some(ts);
                }
            }
            None => s.remotes.push(Remote {
                addr,
                port,
                first_ts_ns: ts,
                last_ts_ns: ts,
                first_send_ts_ns: sends.then_some(ts),
            }),
        }
    }
}

fn same_family(a: Family, b: Family) -> bool {
    match (a, b) {
        (Family::Inet(x), Family::Inet(y)) => x == 0 || y == 0 || x == y,
        _ => a == b,
    }
}

/// A wildcard address does not overwrite a specific one; a port 0 does not overwrite a port.
fn merge_local(local: &mut Option<Endpoint>, seen: Endpoint) {
    match local {
        None => {
            if seen.port != 0 || seen.addr.is_some() {
                *local = Some(seen);
            }
        }
        Some(l) => {
            if seen.addr.is_some() {
                l.addr = seen.addr;
            }
            if seen.port != 0 {
                l.port = seen.port;
            }
        }
    }
}

fn family_of_socket_args(args: &str) -> Family {
    let inet = args.starts_with("AF_INET") || args.starts_with("PF_INET");
    if args.starts_with("AF_UNIX") || args.starts_with("AF_LOCAL") || args.starts_with("PF_UNIX") {
        Family::Unix
    } else if inet && args.contains("SOCK_STREAM") {
        Family::Inet(PROTOCOL_TCP)
    } else if inet && args.contains("SOCK_DGRAM") {
        Family::Inet(PROTOCOL_UDP)
    } else if inet {
        Family::Inet(0)
    } else {
        Family::Other
    }
}

/// `N` or `N<decoration>` at the start of `text` (an argument list or a result).
fn parse_fd(text: &str) -> Option<(i64, Option<Decoration>)> {
    let text = text.trim_start();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let fd: i64 = text[..digits].parse().ok()?;
    let rest = &text[digits..];
    let Some(inner) = rest.strip_prefix('<') else {
        // A bare number is an fd only if the argument ends there.
        return (rest.is_empty() || rest.starts_with([',', ')', ' '])).then_some((fd, None));
    };
    // Socket decorations end at the first `]>`; anything else (files, pipes) at `>`.
    let end = inner.find("]>").map(|i| i + 1).or_else(|| inner.find('>'))?;
    Some((fd, Some(parse_decoration(&inner[..end]))))
}

fn parse_decoration(text: &str) -> Decoration {
    let Some((kind, content)) = text.split_once(":[") else { return Decoration::NotSocket };
    let content = content.strip_suffix(']').unwrap_or(content);
    let inode = content.parse::<u64>().ok();
    let protocol = match kind {
        "TCP" | "TCPv6" => PROTOCOL_TCP,
        "UDP" | "UDPv6" => PROTOCOL_UDP,
        "socket" => {
            return inode.map_or(Decoration::Other, |inode| Decoration::Inode { family: Family::Inet(0), inode });
        }
        k if k.starts_with("UNIX") => {
            let path = content.split_once('"').and_then(|(_, p)| p.rsplit_once('"')).map(|(p, _)| p.to_owned());
            return Decoration::Unix { path };
        }
        "pipe" | "anon_inode" => return Decoration::NotSocket,
        _ => return Decoration::Other,
    };
    if let Some(inode) = inode {
        return Decoration::Inode { family: Family::Inet(protocol), inode };
    }
    let (local, remote) = match content.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (content, None),
    };
    let Some(local) = parse_endpoint(local) else { return Decoration::Other };
    let remote = remote.and_then(parse_endpoint).and_then(|r| Some((r.addr?, r.port))).filter(|r| r.1 != 0);
    Decoration::Inet { protocol, local, remote }
}

/// `1.2.3.4:443`, `[2001:db8::1]:443`, or the old unbracketed `2001:db8::1:443` (the port
/// is after the last colon).
fn parse_endpoint(text: &str) -> Option<Endpoint> {
    let (addr, port) = match text.strip_prefix('[') {
        Some(rest) => {
            let (a, p) = rest.split_once("]:")?;
            (a, p)
        }
        None => text.rsplit_once(':')?,
    };
    Some(Endpoint { addr: parse_addr(addr)?, port: port.parse().ok()? })
}

/// `Some(None)` for a wildcard address; IPv4-mapped IPv6 becomes IPv4.
fn parse_addr(text: &str) -> Option<Option<IpAddr>> {
    let ip: IpAddr = text.parse().ok()?;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    Some((!ip.is_unspecified()).then_some(ip))
}

/// The first socket address in an argument list: `{sa_family=AF_INET, sin_port=htons(443),
/// sin_addr=inet_addr("1.2.3.4")}`, `{sa_family=AF_INET6, sin6_port=htons(443), …
/// inet_pton(AF_INET6, "2001:db8::1", &sin6_addr) …}` or `{sa_family=AF_UNIX,
/// sun_path="/dev/socket/fwmarkd"}`. Data buffers are skipped, so a payload that happens
/// to read like a sockaddr is not taken for one.
fn sockaddr(args: &str) -> Option<SockAddr> {
    let text = without_data_strings(args);
    let at = text.find("sa_family=")?;
    let rest = &text[at + "sa_family=".len()..];
    let end = rest.find('}').unwrap_or(rest.len());
    let s = &rest[..end];
    if s.starts_with("AF_UNIX") || s.starts_with("AF_LOCAL") {
        let (_, p) = s.split_once("sun_path=")?;
        let p = p.trim_start_matches('@');
        let p = p.strip_prefix('"')?;
        return Some(SockAddr::Unix(p.split_once('"').map_or(p, |(p, _)| p).to_owned()));
    }
    if !s.starts_with("AF_INET") {
        return None;
    }
    let port = between(s, "_port=htons(", ")")?.trim().parse().ok()?;
    let addr = between(s, "inet_addr(\"", "\"")
        .or_else(|| between(s, "inet_pton(AF_INET6, \"", "\""))
        .or_else(|| between(s, "inet_pton(AF_INET, \"", "\""))?;
    Some(SockAddr::Inet(parse_addr(addr)?, port))
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let (_, rest) = text.split_once(start)?;
    rest.split_once(end).map(|(inside, _)| inside)
}

/// The argument text with the contents of data strings removed; the strings that spell an
/// address (after `inet_addr(`, `inet_pton(…, ` or `sun_path=`) are kept.
fn without_data_strings(args: &str) -> String {
    let mut out = String::with_capacity(args.len());
    let mut chars = args.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            out.push(c);
            continue;
        }
        let keep =
            ["inet_addr(", "AF_INET6, ", "AF_INET, ", "sun_path=", "sun_path=@"].iter().any(|m| out.ends_with(m));
        out.push('"');
        let mut escaped = false;
        for c in chars.by_ref() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                break;
            }
            if keep && !escaped && c != '\\' {
                out.push(c);
            }
        }
        out.push('"');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
    }

    #[test]
    fn decorations() {
        let (fd, d) = parse_fd("45<TCP:[192.168.2.17:57019->34.225.240.173:443]>, 16").unwrap();
        assert_eq!(fd, 45);
        assert_eq!(
            d,
            Some(Decoration::Inet {
                protocol: 6,
                local: Endpoint { addr: v4(192, 168, 2, 17), port: 57019 },
                remote: Some((v4(34, 225, 240, 173).unwrap(), 443)),
            })
        );
        let mapped = parse_fd("7<TCPv6:[[::ffff:10.0.0.2]:5000->[::ffff:1.2.3.4]:443]>").unwrap().1.unwrap();
        assert_eq!(
            mapped,
            Decoration::Inet {
                protocol: 6,
                local: Endpoint { addr: v4(10, 0, 0, 2), port: 5000 },
                remote: Some((v4(1, 2, 3, 4).unwrap(), 443)),
            }
        );
        let old = parse_fd("7<TCPv6:[2001:db8:1::1:44150->2001:db8:200::1:443]>").unwrap().1.unwrap();
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap().into();
        assert_eq!(
            old,
            Decoration::Inet {
                protocol: 6,
                local: Endpoint { addr: Some(v6("2001:db8:1::1")), port: 44150 },
                remote: Some((v6("2001:db8:200::1"), 443)),
            }
        );
        assert_eq!(
            parse_fd("9<UDP:[3141592]>").unwrap().1,
            Some(Decoration::Inode { family: Family::Inet(17), inode: 3141592 })
        );
        assert_eq!(
            parse_fd("3<UNIX-STREAM:[1234->5678,\"/dev/socket/fwmarkd\"]>").unwrap().1,
            Some(Decoration::Unix { path: Some("/dev/socket/fwmarkd".into()) })
        );
        assert_eq!(parse_fd("5</dev/null>").unwrap().1, Some(Decoration::NotSocket));
    }

    #[test]
    fn sockaddrs_ignore_payload_strings() {
        let args = r#"4<UDP:[0.0.0.0:28150]>, "sa_family=AF_INET, sin_port=htons(9)\"", 60, 0, {sa_family=AF_INET, sin_port=htons(529), sin_addr=inet_addr("91.108.8.8")}, 16"#;
        assert_eq!(sockaddr(args), Some(SockAddr::Inet(v4(91, 108, 8, 8), 529)));
        let v6 = r#"5, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:1.2.3.4", &sin6_addr), sin6_scope_id=0}, 28"#;
        assert_eq!(sockaddr(v6), Some(SockAddr::Inet(v4(1, 2, 3, 4), 443)));
    }
}
