//! Scope parsing tests: the samples, malformed files, timeline boundaries.

use jiff::civil::date;

use super::*;

const S2024_03: &str = include_str!("../../tests/data/scopes/scs-compatible-kaas.2024-03-06.yaml");
const S2024_11: &str = include_str!("../../tests/data/scopes/scs-compatible-kaas.2024-11-26.yaml");
const S2026_06: &str = include_str!("../../tests/data/scopes/scs-compatible-kaas.2026-06-22.yaml");

fn ids(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn current_sample_parses_with_derived_targets_and_attn() {
    let s = Scope::parse("kaas.yaml", S2026_06).unwrap();
    assert_eq!(s.format, Format::Current);
    assert_eq!(
        s.uuid.as_deref(),
        Some("1fffebe6-fd4b-44d3-a36c-fc58b4bb0180")
    );
    assert_eq!(s.name, "SCS-compatible KaaS");
    assert_eq!(
        s.variables,
        vec![
            Variable {
                name: "subject_root".into(),
                default: None
            },
            Variable {
                name: "kubeconfig".into(),
                default: None
            },
            Variable {
                name: "execution_mode".into(),
                default: Some("parallel".into())
            },
        ]
    );
    assert_eq!(s.scripts.len(), 4);
    assert_eq!(s.scripts[2].executable, None);
    assert_eq!(s.scripts[1].args.as_deref(), Some("-k {kubeconfig}"));
    assert!(
        s.scripts[0]
            .args
            .as_deref()
            .unwrap()
            .starts_with("run -k {kubeconfig} --scs-sonobuoy-config kaas/")
    );
    let v1 = s.version("v1").unwrap();
    assert_eq!(v1.stabilized_at, Some(date(2024, 11, 26)));
    assert_eq!(
        ids(&v1.targets["main"]),
        [
            "cncf-k8s-conformance",
            "kaas-networking-check",
            "version-policy-check"
        ]
    );
    assert_eq!(
        v1.targets.len(),
        1,
        "scs-0214-v2 contributes no target, the manual module is not included"
    );
    let tc = |id: &str| s.testcase(id).unwrap();
    assert_eq!(tc("cncf-k8s-conformance").lifetime, Lifetime::Year);
    assert_eq!(tc("kaas-networking-check").lifetime, Lifetime::Month);
    assert_eq!(tc("version-policy-check").lifetime, Lifetime::Week);
    assert_eq!(tc("version-policy-check").section.as_deref(), Some("light"));
    assert_eq!(tc("version-policy-check").attn, 1);
    assert_eq!(tc("node-distribution-check").attn, 0);
    assert_eq!(tc("node-distribution-check").section, None);
    assert_eq!(
        s.modules[3].targets,
        vec![(
            "preview".to_owned(),
            vec!["node-distribution-check".to_owned()]
        )]
    );
    assert!(s.notes.is_empty(), "{:?}", s.notes);
}

#[test]
fn builtin_official_scope_is_the_newest_sample_verbatim() {
    assert_eq!(builtin::SCS_COMPATIBLE_KAAS.yaml, S2026_06);
    for b in builtin::ALL {
        let s = b.load().unwrap();
        assert!(s.uuid.is_some(), "{}", b.name);
    }
    let ext = builtin::SCS_KAAS_EXTENDED.load().unwrap();
    assert_ne!(ext.uuid, builtin::SCS_COMPATIBLE_KAAS.load().unwrap().uuid);
    assert!(
        ext.testcases
            .iter()
            .all(|t| ext.scripts[t.script].executable.is_none())
    );
    assert_eq!(ext.testcases.len(), 8);
    assert_eq!(
        builtin::find("scs-kaas-extended").unwrap().name,
        "scs-kaas-extended"
    );
    assert!(builtin::find("nope").is_none());
}

#[test]
fn builtin_extended_scope_has_a_stable_effective_version() {
    let ext = builtin::SCS_KAAS_EXTENDED.load().unwrap();
    let v1 = ext.version("v1").unwrap();
    assert_eq!(v1.stabilized_at, Some(jiff::civil::date(2026, 12, 1)));
    let on = |d| ext.validity_on(d)[0].validity;
    assert_eq!(on(jiff::civil::date(2026, 12, 1)), Validity::Effective);
    assert_eq!(on(jiff::civil::date(2026, 11, 30)), Validity::Draft);
}

#[test]
fn modules_2024_sample_selects_targets_by_tag() {
    let s = Scope::parse("old.yaml", S2024_11).unwrap();
    assert_eq!(s.format, Format::Modules2024);
    assert_eq!(
        s.variables,
        vec![Variable {
            name: "subject_root".into(),
            default: None
        }]
    );
    let v1 = s.version("v1").unwrap();
    assert_eq!(
        ids(&v1.targets["main"]),
        [
            "cncf-k8s-conformance",
            "kaas-networking-check",
            "node-distribution-check",
            "version-policy-check"
        ]
    );
    assert_eq!(s.scripts.len(), 4);
    assert_eq!(
        s.scripts[1].executable.as_deref(),
        Some("./kaas/k8s-version-policy/k8s_version_policy.py")
    );
    assert_eq!(s.testcase("version-policy-check").unwrap().attn, 1);
    assert_eq!(
        s.validity_on(date(2024, 12, 1))[0].validity,
        Validity::Effective
    );
}

#[test]
fn standards_2024_sample_names_checks_after_executables() {
    let s = Scope::parse("older.yaml", S2024_03).unwrap();
    assert_eq!(s.format, Format::Standards2024);
    assert_eq!(s.uuid, None);
    assert_eq!(s.versions.len(), 2);
    assert_eq!(
        ids(&s.version("v2").unwrap().targets["main"]),
        ["k8s-node-distribution-check", "k8s_version_policy"]
    );
    assert_eq!(
        s.scripts.len(),
        2,
        "checks shared by v1 and v2 are one program"
    );
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("CNCF Kubernetes conformance"))
    );
    assert!(s.validity_on(date(2024, 6, 1)).iter().all(|v| !v.explicit));
}

