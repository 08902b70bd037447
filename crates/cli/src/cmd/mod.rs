//! One file per subcommand.

pub mod check;
pub mod check_assign;
pub mod check_render;
pub mod checks;
pub mod cleanup;
pub mod demo;
pub mod interrupt;
pub mod monitor;
pub mod passphrase;
pub mod report;
pub mod report_scope;
pub mod scope;
pub mod sim;
pub mod sim_generate;
pub mod versions;
