//! Why a namespace being deleted is still there and how to release it: its own conditions
//! (`NamespaceFinalizersRemaining`, …) and each object in it whose finalizer nobody released,
//! with the `kubectl patch` that removes the finalizer. One explanation, used by a check's own
//! cleanup (the HARN-02 warning) and by `scs-kaas cleanup` (`NOT removed`).

use k8s_openapi::api::core::v1::Namespace;
use kube::api::ListParams;
use kube::{Api, Client};

/// An object holding a finalizer: inside a namespace being deleted, or the namespace itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// `kind/name` as kubectl writes it, e.g. `service/echo`.
    pub object: String,
    /// The resource for `kubectl patch`, e.g. `service`.
    pub resource: &'static str,
    /// Object name.
    pub name: String,
    /// Its pending finalizers.
    pub finalizers: Vec<String>,
}

impl Holder {
    /// `service/echo in NS`, or `namespace/NS itself` for the namespace's own finalizers.
    fn describe(&self, ns: &str) -> String {
        if self.resource == "namespace" {
            format!("{} itself", self.object)
        } else {
            format!("{} in {ns}", self.object)
        }
    }

    /// The `kubectl patch` command that removes its finalizers.
    pub fn patch_command(&self, ns: &str) -> String {
        let scope = if self.resource == "namespace" {
            String::new()
        } else {
            format!("-n {ns} ")
        };
        format!(
            "kubectl {scope}patch {} {} --type=merge -p '{{\"metadata\":{{\"finalizers\":null}}}}'",
            self.resource, self.name
        )
    }
}

/// What keeps a namespace in `Terminating`, as far as it can be seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceHold {
    /// The namespace.
    pub namespace: String,
    /// Its conditions that are `True`, as `type: message`.
    pub conditions: Vec<String>,
    /// The namespace itself (its `metadata.finalizers`) and the objects in it holding
    /// finalizers, or why its content could not be listed.
    pub holders: Result<Vec<Holder>, String>,
}

impl NamespaceHold {
    /// Look at `ns` (the namespace as just read) and list the objects in it holding finalizers,
    /// of the kinds probes create. Needs `list` on them (`deploy/rbac.yaml` grants it); what
    /// cannot be listed is named in the reason instead.
    pub async fn inspect(client: &Client, ns: &Namespace) -> NamespaceHold {
        let name = ns.metadata.name.clone().unwrap_or_default();
        let conditions = ns
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| c.status == "True")
            .map(|c| format!("{}: {}", c.type_, c.message.clone().unwrap_or_default()))
            .collect();
        let own = ns
            .metadata
            .finalizers
            .clone()
            .filter(|f| !f.is_empty())
            .map(|finalizers| Holder {
                object: format!("namespace/{name}"),
                resource: "namespace",
                name: name.clone(),
                finalizers,
            });
        let holders = finalized_objects(client, &name).await.map(|mut inside| {
            inside.splice(0..0, own);
            inside
        });
        NamespaceHold {
            namespace: name,
            conditions,
            holders,
        }
    }

    /// What holds it: `NamespaceFinalizersRemaining: …; held by service/echo in NS (finalizer
    /// example.com/x)`, or why that is unknown.
    pub fn reason(&self) -> String {
        let ns = &self.namespace;
        let mut parts = self.conditions.clone();
        match &self.holders {
            Ok(holders) if !holders.is_empty() => {
                parts.extend(holders.iter().map(|h| {
                    format!(
                        "held by {} (finalizer {})",
                        h.describe(ns),
                        h.finalizers.join(", ")
                    )
                }));
            }
            Ok(_) => parts.push(
                "no pod, service, claim, deployment, job or network policy in it holds a finalizer"
                    .into(),
            ),
            Err(unreadable) => parts.push(format!(
                "cannot list its content to find what holds it: {unreadable}"
            )),
        }
        parts.join("; ")
    }

    /// How to release it: let the owning controller remove the finalizer, or the `kubectl patch`
    /// command per holder.
    pub fn fix(&self) -> String {
        let ns = &self.namespace;
        match &self.holders {
            Ok(holders) if !holders.is_empty() => {
                let commands: Vec<String> = holders
                    .iter()
                    .map(|h| format!("`{}`", h.patch_command(ns)))
                    .collect();
                format!(
                    "make the controller that owns the finalizer release it, or if none will, remove it yourself: {}; the namespace then goes by itself (run `scs-kaas cleanup` again to confirm)",
                    commands.join(", ")
                )
            }
            Ok(_) => format!(
                "look for what remains (`kubectl api-resources --verbs=list --namespaced -o name | xargs -n1 kubectl get -n {ns} --ignore-not-found`) and release its finalizers, then run `scs-kaas cleanup` again"
            ),
            Err(_) => format!(
                "`kubectl get all -n {ns}` and release the finalizers found, then run `scs-kaas cleanup` again"
            ),
        }
    }

    /// [`reason`](Self::reason) and [`fix`](Self::fix) as one text to append to why the
    /// namespace remains: `; …; fix: …`.
    pub fn text(&self) -> String {
        format!("; {}; fix: {}", self.reason(), self.fix())
    }
}

