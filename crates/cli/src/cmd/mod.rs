//! One file per subcommand.

pub mod cleanup;
pub mod demo;
pub mod report;
pub mod sim;
pub mod versions;
