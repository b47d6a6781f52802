//! What can stop the server from starting, each with the one line the
//! binary prints (after `goto: `) before exiting non-zero.

use crate::listeners::ListenError;
use crate::peer::PeerError;
use crate::port::LabelError;
use crate::registry::StoreOpenError;

/// Startup failures.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot start the control runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot start the request log: {0}")]
    RequestLog(std::io::Error),
    /// A startup listener (the port, or `--admin-port`).
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("invalid label: {0}")]
    Label(#[from] LabelError),
    #[error("cannot set up TLS: {0}")]
    Tls(#[source] goto_engine::PlanError),
    /// `--registry` (its URL, or an https one with no roots to verify it).
    #[error(transparent)]
    Registry(#[from] PeerError),
    /// The `--data-dir` store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreOpenError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_failures_keep_their_lines() {
        let Err(e) = crate::peer::registry_base("ftp://r") else {
            panic!("ftp accepted");
        };
        assert_eq!(
            StartupError::from(e).to_string(),
            "--registry ftp://r: want http[s]://host[:port]"
        );
        assert_eq!(
            StartupError::from(StoreOpenError::AlreadyOpen).to_string(),
            "the registry's data store is already open"
        );
        let Err(e) = crate::port::Label::new("a\nb") else {
            panic!("label accepted");
        };
        assert_eq!(
            StartupError::from(e).to_string(),
            "invalid label: invalid label \"a\\nb\": must be a valid header value"
        );
    }
}
