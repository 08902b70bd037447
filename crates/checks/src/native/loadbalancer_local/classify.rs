//! Pure judgement of `loadbalancer-local-policy-check`: how well `externalTrafficPolicy: Local`
//! works (LB-02), which client address the backend saw (LB-03), and the PROXY header the
//! load balancer sent, each in words a user can act on.

use std::net::IpAddr;

/// LB-02: how a Service with `externalTrafficPolicy: Local` behaved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalPolicy {
    /// Every request succeeded.
    Works,
    /// Some failed: `failed` of `total`.
    Partial {
        /// Failed requests.
        failed: usize,
        /// All requests.
        total: usize,
    },
    /// None succeeded (or no address came).
    Broken,
}

/// Classifies `ok` successes out of `total` requests.
pub fn local_policy(ok: usize, total: usize) -> LocalPolicy {
    match ok {
        0 => LocalPolicy::Broken,
        n if n == total => LocalPolicy::Works,
        n => LocalPolicy::Partial {
            failed: total - n,
            total,
        },
    }
}

/// LB-03: what the client address seen by the backend is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeenAddress {
    /// The tool's own address (its socket address or the configured `client_ip`).
    Preserved,
    /// The address of node `node`.
    Snat {
        /// Node name.
        node: String,
    },
    /// The load balancer's own (ingress) address.
    Proxied,
    /// An address in a node's pod range.
    Pod,
    /// Something else, e.g. the load balancer's member-subnet address.
    Other,
}

/// What the cluster and the tool know about addresses.
#[derive(Debug, Clone, Default)]
pub struct Addresses {
    /// The tool's own addresses: its socket's local address and `client_ip` if configured.
    pub client: Vec<IpAddr>,
    /// `(node name, address)` for every node address.
    pub nodes: Vec<(String, IpAddr)>,
    /// Pod ranges of the nodes (`spec.podCIDRs`), as (network, prefix length).
    pub pod_ranges: Vec<(IpAddr, u8)>,
    /// Load balancer ingress addresses.
    pub load_balancers: Vec<IpAddr>,
}

fn in_range(ip: IpAddr, (net, len): (IpAddr, u8)) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if len <= 32 => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if len <= 128 => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Parses `10.64.0.0/24`-style ranges; others are skipped.
pub fn parse_range(text: &str) -> Option<(IpAddr, u8)> {
    let (net, len) = text.split_once('/')?;
    Some((net.parse().ok()?, len.parse().ok()?))
}

/// Classifies the address a backend saw.
pub fn seen_address(seen: IpAddr, known: &Addresses) -> SeenAddress {
    if known.client.contains(&seen) {
        SeenAddress::Preserved
    } else if let Some((node, _)) = known.nodes.iter().find(|(_, ip)| *ip == seen) {
        SeenAddress::Snat { node: node.clone() }
    } else if known.load_balancers.contains(&seen) {
        SeenAddress::Proxied
    } else if known.pod_ranges.iter().any(|r| in_range(seen, *r)) {
        SeenAddress::Pod
    } else {
        SeenAddress::Other
    }
}

/// A plain-language sentence about the address seen through one Service.
pub fn describe_seen(service: &str, seen: IpAddr, class: &SeenAddress) -> String {
    match class {
        SeenAddress::Preserved => format!(
            "{service}: the backend saw the client's own address {seen}: client IPs are preserved (L3 load balancing); ingress controllers get real client addresses without PROXY protocol"
        ),
        SeenAddress::Snat { node } => format!(
            "{service}: the backend saw {seen}, the address of node {node}: client IPs are not preserved (source NAT); enable PROXY protocol in your ingress controller if you need them"
        ),
        SeenAddress::Proxied => format!(
            "{service}: the backend saw {seen}, the load balancer's own address: client IPs are not preserved (the load balancer terminates TCP); enable PROXY protocol in your ingress controller if you need them"
        ),
        SeenAddress::Pod => format!(
            "{service}: the backend saw {seen}, a pod address: client IPs are not preserved (SNAT inside the cluster network)"
        ),
        SeenAddress::Other => format!(
            "{service}: the backend saw {seen}, neither your address nor a node, pod or load balancer address (likely the load balancer's address in the node network): client IPs are not preserved; pass -a client_ip=<your public address> if the tool runs behind NAT"
        ),
    }
}

/// A PROXY header (v1 text or v2 binary) at the start of an echoed stream: its source address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proxy {
    /// No header: the stream starts with what the tool sent.
    Absent,
    /// A header carrying the source address (`None` for `UNKNOWN`/`LOCAL`).
    Present {
        /// Protocol version, 1 or 2.
        version: u8,
        /// The client address it carries.
        source: Option<IpAddr>,
    },
    /// Something else came back.
    Garbled(String),
}

