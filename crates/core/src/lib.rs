//! Pure domain logic of scs-kaas: no I/O lives here.
//!
//! # Overview
//! - [`finding`]: the outcome vocabulary every check speaks (status, severity, findings).
//! - [`signature`]: SSH signatures over reports and the monitor's upload framing.
//! - [`k8s_version`], [`release`], [`osv`], [`cvss`]: Kubernetes versions and upstream release data.
//! - [`version_policy`], [`offering`], [`preview`]: the scs-0210 judges and technical-preview gating.
//! - [`scope`]: SCS certificate scopes (testcases, versions, timeline) parsed with positions.
//! - [`report`]: the SCS report document, YAML/JSON in and out, and JUnit XML.
//! - [`verdict`]: PASS / FAIL / TENTATIVE per scope version and target.
//! - [`lifetime`]: how long a testcase result stays valid (SCS `add_period`).
//! - [`scorecard`]: how stored results become a verdict per subject and scope (monitor rules).
//!
//! - [`secret_file`]: the one writer of files holding secrets (0600, no symlinks, atomic).
//!
//! Everything time-dependent takes "now" as an argument so tests can pin it.

pub mod cvss;
pub mod finding;
pub mod input;
pub mod k8s_version;
pub mod lifetime;
pub mod offering;
pub mod osv;
pub mod preview;
pub mod release;
pub mod report;
pub mod scope;
pub mod scorecard;
pub mod secret_file;
pub mod signature;
pub mod verdict;
pub mod version_policy;
pub mod yaml_depth;
