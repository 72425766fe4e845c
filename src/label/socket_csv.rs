//! The app's socket table as CSV, for auditing a session: one line per socket and peer
//! (a socket without a peer gets one line with the peer columns empty).

use std::io::{self, Write};

use flowmine_core::label::sockets::{PROTOCOL_TCP, SocketTable};

pub const HEADER: &str =
    "protocol,inode,local_ip,local_port,remote_ip,remote_port,first_ts_ns,last_ts_ns,pids,syscalls,closed,flows";

/// Writes the table; `flows[i]` is the number of flows socket `i` labelled. Times are the
/// phone's clock, as in the log.
pub fn write_socket_table(out: &mut impl Write, table: &SocketTable, flows: &[usize]) -> io::Result<()> {
    writeln!(out, "{HEADER}")?;
    for (i, s) in table.sockets.iter().enumerate() {
        let protocol = if s.protocol == PROTOCOL_TCP { "tcp" } else { "udp" };
        let inode = s.inode.map(|n| n.to_string()).unwrap_or_default();
        let local_ip = s.local.and_then(|l| l.addr).map(|a| a.to_string()).unwrap_or_default();
        let local_port = s.local.map(|l| l.port.to_string()).unwrap_or_default();
        let pids: Vec<String> = s.pids.iter().map(u32::to_string).collect();
        let calls: Vec<String> = s.syscalls.iter().map(|(name, n)| format!("{name}={n}")).collect();
        let peers: Vec<(String, String)> = if s.remotes.is_empty() {
            vec![(String::new(), String::new())]
        } else {
            s.remotes.iter().map(|r| (r.addr.to_string(), r.port.to_string())).collect()
        };
        for (remote_ip, remote_port) in peers {
            writeln!(
                out,
                "{protocol},{inode},{local_ip},{local_port},{remote_ip},{remote_port},{},{},{},{},{},{}",
                s.first_ts_ns,
                s.last_ts_ns,
                pids.join(";"),
                calls.join(";"),
                s.closed,
                flows.get(i).copied().unwrap_or(0)
            )?;
        }
    }
    Ok(())
}
