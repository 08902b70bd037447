//! One module per native check. Each file holds the check's gatherer, its pure judge, and tests.

pub mod assign;
pub mod conformance;
pub mod default_storage_class;
pub mod kubeapi_access;
pub mod lb_probe;
pub mod loadbalancer;
pub mod loadbalancer_local;
pub mod networkpolicy_enforcement;
pub mod node_distribution;
pub mod paged;
pub mod registry_frozen_images;
pub mod version_policy;
