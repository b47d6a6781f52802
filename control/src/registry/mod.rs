//! The registry (`/registry/...`): peers and their epochs, targets and jobs
//! by peer label (pushed to connected instances), fan-out of invocations,
//! health checks, and lockers of reported results.
//!
//! State lives behind one mutex that is never held across an await: a
//! handler reads or changes it, drops the lock, then talks to pods.

pub mod call;
pub mod fanout;
pub mod labels;
pub mod lockers;
pub mod peers;
pub mod persist;
pub mod results;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;

use crate::admin::Admin;
use crate::body::{json, ok};
use crate::error::{ApiError, ApiResult};
use crate::App;
use call::seg;
use fanout::Step;
use labels::LabelConfig;
use lockers::Lockers;
use peers::PeerGroup;

/// The locker key holding an instance's overall client results.
pub const CLIENT_KEY: &str = "client";

/// Everything a registry keeps.
#[derive(Default)]
pub struct Registry {
    inner: Mutex<State>,
    /// The `--data-dir` store, when there is one.
    persist: std::sync::OnceLock<persist::Persist>,
}

impl Registry {
    /// Loads the state kept in `dir` and keeps saving there from now on.
    pub fn open_store(&self, dir: &std::path::Path) -> Result<(), String> {
        let (p, st) = persist::Persist::open(dir)?;
        *self.inner.lock() = st;
        self.persist
            .set(p)
            .map_err(|_| "the registry's data store is already open".to_string())
    }

    /// Writes the state's changes to the store (if any) before a mutation is
    /// acknowledged; a failure is a 503: the change is not durable.
    pub fn save(&self) -> Result<(), ApiError> {
        match self.persist.get() {
            None => Ok(()),
            Some(p) => p.save(&self.inner).map_err(|e| {
                tracing::error!("registry state not saved: {e}");
                ApiError::Unavailable(format!("registry state not saved: {e}"))
            }),
        }
    }
}

