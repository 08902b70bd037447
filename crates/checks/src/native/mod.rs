//! One module per native check. Each file holds the check's gatherer, its pure judge, and tests.

pub mod node_distribution;
pub mod paged;
pub mod version_policy;
