//! What can be wrong with a fault setting (a path segment, a share, a
//! `Goto-Fault-*` header), apart from the HTTP answer it becomes.

use goto_engine::duration;
use http::HeaderName;

use super::spec::{MAX_DELAY, MAX_SIZE};
use super::uri::MAX_URIS;
use crate::error::ApiError;
use crate::responder::ResponderError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultError {
    /// A duration that does not parse (the reason is the parser's).
    #[error("{0}")]
    Duration(String),
    #[error("delay {0:?} is over the most a delay may be, {max}", max = duration::format(MAX_DELAY))]
    DelayTooLong(String),
    #[error("invalid delay range {0:?}: the upper end is below the lower")]
    ReversedRange(String),
    #[error("invalid percent {0:?}: must be a number 0-100")]
    PercentNotNumber(String),
    #[error("invalid percent {0:?}: must be 0-100")]
    PercentRange(String),
    #[error("invalid size {0:?}: bytes like 1024, 10KB or 1MB")]
    Size(String),
    #[error("size {0:?} is over the limit of {MAX_SIZE} bytes")]
    SizeTooLarge(String),
    #[error("{what} shares would add up to {total}%: at most 100%")]
    Shares { what: &'static str, total: f64 },
    #[error("at most {MAX_URIS} URI patterns may have faults: clear some first")]
    TooManyUris,
    /// The `?uri=` pattern.
    #[error(transparent)]
    Uri(#[from] ResponderError),
    #[error("invalid {0} header: not text")]
    HeaderNotText(HeaderName),
    #[error("invalid Goto-Fault-Status {0:?}: must be 100-599")]
    HeaderStatus(String),
    #[error("invalid Goto-Fault-Delay: {0}")]
    HeaderDelay(Box<FaultError>),
    #[error("invalid Goto-Fault-Close {0:?}: must be true or false")]
    HeaderClose(String),
    #[error("invalid Goto-Fault-Percent: {0}")]
    HeaderPercent(Box<FaultError>),
}

impl From<FaultError> for ApiError {
    fn from(e: FaultError) -> ApiError {
        ApiError::BadRequest(e.to_string())
    }
}
