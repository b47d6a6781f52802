//! Calls to every pod of a label at once: each pod gets the same steps in
//! order, all pods concurrently, each bounded by a per-peer timeout, so one
//! slow or dead pod costs its own timeout and nothing more. Invoke/stop
//! fan-outs, pushes and health probes (with cleanup) are built on it; every
//! call records whether the pod answered (`healthy`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde_json::{json, Map, Value};

use super::call::{call, CallError};
use super::Registry;
use super::{known, no_pod};
use crate::body::{json, ok};
use crate::error::ApiResult;

/// Time one pod gets for all of its steps.
pub const PER_PEER_TIMEOUT: Duration = Duration::from_secs(3);

/// One call made on each pod: method, path (with query), body.
#[derive(Debug, Clone)]
pub struct Step {
    pub method: Method,
    pub path: String,
    pub body: Bytes,
}

impl Step {
    pub fn post(path: impl Into<String>, body: impl Into<Bytes>) -> Step {
        Step {
            method: Method::POST,
            path: path.into(),
            body: body.into(),
        }
    }

    pub fn get(path: impl Into<String>) -> Step {
        Step {
            method: Method::GET,
            path: path.into(),
            body: Bytes::new(),
        }
    }
}

/// Why one pod's steps failed.
#[derive(Debug, thiserror::Error)]
pub enum PodError {
    #[error(transparent)]
    Call(#[from] CallError),
    /// A non-2xx reply: its status code and text.
    #[error("{}: {text}", .status.as_u16())]
    Status {
        status: http::StatusCode,
        text: String,
    },
    /// All steps together took longer than [`PER_PEER_TIMEOUT`].
    #[error("timed out after {}ms", PER_PEER_TIMEOUT.as_millis())]
    Timeout,
}

/// How one pod answered: the last step's reply text, or why it failed.
pub type Outcome = Result<String, PodError>;

/// Runs `steps` on every address; returns each pod's outcome.
pub async fn run(
    reg: &Arc<Registry>,
    addrs: Vec<String>,
    steps: Vec<Step>,
) -> BTreeMap<String, Outcome> {
    let steps = Arc::new(steps);
    let mut set = tokio::task::JoinSet::new();
    for addr in addrs {
        let reg = reg.clone();
        let steps = steps.clone();
        set.spawn(async move {
            let work = run_one(&reg, &addr, &steps);
            let out = match tokio::time::timeout(PER_PEER_TIMEOUT, work).await {
                Ok(o) => o,
                Err(_) => Err(PodError::Timeout),
            };
            (addr, out)
        });
    }
    let mut out = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        if let Ok((addr, o)) = joined {
            out.insert(addr, o);
        }
    }
    out
}

async fn run_one(reg: &Arc<Registry>, addr: &str, steps: &[Step]) -> Outcome {
    let mut last = String::new();
    for s in steps {
        let url = format!("http://{addr}{}", s.path);
        let r = call(
            &reg.out,
            s.method.clone(),
            &url,
            s.body.clone(),
            PER_PEER_TIMEOUT,
        )
        .await?;
        if !r.status.is_success() {
            return Err(PodError::Status {
                status: r.status,
                text: r.text(),
            });
        }
        last = r.text();
    }
    Ok(last)
}

/// `{address: {"ok": bool, "message"|"error": text}}`.
pub fn to_json(outcomes: &BTreeMap<String, Outcome>) -> Value {
    Value::Object(
        outcomes
            .iter()
            .map(|(a, o)| {
                let v = match o {
                    Ok(m) => json!({"ok": true, "message": m}),
                    Err(e) => json!({"ok": false, "error": e.to_string()}),
                };
                (a.clone(), v)
            })
            .collect(),
    )
}

pub(super) async fn peer_health(reg: &Arc<Registry>, peer: &str, addr: Option<&str>) -> ApiResult {
    {
        let st = reg.inner.lock();
        st.known_label(peer)?;
        if let Some(a) = addr {
            if !st.addrs(peer).iter().any(|x| x == a) {
                return Err(no_pod(peer, a));
            }
        }
    }
    Ok(json(&health(reg, Some(peer), addr).await[peer]))
}

