//! Generates `crates/sim/src/protobuf/schema.rs`, the field table the simulator's protobuf
//! transcoder walks, from the message types of the `k8s-pb` crate (prost code generated from
//! Kubernetes' `generated.proto` files) and the JSON field names of `k8s-openapi`.
//!
//! Run it after changing the `k8s-pb` version (from the workspace root):
//! `cargo run -p scs-kaas-sim --example protobuf_schema > /tmp/schema.rs && mv /tmp/schema.rs crates/sim/src/protobuf/schema.rs`
//! (not straight into the file: the example links the crate that includes it)
//! (`-- --check` exits 1 when the checked-in file differs from what it would generate).
//!
//! The table covers every kind of the API groups listed in [`GROUPS`] plus the envelope types
//! (`runtime.Unknown`, `meta.v1.WatchEvent`, `Status`, `DeleteOptions`) and everything they
//! reach. A field's JSON name is its protobuf name: the prost field name with `_` and case
//! ignored is looked up among the JSON names `k8s-openapi` knows (`pod_i_ps` → `podIPs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Module paths (in k8s-pb) whose kinds the table covers.
const GROUPS: &[&str] = &[
    "api.core.v1",
    "api.apps.v1",
    "api.batch.v1",
    "api.storage.v1",
    "api.coordination.v1",
    "api.networking.v1",
    "api.discovery.v1",
    "api.rbac.v1",
    "api.authorization.v1",
    "api.authentication.v1",
    "api.policy.v1",
];

/// Envelope and shared messages the server writes besides the kinds.
const EXTRA: &[&str] = &[
    "apimachinery.pkg.runtime.Unknown",
    "apimachinery.pkg.apis.meta.v1.WatchEvent",
    "apimachinery.pkg.apis.meta.v1.Status",
    "apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "apimachinery.pkg.apis.meta.v1.List",
];

/// Kinds served only as subresources, which k8s-pb does not mark as resources.
const SUBRESOURCE_KINDS: &[(&str, &str, &str)] = &[
    (
        "authentication.k8s.io/v1",
        "TokenRequest",
        "api.authentication.v1.TokenRequest",
    ),
    ("autoscaling/v1", "Scale", "api.autoscaling.v1.Scale"),
];

/// Messages with a JSON form of their own (not an object of their fields).
const SPECIAL: &[(&str, &str)] = &[
    ("apimachinery.pkg.apis.meta.v1.Time", "Time"),
    ("apimachinery.pkg.apis.meta.v1.MicroTime", "MicroTime"),
    ("apimachinery.pkg.apis.meta.v1.Duration", "Duration"),
    ("apimachinery.pkg.apis.meta.v1.FieldsV1", "Raw"),
    ("apimachinery.pkg.runtime.RawExtension", "Raw"),
    ("apimachinery.pkg.util.intstr.IntOrString", "IntOrString"),
    ("apimachinery.pkg.api.resource.Quantity", "Quantity"),
    ("api.authentication.v1.ExtraValue", "StringList"),
    ("api.authorization.v1.ExtraValue", "StringList"),
];

#[derive(Debug, Clone)]
struct Field {
    tag: u32,
    json: String,
    /// Scalar kind, `Message`, or `Map`.
    kind: String,
    repeated: bool,
    /// Message or map value type (full path), if any.
    target: Option<String>,
    /// Map value scalar kind.
    map_value: Option<String>,
}

