//! Bounded capture of a program's output, parsed while it streams.
//!
//! A program may print gigabytes; we keep a head and a tail of each stream (and say how much was
//! left out), but every line is still scanned for `id: STATUS` results and log-level counts, so a
//! result printed in the middle is not lost. Bytes that are not UTF-8 are decoded lossily.

use std::collections::VecDeque;

use scs_kaas_core::finding::Status;

/// Bytes of each stream kept from the start.
pub const HEAD_BYTES: usize = 128 * 1024;
/// Bytes of each stream kept from the end.
pub const TAIL_BYTES: usize = 128 * 1024;
/// Longest line kept whole; longer lines are split (keeps memory bounded without newlines).
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Distinct ids whose results are kept; a scope program decides a handful. Result lines for
/// further ids are counted, not kept (their ids are then ABORT, never PASS).
pub const MAX_RESULT_IDS: usize = 4096;

/// Counts of log lines by level (INTEROP.md §3.2), matched as `LEVEL:` at the start of a line,
/// case-insensitively, so `information` or an id like `error-check: PASS` does not count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `INFO:` lines.
    pub info: u32,
    /// `WARNING:` lines.
    pub warning: u32,
    /// `ERROR:` lines.
    pub error: u32,
    /// `CRITICAL:` lines.
    pub critical: u32,
}

impl Counts {
    /// Count one line.
    pub fn add_line(&mut self, line: &str) {
        let head: String = line
            .chars()
            .take(9)
            .collect::<String>()
            .to_ascii_lowercase();
        if head.starts_with("info:") {
            self.info += 1;
        } else if head.starts_with("warning:") {
            self.warning += 1;
        } else if head.starts_with("error:") {
            self.error += 1;
        } else if head.starts_with("critical:") {
            self.critical += 1;
        }
    }
}

/// Parse one stdout line as a result (INTEROP.md §3.1): split at the last `:`, the right part
/// (trimmed, any case) must be PASS, FAIL or ABORT, the left part (trimmed) is the id.
pub fn parse_result_line(line: &str) -> Option<(&str, Status)> {
    let (id, word) = line.rsplit_once(':')?;
    let status = match word.trim().to_ascii_uppercase().as_str() {
        "PASS" => Status::Pass,
        "FAIL" => Status::Fail,
        "ABORT" => Status::Abort,
        _ => return None,
    };
    let id = id.trim();
    (!id.is_empty()).then_some((id, status))
}

/// One captured stream: head and tail lines, totals, counts and (for stdout) results.
#[derive(Debug, Default)]
pub struct Stream {
    head: Vec<String>,
    head_bytes: usize,
    tail: VecDeque<String>,
    tail_bytes: usize,
    omitted_lines: u64,
    omitted_bytes: u64,
    pending: Vec<u8>,
    /// Total bytes received.
    pub total_bytes: u64,
    /// Whether some bytes were not valid UTF-8 (replaced by U+FFFD).
    pub lossy: bool,
    /// Log-level counts over every line.
    pub counts: Counts,
    /// One result per id, in the order the ids first appeared; a later line for the same id
    /// overrides the earlier one. At most [`MAX_RESULT_IDS`] ids.
    pub results: Vec<(String, Status)>,
    /// Result lines for ids beyond [`MAX_RESULT_IDS`], not kept.
    pub results_dropped: u64,
    result_index: std::collections::HashMap<String, usize>,
    parse_results: bool,
}

impl Stream {
    /// A stream; `parse_results` for stdout.
    pub fn new(parse_results: bool) -> Self {
        Stream {
            parse_results,
            ..Default::default()
        }
    }

