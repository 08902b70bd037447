//! The `allowed_signers` file of `ssh-keygen -Y verify` (ssh-keygen(1), ALLOWED SIGNERS):
//! one entry per line, `principals [options] keytype base64 [comment]`.
//!
//! Supported options: `namespaces="…"`, `valid-after="…"`, `valid-before="…"`.
//! `cert-authority` is rejected with a clear error because we verify plain keys only.

use std::str::FromStr;

use jiff::Zoned;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use ssh_key::{Algorithm, PublicKey};

use super::SignatureError;
use super::pattern::matches_list;

/// A parsed allowed-signers file; keeps its name so errors can point at `file:line`.
#[derive(Debug, Clone)]
pub struct AllowedSigners {
    source_name: String,
    entries: Vec<AllowedSigner>,
}

/// One line of an allowed-signers file.
#[derive(Debug, Clone)]
pub struct AllowedSigner {
    /// 1-based line number, for error messages.
    pub line: usize,
    /// Comma-separated principal patterns.
    pub principals: String,
    /// `namespaces="…"` patterns, when the entry restricts them.
    pub namespaces: Option<String>,
    /// `valid-after="…"`: the key is not accepted before this time.
    pub valid_after: Option<Validity>,
    /// `valid-before="…"`: the key is not accepted from this time on.
    pub valid_before: Option<Validity>,
    /// The signer's public key.
    pub key: PublicKey,
}

/// A validity bound as written (`YYYYMMDD[HHMM[SS]]`, `Z`/`UTC` suffix for UTC, else the
/// verifier's local time zone, as ssh-keygen does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validity {
    /// The text from the file, for messages.
    pub text: String,
    /// The civil date-time.
    pub at: DateTime,
    /// Whether the bound is in UTC (else in the zone of "now").
    pub utc: bool,
}

impl Validity {
    /// The bound as a timestamp in the zone of `now` (or UTC).
    fn resolve(&self, now: &Zoned) -> Option<jiff::Timestamp> {
        let tz = if self.utc {
            TimeZone::UTC
        } else {
            now.time_zone().clone()
        };
        self.at.to_zoned(tz).ok().map(|z| z.timestamp())
    }
}

impl AllowedSigners {
    /// Parse the text of an allowed-signers file; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, SignatureError> {
        let mut entries = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            entries.push(parse_line(line, index + 1, source_name)?);
        }
        Ok(AllowedSigners {
            source_name: source_name.to_owned(),
            entries,
        })
    }

    /// The file name given at parse time.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// The entries in file order.
    pub fn entries(&self) -> &[AllowedSigner] {
        &self.entries
    }

    /// The public key allowed for `identity` that made the signature, after checking the
    /// entry's namespaces and validity window like ssh-keygen does (first matching line wins).
    pub fn authorize(
        &self,
        identity: &str,
        signer: &PublicKey,
        namespace: &str,
        now: &Zoned,
    ) -> Result<&AllowedSigner, SignatureError> {
        let mut principal_seen = false;
        for entry in &self.entries {
            if !matches_list(identity, &entry.principals) {
                continue;
            }
            principal_seen = true;
            if entry.key.key_data() != signer.key_data() {
                continue;
            }
            if let Some(allowed) = &entry.namespaces
                && !matches_list(namespace, allowed)
            {
                return Err(SignatureError::NamespaceNotAllowed {
                    source_name: self.source_name.clone(),
                    line: entry.line,
                    identity: identity.to_owned(),
                    allowed: allowed.clone(),
                    namespace: namespace.to_owned(),
                });
            }
            let now_ts = now.timestamp();
            if let Some(after) = &entry.valid_after
                && after.resolve(now).is_none_or(|t| now_ts < t)
            {
                return Err(self.not_valid(
                    entry,
                    identity,
                    format!("not valid before {}", after.text),
                ));
            }
            if let Some(before) = &entry.valid_before
                && before.resolve(now).is_none_or(|t| now_ts >= t)
            {
                return Err(self.not_valid(entry, identity, format!("expired at {}", before.text)));
            }
            return Ok(entry);
        }
        let fingerprint = signer.fingerprint(ssh_key::HashAlg::Sha256).to_string();
        if principal_seen {
            Err(SignatureError::KeyNotAllowed {
                source_name: self.source_name.clone(),
                identity: identity.to_owned(),
                fingerprint,
            })
        } else {
            Err(SignatureError::NoSuchPrincipal {
                source_name: self.source_name.clone(),
                identity: identity.to_owned(),
            })
        }
    }

    fn not_valid(&self, entry: &AllowedSigner, identity: &str, problem: String) -> SignatureError {
        SignatureError::KeyNotValidNow {
            source_name: self.source_name.clone(),
            line: entry.line,
            identity: identity.to_owned(),
            problem,
        }
    }
}

