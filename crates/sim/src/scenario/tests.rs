use std::path::PathBuf;

use serde_json::Value;

use super::*;
use crate::controllers::memory::MemoryWorld;
use crate::controllers::object::{label, name, str_at};
use crate::world::{Permission, World};

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn error_at(text: &str) -> (usize, usize, String) {
    match parse(text, "test.yaml") {
        Err(err @ ScenarioError::Invalid { .. }) => {
            let (line, column) = err.position().unwrap();
            let ScenarioError::Invalid {
                message, origin, ..
            } = err
            else {
                unreachable!()
            };
            assert_eq!(origin, "test.yaml");
            (line, column, message)
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("scenario was accepted:\n{text}"),
    }
}

#[test]
fn nesting_40k_deep_is_refused_before_parsing() {
    let flow = format!(
        "{BASE}labels: {}{}\n",
        "[".repeat(40_000),
        "]".repeat(40_000)
    );
    let (line, _, message) = error_at(&flow);
    assert_eq!(line, 7);
    assert!(message.contains("nested deeper than 256"), "{message}");
    let block: String = (0..2_000)
        .map(|d| format!("{}k{d}:\n", " ".repeat(d)))
        .collect();
    let (_, _, message) = error_at(&format!("{BASE}{block}"));
    assert!(message.contains("nested deeper than 256"), "{message}");
}

const BASE: &str = "name: t\nkubernetes:\n  version: v1.35.8\nnodes:\n  - name: n1\n    zone: a\n";

#[test]
fn minimal_scenario_gets_builtin_namespaces_and_default_users() {
    let config = parse(BASE, "t.yaml").unwrap();
    let objects = config.initial_objects();
    assert_eq!(config.git_version, "v1.35.8");
    let namespaces: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "Namespace")
        .map(name)
        .collect();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(namespaces.contains(&ns), "{ns} missing from {namespaces:?}");
    }
    assert_eq!(config.users.len(), 2);
    assert_eq!(config.users[0].permission, Permission::Admin);
    assert_eq!(config.users[0].token, "scs-kaas-sim-admin-token");
    assert_eq!(config.users[1].permission, Permission::ReadOnly);
    assert_eq!(config.users[1].token, "scs-kaas-sim-viewer-token");
}

#[test]
fn compliant_scenario_has_proper_objects() {
    let config = load(&scenarios_dir().join("compliant.yaml")).unwrap();
    let objects = config.initial_objects();
    let nodes: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "Node").collect();
    assert_eq!(nodes.len(), 6);
    let cp = nodes.iter().find(|n| name(n) == "control-plane-0").unwrap();
    assert_eq!(label(cp, "node-role.kubernetes.io/control-plane"), Some(""));
    assert_eq!(label(cp, "topology.kubernetes.io/zone"), Some("zone-a"));
    assert_eq!(label(cp, "topology.kubernetes.io/region"), Some("region-1"));
    assert_eq!(label(cp, "kubernetes.io/hostname"), Some("control-plane-0"));
    assert_eq!(
        cp["spec"]["taints"][0]["key"],
        "node-role.kubernetes.io/control-plane"
    );
    assert_eq!(
        str_at(cp, "status.nodeInfo.kubeletVersion"),
        Some("v1.35.8")
    );
    assert_eq!(cp["status"]["addresses"][0]["type"], "InternalIP");
    let worker = nodes.iter().find(|n| name(n) == "worker-1").unwrap();
    assert!(worker["spec"].get("taints").is_none());
    let class = objects
        .iter()
        .find(|o| o["kind"] == "StorageClass")
        .unwrap();
    assert_eq!(
        class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"],
        "true"
    );
    assert_eq!(class["volumeBindingMode"], "WaitForFirstConsumer");
    let kubeadm = objects
        .iter()
        .find(|o| name(o) == "kubeadm-config")
        .unwrap();
    assert!(
        kubeadm["data"]["ClusterConfiguration"]
            .as_str()
            .unwrap()
            .contains("imageRepository: registry.k8s.io")
    );
    let coredns = objects
        .iter()
        .find(|o| o["kind"] == "Deployment" && name(o) == "coredns")
        .unwrap();
    assert_eq!(coredns["status"]["availableReplicas"], 2);
    let images: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "Pod")
        .flat_map(|p| p["spec"]["containers"].as_array().unwrap().iter())
        .filter_map(|c| c["image"].as_str())
        .collect();
    assert!(!images.is_empty());
    // registry.k8s.io only, but for the network plugin (Calico publishes on quay.io).
    assert!(
        images
            .iter()
            .all(|i| i.starts_with("registry.k8s.io/") || i.starts_with("quay.io/calico/")),
        "{images:?}"
    );
    assert!(images.iter().any(|i| i.starts_with("quay.io/calico/node:")));
    // Workload pods avoid the tainted control-plane nodes; DaemonSet pods run everywhere.
    let coredns_nodes: Vec<&str> = objects
        .iter()
        .filter(|o| o["kind"] == "Pod" && label(o, "k8s-app") == Some("kube-dns"))
        .filter_map(|p| str_at(p, "spec.nodeName"))
        .collect();
    assert_eq!(coredns_nodes.len(), 2);
    assert!(
        coredns_nodes.iter().all(|n| n.starts_with("worker-")),
        "{coredns_nodes:?}"
    );
    let proxies = objects
        .iter()
        .filter(|o| o["kind"] == "Pod" && label(o, "k8s-app") == Some("kube-proxy"));
    assert_eq!(proxies.count(), 6);
}

