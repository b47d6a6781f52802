//! Why a toxic does not validate; the text names the attribute.

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToxicError {
    #[error("toxicity {0} must be between 0 and 1")]
    Toxicity(f64),
    /// A duration string that does not parse (the reason is the parser's).
    #[error("attribute {name}: {reason}")]
    Duration { name: &'static str, reason: String },
    #[error("attribute {0} too large")]
    TooLarge(&'static str),
    #[error("attribute {0} must be a non-negative integer or a duration like \"200ms\"")]
    NegativeDuration(&'static str),
    #[error("attribute {0} must be a number or a duration string")]
    NotDuration(&'static str),
    #[error("attribute {0} must be a non-negative integer")]
    NotCount(&'static str),
    #[error("bandwidth needs attribute rate (KB/s) above 0")]
    NoRate,
    #[error("slicer needs attribute average_size above 0")]
    NoAverageSize,
    #[error("slicer: size_variation must be below average_size")]
    Variation,
    #[error("unknown toxic type {0:?}: latency, bandwidth, slicer, reset_peer, slow_close, timeout or limit_data")]
    UnknownType(String),
    #[error("unknown attribute {attr:?} for a {kind} toxic: {known}")]
    UnknownAttribute {
        attr: String,
        kind: String,
        known: String,
    },
}

impl From<ToxicError> for ApiError {
    fn from(e: ToxicError) -> ApiError {
        ApiError::BadRequest(e.to_string())
    }
}
