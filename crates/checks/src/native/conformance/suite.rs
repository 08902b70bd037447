//! The two e2e selections SCS asks for, and what each demands of a run: the certified
//! conformance selection (`cncf-k8s-conformance`, scs-0201) and the NetworkPolicy focus
//! (`kaas-networking-check`, scs-0219).

use std::collections::BTreeMap;
use std::time::Duration;

use scs_kaas_core::scope::Lifetime;

/// The shipped spec counts per minor version (`data/conformance-counts.yaml`).
pub const COUNTS: &str = include_str!("../../../data/conformance-counts.yaml");

/// Which selection of the e2e suite a check runs and judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// Every `[Conformance]` spec, nothing skipped (Sonobuoy's `certified-conformance`).
    Conformance,
    /// The specs whose name contains `NetworkPolicy`.
    Networking,
}

impl Suite {
    /// The testcase id.
    pub fn id(self) -> &'static str {
        match self {
            Suite::Conformance => "cncf-k8s-conformance",
            Suite::Networking => "kaas-networking-check",
        }
    }

    /// The rule a failing test violates.
    pub fn rule(self) -> &'static str {
        match self {
            Suite::Conformance => "CONF-01",
            Suite::Networking => "NW-01",
        }
    }

    /// `E2E_FOCUS` (a regex over spec names).
    pub fn focus(self) -> &'static str {
        match self {
            Suite::Conformance => r"\[Conformance\]",
            Suite::Networking => "NetworkPolicy",
        }
    }

    /// `E2E_SKIP`: nothing for certification; Sonobuoy's default skip for networking.
    pub fn skip(self) -> &'static str {
        match self {
            Suite::Conformance => "",
            Suite::Networking => r"\[Disruptive\]|NoExecuteTaintManager",
        }
    }

    /// How long a run may take unless `--timeout` says otherwise.
    pub fn default_deadline(self) -> Duration {
        match self {
            Suite::Conformance => Duration::from_secs(3 * 3600),
            Suite::Networking => Duration::from_secs(3600),
        }
    }

    /// How long results stay valid: the official scope's `lifetime` of the testcase.
    pub fn lifetime(self) -> Lifetime {
        match self {
            Suite::Conformance => Lifetime::Year,
            Suite::Networking => Lifetime::Month,
        }
    }
}

/// Published `[Conformance]` spec counts per minor version, keyed `v1.33`.
#[derive(Debug, Clone)]
pub struct Counts(BTreeMap<String, usize>);

impl Counts {
    /// The shipped table.
    pub fn shipped() -> Self {
        Counts(serde_yaml_ng::from_str(COUNTS).expect("the shipped conformance counts parse"))
    }

    /// The count for `major.minor`, if shipped.
    pub fn get(&self, major: u64, minor: u64) -> Option<usize> {
        self.0.get(&format!("v{major}.{minor}")).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_counts_cover_the_supported_minors() {
        let c = Counts::shipped();
        assert_eq!(c.get(1, 33), Some(419));
        assert_eq!(c.get(1, 35), Some(441));
        assert_eq!(c.get(1, 99), None);
    }
}
