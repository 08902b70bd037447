//! From the positioned YAML tree to a validated [`Scope`] (current format; the 2024 formats are in
//! `legacy.rs`). Validates what the reference does (key whitelist, duplicates, references) and what
//! it does not (required keys, types, lifetime and validity codes, ids named by targets, templates).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::civil::Date;

use super::error::ScopeError;
use super::yaml::{Node, Pos, Value};
use super::{
    Format, Include, Lifetime, MAIN_TARGET, Module, Prerequisite, Scope, Script, Testcase,
    TimelineEntry, Validity, Variable, Version, legacy, template,
};

pub(super) const SPEC_KEYS: &[&str] = &[
    "uuid",
    "name",
    "url",
    "versions",
    "prerequisite",
    "variables",
    "scripts",
    "modules",
    "timeline",
];
const SCRIPT_KEYS: &[&str] = &["executable", "env", "args", "testcases"];
const VERSION_KEYS: &[&str] = &["version", "include", "targets", "stabilized_at"];
const MODULE_KEYS: &[&str] = &["id", "targets", "url", "name", "parameters"];
const TESTCASE_KEYS: &[&str] = &["lifetime", "section", "id", "description", "url"];
const INCLUDE_KEYS: &[&str] = &["ref", "parameters"];
const TIMELINE_KEYS: &[&str] = &["date", "versions"];
const PREREQUISITE_KEYS: &[&str] = &["name", "url"];

/// The file being parsed, for error positions.
pub(super) struct Ctx<'a> {
    pub file: &'a str,
}

pub(super) type Entries = [(Node, Node)];

