//! Probe hygiene shared by every active check (CHECKS.md §0.4, issue 5 item 5).
//!
//! # Overview
//! - [`run`]: one run id, the namespace `scs-kaas-<check>-<id>` and the labels every object carries.
//! - [`image`]: digest-pinned `registry.k8s.io` images with a mirror prefix (`-a image_mirror=`).
//! - [`pod`]: probe pods that satisfy the PSA `restricted` profile.
//! - [`wait`]: waiting with watches and deadlines, never fixed sleeps.
//! - [`guard`]: cleanup on success, failure, timeout and Ctrl-C; leftovers become findings.
//! - [`hold`]: what keeps a deleted namespace `Terminating` (finalizers nobody releases) and the fix.
//! - [`access`]: which rights the user lacks (SelfSubjectAccessReview); checks run by the
//!   runner get this as `CheckContext::denied` instead.
//! - [`sweep`]: leftovers of earlier runs, for `scs-kaas cleanup`.

pub mod access;
pub mod guard;
pub mod hold;
pub mod image;
pub mod pod;
pub mod run;
pub mod sweep;
pub mod wait;

pub use guard::{ProbeGuard, finish_detached_cleanups};
pub use run::ProbeRun;
