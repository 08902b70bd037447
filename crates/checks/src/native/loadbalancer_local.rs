//! `loadbalancer-local-policy-check` (LB-02, LB-03; CHECKS.md §11): informational, never FAIL.
//!
//! One echo backend pod (agnhost `netexec`) pinned to one schedulable node, behind two Services of
//! type LoadBalancer: `lb-local` (`externalTrafficPolicy: Local`) and `lb-cluster` (default).
//! `lb_local_requests` fresh requests to `lb-local` classify `Local` as works / partially works
//! (the fraction that failed: the signature of a load balancer without health monitor) /
//! broken. The client address netexec reports through each Service is classified as preserved
//! (the tool's own address or `client_ip`), SNAT'ed (a node address), proxied (the load
//! balancer's address), a pod address, or other. With `proxy_protocol=true` a third Service
//! carries the provider's PROXY protocol annotation (`proxy_annotation`, OpenStack's by
//! default) in front of a raw TCP echo backend (`proxy_echo_command`, run with `/bin/sh -c` in
//! the agnhost image); the tool parses the PROXY v1/v2 header the echo returns.
//!
//! Assignments: those of `loadbalancer-check` (`lb_timeout`, `lb_port`, `lb_image`,
//! `image_mirror`) plus `lb_local_requests=N` (30), `client_ip=IP`, `proxy_protocol=true|false`,
//! `proxy_annotation=KEY`, `proxy_echo_command=SHELL`.

pub mod classify;

use std::collections::BTreeMap;
use std::net::IpAddr;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Service};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use scs_kaas_core::finding::{Finding, Outcome, Status};

use super::lb_probe::{self, Attempt};
use super::loadbalancer::{LbOptions, preflight};
use crate::check::{Access, AssignmentDoc, Check, CheckContext, Mode, RuleDoc};
use crate::probe::guard::DEFAULT_CLEANUP_TIMEOUT;
use crate::probe::pod::HOSTNAME_LABEL;
use crate::probe::{ProbeGuard, ProbeRun};
use classify::{Addresses, LocalPolicy, Proxy, SeenAddress};

/// The check id.
pub const ID: &str = "loadbalancer-local-policy-check";
/// Rule of the `externalTrafficPolicy: Local` judgement.
pub const RULE_LOCAL: &str = "LB-02";
/// Rule of the client address judgement.
pub const RULE_CLIENT: &str = "LB-03";
/// OpenStack's PROXY protocol annotation, the default of `proxy_annotation`.
pub const DEFAULT_PROXY_ANNOTATION: &str = "loadbalancer.openstack.org/proxy-protocol";
/// The default raw TCP echo: busybox `nc` in the agnhost image, one connection at a time.
pub const DEFAULT_ECHO_COMMAND: &str = "while true; do busybox nc -l -p 8080 -e /bin/cat; done";
/// What the tool sends to the raw echo.
const PAYLOAD: &[u8] = b"scs-kaas proxy probe\n";

/// The `externalTrafficPolicy: Local` and client address check.
pub struct LoadBalancerLocalPolicyCheck;

#[derive(Debug, Clone)]
struct Options {
    lb: LbOptions,
    requests: u32,
    client_ip: Option<IpAddr>,
    proxy: Option<(String, String)>,
}

