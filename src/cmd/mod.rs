//! One module per subcommand.

pub mod evaluate;
pub mod features;
pub mod flows;
pub mod label;
pub mod mirage;
pub mod predict;
pub mod slice;

/// Something failed; nothing usable was written.
pub const EXIT_FAILED: u8 = 1;
/// Complete, but some input could not be used (damaged, or an unsupported link type).
pub const EXIT_DAMAGED_INPUT: u8 = 3;