impl Ctx<'_> {
    pub fn err(&self, pos: Pos, message: impl Into<String>) -> ScopeError {
        ScopeError::new(self.file, pos, message)
    }

    pub fn map<'n>(&self, node: &'n Node, what: &str) -> Result<&'n Entries, ScopeError> {
        match &node.value {
            Value::Map(entries) => Ok(entries),
            other => Err(self.err(
                node.pos,
                format!("{what} must be a mapping, found {}", other.kind()),
            )),
        }
    }

    pub fn seq<'n>(&self, node: &'n Node, what: &str) -> Result<&'n [Node], ScopeError> {
        match &node.value {
            Value::Seq(items) => Ok(items),
            other => Err(self.err(
                node.pos,
                format!("{what} must be a list, found {}", other.kind()),
            )),
        }
    }

    pub fn string(&self, node: &Node, what: &str) -> Result<String, ScopeError> {
        match &node.value {
            Value::Str(s) => Ok(s.clone()),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => Err(self.err(
                node.pos,
                format!(
                    "{what} must be a string, found {}; put it in quotes",
                    node.value.kind()
                ),
            )),
            other => Err(self.err(
                node.pos,
                format!("{what} must be a string, found {}", other.kind()),
            )),
        }
    }

    /// A scalar as text (for variable defaults and parameters, where numbers are fine).
    pub fn scalar_text(&self, node: &Node, what: &str) -> Result<String, ScopeError> {
        match &node.value {
            Value::Str(s) => Ok(s.clone()),
            Value::Int(i) => Ok(i.to_string()),
            Value::Float(f) => Ok(f.to_string()),
            Value::Bool(b) => Ok(if *b { "True" } else { "False" }.into()),
            other => Err(self.err(
                node.pos,
                format!("{what} must be a single value, found {}", other.kind()),
            )),
        }
    }

    pub fn date(&self, node: &Node, what: &str) -> Result<Date, ScopeError> {
        let text = match &node.value {
            Value::Str(s) => s.clone(),
            other => {
                return Err(self.err(
                    node.pos,
                    format!(
                        "{what} must be a date like 2024-11-26, found {}",
                        other.kind()
                    ),
                ));
            }
        };
        let valid = text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-';
        match text.parse::<Date>() {
            Ok(d) if valid => Ok(d),
            _ => Err(self.err(
                node.pos,
                format!("{what} `{text}` is not a date; write it as YYYY-MM-DD, e.g. 2024-11-26"),
            )),
        }
    }

    /// Reject keys outside `allowed`, naming the allowed ones.
    pub fn check_keys(
        &self,
        entries: &Entries,
        allowed: &[&str],
        what: &str,
    ) -> Result<(), ScopeError> {
        for (key, _) in entries {
            let name = key.key_text();
            if !matches!(key.value, Value::Str(_)) || !allowed.contains(&name.as_str()) {
                return Err(self.err(
                    key.pos,
                    format!(
                        "unknown key `{name}` in {what}; allowed keys: {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn required<'n>(
        &self,
        entries: &'n Entries,
        parent: Pos,
        key: &str,
        what: &str,
    ) -> Result<&'n Node, ScopeError> {
        get(entries, key).ok_or_else(|| {
            self.err(
                parent,
                format!("{what} is missing the required key `{key}`"),
            )
        })
    }
}

/// The value under `key`, if present (`key: null` counts as absent).
pub(super) fn get<'n>(entries: &'n Entries, key: &str) -> Option<&'n Node> {
    entries
        .iter()
        .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
        .map(|(_, v)| v)
        .filter(|v| !matches!(v.value, Value::Null))
}

/// Parse and validate a whole scope file.
pub(super) fn scope(file: &str, root: &Node) -> Result<Scope, ScopeError> {
    let cx = Ctx { file };
    let top = cx.map(root, "the scope file")?;
    match detect_format(top) {
        Format::Current => {}
        Format::Modules2024 => return legacy::modules_2024(&cx, root, top),
        Format::Standards2024 => return legacy::standards_2024(&cx, root, top),
    }
    cx.check_keys(top, SPEC_KEYS, "the scope")?;
    let what = "the scope";
    let uuid = cx.string(cx.required(top, root.pos, "uuid", what)?, "`uuid`")?;
    let name = cx.string(cx.required(top, root.pos, "name", what)?, "`name`")?;
    let url = cx.string(cx.required(top, root.pos, "url", what)?, "`url`")?;
    let variables = variables(&cx, get(top, "variables"))?;
    // Optional in the reference (`spec.get('scripts', ())`): a scope of manual checks only.
    let (scripts, testcases) = match get(top, "scripts") {
        Some(node) => scripts(&cx, node, &variables)?,
        None => (Vec::new(), Vec::new()),
    };
    let known: HashMap<&str, ()> = testcases.iter().map(|t| (t.id.as_str(), ())).collect();
    let modules = modules(&cx, cx.required(top, root.pos, "modules", what)?, &known)?;
    let mut notes = Vec::new();
    let versions = versions(
        &cx,
        cx.required(top, root.pos, "versions", what)?,
        &modules,
        &mut notes,
    )?;
    let timeline = timeline(
        &cx,
        cx.required(top, root.pos, "timeline", what)?,
        &versions,
    )?;
    let prerequisite = prerequisite(&cx, get(top, "prerequisite"), &mut notes)?;
    let mut scope = Scope {
        uuid: Some(uuid),
        name,
        url,
        format: Format::Current,
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

fn detect_format(top: &Entries) -> Format {
    let has_key_in_items = |list: &str, key: &str| {
        get(top, list).is_some_and(|n| match &n.value {
            Value::Seq(items) => items.iter().any(|i| match &i.value {
                Value::Map(e) => get(e, key).is_some(),
                _ => false,
            }),
            _ => false,
        })
    };
    if has_key_in_items("versions", "standards") {
        Format::Standards2024
    } else if get(top, "scripts").is_none()
        && (has_key_in_items("modules", "run") || has_key_in_items("modules", "testcases"))
    {
        Format::Modules2024
    } else {
        Format::Current
    }
}

pub(super) fn variables(cx: &Ctx, node: Option<&Node>) -> Result<Vec<Variable>, ScopeError> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    let mut out: Vec<Variable> = Vec::new();
    let mut seen: HashMap<String, Pos> = HashMap::new();
    let mut add = |name: String, default: Option<String>, pos: Pos| {
        if let Some(first) = seen.get(&name) {
            return Err(cx.err(
                pos,
                format!("variable `{name}` is declared twice (first at {first})"),
            ));
        }
        if name == "testcases" {
            return Err(cx.err(
                pos,
                "`testcases` is reserved: it expands to the selected testcase ids; rename the variable",
            ));
        }
        if !template::is_identifier(&name) {
            return Err(cx.err(
                pos,
                format!("variable name `{name}` must be letters, digits and `_`, not starting with a digit"),
            ));
        }
        seen.insert(name.clone(), pos);
        out.push(Variable { name, default });
        Ok(())
    };
    // Plain variables first, then defaulted ones (the reference's order).
    let mut defaulted = Vec::new();
    for item in cx.seq(node, "`variables`")? {
        match &item.value {
            Value::Str(name) => add(name.clone(), None, item.pos)?,
            Value::Map(entries) => {
                for (k, v) in entries {
                    let name = cx.string(k, "a variable name")?;
                    let default = cx.scalar_text(v, &format!("the default of `{name}`"))?;
                    defaulted.push((name, default, k.pos));
                }
            }
            other => {
                return Err(cx.err(
                    item.pos,
                    format!(
                        "a variable must be a name or `name: default`, found {}",
                        other.kind()
                    ),
                ));
            }
        }
    }
    for (name, default, pos) in defaulted {
        add(name, Some(default), pos)?;
    }
    Ok(out)
}

fn scripts(
    cx: &Ctx,
    node: &Node,
    variables: &[Variable],
) -> Result<(Vec<Script>, Vec<Testcase>), ScopeError> {
    let mut scripts = Vec::new();
    let mut testcases: Vec<Testcase> = Vec::new();
    let mut seen: HashMap<String, Pos> = HashMap::new();
    for (index, item) in cx.seq(node, "`scripts`")?.iter().enumerate() {
        let entries = cx.map(item, "a script")?;
        cx.check_keys(entries, SCRIPT_KEYS, "a script")?;
        let script = script_program(cx, entries, index, variables)?;
        // Optional in the reference (`script.get('testcases', ())`).
        let ids = match get(entries, "testcases") {
            Some(tcs) => testcase_list(cx, tcs, index, &mut testcases, &mut seen)?,
            None => Vec::new(),
        };
        scripts.push(Script {
            testcases: ids,
            ..script
        });
    }
    Ok((scripts, testcases))
}

/// `executable`, `args` and `env` of a script (shared with the 2024 `run` entries).
pub(super) fn script_program(
    cx: &Ctx,
    entries: &Entries,
    index: usize,
    variables: &[Variable],
) -> Result<Script, ScopeError> {
    let executable = get(entries, "executable")
        .map(|n| cx.string(n, "`executable`"))
        .transpose()?;
    let args = match get(entries, "args") {
        Some(n) => {
            let text = cx.string(n, "`args`")?;
            check_template(cx, n.pos, &text, variables)?;
            Some(text)
        }
        None => None,
    };
    let mut env = Vec::new();
    if let Some(n) = get(entries, "env") {
        for (k, v) in cx.map(n, "`env`")? {
            let key = cx.string(k, "an environment variable name")?;
            let value = cx.scalar_text(v, &format!("environment variable `{key}`"))?;
            check_template(cx, v.pos, &value, variables)?;
            env.push((key, value));
        }
    }
    if executable.is_none() && (args.is_some() || !env.is_empty()) {
        let pos = entries.first().map(|(k, _)| k.pos).unwrap_or_default();
        return Err(cx.err(
            pos,
            "a script without `executable` is a manual check and cannot have `args` or `env`; add the executable or remove them",
        ));
    }
    Ok(Script {
        index,
        executable,
        args,
        env,
        testcases: Vec::new(),
    })
}

fn check_template(
    cx: &Ctx,
    pos: Pos,
    text: &str,
    variables: &[Variable],
) -> Result<(), ScopeError> {
    let names = template::referenced_names(text).map_err(|e| cx.err(pos, e.to_string()))?;
    for name in names {
        if name != "testcases" && !variables.iter().any(|v| v.name == name) {
            return Err(cx.err(
                pos,
                format!("template uses `{{{name}}}`, which is not declared; add `{name}` under `variables`"),
            ));
        }
    }
    Ok(())
}

/// Parse a `testcases` list owned by script `script`, appending to `out`.
pub(super) fn testcase_list(
    cx: &Ctx,
    node: &Node,
    script: usize,
    out: &mut Vec<Testcase>,
    seen: &mut HashMap<String, Pos>,
) -> Result<Vec<String>, ScopeError> {
    let mut ids = Vec::new();
    for item in cx.seq(node, "`testcases`")? {
        let entries = cx.map(item, "a testcase")?;
        cx.check_keys(entries, TESTCASE_KEYS, "a testcase")?;
        let tc = testcase(cx, item, entries, script, seen)?;
        ids.push(tc.id.clone());
        out.push(tc);
    }
    Ok(ids)
}

pub(super) fn testcase(
    cx: &Ctx,
    item: &Node,
    entries: &Entries,
    script: usize,
    seen: &mut HashMap<String, Pos>,
) -> Result<Testcase, ScopeError> {
    let id_node = cx.required(entries, item.pos, "id", "a testcase")?;
    let id = cx.string(id_node, "testcase `id`")?;
    check_id(cx, id_node.pos, &id)?;
    if let Some(first) = seen.get(&id) {
        return Err(cx.err(
            id_node.pos,
            format!("duplicate testcase id `{id}` (first defined at {first}); ids must be unique in a scope"),
        ));
    }
    seen.insert(id.clone(), id_node.pos);
    let lifetime = match get(entries, "lifetime") {
        None => Lifetime::Week,
        Some(n) => {
            let text = cx.string(n, "`lifetime`")?;
            Lifetime::ALL
                .iter()
                .find(|(_, s)| *s == text)
                .map(|(l, _)| *l)
                .ok_or_else(|| {
                    cx.err(
                        n.pos,
                        format!(
                            "unknown lifetime `{text}`; use one of day, week, month, quarter, year, infinite"
                        ),
                    )
                })?
        }
    };
    let opt = |key: &str| {
        get(entries, key)
            .map(|n| cx.string(n, &format!("`{key}`")))
            .transpose()
    };
    Ok(Testcase {
        id,
        lifetime,
        section: opt("section")?,
        description: opt("description")?.map(|d| d.trim_end().to_owned()),
        url: opt("url")?,
        script,
        attn: 0,
    })
}

/// Ids end up in `id: STATUS` lines and report keys: no whitespace, no colon, not empty.
pub(super) fn check_id(cx: &Ctx, pos: Pos, id: &str) -> Result<(), ScopeError> {
    if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c == ':') {
        return Err(cx.err(
            pos,
            format!("testcase id `{id}` must be non-empty without spaces or `:` (scripts report `<id>: PASS`)"),
        ));
    }
    Ok(())
}

fn modules(cx: &Ctx, node: &Node, known: &HashMap<&str, ()>) -> Result<Vec<Module>, ScopeError> {
    let mut out: Vec<Module> = Vec::new();
    let mut seen: HashMap<String, Pos> = HashMap::new();
    for item in cx.seq(node, "`modules`")? {
        let entries = cx.map(item, "a module")?;
        cx.check_keys(entries, MODULE_KEYS, "a module")?;
        let id_node = cx.required(entries, item.pos, "id", "a module")?;
        let id = cx.string(id_node, "module `id`")?;
        if let Some(first) = seen.get(&id) {
            return Err(cx.err(
                id_node.pos,
                format!("duplicate module id `{id}` (first defined at {first})"),
            ));
        }
        seen.insert(id.clone(), id_node.pos);
        // Optional in the reference (`module.get('targets', {})`): a module without targets
        // contributes no testcase (the IaaS scope's `opc-v2022.11`).
        let target_entries = match get(entries, "targets") {
            Some(node) => cx.map(node, "`targets`")?,
            None => &[],
        };
        let mut targets = Vec::new();
        for (k, v) in target_entries {
            let target = cx.string(k, "a target name")?;
            let mut ids = Vec::new();
            for tc in cx.seq(v, &format!("target `{target}`"))? {
                let tid = cx.string(tc, "a testcase id")?;
                if !known.contains_key(tid.as_str()) {
                    return Err(cx.err(
                        tc.pos,
                        format!("target `{target}` of module `{id}` names testcase `{tid}`, which no script defines; add it to a script's `testcases` or fix the id"),
                    ));
                }
                ids.push(tid);
            }
            targets.push((target, ids));
        }
        out.push(Module {
            id,
            name: get(entries, "name")
                .map(|n| cx.string(n, "module `name`"))
                .transpose()?
                .map(|s| s.trim().to_owned()),
            url: get(entries, "url")
                .map(|n| cx.string(n, "module `url`"))
                .transpose()?,
            parameters: parameters(cx, get(entries, "parameters"))?,
            targets,
        });
    }
    Ok(out)
}

pub(super) fn parameters(
    cx: &Ctx,
    node: Option<&Node>,
) -> Result<Vec<(String, String)>, ScopeError> {
    let Some(node) = node else {
        return Ok(Vec::new());
    };
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| {
                let key = cx.string(k, "a parameter name")?;
                let value = cx.scalar_text(v, &format!("parameter `{key}`"))?;
                Ok((key, value))
            })
            .collect(),
        Value::Seq(items) => items
            .iter()
            .map(|i| Ok((cx.string(i, "a parameter name")?, String::new())))
            .collect(),
        other => Err(cx.err(
            node.pos,
            format!("`parameters` must be a mapping, found {}", other.kind()),
        )),
    }
}

