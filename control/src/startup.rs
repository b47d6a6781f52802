//! What can stop the server from starting, each with the one line the
//! binary prints before exiting non-zero.

/// Startup failures.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot start the control runtime: {0}")]
    Runtime(std::io::Error),
    #[error("{0}")]
    Listen(String),
    #[error("invalid label: {0}")]
    Label(String),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Registry(String),
}