fn parse_line(
    line: &str,
    number: usize,
    source_name: &str,
) -> Result<AllowedSigner, SignatureError> {
    let syntax = |problem: String| SignatureError::AllowedSignersSyntax {
        source_name: source_name.to_owned(),
        line: number,
        problem,
    };
    let (principals, rest) = split_field(line).map_err(syntax)?;
    if principals.is_empty() {
        return Err(syntax(
            "empty principals field: start the line with the signer's identity".to_owned(),
        ));
    }
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Err(syntax(format!(
            "principals {principals:?} are not followed by a key: write `{principals} <key type> <base64 key>`"
        )));
    }
    let first = rest.split_whitespace().next().unwrap_or_default();
    let (options, key_text) = if Algorithm::from_str(first).is_ok() {
        (None, rest)
    } else {
        let (options, key_text) = split_field(rest).map_err(syntax)?;
        (Some(options), key_text.trim_start())
    };
    let mut entry = AllowedSigner {
        line: number,
        principals: principals.to_owned(),
        namespaces: None,
        valid_after: None,
        valid_before: None,
        key: parse_key(key_text)
            .map_err(|detail| syntax(format!("invalid public key: {detail}")))?,
    };
    if let Some(options) = options {
        for option in split_options(options).map_err(syntax)? {
            apply_option(&mut entry, option).map_err(|problem| match problem {
                OptionProblem::CertAuthority => SignatureError::CertAuthorityUnsupported {
                    source_name: source_name.to_owned(),
                    line: number,
                },
                OptionProblem::Syntax(text) => syntax(text),
            })?;
        }
    }
    Ok(entry)
}

/// A whitespace-delimited field that may contain double-quoted parts with spaces.
fn split_field(text: &str) -> Result<(&str, &str), String> {
    let mut quoted = false;
    for (at, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                return Ok((unquote_whole(&text[..at]), &text[at..]));
            }
            _ => {}
        }
    }
    if quoted {
        return Err(format!(
            "unterminated double quote in {text:?}: close the quote"
        ));
    }
    Ok((unquote_whole(text), ""))
}

/// `"a b"` → `a b` when the whole field is quoted (principals may be).
fn unquote_whole(field: &str) -> &str {
    field
        .strip_prefix('"')
        .and_then(|f| f.strip_suffix('"'))
        .filter(|inner| !inner.contains('"'))
        .unwrap_or(field)
}

fn parse_key(text: &str) -> Result<PublicKey, String> {
    let mut words = text.split_whitespace();
    let (Some(kind), Some(base64)) = (words.next(), words.next()) else {
        return Err("expected `<key type> <base64 key>`".to_owned());
    };
    PublicKey::from_openssh(&format!("{kind} {base64}")).map_err(|err| {
        format!("{kind} key does not decode ({err}); copy the line from the .pub file")
    })
}

