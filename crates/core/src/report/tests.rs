//! Report schema tests: emit → parse round trip, and reading the Python tool's PyYAML output.

use jiff::civil::{date, datetime};

use super::*;

fn sample() -> Report {
    let mut results = OrderedMap::new();
    results.insert("version-policy-check", ResultValue(Status::Pass));
    results.insert("other-check", ResultValue(Status::Fail));
    let inv = Invocation {
        id: "0c1d2e3f-1111-4222-8333-944455556666".into(),
        cmd: "./kaas/k8s_version_policy.py -k example/kubeconfig.yaml".into(),
        result: None,
        results,
        rc: 0,
        stdout: vec![
            "version-policy-check: PASS".into(),
            "yes".into(),
            "2026-01-01".into(),
            "null".into(),
            "- dash".into(),
            "# hash".into(),
            "tab\there \u{1b}[31mred".into(),
            "'quoted'".into(),
            "x".repeat(200),
            "ünïcödé".into(),
            String::new(),
        ],
        stderr: vec!["INFO: cluster version 1.35.2 is supported".into()],
        info: 1,
        warning: 0,
        error: 0,
        critical: 0,
    };
    let mut invocations = OrderedMap::new();
    invocations.insert(inv.id.clone(), inv);
    let mut assignment = OrderedMap::new();
    assignment.insert("subject_root", "example-1.35".to_owned());
    assignment.insert("on", "off".to_owned());
    Report {
        spec: ReportSpec {
            uuid: "1fffebe6-fd4b-44d3-a36c-fc58b4bb0180".into(),
            name: "SCS-compatible KaaS".into(),
            url: "https://example/x.yaml".into(),
        },
        checked_at: datetime(2026, 8, 1, 9, 12, 44, 120_331_000),
        reference_date: date(2026, 8, 1),
        subject: "example-1.35".into(),
        run: Run {
            uuid: "6b0e3a52-0d7c-4a51-9d55-2f1f6c0c4e10".into(),
            argv: vec![
                "check".into(),
                "-a".into(),
                "subject_root=example-1.35".into(),
            ],
            assignment,
            sections: Some(vec!["light".into()]),
            forced_version: None,
            forced_tests: Some("^v".into()),
            invocations,
        },
        versions: None,
    }
}

#[test]
fn yaml_round_trip_is_lossless() {
    let report = sample();
    let yaml = report.to_yaml().unwrap();
    let back = parse_stream(&yaml).unwrap();
    assert_eq!(back, vec![report.clone()], "\n{yaml}");
    let json = report.to_json().unwrap();
    assert_eq!(parse_json(&json).unwrap(), report);
}

