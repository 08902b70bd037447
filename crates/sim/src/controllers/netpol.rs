//! The simulated network plugin's NetworkPolicy engine: whether one connection between two pods
//! is allowed by the `networking.k8s.io/v1` NetworkPolicies in force.
//!
//! It follows the upstream semantics: a pod is isolated for a direction once any policy of its
//! namespace selects it for that direction (`policyTypes`, or `Ingress` plus `Egress` when the
//! policy has egress rules); an isolated pod accepts only what some rule of a selecting policy
//! allows; a connection needs both the source's egress and the destination's ingress. Peers
//! match by `podSelector` (in the policy's namespace), `namespaceSelector` (with an optional
//! `podSelector`) or `ipBlock` (`cidr` minus `except`); ports by number, `endPort` range or the
//! destination container's port name, with the protocol (TCP when absent). Anything it cannot
//! understand (an unparsable CIDR, an unknown operator) matches nothing, so a broken policy
//! never opens a path. Pure functions over JSON objects; the kubelet simulation calls [`decide`].

use std::net::IpAddr;

use serde_json::{Map, Value};

use super::object::{at, name, namespace};

/// A transport protocol a NetworkPolicy port can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// TCP (the default of a policy port).
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// The spelling NetworkPolicies and container ports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    /// Parses `tcp`/`TCP`, `udp`, `sctp`.
    pub fn parse(text: &str) -> Option<Protocol> {
        match text.to_ascii_uppercase().as_str() {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

/// One end of a connection: the pod, its namespace's labels and the address it uses.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a> {
    /// The pod object.
    pub pod: &'a Value,
    /// Labels of the pod's namespace (for `namespaceSelector`).
    pub namespace_labels: &'a Map<String, Value>,
    /// The pod's address (for `ipBlock`).
    pub ip: IpAddr,
}

/// A connection attempt from one pod to a port of another.
#[derive(Debug, Clone, Copy)]
pub struct Connection<'a> {
    /// The connecting pod.
    pub source: Peer<'a>,
    /// The pod connected to.
    pub destination: Peer<'a>,
    /// Destination port.
    pub port: u16,
    /// Transport protocol.
    pub protocol: Protocol,
}

/// What the policies say about a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No policy isolates either end, or rules allow both directions.
    Allowed,
    /// The source is isolated for egress and none of these policies (names) allow it.
    DeniedEgress(Vec<String>),
    /// The destination is isolated for ingress and none of these policies (names) allow it.
    DeniedIngress(Vec<String>),
}

/// Decides `conn` under `policies` (every NetworkPolicy of the cluster).
pub fn decide(policies: &[Value], conn: &Connection) -> Verdict {
    let egress = selecting(policies, conn.source.pod, "Egress");
    if !egress.is_empty()
        && !egress
            .iter()
            .any(|p| rules_allow(p, "egress", "to", conn, conn.destination))
    {
        return Verdict::DeniedEgress(egress.iter().map(|p| name(p).to_string()).collect());
    }
    let ingress = selecting(policies, conn.destination.pod, "Ingress");
    if !ingress.is_empty()
        && !ingress
            .iter()
            .any(|p| rules_allow(p, "ingress", "from", conn, conn.source))
    {
        return Verdict::DeniedIngress(ingress.iter().map(|p| name(p).to_string()).collect());
    }
    Verdict::Allowed
}

/// The policies of the pod's namespace that select it for `direction` (`Ingress`/`Egress`).
fn selecting<'p>(policies: &'p [Value], pod: &Value, direction: &str) -> Vec<&'p Value> {
    policies
        .iter()
        .filter(|p| namespace(p) == namespace(pod))
        .filter(|p| policy_types(p).contains(&direction))
        .filter(|p| {
            let selector = at(p, "spec.podSelector").cloned().unwrap_or(Value::Null);
            selector_matches(&selector, labels(pod))
        })
        .collect()
}

