//! Reading the e2e suite's `e2e.log` line by line: the header (`Will run N of M specs`, the e2e
//! test and kube-apiserver versions), the closing summary (`Ran N of M Specs`, `… Passed | …
//! Failed | … Pending | … Skipped`) and progress (one `•` line per finished spec in ginkgo v2,
//! `{"msg":…,"completed":N}` lines in ginkgo v1).
//!
//! The same [`LogScanner`] reads a finished file and follows a running container's log, so the
//! progress display and the judge agree on what a line means. Lines are fed one at a time; the
//! scanner keeps a few numbers, never the lines.

use std::io::BufRead;

/// What the log says about the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LogHeader {
    /// `Will run N of M specs`: (N, M).
    pub will_run: Option<(usize, usize)>,
    /// `e2e test version: v1.33.5`.
    pub e2e_version: Option<String>,
    /// `kube-apiserver version: v1.33.5+k3s1`: the cluster the run was made against.
    pub apiserver_version: Option<String>,
    /// The closing summary, when the run got that far.
    pub summary: Option<RunSummary>,
    /// Specs finished so far, from the progress lines.
    pub done: usize,
}

/// The suite's closing lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunSummary {
    /// `Ran N of M Specs`: N.
    pub ran: usize,
    /// `Ran N of M Specs`: M.
    pub of: usize,
    /// Passed specs.
    pub passed: usize,
    /// Failed specs.
    pub failed: usize,
    /// Pending specs.
    pub pending: usize,
    /// Skipped specs.
    pub skipped: usize,
}

/// Feeds on `e2e.log` lines and keeps what [`LogHeader`] holds.
#[derive(Debug, Default, Clone)]
pub struct LogScanner {
    header: LogHeader,
    ran: Option<(usize, usize)>,
}

/// The text after `marker` in `line`, up to the next whitespace.
fn word_after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let at = memchr::memmem::find(line.as_bytes(), marker.as_bytes())?;
    line[at + marker.len()..].split_whitespace().next()
}

/// `N of M` at the start of `s`.
fn n_of_m(s: &str) -> Option<(usize, usize)> {
    let mut it = s.split_whitespace();
    let n = it.next()?.parse().ok()?;
    (it.next()? == "of").then_some(())?;
    let m = it.next()?.parse().ok()?;
    Some((n, m))
}

/// The number before `label` in a `21 Passed | 4 Failed | …` line.
fn count_before(line: &str, label: &str) -> Option<usize> {
    line.split('|').find_map(|part| {
        let mut it = part.split_whitespace().rev();
        (it.next()? == label).then_some(())?;
        it.next()?.parse().ok()
    })
}

impl LogScanner {
    /// Take one line (without its line break; invalid UTF-8 is read lossily by the caller).
    pub fn feed(&mut self, line: &str) {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("Will run ") {
            if self.header.will_run.is_none() {
                self.header.will_run = n_of_m(rest);
            }
            return;
        }
        if let Some(rest) = trimmed.strip_prefix("Ran ") {
            self.ran = n_of_m(rest);
            return;
        }
        // Progress: a verbose `• [17.5 seconds]` line, or a non-verbose run of `S` (skipped)
        // and `•` (finished) characters.
        let progress_only = trimmed
            .chars()
            .all(|c| c == 'S' || c == '•' || c.is_whitespace());
        if trimmed.starts_with('•') || (progress_only && trimmed.starts_with('S')) {
            self.header.done += if progress_only {
                trimmed.chars().filter(|&c| c == '•').count()
            } else {
                1
            };
            return;
        }
        if trimmed.starts_with("{\"msg\"") {
            // ginkgo v1 progress: {"msg":"PASSED …","total":25,"completed":21,…}
            if let Some(done) = word_after(trimmed, "\"completed\":")
                .and_then(|w| w.split([',', '}']).next())
                .and_then(|n| n.parse::<usize>().ok())
            {
                let failed = word_after(trimmed, "\"failed\":")
                    .and_then(|w| w.split([',', '}']).next())
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(0);
                self.header.done = done + failed;
            }
            return;
        }
        if let Some((ran, of)) = self.ran
            && (trimmed.contains(" Passed |") || trimmed.contains(" Passed|"))
        {
            self.header.summary = Some(RunSummary {
                ran,
                of,
                passed: count_before(trimmed, "Passed").unwrap_or(0),
                failed: count_before(trimmed, "Failed").unwrap_or(0),
                pending: count_before(trimmed, "Pending").unwrap_or(0),
                skipped: count_before(trimmed, "Skipped").unwrap_or(0),
            });
            return;
        }
        if self.header.e2e_version.is_none()
            && let Some(v) = word_after(line, "e2e test version: ")
        {
            self.header.e2e_version = Some(v.to_string());
            return;
        }
        if self.header.apiserver_version.is_none()
            && let Some(v) = word_after(line, "kube-apiserver version: ")
        {
            self.header.apiserver_version = Some(v.to_string());
        }
    }

