//! Content checks the serde model cannot express: names that must be unique, references that
//! must resolve, fields that only make sense for some kinds. Each problem carries the path of the
//! offending value so the caller can report its line and column.

use std::collections::HashMap;

use super::locate::Seg::{self, Index, Key};
use super::model::*;

/// The namespaces every cluster has.
pub const BUILTIN_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// One content problem.
pub struct Problem {
    /// Where in the document.
    pub path: Vec<Seg>,
    /// What is wrong and how to fix it.
    pub message: String,
}

type Check = Result<(), Problem>;

fn problem(path: Vec<Seg>, message: impl Into<String>) -> Check {
    Err(Problem {
        path,
        message: message.into(),
    })
}

/// Checks a parsed scenario; the first problem found is returned.
pub fn check(s: &Scenario) -> Check {
    if s.name.trim().is_empty() {
        return problem(vec![Key("name")], "name is empty; give the scenario a name");
    }
    check_version(
        &s.kubernetes.version,
        vec![Key("kubernetes"), Key("version")],
    )?;
    if let Some(kubeadm) = &s.kubeadm
        && kubeadm.image_repository.trim().is_empty()
    {
        return problem(
            vec![Key("kubeadm"), Key("imageRepository")],
            "imageRepository is empty; give a registry such as registry.k8s.io",
        );
    }
    check_nodes(s)?;
    check_storage(s)?;
    check_sizes(s)?;
    check_namespaces(s)?;
    check_workloads(s)?;
    check_network(&s.network)?;
    check_openstack_clusters(s)?;
    check_e2e(s)?;
    check_unreleased_finalizers(s)?;
    check_users(s)
}

/// The run time an `e2e.duration` gives (`30s`, `500ms`, `2m`), between 1ms and 1h.
pub fn e2e_duration(text: &str) -> Result<std::time::Duration, String> {
    let parsed: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|_| format!("duration {text:?} is not a duration; write e.g. 30s, 500ms or 2m"))?;
    let d = std::time::Duration::try_from(parsed).unwrap_or_default();
    if d < std::time::Duration::from_millis(1) || d > std::time::Duration::from_secs(3600) {
        return Err(format!(
            "duration {text:?} is out of range; give between 1ms and 1h (runs are simulated, keep them short)"
        ));
    }
    Ok(d)
}

fn check_e2e(s: &Scenario) -> Check {
    use crate::controllers::conformance::specs;
    let Some(e2e) = &s.e2e else {
        return Ok(());
    };
    if let Some(d) = &e2e.duration
        && let Err(message) = e2e_duration(d)
    {
        return problem(vec![Key("e2e"), Key("duration")], message);
    }
    match (e2e.outcome, e2e.failures.is_empty()) {
        (E2eOutcome::Fail, true) => {
            return problem(
                vec![Key("e2e"), Key("outcome")],
                "outcome fail needs the failing spec names in e2e.failures (or use outcome pass)",
            );
        }
        (E2eOutcome::Fail, false) | (_, true) => {}
        (_, false) => {
            return problem(
                vec![Key("e2e"), Key("failures")],
                "failures only apply to outcome fail; remove them or set outcome: fail",
            );
        }
    }
    let version = &s.kubernetes.version;
    let Some(catalogue) = specs::minor_of(version).and_then(specs::catalogue) else {
        return problem(
            vec![Key("e2e")],
            format!(
                "the simulated e2e suite has no spec list for {version} (it knows {}); use one of those versions or remove the e2e block",
                specs::known_minors()
            ),
        );
    };
    for (i, failure) in e2e.failures.iter().enumerate() {
        if !catalogue.iter().any(|spec| spec.name == *failure) {
            return problem(
                vec![Key("e2e"), Key("failures"), Index(i)],
                format!(
                    "{failure:?} is not a spec of the simulated {version} suite; use a full name such as {:?} (see docs/scenario-format.md)",
                    catalogue[0].name
                ),
            );
        }
    }
    Ok(())
}

