//! The NW-01 probe on a cluster: creates the three namespaces, the server pods and, step by
//! step, the NetworkPolicies of [`plan`], and runs a client Job (`agnhost connect`) per
//! expected connection until it shows what the policies say or the convergence deadline passes.
//!
//! Waiting is done with watches (pods Running, Jobs finished). An expectation that does not hold
//! yet is tried again after [`RETRY_PAUSE`]: a plugin needs a moment to program a new policy,
//! and nothing in the API says when it has.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{ContainerPort, Namespace, Pod, PodTemplateSpec};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DeleteParams, ListParams, LogParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use tokio::time::Instant;

use super::judge::{Held, Observation, Observed, StepResult, nothing_enforced};
use super::plan::{
    self, ALLOWED_LABEL, ALT_PORT, Change, Expectation, HTTP_PORT, Layout, NS_LABEL, Ns, Proto,
    ROLE_LABEL, SERVER_LABEL, Server, Step, UDP_PORT,
};
use crate::probe::ProbeRun;
use crate::probe::guard::is_not_found;
use crate::probe::pod::ProbePod;
use crate::probe::wait::{WaitError, wait_for};

/// Pause before trying an expectation again that did not hold yet.
pub const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// `agnhost connect --timeout`: a dropped connection is given up after this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How the probe runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// agnhost image (full, digest-pinned reference).
    pub image: String,
    /// How long one expectation may take to hold after its step's policies were written.
    pub convergence: Duration,
    /// How long one client Job may take to finish (scheduling and image pull included).
    pub attempt_timeout: Duration,
    /// How long the server pods may take to run.
    pub ready_timeout: Duration,
}

/// The name of one of the run's namespaces.
pub fn namespace_name(run: &ProbeRun, ns: Ns) -> String {
    format!("{}-{}", run.namespace_name(), ns.suffix())
}

fn meta(run: &ProbeRun, name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(run.labels()),
        annotations: Some(run.annotations()),
        ..ObjectMeta::default()
    }
}

/// The server pod: two agnhost netexec containers (TCP 8080 + UDP 8081, TCP 8082) with named
/// ports, restricted profile, labelled for the policies.
pub fn server_pod(run: &ProbeRun, server: Server, namespace: &str, image: &str) -> Pod {
    let mut pod = ProbePod {
        name: server.name().to_string(),
        image: image.to_string(),
        command: vec![
            "/agnhost".into(),
            "netexec".into(),
            format!("--http-port={HTTP_PORT}"),
            format!("--udp-port={UDP_PORT}"),
        ],
        ..ProbePod::default()
    }
    .build(run);
    pod.metadata.namespace = Some(namespace.to_string());
    if let Some(labels) = pod.metadata.labels.as_mut() {
        labels.insert(SERVER_LABEL.into(), server.name().into());
    }
    if let Some(spec) = pod.spec.as_mut() {
        spec.restart_policy = Some("Always".into());
        let port = |name: &str, number: u16, proto: Proto| ContainerPort {
            name: Some(name.to_string()),
            container_port: i32::from(number),
            protocol: Some(proto.k8s().to_string()),
            ..ContainerPort::default()
        };
        if let Some(first) = spec.containers.first_mut() {
            first.name = "netexec".into();
            first.ports = Some(vec![
                port("http", HTTP_PORT, Proto::Tcp),
                port("udp", UDP_PORT, Proto::Udp),
            ]);
            let mut alt = first.clone();
            alt.name = "netexec-alt".into();
            alt.command = Some(vec![
                "/agnhost".into(),
                "netexec".into(),
                format!("--http-port={ALT_PORT}"),
                "--udp-port=-1".into(),
            ]);
            alt.ports = Some(vec![port("alt", ALT_PORT, Proto::Tcp)]);
            spec.containers.push(alt);
        }
    }
    pod
}

