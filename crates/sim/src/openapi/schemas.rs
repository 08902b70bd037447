//! The schemas of the served built-in kinds for the OpenAPI v3 documents, so `kubectl explain`
//! works: generated from `k8s-openapi`'s `schemars` implementations (the upstream definitions
//! with their descriptions), in OpenAPI 3.0 form under `components.schemas`, each kind marked
//! with `x-kubernetes-group-version-kind` as upstream does. Built once per group-version.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use k8s_openapi::api;
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use crate::resources::RESOURCES;

/// Adds the schema of `T` (and what it reaches) to `generator`; returns its schema name.
fn add<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

/// The schema name of `api_version`/`kind` after adding it to `generator`, if it is a built-in
/// kind the sim serves.
fn add_kind(generator: &mut SchemaGenerator, api_version: &str, kind: &str) -> Option<String> {
    use api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core, rbac::v1 as rbac};
    let g = generator;
    Some(match (api_version, kind) {
        ("v1", "Namespace") => add::<core::Namespace>(g),
        ("v1", "Node") => add::<core::Node>(g),
        ("v1", "Pod") => add::<core::Pod>(g),
        ("v1", "Service") => add::<core::Service>(g),
        ("v1", "Endpoints") => add::<core::Endpoints>(g),
        ("v1", "PersistentVolumeClaim") => add::<core::PersistentVolumeClaim>(g),
        ("v1", "PersistentVolume") => add::<core::PersistentVolume>(g),
        ("v1", "ConfigMap") => add::<core::ConfigMap>(g),
        ("v1", "Event") => add::<core::Event>(g),
        ("v1", "Secret") => add::<core::Secret>(g),
        ("v1", "ServiceAccount") => add::<core::ServiceAccount>(g),
        ("apps/v1", "Deployment") => add::<apps::Deployment>(g),
        ("apps/v1", "ReplicaSet") => add::<apps::ReplicaSet>(g),
        ("apps/v1", "DaemonSet") => add::<apps::DaemonSet>(g),
        ("apps/v1", "StatefulSet") => add::<apps::StatefulSet>(g),
        ("batch/v1", "Job") => add::<batch::Job>(g),
        ("batch/v1", "CronJob") => add::<batch::CronJob>(g),
        ("storage.k8s.io/v1", "StorageClass") => add::<api::storage::v1::StorageClass>(g),
        ("storage.k8s.io/v1", "CSIDriver") => add::<api::storage::v1::CSIDriver>(g),
        ("storage.k8s.io/v1", "CSINode") => add::<api::storage::v1::CSINode>(g),
        ("coordination.k8s.io/v1", "Lease") => add::<api::coordination::v1::Lease>(g),
        ("discovery.k8s.io/v1", "EndpointSlice") => add::<api::discovery::v1::EndpointSlice>(g),
        ("networking.k8s.io/v1", "NetworkPolicy") => add::<api::networking::v1::NetworkPolicy>(g),
        ("networking.k8s.io/v1", "IngressClass") => add::<api::networking::v1::IngressClass>(g),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => add::<rbac::ClusterRole>(g),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            add::<rbac::ClusterRoleBinding>(g)
        }
        ("rbac.authorization.k8s.io/v1", "Role") => add::<rbac::Role>(g),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => add::<rbac::RoleBinding>(g),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            add::<api::authorization::v1::SelfSubjectAccessReview>(g)
        }
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => {
            add::<api::authorization::v1::SelfSubjectRulesReview>(g)
        }
        _ => return None,
    })
}

/// `components.schemas` of one group-version: its kinds and everything they reference.
fn build(group: &str, version: &str) -> Map<String, Value> {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut kinds = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        if let Some(name) = add_kind(&mut generator, &r.api_version(), r.kind) {
            kinds.push((name, r));
        }
    }
    let mut schemas = generator.take_definitions(true);
    for (name, r) in kinds {
        if let Some(schema) = schemas.get_mut(&name).and_then(Value::as_object_mut) {
            schema.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": r.group, "version": r.version, "kind": r.kind}]),
            );
        }
    }
    schemas
}

/// The schemas of `group`/`version` (empty for custom kinds), built on first use.
pub fn of(group: &str, version: &str) -> Value {
    static CACHE: OnceLock<std::sync::Mutex<BTreeMap<(String, String), Value>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry((group.to_string(), version.to_string()))
        .or_insert_with(|| Value::Object(build(group, version)))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_carry_their_gvk_and_references_resolve() {
        let schemas = of("apps", "v1");
        let d = &schemas["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            d["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "version": "v1", "kind": "Deployment"}])
        );
        assert!(d["description"].as_str().unwrap().contains("Deployment"));
        let spec = &d["properties"]["spec"];
        let reference = spec["allOf"][0]["$ref"]
            .as_str()
            .or(spec["$ref"].as_str())
            .unwrap();
        let target = reference.trim_start_matches("#/components/schemas/");
        assert!(
            schemas[target]["properties"]["replicas"].is_object(),
            "{reference}"
        );
        assert!(
            of("infrastructure.cluster.x-k8s.io", "v1beta1")
                .as_object()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn every_served_built_in_kind_has_a_schema() {
        for r in RESOURCES
            .iter()
            .filter(|r| r.group != "infrastructure.cluster.x-k8s.io")
        {
            let mut generator = SchemaSettings::openapi3().into_generator();
            assert!(
                add_kind(&mut generator, &r.api_version(), r.kind).is_some(),
                "{} {}",
                r.api_version(),
                r.kind
            );
        }
    }
}
