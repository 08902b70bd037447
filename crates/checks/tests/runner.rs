//! Runner tests with small test programs (tests/fixtures) and test-only native checks.
//! No cluster: native checks get a client for an unreachable loopback address.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use jiff::civil::date;
use scs_kaas_checks::runner::{
    self, Event, Implementation, ImplementationChoice, Options, Plan, RunOutcome, Selection,
};
use scs_kaas_checks::{Access, Check, CheckContext, Mode};
use scs_kaas_core::finding::{Finding, Outcome, Status};
use scs_kaas_core::scope::Scope;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A scope with one program (`executable`, `args`, `env`) deciding `ok` and `ok2`, and native ids.
fn scope(executable: &str, args: &str, env: &str, native_ids: &[&str]) -> Scope {
    let mut natives = String::new();
    let mut main = String::from("      - ok\n      - ok2\n");
    for id in native_ids {
        natives.push_str(&format!("  - id: {id}\n"));
        main.push_str(&format!("      - {id}\n"));
    }
    let text = format!(
        "uuid: u\nname: runner test\nurl: x\nvariables:\n  - greeting: hello\nscripts:\n- executable: {executable}\n  args: >-\n    {args}\n{env}  testcases:\n  - id: ok\n    section: light\n  - id: ok2\n    section: heavy\n- testcases:\n  - id: manual\n{natives}modules:\n  - id: m\n    targets:\n      main:\n{main}      preview:\n      - manual\nversions:\n  - version: v1\n    include: [m]\ntimeline:\n  - date: 2024-01-01\n    versions:\n      v1: draft\n"
    );
    Scope::parse("runner-test.yaml", &text).unwrap()
}

fn selection() -> Selection {
    Selection {
        date: date(2026, 1, 1),
        version: None,
        sections: None,
        tests: None,
        implementation: Default::default(),
    }
}

fn options(deadline: Duration) -> Options {
    Options {
        jobs: 4,
        deadline,
        timeout_given: true,
        python: "python3".into(),
        scope_dir: Some(fixtures()),
    }
}

async fn run_with(
    scope: &Scope,
    natives: &[Arc<dyn Check>],
    opts: &Options,
    ctx: Option<&CheckContext>,
) -> (Plan, RunOutcome) {
    let plan = runner::plan(scope, Some(&fixtures()), &selection(), natives).unwrap();
    let values: BTreeMap<String, String> = scope.assignment(&BTreeMap::new()).unwrap();
    let out = runner::execute(
        scope,
        &plan,
        ctx.ok_or("no cluster in this test"),
        &values,
        opts,
        &|_: Event| {},
    )
    .await;
    (plan, out)
}

async fn program(mode: &str) -> RunOutcome {
    program_with(mode, "", Duration::from_secs(60)).await
}

async fn program_with(mode: &str, env: &str, deadline: Duration) -> RunOutcome {
    let s = scope("./result.sh", &format!("{mode} {{testcases}}"), env, &[]);
    run_with(&s, &[], &options(deadline), None).await.1
}

fn status(out: &RunOutcome, id: &str) -> Option<Status> {
    out.results[id].status
}

#[tokio::test]
async fn passing_program_passes_and_is_recorded_like_the_reference() {
    let out = program("pass").await;
    assert_eq!(status(&out, "ok"), Some(Status::Pass));
    assert_eq!(status(&out, "ok2"), Some(Status::Pass));
    assert_eq!(out.invocations.len(), 1);
    let inv = &out.invocations[0];
    assert_eq!(inv.cmd, "./result.sh pass ok ok2");
    assert_eq!(inv.rc, 0);
    assert_eq!(
        inv.stdout,
        vec!["INFO: deciding ok ok2", "ok: pass", "ok2: pass"]
    );
    assert_eq!((inv.info, inv.error, inv.critical), (1, 0, 0));
    assert_eq!(inv.results.keys().collect::<Vec<_>>(), ["ok", "ok2"]);
    // The manual testcase is missing with its reason, not run.
    assert_eq!(status(&out, "manual"), None);
    assert!(
        out.results["manual"]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("manual check")
    );
}

#[tokio::test]
async fn failing_and_aborting_programs_report_what_they_print() {
    let out = program("fail").await;
    assert_eq!(status(&out, "ok"), Some(Status::Fail));
    let out = program("abort").await;
    assert_eq!(status(&out, "ok"), Some(Status::Abort));
    assert_eq!(
        out.results["ok"].reason, None,
        "the program itself decided ABORT"
    );
    // A non-zero exit with results for every id keeps the results (sonobuoy exits 3 on FAIL).
    let out = program("failrc").await;
    assert_eq!(status(&out, "ok"), Some(Status::Fail));
    assert_eq!(out.invocations[0].rc, 3);
}

