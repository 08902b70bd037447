//! `scs-kaas cleanup`: remove what earlier runs left in a cluster — only probe namespaces (and
//! everything inside them) and the e2e runner's ClusterRoles and ClusterRoleBindings, labelled
//! `app.kubernetes.io/managed-by=scs-kaas` and provably a probe run's — and list it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use kube::config::KubeConfigOptions;
use scs_kaas_checks::probe::sweep::{self, LeftoverKind, Removal};

use crate::exit;

/// Arguments of `scs-kaas cleanup`.
#[derive(Debug, Args)]
#[command(
    after_help = "Only provable probe namespaces are removed (with everything in them): labelled \
app.kubernetes.io/managed-by=scs-kaas, named scs-kaas-<check>-<run id>[-<suffix>] with matching \
scs-kaas.io/check and scs-kaas.io/run-id labels, and annotated scs-kaas.io/started-at. A labelled \
namespace that fails any of these (e.g. kube-public or prod-db labelled by hand) is listed as \
skipped, never removed; kube-* and default never are. The same rules select the ClusterRoles and \
ClusterRoleBindings of the e2e checks (cncf-k8s-conformance, kaas-networking-check), named exactly \
scs-kaas-<check>-<run id>, which outlive their namespace when a run is killed. \
Volumes with reclaimPolicy Retain whose claims lived in a removed probe namespace carry no label; \
they are listed, not deleted.\n\nExit codes: 0 everything selected is gone (or --dry-run), \
1 something is still present, 2 bad arguments or the cluster cannot be read."
)]
pub struct CleanupArgs {
    /// Kubeconfig of the cluster (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig (default: its current context).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Only remove leftovers at least this old (by their `scs-kaas.io/started-at` annotation,
    /// else their creation time), e.g. `2h`, `30m`, `1d`.
    #[arg(long, value_name = "DURATION", value_parser = parse_age)]
    older_than: Option<jiff::SignedDuration>,
    /// List what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// How long to wait for each namespace to disappear (finalizers, volumes).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_age)]
    timeout: jiff::SignedDuration,
}

/// `2h`, `30m`, `1d` (24 hours), `1w`, `1h30m`, `PT2H`; months and years are refused (their
/// length varies).
fn parse_age(s: &str) -> Result<jiff::SignedDuration, String> {
    let span: jiff::Span = s
        .trim()
        .parse()
        .map_err(|e| format!("{s:?} is not a duration like 2h, 30m or 1d: {e}"))?;
    let d = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|_| {
            format!("{s:?} uses months or years, whose length varies; give days instead, e.g. 30d")
        })?;
    if d.is_negative() {
        return Err(format!("{s:?} is negative; give an age such as 2h"));
    }
    Ok(d)
}

/// Run `scs-kaas cleanup`.
pub async fn run(args: CleanupArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args).await?;
    let now = jiff::Timestamp::now();
    let leftovers = sweep::find_leftovers(&client)
        .await
        .context("cannot look for leftovers of scs-kaas probe runs")?;
    if leftovers.is_empty() {
        outln!(
            "nothing to clean up: no namespace, clusterrole or clusterrolebinding is labelled app.kubernetes.io/managed-by=scs-kaas"
        );
        return Ok(ExitCode::from(exit::OK));
    }
    let timeout = Duration::try_from(args.timeout).unwrap_or(Duration::from_secs(300));
    let mut remaining = 0;
    let mut removed = Vec::new();
    for l in &leftovers {
        let age = l
            .started
            .map(|s| {
                format!(
                    "{:#}",
                    now.duration_since(s)
                        .round(jiff::Unit::Second)
                        .unwrap_or_default()
                )
            })
            .unwrap_or_else(|| "unknown".into());
        let about = format!(
            "{}/{} (check {}, run {}, age {age})",
            l.kind,
            l.name,
            l.check.as_deref().unwrap_or("?"),
            l.run_id.as_deref().unwrap_or("?"),
        );
        if let Some(why) = &l.not_ours {
            outln!(
                "skipped      {}/{}: labelled {}, but not provably a probe {} of scs-kaas: {why}; never removed (delete it yourself if it really is a leftover)",
                l.kind,
                l.name,
                scs_kaas_checks::probe::run::managed_selector(),
                l.kind
            );
            continue;
        }
        if let Some(min) = args.older_than
            && !l.older_than(now, min)
        {
            outln!("kept         {about}: younger than --older-than");
            continue;
        }
        if args.dry_run {
            outln!(
                "would remove {about}: name, run-id and check labels and started-at annotation of a probe run"
            );
            continue;
        }
        match sweep::remove_leftover(&client, l, timeout).await {
            Removal::Removed => {
                outln!("removed      {about}");
                if l.kind == LeftoverKind::Namespace {
                    removed.push(l.name.clone());
                }
            }
            Removal::Remains(why) => {
                remaining += 1;
                outln!("NOT removed  {about}: {why}");
            }
        }
    }
    if !removed.is_empty() {
        match sweep::retained_volumes(&client, &removed).await {
            Ok(volumes) => {
                for v in volumes {
                    outln!(
                        "left         persistentvolume/{} (reclaimPolicy Retain, claim was in {}): delete it with `kubectl delete pv {}` if its data is not needed",
                        v.name,
                        v.claim_namespace,
                        v.name
                    );
                }
            }
            Err(err) => eprintln!(
                "warning: cannot list persistent volumes to find retained probe volumes: {err}"
            ),
        }
    }
    Ok(ExitCode::from(if remaining == 0 {
        exit::OK
    } else {
        exit::FAILED
    }))
}

async fn client(args: &CleanupArgs) -> anyhow::Result<kube::Client> {
    let kubeconfig = match &args.kubeconfig {
        Some(path) => scs_kaas_checks::kubeconfig::read(path)?,
        None => scs_kaas_checks::kubeconfig::read_default().context(
            "cannot read a kubeconfig ($KUBECONFIG or ~/.kube/config); pass --kubeconfig FILE",
        )?,
    };
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .with_context(|| match &args.context {
            Some(c) => format!("kubeconfig context {c:?} is not usable"),
            None => "the kubeconfig's current context is not usable".to_string(),
        })?;
    kube::Client::try_from(config).context("cannot build a Kubernetes client from the kubeconfig")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_accept_days_and_weeks_and_refuse_the_rest() {
        let h = |n| jiff::SignedDuration::from_hours(n);
        for (text, want) in [
            ("2h", h(2)),
            ("30m", jiff::SignedDuration::from_mins(30)),
            ("1d", h(24)),
            ("1w", h(168)),
            ("1h30m", jiff::SignedDuration::from_mins(90)),
            ("PT2H", h(2)),
            ("0s", h(0)),
        ] {
            assert_eq!(parse_age(text), Ok(want), "{text}");
        }
        for (text, why) in [
            ("soon", "is not a duration"),
            ("", "is not a duration"),
            ("-2h", "is negative"),
            ("1mo", "months or years"),
            ("2y", "months or years"),
        ] {
            let err = parse_age(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
