//! Finding and reading e2e results wherever they are: a Sonobuoy results tarball (`sonobuoy
//! retrieve`), a directory (an extracted tarball, a CNCF submission, the files the pod runner
//! fetched), or a bare `junit_01.xml` with an optional `e2e.log` beside it.
//!
//! Every file is read exactly once, as a stream: while the JUnit and the log are parsed, the
//! same bytes are written to the artifacts directory when one is given (a tee), so keeping the
//! evidence costs no second read and no buffer of the whole file.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::e2e_log::{self, LogHeader};
use super::junit::{self, JunitSummary};

/// The JUnit file name the e2e suite writes.
pub const JUNIT: &str = "junit_01.xml";
/// The log file name the e2e suite writes.
pub const E2E_LOG: &str = "e2e.log";
/// Where Sonobuoy (≥ 0.15) keeps the e2e plugin's results inside its tarball.
const SONOBUOY_DIRS: [&str; 2] = ["plugins/e2e/results/global", "plugins/e2e/results"];

/// When the results were produced, and what says so.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Produced {
    /// The instant.
    pub at: jiff::Timestamp,
    /// Where the instant comes from, e.g. `the JUnit's timestamp`.
    pub from: &'static str,
}

/// Everything read from one set of results.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Evidence {
    /// What was read, for messages (`results.tar.gz`, `DIR/junit_01.xml`).
    pub source: String,
    /// The JUnit summary, or why there is none (missing, unreadable).
    pub junit: Result<JunitSummary, String>,
    /// The `e2e.log` header, when there was a log.
    pub log: Option<LogHeader>,
    /// The `gitVersion` of the tarball's `serverversion.json` (the cluster's `/version`).
    pub server_version: Option<String>,
    /// When the results were produced, if they say.
    pub produced: Option<Produced>,
    /// Problems writing the artifacts (the judgement does not depend on them).
    pub artifact_errors: Vec<String>,
}

/// Why results could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The path does not exist.
    #[error("{0} does not exist")]
    NotFound(PathBuf),
    /// The path exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ResultsError + '_ {
    move |source| ResultsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A reader that writes what it reads to a second place (the artifact copy); a failing write
/// is remembered, never fatal for the reading.
struct Tee<R, W> {
    inner: R,
    copy: Option<W>,
    error: Option<std::io::Error>,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(w) = self.copy.as_mut()
            && let Err(e) = w.write_all(&buf[..n])
        {
            self.error = Some(e);
            self.copy = None;
        }
        Ok(n)
    }
}

/// Where copies of the JUnit and the log go (`--artifacts DIR/<testcase>`).
#[derive(Debug, Clone)]
pub struct Artifacts {
    dir: Option<PathBuf>,
    errors: Vec<String>,
}

impl Artifacts {
    /// Copies go to `dir` (created when needed); `None` keeps no copies.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Artifacts {
            dir,
            errors: Vec::new(),
        }
    }

    /// The directory, if copies are kept.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn create(&mut self, name: &str) -> Option<std::io::BufWriter<File>> {
        let dir = self.dir.as_ref()?;
        let path = dir.join(name);
        match std::fs::create_dir_all(dir).and_then(|()| File::create(&path)) {
            Ok(f) => Some(std::io::BufWriter::new(f)),
            Err(e) => {
                self.errors
                    .push(format!("cannot write {}: {e}", path.display()));
                None
            }
        }
    }

    /// Read `input` with `parse`, copying it to the artifact `name` on the way.
    fn tee<T>(
        &mut self,
        name: &str,
        input: impl Read,
        parse: impl FnOnce(&mut dyn BufRead) -> T,
    ) -> T {
        let copy = self.create(name);
        let mut tee = BufReader::with_capacity(
            64 * 1024,
            Tee {
                inner: input,
                copy,
                error: None,
            },
        );
        let out = parse(&mut tee);
        // Whatever the parser left unread (it may stop early) still belongs in the copy.
        let _ = std::io::copy(&mut tee, &mut std::io::sink());
        let tee = tee.into_inner();
        let path = self.dir.as_ref().map(|d| d.join(name));
        let flushed = tee.copy.map(|mut w| w.flush());
        if let (Some(path), Some(e)) = (path.as_ref(), tee.error) {
            self.errors
                .push(format!("cannot write {}: {e}", path.display()));
        } else if let (Some(path), Some(Err(e))) = (path, flushed) {
            self.errors
                .push(format!("cannot write {}: {e}", path.display()));
        }
        out
    }
}

