//! Technical-preview gating and `.x` resolution (TP-01, TP-02; CHECKS.md §3.1).
//!
//! Provisioning scripts ask for `v1.35.x` ("the latest patch") or a concrete version. The
//! reference scripts resolved `.x` from a stale static table and fell back to `.0` for unknown
//! minors, and a version without its leading `v` slipped past the preview gate. Here `.x` is the
//! newest GA patch known in the release data (an error if there is none), `1.35.2` and `v1.35.2`
//! are the same request, and a preview branch needs `--allow-preview-versions`.

use serde::{Deserialize, Serialize};

use crate::k8s_version::{Branch, K8sVersion};
use crate::release::{ReleaseDb, utc_date};

/// A provider's catalogue: which branches it offers, which are previews, optional pinned patches.
///
/// Minimal form: `branches: [{branch: "1.35"}, {branch: "1.36", preview: true}]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Offered branches.
    pub branches: Vec<CatalogBranch>,
}

/// One offered branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogBranch {
    /// The branch, e.g. `"1.35"`.
    pub branch: Branch,
    /// Offered only as a technical preview.
    #[serde(default)]
    pub preview: bool,
    /// Patches the provider has tested; when given, only these are offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<K8sVersion>,
}

impl Catalog {
    /// Parse a catalogue from YAML; errors name the problem and the expected form.
    pub fn from_yaml(text: &str) -> Result<Catalog, String> {
        crate::yaml_depth::check(text, "catalogue").map_err(|e| e.to_string())?;
        let catalog: Catalog = serde_yaml_ng::from_str(text).map_err(|e| {
            format!(
                "{e} (expected e.g. `branches: [{{branch: \"1.35\"}}, {{branch: \"1.36\", preview: true}}]`)"
            )
        })?;
        for b in &catalog.branches {
            if let Some(p) = b.patches.iter().find(|p| p.branch() != b.branch) {
                return Err(format!(
                    "branch {}: pinned patch {p} belongs to branch {}",
                    b.branch,
                    p.branch()
                ));
            }
        }
        Ok(catalog)
    }

    fn entry(&self, branch: Branch) -> Option<&CatalogBranch> {
        self.branches.iter().find(|b| b.branch == branch)
    }
}

/// A successful resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// What was asked for, as given.
    pub requested: String,
    /// The concrete version to provision.
    pub version: K8sVersion,
    /// Whether it is a technical preview (allowed by the flag).
    pub preview: bool,
    /// Remarks worth showing (e.g. a pinned patch older than upstream's newest).
    pub notes: Vec<String>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The request is not a version (bad input).
    #[error(
        "`{0}` is not a version request: use vMAJOR.MINOR.x (latest patch) or vMAJOR.MINOR.PATCH, e.g. v1.35.x or v1.35.2"
    )]
    Invalid(String),
    /// A preview version without the opt-in flag.
    #[error("{version} is a technical preview: pass --allow-preview-versions to use it ({reason})")]
    Preview {
        /// The version (or branch) asked for.
        version: String,
        /// Why it counts as preview.
        reason: String,
    },
    /// The version is not offered, end-of-life or unknown.
    #[error("{message}; {range}")]
    Unsupported {
        /// What is wrong.
        message: String,
        /// The supported range, named so the user can pick.
        range: String,
    },
}

