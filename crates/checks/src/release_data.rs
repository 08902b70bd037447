//! Loading release data: the newer of the local cache and the built-in snapshot, once per process.
//!
//! Every command and check must say which data it judged by and how old it is, so the result
//! carries the chosen [`ReleaseDb`] (its `origin` and `as_of`) plus notes about anything skipped
//! (an unreadable cache is reported, never silently ignored; the snapshot is used instead).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use scs_kaas_core::release::{self, Origin, ReleaseDb};

/// File name of the cached data inside the cache directory.
pub const CACHE_FILE: &str = "k8s-release-data.json";

/// Release data chosen for this process, with notes on how it was chosen.
#[derive(Debug)]
pub struct Loaded {
    /// The data to judge by.
    pub db: ReleaseDb,
    /// Remarks for stderr/findings, e.g. "cache ... ignored: ...".
    pub notes: Vec<String>,
}

/// The cache directory: `explicit`, else `$XDG_CACHE_HOME/scs-kaas`, else `~/.cache/scs-kaas`.
pub fn cache_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir.to_path_buf());
    }
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("scs-kaas"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|home| PathBuf::from(home).join(".cache").join("scs-kaas"))
}

/// The data given with `--release-data FILE`: when set, every [`load`] of this process returns it.
static FROM_FILE: OnceLock<Arc<Loaded>> = OnceLock::new();

/// Read `--release-data FILE`: GitHub's releases JSON (a list, e.g. SCS's test data; end-of-life
/// dates and CVEs then come from the built-in snapshot) or scs-kaas's own format (an object, as
/// `versions refresh` writes it). Errors name the file and what is wrong.
pub fn load_file(path: &Path) -> Result<Loaded, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --release-data {}: {e}", path.display()))?;
    let origin = Origin::File(path.display().to_string());
    let mut notes = Vec::new();
    let db = if text.trim_start().starts_with('[') {
        let base = release::snapshot()
            .map_err(|e| format!("the built-in release data is unusable: {e}"))?
            .data;
        notes.push(format!(
            "{} is GitHub releases JSON: release dates from it (published_at), end-of-life dates and CVEs from the built-in data as of {}",
            path.display(),
            base.as_of
        ));
        ReleaseDb::from_github_releases(&text, &base, origin)
    } else {
        ReleaseDb::from_json(&text, origin)
    }
    .map_err(|e| {
        format!(
            "--release-data {}: {e} (give GitHub releases JSON or the file `versions refresh` writes)",
            path.display()
        )
    })?;
    notes.extend(db.warnings.iter().cloned());
    Ok(Loaded { db, notes })
}

/// Use `loaded` (from [`load_file`]) for the rest of the process; false if data was set before.
pub fn use_file(loaded: Loaded) -> bool {
    FROM_FILE.set(Arc::new(loaded)).is_ok()
}

/// The data to use for `cache_dir` (see [`cache_dir`]), loaded at most once per process; the
/// `--release-data` file instead when one was given ([`use_file`]).
pub fn load(explicit_cache_dir: Option<&Path>) -> Arc<Loaded> {
    if let Some(file) = FROM_FILE.get() {
        return file.clone();
    }
    static LOADED: OnceLock<Mutex<HashMap<Option<PathBuf>, Arc<Loaded>>>> = OnceLock::new();
    let dir = cache_dir(explicit_cache_dir);
    let map = LOADED.get_or_init(Default::default);
    let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    map.entry(dir.clone())
        .or_insert_with(|| Arc::new(load_uncached(dir.as_deref())))
        .clone()
}

/// Read the cache in `dir` (if any) and the snapshot, and pick the newer; no memoisation.
pub fn load_uncached(dir: Option<&Path>) -> Loaded {
    let mut notes = Vec::new();
    let snapshot = match release::snapshot() {
        Ok(db) => Some(db),
        Err(e) => {
            notes.push(format!("built-in snapshot unusable: {e}"));
            None
        }
    };
    let cache = dir.and_then(|dir| {
        let path = dir.join(CACHE_FILE);
        match scs_kaas_core::input::read_bounded_text(
            &path,
            scs_kaas_core::input::InputKind::ReleaseData,
        ) {
            Ok(text) => {
                match ReleaseDb::from_json(&text, Origin::Cache(path.display().to_string())) {
                    Ok(db) => Some(db),
                    Err(e) => {
                        notes.push(format!("ignoring the cache: {e}"));
                        None
                    }
                }
            }
            Err(e) if e.is_not_found() => None,
            Err(e) => {
                notes.push(format!("ignoring the cache: {e}"));
                None
            }
        }
    });
    let db = match (cache, snapshot) {
        (Some(c), Some(s)) => ReleaseDb::newer(c, s),
        (Some(c), None) => c,
        (None, Some(s)) => s,
        // Only reachable if the build shipped a broken snapshot (a unit test prevents that).
        (None, None) => ReleaseDb::new(
            release::ReleaseData {
                format: release::FORMAT,
                as_of: jiff::civil::date(1970, 1, 1),
                sources: Default::default(),
                releases: vec![],
                branches: vec![],
                cves: vec![],
            },
            Origin::Inline,
        ),
    };
    Loaded { db, notes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_cache_wins_and_broken_cache_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let none = load_uncached(Some(dir.path()));
        assert_eq!(none.db.origin, Origin::Snapshot);
        assert!(none.notes.is_empty());

        let mut data = release::snapshot().unwrap().data;
        data.as_of = jiff::civil::date(2026, 11, 21);
        std::fs::write(
            dir.path().join(CACHE_FILE),
            serde_json::to_string(&data).unwrap(),
        )
        .unwrap();
        let newer = load_uncached(Some(dir.path()));
        assert!(matches!(newer.db.origin, Origin::Cache(_)));
        assert_eq!(newer.db.data.as_of, jiff::civil::date(2026, 11, 21));

        data.as_of = jiff::civil::date(2026, 1, 1);
        std::fs::write(
            dir.path().join(CACHE_FILE),
            serde_json::to_string(&data).unwrap(),
        )
        .unwrap();
        assert_eq!(load_uncached(Some(dir.path())).db.origin, Origin::Snapshot);

        std::fs::write(dir.path().join(CACHE_FILE), "{ broken").unwrap();
        let broken = load_uncached(Some(dir.path()));
        assert_eq!(broken.db.origin, Origin::Snapshot);
        assert!(
            broken.notes[0].contains("ignoring the cache"),
            "{:?}",
            broken.notes
        );
    }

    #[test]
    fn explicit_dir_wins() {
        assert_eq!(
            cache_dir(Some(Path::new("/x/y"))),
            Some(PathBuf::from("/x/y"))
        );
    }
}