const TIMELINE: &str = "\
uuid: u
name: n
url: x
scripts: []
modules: []
versions:
- version: v2
  include: []
- version: v1
  include: []
  stabilized_at: 2024-01-01
- version: v0
  include: []
  stabilized_at: 2023-01-01
timeline:
- date: 2024-06-01
  versions: {v1: warn, v2: draft}
- date: 2024-01-01
  versions: {v1: effective, v0: deprecated}
- date: 2024-06-01
  versions: {v1: effective}
";

#[test]
fn validity_at_timeline_boundaries() {
    let s = Scope::parse("t.yaml", TIMELINE).unwrap();
    let at = |y, m, d| {
        s.validity_on(date(y, m, d))
            .into_iter()
            .map(|v| (v.validity, v.explicit))
            .collect::<Vec<_>>()
    };
    use Validity::*;
    // Before the first entry: nothing explicit.
    assert_eq!(at(2023, 12, 31), vec![(Deprecated, false); 3]);
    // First day of an entry applies it; an explicitly listed deprecated version stays explicit.
    assert_eq!(
        at(2024, 1, 1),
        vec![(Deprecated, false), (Effective, true), (Deprecated, true)]
    );
    assert_eq!(
        at(2024, 5, 31),
        vec![(Deprecated, false), (Effective, true), (Deprecated, true)]
    );
    // Tie on 2024-06-01: the first entry in file order wins; v0 is no longer listed.
    assert_eq!(
        at(2024, 6, 1),
        vec![(Draft, true), (Warn, true), (Deprecated, false)]
    );
    assert_eq!(
        at(2030, 1, 1),
        vec![(Draft, true), (Warn, true), (Deprecated, false)]
    );
}

/// A minimal valid scope; each malformed case edits one line of it.
const BASE: &str = "\
uuid: u-1234
name: test
url: https://x
variables:
  - kubeconfig
  - mode: fast
scripts:
- executable: ./a.py
  args: -k {kubeconfig} -m {mode} {testcases}
  testcases:
  - id: tc-a
    lifetime: day
    section: light
  - id: tc-b
modules:
  - id: m1
    targets:
      main:
      - tc-a
      - tc-b