impl Options {
    fn from_args(args: &BTreeMap<String, String>) -> Result<Options, String> {
        let lb = LbOptions::from_args(args)?;
        let requests = match args.get("lb_local_requests") {
            None => 30,
            Some(v) => v.parse::<u32>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                format!("lb_local_requests={v:?} is not a number from 1 to 1000; pass e.g. -a lb_local_requests=30")
            })?,
        };
        let client_ip = match args.get("client_ip") {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| {
                format!("client_ip={v:?} is not an IP address; pass the tool host's public address, e.g. -a client_ip=203.0.113.7")
            })?),
        };
        let proxy = match args.get("proxy_protocol").map(String::as_str) {
            None | Some("false" | "off") => None,
            Some("true" | "on") => Some((
                args.get("proxy_annotation")
                    .cloned()
                    .unwrap_or_else(|| DEFAULT_PROXY_ANNOTATION.into()),
                args.get("proxy_echo_command")
                    .cloned()
                    .unwrap_or_else(|| DEFAULT_ECHO_COMMAND.into()),
            )),
            Some(other) => {
                return Err(format!(
                    "proxy_protocol={other:?} is not true or false; pass -a proxy_protocol=true"
                ));
            }
        };
        for key in ["proxy_annotation", "proxy_echo_command"] {
            if proxy.is_none() && args.contains_key(key) {
                return Err(format!(
                    "{key} only applies with proxy_protocol=true; add -a proxy_protocol=true or drop {key}"
                ));
            }
        }
        if let Some((annotation, command)) = &proxy
            && (annotation.trim().is_empty() || command.trim().is_empty())
        {
            return Err("proxy_annotation and proxy_echo_command must not be empty".into());
        }
        Ok(Options {
            lb,
            requests,
            client_ip,
            proxy,
        })
    }
}

/// What the probe saw.
#[derive(Debug, Clone, Default)]
struct Observation {
    local: Option<Result<Vec<Attempt>, String>>,
    cluster: Option<Result<Vec<Attempt>, String>>,
    proxy: Option<Result<Vec<u8>, String>>,
    known: Addresses,
    schedulable: usize,
    pinned: Option<String>,
}

/// The client address netexec reported in the first successful `/clientip` answer.
fn first_seen(attempts: &[Attempt]) -> Option<IpAddr> {
    attempts.iter().find_map(|a| {
        let body = a.result.as_ref().ok()?;
        let host = body.trim().rsplit_once(':')?.0;
        host.trim_matches(['[', ']']).parse().ok()
    })
}

