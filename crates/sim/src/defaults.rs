//! Defaulting: the fields a real API server fills in when a client leaves them out (Deployment
//! strategy, pod `dnsPolicy`, container `imagePullPolicy`, Service `type`, ...), so objects
//! written through the API read back as on a real cluster (`kubectl describe`, `get -o yaml`).
//!
//! Applied to every create, update, patch and apply through the API, whatever the body's
//! encoding. On a write to an existing object only the parts the write changed are defaulted
//! (the whole `spec`, and the pod template separately), so objects a scenario loaded without
//! defaults do not change — and roll out — because of an unrelated label change.

use serde_json::{Value, json};

/// `(kind, field, default as JSON)`: fields under the object's `spec` (`/`-separated path), set
/// when absent, `null` or `""` (what a protobuf body carries for an unset string). Rolling update
/// parameters are dropped again when the strategy is not a rolling update.
const SPEC: &[(&str, &str, &str)] = &[
    ("Deployment", "replicas", "1"),
    ("Deployment", "revisionHistoryLimit", "10"),
    ("Deployment", "progressDeadlineSeconds", "600"),
    ("Deployment", "strategy/type", r#""RollingUpdate""#),
    ("Deployment", "strategy/rollingUpdate/maxSurge", r#""25%""#),
    (
        "Deployment",
        "strategy/rollingUpdate/maxUnavailable",
        r#""25%""#,
    ),
    ("ReplicaSet", "replicas", "1"),
    ("StatefulSet", "replicas", "1"),
    ("StatefulSet", "podManagementPolicy", r#""OrderedReady""#),
    ("StatefulSet", "revisionHistoryLimit", "10"),
    ("StatefulSet", "updateStrategy/type", r#""RollingUpdate""#),
    ("StatefulSet", "updateStrategy/rollingUpdate/partition", "0"),
    (
        "StatefulSet",
        "persistentVolumeClaimRetentionPolicy/whenDeleted",
        r#""Retain""#,
    ),
    (
        "StatefulSet",
        "persistentVolumeClaimRetentionPolicy/whenScaled",
        r#""Retain""#,
    ),
    ("DaemonSet", "revisionHistoryLimit", "10"),
    ("DaemonSet", "updateStrategy/type", r#""RollingUpdate""#),
    ("DaemonSet", "updateStrategy/rollingUpdate/maxSurge", "0"),
    (
        "DaemonSet",
        "updateStrategy/rollingUpdate/maxUnavailable",
        "1",
    ),
    ("Job", "backoffLimit", "6"),
    ("Job", "completionMode", r#""NonIndexed""#),
    ("Job", "suspend", "false"),
    ("Job", "podReplacementPolicy", r#""TerminatingOrFailed""#),
    ("CronJob", "concurrencyPolicy", r#""Allow""#),
    ("CronJob", "suspend", "false"),
    ("CronJob", "successfulJobsHistoryLimit", "3"),
    ("CronJob", "failedJobsHistoryLimit", "1"),
    ("Service", "type", r#""ClusterIP""#),
    ("Service", "sessionAffinity", r#""None""#),
    ("PersistentVolumeClaim", "volumeMode", r#""Filesystem""#),
];

/// Pod spec fields set when absent (also in templates).
const POD_SPEC: &[(&str, &str)] = &[
    ("restartPolicy", r#""Always""#),
    ("terminationGracePeriodSeconds", "30"),
    ("dnsPolicy", r#""ClusterFirst""#),
    ("securityContext", "{}"),
    ("schedulerName", r#""default-scheduler""#),
];

/// Container fields set when absent.
const CONTAINER: &[(&str, &str)] = &[
    ("terminationMessagePath", r#""/dev/termination-log""#),
    ("terminationMessagePolicy", r#""File""#),
    ("resources", "{}"),
];

/// Where a kind keeps its pod template (the pod spec is its `spec`).
const TEMPLATES: &[(&str, &str)] = &[
    ("Deployment", "/spec/template"),
    ("ReplicaSet", "/spec/template"),
    ("StatefulSet", "/spec/template"),
    ("DaemonSet", "/spec/template"),
    ("Job", "/spec/template"),
    ("CronJob", "/spec/jobTemplate/spec/template"),
    ("Pod", ""),
];

/// Fill in the defaults of `kind` in `obj`. `old` is the stored object on an update: parts the
/// update did not change are left as they are.
pub fn apply(kind: &str, obj: &mut Value, old: Option<&Value>) {
    let changed = |obj: &Value, pointer: &str| {
        old.is_none_or(|old| old.pointer(pointer) != obj.pointer(pointer))
    };
    if kind != "Pod" && changed(obj, "/spec") && obj.get("spec").is_some_and(Value::is_object) {
        let spec = &mut obj["spec"];
        for (_, field, default) in SPEC.iter().filter(|(k, _, _)| *k == kind) {
            set_absent(spec, field, default);
        }
        // Only a rolling update has rolling update parameters.
        for strategy in ["strategy", "updateStrategy"] {
            if spec.pointer(&format!("/{strategy}/type")) != Some(&json!("RollingUpdate"))
                && let Some(s) = spec.get_mut(strategy).and_then(Value::as_object_mut)
            {
                s.remove("rollingUpdate");
            }
        }
        if kind == "Service" {
            let seed = format!(
                "{}/{}",
                obj.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
                obj.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            );
            service(&mut obj["spec"], &seed);
        }
    }
    for (_, template) in TEMPLATES.iter().filter(|(k, _)| *k == kind) {
        if changed(obj, template) {
            let pod_spec = format!("{template}/spec");
            if let Some(spec) = obj.pointer_mut(&pod_spec).filter(|s| s.is_object()) {
                pod(spec);
            }
        }
    }
}

/// Set `path` (`a/b/c`) below `target` to `default` (JSON text) if it is unset, making the
/// objects on the way; leaves everything alone where something on the way is not an object.
fn set_absent(target: &mut Value, path: &str, default: &str) {
    let mut here = target;
    let mut fields = path.split('/').peekable();
    while let Some(field) = fields.next() {
        let Some(map) = here.as_object_mut() else {
            return;
        };
        if fields.peek().is_none() {
            if map.get(field).is_none_or(|v| v.is_null() || v == "") {
                let value =
                    serde_json::from_str(default).expect("the default table holds valid JSON");
                map.insert(field.to_string(), value);
            }
            return;
        }
        let slot = map.entry(field).or_insert_with(|| json!({}));
        if slot.is_null() {
            *slot = json!({});
        }
        here = slot;
    }
}

fn pod(spec: &mut Value) {
    for (field, default) in POD_SPEC {
        set_absent(spec, field, default);
    }
    for list in ["initContainers", "containers"] {
        for container in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            for (field, default) in CONTAINER {
                set_absent(container, field, default);
            }
            let policy = pull_policy(container.get("image").and_then(Value::as_str));
            set_absent(container, "imagePullPolicy", &format!("{policy:?}"));
            tcp_ports(container);
        }
    }
}

/// `Always` for `:latest` and untagged images, `IfNotPresent` otherwise (digests included).
pub fn pull_policy(image: Option<&str>) -> &'static str {
    let Some(image) = image else {
        return "IfNotPresent";
    };
    if image.contains('@') {
        return "IfNotPresent";
    }
    // A tag is what follows the last ':' after the last '/' (a registry port is not a tag).
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn tcp_ports(owner: &mut Value) {
    for port in owner
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        set_absent(port, "protocol", r#""TCP""#);
    }
}

/// The cluster IP a Service gets when it asks for none: derived from its namespace and name
/// in 10.96.0.0/16 (stable across updates; not checked for collisions).
fn cluster_ip(seed: &str) -> String {
    let h = crate::controllers::object::stable_hash(seed);
    format!("10.96.{}.{}", (h >> 8) % 256, 1 + h % 254)
}

fn service(spec: &mut Value, seed: &str) {
    tcp_ports(spec);
    for port in spec
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(p) = port.get("port").cloned()
            && let Some(map) = port.as_object_mut()
        {
            map.entry("targetPort").or_insert(p);
        }
    }
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if kind == "ExternalName" {
        return;
    }
    set_absent(spec, "ipFamilies", r#"["IPv4"]"#);
    set_absent(spec, "ipFamilyPolicy", r#""SingleStack""#);
    set_absent(spec, "internalTrafficPolicy", r#""Cluster""#);
    if kind == "LoadBalancer" || kind == "NodePort" {
        set_absent(spec, "externalTrafficPolicy", r#""Cluster""#);
    }
    if kind == "LoadBalancer" {
        set_absent(spec, "allocateLoadBalancerNodePorts", "true");
    }
    let ip = cluster_ip(seed);
    set_absent(spec, "clusterIP", &format!("{ip:?}"));
    if let Some(map) = spec.as_object_mut()
        && let Some(ip) = map.get("clusterIP").cloned().filter(|ip| ip.is_string())
    {
        map.entry("clusterIPs").or_insert_with(|| json!([ip]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_follows_the_tag() {
        assert_eq!(pull_policy(Some("nginx")), "Always");
        assert_eq!(pull_policy(Some("nginx:latest")), "Always");
        assert_eq!(
            pull_policy(Some("registry.k8s.io/pause:3.10")),
            "IfNotPresent"
        );
        assert_eq!(pull_policy(Some("localhost:5000/app")), "Always");
        assert_eq!(pull_policy(Some("localhost:5000/app:1")), "IfNotPresent");
        assert_eq!(pull_policy(Some("app@sha256:abc")), "IfNotPresent");
    }

    fn deployment(strategy: Option<Value>) -> Value {
        let mut d = json!({"kind": "Deployment", "spec": {"selector": {},
            "template": {"spec": {"containers": [{"name": "c", "image": "nginx",
                "ports": [{"containerPort": 80}]}]}}}});
        if let Some(s) = strategy {
            d["spec"]["strategy"] = s;
        }
        d
    }

    #[test]
    fn deployments_get_upstream_defaults_and_keep_what_was_given() {
        let mut d = deployment(None);
        apply("Deployment", &mut d, None);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["schedulerName"], "default-scheduler");
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        let c = &pod["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        let mut recreate = deployment(Some(json!({"type": "Recreate"})));
        apply("Deployment", &mut recreate, None);
        assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn an_update_defaults_only_what_it_changed() {
        let stored = deployment(None);
        let mut relabelled = stored.clone();
        relabelled["metadata"] = json!({"labels": {"a": "b"}});
        apply("Deployment", &mut relabelled, Some(&stored));
        assert!(relabelled["spec"].get("strategy").is_none());
        assert!(
            relabelled["spec"]["template"]["spec"]
                .get("dnsPolicy")
                .is_none()
        );
        let mut scaled = stored.clone();
        scaled["spec"]["replicas"] = json!(3);
        apply("Deployment", &mut scaled, Some(&stored));
        assert_eq!(scaled["spec"]["revisionHistoryLimit"], 10);
        assert!(
            scaled["spec"]["template"]["spec"]
                .get("dnsPolicy")
                .is_none()
        );
    }

    #[test]
    fn services_default_type_affinity_families_and_target_ports() {
        let mut svc = json!({"spec": {"ports": [{"port": 80}]}});
        apply("Service", &mut svc, None);
        assert_eq!(svc["spec"]["type"], "ClusterIP");
        assert_eq!(svc["spec"]["sessionAffinity"], "None");
        assert_eq!(svc["spec"]["ipFamilies"], json!(["IPv4"]));
        let ip = svc["spec"]["clusterIP"].as_str().unwrap().to_string();
        assert!(ip.starts_with("10.96."), "{ip}");
        assert_eq!(svc["spec"]["clusterIPs"], json!([ip]));
        let mut headless = json!({"spec": {"clusterIP": "None"}});
        apply("Service", &mut headless, None);
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
        assert_eq!(
            svc["spec"]["ports"][0],
            json!({"port": 80, "targetPort": 80, "protocol": "TCP"})
        );
        let mut external = json!({"spec": {"type": "ExternalName", "externalName": "x.example"}});
        apply("Service", &mut external, None);
        assert!(external["spec"].get("ipFamilies").is_none());
    }
}
