//! `pods/log?follow=true`: the container's log so far, then whatever it appends, until the
//! container has terminated (or the pod is gone, or the server stops), as the kubelet streams
//! it to `kubectl logs -f` and kube's `log_stream`.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use serde_json::Value;

use super::Shared;
use crate::resources::by_kind;

/// How many bytes at the end of `text` hold its last `lines` lines (`tailLines`).
pub fn tail_len(text: &str, lines: usize) -> usize {
    if lines == 0 {
        return 0;
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    match body.rmatch_indices('\n').nth(lines - 1) {
        Some((at, _)) => text.len() - at - 1,
        None => text.len(),
    }
}

/// Why `container` of `pod` has no log yet, as the kubelet words it, when it waits for an
/// image (`trying and failing to pull image`) or another reason.
pub fn waiting_reason(pod: &Value, container: &str) -> Option<String> {
    let reason = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)?
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(container))?
        .pointer("/state/waiting/reason")
        .and_then(Value::as_str)?;
    Some(match reason {
        "ErrImagePull" | "ImagePullBackOff" => "trying and failing to pull image".to_string(),
        other => other.to_string(),
    })
}

/// Where a follower is.
struct Follower {
    shared: Arc<Shared>,
    namespace: String,
    pod: String,
    uid: String,
    container: String,
    /// Bytes of the log sent so far.
    sent: usize,
    logs: tokio::sync::watch::Receiver<u64>,
    changes: tokio::sync::watch::Receiver<u64>,
    done: bool,
}

/// Whether `container` of `pod` has terminated.
fn terminated(pod: &Value, container: &str) -> bool {
    ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|f| {
            pod.pointer(&format!("/status/{f}"))
                .and_then(Value::as_array)
        })
        .flatten()
        .any(|s| {
            s.get("name").and_then(Value::as_str) == Some(container)
                && s.pointer("/state/terminated").is_some()
        })
}

impl Follower {
    /// New log text (possibly empty) and whether the stream is over.
    fn poll_store(&mut self) -> (String, bool) {
        let store = self.shared.read();
        let text = store.log(&self.namespace, &self.pod, &self.container);
        let fresh = text.get(self.sent..).unwrap_or("").to_string();
        self.sent = text.len();
        let pod = by_kind("Pod")
            .and_then(|res| store.get(res, &(self.namespace.clone(), self.pod.clone())))
            .map(|e| e.value());
        let over = match pod {
            None => true,
            Some(pod) => {
                pod.pointer("/metadata/uid").and_then(Value::as_str) != Some(self.uid.as_str())
                    || terminated(&pod, &self.container)
            }
        };
        (fresh, over)
    }
}

/// The body of a following log request; `skip` bytes of the current log are not sent (for
/// `tailLines`).
pub fn stream(
    shared: Arc<Shared>,
    namespace: &str,
    pod: &str,
    uid: &str,
    container: &str,
    skip: usize,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let follower = Follower {
        logs: shared.log_tx.subscribe(),
        changes: shared.rv_tx.subscribe(),
        shared,
        namespace: namespace.to_string(),
        pod: pod.to_string(),
        uid: uid.to_string(),
        container: container.to_string(),
        sent: skip,
        done: false,
    };
    futures::stream::unfold(follower, |mut f| async move {
        loop {
            if f.done {
                return None;
            }
            // Mark what was seen before reading, so no append slips between read and wait.
            f.logs.borrow_and_update();
            f.changes.borrow_and_update();
            let (fresh, over) = f.poll_store();
            f.done = over;
            if !fresh.is_empty() {
                return Some((Ok(Bytes::from(fresh)), f));
            }
            if over {
                return None;
            }
            let shutdown = f.shared.shutdown.clone();
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                r = f.logs.changed() => if r.is_err() { return None },
                r = f.changes.changed() => if r.is_err() { return None },
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::tail_len;

    #[test]
    fn tail_keeps_the_last_lines() {
        let text = "a\nbb\nccc\n";
        assert_eq!(&text[text.len() - tail_len(text, 1)..], "ccc\n");
        assert_eq!(&text[text.len() - tail_len(text, 2)..], "bb\nccc\n");
        assert_eq!(tail_len(text, 3), text.len());
        assert_eq!(tail_len(text, 10), text.len());
        assert_eq!(tail_len(text, 0), 0);
        assert_eq!(&"a\nb"["a\nb".len() - tail_len("a\nb", 1)..], "b");
    }
}