fn judge(obs: &Observation, opts: &Options) -> Vec<Finding> {
    let mut out = Vec::new();
    match &obs.local {
        Some(Ok(attempts)) => {
            let ok = attempts.iter().filter(|a| a.result.is_ok()).count();
            let on = obs
                .pinned
                .as_deref()
                .map(|n| {
                    format!(
                        " (the only backend pod runs on {n}, {} schedulable node(s))",
                        obs.schedulable
                    )
                })
                .unwrap_or_default();
            out.push(match classify::local_policy(ok, attempts.len()) {
                LocalPolicy::Works => Finding::info(
                    RULE_LOCAL,
                    format!("externalTrafficPolicy: Local works: {ok} of {} requests succeeded{on}; the load balancer only sends traffic to nodes with a ready endpoint (health checks are active)", attempts.len()),
                ),
                LocalPolicy::Partial { failed, total } => Finding::warn(
                    RULE_LOCAL,
                    format!("externalTrafficPolicy: Local partially works: {failed} of {total} requests failed ({:.0} %){on}, the signature of a load balancer without health monitor; failures: {}", failed as f64 * 100.0 / total as f64, lb_probe::error_sample(attempts)),
                )
                .with_fix("do not rely on externalTrafficPolicy: Local here, or enable the load balancer health monitor (OpenStack: annotation loadbalancer.openstack.org/enable-health-monitor: \"true\" or create-monitor in the cloud config)"),
                LocalPolicy::Broken => Finding::warn(
                    RULE_LOCAL,
                    format!("externalTrafficPolicy: Local is broken: none of {} requests succeeded{on}; failures: {}", attempts.len(), lb_probe::error_sample(attempts)),
                )
                .with_fix("use externalTrafficPolicy: Cluster"),
            });
        }
        Some(Err(why)) => out.push(Finding::warn(
            RULE_LOCAL,
            format!("externalTrafficPolicy: Local is broken: {why}"),
        )),
        None => {}
    }
    for (service, attempts) in [("lb-local", &obs.local), ("lb-cluster", &obs.cluster)] {
        let Some(Ok(attempts)) = attempts else {
            continue;
        };
        match first_seen(attempts) {
            Some(seen) => {
                let class = classify::seen_address(seen, &obs.known);
                let text = classify::describe_seen(service, seen, &class);
                out.push(if class == SeenAddress::Preserved {
                    Finding::info(RULE_CLIENT, text)
                } else {
                    Finding::warn(RULE_CLIENT, text)
                });
            }
            None if service == "lb-cluster" => out.push(Finding::warn(
                RULE_CLIENT,
                format!(
                    "{service}: no request succeeded ({}); the client address could not be observed",
                    lb_probe::error_sample(attempts)
                ),
            )),
            None => {}
        }
    }
    if let Some((annotation, _)) = &opts.proxy {
        out.push(match &obs.proxy {
            Some(Ok(echoed)) => match classify::parse_proxy(echoed, PAYLOAD) {
                Proxy::Absent => Finding::warn(
                    RULE_CLIENT,
                    format!("PROXY protocol not available: with {annotation}: \"true\" the backend received no PROXY header"),
                )
                .with_fix("check the provider's documentation for its PROXY protocol annotation (-a proxy_annotation=KEY)"),
                Proxy::Present { version, source } => {
                    let carried = source.map_or("no address (UNKNOWN/LOCAL)".to_string(), |s| s.to_string());
                    let whose = match source.map(|s| classify::seen_address(s, &obs.known)) {
                        Some(SeenAddress::Preserved) => "your address: client IPs can be recovered",
                        Some(_) => "not your address (pass -a client_ip=<public address> if the tool runs behind NAT)",
                        None => "no address",
                    };
                    Finding::info(
                        RULE_CLIENT,
                        format!("PROXY protocol available: with {annotation}: \"true\" the load balancer sent a PROXY v{version} header carrying {carried}, {whose}; an ingress controller behind such a Service must enable PROXY protocol (e.g. ingress-nginx use-proxy-protocol: \"true\")"),
                    )
                }
                Proxy::Garbled(what) => Finding::warn(
                    RULE_CLIENT,
                    format!("PROXY protocol not judged: the raw echo behind {annotation}: \"true\" returned {what}"),
                ),
            },
            Some(Err(why)) => Finding::warn(RULE_CLIENT, format!("PROXY protocol not judged: {why}"))
                .with_fix("check that proxy_echo_command runs a raw TCP echo on port 8080 in the agnhost image"),
            None => Finding::warn(RULE_CLIENT, "PROXY protocol not judged: the probe stopped before"),
        });
    }
    out
}

/// Every rule this check judges (`scs-kaas checks ID`).
const RULES: &[RuleDoc] = &[
    RuleDoc {
        id: "LB-02",
        severity: "WARN|INFO",
        summary: "externalTrafficPolicy: Local works, partially works (no health monitor) or is broken; never FAIL",
    },
    RuleDoc {
        id: "LB-03",
        severity: "INFO",
        summary: "which client address the backend sees (preserved, SNAT'ed, proxied) and whether the PROXY protocol annotation works",
    },
    RuleDoc {
        id: "HARN-02",
        severity: "WARN",
        summary: "a probe object could not be removed (named, with the fix)",
    },
];

