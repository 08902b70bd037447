//! Controllers that give the simulated cluster life. Each is a pure function of the
//! [`World`](crate::world::World) view and "now" returning [`Action`](crate::world::Action)s,
//! so tests drive them with [`memory::MemoryWorld`] and call `reconcile` until settled.

use std::collections::BTreeMap;

use crate::scenario::Behaviour;
use crate::world::Controller;

pub mod conformance;
pub mod connect;
pub mod deployment;
pub mod endpoint_slices;
pub mod endpoints;
pub mod garbage;
pub mod job;
pub mod lb_listener;
pub mod lb_route;
pub mod loadbalancer;
pub mod memory;
pub mod netpol;
pub mod node_match;
pub mod object;
pub mod pod_lifecycle;
pub mod pod_status;
pub mod probe;
pub mod replicaset;
pub mod revisions;
pub mod scheduler;
pub mod volume;

#[cfg(test)]
mod tests;

/// Every controller of the simulated cluster, in the order the server should run them.
/// `behaviours` maps storage class names to what their provisioner does; `connect` says what
/// decides the outcome of probe connections (NetworkPolicies, a blocked API server).
pub fn all(
    behaviours: BTreeMap<String, Behaviour>,
    connect: connect::Rules,
) -> Vec<Box<dyn Controller>> {
    vec![
        Box::new(deployment::DeploymentController),
        Box::new(replicaset::ReplicaSetController),
        Box::new(job::JobController),
        Box::new(volume::VolumeProvisioner::new(behaviours)),
        Box::new(scheduler::Scheduler),
        Box::new(pod_lifecycle::PodLifecycle { connect }),
        Box::new(endpoints::EndpointsController),
        Box::new(endpoint_slices::EndpointSliceMirroring),
        Box::new(garbage::GarbageCollector),
    ]
}
