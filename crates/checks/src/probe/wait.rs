//! Waiting for an object to reach a state: a watch with a deadline, never a fixed sleep.
//!
//! On timeout the last state seen is returned with the error, so the finding can say *why*
//! (e.g. the pending reason of a claim) instead of just "timed out".

use std::fmt::Debug;
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::watcher;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// Why a wait ended without the condition being met.
#[derive(Debug, thiserror::Error)]
pub enum WaitError<K> {
    /// The deadline passed; `last` is the last state seen (`None`: the object never appeared).
    #[error("{what} not reached within {:?}", whole_millis(*.after))]
    Timeout {
        /// What was waited for, e.g. `claim sc-probe bound`.
        what: String,
        /// The time waited.
        after: Duration,
        /// The last state of the object seen.
        last: Option<Box<K>>,
    },
    /// The watch failed (no permission, connection lost, ...).
    #[error("watching for {what} failed: {source}")]
    Watch {
        /// What was waited for.
        what: String,
        /// The watcher's error.
        #[source]
        source: watcher::Error,
    },
    /// The watch stream ended, which a live watch never does.
    #[error("watch for {what} ended unexpectedly")]
    Ended {
        /// What was waited for.
        what: String,
    },
}

/// `after` cut to whole milliseconds, so messages say `9.452s`, not `9.451950725s`.
fn whole_millis(after: Duration) -> Duration {
    Duration::from_millis(u64::try_from(after.as_millis()).unwrap_or(u64::MAX))
}

/// Wait until `cond` holds for the object `name` (`None` = the object does not exist), or `timeout`.
///
/// Returns the object state that satisfied the condition (`None` when absence satisfied it).
pub async fn wait_for<K>(
    api: Api<K>,
    name: &str,
    what: &str,
    timeout: Duration,
    cond: impl Fn(Option<&K>) -> bool,
) -> Result<Option<K>, WaitError<K>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut last: Option<K> = None;
    let watch = async {
        let mut stream = std::pin::pin!(watcher::watch_object(api, name));
        while let Some(event) = stream.next().await {
            match event {
                Ok(state) => {
                    if cond(state.as_ref()) {
                        return Ok(state);
                    }
                    last = state;
                }
                Err(source) => {
                    return Err(WaitError::Watch {
                        what: what.to_string(),
                        source,
                    });
                }
            }
        }
        Err(WaitError::Ended {
            what: what.to_string(),
        })
    };
    match tokio::time::timeout(timeout, watch).await {
        Ok(result) => result,
        Err(_) => Err(WaitError::Timeout {
            what: what.to_string(),
            after: timeout,
            last: last.map(Box::new),
        }),
    }
}

/// Wait until the object `name` is gone; `Ok(())` at once if it does not exist.
pub async fn wait_gone<K>(
    api: Api<K>,
    name: &str,
    what: &str,
    timeout: Duration,
) -> Result<(), WaitError<K>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    wait_for(api, name, what, timeout, |obj| obj.is_none())
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_names_the_time_waited_in_whole_milliseconds() {
        let err: WaitError<k8s_openapi::api::core::v1::Namespace> = WaitError::Timeout {
            what: "namespace x deleted".into(),
            after: Duration::from_nanos(9_451_950_725),
            last: None,
        };
        assert_eq!(
            err.to_string(),
            "namespace x deleted not reached within 9.451s"
        );
    }
}
