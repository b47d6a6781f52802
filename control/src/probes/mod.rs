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

/// What else makes the instance unready: a reason while it holds.
pub type UnreadyCheck = Box<dyn Fn() -> Option<String> + Send + Sync>;

/// The instance's readiness and liveness probes.
#[derive(Default)]
pub struct Probes {
    pub readiness: Probe,
    pub liveness: Probe,
    /// Set once at startup (the `--data-dir` store's health).
    unready: std::sync::OnceLock<UnreadyCheck>,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes")
            .field("readiness", &self.readiness)
            .field("liveness", &self.liveness)
            .finish_non_exhaustive()
    }
}

impl Probes {
    /// Readiness answers 503 while `check` gives a reason.
    pub fn unready_when(&self, check: UnreadyCheck) {
        let _ = self.unready.set(check);
    }

    pub fn unready_reason(&self) -> Option<String> {
        self.unready.get().and_then(|c| c())
    }

    pub fn get(&self, kind: &str) -> Option<&Probe> {
        match kind {
            "readiness" => Some(&self.readiness),
            "liveness" => Some(&self.liveness),
            _ => None,
        }
    }
}
