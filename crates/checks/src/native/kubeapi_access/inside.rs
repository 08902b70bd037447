//! API-03: from a probe pod, connect to the kubeconfig's API endpoint. An allow-list that
//! forgets the cluster's own egress address (the nodes' SNAT or router address) locks the
//! cluster out of its load-balanced endpoint: kubelets of new nodes cannot join and workloads
//! using the public endpoint fail. A pod's egress takes the same path as its node's, so one pod
//! connecting is evidence for both.
//!
//! One pod in the run's namespace runs `agnhost connect HOST:PORT` once (no `exec` needed);
//! its exit says whether the TCP connection was made, its log why not.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, LogParams, PostParams};
use scs_kaas_core::finding::Finding;

use crate::probe::ProbeGuard;
use crate::probe::pod::ProbePod;
use crate::probe::run::ProbeRun;
use crate::probe::wait::{WaitError, wait_for};

/// The probe pod's name within the run's namespace.
pub const POD_NAME: &str = "api-connect";

/// How long agnhost waits for the TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the probe pod saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// The TCP connection to the endpoint was made.
    Reached,
    /// The connection failed; agnhost's first log line (`TIMEOUT`, `REFUSED`, ...).
    Failed(String),
}

/// `host:port` as agnhost takes it (IPv6 addresses in brackets).
pub fn address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The probe pod: PSA `restricted`, run once, no service account token.
pub fn probe_pod(run: &ProbeRun, image: &str, host: &str, port: u16) -> Pod {
    let mut pod = ProbePod {
        name: POD_NAME.to_string(),
        image: image.to_string(),
        command: vec![
            "/agnhost".into(),
            "connect".into(),
            address(host, port),
            format!("--timeout={}s", CONNECT_TIMEOUT.as_secs()),
        ],
        ..ProbePod::default()
    }
    .build(run);
    if let Some(c) = pod.spec.as_mut().and_then(|s| s.containers.first_mut()) {
        c.name = "connect".into();
    }
    pod
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref()?.phase.as_deref()
}

/// Creates the run's namespace and the probe pod, and waits until the pod has finished.
pub async fn probe(
    client: &Client,
    guard: &ProbeGuard,
    image: &str,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Seen, String> {
    let ns = guard.namespace();
    guard
        .create_namespace()
        .await
        .map_err(|e| format!("cannot create probe namespace {ns}: {e}"))?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    pods.create(
        &PostParams::default(),
        &probe_pod(guard.run(), image, host, port),
    )
    .await
    .map_err(|e| format!("cannot create probe pod {ns}/{POD_NAME}: {e}"))?;
    let done = wait_for(
        pods.clone(),
        POD_NAME,
        &format!("probe pod {ns}/{POD_NAME} finished"),
        timeout,
        |p| p.is_some_and(|p| matches!(phase(p), Some("Succeeded" | "Failed"))),
    )
    .await;
    match done {
        Ok(Some(p)) if phase(&p) == Some("Succeeded") => Ok(Seen::Reached),
        Ok(Some(_)) => {
            let log = pods
                .logs(POD_NAME, &LogParams::default())
                .await
                .unwrap_or_default();
            let first = log.lines().next().unwrap_or("").trim();
            Ok(Seen::Failed(if first.is_empty() {
                "no output".to_string()
            } else {
                first.to_string()
            }))
        }
        Ok(None) => Err(format!("probe pod {ns}/{POD_NAME} disappeared")),
        Err(WaitError::Timeout { last, after, .. }) => {
            let phase = last
                .as_deref()
                .and_then(phase)
                .unwrap_or("absent")
                .to_string();
            Err(format!(
                "probe pod {ns}/{POD_NAME} did not finish within {}s (phase {phase}); raise -a \
                 kubeapi_probe_timeout or check scheduling and image pulls",
                after.as_secs()
            ))
        }
        Err(other) => Err(format!("cannot watch probe pod {ns}/{POD_NAME}: {other}")),
    }
}

/// The API-03 finding for what the pod saw connecting to `server`.
pub fn judge(server: &str, seen: &Seen) -> Finding {
    match seen {
        Seen::Reached => Finding::info(
            "API-03",
            format!(
                "a probe pod inside the cluster connected to the API endpoint {server}: the \
                 cluster does not lock itself out"
            ),
        ),
        Seen::Failed(why) => Finding::error(
            "API-03",
            format!(
                "a probe pod inside the cluster cannot connect to the API endpoint {server} \
                 ({why}): nodes and workloads that use this endpoint are locked out"
            ),
        )
        .with_fix(
            "add the cluster's egress address (the nodes' SNAT or router address) to the API \
             allow-list (restrict_kubeapi), or let in-cluster traffic bypass it",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::pod::restricted_violations;
    use scs_kaas_core::finding::Severity;

    fn run() -> ProbeRun {
        ProbeRun::new(
            "0123abcd",
            super::super::ID,
            "2026-12-02T10:00:00Z".parse().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn the_probe_pod_is_restricted_labelled_and_connects_once() {
        let pod = probe_pod(
            &run(),
            "registry.k8s.io/agnhost@sha256:x",
            "203.0.113.5",
            6443,
        );
        assert_eq!(restricted_violations(&pod), Vec::<String>::new());
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(
            spec.containers[0].command.as_deref().unwrap(),
            ["/agnhost", "connect", "203.0.113.5:6443", "--timeout=5s"]
        );
        let labels = pod.metadata.labels.as_ref().unwrap();
        assert_eq!(
            labels
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("scs-kaas")
        );
        let v6 = probe_pod(&run(), "i", "2001:db8::1", 443);
        assert_eq!(
            v6.spec.unwrap().containers[0].command.as_ref().unwrap()[2],
            "[2001:db8::1]:443"
        );
    }

    #[test]
    fn reaching_is_info_and_failing_is_an_error_with_a_fix() {
        let ok = judge("https://203.0.113.5:6443", &Seen::Reached);
        assert_eq!((ok.rule.as_str(), ok.severity), ("API-03", Severity::Info));
        let bad = judge("https://203.0.113.5:6443", &Seen::Failed("TIMEOUT".into()));
        assert_eq!(bad.severity, Severity::Error);
        assert!(bad.message.contains("(TIMEOUT)"), "{}", bad.message);
        assert!(bad.fix.as_deref().unwrap().contains("egress address"));
    }
}
