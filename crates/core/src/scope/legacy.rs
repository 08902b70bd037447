//! The two 2024 scope formats (INTEROP.md §1.11), mapped onto the current model so old scope files
//! can still be shown and run.
//!
//! - *Modules 2024* (2024-08 … 2026-01): modules own `run` programs and `testcases` with `tags`;
//!   a version's `targets` maps a target name to tags (`main: mandatory`); several tags separated by
//!   spaces or commas select testcases carrying any of them.
//! - *Standards 2024* (2024-03 … 2024-08): `versions[].standards[].check_tools` (later `checks`)
//!   list programs directly; there is no timeline and usually no testcase id, so a check without `id`
//!   gets the file stem of its executable as id. Everything a version lists goes to `main`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::error::ScopeError;
use super::parse::{
    Ctx, Entries, check_id, compute_attn, get, parameters, prerequisite, script_program, timeline,
    variables,
};
use super::yaml::{Node, Pos, Value};
use super::{Format, Include, Lifetime, Module, Scope, Script, Testcase, Variable, Version};

const SPEC_KEYS_2024: &[&str] = &[
    "uuid",
    "name",
    "url",
    "versions",
    "prerequisite",
    "variables",
    "modules",
    "timeline",
];
const MODULE_KEYS_2024: &[&str] = &["id", "name", "url", "parameters", "run", "testcases"];
const RUN_KEYS: &[&str] = &["executable", "env", "args"];
const TESTCASE_KEYS_2024: &[&str] = &["id", "tags", "lifetime", "section", "description", "url"];
const VERSION_KEYS_2024: &[&str] = &["version", "include", "targets", "stabilized_at"];
const INCLUDE_KEYS: &[&str] = &["ref", "parameters"];
const OLD_SPEC_KEYS: &[&str] = &[
    "uuid",
    "name",
    "url",
    "variables",
    "versions",
    "prerequisite",
];
/// `obsoleted_at` (2023) was renamed `deprecated_at` (2024-03); both are informational here, as
/// the reference of the time only displayed them.
const OLD_VERSION_KEYS: &[&str] = &[
    "version",
    "standards",
    "stabilized_at",
    "deprecated_at",
    "obsoleted_at",
];
/// `condition` (2023 IaaS: `mandatory`, `optional`) decides the target of a standard's checks.
const OLD_STANDARD_KEYS: &[&str] = &[
    "name",
    "url",
    "condition",
    "check_tools",
    "checks",
    "parameters",
];
/// Target of checks of standards with `condition: optional`.
const OPTIONAL_TARGET: &str = "optional";
const OLD_CHECK_KEYS: &[&str] = &["executable", "args", "env", "id", "description"];

