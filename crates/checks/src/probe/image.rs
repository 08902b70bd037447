//! The container images probe pods run: pinned by digest, from `registry.k8s.io`, and
//! relocatable to a mirror for air-gapped clusters (`-a image_mirror=registry.example.com/mirror`).

/// The assignment that sets the mirror prefix.
pub const MIRROR_ARG: &str = "image_mirror";

/// The registry probe images come from unless a mirror is configured.
pub const UPSTREAM_REGISTRY: &str = "registry.k8s.io";

/// `agnhost` 2.53: the Kubernetes e2e test image (has `/bin/sh`, `netexec`, `pause`).
///
/// The digest is the multi-arch index digest that nodes report as the image ID for `agnhost:2.53`.
pub const AGNHOST: ProbeImage = ProbeImage {
    repository: "e2e-test-images/agnhost",
    tag: "2.53",
    digest: "sha256:99c6b4bb4a1e1df3f0b3752168c89358794d02258ebebc26bf21c29399011a85",
};

/// An image below [`UPSTREAM_REGISTRY`], pinned by digest (the tag is informative only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeImage {
    /// Repository path below the registry host.
    pub repository: &'static str,
    /// Human-readable tag, kept in the reference for operators.
    pub tag: &'static str,
    /// `sha256:` digest the runtime verifies.
    pub digest: &'static str,
}

/// Why an `image_mirror` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "image_mirror {value:?} is not a registry prefix ({reason}); give host[:port][/path], e.g. image_mirror=registry.example.com/mirror"
)]
pub struct MirrorError {
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Where probe images are pulled from: upstream or a mirror prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSource {
    mirror: Option<String>,
}

impl ImageSource {
    /// Upstream `registry.k8s.io`, or the mirror named by the `image_mirror` assignment.
    pub fn from_arg(value: Option<&str>) -> Result<Self, MirrorError> {
        let Some(value) = value else {
            return Ok(ImageSource::default());
        };
        let err = |reason| MirrorError {
            value: value.to_string(),
            reason,
        };
        let trimmed = value.trim_end_matches('/');
        if trimmed.is_empty() {
            return Err(err("it is empty"));
        }
        if trimmed.contains("://") {
            return Err(err("drop the URL scheme"));
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c == '@') {
            return Err(err("it contains whitespace or '@'"));
        }
        if trimmed.split('/').any(str::is_empty) {
            return Err(err("it has an empty path segment"));
        }
        // A ':' is only allowed as the port separator of the host part.
        if trimmed.split('/').skip(1).any(|seg| seg.contains(':')) {
            return Err(err("a tag or ':' in the path is not allowed"));
        }
        Ok(ImageSource {
            mirror: Some(trimmed.to_string()),
        })
    }

    /// The registry (or mirror prefix) images come from, e.g. `registry.k8s.io`.
    pub fn registry(&self) -> &str {
        self.mirror.as_deref().unwrap_or(UPSTREAM_REGISTRY)
    }

    /// The full, digest-pinned reference of `image` from this source.
    pub fn reference(&self, image: &ProbeImage) -> String {
        let registry = self.mirror.as_deref().unwrap_or(UPSTREAM_REGISTRY);
        format!(
            "{registry}/{}:{}@{}",
            image.repository, image.tag, image.digest
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_reference_is_registry_k8s_io_pinned_by_digest() {
        let r = ImageSource::from_arg(None).unwrap().reference(&AGNHOST);
        assert_eq!(
            r,
            "registry.k8s.io/e2e-test-images/agnhost:2.53@sha256:99c6b4bb4a1e1df3f0b3752168c89358794d02258ebebc26bf21c29399011a85"
        );
    }

    #[test]
    fn mirror_prefix_replaces_the_registry_and_keeps_the_digest() {
        for given in [
            "registry.example.com/mirror",
            "registry.example.com/mirror/",
            "registry.example.com:5000/a/b",
        ] {
            let r = ImageSource::from_arg(Some(given))
                .unwrap()
                .reference(&AGNHOST);
            assert!(r.starts_with(given.trim_end_matches('/')), "{r}");
            assert!(r.ends_with(&format!("/e2e-test-images/agnhost:2.53@{}", AGNHOST.digest)));
            assert!(!r.contains("registry.k8s.io"));
        }
    }

    #[test]
    fn bad_mirror_values_are_refused_with_the_reason() {
        for bad in [
            "",
            "/",
            "https://registry.example.com",
            "registry.example.com//x",
            "registry.example.com/x:tag",
            "reg istry",
            "registry@sha256",
        ] {
            let err = ImageSource::from_arg(Some(bad)).unwrap_err();
            assert_eq!(err.value, bad);
            assert!(err.to_string().contains("image_mirror="), "{err}");
        }
    }
}
