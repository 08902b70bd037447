//! The simulated API server through the `kube` client: CRUD, selectors, pagination, watch,
//! dry run, error codes and authentication.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::json;

use common::{client, raw, start, status_of};

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>()},
        "data": {"k": "v"}
    }))
    .unwrap()
}

async fn namespace(client: &kube::Client, name: &str) {
    let ns: Namespace = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    )
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

#[tokio::test]
async fn crud_round_trip_with_optimistic_concurrency() {
    let sim = start().await;
    let c = client(&sim, "admin").await;
    namespace(&c, "crud").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "crud");
    let created = api
        .create(&PostParams::default(), &cm("one", &[("app", "a")]))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    assert_eq!(meta.namespace.as_deref(), Some("crud"));
    let rv: u64 = meta.resource_version.as_deref().unwrap().parse().unwrap();

    let got = api.get("one").await.unwrap();
    assert_eq!(got.metadata.uid, meta.uid);

    // Replace with the current resourceVersion works, with the old one conflicts.
    let mut changed = got.clone();
    changed.data = Some(BTreeMap::from([("k".to_string(), "w".to_string())]));
    let replaced = api
        .replace("one", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert!(
        replaced
            .metadata
            .resource_version
            .as_deref()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > rv
    );
    assert_eq!(
        status_of(api.replace("one", &PostParams::default(), &changed).await),
        (409, "Conflict".into())
    );

    // Merge, JSON and strategic patches.
    let merged = api
        .patch(
            "one",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"m": "1"}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.data.unwrap()["m"], "1");
    let (code, jsoned) = raw(
        &c,
        "PATCH",
        "/api/v1/namespaces/crud/configmaps/one",
        "application/json-patch+json",
        r#"[{"op": "replace", "path": "/data/k", "value": "j"}]"#,
    )
    .await;
    assert_eq!((code, jsoned["data"]["k"].as_str()), (200, Some("j")));
    let strategic = api
        .patch(
            "one",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"labels": {"app": null, "tier": "x"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        strategic.metadata.labels.unwrap(),
        BTreeMap::from([("tier".to_string(), "x".to_string())])
    );

    // generateName.
    let mut generated = cm("", &[]);
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("gen-".into());
    let generated = api
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    assert!(generated.metadata.name.unwrap().starts_with("gen-"));

    api.delete("one", &DeleteParams::default()).await.unwrap();
    assert_eq!(status_of(api.get("one").await), (404, "NotFound".into()));
    sim.shutdown().await;
}

