//! The pieces both load balancer checks use (CHECKS.md §11 (d)): an echo backend Deployment
//! (agnhost `netexec`), a Service of type LoadBalancer, waiting (watch) for its address,
//! fresh-connection HTTP requests from the tool with latencies, and deleting the Service with
//! its cloud load balancer (the `service.kubernetes.io/load-balancer-cleanup` finalizer).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Affinity, ContainerPort, Event, HTTPGetAction, PodAffinityTerm, PodAntiAffinity,
    PodTemplateSpec, Probe, Service, ServicePort, ServiceSpec, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, ListParams, ObjectMeta};
use kube::{Api, Client};
use scs_kaas_core::finding::Finding;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::check::Access;
use crate::probe::ProbeRun;
use crate::probe::guard::is_not_found;
use crate::probe::pod::{HOSTNAME_LABEL, ProbePod};
use crate::probe::wait::{WaitError, wait_for, wait_gone};

/// Label selecting one echo backend's pods (value: the Deployment name).
pub const APP_LABEL: &str = "scs-kaas.io/lb-probe";
/// The HTTP port netexec serves in the backend pods.
pub const BACKEND_PORT: i32 = 8080;
/// The finalizer a cloud controller manager puts on LoadBalancer Services.
pub const CLEANUP_FINALIZER: &str = "service.kubernetes.io/load-balancer-cleanup";
/// Timeout of one request (connect, send, answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// Rights of the active part of both load balancer checks.
pub fn access() -> Vec<Access> {
    let mut v = Vec::new();
    for verb in ["create", "list", "watch", "delete"] {
        v.push(Access::active(verb, "", "namespaces"));
        v.push(Access::active(verb, "", "services"));
        v.push(Access::active(verb, "apps", "deployments"));
    }
    v.push(Access::active("list", "", "events"));
    v.push(Access::active("list", "", "nodes"));
    // What the probe guard's cleanup uses (it follows volumes of claims, too).
    for a in crate::probe::guard::access() {
        if !v.contains(&a) {
            v.push(a);
        }
    }
    v
}

/// A Deployment of agnhost `netexec` pods (restricted profile, spread over hosts when possible),
/// optionally pinned to one node by hostname.
pub fn echo_deployment(
    run: &ProbeRun,
    name: &str,
    image: &str,
    replicas: i32,
    pin_hostname: Option<&str>,
) -> Deployment {
    let pod = ProbePod {
        name: name.to_string(),
        image: image.to_string(),
        command: vec![
            "/agnhost".into(),
            "netexec".into(),
            format!("--http-port={BACKEND_PORT}"),
        ],
        ..ProbePod::default()
    }
    .build(run);
    let mut labels = run.labels();
    labels.insert(APP_LABEL.to_string(), name.to_string());
    let mut spec = pod.spec.unwrap_or_default();
    spec.restart_policy = Some("Always".into());
    if let Some(c) = spec.containers.first_mut() {
        c.ports = Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: BACKEND_PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]);
        c.readiness_probe = Some(Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/healthz".into()),
                port: IntOrString::Int(BACKEND_PORT),
                ..HTTPGetAction::default()
            }),
            period_seconds: Some(2),
            ..Probe::default()
        });
    }
    let selector = BTreeMap::from([(APP_LABEL.to_string(), name.to_string())]);
    spec.affinity = Some(Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some(selector.clone()),
                            ..LabelSelector::default()
                        }),
                        topology_key: HOSTNAME_LABEL.into(),
                        ..PodAffinityTerm::default()
                    },
                },
            ]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    });
    if let Some(host) = pin_hostname {
        spec.node_selector = Some(BTreeMap::from([(
            HOSTNAME_LABEL.to_string(),
            host.to_string(),
        )]));
    }
    Deployment {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(run.namespace_name()),
            labels: Some(labels.clone()),
            annotations: Some(run.annotations()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(run.annotations()),
                    ..ObjectMeta::default()
                }),
                spec: Some(spec),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

