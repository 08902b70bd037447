//! Finding and removing leftovers of earlier runs (`scs-kaas cleanup`): probe namespaces and the
//! cluster-scoped ClusterRoles and ClusterRoleBindings of the e2e runner, only when labelled
//! `app.kubernetes.io/managed-by=scs-kaas` and provably a probe run's, optionally only those older
//! than a given age.

use std::time::Duration;

use std::fmt::Debug;

use k8s_openapi::api::core::v1::{Namespace, PersistentVolume};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{DeleteParams, ListParams, ObjectMeta};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use super::guard::is_not_found;
use super::hold::{NamespaceHold, read_namespace};
use super::run::{CHECK_KEY, RUN_ID_KEY, STARTED_AT_KEY, managed_selector};
use super::wait::wait_gone;
use crate::check::Access;

/// The rights `scs-kaas cleanup` needs (part of `deploy/rbac.yaml`).
pub fn access() -> Vec<Access> {
    vec![
        Access::active("list", "", "namespaces"),
        Access::active("watch", "", "namespaces"),
        Access::active("delete", "", "namespaces"),
        Access::active("list", "", "persistentvolumes"),
        Access::active("list", "", "pods"),
        Access::active("list", "", "services"),
        Access::active("list", "", "persistentvolumeclaims"),
        Access::active("list", "apps", "deployments"),
        Access::active("list", "batch", "jobs"),
        Access::active("list", "networking.k8s.io", "networkpolicies"),
        Access::active("list", RBAC_GROUP, "clusterroles"),
        Access::active("watch", RBAC_GROUP, "clusterroles"),
        Access::active("delete", RBAC_GROUP, "clusterroles"),
        Access::active("list", RBAC_GROUP, "clusterrolebindings"),
        Access::active("watch", RBAC_GROUP, "clusterrolebindings"),
        Access::active("delete", RBAC_GROUP, "clusterrolebindings"),
    ]
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The kinds of object a probe run can leave behind at cluster scope. Everything else a run
/// creates lives inside its probe namespace and goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LeftoverKind {
    /// A probe namespace `scs-kaas-<check>-<run id>[-<suffix>]`.
    Namespace,
    /// The e2e runner's ClusterRoleBinding `scs-kaas-<check>-<run id>`.
    ClusterRoleBinding,
    /// The e2e runner's ClusterRole `scs-kaas-<check>-<run id>`.
    ClusterRole,
}

impl LeftoverKind {
    /// Every kind, in removal order (a binding before the role it binds).
    pub const ALL: [LeftoverKind; 3] = [
        LeftoverKind::Namespace,
        LeftoverKind::ClusterRoleBinding,
        LeftoverKind::ClusterRole,
    ];

    /// The lower-case kind as kubectl names it (`namespace/NAME`, `kubectl delete clusterrole`).
    pub fn as_str(self) -> &'static str {
        match self {
            LeftoverKind::Namespace => "namespace",
            LeftoverKind::ClusterRoleBinding => "clusterrolebinding",
            LeftoverKind::ClusterRole => "clusterrole",
        }
    }

    /// The resource whose `list` right finding this kind needs.
    pub fn resource(self) -> &'static str {
        match self {
            LeftoverKind::Namespace => "namespaces",
            LeftoverKind::ClusterRoleBinding => "clusterrolebindings.rbac.authorization.k8s.io",
            LeftoverKind::ClusterRole => "clusterroles.rbac.authorization.k8s.io",
        }
    }
}

impl std::fmt::Display for LeftoverKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Listing one kind of leftover failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot list {} labelled {} (needs `list {}`): {source}", kind.resource(), managed_selector(), kind.resource())]
pub struct FindError {
    /// The kind that could not be listed.
    pub kind: LeftoverKind,
    /// The API error.
    #[source]
    pub source: kube::Error,
}

/// A probe namespace, or a ClusterRole or ClusterRoleBinding of the e2e runner, left by an earlier
/// run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// What kind of object it is.
    pub kind: LeftoverKind,
    /// Object name.
    pub name: String,
    /// The run id label, if present.
    pub run_id: Option<String>,
    /// The check label, if present.
    pub check: Option<String>,
    /// Start-time annotation, or the creation time when the annotation is missing or invalid.
    pub started: Option<jiff::Timestamp>,
    /// Whether deletion has already begun (a `deletionTimestamp` is set).
    pub terminating: bool,
    /// Why the object, though labelled, is not provably one a probe run of scs-kaas created
    /// (`None`: it is, see [`provenance_of`]); such an object is never removed.
    pub not_ours: Option<String>,
}