/// The namespace `name` as it is now (`None`: gone), read with `list` and a field selector, the
/// right cleanup has (`deploy/rbac.yaml` grants no `get` on namespaces).
pub async fn read_namespace(client: &Client, name: &str) -> Result<Option<Namespace>, kube::Error> {
    let list = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default().fields(&format!("metadata.name={name}")))
        .await?;
    Ok(list
        .items
        .into_iter()
        .find(|n| n.metadata.name.as_deref() == Some(name)))
}

/// Objects with pending finalizers in namespace `ns`, of the kinds probes create (the ones
/// `deploy/rbac.yaml` lets cleanup list); a kind that cannot be listed is named as unknown.
pub async fn finalized_objects(client: &Client, ns: &str) -> Result<Vec<Holder>, String> {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    let mut out = Vec::new();
    let mut unreadable = Vec::new();
    macro_rules! scan {
        ($k:ty, $res:literal) => {
            match Api::<$k>::namespaced(client.clone(), ns)
                .list_metadata(&ListParams::default())
                .await
            {
                Ok(list) => out.extend(list.items.into_iter().filter_map(|o| {
                    let finalizers = o.metadata.finalizers.filter(|f| !f.is_empty())?;
                    let name = o.metadata.name?;
                    Some(Holder {
                        object: format!("{}/{name}", $res),
                        resource: $res,
                        name,
                        finalizers,
                    })
                })),
                Err(err) => unreadable.push(format!("{}s ({err})", $res)),
            }
        };
    }
    scan!(Pod, "pod");
    scan!(Service, "service");
    scan!(PersistentVolumeClaim, "persistentvolumeclaim");
    scan!(Deployment, "deployment");
    scan!(Job, "job");
    scan!(NetworkPolicy, "networkpolicy");
    if out.is_empty() && !unreadable.is_empty() {
        return Err(unreadable.join(", "));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(conditions: &[&str], holders: Result<Vec<Holder>, String>) -> NamespaceHold {
        NamespaceHold {
            namespace: "scs-kaas-x-0a1b2c3d".into(),
            conditions: conditions.iter().map(|c| c.to_string()).collect(),
            holders,
        }
    }

    #[test]
    fn a_held_namespace_names_each_holder_and_its_fix_or_says_why_it_cannot() {
        let ns = "scs-kaas-x-0a1b2c3d";
        let pod = Holder {
            object: "pod/p".into(),
            resource: "pod",
            name: "p".into(),
            finalizers: vec!["a.io/x".into(), "b.io/y".into()],
        };
        let itself = Holder {
            object: format!("namespace/{ns}"),
            resource: "namespace",
            name: ns.into(),
            finalizers: vec!["c.io/z".into()],
        };
        let held = hold(&["NamespaceFinalizersRemaining: m"], Ok(vec![itself, pod]));
        let text = held.text();
        assert!(
            text.starts_with(&format!(
                "; NamespaceFinalizersRemaining: m; held by namespace/{ns} itself (finalizer c.io/z); held by pod/p in {ns} (finalizer a.io/x, b.io/y); fix: "
            )),
            "{text}"
        );
        let fix = held.fix();
        assert!(
            fix.contains(&format!(
                "`kubectl patch namespace {ns} --type=merge -p '{{\"metadata\":{{\"finalizers\":null}}}}'`, `kubectl -n {ns} patch pod p --type=merge"
            )),
            "{fix}"
        );
        assert!(!held.reason().contains("kubectl"), "{}", held.reason());

        let none = hold(&[], Ok(Vec::new()));
        assert!(
            none.reason().contains("holds a finalizer"),
            "{}",
            none.reason()
        );
        assert!(
            none.fix().contains("kubectl api-resources"),
            "{}",
            none.fix()
        );
        let denied = hold(&[], Err("pods (403)".into()));
        assert!(
            denied.reason().contains("cannot list its content")
                && denied.reason().contains("pods (403)"),
            "{}",
            denied.reason()
        );
        assert!(
            denied.fix().contains(&format!("kubectl get all -n {ns}")),
            "{}",
            denied.fix()
        );
    }
}
