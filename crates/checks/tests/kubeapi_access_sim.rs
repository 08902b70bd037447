//! `kubeapi-access-check` end to end: the workload cluster is one in-process sim (its kubeconfig
//! endpoint is what API-02/API-04 judge), the Cluster API management cluster a second one
//! serving `scenarios/mgmt-cluster.yaml` (API-01 through `-a mgmt_kubeconfig=`). API-03's probe
//! pod connects from inside the cluster to the sim's own endpoint (`kubeapi-locked-out` blocks
//! that); the tests of the other rules switch it off.
//!
//! The sims listen on 127.0.0.1. Loopback is not a public address, so on the sim API-04 can
//! only report a non-public endpoint and API-02 only that such an endpoint says nothing about
//! the public load balancer, whatever the declaration; the public-endpoint cases of API-02
//! (FAIL from outside the list, INFO from inside, NAT) are in the judge's unit tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use scs_kaas_checks::CheckContext;
use scs_kaas_checks::registry;
use scs_kaas_core::finding::{Outcome, Severity, Status};
use scs_kaas_sim::server::{self, RunningSim};
use scs_kaas_sim::world::SimConfig;

mod common;

/// The declaration `scenarios/mgmt-cluster.yaml` is written against.
const DECLARED: &str = "192.0.2.0/24,198.51.100.0/25";
const MGMT_IP: &str = "203.0.113.10";

fn scenario(name: &str) -> SimConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(format!("{name}.yaml"));
    scs_kaas_sim::scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn start(config: SimConfig) -> RunningSim {
    server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the sim starts")
}

/// A workload-cluster sim with its kubeconfig written into `dir`.
struct Workload {
    sim: RunningSim,
    kubeconfig: PathBuf,
}

async fn workload(dir: &Path) -> Workload {
    workload_as(dir, "compliant", "viewer").await
}

/// A workload cluster serving scenario `name`, with a kubeconfig for `user`.
async fn workload_as(dir: &Path, name: &str, user: &str) -> Workload {
    let sim = start(scenario(name)).await;
    let kubeconfig = dir.join(format!("{name}-{user}.kubeconfig"));
    sim.write_kubeconfig_for(&kubeconfig, user).unwrap();
    Workload { sim, kubeconfig }
}

/// The mgmt scenario's sim, optionally keeping only the OpenStackClusters `keep` accepts, with
/// its kubeconfig written into `dir` for `user`.
async fn mgmt(
    dir: &Path,
    user: &str,
    keep: impl Fn(&serde_json::Value) -> bool,
) -> (RunningSim, PathBuf) {
    let mut config = scenario("mgmt-cluster");
    // A scenario streams its objects from `source`; take them all into `objects` to filter.
    let mut objects = config.initial_objects();
    objects.retain(|o| o["kind"] != "OpenStackCluster" || keep(o));
    config.objects = objects;
    config.source = None;
    let sim = start(config).await;
    let path = dir.join("mgmt.kubeconfig");
    sim.write_kubeconfig_for(&path, user).unwrap();
    (sim, path)
}

/// Runs the check with the API-03 probe switched off unless `args` say otherwise.
async fn check(w: &Workload, args: &[(&str, &str)]) -> Outcome {
    let mut args = args.to_vec();
    if !args.iter().any(|(k, _)| *k == "kubeapi_probe") {
        args.push(("kubeapi_probe", "off"));
    }
    check_as(w, &args, Vec::new()).await
}