#[test]
fn every_shipped_scenario_loads_and_is_settled() {
    let mut count = 0;
    for entry in std::fs::read_dir(scenarios_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        count += 1;
        let config = load(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut world = MemoryWorld::new(config.initial_objects());
        let rounds = world.settle(&config.controllers, jiff::Timestamp::now(), 20);
        // Pre-existing workloads come out of the loader exactly as the controllers would leave
        // them; only deliberately Pending pods may move.
        assert!(rounds.is_some(), "{} does not settle", path.display());
        let deployments = world.list("Deployment", None, None);
        for d in &deployments {
            assert!(
                crate::controllers::object::condition_true(d, "Available"),
                "{}: deployment {} not available",
                path.display(),
                name(d)
            );
        }
        let sets = world.list("ReplicaSet", None, None);
        assert_eq!(
            sets.len(),
            deployments.len(),
            "{}: no extra ReplicaSets",
            path.display()
        );
    }
    assert!(
        count >= 8,
        "expected the scenario library, found {count} files"
    );
}

#[test]
fn shipped_workloads_do_not_move_at_start() {
    let config = load(&scenarios_dir().join("compliant.yaml")).unwrap();
    let world = MemoryWorld::new(config.initial_objects());
    for controller in &config.controllers {
        let actions = controller.reconcile(&world, jiff::Timestamp::now());
        assert!(
            actions.is_empty(),
            "{} acts on a fresh scenario: {actions:?}",
            controller.name()
        );
    }
}

#[test]
fn unknown_key_is_reported_with_position_and_allowed_keys() {
    let text = format!("{BASE}    zoen: b\n");
    let (line, column, message) = error_at(&text);
    assert_eq!((line, column), (7, 5), "{message}");
    assert!(message.contains("unknown field `zoen`"), "{message}");
    assert!(message.contains("`zone`"), "allowed keys listed: {message}");
}

#[test]
fn wrong_type_is_reported_with_position() {
    let text = format!("{BASE}    ready: sometimes\n");
    let (line, column, message) = error_at(&text);
    assert_eq!((line, column), (7, 12), "{message}");
    assert!(
        message.contains("invalid type") || message.contains("boolean"),
        "{message}"
    );
}

#[test]
fn pod_on_unknown_node_is_reported_at_the_node_field() {
    let text = format!(
        "{BASE}workloads:\n  - kind: Pod\n    name: p\n    node: n2\n    containers: [{{name: c, image: x}}]\n"
    );
    let (line, column, message) = error_at(&text);
    assert_eq!((line, column), (10, 11), "{message}");
    assert!(message.contains("\"n2\" does not exist"), "{message}");
}

#[test]
fn pod_on_known_node_is_accepted() {
    let text = format!(
        "{BASE}workloads:\n  - kind: Pod\n    name: p\n    node: n1\n    containers: [{{name: c, image: x}}]\n"
    );
    let config = parse(&text, "t.yaml").unwrap();
    let objects = config.initial_objects();
    let pod = objects.iter().find(|o| o["kind"] == "Pod").unwrap();
    assert_eq!(str_at(pod, "spec.nodeName"), Some("n1"));
    assert_eq!(str_at(pod, "status.phase"), Some("Running"));
}

#[test]
fn duplicate_storage_class_is_reported_at_the_second_name() {
    let text = format!(
        "{BASE}storageClasses:\n  - name: fast\n    provisioner: a\n  - name: fast\n    provisioner: b\n"
    );
    let (line, column, message) = error_at(&text);
    assert_eq!((line, column), (10, 11), "{message}");
    assert!(
        message.contains("storage class \"fast\" is defined twice"),
        "{message}"
    );
}

#[test]
fn duplicate_node_is_reported_at_the_second_name() {
    let text = format!("{BASE}  - name: n1\n");
    let (line, column, message) = error_at(&text);
    assert_eq!((line, column), (7, 11), "{message}");
    assert!(
        message.contains("node \"n1\" is defined twice"),
        "{message}"
    );
}

#[test]
fn user_without_token_is_reported() {
    let text = format!("{BASE}users:\n  - name: admin\n    permission: admin\n");
    let (line, column, message) = error_at(&text);
    assert_eq!((line, column), (8, 5), "{message}");
    assert!(message.contains("missing field `token`"), "{message}");
}

#[test]
fn user_with_empty_token_is_reported_at_the_token() {
    let text = format!("{BASE}users:\n  - name: admin\n    token: \"\"\n    permission: admin\n");
    let (line, column, message) = error_at(&text);
    assert_eq!((line, column), (9, 12), "{message}");
    assert!(message.contains("token is empty"), "{message}");
}

#[test]
fn workload_in_undeclared_namespace_is_reported() {
    let text = format!(
        "{BASE}workloads:\n  - kind: Deployment\n    name: web\n    namespace: shop\n    containers: [{{name: c, image: x}}]\n"
    );
    let (line, column, message) = error_at(&text);
    assert_eq!((line, column), (10, 16), "{message}");
    assert!(
        message.contains("namespace \"shop\" is not declared"),
        "{message}"
    );
    let declared = text.replace("workloads:", "namespaces: [{name: shop}]\nworkloads:");
    assert!(parse(&declared, "t.yaml").is_ok());
}

#[test]
fn bad_version_is_reported() {
    let (line, column, message) = error_at("name: t\nkubernetes:\n  version: \"1.35\"\n");
    assert_eq!((line, column), (3, 12), "{message}");
    assert!(message.contains("v1.35.8"), "{message}");
}

#[test]
fn unknown_behaviour_lists_the_allowed_ones() {
    let text =
        format!("{BASE}storageClasses:\n  - name: s\n    provisioner: p\n    behaviour: magic\n");
    let (line, column, message) = error_at(&text);
    assert_eq!((line, column), (10, 16), "{message}");
    assert!(
        message.contains("network") && message.contains("never"),
        "{message}"
    );
}

#[test]
fn yaml_syntax_error_has_position() {
    let (line, _, _) = error_at("name: t\nkubernetes: [\n");
    assert!(line >= 2);
}

#[test]
fn missing_file_names_the_path() {
    let err = load(std::path::Path::new("/nonexistent/scenario.yaml"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("/nonexistent/scenario.yaml"));
}

#[test]
fn rules_users_keep_their_rules() {
    let text = format!(
        "{BASE}users:\n  - {{name: root, token: t1, permission: admin}}\n  - name: pods\n    token: t2\n    permission: rules\n    rules:\n      - verbs: [get, list]\n        groups: [\"\"]\n        resources: [pods, pods/log]\n        namespaces: [default]\n"
    );
    let config = parse(&text, "t.yaml").unwrap();
    let Permission::Rules(rules) = &config.users[1].permission else {
        panic!("not rules")
    };
    assert_eq!(rules[0].resources, vec!["pods", "pods/log"]);
    assert_eq!(rules[0].groups, vec![""]);
    let duplicate = text.replace("token: t2", "token: t1");
    let (line, column, message) = error_at(&duplicate);
    assert_eq!((line, column), (10, 12), "{message}");
}

#[test]
fn generated_scenario_round_trips() {
    let scenario = generate::generate(12, 300, 7).unwrap();
    let text = generate::to_yaml(&scenario).unwrap();
    let again = parse_model(&text, "gen.yaml").unwrap();
    assert_eq!(again, scenario);
    let config = parse(&text, "gen.yaml").unwrap();
    let objects = config.initial_objects();
    assert_eq!(objects.iter().filter(|o| o["kind"] == "Pod").count(), 300);
    assert_eq!(objects.iter().filter(|o| o["kind"] == "Node").count(), 12);
    assert_eq!(
        generate::to_yaml(&generate::generate(12, 300, 7).unwrap()).unwrap(),
        text,
        "deterministic"
    );
    assert!(generate::generate(0, 5, 1).is_err());
}

#[test]
fn network_defaults_to_a_working_load_balancer_and_no_enforcement() {
    let scenario = parse_model(BASE, "test.yaml").unwrap();
    assert_eq!(scenario.network.load_balancer, LoadBalancerMode::L3);
    assert_eq!(scenario.network.network_policy, NetworkPolicyMode::Ignored);
    let text = format!(
        "{BASE}network:\n  loadBalancer: local-no-healthcheck\n  proxyProtocol: true\n  networkPolicy: enforced\n  cni: calico\n"
    );
    let network = parse_model(&text, "test.yaml").unwrap().network;
    assert_eq!(network.load_balancer, LoadBalancerMode::LocalNoHealthcheck);
    assert!(network.proxy_protocol);
    assert_eq!(network.network_policy, NetworkPolicyMode::Enforced);
    assert_eq!(network.cni.as_deref(), Some("calico"));
}

#[test]
fn proxy_protocol_without_a_terminating_balancer_is_reported() {
    let text = format!("{BASE}network:\n  loadBalancer: l3\n  proxyProtocol: true\n");
    let (line, column, message) = error_at(&text);
    assert_eq!((line, column), (9, 18), "{message}");
    assert!(
        message.contains("proxy or local-no-healthcheck"),
        "{message}"
    );
    let text = format!("{BASE}network:\n  loadBalancer: magic\n");
    let (_, _, message) = error_at(&text);
    assert!(
        message.contains("l3") && message.contains("pending"),
        "{message}"
    );
}

/// The scenario library of issue 2: each file exists and is broken in exactly its named way
/// (compared with `compliant`).
#[test]
fn scenario_library_is_what_its_names_say() {
    let model = |name: &str| {
        let path = scenarios_dir().join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        parse_model(&text, name).unwrap_or_else(|e| panic!("{e}"))
    };
    let defaults = |s: &Scenario| -> Vec<Behaviour> {
        s.storage_classes
            .iter()
            .filter(|c| c.default)
            .map(|c| c.behaviour)
            .collect()
    };
    let control_plane_zones = |s: &Scenario| -> std::collections::BTreeSet<Option<String>> {
        s.nodes
            .iter()
            .filter(|n| n.roles.contains(&Role::ControlPlane))
            .map(|n| n.zone.clone())
            .collect()
    };
    let frozen_images = |s: &Scenario| -> usize {
        s.workloads
            .iter()
            .flat_map(|w| w.containers.iter().chain(&w.init_containers))
            .filter(|c| c.image.starts_with("k8s.gcr.io/"))
            .count()
    };
    let compliant = model("compliant");
    assert_eq!(defaults(&compliant), [Behaviour::Network]);
    assert_eq!(control_plane_zones(&compliant).len(), 3);
    assert_eq!(frozen_images(&compliant), 0);
    assert_eq!(compliant.kubernetes.version, "v1.35.8");

    let outdated = model("outdated-patch");
    assert!(outdated.kubernetes.version.starts_with("v1.35."));
    assert_ne!(outdated.kubernetes.version, compliant.kubernetes.version);
    assert!(
        !model("eol-version")
            .kubernetes
            .version
            .starts_with("v1.35.")
    );
    assert_eq!(defaults(&model("no-default-storage-class")), []);
    assert_eq!(
        defaults(&model("local-default-storage-class")),
        [Behaviour::Local]
    );
    assert_eq!(defaults(&model("two-default-storage-classes")).len(), 2);
    assert_eq!(
        control_plane_zones(&model("single-zone-control-plane")).len(),
        1
    );
    let frozen = model("frozen-registry-images");
    assert!(frozen_images(&frozen) > 0);
    assert_eq!(
        frozen.kubeadm.map(|k| k.image_repository).as_deref(),
        Some("k8s.gcr.io")
    );
}

#[test]
fn ingress_classes_become_objects_and_bad_ones_are_reported() {
    let good = format!(
        "{BASE}network:\n  ingressClasses:\n    - {{name: nginx, controller: k8s.io/ingress-nginx, default: true}}\n    - {{name: other, controller: example.org/x}}\n"
    );
    let config = parse(&good, "t.yaml").expect("loads");
    let objects = config.initial_objects();
    let classes: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "IngressClass")
        .collect();
    assert_eq!(classes.len(), 2);
    assert_eq!(classes[0]["spec"]["controller"], "k8s.io/ingress-nginx");
    assert_eq!(
        classes[0]["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"],
        "true"
    );
    assert!(classes[1]["metadata"].get("annotations").is_none());
    let twice = format!(
        "{BASE}network:\n  ingressClasses:\n    - name: nginx\n      controller: a\n    - name: nginx\n      controller: b\n"
    );
    let (line, column, message) = error_at(&twice);
    assert_eq!((line, column), (11, 13), "{message}");
    assert!(
        message.contains("ingress class \"nginx\" is defined twice"),
        "{message}"
    );
    let empty =
        format!("{BASE}network:\n  ingressClasses:\n    - name: nginx\n      controller: \" \"\n");
    let (line, _, message) = error_at(&empty);
    assert_eq!(line, 10, "{message}");
    assert!(message.contains("controller is empty"), "{message}");
}

#[test]
fn openstack_clusters_become_capo_objects_with_spec_and_status() {
    let text = format!(
        "{BASE}namespaces: [{{name: tenant}}]\nopenstackClusters:\n  - name: prod\n    namespace: tenant\n    apiServerLoadBalancer:\n      allowedCIDRs: [192.0.2.0/24]\n      provider: amphora\n  - name: moving\n    namespace: tenant\n    apiServerLoadBalancer:\n      allowedCIDRs: [192.0.2.0/24]\n      appliedCIDRs: [0.0.0.0/0]\n  - name: bare\n"
    );
    let config = parse(&text, "t.yaml").unwrap();
    let objects = config.initial_objects();
    let clusters: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "OpenStackCluster")
        .collect();
    assert_eq!(clusters.len(), 3);
    let prod = clusters[0];
    assert_eq!(
        prod["apiVersion"],
        "infrastructure.cluster.x-k8s.io/v1beta1"
    );
    assert_eq!(prod["metadata"]["namespace"], "tenant");
    let lb = &prod["spec"]["apiServerLoadBalancer"];
    assert_eq!(lb["enabled"], true);
    assert_eq!(lb["allowedCIDRs"], serde_json::json!(["192.0.2.0/24"]));
    assert_eq!(lb["provider"], "amphora");
    assert_eq!(
        prod["status"]["apiServerLoadBalancer"]["allowedCIDRs"],
        serde_json::json!(["192.0.2.0/24"]),
        "applied = spec by default"
    );
    assert_eq!(
        clusters[1]["status"]["apiServerLoadBalancer"]["allowedCIDRs"],
        serde_json::json!(["0.0.0.0/0"])
    );
    let bare = clusters[2];
    assert_eq!(bare["metadata"]["namespace"], "default");
    assert!(bare["spec"].get("apiServerLoadBalancer").is_none());
}

