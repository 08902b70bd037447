//! The `pods/exec` subresource over WebSocket, as `kubectl exec` (v1.30+) and kube's
//! `Api::exec` speak it: the channel protocols `v5.channel.k8s.io` and `v4.channel.k8s.io`,
//! one channel byte before each binary frame (0 stdin, 1 stdout, 2 stderr, 3 the final
//! `metav1.Status`, 4 terminal resize; v5 adds 255, "close this channel"). The command runs
//! against the simulated container's files ([`crate::commands`]); SPDY is not offered.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use super::Shared;
use super::route::Target;
use crate::auth::{self, Attributes};
use crate::commands::{self, Outcome};
use crate::resources::RESOURCES;
use crate::status::ApiError;
use crate::volume_files::PodView;
use crate::world::User;

/// The channel protocols served, in order of preference.
pub const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;
/// Output is sent in frames of at most this many bytes.
const FRAME: usize = 32 * 1024;

/// What the query string asks for.
#[derive(Debug, Default)]
struct ExecParams {
    command: Vec<String>,
    container: Option<String>,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

fn flag(key: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "" | "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        v => Err(ApiError::bad_request(format!(
            "invalid {key} {v:?}: expected true or false"
        ))),
    }
}

fn parse_params(query: &[(String, String)]) -> Result<ExecParams, ApiError> {
    let mut p = ExecParams::default();
    for (key, value) in query {
        match key.as_str() {
            "command" => p.command.push(value.clone()),
            "container" => p.container = Some(value.clone()),
            "stdin" => p.stdin = flag(key, value)?,
            "stdout" => p.stdout = flag(key, value)?,
            "stderr" => p.stderr = flag(key, value)?,
            "tty" => p.tty = flag(key, value)?,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown exec parameter {other:?}; use command, container, stdin, stdout, stderr, tty"
                )));
            }
        }
    }
    if p.command.is_empty() {
        return Err(ApiError::bad_request(
            "you must specify at least one command for the container (command=...)",
        ));
    }
    if !(p.stdin || p.stdout || p.stderr) {
        return Err(ApiError::bad_request(
            "you must specify at least 1 of stdin, stdout, stderr",
        ));
    }
    Ok(p)
}

/// The container `requested` names in `pod`, or the only one; errors as the real API server's.
fn pick_container(
    pod: &Value,
    pod_name: &str,
    requested: Option<&str>,
) -> Result<String, ApiError> {
    let names: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let inits: Vec<&str> = pod
        .pointer("/spec/initContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    match requested.filter(|c| !c.is_empty()) {
        Some(c) if names.contains(&c) || inits.contains(&c) => Ok(c.to_string()),
        Some(c) => Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {pod_name}"
        ))),
        None if names.len() == 1 => Ok(names[0].to_string()),
        None => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {pod_name}, choose one of: [{}]",
            names.join(" ")
        ))),
    }
}

/// Why `container` of `pod` cannot run a command now, if it cannot.
fn not_running(pod: &Value, pod_name: &str, container: &str) -> Option<ApiError> {
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    if pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Some(ApiError::bad_request(format!(
            "pod {pod_name} does not have a host assigned"
        )));
    }
    if matches!(phase, "Succeeded" | "Failed") {
        return Some(ApiError::bad_request(format!(
            "cannot exec into a container in a completed pod; current phase is {phase}"
        )));
    }
    let statuses = ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|f| {
            pod.pointer(&format!("/status/{f}"))
                .and_then(Value::as_array)
        })
        .flatten()
        .collect::<Vec<_>>();
    // Pods the scenario starts with may carry a phase and no container statuses: running.
    if statuses.is_empty() {
        return (phase != "Running").then(|| {
            ApiError::bad_request(format!(
                "container {container} in pod {pod_name} is not running (pod phase {phase})"
            ))
        });
    }
    let state = statuses
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(container))
        .and_then(|s| s.get("state"));
    match state {
        Some(s) if s.get("running").is_some() => None,
        Some(s) => {
            let (what, detail) = if let Some(w) = s.get("waiting") {
                (
                    "waiting",
                    w.get("reason").and_then(Value::as_str).unwrap_or(""),
                )
            } else if let Some(t) = s.get("terminated") {
                (
                    "terminated",
                    t.get("reason").and_then(Value::as_str).unwrap_or(""),
                )
            } else {
                ("not started", "")
            };
            Some(ApiError::bad_request(format!(
                "container {container} in pod {pod_name} is not running ({what}{}{detail}); exec needs a running container",
                if detail.is_empty() { "" } else { ": " }
            )))
        }
        None => Some(ApiError::bad_request(format!(
            "container {container} in pod {pod_name} has not started yet; exec needs a running container"
        ))),
    }
}

