//! A linear pre-check of YAML nesting depth, run before any YAML is parsed — from files and from
//! the cluster alike — because the YAML parsers take time quadratic in the nesting depth
//! (depth 40,000 took seconds). Real inputs nest a few dozen levels; [`MAX_DEPTH`] is generous.
//!
//! The scan over-approximates: it counts block indentation levels, `- ` sequence entries
//! opened on one line and flow brackets (`[`, `{`) outside quoted scalars and comments, and
//! skips block scalar (`|`, `>`) content. It never parses; the real parser still judges syntax.

/// The deepest nesting accepted.
pub const MAX_DEPTH: usize = 256;

/// The text nests deeper than [`MAX_DEPTH`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{origin}: YAML nested deeper than {MAX_DEPTH} levels at line {line}; this is not a document scs-kaas reads (check that the right file or object was given)"
)]
pub struct TooDeep {
    /// The file or object the text came from.
    pub origin: String,
    /// 1-based line where the limit was passed.
    pub line: usize,
}

/// Refuse `text` (named `origin` in the error) if it nests deeper than [`MAX_DEPTH`].
pub fn check(text: &str, origin: &str) -> Result<(), TooDeep> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut quote: Option<char> = None;
    // Indent of the line that opened a block scalar: deeper lines are its content.
    let mut block_scalar: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let body = &line[indent..];
        if let Some(opener) = block_scalar {
            if body.trim().is_empty() || indent > opener {
                continue;
            }
            block_scalar = None;
        }
        if quote.is_none() && flow == 0 {
            if body.trim().is_empty() || body.starts_with('#') {
                continue;
            }
            while indents.last().is_some_and(|&top| top > indent) {
                indents.pop();
            }
            if indents.last() != Some(&indent) {
                indents.push(indent);
            }
        }
        let (depth_in_line, ends_with_block_scalar) = scan_line(body, &mut flow, &mut quote);
        if indents.len() + depth_in_line > MAX_DEPTH {
            return Err(TooDeep {
                origin: origin.to_owned(),
                line: index + 1,
            });
        }
        if ends_with_block_scalar {
            block_scalar = Some(indent);
        }
    }
    Ok(())
}

/// Scan one line (without its indentation): updates flow depth and open quote, returns the
/// deepest nesting within the line beyond its indentation level, and whether the line opens
/// a block scalar.
fn scan_line(body: &str, flow: &mut usize, quote: &mut Option<char>) -> (usize, bool) {
    let bytes = body.as_bytes();
    let mut dashes = 0usize;
    let mut deepest = *flow;
    // At the start of a value: where a quote or bracket starts a node (not inside plain text).
    let mut at_value_start = true;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        if let Some(q) = *quote {
            match (q, c) {
                ('"', '\\') => i += 1,
                ('\'', '\'') if bytes.get(i + 1) == Some(&b'\'') => i += 1,
                _ if c == q => {
                    *quote = None;
                    at_value_start = false;
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            ' ' | '\t' => {}
            '#' if i == 0 || matches!(bytes[i - 1], b' ' | b'\t') => break,
            '-' if at_value_start
                && *flow == 0
                && matches!(bytes.get(i + 1), None | Some(b' ')) =>
            {
                dashes += 1;
            }
            '\'' | '"' if at_value_start => *quote = Some(c),
            '[' | '{' if at_value_start || *flow > 0 => {
                *flow += 1;
                deepest = deepest.max(*flow);
            }
            ']' | '}' if *flow > 0 => {
                *flow -= 1;
                at_value_start = false;
            }
            ',' if *flow > 0 => at_value_start = true,
            ':' if matches!(bytes.get(i + 1), None | Some(b' ')) => at_value_start = true,
            '|' | '>' if at_value_start && *flow == 0 => {
                let rest = body[i + 1..].trim_end();
                let modifiers_only = rest
                    .split('#')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .chars()
                    .all(|m| matches!(m, '-' | '+' | '0'..='9'));
                return (dashes + deepest, modifiers_only);
            }
            _ => at_value_start = false,
        }
        i += 1;
    }
    (dashes + deepest, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested_block(depth: usize) -> String {
        (0..depth)
            .map(|d| format!("{}k{d}:\n", " ".repeat(d)))
            .collect()
    }

    #[test]
    fn ordinary_documents_pass() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- metadata:\n    name: 'it''s [a] {b}'\n    labels: {a: [1, 2, {c: d}]}\n  spec:\n    script: |\n      if [ x ]; then\n            deep text [[[[\n      fi\n    note: \"quoted # not a comment [\"\n# comment [[[[[\nplain: a[b and {c\n";
        assert_eq!(check(text, "t"), Ok(()));
        assert_eq!(check(&nested_block(200), "t"), Ok(()));
        assert_eq!(
            check(&format!("{}{}", "[".repeat(200), "]".repeat(200)), "t"),
            Ok(())
        );
    }

    #[test]
    fn deep_block_flow_and_sequence_nesting_is_refused_naming_the_line() {
        let err = check(&nested_block(2_000), "scenario.yaml").unwrap_err();
        assert_eq!(err.line, MAX_DEPTH + 1);
        assert!(
            err.to_string()
                .starts_with("scenario.yaml: YAML nested deeper than 256")
        );
        let flow = format!("a: {}{}", "[".repeat(40_000), "]".repeat(40_000));
        assert!(check(&flow, "f").is_err());
        let dashes = format!("{}x\n", "- ".repeat(300));
        assert!(check(&dashes, "d").is_err());
        let multi_line_flow = format!("a: {}\n", "{\n".repeat(300));
        assert!(check(&multi_line_flow, "m").is_err());
    }

    #[test]
    fn every_yaml_reader_of_core_refuses_depth_40k_before_parsing() {
        let deep = format!("a: {}{}\n", "[".repeat(40_000), "]".repeat(40_000));
        let scope = crate::scope::Scope::parse("deep.yaml", &deep).unwrap_err();
        assert!(
            scope.to_string().contains("nested deeper than 256"),
            "{scope}"
        );
        let report = crate::report::parse_stream(&deep).unwrap_err();
        assert!(
            report.to_string().contains("nested deeper than 256"),
            "{report}"
        );
        let catalog = crate::preview::Catalog::from_yaml(&deep).unwrap_err();
        assert!(catalog.contains("nested deeper than 256"), "{catalog}");
    }
}
