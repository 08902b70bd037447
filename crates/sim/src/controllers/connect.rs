//! `agnhost connect HOST:PORT [--protocol tcp|udp] [--timeout D]` in a run-to-completion pod:
//! the simulated network decides whether the connection succeeds, as the container would.
//!
//! The destination must be the address of a Running pod that listens on the port: a container
//! running agnhost `netexec` listens on its `--http-port` (TCP, 8080 by default) and
//! `--udp-port` (UDP, 8081 by default, `-1` for none); any other container on its declared
//! `ports`. With NetworkPolicy enforcement on, [`netpol::decide`] must allow it. The outcome and
//! the log follow agnhost: exit 0 and no output on success; exit 1 with `TIMEOUT` (dropped by a
//! policy, or no pod has that address), `REFUSED` (nothing listens) or `UNKNOWN: …` (bad
//! arguments) on stderr.
//!
//! A TCP destination on loopback (`127.0.0.0/8`, `::1`) that is no pod's address is a real
//! socket of this host: the sim's own API server or a load balancer's listener. The probe then
//! really connects to it, so a pod can reach the API endpoint of its kubeconfig (API-03),
//! unless the scenario says `network.apiFromPods: blocked`, when connections to the API
//! server's address time out. NetworkPolicies do not apply to these host connections.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Map, Value};

use super::netpol::{self, Connection, Peer, Protocol, Verdict};
use super::object::{at, name, namespace, str_at};
use super::probe::Outcome;
use crate::world::World;

/// What decides the outcome of connect probes, from the scenario's `network` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rules {
    /// Whether NetworkPolicies decide pod-to-pod connections (`networkPolicy: enforced`);
    /// otherwise every connection to a listener succeeds.
    pub enforce_network_policies: bool,
    /// Whether connections to the API server's address time out (`apiFromPods: blocked`).
    pub block_api_from_pods: bool,
}

/// How long a real connection to a host socket may take (loopback answers at once).
const HOST_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A parsed `agnhost connect` invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectProbe {
    /// Destination address.
    pub host: String,
    /// Destination port.
    pub port: u16,
    /// `--protocol` (TCP by default).
    pub protocol: Protocol,
}

fn words(container: &Value) -> Vec<&str> {
    ["command", "args"]
        .iter()
        .filter_map(|k| container.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// `Some` when the pod's first container runs `agnhost connect`; `Err` names what is wrong with
/// its arguments.
pub fn parse(pod: &Value) -> Option<Result<ConnectProbe, String>> {
    let container = pod.pointer("/spec/containers/0")?;
    let words = words(container);
    let at_connect = words.iter().position(|w| *w == "connect")?;
    let is_agnhost = words[..at_connect]
        .iter()
        .any(|w| w.rsplit('/').next() == Some("agnhost"));
    if !is_agnhost {
        return None;
    }
    Some(parse_args(&words[at_connect + 1..]))
}

fn parse_args(args: &[&str]) -> Result<ConnectProbe, String> {
    let mut dest = None;
    let mut protocol = Protocol::Tcp;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (arg, None),
        };
        let mut value = || -> Result<&str, String> {
            if let Some(v) = inline {
                return Ok(v);
            }
            i += 1;
            args.get(i)
                .copied()
                .ok_or_else(|| format!("flag needs an argument: {flag}"))
        };
        match flag {
            "--protocol" => {
                let v = value()?;
                protocol = Protocol::parse(v).ok_or_else(|| format!("Unsupported protocol {v}"))?;
            }
            "--timeout" | "--udp-data" => {
                value()?;
            }
            f if f.starts_with('-') => return Err(format!("unknown flag: {f}")),
            positional => {
                if dest.replace(positional).is_some() {
                    return Err("accepts 1 arg(s)".to_string());
                }
            }
        }
        i += 1;
    }
    let dest = dest.ok_or_else(|| "accepts 1 arg(s), received 0".to_string())?;
    let (host, port) = dest
        .rsplit_once(':')
        .ok_or_else(|| format!("address {dest}: missing port in address"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("address {dest}: invalid port"))?;
    Ok(ConnectProbe {
        host: host.trim_matches(['[', ']']).to_string(),
        port,
        protocol,
    })
}

/// The ports a pod's containers listen on, with their protocol.
pub fn listening(pod: &Value) -> Vec<(Protocol, u16)> {
    let mut out = Vec::new();
    for c in at(pod, "spec.containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let words = words(c);
        if words.contains(&"netexec") {
            let flag = |name: &str, default: i64| -> i64 {
                words
                    .iter()
                    .enumerate()
                    .find_map(|(i, w)| match w.strip_prefix(name) {
                        Some(rest) if rest.starts_with('=') => rest[1..].parse().ok(),
                        Some("") => words.get(i + 1)?.parse().ok(),
                        _ => None,
                    })
                    .unwrap_or(default)
            };
            for (proto, port) in [
                (Protocol::Tcp, flag("--http-port", 8080)),
                (Protocol::Udp, flag("--udp-port", 8081)),
            ] {
                if let Ok(port) = u16::try_from(port)
                    && port > 0
                {
                    out.push((proto, port));
                }
            }
            continue;
        }
        for p in c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let proto = p
                .get("protocol")
                .and_then(Value::as_str)
                .map_or(Some(Protocol::Tcp), Protocol::parse);
            let port = p
                .get("containerPort")
                .and_then(Value::as_u64)
                .and_then(|n| u16::try_from(n).ok());
            if let (Some(proto), Some(port)) = (proto, port) {
                out.push((proto, port));
            }
        }
    }
    out
}

