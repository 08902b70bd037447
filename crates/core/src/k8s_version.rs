//! Kubernetes version strings as clusters, vendors and upstream write them.
//!
//! Clusters report `gitVersion`s such as `v1.35.2`, `v1.35.2+k3s1`, `v1.30.2-gke.1` or
//! `v1.31.1-eks-a737599`; upstream tags pre-releases as `v1.36.0-rc.0`. The reference scripts
//! aborted on vendor suffixes with `-` and mis-read pre-releases; here a suffix is a pre-release
//! only when it starts with `alpha`, `beta` or `rc`, and everything else is a vendor build of
//! the same upstream release.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a version string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The string is not `[v]MAJOR.MINOR.PATCH` with an optional suffix.
    #[error(
        "`{0}` is not a Kubernetes version: expected vMAJOR.MINOR.PATCH such as v1.35.2 (vendor suffixes like +k3s1 or -gke.100 are fine)"
    )]
    Malformed(String),
    /// The string is not `[v]MAJOR.MINOR`.
    #[error("`{0}` is not a Kubernetes branch: expected MAJOR.MINOR such as 1.35")]
    MalformedBranch(String),
}

/// A Kubernetes minor release line, e.g. `1.35`: the unit of support and end-of-life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Branch {
    /// Major version (1 for every Kubernetes release so far).
    pub major: u64,
    /// Minor version.
    pub minor: u64,
}

impl Branch {
    /// The branch `major.minor`.
    pub const fn new(major: u64, minor: u64) -> Self {
        Branch { major, minor }
    }

    /// The next minor of the same major (used to close `X.Y.x` ranges).
    pub fn next(self) -> Branch {
        Branch::new(self.major, self.minor + 1)
    }

    /// How many minors `self` is behind `other` within the same major (negative when ahead).
    ///
    /// Different majors are treated as far apart (±1000) so skew checks flag them.
    pub fn minors_behind(self, other: Branch) -> i64 {
        if self.major != other.major {
            return if self.major < other.major {
                1000
            } else {
                -1000
            };
        }
        other.minor as i64 - self.minor as i64
    }
}

impl fmt::Display for Branch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for Branch {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        let body = trimmed.strip_prefix('v').unwrap_or(trimmed);
        let mut parts = body.split('.');
        let (Some(major), Some(minor), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(VersionError::MalformedBranch(s.to_string()));
        };
        match (parse_number(major), parse_number(minor)) {
            (Some(major), Some(minor)) => Ok(Branch::new(major, minor)),
            _ => Err(VersionError::MalformedBranch(s.to_string())),
        }
    }
}

impl Serialize for Branch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Branch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A parsed Kubernetes version: the upstream release it is, plus what a vendor appended.
///
/// Equality and order ignore the vendor suffix (`v1.35.2+k3s1` is upstream `v1.35.2`);
/// a pre-release sorts below its release (`v1.36.0-rc.0 < v1.36.0`).
#[derive(Debug, Clone)]
pub struct K8sVersion {
    /// Major version.
    pub major: u64,
    /// Minor version.
    pub minor: u64,
    /// Patch version.
    pub patch: u64,
    /// Upstream pre-release identifier (`alpha.1`, `beta.0`, `rc.2`), if this is one.
    pub pre: Option<semver::Prerelease>,
    /// Vendor or build suffix as written (`+k3s1`, `-gke.100`, `-eks-abc`), if any.
    pub vendor: Option<String>,
}

impl K8sVersion {
    /// The GA version `major.minor.patch`.
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        K8sVersion {
            major,
            minor,
            patch,
            pre: None,
            vendor: None,
        }
    }

    /// Parse `v1.35.2`, `1.35.2`, `v1.35.2+k3s1`, `v1.30.2-gke.1`, `v1.36.0-rc.0`, ...
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        let malformed = || VersionError::Malformed(s.to_string());
        let trimmed = s.trim();
        let body = trimmed.strip_prefix('v').unwrap_or(trimmed);
        // Build metadata never changes which upstream release this is.
        let (body, build) = match body.split_once('+') {
            Some((b, meta)) => (b, Some(meta)),
            None => (body, None),
        };
        if build.is_some_and(|m| m.is_empty() || !m.chars().all(is_suffix_char)) {
            return Err(malformed());
        }
        let (core, suffix) = match body.split_once('-') {
            Some((c, rest)) => (c, Some(rest)),
            None => (body, None),
        };
        let mut parts = core.split('.');
        let (Some(major), Some(minor), Some(patch), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let (Some(major), Some(minor), Some(patch)) = (
            parse_number(major),
            parse_number(minor),
            parse_number(patch),
        ) else {
            return Err(malformed());
        };
        let mut version = K8sVersion::new(major, minor, patch);
        if let Some(suffix) = suffix {
            if suffix.is_empty() || !suffix.chars().all(is_suffix_char) {
                return Err(malformed());
            }
            if is_upstream_prerelease(suffix) {
                version.pre = Some(semver::Prerelease::new(suffix).map_err(|_| malformed())?);
            } else {
                version.vendor = Some(format!("-{suffix}"));
            }
        }
        if let Some(meta) = build {
            let vendor = version.vendor.take().unwrap_or_default();
            version.vendor = Some(format!("{vendor}+{meta}"));
        }
        Ok(version)
    }

    /// The minor release line this version belongs to.
    pub fn branch(&self) -> Branch {
        Branch::new(self.major, self.minor)
    }

    /// Whether this is an upstream pre-release (`-alpha`, `-beta`, `-rc`).
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some()
    }

    /// The upstream release without any vendor suffix, e.g. `v1.35.2` for `v1.35.2+k3s1`.
    pub fn upstream(&self) -> K8sVersion {
        K8sVersion {
            vendor: None,
            ..self.clone()
        }
    }

    /// The version as the cluster wrote it, normalised to a leading `v` (vendor suffix kept).
    pub fn full(&self) -> String {
        format!("{self}{}", self.vendor.as_deref().unwrap_or(""))
    }

    fn key(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

fn is_suffix_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '-'
}