fn check_openstack_clusters(s: &Scenario) -> Check {
    let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, c) in s.openstack_clusters.iter().enumerate() {
        let at = |key: &'static str| vec![Key("openstackClusters"), Index(i), Key(key)];
        check_name(&c.name, "OpenStackCluster", at("name"))?;
        if let Some(first) = seen.insert((&c.namespace, &c.name), i) {
            return problem(
                at("name"),
                format!(
                    "OpenStackCluster {}/{} is defined twice (first at openstackClusters[{first}]); give each its own name",
                    c.namespace, c.name
                ),
            );
        }
        if !namespace_declared(s, &c.namespace) {
            return problem(
                at("namespace"),
                format!(
                    "namespace {:?} is not declared; add it under namespaces",
                    c.namespace
                ),
            );
        }
        let Some(lb) = &c.api_server_load_balancer else {
            continue;
        };
        let lists = [
            ("allowedCIDRs", Some(&lb.allowed_cidrs)),
            ("appliedCIDRs", lb.applied_cidrs.as_ref()),
        ];
        for (key, list) in lists {
            for (e, entry) in list.into_iter().flatten().enumerate() {
                if entry.trim().is_empty() {
                    return problem(
                        vec![
                            Key("openstackClusters"),
                            Index(i),
                            Key("apiServerLoadBalancer"),
                            Key(key),
                            Index(e),
                        ],
                        format!(
                            "{key} entry is empty; give a CIDR such as 192.0.2.0/24, or remove it"
                        ),
                    );
                }
            }
        }
        if lb.provider.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return problem(
                vec![
                    Key("openstackClusters"),
                    Index(i),
                    Key("apiServerLoadBalancer"),
                    Key("provider"),
                ],
                "provider is empty; name it (amphora, ovn) or remove the key",
            );
        }
    }
    Ok(())
}

/// Each finalizer domain-qualified (`example.com/name`, as Kubernetes asks of custom ones) and
/// given once; each kind one the simulator serves, named once.
fn check_unreleased_finalizers(s: &Scenario) -> Check {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, spec) in s.unreleased_finalizers.iter().enumerate() {
        let at = |key| vec![Key("unreleasedFinalizers"), Index(i), Key(key)];
        if !spec.finalizer.contains('/') || !label_key(&spec.finalizer) {
            return problem(
                at("finalizer"),
                format!(
                    "finalizer {:?} is not a domain-qualified name; write it like backup.example.com/protect",
                    spec.finalizer
                ),
            );
        }
        if let Some(first) = seen.insert(&spec.finalizer, i) {
            return problem(
                at("finalizer"),
                format!(
                    "finalizer {:?} is listed twice (first at unreleasedFinalizers[{first}]); list its kinds once",
                    spec.finalizer
                ),
            );
        }
        if spec.kinds.is_empty() {
            return problem(
                at("kinds"),
                "kinds is empty; name the kinds the finalizer is added to, e.g. [PersistentVolumeClaim]",
            );
        }
        for (k, kind) in spec.kinds.iter().enumerate() {
            let path = vec![
                Key("unreleasedFinalizers"),
                Index(i),
                Key("kinds"),
                Index(k),
            ];
            if crate::resources::by_kind(kind).is_none() {
                let served: Vec<&str> =
                    crate::resources::RESOURCES.iter().map(|r| r.kind).collect();
                return problem(
                    path,
                    format!(
                        "kind {kind:?} is not served by the simulator; use one of {}",
                        served.join(", ")
                    ),
                );
            }
            if spec.kinds[..k].contains(kind) {
                return problem(path, format!("kind {kind:?} is listed twice; list it once"));
            }
        }
    }
    Ok(())
}

fn namespace_declared(s: &Scenario, namespace: &str) -> bool {
    BUILTIN_NAMESPACES.contains(&namespace) || s.namespaces.iter().any(|n| n.name == namespace)
}

