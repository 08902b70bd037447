//! `{name}` templates of script `args`/`env`, and POSIX-shell splitting of the rendered arguments.
//!
//! The reference uses Python `str.format`, which also evaluates `{x.attr}`, `{x[0]}`, `{x:fmt}`,
//! `{x!r}` and positional `{}`; those are rejected here with a message saying what to write
//! instead. `{{` and `}}` are literal braces.

use std::collections::BTreeMap;

/// Why a template cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{` without a matching `}`.
    #[error(
        "template has `{{` without a closing `}}` at character {0}; write `{{{{` for a literal brace"
    )]
    Unclosed(usize),
    /// `}` that neither closes a field nor is doubled.
    #[error("template has a single `}}` at character {0}; write `}}}}` for a literal brace")]
    StrayClose(usize),
    /// `{}` or `{0}`.
    #[error(
        "template has a positional field `{{{0}}}`; only named variables like `{{kubeconfig}}` are supported"
    )]
    Positional(String),
    /// Attribute, index, format spec or conversion.
    #[error("template field `{{{0}}}` uses {1}, which is not supported; write just `{{name}}`")]
    Unsupported(String, &'static str),
    /// A field name that is not an identifier.
    #[error("template field `{{{0}}}` is not a variable name (letters, digits, `_`)")]
    BadName(String),
    /// A name without a value.
    #[error("template uses `{{{0}}}`, but no value is assigned; pass `-a {0}=VALUE`")]
    Unknown(String),
}

/// Whether `s` is a valid variable name.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

enum Piece<'a> {
    Text(char),
    Field(&'a str),
}

fn pieces(template: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut iter = template.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        match c {
            '{' if iter.peek().map(|(_, c)| *c) == Some('{') => {
                iter.next();
                out.push(Piece::Text('{'));
            }
            '{' => {
                let start = i + 1;
                let end = template[start..]
                    .find('}')
                    .map(|e| start + e)
                    .ok_or(TemplateError::Unclosed(i))?;
                let field = &template[start..end];
                if field.contains('{') {
                    return Err(TemplateError::Unsupported(
                        field.to_owned(),
                        "a nested field",
                    ));
                }
                out.push(Piece::Field(check_field(field)?));
                while iter.peek().is_some_and(|(j, _)| *j <= end) {
                    iter.next();
                }
            }
            '}' if iter.peek().map(|(_, c)| *c) == Some('}') => {
                iter.next();
                out.push(Piece::Text('}'));
            }
            '}' => return Err(TemplateError::StrayClose(i)),
            other => out.push(Piece::Text(other)),
        }
    }
    Ok(out)
}

fn check_field(field: &str) -> Result<&str, TemplateError> {
    let what = if field.contains('!') {
        Some("a conversion (`!`)")
    } else if field.contains(':') {
        Some("a format spec (`:`)")
    } else if field.contains('[') {
        Some("indexing (`[...]`)")
    } else if field.contains('.') {
        Some("attribute access (`.`)")
    } else {
        None
    };
    if let Some(what) = what {
        return Err(TemplateError::Unsupported(field.to_owned(), what));
    }
    if field.is_empty() || field.chars().all(|c| c.is_ascii_digit()) {
        return Err(TemplateError::Positional(field.to_owned()));
    }
    if !is_identifier(field) {
        return Err(TemplateError::BadName(field.to_owned()));
    }
    Ok(field)
}

/// The variable names a template refers to, in order (checks the syntax).
pub fn referenced_names(template: &str) -> Result<Vec<String>, TemplateError> {
    Ok(pieces(template)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Field(f) => Some(f.to_owned()),
            Piece::Text(_) => None,
        })
        .collect())
}

/// Render a template with the given values.
pub fn render(template: &str, values: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    for piece in pieces(template)? {
        match piece {
            Piece::Text(c) => out.push(c),
            Piece::Field(name) => out.push_str(
                values
                    .get(name)
                    .ok_or_else(|| TemplateError::Unknown(name.to_owned()))?,
            ),
        }
    }
    Ok(out)
}

/// Split a rendered argument string with POSIX-shell rules (no shell involved).
pub fn split_args(args: &str) -> Result<Vec<String>, String> {
    shlex::split(args).ok_or_else(|| {
        format!("arguments `{args}` have an unbalanced quote or a trailing backslash; fix the quoting in the scope's `args`")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals() -> BTreeMap<String, String> {
        [("kubeconfig", "/k/c.yaml"), ("testcases", "a b")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn substitutes_names_and_unescapes_braces() {
        assert_eq!(
            render("-k {kubeconfig} {{x}} {testcases}", &vals()).unwrap(),
            "-k /k/c.yaml {x} a b"
        );
        assert_eq!(render("{{{kubeconfig}}}", &vals()).unwrap(), "{/k/c.yaml}");
        assert_eq!(render("", &vals()).unwrap(), "");
        assert_eq!(render("no fields", &vals()).unwrap(), "no fields");
        assert_eq!(
            render("ünï {kubeconfig}", &vals()).unwrap(),
            "ünï /k/c.yaml"
        );
    }

    #[test]
    fn rejects_python_format_extras() {
        let v = vals();
        assert!(matches!(
            render("{x.a}", &v),
            Err(TemplateError::Unsupported(_, "attribute access (`.`)"))
        ));
        assert!(matches!(
            render("{x[0]}", &v),
            Err(TemplateError::Unsupported(_, "indexing (`[...]`)"))
        ));
        assert!(matches!(
            render("{x:>10}", &v),
            Err(TemplateError::Unsupported(_, "a format spec (`:`)"))
        ));
        assert!(matches!(
            render("{x!r}", &v),
            Err(TemplateError::Unsupported(_, "a conversion (`!`)"))
        ));
        assert_eq!(
            render("{}", &v),
            Err(TemplateError::Positional(String::new()))
        );
        assert_eq!(
            render("{0}", &v),
            Err(TemplateError::Positional("0".into()))
        );
        assert_eq!(
            render("{a-b}", &v),
            Err(TemplateError::BadName("a-b".into()))
        );
        assert_eq!(
            render("{nope}", &v),
            Err(TemplateError::Unknown("nope".into()))
        );
        assert_eq!(
            render("abc {kubeconfig", &v),
            Err(TemplateError::Unclosed(4))
        );
        assert_eq!(render("a } b", &v), Err(TemplateError::StrayClose(2)));
        assert!(render("{a{b}", &v).is_err());
    }

    #[test]
    fn messages_say_what_to_write() {
        let e = render("{nope}", &vals()).unwrap_err().to_string();
        assert_eq!(
            e,
            "template uses `{nope}`, but no value is assigned; pass `-a nope=VALUE`"
        );
        let e = render("{x.a}", &vals()).unwrap_err().to_string();
        assert!(e.contains("`{x.a}` uses attribute access"), "{e}");
    }

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split_args("run -c 'cncf k8s' -a '--e2e-focus \"NetworkPolicy\"'").unwrap(),
            vec![
                "run",
                "-c",
                "cncf k8s",
                "-a",
                "--e2e-focus \"NetworkPolicy\""
            ]
        );
        assert_eq!(split_args("  ").unwrap(), Vec::<String>::new());
        assert!(split_args("a 'b").is_err());
    }
}
