//! Kubeconfig files for the simulated cluster, usable unchanged by `kubectl` and the `kube` crate.

use base64::Engine;
use serde_json::json;

use crate::world::User;

/// A kubeconfig with one context per user (named after the user) and `current` as the current
/// context. The server URL uses the loopback address; the CA is embedded.
pub fn render(cluster: &str, server: &str, ca_pem: &str, users: &[&User], current: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": ca}}],
        "users": users.iter().map(|u| json!({"name": u.name, "user": {"token": u.token}})).collect::<Vec<_>>(),
        "contexts": users.iter().map(|u| json!({"name": u.name, "context": {"cluster": cluster, "user": u.name}})).collect::<Vec<_>>(),
        "current-context": current,
        "preferences": {},
    });
    serde_yaml_ng::to_string(&config).unwrap_or_default()
}
