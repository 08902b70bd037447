//! One file per subcommand.

pub mod demo;
pub mod report;
pub mod sim;
pub mod versions;
