//! `report upload --scope`: pick the documents of a multi-scope report that belong to the named
//! scopes, keeping each selected document's bytes exactly as they are in the file.
//!
//! A YAML report is split at its document markers (a line `---` at column 0, which YAML forbids
//! inside a document's content), so nothing is re-serialised; a JSON report is one document.

/// One document of a report: its bytes and the scope it names in `spec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDocument<'a> {
    /// The document's text as it is in the file (from its `---` line to the next one).
    pub text: &'a str,
    /// `spec.uuid`, when readable.
    pub uuid: Option<String>,
    /// `spec.name`, when readable.
    pub name: Option<String>,
}

impl ScopeDocument<'_> {
    /// `name (uuid)` for messages.
    pub fn label(&self) -> String {
        format!(
            "{} ({})",
            self.name.as_deref().unwrap_or("?"),
            self.uuid.as_deref().unwrap_or("no spec.uuid")
        )
    }

    /// Whether `wanted` is this document's scope uuid or (ignoring case) its scope name.
    fn is_scope(&self, wanted: &str) -> bool {
        self.uuid.as_deref() == Some(wanted)
            || self
                .name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(wanted))
    }
}

/// `--scope` values that name no document of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScope {
    /// The values that matched nothing.
    pub unknown: Vec<String>,
    /// `name (uuid)` of every document in the report.
    pub available: Vec<String>,
}

impl std::fmt::Display for UnknownScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--scope {}: the report has no document for {}; its scopes are: {}",
            self.unknown.join(", --scope "),
            if self.unknown.len() == 1 {
                "this scope"
            } else {
                "these scopes"
            },
            self.available.join(", ")
        )
    }
}

impl std::error::Error for UnknownScope {}

/// Split a report into its documents; `json` reports are one document.
pub fn documents(text: &str, json: bool) -> Vec<ScopeDocument<'_>> {
    let chunks: Vec<&str> = if json { vec![text] } else { yaml_chunks(text) };
    chunks
        .into_iter()
        .map(|chunk| {
            // A chunk may hold empty documents besides its report; the report is the one with content.
            let value: Option<serde_yaml_ng::Value> = serde_yaml_ng::Deserializer::from_str(chunk)
                .filter_map(|d| serde::Deserialize::deserialize(d).ok())
                .find(|v: &serde_yaml_ng::Value| !v.is_null());
            let spec_field = |key: &str| {
                value
                    .as_ref()
                    .and_then(|v| v.get("spec"))
                    .and_then(|s| s.get(key))
                    .and_then(|f| f.as_str())
                    .map(str::to_owned)
            };
            ScopeDocument {
                text: chunk,
                uuid: spec_field("uuid"),
                name: spec_field("name"),
            }
        })
        .collect()
}

/// The documents whose scope one of `wanted` names (uuid or name), in file order; every value
/// of `wanted` must name at least one document.
pub fn select<'a>(
    docs: &[ScopeDocument<'a>],
    wanted: &[String],
) -> Result<Vec<ScopeDocument<'a>>, UnknownScope> {
    let unknown: Vec<String> = wanted
        .iter()
        .filter(|w| !docs.iter().any(|d| d.is_scope(w)))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(UnknownScope {
            unknown,
            available: docs.iter().map(ScopeDocument::label).collect(),
        });
    }
    Ok(docs
        .iter()
        .filter(|d| wanted.iter().any(|w| d.is_scope(w)))
        .cloned()
        .collect())
}

/// The YAML stream cut before every document-start line. Text without content (comments, an
/// empty document) stays with the document after it, or at the end with the one before it, so
/// the documents together are the whole file.
fn yaml_chunks(text: &str) -> Vec<&str> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_marker = bare == "---"
            || bare
                .strip_prefix("---")
                .is_some_and(|rest| rest.starts_with([' ', '\t']));
        if is_marker && offset > 0 {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts.push(text.len());
    let mut chunks: Vec<&str> = Vec::new();
    let mut from = 0;
    for w in starts.windows(2) {
        if has_content(&text[w[0]..w[1]]) {
            chunks.push(&text[from..w[1]]);
            from = w[1];
        }
    }
    if from < text.len()
        && let Some(last) = chunks.last_mut()
    {
        let start = from - last.len();
        *last = &text[start..];
    }
    chunks
}

fn has_content(chunk: &str) -> bool {
    chunk.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with('#') && l != "---" && l != "..." && !l.starts_with('%')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "# made by scs-kaas\n---\nspec:\n  uuid: u-1\n  name: SCS-compatible KaaS\nrun: {a: 1}\n---\nspec:\n  uuid: u-2\n  name: scs-kaas extended KaaS\nx: \"--- not a marker\"\n";

    #[test]
    fn splits_at_markers_keeping_the_bytes() {
        let docs = documents(TWO, false);
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0].text,
            "# made by scs-kaas\n---\nspec:\n  uuid: u-1\n  name: SCS-compatible KaaS\nrun: {a: 1}\n"
        );
        assert!(docs[1].text.starts_with("---\nspec:\n  uuid: u-2"));
        assert_eq!(docs[1].name.as_deref(), Some("scs-kaas extended KaaS"));
        assert_eq!(docs.iter().map(|d| d.text).collect::<String>(), TWO);
    }

    #[test]
    fn documents_without_content_stay_with_a_neighbour() {
        let text = "---\nspec: {uuid: a}\n---\n# empty\n---\nspec: {uuid: b}\n...\n# end\n";
        let docs = documents(text, false);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].text, "---\nspec: {uuid: a}\n");
        assert_eq!(
            docs[1].text,
            "---\n# empty\n---\nspec: {uuid: b}\n...\n# end\n"
        );
        assert_eq!(docs[1].uuid.as_deref(), Some("b"));
    }

    #[test]
    fn selects_by_uuid_or_name_ignoring_case() {
        let docs = documents(TWO, false);
        let by_uuid = select(&docs, &["u-2".into()]).unwrap();
        assert_eq!(by_uuid.len(), 1);
        assert_eq!(by_uuid[0].uuid.as_deref(), Some("u-2"));
        let by_name = select(&docs, &["scs-compatible kaas".into()]).unwrap();
        assert_eq!(by_name[0].uuid.as_deref(), Some("u-1"));
        let both = select(&docs, &["u-2".into(), "u-1".into()]).unwrap();
        assert_eq!(both.len(), 2);
        assert_eq!(both[0].uuid.as_deref(), Some("u-1"), "file order is kept");
    }

    #[test]
    fn unknown_scope_lists_the_reports_scopes() {
        let docs = documents(TWO, false);
        let err = select(&docs, &["u-1".into(), "nope".into()]).unwrap_err();
        assert_eq!(err.unknown, vec!["nope".to_owned()]);
        assert_eq!(
            err.to_string(),
            "--scope nope: the report has no document for this scope; its scopes are: \
             SCS-compatible KaaS (u-1), scs-kaas extended KaaS (u-2)"
        );
    }

    #[test]
    fn json_is_one_document() {
        let docs = documents("{\"spec\": {\"uuid\": \"u-9\", \"name\": \"J\"}}", true);
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].label(), "J (u-9)");
    }
}
