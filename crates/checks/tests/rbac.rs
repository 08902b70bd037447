//! `deploy/rbac.yaml` grants exactly what the registered checks (and `scs-kaas cleanup`) declare
//! in their `access()` lists: nothing missing, nothing extra.

use std::collections::BTreeSet;

use scs_kaas_checks::probe::sweep;
use scs_kaas_checks::registry;
use serde::Deserialize;

#[derive(Deserialize)]
struct Doc {
    kind: String,
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    api_groups: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    verbs: Vec<String>,
}

type Right = (String, String, String); // (group, resource, verb)

fn granted() -> BTreeSet<Right> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/rbac.yaml");
    let text = std::fs::read_to_string(path).expect("deploy/rbac.yaml is readable");
    let mut out = BTreeSet::new();
    let mut roles = 0;
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let doc = Doc::deserialize(doc).expect("every document of deploy/rbac.yaml parses");
        if doc.kind != "ClusterRole" {
            continue;
        }
        roles += 1;
        for rule in doc.rules {
            for g in &rule.api_groups {
                for r in &rule.resources {
                    for v in &rule.verbs {
                        assert!(
                            g != "*" && r != "*" && v != "*",
                            "wildcards are not least privilege"
                        );
                        out.insert((g.clone(), r.clone(), v.clone()));
                    }
                }
            }
        }
    }
    assert_eq!(roles, 1, "deploy/rbac.yaml holds exactly one ClusterRole");
    out
}

fn needed() -> BTreeSet<Right> {
    registry::all()
        .iter()
        .flat_map(|c| c.access())
        .chain(sweep::access())
        .map(|a| {
            (
                a.group.to_string(),
                a.resource.to_string(),
                a.verb.to_string(),
            )
        })
        .collect()
}

fn show(rights: &BTreeSet<Right>) -> String {
    rights
        .iter()
        .map(|(g, r, v)| format!("  - apiGroups: [{g:?}]  resources: [{r:?}]  verbs: [{v:?}]"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn rbac_yaml_grants_exactly_the_declared_access() {
    let granted = granted();
    let needed = needed();
    let missing: BTreeSet<_> = needed.difference(&granted).cloned().collect();
    let extra: BTreeSet<_> = granted.difference(&needed).cloned().collect();
    assert!(
        missing.is_empty(),
        "deploy/rbac.yaml lacks rights a check declares in access(); add to the ClusterRole:\n{}",
        show(&missing)
    );
    assert!(
        extra.is_empty(),
        "deploy/rbac.yaml grants rights no check declares in access(); remove them:\n{}",
        show(&extra)
    );
}

#[test]
fn binding_names_the_service_account_and_role() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/rbac.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let kinds: Vec<String> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| {
            serde_yaml_ng::Value::deserialize(d).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for kind in ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing in {kinds:?}"
        );
    }
    let binding = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde_yaml_ng::Value::deserialize(d).unwrap())
        .find(|d| d["kind"].as_str() == Some("ClusterRoleBinding"))
        .unwrap();
    assert_eq!(binding["roleRef"]["name"].as_str(), Some("scs-kaas"));
    assert_eq!(binding["subjects"][0]["name"].as_str(), Some("scs-kaas"));
}
