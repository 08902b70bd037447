//! Least privilege for real (issue 5 item 6, HARN-04): every native check of the
//! `scs-kaas-extended` scope runs against the simulated cluster as a user that holds exactly the
//! ClusterRole rules of `deploy/rbac.yaml`, then each check as a user that holds exactly what
//! that check declares in `access()`. No check may ABORT for lack of rights, and the simulated
//! API server must refuse no request with 403: a request a check makes without declaring (and
//! without the ClusterRole granting) it fails here even when the check swallows the error.
//!
//! The checks are taken from the registry and the scope, never listed here, so checks added
//! later are covered. The 403s are read from the simulator's request log (a `tracing` subscriber
//! installed for this test binary); a deliberate forbidden request proves the log is read.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::ListParams;
use scs_kaas_checks::runner::{self, Event, Options, Selection};
use scs_kaas_checks::{Check, CheckContext, Mode, registry};
use scs_kaas_core::finding::Status;
use scs_kaas_core::scope::Scope;
use scs_kaas_core::verdict::TestcaseResult;
use tracing::field::{Field, Visit};
use tracing::span;
use tracing::subscriber::Interest;
use tracing::{Event as TraceEvent, Metadata, Subscriber};

mod common;
use common::{client_for, managed_objects, rbac_yaml_rules, rules_for, rules_user};

/// A date on which the compliant scenario's version is current (release data snapshot).
const DATE: &str = "2026-08-25";
/// The namespace of the deliberately forbidden request that proves the 403s are seen.
const CONTROL_NS: &str = "rbac-sim-control";

/// Lines the simulator logs, one per request: `GET /api/v1/... -> 403 Forbidden`.
fn sim_log() -> &'static Mutex<Vec<String>> {
    static LOG: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let lines = Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::set_global_default(Capture(Arc::clone(&lines)))
            .expect("no other subscriber in this test binary");
        lines
    })
}

fn refused() -> Vec<String> {
    sim_log()
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(" -> 403"))
        .cloned()
        .collect()
}

fn logged(needle: &str) -> bool {
    sim_log().lock().unwrap().iter().any(|l| l.contains(needle))
}

/// Keeps the message of every event of the simulator (target `scs_kaas_sim::...`).
struct Capture(Arc<Mutex<Vec<String>>>);

fn is_sim(meta: &Metadata<'_>) -> bool {
    meta.is_event() && meta.target().starts_with("scs_kaas_sim")
}

