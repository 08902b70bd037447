//! Asking the API server which of a check's permissions the current user lacks
//! (SelfSubjectAccessReview), so an active part can ABORT before it creates anything.

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::{Api, Client};

use crate::check::Access;

/// The permissions in `needed` the current user is not granted (cluster-wide).
///
/// Errors when the review itself cannot be made; callers then let the real requests speak.
pub async fn missing_access(
    client: &Client,
    needed: &[Access],
) -> Result<Vec<Access>, kube::Error> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let mut missing = Vec::new();
    for access in needed {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(access.verb.to_string()),
                    group: Some(access.group.to_string()),
                    resource: Some(access.resource.to_string()),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let answer = api.create(&PostParams::default(), &review).await?;
        if !answer.status.is_some_and(|s| s.allowed) {
            missing.push(access.clone());
        }
    }
    Ok(missing)
}

/// `verb resource` (with `.group` when not core) for messages, e.g. `create namespaces`.
pub fn describe(access: &Access) -> String {
    if access.group.is_empty() {
        format!("{} {}", access.verb, access.resource)
    } else {
        format!("{} {}.{}", access.verb, access.resource, access.group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_names_verb_resource_and_group() {
        assert_eq!(
            describe(&Access::active("create", "", "namespaces")),
            "create namespaces"
        );
        assert_eq!(
            describe(&Access::read("list", "storage.k8s.io", "storageclasses")),
            "list storageclasses.storage.k8s.io"
        );
    }
}