/// A client Job that runs `agnhost connect` once, never retried by the Job controller.
pub fn client_job(
    run: &ProbeRun,
    name: &str,
    namespace: &str,
    x: &Expectation,
    target: IpAddr,
    settings: &Settings,
) -> Job {
    let address = match target {
        IpAddr::V6(ip) => format!("[{ip}]:{}", x.port),
        IpAddr::V4(ip) => format!("{ip}:{}", x.port),
    };
    let mut pod = ProbePod {
        name: name.to_string(),
        image: settings.image.clone(),
        command: vec![
            "/agnhost".into(),
            "connect".into(),
            address,
            format!("--timeout={}s", CONNECT_TIMEOUT.as_secs()),
            format!("--protocol={}", x.proto.flag()),
        ],
        ..ProbePod::default()
    }
    .build(run);
    let mut labels = run.labels();
    labels.insert(
        ROLE_LABEL.into(),
        if x.client.trusted {
            "trusted"
        } else {
            "client"
        }
        .into(),
    );
    if let Some(spec) = pod.spec.as_mut()
        && let Some(c) = spec.containers.first_mut()
    {
        c.name = "connect".into();
    }
    Job {
        metadata: meta(run, name, Some(namespace)),
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(settings.attempt_timeout.as_secs().max(1) as i64),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(run.annotations()),
                    ..ObjectMeta::default()
                }),
                spec: pod.spec,
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

fn condition(job: &Job, kind: &str) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == kind && c.status == "True"))
}

/// Creates the namespaces and servers; returns the layout the policies need.
pub async fn prepare(
    client: &Client,
    run: &ProbeRun,
    settings: &Settings,
) -> Result<Layout, String> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut names = BTreeMap::new();
    for ns in Ns::ALL {
        let name = namespace_name(run, ns);
        let mut labels = run.labels();
        labels.insert(NS_LABEL.into(), ns.suffix().into());
        if ns == Ns::B {
            labels.insert(ALLOWED_LABEL.into(), "true".into());
        }
        let object = Namespace {
            metadata: ObjectMeta {
                labels: Some(labels),
                ..meta(run, &name, None)
            },
            ..Namespace::default()
        };
        namespaces
            .create(&PostParams::default(), &object)
            .await
            .map_err(|e| format!("cannot create probe namespace {name}: {e}"))?;
        names.insert(ns, name);
    }
    for server in Server::ALL {
        let ns = &names[&server.namespace()];
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        pods.create(
            &PostParams::default(),
            &server_pod(run, server, ns, &settings.image),
        )
        .await
        .map_err(|e| format!("cannot create server pod {ns}/{}: {e}", server.name()))?;
    }
    let mut servers = BTreeMap::new();
    for server in Server::ALL {
        let ns = &names[&server.namespace()];
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let ip = |p: &Pod| -> Option<IpAddr> {
            let status = p.status.as_ref()?;
            if status.phase.as_deref() != Some("Running") {
                return None;
            }
            status.pod_ip.as_deref()?.parse().ok()
        };
        let found = wait_for(
            pods,
            server.name(),
            &format!("server pod {ns}/{} running", server.name()),
            settings.ready_timeout,
            |p| p.and_then(ip).is_some(),
        )
        .await;
        match found {
            Ok(Some(pod)) => {
                servers.insert(server, ip(&pod).unwrap_or(IpAddr::from([0, 0, 0, 0])));
            }
            Ok(None) => return Err(format!("server pod {ns}/{} disappeared", server.name())),
            Err(WaitError::Timeout { last, after, .. }) => {
                let phase = last
                    .and_then(|p| p.status)
                    .and_then(|s| s.phase)
                    .unwrap_or_else(|| "absent".into());
                return Err(format!(
                    "server pod {ns}/{} was not running after {}s (phase {phase}); raise -a netpol_ready_timeout or check scheduling and image pulls",
                    server.name(),
                    after.as_secs()
                ));
            }
            Err(other) => {
                return Err(format!(
                    "cannot watch server pod {ns}/{}: {other}",
                    server.name()
                ));
            }
        }
    }
    Ok(Layout {
        namespaces: names,
        servers,
    })
}

