//! Where the simulated load balancer sends one connection, and what the backend sees: a pure
//! function of the Service's endpoints, the nodes and the connection's sequence number, so the
//! behaviour of each scenario mode is deterministic and testable without sockets.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use serde_json::Value;

use super::object::{self, at, is_terminating, name, node_ip, str_at};
use super::pod_status::is_ready;
use crate::scenario::LoadBalancerMode;
use crate::world::World;

/// Label that keeps a node out of load balancer pools (as upstream's service controller does).
pub const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

/// A node in the load balancer's pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Node name.
    pub node: String,
    /// Node `InternalIP`.
    pub ip: IpAddr,
}

/// What serves connections inside an endpoint pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// agnhost `netexec`: HTTP on its `--http-port` (8080 by default), nothing elsewhere.
    Netexec {
        /// The HTTP port.
        http_port: u16,
    },
    /// Any other container: echoes the bytes it receives on every port.
    TcpEcho,
}

/// A ready endpoint pod of the Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Pod name (what netexec's `/hostname` answers).
    pub pod: String,
    /// Node the pod runs on.
    pub node: String,
    /// What serves inside the pod.
    pub backend: Backend,
    /// Named container ports, for named `targetPort`s.
    pub named_ports: HashMap<String, u16>,
}

/// A Service port's `targetPort`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A port number.
    Number(u16),
    /// A named container port.
    Name(String),
}

/// Everything a listener needs to route connections; rebuilt by the controller on every change.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The scenario's load balancer behaviour.
    pub mode: LoadBalancerMode,
    /// `externalTrafficPolicy: Local`.
    pub local: bool,
    /// Prepend a PROXY v1 header to what the backend receives.
    pub proxy_header: bool,
    /// The load balancer's address.
    pub lb_ip: IpAddr,
    /// Nodes in the pool.
    pub members: Vec<Member>,
    /// Ready endpoints.
    pub endpoints: Vec<Endpoint>,
    /// Service port → target port.
    pub targets: HashMap<u16, Target>,
}

/// What happens to one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The connection is reset; the text says why (for logs and tests).
    Reset(String),
    /// The connection reaches an endpoint.
    Serve {
        /// Endpoint pod name.
        pod: String,
        /// What serves there.
        backend: Backend,
        /// The port the backend receives on.
        port: u16,
        /// The client address the backend sees.
        seen: SocketAddr,
        /// A PROXY v1 header the backend receives before the client's bytes.
        header: Option<String>,
    },
}