/// A Service of type LoadBalancer in front of the backend `app`: port `port` → 8080, every
/// optional field unset unless given (`externalTrafficPolicy: Local`, annotations).
pub fn lb_service(
    run: &ProbeRun,
    name: &str,
    app: &str,
    port: u16,
    local: bool,
    annotations: &BTreeMap<String, String>,
) -> Service {
    let mut all_annotations = run.annotations();
    all_annotations.extend(annotations.clone());
    Service {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(run.namespace_name()),
            labels: Some(run.labels()),
            annotations: Some(all_annotations),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("LoadBalancer".into()),
            selector: Some(BTreeMap::from([(APP_LABEL.to_string(), app.to_string())])),
            ports: Some(vec![ServicePort {
                port: i32::from(port),
                target_port: Some(IntOrString::Int(BACKEND_PORT)),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            external_traffic_policy: local.then(|| "Local".to_string()),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The first ingress address (IP, else hostname) of a Service.
pub fn ingress_address(svc: &Service) -> Option<String> {
    let first = svc
        .status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?
        .first()?
        .clone();
    first.ip.or(first.hostname).filter(|a| !a.is_empty())
}

/// Waits (watch) until the Deployment has `replicas` ready pods.
pub async fn wait_ready(
    api: &Api<Deployment>,
    name: &str,
    replicas: i32,
    timeout: Duration,
) -> Result<(), String> {
    let ready = |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref())
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0)
            >= replicas
    };
    match wait_for(
        api.clone(),
        name,
        &format!("{replicas} ready echo pod(s)"),
        timeout,
        ready,
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(WaitError::Timeout { last, after, .. }) => Err(format!(
            "the echo backend {name} had {} of {replicas} ready pod(s) after {}s",
            last.and_then(|d| d.status)
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
            after.as_secs()
        )),
        Err(other) => Err(format!("cannot watch the echo backend {name}: {other}")),
    }
}

/// Waits (watch) for the Service's ingress address; on timeout the error names the deadline and
/// the newest warning event about the Service (e.g. `SyncLoadBalancerFailed`).
pub async fn wait_address(
    client: &Client,
    namespace: &str,
    name: &str,
    timeout: Duration,
    option: &str,
) -> Result<(String, Duration), String> {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    let started = Instant::now();
    match wait_for(
        api,
        name,
        &format!("an address for Service {name}"),
        timeout,
        |s| s.and_then(ingress_address).is_some(),
    )
    .await
    {
        Ok(Some(svc)) => Ok((ingress_address(&svc).unwrap_or_default(), started.elapsed())),
        Ok(None) => Err(format!("Service {name} disappeared while waiting")),
        Err(WaitError::Timeout { after, .. }) => {
            let why = last_warning(client, namespace, name)
                .await
                .map(|w| format!("; last warning: {w}"))
                .unwrap_or_else(|| "; no warning events about it".into());
            Err(format!(
                "Service {name} of type LoadBalancer got no address within the deadline of {}s ({option}){why}",
                after.as_secs()
            ))
        }
        Err(other) => Err(format!("cannot watch Service {name}: {other}")),
    }
}

/// `reason: message` of the newest Warning event about the Service, if any.
async fn last_warning(client: &Client, namespace: &str, name: &str) -> Option<String> {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().fields(&format!("involvedObject.name={name},type=Warning"));
    let list = events.list(&params).await.ok()?;
    list.items
        .into_iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .max_by_key(|e| e.metadata.resource_version.clone().unwrap_or_default())
        .map(|e| {
            format!(
                "{}: {}",
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default()
            )
        })
}

/// One request's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The body of a 200 answer, or why there was none.
    pub result: Result<String, String>,
    /// Time from connect to the end of the answer.
    pub latency: Duration,
    /// The tool's local address of the connection, when it was made.
    pub local: Option<IpAddr>,
}

/// `host:port` for connecting; IPv6 literals get brackets.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// One HTTP/1.1 GET on a fresh connection with [`REQUEST_TIMEOUT`].
pub async fn get(host: &str, port: u16, path: &str) -> Attempt {
    let started = Instant::now();
    let local = std::sync::Mutex::new(None);
    let result =
        match tokio::time::timeout(REQUEST_TIMEOUT, get_inner(host, port, path, &local)).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())),
        };
    Attempt {
        result,
        latency: started.elapsed(),
        local: *local.lock().unwrap_or_else(|e| e.into_inner()),
    }
}