async fn apply(
    client: &Client,
    run: &ProbeRun,
    layout: &Layout,
    change: Change,
) -> Result<(), String> {
    match change {
        Change::Create(policy) => {
            let mut object = plan::policy_object(policy, layout);
            let ns = object.metadata.namespace.clone().unwrap_or_default();
            object.metadata.labels = Some(run.labels());
            object.metadata.annotations = Some(run.annotations());
            Api::<NetworkPolicy>::namespaced(client.clone(), &ns)
                .create(&PostParams::default(), &object)
                .await
                .map(drop)
                .map_err(|e| format!("cannot create NetworkPolicy {ns}/{}: {e}", policy.name()))
        }
        Change::Delete(policy) => {
            let ns = layout.namespaces[&policy.namespace()].clone();
            match Api::<NetworkPolicy>::namespaced(client.clone(), &ns)
                .delete(policy.name(), &DeleteParams::default())
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(&e) => Ok(()),
                Err(e) => Err(format!(
                    "cannot delete NetworkPolicy {ns}/{}: {e}",
                    policy.name()
                )),
            }
        }
    }
}

/// One attempt: a client Job, watched until it finished.
async fn attempt(
    client: &Client,
    run: &ProbeRun,
    layout: &Layout,
    name: &str,
    x: &Expectation,
    settings: &Settings,
) -> Observed {
    let ns = &layout.namespaces[&x.client.ns];
    let Some(target) = layout.servers.get(&x.server).copied() else {
        return Observed::Undetermined(format!("no address for server {}", x.server.name()));
    };
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let job = client_job(run, name, ns, x, target, settings);
    if let Err(e) = jobs.create(&PostParams::default(), &job).await {
        return Observed::Undetermined(format!("cannot create client Job {ns}/{name}: {e}"));
    }
    let done = wait_for(
        jobs,
        name,
        &format!("client Job {ns}/{name} finished"),
        settings.attempt_timeout,
        |j| j.is_some_and(|j| condition(j, "Complete") || condition(j, "Failed")),
    )
    .await;
    match done {
        Ok(Some(j)) if condition(&j, "Complete") => Observed::Connected,
        Ok(Some(_)) => Observed::Blocked(reason(client, ns, name).await),
        Ok(None) => Observed::Undetermined(format!("client Job {ns}/{name} disappeared")),
        Err(WaitError::Timeout { after, .. }) => Observed::Undetermined(format!(
            "client Job {ns}/{name} did not finish within {}s (-a netpol_attempt_timeout)",
            after.as_secs()
        )),
        Err(other) => {
            Observed::Undetermined(format!("cannot watch client Job {ns}/{name}: {other}"))
        }
    }
}

/// agnhost's first output line of the Job's pod (`TIMEOUT`, `REFUSED`, ...), if readable.
async fn reason(client: &Client, ns: &str, job: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let Ok(list) = pods
        .list(&ListParams::default().labels(&format!("job-name={job}")))
        .await
    else {
        return String::new();
    };
    let Some(pod) = list.items.first().and_then(|p| p.metadata.name.clone()) else {
        return String::new();
    };
    match pods.logs(&pod, &LogParams::default()).await {
        Ok(log) => log.lines().next().unwrap_or("").trim().to_string(),
        Err(_) => String::new(),
    }
}

