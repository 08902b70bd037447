//! The native runner: one hydrophone-style pod runs the conformance image.

use std::path::Path;

use scs_kaas_core::finding::{Finding, Outcome};
use scs_kaas_core::k8s_version::K8sVersion;

use super::judge::RESULTS_RULE;
use super::results::Evidence;
use super::suite::Suite;
use crate::check::{Access, CheckContext};
use crate::probe::image::{ImageSource, MIRROR_ARG};

/// How the suite runs: image, selection, parallelism.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// `-a conformance_image=`, if given.
    pub image: Option<String>,
    /// Where images come from (`-a image_mirror=`).
    pub mirror: ImageSource,
    /// `E2E_FOCUS`.
    pub focus: String,
    /// `E2E_SKIP`.
    pub skip: String,
    /// Parallel ginkgo processes (1 = serial).
    pub parallel: u32,
}

impl RunSettings {
    /// Parse the run assignments for `suite`.
    pub fn from_ctx(ctx: &CheckContext, suite: Suite) -> Result<Self, String> {
        let mirror = ImageSource::from_arg(ctx.arg(MIRROR_ARG)).map_err(|e| e.to_string())?;
        let image = match ctx.arg("conformance_image") {
            Some(s) if s.trim().is_empty() || s.chars().any(char::is_whitespace) => {
                return Err(format!(
                    "conformance_image={s:?} is not an image reference; give e.g. -a conformance_image=registry.example.com/conformance:v1.33.5"
                ));
            }
            other => other.map(str::to_string),
        };
        let regex = |key: &str, default: &str| -> Result<String, String> {
            match ctx.arg(key) {
                None => Ok(default.to_string()),
                Some(v) => regex::Regex::new(v).map(|_| v.to_string()).map_err(|e| {
                    format!("{key}={v:?} is not a regular expression ({e}); give e.g. -a {key}=NetworkPolicy")
                }),
            }
        };
        let parallel = match ctx.arg("e2e_parallel") {
            None => 1,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=64).contains(n))
                .ok_or_else(|| {
                    format!("e2e_parallel={v:?} is not a number of processes from 1 to 64; give e.g. -a e2e_parallel=4")
                })?,
        };
        Ok(RunSettings {
            image,
            mirror,
            focus: regex("e2e_focus", suite.focus())?,
            skip: regex("e2e_skip", suite.skip())?,
            parallel,
        })
    }
}

/// The rights the native runner needs.
pub fn access() -> Vec<Access> {
    let mut v = Vec::new();
    for a in crate::probe::guard::access() {
        if !v.contains(&a) {
            v.push(a);
        }
    }
    v
}

/// Run the suite in a pod; the evidence, or ABORT with the cause.
pub async fn run(
    ctx: &CheckContext,
    suite: Suite,
    settings: &RunSettings,
    cluster: &K8sVersion,
    dir: &Path,
    notes: &mut Vec<Finding>,
) -> Result<Evidence, Outcome> {
    let _ = (ctx, suite, settings, cluster, dir, notes);
    Err(Outcome::abort(
        RESULTS_RULE,
        "the native runner is not implemented yet",
    ))
}
