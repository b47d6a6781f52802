//! The programmable responder: per-port state for forced status, delay,
//! headers, payloads, URI bypass and URI counts, the decision taken for each
//! runtime request, and the admin routes that configure it.

pub mod payload;
pub mod routes;
pub mod state;

pub use state::Responder;

use http::HeaderName;

use crate::error::ApiError;

/// A responder setting that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponderError {
    #[error("uri pattern must start with '/': {0}")]
    UriStart(String),
    #[error("invalid placeholder {segment:?} in uri pattern {uri}")]
    Placeholder { segment: String, uri: String },
    #[error("response header {0} frames the message: goto sets it itself")]
    FramingHeader(HeaderName),
    /// `/status/{code}` on the runtime path with a code that is not one.
    #[error("invalid status code {0:?}: must be 100-599")]
    StatusPath(String),
}

impl From<ResponderError> for ApiError {
    fn from(e: ResponderError) -> ApiError {
        ApiError::BadRequest(e.to_string())
    }
}
