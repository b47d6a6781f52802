//! What can go wrong with jobs, apart from the HTTP answer it becomes.

use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// A list of job ids that does not parse (the reason says why).
    #[error("{0}")]
    Invalid(String),
    /// A job definition that does not validate (the reason says which field).
    #[error(transparent)]
    Spec(#[from] super::spec::SpecError),
    #[error("unknown job {0:?}")]
    Unknown(String),
    #[error("no jobs to run")]
    NothingToRun,
    /// A trigger chain (finish or output triggers) past its depth limit.
    #[error("job {job}: trigger chain deeper than {limit}")]
    TooDeep { job: String, limit: u32 },
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> ApiError {
        match e {
            JobError::Unknown(_) => ApiError::NotFound(e.to_string()),
            _ => ApiError::BadRequest(e.to_string()),
        }
    }
}