/// The `metav1.Status` sent on the status channel when the command is done.
pub fn final_status(argv: &[String], exit: i32) -> Value {
    if exit == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {exit}",
            argv.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": exit.to_string()}]},
    })
}

fn header_has(req_headers: &http::HeaderMap, name: header::HeaderName, token: &str) -> bool {
    req_headers.get_all(name).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    })
}

/// The protocol to speak: the first of the client's offers the simulator serves.
fn choose_protocol(req_headers: &http::HeaderMap) -> Option<&'static str> {
    let offered: Vec<String> = req_headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
        .collect();
    offered
        .iter()
        .find_map(|o| PROTOCOLS.iter().find(|p| **p == o).copied())
}

/// Answer `GET|POST .../pods/{name}/exec`: checks, the WebSocket handshake, then the command's
/// output and its final status on the channels, then a close.
pub async fn handle<B>(
    shared: Arc<Shared>,
    user: &User,
    t: &Target,
    query: &[(String, String)],
    mut req: Request<B>,
) -> Result<Response<Body>, ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
{
    if req.method() != Method::GET && req.method() != Method::POST {
        return Err(ApiError::method_not_allowed(format!(
            "pods/exec supports GET and POST (a WebSocket upgrade), not {}",
            req.method()
        )));
    }
    let rt = &RESOURCES[t.res];
    let namespace = t.namespace.as_deref().unwrap_or("");
    let pod_name = t.name.as_deref().unwrap_or("");
    // Like API servers since 1.35 (and RBAC's intent), exec is `create` whatever the method.
    auth::authorize(
        user,
        &Attributes {
            verb: "create",
            group: "",
            resource: "pods/exec".into(),
            namespace: Some(namespace),
            name: Some(pod_name),
        },
    )?;
    let params = parse_params(query)?;
    let (pod, files) = {
        let store = shared.read();
        let entry = store
            .get(t.res, &(namespace.to_string(), pod_name.to_string()))
            .ok_or_else(|| ApiError::not_found(rt.group, rt.plural, pod_name))?;
        let pod = entry.value();
        let files = store.files.of_pod(entry.index.uid());
        (pod, files)
    };
    let container = pick_container(&pod, pod_name, params.container.as_deref())?;
    if let Some(err) = not_running(&pod, pod_name, &container) {
        return Err(err);
    }
    let headers = req.headers();
    if header_has(headers, header::UPGRADE, "SPDY/3.1") {
        return Err(ApiError::bad_request(format!(
            "the simulator serves exec over WebSocket only ({}); SPDY is not supported",
            PROTOCOLS.join(", ")
        )));
    }
    if !header_has(headers, header::UPGRADE, "websocket")
        || !header_has(headers, header::CONNECTION, "upgrade")
    {
        return Err(ApiError::bad_request(
            "Upgrade request required: exec needs a WebSocket connection (Connection: Upgrade, Upgrade: websocket)",
        ));
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return Err(ApiError::bad_request(
            "the WebSocket upgrade lacks Sec-WebSocket-Key",
        ));
    };
    let Some(protocol) = choose_protocol(headers) else {
        return Err(ApiError::bad_request(format!(
            "none of the offered WebSocket subprotocols is served; offer one of {}",
            PROTOCOLS.join(", ")
        )));
    };
    let view = PodView::new(&pod, &container, files);
    let outcome = if params.stdin && reads_stdin(&params.command) {
        Outcome {
            stderr: b"exec: reading stdin is not supported by the simulated container\n".to_vec(),
            exit: 1,
            ..Outcome::default()
        }
    } else {
        commands::run(&params.command, &view)
    };
    let upgrade = hyper::upgrade::on(&mut req);
    let shutdown = shared.shutdown.clone();
    tokio::spawn(async move {
        let upgraded = tokio::select! {
            _ = shutdown.cancelled() => return,
            up = upgrade => match up {
                Ok(up) => up,
                Err(err) => {
                    tracing::debug!("exec upgrade failed: {err}");
                    return;
                }
            },
        };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        tokio::select! {
            _ = shutdown.cancelled() => {}
            result = stream(ws, &params, outcome) => {
                if let Err(err) = result {
                    tracing::debug!("exec stream ended: {err}");
                }
            }
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::UPGRADE, http::HeaderValue::from_static("websocket"));
    h.insert(
        header::CONNECTION,
        http::HeaderValue::from_static("Upgrade"),
    );
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        http::HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
            .map_err(|e| ApiError::internal(format!("bad accept key: {e}")))?,
    );
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        http::HeaderValue::from_static(protocol),
    );
    Ok(response)
}

/// Whether the command would read its standard input (a bare `cat`).
fn reads_stdin(argv: &[String]) -> bool {
    argv.first()
        .is_some_and(|p| p.rsplit('/').next() == Some("cat"))
        && argv.len() == 1
}

