//! The forwarding proxy (`/request/proxy/...`): per-port targets with match
//! criteria; a matching runtime request is forwarded upstream (see
//! [`forward`]) and the upstream's answer comes back with this hop's headers.
//! Match and invocation counts are kept per target, URI, header and query.
//!
//! The runtime path checks one atomic flag (any enabled target) before it
//! takes the read lock on the target list.

pub mod client;
pub mod forward;
pub mod target;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::HeaderMap;
use http_body_util::BodyExt;
use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use crate::admin::{self, Admin};
use crate::body::{json, ok};
use crate::error::{ApiError, ApiResult};
use target::{Hit, Matched, Target, TargetSpec};

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
    fn matched(&mut self, name: &str, hits: &[Hit]) {
        bump(&mut self.counts_by_targets, name);
        for h in hits {
            match h {
                Hit::Uri(u) => {
                    bump(&mut self.counts_by_uris, u);
                    bump2(&mut self.counts_by_uri_targets, u, name);
                }
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
#[derive(Default)]
pub struct Proxy {
    /// True while some target is enabled: the runtime path's only check otherwise.
    active: AtomicBool,
    targets: RwLock<Vec<Arc<Target>>>,
    counts: Mutex<ProxyCounts>,
}

impl Proxy {
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    fn refresh_active(&self, targets: &[Arc<Target>]) {
        self.active
            .store(targets.iter().any(|t| t.is_enabled()), Ordering::Relaxed);
    }

    /// The first enabled target matching the request, with its captures; counts the match.
    pub fn find(
        &self,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Option<(Arc<Target>, Matched)> {
        let found = self
            .targets
            .read()
            .iter()
            .filter(|t| t.is_enabled())
            .find_map(|t| t.matches(path, query, headers).map(|m| (t.clone(), m)))?;
        self.counts
            .lock()
            .matched(&found.0.spec.name, &found.1.hits);
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
            Some(s) => {
                if !c.counts_by_target_status.contains_key(name) {
                    c.counts_by_target_status
                        .insert(name.to_string(), BTreeMap::new());
                }
                if let Some(m) = c.counts_by_target_status.get_mut(name) {
                    *m.entry(s).or_default() += 1;
                }
            }
            None => bump(&mut c.failures_by_targets, name),
        }
    }

    /// Looks up named targets; every name must exist.
    fn named(&self, names: &str) -> Result<Vec<Arc<Target>>, ApiError> {
        let list = admin::list(names);
        if list.is_empty() {
            return Err(ApiError::bad("no target names given"));
        }
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

fn view(t: &Target) -> serde_json::Value {
    let mut v = serde_json::to_value(&t.spec).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("enabled".into(), t.is_enabled().into());
    }
    v
}

/// Routes `/request/proxy/...`; `None` if not ours.
pub async fn route(a: &Admin<'_>) -> Option<ApiResult> {
    let ["request", "proxy", rest @ ..] = a.segs else {
        return None;
    };
    let p = &a.port.proxy;
    Some(match rest {
        ["targets", "add"] if a.is_mutation() => add(a),
        ["targets", "clear"] if a.is_mutation() => {
            let mut t = p.targets.write();
            t.clear();
            p.refresh_active(&t);
            Ok(ok("Proxy targets cleared"))
        }
        ["targets"] | ["targets", "list"] if a.is_get() => {
            let t = p.targets.read();
            Ok(json(&t.iter().map(|t| view(t)).collect::<Vec<_>>()))
        }
        ["targets", names, "invoke"] | ["targets", "invoke", names] if a.is_mutation() => {
            match p.named(names) {
                Ok(targets) => Ok(invoke(a, targets).await),
                Err(e) => Err(e),
            }
        }
        ["targets", name, action @ ("remove" | "enable" | "disable")] if a.is_mutation() => {
            let mut list = p.targets.write();
            match list.iter().position(|t| t.spec.name == *name) {
                None => Err(ApiError::bad(format!("unknown proxy target {name:?}"))),
                Some(i) => {
                    let msg = match *action {
                        "remove" => {
                            list.remove(i);
                            format!("Proxy target {name} removed")
                        }
                        "enable" => {
                            list[i].enabled.store(true, Ordering::Relaxed);
                            format!("Proxy target {name} enabled")
                        }
                        _ => {
                            list[i].enabled.store(false, Ordering::Relaxed);
                            format!("Proxy target {name} disabled")
                        }
                    };
                    p.refresh_active(&list);
                    Ok(ok(msg))
                }
            }
        }
        ["counts"] if a.is_get() => Ok(json(&*p.counts.lock())),
        ["counts", "clear"] if a.is_mutation() => {
            *p.counts.lock() = ProxyCounts::default();
            Ok(ok("Proxy counts cleared"))
        }
        _ => return None,
    })
}

/// The JSON body, also accepting the seed's multi-line curl form, whose
/// shell line continuations (`\` + newline) arrive inside the body. A valid
/// JSON document never holds a backslash before a raw newline, so removing
/// those pairs cannot change one.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(a: &Admin<'_>) -> Result<T, ApiError> {
    match a.json() {
        Err(e) if a.body.windows(2).any(|w| w == b"\\\n" || w == b"\\\r") => {
            let mut cleaned = Vec::with_capacity(a.body.len());
            let mut i = 0;
            while i < a.body.len() {
                let rest = &a.body[i..];
                if rest.starts_with(b"\\\r\n") {
                    i += 3;
                } else if rest.starts_with(b"\\\n") {
                    i += 2;
                } else {
                    cleaned.push(a.body[i]);
                    i += 1;
                }
            }
            serde_json::from_slice(&cleaned).map_err(|_| e)
        }
        r => r,
    }
}

/// Adds (or replaces, by name) a target; validated completely before any state changes.
fn add(a: &Admin<'_>) -> ApiResult {
    let spec: TargetSpec = json_body(a)?;
    let target = Arc::new(Target::new(spec).map_err(ApiError::BadRequest)?);
    let line = serde_json::to_string(&target.spec).unwrap_or_default();
    let p = &a.port.proxy;
    let mut list = p.targets.write();
    match list.iter().position(|t| t.spec.name == target.spec.name) {
        Some(i) => list[i] = target,
        None => list.push(target),
    }
    p.refresh_active(&list);
    Ok(ok(format!("Added proxy target: {line}")))
}

/// Sends one request to each target (its URL with `replaceURI` and additions,
/// no captures) and reports the outcomes on one line.
async fn invoke(a: &Admin<'_>, targets: Vec<Arc<Target>>) -> http::Response<crate::body::Body> {
    let mut outcomes = Vec::with_capacity(targets.len());
    for t in targets {
        let m = Matched {
            captures: Vec::new(),
            rest: String::new(),
            hits: Vec::new(),
        };
        let path = t.upstream_path("/", None, &m);
        let mut headers = HeaderMap::new();
        forward::apply_header_edits(&t, &m, &mut headers);
        a.port.proxy.invoked(&t.spec.name, 1);
        let r = forward::send(
            a.app.outbound(t.spec.verify_tls),
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
                a.port.proxy.answered(&t.spec.name, Some(status.as_u16()));
                // Drain so the pooled connection can be reused.
                let _ = resp.into_body().collect().await;
                outcomes.push(format!("{} -> {status}", t.spec.name));
            }
            Err(e) => {
                a.port.proxy.answered(&t.spec.name, None);
                outcomes.push(format!("{} -> error: {e}", t.spec.name));
            }
        }
    }
    ok(format!("Proxy targets invoked: {}", outcomes.join("; ")))
}