/// Whether a labelled namespace is provably one scs-kaas created: its name is
/// `scs-kaas-<check>-<run id>` (optionally `-<suffix>`) with `<check>` and `<run id>` equal to
/// its `scs-kaas.io/check` and `scs-kaas.io/run-id` labels, and it carries a valid
/// `scs-kaas.io/started-at` annotation. `kube-*` and `default` never are. A label alone is no
/// proof: anyone can put it on `kube-public` or `prod-db`.
pub fn provenance(
    name: &str,
    run_id: Option<&str>,
    check: Option<&str>,
    started_at: Option<&str>,
) -> Result<(), String> {
    if name == "default" || name.starts_with("kube-") {
        return Err("a system namespace is never a probe namespace".into());
    }
    let (Some(run_id), Some(check)) = (run_id, check) else {
        return Err(format!(
            "it lacks the {RUN_ID_KEY} or {CHECK_KEY} label of a probe run"
        ));
    };
    let run = super::run::ProbeRun::new(run_id, check, jiff::Timestamp::UNIX_EPOCH)
        .map_err(|e| format!("its labels do not name a probe run: {e}"))?;
    let base = run.namespace_name();
    let suffix_ok = name.strip_prefix(base.as_str()).is_some_and(|rest| {
        rest.is_empty()
            || rest.strip_prefix('-').is_some_and(|s| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
    });
    if !suffix_ok {
        return Err(format!(
            "its name is not {base} (the probe namespace of the run and check its labels name)"
        ));
    }
    match started_at.map(str::parse::<jiff::Timestamp>) {
        Some(Ok(_)) => Ok(()),
        Some(Err(_)) => Err(format!("its {STARTED_AT_KEY} annotation is not a time")),
        None => Err(format!(
            "it lacks the {STARTED_AT_KEY} annotation of a probe run"
        )),
    }
}

/// [`provenance`] for an object of `kind`: a ClusterRole or ClusterRoleBinding must moreover be
/// named exactly `scs-kaas-<check>-<run id>` (the e2e runner never adds a suffix to them).
pub fn provenance_of(
    kind: LeftoverKind,
    name: &str,
    run_id: Option<&str>,
    check: Option<&str>,
    started_at: Option<&str>,
) -> Result<(), String> {
    provenance(name, run_id, check, started_at)?;
    if kind != LeftoverKind::Namespace
        && let (Some(run_id), Some(check)) = (run_id, check)
    {
        let base = format!("scs-kaas-{check}-{run_id}");
        if name != base {
            return Err(format!(
                "its name is not {base} (the {kind} of the run and check its labels name)"
            ));
        }
    }
    Ok(())
}

impl Leftover {
    /// Whether this leftover is at least `min_age` old at `now` (unknown age counts as old).
    pub fn older_than(&self, now: jiff::Timestamp, min_age: jiff::SignedDuration) -> bool {
        self.started
            .is_none_or(|started| now.duration_since(started) >= min_age)
    }
}

/// A volume whose claim lived in a removed probe namespace and that survives it (reclaimPolicy
/// `Retain`). It carries no scs-kaas label, so cleanup reports it instead of deleting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedVolume {
    /// PersistentVolume name.
    pub name: String,
    /// The probe namespace its claim was in.
    pub claim_namespace: String,
}

/// Every object labelled as scs-kaas's of the kinds a probe run can leave at cluster scope
/// (namespaces, ClusterRoleBindings, ClusterRoles, in that order), each with its provenance judged.
pub async fn find_leftovers(client: &Client) -> Result<Vec<Leftover>, FindError> {
    let mut all = Vec::new();
    for kind in LeftoverKind::ALL {
        let found = match kind {
            LeftoverKind::Namespace => labelled::<Namespace>(client).await,
            LeftoverKind::ClusterRoleBinding => labelled::<ClusterRoleBinding>(client).await,
            LeftoverKind::ClusterRole => labelled::<ClusterRole>(client).await,
        }
        .map_err(|source| FindError { kind, source })?;
        all.extend(found.into_iter().filter_map(|meta| leftover(kind, meta)));
    }
    Ok(all)
}

