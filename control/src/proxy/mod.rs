//! The forwarding proxy (`/request/proxy/...`): per-port targets with match
//! criteria; a matching runtime request is forwarded upstream (see
//! [`forward`]) and the upstream's answer comes back with this hop's headers.
//! Match and invocation counts are kept per target, URI, header and query.
//!
//! The runtime path checks one atomic flag (any enabled target) before it
//! takes the read lock on the target list.

pub mod client;
pub mod error;
pub mod forward;
pub mod grpc;
pub mod matcher;
pub mod pool;
pub mod routes;
pub mod spec;
pub mod target;
pub mod toxic;
pub mod toxic_routes;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::HeaderMap;
use http_body_util::BodyExt;
use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use crate::chaos::toxics::http::TargetToxics;
use crate::error::ApiError;
use client::Outbound;
pub use error::ProxyError;
use target::{Hit, Matched, ProxyTarget, ProxyTargetSpec};

type Counter = BTreeMap<String, u64>;
type Counter2 = BTreeMap<String, Counter>;

/// Match and invocation counts of one port's proxy.
#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyCounts {
    /// Requests matched, by target.
    counts_by_targets: Counter,
    /// Upstream calls (one per replica), by target.
    invocations_by_targets: Counter,
    /// Upstream calls that failed (unreachable, reset), by target.
    failures_by_targets: Counter,
    /// Upstream response statuses, by target.
    counts_by_target_status: BTreeMap<String, BTreeMap<u16, u64>>,
    counts_by_uris: Counter,
    counts_by_uri_targets: Counter2,
    counts_by_headers: Counter,
    counts_by_header_values: Counter2,
    counts_by_header_targets: Counter2,
    counts_by_query: Counter,
    counts_by_query_values: Counter2,
    counts_by_query_targets: Counter2,
}

/// Keys can be request values (header and query values): capped, see
/// [`crate::bounded`].
fn bump(m: &mut Counter, k: &str) {
    crate::bounded::bump(m, k, "proxy counts");
}

fn bump2(m: &mut Counter2, k: &str, k2: &str) {
    bump(crate::bounded::slot(m, k, "proxy counts"), k2);
}

impl ProxyCounts {
    fn matched(&mut self, t: &ProxyTarget, m: &Matched) {
        let name = t.spec.name.as_str();
        bump(&mut self.counts_by_targets, name);
        if let Some(u) = t.uri_text(m) {
            bump(&mut self.counts_by_uris, u);
            bump2(&mut self.counts_by_uri_targets, u, name);
        }
        for h in &m.hits {
            match h {
                Hit::Header(k, v) => {
                    bump(&mut self.counts_by_headers, k);
                    bump2(&mut self.counts_by_header_values, k, v);
                    bump2(&mut self.counts_by_header_targets, k, name);
                }
                Hit::Query(k, v) => {
                    bump(&mut self.counts_by_query, k);
                    bump2(&mut self.counts_by_query_values, k, v);
                    bump2(&mut self.counts_by_query_targets, k, name);
                }
            }
        }
    }
}

/// Per-port proxy state.
pub struct Proxy {
    /// True while some target is enabled: the runtime path's only check otherwise.
    active: AtomicBool,
    targets: RwLock<Vec<Arc<ProxyTarget>>>,
    counts: Mutex<ProxyCounts>,
    out: Outbound,
    /// Toxics of the targets, by name.
    pub toxics: TargetToxics,
}

/// What a target name can be told to do.
#[derive(Debug, Clone, Copy)]
pub enum TargetAction {
    Remove,
    Enable,
    Disable,
}

impl Proxy {
    pub fn new(out: Outbound) -> Proxy {
        Proxy {
            active: AtomicBool::new(false),
            targets: RwLock::new(Vec::new()),
            counts: Mutex::new(ProxyCounts::default()),
            out,
            toxics: TargetToxics::default(),
        }
    }

    /// The outbound clients upstream calls go through.
    pub fn outbound(&self) -> &Outbound {
        &self.out
    }

    /// Adds (or replaces, by name) a target, validated completely first;
    /// returns its JSON echo.
    pub fn add(&self, spec: ProxyTargetSpec) -> Result<String, ApiError> {
        let target = Arc::new(ProxyTarget::new(spec)?);
        let line = serde_json::to_string(&target.spec).unwrap_or_default();
        let mut list = self.targets.write();
        match list.iter().position(|t| t.spec.name == target.spec.name) {
            Some(i) => list[i] = target,
            None => list.push(target),
        }
        self.refresh_active(&list);
        Ok(line)
    }

    pub fn clear(&self) {
        let mut t = self.targets.write();
        t.clear();
        self.refresh_active(&t);
        self.toxics.clear_all();
    }

