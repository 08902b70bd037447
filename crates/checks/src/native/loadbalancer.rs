//! `loadbalancer-check` (LB-01, CHECKS.md §11): a plain Service of type LoadBalancer, every
//! optional field unset, must work out of the box.
//!
//! In a namespace of its own: Deployment `lb-probe` (agnhost `netexec`, 2 replicas spread over
//! hosts) and Service `lb-plain` (type LoadBalancer, port → 8080, nothing else). The Service must
//! get an address within `lb_timeout`; then `lb_requests` GET `/hostname` from where the tool
//! runs, each on a fresh connection, of which ≥ 95 % must succeed (FAIL otherwise), and
//! `lb_hairpin_requests` from inside the cluster to the load balancer's address (netexec's
//! `/dial` in a backend pod), of which ≥ 80 % should succeed (WARN otherwise). Latencies are
//! reported. Cleanup deletes the Service first and waits for its load balancer finalizer.
//!
//! Assignments: `lb_timeout=DURATION` (default 10m), `lb_requests=N` (20), `lb_hairpin_requests=N`
//! (5), `lb_port=PORT` (8080), `lb_image=REF@sha256:…` (default agnhost, digest-pinned),
//! `image_mirror=PREFIX`.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::api::PostParams;
use scs_kaas_core::finding::{Finding, Outcome, Status};

use super::lb_probe::{self, Attempt};
use crate::check::{Access, AssignmentDoc, Check, CheckContext, Mode, RuleDoc};
use crate::probe::access::{describe, missing_access};
use crate::probe::guard::DEFAULT_CLEANUP_TIMEOUT;
use crate::probe::image::{AGNHOST, ImageSource, MIRROR_ARG};
use crate::probe::{ProbeGuard, ProbeRun};

/// The check id.
pub const ID: &str = "loadbalancer-check";
/// The rule this check judges.
pub const RULE: &str = "LB-01";
/// Share of external requests that must succeed.
pub const EXTERNAL_THRESHOLD: f64 = 0.95;
/// Share of hairpin requests that should succeed.
pub const HAIRPIN_THRESHOLD: f64 = 0.80;

/// The load balancer check.
pub struct LoadBalancerCheck;

/// Options shared by both load balancer checks.
#[derive(Debug, Clone, PartialEq)]
pub struct LbOptions {
    /// How long to wait for an address (and for the backend and the deletion).
    pub timeout: Duration,
    /// Requests from the tool.
    pub requests: u32,
    /// Requests from inside the cluster.
    pub hairpin_requests: u32,
    /// The Service port.
    pub port: u16,
    /// The echo backend image (full, digest-pinned reference).
    pub image: String,
}

fn parse_count(args: &BTreeMap<String, String>, key: &str, default: u32) -> Result<u32, String> {
    match args.get(key) {
        None => Ok(default),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                format!("{key}={v:?} is not a number from 1 to 1000; pass e.g. -a {key}={default}")
            }),
    }
}

impl LbOptions {
    /// Parses the assignments; the error names the key and how to fix it.
    pub fn from_args(args: &BTreeMap<String, String>) -> Result<LbOptions, String> {
        let timeout = super::assign::duration(
            "lb_timeout",
            args.get("lb_timeout").map(String::as_str),
            Duration::from_secs(600),
            "10m",
        )?;
        let port = match args.get("lb_port") {
            None => 8080,
            Some(v) => v.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                format!("lb_port={v:?} is not a TCP port; pass e.g. -a lb_port=8080")
            })?,
        };
        let mirror = ImageSource::from_arg(args.get(MIRROR_ARG).map(String::as_str))
            .map_err(|e| e.to_string())?;
        let image = match args.get("lb_image") {
            None => mirror.reference(&AGNHOST),
            Some(r) if r.contains("@sha256:") && !r.contains(char::is_whitespace) => r.clone(),
            Some(r) => {
                return Err(format!(
                    "lb_image={r:?} is not pinned by digest; pass an agnhost reference like registry.k8s.io/e2e-test-images/agnhost:2.53@sha256:…"
                ));
            }
        };
        Ok(LbOptions {
            timeout,
            requests: parse_count(args, "lb_requests", 20)?,
            hairpin_requests: parse_count(args, "lb_hairpin_requests", 5)?,
            port,
            image,
        })
    }
}