impl Route {
    /// Builds the route of `service` from the world (ready pods matching its selector).
    pub fn build(
        world: &dyn World,
        service: &Value,
        mode: LoadBalancerMode,
        proxy_header: bool,
        lb_ip: IpAddr,
    ) -> Route {
        let members = world
            .list("Node", None, None)
            .iter()
            .filter(|n| {
                super::node_match::node_ready(n) && object::label(n, EXCLUDE_LABEL).is_none()
            })
            .filter_map(|n| {
                Some(Member {
                    node: name(n).to_string(),
                    ip: node_ip(n)?.parse().ok()?,
                })
            })
            .collect();
        let selector: Vec<(String, String)> = at(service, "spec.selector")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let endpoints = if selector.is_empty() {
            Vec::new()
        } else {
            world
                .list("Pod", Some(object::namespace(service)), None)
                .iter()
                .filter(|p| is_ready(p) && !is_terminating(p))
                .filter(|p| {
                    selector
                        .iter()
                        .all(|(k, v)| object::label(p, k) == Some(v.as_str()))
                })
                .filter_map(endpoint)
                .collect()
        };
        let targets = at(service, "spec.ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let port = u16::try_from(p.get("port")?.as_u64()?).ok()?;
                let target = match p.get("targetPort") {
                    Some(Value::String(name)) => match name.parse::<u16>() {
                        Ok(n) => Target::Number(n),
                        Err(_) => Target::Name(name.clone()),
                    },
                    Some(Value::Number(n)) => Target::Number(u16::try_from(n.as_u64()?).ok()?),
                    _ => Target::Number(port),
                };
                Some((port, target))
            })
            .collect();
        Route {
            mode,
            local: str_at(service, "spec.externalTrafficPolicy") == Some("Local"),
            proxy_header,
            lb_ip,
            members,
            endpoints,
            targets,
        }
    }

    /// Decides connection number `n` from `client` to service port `port`.
    pub fn decide(&self, n: u64, client: SocketAddr, port: u16) -> Decision {
        let has_local = |m: &&Member| self.endpoints.iter().any(|e| e.node == m.node);
        // With health checks, `Local` pools only contain nodes with a local endpoint.
        let health_checked = self.mode != LoadBalancerMode::LocalNoHealthcheck;
        let pool: Vec<&Member> = if self.local && health_checked {
            self.members.iter().filter(has_local).collect()
        } else {
            self.members.iter().collect()
        };
        if pool.is_empty() {
            return Decision::Reset("no node in the load balancer pool is healthy".into());
        }
        let member = pool[(n % pool.len() as u64) as usize];
        let candidates: Vec<&Endpoint> = if self.local {
            self.endpoints
                .iter()
                .filter(|e| e.node == member.node)
                .collect()
        } else {
            self.endpoints.iter().collect()
        };
        if candidates.is_empty() {
            return Decision::Reset(format!(
                "node {} has no ready endpoint for the Service",
                member.node
            ));
        }
        let endpoint = candidates[((n / pool.len() as u64) % candidates.len() as u64) as usize];
        let target_port = match self.targets.get(&port) {
            Some(Target::Number(p)) => Some(*p),
            Some(Target::Name(name)) => endpoint.named_ports.get(name).copied(),
            None => None,
        };
        let Some(target_port) = target_port else {
            return Decision::Reset(format!(
                "pod {} has no port for service port {port}",
                endpoint.pod
            ));
        };
        if let Backend::Netexec { http_port } = endpoint.backend
            && http_port != target_port
        {
            return Decision::Reset(format!(
                "nothing listens on port {target_port} of pod {} (netexec serves {http_port})",
                endpoint.pod
            ));
        }
        let seen_ip = match self.mode {
            LoadBalancerMode::L3 => client.ip(),
            LoadBalancerMode::Snat => member.ip,
            LoadBalancerMode::Proxy
            | LoadBalancerMode::LocalNoHealthcheck
            | LoadBalancerMode::Pending => self.lb_ip,
        };
        let header = self.proxy_header.then(|| {
            let family = if client.is_ipv4() { "TCP4" } else { "TCP6" };
            format!(
                "PROXY {family} {} {} {} {port}\r\n",
                client.ip(),
                self.lb_ip,
                client.port()
            )
        });
        Decision::Serve {
            pod: endpoint.pod.clone(),
            backend: endpoint.backend,
            port: target_port,
            seen: SocketAddr::new(seen_ip, client.port()),
            header,
        }
    }
}

/// A ready pod as an endpoint: netexec if a container runs it, else a TCP echo.
fn endpoint(pod: &Value) -> Option<Endpoint> {
    let node = str_at(pod, "spec.nodeName")?.to_string();
    let containers = at(pod, "spec.containers").and_then(Value::as_array)?;
    let mut named_ports = HashMap::new();
    let mut backend = Backend::TcpEcho;
    for c in containers {
        for p in c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(name), Some(port)) = (
                p.get("name").and_then(Value::as_str),
                p.get("containerPort")
                    .and_then(Value::as_u64)
                    .and_then(|n| u16::try_from(n).ok()),
            ) {
                named_ports.insert(name.to_string(), port);
            }
        }
        let words: Vec<&str> = ["command", "args"]
            .iter()
            .filter_map(|k| c.get(*k).and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if words.contains(&"netexec") {
            backend = Backend::Netexec {
                http_port: netexec_port(&words),
            };
        }
    }
    Some(Endpoint {
        pod: name(pod).to_string(),
        node,
        backend,
        named_ports,
    })
}