    /// Every target's spec with its `enabled` flag.
    pub fn views(&self) -> Vec<serde_json::Value> {
        self.targets.read().iter().map(|t| view(t)).collect()
    }

    /// Removes, enables or disables a target; an unknown name is an error.
    pub fn act(&self, name: &str, action: TargetAction) -> Result<(), ApiError> {
        let mut list = self.targets.write();
        let i = list
            .iter()
            .position(|t| t.spec.name == name)
            .ok_or_else(|| ApiError::bad(format!("unknown proxy target {name:?}")))?;
        match action {
            TargetAction::Remove => {
                list.remove(i);
                self.toxics.clear(name);
            }
            TargetAction::Enable => list[i].enabled.store(true, Ordering::Relaxed),
            TargetAction::Disable => list[i].enabled.store(false, Ordering::Relaxed),
        }
        self.refresh_active(&list);
        Ok(())
    }

    pub fn counts_json(&self) -> serde_json::Value {
        serde_json::to_value(&*self.counts.lock()).unwrap_or_default()
    }

    pub fn clear_counts(&self) {
        *self.counts.lock() = ProxyCounts::default();
    }

    /// Sends one request to each target (its URL with `replaceURI` and
    /// additions, no captures); one outcome line per target.
    pub async fn invoke(&self, targets: Vec<Arc<ProxyTarget>>) -> Vec<String> {
        let mut outcomes = Vec::with_capacity(targets.len());
        for t in targets {
            let m = Matched {
                captures: Vec::new(),
                rest: String::new(),
                uri: None,
                hits: Vec::new(),
            };
            let path = t.upstream_path("/", None, &m);
            let mut headers = HeaderMap::new();
            forward::apply_header_edits(&t, &m, &mut headers);
            self.invoked(&t.spec.name, 1);
            let r = forward::send(
                self.out.pick(t.spec.verify_tls),
                http::Method::GET,
                &t.origin,
                &path,
                headers,
                crate::body::Body::empty(),
                t.timeout,
            )
            .await;
            match r {
                Ok(resp) => {
                    let status = resp.status();
                    self.answered(&t.spec.name, Some(status.as_u16()));
                    // Drain so the pooled connection can be reused.
                    let _ = resp.into_body().collect().await;
                    outcomes.push(format!("{} -> {status}", t.spec.name));
                }
                Err(e) => {
                    self.answered(&t.spec.name, None);
                    outcomes.push(format!("{} -> error: {e}", t.spec.name));
                }
            }
        }
        outcomes
    }

    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    fn refresh_active(&self, targets: &[Arc<ProxyTarget>]) {
        self.active
            .store(targets.iter().any(|t| t.is_enabled()), Ordering::Relaxed);
    }

    /// The first enabled target matching the request, with its captures; counts the match.
    pub fn find(
        &self,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Option<(Arc<ProxyTarget>, Matched)> {
        let found = self
            .targets
            .read()
            .iter()
            .filter(|t| t.is_enabled())
            .find_map(|t| t.matches(path, query, headers).map(|m| (t.clone(), m)))?;
        self.counts.lock().matched(&found.0, &found.1);
        Some(found)
    }

    pub(crate) fn invoked(&self, name: &str, n: u64) {
        let mut c = self.counts.lock();
        match c.invocations_by_targets.get_mut(name) {
            Some(v) => *v += n,
            None => {
                c.invocations_by_targets.insert(name.to_string(), n);
            }
        }
    }

    pub(crate) fn answered(&self, name: &str, status: Option<u16>) {
        let mut c = self.counts.lock();
        match status {
            // One lookup once the target has answered before.
            Some(s) => match c.counts_by_target_status.get_mut(name) {
                Some(m) => *m.entry(s).or_default() += 1,
                None => {
                    c.counts_by_target_status
                        .insert(name.to_string(), BTreeMap::from([(s, 1)]));
                }
            },
            None => bump(&mut c.failures_by_targets, name),
        }
    }

    /// Looks up named targets; every name must exist.
    pub fn named(&self, names: &str) -> Result<Vec<Arc<ProxyTarget>>, ApiError> {
        let list = crate::api::names(names, "target names")?;
        let targets = self.targets.read();
        list.iter()
            .map(|n| {
                targets
                    .iter()
                    .find(|t| t.spec.name == *n)
                    .cloned()
                    .ok_or_else(|| ApiError::bad(format!("unknown proxy target {n:?}")))
            })
            .collect()
    }
}

fn view(t: &ProxyTarget) -> serde_json::Value {
    let mut v = serde_json::to_value(&t.spec).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("enabled".into(), t.is_enabled().into());
    }
    v
}
