//! Ground truth from strace: an app's network syscalls, logged on the phone, tell which of
//! the capture's flows are the app's.
//!
//! [`strace`] turns log lines into syscalls, [`sockets`] turns syscalls into the app's socket
//! table, [`clock`] estimates the phone-to-capture clock offset, [`matcher`] gives flows the
//! app label, [`replay`] walks the capture again attributing packets to flow rows, which
//! [`filter`] uses to write the labelled flows' packets and [`dns`] to read the answers of
//! DNS flows. The grammar accepted is in `formats/strace.md`.

pub mod clock;
pub mod dns;
pub mod filter;
pub mod matcher;
pub mod replay;
pub mod sockets;
pub mod strace;

pub use matcher::{MatchConfig, match_flows};
pub use sockets::{AppSocket, Endpoint, SocketTable};
pub use strace::{Clock, StraceLog};
