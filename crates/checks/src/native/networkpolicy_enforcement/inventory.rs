//! The read-only part of `networkpolicy-enforcement-check` (CHECKS.md §10, NW-02..NW-05): which
//! network plugin runs, whether AdminNetworkPolicy APIs are served, whether a default
//! IngressClass is offered and runs, and what cluster-wide policies exist. Pure judge over
//! gathered facts; nothing here can prove enforcement (that is NW-01's probe).

use scs_kaas_core::finding::Finding;

/// A network plugin recognised from its DaemonSet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cni {
    /// Display name.
    pub name: &'static str,
    /// Whether it implements NetworkPolicy at all.
    pub enforces: bool,
    /// Whether scs-0219-w1 lists it as supporting or working on AdminNetworkPolicy.
    pub anp_roadmap: bool,
}

/// Known plugins by a fragment of their DaemonSet name or image (CHECKS.md NW-05, scs-0219-w1).
/// Canal comes before Flannel and Calico: it is both, and enforces through Calico.
const KNOWN: &[(&str, Cni)] = &[
    (
        "canal",
        Cni {
            name: "Canal (Flannel + Calico)",
            enforces: true,
            anp_roadmap: true,
        },
    ),
    (
        "calico",
        Cni {
            name: "Calico",
            enforces: true,
            anp_roadmap: true,
        },
    ),
    (
        "cilium",
        Cni {
            name: "Cilium",
            enforces: true,
            anp_roadmap: true,
        },
    ),
    (
        "kube-ovn",
        Cni {
            name: "Kube-OVN",
            enforces: true,
            anp_roadmap: true,
        },
    ),
    (
        "ovnkube",
        Cni {
            name: "OVN-Kubernetes",
            enforces: true,
            anp_roadmap: true,
        },
    ),
    (
        "antrea",
        Cni {
            name: "Antrea",
            enforces: true,
            anp_roadmap: true,
        },
    ),
    (
        "kube-network-policies",
        Cni {
            name: "kube-network-policies",
            enforces: true,
            anp_roadmap: true,
        },
    ),
    (
        "weave",
        Cni {
            name: "Weave Net",
            enforces: true,
            anp_roadmap: false,
        },
    ),
    (
        "kube-router",
        Cni {
            name: "kube-router",
            enforces: true,
            anp_roadmap: false,
        },
    ),
    (
        "flannel",
        Cni {
            name: "Flannel",
            enforces: false,
            anp_roadmap: false,
        },
    ),
];

/// A DaemonSet as the inventory needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSetInfo {
    /// `namespace/name`.
    pub reference: String,
    /// Container images of its template.
    pub images: Vec<String>,
}

/// A served API group and its resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiGroupInfo {
    /// Group name, e.g. `policy.networking.k8s.io`.
    pub group: String,
    /// `group/version` that was read.
    pub version: String,
    /// Resource plurals served in that version.
    pub resources: Vec<String>,
}

/// An IngressClass as the inventory needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressClassInfo {
    /// Name.
    pub name: String,
    /// `spec.controller`.
    pub controller: String,
    /// Annotated default.
    pub default: bool,
    /// Whether running pods of its controller were found (`None`: controller not recognised,
    /// not looked for).
    pub running: Option<bool>,
}

/// Everything the read-only part judges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// DaemonSets of every namespace.
    pub daemonsets: Vec<DaemonSetInfo>,
    /// Served API groups of interest (policy, Calico, Cilium).
    pub groups: Vec<ApiGroupInfo>,
    /// IngressClasses.
    pub ingress_classes: Vec<IngressClassInfo>,
    /// NetworkPolicies outside the probe's namespaces, as `namespace/name`.
    pub policies: Vec<String>,
}

/// The API group of AdminNetworkPolicy and BaselineAdminNetworkPolicy (and their successors).
pub const ANP_GROUP: &str = "policy.networking.k8s.io";
/// Cluster-wide policy APIs of plugins (NW-04).
pub const CLUSTER_POLICY_GROUPS: &[(&str, &str)] = &[
    ("crd.projectcalico.org", "globalnetworkpolicies"),
    ("projectcalico.org", "globalnetworkpolicies"),
    ("cilium.io", "ciliumclusterwidenetworkpolicies"),
];