/// Resolve a version request as of `now`.
pub fn resolve(
    request: &str,
    catalog: Option<&Catalog>,
    db: &ReleaseDb,
    allow_preview: bool,
    now: jiff::Timestamp,
) -> Result<Resolved, ResolveError> {
    let today = utc_date(now);
    let trimmed = request.trim();
    if trimmed.is_empty() {
        return Err(ResolveError::Invalid(request.to_string()));
    }
    // Normalise: `1.35.2` and `v1.35.2` are the same request.
    let normalised = if trimmed.starts_with('v') {
        trimmed.to_string()
    } else {
        format!("v{trimmed}")
    };
    let (branch, exact) = match normalised
        .strip_suffix(".x")
        .or_else(|| normalised.strip_suffix(".X"))
    {
        Some(prefix) => (
            prefix
                .parse::<Branch>()
                .map_err(|_| ResolveError::Invalid(request.to_string()))?,
            None,
        ),
        None => {
            let v = K8sVersion::parse(&normalised)
                .map_err(|_| ResolveError::Invalid(request.to_string()))?;
            (v.branch(), Some(v))
        }
    };
    let infos = db.branch_infos(now);
    let supported: Vec<Branch> = infos
        .iter()
        .filter(|i| i.status.is_supported())
        .map(|i| i.branch)
        .collect();
    let range = match catalog {
        Some(c) => {
            let ga: Vec<_> = c
                .branches
                .iter()
                .filter(|b| !b.preview)
                .map(|b| b.branch.to_string())
                .collect();
            let pv: Vec<_> = c
                .branches
                .iter()
                .filter(|b| b.preview)
                .map(|b| b.branch.to_string())
                .collect();
            format!(
                "offered branches: {}{}",
                if ga.is_empty() {
                    "none".to_string()
                } else {
                    ga.join(", ")
                },
                if pv.is_empty() {
                    String::new()
                } else {
                    format!(" (preview: {})", pv.join(", "))
                }
            )
        }
        None => match (supported.last(), supported.first()) {
            (Some(lo), Some(hi)) => format!(
                "supported upstream branches on {today}: {lo} to {hi} (release data as of {})",
                db.data.as_of
            ),
            _ => format!(
                "the release data (as of {}) lists no supported branch",
                db.data.as_of
            ),
        },
    };
    let unsupported = |message: String| ResolveError::Unsupported {
        message,
        range: range.clone(),
    };

    // TP-02: preview gate, on the normalised form.
    let entry = catalog.and_then(|c| c.entry(branch));
    if catalog.is_some() && entry.is_none() {
        return Err(unsupported(format!("branch {branch} is not offered")));
    }
    let mut preview_reason = None;
    if branch.major > 1 {
        preview_reason = Some(format!(
            "major version {} is always a preview",
            branch.major
        ));
    } else if entry.is_some_and(|e| e.preview) {
        preview_reason = Some(format!("the catalogue marks branch {branch} as preview"));
    } else if exact.as_ref().is_some_and(K8sVersion::is_prerelease) {
        preview_reason = Some("it is an upstream pre-release".to_string());
    }
    if let Some(reason) = &preview_reason
        && !allow_preview
    {
        return Err(ResolveError::Preview {
            version: exact
                .as_ref()
                .map_or(format!("v{branch}.x"), ToString::to_string),
            reason: reason.clone(),
        });
    }

    // Support window: EOL or unknown branches are refused.
    let info = infos.iter().find(|i| i.branch == branch);
    match info {
        Some(i) if !i.status.is_supported() => {
            let why = match i.end_of_life {
                Some(eol) => format!("branch {branch} reached its end of life on {eol}"),
                None => format!("branch {branch} has no known end-of-life date"),
            };
            return Err(unsupported(why));
        }
        None if preview_reason.is_none() => {
            return Err(unsupported(format!(
                "branch {branch} has no GA release in the release data (as of {})",
                db.data.as_of
            )));
        }
        _ => {}
    }

    let ga = db.ga_releases(branch, today);
    let mut notes = Vec::new();
    let pinned = entry.map(|e| e.patches.as_slice()).unwrap_or_default();
    let version = match exact {
        Some(v) if v.is_prerelease() => v.upstream(),
        Some(v) => {
            let v = v.upstream();
            if !ga.iter().any(|(r, _)| *r == v) {
                let known = match (ga.first(), ga.last()) {
                    (Some(a), Some(b)) => {
                        format!("known GA patches of {branch}: {} to {}", a.0, b.0)
                    }
                    _ => format!("no GA patch of {branch} is known"),
                };
                return Err(unsupported(format!(
                    "{v} is not a known GA release ({known})"
                )));
            }
            if !pinned.is_empty() && !pinned.contains(&v) {
                return Err(unsupported(format!(
                    "{v} is not among the pinned patches of {branch} ({})",
                    pinned
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            v
        }
        None => {
            // TP-01: newest GA patch; never a silent `.0`.
            let Some((latest, _)) = ga.last() else {
                return Err(unsupported(format!(
                    "branch {branch} has no GA release yet (release data as of {}), so v{branch}.x cannot be resolved",
                    db.data.as_of
                )));
            };
            match pinned
                .iter()
                .filter(|p| ga.iter().any(|(r, _)| r == *p))
                .max()
            {
                Some(p) => {
                    if p < latest {
                        notes.push(format!(
                            "the catalogue pins {p}; upstream's newest patch of {branch} is {latest}"
                        ));
                    }
                    p.upstream()
                }
                None if !pinned.is_empty() => {
                    return Err(unsupported(format!(
                        "none of the pinned patches of {branch} is a known GA release"
                    )));
                }
                None => latest.clone(),
            }
        }
    };
    if db.staleness(now, "TP-01").is_some() {
        notes.push(format!(
            "the release data is {} days old: a newer patch may exist (run `scs-kaas versions refresh`)",
            db.age_days(now)
        ));
    }
    Ok(Resolved {
        requested: request.to_string(),
        version,
        preview: preview_reason.is_some(),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::snapshot;

    const NOW: &str = "2026-08-22T10:00:00Z";

    fn run(req: &str, catalog: Option<&str>, allow: bool) -> Result<Resolved, ResolveError> {
        let catalog = catalog.map(|c| Catalog::from_yaml(c).unwrap());
        resolve(
            req,
            catalog.as_ref(),
            &snapshot().unwrap(),
            allow,
            NOW.parse().unwrap(),
        )
    }

    const CATALOG: &str = r#"branches: [{branch: "1.35"}, {branch: "1.36", preview: true}]"#;

    #[test]
    fn x_resolves_to_newest_ga_patch() {
        assert_eq!(
            run("v1.35.x", None, false).unwrap().version.to_string(),
            "v1.35.8"
        );
        assert_eq!(
            run("1.34.x", None, false).unwrap().version.to_string(),
            "v1.34.11"
        );
    }

    #[test]
    fn with_and_without_v_are_alike_for_the_gate() {
        for req in ["v1.36.2", "1.36.2", "v1.36.x", "1.36.x"] {
            let err = run(req, Some(CATALOG), false).unwrap_err();
            assert!(matches!(err, ResolveError::Preview { .. }), "{req}: {err}");
            assert!(
                err.to_string().contains("--allow-preview-versions"),
                "{err}"
            );
            let ok = run(req, Some(CATALOG), true).unwrap();
            assert!(ok.preview);
        }
        assert_eq!(
            run("1.35.2", Some(CATALOG), false)
                .unwrap()
                .version
                .to_string(),
            "v1.35.2"
        );
    }

    #[test]
    fn eol_unknown_and_unoffered_name_the_range() {
        let err = run("v1.33.x", None, false).unwrap_err().to_string();
        assert!(
            err.contains("reached its end of life on 2026-06-28"),
            "{err}"
        );
        assert!(
            err.contains("supported upstream branches on 2026-08-22: 1.34 to 1.36"),
            "{err}"
        );
        let err = run("v1.37.x", None, false).unwrap_err().to_string();
        assert!(err.contains("no GA release"), "{err}");
        let err = run("v1.34.x", Some(CATALOG), false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("branch 1.34 is not offered; offered branches: 1.35 (preview: 1.36)"),
            "{err}"
        );
        let err = run("v1.35.99", None, false).unwrap_err().to_string();
        assert!(
            err.contains(
                "v1.35.99 is not a known GA release (known GA patches of 1.35: v1.35.0 to v1.35.8)"
            ),
            "{err}"
        );
    }

    #[test]
    fn major_two_and_prereleases_are_previews() {
        let err = run("v2.0.x", None, false).unwrap_err().to_string();
        assert!(err.contains("major version 2 is always a preview"), "{err}");
        let err = run("v1.37.0-rc.0", None, false).unwrap_err().to_string();
        assert!(err.contains("pre-release"), "{err}");
    }

    #[test]
    fn pinned_patches_limit_the_choice() {
        let cat = r#"branches: [{branch: "1.35", patches: [v1.35.6, "1.35.7"]}]"#;
        let r = run("v1.35.x", Some(cat), false).unwrap();
        assert_eq!(r.version.to_string(), "v1.35.7");
        assert!(r.notes[0].contains("upstream's newest patch of 1.35 is v1.35.8"));
        let err = run("v1.35.8", Some(cat), false).unwrap_err().to_string();
        assert!(err.contains("not among the pinned patches"), "{err}");
    }

    #[test]
    fn bad_input_is_invalid() {
        for req in ["", "latest", "v1.35", "v1.x", "vv1.35.2"] {
            assert!(
                matches!(run(req, None, false), Err(ResolveError::Invalid(_))),
                "{req}"
            );
        }
        let err = Catalog::from_yaml("branches: [{branch: \"1.35\", previw: true}]").unwrap_err();
        assert!(err.contains("previw"), "{err}");
        let err =
            Catalog::from_yaml("branches: [{branch: \"1.35\", patches: [v1.34.1]}]").unwrap_err();
        assert!(err.contains("belongs to branch 1.34"), "{err}");
    }
}