fn check_network(n: &NetworkSpec) -> Check {
    if n.proxy_protocol
        && !matches!(
            n.load_balancer,
            LoadBalancerMode::Proxy | LoadBalancerMode::LocalNoHealthcheck
        )
    {
        return problem(
            vec![Key("network"), Key("proxyProtocol")],
            "proxyProtocol needs a load balancer that terminates TCP; set loadBalancer to proxy or local-no-healthcheck, or remove proxyProtocol",
        );
    }
    if n.cni.as_deref().is_some_and(|c| c.trim().is_empty()) {
        return problem(
            vec![Key("network"), Key("cni")],
            "cni is empty; name the network plugin (e.g. calico) or remove the key",
        );
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, class) in n.ingress_classes.iter().enumerate() {
        let at = |key| vec![Key("network"), Key("ingressClasses"), Index(i), Key(key)];
        check_name(&class.name, "ingress class", at("name"))?;
        if class.controller.trim().is_empty() {
            return problem(
                at("controller"),
                "controller is empty; name the controller serving the class, e.g. k8s.io/ingress-nginx",
            );
        }
        if let Some(first) = seen.insert(&class.name, i) {
            return problem(
                at("name"),
                format!(
                    "ingress class {:?} is defined twice (first at network.ingressClasses[{first}]); give each its own name",
                    class.name
                ),
            );
        }
    }
    Ok(())
}

/// A Kubernetes `gitVersion` such as `v1.35.8` (pre-release and build suffixes allowed).
pub fn check_version(version: &str, path: Vec<Seg>) -> Check {
    let parsed = version.strip_prefix('v').map(semver::Version::parse);
    match parsed {
        Some(Ok(_)) => Ok(()),
        _ => problem(
            path,
            format!("{version:?} is not a Kubernetes version; write it like v1.35.8"),
        ),
    }
}

/// Whether `name` is a DNS-1123 subdomain, as Kubernetes requires of most object names.
fn dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// Whether `key` is a Kubernetes label key: `[prefix/]name`, the prefix a DNS subdomain, the
/// name at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric.
fn label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    name_ok && prefix.is_none_or(dns_name)
}

fn check_name(name: &str, what: &str, path: Vec<Seg>) -> Check {
    if dns_name(name) {
        Ok(())
    } else {
        problem(
            path,
            format!(
                "{what} name {name:?} is not valid; use lower-case letters, digits, '-' and '.'"
            ),
        )
    }
}

/// Fails on the second use of a name in a list.
fn unique<'a>(names: impl Iterator<Item = &'a str>, list: &'static str, what: &str) -> Check {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, name) in names.enumerate() {
        if let Some(first) = seen.insert(name, i) {
            return problem(
                vec![Key(list), Index(i), Key("name")],
                format!(
                    "{what} {name:?} is defined twice (first at {list}[{first}]); give each its own name"
                ),
            );
        }
    }
    Ok(())
}

fn check_nodes(s: &Scenario) -> Check {
    for (i, node) in s.nodes.iter().enumerate() {
        check_name(
            &node.name,
            "node",
            vec![Key("nodes"), Index(i), Key("name")],
        )?;
        if let Some(v) = &node.kubelet_version {
            check_version(v, vec![Key("nodes"), Index(i), Key("kubeletVersion")])?;
        }
        for (t, taint) in node.taints.iter().flatten().enumerate() {
            if taint.key.trim().is_empty() {
                return problem(
                    vec![Key("nodes"), Index(i), Key("taints"), Index(t), Key("key")],
                    "taint key is empty; give a key such as dedicated",
                );
            }
        }
        if let Some(ip) = &node.internal_ip
            && ip.parse::<std::net::IpAddr>().is_err()
        {
            return problem(
                vec![Key("nodes"), Index(i), Key("internalIp")],
                format!("{ip:?} is not an IP address"),
            );
        }
    }
    unique(s.nodes.iter().map(|n| n.name.as_str()), "nodes", "node")
}

fn check_storage(s: &Scenario) -> Check {
    for (i, class) in s.storage_classes.iter().enumerate() {
        check_name(
            &class.name,
            "storage class",
            vec![Key("storageClasses"), Index(i), Key("name")],
        )?;
        if class.provisioner.trim().is_empty() {
            return problem(
                vec![Key("storageClasses"), Index(i), Key("provisioner")],
                "provisioner is empty; give the CSI driver name, e.g. cinder.csi.openstack.org",
            );
        }
    }
    unique(
        s.storage_classes.iter().map(|c| c.name.as_str()),
        "storageClasses",
        "storage class",
    )?;
    for (i, driver) in s.csi_drivers.iter().enumerate() {
        check_name(
            &driver.name,
            "CSI driver",
            vec![Key("csiDrivers"), Index(i), Key("name")],
        )?;
        for (k, key) in driver.topology_keys.iter().enumerate() {
            if !label_key(key) {
                return problem(
                    vec![Key("csiDrivers"), Index(i), Key("topologyKeys"), Index(k)],
                    format!(
                        "topology key {key:?} is not a label key; write it like topology.cinder.csi.openstack.org/zone"
                    ),
                );
            }
        }
    }
    unique(
        s.csi_drivers.iter().map(|d| d.name.as_str()),
        "csiDrivers",
        "CSI driver",
    )
}

