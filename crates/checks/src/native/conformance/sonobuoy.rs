//! Driving the `sonobuoy` executable as the SCS reference does (`-a conformance_runner=sonobuoy`):
//! `delete --wait` (leftovers of an earlier run), `run --wait` with the selection and
//! `--plugin-env e2e.E2E_EXTRA_ARGS=--ginkgo.flake-attempts=2`, `retrieve` into the artifacts
//! directory, and `delete --wait` again, also when the run failed. Unlike the reference, the
//! wait is bounded by the check's deadline, and the tarball is kept.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use scs_kaas_core::finding::Outcome;
use tokio::process::Command;

use super::judge::RESULTS_RULE;
use super::pod::RunSettings;
use super::suite::Suite;

/// How much of a failing command's output is quoted.
const TAIL_CHARS: usize = 600;

/// The `sonobuoy run` arguments for `suite` (after `run --wait=MINUTES`).
pub fn run_args(suite: Suite, settings: &RunSettings, wait_minutes: u64) -> Vec<String> {
    let mut args = vec!["run".to_string(), format!("--wait={wait_minutes}")];
    if suite == Suite::Conformance && settings.focus == suite.focus() && settings.skip.is_empty() {
        args.push("--mode=certified-conformance".into());
    } else {
        args.push(format!("--e2e-focus={}", settings.focus));
        args.push(format!("--e2e-skip={}", settings.skip));
    }
    if settings.parallel > 1 {
        args.push("--e2e-parallel=true".into());
    }
    if let Some(image) = &settings.image {
        args.push(format!("--kube-conformance-image={image}"));
    }
    args.push("--plugin-env".into());
    args.push("e2e.E2E_EXTRA_ARGS=--ginkgo.flake-attempts=2".into());
    args
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let count = text.chars().count();
    if count > TAIL_CHARS {
        let cut: String = text.chars().skip(count - TAIL_CHARS).collect();
        format!("…{cut}")
    } else {
        text.to_string()
    }
}

struct Sonobuoy<'a> {
    bin: &'a Path,
    kubeconfig: Option<&'a Path>,
}

impl Sonobuoy<'_> {
    /// Run `sonobuoy [--kubeconfig K] ARGS`; its stdout, or the reason it failed.
    async fn call(&self, args: &[String]) -> Result<String, String> {
        let mut cmd = Command::new(self.bin);
        if let Some(k) = self.kubeconfig {
            cmd.arg("--kubeconfig").arg(k);
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let shown = format!("sonobuoy {}", args.join(" "));
        let out = cmd.output().await.map_err(|e| {
            format!(
                "cannot start {} ({e}); install Sonobuoy or give its path with -a sonobuoy=PATH",
                self.bin.display()
            )
        })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "`{shown}` failed ({}): {}",
                out.status,
                tail(if out.stderr.is_empty() {
                    &out.stdout
                } else {
                    &out.stderr
                })
            ))
        }
    }
}

/// Run the suite through Sonobuoy; the retrieved tarball's path, or ABORT with the cause.
pub async fn run(
    bin: &Path,
    kubeconfig: Option<&Path>,
    suite: Suite,
    settings: &RunSettings,
    dir: &Path,
    deadline: Duration,
) -> Result<PathBuf, Outcome> {
    let abort = |why: String| Outcome::abort(RESULTS_RULE, why);
    let sb = Sonobuoy { bin, kubeconfig };
    let delete = ["delete".to_string(), "--wait".to_string()];
    sb.call(&delete).await.map_err(|e| {
        abort(format!(
            "removing leftovers of an earlier Sonobuoy run: {e}"
        ))
    })?;
    // Leave a little of the deadline for retrieve and delete.
    let wait_minutes = (deadline.as_secs() / 60).saturating_sub(5).max(1);
    let ran = sb.call(&run_args(suite, settings, wait_minutes)).await;
    let retrieved = match ran {
        Ok(_) => {
            let retrieve = vec!["retrieve".to_string(), dir.display().to_string()];
            match std::fs::create_dir_all(dir) {
                Ok(()) => sb.call(&retrieve).await.map(|out| tarball(&out, dir)),
                Err(e) => Err(format!("cannot create {}: {e}", dir.display())),
            }
        }
        Err(e) => Err(e),
    };
    let deleted = sb.call(&delete).await;
    let path = match retrieved {
        Ok(Some(p)) => p,
        Ok(None) => {
            return Err(abort(format!(
                "`sonobuoy retrieve` left no results tarball in {}",
                dir.display()
            )));
        }
        Err(e) => return Err(abort(e)),
    };
    if let Err(e) = deleted {
        tracing::warn!("removing the Sonobuoy run: {e}");
    }
    Ok(path)
}

/// The tarball `sonobuoy retrieve` wrote: the path it printed, else a `*.tar.gz` in `dir`.
fn tarball(stdout: &str, dir: &Path) -> Option<PathBuf> {
    let printed = stdout
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.ends_with(".tar.gz"))
        .map(PathBuf::from)
        .filter(|p| p.is_file());
    printed.or_else(|| {
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::image::ImageSource;

    fn settings(suite: Suite) -> RunSettings {
        RunSettings {
            image: None,
            mirror: ImageSource::default(),
            focus: suite.focus().to_string(),
            skip: suite.skip().to_string(),
            parallel: 1,
        }
    }

    #[test]
    fn arguments_follow_the_reference() {
        assert_eq!(
            run_args(Suite::Conformance, &settings(Suite::Conformance), 175),
            [
                "run",
                "--wait=175",
                "--mode=certified-conformance",
                "--plugin-env",
                "e2e.E2E_EXTRA_ARGS=--ginkgo.flake-attempts=2"
            ]
        );
        let mut net = settings(Suite::Networking);
        net.parallel = 4;
        net.image = Some("mirror.example/conformance:v1.33.5".into());
        assert_eq!(
            run_args(Suite::Networking, &net, 55),
            [
                "run",
                "--wait=55",
                "--e2e-focus=NetworkPolicy",
                r"--e2e-skip=\[Disruptive\]|NoExecuteTaintManager",
                "--e2e-parallel=true",
                "--kube-conformance-image=mirror.example/conformance:v1.33.5",
                "--plugin-env",
                "e2e.E2E_EXTRA_ARGS=--ginkgo.flake-attempts=2"
            ]
        );
    }
}
