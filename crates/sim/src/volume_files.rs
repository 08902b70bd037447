//! Files simulated containers wrote into their pod's `emptyDir` volumes (the conformance image's
//! `/tmp/results`), kept per pod uid and volume so that a sibling container mounting the same
//! volume reads them with `exec cat`. They go with the pod.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use serde_json::Value;

/// Every pod's volume files: pod uid → (volume name, path inside the volume) → content.
#[derive(Debug, Default)]
pub struct VolumeFiles {
    by_pod: HashMap<String, BTreeMap<(String, String), Bytes>>,
}

impl VolumeFiles {
    /// Create or replace a file (`path` relative to the volume root, without leading `/`).
    pub fn write(&mut self, pod_uid: &str, volume: &str, path: &str, content: Bytes) {
        self.by_pod.entry(pod_uid.to_string()).or_default().insert(
            (volume.to_string(), path.trim_matches('/').to_string()),
            content,
        );
    }

    /// Forget a pod's files (the pod is gone).
    pub fn remove_pod(&mut self, pod_uid: &str) {
        self.by_pod.remove(pod_uid);
    }

    /// The files of one pod, for [`PodView`].
    pub fn of_pod(&self, pod_uid: &str) -> BTreeMap<(String, String), Bytes> {
        self.by_pod.get(pod_uid).cloned().unwrap_or_default()
    }
}

/// One container's view of its pod's volume files, through its `volumeMounts` (only `emptyDir`
/// volumes hold files); what the simulated commands read.
pub struct PodView {
    /// (mount path without trailing `/`, volume name), longest mount path first.
    mounts: Vec<(String, String)>,
    files: BTreeMap<(String, String), Bytes>,
}

impl PodView {
    /// The view of `container` in `pod` over `files` (from [`VolumeFiles::of_pod`]).
    pub fn new(pod: &Value, container: &str, files: BTreeMap<(String, String), Bytes>) -> Self {
        let empty_dirs: BTreeSet<&str> = pod
            .pointer("/spec/volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| v.get("emptyDir").is_some())
            .filter_map(|v| v.get("name").and_then(Value::as_str))
            .collect();
        let spec = ["containers", "initContainers"]
            .iter()
            .filter_map(|f| pod.pointer(&format!("/spec/{f}")).and_then(Value::as_array))
            .flatten()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(container));
        let mut mounts: Vec<(String, String)> = spec
            .and_then(|c| c.get("volumeMounts"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let path = m.get("mountPath").and_then(Value::as_str)?;
                let name = m.get("name").and_then(Value::as_str)?;
                empty_dirs
                    .contains(name)
                    .then(|| (path.trim_end_matches('/').to_string(), name.to_string()))
            })
            .collect();
        mounts.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
        PodView { mounts, files }
    }

    /// The volume and the path inside it that absolute `path` names, if under a mount.
    fn locate(&self, path: &str) -> Option<(&str, String)> {
        let path = normalize(path);
        self.mounts.iter().find_map(|(mount, volume)| {
            let rest = if path == *mount {
                ""
            } else {
                path.strip_prefix(mount.as_str())?.strip_prefix('/')?
            };
            Some((volume.as_str(), rest.to_string()))
        })
    }
}

/// `path` with `.` segments and repeated or trailing slashes removed.
fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

impl crate::commands::Files for PodView {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        let (volume, rest) = self.locate(path)?;
        self.files
            .get(&(volume.to_string(), rest))
            .map(|b| b.to_vec())
    }

    fn list(&self, path: &str) -> Option<BTreeSet<String>> {
        let normalized = normalize(path);
        // A directory on the way to a mount lists the next segment of each mount below it.
        let prefix = if normalized == "/" {
            "/".to_string()
        } else {
            format!("{normalized}/")
        };
        let above: BTreeSet<String> = self
            .mounts
            .iter()
            .filter_map(|(mount, _)| mount.strip_prefix(&prefix))
            .filter_map(|rest| rest.split('/').next().map(String::from))
            .filter(|s| !s.is_empty())
            .collect();
        let Some((volume, rest)) = self.locate(path) else {
            return (!above.is_empty()).then_some(above);
        };
        let dir = if rest.is_empty() {
            String::new()
        } else {
            format!("{rest}/")
        };
        let mut names = above;
        let mut found = rest.is_empty();
        for (v, file) in self.files.keys() {
            if v != volume {
                continue;
            }
            if let Some(inner) = file.strip_prefix(&dir) {
                found = true;
                names.insert(inner.split('/').next().unwrap_or(inner).to_string());
            }
        }
        found.then_some(names)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::commands::Files;

    fn pod() -> Value {
        json!({"spec": {
        "volumes": [{"name": "results", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "x"}}],
        "containers": [
            {"name": "conformance", "volumeMounts": [{"name": "results", "mountPath": "/tmp/results"}]},
            {"name": "output", "volumeMounts": [{"name": "results", "mountPath": "/out/"}, {"name": "cfg", "mountPath": "/cfg"}]},
        ]}})
    }

    #[test]
    fn sibling_containers_see_the_same_empty_dir_through_their_mounts() {
        let mut files = VolumeFiles::default();
        files.write(
            "uid-1",
            "results",
            "junit_01.xml",
            Bytes::from_static(b"<x/>"),
        );
        files.write(
            "uid-1",
            "results",
            "sub/e2e.log",
            Bytes::from_static(b"log"),
        );
        files.write("uid-2", "results", "other", Bytes::from_static(b"no"));
        let output = PodView::new(&pod(), "output", files.of_pod("uid-1"));
        assert_eq!(
            output.read("/out/junit_01.xml").as_deref(),
            Some(&b"<x/>"[..])
        );
        assert_eq!(
            output.read("/out//./sub/e2e.log").as_deref(),
            Some(&b"log"[..])
        );
        assert_eq!(output.read("/tmp/results/junit_01.xml"), None);
        assert_eq!(output.read("/out/other"), None);
        assert_eq!(
            output.list("/out").unwrap().into_iter().collect::<Vec<_>>(),
            ["junit_01.xml", "sub"]
        );
        assert_eq!(
            output.list("/").unwrap().into_iter().collect::<Vec<_>>(),
            ["out"]
        );
        assert_eq!(output.list("/out/nope"), None);
        let conformance = PodView::new(&pod(), "conformance", files.of_pod("uid-1"));
        assert!(conformance.read("/tmp/results/junit_01.xml").is_some());
        assert!(conformance.list("/tmp").unwrap().contains("results"));
        files.remove_pod("uid-1");
        assert!(files.of_pod("uid-1").is_empty());
    }
}