fn check_namespaces(s: &Scenario) -> Check {
    for (i, ns) in s.namespaces.iter().enumerate() {
        let path = vec![Key("namespaces"), Index(i), Key("name")];
        check_name(&ns.name, "namespace", path.clone())?;
        if ns.name.len() > 63 || ns.name.contains('.') {
            return problem(
                path,
                format!(
                    "namespace name {:?} must be a DNS label (no '.', at most 63 characters)",
                    ns.name
                ),
            );
        }
    }
    unique(
        s.namespaces.iter().map(|n| n.name.as_str()),
        "namespaces",
        "namespace",
    )
}

fn kind_name(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Deployment => "Deployment",
        WorkloadKind::DaemonSet => "DaemonSet",
        WorkloadKind::StatefulSet => "StatefulSet",
        WorkloadKind::ReplicaSet => "ReplicaSet",
        WorkloadKind::Job => "Job",
        WorkloadKind::CronJob => "CronJob",
        WorkloadKind::Pod => "Pod",
    }
}

/// Counts within [`super::limits`]: nodes, replicas per workload, pods in total.
fn check_sizes(s: &Scenario) -> Check {
    use super::limits::{MAX_NODES, MAX_PODS, MAX_REPLICAS};
    if s.nodes.len() > MAX_NODES {
        return problem(
            vec![Key("nodes")],
            format!(
                "{} nodes are more than the simulator's limit of {MAX_NODES}; use fewer",
                s.nodes.len()
            ),
        );
    }
    let mut pods: usize = 0;
    for (i, w) in s.workloads.iter().enumerate() {
        if let Some(replicas) = w.replicas
            && replicas > MAX_REPLICAS
        {
            return problem(
                vec![Key("workloads"), Index(i), Key("replicas")],
                format!(
                    "replicas {replicas} is more than the simulator's limit of {MAX_REPLICAS} per workload; use fewer"
                ),
            );
        }
        pods += match w.kind {
            WorkloadKind::CronJob => 0,
            WorkloadKind::Pod => 1,
            WorkloadKind::DaemonSet => s.nodes.len(),
            _ => w.replicas.unwrap_or(1) as usize,
        };
        if pods > MAX_PODS {
            return problem(
                vec![Key("workloads"), Index(i)],
                format!(
                    "with this workload the scenario makes more than the simulator's limit of {MAX_PODS} pods (counting replicas, and one pod per node for a DaemonSet); use fewer"
                ),
            );
        }
    }
    Ok(())
}

