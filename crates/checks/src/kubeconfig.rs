//! Reading kubeconfig files the bounded way: every kubeconfig scs-kaas reads (`--kubeconfig`,
//! `$KUBECONFIG`, `~/.kube/config`, `-a mgmt_kubeconfig=`) goes through [`read`], which reads at
//! most the kubeconfig limit of [`scs_kaas_core::input`] before kube parses it, and resolves
//! relative file references against the kubeconfig's directory as kubectl does.

use std::path::{Path, PathBuf};

use kube::config::Kubeconfig;
use scs_kaas_core::input::{self, InputError, InputKind};

/// Why no kubeconfig could be read.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// The file is missing, unreadable, a directory, too large or not text.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The file nests deeper than any kubeconfig does.
    #[error(transparent)]
    TooDeep(#[from] scs_kaas_core::yaml_depth::TooDeep),
    /// The file is not a kubeconfig.
    #[error("kubeconfig {} is not a valid kubeconfig: {source}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What kube found wrong.
        source: kube::config::KubeconfigError,
    },
    /// Neither `$KUBECONFIG` nor a home directory names a kubeconfig.
    #[error(
        "no kubeconfig: $KUBECONFIG is unset and there is no home directory; pass --kubeconfig FILE"
    )]
    NoDefault,
}

/// Read and parse the kubeconfig at `path` (bounded; relative paths made absolute).
pub fn read(path: &Path) -> Result<Kubeconfig, KubeconfigError> {
    let text = input::read_bounded_text(path, InputKind::Kubeconfig)?;
    parse(&text, path)
}

/// Parse kubeconfig `text` read from `path` (depth-checked; relative paths made absolute).
pub fn parse(text: &str, path: &Path) -> Result<Kubeconfig, KubeconfigError> {
    let invalid = |source| KubeconfigError::Invalid {
        path: path.to_owned(),
        source,
    };
    scs_kaas_core::yaml_depth::check(text, &path.display().to_string())?;
    let mut config = Kubeconfig::from_yaml(text).map_err(invalid)?;
    if let Some(dir) = path.parent() {
        absolutize(&mut config, dir);
    }
    Ok(config)
}

/// The kubeconfig kubectl would use without `--kubeconfig`: the files of `$KUBECONFIG` merged,
/// else `~/.kube/config`; each read with [`read`].
pub fn read_default() -> Result<Kubeconfig, KubeconfigError> {
    let paths: Vec<PathBuf> = match std::env::var_os("KUBECONFIG") {
        Some(list) => std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => Vec::new(),
    };
    if paths.is_empty() {
        let home = std::env::home_dir().ok_or(KubeconfigError::NoDefault)?;
        return read(&home.join(".kube").join("config"));
    }
    let mut merged = Kubeconfig::default();
    for path in &paths {
        let next = read(path)?;
        merged = merged
            .merge(next)
            .map_err(|source| KubeconfigError::Invalid {
                path: path.clone(),
                source,
            })?;
    }
    Ok(merged)
}

/// Resolve relative certificate, key, token-file and exec-command paths against `dir`.
fn absolutize(config: &mut Kubeconfig, dir: &Path) {
    let fix = |file: &mut Option<String>| {
        if let Some(f) = file.as_ref()
            && Path::new(f).is_relative()
            && let Some(abs) = dir.join(f).to_str()
        {
            *file = Some(abs.to_owned());
        }
    };
    for named in &mut config.clusters {
        if let Some(cluster) = &mut named.cluster {
            fix(&mut cluster.certificate_authority);
        }
    }
    for named in &mut config.auth_infos {
        if let Some(auth) = &mut named.auth_info {
            fix(&mut auth.client_certificate);
            fix(&mut auth.client_key);
            fix(&mut auth.token_file);
            if let Some(exec) = &mut auth.exec
                && exec
                    .command
                    .as_ref()
                    .is_some_and(|c| c.contains(std::path::MAIN_SEPARATOR))
            {
                fix(&mut exec.command);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_zero_is_refused_with_the_limit() {
        let err = read(Path::new("/dev/zero")).unwrap_err();
        assert!(err.to_string().contains("4 MiB"), "{err}");
    }

    #[test]
    fn relative_files_resolve_against_the_kubeconfig_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kc.yaml");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://x\n    certificate-authority: ca.crt\nusers:\n- name: u\n  user:\n    client-key: /abs/key\n",
        )
        .unwrap();
        let config = read(&path).unwrap();
        let ca = config.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(
            ca.certificate_authority.as_deref(),
            dir.path().join("ca.crt").to_str()
        );
        let user = config.auth_infos[0].auth_info.as_ref().unwrap();
        assert_eq!(user.client_key.as_deref(), Some("/abs/key"));
    }
}