/// `spec.policyTypes`, or what upstream defaults it to.
fn policy_types(policy: &Value) -> Vec<&str> {
    if let Some(types) = at(policy, "spec.policyTypes").and_then(Value::as_array) {
        return types.iter().filter_map(Value::as_str).collect();
    }
    let mut types = vec!["Ingress"];
    if at(policy, "spec.egress").is_some_and(|e| !e.is_null()) {
        types.push("Egress");
    }
    types
}

/// Whether any rule of `policy`'s `rules_key` list allows the connection; `peer` is the other
/// end (the destination for egress rules, the source for ingress rules).
fn rules_allow(
    policy: &Value,
    rules_key: &str,
    peers_key: &str,
    conn: &Connection,
    peer: Peer,
) -> bool {
    let Some(rules) = at(policy, &format!("spec.{rules_key}")).and_then(Value::as_array) else {
        return false;
    };
    rules.iter().any(|rule| {
        let peers_ok = match rule.get(peers_key).and_then(Value::as_array) {
            None => true,
            Some(list) if list.is_empty() => true,
            Some(list) => list.iter().any(|p| peer_matches(p, policy, peer)),
        };
        let ports_ok = match rule.get("ports").and_then(Value::as_array) {
            None => true,
            Some(list) if list.is_empty() => true,
            Some(list) => list.iter().any(|p| port_matches(p, conn)),
        };
        peers_ok && ports_ok
    })
}

fn peer_matches(peer_rule: &Value, policy: &Value, peer: Peer) -> bool {
    if let Some(block) = peer_rule.get("ipBlock") {
        return ip_block_matches(block, peer.ip);
    }
    let namespace_ok = match peer_rule.get("namespaceSelector") {
        Some(selector) => selector_matches(selector, Some(peer.namespace_labels)),
        None => namespace(peer.pod) == namespace(policy),
    };
    let pod_ok = match peer_rule.get("podSelector") {
        Some(selector) => selector_matches(selector, labels(peer.pod)),
        None => true,
    };
    let has_selector =
        peer_rule.get("namespaceSelector").is_some() || peer_rule.get("podSelector").is_some();
    has_selector && namespace_ok && pod_ok
}

fn ip_block_matches(block: &Value, ip: IpAddr) -> bool {
    let Some(cidr) = block.get("cidr").and_then(Value::as_str) else {
        return false;
    };
    if cidr_contains(cidr, ip) != Some(true) {
        return false;
    }
    let except = block.get("except").and_then(Value::as_array);
    !except
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        // An unparsable exception excludes everything: never open more than was written.
        .any(|e| cidr_contains(e, ip) != Some(false))
}

/// Whether `ip` lies in `cidr` (`None` when the CIDR does not parse).
pub fn cidr_contains(cidr: &str, ip: IpAddr) -> Option<bool> {
    let (net, len) = cidr.split_once('/')?;
    let net: IpAddr = net.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    match (net, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) if len <= 32 => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            Some(u32::from(net) & mask == u32::from(ip) & mask)
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) if len <= 128 => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            Some(u128::from(net) & mask == u128::from(ip) & mask)
        }
        (IpAddr::V4(_), IpAddr::V6(_)) | (IpAddr::V6(_), IpAddr::V4(_)) => Some(false),
        _ => None,
    }
}

fn port_matches(port_rule: &Value, conn: &Connection) -> bool {
    let protocol = port_rule
        .get("protocol")
        .and_then(Value::as_str)
        .map_or(Some(Protocol::Tcp), Protocol::parse);
    if protocol != Some(conn.protocol) {
        return false;
    }
    match port_rule.get("port") {
        None | Some(Value::Null) => true,
        Some(Value::Number(n)) => {
            let Some(first) = n.as_u64() else {
                return false;
            };
            let last = port_rule
                .get("endPort")
                .and_then(Value::as_u64)
                .unwrap_or(first);
            (first..=last).contains(&u64::from(conn.port))
        }
        Some(Value::String(named)) => {
            named_port(conn.destination.pod, named, conn.protocol) == Some(conn.port)
        }
        Some(_) => false,
    }
}

