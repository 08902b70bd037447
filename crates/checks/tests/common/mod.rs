//! Helpers the sim-based check tests share: start a shipped scenario in-process, a kube client
//! for one of its users, and an inventory of every object to prove a run touched nothing else.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use kube::Api;
use kube::api::{DynamicObject, ListParams};
use kube::discovery::{Discovery, verbs};
use scs_kaas_sim::server::{self, RunningSim};

/// Path of a shipped scenario.
pub fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../scenarios/{name}.yaml"))
}

/// Serves the shipped scenario `name` on a free loopback port.
pub async fn start(name: &str) -> RunningSim {
    let config = scs_kaas_sim::scenario::load(&scenario(name)).expect("scenario loads");
    server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the sim starts")
}

/// A kube client for scenario user `user`.
pub async fn client(sim: &RunningSim, user: &str) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml(user)).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Every object of every listable kind: `apiVersion/kind/namespace/name` → (uid, resourceVersion).
pub async fn inventory(client: &kube::Client) -> BTreeMap<String, (String, String)> {
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let mut out = BTreeMap::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if !caps.supports_operation(verbs::LIST) {
                continue;
            }
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
            for obj in api.list(&ListParams::default()).await.unwrap().items {
                let key = format!(
                    "{}/{}/{}/{}",
                    ar.api_version,
                    ar.kind,
                    obj.metadata.namespace.clone().unwrap_or_default(),
                    obj.metadata.name.clone().unwrap_or_default()
                );
                let value = (
                    obj.metadata.uid.clone().unwrap_or_default(),
                    obj.metadata.resource_version.clone().unwrap_or_default(),
                );
                out.insert(key, value);
            }
        }
    }
    out
}

/// Objects that differ between two inventories (changed, added or removed), for messages.
pub fn differences(
    before: &BTreeMap<String, (String, String)>,
    after: &BTreeMap<String, (String, String)>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in before {
        match after.get(k) {
            None => out.push(format!("removed {k}")),
            Some(w) if w != v => out.push(format!("changed {k}")),
            Some(_) => {}
        }
    }
    for k in after.keys() {
        if !before.contains_key(k) {
            out.push(format!("added {k}"));
        }
    }
    out
}
