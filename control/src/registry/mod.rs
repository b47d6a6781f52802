//! The registry (`/registry/...`): peers and their epochs, targets and jobs
//! by peer label (pushed to connected instances), fan-out of invocations,
//! health checks, and lockers of reported results.
//!
//! State lives behind one mutex that is never held across an await: a
//! handler reads or changes it, drops the lock, then talks to pods.

pub mod call;
pub mod damage;
pub mod dump;
pub mod fanout;
pub mod fold;
pub mod fold_peers;
pub mod fold_results;
#[cfg(test)]
mod fold_tests;
pub mod fold_timeline;
pub mod labels;
pub mod lockers;
pub mod peers;
pub mod persist;
pub mod results;
pub mod routes;
pub mod rows;
pub mod spans;
pub mod sparse;
pub mod store;
pub mod timeline;

pub use persist::StoreOpenError;

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;

use crate::body::ok;
use crate::error::{ApiError, ApiResult};
use labels::LabelConfig;
use lockers::Lockers;
use peers::PeerGroup;

/// The locker key holding an instance's overall client results.
pub const CLIENT_KEY: &str = "client";
/// Locker keys holding an instance's timelines start with this, followed by
/// the wall-clock minute (Unix seconds / 60) their intervals ended in; each
/// holds `{target: {"intervals": [...], "histograms": [...]}}`.
pub const TIMELINE_KEY: &str = "client_timeline_";

/// Everything a registry keeps, and the client it calls its pods with.
pub struct Registry {
    inner: Mutex<State>,
    /// The `--data-dir` store, when there is one.
    persist: std::sync::OnceLock<persist::Persist>,
    /// Fan-outs, pushes and health probes to pods (plain http, with the
    /// admin token).
    out: call::Caller,
}

impl Registry {
    /// An empty registry calling its pods with `out`.
    pub fn new(out: call::Caller) -> Registry {
        Registry {
            inner: Mutex::default(),
            persist: std::sync::OnceLock::new(),
            out,
        }
    }

    /// Loads the state kept in `dir` and keeps saving there from now on;
    /// `reset`: a damaged store file is moved aside and the state starts empty.
    pub fn open_store(&self, dir: &std::path::Path, reset: bool) -> Result<(), StoreOpenError> {
        let (p, st) = persist::Persist::open(dir, reset)?;
        *self.inner.lock() = st;
        self.persist.set(p).map_err(|_| StoreOpenError::AlreadyOpen)
    }

    /// Pods registered per label and how many of them are healthy
    /// (scrape time: `/metrics`).
    pub fn pod_counts(&self) -> Vec<(String, usize, usize)> {
        self.inner
            .lock()
            .peers
            .iter()
            .map(|(label, g)| {
                let healthy = g.pods.values().filter(|p| p.healthy).count();
                (label.clone(), g.pods.len(), healthy)
            })
            .collect()
    }

    /// A sealed locker key's text from the `--data-dir` store (none without one).
    fn raw_text(&self, label: &str, addr: &str, key: &str) -> Option<String> {
        self.persist.get()?.raw_text(label, addr, key)
    }

    /// Why the `--data-dir` store is failing (its last write failed and a
    /// new try failed too), for `/health` and the readiness probe.
    pub fn store_failure(&self) -> Option<String> {
        self.persist.get()?.failure()
    }

    /// Writes the state's changes to the store (if any) before a mutation is
    /// acknowledged; a failure is a 503: the change is not durable.
    pub fn save(&self) -> Result<(), ApiError> {
        match self.persist.get() {
            None => {
                // Nothing to write: the marks only tell sealing what is unsaved.
                let mut st = self.inner.lock();
                st.lockers.take_marks();
                st.lockers.seal_pending();
                Ok(())
            }
            Some(p) => {
                p.save(&self.inner).map_err(|e| {
                    tracing::error!("registry state not saved: {e}");
                    ApiError::Unavailable(format!("registry state not saved: {e}"))
                })?;
                // Saved: old timeline text may go (the store has it).
                self.inner.lock().lockers.seal_pending();
                Ok(())
            }
        }
    }
}

struct State {
    peers: rows::Rows<PeerGroup>,
    labels: rows::Rows<LabelConfig>,
    /// Response headers every peer counts (lower-case).
    tracked: Vec<String>,
    lockers: Lockers,
}

impl Default for State {
    fn default() -> State {
        State {
            peers: rows::Rows::default(),
            labels: rows::Rows::default(),
            tracked: Vec::new(),
            lockers: Lockers::bounded(),
        }
    }
}

impl State {
    fn addrs(&self, label: &str) -> Vec<String> {
        self.peers
            .get(label)
            .map(|g| g.pods.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn all_addrs(&self) -> Vec<(String, Vec<String>)> {
        self.peers
            .keys()
            .map(|l| (l.clone(), self.addrs(l)))
            .collect()
    }

    /// A label the registry knows: registered pods or configured targets/jobs.
    fn is_label(&self, label: &str) -> bool {
        self.peers.contains_key(label) || self.labels.contains_key(label)
    }

    /// A known label that has reported nothing (or was cleared) still has a
    /// locker, an empty one: the seed reads and clears it unconditionally.
    fn empty_locker(&self, label: &str) -> Option<Value> {
        self.is_label(label)
            .then(|| Value::Object(serde_json::Map::new()))
    }

    fn known_label(&self, label: &str) -> Result<(), ApiError> {
        if self.peers.contains_key(label) {
            Ok(())
        } else {
            Err(ApiError::NotFound(format!("no such peer: {label}")))
        }
    }
}

pub(super) fn no_locker(peer: &str) -> ApiError {
    ApiError::NotFound(format!("no locker for peer: {peer}"))
}

fn no_pod(peer: &str, addr: &str) -> ApiError {
    ApiError::NotFound(format!("peer {peer} has no pod at {addr}"))
}

fn known(reg: &Arc<Registry>, peer: &str) -> Result<(), ApiError> {
    reg.inner.lock().known_label(peer)
}

pub(super) fn locker_op(
    reg: &Arc<Registry>,
    peer: &str,
    addr: &str,
    op: &str,
    key: &str,
    body: &Bytes,
) -> ApiResult {
    let addr = peers::valid_address(addr)?;
    if key.trim().is_empty() {
        return Err(ApiError::bad("empty locker key"));
    }
    let mut st = reg.inner.lock();
    match op {
        "store" => {
            let data = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad("locker data must be UTF-8 text"))?
                .to_string();
            let raw = |a: &str, k: &str| reg.raw_text(peer, a, k);
            st.lockers
                .store_with(peer, &addr, key, data, SystemTime::now(), &raw);
            Ok(ok(format!("Data stored for key: {key}")))
        }
        "remove"
            if st
                .lockers
                .remove_with(peer, &addr, key, &|a: &str, k: &str| {
                    reg.raw_text(peer, a, k)
                }) =>
        {
            Ok(ok(format!("Data removed for key: {key}")))
        }
        "lock" if st.lockers.lock(peer, &addr, key) => {
            Ok(ok(format!("Data locked for key: {key}")))
        }
        "remove" | "lock" => Err(ApiError::NotFound(format!(
            "no key {key} in the locker of {peer} at {addr}"
        ))),
        _ => Err(ApiError::NotFound(format!("no locker operation {op}"))),
    }
}
