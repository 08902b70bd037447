//! The pure judges of `kubeapi-access-check` (CHECKS.md §12, API-01, API-02, API-04).

use std::collections::BTreeSet;
use std::net::IpAddr;

use scs_kaas_core::finding::Finding;
use serde_json::Value;

use super::cidr::{Cidr, CidrError, is_public};

/// The operator's declared API allow-list (`-a kubeapi_allowed_cidrs=…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Declaration {
    /// Empty value: the API is meant to be public.
    Public,
    /// `none`: no access from outside (only the management host and in-cluster traffic).
    Closed,
    /// These networks only (plus the management host).
    Only(BTreeSet<Cidr>),
}

impl Declaration {
    /// Parse a comma- or space-separated list; `none` alone closes the API, empty means public.
    pub fn parse(value: &str) -> Result<Declaration, CidrError> {
        let items: Vec<&str> = value
            .split([',', ' ', '\n', '\t'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        match items.as_slice() {
            [] => Ok(Declaration::Public),
            ["none"] => Ok(Declaration::Closed),
            _ => Ok(Declaration::Only(
                items.iter().map(|s| s.parse()).collect::<Result<_, _>>()?,
            )),
        }
    }

    /// Whether `ip` is admitted by the declaration (the management host is not known here).
    pub fn admits(&self, ip: IpAddr) -> bool {
        match self {
            Declaration::Public => true,
            Declaration::Closed => false,
            Declaration::Only(set) => set.iter().any(|c| c.contains(ip)),
        }
    }

    fn describe(&self) -> String {
        match self {
            Declaration::Public => "public (no restriction)".into(),
            Declaration::Closed => "none (no external access)".into(),
            Declaration::Only(set) => set
                .iter()
                .map(Cidr::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// What was learnt about the API endpoint of the kubeconfig from this vantage point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://host:port` from the kubeconfig.
    pub server: String,
    /// The addresses the host resolved to.
    pub addresses: Vec<IpAddr>,
    /// Whether a TCP connection from here succeeded.
    pub reachable: bool,
    /// The local address of that connection (behind NAT this is not the egress address).
    pub local: Option<IpAddr>,
}

/// The vantage point's address as the API server sees it, if known: the `vantage_ip`
/// assignment, else the connection's local address when that is public (no NAT in between).
pub fn vantage(endpoint: &Endpoint, declared_vantage: Option<IpAddr>) -> Option<IpAddr> {
    declared_vantage.or(endpoint.local.filter(|ip| is_public(*ip)))
}

/// API-04 and API-02 findings for the kubeconfig's endpoint.
pub fn judge_endpoint(
    ep: &Endpoint,
    declaration: Option<&Declaration>,
    declared_vantage: Option<IpAddr>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let public: Vec<IpAddr> = ep
        .addresses
        .iter()
        .copied()
        .filter(|ip| is_public(*ip))
        .collect();
    let list = |ips: &[IpAddr]| {
        ips.iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if ep.addresses.is_empty() {
        out.push(Finding::info(
            "API-04",
            format!("API endpoint {} did not resolve from here", ep.server),
        ));
        return out;
    }
    if public.is_empty() {
        out.push(Finding::info(
            "API-04",
            format!(
                "API endpoint {} has only non-public addresses ({}): not reachable from the internet by address",
                ep.server,
                list(&ep.addresses)
            ),
        ));
    } else if declaration.is_none() || declaration == Some(&Declaration::Public) {
        out.push(Finding::info(
            "API-04",
            format!(
                "API publicly reachable: endpoint {} has public address(es) {} and no restriction is declared",
                ep.server,
                list(&public)
            ),
        ).with_fix("declare the intended allow-list with -a kubeapi_allowed_cidrs=CIDR,... to have it judged"));
    } else {
        out.push(Finding::info(
            "API-04",
            format!(
                "API endpoint {} has public address(es) {}",
                ep.server,
                list(&public)
            ),
        ));
    }
    let Some(decl) = declaration else {
        return out;
    };
    if *decl == Declaration::Public {
        return out;
    }
    if public.is_empty() {
        out.push(Finding::info(
            "API-02",
            format!(
                "declared allow-list {}; the endpoint is reached over a non-public address, so this vantage point says nothing about the restriction of the public load balancer",
                decl.describe()
            ),
        ));
        return out;
    }
    if !ep.reachable {
        out.push(Finding::info(
            "API-02",
            format!("the endpoint {} refused or timed out a TCP connection from here; consistent with the declaration {}, but one vantage point cannot prove the restriction", ep.server, decl.describe()),
        ));
        return out;
    }
    match vantage(ep, declared_vantage) {
        None => out.push(Finding::info(
            "API-02",
            format!(
                "cannot tell whether this vantage point lies inside the declared allow-list {} (local address {} is behind NAT)",
                decl.describe(),
                ep.local.map_or("unknown".into(), |ip| ip.to_string())
            ),
        ).with_fix("pass -a vantage_ip=<this host's public egress address>")),
        Some(v) if decl.admits(v) => out.push(Finding::info(
            "API-02",
            format!(
                "reachable from {v}, which the declared allow-list {} admits; whether other addresses are refused needs a vantage point outside the list",
                decl.describe()
            ),
        )),
        Some(v) => out.push(
            Finding::error(
                "API-02",
                format!(
                    "the API endpoint {} accepted a connection from {v}, which lies outside the declared allow-list {}",
                    ep.server,
                    decl.describe()
                ),
            )
            .with_fix("apply the allow-list to the API load balancer (OpenStackCluster spec.apiServerLoadBalancer.allowedCIDRs); note that the cloud's own SNAT addresses are always admitted by the reference implementation"),
        ),
    }
    out
}

/// API-01 findings for one Cluster API `OpenStackCluster` object (any served version).
pub fn judge_openstack_cluster(
    obj: &Value,
    declaration: Option<&Declaration>,
    mgmt_ip: Option<IpAddr>,
) -> Vec<Finding> {
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>");
    let object = format!("openstackcluster/{ns}/{name}");
    let lb = obj.pointer("/spec/apiServerLoadBalancer");
    let enabled = lb.is_some_and(|lb| lb.get("enabled").and_then(Value::as_bool) != Some(false))
        // v1alpha7 and older: `enabled` defaults to false.
        && !(obj.get("apiVersion").and_then(Value::as_str).is_some_and(|v| v.contains("v1alpha"))
            && lb.and_then(|lb| lb.get("enabled")).is_none());
    if !enabled {
        return vec![
            Finding::info(
                "API-01",
                format!(
                    "cluster {ns}/{name} has no API load balancer; allowedCIDRs do not apply (NA)"
                ),
            )
            .with_object(object),
        ];
    }
    let lb = lb.unwrap_or(&Value::Null);
    let raw: Vec<String> = lb
        .get("allowedCIDRs")
        .or_else(|| lb.get("allowedCidrs"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut allowed = BTreeSet::new();
    for entry in &raw {
        match entry.parse::<Cidr>() {
            Ok(c) => {
                allowed.insert(c);
            }
            Err(e) => out.push(
                Finding::error(
                    "API-01",
                    format!("cluster {ns}/{name} lists an invalid allowed CIDR: {e}"),
                )
                .with_object(object.clone()),
            ),
        }
    }
    let open = allowed.is_empty() || allowed.iter().any(Cidr::is_everything);
    let shown = if allowed.is_empty() {
        "no allowedCIDRs (everybody)".to_string()
    } else {
        allowed
            .iter()
            .map(Cidr::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let restricted_decl = declaration.filter(|d| **d != Declaration::Public);
    if open {
        let msg =
            format!("the API load balancer of cluster {ns}/{name} admits 0.0.0.0/0 ({shown})");
        out.push(match restricted_decl {
            Some(d) => Finding::error("API-01", format!("{msg}, but the declared allow-list is {}", d.describe()))
                .with_fix("set spec.apiServerLoadBalancer.allowedCIDRs (via the cluster template) to the declared list"),
            None => Finding::warn("API-01", format!("{msg}: the Kubernetes API is open to the internet"))
                .with_fix("restrict it with allowedCIDRs (restrict_kubeapi) if the API need not be public"),
        }.with_object(object.clone()));
    } else if let Some(d) = restricted_decl {
        let declared: BTreeSet<Cidr> = match d {
            Declaration::Only(set) => set.clone(),
            _ => BTreeSet::new(),
        };
        let mut extra: Vec<Cidr> = allowed.difference(&declared).copied().collect();
        let missing: Vec<Cidr> = declared.difference(&allowed).copied().collect();
        match mgmt_ip {
            Some(ip) => extra.retain(|c| !(c.is_host() && c.contains(ip))),
            None => {
                if let [only] = extra.as_slice()
                    && only.is_host()
                {
                    out.push(Finding::info(
                        "API-01",
                        format!("cluster {ns}/{name}: {only} is taken to be the management host (pass -a mgmt_ip= to verify)"),
                    ).with_object(object.clone()));
                    extra.clear();
                }
            }
        }
        if extra.is_empty() && missing.is_empty() {
            out.push(Finding::info(
                "API-01",
                format!("the API load balancer of cluster {ns}/{name} admits exactly the declared networks ({shown})"),
            ).with_object(object.clone()));
        } else {
            let fmt = |v: &[Cidr]| v.iter().map(Cidr::to_string).collect::<Vec<_>>().join(", ");
            let mut parts = Vec::new();
            if !extra.is_empty() {
                parts.push(format!("admits undeclared {}", fmt(&extra)));
            }
            if !missing.is_empty() {
                parts.push(format!("lacks declared {}", fmt(&missing)));
            }
            out.push(
                Finding::error(
                    "API-01",
                    format!("the API load balancer of cluster {ns}/{name} differs from the declared allow-list {}: it {}", d.describe(), parts.join(" and ")),
                )
                .with_object(object.clone())
                .with_fix("update restrict_kubeapi and bump the OpenStackClusterTemplate generation so the change takes effect"),
            );
        }
    } else {
        out.push(
            Finding::info(
                "API-01",
                format!("the API load balancer of cluster {ns}/{name} admits only {shown}"),
            )
            .with_object(object.clone()),
        );
    }
    if !open && lb.get("provider").and_then(Value::as_str) == Some("ovn") {
        out.push(Finding::warn(
            "API-01",
            format!("cluster {ns}/{name} uses the OVN load-balancer provider, which does not enforce allowedCIDRs"),
        ).with_object(object.clone()).with_fix("use the amphora provider for the API load balancer"));
    }
    // What Octavia actually applied, when the status reports it (v1beta1).
    if let Some(applied) = obj
        .pointer("/status/apiServerLoadBalancer/allowedCIDRs")
        .and_then(Value::as_array)
    {
        let applied: BTreeSet<Cidr> = applied
            .iter()
            .filter_map(|v| v.as_str()?.parse().ok())
            .collect();
        if applied != allowed {
            out.push(Finding::warn(
                "API-01",
                format!("cluster {ns}/{name}: the load balancer status lists different allowed CIDRs than the spec (change not applied yet?)"),
            ).with_object(object));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use scs_kaas_core::finding::Severity;
    use serde_json::json;

    fn worst(f: &[Finding], rule: &str) -> Option<Severity> {
        f.iter()
            .filter(|f| f.rule == rule)
            .map(|f| f.severity)
            .max()
    }

    fn decl(s: &str) -> Declaration {
        Declaration::parse(s).unwrap()
    }

    #[test]
    fn declarations_parse_public_none_and_lists() {
        assert_eq!(decl(""), Declaration::Public);
        assert_eq!(decl(" none "), Declaration::Closed);
        let d = decl("192.0.2.0/24, 198.51.100.7 2001:db8::/32");
        assert!(d.admits("198.51.100.7".parse().unwrap()));
        assert!(d.admits("2001:db8::5".parse().unwrap()));
        assert!(!d.admits("203.0.113.1".parse().unwrap()));
        assert!(Declaration::parse("10.0.0.0/8,bogus").is_err());
        assert!(
            Declaration::parse("none,10.0.0.0/8").is_err(),
            "none mixed with networks"
        );
    }

    fn ep(addr: &str, local: Option<&str>) -> Endpoint {
        Endpoint {
            server: format!("https://{addr}:6443"),
            addresses: vec![addr.parse().unwrap()],
            reachable: true,
            local: local.map(|l| l.parse().unwrap()),
        }
    }

    #[test]
    fn endpoint_table() {
        type Case<'a> = (
            &'a str,
            Endpoint,
            Option<Declaration>,
            Option<&'a str>,
            &'a str,
            Severity,
            &'a str,
        );
        let cases: Vec<Case> = vec![
            (
                "public, nothing declared",
                ep("203.0.113.10", None),
                None,
                None,
                "API-04",
                Severity::Info,
                "publicly reachable",
            ),
            (
                "private endpoint",
                ep("10.0.0.5", None),
                None,
                None,
                "API-04",
                Severity::Info,
                "non-public",
            ),
            (
                "outside list, reachable",
                ep("203.0.113.10", Some("198.51.100.99")),
                Some(decl("192.0.2.0/24")),
                None,
                "API-02",
                Severity::Error,
                "outside",
            ),
            (
                "declared vantage outside",
                ep("203.0.113.10", Some("10.0.0.9")),
                Some(decl("192.0.2.0/24")),
                Some("198.51.100.99"),
                "API-02",
                Severity::Error,
                "outside",
            ),
            (
                "closed but reachable",
                ep("203.0.113.10", Some("198.51.100.99")),
                Some(decl("none")),
                None,
                "API-02",
                Severity::Error,
                "outside",
            ),
            (
                "inside list",
                ep("203.0.113.10", Some("192.0.2.7")),
                Some(decl("192.0.2.0/24")),
                None,
                "API-02",
                Severity::Info,
                "admits",
            ),
            (
                "behind NAT",
                ep("203.0.113.10", Some("10.0.0.9")),
                Some(decl("192.0.2.0/24")),
                None,
                "API-02",
                Severity::Info,
                "cannot tell",
            ),
            (
                "private endpoint with list",
                ep("10.0.0.5", Some("10.0.0.9")),
                Some(decl("192.0.2.0/24")),
                None,
                "API-02",
                Severity::Info,
                "says nothing",
            ),
        ];
        for (name, ep, d, v, rule, sev, text) in cases {
            let f = judge_endpoint(&ep, d.as_ref(), v.map(|v| v.parse().unwrap()));
            assert_eq!(worst(&f, rule), Some(sev), "{name}: {f:#?}");
            assert!(
                f.iter().any(|f| f.rule == rule && f.message.contains(text)),
                "{name}: {f:#?}"
            );
        }
    }

    #[test]
    fn unreachable_endpoint_is_not_proof() {
        let mut e = ep("203.0.113.10", Some("198.51.100.99"));
        e.reachable = false;
        let f = judge_endpoint(&e, Some(&decl("192.0.2.0/24")), None);
        assert_eq!(worst(&f, "API-02"), Some(Severity::Info));
        assert!(f.iter().any(|f| f.message.contains("cannot prove")));
    }

    fn osc(version: &str, lb: Value) -> Value {
        json!({"apiVersion": format!("infrastructure.cluster.x-k8s.io/{version}"), "kind": "OpenStackCluster",
               "metadata": {"namespace": "tenant", "name": "c1"}, "spec": {"apiServerLoadBalancer": lb}})
    }

    #[test]
    fn openstack_cluster_table() {
        type Case<'a> = (
            &'a str,
            Value,
            Option<Declaration>,
            Option<&'a str>,
            Severity,
            &'a str,
        );
        let cases: Vec<Case> = vec![
            (
                "open, nothing declared",
                osc("v1beta1", json!({"enabled": true})),
                None,
                None,
                Severity::Warn,
                "0.0.0.0/0",
            ),
            (
                "0.0.0.0/0 listed, declared list",
                osc("v1beta1", json!({"allowedCIDRs": ["0.0.0.0/0"]})),
                Some(decl("192.0.2.0/24")),
                None,
                Severity::Error,
                "declared",
            ),
            (
                "matches declaration + mgmt",
                osc(
                    "v1beta1",
                    json!({"allowedCIDRs": ["192.0.2.0/24", "198.51.100.7/32"]}),
                ),
                Some(decl("192.0.2.0/24")),
                Some("198.51.100.7"),
                Severity::Info,
                "exactly",
            ),
            (
                "matches with guessed mgmt",
                osc(
                    "v1alpha7",
                    json!({"enabled": true, "allowedCidrs": ["192.0.2.0/24", "198.51.100.7"]}),
                ),
                Some(decl("192.0.2.0/24")),
                None,
                Severity::Info,
                "management host",
            ),
            (
                "extra network",
                osc(
                    "v1beta1",
                    json!({"allowedCIDRs": ["192.0.2.0/24", "203.0.113.0/24"]}),
                ),
                Some(decl("192.0.2.0/24")),
                Some("198.51.100.7"),
                Severity::Error,
                "undeclared 203.0.113.0/24",
            ),
            (
                "missing network",
                osc("v1beta1", json!({"allowedCIDRs": ["198.51.100.7/32"]})),
                Some(decl("192.0.2.0/24")),
                Some("198.51.100.7"),
                Severity::Error,
                "lacks declared 192.0.2.0/24",
            ),
            (
                "closed declared, only mgmt",
                osc("v1beta1", json!({"allowedCIDRs": ["198.51.100.7/32"]})),
                Some(decl("none")),
                Some("198.51.100.7"),
                Severity::Info,
                "exactly",
            ),
            (
                "restricted, nothing declared",
                osc("v1beta1", json!({"allowedCIDRs": ["192.0.2.0/24"]})),
                None,
                None,
                Severity::Info,
                "admits only",
            ),
            (
                "no load balancer v1beta1",
                json!({"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "metadata": {"name": "c"}, "spec": {}}),
                Some(decl("192.0.2.0/24")),
                None,
                Severity::Info,
                "NA",
            ),
            (
                "v1alpha7 disabled by default",
                osc("v1alpha7", json!({"allowedCidrs": []})),
                None,
                None,
                Severity::Info,
                "NA",
            ),
            (
                "ovn ignores list",
                osc(
                    "v1beta1",
                    json!({"allowedCIDRs": ["192.0.2.0/24"], "provider": "ovn"}),
                ),
                None,
                None,
                Severity::Warn,
                "OVN",
            ),
            (
                "invalid entry",
                osc(
                    "v1beta1",
                    json!({"allowedCIDRs": ["192.0.2.0/24", "bogus"]}),
                ),
                None,
                None,
                Severity::Error,
                "invalid",
            ),
        ];
        for (name, obj, d, mgmt, sev, text) in cases {
            let f = judge_openstack_cluster(&obj, d.as_ref(), mgmt.map(|m| m.parse().unwrap()));
            assert_eq!(worst(&f, "API-01"), Some(sev), "{name}: {f:#?}");
            assert!(f.iter().any(|f| f.message.contains(text)), "{name}: {f:#?}");
            assert!(
                f.iter().all(|f| f
                    .object
                    .as_deref()
                    .is_some_and(|o| o.starts_with("openstackcluster/"))),
                "{name}"
            );
        }
    }

    #[test]
    fn status_differing_from_spec_is_flagged() {
        let mut obj = osc("v1beta1", json!({"allowedCIDRs": ["192.0.2.0/24"]}));
        obj["status"] = json!({"apiServerLoadBalancer": {"allowedCIDRs": ["0.0.0.0/0"]}});
        let f = judge_openstack_cluster(&obj, None, None);
        assert!(
            f.iter()
                .any(|f| f.severity == Severity::Warn && f.message.contains("not applied"))
        );
    }
}