impl Subscriber for Capture {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_sim(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        is_sim(meta)
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &TraceEvent<'_>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0.lock().unwrap().push(message.0);
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

fn extended() -> Scope {
    scs_kaas_core::scope::builtin::SCS_KAAS_EXTENDED
        .load()
        .expect("the built-in scope loads")
}

fn natives() -> Vec<Arc<dyn Check>> {
    registry::all().into_iter().map(Arc::from).collect()
}

/// The ids of the scope's testcases that have a native check in this build.
fn native_ids(scope: &Scope) -> Vec<String> {
    let natives = natives();
    scope
        .testcases
        .iter()
        .filter(|tc| natives.iter().any(|c| c.id() == tc.id))
        .map(|tc| tc.id.clone())
        .collect()
}

/// Short waits where a check would wait long on a broken cluster, plus `extra`.
fn assignments(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    [
        ("storage_timeout", "90s"),
        ("lb_timeout", "90s"),
        ("lb_requests", "5"),
        ("lb_hairpin_requests", "2"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Run the testcases `tests` (a regex of whole ids) of the extended scope as `user`, through the
/// runner (pre-flight included), as `scs-kaas check --scope scs-kaas-extended` would.
async fn run_as(
    sim: &scs_kaas_sim::server::RunningSim,
    user: &str,
    tests: &str,
    run_id: &str,
    dir: &std::path::Path,
    args: BTreeMap<String, String>,
) -> BTreeMap<String, TestcaseResult> {
    let scope = extended();
    let selection = Selection {
        date: DATE.parse().unwrap(),
        version: None,
        sections: None,
        tests: Some(regex::Regex::new(tests).unwrap()),
        implementation: Default::default(),
    };
    let plan = runner::plan(&scope, None, &selection, &natives()).expect("the selection plans");
    let kubeconfig = dir.join(format!("{user}.kubeconfig"));
    sim.write_kubeconfig_for(&kubeconfig, user).unwrap();
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let ctx = CheckContext {
        client: client_for(sim, user).await,
        kubeconfig: Some(kubeconfig),
        args,
        now: format!("{DATE}T00:00:00Z").parse().unwrap(),
        deadline: Duration::from_secs(240),
        run_id: run_id.into(),
        cache_dir: Some(cache),
        denied: Vec::new(),
    };
    let opts = Options {
        jobs: 4,
        deadline: Duration::from_secs(240),
        timeout_given: true,
        python: "python3".into(),
        scope_dir: None,
    };
    let ignore = |_: Event| {};
    let outcome = runner::execute(&scope, &plan, Ok(&ctx), &BTreeMap::new(), &opts, &ignore).await;
    outcome
        .results
        .into_iter()
        .filter(|(_, r)| r.status.is_some())
        .collect()
}

fn summary(results: &BTreeMap<String, TestcaseResult>) -> String {
    results
        .iter()
        .map(|(id, r)| {
            let findings: Vec<String> = r
                .findings
                .iter()
                .map(|f| format!("    {}", f.log_line()))
                .collect();
            format!("{id}: {:?}\n{}", r.status, findings.join("\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// No ABORT for lack of rights: no pre-flight finding, no permission error in any finding.
fn assert_rights_sufficed(who: &str, results: &BTreeMap<String, TestcaseResult>) {
    for (id, r) in results {
        for f in &r.findings {
            // The pre-flight's ABORT, a denied active part ("the user lacks ..."), or an API
            // error of a request that was refused.
            let lacking = f.rule == runner::PREFLIGHT_RULE
                || f.message.contains("forbidden")
                || f.message.contains("the user lacks")
                || f.message.contains("credentials lack");
            assert!(
                !lacking,
                "{who}: {id} lacked rights ({}):\n{}",
                f.log_line(),
                summary(results)
            );
        }
    }
}

#[tokio::test]
async fn deploy_rbac_yaml_and_each_checks_declaration_suffice_without_a_single_403() {
    sim_log();
    // The compliant cluster (every check's good path) and clusters that send the checks down
    // their failure paths (a claim that never binds, a load balancer that never comes).
    least_privilege_on("compliant", &[], true).await;
    least_privilege_on("storage-never-binds", &[("storage_timeout", "3s")], false).await;
    least_privilege_on("lb-pending", &[("lb_timeout", "3s")], false).await;
}

/// Phase 1: every native check of the scope at once as the deploy/rbac.yaml user; phase 2: each
/// check alone as a user with exactly its `access()`. `compliant`: the read-only checks pass.
async fn least_privilege_on(scenario: &str, extra: &[(&str, &str)], compliant: bool) {
    sim_log().lock().unwrap().clear();
    let scope = extended();
    let ids = native_ids(&scope);
    assert!(!ids.is_empty());
    let checks: Vec<Arc<dyn Check>> = natives()
        .into_iter()
        .filter(|c| ids.iter().any(|id| id == c.id()))
        .collect();
    assert!(
        checks.iter().any(|c| c.mode() == Mode::Active),
        "the scope has an active check, so creating and removing probes is exercised"
    );
    // One user with the ClusterRole of deploy/rbac.yaml, and one per check with exactly the
    // rights that check declares.
    let mut users = vec![rules_user("scs-kaas", rbac_yaml_rules())];
    for c in &checks {
        users.push(rules_user(
            &format!("only-{}", c.id()),
            rules_for(&c.access()),
        ));
    }
    let config = common::scenario_with_users(scenario, users);
    let sim = scs_kaas_sim::server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let admin = client_for(&sim, "admin").await;
    let dir = tempfile::tempdir().unwrap();
    // The log is read: a request the ClusterRole does not grant is seen refused.
    let rbac = client_for(&sim, "scs-kaas").await;
    // The ClusterRole grants `get configmaps` (kubeadm's ClusterConfiguration), never `list`.
    let control = Api::<ConfigMap>::namespaced(rbac.clone(), CONTROL_NS)
        .list(&ListParams::default())
        .await;
    assert!(
        matches!(&control, Err(kube::Error::Api(s)) if s.code == 403),
        "listing ConfigMaps is not granted: {control:?}"
    );
    assert!(
        refused()
            .iter()
            .any(|l| l.contains(&format!("/namespaces/{CONTROL_NS}/configmaps"))),
        "the control 403 is in the simulator's log: {:?}",
        refused()
    );
    let unexpected = || -> Vec<String> {
        refused()
            .into_iter()
            .filter(|l| !l.contains(CONTROL_NS))
            .collect()
    };

    // 1. Everything at once with deploy/rbac.yaml.
    let all = ids.join("|");
    let results = run_as(
        &sim,
        "scs-kaas",
        &all,
        "bbbb0001",
        dir.path(),
        assignments(extra),
    )
    .await;
    eprintln!("{scenario}, deploy/rbac.yaml:\n{}", summary(&results));
    assert_eq!(
        results.keys().cloned().collect::<Vec<_>>(),
        {
            let mut sorted = ids.clone();
            sorted.sort();
            sorted
        },
        "every native check of the scope ran"
    );
    assert_rights_sufficed("deploy/rbac.yaml", &results);
    assert_eq!(
        unexpected(),
        Vec::<String>::new(),
        "{scenario}: requests refused for the deploy/rbac.yaml user:\n{}",
        summary(&results)
    );
    assert!(
        logged("POST /api/v1/namespaces -> 201"),
        "the active parts created their namespaces as the least-privileged user:\n{}",
        summary(&results)
    );
    // The read-only checks judged the cluster (the compliant one passes them); active checks
    // may abort for reasons of their own on a busy machine, never for rights (asserted above).
    for c in checks
        .iter()
        .filter(|c| compliant && c.mode() == Mode::ReadOnly)
    {
        assert_ne!(
            results[c.id()].status,
            Some(Status::Abort),
            "{}:\n{}",
            c.id(),
            summary(&results)
        );
    }

    // 2. Each check alone, with only what it declares (concurrently).
    let runs = checks.iter().enumerate().map(|(i, c)| {
        let (sim, dir) = (&sim, dir.path());
        async move {
            let user = format!("only-{}", c.id());
            let results = run_as(
                sim,
                &user,
                &regex::escape(c.id()),
                &format!("cccc{i:04x}"),
                dir,
                assignments(extra),
            )
            .await;
            (user, results)
        }
    });
    for (user, results) in futures::future::join_all(runs).await {
        eprintln!("{scenario}, {user}:\n{}", summary(&results));
        assert_eq!(results.len(), 1, "{user}: {}", summary(&results));
        assert_rights_sufficed(&user, &results);
    }
    assert_eq!(
        unexpected(),
        Vec::<String>::new(),
        "{scenario}: a check made requests it does not declare in access()"
    );
    assert_eq!(managed_objects(&admin).await, Vec::<String>::new());
}
