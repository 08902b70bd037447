//! Every native check, by id: the one place that lists them.

use crate::check::Check;
use crate::native;

/// All native checks, in a stable order.
pub fn all() -> Vec<Box<dyn Check>> {
    vec![
        Box::new(native::version_policy::VersionPolicyCheck),
        Box::new(native::default_storage_class::DefaultStorageClass),
        Box::new(native::node_distribution::NodeDistributionCheck),
        Box::new(native::kubeapi_access::KubeapiAccess),
        Box::new(native::loadbalancer::LoadBalancerCheck),
        Box::new(native::loadbalancer_local::LoadBalancerLocalPolicyCheck),
        Box::new(native::registry_frozen_images::RegistryFrozenImagesCheck),
        Box::new(native::networkpolicy_enforcement::NetworkPolicyEnforcementCheck),
        Box::new(native::conformance::CNCF_CONFORMANCE),
        Box::new(native::conformance::KAAS_NETWORKING),
    ]
}

/// The native check with this id, if there is one.
pub fn find(id: &str) -> Option<Box<dyn Check>> {
    all().into_iter().find(|c| c.id() == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashSet};

    /// The source files of each check (its module and what it reads assignments through).
    fn sources(id: &str) -> &'static [&'static str] {
        match id {
            "version-policy-check" => &["version_policy.rs"],
            "default-storage-class-check" => {
                &["default_storage_class.rs", "default_storage_class/"]
            }
            "node-distribution-check" => &["node_distribution.rs", "node_distribution/"],
            "kubeapi-access-check" => &["kubeapi_access.rs", "kubeapi_access/"],
            "loadbalancer-check" => &["loadbalancer.rs"],
            "loadbalancer-local-policy-check" => &[
                "loadbalancer_local.rs",
                "loadbalancer_local/",
                "loadbalancer.rs",
            ],
            "registry-frozen-images-check" => &["registry_frozen_images.rs"],
            "networkpolicy-enforcement-check" => {
                &["networkpolicy_enforcement.rs", "networkpolicy_enforcement/"]
            }
            "cncf-k8s-conformance" | "kaas-networking-check" => &["conformance.rs", "conformance/"],
            other => panic!("list the source files of {other} in registry::tests::sources"),
        }
    }

    /// The `-a` keys the non-test code of `text` reads: snake_case string literals (the
    /// convention for assignment keys; no other literal in the checks has that shape) and
    /// literals passed to `ctx.arg(…)` / `args.get(…)` / `get(…)`.
    fn keys_read(text: &str) -> BTreeSet<String> {
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let snake = regex::Regex::new(r#""([a-z][a-z0-9]*(?:_[a-z0-9]+)+)""#).unwrap();
        let call =
            regex::Regex::new(r#"(?:ctx\.arg|args\.get|[^.\w]get)\(\s*"([a-z][a-z0-9_]*)"\s*\)"#)
                .unwrap();
        let mut keys: BTreeSet<String> = snake
            .captures_iter(code)
            .chain(call.captures_iter(code))
            .map(|c| c[1].to_owned())
            .collect();
        if code.contains("MIRROR_ARG") {
            keys.insert(crate::probe::image::MIRROR_ARG.to_owned());
        }
        keys
    }

    /// Fails when a check reads an `-a` key that its `assignments()` do not document (so
    /// `scs-kaas checks ID` lists it and `check` does not refuse it as unknown).
    #[test]
    fn every_assignment_a_check_reads_is_documented() {
        let native = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/native");
        for check in all() {
            let mut read = BTreeSet::new();
            for source in sources(check.id()) {
                let path = native.join(source);
                let files: Vec<std::path::PathBuf> = if source.ends_with('/') {
                    std::fs::read_dir(&path)
                        .unwrap()
                        .map(|e| e.unwrap().path())
                        .collect()
                } else {
                    vec![path]
                };
                for file in files {
                    read.extend(keys_read(&std::fs::read_to_string(&file).unwrap()));
                }
            }
            let declared: BTreeSet<String> = check
                .assignments()
                .iter()
                .map(|a| a.key.to_owned())
                .collect();
            let undocumented: Vec<_> = read.difference(&declared).collect();
            assert!(
                undocumented.is_empty(),
                "{} reads {undocumented:?} without listing them in assignments()",
                check.id()
            );
            assert!(
                !check.rules().is_empty(),
                "{} documents no rule",
                check.id()
            );
            for a in check.assignments() {
                assert!(!a.accepted.is_empty() && !a.help.is_empty(), "{a:?}");
            }
            for r in check.rules() {
                assert!(!r.severity.is_empty() && !r.summary.is_empty(), "{r:?}");
            }
        }
    }

    #[test]
    fn key_scan_sees_every_way_of_reading_a_key() {
        let code = r#"let a = ctx.arg("eol"); let b = args.get("lb_port"); let c = get("x");
            let d = lb.get("enabled"); duration(args, "netpol_convergence", d);
            ImageSource::from_arg(ctx.arg(MIRROR_ARG));
            #[cfg(test)] let e = "not_read_here";"#;
        let keys: Vec<String> = keys_read(code).into_iter().collect();
        assert_eq!(
            keys,
            ["eol", "image_mirror", "lb_port", "netpol_convergence", "x"]
        );
    }

    #[test]
    fn ids_are_unique() {
        let ids: Vec<_> = all().iter().map(|c| c.id()).collect();
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!(ids.len(), unique.len(), "duplicate check ids in {ids:?}");
    }
}
