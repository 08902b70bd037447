//! Probe pods that satisfy the Pod Security Admission `restricted` profile, so they run in
//! hardened clusters too (scs-0217 demands at least `baseline`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, EnvVar, NodeAffinity, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, PersistentVolumeClaimVolumeSource, Pod, PodSecurityContext, PodSpec,
    ResourceRequirements, SeccompProfile, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::run::ProbeRun;

/// The unprivileged user (`nobody`) probe containers run as.
pub const PROBE_UID: i64 = 65534;

/// The node label used to keep a pod off a node.
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";

/// A run-to-completion probe pod: one container, optional claim mounts, optional node avoidance.
#[derive(Debug, Clone, Default)]
pub struct ProbePod {
    /// Pod name (unique within the run's namespace).
    pub name: String,
    /// Full image reference (see [`super::image::ImageSource::reference`]).
    pub image: String,
    /// Container command (entrypoint and arguments).
    pub command: Vec<String>,
    /// Environment variables of the container.
    pub env: Vec<(String, String)>,
    /// Extra annotations (e.g. the simulated probe protocol's `scs-kaas.io/probe`).
    pub annotations: BTreeMap<String, String>,
    /// `(claim name, mount path)` pairs mounted read-write.
    pub claims: Vec<(String, String)>,
    /// `kubernetes.io/hostname` values the pod must not be scheduled on.
    pub avoid_hostnames: Vec<String>,
}

impl ProbePod {
    /// The pod object, labelled and annotated for `run`, placed in the run's namespace.
    pub fn build(&self, run: &ProbeRun) -> Pod {
        let mut annotations = run.annotations();
        annotations.extend(self.annotations.clone());
        let volumes: Vec<Volume> = self
            .claims
            .iter()
            .enumerate()
            .map(|(i, (claim, _))| Volume {
                name: format!("claim-{i}"),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim.clone(),
                    read_only: Some(false),
                }),
                ..Volume::default()
            })
            .collect();
        let mounts: Vec<VolumeMount> = self
            .claims
            .iter()
            .enumerate()
            .map(|(i, (_, path))| VolumeMount {
                name: format!("claim-{i}"),
                mount_path: path.clone(),
                ..VolumeMount::default()
            })
            .collect();
        let affinity = (!self.avoid_hostnames.is_empty()).then(|| Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: HOSTNAME_LABEL.to_string(),
                            operator: "NotIn".to_string(),
                            values: Some(self.avoid_hostnames.clone()),
                        }]),
                        ..NodeSelectorTerm::default()
                    }],
                }),
                ..NodeAffinity::default()
            }),
            ..Affinity::default()
        });
        let quantity = |s: &str| Quantity(s.to_string());
        Pod {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(run.namespace_name()),
                labels: Some(run.labels()),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                restart_policy: Some("Never".to_string()),
                automount_service_account_token: Some(false),
                termination_grace_period_seconds: Some(5),
                enable_service_links: Some(false),
                affinity,
                security_context: Some(PodSecurityContext {
                    run_as_non_root: Some(true),
                    run_as_user: Some(PROBE_UID),
                    run_as_group: Some(PROBE_UID),
                    fs_group: Some(PROBE_UID),
                    seccomp_profile: Some(runtime_default()),
                    ..PodSecurityContext::default()
                }),
                containers: vec![Container {
                    name: "probe".to_string(),
                    image: Some(self.image.clone()),
                    image_pull_policy: Some("IfNotPresent".to_string()),
                    command: Some(self.command.clone()),
                    env: Some(
                        self.env
                            .iter()
                            .map(|(name, value)| EnvVar {
                                name: name.clone(),
                                value: Some(value.clone()),
                                ..EnvVar::default()
                            })
                            .collect(),
                    ),
                    volume_mounts: (!mounts.is_empty()).then_some(mounts),
                    resources: Some(ResourceRequirements {
                        requests: Some(BTreeMap::from([
                            ("cpu".to_string(), quantity("10m")),
                            ("memory".to_string(), quantity("16Mi")),
                        ])),
                        limits: Some(BTreeMap::from([("memory".to_string(), quantity("64Mi"))])),
                        ..ResourceRequirements::default()
                    }),
                    security_context: Some(SecurityContext {
                        allow_privilege_escalation: Some(false),
                        privileged: Some(false),
                        run_as_non_root: Some(true),
                        run_as_user: Some(PROBE_UID),
                        read_only_root_filesystem: Some(true),
                        capabilities: Some(Capabilities {
                            drop: Some(vec!["ALL".to_string()]),
                            add: None,
                        }),
                        seccomp_profile: Some(runtime_default()),
                        ..SecurityContext::default()
                    }),
                    ..Container::default()
                }],
                volumes: (!volumes.is_empty()).then_some(volumes),
                ..PodSpec::default()
            }),
            status: None,
        }
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_string(),
        localhost_profile: None,
    }
}

