//! Shared helpers for the server tests: a small scenario built in code, a started sim and clients.
#![allow(dead_code)]

use scs_kaas_sim::server::{self, Options, RunningSim};
use scs_kaas_sim::world::{Permission, SimConfig, User};
use serde_json::{Value, json};

/// Admin token of the test scenario.
pub const ADMIN_TOKEN: &str = "admin-token-0123456789";
/// Read-only token of the test scenario.
pub const VIEWER_TOKEN: &str = "viewer-token-0123456789";

/// A small cluster: two namespaces, three nodes, one pod, an admin and a read-only user.
pub fn config() -> SimConfig {
    let mut objects = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "coredns-1", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
               "spec": {"nodeName": "node-1", "containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.12.0"}]},
               "status": {"phase": "Running"}}),
    ];
    for i in 1..=3 {
        objects.push(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("node-{i}"), "labels": {"topology.kubernetes.io/zone": format!("zone-{}", i % 2)}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.35.1"}}}));
    }
    SimConfig {
        name: "test".into(),
        git_version: "v1.35.1".into(),
        users: vec![
            User {
                name: "admin".into(),
                token: ADMIN_TOKEN.into(),
                permission: Permission::Admin,
            },
            User {
                name: "viewer".into(),
                token: VIEWER_TOKEN.into(),
                permission: Permission::ReadOnly,
            },
        ],
        objects,
        source: None,
        controllers: Vec::new(),
        added_finalizers: Vec::new(),
    }
}

/// Start a sim with the test scenario on a free loopback port.
pub async fn start() -> RunningSim {
    start_config(config(), Options::default()).await
}

/// Start a sim with a given config and options.
pub async fn start_config(config: SimConfig, options: Options) -> RunningSim {
    server::start_with(config, "127.0.0.1:0".parse().unwrap(), options)
        .await
        .expect("the sim starts")
}

/// A kube client for `user` built from the sim's kubeconfig, as other crates will do.
pub async fn client(sim: &RunningSim, user: &str) -> kube::Client {
    let kubeconfig =
        kube::config::Kubeconfig::from_yaml(&sim.kubeconfig_yaml(user)).expect("kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("kubeconfig is usable");
    kube::Client::try_from(config).expect("client builds")
}

/// A raw request through a client (for bodies and paths the typed API cannot produce); returns
/// the HTTP status code and the parsed body.
pub async fn raw(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body.as_bytes().to_vec())
        .unwrap();
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .expect("request is sent");
    let code = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The `Status` code and reason of a failed kube call.
pub fn status_of<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}