/// The 2024-08 … 2026-01 format.
pub(super) fn modules_2024(cx: &Ctx, root: &Node, top: &Entries) -> Result<Scope, ScopeError> {
    cx.check_keys(top, SPEC_KEYS_2024, "the scope")?;
    let what = "the scope";
    let uuid = cx.string(cx.required(top, root.pos, "uuid", what)?, "`uuid`")?;
    let name = cx.string(cx.required(top, root.pos, "name", what)?, "`name`")?;
    let url = cx.string(cx.required(top, root.pos, "url", what)?, "`url`")?;
    let variables = variables(cx, get(top, "variables"))?;
    let mut scripts = Vec::new();
    let mut testcases = Vec::new();
    let mut tags: HashMap<String, Vec<String>> = HashMap::new();
    let mut module_tcs: HashMap<String, Vec<String>> = HashMap::new();
    let mut modules = Vec::new();
    let mut seen_tc: HashMap<String, Pos> = HashMap::new();
    let mut seen_mod: HashMap<String, Pos> = HashMap::new();
    let mut notes = Vec::new();
    for item in cx.seq(cx.required(top, root.pos, "modules", what)?, "`modules`")? {
        let entries = cx.map(item, "a module")?;
        cx.check_keys(entries, MODULE_KEYS_2024, "a module")?;
        let id_node = cx.required(entries, item.pos, "id", "a module")?;
        let id = cx.string(id_node, "module `id`")?;
        if let Some(first) = seen_mod.insert(id.clone(), id_node.pos) {
            return Err(cx.err(
                id_node.pos,
                format!("duplicate module id `{id}` (first defined at {first})"),
            ));
        }
        let runs = match get(entries, "run") {
            Some(n) => cx.seq(n, "`run`")?,
            None => &[],
        };
        if runs.len() > 1 {
            return Err(cx.err(
                runs[1].pos,
                format!("module `{id}` has several `run` entries; which one decides which testcase is ambiguous: convert the scope to the current format with one script per program"),
            ));
        }
        let index = scripts.len();
        let mut script = match runs.first() {
            Some(run) => {
                let e = cx.map(run, "a `run` entry")?;
                cx.check_keys(e, RUN_KEYS, "a `run` entry")?;
                // The module's declared `parameters` are filled in by the including version.
                let mut known = variables.clone();
                for (name, _) in parameters(cx, get(entries, "parameters"))? {
                    known.push(Variable {
                        name,
                        default: None,
                    });
                }
                script_program(cx, e, index, &known)?
            }
            None => Script {
                index,
                executable: None,
                args: None,
                env: Vec::new(),
                testcases: Vec::new(),
            },
        };
        let mut ids = Vec::new();
        let mut seen_in_module: HashMap<String, Pos> = HashMap::new();
        if let Some(list) = get(entries, "testcases") {
            for tc in cx.seq(list, "`testcases`")? {
                let e = cx.map(tc, "a testcase")?;
                cx.check_keys(e, TESTCASE_KEYS_2024, "a testcase")?;
                let mut stripped: Vec<(Node, Node)> = e.to_vec();
                stripped.retain(|(k, _)| !matches!(&k.value, Value::Str(s) if s == "tags"));
                let mut t = super::parse::testcase(cx, tc, &stripped, index, &mut seen_in_module)?;
                // The reference of the time only warned about an id defined by two modules
                // (each with its own program); keep them apart.
                if seen_tc.contains_key(&t.id) {
                    let renamed = format!("{}@{id}", t.id);
                    notes.push(format!(
                        "testcase `{}` is defined again by module `{id}`; that one is called `{renamed}` here",
                        t.id
                    ));
                    t.id = renamed;
                }
                seen_tc.insert(t.id.clone(), tc.pos);
                let mut t_tags = Vec::new();
                if let Some(tn) = get(e, "tags") {
                    for tag in cx.seq(tn, "`tags`")? {
                        t_tags.push(cx.string(tag, "a tag")?);
                    }
                }
                tags.insert(t.id.clone(), t_tags);
                ids.push(t.id.clone());
                testcases.push(t);
            }
        }
        script.testcases = ids.clone();
        scripts.push(script);
        module_tcs.insert(id.clone(), ids);
        modules.push(Module {
            id,
            name: get(entries, "name")
                .map(|n| cx.string(n, "module `name`"))
                .transpose()?
                .map(|s| s.trim().to_owned()),
            url: get(entries, "url")
                .map(|n| cx.string(n, "module `url`"))
                .transpose()?,
            parameters: parameters(cx, get(entries, "parameters"))?,
            targets: Vec::new(),
        });
    }
    let mut versions: Vec<Version> = Vec::new();
    for item in cx.seq(cx.required(top, root.pos, "versions", what)?, "`versions`")? {
        let entries = cx.map(item, "a version")?;
        cx.check_keys(entries, VERSION_KEYS_2024, "a version")?;
        let name_node = cx.required(entries, item.pos, "version", "a version")?;
        let vname = cx.string(name_node, "`version`")?;
        if versions.iter().any(|v| v.name == vname) {
            return Err(cx.err(name_node.pos, format!("duplicate version `{vname}`")));
        }
        let mut include = Vec::new();
        let mut pool: Vec<String> = Vec::new();
        for inc in cx.seq(
            cx.required(entries, item.pos, "include", "a version")?,
            "`include`",
        )? {
            let (mid, params, pos) = match &inc.value {
                Value::Str(s) => (s.clone(), Vec::new(), inc.pos),
                Value::Map(e) => {
                    cx.check_keys(e, INCLUDE_KEYS, "an include")?;
                    let r = cx.required(e, inc.pos, "ref", "an include")?;
                    (
                        cx.string(r, "`ref`")?,
                        parameters(cx, get(e, "parameters"))?,
                        r.pos,
                    )
                }
                other => {
                    return Err(cx.err(
                        inc.pos,
                        format!("an include must be a module id, found {}", other.kind()),
                    ));
                }
            };
            let ids = module_tcs.get(&mid).ok_or_else(|| {
                cx.err(
                    pos,
                    format!("version `{vname}` includes module `{mid}`, which is not defined under `modules`"),
                )
            })?;
            pool.extend(ids.iter().cloned());
            include.push(Include {
                module: mid,
                parameters: params,
            });
        }
        let mut targets: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Some(tnode) = get(entries, "targets") {
            for (k, v) in cx.map(tnode, "`targets`")? {
                let target = cx.string(k, "a target name")?;
                let selector = cx.string(v, &format!("the tag selector of target `{target}`"))?;
                let wanted: Vec<&str> = selector
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .collect();
                let ids: BTreeSet<String> = pool
                    .iter()
                    .filter(|id| {
                        tags.get(*id)
                            .is_some_and(|t| t.iter().any(|tag| wanted.contains(&tag.as_str())))
                    })
                    .cloned()
                    .collect();
                targets.insert(target, ids.into_iter().collect());
            }
        }
        versions.push(Version {
            name: vname,
            include,
            stabilized_at: get(entries, "stabilized_at")
                .map(|n| cx.date(n, "`stabilized_at`"))
                .transpose()?,
            targets,
        });
    }
    let timeline = match get(top, "timeline") {
        Some(n) => timeline(cx, n, &versions)?,
        None => Vec::new(),
    };
    notes.insert(
        0,
        "scope uses the 2024 module format (`run`, `tags`); targets are selected by tag".to_owned(),
    );
    let prerequisite = prerequisite(cx, get(top, "prerequisite"), &mut notes)?;
    let mut scope = Scope {
        uuid: Some(uuid),
        name,
        url,
        format: Format::Modules2024,
        variables,
        scripts,
        testcases,
        modules,
        versions,
        timeline,
        prerequisite,
        notes,
    };
    compute_attn(&mut scope);
    Ok(scope)
}