async fn get_inner(
    host: &str,
    port: u16,
    path: &str,
    local: &std::sync::Mutex<Option<IpAddr>>,
) -> Result<String, String> {
    let target = authority(host, port);
    let mut stream = TcpStream::connect(&target)
        .await
        .map_err(|e| format!("connect {target}: {e}"))?;
    if let Ok(addr) = stream.local_addr() {
        *local.lock().unwrap_or_else(|e| e.into_inner()) = Some(addr.ip());
    }
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: scs-kaas\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("send to {target}: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .map_err(|e| format!("read from {target}: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(body.to_string())
    } else if status.is_empty() {
        Err(format!("{target} closed the connection without an answer"))
    } else {
        Err(format!("{target} answered {status:?}"))
    }
}

/// `n` GETs, one after the other, each on a fresh connection.
pub async fn requests(host: &str, port: u16, path: &str, n: u32) -> Vec<Attempt> {
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        out.push(get(host, port, path).await);
    }
    out
}

/// Latency summary of the successful attempts: `min/median/p95/max` in milliseconds.
pub fn latency_summary(attempts: &[Attempt]) -> Option<String> {
    let mut ms: Vec<f64> = attempts
        .iter()
        .filter(|a| a.result.is_ok())
        .map(|a| a.latency.as_secs_f64() * 1000.0)
        .collect();
    if ms.is_empty() {
        return None;
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Some(format!(
        "min {:.1} ms, median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        ms[0],
        at(0.5),
        at(0.95),
        ms[ms.len() - 1]
    ))
}

/// The distinct error texts of failed attempts, most frequent first (at most three).
pub fn error_sample(attempts: &[Attempt]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in attempts {
        if let Err(e) = &a.result {
            *counts.entry(e.as_str()).or_default() += 1;
        }
    }
    let mut list: Vec<(&str, usize)> = counts.into_iter().collect();
    list.sort_by_key(|e| std::cmp::Reverse(e.1));
    list.iter()
        .take(3)
        .map(|(e, n)| format!("{n}× {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Hairpin: asks a backend (through the load balancer) to make `tries` HTTP requests from inside
/// the cluster to the load balancer's own address with netexec's `/dial`. Returns (succeeded,
/// errors) or why it could not be asked.
pub async fn hairpin(host: &str, port: u16, tries: u32) -> Result<(u32, Vec<String>), String> {
    let path = format!(
        "/dial?request=/hostname&protocol=http&host={}&port={port}&tries={tries}",
        form_urlencoded::byte_serialize(host.as_bytes()).collect::<String>()
    );
    // netexec's dial waits up to its own timeouts per try.
    let answer = tokio::time::timeout(
        REQUEST_TIMEOUT * (tries + 1),
        get_inner(host, port, &path, &std::sync::Mutex::new(None)),
    )
    .await
    .map_err(|_| "the in-cluster dial did not answer in time".to_string())??;
    let parsed: serde_json::Value = serde_json::from_str(&answer)
        .map_err(|e| format!("netexec /dial answered {answer:?}, not JSON: {e}"))?;
    let list = |k: &str| -> Vec<String> {
        parsed
            .get(k)
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect()
    };
    Ok((list("responses").len() as u32, list("errors")))
}

/// Sends `payload` on a fresh connection and collects what comes back until it ends with the
/// payload (a raw echo answered), the peer closes, or [`REQUEST_TIMEOUT`] passes.
pub async fn exchange(host: &str, port: u16, payload: &[u8]) -> Result<Vec<u8>, String> {
    let target = authority(host, port);
    let work = async {
        let mut stream = TcpStream::connect(&target)
            .await
            .map_err(|e| format!("connect {target}: {e}"))?;
        stream
            .write_all(payload)
            .await
            .map_err(|e| format!("send to {target}: {e}"))?;
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.ends_with(payload) {
            match stream.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if got.is_empty() => return Err(format!("read from {target}: {e}")),
                Err(_) => break,
            }
        }
        Ok(got)
    };
    tokio::time::timeout(REQUEST_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no echo from {target} within {}s",
                REQUEST_TIMEOUT.as_secs()
            ))
        })
}