fn read_junit(input: &mut dyn BufRead) -> Result<JunitSummary, String> {
    junit::read(input).map_err(|e| e.to_string())
}

fn read_log(input: &mut dyn BufRead) -> Option<LogHeader> {
    e2e_log::read(input).ok()
}

fn junit_produced(junit: &Result<JunitSummary, String>) -> Option<Produced> {
    let at = junit.as_ref().ok()?.timestamp?;
    Some(Produced {
        at: at.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp(),
        from: "the JUnit's timestamp",
    })
}

/// Read the results at `path`: a Sonobuoy tarball (gzip), a directory, or a JUnit file.
pub fn read_path(path: &Path, artifacts: &mut Artifacts) -> Result<Evidence, ResultsError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ResultsError::NotFound(path.to_path_buf())
        } else {
            ResultsError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    })?;
    let mut evidence = if meta.is_dir() {
        read_dir(path, artifacts)?
    } else {
        let mut file = BufReader::new(File::open(path).map_err(io(path))?);
        let gzip = file
            .fill_buf()
            .map_err(io(path))?
            .starts_with(&[0x1f, 0x8b]);
        if gzip {
            read_tarball(path, file, artifacts)?
        } else {
            read_files(path, file, path.parent(), artifacts)
        }
    };
    evidence.artifact_errors = std::mem::take(&mut artifacts.errors);
    Ok(evidence)
}

/// The JUnit in `file`, the `e2e.log` in `log_dir` if there is one.
fn read_files(
    junit_path: &Path,
    file: impl Read,
    log_dir: Option<&Path>,
    artifacts: &mut Artifacts,
) -> Evidence {
    let junit = artifacts.tee(JUNIT, file, read_junit);
    let log = log_dir
        .map(|d| d.join(E2E_LOG))
        .and_then(|p| File::open(p).ok())
        .and_then(|f| artifacts.tee(E2E_LOG, f, read_log));
    Evidence {
        source: junit_path.display().to_string(),
        produced: junit_produced(&junit),
        junit,
        log,
        server_version: None,
        artifact_errors: Vec::new(),
    }
}

fn read_dir(dir: &Path, artifacts: &mut Artifacts) -> Result<Evidence, ResultsError> {
    let candidates = std::iter::once(dir.to_path_buf())
        .chain(SONOBUOY_DIRS.iter().map(|d| dir.join(d)))
        .map(|d| d.join(JUNIT));
    let server_version = std::fs::read(dir.join("serverversion.json"))
        .ok()
        .and_then(|b| git_version(&b));
    for junit_path in candidates {
        if let Ok(file) = File::open(&junit_path) {
            let mut ev = read_files(&junit_path, file, junit_path.parent(), artifacts);
            ev.server_version = server_version;
            return Ok(ev);
        }
    }
    Ok(Evidence {
        source: dir.display().to_string(),
        junit: Err(format!(
            "{} holds no {JUNIT} (looked at the top and at {})",
            dir.display(),
            SONOBUOY_DIRS.join("/, ")
        )),
        log: None,
        server_version,
        produced: None,
        artifact_errors: Vec::new(),
    })
}

/// `gitVersion` of a `/version` answer (`serverversion.json`).
fn git_version(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Info {
        #[serde(rename = "gitVersion")]
        git_version: String,
    }
    serde_json::from_slice::<Info>(bytes)
        .ok()
        .map(|i| i.git_version)
}

/// A path inside a tarball without the `./` of old Sonobuoy versions.
fn entry_name(path: &Path) -> String {
    let s = path.to_string_lossy();
    s.trim_start_matches("./").to_string()
}