/// Runs the check with every assignment as given and `denied` as the pre-flight found it.
async fn check_as(
    w: &Workload,
    args: &[(&str, &str)],
    denied: Vec<scs_kaas_checks::check::Access>,
) -> Outcome {
    let kubeconfig = kube::config::Kubeconfig::read_from(&w.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let ctx = CheckContext {
        client: kube::Client::try_from(config).unwrap(),
        kubeconfig: Some(w.kubeconfig.clone()),
        args: args
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        now: "2026-11-22T10:00:00Z".parse().unwrap(),
        deadline: Duration::from_secs(60),
        run_id: "0badcafe".into(),
        cache_dir: None,
        denied,
    };
    registry::find("kubeapi-access-check")
        .expect("registered")
        .run(&ctx)
        .await
}

fn dump(o: &Outcome) -> String {
    o.findings
        .iter()
        .map(|f| f.log_line())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The findings of `rule` at `severity`, as (object, message).
fn found(o: &Outcome, rule: &str, severity: Severity) -> Vec<(String, String)> {
    o.findings
        .iter()
        .filter(|f| f.rule == rule && f.severity == severity)
        .map(|f| (f.object.clone().unwrap_or_default(), f.message.clone()))
        .collect()
}

fn objects(o: &Outcome, rule: &str, severity: Severity) -> Vec<String> {
    found(o, rule, severity)
        .into_iter()
        .map(|(object, _)| object)
        .collect()
}

#[tokio::test]
async fn loopback_endpoint_is_reported_as_not_public() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path()).await;
    let server = format!("https://127.0.0.1:{}", w.sim.addr().port());
    let o = check(&w, &[]).await;
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    assert_eq!(
        found(&o, "API-04", Severity::Info),
        vec![(
            String::new(),
            format!(
                "API endpoint {server} has only non-public addresses (127.0.0.1): not reachable \
                 from the internet by address"
            )
        )],
        "{}",
        dump(&o)
    );
    // Nothing declared: no API-02 judgement, no API-01 without a management cluster; API-03
    // says it was switched off.
    assert!(
        o.findings
            .iter()
            .all(|f| f.rule == "API-04" || f.rule == "API-03"),
        "{}",
        dump(&o)
    );
    assert_eq!(
        found(&o, "API-03", Severity::Info),
        vec![(
            String::new(),
            "probe switched off (kubeapi_probe=off): reachability from inside the cluster not \
             tested"
                .to_owned()
        )]
    );
    w.sim.shutdown().await;
}

/// Whether the declared list contains this host (127.0.0.1) or not, and even with a public
/// vantage address outside the list: a connection to a loopback endpoint proves nothing about
/// the public load balancer, so API-02 never passes or fails here.
#[tokio::test]
async fn declared_list_against_a_loopback_endpoint_says_nothing_either_way() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path()).await;
    let cases: [&[(&str, &str)]; 4] = [
        &[("kubeapi_allowed_cidrs", "127.0.0.0/8")],
        &[("kubeapi_allowed_cidrs", "192.0.2.0/24")],
        &[
            ("kubeapi_allowed_cidrs", "192.0.2.0/24"),
            ("vantage_ip", "198.51.100.200"),
        ],
        &[("kubeapi_allowed_cidrs", "none")],
    ];
    for args in cases {
        let o = check(&w, args).await;
        assert_eq!(o.status, Status::Pass, "{args:?}: {}", dump(&o));
        let api02 = found(&o, "API-02", Severity::Info);
        assert_eq!(api02.len(), 1, "{args:?}: {}", dump(&o));
        assert!(
            api02[0].1.contains(
                "the endpoint is reached over a non-public address, so this vantage point says \
                 nothing about the restriction of the public load balancer"
            ),
            "{args:?}: {}",
            dump(&o)
        );
        let declared = args[0].1;
        let shown = if declared == "none" {
            "none (no external access)".to_owned()
        } else {
            declared.to_owned()
        };
        assert!(
            api02[0]
                .1
                .starts_with(&format!("declared allow-list {shown};")),
            "{args:?}: {}",
            dump(&o)
        );
    }
    // Declared public: nothing to contradict.
    let o = check(&w, &[("kubeapi_allowed_cidrs", "")]).await;
    assert!(
        found(&o, "API-02", Severity::Info).is_empty(),
        "{}",
        dump(&o)
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn mgmt_cluster_restricted_as_declared_passes_api01() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path()).await;
    let (m, mgmt_kc) = mgmt(dir.path(), "viewer", |o| {
        o["metadata"]["namespace"] == "tenant-a"
    })
    .await;
    let o = check(
        &w,
        &[
            ("kubeapi_allowed_cidrs", DECLARED),
            ("mgmt_ip", MGMT_IP),
            ("mgmt_kubeconfig", mgmt_kc.to_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    assert_eq!(
        found(&o, "API-01", Severity::Info),
        vec![
            (
                "openstackcluster/tenant-a/prod".to_owned(),
                "the API load balancer of cluster tenant-a/prod admits exactly the declared \
                 networks (192.0.2.0/24, 198.51.100.0/25, 203.0.113.10/32)"
                    .to_owned()
            ),
            (
                "openstackcluster/tenant-a/staging".to_owned(),
                "the API load balancer of cluster tenant-a/staging admits exactly the declared \
                 networks (192.0.2.0/24, 198.51.100.0/25, 203.0.113.10/32)"
                    .to_owned()
            ),
        ],
        "{}",
        dump(&o)
    );
    m.shutdown().await;
    w.sim.shutdown().await;
}

#[tokio::test]
async fn mgmt_cluster_with_open_and_drifted_clusters_fails_api01_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path()).await;
    let (m, mgmt_kc) = mgmt(dir.path(), "viewer", |_| true).await;
    let mgmt_kc = mgmt_kc.to_str().unwrap().to_owned();
    let o = check(
        &w,
        &[
            ("kubeapi_allowed_cidrs", DECLARED),
            ("mgmt_ip", MGMT_IP),
            ("mgmt_kubeconfig", &mgmt_kc),
        ],
    )
    .await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    let errors = found(&o, "API-01", Severity::Error);
    assert_eq!(
        objects(&o, "API-01", Severity::Error),
        [
            "openstackcluster/tenant-b/legacy",
            "openstackcluster/tenant-c/drifted"
        ],
        "{}",
        dump(&o)
    );
    assert!(
        errors[0].1.contains("admits 0.0.0.0/0")
            && errors[0]
                .1
                .contains("but the declared allow-list is 192.0.2.0/24, 198.51.100.0/25"),
        "{}",
        dump(&o)
    );
    assert!(
        errors[1]
            .1
            .ends_with("it admits undeclared 100.64.0.0/10 and lacks declared 198.51.100.0/25"),
        "{}",
        dump(&o)
    );
    // The change of tenant-c/pending has not reached the load balancer yet.
    let warnings = found(&o, "API-01", Severity::Warn);
    assert_eq!(warnings.len(), 1, "{}", dump(&o));
    assert_eq!(warnings[0].0, "openstackcluster/tenant-c/pending");
    assert!(warnings[0].1.contains("not applied yet"), "{}", dump(&o));
    // tenant-b/internal has no API load balancer; the tenant-a clusters are as declared.
    let info = objects(&o, "API-01", Severity::Info);
    for object in [
        "openstackcluster/tenant-b/internal",
        "openstackcluster/tenant-a/prod",
        "openstackcluster/tenant-a/staging",
        "openstackcluster/tenant-c/pending",
    ] {
        assert!(info.iter().any(|o| o == object), "{object}: {info:?}");
    }

    // Without a declaration the open cluster is still a warning, nothing fails.
    let o = check(&w, &[("mgmt_kubeconfig", &mgmt_kc)]).await;
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    let open = found(&o, "API-01", Severity::Warn);
    assert!(
        open.iter().any(
            |(object, message)| object == "openstackcluster/tenant-b/legacy"
                && message.contains("open to the internet")
        ),
        "{}",
        dump(&o)
    );
    m.shutdown().await;
    w.sim.shutdown().await;
}

