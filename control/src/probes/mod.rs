//! Kubernetes probes with chaos: the status `GET /probes/readiness` and
//! `GET /probes/liveness` answer (200 until set otherwise, so a test can make
//! a pod unready or get it restarted on purpose), how often each was
//! probed, and the build identity `GET /version` and `GET /health` report.

pub mod routes;

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use serde::Serialize;

/// What `goto --version` prints, in parts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BuildInfo {
    pub version: String,
    pub revision: String,
    pub built: String,
}

impl std::fmt::Display for BuildInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (rev {}, built {})",
            self.version, self.revision, self.built
        )
    }
}

/// One probe: the status it answers and how often it was asked.
#[derive(Debug)]
pub struct Probe {
    status: AtomicU16,
    count: AtomicU64,
}

impl Default for Probe {
    fn default() -> Self {
        Probe {
            status: AtomicU16::new(200),
            count: AtomicU64::new(0),
        }
    }
}

impl Probe {
    /// Counts a probe and returns the status to answer.
    pub fn hit(&self) -> u16 {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.status.load(Ordering::Relaxed)
    }

    pub fn set(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }

    pub fn status(&self) -> u16 {
        self.status.load(Ordering::Relaxed)
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// The instance's readiness and liveness probes.
#[derive(Debug, Default)]
pub struct Probes {
    pub readiness: Probe,
    pub liveness: Probe,
}

impl Probes {
    pub fn get(&self, kind: &str) -> Option<&Probe> {
        match kind {
            "readiness" => Some(&self.readiness),
            "liveness" => Some(&self.liveness),
            _ => None,
        }
    }
}
