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
pub mod results;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::{json, Map, Value};

use crate::admin::{self, Admin};
use crate::body::{json, ok};
use crate::error::{ApiError, ApiResult};
use crate::App;
use call::seg;
use fanout::Step;
use labels::LabelConfig;
use lockers::Lockers;
use peers::{PeerGroup, PeerInfo};

/// The locker key holding an instance's overall client results.
pub const CLIENT_KEY: &str = "client";

/// Everything a registry keeps.
#[derive(Default)]
pub struct Registry {
    inner: Mutex<State>,
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
        ["registry", "peers", "add"] if m => register(app, a.body),
        ["registry", "peers"] if g => Ok(json(&peers_json(app))),
        ["registry", "peers", "clear", "epochs"] if m => Ok(clear_epochs(app)),
        ["registry", "peers", "clear"] if m => {
            app.registry.inner.lock().peers.clear();
            Ok(ok("All peers cleared"))
        }
        ["registry", "peers", "health"] if g => Ok(json(&health(app, None, None).await)),
        ["registry", "peers", "health", "cleanup"] if m => cleanup(app, None).await,
        ["registry", "peers", "targets"] if g => Ok(json(&all_config(app, |c| &c.targets))),
        ["registry", "peers", "jobs"] if g => Ok(json(&all_config(app, |c| &c.jobs))),
        ["registry", "peers", "targets", "invoke", "all"] if m => {
            fan_all(app, "/client/targets/invoke/all?blocking=N").await
        }
        ["registry", "peers", "targets", "stop", "all"] if m => {
            fan_all(app, "/client/targets/stop/all").await
        }
        ["registry", "peers", "track", "headers", names] if m => track(app, names).await,
        ["registry", "peers", "lockers"] | ["registry", "peers", "locker"] if g => {
            Ok(json(&app.registry.inner.lock().lockers.all_json()))
        }
        ["registry", "peers", "lockers", "clear"] | ["registry", "peer", "lockers", "clear"]
            if m =>
        {
            app.registry.inner.lock().lockers.clear_all();
            Ok(ok("All lockers cleared"))
        }
        ["registry", "peers", "lockers", "targets", "results"] if g => Ok(summed_results(a)),
        ["registry", "peer", "lockers"] if g => {
            Ok(json(&app.registry.inner.lock().lockers.all_flat_json()))
        }
        ["registry", "peer", peer, "locker"] if g => {
            let v = app.registry.inner.lock().lockers.label_flat_json(peer);
            v.map(|v| json(&v)).ok_or_else(|| no_locker(peer))
        }
        ["registry", "peer" | "peers", peer, "locker", "clear"] if m => {
            if app.registry.inner.lock().lockers.clear_label(peer) {
                Ok(ok(format!("Locker cleared for peer: {peer}")))
            } else {
                Err(no_locker(peer))
            }
        }
        ["registry", "peers", peer, "remember"] if m => remember(app, peer, a.body),
        ["registry", "peers", peer, "remove", addr] if m => deregister(app, peer, addr),
        ["registry", "peers", peer, "health"] if g => peer_health(app, peer, None).await,
        ["registry", "peers", peer, "health", "cleanup"] if m => cleanup(app, Some(peer)).await,
        ["registry", "peers", peer, "health", addr] if g => {
            peer_health(app, peer, Some(addr)).await
        }
        ["registry", "peers", peer, "targets", "add"] if m => add_target(app, peer, a.body).await,
        ["registry", "peers", peer, "targets", "clear"] if m => clear_targets(app, peer).await,
        ["registry", "peers", peer, "targets"] if g => {
            Ok(json(&label_config(app, peer, |c| &c.targets)))
        }
        ["registry", "peers", peer, "targets", "invoke", "all"] if m => {
            fan(
                app,
                peer,
                vec![Step::post("/client/targets/invoke/all?blocking=N", "")],
            )
            .await
        }
        ["registry", "peers", peer, "targets", "stop", "all"] if m => {
            fan(app, peer, vec![Step::post("/client/targets/stop/all", "")]).await
        }
        ["registry", "peers", peer, "targets", names, "remove"] if m => {
            remove_targets(app, peer, names).await
        }
        ["registry", "peers", peer, "targets", names, "invoke"] if m => {
            let path = format!("/client/targets/{}/invoke?blocking=N", seg(names));
            fan(app, peer, vec![Step::post(path, "")]).await
        }
        ["registry", "peers", peer, "targets", names, "stop"] if m => {
            let path = format!("/client/targets/{}/stop", seg(names));
            fan(app, peer, vec![Step::post(path, "")]).await
        }
        ["registry", "peers", peer, "jobs", "add"] if m => add_job(app, peer, a.body),
        ["registry", "peers", peer, "jobs", "clear"] if m => {
            app.registry
                .inner
                .lock()
                .labels
                .entry(peer.to_string())
                .or_default()
                .jobs
                .clear();
            Ok(ok(format!("Jobs cleared for peer: {peer}")))
        }
        ["registry", "peers", peer, "jobs"] if g => Ok(json(&label_config(app, peer, |c| &c.jobs))),
        ["registry", "peers", _, "jobs", "run" | "stop", "all"]
        | ["registry", "peers", _, "jobs", _, "run" | "stop"]
            if m =>
        {
            Err(ApiError::Unavailable(
                "jobs cannot run on peers: this build has no jobs API".into(),
            ))
        }
        ["registry", "peers", peer, "jobs", names, "remove"] if m => {
            let names = admin::list(names);
            let mut st = app.registry.inner.lock();
            let cfg = st.labels.entry(peer.to_string()).or_default();
            labels::remove(&mut cfg.jobs, &names, "job")
                .map(|_| ok(format!("Jobs removed: {}", names.join(","))))
        }
        ["registry", "peers", peer, "locker"] if g => {
            let v = app.registry.inner.lock().lockers.label_json(peer);
            v.map(|v| json(&v)).ok_or_else(|| no_locker(peer))
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

async fn peer_health(app: &Arc<App>, peer: &str, addr: Option<&str>) -> ApiResult {
    {
        let st = app.registry.inner.lock();
        st.known_label(peer)?;
        if let Some(a) = addr {
            if !st.addrs(peer).iter().any(|x| x == a) {
                return Err(no_pod(peer, a));
            }
        }
    }
    Ok(json(&health(app, Some(peer), addr).await[peer]))
}

fn register(app: &Arc<App>, body: &Bytes) -> ApiResult {
    let p = PeerInfo::from_json(body)?;
    let now = SystemTime::now();
    let mut st = app.registry.inner.lock();
    let r = st
        .peers
        .entry(p.name.clone())
        .or_default()
        .register(&p, now);
    // A new process at the address: what the old one reported stays
    // readable apart. The same process coming back keeps its locker.
    if let (Some(prev), false) = (r.previous, r.same_instance) {
        st.lockers.retire(&p.name, &p.address, prev);
    }
    let cfg = st.labels.get(&p.name).cloned().unwrap_or_default();
    tracing::info!(peer = %p.name, address = %p.address, epoch = r.epoch, "peer registered");
    Ok(json(&json!({
        "epoch": r.epoch,
        "targets": cfg.targets.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        "jobs": cfg.jobs.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        "trackingHeaders": st.tracked,
    })))
}

fn remember(app: &Arc<App>, peer: &str, body: &Bytes) -> ApiResult {
    let p = PeerInfo::from_json(body)?;
    if p.name != peer {
        return Err(ApiError::bad(format!(
            "peer name {:?} does not match the path's {peer:?}",
            p.name
        )));
    }
    let mut st = app.registry.inner.lock();
    let found = st
        .peers
        .get_mut(peer)
        .is_some_and(|g| g.remember(&p.address, SystemTime::now()));
    if found {
        Ok(ok(format!("Peer remembered: {peer} at {}", p.address)))
    } else {
        Err(no_pod(peer, &p.address))
    }
}

fn deregister(app: &Arc<App>, peer: &str, addr: &str) -> ApiResult {
    let mut st = app.registry.inner.lock();
    let removed = st
        .peers
        .get_mut(peer)
        .is_some_and(|g| g.pods.remove(addr).is_some());
    if removed {
        tracing::info!(peer, address = addr, "peer deregistered");
        Ok(ok(format!("Peer removed: {peer} at {addr}")))
    } else {
        Err(no_pod(peer, addr))
    }
}

fn peers_json(app: &Arc<App>) -> Value {
    let st = app.registry.inner.lock();
    Value::Object(
        st.peers
            .iter()
            .map(|(k, g)| (k.clone(), g.to_json()))
            .collect(),
    )
}

/// Forgets past epochs: only the connected pods' current epochs remain.
fn clear_epochs(app: &Arc<App>) -> http::Response<crate::body::Body> {
    let mut st = app.registry.inner.lock();
    for g in st.peers.values_mut() {
        g.pod_epochs = g
            .pods
            .iter_mut()
            .map(|(a, p)| {
                p.past.clear();
                (a.clone(), vec![p.current.clone()])
            })
            .collect();
    }
    ok("Epochs cleared")
}

/// Probes pods (`GET /label`) and records whether they answered.
async fn health(app: &Arc<App>, peer: Option<&str>, addr: Option<&str>) -> Value {
    let targets: Vec<(String, Vec<String>)> = {
        let st = app.registry.inner.lock();
        st.all_addrs()
            .into_iter()
            .filter(|(l, _)| peer.map_or(true, |p| p == l))
            .map(|(l, addrs)| {
                let addrs = addrs
                    .into_iter()
                    .filter(|a| addr.map_or(true, |x| x == a))
                    .collect();
                (l, addrs)
            })
            .collect()
    };
    let mut out = Map::new();
    for (label, addrs) in targets {
        let res = fanout::run(app, addrs, vec![Step::get("/label")]).await;
        mark_health(app, &label, &res);
        out.insert(
            label,
            Value::Object(
                res.iter()
                    .map(|(a, o)| (a.clone(), Value::from(o.is_ok())))
                    .collect(),
            ),
        );
    }
    Value::Object(out)
}

fn mark_health(app: &Arc<App>, label: &str, res: &BTreeMap<String, fanout::Outcome>) {
    let mut st = app.registry.inner.lock();
    if let Some(g) = st.peers.get_mut(label) {
        for (a, o) in res {
            if let Some(p) = g.pods.get_mut(a) {
                p.healthy = o.is_ok();
            }
        }
    }
}

/// Probes pods and drops those that do not answer (their epochs stay).
async fn cleanup(app: &Arc<App>, peer: Option<&str>) -> ApiResult {
    if let Some(p) = peer {
        known(app, p)?;
    }
    let h = health(app, peer, None).await;
    let mut removed = Vec::new();
    let mut st = app.registry.inner.lock();
    for (label, pods) in h.as_object().into_iter().flatten() {
        for (addr, up) in pods.as_object().into_iter().flatten() {
            if up.as_bool() == Some(false) {
                if let Some(g) = st.peers.get_mut(label) {
                    g.pods.remove(addr);
                    removed.push(format!("{label}@{addr}"));
                }
            }
        }
    }
    Ok(ok(format!(
        "Removed {} unhealthy pods{}{}",
        removed.len(),
        if removed.is_empty() { "" } else { ": " },
        removed.join(",")
    )))
}

fn all_config(app: &Arc<App>, pick: fn(&LabelConfig) -> &Vec<(String, Value)>) -> Value {
    let st = app.registry.inner.lock();
    Value::Object(
        st.labels
            .iter()
            .map(|(l, c)| (l.clone(), labels::to_map(pick(c))))
            .collect(),
    )
}

fn label_config(
    app: &Arc<App>,
    peer: &str,
    pick: fn(&LabelConfig) -> &Vec<(String, Value)>,
) -> Value {
    let st = app.registry.inner.lock();
    st.labels
        .get(peer)
        .map(|c| labels::to_map(pick(c)))
        .unwrap_or_else(|| Value::Object(Map::new()))
}

/// Fans `steps` out to every pod of `peer`; answers the per-pod outcomes.
async fn fan(app: &Arc<App>, peer: &str, steps: Vec<Step>) -> ApiResult {
    let addrs = {
        let st = app.registry.inner.lock();
        st.known_label(peer)?;
        st.addrs(peer)
    };
    let res = fanout::run(app, addrs, steps).await;
    mark_health(app, peer, &res);
    Ok(json(&fanout::to_json(&res)))
}

/// Fans a call out to every pod of every label: `{label: {address: outcome}}`.
async fn fan_all(app: &Arc<App>, path: &str) -> ApiResult {
    let all = app.registry.inner.lock().all_addrs();
    let mut out = Map::new();
    for (label, addrs) in all {
        let res = fanout::run(app, addrs, vec![Step::post(path, "")]).await;
        mark_health(app, &label, &res);
        out.insert(label, fanout::to_json(&res));
    }
    Ok(json(&Value::Object(out)))
}

/// Pushes to the pods of a label and logs those that did not take it.
async fn push(app: &Arc<App>, peer: &str, steps: Vec<Step>) {
    let addrs = app.registry.inner.lock().addrs(peer);
    if addrs.is_empty() {
        return;
    }
    let res = fanout::run(app, addrs, steps).await;
    for (a, o) in &res {
        if let Err(e) = o {
            tracing::warn!(peer, address = %a, error = %e, "push to peer failed");
        }
    }
    mark_health(app, peer, &res);
}

async fn add_target(app: &Arc<App>, peer: &str, body: &Bytes) -> ApiResult {
    let (name, v, echo) = labels::parse_target(body)?;
    let text = v.to_string();
    {
        let mut st = app.registry.inner.lock();
        let cfg = st.labels.entry(peer.to_string()).or_default();
        labels::upsert(&mut cfg.targets, name, v);
    }
    push(app, peer, vec![Step::post("/client/targets/add", text)]).await;
    Ok(ok(format!("Added target: {echo}")))
}

async fn remove_targets(app: &Arc<App>, peer: &str, names: &str) -> ApiResult {
    let list = admin::list(names);
    if list.is_empty() {
        return Err(ApiError::bad("no target names given"));
    }
    {
        let mut st = app.registry.inner.lock();
        let cfg = st
            .labels
            .get_mut(peer)
            .ok_or_else(|| ApiError::NotFound(format!("no targets for peer: {peer}")))?;
        labels::remove(&mut cfg.targets, &list, "target")?;
    }
    let path = format!("/client/targets/{}/remove", seg(&list.join(",")));
    push(app, peer, vec![Step::post(path, "")]).await;
    Ok(ok(format!("Targets removed: {}", list.join(","))))
}

async fn clear_targets(app: &Arc<App>, peer: &str) -> ApiResult {
    let names: Vec<String> = {
        let mut st = app.registry.inner.lock();
        match st.labels.get_mut(peer) {
            Some(c) => std::mem::take(&mut c.targets)
                .into_iter()
                .map(|(n, _)| n)
                .collect(),
            None => Vec::new(),
        }
    };
    if !names.is_empty() {
        let path = format!("/client/targets/{}/remove", seg(&names.join(",")));
        push(app, peer, vec![Step::post(path, "")]).await;
    }
    Ok(ok(format!("Targets cleared for peer: {peer}")))
}

fn add_job(app: &Arc<App>, peer: &str, body: &Bytes) -> ApiResult {
    let (id, v) = labels::parse_job(body)?;
    let text = v.to_string();
    let mut st = app.registry.inner.lock();
    let cfg = st.labels.entry(peer.to_string()).or_default();
    labels::upsert(&mut cfg.jobs, id, v);
    Ok(ok(format!("Added job: {text}")))
}

/// Header names as the client API accepts them, lower-cased.
fn header_names(names: &str) -> Result<Vec<String>, ApiError> {
    let list = admin::list(names);
    if list.is_empty() {
        return Err(ApiError::bad("no header names given"));
    }
    for h in &list {
        if !h
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(ApiError::bad(format!("invalid header name {h:?}")));
        }
    }
    Ok(list.into_iter().map(|h| h.to_ascii_lowercase()).collect())
}

async fn track(app: &Arc<App>, names: &str) -> ApiResult {
    let list = header_names(names)?;
    let labels: Vec<String> = {
        let mut st = app.registry.inner.lock();
        for h in &list {
            if !st.tracked.contains(h) {
                st.tracked.push(h.clone());
            }
        }
        st.peers.keys().cloned().collect()
    };
    let path = format!("/client/track/headers/add/{}", seg(&list.join(",")));
    for l in labels {
        push(app, &l, vec![Step::post(path.clone(), "")]).await;
    }
    Ok(ok(format!(
        "Header {} will be tracked on peers",
        list.join(",")
    )))
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

/// `{label: summed results}`, or per target with `?detailed=Y`.
fn summed_results(a: &Admin<'_>) -> http::Response<crate::body::Body> {
    let detailed = a
        .query_param("detailed")
        .is_some_and(|v| matches!(v.as_str(), "Y" | "y" | "true" | "1"));
    // Copied out so that decoding and merging run without the lock.
    let reports: BTreeMap<String, Vec<(String, String)>> = {
        let st = a.app.registry.inner.lock();
        st.lockers
            .by_label
            .iter()
            .map(|(label, by_addr)| {
                let docs = by_addr
                    .iter()
                    .filter_map(|(addr, l)| Some((addr.clone(), l.get(CLIENT_KEY)?.data.clone())))
                    .collect::<Vec<_>>();
                (label.clone(), docs)
            })
            .filter(|(_, docs)| !docs.is_empty())
            .collect()
    };
    let mut out = Map::new();
    for (label, docs) in &reports {
        let mut sum = results::Sum::default();
        for (addr, data) in docs {
            sum.add_text(addr, data);
        }
        for s in &sum.skipped {
            tracing::warn!(peer = %label, "locker results skipped: {s}");
        }
        let doc = if detailed {
            sum.detailed()
        } else {
            sum.document()
        };
        out.insert(label.clone(), Value::Object(doc));
    }
    json(&Value::Object(out))
}