/// What the probe observed, judged by [`judge`].
#[derive(Debug, Clone)]
pub struct Observation {
    /// The address and how long it took, or why there was none.
    pub address: Result<(String, Duration), String>,
    /// Requests from the tool.
    pub external: Vec<Attempt>,
    /// Hairpin result: (succeeded, tries, errors), or why it could not be asked.
    pub hairpin: Result<(u32, u32, Vec<String>), String>,
}

fn share(ok: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        ok as f64 / total as f64
    }
}

/// Turns an observation into findings: ERROR without address or below 95 % external success,
/// WARN below 80 % hairpin success, INFO otherwise with latencies.
pub fn judge(obs: &Observation) -> Vec<Finding> {
    let mut out = Vec::new();
    let (address, took) = match &obs.address {
        Ok(a) => a,
        Err(why) => {
            out.push(Finding::error(RULE, why.clone()).with_object("service/lb-plain").with_fix(
                "make sure a cloud controller manager / load balancer provider serves Services of type LoadBalancer without annotations",
            ));
            return out;
        }
    };
    out.push(
        Finding::info(
            RULE,
            format!(
                "Service lb-plain got address {address} after {:.1}s",
                took.as_secs_f64()
            ),
        )
        .with_object("service/lb-plain"),
    );
    let ok = obs.external.iter().filter(|a| a.result.is_ok()).count();
    let total = obs.external.len();
    let latencies = lb_probe::latency_summary(&obs.external)
        .map(|l| format!("; latency {l}"))
        .unwrap_or_default();
    let text = format!(
        "{ok} of {total} requests from the tool to {address} succeeded ({:.0} %, at least {:.0} % required){latencies}",
        share(ok, total) * 100.0,
        EXTERNAL_THRESHOLD * 100.0
    );
    if share(ok, total) + 1e-9 >= EXTERNAL_THRESHOLD {
        out.push(Finding::info(RULE, text));
    } else {
        out.push(
            Finding::error(
                RULE,
                format!("{text}; failures: {}", lb_probe::error_sample(&obs.external)),
            )
            .with_fix("check the load balancer's members and health monitor, and security groups towards the nodes"),
        );
    }
    match &obs.hairpin {
        Ok((good, tries, errors)) => {
            let text = format!(
                "{good} of {tries} requests from inside the cluster (hairpin) to {address} succeeded (at least {:.0} % expected)",
                HAIRPIN_THRESHOLD * 100.0
            );
            if share(*good as usize, *tries as usize) + 1e-9 >= HAIRPIN_THRESHOLD {
                out.push(Finding::info(RULE, text));
            } else {
                let first = errors
                    .first()
                    .map(|e| format!("; e.g. {e}"))
                    .unwrap_or_default();
                out.push(Finding::warn(RULE, format!("{text}{first}")).with_fix(
                    "pods cannot reach the cluster's own load balancer address (hairpin); PROXY protocol on the load balancer is a known cause",
                ));
            }
        }
        Err(why) => out.push(Finding::warn(
            RULE,
            format!("hairpin requests from inside the cluster not judged: {why}"),
        )),
    }
    out
}

/// Every rule this check judges (`scs-kaas checks ID`).
const RULES: &[RuleDoc] = &[
    RuleDoc {
        id: "LB-01",
        severity: "FAIL|WARN|INFO",
        summary: "a plain Service of type LoadBalancer gets an address, >= 95 % of lb_requests from outside succeed (FAIL otherwise), >= 80 % hairpin requests from inside (WARN otherwise)",
    },
    RuleDoc {
        id: "HARN-02",
        severity: "WARN",
        summary: "a probe object could not be removed (named, with the fix)",
    },
];