fn package_dir(name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .output()
        .expect("cargo metadata runs");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let manifest = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("package {name} is not a dependency"))["manifest_path"]
        .as_str()
        .expect("manifest_path")
        .to_string();
    Path::new(&manifest).parent().expect("dir").to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn normalize(name: &str) -> String {
    name.trim_start_matches("r#")
        .chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.trim_start_matches("r#").chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Resolve a Rust type path written in module `module` to a dotted full path.
fn resolve(module: &str, path: &str) -> String {
    let mut parts: Vec<&str> = module.split('.').collect();
    let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    if segs.first() == Some(&"crate") {
        parts.clear();
        segs.remove(0);
    }
    while segs.first() == Some(&"super") {
        parts.pop();
        segs.remove(0);
    }
    parts.extend(segs);
    parts.join(".")
}

/// The innermost type of `Option<..>`, `Vec<..>`, `Box<..>`; for maps the value type.
fn inner_type(ty: &str) -> String {
    let ty: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
    let mut t = ty.trim_end_matches(',').to_string();
    for wrapper in [
        "::core::option::Option<",
        "::prost::alloc::vec::Vec<",
        "::prost::alloc::boxed::Box<",
    ] {
        if let Some(rest) = t.strip_prefix(wrapper) {
            t = rest
                .strip_suffix('>')
                .map(|r| r.trim_end_matches(','))
                .unwrap_or_else(|| panic!("unbalanced {ty}"))
                .to_string();
        }
    }
    if let Some(rest) = t.strip_prefix("::prost::alloc::collections::BTreeMap<") {
        let rest = rest.strip_suffix('>').expect("balanced");
        let value = rest.split_once(',').expect("map value").1;
        return value.trim_end_matches(',').to_string();
    }
    t
}

fn main() {
    let check = std::env::args().any(|a| a == "--check");
    let pb = package_dir("k8s-pb").join("src");
    let openapi = package_dir("k8s-openapi").join("src/v1_35");

    let json_key = regex::Regex::new(r#""([A-Za-z0-9$]+)" => Field::Key_"#).unwrap();
    let mut json_names: HashMap<String, String> = HashMap::new();
    let mut files = Vec::new();
    rust_files(&openapi, &mut files);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for cap in json_key.captures_iter(&text) {
            json_names
                .entry(normalize(&cap[1]))
                .or_insert_with(|| cap[1].to_string());
        }
    }

    let attr = regex::Regex::new(r"#\[prost\((.*)\)\]").unwrap();
    let tag_re = regex::Regex::new(r#"tag = "(\d+)""#).unwrap();
    let strukt = regex::Regex::new(r"^pub struct (\w+) \{").unwrap();
    let field_re = regex::Regex::new(r"^\s*pub ([\w#]+):(.*)$").unwrap();
    let res_re = regex::Regex::new(
        r#"impl crate::Resource for (\w+) \{\s*const API_VERSION: &'static str = "([^"]*)";\s*const GROUP: &'static str = "[^"]*";\s*const VERSION: &'static str = "[^"]*";\s*const KIND: &'static str = "([^"]*)";"#,
    )
    .unwrap();

    let mut messages: BTreeMap<String, Vec<Field>> = BTreeMap::new();
    let mut kinds: Vec<(String, String, String)> = Vec::new();
    let mut files = Vec::new();
    rust_files(&pb, &mut files);
    for f in &files {
        let rel = f.strip_prefix(&pb).unwrap().with_extension("");
        let mut module: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .collect();
        if module.last().is_some_and(|m| m == "mod") {
            module.pop();
        }
        let module = module.join(".");
        let text = std::fs::read_to_string(f).unwrap();
        for cap in res_re.captures_iter(&text) {
            kinds.push((
                cap[2].to_string(),
                cap[3].to_string(),
                format!("{module}.{}", &cap[1]),
            ));
        }
        let lines: Vec<&str> = text.lines().collect();
        let mut current: Option<String> = None;
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            if let Some(cap) = strukt.captures(line) {
                current = Some(format!("{module}.{}", &cap[1]));
                messages.entry(current.clone().unwrap()).or_default();
            } else if line == "}" {
                current = None;
            } else if let (Some(msg), Some(cap)) = (&current, attr.captures(line.trim())) {
                let spec = cap[1].to_string();
                let tag: u32 = tag_re.captures(&spec).expect("tag")[1].parse().unwrap();
                let mut j = i + 1;
                let fcap = field_re.captures(lines[j]).expect("field line");
                let name = fcap[1].to_string();
                let mut ty = fcap[2].to_string();
                while !ty.trim_end().ends_with(',')
                    || ty.matches('<').count() != ty.matches('>').count()
                {
                    j += 1;
                    ty.push_str(lines[j].trim());
                }
                i = j;
                let first = spec.split([',', ' ']).next().unwrap_or("").to_string();
                let repeated = spec.contains("repeated");
                let (kind, target, map_value) = if spec.starts_with("btree_map") {
                    let value = spec
                        .split('"')
                        .nth(1)
                        .unwrap()
                        .split(", ")
                        .nth(1)
                        .unwrap()
                        .to_string();
                    let target = (value == "message").then(|| resolve(&module, &inner_type(&ty)));
                    ("Map".to_string(), target, Some(value))
                } else if first == "message" {
                    let target = resolve(&module, &inner_type(&ty));
                    ("Message".to_string(), Some(target), None)
                } else {
                    (first.trim_end_matches(" =").to_string(), None, None)
                };
                // Go structs embedded with `json:",inline"` are fields of their own in protobuf:
                // their names are no JSON names (`volumeSource`), except Probe's `handler`.
                let known = json_names.get(&normalize(&name)).cloned();
                let inline = kind == "Message"
                    && !msg.starts_with("apimachinery.pkg.runtime.")
                    && (known.is_none() || (*msg == "api.core.v1.Probe" && name == "handler"));
                let kind = if inline { "Inline".to_string() } else { kind };
                let json = known.unwrap_or_else(|| camel(&name));
                messages.get_mut(msg).unwrap().push(Field {
                    tag,
                    json,
                    kind,
                    repeated,
                    target,
                    map_value,
                });
            }
            i += 1;
        }
    }

    for (api_version, kind, path) in SUBRESOURCE_KINDS {
        kinds.push((api_version.to_string(), kind.to_string(), path.to_string()));
    }
    // Everything reachable from the roots.
    let special: HashMap<&str, &str> = SPECIAL.iter().copied().collect();
    let mut roots: Vec<String> = EXTRA.iter().map(|s| s.to_string()).collect();
    for (_, _, path) in &kinds {
        let module = path.rsplit_once('.').unwrap().0;
        if GROUPS.contains(&module) {
            roots.push(path.clone());
            if messages.contains_key(&format!("{path}List")) {
                roots.push(format!("{path}List"));
            }
        }
    }
    let mut reached: BTreeSet<String> = BTreeSet::new();
    let mut todo = roots;
    while let Some(m) = todo.pop() {
        if special.contains_key(m.as_str()) || !reached.insert(m.clone()) {
            continue;
        }
        let fields = messages
            .get(&m)
            .unwrap_or_else(|| panic!("message {m} not found"));
        for f in fields {
            if let Some(t) = &f.target {
                todo.push(t.clone());
            }
        }
    }
    let index: HashMap<&str, usize> = reached
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let scalar = |k: &str| match k {
        "string" => "Ty::String".to_string(),
        "bool" => "Ty::Bool".to_string(),
        "int32" | "int64" => "Ty::Int".to_string(),
        "double" => "Ty::Double".to_string(),
        "bytes" => "Ty::Bytes".to_string(),
        other => panic!("unexpected scalar {other}"),
    };
    let ty_of = |kind: &str, target: &Option<String>| -> String {
        match (kind, target) {
            ("Inline", Some(t)) => format!("Ty::Inline({})", index[t.as_str()]),
            ("Message", Some(t)) => match special.get(t.as_str()) {
                Some(s) => format!("Ty::{s}"),
                None => format!("Ty::Message({})", index[t.as_str()]),
            },
            (k, _) => scalar(k),
        }
    };

    let mut out = String::new();
    out.push_str(
        "//! @generated by `cargo run -p scs-kaas-sim --example protobuf_schema`: do not edit.\n\
         //! Field tables of the Kubernetes protobuf messages the simulator transcodes, taken from\n\
         //! the `k8s-pb` crate's message types (field numbers and kinds) and `k8s-openapi`\n\
         //! (JSON names).\n\n\
         use super::transcode::{Field, Message, Ty};\n\n",
    );
    out.push_str("/// Every message, by index.\npub static MESSAGES: &[Message] = &[\n");
    for m in &reached {
        let _ = writeln!(
            out,
            "    Message {{\n        name: {m:?},\n        fields: &["
        );
        let mut fields = messages[m].clone();
        fields.sort_by_key(|f| f.tag);
        for f in &fields {
            let ty = if f.kind == "Map" {
                let value = match f.map_value.as_deref() {
                    Some("message") => ty_of("Message", &f.target),
                    Some(v) => scalar(v),
                    None => unreachable!(),
                };
                format!("Ty::Map(&{value})")
            } else {
                ty_of(&f.kind, &f.target)
            };
            let _ = writeln!(
                out,
                "            Field {{ tag: {}, json: {:?}, ty: {ty}, repeated: {} }},",
                f.tag, f.json, f.repeated
            );
        }
        out.push_str("        ],\n    },\n");
    }
    out.push_str("];\n\n");
    out.push_str(
        "/// `(apiVersion, kind, message, list message)` of every kind with a protobuf form.\npub static KINDS: &[(&str, &str, usize, Option<usize>)] = &[\n",
    );
    kinds.sort();
    for (api_version, kind, path) in &kinds {
        if let Some(i) = index.get(path.as_str()) {
            let list = index.get(format!("{path}List").as_str());
            let _ = writeln!(out, "    ({api_version:?}, {kind:?}, {i}, {list:?}),");
        }
    }
    out.push_str("];\n\n");
    for (name, path) in [
        ("UNKNOWN", "apimachinery.pkg.runtime.Unknown"),
        ("WATCH_EVENT", "apimachinery.pkg.apis.meta.v1.WatchEvent"),
        ("STATUS", "apimachinery.pkg.apis.meta.v1.Status"),
        (
            "DELETE_OPTIONS",
            "apimachinery.pkg.apis.meta.v1.DeleteOptions",
        ),
    ] {
        let _ = writeln!(
            out,
            "/// Index of `{path}`.\npub const {name}: usize = {};",
            index[path]
        );
    }
    if check {
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/protobuf/schema.rs");
        let current = std::fs::read_to_string(&here).unwrap_or_default();
        if current != out {
            eprintln!("{} is out of date: regenerate it", here.display());
            std::process::exit(1);
        }
    } else {
        print!("{out}");
    }
}