/// Every `-a` key this check reads.
const ASSIGNMENTS: &[AssignmentDoc] = &[
    AssignmentDoc {
        key: "lb_timeout",
        default: "10m",
        accepted: "DURATION (30s, 10m)",
        help: "how long the Service may take to get an address and the backends to become ready",
    },
    AssignmentDoc {
        key: "lb_port",
        default: "8080",
        accepted: "TCP port",
        help: "the Service port",
    },
    AssignmentDoc {
        key: "lb_image",
        default: "agnhost (digest-pinned)",
        accepted: "REF@sha256:…",
        help: "the echo backend image",
    },
    AssignmentDoc {
        key: crate::probe::image::MIRROR_ARG,
        default: "",
        accepted: "registry PREFIX",
        help: "registry prefix the probe images are pulled from (air-gapped clusters)",
    },
    AssignmentDoc {
        key: "lb_requests",
        default: "20",
        accepted: "N (1-1000)",
        help: "read as by loadbalancer-check (shared options); not used by this check's requests",
    },
    AssignmentDoc {
        key: "lb_hairpin_requests",
        default: "5",
        accepted: "N",
        help: "read as by loadbalancer-check (shared options); not used by this check",
    },
    AssignmentDoc {
        key: "lb_local_requests",
        default: "30",
        accepted: "N (1-1000)",
        help: "requests to the Local Service",
    },
    AssignmentDoc {
        key: "client_ip",
        default: "",
        accepted: "IP address",
        help: "this host's public address, to recognise a preserved client address behind NAT",
    },
    AssignmentDoc {
        key: "proxy_protocol",
        default: "false",
        accepted: "true|false",
        help: "also try the provider's PROXY protocol annotation",
    },
    AssignmentDoc {
        key: "proxy_annotation",
        default: "loadbalancer.openstack.org/proxy-protocol",
        accepted: "annotation KEY",
        help: "the PROXY protocol annotation (with proxy_protocol=true)",
    },
    AssignmentDoc {
        key: "proxy_echo_command",
        default: "busybox nc echo loop",
        accepted: "SHELL command",
        help: "the echo backend behind the PROXY Service (with proxy_protocol=true)",
    },
];

impl Check for LoadBalancerLocalPolicyCheck {
    fn id(&self) -> &'static str {
        ID
    }

    fn standard(&self) -> &'static str {
        "scs-kaas-lb-dr"
    }

    fn description(&self) -> &'static str {
        "Reports (never fails) whether externalTrafficPolicy: Local works, partially works or is \
         broken, whether backends see client addresses (preserved, SNAT'ed, proxied), and \
         optionally whether the provider's PROXY protocol annotation works"
    }

    fn mode(&self) -> Mode {
        Mode::Active
    }

    fn rules(&self) -> &'static [RuleDoc] {
        RULES
    }

    fn assignments(&self) -> &'static [AssignmentDoc] {
        ASSIGNMENTS
    }

    fn access(&self) -> Vec<Access> {
        lb_probe::access()
    }

    fn run<'a>(&'a self, ctx: &'a CheckContext) -> BoxFuture<'a, Outcome> {
        Box::pin(run(ctx))
    }
}

async fn run(ctx: &CheckContext) -> Outcome {
    let opts = match Options::from_args(&ctx.args) {
        Ok(o) => o,
        Err(msg) => return Outcome::abort(RULE_LOCAL, msg),
    };
    if let Err(outcome) = preflight(ctx, RULE_LOCAL).await {
        return outcome;
    }
    let run = match ProbeRun::new(&ctx.run_id, ID, ctx.now) {
        Ok(r) => r,
        Err(e) => return Outcome::abort(RULE_LOCAL, e.to_string()),
    };
    let guard = ProbeGuard::new(ctx.client.clone(), run, DEFAULT_CLEANUP_TIMEOUT);
    let mut obs = Observation::default();
    let stopped = probe(&ctx.client, &guard, &opts, &mut obs).await.err();
    let ns = guard.namespace();
    let mut leaks = Vec::new();
    for svc in ["lb-local", "lb-cluster", "lb-proxy"] {
        leaks.extend(
            lb_probe::delete_service(&ctx.client, &ns, svc, opts.lb.timeout, RULE_LOCAL).await,
        );
    }
    let report = guard.cleanup().await;
    let mut findings = judge(&obs, &opts);
    if let Some(why) = stopped {
        findings.push(Finding::warn(
            RULE_LOCAL,
            format!("probe stopped early: {why}"),
        ));
    }
    findings.extend(leaks);
    findings.extend(report.findings);
    // Informational: whatever was seen, the verdict is never FAIL.
    for f in &mut findings {
        if f.severity == scs_kaas_core::finding::Severity::Error {
            f.severity = scs_kaas_core::finding::Severity::Warn;
        }
    }
    Outcome {
        status: Status::Pass,
        findings,
    }
}