#[test]
fn yaml_has_the_reference_shape() {
    let yaml = sample().to_yaml().unwrap();
    assert!(yaml.starts_with("---\nspec:\n  uuid: 1fffebe6-fd4b-44d3-a36c-fc58b4bb0180\n  name: SCS-compatible KaaS\n"), "{yaml}");
    assert!(yaml.contains("\nchecked_at: 2026-08-01 09:12:44.120331\nreference_date: 2026-08-01\nsubject: example-1.35\nrun:\n  uuid: "), "{yaml}");
    assert!(yaml.contains("\n  argv:\n  - check\n"), "{yaml}");
    assert!(yaml.contains("\n  forced_version: null\n"), "{yaml}");
    assert!(yaml.contains("\n      results:\n        version-policy-check: 1\n        other-check: -1\n      rc: 0\n"), "{yaml}");
    assert!(
        yaml.contains("- 'version-policy-check: PASS'")
            || yaml.contains("- \"version-policy-check: PASS\""),
        "{yaml}"
    );
    // Strings another YAML 1.1 reader would retype stay strings.
    assert!(
        yaml.contains("- 'yes'") || yaml.contains("- \"yes\""),
        "{yaml}"
    );
    assert!(
        yaml.contains("- '2026-01-01'") || yaml.contains("- \"2026-01-01\""),
        "{yaml}"
    );
    assert!(!yaml.contains("result:"), "no legacy keys: {yaml}");
    let order: Vec<usize> = [
        "spec:",
        "checked_at:",
        "reference_date:",
        "subject:",
        "run:",
    ]
    .iter()
    .map(|k| yaml.find(&format!("\n{k}")).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{yaml}");
    let inv_keys: Vec<usize> = [
        "id:",
        "cmd:",
        "results:",
        "rc:",
        "stdout:",
        "stderr:",
        "info:",
        "warning:",
        "error:",
        "critical:",
    ]
    .iter()
    .map(|k| yaml.find(&format!("\n      {k}")).unwrap())
    .collect();
    assert!(inv_keys.windows(2).all(|w| w[0] < w[1]), "{yaml}");
}

#[test]
fn microseconds_are_omitted_when_zero_like_python() {
    let mut r = sample();
    r.checked_at = datetime(2026, 11, 22, 3, 33, 7, 0);
    let yaml = r.to_yaml().unwrap();
    assert!(
        yaml.contains("\nchecked_at: 2026-11-22 03:33:07\n"),
        "{yaml}"
    );
    assert_eq!(parse_stream(&yaml).unwrap()[0].checked_at, r.checked_at);
}

/// Exactly what PyYAML `safe_dump` writes (INTEROP.md §2.6), two documents concatenated by the
/// test runner, the second in the legacy form with `versions` and an invocation `result`.
const PYYAML: &str = r#"---
spec:
  uuid: 1fffebe6-fd4b-44d3-a36c-fc58b4bb0180
  name: SCS-compatible KaaS
  url: https://raw.githubusercontent.com/SovereignCloudStack/standards/main/Tests/scs-compatible-kaas.yaml
checked_at: 2026-08-01 09:12:44.120331
reference_date: 2026-08-01
subject: example-1.35
run:
  uuid: 6b0e3a52-0d7c-4a51-9d55-2f1f6c0c4e10
  argv:
  - ././scs-compatible-kaas.yaml
  - --debug
  - -a
  - kubeconfig=example-1.35/kubeconfig.yaml
  assignment:
    os_cloud: example-1.35
    subject_root: example-1.35
    kubeconfig: example-1.35/kubeconfig.yaml
  sections:
  - light
  - medium
  forced_version: null
  forced_tests: null
  invocations:
    0c1d2e3f-1111-4222-8333-944455556666:
      id: 0c1d2e3f-1111-4222-8333-944455556666
      cmd: ./kaas/scs_0210_version_policy/k8s_version_policy.py -k example-1.35/kubeconfig.yaml
        --some-very-long-argument-that-pyyaml-folds-onto-a-second-line
      results:
        version-policy-check: 1
      rc: 0
      stdout:
      - 'version-policy-check: PASS'
      stderr:
      - 'INFO: cluster version 1.35.2 is supported'
      - "WARNING: caf\xE9 \u2603"
      info: 1
      warning: 1
      error: 0
      critical: 0
---
spec:
  uuid: 1fffebe6-fd4b-44d3-a36c-fc58b4bb0180
  name: SCS-compatible KaaS
  url: https://example
checked_at: '2024-12-01T10:00:00+01:00'
reference_date: 2024-12-01
subject: old
run:
  uuid: 7b0e3a52-0d7c-4a51-9d55-2f1f6c0c4e10
  argv: []
  assignment: {}
  sections: null
  forced_version: v1
  forced_tests: null
  invocations:
    aa:
      id: aa
      cmd: x
      result: 0
      results:
        version-policy-check: -1
      rc: 3
      stdout: []
      stderr: []
      info: 0
      warning: 0
      error: 1
      critical: 0
versions:
  v1:
    version-policy-check:
      result: -1
      invocation: aa
"#;

#[test]
fn parses_pyyaml_multi_document_and_legacy_reports() {
    let reports = parse_stream(PYYAML).unwrap();
    assert_eq!(reports.len(), 2);
    let a = &reports[0];
    assert_eq!(a.checked_at, datetime(2026, 8, 1, 9, 12, 44, 120_331_000));
    assert_eq!(a.reference_date, date(2026, 8, 1));
    assert_eq!(
        a.run.assignment.keys().collect::<Vec<_>>(),
        ["os_cloud", "subject_root", "kubeconfig"]
    );
    let inv = a
        .run
        .invocations
        .get("0c1d2e3f-1111-4222-8333-944455556666")
        .unwrap();
    assert!(inv.cmd.ends_with(
        "kubeconfig.yaml --some-very-long-argument-that-pyyaml-folds-onto-a-second-line"
    ));
    assert_eq!(inv.stderr[1], "WARNING: café ☃");
    assert_eq!(a.results()["version-policy-check"], Status::Pass);
    assert_eq!(
        a.run.sections.as_deref(),
        Some(&["light".to_owned(), "medium".to_owned()][..])
    );
    let b = &reports[1];
    assert_eq!(
        b.checked_at,
        datetime(2024, 12, 1, 9, 0, 0, 0),
        "offset converted to naive UTC"
    );
    assert_eq!(b.run.invocations.get("aa").unwrap().result, Some(0));
    let legacy = b.versions.as_ref().unwrap();
    assert_eq!(
        legacy["v1"]["version-policy-check"].result,
        ResultValue(Status::Fail)
    );
    assert_eq!(b.results()["version-policy-check"], Status::Fail);
}

#[test]
fn bad_reports_are_rejected_with_the_reason() {
    let bad_value = PYYAML.replacen("version-policy-check: 1", "version-policy-check: 2", 1);
    let err = parse_stream(&bad_value).unwrap_err().to_string();
    assert!(err.contains("result value 2 is not one of"), "{err}");
    let bad_time = PYYAML.replacen(
        "checked_at: 2026-08-01 09:12:44.120331",
        "checked_at: yesterday",
        1,
    );
    let err = parse_stream(&bad_time).unwrap_err().to_string();
    assert!(err.contains("`yesterday` is not a timestamp"), "{err}");
    let missing = PYYAML.replacen("subject: example-1.35\n", "", 1);
    let err = parse_stream(&missing).unwrap_err().to_string();
    assert!(err.contains("subject"), "{err}");
    let mismatch = PYYAML.replacen("      id: aa\n", "      id: bb\n", 1);
    let err = parse_stream(&mismatch).unwrap_err().to_string();
    assert!(
        err.contains("invocation key `aa` differs from its `id` `bb`"),
        "{err}"
    );
    assert!(parse_stream("").is_err());
}

#[test]
fn worst_result_wins_when_an_id_is_reported_twice() {
    let mut r = sample();
    let mut second = r
        .run
        .invocations
        .get("0c1d2e3f-1111-4222-8333-944455556666")
        .unwrap()
        .clone();
    second.id = "second".into();
    second.results = OrderedMap::new();
    second
        .results
        .insert("version-policy-check", ResultValue(Status::Abort));
    r.run.invocations.insert("second", second);
    assert_eq!(r.results()["version-policy-check"], Status::Abort);
}

#[test]
fn timestamps_parse_in_every_accepted_spelling() {
    use super::time::parse_naive;
    assert_eq!(
        parse_naive("2026-08-01 09:12:44").unwrap(),
        datetime(2026, 8, 1, 9, 12, 44, 0)
    );
    assert_eq!(
        parse_naive("2026-08-01T09:12:44.5").unwrap(),
        datetime(2026, 8, 1, 9, 12, 44, 500_000_000)
    );
    assert_eq!(
        parse_naive("2026-08-01 09:12:44Z").unwrap(),
        datetime(2026, 8, 1, 9, 12, 44, 0)
    );
    assert_eq!(
        parse_naive("2026-08-01 09:12:44.25-02:00").unwrap(),
        datetime(2026, 8, 1, 11, 12, 44, 250_000_000)
    );
    assert!(parse_naive("2026-08-01").is_err());
    assert!(parse_naive("2026-13-01 00:00:00").is_err());
}