#[tokio::test]
async fn crashing_program_aborts_with_a_critical_never_passes() {
    let out = program("crash").await;
    for id in ["ok", "ok2"] {
        assert_eq!(status(&out, id), Some(Status::Abort));
        let reason = out.results[id].reason.as_deref().unwrap();
        assert!(
            reason.contains("exited with status 2 without a result for ok, ok2"),
            "{reason}"
        );
    }
    let inv = &out.invocations[0];
    assert_eq!(inv.rc, 2);
    assert_eq!(inv.critical, 1);
    assert!(inv.stderr[0].starts_with("Traceback"));
    assert!(
        inv.stderr
            .last()
            .unwrap()
            .starts_with("CRITICAL: scs-kaas:")
    );
}

#[tokio::test]
async fn silent_program_aborts() {
    let out = program("silent").await;
    assert_eq!(status(&out, "ok"), Some(Status::Abort));
    assert!(
        out.results["ok"]
            .reason
            .as_deref()
            .unwrap()
            .contains("printed no result for ok, ok2")
    );
    assert_eq!(out.invocations[0].rc, 0);
    // The report records it as the reference does: no result at all for the silent ids.
    assert!(
        out.invocations[0].results.is_empty(),
        "{:?}",
        out.invocations[0].results
    );
    assert_eq!(
        out.results["ok"].implementation,
        Some(Implementation::Program {
            executable: "./result.sh".into()
        })
    );
}

#[tokio::test]
async fn partial_results_abort_only_the_silent_ids() {
    let out = program("partial").await;
    assert_eq!(status(&out, "ok"), Some(Status::Pass));
    assert_eq!(status(&out, "ok2"), Some(Status::Abort));
    let inv = &out.invocations[0];
    assert_eq!(inv.results.keys().collect::<Vec<_>>(), ["ok"]);
    assert_eq!((inv.error, inv.critical), (1, 1));
    assert!(
        out.results["ok2"]
            .findings
            .iter()
            .any(|f| f.message == "lost the cluster")
    );
}

#[tokio::test]
async fn non_utf8_output_is_decoded_lossily_and_results_still_count() {
    let out = program("binary").await;
    assert_eq!(status(&out, "ok"), Some(Status::Pass));
    let inv = &out.invocations[0];
    assert_eq!(inv.stdout[0], "caf\u{FFFD} \u{FFFD}\u{FFFD} bytes");
    assert_eq!(inv.warning, 2, "the program's warning and our note");
    assert!(inv.stderr.iter().any(|l| l.contains("not valid UTF-8")));
}

#[tokio::test]
async fn ten_megabytes_of_output_are_bounded_and_later_results_win() {
    let out = program("flood").await;
    assert_eq!(
        status(&out, "ok"),
        Some(Status::Pass),
        "the last result line wins"
    );
    let inv = &out.invocations[0];
    let kept: usize = inv.stdout.iter().map(String::len).sum();
    assert!(kept < 400 * 1024, "kept {kept} bytes of 10 MB");
    assert!(inv.stdout.iter().any(|l| l.contains("omitted")));
    assert_eq!(inv.stdout.last().unwrap(), "ok2: PASS");
}

#[tokio::test]
async fn ten_megabytes_without_a_result_abort_never_pass() {
    let out = program("floodsilent").await;
    for id in ["ok", "ok2"] {
        assert_eq!(status(&out, id), Some(Status::Abort), "{id}");
        let reason = out.results[id].reason.as_deref().unwrap();
        assert!(reason.contains("printed no result for ok, ok2"), "{reason}");
    }
    let inv = &out.invocations[0];
    assert_eq!(inv.rc, 0);
    let kept: usize = inv.stdout.iter().map(String::len).sum();
    assert!(kept < 400 * 1024, "kept {kept} bytes of 10 MB");
    assert_eq!(inv.critical, 1);
}

#[tokio::test]
async fn non_utf8_output_without_a_result_aborts_never_passes() {
    let out = program("binarysilent").await;
    assert_eq!(status(&out, "ok"), Some(Status::Abort));
    assert_eq!(status(&out, "ok2"), Some(Status::Abort));
    let inv = &out.invocations[0];
    assert_eq!(
        inv.stdout,
        vec![
            "caf\u{FFFD} \u{FFFD}\u{FFFD} ok: PASS? no",
            "\u{FFFD}\u{FFFD}\u{FFFD}"
        ]
    );
    assert!(inv.stderr.iter().any(|l| l.contains("not valid UTF-8")));
    assert_eq!(inv.critical, 1);
}

