//! What can be wrong with a gRPC setting (a status, a health status, an
//! HTTP/2 code, a user proto or a response set for it).

use super::descriptors::MAX_FILES;
use super::health::MAX_SERVICES;
use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    #[error("invalid gRPC status {0:?}: must be a canonical name (UNAVAILABLE) or a number 0-16")]
    Status(String),
    #[error("invalid health status {0:?}: must be SERVING or NOT_SERVING")]
    HealthStatus(String),
    #[error("at most {MAX_SERVICES} services may have a health status")]
    TooManyServices,
    #[error(
        "invalid HTTP/2 error code {0:?}: must be a name such as CANCEL or REFUSED_STREAM, or 0-13"
    )]
    H2Code(String),
    #[error("invalid proto name {0:?}")]
    ProtoName(String),
    #[error("at most {MAX_FILES} proto files may be added: clear them first")]
    TooManyFiles,
    /// The compiler's message, with the file and line it names.
    #[error("{0}")]
    Compile(String),
    #[error("{file}: {source}")]
    Descriptor {
        file: String,
        source: prost_reflect::DescriptorError,
    },
    #[error("no method {method} in a service {service}: add its proto first")]
    NoMethod { service: String, method: String },
    #[error("{0} is built in: its answers cannot be set")]
    BuiltIn(String),
    #[error("the response is not UTF-8 JSON")]
    ResponseNotUtf8,
    #[error("invalid response for {path} ({output}): {source}")]
    Response {
        path: String,
        output: String,
        source: serde_json::Error,
    },
}

impl From<GrpcError> for ApiError {
    fn from(e: GrpcError) -> ApiError {
        ApiError::BadRequest(e.to_string())
    }
}
