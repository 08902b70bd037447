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
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique() {
        let ids: Vec<_> = all().iter().map(|c| c.id()).collect();
        let unique: HashSet<_> = ids.iter().collect();
        assert_eq!(ids.len(), unique.len(), "duplicate check ids in {ids:?}");
    }
}
