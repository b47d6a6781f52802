//! HTTP/2 load for `protocol: "HTTP/2.0"` client targets (h2c with prior
//! knowledge for http URLs, ALPN h2 for https), counted into the engine's
//! `TargetStats` so results merge with HTTP/1.1 targets.
//!
//! Placeholder until the HTTP/2 runner lands: starting one is refused.

use std::time::Duration;

use goto_engine::{PlanError, TargetSpec, TargetStats, TlsConfig};

/// A running HTTP/2 target.
pub struct H2Run {
    _private: (),
}

impl H2Run {
    pub fn start(_spec: TargetSpec, _tls: &TlsConfig) -> Result<H2Run, PlanError> {
        Err(PlanError::Tls(
            "HTTP/2.0 targets are not supported yet".into(),
        ))
    }

    pub fn snapshot(&self) -> TargetStats {
        TargetStats::new()
    }

    pub fn stop(&self) {}

    pub fn is_finished(&self) -> bool {
        true
    }

    pub fn wait(&self, _timeout: Option<Duration>) -> bool {
        true
    }
}