#[tokio::test]
async fn mgmt_user_without_the_list_right_aborts_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path()).await;
    let mut config = scenario("mgmt-cluster");
    config.users.push(scs_kaas_sim::world::User {
        name: "nodes-only".into(),
        token: "nodes-only-token".into(),
        permission: scs_kaas_sim::world::Permission::Rules(vec![scs_kaas_sim::world::Rule {
            verbs: vec!["list".into()],
            groups: vec!["".into()],
            resources: vec!["nodes".into()],
            namespaces: Vec::new(),
        }]),
    });
    let m = start(config).await;
    let mgmt_kc = dir.path().join("mgmt.kubeconfig");
    m.write_kubeconfig_for(&mgmt_kc, "nodes-only").unwrap();
    let o = check(&w, &[("mgmt_kubeconfig", mgmt_kc.to_str().unwrap())]).await;
    assert_eq!(o.status, Status::Abort, "{}", dump(&o));
    let errors = found(&o, "API-01", Severity::Error);
    assert_eq!(errors.len(), 1, "{}", dump(&o));
    assert!(
        errors[0]
            .1
            .starts_with("no permission to list OpenStackClusters on the management cluster")
            && errors[0].1.contains(
                "grant `list` on `openstackclusters` (API group infrastructure.cluster.x-k8s.io)"
            ),
        "{}",
        dump(&o)
    );
    m.shutdown().await;
    w.sim.shutdown().await;
}

#[tokio::test]
async fn bad_assignments_abort_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path()).await;
    let missing = dir.path().join("no-such.kubeconfig");
    let missing = missing.to_str().unwrap();
    let cases: [(&str, &str); 9] = [
        ("kubeapi_probe", "maybe"),
        ("kubeapi_probe_timeout", "soon"),
        ("image_mirror", "https://mirror.example/"),
        ("kubeapi_allowed_cidrs", "192.0.2.0/33"),
        ("kubeapi_allowed_cidrs", "none,10.0.0.0/8"),
        ("vantage_ip", "my-laptop"),
        ("mgmt_ip", "203.0.113"),
        ("mgmt_kubeconfig", ""),
        ("mgmt_kubeconfig", missing),
    ];
    for (key, value) in cases {
        let o = check(&w, &[(key, value)]).await;
        assert_eq!(o.status, Status::Abort, "{key}={value}: {}", dump(&o));
        let reason = o
            .findings
            .iter()
            .find(|f| f.severity == Severity::Error)
            .unwrap_or_else(|| panic!("{key}={value}: no reason: {}", dump(&o)));
        assert!(
            reason.message.contains(key),
            "{key}={value}: the reason does not name the key: {}",
            dump(&o)
        );
    }
    w.sim.shutdown().await;
}