/// Image fragments of running pods that serve an IngressClass controller.
pub const INGRESS_CONTROLLERS: &[(&str, &str)] = &[
    ("k8s.io/ingress-nginx", "ingress-nginx/controller"),
    ("nginx.org/ingress-controller", "nginx-ingress"),
    ("traefik.io/ingress-controller", "traefik"),
    ("haproxy-ingress.github.io/controller", "haproxy-ingress"),
    ("haproxy.org/ingress-controller", "kubernetes-ingress"),
    ("projectcontour.io/ingress-controller", "contour"),
    ("ingress-controllers.konghq.com/kong", "kong"),
];

/// The image fragment that identifies pods of `controller`, if it is a known one.
pub fn controller_image(controller: &str) -> Option<&'static str> {
    INGRESS_CONTROLLERS
        .iter()
        .find(|(c, _)| *c == controller)
        .map(|(_, image)| *image)
}

/// The plugins found, each with the DaemonSet that revealed it (first match per DaemonSet).
pub fn detect(daemonsets: &[DaemonSetInfo]) -> Vec<(Cni, String)> {
    let mut found: Vec<(Cni, String)> = Vec::new();
    for ds in daemonsets {
        let name = ds.reference.rsplit('/').next().unwrap_or("");
        let hit = KNOWN.iter().find(|(fragment, _)| {
            name.contains(fragment) || ds.images.iter().any(|i| image_name(i).contains(fragment))
        });
        if let Some((_, cni)) = hit
            && !found.iter().any(|(c, _)| c.name == cni.name)
        {
            found.push((*cni, ds.reference.clone()));
        }
    }
    found
}

/// The repository part of an image reference, without registry host, tag or digest.
fn image_name(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    let path = match no_digest.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') => rest,
        _ => no_digest,
    };
    path.rsplit_once(':').map_or(path, |(p, _)| p)
}

