//! Pure domain logic of scs-kaas: no I/O lives here.
//!
//! # Overview
//! - [`finding`]: the outcome vocabulary every check speaks (status, severity, findings).
//! - [`signature`]: SSH signatures over reports and the monitor's upload framing.
//!
//! Everything time-dependent takes "now" as an argument so tests can pin it.

pub mod finding;
pub mod signature;