    /// Feed bytes as they arrive.
    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total_bytes += bytes.len() as u64;
        while let Some(nl) = bytes.iter().position(|b| *b == b'\n') {
            let (line, rest) = bytes.split_at(nl);
            self.pending.extend_from_slice(line);
            let line = std::mem::take(&mut self.pending);
            self.line(&line);
            bytes = &rest[1..];
        }
        self.pending.extend_from_slice(bytes);
        while self.pending.len() > MAX_LINE_BYTES {
            // Split at a char boundary where possible so lossy decoding does not cut a char.
            let mut cut = MAX_LINE_BYTES;
            while cut > MAX_LINE_BYTES - 4 && (self.pending[cut] & 0xC0) == 0x80 {
                cut -= 1;
            }
            let rest = self.pending.split_off(cut);
            let line = std::mem::replace(&mut self.pending, rest);
            self.line(&line);
        }
    }

    /// The stream ended: flush an unterminated last line.
    pub fn finish(&mut self) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.line(&line);
        }
    }

    fn line(&mut self, raw: &[u8]) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = match std::str::from_utf8(raw) {
            Ok(s) => s.to_owned(),
            Err(_) => {
                self.lossy = true;
                String::from_utf8_lossy(raw).into_owned()
            }
        };
        self.counts.add_line(&text);
        if self.parse_results
            && let Some((id, status)) = parse_result_line(&text)
        {
            match self.result_index.get(id) {
                Some(&i) => self.results[i].1 = status,
                None if self.results.len() < MAX_RESULT_IDS => {
                    self.result_index.insert(id.to_owned(), self.results.len());
                    self.results.push((id.to_owned(), status));
                }
                None => self.results_dropped += 1,
            }
        }
        let len = text.len();
        if self.head_bytes + len <= HEAD_BYTES && self.tail.is_empty() {
            self.head_bytes += len;
            self.head.push(text);
            return;
        }
        self.tail_bytes += len;
        self.tail.push_back(text);
        while self.tail_bytes > TAIL_BYTES {
            match self.tail.pop_front() {
                Some(old) => {
                    self.tail_bytes -= old.len();
                    self.omitted_lines += 1;
                    self.omitted_bytes += old.len() as u64;
                }
                None => break,
            }
        }
    }

    /// Whether lines were left out.
    pub fn truncated(&self) -> bool {
        self.omitted_lines > 0
    }

    /// The kept lines, with one marker line where lines were left out.
    pub fn lines(&self) -> Vec<String> {
        let mut out = self.head.clone();
        if self.omitted_lines > 0 {
            out.push(format!(
                "[scs-kaas: {} lines ({} bytes) of output omitted; {} bytes in total]",
                self.omitted_lines, self.omitted_bytes, self.total_bytes
            ));
        }
        out.extend(self.tail.iter().cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_result_lines_keep_one_entry_per_id_and_at_most_the_limit() {
        let mut s = Stream::new(true);
        for _ in 0..200_000 {
            s.push(b"tc-x: PASS\n");
        }
        s.push(b"tc-x: FAIL\n");
        assert_eq!(s.results, vec![("tc-x".to_owned(), Status::Fail)]);
        for i in 0..(MAX_RESULT_IDS + 500) {
            s.push(format!("id-{i}: PASS\n").as_bytes());
        }
        assert_eq!(s.results.len(), MAX_RESULT_IDS);
        assert_eq!(s.results_dropped, 501);
        let kept: usize = s.lines().iter().map(String::len).sum();
        assert!(kept < 300 * 1024, "kept output stays bounded too: {kept}");
    }

    #[test]
    fn result_lines_follow_the_reference_rules() {
        assert_eq!(parse_result_line("foo: pass"), Some(("foo", Status::Pass)));
        assert_eq!(parse_result_line("foo:FAIL"), Some(("foo", Status::Fail)));
        assert_eq!(
            parse_result_line("  foo :  Abort "),
            Some(("foo", Status::Abort))
        );
        assert_eq!(
            parse_result_line("a: b: PASS"),
            Some(("a: b", Status::Pass))
        );
        assert_eq!(parse_result_line("foo PASS"), None);
        assert_eq!(parse_result_line("foo: PASSED"), None);
        assert_eq!(parse_result_line(": PASS"), None);
    }

    #[test]
    fn counts_need_the_colon() {
        let mut c = Counts::default();
        for l in [
            "INFO: x",
            "info:y",
            "Information about",
            "WARNING: w",
            "error-check: FAIL",
            "ERROR:root:boom",
            "errors: 3",
            "CRITICAL: c",
        ] {
            c.add_line(l);
        }
        assert_eq!(
            c,
            Counts {
                info: 2,
                warning: 1,
                error: 1,
                critical: 1
            }
        );
    }

    #[test]
    fn lines_split_across_chunks_and_crlf() {
        let mut s = Stream::new(true);
        s.push(b"a: PA");
        s.push(b"SS\r\nINFO: x\nlast");
        s.finish();
        assert_eq!(s.lines(), vec!["a: PASS", "INFO: x", "last"]);
        assert_eq!(s.results, vec![("a".to_owned(), Status::Pass)]);
        assert_eq!(s.counts.info, 1);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_flagged() {
        let mut s = Stream::new(true);
        s.push(b"caf\xe9\nid: PASS\n");
        s.finish();
        assert!(s.lossy);
        assert_eq!(s.lines()[0], "caf\u{FFFD}");
        assert_eq!(s.results.len(), 1);
    }

    #[test]
    fn huge_output_keeps_head_and_tail_and_every_result() {
        let mut s = Stream::new(true);
        let line = "x".repeat(99) + "\n";
        s.push(b"first: PASS\n");
        for _ in 0..100_000 {
            s.push(line.as_bytes());
        }
        s.push(b"middle-is-not-lost: FAIL\n");
        for _ in 0..100_000 {
            s.push(line.as_bytes());
        }
        s.push(b"last: ABORT\n");
        s.finish();
        assert!(s.truncated());
        let lines = s.lines();
        let kept: usize = lines.iter().map(|l| l.len()).sum();
        assert!(kept <= HEAD_BYTES + TAIL_BYTES + 200, "kept {kept} bytes");
        assert_eq!(lines[0], "first: PASS");
        assert_eq!(lines.last().unwrap(), "last: ABORT");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("lines (") && l.contains("omitted"))
        );
        let ids: Vec<_> = s.results.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(ids, ["first", "middle-is-not-lost", "last"]);
    }

    #[test]
    fn a_line_without_newline_is_split_not_buffered_forever() {
        let mut s = Stream::new(false);
        s.push(&vec![b'y'; 3 * MAX_LINE_BYTES + 5]);
        s.finish();
        let lines = s.lines();
        assert_eq!(lines.len(), 4);
        assert!(lines.iter().all(|l| l.len() <= MAX_LINE_BYTES));
    }
}
