//! The one place that writes files holding secrets (kubeconfigs with bearer tokens, signing
//! material, the monitor database): readable by the owner only, never through a planted
//! symbolic link, never half-written.
//!
//! [`write`] puts the content into a new temporary file in the target's directory (created
//! exclusively, so an existing file or link of that name is never opened, mode 0600 whatever
//! the umask), syncs it and renames it over the target. A symbolic link at the target is
//! refused rather than followed or replaced: someone may have planted it to make us overwrite
//! the file it points to. [`create_private`] makes an empty owner-only file for programs that
//! open the path themselves (SQLite), and tightens an existing one.

use std::fs::{File, OpenOptions, Permissions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// The mode of every secret file.
pub const MODE: u32 = 0o600;

/// Why a secret file was not written.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// The target is a symbolic link.
    #[error(
        "refusing to write {path}: it is a symbolic link (to {target}); remove the link or \
         choose another path"
    )]
    Symlink {
        /// The target path.
        path: PathBuf,
        /// Where the link points.
        target: PathBuf,
    },
    /// The target is a directory or another non-regular file.
    #[error("refusing to write {path}: it exists and is not a regular file")]
    NotAFile {
        /// The target path.
        path: PathBuf,
    },
    /// A file system operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl From<SecretFileError> for std::io::Error {
    fn from(err: SecretFileError) -> std::io::Error {
        let kind = match &err {
            SecretFileError::Symlink { .. } | SecretFileError::NotAFile { .. } => {
                std::io::ErrorKind::InvalidInput
            }
            SecretFileError::Io { source, .. } => source.kind(),
        };
        std::io::Error::new(kind, err)
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SecretFileError {
    let path = path.to_path_buf();
    move |source| SecretFileError::Io {
        action,
        path,
        source,
    }
}

/// Refuses a symbolic link or a non-regular file at `path`; a missing path is fine.
fn check_target(path: &Path) -> Result<Option<std::fs::Metadata>, SecretFileError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(SecretFileError::Symlink {
            path: path.to_path_buf(),
            target: std::fs::read_link(path).unwrap_or_default(),
        }),
        Ok(meta) if !meta.is_file() => Err(SecretFileError::NotAFile {
            path: path.to_path_buf(),
        }),
        Ok(meta) => Ok(Some(meta)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io("inspect", path)(err)),
    }
}

/// Writes `content` to `path` atomically with mode 0600 (see the module docs).
pub fn write(path: &Path, content: &[u8]) -> Result<(), SecretFileError> {
    check_target(path)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| SecretFileError::NotAFile {
            path: path.to_path_buf(),
        })?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = write_new(&tmp, content).and_then(|()| {
        // Checked again just before the rename, which itself replaces a link, never follows it.
        check_target(path)?;
        std::fs::rename(&tmp, path).map_err(io("rename the temporary file to", path))
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return written;
    }
    // Make the rename itself durable; a directory that cannot be synced is no reason to fail.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_new(tmp: &Path, content: &[u8]) -> Result<(), SecretFileError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(MODE)
        .open(tmp)
        .map_err(io("create", tmp))?;
    // The umask may have taken bits away; set exactly 0600.
    file.set_permissions(Permissions::from_mode(MODE))
        .map_err(io("set the mode of", tmp))?;
    file.write_all(content).map_err(io("write", tmp))?;
    file.sync_all().map_err(io("sync", tmp))
}

/// Makes sure `path` is a regular file only its owner can read and write: creates it empty
/// (exclusively, mode 0600) when missing, and removes group and other bits from an existing
/// one. Refuses a symbolic link like [`write`].
pub fn create_private(path: &Path) -> Result<(), SecretFileError> {
    match check_target(path)? {
        None => match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(MODE)
            .open(path)
        {
            Ok(file) => file
                .set_permissions(Permissions::from_mode(MODE))
                .map_err(io("set the mode of", path)),
            // Created by someone else meanwhile: check and tighten that one.
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => create_private(path),
            Err(err) => Err(io("create", path)(err)),
        },
        Some(meta) if meta.permissions().mode() & 0o077 != 0 => {
            let mode = meta.permissions().mode() & 0o700;
            std::fs::set_permissions(path, Permissions::from_mode(mode))
                .map_err(io("set the mode of", path))
        }
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_0600_replacing_an_old_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        write(&path, b"token: s3cret\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "token: s3cret\n");
        assert_eq!(mode(&path), 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_planted_symlink_is_refused_and_its_target_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::fs::set_permissions(&victim, Permissions::from_mode(0o644)).unwrap();
        let path = dir.path().join("kubeconfig");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let err = write(&path, b"token: s3cret\n").unwrap_err();
        assert!(matches!(err, SecretFileError::Symlink { .. }), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(
            std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let err = create_private(&path).unwrap_err();
        assert!(matches!(err, SecretFileError::Symlink { .. }), "{err}");
        assert_eq!(mode(&victim), 0o644, "the link's target keeps its mode");
    }

    #[test]
    fn a_directory_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let err = write(dir.path(), b"x").unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn create_private_makes_or_tightens_an_owner_only_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("monitor.db");
        create_private(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        std::fs::write(&path, "data").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        create_private(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "data",
            "content kept"
        );
    }
}