versions:
  - version: v1
    stabilized_at: 2024-01-01
    include:
      - m1
timeline:
  - date: 2024-01-01
    versions:
      v1: effective
";

#[test]
fn base_fixture_is_valid() {
    let s = Scope::parse("base.yaml", BASE).unwrap();
    assert_eq!(s.uuid.as_deref(), Some("u-1234"));
}

fn reject(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "fixture lacks {from:?}");
    let text = BASE.replacen(from, to, 1);
    Scope::parse("bad.yaml", &text).unwrap_err().to_string()
}

#[test]
fn malformed_scopes_are_rejected_at_the_right_place() {
    let cases: &[(&str, &str, &str)] = &[
        // unknown key in a testcase (the removed `tags`)
        (
            "    section: light\n",
            "    section: light\n    tags: [mandatory]\n",
            "bad.yaml:14:5: unknown key `tags` in a testcase; allowed keys: lifetime, section, id, description, url",
        ),
        // unknown top-level key
        (
            "name: test\n",
            "name: test\nowner: me\n",
            "bad.yaml:3:1: unknown key `owner` in the scope; allowed keys:",
        ),
        // bad lifetime
        (
            "lifetime: day",
            "lifetime: forever",
            "bad.yaml:12:15: unknown lifetime `forever`; use one of day, week, month, quarter, year, infinite",
        ),
        // duplicate testcase id
        (
            "  - id: tc-b\n",
            "  - id: tc-a\n",
            "bad.yaml:14:9: duplicate testcase id `tc-a` (first defined at 11:9)",
        ),
        // target names an unknown testcase
        (
            "      - tc-b\n",
            "      - tc-c\n",
            "bad.yaml:20:9: target `main` of module `m1` names testcase `tc-c`, which no script defines",
        ),
        // include of an unknown module
        (
            "      - m1\n",
            "      - m2\n",
            "bad.yaml:25:9: version `v1` includes module `m2`, which is not defined under `modules`",
        ),
        // timeline names an unknown version
        (
            "      v1: effective",
            "      v9: effective",
            "bad.yaml:29:7: timeline names version `v9`, which is not defined under `versions`",
        ),
        // unknown validity code
        (
            "      v1: effective",
            "      v1: active",
            "bad.yaml:29:11: unknown validity `active`; use one of effective, warn, draft, deprecated",
        ),
        // effective but not stable
        (
            "    stabilized_at: 2024-01-01\n",
            "",
            "bad.yaml:28:11: version `v1` is `effective` but not stable",
        ),
        // bad date
        (
            "  - date: 2024-01-01",
            "  - date: 2024-13-01",
            "bad.yaml:27:11: `date` `2024-13-01` is not a date; write it as YYYY-MM-DD",
        ),
        // missing required key
        (
            "uuid: u-1234\n",
            "",
            "bad.yaml:1:1: the scope is missing the required key `uuid`",
        ),
        // wrong type
        (
            "  - version: v1",
            "  - version: 1",
            "bad.yaml:22:14: `version` must be a string, found an integer; put it in quotes",
        ),
        // template with attribute access
        (
            "-m {mode}",
            "-m {mode.x}",
            "bad.yaml:9:9: template field `{mode.x}` uses attribute access (`.`), which is not supported",
        ),
        // template with an undeclared variable
        (
            "-m {mode}",
            "-m {mood}",
            "bad.yaml:9:9: template uses `{mood}`, which is not declared; add `mood` under `variables`",
        ),
        // duplicate module id
        (
            "modules:\n",
            "modules:\n  - id: m1\n    targets: {}\n",
            "bad.yaml:18:9: duplicate module id `m1` (first defined at 16:9)",
        ),
        // testcase missing its id
        (
            "  - id: tc-b\n",
            "  - section: x\n",
            "bad.yaml:14:5: a testcase is missing the required key `id`",
        ),
        // YAML syntax error
        ("  - id: tc-b\n", "  - id: [tc-b\n", "bad.yaml:"),
        // id that cannot be reported
        (
            "  - id: tc-b\n",
            "  - id: 'tc b'\n",
            "bad.yaml:14:9: testcase id `tc b` must be non-empty without spaces or `:`",
        ),
        // duplicate mapping key (caught by the YAML layer)
        ("name: test\n", "name: test\nname: again\n", "bad.yaml:"),
        // reserved variable
        (
            "  - kubeconfig\n",
            "  - kubeconfig\n  - testcases\n",
            "bad.yaml:6:5: `testcases` is reserved",
        ),
    ];
    for (from, to, want) in cases {
        let got = reject(from, to);
        assert!(
            got.starts_with(want),
            "replacing {from:?} by {to:?}:\n got: {got}\nwant: {want}"
        );
    }
}