fn process_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

#[tokio::test]
async fn hanging_program_is_killed_with_its_children_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let env = format!("  env:\n    PIDFILE: {}\n", pidfile.display());
    let out = program_with("hang", &env, Duration::from_millis(1500)).await;
    assert_eq!(status(&out, "ok"), Some(Status::Abort));
    let reason = out.results["ok"].reason.as_deref().unwrap();
    assert!(
        reason.contains("did not finish within the deadline of 1s500ms"),
        "{reason}"
    );
    let inv = &out.invocations[0];
    assert_eq!(inv.rc, -9);
    assert_eq!(inv.stdout, vec!["started"]);
    assert_eq!(inv.critical, 1);
    // The background child of the program was killed with its process group.
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
    let gone = wait_for(|| process_gone(&pid)).await;
    assert!(gone, "child process {pid} survived the deadline");
}

#[tokio::test]
async fn descendants_in_a_session_of_their_own_are_killed_when_the_program_ends() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let env = format!("  env:\n    PIDFILE: {}\n", pidfile.display());
    let out = program_with("escape", &env, Duration::from_secs(30)).await;
    assert_eq!(status(&out, "ok"), Some(Status::Pass));
    let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
    let gone = wait_for(|| process_gone(&pid)).await;
    if !gone {
        // Clean up the test's own leftover before failing.
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid])
            .status();
    }
    assert!(gone, "setsid descendant {pid} survived the program");
}

async fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < until {
        if cond() {
            return true;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

#[tokio::test]
async fn templated_args_env_and_cwd_are_like_the_reference() {
    let s = scope(
        "./result.sh",
        "env {testcases} '{greeting} world' {{literal}}",
        "  env:\n    GREETING: '{greeting}-env'\n",
        &[],
    );
    let (_, out) = run_with(&s, &[], &options(Duration::from_secs(60)), None).await;
    let inv = &out.invocations[0];
    assert_eq!(
        inv.cmd,
        "GREETING=hello-env ./result.sh env ok ok2 'hello world' {literal}"
    );
    let fixtures = fixtures().canonicalize().unwrap();
    assert!(
        inv.stdout.contains(&format!("cwd={}", fixtures.display())),
        "{:?}",
        inv.stdout
    );
    assert!(inv.stdout.contains(&"greeting=hello-env".to_owned()));
    assert!(inv.stdout.contains(&"arg=hello world".to_owned()));
    assert!(inv.stdout.contains(&"arg={literal}".to_owned()));
    assert_eq!(status(&out, "ok"), Some(Status::Pass));
    // `other: PASS` was not requested: ignored. ok2 printed nothing: missing from the report's
    // results (as in the reference's report), ABORT in our verdict.
    assert_eq!(inv.results.keys().collect::<Vec<_>>(), ["ok"]);
    assert_eq!(status(&out, "ok2"), Some(Status::Abort));
}

#[tokio::test]
async fn python_programs_go_through_the_configured_interpreter() {
    let s = scope("./interp.py", "{testcases}", "", &[]);
    let mut opts = options(Duration::from_secs(60));
    opts.python = "/bin/sh".into();
    let (_, out) = run_with(&s, &[], &opts, None).await;
    assert_eq!(status(&out, "ok"), Some(Status::Pass));
    assert_eq!(status(&out, "ok2"), Some(Status::Pass));
}

#[tokio::test]
async fn programs_that_cannot_start_abort_with_rc_127() {
    for exe in ["./does-not-exist.sh", "https://example.invalid/x.sh"] {
        let s = scope(exe, "{testcases}", "", &[]);
        let (_, out) = run_with(&s, &[], &options(Duration::from_secs(60)), None).await;
        let inv = &out.invocations[0];
        assert_eq!(inv.rc, 127, "{exe}");
        assert_eq!(inv.critical, 1);
        assert!(inv.stderr[0].starts_with("CRITICAL: "), "{:?}", inv.stderr);
        assert!(inv.results.is_empty(), "{exe}: {:?}", inv.results);
        assert_eq!(status(&out, "ok"), Some(Status::Abort));
    }
}

/// A test-only native check whose behaviour is chosen by name.
struct TestCheck {
    id: &'static str,
    behaviour: &'static str,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl Check for TestCheck {
    fn rules(&self) -> &'static [scs_kaas_checks::RuleDoc] {
        &[]
    }

    fn assignments(&self) -> &'static [scs_kaas_checks::AssignmentDoc] {
        &[]
    }

    fn id(&self) -> &'static str {
        self.id
    }
    fn standard(&self) -> &'static str {
        "test"
    }
    fn description(&self) -> &'static str {
        "test check"
    }
    fn mode(&self) -> Mode {
        Mode::ReadOnly
    }
    fn access(&self) -> Vec<Access> {
        if self.behaviour == "needs-access" {
            vec![Access::read("list", "", "pods")]
        } else {
            Vec::new()
        }
    }
    fn run<'a>(&'a self, ctx: &'a CheckContext) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            let out = match self.behaviour {
                "pass" | "needs-access" => Outcome::from_findings(vec![Finding::info(
                    "T-1",
                    format!("deadline {:?}", ctx.deadline),
                )]),
                "fail" => Outcome::from_findings(vec![
                    Finding::warn("T-2", "soon"),
                    Finding::error("T-1", "broken").with_fix("repair it"),
                ]),
                "abort" => Outcome::abort("T-3", "cannot tell"),
                "panic" => panic!("test check exploded"),
                "hang" => {
                    futures::future::pending::<()>().await;
                    unreachable!()
                }
                "progress" => {
                    let sink = scs_kaas_checks::progress::current().expect("a progress sink");
                    sink.report("1/2 specs".into());
                    // From a task of the check's own, as the e2e log follower does.
                    tokio::spawn(async move { sink.report("2/2 specs".into()) })
                        .await
                        .unwrap();
                    Outcome::from_findings(vec![])
                }
                "yield" => {
                    for _ in 0..50 {
                        tokio::task::yield_now().await;
                    }
                    Outcome::from_findings(vec![])
                }
                other => Outcome::abort("T-0", format!("unknown behaviour {other}")),
            };
            self.running.fetch_sub(1, Ordering::SeqCst);
            out
        })
    }
}

