//! The native checks of scs-kaas and the machinery that runs them.
//!
//! # Overview
//! - [`check`]: the one small [`Check`] trait every check implements, and its [`CheckContext`].
//! - [`registry`]: the list of every native check, by id. Start here to find a check.
//! - [`native`]: one file per check.
//! - [`runner`]: plans a scope run and executes native checks and scope programs under deadlines.
//!
//! A check is split into *gather* (I/O against the cluster) and *judge* (a pure function of what
//! was gathered, the release data and "now"), so judges are tested with tables of fixtures.

pub mod check;
pub mod kubeconfig;
pub mod native;
pub mod probe;
pub mod progress;
pub mod registry;
pub mod release_data;
pub mod release_refresh;
pub mod runner;
pub mod transport;

pub use check::{Access, AssignmentDoc, Check, CheckContext, Mode, RuleDoc};