fn pod_ip(pod: &Value) -> Option<IpAddr> {
    str_at(pod, "status.podIP")?.parse().ok()
}

fn namespace_labels(world: &dyn World, ns: &str) -> Map<String, Value> {
    world
        .get("Namespace", None, ns)
        .and_then(|n| {
            at(&n, "metadata.labels")
                .and_then(Value::as_object)
                .cloned()
        })
        .unwrap_or_default()
}

fn failed(log: String) -> Outcome {
    Outcome {
        succeeded: false,
        log,
    }
}

/// Runs the connect probe of `pod`, which has just started, under the scenario's `rules`.
pub fn run(world: &dyn World, pod: &Value, probe: &ConnectProbe, rules: Rules) -> Outcome {
    let timeout = || match probe.protocol {
        Protocol::Udp => format!(
            "TIMEOUT: read udp {}:{}: i/o timeout\n",
            probe.host, probe.port
        ),
        _ => "TIMEOUT\n".to_string(),
    };
    let Ok(target_ip) = probe.host.parse::<IpAddr>() else {
        return failed(format!(
            "DNS: lookup {}: no such host (the simulator resolves no names; connect to a pod address)\n",
            probe.host
        ));
    };
    let Some(source_ip) = pod_ip(pod) else {
        return failed("OTHER: the pod has no address\n".to_string());
    };
    let target = world
        .list("Pod", None, Some(("status.phase", "Running")))
        .into_iter()
        .find(|p| pod_ip(p) == Some(target_ip));
    let Some(target) = target else {
        if target_ip.is_loopback() && probe.protocol == Protocol::Tcp {
            return to_host(world, SocketAddr::new(target_ip, probe.port), rules);
        }
        return failed(timeout());
    };
    if !listening(&target).contains(&(probe.protocol, probe.port)) {
        return failed(match probe.protocol {
            Protocol::Udp => format!(
                "REFUSED: read udp {}:{}: connection refused\n",
                probe.host, probe.port
            ),
            _ => "REFUSED\n".to_string(),
        });
    }
    if rules.enforce_network_policies {
        let policies = world.list("NetworkPolicy", None, None);
        let source_ns = namespace_labels(world, namespace(pod));
        let target_ns = namespace_labels(world, namespace(&target));
        let verdict = netpol::decide(
            &policies,
            &Connection {
                source: Peer {
                    pod,
                    namespace_labels: &source_ns,
                    ip: source_ip,
                },
                destination: Peer {
                    pod: &target,
                    namespace_labels: &target_ns,
                    ip: target_ip,
                },
                port: probe.port,
                protocol: probe.protocol,
            },
        );
        if verdict != Verdict::Allowed {
            tracing::debug!(
                "connect {}/{} -> {}/{}:{}: {verdict:?}",
                namespace(pod),
                name(pod),
                namespace(&target),
                name(&target),
                probe.port
            );
            return failed(timeout());
        }
    }
    Outcome {
        succeeded: true,
        log: String::new(),
    }
}