/// Every `-a` key this check reads.
const ASSIGNMENTS: &[AssignmentDoc] = &[
    AssignmentDoc {
        key: "lb_timeout",
        default: "10m",
        accepted: "DURATION (30s, 10m)",
        help: "how long the Service may take to get an address and the backends to become ready",
    },
    AssignmentDoc {
        key: "lb_port",
        default: "8080",
        accepted: "TCP port",
        help: "the Service port",
    },
    AssignmentDoc {
        key: "lb_image",
        default: "agnhost (digest-pinned)",
        accepted: "REF@sha256:…",
        help: "the echo backend image",
    },
    AssignmentDoc {
        key: MIRROR_ARG,
        default: "",
        accepted: "registry PREFIX",
        help: "registry prefix the probe images are pulled from (air-gapped clusters)",
    },
    AssignmentDoc {
        key: "lb_requests",
        default: "20",
        accepted: "N (1-1000)",
        help: "requests from where the tool runs",
    },
    AssignmentDoc {
        key: "lb_hairpin_requests",
        default: "5",
        accepted: "N",
        help: "requests from inside the cluster to the load balancer address",
    },
];

impl Check for LoadBalancerCheck {
    fn id(&self) -> &'static str {
        ID
    }

    fn standard(&self) -> &'static str {
        "scs-kaas-lb-dr"
    }

    fn description(&self) -> &'static str {
        "A Service of type LoadBalancer with every optional field unset gets an address and \
         forwards requests from outside (at least 95 %) and from inside the cluster (hairpin)"
    }

    fn mode(&self) -> Mode {
        Mode::Active
    }

    fn rules(&self) -> &'static [RuleDoc] {
        RULES
    }

    fn assignments(&self) -> &'static [AssignmentDoc] {
        ASSIGNMENTS
    }

    fn access(&self) -> Vec<Access> {
        lb_probe::access()
    }

    fn run<'a>(&'a self, ctx: &'a CheckContext) -> BoxFuture<'a, Outcome> {
        Box::pin(run(ctx))
    }
}

/// Aborts (nothing created) when rights are missing; `Ok` when the probe may start.
pub async fn preflight(ctx: &CheckContext, rule: &str) -> Result<(), Outcome> {
    match missing_access(&ctx.client, &lb_probe::access()).await {
        Ok(missing) if !missing.is_empty() => {
            let names: Vec<String> = missing.iter().map(describe).collect();
            Err(Outcome::abort(
                rule,
                format!(
                    "probe not run (nothing was created): the user lacks {}; grant deploy/rbac.yaml",
                    names.join(", ")
                ),
            ))
        }
        Ok(_) => Ok(()),
        Err(err) => {
            tracing::info!("access review unavailable ({err}); trying the probe directly");
            Ok(())
        }
    }
}

async fn run(ctx: &CheckContext) -> Outcome {
    let opts = match LbOptions::from_args(&ctx.args) {
        Ok(o) => o,
        Err(msg) => return Outcome::abort(RULE, msg),
    };
    if let Err(outcome) = preflight(ctx, RULE).await {
        return outcome;
    }
    let run = match ProbeRun::new(&ctx.run_id, ID, ctx.now) {
        Ok(r) => r,
        Err(e) => return Outcome::abort(RULE, e.to_string()),
    };
    let guard = ProbeGuard::new(ctx.client.clone(), run, DEFAULT_CLEANUP_TIMEOUT);
    let result = probe(ctx, &guard, &opts).await;
    let ns = guard.namespace();
    let leak = lb_probe::delete_service(&ctx.client, &ns, "lb-plain", opts.timeout, RULE).await;
    let report = guard.cleanup().await;
    let (mut findings, aborted) = match result {
        Ok(obs) => (judge(&obs), false),
        Err(why) => (vec![Finding::error(RULE, why)], true),
    };
    findings.extend(leak);
    findings.extend(report.findings);
    if aborted {
        return Outcome {
            status: Status::Abort,
            findings,
        };
    }
    Outcome::from_findings(findings)
}

