//! Reading a request body, only after the request was authenticated: bounded in size, in time
//! and in the memory all bodies in flight may take together.
//!
//! Handlers that take a body authenticate from the headers first and call [`read`] only then, so
//! a client without valid credentials is answered 401 before a byte of its body is read. The
//! body then has [`Limits::body_timeout`] to arrive in full (a slow sender is answered 408 and
//! its connection closed), and it must first reserve its size from a budget shared by all
//! requests ([`BodyBudget`]): a burst of large uploads waits for memory instead of growing the
//! process without bound, and the reservation is returned when the handler is done.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Time and memory limits of the HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a client may take to send a request's headers (the connection is closed then).
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body once the server reads it (408).
    pub body_timeout: Duration,
    /// Bytes that all request bodies in flight may hold together.
    pub body_memory: usize,
}

impl Default for Limits {
    /// 10 s for headers, 60 s for a body, 64 MiB of bodies in flight.
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            body_memory: 64 << 20,
        }
    }
}

/// The memory all request bodies in flight may take together, in bytes.
#[derive(Debug)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    total: u32,
}

impl BodyBudget {
    /// A budget of `bytes` (at most `u32::MAX`).
    pub fn new(bytes: usize) -> BodyBudget {
        let total = u32::try_from(bytes.clamp(1, Semaphore::MAX_PERMITS))
            .unwrap_or(u32::MAX)
            .max(1);
        BodyBudget {
            bytes: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// Bytes not reserved by any body right now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }
}

/// A body read in full, holding its share of the [`BodyBudget`] until dropped.
#[derive(Debug)]
pub struct ReadBody {
    /// The body.
    pub bytes: Bytes,
    _reserved: OwnedSemaphorePermit,
}

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Larger than the limit (413).
    #[error("the body is larger than this monitor's limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Not sent in full within the body timeout (408).
    #[error("the body did not arrive within {} s; send it at once after the headers", .0.as_secs_f64())]
    Timeout(Duration),
    /// The memory for bodies in flight stayed taken for the whole body timeout (503).
    #[error("too many uploads in progress: retry in a few seconds")]
    Busy,
    /// The connection failed while reading (400).
    #[error("cannot read the body: {0}")]
    Read(String),
}

/// Reads `body` (announced as `content_length` bytes, if at all) within `limits`, after
/// reserving its size (or `limit` when unknown) from `budget`.
pub async fn read(
    budget: &BodyBudget,
    body: Body,
    content_length: Option<u64>,
    limit: usize,
    limits: &Limits,
) -> Result<ReadBody, BodyError> {
    if content_length.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let wanted = content_length.map_or(limit as u64, |n| n.max(1));
    let wanted = u32::try_from(wanted).unwrap_or(u32::MAX).min(budget.total);
    let reserved = tokio::time::timeout(
        limits.body_timeout,
        Arc::clone(&budget.bytes).acquire_many_owned(wanted),
    )
    .await
    .map_err(|_| BodyError::Busy)?
    .map_err(|_| BodyError::Busy)?;
    let collected = tokio::time::timeout(
        limits.body_timeout,
        http_body_util::Limited::new(body, limit).collect(),
    )
    .await
    .map_err(|_| BodyError::Timeout(limits.body_timeout))?;
    match collected {
        Ok(collected) => Ok(ReadBody {
            bytes: collected.to_bytes(),
            _reserved: reserved,
        }),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            Err(BodyError::TooLarge { limit })
        }
        Err(err) => Err(BodyError::Read(err.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            body_memory: 100,
        }
    }

    #[tokio::test]
    async fn reads_within_the_limit_and_holds_its_share_until_dropped() {
        let budget = BodyBudget::new(100);
        let body = read(&budget, Body::from("0123456789"), Some(10), 50, &limits())
            .await
            .unwrap();
        assert_eq!(&body.bytes[..], b"0123456789");
        assert_eq!(budget.available(), 90);
        drop(body);
        assert_eq!(budget.available(), 100);
    }

    #[tokio::test]
    async fn refuses_bodies_over_the_limit_announced_or_not() {
        let budget = BodyBudget::new(100);
        let err = read(&budget, Body::from("x"), Some(51), 50, &limits())
            .await
            .unwrap_err();
        assert_eq!(err, BodyError::TooLarge { limit: 50 });
        let err = read(&budget, Body::from(vec![b'x'; 51]), None, 50, &limits())
            .await
            .unwrap_err();
        assert_eq!(err, BodyError::TooLarge { limit: 50 });
        assert_eq!(budget.available(), 100, "refused bodies return their share");
    }

    #[tokio::test]
    async fn waits_for_memory_and_gives_up_after_the_body_timeout() {
        let budget = BodyBudget::new(100);
        let short = Limits {
            body_timeout: Duration::from_millis(20),
            ..limits()
        };
        let held = read(&budget, Body::from(vec![0u8; 80]), Some(80), 100, &limits())
            .await
            .unwrap();
        // 30 more bytes do not fit while the 80 are held: the reader waits, then gives up.
        let err = read(&budget, Body::from(vec![0u8; 30]), Some(30), 100, &short)
            .await
            .unwrap_err();
        assert_eq!(err, BodyError::Busy);
        drop(held);
        let body = read(&budget, Body::from(vec![0u8; 30]), Some(30), 100, &limits())
            .await
            .unwrap();
        assert_eq!(body.bytes.len(), 30);
    }
}
