//! The client API (`/client/...`): targets, tracked headers, invocations on
//! the load engine, and results in the scenarios' shape.
//!
//! Anything that may block (starting the engine, resolving hosts, asking the
//! cores for their counters) runs on tokio's blocking pool so the control
//! thread keeps answering.

pub mod document;
pub mod error;
mod fold;
pub mod grpc;
pub mod invocation;
pub mod reflect;
pub mod results;
pub mod routes;
pub mod state;
pub mod target;
pub mod timeline;

pub use state::Client;

/// Header names as the client API keeps them: valid, lower-case.
pub fn header_names(names: &str) -> Result<Vec<String>, crate::error::ApiError> {
    Ok(crate::api::header_names(names)?
        .into_iter()
        .map(|h| h.as_str().to_string())
        .collect())
}
