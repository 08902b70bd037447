//! One file per subcommand.

pub mod demo;
pub mod monitor;
pub mod report;
pub mod sim;
pub mod versions;