#[test]
fn openstack_cluster_problems_are_reported_with_position() {
    let (line, column, message) = error_at(&format!(
        "{BASE}openstackClusters:\n  - name: prod\n    namespace: tenant\n"
    ));
    assert_eq!((line, column), (9, 16), "{message}");
    assert!(
        message.contains("namespace \"tenant\" is not declared"),
        "{message}"
    );
    let (line, column, message) = error_at(&format!(
        "{BASE}openstackClusters:\n  - name: prod\n  - name: prod\n"
    ));
    assert_eq!((line, column), (9, 11), "{message}");
    assert!(
        message.contains("OpenStackCluster default/prod is defined twice"),
        "{message}"
    );
    let (line, column, message) = error_at(&format!(
        "{BASE}openstackClusters:\n  - name: prod\n    apiServerLoadBalancer:\n      allowedCIDRs: [192.0.2.0/24, \"\"]\n"
    ));
    assert_eq!((line, column), (10, 36), "{message}");
    assert!(message.contains("allowedCIDRs entry is empty"), "{message}");
    let (line, column, message) = error_at(&format!(
        "{BASE}openstackClusters:\n  - name: prod\n    apiServerLoadBalancer:\n      allowedCidrs: []\n"
    ));
    assert_eq!((line, column), (10, 7), "{message}");
    assert!(
        message.contains("unknown field `allowedCidrs`") && message.contains("allowedCIDRs"),
        "{message}"
    );
}