/// netexec's `--http-port` (`--http-port=N` or `--http-port N`), 8080 by default.
fn netexec_port(words: &[&str]) -> u16 {
    words
        .iter()
        .enumerate()
        .find_map(|(i, w)| match w.strip_prefix("--http-port") {
            Some(rest) if rest.starts_with('=') => rest[1..].parse().ok(),
            Some("") => words.get(i + 1)?.parse().ok(),
            _ => None,
        })
        .unwrap_or(8080)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(node: &str, ip: &str) -> Member {
        Member {
            node: node.into(),
            ip: ip.parse().unwrap(),
        }
    }

    fn netexec(pod: &str, node: &str) -> Endpoint {
        Endpoint {
            pod: pod.into(),
            node: node.into(),
            backend: Backend::Netexec { http_port: 8080 },
            named_ports: HashMap::from([("http".to_string(), 8080)]),
        }
    }

    fn route(mode: LoadBalancerMode, local: bool) -> Route {
        Route {
            mode,
            local,
            proxy_header: false,
            lb_ip: "127.9.9.9".parse().unwrap(),
            members: vec![
                member("n0", "10.0.0.4"),
                member("n1", "10.0.0.5"),
                member("n2", "10.0.0.6"),
            ],
            endpoints: vec![netexec("echo-a", "n1")],
            targets: HashMap::from([(8080, Target::Name("http".into()))]),
        }
    }

    fn client() -> SocketAddr {
        "127.0.0.1:40000".parse().unwrap()
    }

    fn seen(d: &Decision) -> Option<IpAddr> {
        match d {
            Decision::Serve { seen, .. } => Some(seen.ip()),
            Decision::Reset(_) => None,
        }
    }

    #[test]
    fn each_mode_shows_its_client_address() {
        let l3 = route(LoadBalancerMode::L3, false).decide(0, client(), 8080);
        assert_eq!(seen(&l3), Some(client().ip()));
        let snat = route(LoadBalancerMode::Snat, false).decide(0, client(), 8080);
        assert_eq!(seen(&snat), Some("10.0.0.4".parse().unwrap()));
        let proxy = route(LoadBalancerMode::Proxy, false).decide(0, client(), 8080);
        assert_eq!(seen(&proxy), Some("127.9.9.9".parse().unwrap()));
    }

    #[test]
    fn local_without_health_checks_resets_nodes_without_endpoints() {
        let r = route(LoadBalancerMode::LocalNoHealthcheck, true);
        let served = (0..30)
            .filter(|n| seen(&r.decide(*n, client(), 8080)).is_some())
            .count();
        assert_eq!(
            served, 10,
            "only the one node in three with an endpoint serves"
        );
        assert!(matches!(r.decide(0, client(), 8080), Decision::Reset(why) if why.contains("n0")));
        // The same Service with Cluster policy works on every node.
        let cluster = route(LoadBalancerMode::LocalNoHealthcheck, false);
        assert!((0..30).all(|n| seen(&cluster.decide(n, client(), 8080)).is_some()));
        // With health checks, Local pools hold only nodes with endpoints.
        let checked = route(LoadBalancerMode::Proxy, true);
        assert!((0..30).all(|n| seen(&checked.decide(n, client(), 8080)).is_some()));
    }

    #[test]
    fn proxy_header_carries_the_client() {
        let mut r = route(LoadBalancerMode::Proxy, false);
        r.proxy_header = true;
        match r.decide(0, client(), 8080) {
            Decision::Serve { header, .. } => assert_eq!(
                header.as_deref(),
                Some("PROXY TCP4 127.0.0.1 127.9.9.9 40000 8080\r\n")
            ),
            other => panic!("expected served, got {other:?}"),
        }
    }

    #[test]
    fn wrong_ports_and_missing_endpoints_reset() {
        let mut r = route(LoadBalancerMode::L3, false);
        r.targets.insert(9090, Target::Number(9090));
        assert!(
            matches!(r.decide(0, client(), 9090), Decision::Reset(why) if why.contains("netexec serves 8080"))
        );
        assert!(matches!(r.decide(0, client(), 1234), Decision::Reset(_)));
        r.endpoints.clear();
        assert!(matches!(r.decide(0, client(), 8080), Decision::Reset(_)));
    }

    #[test]
    fn netexec_port_forms() {
        assert_eq!(netexec_port(&["netexec", "--http-port=9000"]), 9000);
        assert_eq!(netexec_port(&["netexec", "--http-port", "9001"]), 9001);
        assert_eq!(netexec_port(&["netexec"]), 8080);
    }
}
