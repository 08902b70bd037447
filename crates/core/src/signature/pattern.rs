//! OpenSSH pattern lists (`ssh_config(5)` PATTERNS), as allowed-signers principals and
//! `namespaces=` options use them: comma-separated globs with `*` and `?`, `!` negates.

/// Whether `text` matches the comma-separated pattern list: at least one positive pattern
/// matches and no negated one does (case-sensitive, like `ssh-keygen -Y verify`).
pub fn matches_list(text: &str, list: &str) -> bool {
    let mut positive = false;
    for pattern in list.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        if glob(text.as_bytes(), pattern.as_bytes()) {
            if negated {
                return false;
            }
            positive = true;
        }
    }
    positive
}

/// `*` matches any run of bytes, `?` exactly one byte; everything else literally.
fn glob(text: &[u8], pattern: &[u8]) -> bool {
    // Iterative matcher with single backtrack point: linear in practice, no recursion.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::matches_list;

    #[test]
    fn table() {
        let cases = [
            ("mail@csp.eu", "mail@csp.eu", true),
            ("mail@csp.eu", "other@csp.eu", false),
            ("mail@csp.eu", "other,mail@csp.eu", true),
            ("mail@csp.eu", "*@csp.eu", true),
            ("mail@csp.eu", "*@csp.de", false),
            ("mail@csp.eu", "mai?@csp.eu", true),
            ("mail@csp.eu", "ma?@csp.eu", false),
            ("mail@csp.eu", "*,!mail@csp.eu", false),
            ("mail@csp.eu", "!mail@csp.eu", false),
            ("other", "*,!mail@csp.eu", true),
            ("Mail@csp.eu", "mail@csp.eu", false),
            ("report", "file,report", true),
            ("report", "rep*", true),
            ("report", "", false),
            ("", "*", true),
            ("abc", "a*b*c", true),
            ("abcbc", "a*bc", true),
            ("abcbd", "a*bc", false),
        ];
        for (text, list, want) in cases {
            assert_eq!(matches_list(text, list), want, "{text:?} against {list:?}");
        }
    }
}