#[test]
fn csi_topology_keys_give_csinodes_and_node_labels() {
    let text = format!(
        "{BASE}    region: r\n  - name: n2\n    zone: b\n    labels: {{topology.example.com/zone: c}}\ncsiDrivers:\n  - name: example.com\n    topologyKeys: [topology.example.com/zone, topology.example.com/region, topology.example.com/node]\n"
    );
    let config = parse(&text, "t.yaml").unwrap();
    let objects = config.initial_objects();
    let csi: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "CSINode").collect();
    assert_eq!(csi.len(), 2);
    assert_eq!(name(csi[0]), "n1");
    assert_eq!(csi[0]["spec"]["drivers"][0]["name"], "example.com");
    assert_eq!(csi[0]["spec"]["drivers"][0]["nodeID"], "n1");
    assert_eq!(
        csi[0]["spec"]["drivers"][0]["topologyKeys"][0],
        "topology.example.com/zone"
    );
    let node = |n: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == "Node" && name(o) == n)
            .unwrap()
    };
    assert_eq!(label(node("n1"), "topology.example.com/zone"), Some("a"));
    assert_eq!(label(node("n1"), "topology.example.com/region"), Some("r"));
    assert_eq!(label(node("n1"), "topology.example.com/node"), Some("n1"));
    // The node's own labels win (a driver that sees another zone); no region, no region label.
    assert_eq!(label(node("n2"), "topology.example.com/zone"), Some("c"));
    assert_eq!(label(node("n2"), "topology.example.com/region"), None);
    // Without topology keys there are no CSINodes.
    let plain = parse(BASE, "t.yaml").unwrap();
    assert!(!plain.objects.iter().any(|o| o["kind"] == "CSINode"));
    let (line, column, message) = error_at(&format!(
        "{BASE}csiDrivers:\n  - name: example.com\n    topologyKeys: [\"bad key/\"]\n"
    ));
    assert_eq!((line, column), (9, 20), "{message}");
    assert!(message.contains("is not a label key"), "{message}");
}