/// The 2024-03 … 2024-08 format.
pub(super) fn standards_2024(cx: &Ctx, root: &Node, top: &Entries) -> Result<Scope, ScopeError> {
    cx.check_keys(top, OLD_SPEC_KEYS, "the scope")?;
    let what = "the scope";
    let uuid = get(top, "uuid")
        .map(|n| cx.string(n, "`uuid`"))
        .transpose()?;
    let name = cx.string(cx.required(top, root.pos, "name", what)?, "`name`")?;
    let url = cx.string(cx.required(top, root.pos, "url", what)?, "`url`")?;
    let variables = variables(cx, get(top, "variables"))?;
    let mut scripts: Vec<Script> = Vec::new();
    let mut testcases: Vec<Testcase> = Vec::new();
    let mut versions: Vec<Version> = Vec::new();
    let mut notes = vec![
        "scope uses the 2024 `standards`/`check_tools` format; checks without `id` are named after their executable".to_owned(),
    ];
    for item in cx.seq(cx.required(top, root.pos, "versions", what)?, "`versions`")? {
        let entries = cx.map(item, "a version")?;
        cx.check_keys(entries, OLD_VERSION_KEYS, "a version")?;
        let name_node = cx.required(entries, item.pos, "version", "a version")?;
        let vname = cx.string(name_node, "`version`")?;
        if versions.iter().any(|v| v.name == vname) {
            return Err(cx.err(name_node.pos, format!("duplicate version `{vname}`")));
        }
        let mut main = BTreeSet::new();
        let mut optional = BTreeSet::new();
        for key in ["deprecated_at", "obsoleted_at"] {
            if let Some(n) = get(entries, key) {
                let d = cx.date(n, &format!("`{key}`"))?;
                notes.push(format!(
                    "version `{vname}`: {key} {d} is shown only; without a timeline, versions are chosen with --version"
                ));
            }
        }
        if let Some(stds) = get(entries, "standards") {
            for std_node in cx.seq(stds, "`standards`")? {
                let se = cx.map(std_node, "a standard")?;
                cx.check_keys(se, OLD_STANDARD_KEYS, "a standard")?;
                let sname = get(se, "name")
                    .map(|n| cx.string(n, "standard `name`"))
                    .transpose()?
                    .unwrap_or_else(|| "(unnamed)".into());
                let is_optional = match get(se, "condition") {
                    None => false,
                    Some(n) => match cx.string(n, "`condition`")?.as_str() {
                        "mandatory" => false,
                        "optional" => true,
                        other => {
                            return Err(cx.err(
                                n.pos,
                                format!("unknown condition `{other}`; use mandatory or optional"),
                            ));
                        }
                    },
                };
                let checks = get(se, "check_tools").or_else(|| get(se, "checks"));
                let Some(checks) = checks else {
                    notes.push(format!(
                        "version `{vname}`: standard `{sname}` has no check; nothing runs for it"
                    ));
                    continue;
                };
                // A standard's `parameters` fill `{name}` in its checks' args and env.
                let params = parameters(cx, get(se, "parameters"))?;
                let mut known = variables.clone();
                known.extend(params.iter().map(|(k, _)| Variable {
                    name: k.clone(),
                    default: None,
                }));
                for check in cx.seq(checks, "`check_tools`")? {
                    let ce = cx.map(check, "a check")?;
                    cx.check_keys(ce, OLD_CHECK_KEYS, "a check")?;
                    let mut id = old_check_id(cx, check, ce)?;
                    let mut program = script_program(cx, ce, scripts.len(), &known)?;
                    bind_parameters(&mut program, &params);
                    let differs = |t: &Testcase| {
                        let s = &scripts[t.script];
                        s.executable != program.executable
                            || s.args != program.args
                            || s.env != program.env
                    };
                    // The reference of the time keyed results per version, so one id could
                    // name different programs in different versions; keep them apart.
                    if testcases.iter().any(|t| t.id == id && differs(t)) {
                        let renamed = format!("{id}@{vname}");
                        notes.push(format!(
                            "version `{vname}`: check `{id}` runs another program than the `{id}` of an earlier version; it is called `{renamed}` here"
                        ));
                        id = renamed;
                    }
                    if let Some(existing) = testcases.iter().find(|t| t.id == id) {
                        if differs(existing) {
                            return Err(cx.err(
                                check.pos,
                                format!("check id `{id}` is used for two different programs; give them distinct `id`s"),
                            ));
                        }
                    } else {
                        let index = scripts.len();
                        scripts.push(Script {
                            index,
                            testcases: vec![id.clone()],
                            ..program
                        });
                        let description = get(ce, "description")
                            .map(|n| cx.string(n, "`description`"))
                            .transpose()?
                            .or_else(|| Some(sname.clone()));
                        testcases.push(Testcase {
                            id: id.clone(),
                            lifetime: Lifetime::Week,
                            section: None,
                            description,
                            url: get(se, "url")
                                .map(|n| cx.string(n, "standard `url`"))
                                .transpose()?,
                            script: index,
                            attn: 0,
                        });
                    }
                    if is_optional {
                        optional.insert(id);
                    } else {
                        main.insert(id);
                    }
                }
            }
        }
        let mut targets = BTreeMap::new();
        optional.retain(|id| !main.contains(id));
        if !optional.is_empty() {
            targets.insert(OPTIONAL_TARGET.to_owned(), optional.into_iter().collect());
        }
        targets.insert(super::MAIN_TARGET.to_owned(), main.into_iter().collect());
        versions.push(Version {
            name: vname,
            include: Vec::new(),
            stabilized_at: get(entries, "stabilized_at")
                .map(|n| cx.date(n, "`stabilized_at`"))
                .transpose()?,
            targets,
        });
    }
    notes.push(
        "scope has no timeline: no version is valid by date; choose one with --version".into(),
    );
    let prerequisite = prerequisite(cx, get(top, "prerequisite"), &mut notes)?;
    let mut scope = Scope {
        uuid,
        name,
        url,
        format: Format::Standards2024,
        variables,
        scripts,
        testcases,
        modules: Vec::new(),
        versions,
        timeline: Vec::new(),
        prerequisite,
        notes,
    };
    compute_attn(&mut scope);
    Ok(scope)
}

fn old_check_id(cx: &Ctx, check: &Node, ce: &Entries) -> Result<String, ScopeError> {
    if let Some(n) = get(ce, "id") {
        let id = cx.string(n, "check `id`")?;
        check_id(cx, n.pos, &id)?;
        return Ok(id);
    }
    let exe_node = cx.required(ce, check.pos, "executable", "a check without `id`")?;
    let exe = cx.string(exe_node, "`executable`")?;
    let stem = std::path::Path::new(&exe)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("")
        .to_owned();
    check_id(cx, exe_node.pos, &stem)?;
    Ok(stem)
}

/// Replace `{name}` by the parameter's value in the program's args and env (2024 `standards`).
fn bind_parameters(program: &mut Script, params: &[(String, String)]) {
    let bind = |text: &mut String| {
        for (name, value) in params {
            *text = text.replace(&format!("{{{name}}}"), value);
        }
    };
    if let Some(args) = program.args.as_mut() {
        bind(args);
    }
    for (_, value) in &mut program.env {
        bind(value);
    }
}