/// Options separated by commas outside quotes.
fn split_options(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (at, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return Err(format!(
            "unterminated double quote in options {text:?}: close the quote"
        ));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

enum OptionProblem {
    CertAuthority,
    Syntax(String),
}

fn apply_option(entry: &mut AllowedSigner, option: &str) -> Result<(), OptionProblem> {
    let (name, value) = match option.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (option, None),
    };
    let name = name.to_ascii_lowercase();
    if name == "cert-authority" {
        return Err(OptionProblem::CertAuthority);
    }
    let known = ["namespaces", "valid-after", "valid-before"];
    if !known.contains(&name.as_str()) {
        return Err(OptionProblem::Syntax(format!(
            "unknown option {option:?}: allowed are namespaces=\"…\", valid-after=\"…\", valid-before=\"…\" \
             (or is the key type misspelt?)"
        )));
    }
    let value = value
        .and_then(|v| v.strip_prefix('"'))
        .and_then(|v| v.strip_suffix('"'))
        .ok_or_else(|| {
            OptionProblem::Syntax(format!(
                "option {name} needs a double-quoted value: {name}=\"…\""
            ))
        })?;
    let duplicate = || OptionProblem::Syntax(format!("option {name} given twice: keep one"));
    match name.as_str() {
        "namespaces" => {
            if entry.namespaces.replace(value.to_owned()).is_some() {
                return Err(duplicate());
            }
        }
        "valid-after" => {
            let bound = parse_validity(value).map_err(OptionProblem::Syntax)?;
            if entry.valid_after.replace(bound).is_some() {
                return Err(duplicate());
            }
        }
        _ => {
            let bound = parse_validity(value).map_err(OptionProblem::Syntax)?;
            if entry.valid_before.replace(bound).is_some() {
                return Err(duplicate());
            }
        }
    }
    Ok(())
}

/// `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, optionally followed by `Z` or `UTC`.
fn parse_validity(text: &str) -> Result<Validity, String> {
    let (digits, utc) = if let Some(d) = text.strip_suffix('Z') {
        (d, true)
    } else if let Some(d) = text.strip_suffix("UTC") {
        (d, true)
    } else {
        (text, false)
    };
    let bad = || {
        format!(
            "invalid time {text:?}: write YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, optionally with Z for UTC"
        )
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err(bad());
    }
    let num = |range: std::ops::Range<usize>| digits.get(range).map_or(Ok(0), |s| s.parse::<i16>());
    let parts = (|| -> Result<_, std::num::ParseIntError> {
        Ok((
            num(0..4)?,
            num(4..6)?,
            num(6..8)?,
            num(8..10)?,
            num(10..12)?,
            num(12..14)?,
        ))
    })()
    .map_err(|_| bad())?;
    let (y, mo, d, h, mi, s) = parts;
    let at =
        DateTime::new(y, mo as i8, d as i8, h as i8, mi as i8, s as i8, 0).map_err(|_| bad())?;
    Ok(Validity {
        text: text.to_owned(),
        at,
        utc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM0R4Qm4cJUezKifYu2MOUJjFfX2aFxerHOjeOFJZtJ2";
    const KEY_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINmJUEw+UeNO5CF2TqwJ5UuLcNdjI3OtLSWdhYeiodhu";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).unwrap()
    }

    fn now() -> Zoned {
        "2026-06-01T12:00:00Z[UTC]".parse().unwrap()
    }

    fn parse(text: &str) -> Result<AllowedSigners, SignatureError> {
        AllowedSigners::parse(text, "allowed_signers")
    }

    #[test]
    fn comments_blank_lines_quotes_and_comments_after_the_key() {
        let text = format!(
            "# team keys\n\n   \nmail@csp.eu {KEY_A} laptop key\n\"a b\",c@d {KEY_B}\n  # indented comment\n"
        );
        let signers = parse(&text).unwrap();
        assert_eq!(signers.entries().len(), 2);
        assert_eq!(signers.entries()[0].line, 4);
        assert_eq!(signers.entries()[0].principals, "mail@csp.eu");
        assert_eq!(signers.entries()[1].principals, "\"a b\",c@d");
        assert_eq!(signers.entries()[1].line, 5);
    }

    #[test]
    fn principal_and_key_must_both_match() {
        let signers = parse(&format!("mail@csp.eu {KEY_A}\nother@csp.eu {KEY_B}\n")).unwrap();
        let entry = signers
            .authorize("mail@csp.eu", &key(KEY_A), "report", &now())
            .unwrap();
        assert_eq!(entry.line, 1);
        let err = signers
            .authorize("mail@csp.eu", &key(KEY_B), "report", &now())
            .unwrap_err();
        assert!(matches!(err, SignatureError::KeyNotAllowed { .. }), "{err}");
        let err = signers
            .authorize("nobody", &key(KEY_A), "report", &now())
            .unwrap_err();
        assert!(
            matches!(err, SignatureError::NoSuchPrincipal { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("\"nobody\""), "{err}");
    }

    #[test]
    fn principal_patterns_are_honoured() {
        let signers = parse(&format!("*@csp.eu,!evil@csp.eu {KEY_A}\n")).unwrap();
        assert!(
            signers
                .authorize("mail@csp.eu", &key(KEY_A), "report", &now())
                .is_ok()
        );
        assert!(
            signers
                .authorize("evil@csp.eu", &key(KEY_A), "report", &now())
                .is_err()
        );
    }

    #[test]
    fn namespaces_option_restricts() {
        let signers = parse(&format!("mail@csp.eu namespaces=\"file,report\" {KEY_A}\n")).unwrap();
        assert_eq!(
            signers.entries()[0].namespaces.as_deref(),
            Some("file,report")
        );
        assert!(
            signers
                .authorize("mail@csp.eu", &key(KEY_A), "report", &now())
                .is_ok()
        );
        let err = signers
            .authorize("mail@csp.eu", &key(KEY_A), "git", &now())
            .unwrap_err();
        assert!(
            matches!(err, SignatureError::NamespaceNotAllowed { line: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn validity_window() {
        let text = format!(
            "mail@csp.eu valid-after=\"20260101\",valid-before=\"202607010000Z\" {KEY_A}\n"
        );
        let signers = parse(&text).unwrap();
        assert!(
            signers
                .authorize("mail@csp.eu", &key(KEY_A), "report", &now())
                .is_ok()
        );
        let early: Zoned = "2025-12-31T23:59:59Z[UTC]".parse().unwrap();
        let err = signers
            .authorize("mail@csp.eu", &key(KEY_A), "report", &early)
            .unwrap_err();
        assert!(
            err.to_string().contains("not valid before 20260101"),
            "{err}"
        );
        let late: Zoned = "2026-07-01T00:00:00Z[UTC]".parse().unwrap();
        let err = signers
            .authorize("mail@csp.eu", &key(KEY_A), "report", &late)
            .unwrap_err();
        assert!(
            err.to_string().contains("expired at 202607010000Z"),
            "{err}"
        );
    }

    #[test]
    fn validity_without_z_is_in_the_verifiers_zone() {
        let signers = parse(&format!("m valid-after=\"20260601130000\" {KEY_A}\n")).unwrap();
        // 12:00 UTC is 14:00 in Berlin (summer time): after 13:00 local, so valid there.
        let berlin: Zoned = "2026-06-01T14:00:00+02:00[Europe/Berlin]".parse().unwrap();
        assert!(
            signers
                .authorize("m", &key(KEY_A), "report", &berlin)
                .is_ok()
        );
        assert!(
            signers
                .authorize("m", &key(KEY_A), "report", &now())
                .is_err()
        );
    }

    #[test]
    fn cert_authority_is_rejected_clearly() {
        let err = parse(&format!("\n*@csp.eu cert-authority {KEY_A}\n")).unwrap_err();
        assert!(
            matches!(
                err,
                SignatureError::CertAuthorityUnsupported { line: 2, .. }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("not supported"), "{err}");
    }

    #[test]
    fn malformed_lines_name_file_line_and_fix() {
        let cases = [
            ("mail@csp.eu\n".to_owned(), "not followed by a key"),
            (
                "mail@csp.eu ssh-ed25519\n".to_owned(),
                "expected `<key type> <base64 key>`",
            ),
            (
                "mail@csp.eu ssh-ed25519 AAAA!!\n".to_owned(),
                "does not decode",
            ),
            (
                format!("mail@csp.eu bogus=\"x\" {KEY_A}\n"),
                "unknown option",
            ),
            (
                format!("mail@csp.eu namespaces=report {KEY_A}\n"),
                "double-quoted",
            ),
            (
                format!("mail@csp.eu namespaces=\"a\",namespaces=\"b\" {KEY_A}\n"),
                "given twice",
            ),
            (
                format!("mail@csp.eu valid-after=\"2026\" {KEY_A}\n"),
                "invalid time",
            ),
            (
                format!("mail@csp.eu valid-after=\"20261341\" {KEY_A}\n"),
                "invalid time",
            ),
            (format!("\"mail@csp.eu {KEY_A}\n"), "unterminated"),
            (
                format!("mail@csp.eu namespaces=\"x {KEY_A}\n"),
                "unterminated",
            ),
        ];
        for (text, want) in cases {
            let err = parse(&text).unwrap_err();
            let msg = err.to_string();
            assert!(msg.starts_with("allowed_signers:1: "), "{text:?}: {msg}");
            assert!(msg.contains(want), "{text:?}: {msg}");
        }
    }
}