#[test]
fn yaml_syntax_errors_carry_a_position() {
    let got = reject("  - id: tc-b\n", "  - id: [tc-b\n");
    let rest = got.strip_prefix("bad.yaml:").unwrap();
    let line: u64 = rest.split(':').next().unwrap().parse().unwrap();
    assert!(line >= 13, "{got}");
    assert!(got.contains("not valid YAML"), "{got}");
}

#[test]
fn assignment_overlays_defaults_and_names_missing_variables() {
    let s = Scope::parse("base.yaml", BASE).unwrap();
    let mut given = BTreeMap::new();
    let err = s.assignment(&given).unwrap_err();
    assert!(err.contains("-a kubeconfig=VALUE"), "{err}");
    given.insert("kubeconfig".to_owned(), "/k".to_owned());
    given.insert("extra".to_owned(), "1".to_owned());
    let a = s.assignment(&given).unwrap();
    assert_eq!(a["kubeconfig"], "/k");
    assert_eq!(a["mode"], "fast");
    assert_eq!(a["extra"], "1");
    given.insert("mode".to_owned(), "slow".to_owned());
    assert_eq!(s.assignment(&given).unwrap()["mode"], "slow");
}

#[test]
fn target_of_names_the_target() {
    let s = Scope::parse("kaas.yaml", S2026_06).unwrap();
    let v1 = s.version("v1").unwrap();
    assert_eq!(v1.target_of("version-policy-check"), Some("main"));
    assert_eq!(v1.target_of("node-distribution-check"), None);
}

/// Revisions of the official scope files that were committed as invalid YAML; the reference's
/// `yaml.safe_load` rejects them as well, so must we.
const BROKEN_REVISIONS: &[&str] = &[
    "scs-compatible-kaas.2024-11-26.bb0ed133.yaml",
    "scs-compatible-kaas.2026-04-24.bc862b9c.yaml",
];

#[test]
fn every_published_revision_of_the_official_scopes_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scopes/history");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (mut kaas, mut iaas) = (0, 0);
    let mut formats = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_str().unwrap();
        kaas += usize::from(name.starts_with("scs-compatible-kaas."));
        iaas += usize::from(name.starts_with("scs-compatible-iaas."));
        let text = std::fs::read_to_string(path).unwrap();
        let result = Scope::parse(name, &text);
        if BROKEN_REVISIONS.contains(&name) {
            let err = result.expect_err(name).to_string();
            assert!(err.contains(name), "{err}");
            continue;
        }
        match result {
            Ok(scope) => {
                assert!(!scope.versions.is_empty(), "{name}: no versions");
                formats.insert(format!("{:?}", scope.format));
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    assert!(failures.is_empty(), "rejected:\n{}", failures.join("\n"));
    // Both files, every revision the data set holds, all three formats.
    assert_eq!((kaas, iaas), (27, 43));
    assert_eq!(formats.len(), 3, "{formats:?}");
}

#[test]
fn current_iaas_scope_with_modules_without_targets_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/scopes/history");
    let text =
        std::fs::read_to_string(dir.join("scs-compatible-iaas.2026-06-25.af4968ca.yaml")).unwrap();
    let s = Scope::parse("iaas.yaml", &text).unwrap();
    assert_eq!(s.format, Format::Current);
    let opc = s.modules.iter().find(|m| m.id == "opc-v2022.11").unwrap();
    assert!(opc.targets.is_empty());
    assert!(s.version("v5.1").unwrap().targets.contains_key("main"));
}