fn read_tarball(
    path: &Path,
    file: impl Read,
    artifacts: &mut Artifacts,
) -> Result<Evidence, ResultsError> {
    let bad = |e: std::io::Error| ResultsError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(
            e.kind(),
            format!("not a readable gzip'ed tar archive ({e})"),
        ),
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut ev = Evidence {
        source: path.display().to_string(),
        junit: Err(String::new()),
        log: None,
        server_version: None,
        produced: None,
        artifact_errors: Vec::new(),
    };
    let mut found_junit = false;
    let junit_names: Vec<String> = SONOBUOY_DIRS
        .iter()
        .map(|d| format!("{d}/{JUNIT}"))
        .collect();
    let log_names: Vec<String> = SONOBUOY_DIRS
        .iter()
        .map(|d| format!("{d}/{E2E_LOG}"))
        .collect();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let name = entry_name(&entry.path().map_err(bad)?);
        if !found_junit && junit_names.contains(&name) {
            found_junit = true;
            let mtime = entry.header().mtime().ok();
            ev.junit = artifacts.tee(JUNIT, &mut entry, read_junit);
            ev.produced = junit_produced(&ev.junit).or_else(|| {
                let at = jiff::Timestamp::from_second(i64::try_from(mtime?).ok()?).ok()?;
                (at.as_second() > 0).then_some(Produced {
                    at,
                    from: "the JUnit's file time in the tarball",
                })
            });
        } else if ev.log.is_none() && log_names.contains(&name) {
            ev.log = artifacts.tee(E2E_LOG, &mut entry, read_log);
        } else if name == "serverversion.json" {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(bad)?;
            ev.server_version = git_version(&bytes);
        }
    }
    if !found_junit {
        ev.junit = Err(format!(
            "the tarball holds no {} (the e2e plugin left no results)",
            junit_names[0]
        ));
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/conformance")
            .join(name)
    }

    #[test]
    fn reads_a_sonobuoy_tarball_with_four_failures_and_copies_the_files() {
        let out = tempfile::tempdir().unwrap();
        let mut artifacts = Artifacts::new(Some(out.path().join("cncf-k8s-conformance")));
        let ev = read_path(&fixture("results-4-e2e-failures.tar.gz"), &mut artifacts).unwrap();
        let junit = ev.junit.as_ref().unwrap();
        assert_eq!(junit.specs, 5771);
        assert_eq!(junit.ran(), 25);
        assert_eq!(junit.failed.len(), 4);
        assert_eq!(ev.server_version.as_deref(), Some("v1.21.1"));
        let log = ev.log.as_ref().unwrap();
        assert_eq!(log.will_run, Some((25, 5771)));
        assert_eq!(log.apiserver_version.as_deref(), Some("v1.21.1"));
        let produced = ev.produced.as_ref().unwrap();
        assert_eq!(produced.at.to_string()[..10], *"2021-08-17");
        assert!(ev.artifact_errors.is_empty(), "{:?}", ev.artifact_errors);
        let copied = std::fs::metadata(out.path().join("cncf-k8s-conformance/junit_01.xml"))
            .unwrap()
            .len();
        assert_eq!(copied, 1_739_249);
        assert!(out.path().join("cncf-k8s-conformance/e2e.log").exists());
    }

    #[test]
    fn reads_old_tarballs_with_dot_slash_prefixes() {
        let mut artifacts = Artifacts::new(None);
        let ev = read_path(&fixture("results-0.10.tar.gz"), &mut artifacts).unwrap();
        assert!(ev.server_version.is_some(), "{ev:?}");
        // 0.10 kept the e2e results under plugins/e2e/results/.
        assert!(ev.junit.is_ok(), "{:?}", ev.junit);
    }

    #[test]
    fn a_tarball_without_e2e_results_says_so() {
        let mut artifacts = Artifacts::new(None);
        let ev = read_path(&fixture("results-missing-e2e.tar.gz"), &mut artifacts).unwrap();
        let err = ev.junit.unwrap_err();
        assert!(
            err.contains("holds no plugins/e2e/results/global/junit_01.xml"),
            "{err}"
        );
    }

    #[test]
    fn a_bare_junit_reads_the_log_beside_it_and_a_missing_path_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(JUNIT),
            r#"<testsuites><testsuite name="s" timestamp="2026-11-30T10:00:00"><testcase name="[It] a [Conformance]" status="passed"/></testsuite></testsuites>"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join(E2E_LOG),
            "Will run 1 of 9 specs\n  e2e test version: v1.34.2\n  kube-apiserver version: v1.34.2\n",
        )
        .unwrap();
        let mut artifacts = Artifacts::new(None);
        for path in [dir.path().join(JUNIT), dir.path().to_path_buf()] {
            let ev = read_path(&path, &mut artifacts).unwrap();
            assert_eq!(ev.junit.as_ref().unwrap().conformance.ran, 1);
            assert_eq!(
                ev.log.as_ref().unwrap().apiserver_version.as_deref(),
                Some("v1.34.2")
            );
            assert_eq!(ev.produced.as_ref().unwrap().from, "the JUnit's timestamp");
        }
        let missing = dir.path().join("nope.xml");
        let err = read_path(&missing, &mut artifacts).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{} does not exist", missing.display())
        );
    }
}
