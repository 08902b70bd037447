//! Watch streams: newline-delimited watch events replayed from the store's history.
//!
//! A watch starts after a resourceVersion (or with synthetic ADDED events for the current state
//! when none or `0` is given), replays every later change of its kind that passes its filters,
//! then waits for the store's resourceVersion to move. A start older than the kept history gets
//! one ERROR event carrying a 410 Expired `Status`, as from the real server.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde_json::json;
use tokio::time::Instant;

use crate::resources::{RESOURCES, ResourceId};
use crate::selector::{FieldSelector, LabelSelector};
use crate::server::Shared;
use crate::status::ApiError;
use crate::store::Change;

/// How often an idle watch that allows bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(15);

/// What a watch request asked for.
pub struct WatchQuery {
    /// Kind watched.
    pub res: ResourceId,
    /// Namespace, `None` for all.
    pub namespace: Option<String>,
    /// Label filter.
    pub labels: LabelSelector,
    /// Field filter.
    pub fields: FieldSelector,
    /// Start after this resourceVersion; `None` starts with the current state as ADDED events.
    pub after: Option<u64>,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `sendInitialEvents`: end the initial ADDED events with an annotated BOOKMARK.
    pub initial_events_end: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
    /// Frames in protobuf (length-prefixed `WatchEvent`s) instead of JSON lines.
    pub protobuf: bool,
}

/// One event in the stream's format: `object` is the stored JSON.
fn event(out: &mut BytesMut, protobuf: bool, event_type: &str, object: &[u8]) {
    if protobuf {
        let encoded = if event_type == "ERROR" {
            serde_json::from_slice(object)
                .ok()
                .map(|status| crate::protobuf::encode_status(&status))
        } else {
            crate::protobuf::encode_json(object)
        };
        match encoded {
            Some(bytes) => crate::protobuf::watch_frame(out, event_type, &bytes),
            None => {
                tracing::warn!("a {event_type} watch event cannot be encoded as protobuf; skipped")
            }
        }
    } else {
        event_line(out, event_type, object);
    }
}

fn event_line(out: &mut BytesMut, event_type: &str, object: &[u8]) {
    out.put_slice(b"{\"type\":\"");
    out.put_slice(event_type.as_bytes());
    out.put_slice(b"\",\"object\":");
    out.put_slice(object);
    out.put_slice(b"}\n");
}

fn bookmark(out: &mut BytesMut, protobuf: bool, res: ResourceId, rv: u64, initial_end: bool) {
    let rt = &RESOURCES[res];
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let obj = json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": meta});
    event(out, protobuf, "BOOKMARK", obj.to_string().as_bytes());
}

struct State {
    shared: Arc<Shared>,
    query: WatchQuery,
    cursor: u64,
    started: bool,
    done: bool,
    deadline: Option<Instant>,
    rv_rx: tokio::sync::watch::Receiver<u64>,
}

/// The event of a committed change in the stream's format, made once per change and shared by
/// every watcher that sends it (a reference-counted `Bytes`, not a copy per watcher).
pub fn shared_event(change: &Change, protobuf: bool) -> Option<Bytes> {
    if protobuf {
        change
            .protobuf_event
            .get_or_init(|| {
                let mut out = BytesMut::new();
                event(&mut out, true, change.event.as_str(), &change.obj.bytes);
                (!out.is_empty()).then(|| out.freeze())
            })
            .clone()
    } else {
        Some(
            change
                .json_event
                .get_or_init(|| {
                    let mut out = BytesMut::new();
                    event_line(&mut out, change.event.as_str(), &change.obj.bytes);
                    out.freeze()
                })
                .clone(),
        )
    }
}

/// The body stream of a watch response.
pub fn stream(
    shared: Arc<Shared>,
    query: WatchQuery,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    let rv_rx = shared.rv_tx.subscribe();
    let deadline = query.timeout.map(|t| Instant::now() + t);
    let state = State {
        cursor: query.after.unwrap_or(0),
        shared,
        query,
        started: false,
        done: false,
        deadline,
        rv_rx,
    };
    futures::stream::unfold(state, |mut st| async move {
        let chunks = next_chunks(&mut st).await?;
        Some((
            futures::stream::iter(chunks.into_iter().map(Ok::<Bytes, Infallible>)),
            st,
        ))
    })
    .flatten()
}