fn checks(list: &[(&'static str, &'static str)]) -> (Vec<Arc<dyn Check>>, Arc<AtomicUsize>) {
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let v = list
        .iter()
        .map(|(id, b)| {
            Arc::new(TestCheck {
                id,
                behaviour: b,
                running: running.clone(),
                peak: peak.clone(),
            }) as Arc<dyn Check>
        })
        .collect();
    (v, peak)
}

fn unreachable_context() -> CheckContext {
    let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
    CheckContext {
        client: kube::Client::try_from(config).unwrap(),
        kubeconfig: None,
        args: BTreeMap::new(),
        now: jiff::Timestamp::UNIX_EPOCH,
        deadline: Duration::from_secs(1),
        run_id: "0000abcd".into(),
        cache_dir: None,
        denied: Vec::new(),
    }
}

#[tokio::test]
async fn native_checks_pass_fail_abort_panic_and_hang_without_crashing_the_runner() {
    let ids = ["n-pass", "n-fail", "n-abort", "n-panic", "n-hang"];
    let (natives, _) = checks(&[
        ("n-pass", "pass"),
        ("n-fail", "fail"),
        ("n-abort", "abort"),
        ("n-panic", "panic"),
        ("n-hang", "hang"),
    ]);
    let s = scope("./result.sh", "pass {testcases}", "", &ids);
    let ctx = unreachable_context();
    let (plan, out) = run_with(
        &s,
        &natives,
        &options(Duration::from_millis(1500)),
        Some(&ctx),
    )
    .await;
    assert_eq!(plan.jobs.len(), 6, "one program and five native checks");
    assert_eq!(status(&out, "n-pass"), Some(Status::Pass));
    assert_eq!(status(&out, "n-fail"), Some(Status::Fail));
    assert_eq!(status(&out, "n-abort"), Some(Status::Abort));
    assert_eq!(status(&out, "n-panic"), Some(Status::Abort));
    assert_eq!(status(&out, "n-hang"), Some(Status::Abort));
    let msg = |id: &str| out.results[id].findings[0].message.clone();
    assert!(
        msg("n-panic").contains("panic: test check exploded"),
        "{}",
        msg("n-panic")
    );
    assert!(
        msg("n-hang").contains("did not finish within the deadline of 1s500ms"),
        "{}",
        msg("n-hang")
    );
    assert!(
        msg("n-pass").contains("deadline 1.5s"),
        "the check sees its deadline: {}",
        msg("n-pass")
    );
    // Native checks appear as invocations, findings as log lines, the result line on stdout.
    let inv = out
        .invocations
        .iter()
        .find(|i| i.cmd == "scs-kaas native:n-fail")
        .unwrap();
    assert_eq!(inv.rc, 0);
    assert_eq!(inv.stdout, vec!["n-fail: FAIL"]);
    assert_eq!(
        inv.stderr,
        vec![
            "WARNING: [T-2] soon",
            "ERROR: [T-1] broken (fix: repair it)"
        ]
    );
    assert_eq!((inv.warning, inv.error), (1, 1));
    assert_eq!(
        status(&out, "ok"),
        Some(Status::Pass),
        "programs run next to native checks"
    );
}

