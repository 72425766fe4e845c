//! Bi-directional flows: the canonical key, the per-flow record with its per-packet
//! columns, and the table that assigns packets to flows and ends them.

pub mod batch;
pub mod config;
pub mod fragments;
pub mod key;
mod open;
pub mod packet;
mod prefetch;
pub mod record;
pub mod shard;
pub mod sharded;
pub mod spill;
pub mod table;

pub use batch::{FlowBatch, FlowRow};
pub use config::{FlowConfig, PacketLimit};
pub use key::{Direction, FlowKey};
pub use record::{EndReason, Flow};
pub use sharded::ShardedTable;
pub use table::FlowTable;
