//! The failures SCS tolerates (`okToFail`): regexes over test names, each with a reason.
//!
//! The shipped list (`data/ok-to-fail.yaml`) carries the reference's regexes with reasons in our
//! own words; `-a ok_to_fail=FILE` reads a file in the reference's format
//! (`Tests/kaas/scs-sonobuoy-config-v1.yaml`: `okToFail: [{regex, reason}]`) instead. As in the
//! reference, a regex matches anywhere in the name.

use regex::Regex;

/// The shipped list.
pub const SHIPPED: &str = include_str!("../../../data/ok-to-fail.yaml");

/// One tolerated failure pattern.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The pattern, matched anywhere in the test name.
    pub regex: Regex,
    /// Why the failure is tolerated.
    pub reason: String,
}

/// The okToFail list.
#[derive(Debug, Clone, Default)]
pub struct OkToFail {
    entries: Vec<Entry>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct File {
    #[serde(default)]
    ok_to_fail: Option<Vec<RawEntry>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    regex: String,
    reason: String,
}

impl OkToFail {
    /// Parse a file in the reference's format; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, String> {
        let file: File = serde_yaml_ng::from_str(text)
            .map_err(|e| format!("{origin} is not an okToFail file: {e}"))?;
        let raw = file.ok_to_fail.ok_or_else(|| {
            format!(
                "{origin} has no `okToFail:` list; expected `okToFail: [{{regex: …, reason: …}}]`"
            )
        })?;
        let entries = raw
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                if e.regex.trim().is_empty() || e.reason.trim().is_empty() {
                    return Err(format!(
                        "{origin}: okToFail entry {} needs a non-empty regex and reason",
                        i + 1
                    ));
                }
                let regex = Regex::new(&e.regex).map_err(|err| {
                    format!(
                        "{origin}: okToFail entry {} has an invalid regex {:?}: {err}",
                        i + 1,
                        e.regex
                    )
                })?;
                Ok(Entry {
                    regex,
                    reason: e.reason,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(OkToFail { entries })
    }

    /// The shipped list.
    pub fn shipped() -> Self {
        Self::parse(SHIPPED, "the shipped okToFail list").expect("the shipped list parses")
    }

    /// The shipped list, or the file `-a ok_to_fail=` names.
    pub fn from_arg(path: Option<&str>) -> Result<Self, String> {
        match path {
            None => Ok(Self::shipped()),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    format!("ok_to_fail={p}: cannot read it ({e}); give a readable file in the okToFail format of the SCS reference")
                })?;
                Self::parse(&text, &format!("ok_to_fail={p}"))
            }
        }
    }

    /// The reason `name` may fail, if it may.
    pub fn reason(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.regex.is_match(name))
            .map(|e| e.reason.as_str())
    }

    /// How many patterns the list holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_list_has_the_reference_regexes_with_links() {
        let list = OkToFail::shipped();
        assert_eq!(list.len(), 9);
        let name = "[sig-network] Netpol NetworkPolicy between server and client should allow egress access to server in CIDR block [Feature:NetworkPolicy]";
        assert!(
            list.reason(name)
                .unwrap()
                .contains("cilium/cilium/issues/9209")
        );
        assert!(
            list.reason("[sig-network] Services should serve a basic endpoint")
                .is_none()
        );
    }

    #[test]
    fn reads_the_reference_format_and_rejects_bad_files() {
        let reference =
            "okToFail:\n- regex: Feature:SCTPConnectivity\n  reason: SCTP is optional\n";
        let list = OkToFail::parse(reference, "f").unwrap();
        assert_eq!(
            list.reason("x [Feature:SCTPConnectivity] y"),
            Some("SCTP is optional")
        );
        let err = OkToFail::parse("{}\n", "f").unwrap_err();
        assert!(err.contains("has no `okToFail:` list"), "{err}");
        let err = OkToFail::parse("something: else\n", "f").unwrap_err();
        assert!(err.contains("unknown field `something`"), "{err}");
        let err = OkToFail::parse("okToFail:\n- regex: x\n  reason: ''\n", "f").unwrap_err();
        assert!(err.contains("needs a non-empty regex and reason"), "{err}");
        let err = OkToFail::parse("okToFail:\n- regex: '('\n  reason: r\n", "f").unwrap_err();
        assert!(err.contains("entry 1 has an invalid regex"), "{err}");
        let err = OkToFail::from_arg(Some("/nonexistent/ok.yaml")).unwrap_err();
        assert!(
            err.starts_with("ok_to_fail=/nonexistent/ok.yaml: cannot read it"),
            "{err}"
        );
    }
}