fn schedulable(node: &Node) -> bool {
    let spec = node.spec.clone().unwrap_or_default();
    spec.unschedulable != Some(true)
        && !spec
            .taints
            .iter()
            .flatten()
            .any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
}

fn known_from_nodes(nodes: &[Node], client_ip: Option<IpAddr>) -> Addresses {
    let mut known = Addresses::default();
    known.client.extend(client_ip);
    for n in nodes {
        let name = n.metadata.name.clone().unwrap_or_default();
        for a in n.status.iter().flat_map(|s| s.addresses.iter().flatten()) {
            if let Ok(ip) = a.address.parse() {
                known.nodes.push((name.clone(), ip));
            }
        }
        let spec = n.spec.clone().unwrap_or_default();
        for range in spec.pod_cidrs.into_iter().flatten().chain(spec.pod_cidr) {
            known.pod_ranges.extend(classify::parse_range(&range));
        }
    }
    known
}

async fn expose(
    client: &Client,
    run: &ProbeRun,
    name: &str,
    app: &str,
    local: bool,
    annotations: &BTreeMap<String, String>,
    port: u16,
) -> Result<(), String> {
    let ns = run.namespace_name();
    Api::<Service>::namespaced(client.clone(), &ns)
        .create(
            &PostParams::default(),
            &lb_probe::lb_service(run, name, app, port, local, annotations),
        )
        .await
        .map_err(|e| format!("cannot create Service {ns}/{name}: {e}"))?;
    Ok(())
}