async fn probe(
    ctx: &CheckContext,
    guard: &ProbeGuard,
    opts: &LbOptions,
) -> Result<Observation, String> {
    let client = &ctx.client;
    let run = guard.run();
    let ns = guard.namespace();
    guard
        .create_namespace()
        .await
        .map_err(|e| format!("cannot create probe namespace {ns}: {e}"))?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    deployments
        .create(
            &PostParams::default(),
            &lb_probe::echo_deployment(run, "lb-probe", &opts.image, 2, None),
        )
        .await
        .map_err(|e| format!("cannot create Deployment {ns}/lb-probe: {e}"))?;
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    services
        .create(
            &PostParams::default(),
            &lb_probe::lb_service(
                run,
                "lb-plain",
                "lb-probe",
                opts.port,
                false,
                &BTreeMap::new(),
            ),
        )
        .await
        .map_err(|e| format!("cannot create Service {ns}/lb-plain: {e}"))?;
    lb_probe::wait_ready(&deployments, "lb-probe", 1, opts.timeout).await?;
    let address = lb_probe::wait_address(client, &ns, "lb-plain", opts.timeout, "lb_timeout").await;
    let Ok((host, _)) = &address else {
        return Ok(Observation {
            address,
            external: Vec::new(),
            hairpin: Err("no address".into()),
        });
    };
    let external = lb_probe::requests(host, opts.port, "/hostname", opts.requests).await;
    let hairpin = lb_probe::hairpin(host, opts.port, opts.hairpin_requests)
        .await
        .map(|(good, errors)| (good, opts.hairpin_requests, errors));
    Ok(Observation {
        address,
        external,
        hairpin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use scs_kaas_core::finding::Severity;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn attempts(ok: usize, bad: usize) -> Vec<Attempt> {
        let mut v: Vec<Attempt> = (0..ok)
            .map(|i| Attempt {
                result: Ok("lb-probe-x".into()),
                latency: Duration::from_millis(i as u64 + 1),
                local: None,
            })
            .collect();
        v.extend((0..bad).map(|_| Attempt {
            result: Err("connection reset".into()),
            latency: Duration::from_millis(1),
            local: None,
        }));
        v
    }

    fn obs(ok: usize, bad: usize, hairpin: u32) -> Observation {
        Observation {
            address: Ok(("127.1.2.3".into(), Duration::from_millis(300))),
            external: attempts(ok, bad),
            hairpin: Ok((hairpin, 5, vec!["dial: refused".into()])),
        }
    }

    #[test]
    fn options_default_and_parse() {
        let o = LbOptions::from_args(&args(&[])).unwrap();
        assert_eq!(
            (o.timeout, o.requests, o.hairpin_requests, o.port),
            (Duration::from_secs(600), 20, 5, 8080)
        );
        assert!(o.image.contains("agnhost") && o.image.contains("@sha256:"));
        let o = LbOptions::from_args(&args(&[
            ("lb_timeout", "30s"),
            ("lb_requests", "7"),
            ("lb_port", "80"),
        ]))
        .unwrap();
        assert_eq!(
            (o.timeout, o.requests, o.port),
            (Duration::from_secs(30), 7, 80)
        );
        for (k, v) in [
            ("lb_timeout", "soon"),
            ("lb_requests", "0"),
            ("lb_port", "70000"),
            ("lb_image", "agnhost:2.53"),
            ("image_mirror", "https://x"),
        ] {
            let err = LbOptions::from_args(&args(&[(k, v)])).unwrap_err();
            assert!(err.contains(k), "{err}");
        }
    }

    #[test]
    fn nineteen_of_twenty_pass_eighteen_fail() {
        let pass = Outcome::from_findings(judge(&obs(19, 1, 5)));
        assert_eq!(pass.status, Status::Pass, "{:?}", pass.findings);
        assert!(pass.findings.iter().any(|f| f.message.contains("median")));
        let fail = Outcome::from_findings(judge(&obs(18, 2, 5)));
        assert_eq!(fail.status, Status::Fail);
        assert!(fail.findings.iter().any(|f| f.severity == Severity::Error && f.message.contains("2× connection reset")));
    }

    #[test]
    fn poor_hairpin_warns_and_no_address_fails_naming_the_deadline() {
        let warn = judge(&obs(20, 0, 3));
        assert!(
            warn.iter()
                .any(|f| f.severity == Severity::Warn && f.message.contains("hairpin"))
        );
        assert_eq!(Outcome::from_findings(warn).status, Status::Pass);
        let none = judge(&Observation {
            address: Err("got no address within the deadline of 600s (lb_timeout)".into()),
            external: Vec::new(),
            hairpin: Err("no address".into()),
        });
        assert_eq!(Outcome::from_findings(none.clone()).status, Status::Fail);
        assert!(none[0].message.contains("600s"));
    }
}
