//! The connectivity matrix of the NW-01 probe (CHECKS.md §10 (d)): three namespaces, three
//! server pods, client Jobs, and the steps that add or remove NetworkPolicies, each with the
//! connections that must then succeed or be blocked.
//!
//! Layout: namespace `a` holds servers `s1` and `s2`, namespace `c` server `s3`; clients run in
//! `a`, `b` (labelled as the allowed namespace) and `c`, some of them labelled `trusted`. Every
//! server listens on TCP 8080 (`http`), UDP 8081 (`udp`) and TCP 8082 (`alt`). Policies
//! accumulate from step to step; the expectations of a step are the full consequence of all
//! policies in force, so each step also re-checks what earlier steps established.
//!
//! Pure data: the probe turns it into objects, the judge compares observations with it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Label on the probe namespaces saying which of the three they are (`a`, `b`, `c`).
pub const NS_LABEL: &str = "scs-kaas.io/netpol-namespace";
/// Label on namespace `b` that namespace selectors of allow rules match.
pub const ALLOWED_LABEL: &str = "scs-kaas.io/netpol-allowed";
/// Label on server pods (`s1`, `s2`, `s3`).
pub const SERVER_LABEL: &str = "scs-kaas.io/netpol-server";
/// Label on client pods (`client`), and `trusted` on some of them.
pub const ROLE_LABEL: &str = "scs-kaas.io/netpol-role";

/// TCP port of the first netexec (named `http`).
pub const HTTP_PORT: u16 = 8080;
/// UDP port of the first netexec (named `udp`).
pub const UDP_PORT: u16 = 8081;
/// TCP port of the second netexec (named `alt`).
pub const ALT_PORT: u16 = 8082;

/// One of the three probe namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ns {
    /// Servers `s1`, `s2`.
    A,
    /// Clients only; the "allowed" namespace.
    B,
    /// Server `s3` and clients.
    C,
}

impl Ns {
    /// The suffix of the namespace name and the value of [`NS_LABEL`].
    pub fn suffix(self) -> &'static str {
        match self {
            Ns::A => "a",
            Ns::B => "b",
            Ns::C => "c",
        }
    }

    /// All three, in creation order.
    pub const ALL: [Ns; 3] = [Ns::A, Ns::B, Ns::C];
}

/// One of the server pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Server {
    /// In `a`.
    S1,
    /// In `a`.
    S2,
    /// In `c`.
    S3,
}

impl Server {
    /// Pod name and [`SERVER_LABEL`] value.
    pub fn name(self) -> &'static str {
        match self {
            Server::S1 => "s1",
            Server::S2 => "s2",
            Server::S3 => "s3",
        }
    }

    /// The namespace the server runs in.
    pub fn namespace(self) -> Ns {
        match self {
            Server::S1 | Server::S2 => Ns::A,
            Server::S3 => Ns::C,
        }
    }

    /// All servers.
    pub const ALL: [Server; 3] = [Server::S1, Server::S2, Server::S3];
}

/// Where a probe connects from: a namespace and whether the client pod is labelled trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Client {
    /// Namespace of the client Job.
    pub ns: Ns,
    /// Carries `scs-kaas.io/netpol-role: trusted` instead of `client`.
    pub trusted: bool,
}

/// Transport protocol of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// `agnhost connect --protocol` value.
    pub fn flag(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    /// NetworkPolicy / container port spelling.
    pub fn k8s(self) -> &'static str {
        match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
        }
    }
}

/// How strictly an expectation is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    /// Plain NetworkPolicy semantics every plugin must implement: a miss fails NW-01.
    Must,
    /// `ipBlock` rules matched against pod addresses, which upstream leaves to the plugin
    /// (Cilium, for one, matches ipBlocks only outside the cluster): a miss warns unless
    /// `-a netpol_ipblock=fail`.
    IpBlock,
}