async fn send_channel<S>(
    ws: &mut WebSocketStream<S>,
    channel: u8,
    data: &[u8],
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for chunk in data.chunks(FRAME) {
        let mut frame = Vec::with_capacity(chunk.len() + 1);
        frame.push(channel);
        frame.extend_from_slice(chunk);
        ws.send(Message::Binary(frame.into())).await?;
    }
    Ok(())
}

async fn stream<S>(
    mut ws: WebSocketStream<S>,
    params: &ExecParams,
    outcome: Outcome,
) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // With a TTY, stderr goes to the terminal (stdout), as a real container's would.
    let (stdout, stderr) = if params.tty {
        let mut all = outcome.stdout;
        all.extend(outcome.stderr);
        (all, Vec::new())
    } else {
        (outcome.stdout, outcome.stderr)
    };
    if params.stdout || params.tty {
        send_channel(&mut ws, STDOUT, &stdout).await?;
    }
    if params.stderr && !params.tty {
        send_channel(&mut ws, STDERR, &stderr).await?;
    }
    let status = final_status(&params.command, outcome.exit).to_string();
    send_channel(&mut ws, STATUS, status.as_bytes()).await?;
    // A normal-closure code: kubectl's client treats a close without one as an error.
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }))
    .await?;
    // Finish the closing handshake (answering pings meanwhile), bounded.
    let drain = async {
        while let Some(msg) = ws.next().await {
            if msg.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parameters_are_checked_like_the_api_server() {
        let p = parse_params(&q(&[
            ("command", "cat"),
            ("command", "/tmp/results/e2e.log"),
            ("container", "output"),
            ("stdout", "true"),
            ("stderr", "1"),
        ]))
        .unwrap();
        assert_eq!(p.command, ["cat", "/tmp/results/e2e.log"]);
        assert!(p.stdout && p.stderr && !p.stdin && !p.tty);
        let err = parse_params(&q(&[("stdout", "true")])).unwrap_err();
        assert!(
            err.message.contains("at least one command"),
            "{}",
            err.message
        );
        let err = parse_params(&q(&[("command", "ls")])).unwrap_err();
        assert!(err.message.contains("stdin, stdout, stderr"));
        let err = parse_params(&q(&[("command", "ls"), ("stdout", "yes")])).unwrap_err();
        assert!(err.message.contains("invalid stdout"));
        let err = parse_params(&q(&[("command", "ls"), ("stdot", "1")])).unwrap_err();
        assert!(err.message.contains("stdot"));
    }

    #[test]
    fn the_first_offered_served_protocol_is_chosen() {
        let offer = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(header::SEC_WEBSOCKET_PROTOCOL, v.parse().unwrap());
            choose_protocol(&h)
        };
        assert_eq!(
            offer("v5.channel.k8s.io, v4.channel.k8s.io"),
            Some("v5.channel.k8s.io")
        );
        assert_eq!(offer("v4.channel.k8s.io"), Some("v4.channel.k8s.io"));
        assert_eq!(offer("base64.channel.k8s.io, channel.k8s.io"), None);
        assert_eq!(choose_protocol(&http::HeaderMap::new()), None);
    }

    #[test]
    fn final_status_carries_the_exit_code_as_the_clients_expect() {
        assert_eq!(final_status(&["true".into()], 0)["status"], "Success");
        let failed = final_status(&["false".into()], 1);
        assert_eq!(failed["status"], "Failure");
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(failed["details"]["causes"][0]["message"], "1");
    }

    #[test]
    fn containers_and_states_are_checked() {
        let pod = json!({
            "spec": {"nodeName": "n", "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "a", "state": {"running": {}}},
                {"name": "b", "state": {"waiting": {"reason": "ImagePullBackOff"}}},
            ]},
        });
        assert_eq!(pick_container(&pod, "p", Some("a")).unwrap(), "a");
        assert!(
            pick_container(&pod, "p", Some("c"))
                .unwrap_err()
                .message
                .contains("not valid")
        );
        assert!(
            pick_container(&pod, "p", None)
                .unwrap_err()
                .message
                .contains("choose one of: [a b]")
        );
        assert!(not_running(&pod, "p", "a").is_none());
        let err = not_running(&pod, "p", "b").unwrap();
        assert!(err.message.contains("ImagePullBackOff"), "{}", err.message);
        let mut done = pod.clone();
        done["status"]["phase"] = json!("Succeeded");
        assert!(
            not_running(&done, "p", "a")
                .unwrap()
                .message
                .contains("completed pod")
        );
        let mut unscheduled = pod.clone();
        unscheduled["spec"]["nodeName"] = json!("");
        assert!(
            not_running(&unscheduled, "p", "a")
                .unwrap()
                .message
                .contains("host assigned")
        );
    }
}