async fn probe(
    client: &Client,
    guard: &ProbeGuard,
    opts: &Options,
    obs: &mut Observation,
) -> Result<(), String> {
    let run = guard.run();
    let ns = guard.namespace();
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| format!("cannot list nodes: {e}"))?
        .items;
    obs.known = known_from_nodes(&nodes, opts.client_ip);
    let mut candidates: Vec<&Node> = nodes.iter().filter(|n| schedulable(n)).collect();
    candidates.sort_by_key(|n| n.metadata.name.clone());
    obs.schedulable = candidates.len();
    let pin = candidates.first().map(|n| {
        let name = n.metadata.name.clone().unwrap_or_default();
        let host = n
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(HOSTNAME_LABEL).cloned())
            .unwrap_or_else(|| name.clone());
        (name, host)
    });
    obs.pinned = pin.as_ref().map(|(name, _)| name.clone());
    guard
        .create_namespace()
        .await
        .map_err(|e| format!("cannot create probe namespace {ns}: {e}"))?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let backend = lb_probe::echo_deployment(
        run,
        "lb-local-probe",
        &opts.lb.image,
        1,
        pin.as_ref().map(|(_, h)| h.as_str()),
    );
    deployments
        .create(&PostParams::default(), &backend)
        .await
        .map_err(|e| format!("cannot create Deployment {ns}/lb-local-probe: {e}"))?;
    let none = BTreeMap::new();
    expose(
        client,
        run,
        "lb-local",
        "lb-local-probe",
        true,
        &none,
        opts.lb.port,
    )
    .await?;
    expose(
        client,
        run,
        "lb-cluster",
        "lb-local-probe",
        false,
        &none,
        opts.lb.port,
    )
    .await?;
    if let Some((annotation, command)) = &opts.proxy {
        let mut echo = lb_probe::echo_deployment(run, "lb-proxy-echo", &opts.lb.image, 1, None);
        if let Some(c) = echo
            .spec
            .as_mut()
            .and_then(|s| s.template.spec.as_mut())
            .and_then(|s| s.containers.first_mut())
        {
            c.command = Some(vec!["/bin/sh".into(), "-c".into(), command.clone()]);
            c.readiness_probe = None;
        }
        deployments
            .create(&PostParams::default(), &echo)
            .await
            .map_err(|e| format!("cannot create Deployment {ns}/lb-proxy-echo: {e}"))?;
        let annotations = BTreeMap::from([(annotation.clone(), "true".to_string())]);
        expose(
            client,
            run,
            "lb-proxy",
            "lb-proxy-echo",
            false,
            &annotations,
            opts.lb.port,
        )
        .await?;
    }
    lb_probe::wait_ready(&deployments, "lb-local-probe", 1, opts.lb.timeout).await?;
    let port = opts.lb.port;
    let local =
        lb_probe::wait_address(client, &ns, "lb-local", opts.lb.timeout, "lb_timeout").await;
    let cluster =
        lb_probe::wait_address(client, &ns, "lb-cluster", opts.lb.timeout, "lb_timeout").await;
    for (addr, _) in local.iter().chain(cluster.iter()) {
        obs.known.load_balancers.extend(addr.parse::<IpAddr>().ok());
    }
    obs.local = Some(match &local {
        Ok((host, _)) => Ok(lb_probe::requests(host, port, "/clientip", opts.requests).await),
        Err(why) => Err(why.clone()),
    });
    obs.cluster = Some(match &cluster {
        Ok((host, _)) => Ok(lb_probe::requests(host, port, "/clientip", 3).await),
        Err(why) => Err(why.clone()),
    });
    // The tool's own addresses, as its sockets saw them.
    for attempts in [&obs.local, &obs.cluster].into_iter().flatten().flatten() {
        for a in attempts {
            if let Some(ip) = a.local
                && !obs.known.client.contains(&ip)
            {
                obs.known.client.push(ip);
            }
        }
    }
    if opts.proxy.is_some() {
        lb_probe::wait_ready(&deployments, "lb-proxy-echo", 1, opts.lb.timeout).await?;
        let address =
            lb_probe::wait_address(client, &ns, "lb-proxy", opts.lb.timeout, "lb_timeout").await;
        obs.proxy = Some(match address {
            Ok((host, _)) => {
                obs.known.load_balancers.extend(host.parse::<IpAddr>().ok());
                lb_probe::exchange(&host, port, PAYLOAD).await
            }
            Err(why) => Err(why),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_parse_and_refuse_with_the_key() {
        let o = Options::from_args(&args(&[])).unwrap();
        assert_eq!(
            (o.requests, o.client_ip, o.proxy.is_none()),
            (30, None, true)
        );
        let o = Options::from_args(&args(&[
            ("proxy_protocol", "true"),
            ("client_ip", "203.0.113.7"),
        ]))
        .unwrap();
        assert_eq!(o.proxy.unwrap().0, DEFAULT_PROXY_ANNOTATION);
        assert_eq!(o.client_ip, Some("203.0.113.7".parse().unwrap()));
        for (k, v) in [
            ("lb_local_requests", "x"),
            ("client_ip", "me"),
            ("proxy_protocol", "maybe"),
            ("proxy_annotation", "a/b"),
        ] {
            let err = Options::from_args(&args(&[(k, v)])).unwrap_err();
            assert!(err.contains(k), "{err}");
        }
    }

    #[test]
    fn first_seen_reads_netexec_clientip() {
        let a = |r: Result<&str, &str>| Attempt {
            result: r.map(str::to_string).map_err(str::to_string),
            latency: std::time::Duration::ZERO,
            local: None,
        };
        assert_eq!(
            first_seen(&[a(Err("reset")), a(Ok("10.0.0.4:40000"))]),
            Some("10.0.0.4".parse().unwrap())
        );
        assert_eq!(
            first_seen(&[a(Ok("[::1]:5"))]),
            Some("::1".parse().unwrap())
        );
        assert_eq!(first_seen(&[a(Ok("garbage"))]), None);
    }
}