/// Deletes the Service and waits until its finalizer is released (the cloud load balancer is
/// gone); a finding when it is not, since that is a load balancer left behind in the cloud.
pub async fn delete_service(
    client: &Client,
    namespace: &str,
    name: &str,
    timeout: Duration,
    rule: &str,
) -> Option<Finding> {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    if let Err(err) = api.delete(name, &DeleteParams::default()).await {
        if is_not_found(&err) {
            return None;
        }
        return Some(
            Finding::warn(
                rule,
                format!("cannot delete Service {namespace}/{name}: {err}"),
            )
            .with_object(format!("service/{name}"))
            .with_fix("delete it by hand or run `scs-kaas cleanup`"),
        );
    }
    match wait_gone(api, name, &format!("Service {name} deleted"), timeout).await {
        Ok(()) => None,
        Err(err) => Some(
            Finding::warn(
                rule,
                format!(
                    "Service {namespace}/{name} is still present after deletion ({err}); its cloud load balancer may be leaking (finalizer {CLEANUP_FINALIZER})"
                ),
            )
            .with_object(format!("service/{name}"))
            .with_fix("check the cloud controller manager's logs and the load balancers of your project"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::pod::restricted_violations;

    fn run() -> ProbeRun {
        ProbeRun::new(
            "0a1b2c3d",
            "loadbalancer-check",
            "2026-11-22T06:00:00Z".parse().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn echo_pods_are_restricted_netexec_with_run_labels() {
        let d = echo_deployment(&run(), "lb-probe", "img@sha256:00", 2, Some("node-a"));
        let template = d.spec.unwrap().template;
        let pod = k8s_openapi::api::core::v1::Pod {
            metadata: template.metadata.clone().unwrap(),
            spec: template.spec.clone(),
            status: None,
        };
        assert_eq!(restricted_violations(&pod), Vec::<String>::new());
        let spec = template.spec.unwrap();
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        assert_eq!(
            spec.containers[0].command.as_deref().unwrap(),
            ["/agnhost", "netexec", "--http-port=8080"]
        );
        assert_eq!(spec.node_selector.unwrap()[HOSTNAME_LABEL], "node-a");
        let labels = template.metadata.unwrap().labels.unwrap();
        assert_eq!(labels["scs-kaas.io/run-id"], "0a1b2c3d");
        assert_eq!(labels[APP_LABEL], "lb-probe");
    }

    #[test]
    fn plain_service_leaves_optional_fields_unset() {
        let svc = lb_service(
            &run(),
            "lb-plain",
            "lb-probe",
            8080,
            false,
            &BTreeMap::new(),
        );
        let spec = svc.spec.unwrap();
        assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
        assert!(spec.external_traffic_policy.is_none());
        assert!(spec.load_balancer_class.is_none());
        assert!(spec.load_balancer_source_ranges.is_none());
        let annotations = svc.metadata.annotations.unwrap();
        assert!(annotations.keys().all(|k| k.starts_with("scs-kaas.io/")));
        let local = lb_service(&run(), "lb-local", "lb-probe", 8080, true, &BTreeMap::new());
        assert_eq!(
            local.spec.unwrap().external_traffic_policy.as_deref(),
            Some("Local")
        );
    }

    #[test]
    fn latencies_and_errors_summarise() {
        let ok = |ms| Attempt {
            result: Ok("x".into()),
            latency: Duration::from_millis(ms),
            local: None,
        };
        let bad = |e: &str| Attempt {
            result: Err(e.into()),
            latency: Duration::from_millis(1),
            local: None,
        };
        let attempts = [
            ok(1),
            ok(2),
            ok(3),
            bad("reset"),
            bad("reset"),
            bad("timeout"),
        ];
        assert_eq!(
            latency_summary(&attempts).unwrap(),
            "min 1.0 ms, median 2.0 ms, p95 3.0 ms, max 3.0 ms"
        );
        assert_eq!(error_sample(&attempts), "2× reset; 1× timeout");
        assert_eq!(latency_summary(&[bad("x")]), None);
        assert_eq!(authority("::1", 80), "[::1]:80");
        assert_eq!(authority("lb.example", 80), "lb.example:80");
    }
}
