//! The one place that turns a transport or authentication failure against the cluster under test
//! into ABORT (CHECKS.md HARN-01: only evidence about the cluster can PASS or FAIL it).
//!
//! Every request a native check makes — gather, pre-flight, probe creation, watches while it
//! waits, cleanup — goes through the client of its [`CheckContext`](crate::CheckContext). The
//! runner hands each check a [`watched`] client: a thin layer over the real one that records the
//! first request that never got an answer from the API server (connection refused or lost, TLS,
//! I/O, timeouts, a credential plugin that failed) or was answered with 401 Unauthorized. After the
//! check, [`judge`] makes its outcome ABORT with that cause, whatever the check concluded from
//! the failed request (a FAIL blaming the provider, or a report-only PASS with nothing but
//! connection warnings). A 403 is not recorded here: it is an answer about rights, which the
//! pre-flight and the checks name precisely.

use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::client::Body;
use scs_kaas_core::finding::{Finding, Outcome, Status};

use crate::runner::native::HARNESS_RULE;

/// The first transport or authentication failure seen by a [`watched`] client, if any.
#[derive(Debug, Clone, Default)]
pub struct Tripwire {
    first: Arc<Mutex<Option<String>>>,
}

impl Tripwire {
    /// The cause of the first failure, in words, if one happened.
    pub fn cause(&self) -> Option<String> {
        self.first.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, cause: String) {
        let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some(cause);
        }
    }
}

/// A client that sends through `client` and records transport and authentication failures in
/// the returned [`Tripwire`].
pub fn watched(client: &kube::Client) -> (kube::Client, Tripwire) {
    let tripwire = Tripwire::default();
    let inner = client.clone();
    let trip = tripwire.clone();
    let service = tower::service_fn(move |req: Request<Body>| {
        let inner = inner.clone();
        let trip = trip.clone();
        async move {
            let what = format!("{} {}", req.method(), req.uri().path());
            let answer = inner.send(req).await;
            match &answer {
                Err(err) => trip.record(format!(
                    "the API server did not answer `{what}`: {}",
                    error_chain(err)
                )),
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => trip.record(format!(
                    "the API server rejected the credentials (401 Unauthorized) for `{what}`; \
                     renew the token or certificate of the kubeconfig"
                )),
                Ok(_) => {}
            }
            answer.map(|resp: Response<Body>| resp)
        }
    });
    (
        kube::Client::new(service, client.default_namespace().to_owned()),
        tripwire,
    )
}

/// `outcome`, made ABORT with the cause when `tripwire` saw a transport or authentication
/// failure: a check cannot have judged the cluster from a request that was never answered.
pub fn judge(outcome: Outcome, tripwire: &Tripwire) -> Outcome {
    let Some(cause) = tripwire.cause() else {
        return outcome;
    };
    let mut findings = vec![
        Finding::error(
            HARNESS_RULE,
            format!(
                "lost contact with the cluster under test: {cause}; no verdict without an answer"
            ),
        )
        .with_fix(
            "check that the API server is up and reachable from here and that the kubeconfig's \
             credentials are valid, then run the check again",
        ),
    ];
    findings.extend(outcome.findings);
    Outcome {
        status: Status::Abort,
        findings,
    }
}

/// An error with its sources, de-duplicated (`client error (Connect): tcp connect error:
/// Connection refused (os error 111)`).
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}