#[tokio::test]
async fn a_pod_reaching_the_endpoint_passes_api03_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload_as(dir.path(), "compliant", "admin").await;
    let admin = common::client_for(&w.sim, "admin").await;
    let before = common::inventory(&admin).await;
    let server = format!("https://127.0.0.1:{}", w.sim.addr().port());
    let o = check_as(&w, &[], Vec::new()).await;
    assert_eq!(o.status, Status::Pass, "{}", dump(&o));
    assert_eq!(
        found(&o, "API-03", Severity::Info),
        vec![(
            String::new(),
            format!(
                "a probe pod inside the cluster connected to the API endpoint {server}: the \
                 cluster does not lock itself out"
            )
        )],
        "{}",
        dump(&o)
    );
    assert_eq!(
        common::inventory(&admin).await,
        before,
        "the run changed the cluster"
    );
    assert!(common::managed_objects(&admin).await.is_empty());
    w.sim.shutdown().await;
}

#[tokio::test]
async fn a_locked_out_cluster_fails_api03_with_the_reason_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload_as(dir.path(), "kubeapi-locked-out", "admin").await;
    let admin = common::client_for(&w.sim, "admin").await;
    let before = common::inventory(&admin).await;
    let o = check_as(&w, &[("kubeapi_allowed_cidrs", DECLARED)], Vec::new()).await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    let errors: Vec<_> = o
        .findings
        .iter()
        .filter(|f| f.rule == "API-03" && f.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{}", dump(&o));
    assert!(
        errors[0]
            .message
            .contains("cannot connect to the API endpoint")
            && errors[0].message.contains("(TIMEOUT)"),
        "{}",
        dump(&o)
    );
    assert!(
        errors[0]
            .fix
            .as_deref()
            .unwrap_or("")
            .contains("egress address")
    );
    // The read-only judgements are still there.
    assert_eq!(found(&o, "API-04", Severity::Info).len(), 1, "{}", dump(&o));
    assert_eq!(
        common::inventory(&admin).await,
        before,
        "the probe namespace is gone"
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn a_read_only_user_gets_abort_for_api03_and_the_read_only_rules_still_judged() {
    let dir = tempfile::tempdir().unwrap();
    let w = workload(dir.path()).await;
    let viewer = common::client_for(&w.sim, "viewer").await;
    let check = registry::find("kubeapi-access-check").unwrap();
    let denied = scs_kaas_checks::probe::access::missing_access(&viewer, &check.access())
        .await
        .unwrap();
    assert!(!denied.is_empty(), "the viewer may not create namespaces");
    let admin = common::client_for(&w.sim, "admin").await;
    let before = common::inventory(&admin).await;
    let o = check_as(&w, &[], denied).await;
    assert_eq!(o.status, Status::Abort, "{}", dump(&o));
    let errors = found(&o, "API-03", Severity::Error);
    assert_eq!(errors.len(), 1, "{}", dump(&o));
    assert!(
        errors[0]
            .1
            .starts_with("probe not run (nothing was created): the user lacks create namespaces"),
        "{}",
        dump(&o)
    );
    assert_eq!(found(&o, "API-04", Severity::Info).len(), 1, "{}", dump(&o));
    assert_eq!(
        common::inventory(&admin).await,
        before,
        "nothing was created"
    );

    // An open management cluster is a FAIL even when API-03 could not be judged.
    let (m, mgmt_kc) = mgmt(dir.path(), "viewer", |_| true).await;
    let denied = scs_kaas_checks::probe::access::missing_access(&viewer, &check.access())
        .await
        .unwrap();
    let o = check_as(
        &w,
        &[
            ("kubeapi_allowed_cidrs", DECLARED),
            ("mgmt_ip", MGMT_IP),
            ("mgmt_kubeconfig", mgmt_kc.to_str().unwrap()),
        ],
        denied,
    )
    .await;
    assert_eq!(o.status, Status::Fail, "{}", dump(&o));
    assert_eq!(
        found(&o, "API-03", Severity::Error).len(),
        1,
        "{}",
        dump(&o)
    );
    m.shutdown().await;
    w.sim.shutdown().await;
}