/// The node-distribution and management-cluster scenarios of issue 5 are broken in exactly
/// their named way.
#[test]
fn node_and_mgmt_scenarios_are_what_their_names_say() {
    let model = |name: &str| {
        let path = scenarios_dir().join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        parse_model(&text, name).unwrap_or_else(|e| panic!("{e}"))
    };
    let is_cp = |n: &&NodeSpec| n.roles.contains(&Role::ControlPlane);
    let host = |n: &NodeSpec| n.labels.get("topology.scs.community/host-id").cloned();
    let compliant = model("compliant");
    assert!(compliant.nodes.iter().all(|n| host(n).is_some()));
    assert_eq!(
        model("single-control-plane")
            .nodes
            .iter()
            .filter(is_cp)
            .count(),
        1
    );
    let one_host = model("control-plane-one-host");
    let hostnames: std::collections::BTreeSet<_> = one_host
        .nodes
        .iter()
        .filter(is_cp)
        .map(|n| n.hostname.clone())
        .collect();
    assert_eq!(hostnames.len(), 1);
    assert_eq!(one_host.nodes.iter().filter(is_cp).count(), 3);
    let missing = model("nodes-missing-topology-labels");
    assert!(
        missing
            .nodes
            .iter()
            .any(|n| n.zone.is_none() || n.region.is_none())
    );
    let worker_zones: std::collections::BTreeSet<_> = model("workers-one-zone")
        .nodes
        .iter()
        .filter(|n| !is_cp(n))
        .map(|n| n.zone.clone())
        .collect();
    assert_eq!(worker_zones.len(), 1);
    let worker_hosts: std::collections::BTreeSet<_> = model("workers-one-host")
        .nodes
        .iter()
        .filter(|n| !is_cp(n))
        .map(host)
        .collect();
    assert_eq!(worker_hosts.len(), 1);
    let mismatch = model("csi-zone-mismatch");
    assert!(!mismatch.csi_drivers[0].topology_keys.is_empty());
    let mgmt = model("mgmt-cluster");
    let open = mgmt.openstack_clusters.iter().filter(|c| {
        c.api_server_load_balancer
            .as_ref()
            .is_some_and(|lb| lb.allowed_cidrs.iter().any(|c| c == "0.0.0.0/0"))
    });
    assert_eq!(open.count(), 1);
    assert!(mgmt.openstack_clusters.len() >= 4);
}