fn is_upstream_prerelease(suffix: &str) -> bool {
    ["alpha", "beta", "rc"].iter().any(|tag| {
        suffix.strip_prefix(tag).is_some_and(|rest| {
            rest.is_empty() || rest.starts_with('.') || rest.bytes().all(|b| b.is_ascii_digit())
        })
    })
}

impl PartialEq for K8sVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for K8sVersion {}

impl PartialOrd for K8sVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for K8sVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key()
            .cmp(&other.key())
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

impl std::hash::Hash for K8sVersion {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
        self.pre
            .as_ref()
            .map(|p| p.as_str().to_string())
            .hash(state);
    }
}

/// Upstream form with a leading `v` and without vendor suffix: `v1.35.2`, `v1.36.0-rc.0`.
impl fmt::Display for K8sVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(pre) = &self.pre {
            write!(f, "-{pre}")?;
        }
        Ok(())
    }
}

impl FromStr for K8sVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        K8sVersion::parse(s)
    }
}

impl Serialize for K8sVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}", self.full()))
    }
}

impl<'de> Deserialize<'de> for K8sVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        K8sVersion::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_prefixed_alike() {
        assert_eq!(K8sVersion::parse("v1.35.2"), K8sVersion::parse("1.35.2"));
        let v = K8sVersion::parse(" v1.35.2 ").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (1, 35, 2));
        assert_eq!(v.to_string(), "v1.35.2");
        assert!(!v.is_prerelease());
    }

    #[test]
    fn vendor_suffixes_are_the_same_upstream_release() {
        for (raw, vendor) in [
            ("v1.35.2+k3s1", "+k3s1"),
            ("v1.30.2-gke.100", "-gke.100"),
            ("v1.31.1-eks-a737599", "-eks-a737599"),
            ("v1.30.2-gke.1+build.5", "-gke.1+build.5"),
        ] {
            let v = K8sVersion::parse(raw).unwrap();
            assert!(!v.is_prerelease(), "{raw}");
            assert_eq!(v.vendor.as_deref(), Some(vendor), "{raw}");
            assert_eq!(
                v.upstream().full(),
                format!("v{}.{}.{}", v.major, v.minor, v.patch)
            );
        }
        assert_eq!(
            K8sVersion::parse("v1.35.2+k3s1").unwrap(),
            K8sVersion::new(1, 35, 2)
        );
    }

    #[test]
    fn prereleases_sort_below_their_release() {
        let rc = K8sVersion::parse("v1.36.0-rc.0").unwrap();
        let alpha = K8sVersion::parse("v1.36.0-alpha.1").unwrap();
        let beta = K8sVersion::parse("1.36.0-beta").unwrap();
        assert!(rc.is_prerelease() && alpha.is_prerelease() && beta.is_prerelease());
        assert!(alpha < beta && beta < rc && rc < K8sVersion::new(1, 36, 0));
        assert!(rc > K8sVersion::new(1, 35, 9));
        assert_eq!(rc.to_string(), "v1.36.0-rc.0");
    }

    #[test]
    fn rejects_what_is_not_a_version() {
        for raw in [
            "",
            "v",
            "1.35",
            "v1.35.x",
            "v1.35.2.1",
            "latest",
            "v1.035.2",
            "v1.35.2-",
            "v1.35.2+",
            "v1.35.-1",
            "1.35.2 junk",
        ] {
            let err = K8sVersion::parse(raw).unwrap_err();
            assert!(
                err.to_string().contains("vMAJOR.MINOR.PATCH"),
                "{raw}: {err}"
            );
        }
    }

    #[test]
    fn branches_parse_and_compare() {
        let b: Branch = "v1.35".parse().unwrap();
        assert_eq!(b, Branch::new(1, 35));
        assert_eq!(b.to_string(), "1.35");
        assert_eq!(Branch::new(1, 32).minors_behind(b), 3);
        assert!("1.35.1".parse::<Branch>().is_err());
        assert!("1".parse::<Branch>().is_err());
    }

    #[test]
    fn serde_round_trips_full_form() {
        let v: K8sVersion = serde_json::from_str("\"1.30.2-gke.1\"").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"v1.30.2-gke.1\"");
    }
}