/// Where `pod` violates the PSA `restricted` profile (v1.35 rules that apply to probe pods);
/// empty when it complies. Used to prove the builders' output in tests.
pub fn restricted_violations(pod: &Pod) -> Vec<String> {
    let mut out = Vec::new();
    let Some(spec) = &pod.spec else {
        return vec!["pod has no spec".to_string()];
    };
    let psc = spec.security_context.clone().unwrap_or_default();
    if spec.host_network == Some(true) || spec.host_pid == Some(true) || spec.host_ipc == Some(true)
    {
        out.push("host namespaces are used".to_string());
    }
    for v in spec.volumes.iter().flatten() {
        if v.host_path.is_some() {
            out.push(format!("volume {} is a hostPath", v.name));
        }
    }
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    for c in containers {
        let sc = c.security_context.clone().unwrap_or_default();
        let non_root = sc.run_as_non_root.or(psc.run_as_non_root) == Some(true);
        if !non_root {
            out.push(format!("{}: runAsNonRoot is not true", c.name));
        }
        if sc.run_as_user.or(psc.run_as_user) == Some(0) {
            out.push(format!("{}: runs as uid 0", c.name));
        }
        if sc.allow_privilege_escalation != Some(false) {
            out.push(format!("{}: allowPrivilegeEscalation is not false", c.name));
        }
        if sc.privileged == Some(true) {
            out.push(format!("{}: privileged", c.name));
        }
        let caps = sc.capabilities.clone().unwrap_or_default();
        if !caps.drop.iter().flatten().any(|d| d == "ALL") {
            out.push(format!("{}: capabilities do not drop ALL", c.name));
        }
        if caps.add.iter().flatten().any(|a| a != "NET_BIND_SERVICE") {
            out.push(format!("{}: adds capabilities", c.name));
        }
        let seccomp = sc.seccomp_profile.or(psc.seccomp_profile.clone());
        if !matches!(
            seccomp.as_ref().map(|s| s.type_.as_str()),
            Some("RuntimeDefault" | "Localhost")
        ) {
            out.push(format!(
                "{}: seccompProfile is not RuntimeDefault/Localhost",
                c.name
            ));
        }
        if c.ports.iter().flatten().any(|p| p.host_port.is_some()) {
            out.push(format!("{}: uses hostPort", c.name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> ProbeRun {
        ProbeRun::new("0a1b2c3d", "t", "2026-11-22T06:00:00Z".parse().unwrap()).unwrap()
    }

    fn sample() -> ProbePod {
        ProbePod {
            name: "writer".into(),
            image: "registry.k8s.io/e2e-test-images/agnhost:2.53@sha256:00".into(),
            command: vec!["/bin/sh".into(), "-c".into(), "true".into()],
            env: vec![("MARKER".into(), "x".into())],
            annotations: BTreeMap::from([("scs-kaas.io/probe".into(), "write-marker".into())]),
            claims: vec![("data".into(), "/data".into())],
            avoid_hostnames: vec!["node-a".into()],
        }
    }

    #[test]
    fn built_pod_satisfies_restricted_profile_and_carries_run_labels() {
        let pod = sample().build(&run());
        assert_eq!(restricted_violations(&pod), Vec::<String>::new());
        let meta = &pod.metadata;
        assert_eq!(meta.namespace.as_deref(), Some("scs-kaas-t-0a1b2c3d"));
        assert_eq!(
            meta.labels.as_ref().unwrap()["scs-kaas.io/run-id"],
            "0a1b2c3d"
        );
        let ann = meta.annotations.as_ref().unwrap();
        assert_eq!(ann["scs-kaas.io/probe"], "write-marker");
        assert!(ann.contains_key("scs-kaas.io/started-at"));
        let spec = pod.spec.unwrap();
        assert_eq!(spec.security_context.unwrap().run_as_user, Some(65534));
        let term = &spec
            .affinity
            .unwrap()
            .node_affinity
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .unwrap()
            .node_selector_terms[0];
        let req = &term.match_expressions.as_ref().unwrap()[0];
        assert_eq!(
            (req.key.as_str(), req.operator.as_str()),
            (HOSTNAME_LABEL, "NotIn")
        );
        assert_eq!(req.values.as_deref(), Some(&["node-a".to_string()][..]));
        let c = &spec.containers[0];
        assert_eq!(c.volume_mounts.as_ref().unwrap()[0].mount_path, "/data");
        assert_eq!(
            spec.volumes.unwrap()[0]
                .persistent_volume_claim
                .as_ref()
                .unwrap()
                .claim_name,
            "data"
        );
    }

    #[test]
    fn validator_catches_each_weakened_setting() {
        type Weaken = fn(&mut Pod);
        let cases: [(&str, Weaken); 5] = [
            ("runAsNonRoot", |p| {
                let spec = p.spec.as_mut().unwrap();
                spec.security_context.as_mut().unwrap().run_as_non_root = None;
                spec.containers[0]
                    .security_context
                    .as_mut()
                    .unwrap()
                    .run_as_non_root = None;
            }),
            ("allowPrivilegeEscalation", |p| {
                p.spec.as_mut().unwrap().containers[0]
                    .security_context
                    .as_mut()
                    .unwrap()
                    .allow_privilege_escalation = Some(true);
            }),
            ("drop ALL", |p| {
                p.spec.as_mut().unwrap().containers[0]
                    .security_context
                    .as_mut()
                    .unwrap()
                    .capabilities = None;
            }),
            ("seccompProfile", |p| {
                let spec = p.spec.as_mut().unwrap();
                spec.security_context.as_mut().unwrap().seccomp_profile = None;
                spec.containers[0]
                    .security_context
                    .as_mut()
                    .unwrap()
                    .seccomp_profile = None;
            }),
            ("host namespaces", |p| {
                p.spec.as_mut().unwrap().host_network = Some(true)
            }),
        ];
        for (what, weaken) in cases {
            let mut pod = sample().build(&run());
            weaken(&mut pod);
            let v = restricted_violations(&pod);
            assert!(v.iter().any(|m| m.contains(what)), "{what}: {v:?}");
        }
    }
}