/// The full example of `docs/scenario-format.md` is a valid scenario (the docs stay in step).
#[test]
fn documented_full_example_loads() {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/scenario-format.md"),
    )
    .unwrap();
    let start = doc.find("```yaml\n").expect("the docs have a YAML example") + 8;
    let end = start + doc[start..].find("```").unwrap();
    let config =
        parse(&doc[start..end], "docs/scenario-format.md").unwrap_or_else(|e| panic!("{e}"));
    let objects = config.initial_objects();
    assert!(objects.iter().any(|o| o["kind"] == "OpenStackCluster"));
    assert!(objects.iter().any(|o| o["kind"] == "CSINode"));
}

/// A [`World`] that counts the objects it hands out parsed (`list`/`get`); index queries are
/// free.
struct Counting<'w> {
    world: &'w MemoryWorld,
    parsed: std::cell::Cell<usize>,
}

impl World for Counting<'_> {
    fn list(&self, kind: &str, namespace: Option<&str>, field: Option<(&str, &str)>) -> Vec<Value> {
        let out = self.world.list(kind, namespace, field);
        self.parsed.set(self.parsed.get() + out.len());
        out
    }

    fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let out = self.world.get(kind, namespace, name);
        self.parsed
            .set(self.parsed.get() + usize::from(out.is_some()));
        out
    }

    fn list_index(
        &self,
        kind: &str,
        namespace: Option<&str>,
    ) -> Vec<std::sync::Arc<crate::world::Index>> {
        self.world.list_index(kind, namespace)
    }

    fn get_index(
        &self,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<std::sync::Arc<crate::world::Index>> {
        self.world.get_index(kind, namespace, name)
    }
}

