//! CVSS base scores computed from the vector string, per the FIRST specification.
//!
//! The version policy calls a CVE *critical* at a base score of 8.0 or more, so the score must
//! be exact: it is computed from the record's own vector (v3.0 or v3.1) with the specification's
//! formulas and its `Roundup`, never guessed. CVSS v2.0 and v4.0 vectors are recognised but not
//! computed: they yield [`CvssError::Unsupported`], and callers report the score as unknown.
//!
//! Scores are kept in tenths ([`Score`]) so the 7.9 / 8.0 boundary is an integer comparison.

use std::collections::BTreeMap;
use std::fmt;

/// A CVSS base score in tenths: `Score(79)` is 7.9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Score(pub u8);

impl Score {
    /// The threshold at which scs-0210 calls a CVE critical.
    pub const CRITICAL: Score = Score(80);

    /// Whether the score reaches the critical threshold (>= 8.0).
    pub fn is_critical(self) -> bool {
        self >= Self::CRITICAL
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 / 10, self.0 % 10)
    }
}

/// Why no score could be computed from a vector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CvssError {
    /// A CVSS version this module does not compute (v2.0, v4.0): the score is unknown.
    #[error("CVSS {0} vectors are not computed by scs-kaas: the score is unknown")]
    Unsupported(String),
    /// The vector string is not a valid CVSS v3 base vector.
    #[error("`{vector}` is not a valid CVSS v3 base vector: {reason}")]
    Malformed {
        /// The vector as given.
        vector: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Compute the base score of a CVSS vector string such as `CVSS:3.1/AV:N/AC:L/...`.
pub fn base_score(vector: &str) -> Result<Score, CvssError> {
    let vector = vector.trim();
    let malformed = |reason: &str| CvssError::Malformed {
        vector: vector.to_string(),
        reason: reason.to_string(),
    };
    let mut parts = vector.split('/');
    let prefix = parts.next().unwrap_or_default();
    match prefix {
        "CVSS:3.0" | "CVSS:3.1" => {}
        "CVSS:4.0" => return Err(CvssError::Unsupported("v4.0".into())),
        "CVSS:2.0" => return Err(CvssError::Unsupported("v2.0".into())),
        // CVSS v2 vectors have no prefix and start with the access vector.
        p if p.starts_with("AV:") && vector.contains("Au:") => {
            return Err(CvssError::Unsupported("v2.0".into()));
        }
        _ => return Err(malformed("it must start with CVSS:3.0/ or CVSS:3.1/")),
    }
    let mut metrics = BTreeMap::new();
    for part in parts {
        let Some((key, value)) = part.split_once(':') else {
            return Err(malformed(&format!("`{part}` is not METRIC:VALUE")));
        };
        if metrics.insert(key, value).is_some() {
            return Err(malformed(&format!("metric {key} appears twice")));
        }
    }
    let get = |key: &str| {
        metrics
            .get(key)
            .copied()
            .ok_or_else(|| malformed(&format!("base metric {key} is missing")))
    };
    let bad = |key: &str, value: &str| malformed(&format!("{key}:{value} is not a valid value"));

    let scope_changed = match get("S")? {
        "U" => false,
        "C" => true,
        v => return Err(bad("S", v)),
    };
    let av = match get("AV")? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        v => return Err(bad("AV", v)),
    };
    let ac = match get("AC")? {
        "L" => 0.77,
        "H" => 0.44,
        v => return Err(bad("AC", v)),
    };
    let pr = match (get("PR")?, scope_changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        (v, _) => return Err(bad("PR", v)),
    };
    let ui = match get("UI")? {
        "N" => 0.85,
        "R" => 0.62,
        v => return Err(bad("UI", v)),
    };
    let cia = |key: &str| match get(key)? {
        "H" => Ok(0.56),
        "L" => Ok(0.22),
        "N" => Ok(0.0),
        v => Err(bad(key, v)),
    };
    let (c, i, a) = (cia("C")?, cia("I")?, cia("A")?);

    let iss: f64 = 1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a);
    let impact = if scope_changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Ok(Score(0));
    }
    let raw = if scope_changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Ok(Score(roundup_tenths(raw)))
}