    /// What was seen so far.
    pub fn header(&self) -> &LogHeader {
        &self.header
    }

    /// What was seen, consuming the scanner.
    pub fn finish(self) -> LogHeader {
        self.header
    }
}

/// Read a whole `e2e.log` from `input`, one line at a time.
pub fn read(mut input: impl BufRead) -> std::io::Result<LogHeader> {
    let mut scanner = LogScanner::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        scanner.feed(text.trim_end_matches(['\n', '\r']));
    }
    Ok(scanner.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_ginkgo_v2_log() {
        let log = "\
  I0602 09:15:01.123456      22 e2e.go:109] Starting e2e run \"abc\" on Ginkgo node 1
Running Suite: Kubernetes e2e suite - /usr/local/bin
====================================================
Random Seed: 1748855701 - will randomize all specs

Will run 419 of 6735 specs
------------------------------
[ReportBeforeSuite]
  I0602 09:15:02.000000 22 e2e.go:125] e2e test version: v1.33.5
  I0602 09:15:02.000001 22 e2e.go:126] kube-apiserver version: v1.33.5+k3s1
SSSS•SSS••S
• [17.544 seconds]
•
• [FAILED] [6.100 seconds]
Ran 419 of 6735 Specs in 5523.1 seconds
FAIL! -- 418 Passed | 1 Failed | 0 Pending | 6316 Skipped
";
        let h = read(log.as_bytes()).unwrap();
        assert_eq!(h.will_run, Some((419, 6735)));
        assert_eq!(h.e2e_version.as_deref(), Some("v1.33.5"));
        assert_eq!(h.apiserver_version.as_deref(), Some("v1.33.5+k3s1"));
        assert_eq!(h.done, 6);
        assert_eq!(
            h.summary,
            Some(RunSummary {
                ran: 419,
                of: 6735,
                passed: 418,
                failed: 1,
                pending: 0,
                skipped: 6316
            })
        );
    }

    #[test]
    fn reads_a_ginkgo_v1_log_with_json_progress() {
        let log = "\
{\"msg\":\"Test Suite starting\",\"total\":25,\"completed\":0,\"skipped\":0,\"failed\":0}
Running Suite: Kubernetes e2e suite
Will run 25 of 5771 specs
Aug 17 17:04:34.815: INFO: e2e test version: v1.21.1
Aug 17 17:04:34.817: INFO: kube-apiserver version: v1.21.1
{\"msg\":\"PASSED [sig-x] y [Conformance]\",\"total\":25,\"completed\":7,\"skipped\":50,\"failed\":2,\"failures\":[\"a\"]}
";
        let h = read(log.as_bytes()).unwrap();
        assert_eq!(h.will_run, Some((25, 5771)));
        assert_eq!(h.apiserver_version.as_deref(), Some("v1.21.1"));
        assert_eq!(h.done, 9);
        assert_eq!(h.summary, None);
    }

    #[test]
    fn a_log_without_header_says_nothing() {
        let h = read("just noise\n\n".as_bytes()).unwrap();
        assert_eq!(h, LogHeader::default());
    }
}
