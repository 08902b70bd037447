//! The simulated load balancer over real sockets: each scenario mode of `scenarios/lb-*.yaml`
//! as a client on a real cluster sees it (ingress address, what the echo backend reports,
//! resets, PROXY header, finalizer on deletion).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Service};
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use scs_kaas_sim::server::{self, RunningSim};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(30);
const NS: &str = "default";

async fn start(scenario: &str) -> (RunningSim, kube::Client) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(format!("{scenario}.yaml"));
    let config = scs_kaas_sim::scenario::load(&path).expect("the scenario loads");
    let sim = server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the sim starts");
    let client = common::client(&sim, "admin").await;
    (sim, client)
}

/// A Deployment of `replicas` pods: agnhost netexec, or a raw TCP echo when `netexec` is false.
async fn deploy(client: &kube::Client, name: &str, replicas: u32, netexec: bool) {
    let container = if netexec {
        json!({"name": "echo", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
               "args": ["netexec", "--http-port=8080"], "ports": [{"name": "http", "containerPort": 8080}]})
    } else {
        json!({"name": "echo", "image": "registry.k8s.io/e2e-test-images/busybox:1.36.1-1",
               "command": ["nc", "-lk", "-p", "8080", "-e", "cat"]})
    };
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &deployment)
        .await
        .expect("deployment created");
    let api = Api::<Deployment>::namespaced(client.clone(), NS);
    tokio::time::timeout(
        WAIT,
        await_condition(api, name, move |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref())
                .and_then(|s| s.ready_replicas)
                .is_some_and(|r| r == replicas as i32)
        }),
    )
    .await
    .expect("pods become ready in time")
    .unwrap();
}

/// A LoadBalancer Service on port 8080 for `app`; returns its ingress address.
async fn expose(
    client: &kube::Client,
    name: &str,
    app: &str,
    local: bool,
    annotations: serde_json::Value,
) -> SocketAddr {
    let mut spec = json!({"type": "LoadBalancer", "selector": {"app": app},
                          "ports": [{"port": 8080, "targetPort": 8080}]});
    if local {
        spec["externalTrafficPolicy"] = json!("Local");
    }
    let service: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": NS, "annotations": annotations},
        "spec": spec
    }))
    .unwrap();
    let api = Api::<Service>::namespaced(client.clone(), NS);
    api.create(&PostParams::default(), &service)
        .await
        .expect("service created");
    let ready = tokio::time::timeout(
        WAIT,
        await_condition(api.clone(), name, |s: Option<&Service>| {
            ingress_ip(s).is_some()
        }),
    )
    .await
    .expect("an address is assigned in time")
    .unwrap();
    let ip = ingress_ip(ready.as_ref()).unwrap();
    let addr: SocketAddr = format!("{ip}:8080").parse().unwrap();
    assert!(addr.ip().is_loopback(), "{addr} is in 127.0.0.0/8");
    let finalizers = ready.unwrap().metadata.finalizers.unwrap_or_default();
    assert!(finalizers.contains(&"service.kubernetes.io/load-balancer-cleanup".to_string()));
    addr
}

fn ingress_ip(s: Option<&Service>) -> Option<String> {
    s?.status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?
        .first()?
        .ip
        .clone()
}

/// One HTTP GET on a fresh connection: the body of a 200, or why not.
async fn get(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    match answer.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_string()),
        _ => Err(format!("unexpected answer {answer:?}")),
    }
}

async fn client_ip(addr: SocketAddr) -> String {
    let seen = get(addr, "/clientip").await.expect("clientip answers");
    seen.rsplit_once(':').expect("ip:port").0.to_string()
}

async fn node_ips(client: &kube::Client) -> Vec<String> {
    Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .flat_map(|n| n.status.and_then(|s| s.addresses).unwrap_or_default())
        .filter(|a| a.type_ == "InternalIP")
        .map(|a| a.address)
        .collect()
}