/// One connection and whether it must succeed once the step's policies are in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectation {
    /// From where.
    pub client: Client,
    /// To which server.
    pub server: Server,
    /// Port.
    pub port: u16,
    /// Protocol.
    pub proto: Proto,
    /// Whether the connection must succeed (`true`) or be blocked.
    pub allowed: bool,
    /// How strictly a miss counts.
    pub weight: Weight,
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{} -> {}:{}/{} {}",
            self.client.ns.suffix(),
            if self.client.trusted { "(trusted)" } else { "" },
            self.server.name(),
            self.port,
            self.proto.k8s(),
            if self.allowed {
                "must connect"
            } else {
                "must be blocked"
            }
        )
    }
}

/// A NetworkPolicy the probe creates, by name, in one of its namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// `a`: deny all ingress.
    DenyIngressA,
    /// `a`: allow servers from the allowed namespace on TCP 8080.
    AllowNamespaceHttp,
    /// `a`: to `s1` only: trusted pods from any namespace on the named port `alt`; namespace `c`
    /// on the TCP range 8080–8082 (`endPort`); the allowed namespace on UDP 8081.
    AllowS1Extras,
    /// `b`: deny all egress.
    DenyEgressB,
    /// `b`: allow egress to namespace `a`.
    AllowEgressBToA,
    /// `c`: deny all egress.
    DenyEgressC,
    /// `c`: allow egress to every address except `s3`'s (`ipBlock` with `except`).
    AllowEgressCIpBlock,
}

impl Policy {
    /// The object name.
    pub fn name(self) -> &'static str {
        match self {
            Policy::DenyIngressA => "deny-ingress",
            Policy::AllowNamespaceHttp => "allow-namespace-http",
            Policy::AllowS1Extras => "allow-s1-named-range-udp",
            Policy::DenyEgressB => "deny-egress",
            Policy::AllowEgressBToA => "allow-egress-to-a",
            Policy::DenyEgressC => "deny-egress",
            Policy::AllowEgressCIpBlock => "allow-egress-ipblock",
        }
    }

    /// The namespace it lives in.
    pub fn namespace(self) -> Ns {
        match self {
            Policy::DenyIngressA | Policy::AllowNamespaceHttp | Policy::AllowS1Extras => Ns::A,
            Policy::DenyEgressB | Policy::AllowEgressBToA => Ns::B,
            Policy::DenyEgressC | Policy::AllowEgressCIpBlock => Ns::C,
        }
    }
}

/// A change of the policies in force at the start of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Create the policy.
    Create(Policy),
    /// Delete it (policy updates must take effect too).
    Delete(Policy),
}

/// One step of the probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Short id, e.g. `baseline`.
    pub id: &'static str,
    /// What the step establishes, in words.
    pub what: &'static str,
    /// Policy changes applied before the expectations are probed.
    pub changes: Vec<Change>,
    /// The connections probed and their expected outcome.
    pub expectations: Vec<Expectation>,
}

fn e(ns: Ns, trusted: bool, server: Server, port: u16, proto: Proto, allowed: bool) -> Expectation {
    Expectation {
        client: Client { ns, trusted },
        server,
        port,
        proto,
        allowed,
        weight: Weight::Must,
    }
}

fn tcp(ns: Ns, server: Server, port: u16, allowed: bool) -> Expectation {
    e(ns, false, server, port, Proto::Tcp, allowed)
}