/// The specification's `Roundup` (v3.1, Appendix A), returned in tenths.
///
/// v3.0 defines the same "smallest one-decimal number not below the input" but with a naive
/// float ceiling that misrounds values like 4.000000001; v3.1's integer form is the corrected
/// definition of the same function, so it is used for both versions.
fn roundup_tenths(value: f64) -> u8 {
    let int_input = (value * 100_000.0).round() as i64;
    let tenths = if int_input % 10_000 == 0 {
        int_input / 10_000
    } else {
        int_input / 10_000 + 1
    };
    tenths.clamp(0, 100) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(v: &str) -> String {
        base_score(v).unwrap().to_string()
    }

    /// Vectors of records in the shipped CVE data, with the base score their advisories published
    /// (Kubernetes security announcements / NVD CNA scores).
    #[test]
    fn matches_published_scores_of_kubernetes_cves() {
        for (cve, vector, published) in [
            (
                "CVE-2018-1002105",
                "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "9.8",
            ),
            (
                "CVE-2021-25741",
                "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
                "8.8",
            ),
            (
                "CVE-2023-5528",
                "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H",
                "7.2",
            ),
            (
                "CVE-2022-3172",
                "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:C/C:L/I:L/A:L",
                "5.1",
            ),
            (
                "CVE-2020-8559",
                "CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:H",
                "6.4",
            ),
            (
                "CVE-2020-8558",
                "CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:N",
                "5.4",
            ),
            (
                "CVE-2020-8555",
                "CVSS:3.0/AV:N/AC:H/PR:L/UI:N/S:C/C:H/I:N/A:N",
                "6.3",
            ),
            (
                "CVE-2024-3177",
                "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:L/I:N/A:N",
                "2.7",
            ),
            (
                "CVE-2019-11253",
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
                "7.5",
            ),
            (
                "CVE-2023-2431",
                "CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:N",
                "3.4",
            ),
        ] {
            assert_eq!(score(vector), published, "{cve}");
        }
    }

    #[test]
    fn critical_boundary_is_exactly_eight() {
        let below = base_score("CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:C/C:H/I:H/A:L").unwrap();
        let at = base_score("CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!(
            (below.to_string(), at.to_string()),
            ("7.9".into(), "8.0".into())
        );
        assert!(!below.is_critical());
        assert!(at.is_critical());
    }

    #[test]
    fn no_impact_scores_zero_and_order_of_metrics_does_not_matter() {
        assert_eq!(score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"), "0.0");
        assert_eq!(score("CVSS:3.1/C:H/I:H/A:H/AV:N/AC:L/PR:N/UI:N/S:U"), "9.8");
        // Scope changed caps at 10.0.
        assert_eq!(
            score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"),
            "10.0"
        );
    }

    #[test]
    fn roundup_follows_the_specification() {
        assert_eq!(roundup_tenths(4.0), 40);
        assert_eq!(roundup_tenths(4.02), 41);
        assert_eq!(roundup_tenths(4.000_000_1), 40);
    }

    #[test]
    fn other_versions_are_unknown_not_guessed() {
        assert_eq!(
            base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
            Err(CvssError::Unsupported("v4.0".into()))
        );
        assert_eq!(
            base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P"),
            Err(CvssError::Unsupported("v2.0".into()))
        );
    }

    #[test]
    fn malformed_vectors_name_the_problem() {
        for (vector, needle) in [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H", "A is missing"),
            ("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "AV:X"),
            ("AV:N/AC:L", "must start with"),
            ("CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "twice"),
        ] {
            let err = base_score(vector).unwrap_err().to_string();
            assert!(err.contains(needle), "{vector}: {err}");
        }
    }
}
