//! The one way to read a file the user named: bounded per kind of input, so `/dev/zero` or a
//! huge file given as a kubeconfig ends in a clear error instead of gigabytes of memory.
//!
//! Every user-given input file (scenario, kubeconfig, scope, report, signature, key, password,
//! bootstrap, catalog, release data) goes through [`read_bounded`] or [`read_bounded_text`].
//! A regular file larger than the limit is refused from its size before anything is read;
//! anything else (a device, a pipe) is read up to the limit plus one byte.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// What a file is for; decides its size limit and names it in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A simulator scenario (may hold thousands of objects).
    Scenario,
    /// A kubeconfig file.
    Kubeconfig,
    /// A scope file.
    Scope,
    /// An SCS report.
    Report,
    /// A monitor bootstrap file (accounts, keys).
    Bootstrap,
    /// A version catalogue or offered-versions list.
    Catalog,
    /// Cached upstream release data (releases, EOL dates, CVEs).
    ReleaseData,
    /// An SSH private or public key, or a signature.
    Key,
    /// An allowed-signers file (one line per signer).
    Signers,
    /// A password file.
    Password,
}

impl InputKind {
    /// The largest accepted file, in bytes.
    pub fn limit(self) -> u64 {
        match self {
            InputKind::Scenario | InputKind::ReleaseData => 64 * MIB,
            InputKind::Kubeconfig
            | InputKind::Scope
            | InputKind::Report
            | InputKind::Bootstrap
            | InputKind::Catalog
            | InputKind::Signers => 4 * MIB,
            InputKind::Key | InputKind::Password => 64 * KIB,
        }
    }

    /// The kind in words, for messages.
    pub fn name(self) -> &'static str {
        match self {
            InputKind::Scenario => "scenario",
            InputKind::Kubeconfig => "kubeconfig",
            InputKind::Scope => "scope file",
            InputKind::Report => "report",
            InputKind::Bootstrap => "bootstrap file",
            InputKind::Catalog => "catalogue",
            InputKind::ReleaseData => "release data file",
            InputKind::Key => "key or signature file",
            InputKind::Signers => "allowed signers file",
            InputKind::Password => "password file",
        }
    }
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an input file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Opening or reading failed (missing, unreadable, a directory, ...).
    #[error("cannot read {kind} {}: {source}", path.display())]
    Read {
        /// What the file is for.
        kind: InputKind,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than the limit of its kind.
    #[error(
        "{kind} {} is larger than the limit of {} for a {kind}; give the right file (not a device or a huge file)",
        path.display(),
        human(kind.limit())
    )]
    TooLarge {
        /// What the file is for.
        kind: InputKind,
        /// The file.
        path: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error("{kind} {} is not UTF-8 text (at byte {at})", path.display())]
    NotText {
        /// What the file is for.
        kind: InputKind,
        /// The file.
        path: PathBuf,
        /// Offset of the first invalid byte.
        at: usize,
    },
}

impl InputError {
    /// Whether the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, InputError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// `64 MiB`, `64 KiB`.
fn human(bytes: u64) -> String {
    if bytes >= MIB {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / KIB)
    }
}

/// The bytes of `path`, at most `kind.limit()` of them.
pub fn read_bounded(path: &Path, kind: InputKind) -> Result<Vec<u8>, InputError> {
    let read_err = |source| InputError::Read {
        kind,
        path: path.to_owned(),
        source,
    };
    let limit = kind.limit();
    let file = std::fs::File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if meta.is_dir() {
        return Err(read_err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory, not a file",
        )));
    }
    if meta.is_file() && meta.len() > limit {
        return Err(InputError::TooLarge {
            kind,
            path: path.to_owned(),
        });
    }
    let mut out = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(read_err)?;
    if out.len() as u64 > limit {
        return Err(InputError::TooLarge {
            kind,
            path: path.to_owned(),
        });
    }
    Ok(out)
}

/// The UTF-8 text of `path`, at most `kind.limit()` bytes of it.
pub fn read_bounded_text(path: &Path, kind: InputKind) -> Result<String, InputError> {
    String::from_utf8(read_bounded(path, kind)?).map_err(|e| InputError::NotText {
        kind,
        path: path.to_owned(),
        at: e.utf8_error().valid_up_to(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_files_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kc");
        std::fs::write(&path, "apiVersion: v1\n").unwrap();
        assert_eq!(
            read_bounded_text(&path, InputKind::Kubeconfig).unwrap(),
            "apiVersion: v1\n"
        );
    }

    #[test]
    fn dev_zero_is_refused_at_the_limit_naming_file_kind_and_limit() {
        let err = read_bounded(Path::new("/dev/zero"), InputKind::Password).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, InputError::TooLarge { .. }), "{text}");
        assert!(
            text.contains("/dev/zero") && text.contains("64 KiB") && text.contains("password file"),
            "{text}"
        );
        let err = read_bounded(Path::new("/dev/zero"), InputKind::Kubeconfig).unwrap_err();
        assert!(err.to_string().contains("4 MiB"), "{err}");
    }

    #[test]
    fn a_big_sparse_file_is_refused_from_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scenario.yaml");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(3 << 30).unwrap(); // 3 GiB, sparse: nothing is written
        let err = read_bounded(&path, InputKind::Scenario).unwrap_err();
        assert!(err.to_string().contains("64 MiB"), "{err}");
        // Exactly at the limit is accepted (bounded kinds are inclusive).
        file.set_len(InputKind::Key.limit()).unwrap();
        assert_eq!(
            read_bounded(&path, InputKind::Key).unwrap().len() as u64,
            InputKind::Key.limit()
        );
    }

    #[test]
    fn directories_missing_files_and_binary_text_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_bounded(dir.path(), InputKind::Kubeconfig).unwrap_err();
        assert!(err.to_string().contains("directory"), "{err}");
        let missing = read_bounded(&dir.path().join("nope"), InputKind::Scope).unwrap_err();
        assert!(missing.is_not_found(), "{missing}");
        let bin = dir.path().join("bin");
        std::fs::write(&bin, b"ok\xff").unwrap();
        let err = read_bounded_text(&bin, InputKind::Report).unwrap_err();
        assert!(
            err.to_string().contains("not UTF-8 text (at byte 2)"),
            "{err}"
        );
    }
}