/// The steps, in order. Step 0 (`baseline`) has no policies: if it fails, the cluster's
/// networking (or the probe) is broken and nothing about policies can be judged.
pub fn steps() -> Vec<Step> {
    use Ns::{A, B, C};
    use Server::{S1, S2, S3};
    let ip_block = |mut x: Expectation| {
        x.weight = Weight::IpBlock;
        x
    };
    vec![
        Step {
            id: "baseline",
            what: "without policies every server port is reachable",
            changes: vec![],
            expectations: vec![
                tcp(A, S1, HTTP_PORT, true),
                tcp(B, S1, HTTP_PORT, true),
                tcp(B, S1, ALT_PORT, true),
                e(B, false, S1, UDP_PORT, Proto::Udp, true),
                tcp(C, S1, HTTP_PORT, true),
                tcp(B, S2, HTTP_PORT, true),
                tcp(B, S3, HTTP_PORT, true),
            ],
        },
        Step {
            id: "deny-ingress",
            what: "a default-deny ingress policy isolates every pod of its namespace, also from its own namespace",
            changes: vec![Change::Create(Policy::DenyIngressA)],
            expectations: vec![
                tcp(A, S1, HTTP_PORT, false),
                tcp(B, S1, HTTP_PORT, false),
                e(B, false, S1, UDP_PORT, Proto::Udp, false),
                tcp(C, S2, HTTP_PORT, false),
                tcp(B, S3, HTTP_PORT, true),
            ],
        },
        Step {
            id: "allow-namespace",
            what: "an ingress rule with a namespace selector and one TCP port admits exactly that namespace on that port",
            changes: vec![Change::Create(Policy::AllowNamespaceHttp)],
            expectations: vec![
                tcp(B, S1, HTTP_PORT, true),
                tcp(B, S2, HTTP_PORT, true),
                tcp(B, S1, ALT_PORT, false),
                e(B, false, S1, UDP_PORT, Proto::Udp, false),
                tcp(C, S1, HTTP_PORT, false),
                tcp(A, S2, HTTP_PORT, false),
            ],
        },
        Step {
            id: "ports-and-pods",
            what: "pod selectors across namespaces, named ports, endPort ranges and UDP rules admit exactly what they name",
            changes: vec![Change::Create(Policy::AllowS1Extras)],
            expectations: vec![
                e(B, true, S1, ALT_PORT, Proto::Tcp, true),
                tcp(B, S1, ALT_PORT, false),
                tcp(C, S1, ALT_PORT, true),
                tcp(C, S1, HTTP_PORT, true),
                tcp(C, S2, HTTP_PORT, false),
                e(B, false, S1, UDP_PORT, Proto::Udp, true),
                e(C, false, S1, UDP_PORT, Proto::Udp, false),
            ],
        },
        Step {
            id: "egress",
            what: "a default-deny egress policy with an allow rule to one namespace blocks everything else the namespace's pods send",
            changes: vec![
                Change::Create(Policy::DenyEgressB),
                Change::Create(Policy::AllowEgressBToA),
            ],
            expectations: vec![
                tcp(B, S1, HTTP_PORT, true),
                tcp(B, S3, HTTP_PORT, false),
                tcp(C, S3, HTTP_PORT, true),
            ],
        },
        Step {
            id: "ip-block",
            what: "an egress ipBlock rule with an except entry admits the block but not the excepted address",
            changes: vec![
                Change::Create(Policy::DenyEgressC),
                Change::Create(Policy::AllowEgressCIpBlock),
            ],
            expectations: vec![
                ip_block(tcp(C, S1, HTTP_PORT, true)),
                ip_block(tcp(C, S3, HTTP_PORT, false)),
            ],
        },
        Step {
            id: "policy-removed",
            what: "deleting an allow policy takes its access away again, and the remaining policies keep working",
            changes: vec![Change::Delete(Policy::AllowNamespaceHttp)],
            expectations: vec![
                tcp(B, S1, HTTP_PORT, false),
                tcp(B, S2, HTTP_PORT, false),
                e(B, true, S1, ALT_PORT, Proto::Tcp, true),
            ],
        },
    ]
}

/// Everything a policy object depends on: the namespace names and the server addresses.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Full name of each probe namespace.
    pub namespaces: BTreeMap<Ns, String>,
    /// Address of each server pod.
    pub servers: BTreeMap<Server, IpAddr>,
}

impl Layout {
    fn ns(&self, ns: Ns) -> &str {
        self.namespaces.get(&ns).map(String::as_str).unwrap_or("")
    }
}

fn select(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        match_expressions: None,
    }
}

fn port(p: IntOrString, proto: Proto, end: Option<i32>) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(p),
        protocol: Some(proto.k8s().to_string()),
        end_port: end,
    }
}

fn namespace_peer(pairs: &[(&str, &str)]) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(select(pairs)),
        ..NetworkPolicyPeer::default()
    }
}