fn versions(
    cx: &Ctx,
    node: &Node,
    modules: &[Module],
    notes: &mut Vec<String>,
) -> Result<Vec<Version>, ScopeError> {
    let mut out: Vec<Version> = Vec::new();
    let mut seen: HashMap<String, Pos> = HashMap::new();
    for item in cx.seq(node, "`versions`")? {
        let entries = cx.map(item, "a version")?;
        cx.check_keys(entries, VERSION_KEYS, "a version")?;
        let name_node = cx.required(entries, item.pos, "version", "a version")?;
        let name = cx.string(name_node, "`version`")?;
        if let Some(first) = seen.get(&name) {
            return Err(cx.err(
                name_node.pos,
                format!("duplicate version `{name}` (first defined at {first})"),
            ));
        }
        seen.insert(name.clone(), name_node.pos);
        let include_node =
            cx.required(entries, item.pos, "include", &format!("version `{name}`"))?;
        let mut include = Vec::new();
        let mut targets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for inc in cx.seq(include_node, "`include`")? {
            let (module_id, params, pos) = match &inc.value {
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
                        format!(
                            "an include must be a module id or `{{ref: ID, parameters: …}}`, found {}",
                            other.kind()
                        ),
                    ));
                }
            };
            let module = modules.iter().find(|m| m.id == module_id).ok_or_else(|| {
                cx.err(
                    pos,
                    format!("version `{name}` includes module `{module_id}`, which is not defined under `modules`"),
                )
            })?;
            for (target, ids) in &module.targets {
                targets
                    .entry(target.clone())
                    .or_default()
                    .extend(ids.iter().cloned());
            }
            include.push(Include {
                module: module_id,
                parameters: params,
            });
        }
        let stabilized_at = get(entries, "stabilized_at")
            .map(|n| cx.date(n, "`stabilized_at`"))
            .transpose()?;
        if get(entries, "targets").is_some() {
            notes.push(format!(
                "version `{name}`: `targets` is ignored; targets are derived from the included modules"
            ));
        }
        out.push(Version {
            name,
            include,
            stabilized_at,
            targets: targets
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect(),
        });
    }
    Ok(out)
}