/// Tries `x` until it holds or the convergence deadline of its step passes.
async fn hold(
    client: &Client,
    run: &ProbeRun,
    layout: &Layout,
    tag: String,
    x: Expectation,
    settings: &Settings,
    started: Instant,
) -> Held {
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let name = format!("{tag}-t{attempts}");
        let last = attempt(client, run, layout, &name, &x, settings).await;
        let held = match &last {
            Observed::Connected => x.allowed,
            Observed::Blocked(_) => !x.allowed,
            Observed::Undetermined(_) => false,
        };
        let give_up = matches!(last, Observed::Undetermined(_))
            || started.elapsed() + RETRY_PAUSE >= settings.convergence;
        if held || give_up {
            return Held {
                expectation: x,
                last,
                attempts,
                held,
                after: started.elapsed(),
            };
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// Runs every step: policies first, then all its expectations at once. Stops after a broken
/// baseline, and after a default-deny step in which no block held at all.
pub async fn run_steps(
    client: &Client,
    run: &ProbeRun,
    layout: &Layout,
    steps: &[Step],
    settings: &Settings,
) -> Result<Observation, String> {
    let mut observation = Observation::default();
    for (index, step) in steps.iter().enumerate() {
        for change in &step.changes {
            apply(client, run, layout, *change).await?;
        }
        let started = Instant::now();
        let results =
            futures::future::join_all(step.expectations.iter().enumerate().map(|(i, x)| {
                hold(
                    client,
                    run,
                    layout,
                    format!("p{index}-e{i}"),
                    *x,
                    settings,
                    started,
                )
            }))
            .await;
        let result = StepResult {
            id: step.id,
            what: step.what,
            results,
        };
        let stop = if index == 0 && result.results.iter().any(|h| !h.held) {
            Some("the baseline without policies failed".to_string())
        } else if nothing_enforced(&result) {
            Some("no NetworkPolicy was enforced at all".to_string())
        } else {
            None
        };
        observation.steps.push(result);
        if let Some(why) = stop {
            let rest: Vec<&'static str> = steps[index + 1..].iter().map(|s| s.id).collect();
            if !rest.is_empty() {
                observation.not_run = Some((rest, why));
            }
            break;
        }
    }
    Ok(observation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::pod::restricted_violations;

    fn run() -> ProbeRun {
        ProbeRun::new(
            "0a1b2c3d",
            "networkpolicy-enforcement-check",
            "2026-12-02T06:00:00Z".parse().unwrap(),
        )
        .unwrap()
    }

    fn settings() -> Settings {
        Settings {
            image: "registry.k8s.io/e2e-test-images/agnhost:2.53@sha256:00".into(),
            convergence: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(120),
            ready_timeout: Duration::from_secs(180),
        }
    }

    #[test]
    fn namespaces_are_named_after_the_run_and_fit_dns_labels() {
        for ns in Ns::ALL {
            let name = namespace_name(&run(), ns);
            assert!(name.starts_with("scs-kaas-networkpolicy-enforcement-check-0a1b2c3d-"));
            assert!(name.len() <= 63, "{name}");
        }
    }

    #[test]
    fn server_pods_are_restricted_and_name_their_ports() {
        let pod = server_pod(&run(), Server::S1, "ns-a", &settings().image);
        assert_eq!(restricted_violations(&pod), Vec::<String>::new());
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!(labels[SERVER_LABEL], "s1");
        assert_eq!(labels["scs-kaas.io/run-id"], "0a1b2c3d");
        let spec = pod.spec.unwrap();
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        let ports: Vec<(String, i32, String)> = spec
            .containers
            .iter()
            .flat_map(|c| c.ports.clone().unwrap())
            .map(|p| (p.name.unwrap(), p.container_port, p.protocol.unwrap()))
            .collect();
        assert_eq!(
            ports,
            [
                ("http".to_string(), 8080, "TCP".to_string()),
                ("udp".to_string(), 8081, "UDP".to_string()),
                ("alt".to_string(), 8082, "TCP".to_string()),
            ]
        );
        assert_eq!(
            spec.containers[1].command.as_deref().unwrap(),
            ["/agnhost", "netexec", "--http-port=8082", "--udp-port=-1"]
        );
    }

    #[test]
    fn client_jobs_connect_once_with_the_client_labels() {
        let x = plan::steps()[3].expectations[0];
        assert!(x.client.trusted);
        let job = client_job(
            &run(),
            "p3-e0-t1",
            "ns-b",
            &x,
            "fd00::5".parse().unwrap(),
            &settings(),
        );
        let spec = job.spec.unwrap();
        assert_eq!(spec.backoff_limit, Some(0));
        let template = spec.template;
        assert_eq!(
            template.metadata.unwrap().labels.unwrap()[ROLE_LABEL],
            "trusted"
        );
        let pod = Pod {
            metadata: ObjectMeta::default(),
            spec: template.spec.clone(),
            status: None,
        };
        assert_eq!(restricted_violations(&pod), Vec::<String>::new());
        let c = &template.spec.unwrap().containers[0];
        assert_eq!(
            c.command.as_deref().unwrap(),
            [
                "/agnhost",
                "connect",
                "[fd00::5]:8082",
                "--timeout=3s",
                "--protocol=tcp"
            ]
        );
    }
}