/// The server runs every controller after start and after each change; on a settled cluster
/// that must not parse the pods, ReplicaSets or Deployments (issue 2's 50,000 pods): the index
/// tells them there is nothing to do. Once something does change, the objects concerned are
/// parsed and acted on.
#[test]
fn settled_clusters_cost_the_controllers_no_parsing() {
    let text = generate::to_yaml(&generate::generate(30, 600, 3).unwrap()).unwrap();
    let config = parse(&text, "gen.yaml").unwrap();
    let mut world = MemoryWorld::new(config.initial_objects());
    let now = jiff::Timestamp::now();
    for controller in &config.controllers {
        let counting = Counting {
            world: &world,
            parsed: Default::default(),
        };
        let actions = controller.reconcile(&counting, now);
        assert!(actions.is_empty(), "{}: {actions:?}", controller.name());
        assert_eq!(
            counting.parsed.get(),
            0,
            "{} parsed objects of a settled cluster",
            controller.name()
        );
    }
    // Scale one Deployment: only it (and then its ReplicaSet) is parsed and changed.
    let mut d = world
        .list("Deployment", None, None)
        .into_iter()
        .next()
        .unwrap();
    d["spec"]["replicas"] = serde_json::json!(25);
    world.replace(d.clone());
    let deployment = config
        .controllers
        .iter()
        .find(|c| c.name() == "deployment")
        .unwrap();
    let counting = Counting {
        world: &world,
        parsed: Default::default(),
    };
    let actions = deployment.reconcile(&counting, now);
    assert_eq!(
        counting.parsed.get(),
        2,
        "the Deployment and its ReplicaSet"
    );
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, crate::world::Action::Update(rs)
            if rs["kind"] == "ReplicaSet" && rs["spec"]["replicas"] == 25)),
        "{actions:?}"
    );
    world.apply(actions, now);
    assert!(world.settle(&config.controllers, now, 20).is_some());
    let pods = world
        .list_index("Pod", None)
        .iter()
        .filter(|p| p.controller().is_some_and(|c| c.name.starts_with(name(&d))))
        .count();
    assert_eq!(pods, 25);
}

#[test]
fn e2e_block_is_checked_with_positions() {
    let ok = format!(
        "{BASE}e2e:\n  outcome: fail\n  failures:\n    - \"[sig-network] Services should serve a basic endpoint from pods [Conformance]\"\n  duration: 500ms\n"
    );
    assert!(parse(&ok, "t.yaml").is_ok());
    let (line, _, message) = error_at(&format!("{BASE}e2e:\n  outcome: fail\n"));
    assert_eq!(line, 8, "{message}");
    assert!(
        message.contains("needs the failing spec names"),
        "{message}"
    );
    let (line, _, message) = error_at(&format!(
        "{BASE}e2e:\n  failures: [\"[sig-network] Services should serve a basic endpoint from pods [Conformance]\"]\n"
    ));
    assert_eq!(line, 8, "{message}");
    assert!(message.contains("only apply to outcome fail"), "{message}");
    let (line, _, message) = error_at(&format!(
        "{BASE}e2e:\n  outcome: fail\n  failures:\n    - \"[sig-network] Services work\"\n"
    ));
    assert_eq!(line, 10, "{message}");
    assert!(
        message.contains("not a spec of the simulated v1.35.8 suite"),
        "{message}"
    );
    let (_, _, message) = error_at(&format!("{BASE}e2e:\n  duration: soon\n"));
    assert!(message.contains("e.g. 30s"), "{message}");
    let (_, _, message) = error_at(&format!("{BASE}e2e:\n  duration: 2h\n"));
    assert!(message.contains("out of range"), "{message}");
    let (_, _, message) = error_at(&format!("{BASE}e2e:\n  outcome: explode\n"));
    assert!(message.contains("image-pull-error"), "{message}");
    let old = "name: t\nkubernetes:\n  version: v1.23.17\ne2e: {}\n";
    let (_, _, message) = error_at(old);
    assert!(message.contains("v1.24–v1.35"), "{message}");
}

