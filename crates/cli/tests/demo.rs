//! `scs-kaas demo` end to end: the real binary starts the sim in-process, checks it with both
//! built-in scopes, prints the verdicts and writes a signed multi-document report.

use std::path::Path;
use std::process::Output;

use scs_kaas_core::finding::Status;
use scs_kaas_core::report;
use tokio::process::Command;

async fn scs_kaas(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scs-kaas"))
        .args(args)
        .env_remove("KUBECONFIG")
        // A cache directory that must not be used: the demo judges by the built-in data only.
        .env("XDG_CACHE_HOME", "/nonexistent/scs-kaas-demo-test")
        .env_remove("NO_COLOR")
        .output()
        .await
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "rc={:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn keygen(dir: &Path) -> std::path::PathBuf {
    let key = dir.join("id");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "demo", "-f"])
        .arg(&key)
        .output()
        .expect("this test needs ssh-keygen: apt-get install openssh-client");
    assert!(out.status.success());
    key
}

#[tokio::test]
async fn demo_checks_the_compliant_sim_with_both_scopes_and_writes_a_signed_report() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path());
    let report_path = dir.path().join("demo-report.yaml");
    let out = scs_kaas(&[
        "demo",
        "--report",
        report_path.to_str().unwrap(),
        "--sign-key",
        key.to_str().unwrap(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let snapshot = scs_kaas_core::release::snapshot().unwrap().data.as_of;
    for want in [
        "Simulated cluster \"compliant\" serving at https://127.0.0.1:",
        &format!("on {snapshot} (the date of that data)"),
        "── scope scs-compatible-kaas ──",
        "sim-compliant SCS-compatible KaaS v1 (effective):",
        // The official scope: version policy passes natively; the e2e testcases run natively
        // too, against the simulator's conformance image, and say plainly they are simulated.
        "  main       PASS       3 passed, 0 failed, 0 aborted, 0 missing",
        "e2e results simulated: cncf-k8s-conformance and kaas-networking-check",
        "would exit 0 here",
        "── scope scs-kaas-extended ──",
        "sim-compliant scs-kaas extended KaaS checks v1 (draft):",
        "  main       PASS       3 passed, 0 failed, 0 aborted, 0 missing\n",
        "would exit 0 here",
        "Report (2 documents) written to",
    ] {
        assert!(stdout.contains(want), "missing {want:?}\n{}", text(&out));
    }
    assert!(
        !stdout.contains('\x1b'),
        "no colour when stdout is not a terminal:\n{stdout}"
    );
    // Official scope first, then ours; the missing testcases are absent, not passed.
    let verdict_lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("Overall (main targets): "))
        .collect();
    assert_eq!(
        verdict_lines,
        [
            "Overall (main targets): PASS",
            "Overall (main targets): PASS"
        ]
    );
    // The simulated e2e evidence is kept beside the report, as `check --report` keeps it.
    for tc in ["cncf-k8s-conformance", "kaas-networking-check"] {
        let junit = dir
            .path()
            .join("demo-report-artifacts")
            .join(tc)
            .join("junit_01.xml");
        assert!(junit.is_file(), "{} missing", junit.display());
    }

    let yaml = std::fs::read_to_string(&report_path).unwrap();
    let reports = report::parse_stream(&yaml).unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].spec.uuid, "1fffebe6-fd4b-44d3-a36c-fc58b4bb0180");
    assert_eq!(reports[1].spec.uuid, "963bbfb5-dd59-48f5-82da-a904dbb41845");
    for r in &reports {
        assert_eq!(r.subject, "sim-compliant");
        assert_eq!(r.reference_date, snapshot);
        assert_eq!(r.run.argv[0], "check");
    }
    let official = reports[0].results();
    assert_eq!(official.get("version-policy-check"), Some(&Status::Pass));
    assert_eq!(official.get("cncf-k8s-conformance"), Some(&Status::Pass));
    assert_eq!(official.get("kaas-networking-check"), Some(&Status::Pass));
    let extended = reports[1].results();
    for id in [
        "version-policy-check",
        "default-storage-class-check",
        "node-distribution-check",
    ] {
        assert_eq!(extended.get(id), Some(&Status::Pass), "{id}");
    }

    // The signature covers both documents, and ssh-keygen accepts it.
    let pubkey = std::fs::read_to_string(dir.path().join("id.pub")).unwrap();
    let signers = dir.path().join("allowed_signers");
    std::fs::write(&signers, format!("provider {pubkey}")).unwrap();
    let ssh = std::process::Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(&signers)
        .args(["-I", "provider", "-n", "report", "-s"])
        .arg(dir.path().join("demo-report.yaml.sig"))
        .stdin(std::fs::File::open(&report_path).unwrap())
        .output()
        .unwrap();
    assert!(
        ssh.status.success(),
        "{}",
        String::from_utf8_lossy(&ssh.stderr)
    );
}

#[tokio::test]
async fn demo_of_a_failing_scenario_shows_fail_with_rule_and_fix() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/eol-version.yaml");
    let out = scs_kaas(&[
        "demo",
        "--scenario",
        scenario.to_str().unwrap(),
        "--scope",
        "scs-kaas-extended",
        "--subject",
        "old",
        // This scenario has no load balancers: do not wait for an address (default 10m).
        "-a",
        "lb_timeout=2s",
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "the demo ran; the verdict is in the output: {}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for want in [
        "old scs-kaas extended KaaS checks v1 (draft):",
        "  main       FAIL       2 passed, 1 failed, 0 aborted, 0 missing, 3 warnings\n",
        "FAIL version-policy-check",
        "ERROR [VER-",
        "fix: ",
        "would exit 1 here",
        "Add --report FILE",
    ] {
        assert!(stdout.contains(want), "missing {want:?}\n{}", text(&out));
    }
    assert!(!stdout.contains("── scope scs-compatible-kaas ──"));
}

#[tokio::test]
async fn demo_rejects_bad_input_before_starting_with_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--scope", "no-such-scope"],
            "neither a scope file nor a built-in scope",
        ),
        (&["--date", "someday"], "--date `someday` is not a date"),
        (&["--sign-key", "/nonexistent/key"], "--report"),
        (&["--timeout", "soon"], "--timeout `soon` is not a duration"),
        (&["-a", "novalue"], "-a `novalue` is not KEY=VALUE"),
    ];
    for (extra, want) in cases {
        let mut args = vec!["demo"];
        args.extend_from_slice(extra);
        let out = scs_kaas(&args).await;
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(want),
            "{extra:?}: {}",
            text(&out)
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("serving at"),
            "{extra:?}: input is checked before the sim starts: {}",
            text(&out)
        );
    }
}

#[tokio::test]
async fn a_date_outside_the_timeline_names_the_versions_and_demo_takes_version() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/cve-affected.yaml");
    let base = [
        "demo",
        "--scenario",
        scenario.to_str().unwrap(),
        "--scope",
        "scs-kaas-extended",
        "--date",
        "2023-09-20",
    ];
    let out = scs_kaas(&base).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is valid on 2023-09-20; its versions: v1 (draft from 2024-01-01, effective from 2026-12-01)"),
        "{}",
        text(&out)
    );
    assert!(
        err.contains("its versions: v1 (draft from "),
        "{}",
        text(&out)
    );
    let mut forced = base.to_vec();
    forced.extend(["--version", "v1"]);
    let out = scs_kaas(&forced).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("v1 (forced):"),
        "{}",
        text(&out)
    );
}
