//! What the client's state refuses, typed; turned into the API's answer
//! (status and one-line reason) in one place, [`From<ClientError>`] for
//! [`ApiError`].

use goto_engine::EngineError;

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no targets to invoke")]
    NothingToInvoke,
    #[error("no target names given")]
    NoNames,
    #[error("no such target: {}", .0.join(","))]
    UnknownTargets(Vec<String>),
    #[error("not running with a rate or stages: {}", .0.join(","))]
    NotRunning(Vec<String>),
    #[error("cannot start the load engine: {0}")]
    Engine(#[source] EngineError),
    #[error("cannot invoke: {0}")]
    Plan(#[source] EngineError),
    /// A `reflect` target's descriptors could not be fetched, or do not
    /// hold its method or fit its data (the text says which).
    #[error("cannot invoke: {0}")]
    Reflect(#[from] super::grpc::ReflectedError),
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> ApiError {
        let why = e.to_string();
        match e {
            ClientError::NothingToInvoke | ClientError::NoNames | ClientError::Plan(_) => {
                ApiError::BadRequest(why)
            }
            ClientError::UnknownTargets(_) => ApiError::NotFound(why),
            ClientError::NotRunning(_) => ApiError::Conflict(why),
            ClientError::Engine(_) | ClientError::Reflect(_) => ApiError::Unavailable(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_maps_to_its_status_with_its_reason() {
        let cases = [
            (ClientError::NothingToInvoke, 400, "no targets to invoke"),
            (ClientError::NoNames, 400, "no target names given"),
            (
                ClientError::UnknownTargets(vec!["a".into(), "b".into()]),
                404,
                "no such target: a,b",
            ),
            (
                ClientError::NotRunning(vec!["t".into()]),
                409,
                "not running with a rate or stages: t",
            ),
        ];
        for (e, status, why) in cases {
            let api = ApiError::from(e);
            assert_eq!(api.status().as_u16(), status, "{api}");
            assert_eq!(api.to_string(), why);
        }
    }
}
