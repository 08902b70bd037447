//! Expands scenario workloads into the objects a settled cluster would hold: the workload, its
//! ReplicaSet where applicable, and its pods already placed and running, with the same names,
//! hashes and statuses the controllers compute (so nothing moves at start-up).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::build::uid;
use super::model::*;
use crate::controllers::node_match::{node_ready, node_unschedulable};
use crate::controllers::object::{self, name};
use crate::controllers::{deployment, job, pod_status, replicaset};
use crate::store::Index;

/// What placing pods needs to know about a node (the nodes themselves are stored as soon as
/// they are made).
pub struct PlacedNode {
    name: String,
    ip: String,
    ready: bool,
    /// Ready, schedulable and without a `NoSchedule`/`NoExecute` taint.
    open: bool,
}

impl PlacedNode {
    /// The placement facts of a node object.
    pub fn of(node: &Value) -> PlacedNode {
        let ready = node_ready(node);
        let tainted = object::at(node, "spec.taints")
            .and_then(Value::as_array)
            .is_some_and(|t| {
                t.iter()
                    .any(|t| matches!(t["effect"].as_str(), Some("NoSchedule" | "NoExecute")))
            });
        PlacedNode {
            name: name(node).to_string(),
            ip: object::node_ip(node).unwrap_or("10.0.0.1").to_string(),
            ready,
            open: ready && !node_unschedulable(node) && !tainted,
        }
    }
}

/// Hands out nodes round-robin and pod IPs in order.
struct Placer<'n> {
    spread: Vec<&'n PlacedNode>,
    everywhere: Vec<&'n PlacedNode>,
    by_name: BTreeMap<&'n str, &'n PlacedNode>,
    cursor: usize,
    ips: usize,
}

impl<'n> Placer<'n> {
    fn new(nodes: &'n [PlacedNode]) -> Self {
        let ready: Vec<&PlacedNode> = nodes.iter().filter(|n| n.ready).collect();
        let untainted: Vec<&PlacedNode> = ready.iter().copied().filter(|n| n.open).collect();
        Placer {
            spread: if untainted.is_empty() {
                ready.clone()
            } else {
                untainted
            },
            everywhere: ready,
            by_name: nodes.iter().map(|n| (n.name.as_str(), n)).collect(),
            cursor: 0,
            ips: 0,
        }
    }

    fn pick(&mut self, pinned: Option<&str>) -> Option<&'n PlacedNode> {
        if let Some(node) = pinned {
            return self.by_name.get(node).copied();
        }
        let node = self
            .spread
            .get(self.cursor % self.spread.len().max(1))
            .copied();
        self.cursor += 1;
        node
    }

    fn next_ip(&mut self) -> String {
        self.ips += 1;
        let i = self.ips;
        format!("10.{}.{}.{}", 64 + i / 65536 % 64, i / 256 % 256, i % 256)
    }

    /// Places, starts and (for `finished`) completes a pod.
    fn run(
        &mut self,
        mut pod: Value,
        pinned: Option<&str>,
        finished: Option<bool>,
        now: &str,
    ) -> Value {
        let Some(node) = self.pick(pinned) else {
            return pod;
        };
        pod["spec"]["nodeName"] = json!(node.name);
        if !node.ready {
            pod["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
            return pod;
        }
        let ip = self.next_ip();
        let running = pod_status::running(&pod, &node.ip, &ip, now);
        pod["status"] = match finished {
            Some(ok) => pod_status::finished(&pod, &running, ok, now),
            None => running,
        };
        pod
    }
}

fn containers(list: &[ContainerSpec]) -> Value {
    Value::Array(
        list.iter()
            .map(|c| json!({"name": c.name, "image": c.image, "imagePullPolicy": "IfNotPresent"}))
            .collect(),
    )
}

fn labels_of(w: &WorkloadSpec) -> BTreeMap<String, String> {
    if w.labels.is_empty() {
        BTreeMap::from([("app".to_string(), w.name.clone())])
    } else {
        w.labels.clone()
    }
}

fn template(w: &WorkloadSpec, extra_spec: Value) -> Value {
    let mut spec = json!({"containers": containers(&w.containers)});
    if !w.init_containers.is_empty() {
        spec["initContainers"] = containers(&w.init_containers);
    }
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra_spec.as_object()) {
        spec.extend(extra.clone());
    }
    json!({"metadata": {"labels": labels_of(w)}, "spec": spec})
}

fn meta(kind: &str, w: &WorkloadSpec) -> Value {
    json!({
        "name": w.name,
        "namespace": w.namespace,
        "uid": uid(kind, &w.namespace, &w.name),
        "labels": labels_of(w),
        "generation": 1,
    })
}