/// The number of the destination container port called `port_name` with `protocol`.
pub fn named_port(pod: &Value, port_name: &str, protocol: Protocol) -> Option<u16> {
    at(pod, "spec.containers")
        .and_then(Value::as_array)?
        .iter()
        .flat_map(|c| {
            c.get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .find(|p| {
            p.get("name").and_then(Value::as_str) == Some(port_name)
                && p.get("protocol")
                    .and_then(Value::as_str)
                    .map_or(Some(Protocol::Tcp), Protocol::parse)
                    == Some(protocol)
        })
        .and_then(|p| p.get("containerPort"))
        .and_then(Value::as_u64)
        .and_then(|n| u16::try_from(n).ok())
}

fn labels(obj: &Value) -> Option<&Map<String, Value>> {
    at(obj, "metadata.labels").and_then(Value::as_object)
}

/// Whether a `LabelSelector` object matches `labels`: `matchLabels` and `matchExpressions`
/// (`In`, `NotIn`, `Exists`, `DoesNotExist`); an empty or absent selector matches everything.
pub fn selector_matches(selector: &Value, labels: Option<&Map<String, Value>>) -> bool {
    let value_of = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    if let Some(wanted) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in wanted {
            if value_of(key) != value.as_str() {
                return false;
            }
        }
    }
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    expressions.into_iter().flatten().all(|expr| {
        let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = expr
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let current = value_of(key);
        match expr.get("operator").and_then(Value::as_str) {
            Some("In") => current.is_some_and(|v| values.contains(&v)),
            Some("NotIn") => current.is_none_or(|v| !values.contains(&v)),
            Some("Exists") => current.is_some(),
            Some("DoesNotExist") => current.is_none(),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ns: &str, name: &str, labels: Value) -> Value {
        json!({
            "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "ports": [
                {"name": "http", "containerPort": 8080},
                {"name": "udp", "containerPort": 8081, "protocol": "UDP"},
                {"name": "alt", "containerPort": 8082, "protocol": "TCP"},
            ]}]},
        })
    }

    fn policy(ns: &str, name: &str, spec: Value) -> Value {
        json!({"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns}, "spec": spec})
    }

    struct Case {
        src: Value,
        src_ns: Map<String, Value>,
        dst: Value,
        dst_ns: Map<String, Value>,
    }

    impl Case {
        fn new() -> Case {
            Case {
                src: pod("b", "client", json!({"app": "client", "role": "trusted"})),
                src_ns: json!({"probe": "b", "allowed": "yes"})
                    .as_object()
                    .unwrap()
                    .clone(),
                dst: pod("a", "server", json!({"app": "server"})),
                dst_ns: json!({"probe": "a"}).as_object().unwrap().clone(),
            }
        }

        fn decide(&self, policies: &[Value], port: u16, protocol: Protocol) -> Verdict {
            decide(
                policies,
                &Connection {
                    source: Peer {
                        pod: &self.src,
                        namespace_labels: &self.src_ns,
                        ip: "10.128.0.5".parse().unwrap(),
                    },
                    destination: Peer {
                        pod: &self.dst,
                        namespace_labels: &self.dst_ns,
                        ip: "10.129.0.7".parse().unwrap(),
                    },
                    port,
                    protocol,
                },
            )
        }
    }

    fn deny_ingress() -> Value {
        policy(
            "a",
            "deny",
            json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
        )
    }

    #[test]
    fn no_policy_allows_and_default_deny_blocks() {
        let c = Case::new();
        assert_eq!(c.decide(&[], 8080, Protocol::Tcp), Verdict::Allowed);
        assert_eq!(
            c.decide(&[deny_ingress()], 8080, Protocol::Tcp),
            Verdict::DeniedIngress(vec!["deny".into()])
        );
        // A policy of another namespace does not isolate the server.
        let elsewhere = policy(
            "c",
            "deny",
            json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
        );
        assert_eq!(
            c.decide(&[elsewhere], 8080, Protocol::Tcp),
            Verdict::Allowed
        );
        // A policy selecting other pods does not isolate it either.
        let other_pods = policy(
            "a",
            "deny-db",
            json!({"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]}),
        );
        assert_eq!(
            c.decide(&[other_pods], 8080, Protocol::Tcp),
            Verdict::Allowed
        );
    }

    #[test]
    fn namespace_selector_and_port_and_protocol() {
        let c = Case::new();
        let allow = policy(
            "a",
            "allow",
            json!({"podSelector": {"matchLabels": {"app": "server"}},
                   "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"allowed": "yes"}}}],
                                "ports": [{"port": 8080, "protocol": "TCP"}]}]}),
        );
        let policies = [deny_ingress(), allow];
        assert_eq!(c.decide(&policies, 8080, Protocol::Tcp), Verdict::Allowed);
        assert!(matches!(
            c.decide(&policies, 8082, Protocol::Tcp),
            Verdict::DeniedIngress(_)
        ));
        assert!(matches!(
            c.decide(&policies, 8080, Protocol::Udp),
            Verdict::DeniedIngress(_)
        ));
        let mut other = Case::new();
        other.src_ns.remove("allowed");
        assert!(matches!(
            other.decide(&policies, 8080, Protocol::Tcp),
            Verdict::DeniedIngress(_)
        ));
    }

    #[test]
    fn pod_selector_alone_means_the_policy_namespace() {
        let c = Case::new();
        let allow = policy(
            "a",
            "same-ns-trusted",
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "trusted"}}}]}]}),
        );
        // The client is trusted but lives in namespace b, not a.
        assert!(matches!(
            c.decide(std::slice::from_ref(&allow), 8080, Protocol::Tcp),
            Verdict::DeniedIngress(_)
        ));
        let mut local = Case::new();
        local.src["metadata"]["namespace"] = json!("a");
        assert_eq!(
            local.decide(&[allow], 8080, Protocol::Tcp),
            Verdict::Allowed
        );
        // Namespace and pod selector together: both must match.
        let both = policy(
            "a",
            "both",
            json!({"podSelector": {}, "ingress": [{"from": [{
                "namespaceSelector": {"matchLabels": {"probe": "b"}},
                "podSelector": {"matchExpressions": [{"key": "role", "operator": "In", "values": ["trusted"]}]}}]}]}),
        );
        assert_eq!(
            c.decide(std::slice::from_ref(&both), 8080, Protocol::Tcp),
            Verdict::Allowed
        );
        let mut untrusted = Case::new();
        untrusted.src["metadata"]["labels"] = json!({"app": "client"});
        assert!(matches!(
            untrusted.decide(&[both], 8080, Protocol::Tcp),
            Verdict::DeniedIngress(_)
        ));
    }

    #[test]
    fn named_ports_and_end_port_ranges() {
        let c = Case::new();
        let named = policy(
            "a",
            "named",
            json!({"podSelector": {}, "ingress": [{"ports": [{"port": "alt"}]}]}),
        );
        assert_eq!(
            c.decide(std::slice::from_ref(&named), 8082, Protocol::Tcp),
            Verdict::Allowed
        );
        assert!(matches!(
            c.decide(&[named], 8080, Protocol::Tcp),
            Verdict::DeniedIngress(_)
        ));
        // A named port resolves with its protocol: "udp" is 8081/UDP, never 8081/TCP.
        let udp = policy(
            "a",
            "udp",
            json!({"podSelector": {}, "ingress": [{"ports": [{"port": "udp", "protocol": "UDP"}]}]}),
        );
        assert_eq!(
            c.decide(std::slice::from_ref(&udp), 8081, Protocol::Udp),
            Verdict::Allowed
        );
        assert!(matches!(
            c.decide(&[udp], 8081, Protocol::Tcp),
            Verdict::DeniedIngress(_)
        ));
        let range = policy(
            "a",
            "range",
            json!({"podSelector": {}, "ingress": [{"ports": [{"port": 8080, "endPort": 8081}]}]}),
        );
        assert_eq!(
            c.decide(std::slice::from_ref(&range), 8081, Protocol::Tcp),
            Verdict::Allowed
        );
        assert!(matches!(
            c.decide(&[range], 8082, Protocol::Tcp),
            Verdict::DeniedIngress(_)
        ));
    }

    #[test]
    fn egress_isolation_and_ip_blocks() {
        let c = Case::new();
        let deny = policy(
            "b",
            "deny-egress",
            json!({"podSelector": {}, "policyTypes": ["Egress"]}),
        );
        assert_eq!(
            c.decide(std::slice::from_ref(&deny), 8080, Protocol::Tcp),
            Verdict::DeniedEgress(vec!["deny-egress".into()])
        );
        let to_a = policy(
            "b",
            "to-a",
            json!({"podSelector": {}, "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"probe": "a"}}}]}]}),
        );
        assert_eq!(
            c.decide(&[deny.clone(), to_a], 8080, Protocol::Tcp),
            Verdict::Allowed
        );
        let block = policy(
            "b",
            "block",
            json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.129.0.7/32"]}}]}]}),
        );
        assert!(matches!(
            c.decide(&[deny.clone(), block], 8080, Protocol::Tcp),
            Verdict::DeniedEgress(_)
        ));
        let wide = policy(
            "b",
            "wide",
            json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.130.0.0/16"]}}]}]}),
        );
        assert_eq!(
            c.decide(&[deny.clone(), wide], 8080, Protocol::Tcp),
            Verdict::Allowed
        );
        // Egress rules alone (no policyTypes) isolate for egress too.
        let implicit = policy("b", "implicit", json!({"podSelector": {}, "egress": []}));
        assert!(matches!(
            c.decide(&[implicit], 8080, Protocol::Tcp),
            Verdict::DeniedEgress(_)
        ));
        // Broken CIDRs open nothing.
        let broken = policy(
            "b",
            "broken",
            json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["nonsense"]}}]}]}),
        );
        assert!(matches!(
            c.decide(&[deny, broken], 8080, Protocol::Tcp),
            Verdict::DeniedEgress(_)
        ));
    }

    #[test]
    fn cidrs_and_selectors() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(cidr_contains("0.0.0.0/0", ip("10.1.2.3")), Some(true));
        assert_eq!(cidr_contains("10.1.2.3/32", ip("10.1.2.3")), Some(true));
        assert_eq!(cidr_contains("10.1.2.3/32", ip("10.1.2.4")), Some(false));
        assert_eq!(cidr_contains("fd00::/8", ip("fd12::1")), Some(true));
        assert_eq!(cidr_contains("0.0.0.0/0", ip("fd12::1")), Some(false));
        assert_eq!(cidr_contains("10.0.0.0/33", ip("10.0.0.1")), None);
        assert_eq!(cidr_contains("10.0.0.0", ip("10.0.0.1")), None);
        let labels = json!({"a": "1"});
        let l = labels.as_object();
        assert!(selector_matches(&json!({}), l));
        assert!(selector_matches(&Value::Null, None));
        assert!(selector_matches(
            &json!({"matchExpressions": [{"key": "b", "operator": "DoesNotExist"}]}),
            l
        ));
        assert!(!selector_matches(
            &json!({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}),
            l
        ));
        assert!(!selector_matches(
            &json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["0"]}]}),
            l
        ));
        assert!(!selector_matches(&json!({"matchLabels": {"a": "2"}}), l));
    }
}