/// Metadata of every cluster-scoped `K` labelled `app.kubernetes.io/managed-by=scs-kaas`.
async fn labelled<K>(client: &Client) -> Result<Vec<ObjectMeta>, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let api: Api<K> = Api::all(client.clone());
    let list = api
        .list_metadata(&ListParams::default().labels(&managed_selector()))
        .await?;
    Ok(list.items.into_iter().map(|o| o.metadata).collect())
}

/// The leftover described by `meta` (`None` when it has no name).
fn leftover(kind: LeftoverKind, meta: ObjectMeta) -> Option<Leftover> {
    let label = |k: &str| meta.labels.as_ref().and_then(|l| l.get(k)).cloned();
    let started_at = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(STARTED_AT_KEY))
        .cloned();
    let started = started_at
        .as_deref()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .or_else(|| meta.creation_timestamp.as_ref().map(|t| t.0));
    let name = meta.name?;
    let (run_id, check) = (label(RUN_ID_KEY), label(CHECK_KEY));
    let not_ours = provenance_of(
        kind,
        &name,
        run_id.as_deref(),
        check.as_deref(),
        started_at.as_deref(),
    )
    .err();
    Some(Leftover {
        kind,
        run_id,
        check,
        started,
        terminating: meta.deletion_timestamp.is_some(),
        name,
        not_ours,
    })
}

/// Volumes with reclaimPolicy `Retain` whose claims lived in one of `namespaces`.
pub async fn retained_volumes(
    client: &Client,
    namespaces: &[String],
) -> Result<Vec<RetainedVolume>, kube::Error> {
    let api: Api<PersistentVolume> = Api::all(client.clone());
    let list = api.list(&ListParams::default()).await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|pv| {
            let spec = pv.spec?;
            let ns = spec.claim_ref?.namespace?;
            let retain = spec.persistent_volume_reclaim_policy.as_deref() == Some("Retain");
            (retain && namespaces.contains(&ns)).then_some(RetainedVolume {
                name: pv.metadata.name?,
                claim_namespace: ns,
            })
        })
        .collect())
}

/// The result of removing one leftover.
#[derive(Debug)]
pub enum Removal {
    /// Deleted and confirmed gone.
    Removed,
    /// Still present after the timeout (or the delete failed), with the reason.
    Remains(String),
}

/// Delete the namespace `name` (foreground) and wait until it is gone; when it stays, say what
/// holds it ([`NamespaceHold`]: the namespace's own conditions and the objects in it, of the kinds
/// probes create, whose finalizers nobody released) and the fix.
pub async fn remove_namespace(client: &Client, name: &str, timeout: Duration) -> Removal {
    match remove::<Namespace>(client, LeftoverKind::Namespace, name, timeout).await {
        Removal::Removed => Removal::Removed,
        Removal::Remains(why) => {
            let last = read_namespace(client, name).await.ok().flatten();
            let Some(last) = last.filter(|ns| ns.metadata.deletion_timestamp.is_some()) else {
                return Removal::Remains(why);
            };
            let hold = NamespaceHold::inspect(client, &last).await;
            Removal::Remains(format!("{why}{}", hold.text()))
        }
    }
}

/// Delete the leftover `l` (foreground) and wait until it is gone.
pub async fn remove_leftover(client: &Client, l: &Leftover, timeout: Duration) -> Removal {
    match l.kind {
        LeftoverKind::Namespace => remove_namespace(client, &l.name, timeout).await,
        LeftoverKind::ClusterRoleBinding => {
            remove::<ClusterRoleBinding>(client, l.kind, &l.name, timeout).await
        }
        LeftoverKind::ClusterRole => remove::<ClusterRole>(client, l.kind, &l.name, timeout).await,
    }
}