fn with_uid(mut value: Value) -> Value {
    let kind = value["kind"].as_str().unwrap_or("").to_string();
    let id = uid(&kind, object::namespace(&value), name(&value));
    value["metadata"]["uid"] = json!(id);
    value["metadata"]["generation"] = json!(1);
    value
}

/// Makes every workload's objects: each workload with its ReplicaSet and pods, handed to `out`
/// one workload at a time.
pub fn expand(s: &Scenario, nodes: &[PlacedNode], now: &str, out: &mut dyn FnMut(Value)) {
    let mut placer = Placer::new(nodes);
    let mut taken = replicaset::PodNames::default();
    for w in &s.workloads {
        let pinned = w.node.as_deref();
        let replicas = i64::from(w.replicas.unwrap_or(1));
        match w.kind {
            WorkloadKind::Deployment => {
                let mut d = json!({
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": meta("Deployment", w),
                    "spec": {
                        "replicas": replicas,
                        "selector": {"matchLabels": labels_of(w)},
                        "template": template(w, json!({})),
                        "strategy": {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                        "revisionHistoryLimit": 10,
                        "progressDeadlineSeconds": 600,
                    },
                });
                object::set_annotation(&mut d, "deployment.kubernetes.io/revision", "1");
                let hash = object::template_hash(&d["spec"]["template"]);
                let mut rs = with_uid(deployment::replica_set(&d, &hash, replicas));
                let pods = rs_pods(&rs, replicas, pinned, &mut placer, &mut taken, now);
                rs["status"] = rs_status(&rs, &pods);
                let rs_index = Index::of(&rs);
                d["status"] = deployment::status(&d, Some(&rs_index), &[&rs_index], now);
                out(d);
                out(rs);
                pods.into_iter().for_each(&mut *out);
            }
            WorkloadKind::ReplicaSet => {
                let mut rs = json!({
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": meta("ReplicaSet", w),
                    "spec": {"replicas": replicas, "selector": {"matchLabels": labels_of(w)},
                             "template": template(w, json!({}))},
                });
                let pods = rs_pods(&rs, replicas, pinned, &mut placer, &mut taken, now);
                rs["status"] = rs_status(&rs, &pods);
                out(rs);
                pods.into_iter().for_each(&mut *out);
            }
            WorkloadKind::StatefulSet => stateful_set(w, replicas, &mut placer, now, out),
            WorkloadKind::DaemonSet => daemon_set(w, &mut placer, &mut taken, now, out),
            WorkloadKind::Job => {
                let job_uid = uid("Job", &w.namespace, &w.name);
                let mut tpl = template(w, json!({"restartPolicy": "Never"}));
                for key in ["batch.kubernetes.io/controller-uid", "controller-uid"] {
                    tpl["metadata"]["labels"][key] = json!(job_uid);
                }
                for key in ["batch.kubernetes.io/job-name", "job-name"] {
                    tpl["metadata"]["labels"][key] = json!(w.name);
                }
                let mut j = json!({
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": meta("Job", w),
                    "spec": {
                        "completions": replicas, "parallelism": 1, "backoffLimit": 6,
                        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": job_uid}},
                        "template": tpl,
                    },
                });
                let pods: Vec<Value> = (0..replicas)
                    .map(|_| {
                        let pod_name = taken.free_name(&w.namespace, &w.name, &job_uid);
                        let pod = with_uid(replicaset::pod_from_template(
                            &j,
                            &j["spec"]["template"],
                            &pod_name,
                            &[],
                        ));
                        placer.run(pod, pinned, Some(true), now)
                    })
                    .collect();
                let indexed: Vec<Index> = pods.iter().map(Index::of).collect();
                let counts = job::Counts::of(&indexed.iter().collect::<Vec<_>>());
                j["status"] = job::status(&j, &counts, now);
                out(j);
                pods.into_iter().for_each(&mut *out);
            }
            WorkloadKind::CronJob => {
                let schedule = w.schedule.clone().unwrap_or_default();
                out(json!({
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "metadata": meta("CronJob", w),
                    "spec": {
                        "schedule": schedule,
                        "concurrencyPolicy": "Allow",
                        "suspend": false,
                        "successfulJobsHistoryLimit": 3,
                        "failedJobsHistoryLimit": 1,
                        "jobTemplate": {"spec": {"template": template(w, json!({"restartPolicy": "OnFailure"}))}},
                    },
                    "status": {},
                }));
            }
            WorkloadKind::Pod => {
                let tpl = template(
                    w,
                    json!({"restartPolicy": "Always", "schedulerName": "default-scheduler"}),
                );
                let mut pod = json!({
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": w.name, "namespace": w.namespace,
                                 "uid": uid("Pod", &w.namespace, &w.name), "labels": labels_of(w)},
                    "spec": tpl["spec"].clone(),
                    "status": {"phase": "Pending", "qosClass": "BestEffort"},
                });
                taken.reserve(&w.namespace, &w.name);
                pod = match w.phase.unwrap_or_default() {
                    PodPhase::Pending => {
                        if let Some(node) = pinned {
                            pod["spec"]["nodeName"] = json!(node);
                        }
                        pod
                    }
                    PodPhase::Running => placer.run(pod, pinned, None, now),
                    PodPhase::Succeeded => placer.run(pod, pinned, Some(true), now),
                    PodPhase::Failed => placer.run(pod, pinned, Some(false), now),
                };
                out(pod);
            }
        }
    }
}