#[test]
fn unreleased_finalizers_are_checked_with_positions_and_reach_the_config() {
    let ok = format!(
        "{BASE}unreleasedFinalizers:\n  - finalizer: backup.example.com/protect\n    kinds: [PersistentVolumeClaim, Service]\n"
    );
    let config = parse(&ok, "t.yaml").unwrap();
    let added: Vec<(&str, &str)> = config
        .added_finalizers
        .iter()
        .map(|a| (a.kind.as_str(), a.finalizer.as_str()))
        .collect();
    assert_eq!(
        added,
        [
            ("PersistentVolumeClaim", "backup.example.com/protect"),
            ("Service", "backup.example.com/protect")
        ]
    );
    for (entry, line, want) in [
        (
            "  - finalizer: protect\n    kinds: [Pod]\n",
            8,
            "not a domain-qualified name",
        ),
        (
            "  - finalizer: example.com/x\n    kinds: [Pods]\n",
            9,
            "kind \"Pods\" is not served by the simulator; use one of",
        ),
        (
            "  - finalizer: example.com/x\n    kinds: []\n",
            9,
            "kinds is empty",
        ),
        (
            "  - finalizer: example.com/x\n    kinds: [Pod, Pod]\n",
            9,
            "listed twice",
        ),
        (
            "  - finalizer: example.com/x\n    kinds: [Pod]\n  - finalizer: example.com/x\n    kinds: [Service]\n",
            10,
            "first at unreleasedFinalizers[0]",
        ),
    ] {
        let (at, _, message) = error_at(&format!("{BASE}unreleasedFinalizers:\n{entry}"));
        assert_eq!(at, line, "{message}");
        assert!(message.contains(want), "{want:?} missing in {message}");
    }
}

const WEB: &str = "namespaces:\n  - name: web\nworkloads:\n  - kind: Deployment\n    name: web\n    namespace: web\n    containers:\n      - name: c\n        image: registry.k8s.io/pause:3.10\n";

#[test]
fn counts_beyond_the_documented_limits_are_clear_errors() {
    let text = format!("{BASE}{WEB}    replicas: 4294967295\n");
    let (_, _, message) = error_at(&text);
    assert!(
        message.contains("replicas 4294967295") && message.contains("limit of 150000"),
        "{message}"
    );
    // Many workloads each within the limit, together over the total.
    let mut text = format!("{BASE}namespaces:\n  - name: web\nworkloads:\n");
    for i in 0..3 {
        text.push_str(&format!(
            "  - kind: Deployment\n    name: web{i}\n    namespace: web\n    replicas: 60000\n    containers:\n      - name: c\n        image: i\n"
        ));
    }
    let (_, _, message) = error_at(&text);
    assert!(message.contains("limit of 150000 pods"), "{message}");
    let err = generate::generate(4_294_967_295, 0, 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--nodes 4294967295 is more than the simulator's limit of 10000; pass at most 10000"
    );
    assert!(generate::generate(10, 150_001, 1).is_err());
}

/// Issue 13 defect 14: one Deployment's pods were named by scanning every suffix from the first
/// (quadratic: 8,000 replicas took 22 s). Its 20,000 pods are made; the time is in the report of
/// `examples/scenario_bench.rs`.
#[test]
fn a_deployment_of_20000_replicas_starts() {
    let text = format!("{BASE}{WEB}    replicas: 20000\n");
    let config = parse(&text, "t.yaml").unwrap();
    let objects = config.initial_objects();
    let pods: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "Pod").collect();
    assert_eq!(pods.len(), 20_000);
    let names: std::collections::BTreeSet<&str> = pods.iter().map(|p| name(p)).collect();
    assert_eq!(names.len(), 20_000, "pod names are unique");
}
