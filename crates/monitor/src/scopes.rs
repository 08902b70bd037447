//! The scopes the monitor evaluates against: the score-card view of each scope plus what the
//! scope page shows (modules per version), and the SCS alias names.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use scs_kaas_core::scope::{self, Scope};
use scs_kaas_core::scorecard::CardScope;

/// A module included by a version, for the scope page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModuleInfo {
    /// Module id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Documentation link.
    pub url: Option<String>,
    /// Include parameters (name → value), shown on the scope page.
    pub parameters: BTreeMap<String, String>,
}

/// One loaded scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeInfo {
    /// The score-card view (testcases, versions, timeline).
    pub card: CardScope,
    /// Version name → included modules.
    pub modules: BTreeMap<String, Vec<ModuleInfo>>,
    /// Version name → testcase id → target name (`/status` `tc_target`, INTEROP §1.5): targets
    /// in the order they first appear over the version's modules, a later target winning for an
    /// id that is in several.
    pub tc_target: BTreeMap<String, BTreeMap<String, String>>,
}

/// The SCS aliases accepted in view URLs (INTEROP §4.3).
pub const ALIASES: &[(&str, &str)] = &[
    (
        "scs-compatible-iaas",
        "50393e6f-2ae1-4c5c-a62c-3b75f2abef3f",
    ),
    (
        "scs-compatible-kaas",
        "1fffebe6-fd4b-44d3-a36c-fc58b4bb0180",
    ),
];

/// All loaded scopes, keyed by uuid, in load order for display.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    order: Vec<String>,
    by_uuid: BTreeMap<String, Arc<ScopeInfo>>,
}

impl Catalogue {
    /// A catalogue of `scopes`; a later duplicate uuid is an error naming it.
    pub fn new(scopes: Vec<ScopeInfo>) -> anyhow::Result<Catalogue> {
        let mut catalogue = Catalogue::default();
        for scope in scopes {
            let uuid = scope.card.uuid.clone();
            if catalogue.by_uuid.contains_key(&uuid) {
                anyhow::bail!("two scopes share the uuid {uuid}: remove one of them");
            }
            catalogue.order.push(uuid.clone());
            catalogue.by_uuid.insert(uuid, Arc::new(scope));
        }
        Ok(catalogue)
    }

    /// The scope with this uuid or alias.
    pub fn resolve(&self, key: &str) -> Option<&Arc<ScopeInfo>> {
        let uuid = ALIASES
            .iter()
            .find(|(alias, _)| *alias == key)
            .map_or(key, |(_, uuid)| uuid);
        self.by_uuid.get(uuid)
    }

    /// The scope with exactly this uuid (no alias).
    pub fn get(&self, uuid: &str) -> Option<&Arc<ScopeInfo>> {
        self.by_uuid.get(uuid)
    }

    /// Scopes in load order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<ScopeInfo>> {
        self.order.iter().filter_map(|u| self.by_uuid.get(u))
    }
}

impl ScopeInfo {
    /// The monitor's view of a parsed scope; a scope without uuid is an error naming it.
    pub fn from_scope(scope: &Scope) -> anyhow::Result<ScopeInfo> {
        let card = CardScope::from_scope(scope).with_context(|| {
            format!(
                "scope {:?} has no uuid: the monitor keys reports by scope uuid, add `uuid:`",
                scope.name
            )
        })?;
        let modules = scope
            .versions
            .iter()
            .map(|v| {
                let list = v
                    .include
                    .iter()
                    .map(|inc| {
                        let module = scope.modules.iter().find(|m| m.id == inc.module);
                        ModuleInfo {
                            id: inc.module.clone(),
                            name: module
                                .and_then(|m| m.name.clone())
                                .unwrap_or_else(|| inc.module.clone()),
                            url: module.and_then(|m| m.url.clone()),
                            parameters: inc.parameters.iter().cloned().collect(),
                        }
                    })
                    .collect();
                (v.name.clone(), list)
            })
            .collect();
        let tc_target = scope
            .versions
            .iter()
            .map(|v| {
                let mut order: Vec<&str> = Vec::new();
                for inc in &v.include {
                    let module = scope.modules.iter().find(|m| m.id == inc.module);
                    for (target, _) in module.into_iter().flat_map(|m| m.targets.iter()) {
                        if !order.contains(&target.as_str()) {
                            order.push(target);
                        }
                    }
                }
                let mut map = BTreeMap::new();
                for target in order {
                    for id in v.targets.get(target).into_iter().flatten() {
                        map.insert(id.clone(), target.to_string());
                    }
                }
                (v.name.clone(), map)
            })
            .collect();
        Ok(ScopeInfo {
            card,
            modules,
            tc_target,
        })
    }
}

/// The built-in scopes plus every `*.yaml`/`*.yml` file in `dir` (sorted by name); a file
/// with the uuid of a built-in scope replaces it. Any file that does not parse is an error
/// naming the file.
pub fn load(dir: Option<&Path>) -> anyhow::Result<Vec<ScopeInfo>> {
    let mut from_dir = Vec::new();
    if let Some(dir) = dir {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the scope directory {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        for file in files {
            let text = scs_kaas_core::input::read_bounded_text(
                &file,
                scs_kaas_core::input::InputKind::Scope,
            )?;
            let parsed = Scope::parse(&file.display().to_string(), &text)
                .with_context(|| format!("invalid scope file {}", file.display()))?;
            from_dir.push(
                ScopeInfo::from_scope(&parsed)
                    .with_context(|| format!("scope file {}", file.display()))?,
            );
        }
    }
    let mut all = Vec::new();
    for builtin in scope::builtin::ALL {
        let parsed = builtin
            .load()
            .with_context(|| format!("built-in scope {}", builtin.name))?;
        let info = ScopeInfo::from_scope(&parsed)?;
        if !from_dir.iter().any(|s| s.card.uuid == info.card.uuid) {
            all.push(info);
        }
    }
    all.extend(from_dir);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The official IaaS scope (modules without `targets`) in the scope directory: the monitor
    /// starts with it next to the built-in scopes.
    #[test]
    fn scope_dir_with_the_official_iaas_scope_loads() {
        let dir = tempfile::tempdir().unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../core/tests/data/scopes/history/scs-compatible-iaas.2026-06-25.af4968ca.yaml");
        std::fs::copy(&source, dir.path().join("scs-compatible-iaas.yaml")).unwrap();
        let all = load(Some(dir.path())).unwrap();
        let iaas = all
            .iter()
            .find(|s| s.card.uuid == "50393e6f-2ae1-4c5c-a62c-3b75f2abef3f")
            .expect("IaaS scope loaded");
        assert!(iaas.modules.contains_key("v5.1"));
        assert_eq!(all.len(), 3);
    }
}