/// The status of a ReplicaSet whose pods are `pods` (all live: the loader makes no finished
/// ReplicaSet pods).
fn rs_status(rs: &Value, pods: &[Value]) -> Value {
    let ready = pods.iter().filter(|p| pod_status::is_ready(p)).count();
    replicaset::status(rs, pods.len(), ready)
}

fn rs_pods(
    rs: &Value,
    replicas: i64,
    pinned: Option<&str>,
    placer: &mut Placer,
    taken: &mut replicaset::PodNames,
    now: &str,
) -> Vec<Value> {
    let ns = object::namespace(rs).to_string();
    (0..replicas)
        .map(|_| {
            let pod_name = taken.free_name(&ns, name(rs), object::uid(rs));
            let pod = with_uid(replicaset::pod_from_template(
                rs,
                &rs["spec"]["template"],
                &pod_name,
                &[],
            ));
            placer.run(pod, pinned, None, now)
        })
        .collect()
}

fn stateful_set(
    w: &WorkloadSpec,
    replicas: i64,
    placer: &mut Placer,
    now: &str,
    out: &mut dyn FnMut(Value),
) {
    let tpl = template(w, json!({}));
    let revision = format!("{}-{}", w.name, object::template_hash(&tpl));
    let mut sts = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta("StatefulSet", w),
        "spec": {"replicas": replicas, "serviceName": w.name, "podManagementPolicy": "OrderedReady",
                 "selector": {"matchLabels": labels_of(w)}, "template": tpl,
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}},
    });
    let pods: Vec<Value> = (0..replicas)
        .map(|i| {
            let pod_name = format!("{}-{i}", w.name);
            let index = i.to_string();
            let labels = [
                ("statefulset.kubernetes.io/pod-name", pod_name.as_str()),
                ("apps.kubernetes.io/pod-index", index.as_str()),
                ("controller-revision-hash", revision.as_str()),
            ];
            let pod = with_uid(replicaset::pod_from_template(
                &sts,
                &sts["spec"]["template"],
                &pod_name,
                &labels,
            ));
            placer.run(pod, w.node.as_deref(), None, now)
        })
        .collect();
    let ready = pods.iter().filter(|p| pod_status::is_ready(p)).count();
    sts["status"] = json!({
        "observedGeneration": 1, "replicas": pods.len(), "readyReplicas": ready, "currentReplicas": pods.len(),
        "updatedReplicas": pods.len(), "availableReplicas": ready,
        "currentRevision": revision, "updateRevision": revision, "collisionCount": 0,
    });
    out(sts);
    pods.into_iter().for_each(&mut *out);
}

fn daemon_set(
    w: &WorkloadSpec,
    placer: &mut Placer,
    taken: &mut replicaset::PodNames,
    now: &str,
    out: &mut dyn FnMut(Value),
) {
    let tpl = template(w, json!({"tolerations": [{"operator": "Exists"}]}));
    let mut ds = json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta("DaemonSet", w),
        "spec": {"selector": {"matchLabels": labels_of(w)}, "template": tpl,
                 "updateStrategy": {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}},
    });
    let nodes: Vec<String> = placer.everywhere.iter().map(|n| n.name.clone()).collect();
    let ds_uid = uid("DaemonSet", &w.namespace, &w.name);
    let pods: Vec<Value> = nodes
        .iter()
        .map(|node| {
            let pod_name = taken.free_name(&w.namespace, &w.name, &format!("{ds_uid}/{node}"));
            let pod = with_uid(replicaset::pod_from_template(
                &ds,
                &ds["spec"]["template"],
                &pod_name,
                &[],
            ));
            placer.run(pod, Some(node), None, now)
        })
        .collect();
    let ready = pods.iter().filter(|p| pod_status::is_ready(p)).count();
    ds["status"] = json!({
        "observedGeneration": 1, "desiredNumberScheduled": pods.len(), "currentNumberScheduled": pods.len(),
        "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": pods.len(),
        "numberMisscheduled": 0,
    });
    out(ds);
    pods.into_iter().for_each(&mut *out);
}