#[derive(Default)]
struct State {
    peers: BTreeMap<String, PeerGroup>,
    labels: BTreeMap<String, LabelConfig>,
    /// Response headers every peer counts (lower-case).
    tracked: Vec<String>,
    lockers: Lockers,
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

/// Routes `/registry/...` admin calls; `None` if not ours.
pub async fn route(a: &Admin<'_>) -> Option<ApiResult> {
    let app = a.app;
    let m = a.is_mutation();
    let g = a.is_get();
    let r = match a.segs {
        ["registry", "peers", "add"] if m => peers::register(app, a.body),
        ["registry", "peers"] if g => Ok(json(&peers::peers_json(app))),
        ["registry", "peers", "clear", "epochs"] if m => Ok(peers::clear_epochs(app)),
        ["registry", "peers", "clear"] if m => {
            app.registry.inner.lock().peers.clear();
            Ok(ok("All peers cleared"))
        }
        ["registry", "peers", "health"] if g => Ok(json(&fanout::health(app, None, None).await)),
        ["registry", "peers", "health", "cleanup"] if m => fanout::cleanup(app, None).await,
        ["registry", "peers", "targets"] if g => Ok(json(&labels::all_config(app, |c| &c.targets))),
        ["registry", "peers", "jobs"] if g => Ok(json(&labels::all_config(app, |c| &c.jobs))),
        ["registry", "peers", "targets", "invoke", "all"] if m => {
            fanout::fan_all(app, "/client/targets/invoke/all?blocking=N").await
        }
        ["registry", "peers", "targets", "stop", "all"] if m => {
            fanout::fan_all(app, "/client/targets/stop/all").await
        }
        ["registry", "peers", "track", "headers", names] if m => labels::track(app, names).await,
        ["registry", "peers", "lockers"] | ["registry", "peers", "locker"] if g => {
            Ok(json(&app.registry.inner.lock().lockers.all_json()))
        }
        ["registry", "peers", "lockers", "clear"] | ["registry", "peer", "lockers", "clear"]
            if m =>
        {
            app.registry.inner.lock().lockers.clear_all();
            Ok(ok("All lockers cleared"))
        }
        ["registry", "peers", "lockers", "targets", "results"] if g => {
            Ok(results::summed_results(a))
        }
        ["registry", "peer", "lockers"] if g => {
            Ok(json(&app.registry.inner.lock().lockers.all_flat_json()))
        }
        ["registry", "peer", peer, "locker"] if g => {
            let st = app.registry.inner.lock();
            let v = st.lockers.label_flat_json(peer);
            v.or_else(|| st.empty_locker(peer))
                .map(|v| json(&v))
                .ok_or_else(|| no_locker(peer))
        }
        ["registry", "peer" | "peers", peer, "locker", "clear"] if m => {
            let mut st = app.registry.inner.lock();
            if st.lockers.clear_label(peer) || st.is_label(peer) {
                Ok(ok(format!("Locker cleared for peer: {peer}")))
            } else {
                Err(no_locker(peer))
            }
        }
        ["registry", "peers", peer, "remember"] if m => peers::remember(app, peer, a.body),
        ["registry", "peers", peer, "remove", addr] if m => peers::deregister(app, peer, addr),
        ["registry", "peers", peer, "health"] if g => fanout::peer_health(app, peer, None).await,
        ["registry", "peers", peer, "health", "cleanup"] if m => {
            fanout::cleanup(app, Some(peer)).await
        }
        ["registry", "peers", peer, "health", addr] if g => {
            fanout::peer_health(app, peer, Some(addr)).await
        }
        ["registry", "peers", peer, "targets", "add"] if m => {
            labels::add_target(app, peer, a.body).await
        }
        ["registry", "peers", peer, "targets", "clear"] if m => {
            labels::clear_targets(app, peer).await
        }
        ["registry", "peers", peer, "targets"] if g => {
            Ok(json(&labels::label_config(app, peer, |c| &c.targets)))
        }
        ["registry", "peers", peer, "targets", "invoke", "all"] if m => {
            fanout::fan(
                app,
                peer,
                vec![Step::post("/client/targets/invoke/all?blocking=N", "")],
            )
            .await
        }
        ["registry", "peers", peer, "targets", "stop", "all"] if m => {
            fanout::fan(app, peer, vec![Step::post("/client/targets/stop/all", "")]).await
        }
        ["registry", "peers", peer, "targets", names, "remove"] if m => {
            labels::remove_targets(app, peer, names).await
        }
        ["registry", "peers", peer, "targets", names, "invoke"] if m => {
            let path = format!("/client/targets/{}/invoke?blocking=N", seg(names));
            fanout::fan(app, peer, vec![Step::post(path, "")]).await
        }
        ["registry", "peers", peer, "targets", names, "stop"] if m => {
            let path = format!("/client/targets/{}/stop", seg(names));
            fanout::fan(app, peer, vec![Step::post(path, "")]).await
        }
        ["registry", "peers", peer, "jobs", "add"] if m => labels::add_job(app, peer, a.body).await,
        ["registry", "peers", peer, "jobs", "clear"] if m => {
            labels::remove_jobs(app, peer, None).await
        }
        ["registry", "peers", peer, "jobs"] if g => {
            Ok(json(&labels::label_config(app, peer, |c| &c.jobs)))
        }
        ["registry", "peers", peer, "jobs", action @ ("run" | "stop"), "all"] if m => {
            let path = format!("/jobs/{action}/all");
            fanout::fan(app, peer, vec![Step::post(path, "")]).await
        }
        ["registry", "peers", peer, "jobs", names, action @ ("run" | "stop")] if m => {
            let path = format!("/jobs/{}/{action}", seg(names));
            fanout::fan(app, peer, vec![Step::post(path, "")]).await
        }
        ["registry", "peers", peer, "jobs", names, "remove"] if m => {
            labels::remove_jobs(app, peer, Some(names)).await
        }
        ["registry", "peers", peer, "locker"] if g => {
            let st = app.registry.inner.lock();
            let v = st.lockers.label_json(peer);
            v.or_else(|| st.empty_locker(peer))
                .map(|v| json(&v))
                .ok_or_else(|| no_locker(peer))
        }
        ["registry", "peers", peer, addr, "locker"] if g => {
            let v = app.registry.inner.lock().lockers.instance_json(peer, addr);
            v.map(|v| json(&v))
                .ok_or_else(|| ApiError::NotFound(format!("no locker for {peer} at {addr}")))
        }
        ["registry", "peers", peer, addr, "locker", "clear"] if m => {
            if app.registry.inner.lock().lockers.clear_instance(peer, addr) {
                Ok(ok(format!("Locker cleared for {peer} at {addr}")))
            } else {
                Err(ApiError::NotFound(format!(
                    "no locker for {peer} at {addr}"
                )))
            }
        }
        ["registry", "peers", peer, addr, "locker", op, key] if m => {
            locker_op(app, peer, addr, op, key, a.body)
        }
        ["registry", ..] => Err(ApiError::NotFound(format!(
            "no registry API {} /{}",
            a.method,
            a.segs.join("/")
        ))),
        _ => return None,
    };
    Some(r)
}

fn no_locker(peer: &str) -> ApiError {
    ApiError::NotFound(format!("no locker for peer: {peer}"))
}

fn no_pod(peer: &str, addr: &str) -> ApiError {
    ApiError::NotFound(format!("peer {peer} has no pod at {addr}"))
}

fn known(app: &Arc<App>, peer: &str) -> Result<(), ApiError> {
    app.registry.inner.lock().known_label(peer)
}

fn locker_op(
    app: &Arc<App>,
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
    let mut st = app.registry.inner.lock();
    match op {
        "store" => {
            let data = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad("locker data must be UTF-8 text"))?
                .to_string();
            st.lockers.store(peer, &addr, key, data, SystemTime::now());
            Ok(ok(format!("Data stored for key: {key}")))
        }
        "remove" if st.lockers.remove(peer, &addr, key) => {
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