/// The next pieces of the stream: fresh bytes for the initial state and bookmarks, shared
/// event bytes for committed changes.
async fn next_chunks(st: &mut State) -> Option<Vec<Bytes>> {
    if st.done {
        return None;
    }
    let mut out = BytesMut::new();
    let mut shared: Vec<Bytes> = Vec::new();
    if !st.started {
        st.started = true;
        st.rv_rx.borrow_and_update();
        if st.query.after.is_none() {
            let store = st.shared.read();
            let q = &st.query;
            match store.list(
                q.res,
                q.namespace.as_deref(),
                &q.labels,
                &q.fields,
                None,
                None,
                None,
            ) {
                Ok(page) => {
                    for item in &page.items {
                        event(&mut out, q.protobuf, "ADDED", item);
                    }
                    st.cursor = page.rv;
                }
                Err(err) => {
                    st.done = true;
                    event(
                        &mut out,
                        st.query.protobuf,
                        "ERROR",
                        err.to_status().to_string().as_bytes(),
                    );
                    return Some(vec![out.freeze()]);
                }
            }
            if q.initial_events_end {
                bookmark(&mut out, q.protobuf, q.res, st.cursor, true);
            }
            if !out.is_empty() {
                return Some(vec![out.freeze()]);
            }
        }
    }
    loop {
        {
            st.rv_rx.borrow_and_update();
            let store = st.shared.read();
            let q = &st.query;
            match store.changes_after(q.res, st.cursor) {
                Err(err) => {
                    st.done = true;
                    event(
                        &mut out,
                        st.query.protobuf,
                        "ERROR",
                        err.to_status().to_string().as_bytes(),
                    );
                    return Some(vec![out.freeze()]);
                }
                Ok(changes) => {
                    for change in changes {
                        if q.namespace.as_ref().is_some_and(|ns| *ns != change.key.0) {
                            continue;
                        }
                        if !change.obj.selected(&change.key, &q.labels, &q.fields) {
                            continue;
                        }
                        match shared_event(&change, q.protobuf) {
                            Some(bytes) => shared.push(bytes),
                            None => tracing::warn!(
                                "a {} watch event cannot be encoded as protobuf; skipped",
                                change.event.as_str()
                            ),
                        }
                    }
                    st.cursor = st.cursor.max(store.rv());
                }
            }
        }
        if !shared.is_empty() {
            return Some(shared);
        }
        let deadline = st.deadline;
        let timeout = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = st.rv_rx.changed() => {
                if changed.is_err() {
                    return None;
                }
            }
            _ = timeout => return None,
            _ = st.shared.shutdown.cancelled() => return None,
            _ = tokio::time::sleep(BOOKMARK_EVERY), if st.query.bookmarks => {
                bookmark(&mut out, st.query.protobuf, st.query.res, st.cursor, false);
                return Some(vec![out.freeze()]);
            }
        }
    }
}

/// The resourceVersion a watch request names, `None` for "start with the current state".
pub fn parse_start(rv: Option<&str>) -> Result<Option<u64>, ApiError> {
    match rv {
        None | Some("") | Some("0") => Ok(None),
        Some(text) => text.parse::<u64>().map(Some).map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resourceVersion {text:?}: expected a number"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::Store;

    #[test]
    fn watchers_share_one_serialized_event_per_change() {
        let mut store = Store::new(10);
        let ns = crate::resources::by_kind("Namespace").unwrap();
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        store
            .create(
                ns,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}),
                now,
                true,
            )
            .unwrap();
        let changes = store.changes_after(ns, store.floor()).unwrap();
        let change = changes.last().unwrap();
        // Every watcher gets the same bytes (one allocation), not a copy of the object.
        let first = shared_event(change, false).unwrap();
        for _ in 0..100 {
            let again = shared_event(change, false).unwrap();
            assert_eq!(again.as_ptr(), first.as_ptr());
        }
        let line: serde_json::Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(line["type"], "ADDED");
        assert_eq!(line["object"]["metadata"]["name"], "a");
        let frame = shared_event(change, true).unwrap();
        assert_eq!(shared_event(change, true).unwrap().as_ptr(), frame.as_ptr());
        assert_eq!(
            u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize,
            frame.len() - 4
        );
    }
}