#[tokio::test]
async fn without_a_cluster_native_checks_abort_naming_why() {
    let (natives, _) = checks(&[("n-pass", "pass")]);
    let s = scope("./result.sh", "pass {testcases}", "", &["n-pass"]);
    let (_, out) = run_with(&s, &natives, &options(Duration::from_secs(5)), None).await;
    assert_eq!(status(&out, "n-pass"), Some(Status::Abort));
    assert!(
        out.results["n-pass"].findings[0]
            .message
            .contains("no connection to the cluster")
    );
}

/// A loopback HTTP server answering 404 to everything: an API server without the access review
/// API (and without anything else).
async fn serving_nothing() -> (CheckContext, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "404 page not found") });
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut ctx = unreachable_context();
    let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
    ctx.client = kube::Client::try_from(config).unwrap();
    (ctx, task)
}

#[tokio::test]
async fn unavailable_access_review_does_not_block_the_check() {
    let (natives, _) = checks(&[("n-acc", "needs-access")]);
    let s = scope("./result.sh", "pass {testcases}", "", &["n-acc"]);
    let (ctx, server) = serving_nothing().await;
    let (_, out) = run_with(&s, &natives, &options(Duration::from_secs(30)), Some(&ctx)).await;
    server.abort();
    assert_eq!(status(&out, "n-acc"), Some(Status::Pass));
}

#[tokio::test]
async fn an_unanswered_access_review_aborts_the_check_naming_the_cause() {
    let (natives, _) = checks(&[("n-acc", "needs-access")]);
    let s = scope("./result.sh", "pass {testcases}", "", &["n-acc"]);
    let ctx = unreachable_context();
    let (_, out) = run_with(&s, &natives, &options(Duration::from_secs(30)), Some(&ctx)).await;
    assert_eq!(status(&out, "n-acc"), Some(Status::Abort));
    let message = &out.results["n-acc"].findings[0].message;
    assert!(
        message.contains("lost contact with the cluster under test")
            && message.contains("selfsubjectaccessreviews"),
        "{message}"
    );
}

/// A context whose API server is `https://127.0.0.1:1` (nothing listens there), with the
/// assignments the checks need to get past their argument parsing.
fn dead_endpoint_context(dir: &std::path::Path) -> CheckContext {
    let kubeconfig = dir.join("dead.yaml");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: dead\n  cluster:\n    server: https://127.0.0.1:1\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: dead\n  context:\n    cluster: dead\n    user: u\ncurrent-context: dead\n",
    )
    .unwrap();
    let mut ctx = unreachable_context();
    ctx.kubeconfig = Some(kubeconfig);
    let config = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
    ctx.client = kube::Client::try_from(config).unwrap();
    ctx.deadline = Duration::from_secs(60);
    ctx.args = [
        ("kubeapi_allowed_cidrs", "192.0.2.0/24"),
        ("lb_timeout", "5s"),
        ("kubeapi_probe_timeout", "5s"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    ctx
}

#[tokio::test]
async fn every_native_check_aborts_with_the_cause_when_the_api_server_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    // Each check on its own (no pre-flight): its own requests meet the dead endpoint.
    for check in scs_kaas_checks::registry::all() {
        let id = check.id();
        let outcome = runner::native::run(
            Arc::from(check),
            dead_endpoint_context(dir.path()),
            Duration::from_secs(60),
        )
        .await;
        let dump: Vec<String> = outcome.findings.iter().map(|f| f.log_line()).collect();
        assert_eq!(outcome.status, Status::Abort, "{id}: {dump:#?}");
        let first = &outcome.findings[0].message;
        assert!(
            first.contains("lost contact with the cluster under test")
                && first.contains("did not answer"),
            "{id}: the cause comes first: {dump:#?}"
        );
    }
    // Through the runner (pre-flight first), every check of the extended scope aborts too.
    let scope = scs_kaas_core::scope::builtin::find("scs-kaas-extended")
        .unwrap()
        .load()
        .unwrap();
    let natives: Vec<Arc<dyn Check>> = scs_kaas_checks::registry::all()
        .into_iter()
        .map(Arc::from)
        .collect();
    let plan = runner::plan(&scope, None, &selection(), &natives).unwrap();
    let values = scope.assignment(&BTreeMap::new()).unwrap();
    let ctx = dead_endpoint_context(dir.path());
    let out = runner::execute(
        &scope,
        &plan,
        Ok(&ctx),
        &values,
        &options(Duration::from_secs(60)),
        &|_| {},
    )
    .await;
    assert!(!out.results.is_empty());
    for (id, result) in &out.results {
        assert_eq!(result.status, Some(Status::Abort), "{id}: {result:?}");
    }
}

