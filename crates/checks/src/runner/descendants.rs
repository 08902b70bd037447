//! Finding and killing every process a scope program started, including those that left its
//! process group (`setsid sleep 300 &`), which a group kill misses.
//!
//! Each program gets a unique marker in its environment ([`MARKER_VAR`]); descendants inherit
//! it. After the program ends (or is killed at its deadline, or the run is stopped) every
//! process of ours whose environment carries the marker is killed, found by scanning `/proc`.
//! Limit (documented in README): a descendant that clears or replaces its whole environment
//! (`env -i`) is not found.

use std::io::Read;

/// The environment variable carrying the marker of one program run.
pub const MARKER_VAR: &str = "SCS_KAAS_PROGRAM_RUN";

/// A fresh marker value for one program run.
pub fn new_marker() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Kill (SIGKILL) every process whose environment carries `marker`; repeated until none is
/// left (a process may fork while being found), at most a few rounds. Returns how many were
/// killed.
pub fn kill_marked(marker: &str) -> usize {
    let needle = format!("{MARKER_VAR}={marker}\0").into_bytes();
    let own = std::process::id();
    let mut killed = 0;
    for _ in 0..5 {
        let found = marked(&needle, own);
        if found.is_empty() {
            break;
        }
        for pid in found {
            // SAFETY: kill(2) on a pid found just now; no memory is involved.
            if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
    }
    killed
}

/// Pids (not `own`, not zombies) whose `/proc/PID/environ` contains `needle`.
fn marked(needle: &[u8], own: u32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid as u32 == own {
            continue;
        }
        buf.clear();
        // Environments are small; 1 MiB bounds a hostile one.
        let read = std::fs::File::open(entry.path().join("environ"))
            .and_then(|f| f.take(1 << 20).read_to_end(&mut buf));
        if read.is_ok() && buf.windows(needle.len()).any(|w| w == needle) {
            out.push(pid);
        }
    }
    out
}