const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// Parses the beginning of the bytes a raw echo backend returned, given what the tool sent.
pub fn parse_proxy(echoed: &[u8], sent: &[u8]) -> Proxy {
    if echoed.starts_with(sent) {
        return Proxy::Absent;
    }
    if let Some(rest) = echoed.strip_prefix(b"PROXY ".as_slice()) {
        let line_end = rest.windows(2).position(|w| w == b"\r\n");
        let Some(end) = line_end else {
            return Proxy::Garbled("PROXY v1 line without CRLF".into());
        };
        let line = String::from_utf8_lossy(&rest[..end]);
        let parts: Vec<&str> = line.split(' ').collect();
        return match parts.first() {
            Some(&"UNKNOWN") => Proxy::Present {
                version: 1,
                source: None,
            },
            Some(&("TCP4" | "TCP6")) if parts.len() == 5 => match parts[1].parse() {
                Ok(ip) => Proxy::Present {
                    version: 1,
                    source: Some(ip),
                },
                Err(_) => Proxy::Garbled(format!("PROXY v1 source {:?}", parts[1])),
            },
            _ => Proxy::Garbled(format!("PROXY v1 line {line:?}")),
        };
    }
    if let Some(rest) = echoed.strip_prefix(V2_SIGNATURE) {
        if rest.len() < 4 {
            return Proxy::Garbled("truncated PROXY v2 header".into());
        }
        let command = rest[0] & 0x0f;
        let family = rest[1] >> 4;
        let body = &rest[4..];
        let source = match (command, family) {
            (0, _) => None,
            (1, 1) if body.len() >= 12 => Some(IpAddr::from(
                <[u8; 4]>::try_from(&body[..4]).unwrap_or_default(),
            )),
            (1, 2) if body.len() >= 36 => Some(IpAddr::from(
                <[u8; 16]>::try_from(&body[..16]).unwrap_or_default(),
            )),
            _ => return Proxy::Garbled("PROXY v2 header with an unsupported family".into()),
        };
        return Proxy::Present { version: 2, source };
    }
    let shown: String = String::from_utf8_lossy(&echoed[..echoed.len().min(60)]).into();
    Proxy::Garbled(format!("unexpected start {shown:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn local_policy_classes() {
        assert_eq!(local_policy(30, 30), LocalPolicy::Works);
        assert_eq!(
            local_policy(10, 30),
            LocalPolicy::Partial {
                failed: 20,
                total: 30
            }
        );
        assert_eq!(local_policy(0, 30), LocalPolicy::Broken);
    }

    #[test]
    fn seen_addresses_are_classified() {
        let known = Addresses {
            client: vec![ip("127.0.0.1"), ip("203.0.113.7")],
            nodes: vec![("worker-0".into(), ip("10.0.0.4"))],
            pod_ranges: vec![parse_range("10.64.0.0/24").unwrap()],
            load_balancers: vec![ip("127.4.5.6")],
        };
        assert_eq!(
            seen_address(ip("203.0.113.7"), &known),
            SeenAddress::Preserved
        );
        assert_eq!(
            seen_address(ip("10.0.0.4"), &known),
            SeenAddress::Snat {
                node: "worker-0".into()
            }
        );
        assert_eq!(seen_address(ip("127.4.5.6"), &known), SeenAddress::Proxied);
        assert_eq!(seen_address(ip("10.64.0.9"), &known), SeenAddress::Pod);
        assert_eq!(seen_address(ip("10.0.0.200"), &known), SeenAddress::Other);
        assert!(
            describe_seen(
                "lb-local",
                ip("10.0.0.4"),
                &SeenAddress::Snat {
                    node: "worker-0".into()
                }
            )
            .contains("enable PROXY protocol")
        );
    }

    #[test]
    fn proxy_headers_v1_and_v2_parse() {
        let sent = b"scs-kaas\n";
        assert_eq!(parse_proxy(b"scs-kaas\n", sent), Proxy::Absent);
        assert_eq!(
            parse_proxy(
                b"PROXY TCP4 198.51.100.2 127.1.1.1 40000 8080\r\nscs-kaas\n",
                sent
            ),
            Proxy::Present {
                version: 1,
                source: Some(ip("198.51.100.2"))
            }
        );
        assert_eq!(
            parse_proxy(b"PROXY UNKNOWN\r\nscs-kaas\n", sent),
            Proxy::Present {
                version: 1,
                source: None
            }
        );
        let mut v2 = V2_SIGNATURE.to_vec();
        v2.extend([
            0x21, 0x11, 0, 12, 198, 51, 100, 2, 127, 1, 1, 1, 0x9c, 0x40, 0x1f, 0x90,
        ]);
        v2.extend(sent);
        assert_eq!(
            parse_proxy(&v2, sent),
            Proxy::Present {
                version: 2,
                source: Some(ip("198.51.100.2"))
            }
        );
        assert!(matches!(
            parse_proxy(b"HTTP/1.1 400 Bad Request", sent),
            Proxy::Garbled(_)
        ));
        assert!(matches!(
            parse_proxy(b"PROXY TCP4 nonsense", sent),
            Proxy::Garbled(_)
        ));
    }
}