#[tokio::test]
async fn jobs_limit_bounds_concurrency() {
    let list: Vec<(&'static str, &'static str)> = ["y1", "y2", "y3", "y4", "y5", "y6"]
        .iter()
        .map(|i| (*i, "yield"))
        .collect();
    let (natives, peak) = checks(&list);
    let ids: Vec<&str> = list.iter().map(|(i, _)| *i).collect();
    let s = scope("./result.sh", "pass {testcases}", "", &ids);
    let ctx = unreachable_context();
    let mut opts = options(Duration::from_secs(30));
    opts.jobs = 2;
    let (_, out) = run_with(&s, &natives, &opts, Some(&ctx)).await;
    assert!(ids.iter().all(|id| status(&out, id) == Some(Status::Pass)));
    assert!(
        peak.load(Ordering::SeqCst) <= 2,
        "peak {}",
        peak.load(Ordering::SeqCst)
    );
}

#[test]
fn selection_by_version_sections_and_tests() {
    let s = scope("./result.sh", "pass {testcases}", "", &[]);
    let dir = fixtures();
    let mut sel = selection();
    sel.sections = Some(vec!["light".into()]);
    let plan = runner::plan(&s, Some(&dir), &sel, &[]).unwrap();
    assert_eq!(
        plan.selected.iter().collect::<Vec<_>>(),
        ["ok"],
        "no section ⇒ excluded by a section filter"
    );
    let mut sel = selection();
    sel.tests = Some(regex::Regex::new("ok").unwrap());
    let plan = runner::plan(&s, Some(&dir), &sel, &[]).unwrap();
    assert_eq!(
        plan.selected.iter().collect::<Vec<_>>(),
        ["ok"],
        "whole-id match, not prefix"
    );
    sel.tests = Some(regex::Regex::new("nothing").unwrap());
    let err = runner::plan(&s, Some(&dir), &sel, &[])
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("--tests 'nothing'") && err.contains("manual, ok, ok2"),
        "{err}"
    );
    let mut sel = selection();
    sel.date = date(2023, 1, 1);
    let err = runner::plan(&s, Some(&dir), &sel, &[])
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("no version of scope `runner test` is valid on 2023-01-01"),
        "{err}"
    );
    // The message lists the versions with the dates of their validity.
    assert!(
        err.contains("its versions: v1 (draft from 2024-01-01)"),
        "{err}"
    );
    sel.version = Some("v1".into());
    assert!(
        runner::plan(&s, Some(&dir), &sel, &[]).is_ok(),
        "--version forces any validity"
    );
    sel.version = Some("v9".into());
    let err = runner::plan(&s, Some(&dir), &sel, &[])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("has no version `v9`; it has: v1"), "{err}");
    // A built-in scope (no directory) cannot run its programs: missing, with the reason.
    let plan = runner::plan(&s, None, &selection(), &[]).unwrap();
    assert!(plan.jobs.is_empty());
    assert!(
        plan.missing["ok"].contains("not shipped"),
        "{}",
        plan.missing["ok"]
    );
}

/// A native check that says when it started and when its future was dropped, and otherwise
/// never finishes.
struct DropProbe {
    started: Arc<tokio::sync::Notify>,
    dropped: Arc<tokio::sync::Notify>,
}

struct OnDrop(Arc<tokio::sync::Notify>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

impl Check for DropProbe {
    fn rules(&self) -> &'static [scs_kaas_checks::RuleDoc] {
        &[]
    }

    fn assignments(&self) -> &'static [scs_kaas_checks::AssignmentDoc] {
        &[]
    }

    fn id(&self) -> &'static str {
        "n-drop"
    }
    fn standard(&self) -> &'static str {
        "test"
    }
    fn description(&self) -> &'static str {
        "test check that never finishes"
    }
    fn mode(&self) -> Mode {
        Mode::Active
    }
    fn run<'a>(&'a self, _: &'a CheckContext) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let _guard = OnDrop(self.dropped.clone());
            self.started.notify_one();
            futures::future::pending::<()>().await;
            unreachable!()
        })
    }
}

fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

#[tokio::test]
async fn stopping_a_run_drops_native_checks_and_kills_programs_with_their_children() {
    let dir = tempfile::tempdir().unwrap();
    let (ready, hold) = (dir.path().join("ready"), dir.path().join("hold"));
    mkfifo(&ready);
    mkfifo(&hold);
    let env = format!(
        "  env:\n    READY: {}\n    HOLD: {}\n",
        ready.display(),
        hold.display()
    );
    let s = scope("./result.sh", "holdfifo {testcases}", &env, &["n-drop"]);
    let started = Arc::new(tokio::sync::Notify::new());
    let dropped = Arc::new(tokio::sync::Notify::new());
    let natives: Vec<Arc<dyn Check>> = vec![Arc::new(DropProbe {
        started: started.clone(),
        dropped: dropped.clone(),
    })];
    let plan = runner::plan(&s, Some(&fixtures()), &selection(), &natives).unwrap();
    let values = s.assignment(&BTreeMap::new()).unwrap();
    let ctx = unreachable_context();
    let stop = runner::CancellationToken::new();
    let opts = options(Duration::from_secs(600));
    let run = runner::execute_until(&s, &plan, Ok(&ctx), &values, &opts, &|_: Event| {}, &stop);
    let limit = Duration::from_secs(60);
    let drive = async {
        // Both jobs are running: the program wrote to $READY, the check said it started.
        let said = tokio::time::timeout(limit, tokio::fs::read_to_string(&ready)).await;
        assert_eq!(said.expect("the program starts").unwrap().trim(), "started");
        tokio::time::timeout(limit, started.notified())
            .await
            .expect("the check starts");
        // The program's child holds $HOLD open; open it before stopping, read it to the end.
        let mut held = tokio::time::timeout(limit, tokio::fs::File::open(&hold))
            .await
            .expect("the child opens the FIFO")
            .unwrap();
        stop.cancel();
        let mut rest = Vec::new();
        let eof = tokio::time::timeout(
            limit,
            tokio::io::AsyncReadExt::read_to_end(&mut held, &mut rest),
        )
        .await;
        assert!(
            eof.is_ok(),
            "the program's child survived the stop (its process group was not killed)"
        );
        tokio::time::timeout(limit, dropped.notified())
            .await
            .expect("the check's future was dropped, so its guards clean up");
    };
    let (out, ()) = tokio::join!(run, drive);
    assert!(out.interrupted);
    assert_eq!(out.stopped, ["./result.sh", "n-drop"]);
    assert_eq!(status(&out, "ok"), Some(Status::Abort));
    let reason = out.results["ok"].reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("interrupted") && reason.contains("process group was killed"),
        "{reason}"
    );
    assert_eq!(status(&out, "n-drop"), Some(Status::Abort));
    let msg = &out.results["n-drop"].findings[0].message;
    assert!(
        msg.contains("interrupted") && msg.contains("stopped while running"),
        "{msg}"
    );

    // Stopped before anything started: nothing runs, everything is ABORT, nothing was running.
    let out =
        runner::execute_until(&s, &plan, Ok(&ctx), &values, &opts, &|_: Event| {}, &stop).await;
    assert!(out.interrupted);
    assert!(out.stopped.is_empty());
    assert_eq!(status(&out, "ok"), Some(Status::Abort));
    assert!(
        out.results["n-drop"].findings[0]
            .message
            .contains("was not started"),
        "{:?}",
        out.results["n-drop"]
    );
}

/// Native `ok` (FAILs; the program also decides `ok` and PASSes it) and native `n-pass` (a
/// testcase whose scope names no program), run with `choice`.
async fn run_choice(choice: ImplementationChoice) -> (Plan, RunOutcome) {
    let (natives, _) = checks(&[("ok", "fail"), ("n-pass", "pass")]);
    let s = scope("./result.sh", "pass {testcases}", "", &["n-pass"]);
    let sel = Selection {
        implementation: choice,
        ..selection()
    };
    let plan = runner::plan(&s, Some(&fixtures()), &sel, &natives).unwrap();
    let values = s.assignment(&BTreeMap::new()).unwrap();
    let ctx = unreachable_context();
    let opts = options(Duration::from_secs(60));
    let out = runner::execute(&s, &plan, Ok(&ctx), &values, &opts, &|_: Event| {}).await;
    (plan, out)
}