#[tokio::test]
async fn l3_preserves_the_client_and_deletion_waits_for_the_finalizer() {
    let (_sim, client) = start("lb-l3").await;
    deploy(&client, "echo", 2, true).await;
    let addr = expose(&client, "lb-plain", "echo", false, json!({})).await;
    assert_eq!(client_ip(addr).await, "127.0.0.1");
    let hostname = get(addr, "/hostname").await.unwrap();
    assert!(hostname.starts_with("echo-"), "{hostname}");
    assert_eq!(get(addr, "/echo?msg=hi%20there").await.unwrap(), "hi there");
    // Hairpin from inside: the backend dials the load balancer itself.
    let dial = get(
        addr,
        &format!(
            "/dial?host={}&port=8080&request=/hostname&tries=3&protocol=http",
            addr.ip()
        ),
    )
    .await
    .unwrap();
    let dial: serde_json::Value = serde_json::from_str(&dial).unwrap();
    assert_eq!(dial["responses"].as_array().unwrap().len(), 3, "{dial}");

    let api = Api::<Service>::namespaced(client.clone(), NS);
    let uid = api.get("lb-plain").await.unwrap().metadata.uid.unwrap();
    api.delete("lb-plain", &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::timeout(
        WAIT,
        await_condition(api, "lb-plain", conditions::is_deleted(&uid)),
    )
    .await
    .expect("the finalizer is removed in time")
    .unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed once the Service is gone"
    );
}

#[tokio::test]
async fn snat_shows_a_node_address() {
    let (_sim, client) = start("lb-snat").await;
    deploy(&client, "echo", 1, true).await;
    let addr = expose(&client, "lb-plain", "echo", false, json!({})).await;
    let seen = client_ip(addr).await;
    assert!(
        node_ips(&client).await.contains(&seen),
        "{seen} is a node address"
    );
}

#[tokio::test]
async fn proxy_shows_the_lb_address_and_sends_proxy_headers_on_request() {
    let (_sim, client) = start("lb-proxy").await;
    deploy(&client, "echo", 1, true).await;
    let addr = expose(&client, "lb-plain", "echo", false, json!({})).await;
    assert_eq!(client_ip(addr).await, addr.ip().to_string());

    // netexec does not speak PROXY: with the annotation its requests break.
    let annotation = json!({"loadbalancer.openstack.org/proxy-protocol": "true"});
    let proxied = expose(&client, "lb-proxied", "echo", false, annotation.clone()).await;
    assert!(get(proxied, "/clientip").await.unwrap_err().contains("400"));

    // A raw echo shows the header the load balancer sent.
    deploy(&client, "raw", 1, false).await;
    let raw = expose(&client, "lb-raw", "raw", false, annotation).await;
    let mut stream = TcpStream::connect(raw).await.unwrap();
    let local = stream.local_addr().unwrap();
    stream.write_all(b"hello\n").await.unwrap();
    let expected = format!(
        "PROXY TCP4 127.0.0.1 {} {} 8080\r\nhello\n",
        raw.ip(),
        local.port()
    );
    let mut echoed = vec![0u8; expected.len()];
    stream.read_exact(&mut echoed).await.unwrap();
    assert_eq!(String::from_utf8(echoed).unwrap(), expected);
}

#[tokio::test]
async fn local_without_health_checks_fails_a_deterministic_fraction() {
    let (_sim, client) = start("lb-local-no-healthcheck").await;
    deploy(&client, "echo", 1, true).await;
    let local = expose(&client, "lb-local", "echo", true, json!({})).await;
    let mut ok = 0;
    for _ in 0..30 {
        ok += usize::from(get(local, "/hostname").await.is_ok());
    }
    // Three workers in the pool, one with the endpoint: one connection in three succeeds.
    assert_eq!(ok, 10);
    let cluster = expose(&client, "lb-cluster", "echo", false, json!({})).await;
    for _ in 0..10 {
        get(cluster, "/hostname")
            .await
            .expect("Cluster policy works on every node");
    }
}

#[tokio::test]
async fn pending_never_assigns_an_address_nor_a_finalizer() {
    let (_sim, client) = start("lb-pending").await;
    deploy(&client, "echo", 1, true).await;
    let api = Api::<Service>::namespaced(client.clone(), NS);
    let service: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "lb-plain", "namespace": NS},
        "spec": {"type": "LoadBalancer", "selector": {"app": "echo"}, "ports": [{"port": 8080}]}
    }))
    .unwrap();
    api.create(&PostParams::default(), &service).await.unwrap();
    // Another deployment becoming ready: the controllers have run on the Service by then.
    deploy(&client, "later", 1, true).await;
    let stored = api.get("lb-plain").await.unwrap();
    assert_eq!(ingress_ip(Some(&stored)), None);
    assert!(stored.metadata.finalizers.is_none());
    api.delete("lb-plain", &DeleteParams::default())
        .await
        .unwrap();
    assert!(
        api.get_opt("lb-plain").await.unwrap().is_none(),
        "no finalizer holds it"
    );
}