/// The object for `policy` (labels and annotations are added by the probe).
pub fn policy_object(policy: Policy, layout: &Layout) -> NetworkPolicy {
    let everything = LabelSelector::default();
    let s1 = select(&[(SERVER_LABEL, Server::S1.name())]);
    let spec = match policy {
        Policy::DenyIngressA => NetworkPolicySpec {
            pod_selector: Some(everything),
            policy_types: Some(vec!["Ingress".into()]),
            ..NetworkPolicySpec::default()
        },
        Policy::AllowNamespaceHttp => NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: SERVER_LABEL.into(),
                    operator: "Exists".into(),
                    values: None,
                }]),
                match_labels: None,
            }),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![namespace_peer(&[(ALLOWED_LABEL, "true")])]),
                ports: Some(vec![port(
                    IntOrString::Int(i32::from(HTTP_PORT)),
                    Proto::Tcp,
                    None,
                )]),
            }]),
            policy_types: Some(vec!["Ingress".into()]),
            ..NetworkPolicySpec::default()
        },
        Policy::AllowS1Extras => NetworkPolicySpec {
            pod_selector: Some(s1),
            ingress: Some(vec![
                NetworkPolicyIngressRule {
                    from: Some(vec![NetworkPolicyPeer {
                        namespace_selector: Some(LabelSelector::default()),
                        pod_selector: Some(select(&[(ROLE_LABEL, "trusted")])),
                        ..NetworkPolicyPeer::default()
                    }]),
                    ports: Some(vec![port(
                        IntOrString::String("alt".into()),
                        Proto::Tcp,
                        None,
                    )]),
                },
                NetworkPolicyIngressRule {
                    from: Some(vec![namespace_peer(&[(NS_LABEL, Ns::C.suffix())])]),
                    ports: Some(vec![port(
                        IntOrString::Int(i32::from(HTTP_PORT)),
                        Proto::Tcp,
                        Some(i32::from(ALT_PORT)),
                    )]),
                },
                NetworkPolicyIngressRule {
                    from: Some(vec![namespace_peer(&[(ALLOWED_LABEL, "true")])]),
                    ports: Some(vec![port(
                        IntOrString::Int(i32::from(UDP_PORT)),
                        Proto::Udp,
                        None,
                    )]),
                },
            ]),
            policy_types: Some(vec!["Ingress".into()]),
            ..NetworkPolicySpec::default()
        },
        Policy::DenyEgressB | Policy::DenyEgressC => NetworkPolicySpec {
            pod_selector: Some(everything),
            policy_types: Some(vec!["Egress".into()]),
            ..NetworkPolicySpec::default()
        },
        Policy::AllowEgressBToA => NetworkPolicySpec {
            pod_selector: Some(everything),
            egress: Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![namespace_peer(&[(
                    "kubernetes.io/metadata.name",
                    layout.ns(Ns::A),
                )])]),
                ports: None,
            }]),
            policy_types: Some(vec!["Egress".into()]),
            ..NetworkPolicySpec::default()
        },
        Policy::AllowEgressCIpBlock => {
            let excepted = layout.servers.get(&Server::S3).copied();
            let (all, host) = match excepted {
                Some(IpAddr::V6(ip)) => ("::/0".to_string(), format!("{ip}/128")),
                Some(IpAddr::V4(ip)) => ("0.0.0.0/0".to_string(), format!("{ip}/32")),
                None => ("0.0.0.0/0".to_string(), "0.0.0.0/32".to_string()),
            };
            NetworkPolicySpec {
                pod_selector: Some(everything),
                egress: Some(vec![NetworkPolicyEgressRule {
                    to: Some(vec![NetworkPolicyPeer {
                        ip_block: Some(IPBlock {
                            cidr: all,
                            except: Some(vec![host]),
                        }),
                        ..NetworkPolicyPeer::default()
                    }]),
                    ports: None,
                }]),
                policy_types: Some(vec!["Egress".into()]),
                ..NetworkPolicySpec::default()
            }
        }
    };
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(policy.name().to_string()),
            namespace: Some(layout.ns(policy.namespace()).to_string()),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn steps_start_with_a_policy_free_baseline_and_probe_both_outcomes() {
        let steps = steps();
        assert_eq!(steps[0].id, "baseline");
        assert!(steps[0].changes.is_empty());
        assert!(steps[0].expectations.iter().all(|x| x.allowed));
        for step in &steps[1..] {
            assert!(!step.changes.is_empty(), "{}", step.id);
            assert!(
                step.expectations.iter().any(|x| !x.allowed),
                "{} probes no blocked connection",
                step.id
            );
        }
        let ids: HashSet<_> = steps.iter().map(|s| s.id).collect();
        assert_eq!(ids.len(), steps.len(), "step ids are unique");
        // Every rule kind the issue names is exercised.
        let created: Vec<Policy> = steps
            .iter()
            .flat_map(|s| s.changes.iter())
            .filter_map(|c| match c {
                Change::Create(p) => Some(*p),
                Change::Delete(_) => None,
            })
            .collect();
        for p in [
            Policy::DenyIngressA,
            Policy::AllowNamespaceHttp,
            Policy::AllowS1Extras,
            Policy::DenyEgressB,
            Policy::AllowEgressBToA,
            Policy::AllowEgressCIpBlock,
        ] {
            assert!(created.contains(&p), "{p:?} never created");
        }
        assert!(
            steps
                .iter()
                .flat_map(|s| &s.changes)
                .any(|c| matches!(c, Change::Delete(_)))
        );
        assert!(
            steps
                .iter()
                .flat_map(|s| &s.expectations)
                .any(|x| x.proto == Proto::Udp && x.allowed)
        );
    }

    fn layout() -> Layout {
        Layout {
            namespaces: Ns::ALL
                .iter()
                .map(|n| (*n, format!("scs-kaas-x-0a1b2c3d-{}", n.suffix())))
                .collect(),
            servers: BTreeMap::from([
                (Server::S1, "10.128.0.1".parse().unwrap()),
                (Server::S2, "10.128.0.2".parse().unwrap()),
                (Server::S3, "fd00::3".parse().unwrap()),
            ]),
        }
    }

    #[test]
    fn policies_live_in_their_namespace_and_name_ports_as_planned() {
        let l = layout();
        let p = policy_object(Policy::AllowS1Extras, &l);
        assert_eq!(
            p.metadata.namespace.as_deref(),
            Some("scs-kaas-x-0a1b2c3d-a")
        );
        let rules = p.spec.unwrap().ingress.unwrap();
        let ports: Vec<_> = rules
            .iter()
            .map(|r| r.ports.as_ref().unwrap()[0].clone())
            .collect();
        assert_eq!(ports[0].port, Some(IntOrString::String("alt".into())));
        assert_eq!(
            (ports[1].port.clone(), ports[1].end_port),
            (Some(IntOrString::Int(8080)), Some(8082))
        );
        assert_eq!(ports[2].protocol.as_deref(), Some("UDP"));
        let egress = policy_object(Policy::AllowEgressCIpBlock, &l);
        let block = egress.spec.unwrap().egress.unwrap()[0].to.as_ref().unwrap()[0]
            .ip_block
            .clone()
            .unwrap();
        assert_eq!(block.cidr, "::/0");
        assert_eq!(block.except, Some(vec!["fd00::3/128".to_string()]));
        let to_a = policy_object(Policy::AllowEgressBToA, &l);
        assert_eq!(
            to_a.metadata.namespace.as_deref(),
            Some("scs-kaas-x-0a1b2c3d-b")
        );
        let egress = to_a.spec.unwrap().egress.unwrap();
        let peer = &egress[0].to.as_ref().unwrap()[0];
        assert_eq!(
            peer.namespace_selector
                .as_ref()
                .unwrap()
                .match_labels
                .as_ref()
                .unwrap()["kubernetes.io/metadata.name"],
            "scs-kaas-x-0a1b2c3d-a"
        );
    }
}
