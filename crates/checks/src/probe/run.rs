//! The identity of one probe run: its id, the check it belongs to, its namespace name and labels.
//!
//! Everything a run creates carries these labels, and cleanup selects by them only, so a run can
//! never touch an object it did not create.

use std::collections::BTreeMap;

/// Label every probe object carries; `scs-kaas cleanup` selects leftovers by it.
pub const MANAGED_BY_KEY: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_KEY`] on probe objects.
pub const MANAGED_BY_VALUE: &str = "scs-kaas";
/// Label naming the run that created an object; cleanup of one run selects by it.
pub const RUN_ID_KEY: &str = "scs-kaas.io/run-id";
/// Label naming the check that created an object, so leftovers can be attributed.
pub const CHECK_KEY: &str = "scs-kaas.io/check";
/// Annotation with the run's start time (RFC 3339), used by `cleanup --older-than`.
pub const STARTED_AT_KEY: &str = "scs-kaas.io/started-at";

/// The label selector matching everything any scs-kaas run created.
pub fn managed_selector() -> String {
    format!("{MANAGED_BY_KEY}={MANAGED_BY_VALUE}")
}

/// Why a run identity could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunError {
    /// The run id is not eight lowercase hex characters.
    #[error("run id {0:?} is not 8 lowercase hex characters")]
    BadRunId(String),
    /// The check id cannot be part of a namespace name.
    #[error(
        "check id {0:?} cannot form a namespace name (lowercase letters, digits and '-', at most 45 characters)"
    )]
    BadCheckId(String),
}

/// One probe run of one check: where its objects live and how they are labelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRun {
    run_id: String,
    check: String,
    started: jiff::Timestamp,
}

impl ProbeRun {
    /// A run identity; rejects ids that would not make valid, unique Kubernetes names.
    pub fn new(run_id: &str, check: &str, started: jiff::Timestamp) -> Result<Self, RunError> {
        let hex = run_id.len() == 8
            && run_id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return Err(RunError::BadRunId(run_id.to_string()));
        }
        // "scs-kaas-" (9) + check + "-" (1) + id (8) must fit the 63-character DNS label limit.
        let check_ok = !check.is_empty()
            && check.len() <= 45
            && check
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !check.starts_with('-')
            && !check.ends_with('-');
        if !check_ok {
            return Err(RunError::BadCheckId(check.to_string()));
        }
        Ok(ProbeRun {
            run_id: run_id.to_string(),
            check: check.to_string(),
            started,
        })
    }

    /// The eight hex characters of this run.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The check this run belongs to.
    pub fn check(&self) -> &str {
        &self.check
    }

    /// When the run started.
    pub fn started(&self) -> jiff::Timestamp {
        self.started
    }

    /// The run's own namespace: `scs-kaas-<check>-<id>`.
    pub fn namespace_name(&self) -> String {
        format!("scs-kaas-{}-{}", self.check, self.run_id)
    }

    /// Labels for every object the run creates.
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MANAGED_BY_KEY.to_string(), MANAGED_BY_VALUE.to_string()),
            (RUN_ID_KEY.to_string(), self.run_id.clone()),
            (CHECK_KEY.to_string(), self.check.clone()),
        ])
    }

    /// Annotations for every object the run creates (the start time).
    pub fn annotations(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(STARTED_AT_KEY.to_string(), self.started.to_string())])
    }

    /// The label selector matching exactly this run's objects of this check: checks of one
    /// `scs-kaas check` share the run id and run concurrently, so one check's cleanup must not
    /// take another's namespace away.
    pub fn selector(&self) -> String {
        format!(
            "{MANAGED_BY_KEY}={MANAGED_BY_VALUE},{RUN_ID_KEY}={},{CHECK_KEY}={}",
            self.run_id, self.check
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts() -> jiff::Timestamp {
        "2026-11-22T06:00:00Z".parse().unwrap()
    }

    #[test]
    fn names_labels_and_selector_carry_the_run_id() {
        let run = ProbeRun::new("0a1b2c3d", "default-storage-class-check", ts()).unwrap();
        assert_eq!(
            run.namespace_name(),
            "scs-kaas-default-storage-class-check-0a1b2c3d"
        );
        assert!(run.namespace_name().len() <= 63);
        let labels = run.labels();
        assert_eq!(labels[MANAGED_BY_KEY], "scs-kaas");
        assert_eq!(labels[RUN_ID_KEY], "0a1b2c3d");
        assert_eq!(labels[CHECK_KEY], "default-storage-class-check");
        assert_eq!(run.annotations()[STARTED_AT_KEY], "2026-11-22T06:00:00Z");
        assert_eq!(
            run.selector(),
            "app.kubernetes.io/managed-by=scs-kaas,scs-kaas.io/run-id=0a1b2c3d,scs-kaas.io/check=default-storage-class-check"
        );
    }

    #[test]
    fn rejects_ids_that_are_not_eight_lowercase_hex() {
        for bad in [
            "",
            "0a1b2c3",
            "0a1b2c3d4",
            "0A1B2C3D",
            "0a1b2c3g",
            "../../x",
        ] {
            assert_eq!(
                ProbeRun::new(bad, "x", ts()),
                Err(RunError::BadRunId(bad.to_string())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_check_ids_that_break_namespace_names() {
        let long = "a".repeat(46);
        for bad in [
            "",
            "Upper",
            "with_underscore",
            "-lead",
            "trail-",
            long.as_str(),
        ] {
            assert!(
                matches!(
                    ProbeRun::new("0a1b2c3d", bad, ts()),
                    Err(RunError::BadCheckId(_))
                ),
                "{bad:?}"
            );
        }
        let longest = "a".repeat(45);
        let run = ProbeRun::new("0a1b2c3d", &longest, ts()).unwrap();
        assert_eq!(run.namespace_name().len(), 63);
    }
}
