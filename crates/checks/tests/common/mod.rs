//! Helpers shared by the sim tests of the checks crate and the CLI's black-box tests (which
//! include this file with `#[path]`): a before/after inventory of every object, what scs-kaas
//! left labelled in a cluster, and sim users with exactly the rights of `deploy/rbac.yaml` or of
//! a list of `Access` declarations.

// Each test binary uses a different part of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::{Discovery, verbs};
use scs_kaas_sim::server::RunningSim;
use scs_kaas_sim::world::SimConfig;
use serde_yaml_ng::{Mapping, Value};

/// The managed-by label selector (`app.kubernetes.io/managed-by=scs-kaas`), written out so the
/// tests do not just repeat the code under test.
pub const MANAGED: &str = "app.kubernetes.io/managed-by=scs-kaas";

/// A path in the repository.
pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// Serves the shipped scenario `scenarios/<name>.yaml` in this process on a free loopback port.
pub async fn start(name: &str) -> RunningSim {
    let path = repo(&format!("scenarios/{name}.yaml"));
    let config = scs_kaas_sim::scenario::load(&path).expect("scenario loads");
    scs_kaas_sim::server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the sim starts")
}

/// A client for `user` of a sim started in this process.
pub async fn client_for(sim: &RunningSim, user: &str) -> kube::Client {
    client_from_yaml(&sim.kubeconfig_yaml(user)).await
}

/// A client from kubeconfig text (its current context).
pub async fn client_from_yaml(yaml: &str) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(yaml).expect("the kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("the kubeconfig is usable");
    kube::Client::try_from(config).expect("a client can be built")
}

/// `apiVersion/kind/namespace/name` → (uid, resourceVersion) of every object.
pub type Inventory = BTreeMap<String, (String, String)>;

/// Every object of every listable kind: `apiVersion/kind/namespace/name` → (uid, resourceVersion).
pub async fn inventory(client: &kube::Client) -> Inventory {
    let mut out = BTreeMap::new();
    for (key, obj) in objects(client, &ListParams::default()).await {
        let value = (
            obj.metadata.uid.clone().unwrap_or_default(),
            obj.metadata.resource_version.clone().unwrap_or_default(),
        );
        out.insert(key, value);
    }
    out
}

/// Every object of every listable kind labelled `app.kubernetes.io/managed-by=scs-kaas`, as
/// `apiVersion/kind/namespace/name`.
pub async fn managed_objects(client: &kube::Client) -> Vec<String> {
    objects(client, &ListParams::default().labels(MANAGED))
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

async fn objects(client: &kube::Client, params: &ListParams) -> Vec<(String, DynamicObject)> {
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery works");
    let mut out = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if !caps.supports_operation(verbs::LIST) {
                continue;
            }
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
            for obj in api.list(params).await.expect("every kind lists").items {
                let key = format!(
                    "{}/{}/{}/{}",
                    ar.api_version,
                    ar.kind,
                    obj.metadata.namespace.clone().unwrap_or_default(),
                    obj.metadata.name.clone().unwrap_or_default()
                );
                out.push((key, obj));
            }
        }
    }
    out
}

/// Objects that differ between two inventories (changed, added or removed), for messages.
pub fn differences(before: &Inventory, after: &Inventory) -> Vec<String> {
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

/// The rules of the ClusterRole in `deploy/rbac.yaml`, as scenario user rules
/// (`verbs`, `groups`, `resources`; cluster-wide like a ClusterRoleBinding).
pub fn rbac_yaml_rules() -> Vec<Value> {
    let text = std::fs::read_to_string(repo("deploy/rbac.yaml")).expect("deploy/rbac.yaml reads");
    let mut rules = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let doc: Value = serde::Deserialize::deserialize(doc).expect("deploy/rbac.yaml parses");
        if doc["kind"].as_str() != Some("ClusterRole") {
            continue;
        }
        for rule in doc["rules"]
            .as_sequence()
            .expect("the ClusterRole has rules")
        {
            let mut r = Mapping::new();
            r.insert("verbs".into(), rule["verbs"].clone());
            r.insert("groups".into(), rule["apiGroups"].clone());
            r.insert("resources".into(), rule["resources"].clone());
            rules.push(Value::Mapping(r));
        }
    }
    assert!(
        !rules.is_empty(),
        "deploy/rbac.yaml has a ClusterRole with rules"
    );
    rules
}

/// Scenario user rules granting exactly `access` (one rule per verb, group and resource). No
/// access at all becomes one rule on a resource that does not exist (a `rules` user needs one).
pub fn rules_for(access: &[scs_kaas_checks::Access]) -> Vec<Value> {
    if access.is_empty() {
        return rules_for(&[scs_kaas_checks::Access::read(
            "get",
            "nothing.example.invalid",
            "nothing",
        )]);
    }
    access
        .iter()
        .map(|a| {
            let mut r = Mapping::new();
            r.insert("verbs".into(), vec![Value::from(a.verb)].into());
            r.insert("groups".into(), vec![Value::from(a.group)].into());
            r.insert("resources".into(), vec![Value::from(a.resource)].into());
            Value::Mapping(r)
        })
        .collect()
}

/// A scenario user with `permission: rules`.
pub fn rules_user(name: &str, rules: Vec<Value>) -> Value {
    let mut u = Mapping::new();
    u.insert("name".into(), name.into());
    u.insert("token".into(), format!("{name}-token").into());
    u.insert("permission".into(), "rules".into());
    u.insert("rules".into(), Value::Sequence(rules));
    Value::Mapping(u)
}

/// The shipped scenario `name` with `extra` users added (after the scenario's own users, or
/// after the default `admin` and `viewer` when it lists none).
pub fn scenario_with_users(name: &str, extra: Vec<Value>) -> SimConfig {
    let path = repo(&format!("scenarios/{name}.yaml"));
    let text = std::fs::read_to_string(&path).expect("the scenario reads");
    let mut doc: Value = serde_yaml_ng::from_str(&text).expect("the scenario is YAML");
    let map = doc.as_mapping_mut().expect("a scenario is a mapping");
    if !map.contains_key("users") {
        let defaults: Value = serde_yaml_ng::from_str(
            "- {name: admin, token: scs-kaas-sim-admin-token, permission: admin}\n\
             - {name: viewer, token: scs-kaas-sim-viewer-token, permission: read-only}\n",
        )
        .unwrap();
        map.insert("users".into(), defaults);
    }
    map.get_mut("users")
        .and_then(Value::as_sequence_mut)
        .expect("users is a list")
        .extend(extra);
    let text = serde_yaml_ng::to_string(&doc).unwrap();
    scs_kaas_sim::scenario::parse(&text, &path.display().to_string())
        .unwrap_or_else(|e| panic!("the scenario with extra users loads: {e}"))
}