fn program_impl() -> Option<Implementation> {
    Some(Implementation::Program {
        executable: "./result.sh".into(),
    })
}

#[tokio::test]
async fn prefer_native_runs_the_native_check_where_one_exists() {
    let (_, out) = run_choice(ImplementationChoice::PreferNative).await;
    assert_eq!(status(&out, "ok"), Some(Status::Fail));
    assert_eq!(
        out.results["ok"].implementation,
        Some(Implementation::Native)
    );
    assert_eq!(status(&out, "ok2"), Some(Status::Pass));
    assert_eq!(out.results["ok2"].implementation, program_impl());
    assert_eq!(status(&out, "n-pass"), Some(Status::Pass));
    let cmds: Vec<&str> = out.invocations.iter().map(|i| i.cmd.as_str()).collect();
    assert_eq!(
        cmds,
        [
            "./result.sh pass ok2",
            "scs-kaas native:n-pass",
            "scs-kaas native:ok"
        ]
    );
}

#[tokio::test]
async fn implementation_native_never_starts_a_program() {
    let (plan, out) = run_choice(ImplementationChoice::Native).await;
    assert_eq!(status(&out, "ok"), Some(Status::Fail));
    assert_eq!(
        out.results["ok"].implementation,
        Some(Implementation::Native)
    );
    // ok2 has only the program: missing, saying why and how to run it.
    assert_eq!(status(&out, "ok2"), None);
    assert_eq!(out.results["ok2"].implementation, None);
    let reason = out.results["ok2"].reason.as_deref().unwrap();
    assert!(
        reason.contains("--implementation native")
            && reason.contains("`./result.sh` is not started"),
        "{reason}"
    );
    assert!(plan.missing.contains_key("ok2"));
    assert!(
        out.invocations
            .iter()
            .all(|i| i.cmd.starts_with("scs-kaas native:")),
        "no program ran"
    );
}

#[tokio::test]
async fn implementation_programs_runs_the_scopes_program_and_native_only_without_one() {
    let (_, out) = run_choice(ImplementationChoice::Programs).await;
    // The program decides ok (PASS), not the native check (which would FAIL it).
    assert_eq!(status(&out, "ok"), Some(Status::Pass));
    assert_eq!(out.results["ok"].implementation, program_impl());
    assert_eq!(status(&out, "ok2"), Some(Status::Pass));
    // n-pass: the scope names no program for it, so the native check decides it.
    assert_eq!(status(&out, "n-pass"), Some(Status::Pass));
    assert_eq!(
        out.results["n-pass"].implementation,
        Some(Implementation::Native)
    );
    let cmds: Vec<&str> = out.invocations.iter().map(|i| i.cmd.as_str()).collect();
    assert_eq!(cmds, ["./result.sh pass ok ok2", "scs-kaas native:n-pass"]);
}

#[tokio::test]
async fn progress_lines_of_a_native_check_reach_the_progress_callback() {
    let (natives, _) = checks(&[("n-pass", "progress")]);
    let s = scope("./result.sh", "pass {testcases}", "", &["n-pass"]);
    let plan = runner::plan(&s, Some(&fixtures()), &selection(), &natives).unwrap();
    let values = s.assignment(&BTreeMap::new()).unwrap();
    let ctx = unreachable_context();
    let opts = options(Duration::from_secs(60));
    // Many runs: the check ends right after its last line, so a runner that stops reading
    // lines when the jobs end, or shows them after the job's end, is caught in some run.
    for run in 0..50 {
        let seen = std::sync::Mutex::new(Vec::new());
        let out = runner::execute(&s, &plan, Ok(&ctx), &values, &opts, &|e: Event| {
            seen.lock().unwrap().push(match e {
                Event::Started(label) => format!("started {label}"),
                Event::Progress(label, line) => format!("{label}: {line}"),
                Event::Finished(label) => format!("finished {label}"),
            });
        })
        .await;
        assert_eq!(status(&out, "n-pass"), Some(Status::Pass));
        // The native check's own events (the plan also runs a program).
        let seen: Vec<String> = seen
            .into_inner()
            .unwrap()
            .into_iter()
            .filter(|e| e.contains("n-pass"))
            .collect();
        assert_eq!(
            seen,
            [
                "started n-pass",
                "n-pass: 1/2 specs",
                "n-pass: 2/2 specs",
                "finished n-pass"
            ],
            "run {run}"
        );
    }
}