pub(super) fn timeline(
    cx: &Ctx,
    node: &Node,
    versions: &[Version],
) -> Result<Vec<TimelineEntry>, ScopeError> {
    let mut out = Vec::new();
    for item in cx.seq(node, "`timeline`")? {
        let entries = cx.map(item, "a timeline entry")?;
        cx.check_keys(entries, TIMELINE_KEYS, "a timeline entry")?;
        let date = cx.date(
            cx.required(entries, item.pos, "date", "a timeline entry")?,
            "`date`",
        )?;
        let vnode = cx.required(entries, item.pos, "versions", "a timeline entry")?;
        let mut codes = Vec::new();
        for (k, v) in cx.map(vnode, "timeline `versions`")? {
            let name = cx.string(k, "a version name")?;
            let Some(version) = versions.iter().find(|x| x.name == name) else {
                return Err(cx.err(
                    k.pos,
                    format!(
                        "timeline names version `{name}`, which is not defined under `versions`"
                    ),
                ));
            };
            let text = cx.string(v, &format!("the validity of `{name}`"))?;
            let code = Validity::ALL
                .iter()
                .find(|(_, s)| *s == text)
                .map(|(c, _)| *c)
                .ok_or_else(|| {
                    cx.err(
                        v.pos,
                        format!("unknown validity `{text}`; use one of effective, warn, draft, deprecated"),
                    )
                })?;
            if matches!(code, Validity::Effective | Validity::Warn) && !version.is_stable() {
                return Err(cx.err(
                    v.pos,
                    format!("version `{name}` is `{text}` but not stable; add `stabilized_at` to it or mark it `draft`"),
                ));
            }
            codes.push((name, code));
        }
        out.push(TimelineEntry {
            date,
            versions: codes,
        });
    }
    Ok(out)
}

pub(super) fn prerequisite(
    cx: &Ctx,
    node: Option<&Node>,
    notes: &mut Vec<String>,
) -> Result<Option<Prerequisite>, ScopeError> {
    let Some(node) = node else {
        return Ok(None);
    };
    let entries = cx.map(node, "`prerequisite`")?;
    cx.check_keys(entries, PREREQUISITE_KEYS, "`prerequisite`")?;
    let p = Prerequisite {
        name: get(entries, "name")
            .map(|n| cx.string(n, "`name`"))
            .transpose()?,
        url: get(entries, "url")
            .map(|n| cx.string(n, "`url`"))
            .transpose()?,
    };
    notes.push(format!(
        "prerequisite scope {} is not checked (as in the reference tool)",
        p.name.as_deref().or(p.url.as_deref()).unwrap_or("?")
    ));
    Ok(Some(p))
}

pub(super) fn compute_attn(scope: &mut Scope) {
    for tc in &mut scope.testcases {
        tc.attn = scope
            .versions
            .iter()
            .filter(|v| v.is_stable())
            .filter(|v| {
                v.targets
                    .get(MAIN_TARGET)
                    .is_some_and(|ids| ids.contains(&tc.id))
            })
            .count() as u32;
    }
}