fn check_workloads(s: &Scenario) -> Check {
    let mut seen: HashMap<(WorkloadKind, &str, &str), usize> = HashMap::new();
    for (i, w) in s.workloads.iter().enumerate() {
        let at = |key: &'static str| vec![Key("workloads"), Index(i), Key(key)];
        let kind = kind_name(w.kind);
        check_name(&w.name, kind, at("name"))?;
        if let Some(first) = seen.insert((w.kind, &w.namespace, &w.name), i) {
            return problem(
                at("name"),
                format!(
                    "{kind} {}/{} is defined twice (first at workloads[{first}]); give each its own name",
                    w.namespace, w.name
                ),
            );
        }
        let declared = BUILTIN_NAMESPACES.contains(&w.namespace.as_str())
            || s.namespaces.iter().any(|n| n.name == w.namespace);
        if !declared {
            return problem(
                at("namespace"),
                format!(
                    "namespace {:?} is not declared; add it under namespaces",
                    w.namespace
                ),
            );
        }
        if let Some(node) = &w.node {
            if matches!(w.kind, WorkloadKind::DaemonSet | WorkloadKind::CronJob) {
                return problem(
                    at("node"),
                    format!("node is not allowed for a {kind}; remove it"),
                );
            }
            if !s.nodes.iter().any(|n| &n.name == node) {
                return problem(
                    at("node"),
                    format!("node {node:?} does not exist; use one of the names under nodes"),
                );
            }
        }
        if w.phase.is_some() && w.kind != WorkloadKind::Pod {
            return problem(
                at("phase"),
                format!("phase is only for kind Pod, not {kind}; remove it"),
            );
        }
        if w.phase.is_some_and(|p| p != PodPhase::Pending) && w.node.is_none() && s.nodes.is_empty()
        {
            return problem(
                at("phase"),
                "a started pod needs a node, and the scenario has none; add nodes",
            );
        }
        match (w.kind, &w.schedule) {
            (WorkloadKind::CronJob, None) => {
                return problem(
                    at("kind"),
                    "a CronJob needs a schedule such as \"0 3 * * *\"; add one",
                );
            }
            (WorkloadKind::CronJob, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return problem(
                    at("schedule"),
                    format!("schedule is only for kind CronJob, not {kind}; remove it"),
                );
            }
        }
        if w.replicas.is_some()
            && matches!(
                w.kind,
                WorkloadKind::DaemonSet | WorkloadKind::Pod | WorkloadKind::CronJob
            )
        {
            return problem(
                at("replicas"),
                format!("replicas is not allowed for a {kind}; remove it"),
            );
        }
        if w.containers.is_empty() {
            return problem(
                at("containers"),
                "containers is empty; give at least one container with name and image",
            );
        }
        let mut names: HashMap<&str, ()> = HashMap::new();
        for (list, key) in [
            (&w.containers, "containers"),
            (&w.init_containers, "initContainers"),
        ] {
            for (c, container) in list.iter().enumerate() {
                let path = |field: &'static str| {
                    vec![Key("workloads"), Index(i), Key(key), Index(c), Key(field)]
                };
                check_name(&container.name, "container", path("name"))?;
                if names.insert(&container.name, ()).is_some() {
                    return problem(
                        path("name"),
                        format!(
                            "container name {:?} is used twice in this pod; rename one",
                            container.name
                        ),
                    );
                }
                if container.image.trim().is_empty() {
                    return problem(path("image"), "image is empty; give an image reference");
                }
            }
        }
    }
    Ok(())
}

fn check_users(s: &Scenario) -> Check {
    let Some(users) = &s.users else {
        return Ok(());
    };
    if !users.iter().any(|u| u.permission == PermissionKind::Admin) {
        return problem(
            vec![Key("users")],
            "no user has permission: admin; add one (the written kubeconfig uses the first admin)",
        );
    }
    let mut tokens: HashMap<&str, usize> = HashMap::new();
    for (i, user) in users.iter().enumerate() {
        let at = |key: &'static str| vec![Key("users"), Index(i), Key(key)];
        if user.name.trim().is_empty() {
            return problem(at("name"), "user name is empty; give the user a name");
        }
        if user.token.trim().is_empty() {
            return problem(at("token"), "token is empty; give the user a bearer token");
        }
        if let Some(first) = tokens.insert(&user.token, i) {
            return problem(
                at("token"),
                format!("this token is already used by users[{first}]; tokens must be unique"),
            );
        }
        match (user.permission, user.rules.is_empty()) {
            (PermissionKind::Rules, true) => {
                return problem(
                    at("permission"),
                    "permission: rules needs a non-empty rules list; add rules",
                );
            }
            (PermissionKind::Admin | PermissionKind::ReadOnly, false) => {
                return problem(
                    at("rules"),
                    "rules are only used with permission: rules; remove them or change the permission",
                );
            }
            _ => {}
        }
        for (r, rule) in user.rules.iter().enumerate() {
            let path =
                |key: &'static str| vec![Key("users"), Index(i), Key("rules"), Index(r), Key(key)];
            if rule.verbs.is_empty() {
                return problem(
                    path("verbs"),
                    "verbs is empty; list verbs such as get, list, watch (or \"*\")",
                );
            }
            if rule.resources.is_empty() {
                return problem(
                    path("resources"),
                    "resources is empty; list resources such as pods (or \"*\")",
                );
            }
        }
    }
    unique(users.iter().map(|u| u.name.as_str()), "users", "user")
}
