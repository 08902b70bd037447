//! Pre-flight (CHECKS.md HARN-04): before a check runs, ask the API server with
//! SelfSubjectAccessReview whether we hold every permission it declares.
//!
//! A missing read permission makes the check ABORT up front, naming verb and resource. Missing
//! active-only permissions are handed to the check in [`CheckContext::denied`](crate::CheckContext)
//! so it can skip its active part and say why. If the review API itself is unavailable, the
//! pre-flight steps aside (the check then meets the real permission errors and reports them).

use std::collections::HashMap;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;
use tokio::sync::Mutex;

use crate::check::Access;

/// Answers cached per (verb, group, resource): several checks share permissions.
#[derive(Default)]
pub struct Preflight {
    cache: Mutex<HashMap<(String, String, String), Option<bool>>>,
}

/// What the pre-flight found for one check.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Read permissions that are denied: the check cannot run.
    pub missing: Vec<Access>,
    /// Active-only permissions that are denied: the check decides.
    pub denied_active: Vec<Access>,
}

impl Verdict {
    /// The ABORT reason for missing read permissions, naming each verb and resource.
    pub fn reason(&self) -> Option<String> {
        if self.missing.is_empty() {
            return None;
        }
        let list = self
            .missing
            .iter()
            .map(describe)
            .collect::<Vec<_>>()
            .join(", ");
        Some(format!(
            "the credentials lack permission to {list}; grant them (see the scs-kaas ClusterRole) or use a kubeconfig that has them"
        ))
    }
}

pub use crate::probe::access::describe;

impl Preflight {
    /// Review every access of one check.
    pub async fn review(&self, client: &kube::Client, accesses: &[Access]) -> Verdict {
        let mut verdict = Verdict::default();
        for access in accesses {
            match self.allowed(client, access).await {
                Some(false) if access.active_only => verdict.denied_active.push(access.clone()),
                Some(false) => verdict.missing.push(access.clone()),
                Some(true) | None => {}
            }
        }
        verdict
    }

    async fn allowed(&self, client: &kube::Client, a: &Access) -> Option<bool> {
        let key = (a.verb.to_owned(), a.group.to_owned(), a.resource.to_owned());
        let mut cache = self.cache.lock().await;
        if let Some(answer) = cache.get(&key) {
            return *answer;
        }
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(a.verb.to_owned()),
                    group: Some(a.group.to_owned()),
                    resource: Some(a.resource.to_owned()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
        let answer = match api.create(&PostParams::default(), &review).await {
            Ok(r) => r.status.map(|s| s.allowed),
            Err(err) => {
                tracing::warn!(access = %describe(a), error = %err, "pre-flight access review unavailable; the check will report permission errors itself");
                None
            }
        };
        cache.insert(key, answer);
        answer
    }
}