/// Findings NW-02..NW-05.
pub fn judge(inv: &Inventory) -> Vec<Finding> {
    let mut out = Vec::new();
    let cnis = detect(&inv.daemonsets);
    // NW-05: which plugin, and whether it can enforce at all.
    if cnis.is_empty() {
        out.push(Finding::info(
            "NW-05",
            "network plugin not identified from the DaemonSets (none of Calico, Cilium, Canal, Kube-OVN, OVN-Kubernetes, Antrea, Weave Net, kube-router, Flannel); enforcement is judged by the probe alone",
        ));
    } else {
        let names: Vec<String> = cnis
            .iter()
            .map(|(c, ds)| format!("{} (DaemonSet {ds})", c.name))
            .collect();
        out.push(Finding::info(
            "NW-05",
            format!("network plugin: {}", names.join(", ")),
        ));
        if cnis.iter().all(|(c, _)| !c.enforces) {
            out.push(
                Finding::warn(
                    "NW-05",
                    format!(
                        "{} alone does not implement NetworkPolicy: NW-01 is expected to fail",
                        cnis[0].0.name
                    ),
                )
                .with_fix("run a policy engine with it (e.g. Canal = Flannel + Calico) or switch to a plugin that enforces NetworkPolicies"),
            );
        }
    }
    // NW-02: AdminNetworkPolicy APIs served, or a plugin working on them.
    let anp = inv.groups.iter().find(|g| g.group == ANP_GROUP);
    match anp {
        Some(g) if !g.resources.is_empty() => out.push(Finding::info(
            "NW-02",
            format!(
                "AdminNetworkPolicy APIs are served: {} ({})",
                g.version,
                g.resources.join(", ")
            ),
        )),
        _ => match cnis.iter().find(|(c, _)| c.anp_roadmap) {
            Some((c, _)) => out.push(Finding::info(
                "NW-02",
                format!(
                    "AdminNetworkPolicy APIs ({ANP_GROUP}) are not served; {} supports or is working on them (scs-0219-w1)",
                    c.name
                ),
            )),
            None => out.push(
                Finding::warn(
                    "NW-02",
                    format!(
                        "AdminNetworkPolicy APIs ({ANP_GROUP}) are not served and the network plugin is not known to work on them"
                    ),
                )
                .with_fix("offer a network plugin that supports AdminNetworkPolicy and BaselineAdminNetworkPolicy (scs-0219 SHOULD)"),
            ),
        },
    }
    // NW-03: a default IngressClass whose controller runs.
    let defaults: Vec<&IngressClassInfo> =
        inv.ingress_classes.iter().filter(|c| c.default).collect();
    match defaults.as_slice() {
        [] => {
            let others = if inv.ingress_classes.is_empty() {
                "no IngressClass exists".to_string()
            } else {
                format!(
                    "IngressClasses {} exist but none is annotated default",
                    inv.ingress_classes
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            out.push(
                Finding::warn("NW-03", format!("no default IngressClass: {others}")).with_fix(
                    "offer a managed Ingress controller with an IngressClass annotated ingressclass.kubernetes.io/is-default-class: \"true\" (scs-0219 SHOULD)",
                ),
            );
        }
        [class, rest @ ..] => {
            if !rest.is_empty() {
                out.push(Finding::warn(
                    "NW-03",
                    format!(
                        "{} IngressClasses are annotated default ({}); Ingresses without a class are then refused",
                        defaults.len(),
                        defaults.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            match class.running {
                Some(true) => out.push(Finding::info(
                    "NW-03",
                    format!(
                        "default IngressClass {} ({}) with running controller pods",
                        class.name, class.controller
                    ),
                )),
                Some(false) => out.push(
                    Finding::warn(
                        "NW-03",
                        format!(
                            "default IngressClass {} ({}) but no running pods of its controller were found",
                            class.name, class.controller
                        ),
                    )
                    .with_fix("start the ingress controller or remove the default annotation"),
                ),
                None => out.push(Finding::info(
                    "NW-03",
                    format!(
                        "default IngressClass {} served by {} (controller not recognised; whether it runs was not checked)",
                        class.name, class.controller
                    ),
                )),
            }
        }
    }
    // NW-04: provider default restrictions (inventory only).
    let cluster_wide: Vec<String> = CLUSTER_POLICY_GROUPS
        .iter()
        .filter(|(group, resource)| {
            inv.groups
                .iter()
                .any(|g| g.group == *group && g.resources.iter().any(|r| r == resource))
        })
        .map(|(group, resource)| format!("{resource}.{group}"))
        .collect();
    let namespaces: std::collections::BTreeSet<&str> = inv
        .policies
        .iter()
        .filter_map(|p| p.split_once('/').map(|(ns, _)| ns))
        .collect();
    out.push(Finding::info(
        "NW-04",
        format!(
            "{} NetworkPolicies in {} namespaces{}",
            inv.policies.len(),
            namespaces.len(),
            if cluster_wide.is_empty() {
                "; no cluster-wide policy API of a plugin is served".to_string()
            } else {
                format!(
                    "; cluster-wide policy APIs served: {}",
                    cluster_wide.join(", ")
                )
            }
        ),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use scs_kaas_core::finding::Severity;

    fn ds(reference: &str, image: &str) -> DaemonSetInfo {
        DaemonSetInfo {
            reference: reference.into(),
            images: vec![image.into()],
        }
    }

    fn of(findings: &[Finding], rule: &str) -> Vec<(Severity, String)> {
        findings
            .iter()
            .filter(|f| f.rule == rule)
            .map(|f| (f.severity, f.message.clone()))
            .collect()
    }

    fn calico() -> Inventory {
        Inventory {
            daemonsets: vec![
                ds(
                    "kube-system/kube-proxy",
                    "registry.k8s.io/kube-proxy:v1.35.8",
                ),
                ds("kube-system/calico-node", "quay.io/calico/node:v3.29.3"),
            ],
            ingress_classes: vec![IngressClassInfo {
                name: "nginx".into(),
                controller: "k8s.io/ingress-nginx".into(),
                default: true,
                running: Some(true),
            }],
            ..Inventory::default()
        }
    }

    #[test]
    fn plugins_are_recognised_by_name_or_image() {
        let found = detect(&[
            ds(
                "kube-system/kube-proxy",
                "registry.k8s.io/kube-proxy:v1.35.8",
            ),
            ds("kube-system/cni", "quay.io/cilium/cilium:v1.17.1@sha256:00"),
            ds("kube-system/canal", "docker.io/calico/node:v3.29"),
            ds(
                "kube-flannel/kube-flannel-ds",
                "ghcr.io/flannel-io/flannel:v0.26.4",
            ),
        ]);
        let names: Vec<&str> = found.iter().map(|(c, _)| c.name).collect();
        assert_eq!(names, ["Cilium", "Canal (Flannel + Calico)", "Flannel"]);
        // A registry host that contains a plugin name does not count.
        assert!(detect(&[ds("x/y", "calico.example.org/pause:3.10")]).is_empty());
    }

    #[test]
    fn enforcing_plugin_with_default_ingress_passes_every_rule() {
        let f = judge(&calico());
        assert!(f.iter().all(|x| x.severity == Severity::Info), "{f:?}");
        assert!(
            of(&f, "NW-05")[0]
                .1
                .contains("Calico (DaemonSet kube-system/calico-node)")
        );
        assert!(of(&f, "NW-02")[0].1.contains("working on"));
        assert!(of(&f, "NW-03")[0].1.contains("running controller pods"));
    }

    #[test]
    fn flannel_alone_warns_that_nw01_will_fail_and_about_anp() {
        let inv = Inventory {
            daemonsets: vec![ds(
                "kube-flannel/kube-flannel-ds",
                "ghcr.io/flannel-io/flannel:v0.26.4",
            )],
            ..Inventory::default()
        };
        let f = judge(&inv);
        let nw05 = of(&f, "NW-05");
        assert_eq!(nw05[1].0, Severity::Warn);
        assert!(nw05[1].1.contains("NW-01 is expected to fail"), "{nw05:?}");
        assert_eq!(of(&f, "NW-02")[0].0, Severity::Warn);
        let nw03 = of(&f, "NW-03");
        assert_eq!(nw03[0].0, Severity::Warn);
        assert!(nw03[0].1.contains("no IngressClass exists"));
    }

    #[test]
    fn served_anp_apis_pass_nw02_even_with_an_unknown_plugin() {
        let inv = Inventory {
            groups: vec![ApiGroupInfo {
                group: ANP_GROUP.into(),
                version: "policy.networking.k8s.io/v1alpha1".into(),
                resources: vec![
                    "adminnetworkpolicies".into(),
                    "baselineadminnetworkpolicies".into(),
                ],
            }],
            ..Inventory::default()
        };
        let f = judge(&inv);
        let nw02 = of(&f, "NW-02");
        assert_eq!(nw02[0].0, Severity::Info);
        assert!(nw02[0].1.contains("adminnetworkpolicies"));
        assert!(of(&f, "NW-05")[0].1.contains("not identified"));
    }

    #[test]
    fn ingress_class_cases() {
        let mut inv = calico();
        inv.ingress_classes[0].running = Some(false);
        assert_eq!(of(&judge(&inv), "NW-03")[0].0, Severity::Warn);
        inv.ingress_classes[0].running = None;
        assert!(of(&judge(&inv), "NW-03")[0].1.contains("not recognised"));
        inv.ingress_classes[0].default = false;
        let nw03 = of(&judge(&inv), "NW-03");
        assert_eq!(nw03[0].0, Severity::Warn);
        assert!(nw03[0].1.contains("none is annotated default"));
        inv.ingress_classes[0].default = true;
        inv.ingress_classes.push(IngressClassInfo {
            name: "traefik".into(),
            controller: "traefik.io/ingress-controller".into(),
            default: true,
            running: Some(true),
        });
        assert!(
            of(&judge(&inv), "NW-03")
                .iter()
                .any(|(s, m)| *s == Severity::Warn && m.contains("2 IngressClasses"))
        );
        assert_eq!(
            controller_image("k8s.io/ingress-nginx"),
            Some("ingress-nginx/controller")
        );
        assert_eq!(controller_image("example.org/mine"), None);
    }

    #[test]
    fn policy_inventory_counts_namespaces_and_cluster_wide_apis() {
        let mut inv = calico();
        inv.policies = vec![
            "team-a/deny".into(),
            "team-a/allow".into(),
            "team-b/deny".into(),
        ];
        inv.groups.push(ApiGroupInfo {
            group: "crd.projectcalico.org".into(),
            version: "crd.projectcalico.org/v1".into(),
            resources: vec!["globalnetworkpolicies".into(), "ippools".into()],
        });
        let nw04 = of(&judge(&inv), "NW-04");
        assert_eq!(
            nw04[0].1,
            "3 NetworkPolicies in 2 namespaces; cluster-wide policy APIs served: globalnetworkpolicies.crd.projectcalico.org"
        );
    }
}
