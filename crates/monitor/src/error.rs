//! HTTP error responses: a JSON `{"detail": …}` body like the SCS monitor, with the right status
//! (authorisation failures are 403, not 401 as in the SCS monitor, INTEROP §6.3.5; refused
//! password checks are 429 or 503 with `Retry-After`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::AuthError;

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Not authenticated (401 with a `WWW-Authenticate` challenge), or the password check was
    /// refused (429 back-off, 503 queue full; both with `Retry-After`).
    #[error("{0}")]
    Auth(#[from] AuthError),
    /// Authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The signature of an upload did not verify.
    #[error("{0}")]
    Signature(String),
    /// No such resource.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed; the message says how to fix it.
    #[error("{0}")]
    BadRequest(String),
    /// Already present.
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Wrong Content-Type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body did not arrive in time (the connection is closed after the answer).
    #[error("{0}")]
    RequestTimeout(String),
    /// The server cannot take the request now; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// The client does not accept JSON.
    #[error("{0}")]
    NotAcceptable(String),
    /// Something failed on our side; details are logged, not sent.
    #[error("internal server error")]
    Internal(#[source] anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        ApiError::Internal(err)
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Auth(AuthError::Throttled { .. }) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Auth(AuthError::Busy) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Auth(_) | ApiError::Signature(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(err) = &self {
            tracing::error!(error = format!("{err:#}"), "request failed");
        }
        let status = self.status();
        let mut response = (
            status,
            Json(serde_json::json!({ "detail": self.to_string() })),
        )
            .into_response();
        match &self {
            ApiError::RequestTimeout(_) => {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            ApiError::Unavailable(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(5));
            }
            _ => {}
        }
        if let ApiError::Auth(err) = self {
            match err.retry_after() {
                Some(secs) => {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                }
                None => {
                    response.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"Compliance monitor\""),
                    );
                }
            }
        }
        response
    }
}
