//! The monitor's upload body: armored signature, `&`, report bytes (INTEROP.md §4.3).
//!
//! This is what `curl --data-binary @r.sig --data-binary @r` sends, so the Python monitor and
//! ours both split on the first `-----END SSH SIGNATURE-----\n&`.

use super::SignatureError;

/// The end of an armored signature followed by the separator; the split point of a body.
pub const SPLIT_MARKER: &[u8] = b"-----END SSH SIGNATURE-----\n&";

/// Join a signature and the signed report into one upload body.
///
/// The signature must end with `-----END SSH SIGNATURE-----\n` (LF), otherwise the monitor
/// could not find it again; that is reported instead of sending a body bound to be refused.
pub fn join_upload(signature: &[u8], report: &[u8]) -> Result<Vec<u8>, SignatureError> {
    let end = &SPLIT_MARKER[..SPLIT_MARKER.len() - 1];
    if !signature.ends_with(end) {
        return Err(SignatureError::SignatureFormat {
            detail: "it does not end with `-----END SSH SIGNATURE-----` and a newline (LF)"
                .to_owned(),
        });
    }
    let mut body = Vec::with_capacity(signature.len() + 1 + report.len());
    body.extend_from_slice(signature);
    body.push(b'&');
    body.extend_from_slice(report);
    Ok(body)
}

/// Split an upload body into (signature, report) at the first end-of-signature marker.
///
/// The signature part includes the final newline; the report is everything after the `&`.
pub fn split_upload(body: &[u8]) -> Result<(&[u8], &[u8]), SignatureError> {
    let at = body
        .windows(SPLIT_MARKER.len())
        .position(|window| window == SPLIT_MARKER)
        .ok_or(SignatureError::MissingSignature)?;
    let sig_end = at + SPLIT_MARKER.len() - 1;
    Ok((&body[..sig_end], &body[sig_end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &[u8] = b"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n";

    #[test]
    fn join_then_split_round_trips() {
        let report = b"---\nsubject: a&b\n";
        let body = join_upload(SIG, report).unwrap();
        assert_eq!(body.len(), SIG.len() + 1 + report.len());
        assert_eq!(body[SIG.len()], b'&');
        let (sig, rep) = split_upload(&body).unwrap();
        assert_eq!(sig, SIG);
        assert_eq!(rep, report);
    }

    #[test]
    fn split_uses_the_first_marker_so_reports_may_contain_one() {
        let report = b"text: \"-----END SSH SIGNATURE-----\n&\"\n";
        let body = join_upload(SIG, report).unwrap();
        let (sig, rep) = split_upload(&body).unwrap();
        assert_eq!(sig, SIG);
        assert_eq!(rep, report);
    }

    #[test]
    fn empty_report_splits_to_empty_payload() {
        let body = join_upload(SIG, b"").unwrap();
        assert_eq!(split_upload(&body).unwrap(), (SIG, &b""[..]));
    }

    #[test]
    fn split_without_ampersand_is_missing_signature() {
        let mut body = SIG.to_vec();
        body.extend_from_slice(b"report");
        assert!(matches!(
            split_upload(&body),
            Err(SignatureError::MissingSignature)
        ));
    }

    #[test]
    fn split_of_garbage_is_missing_signature() {
        for body in [&b""[..], b"&", b"garbage&report", b"\xff\xfe\x00&"] {
            let err = split_upload(body).unwrap_err();
            assert!(err.to_string().contains("no signature"), "{err}");
        }
    }

    #[test]
    fn split_with_crlf_signature_is_missing_signature() {
        let body = b"-----BEGIN SSH SIGNATURE-----\r\nU1NI\r\n-----END SSH SIGNATURE-----\r\n&r";
        assert!(matches!(
            split_upload(body),
            Err(SignatureError::MissingSignature)
        ));
    }

    #[test]
    fn join_refuses_a_signature_without_final_newline() {
        let err = join_upload(&SIG[..SIG.len() - 1], b"r").unwrap_err();
        assert!(matches!(err, SignatureError::SignatureFormat { .. }));
        assert!(err.to_string().contains("newline"), "{err}");
    }
}
