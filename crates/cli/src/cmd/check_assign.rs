//! Which `-a KEY=VALUE` keys a `check` run knows: the scope's variables, the keys the selected
//! native checks declare ([`Check::assignments`]) and the two the tool sets like the SCS runner.
//! Anything else is a usage error naming the nearest known key, so a typo is never ignored.

use std::collections::{BTreeMap, BTreeSet};

use scs_kaas_checks::Check;
use scs_kaas_core::scope::Scope;

/// Variables the tool assigns itself, as the SCS test runner does.
const RUNNER_VARIABLES: &[&str] = &["kubeconfig", "subject_root"];

/// `Err` with a message naming every key of `given` that neither the scope's variables nor a
/// check of `selected` knows; keys of `registry` checks that are not selected are named with
/// the check that reads them.
pub fn check_known(
    given: &BTreeMap<String, String>,
    scope: &Scope,
    selected: &[&dyn Check],
    registry: &[&dyn Check],
) -> Result<(), String> {
    let mut known: BTreeSet<&str> = RUNNER_VARIABLES.iter().copied().collect();
    known.extend(scope.variables.iter().map(|v| v.name.as_str()));
    for check in selected {
        known.extend(check.assignments().iter().map(|a| a.key));
    }
    let mut problems = Vec::new();
    for key in given.keys().filter(|k| !known.contains(k.as_str())) {
        let readers: Vec<&str> = registry
            .iter()
            .filter(|c| c.assignments().iter().any(|a| a.key == key))
            .map(|c| c.id())
            .collect();
        if !readers.is_empty() {
            problems.push(format!(
                "-a {key} is read by {}, which this run of scope `{}` does not select; drop it or select the check (--tests)",
                readers.join(", "),
                scope.name
            ));
            continue;
        }
        let mut candidates: BTreeSet<&str> = known.clone();
        for check in registry {
            candidates.extend(check.assignments().iter().map(|a| a.key));
        }
        let nearest = candidates
            .iter()
            .min_by_key(|c| strsim::levenshtein(key, c))
            .map(|c| format!("; did you mean `{c}`?"))
            .unwrap_or_default();
        problems.push(format!(
            "-a {key}: no selected check and no variable of scope `{}` knows this key{nearest} (`scs-kaas checks ID` lists each check's keys, `scs-kaas scope show` the variables)",
            scope.name
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scs_kaas_checks::registry;

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn extended() -> Scope {
        scs_kaas_core::scope::builtin::ALL
            .iter()
            .find(|b| b.name == "scs-kaas-extended")
            .unwrap()
            .load()
            .unwrap()
    }

    #[test]
    fn a_misspelled_key_names_the_nearest_known_one() {
        let all = registry::all();
        let refs: Vec<&dyn Check> = all.iter().map(|c| c.as_ref()).collect();
        let storage = registry::find("default-storage-class-check").unwrap();
        let err = check_known(
            &given(&[("storage_timout", "10s")]),
            &extended(),
            &[storage.as_ref()],
            &refs,
        )
        .unwrap_err();
        assert!(err.contains("-a storage_timout"), "{err}");
        assert!(err.contains("did you mean `storage_timeout`?"), "{err}");
    }

    #[test]
    fn keys_of_selected_checks_scope_variables_and_runner_variables_pass() {
        let all = registry::all();
        let refs: Vec<&dyn Check> = all.iter().map(|c| c.as_ref()).collect();
        let storage = registry::find("default-storage-class-check").unwrap();
        let ok = given(&[
            ("storage_timeout", "10s"),
            ("multiple_default_severity", "warn"),
            ("kubeconfig", "kc.yaml"),
            ("subject_root", "x"),
        ]);
        assert_eq!(
            check_known(&ok, &extended(), &[storage.as_ref()], &refs),
            Ok(())
        );
        let mut scope = extended();
        scope.variables.push(scs_kaas_core::scope::Variable {
            name: "os_cloud".into(),
            default: None,
        });
        assert_eq!(
            check_known(&given(&[("os_cloud", "c")]), &scope, &[], &refs),
            Ok(())
        );
    }

    #[test]
    fn a_key_of_an_unselected_check_names_that_check() {
        let all = registry::all();
        let refs: Vec<&dyn Check> = all.iter().map(|c| c.as_ref()).collect();
        let version = registry::find("version-policy-check").unwrap();
        let err = check_known(
            &given(&[("lb_timeout", "10s")]),
            &extended(),
            &[version.as_ref()],
            &refs,
        )
        .unwrap_err();
        assert!(err.contains("read by loadbalancer-check"), "{err}");
    }
}