/// Probes pods (`GET /label`) and records whether they answered.
pub(super) async fn health(reg: &Arc<Registry>, peer: Option<&str>, addr: Option<&str>) -> Value {
    let targets: Vec<(String, Vec<String>)> = {
        let st = reg.inner.lock();
        st.all_addrs()
            .into_iter()
            .filter(|(l, _)| peer.is_none_or(|p| p == l))
            .map(|(l, addrs)| {
                let addrs = addrs
                    .into_iter()
                    .filter(|a| addr.is_none_or(|x| x == a))
                    .collect();
                (l, addrs)
            })
            .collect()
    };
    let mut out = Map::new();
    for (label, addrs) in targets {
        let res = run(reg, addrs, vec![Step::get("/label")]).await;
        // A probe is a GET (not saved after it): a health change it found
        // (an unhealthy span opened or closed) is saved here.
        if mark_health(reg, &label, &res) {
            // Logged inside on failure; the next save retries.
            let _ = reg.save();
        }
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

/// True if a pod's health changed.
pub(super) fn mark_health(
    reg: &Arc<Registry>,
    label: &str,
    res: &BTreeMap<String, Outcome>,
) -> bool {
    let now = std::time::SystemTime::now();
    let mut st = reg.inner.lock();
    let mut changed = false;
    if let Some(g) = st.peers.get_mut(label) {
        for (a, o) in res {
            changed |= g.set_health(a, o.is_ok(), now);
        }
    }
    changed
}

/// Probes pods and drops those that do not answer (their epochs stay).
pub(super) async fn cleanup(reg: &Arc<Registry>, peer: Option<&str>) -> ApiResult {
    if let Some(p) = peer {
        known(reg, p)?;
    }
    let h = health(reg, peer, None).await;
    let mut removed = Vec::new();
    let mut st = reg.inner.lock();
    for (label, pods) in h.as_object().into_iter().flatten() {
        for (addr, up) in pods.as_object().into_iter().flatten() {
            if up.as_bool() == Some(false) {
                if let Some(g) = st.peers.get_mut(label) {
                    g.drop_pod(addr, std::time::SystemTime::now());
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

/// Fans `steps` out to every pod of `peer`; answers the per-pod outcomes.
pub(super) async fn fan(reg: &Arc<Registry>, peer: &str, steps: Vec<Step>) -> ApiResult {
    let addrs = {
        let st = reg.inner.lock();
        st.known_label(peer)?;
        st.addrs(peer)
    };
    let res = run(reg, addrs, steps).await;
    mark_health(reg, peer, &res);
    Ok(json(&to_json(&res)))
}

/// Fans a call out to every pod of every label: `{label: {address: outcome}}`.
pub(super) async fn fan_all(reg: &Arc<Registry>, path: &str) -> ApiResult {
    let all = reg.inner.lock().all_addrs();
    let mut out = Map::new();
    for (label, addrs) in all {
        let res = run(reg, addrs, vec![Step::post(path, "")]).await;
        mark_health(reg, &label, &res);
        out.insert(label, to_json(&res));
    }
    Ok(json(&Value::Object(out)))
}

/// Pushes to the pods of a label and logs those that did not take it.
pub(super) async fn push(reg: &Arc<Registry>, peer: &str, steps: Vec<Step>) {
    let addrs = reg.inner.lock().addrs(peer);
    if addrs.is_empty() {
        return;
    }
    let res = run(reg, addrs, steps).await;
    for (a, o) in &res {
        if let Err(e) = o {
            tracing::warn!(peer, address = %a, error = %e, "push to peer failed");
        }
    }
    mark_health(reg, peer, &res);
}

/// Consecutive failed probes after which the background check drops a pod.
pub const UNHEALTHY_AFTER: u32 = 3;

/// Probes every pod each `every` and drops pods that failed the last
/// [`UNHEALTHY_AFTER`] probes, so pods that vanished without deregistering
/// (killed, evicted) leave `pods`; their epochs and lockers stay. A pod
/// dropped by mistake comes back with its next reminder.
pub async fn health_loop(reg: Arc<Registry>, every: Duration) {
    let mut failures: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        if reg.inner.lock().all_addrs().is_empty() {
            failures.clear();
            continue;
        }
        let h = health(&reg, None, None).await;
        let mut seen = BTreeMap::new();
        let mut drop_list = Vec::new();
        for (label, pods) in h.as_object().into_iter().flatten() {
            for (addr, up) in pods.as_object().into_iter().flatten() {
                let key = (label.clone(), addr.clone());
                let n = if up.as_bool() == Some(true) {
                    0
                } else {
                    failures.get(&key).copied().unwrap_or(0) + 1
                };
                if n >= UNHEALTHY_AFTER {
                    drop_list.push(key.clone());
                } else {
                    seen.insert(key, n);
                }
            }
        }
        // Pods no longer registered are forgotten with the rest.
        failures = seen;
        if drop_list.is_empty() {
            continue;
        }
        {
            let mut st = reg.inner.lock();
            for (label, addr) in drop_list {
                if let Some(g) = st.peers.get_mut(&label) {
                    if g.drop_pod(&addr, std::time::SystemTime::now()).is_some() {
                        tracing::info!(peer = ?label, address = ?addr, "unresponsive pod removed");
                    }
                }
            }
        }
        // Logged inside on failure; the next save retries.
        let _ = reg.save();
    }
}