#[tokio::test]
async fn label_and_field_selectors() {
    let sim = start().await;
    let c = client(&sim, "admin").await;
    namespace(&c, "sel").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "sel");
    for (name, app) in [("a", "web"), ("b", "db"), ("c", "web")] {
        api.create(&PostParams::default(), &cm(name, &[("app", app)]))
            .await
            .unwrap();
    }
    api.create(&PostParams::default(), &cm("d", &[]))
        .await
        .unwrap();
    let names = |list: kube::api::ObjectList<ConfigMap>| -> Vec<String> {
        list.items
            .into_iter()
            .map(|i| i.metadata.name.unwrap())
            .collect()
    };
    for (selector, expected) in [
        ("app=web", vec!["a", "c"]),
        ("app==db", vec!["b"]),
        ("app!=web", vec!["b", "d"]),
        ("app in (db,web)", vec!["a", "b", "c"]),
        ("app notin (web)", vec!["b", "d"]),
        ("app", vec!["a", "b", "c"]),
        ("!app", vec!["d"]),
    ] {
        let list = api
            .list(&ListParams::default().labels(selector))
            .await
            .unwrap();
        assert_eq!(names(list), expected, "{selector}");
    }
    let list = api
        .list(&ListParams::default().fields("metadata.name=b"))
        .await
        .unwrap();
    assert_eq!(names(list), ["b"]);

    let pods: Api<Pod> = Api::all(c.clone());
    let on_node = pods
        .list(&ListParams::default().fields("spec.nodeName=node-1,status.phase=Running"))
        .await
        .unwrap();
    assert_eq!(on_node.items.len(), 1);
    let elsewhere = pods
        .list(&ListParams::default().fields("spec.nodeName=node-2"))
        .await
        .unwrap();
    assert!(elsewhere.items.is_empty());
    let in_ns = pods
        .list(&ListParams::default().fields("metadata.namespace=default"))
        .await
        .unwrap();
    assert!(in_ns.items.is_empty());

    assert_eq!(
        status_of(api.list(&ListParams::default().fields("data.k=v")).await).0,
        400
    );
    assert_eq!(
        status_of(api.list(&ListParams::default().labels("app in (web")).await).0,
        400
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn pagination_is_consistent_and_stale_continue_expires() {
    let sim = common::start_config(
        common::config(),
        scs_kaas_sim::server::Options { history: 40 },
    )
    .await;
    let c = client(&sim, "admin").await;
    namespace(&c, "page").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "page");
    for i in 0..25 {
        api.create(&PostParams::default(), &cm(&format!("cm-{i:02}"), &[]))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    let mut first_rv = None;
    loop {
        let mut lp = ListParams::default().limit(10);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.unwrap();
        pages += 1;
        if pages == 1 {
            first_rv = page.metadata.resource_version.clone();
            // A change after the first page must not show up in the later pages.
            api.create(&PostParams::default(), &cm("cm-99", &[]))
                .await
                .unwrap();
        } else {
            assert_eq!(
                page.metadata.resource_version, first_rv,
                "pages share one snapshot"
            );
        }
        seen.extend(page.items.into_iter().map(|i| i.metadata.name.unwrap()));
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..25).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(seen, expected);

    // A token whose snapshot fell out of the kept history is 410 Expired.
    let first = api.list(&ListParams::default().limit(5)).await.unwrap();
    let stale = first.metadata.continue_.unwrap();
    for i in 0..50 {
        api.patch(
            "cm-00",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"n": i.to_string()}})),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        status_of(
            api.list(&ListParams::default().limit(5).continue_token(&stale))
                .await
        ),
        (410, "Expired".into())
    );
    assert_eq!(
        status_of(
            api.list(&ListParams::default().continue_token("garbage!"))
                .await
        )
        .0,
        400
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn watch_sees_added_modified_deleted_and_expired() {
    let sim = common::start_config(
        common::config(),
        scs_kaas_sim::server::Options { history: 20 },
    )
    .await;
    let c = client(&sim, "admin").await;
    namespace(&c, "w").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "w");
    let start_rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = api
        .watch(&WatchParams::default().timeout(30), &start_rv)
        .await
        .unwrap()
        .boxed();
    api.create(&PostParams::default(), &cm("x", &[]))
        .await
        .unwrap();
    api.patch(
        "x",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "2"}})),
    )
    .await
    .unwrap();
    api.delete("x", &DeleteParams::default()).await.unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(20), stream.try_next())
            .await
            .expect("event in time")
            .unwrap()
            .unwrap();
        kinds.push(match event {
            WatchEvent::Added(o) => ("ADDED", o.metadata.name.unwrap()),
            WatchEvent::Modified(o) => ("MODIFIED", o.metadata.name.unwrap()),
            WatchEvent::Deleted(o) => ("DELETED", o.metadata.name.unwrap()),
            other => panic!("unexpected {other:?}"),
        });
    }
    assert_eq!(
        kinds,
        [
            ("ADDED", "x".to_string()),
            ("MODIFIED", "x".into()),
            ("DELETED", "x".into())
        ]
    );

    // Push the start out of the kept history: the watch answers with a 410 ERROR event.
    api.create(&PostParams::default(), &cm("y", &[]))
        .await
        .unwrap();
    for i in 0..30 {
        api.patch(
            "y",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"n": i.to_string()}})),
        )
        .await
        .unwrap();
    }
    let mut stale = api
        .watch(&WatchParams::default().timeout(30), &start_rv)
        .await
        .unwrap()
        .boxed();
    match tokio::time::timeout(Duration::from_secs(20), stale.try_next())
        .await
        .unwrap()
        .unwrap()
    {
        Some(WatchEvent::Error(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"))
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn dry_run_persists_nothing() {
    let sim = start().await;
    let c = client(&sim, "admin").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    let before = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version;
    let answered = api
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &cm("dry", &[]),
        )
        .await
        .unwrap();
    assert_eq!(answered.metadata.name.as_deref(), Some("dry"));
    assert_eq!(status_of(api.get("dry").await).0, 404);
    let after = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version;
    assert_eq!(
        before, after,
        "a dry run commits no resourceVersion (hence no watch event)"
    );
    // Dry-run delete keeps the object.
    api.create(&PostParams::default(), &cm("keep", &[]))
        .await
        .unwrap();
    api.delete(
        "keep",
        &DeleteParams {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(api.get("keep").await.is_ok());
    sim.shutdown().await;
}

#[tokio::test]
async fn error_codes_match_the_real_server() {
    let sim = start().await;
    let c = client(&sim, "admin").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    api.create(&PostParams::default(), &cm("dup", &[]))
        .await
        .unwrap();
    assert_eq!(
        status_of(api.create(&PostParams::default(), &cm("dup", &[])).await),
        (409, "AlreadyExists".into())
    );
    assert_eq!(
        status_of(api.get("missing").await),
        (404, "NotFound".into())
    );
    let nowhere: Api<ConfigMap> = Api::namespaced(c.clone(), "no-such-ns");
    assert_eq!(
        status_of(nowhere.create(&PostParams::default(), &cm("x", &[])).await),
        (404, "NotFound".into())
    );
    // Server-side apply needs an object that says what it is; a proper one is applied.
    assert_eq!(
        status_of(
            api.patch("dup", &PatchParams::apply("t"), &Patch::Apply(json!({})))
                .await
        ),
        (400, "BadRequest".into())
    );
    let applied = api
        .patch(
            "dup",
            &PatchParams::apply("t"),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "dup"}, "data": {"k": "v"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        applied
            .data
            .unwrap_or_default()
            .get("k")
            .map(String::as_str),
        Some("v")
    );
    let (code, body) = raw(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/dup",
        "application/apply-patch+yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dup}\n",
    )
    .await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("fieldManager"),
        "{body}"
    );
    let (code, body) = raw(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/pods/absent/status?fieldManager=t",
        "application/apply-patch+yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: absent}\nstatus: {phase: Running}\n",
    )
    .await;
    assert_eq!(code, 404, "{body}");

    let path = "/api/v1/namespaces/default/configmaps";
    let (code, body) = raw(
        &c,
        "POST",
        path,
        "application/json",
        r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}"#,
    )
    .await;
    assert_eq!((code, body["reason"].as_str()), (422, Some("Invalid")));
    let (code, body) = raw(
        &c,
        "POST",
        path,
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}"#,
    )
    .await;
    assert_eq!((code, body["reason"].as_str()), (422, Some("Invalid")));
    let (code, _) = raw(
        &c,
        "POST",
        path,
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}"#,
    )
    .await;
    assert_eq!(code, 422);
    let (code, body) = raw(&c, "POST", path, "application/json", "{not json").await;
    assert_eq!((code, body["reason"].as_str()), (400, Some("BadRequest")));
    let (code, _) = raw(
        &c,
        "PUT",
        &format!("{path}/dup"),
        "application/json",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"}}"#,
    )
    .await;
    assert_eq!(code, 422);
    let (code, body) = raw(&c, "POST", &format!("{path}/dup"), "application/json", "{}").await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (405, Some("MethodNotAllowed"))
    );
    let (code, _) = raw(
        &c,
        "PATCH",
        &format!("{path}/dup"),
        "application/json-patch+json",
        r#"[{"op":"test","path":"/data/k","value":"no"}]"#,
    )
    .await;
    assert_eq!(code, 422);
    let (code, _) = raw(
        &c,
        "PATCH",
        &format!("{path}/dup"),
        "application/merge-patch+json",
        "[[",
    )
    .await;
    assert_eq!(code, 400);
    let (code, _) = raw(&c, "GET", "/api/v1/widgets", "application/json", "").await;
    assert_eq!(code, 404);
    let (code, body) = raw(&c, "GET", "/version", "application/json", "").await;
    assert_eq!(
        (code, body["gitVersion"].as_str(), body["minor"].as_str()),
        (200, Some("v1.35.1"), Some("35"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_tokens_get_401_and_read_only_users_403() {
    let sim = start().await;
    let viewer = client(&sim, "viewer").await;
    let nodes: Api<Node> = Api::all(viewer.clone());
    assert_eq!(
        nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    let cms: Api<ConfigMap> = Api::namespaced(viewer.clone(), "x");
    match cms.create(&PostParams::default(), &cm("nope", &[])).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
            assert_eq!(
                status.message,
                "configmaps is forbidden: User \"viewer\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"x\""
            );
        }
        other => panic!("expected 403, got {other:?}"),
    }

    let yaml = sim
        .kubeconfig_yaml("admin")
        .replace(common::ADMIN_TOKEN, "wrong-token");
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let stranger = kube::Client::try_from(config).unwrap();
    let result = Api::<Node>::all(stranger)
        .list(&ListParams::default())
        .await;
    assert_eq!(status_of(result), (401, "Unauthorized".into()));
    sim.shutdown().await;
}

#[tokio::test]
async fn namespace_deletion_cascades_through_terminating() {
    let sim = start().await;
    let c = client(&sim, "admin").await;
    namespace(&c, "doomed").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "doomed");
    api.create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap();
    let namespaces: Api<Namespace> = Api::all(c.clone());
    let watch_from = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut events = namespaces
        .watch(
            &WatchParams::default()
                .fields("metadata.name=doomed")
                .timeout(30),
            &watch_from,
        )
        .await
        .unwrap()
        .boxed();
    namespaces
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let mut phases = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), events.try_next())
            .await
            .unwrap()
            .unwrap()
        {
            Some(WatchEvent::Modified(ns)) => {
                phases.push(ns.status.and_then(|s| s.phase).unwrap_or_default())
            }
            Some(WatchEvent::Deleted(_)) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(phases, ["Terminating"]);
    assert_eq!(status_of(api.get("a").await).0, 404);
    assert_eq!(status_of(namespaces.get("doomed").await).0, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn creating_in_a_terminating_namespace_is_forbidden() {
    // Catching a deleted namespace between Terminating and gone is racy; a scenario namespace
    // that is Terminating holds still.
    let mut config = common::config();
    config.objects.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ending"}, "status": {"phase": "Terminating"}}));
    let sim = common::start_config(config, Default::default()).await;
    let c = client(&sim, "admin").await;
    let api: Api<ConfigMap> = Api::namespaced(c, "ending");
    assert_eq!(
        status_of(api.create(&PostParams::default(), &cm("late", &[])).await),
        (403, "Forbidden".into())
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn kubeconfig_file_is_written_atomically_with_every_user() {
    let sim = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&path).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    assert_eq!(kubeconfig.current_context.as_deref(), Some("admin"));
    let contexts: Vec<String> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
    assert_eq!(contexts, ["admin", "viewer"]);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left behind"
    );
    sim.shutdown().await;
}

/// Every kind issue 2 names: (apiVersion, plural, kind, namespaced).
const ISSUE_KINDS: &[(&str, &str, &str, bool)] = &[
    ("v1", "namespaces", "Namespace", false),
    ("v1", "nodes", "Node", false),
    ("v1", "pods", "Pod", true),
    ("v1", "services", "Service", true),
    ("v1", "endpoints", "Endpoints", true),
    (
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
    ),
    ("v1", "persistentvolumes", "PersistentVolume", false),
    ("v1", "configmaps", "ConfigMap", true),
    ("v1", "events", "Event", true),
    ("v1", "serviceaccounts", "ServiceAccount", true),
    ("apps/v1", "deployments", "Deployment", true),
    ("apps/v1", "replicasets", "ReplicaSet", true),
    ("apps/v1", "daemonsets", "DaemonSet", true),
    ("apps/v1", "statefulsets", "StatefulSet", true),
    ("batch/v1", "jobs", "Job", true),
    ("batch/v1", "cronjobs", "CronJob", true),
    ("storage.k8s.io/v1", "storageclasses", "StorageClass", false),
    ("storage.k8s.io/v1", "csidrivers", "CSIDriver", false),
    ("storage.k8s.io/v1", "csinodes", "CSINode", false),
    ("coordination.k8s.io/v1", "leases", "Lease", true),
    (
        "networking.k8s.io/v1",
        "networkpolicies",
        "NetworkPolicy",
        true,
    ),
];

#[tokio::test]
async fn every_kind_of_the_issue_is_discovered_and_served() {
    let sim = start().await;
    let c = client(&sim, "admin").await;
    // The groups are announced at /apis.
    let (code, groups) = raw(&c, "GET", "/apis", "application/json", "").await;
    assert_eq!(code, 200);
    for group in ["apps", "batch", "storage.k8s.io", "networking.k8s.io"] {
        assert!(
            groups["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["name"] == group
                    && g["versions"][0]["groupVersion"] == format!("{group}/v1")),
            "{group} missing from /apis: {groups}"
        );
    }
    let (code, core) = raw(&c, "GET", "/api", "application/json", "").await;
    assert_eq!((code, core["versions"][0].as_str()), (200, Some("v1")));
    for &(api_version, plural, kind, namespaced) in ISSUE_KINDS {
        let base = if api_version == "v1" {
            "/api/v1".to_string()
        } else {
            format!("/apis/{api_version}")
        };
        let (code, discovery) = raw(&c, "GET", &base, "application/json", "").await;
        assert_eq!(code, 200, "{base}");
        let entry = discovery["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == plural)
            .unwrap_or_else(|| panic!("{plural} missing from {base}"));
        assert_eq!(
            (entry["kind"].as_str(), entry["namespaced"].as_bool()),
            (Some(kind), Some(namespaced)),
            "{plural}"
        );
        let verbs = entry["verbs"].to_string();
        for verb in [
            "create", "delete", "get", "list", "patch", "update", "watch",
        ] {
            assert!(verbs.contains(verb), "{plural} lacks {verb}: {verbs}");
        }

        let collection = if namespaced {
            format!("{base}/namespaces/default/{plural}")
        } else {
            format!("{base}/{plural}")
        };
        let name = format!("probe-{}", plural.trim_end_matches('s'));
        let body = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
        let (code, created) = raw(
            &c,
            "POST",
            &collection,
            "application/json",
            &body.to_string(),
        )
        .await;
        assert_eq!(code, 201, "create {kind}: {created}");
        let item = format!("{collection}/{name}");
        let (code, got) = raw(&c, "GET", &item, "application/json", "").await;
        assert_eq!(
            (code, got["kind"].as_str()),
            (200, Some(kind)),
            "get {kind}"
        );
        let meta = &got["metadata"];
        assert!(
            meta["uid"].is_string()
                && meta["resourceVersion"].is_string()
                && meta["creationTimestamp"].is_string(),
            "{kind}: {meta}"
        );
        let (code, patched) = raw(
            &c,
            "PATCH",
            &item,
            "application/merge-patch+json",
            r#"{"metadata":{"labels":{"seen":"yes"}}}"#,
        )
        .await;
        assert_eq!(
            (code, patched["metadata"]["labels"]["seen"].as_str()),
            (200, Some("yes")),
            "patch {kind}"
        );
        let (code, list) = raw(
            &c,
            "GET",
            &format!("{collection}?labelSelector=seen%3Dyes"),
            "application/json",
            "",
        )
        .await;
        assert_eq!(code, 200, "list {kind}");
        assert_eq!(list["kind"].as_str(), Some(format!("{kind}List").as_str()));
        let names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["metadata"]["name"].as_str())
            .collect();
        assert_eq!(names, [name.as_str()], "list {kind}");
        let (code, _) = raw(&c, "DELETE", &item, "application/json", "").await;
        assert_eq!(code, 200, "delete {kind}");
        // Namespaces go through Terminating; everything else is gone at once.
        if kind != "Namespace" {
            let (code, _) = raw(&c, "GET", &item, "application/json", "").await;
            assert_eq!(code, 404, "{kind} after delete");
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn dry_run_update_and_patch_answer_the_would_be_object_and_persist_nothing() {
    let sim = start().await;
    let c = client(&sim, "admin").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    let stored = api
        .create(&PostParams::default(), &cm("held", &[("app", "a")]))
        .await
        .unwrap();
    let rv = stored.metadata.resource_version.clone();
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };

    let mut changed = stored.clone();
    changed.data = Some(BTreeMap::from([("k".to_string(), "replaced".to_string())]));
    let answered = api.replace("held", &dry, &changed).await.unwrap();
    assert_eq!(
        answered.data.unwrap()["k"],
        "replaced",
        "the would-be object"
    );
    assert_eq!(answered.metadata.uid, stored.metadata.uid);

    let patch_dry = PatchParams {
        dry_run: true,
        ..Default::default()
    };
    let answered = api
        .patch(
            "held",
            &patch_dry,
            &Patch::Merge(json!({"data": {"k": "patched"}, "metadata": {"labels": {"app": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(answered.data.unwrap()["k"], "patched");
    assert_eq!(answered.metadata.labels.unwrap()["app"], "b");
    let (code, answered) = raw(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/held?dryRun=All",
        "application/json-patch+json",
        r#"[{"op": "replace", "path": "/data/k", "value": "json-patched"}]"#,
    )
    .await;
    assert_eq!(
        (code, answered["data"]["k"].as_str()),
        (200, Some("json-patched"))
    );

    // Nothing of it was stored, and no resourceVersion was spent.
    let now = api.get("held").await.unwrap();
    assert_eq!(now.data.unwrap()["k"], "v");
    assert_eq!(now.metadata.labels.unwrap()["app"], "a");
    assert_eq!(now.metadata.resource_version, rv);
    let list_rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version;
    assert_eq!(list_rv, rv, "no write was committed after the create");
    // The same update without dry run does change it (the dry runs were not refused).
    api.replace("held", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_eq!(
        api.get("held").await.unwrap().data.unwrap()["k"],
        "replaced"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn field_selectors_on_namespace_phase_and_not_equal() {
    let sim = start().await;
    let c = client(&sim, "admin").await;
    let pods: Api<Pod> = Api::all(c.clone());
    let names = |list: kube::api::ObjectList<Pod>| -> Vec<String> {
        list.items
            .into_iter()
            .map(|i| i.metadata.name.unwrap())
            .collect()
    };
    for (selector, expected) in [
        ("metadata.namespace=kube-system", vec!["coredns-1"]),
        ("metadata.namespace=default", vec![]),
        ("status.phase=Running", vec!["coredns-1"]),
        ("status.phase=Pending", vec![]),
        ("status.phase!=Running", vec![]),
        ("status.phase!=Pending", vec!["coredns-1"]),
        ("metadata.namespace!=kube-system", vec![]),
        ("spec.nodeName!=node-2", vec!["coredns-1"]),
        ("spec.nodeName!=node-1", vec![]),
    ] {
        let list = pods
            .list(&ListParams::default().fields(selector))
            .await
            .unwrap();
        assert_eq!(names(list), expected, "{selector}");
    }
    // On a kind without extra fields, `!=` on the common fields through the API.
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    for name in ["a", "b", "c"] {
        api.create(&PostParams::default(), &cm(name, &[]))
            .await
            .unwrap();
    }
    let list = api
        .list(&ListParams::default().fields("metadata.name!=b"))
        .await
        .unwrap();
    let got: Vec<String> = list
        .items
        .into_iter()
        .map(|i| i.metadata.name.unwrap())
        .collect();
    assert_eq!(got, ["a", "c"]);
    let nodes: Api<Node> = Api::all(c);
    let list = nodes
        .list(&ListParams::default().fields("metadata.name!=node-2,metadata.name!=node-3"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_query_values_are_400_naming_the_parameter() {
    let sim = start().await;
    let c = client(&sim, "admin").await;
    for (query, parameter) in [
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("watch=maybe", "watch"),
        ("timeoutSeconds=soon&watch=1", "timeoutSeconds"),
        (
            "resourceVersionMatch=Exact&resourceVersion=x",
            "resourceVersion",
        ),
    ] {
        let (code, body) = raw(
            &c,
            "GET",
            &format!("/api/v1/namespaces/default/configmaps?{query}"),
            "application/json",
            "",
        )
        .await;
        assert_eq!(
            (code, body["kind"].as_str(), body["reason"].as_str()),
            (400, Some("Status"), Some("BadRequest")),
            "{query}: {body}"
        );
        let message = body["message"].as_str().unwrap_or("");
        assert!(message.contains(parameter), "{query}: {message}");
    }
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#;
    for (method, path) in [
        ("POST", "/api/v1/namespaces/default/configmaps?dryRun=X"),
        ("PUT", "/api/v1/namespaces/default/configmaps/x?dryRun=X"),
        ("DELETE", "/api/v1/namespaces/default/configmaps/x?dryRun=X"),
    ] {
        let (code, status) = raw(&c, method, path, "application/json", body).await;
        assert_eq!(
            (code, status["kind"].as_str()),
            (400, Some("Status")),
            "{method} {path}"
        );
        let message = status["message"].as_str().unwrap_or("");
        assert!(message.contains("dryRun"), "{method}: {message}");
    }
    let (code, status) = raw(
        &c,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/x?dryRun=X",
        "application/merge-patch+json",
        "{}",
    )
    .await;
    assert_eq!(code, 400, "{status}");
    assert!(status["message"].as_str().unwrap_or("").contains("dryRun"));
    // Well-formed values of the same parameters are fine, and nothing was created.
    for query in ["limit=2", "watch=false", "watch=0"] {
        let (code, body) = raw(
            &c,
            "GET",
            &format!("/api/v1/namespaces/default/configmaps?{query}"),
            "application/json",
            "",
        )
        .await;
        assert_eq!(
            (code, body["kind"].as_str()),
            (200, Some("ConfigMapList")),
            "{query}"
        );
    }
    let api: Api<ConfigMap> = Api::namespaced(c, "default");
    assert_eq!(status_of(api.get("x").await).0, 404);
    sim.shutdown().await;
}

/// Runs `command` in `container` of kube-system/coredns-1 through kube's `Api::exec`
/// (WebSocket); returns stdout, stderr and the final status.
async fn exec_in_coredns(
    client: &kube::Client,
    command: &[&str],
) -> Result<
    (
        String,
        String,
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Status,
    ),
    kube::Error,
> {
    use tokio::io::AsyncReadExt;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let params = kube::api::AttachParams::default()
        .container("coredns")
        .stderr(true);
    let mut attached = pods.exec("coredns-1", command.to_vec(), &params).await?;
    let (mut out, mut err) = (String::new(), String::new());
    let mut stdout = attached.stdout().expect("stdout requested");
    let mut stderr = attached.stderr().expect("stderr requested");
    let status = attached.take_status().expect("status channel");
    let (a, b) = tokio::join!(
        stdout.read_to_string(&mut out),
        stderr.read_to_string(&mut err)
    );
    a.unwrap();
    b.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), status)
        .await
        .expect("status arrives")
        .expect("status is sent");
    attached.join().await.expect("the connection ends cleanly");
    Ok((out, err, status))
}

#[tokio::test]
async fn exec_runs_simulated_commands_over_websocket_with_exit_codes() {
    let sim = start().await;
    let admin = client(&sim, "admin").await;
    let (out, err, status) = exec_in_coredns(&admin, &["echo", "hello", "sim"])
        .await
        .unwrap();
    assert_eq!((out.as_str(), err.as_str()), ("hello sim\n", ""));
    assert_eq!(status.status.as_deref(), Some("Success"));

    let (_, _, status) = exec_in_coredns(&admin, &["false"]).await.unwrap();
    assert_eq!(status.status.as_deref(), Some("Failure"));
    assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
    let cause = &status.details.unwrap().causes.unwrap()[0];
    assert_eq!(
        (cause.reason.as_deref(), cause.message.as_deref()),
        (Some("ExitCode"), Some("1"))
    );

    let (_, err, status) = exec_in_coredns(&admin, &["tar", "cf", "-", "/"])
        .await
        .unwrap();
    assert!(err.contains("executable file not found"), "{err}");
    let cause = &status.details.unwrap().causes.unwrap()[0];
    assert_eq!(cause.message.as_deref(), Some("127"));

    let (_, err, status) = exec_in_coredns(&admin, &["cat", "/etc/resolv.conf"])
        .await
        .unwrap();
    assert!(err.contains("No such file"), "{err}");
    assert_eq!(status.status.as_deref(), Some("Failure"));

    // Errors before the upgrade come back as Status, like the real API server's.
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "kube-system");
    let wrong = kube::api::AttachParams::default().container("nope");
    let result = pods.exec("coredns-1", vec!["true"], &wrong).await;
    assert!(
        matches!(&result, Err(kube::Error::Api(s)) if s.code == 400 && s.message.contains("container nope is not valid")),
        "{:?}",
        result.err()
    );
    let result = pods
        .exec("ghost", vec!["true"], &kube::api::AttachParams::default())
        .await;
    assert!(
        matches!(&result, Err(kube::Error::Api(s)) if s.code == 404),
        "{:?}",
        result.err()
    );
    let viewer = client(&sim, "viewer").await;
    let result = exec_in_coredns(&viewer, &["true"]).await;
    assert!(
        matches!(&result, Err(kube::Error::Api(s)) if s.code == 403),
        "{:?}",
        result.err()
    );
}

/// A request with `Accept: application/vnd.kubernetes.protobuf` (client-go's default) and the
/// raw answer bytes.
async fn protobuf_get(client: &kube::Client, path: &str) -> (u16, String, Vec<u8>) {
    let request = http::Request::builder()
        .method("GET")
        .uri(path)
        .header(
            "accept",
            "application/vnd.kubernetes.protobuf, application/json",
        )
        .body(Vec::new())
        .unwrap();
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .expect("request is sent");
    let code = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (code, content_type, bytes.to_vec())
}

fn unknown_raw(body: &[u8]) -> (String, Vec<u8>) {
    use prost::Message;
    let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(
        body.strip_prefix(b"k8s\0").expect("protobuf magic"),
    )
    .expect("runtime.Unknown");
    (
        unknown.type_meta.unwrap().kind.unwrap_or_default(),
        unknown.raw.unwrap_or_default(),
    )
}

#[tokio::test]
async fn protobuf_answers_decode_with_the_k8s_pb_types() {
    use prost::Message;
    let sim = start().await;
    let client = client(&sim, "admin").await;
    let (code, content_type, body) = protobuf_get(&client, "/api/v1/pods?limit=500").await;
    assert_eq!(code, 200);
    assert_eq!(content_type, "application/vnd.kubernetes.protobuf");
    let (kind, raw) = unknown_raw(&body);
    assert_eq!(kind, "PodList");
    let list = k8s_pb::api::core::v1::PodList::decode(&raw[..]).unwrap();
    assert_eq!(list.items.len(), 1);
    let pod = &list.items[0];
    assert_eq!(
        pod.metadata.as_ref().unwrap().name.as_deref(),
        Some("coredns-1")
    );
    assert_eq!(
        pod.spec.as_ref().unwrap().node_name.as_deref(),
        Some("node-1")
    );
    assert!(
        list.metadata
            .unwrap()
            .resource_version
            .is_some_and(|rv| !rv.is_empty())
    );

    let (code, _, body) = protobuf_get(&client, "/api/v1/nodes/node-2").await;
    assert_eq!(code, 200);
    let (kind, raw) = unknown_raw(&body);
    assert_eq!(kind, "Node");
    let node = k8s_pb::api::core::v1::Node::decode(&raw[..]).unwrap();
    assert_eq!(
        node.status
            .unwrap()
            .node_info
            .unwrap()
            .kubelet_version
            .as_deref(),
        Some("v1.35.1")
    );

    // A watch answers with length-prefixed WatchEvent frames.
    let (code, content_type, body) = protobuf_get(
        &client,
        "/api/v1/namespaces?watch=true&resourceVersion=0&timeoutSeconds=1",
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        content_type,
        "application/vnd.kubernetes.protobuf;stream=watch"
    );
    let mut rest = &body[..];
    let mut names = Vec::new();
    while rest.len() >= 4 {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let event =
            k8s_pb::apimachinery::pkg::apis::meta::v1::WatchEvent::decode(&rest[4..4 + len])
                .unwrap();
        assert_eq!(event.r#type.as_deref(), Some("ADDED"));
        let (kind, raw) = unknown_raw(&event.object.unwrap().raw.unwrap());
        assert_eq!(kind, "Namespace");
        let ns = k8s_pb::api::core::v1::Namespace::decode(&raw[..]).unwrap();
        names.push(ns.metadata.unwrap().name.unwrap());
        rest = &rest[4 + len..];
    }
    assert!(rest.is_empty());
    names.sort();
    assert_eq!(names, ["default", "kube-system"]);
    sim.shutdown().await;
}

/// 100 watchers of one kind all get the change (the event is serialized once and shared).
#[tokio::test]
async fn a_change_reaches_100_watchers() {
    let sim = start().await;
    let client = client(&sim, "admin").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut streams = Vec::new();
    for _ in 0..100 {
        let stream = api
            .watch(&kube::api::WatchParams::default().timeout(30), "0")
            .await
            .unwrap()
            .boxed();
        streams.push(stream);
    }
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "fan-out"}, "data": {"k": "v"}}))
            .unwrap();
    api.create(&PostParams::default(), &cm).await.unwrap();
    for mut stream in streams {
        loop {
            match stream.try_next().await.unwrap() {
                Some(kube::api::WatchEvent::Added(cm))
                    if cm.metadata.name.as_deref() == Some("fan-out") =>
                {
                    break;
                }
                Some(_) => continue,
                None => panic!("watch ended before the change arrived"),
            }
        }
    }
    sim.shutdown().await;
}

/// `DeleteOptions` as client-go sends it in protobuf: the `k8s\0` magic and a `runtime.Unknown`
/// around the message, encoded with the `k8s-pb` types.
fn protobuf_delete_options(
    options: k8s_pb::apimachinery::pkg::apis::meta::v1::DeleteOptions,
) -> Vec<u8> {
    use prost::Message;
    let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown {
        type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
            api_version: Some("v1".into()),
            kind: Some("DeleteOptions".into()),
        }),
        raw: Some(options.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

/// A DELETE of `path` with a protobuf body; the status code and the answer as JSON.
async fn protobuf_delete(
    client: &kube::Client,
    path: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let request = http::Request::builder()
        .method("DELETE")
        .uri(path)
        .header("content-type", "application/vnd.kubernetes.protobuf")
        .header("accept", "application/json")
        .body(body)
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
    (code, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test]
async fn protobuf_delete_options_choose_propagation_dry_run_and_preconditions() {
    use k8s_pb::apimachinery::pkg::apis::meta::v1::{DeleteOptions, Preconditions};
    let sim = start().await;
    let client = client(&sim, "admin").await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    // An owner and a dependent holding a finalizer, so a foreground deletion must wait for it.
    let family = |owner: &'static str, child: &'static str| {
        let maps = maps.clone();
        async move {
            let made = maps
                .create(&PostParams::default(), &cm(owner, &[]))
                .await
                .unwrap();
            let mut dependent = cm(child, &[]);
            dependent.metadata.owner_references = Some(vec![
                k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    name: owner.into(),
                    uid: made.metadata.uid.clone().unwrap(),
                    ..Default::default()
                },
            ]);
            dependent.metadata.finalizers = Some(vec!["example.com/hold".into()]);
            maps.create(&PostParams::default(), &dependent)
                .await
                .unwrap();
            made.metadata.uid.unwrap()
        }
    };
    let path = |name: &str| format!("/api/v1/namespaces/default/configmaps/{name}");
    let options = |policy: &str| DeleteOptions {
        propagation_policy: Some(policy.into()),
        ..Default::default()
    };

    // Foreground: the owner waits, marked, for its dependent (the default would remove it now).
    family("fg", "fg-child").await;
    let (code, answer) = protobuf_delete(
        &client,
        &path("fg"),
        protobuf_delete_options(options("Foreground")),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    let owner = maps
        .get("fg")
        .await
        .expect("the owner waits for its dependent");
    assert!(owner.metadata.deletion_timestamp.is_some());
    assert!(
        owner
            .metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"foregroundDeletion".to_string())
    );
    let child = maps.get("fg-child").await.unwrap();
    assert!(
        child.metadata.deletion_timestamp.is_some(),
        "the dependent is being deleted"
    );

    // Orphan: the owner goes, the dependent stays untouched.
    family("orphan", "orphan-child").await;
    let (code, answer) = protobuf_delete(
        &client,
        &path("orphan"),
        protobuf_delete_options(options("Orphan")),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    assert!(maps.get_opt("orphan").await.unwrap().is_none());
    let child = maps.get("orphan-child").await.unwrap();
    assert!(
        child.metadata.deletion_timestamp.is_none(),
        "an orphan is not deleted"
    );

    // dryRun: nothing happens.
    maps.create(&PostParams::default(), &cm("dry", &[]))
        .await
        .unwrap();
    let dry = DeleteOptions {
        dry_run: vec!["All".into()],
        ..Default::default()
    };
    let (code, answer) = protobuf_delete(&client, &path("dry"), protobuf_delete_options(dry)).await;
    assert_eq!(code, 200, "{answer}");
    assert!(
        maps.get_opt("dry").await.unwrap().is_some(),
        "a dry run deletes nothing"
    );

    // Preconditions: a uid that is not the object's is a conflict; its own uid deletes it.
    let uid = maps
        .create(&PostParams::default(), &cm("pre", &[]))
        .await
        .unwrap()
        .metadata
        .uid;
    let with_uid = |uid: &str| DeleteOptions {
        preconditions: Some(Preconditions {
            uid: Some(uid.into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    let (code, answer) = protobuf_delete(
        &client,
        &path("pre"),
        protobuf_delete_options(with_uid("not-its-uid")),
    )
    .await;
    assert_eq!(code, 409, "{answer}");
    assert!(maps.get_opt("pre").await.unwrap().is_some());
    let (code, answer) = protobuf_delete(
        &client,
        &path("pre"),
        protobuf_delete_options(with_uid(&uid.unwrap())),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    assert!(maps.get_opt("pre").await.unwrap().is_none());

    // A body that is not a protobuf DeleteOptions is a 400 saying what is wrong.
    maps.create(&PostParams::default(), &cm("kept", &[]))
        .await
        .unwrap();
    let (code, answer) = protobuf_delete(
        &client,
        &path("kept"),
        b"{\"kind\":\"DeleteOptions\"}".to_vec(),
    )
    .await;
    assert_eq!(code, 400, "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("protobuf") && message.contains("magic"),
        "{message}"
    );
    let mut other = protobuf_delete_options(options("Orphan"));
    let at = other
        .windows(13)
        .position(|w| w == b"DeleteOptions")
        .unwrap();
    other[at..at + 13].copy_from_slice(b"DeleteOptionz");
    let (code, answer) = protobuf_delete(&client, &path("kept"), other).await;
    assert_eq!(code, 400, "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("must be a DeleteOptions, not \"DeleteOptionz\""),
        "{message}"
    );
    let mut truncated = protobuf_delete_options(options("Orphan"));
    truncated.truncate(truncated.len() - 3);
    let (code, answer) = protobuf_delete(&client, &path("kept"), truncated).await;
    assert_eq!(code, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("malformed"),
        "{answer}"
    );
    assert!(
        maps.get_opt("kept").await.unwrap().is_some(),
        "a refused delete deletes nothing"
    );

    // The deprecated orphanDependents still orphans, but not together with a policy.
    family("old", "old-child").await;
    let both = DeleteOptions {
        orphan_dependents: Some(true),
        ..options("Background")
    };
    let (code, answer) =
        protobuf_delete(&client, &path("old"), protobuf_delete_options(both)).await;
    assert_eq!(code, 422, "{answer}");
    let orphan = DeleteOptions {
        orphan_dependents: Some(true),
        ..Default::default()
    };
    let (code, answer) =
        protobuf_delete(&client, &path("old"), protobuf_delete_options(orphan)).await;
    assert_eq!(code, 200, "{answer}");
    let child = maps.get("old-child").await.unwrap();
    assert!(child.metadata.deletion_timestamp.is_none(), "orphaned");

    // A collection delete reads its DeleteOptions too: a dry run removes nothing.
    let before = maps.list(&ListParams::default()).await.unwrap().items.len();
    let dry = DeleteOptions {
        dry_run: vec!["All".into()],
        ..Default::default()
    };
    let (code, answer) = protobuf_delete(
        &client,
        "/api/v1/namespaces/default/configmaps",
        protobuf_delete_options(dry),
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(
        maps.list(&ListParams::default()).await.unwrap().items.len(),
        before
    );
}
