//! Errors of the admin API, each mapping to a status and a one-line reason.

use http::{Response, StatusCode};

use crate::body::{one_line, text, Body};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body too large (limit {0} bytes)")]
    TooLarge(usize),
    #[error("{0}")]
    Unavailable(String),
    /// The request (its body) did not arrive in time.
    #[error("{0}")]
    Timeout(String),
    /// An admin call without the admin token.
    #[error("{0}")]
    Unauthorized(String),
    /// Refused whoever asks (a browser context, a host not allowed).
    #[error("{0}")]
    Forbidden(String),
}

impl ApiError {
    pub fn bad(msg: impl Into<String>) -> ApiError {
        ApiError::BadRequest(msg.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        text(self.status(), one_line(&self.to_string()))
    }
}

/// What an admin handler returns.
pub type ApiResult = Result<Response<Body>, ApiError>;