async fn remove<K>(client: &Client, kind: LeftoverKind, name: &str, timeout: Duration) -> Removal
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let api: Api<K> = Api::all(client.clone());
    if let Err(err) = api.delete(name, &DeleteParams::foreground()).await
        && !is_not_found(&err)
    {
        return Removal::Remains(format!("delete failed: {err}"));
    }
    match wait_gone(api, name, &format!("{kind} {name} deleted"), timeout).await {
        Ok(()) => Removal::Removed,
        Err(err) => Removal::Remains(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftover(started: Option<&str>) -> Leftover {
        Leftover {
            kind: LeftoverKind::Namespace,
            name: "scs-kaas-x-0a1b2c3d".into(),
            run_id: Some("0a1b2c3d".into()),
            check: Some("x".into()),
            started: started.map(|s| s.parse().unwrap()),
            terminating: false,
            not_ours: None,
        }
    }

    #[test]
    fn only_probe_names_with_matching_labels_and_start_annotation_are_ours() {
        let at = Some("2026-11-22T06:00:00Z");
        let ours = |name: &str| provenance(name, Some("0a1b2c3d"), Some("x-check"), at);
        assert_eq!(ours("scs-kaas-x-check-0a1b2c3d"), Ok(()));
        assert_eq!(
            ours("scs-kaas-x-check-0a1b2c3d-a"),
            Ok(()),
            "network policy namespaces"
        );
        for name in [
            "kube-public",
            "default",
            "prod-db",
            "scs-kaas-x-check-0a1b2c3e",
            "scs-kaas-y-check-0a1b2c3d",
            "scs-kaas-x-check-0a1b2c3d-",
            "scs-kaas-x-check-0a1b2c3d-A",
            "scs-kaas-x-check-0a1b2c3dx",
        ] {
            assert!(ours(name).is_err(), "{name}");
        }
        let name = "scs-kaas-x-check-0a1b2c3d";
        assert!(provenance(name, None, Some("x-check"), at).is_err());
        assert!(provenance(name, Some("0a1b2c3d"), None, at).is_err());
        assert!(provenance(name, Some("0A1B2C3D"), Some("x-check"), at).is_err());
        let missing = provenance(name, Some("0a1b2c3d"), Some("x-check"), None).unwrap_err();
        assert!(missing.contains("started-at"), "{missing}");
        assert!(provenance(name, Some("0a1b2c3d"), Some("x-check"), Some("soon")).is_err());
        let system = provenance("kube-x-0a1b2c3d", Some("0a1b2c3d"), Some("x"), at).unwrap_err();
        assert!(system.contains("system namespace"), "{system}");
    }

    #[test]
    fn cluster_rbac_is_ours_only_under_the_exact_probe_name() {
        let at = Some("2026-11-22T06:00:00Z");
        for kind in [LeftoverKind::ClusterRole, LeftoverKind::ClusterRoleBinding] {
            let ours = |name: &str| provenance_of(kind, name, Some("0a1b2c3d"), Some("x"), at);
            assert_eq!(ours("scs-kaas-x-0a1b2c3d"), Ok(()), "{kind}");
            for name in [
                "scs-kaas-x-0a1b2c3d-a",
                "scs-kaas-x-0a1b2c3e",
                "cluster-admin",
                "system:controller:x",
            ] {
                assert!(ours(name).is_err(), "{kind} {name}");
            }
            let name = "scs-kaas-x-0a1b2c3d";
            assert!(provenance_of(kind, name, None, Some("x"), at).is_err());
            assert!(provenance_of(kind, name, Some("0a1b2c3d"), None, at).is_err());
            assert!(provenance_of(kind, name, Some("0a1b2c3d"), Some("x"), None).is_err());
        }
        let ns = provenance_of(
            LeftoverKind::Namespace,
            "scs-kaas-x-0a1b2c3d-a",
            Some("0a1b2c3d"),
            Some("x"),
            at,
        );
        assert_eq!(ns, Ok(()), "namespaces may carry a suffix");
    }

    #[test]
    fn age_filter_compares_with_the_given_now() {
        let now: jiff::Timestamp = "2026-11-22T08:00:00Z".parse().unwrap();
        let two_hours = jiff::SignedDuration::from_hours(2);
        assert!(leftover(Some("2026-11-22T06:00:00Z")).older_than(now, two_hours));
        assert!(!leftover(Some("2026-11-22T06:00:01Z")).older_than(now, two_hours));
        assert!(
            leftover(None).older_than(now, two_hours),
            "unknown age counts as old"
        );
    }
}