/// A real TCP connection to a socket of this host (see the module documentation).
fn to_host(world: &dyn World, addr: SocketAddr, rules: Rules) -> Outcome {
    let is_api = world.api_address().is_some_and(|api| {
        api.port() == addr.port() && (api.ip() == addr.ip() || api.ip().is_unspecified())
    });
    if is_api && rules.block_api_from_pods {
        tracing::debug!("connect to the API server at {addr}: blocked by the scenario");
        return failed("TIMEOUT\n".to_string());
    }
    match TcpStream::connect_timeout(&addr, HOST_CONNECT_TIMEOUT) {
        Ok(_) => Outcome {
            succeeded: true,
            log: String::new(),
        },
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            failed("REFUSED\n".to_string())
        }
        Err(_) => failed("TIMEOUT\n".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::memory;
    use super::*;
    use serde_json::json;

    fn pod_with(words: &[&str]) -> Value {
        json!({"spec": {"containers": [{"name": "c", "command": words}]}})
    }

    #[test]
    fn recognises_agnhost_connect_and_its_flags() {
        let p = parse(&pod_with(&[
            "/agnhost",
            "connect",
            "10.1.2.3:8080",
            "--timeout=3s",
        ]));
        assert_eq!(
            p,
            Some(Ok(ConnectProbe {
                host: "10.1.2.3".into(),
                port: 8080,
                protocol: Protocol::Tcp
            }))
        );
        let p = parse(&pod_with(&[
            "agnhost",
            "connect",
            "--protocol",
            "udp",
            "--timeout",
            "3s",
            "[fd00::1]:53",
        ]));
        assert_eq!(
            p,
            Some(Ok(ConnectProbe {
                host: "fd00::1".into(),
                port: 53,
                protocol: Protocol::Udp
            }))
        );
        assert_eq!(parse(&pod_with(&["/bin/sh", "-c", "connect"])), None);
        assert_eq!(parse(&pod_with(&["/agnhost", "netexec"])), None);
        for bad in [
            &["/agnhost", "connect"][..],
            &["/agnhost", "connect", "10.1.2.3"],
            &["/agnhost", "connect", "10.1.2.3:http"],
            &["/agnhost", "connect", "10.1.2.3:1", "--protocol=icmp"],
            &["/agnhost", "connect", "10.1.2.3:1", "--bogus"],
            &["/agnhost", "connect", "10.1.2.3:1", "10.1.2.4:1"],
            &["/agnhost", "connect", "10.1.2.3:1", "--timeout"],
        ] {
            assert!(matches!(parse(&pod_with(bad)), Some(Err(_))), "{bad:?}");
        }
    }

    #[test]
    fn netexec_and_declared_ports_listen() {
        let pod = json!({"spec": {"containers": [
            {"name": "a", "command": ["/agnhost", "netexec", "--http-port=8080", "--udp-port=8081"]},
            {"name": "b", "command": ["/agnhost", "netexec", "--http-port", "8082", "--udp-port=-1"]},
            {"name": "c", "image": "x", "ports": [{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 9000}]},
        ]}});
        assert_eq!(
            listening(&pod),
            vec![
                (Protocol::Tcp, 8080),
                (Protocol::Udp, 8081),
                (Protocol::Tcp, 8082),
                (Protocol::Udp, 53),
                (Protocol::Tcp, 9000),
            ]
        );
        let defaults = pod_with(&["/agnhost", "netexec"]);
        assert_eq!(
            listening(&defaults),
            vec![(Protocol::Tcp, 8080), (Protocol::Udp, 8081)]
        );
    }

    fn client_pod() -> Value {
        json!({"metadata": {"namespace": "p", "name": "client"},
               "spec": {"containers": [{"name": "c", "command": ["/agnhost", "connect"]}]},
               "status": {"phase": "Running", "podIP": "10.244.0.9"}})
    }

    fn tcp(addr: std::net::SocketAddr) -> ConnectProbe {
        ConnectProbe {
            host: addr.ip().to_string(),
            port: addr.port(),
            protocol: Protocol::Tcp,
        }
    }

    #[test]
    fn loopback_destinations_are_real_host_sockets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let world = memory::MemoryWorld::new(vec![client_pod()]);
        let rules = Rules::default();
        let reached = run(&world, &client_pod(), &tcp(open), rules);
        assert!(reached.succeeded, "{}", reached.log);
        let refused = run(&world, &client_pod(), &tcp(closed), rules);
        assert!(!refused.succeeded);
        assert_eq!(refused.log, "REFUSED\n");
        // UDP to a host address cannot be judged: it times out, as a dropped datagram would.
        let udp = ConnectProbe {
            protocol: Protocol::Udp,
            ..tcp(open)
        };
        assert!(!run(&world, &client_pod(), &udp, rules).succeeded);
        // A non-loopback address that is no pod's stays unreachable.
        let elsewhere = ConnectProbe {
            host: "192.0.2.1".into(),
            ..tcp(open)
        };
        assert_eq!(
            run(&world, &client_pod(), &elsewhere, rules).log,
            "TIMEOUT\n"
        );
    }

    #[test]
    fn a_blocked_api_server_times_out_and_other_host_sockets_do_not() {
        let api = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let lb = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut world = memory::MemoryWorld::new(vec![client_pod()]);
        world.api_address = Some(api.local_addr().unwrap());
        let blocked = Rules {
            block_api_from_pods: true,
            ..Rules::default()
        };
        let out = run(
            &world,
            &client_pod(),
            &tcp(api.local_addr().unwrap()),
            blocked,
        );
        assert!(!out.succeeded);
        assert_eq!(out.log, "TIMEOUT\n");
        let out = run(
            &world,
            &client_pod(),
            &tcp(lb.local_addr().unwrap()),
            blocked,
        );
        assert!(out.succeeded, "{}", out.log);
        let open = Rules::default();
        let out = run(&world, &client_pod(), &tcp(api.local_addr().unwrap()), open);
        assert!(out.succeeded, "{}", out.log);
        // A server bound to every address is the API server on each of them.
        world.api_address = Some(std::net::SocketAddr::new(
            [0, 0, 0, 0].into(),
            api.local_addr().unwrap().port(),
        ));
        let out = run(
            &world,
            &client_pod(),
            &tcp(api.local_addr().unwrap()),
            blocked,
        );
        assert_eq!(out.log, "TIMEOUT\n");
    }
}
