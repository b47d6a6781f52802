//! Response triggers (`/response/trigger/...`): HTTP targets called in the
//! background when a runtime response on this port (a proxied upstream's
//! included) has one of the listed statuses, or when invoked by hand. Each
//! call is counted by target and by the status the trigger target answered.
//!
//! Each call must be answered within the trigger's `timeout` (default 30s),
//! and at most [`MAX_IN_FLIGHT`] calls per port run at once: a trigger
//! firing faster than its target answers has the excess dropped and counted
//! (`droppedCount`), not piled up as open sockets.
//!
//! The runtime path checks one atomic flag (some enabled trigger has
//! statuses) before taking the lock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use http_body_util::BodyExt;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::admin::{self, Admin};
use crate::body::{json, ok, Body};
use crate::error::{ApiError, ApiResult};
use crate::port::PortState;
use crate::proxy::forward::send;
use crate::proxy::target::{parse_http_url, upstream_timeout, valid_name, Pairs};
use crate::App;

fn yes() -> bool {
    true
}

/// The JSON a user posts to `/response/trigger/add`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TriggerSpec {
    pub name: String,
    /// GET, or POST when a body is given.
    #[serde(default)]
    pub method: Option<String>,
    pub url: String,
    #[serde(default)]
    pub headers: Pairs,
    #[serde(default)]
    pub body: String,
    #[serde(default, rename = "sendID")]
    pub send_id: bool,
    /// For https URLs: verify the certificate (off by default).
    #[serde(
        default,
        rename = "verifyTLS",
        skip_serializing_if = "crate::proxy::target::is_false"
    )]
    pub verify_tls: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub trigger_on_response_statuses: Vec<u16>,
    /// How long the target may take to answer (Go duration, default 30s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// Most trigger calls in flight at once on one port.
pub const MAX_IN_FLIGHT: usize = 256;

/// A validated trigger: request parts prebuilt once.
struct Trigger {
    spec: TriggerSpec,
    enabled: AtomicBool,
    method: Method,
    origin: String,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    timeout: std::time::Duration,
}

impl Trigger {
    fn new(spec: TriggerSpec) -> Result<Trigger, String> {
        if !valid_name(&spec.name) {
            return Err(format!(
                "invalid trigger name {:?}: non-empty, no ',', '/', '?', '#', '%' or spaces",
                spec.name
            ));
        }
        let method = match spec
            .method
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| format!("invalid method {m:?}"))?,
            None if spec.body.is_empty() => Method::GET,
            None => Method::POST,
        };
        let (origin, base) = parse_http_url(&spec.url)?;
        let mut headers = HeaderMap::new();
        for (k, v) in spec.headers.to_vec("headers")? {
            let n = HeaderName::from_bytes(k.trim().as_bytes())
                .map_err(|_| format!("invalid header name {k:?}"))?;
            let v = v.unwrap_or_default();
            let v = HeaderValue::from_str(&v).map_err(|_| format!("invalid header value {v:?}"))?;
            headers.append(n, v);
        }
        if let Some(s) = spec
            .trigger_on_response_statuses
            .iter()
            .find(|s| !(100..=599).contains(*s))
        {
            return Err(format!(
                "invalid status {s} in triggerOnResponseStatuses: must be 100-599"
            ));
        }
        let timeout = upstream_timeout(spec.timeout.as_deref())?;
        Ok(Trigger {
            timeout,
            enabled: AtomicBool::new(spec.enabled),
            method,
            origin,
            path: if base.is_empty() { "/".into() } else { base },
            headers,
            body: Bytes::from(spec.body.clone()),
            spec,
        })
    }

    fn watches(&self, status: u16) -> bool {
        self.enabled.load(Ordering::Relaxed)
            && self.spec.trigger_on_response_statuses.contains(&status)
    }
}

#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Counts {
    /// Calls made: on a matching status, or by hand.
    trigger_count: u64,
    /// Calls that got no HTTP answer.
    failure_count: u64,
    /// Statuses the trigger target answered with.
    counts_by_status: BTreeMap<u16, u64>,
    /// Firings dropped because [`MAX_IN_FLIGHT`] calls were already running.
    #[serde(skip_serializing_if = "is_zero")]
    dropped_count: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Default)]
struct State {
    targets: Vec<Arc<Trigger>>,
    counts: BTreeMap<String, Counts>,
}

/// Per-port triggers.
#[derive(Default)]
pub struct Triggers {
    active: AtomicBool,
    inner: Mutex<State>,
    /// Calls running now (fired, not yet answered or failed).
    in_flight: Arc<AtomicUsize>,
}

/// Gives back an in-flight slot when a call ends, however it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Triggers {
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    fn refresh_active(&self, st: &State) {
        let any = st.targets.iter().any(|t| {
            t.enabled.load(Ordering::Relaxed) && !t.spec.trigger_on_response_statuses.is_empty()
        });
        self.active.store(any, Ordering::Relaxed);
    }

    /// Calls, in the background, every enabled trigger watching `status`.
    pub fn fire(&self, app: &Arc<App>, port: &Arc<PortState>, status: u16) {
        let mut calls = Vec::new();
        {
            let mut st = self.inner.lock();
            let hits: Vec<Arc<Trigger>> = st
                .targets
                .iter()
                .filter(|t| t.watches(status))
                .cloned()
                .collect();
            for t in hits {
                let c = st.counts.entry(t.spec.name.clone()).or_default();
                if self.in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
                    self.in_flight.fetch_sub(1, Ordering::AcqRel);
                    c.dropped_count += 1;
                    continue;
                }
                c.trigger_count += 1;
                calls.push((t, Slot(self.in_flight.clone())));
            }
        }
        for (t, slot) in calls {
            let (app, port) = (app.clone(), port.clone());
            tokio::spawn(async move {
                // The outcome is counted inside `call`.
                let _ = call(&app, &port, &t).await;
                drop(slot);
            });
        }
    }

    fn record(&self, name: &str, result: &Result<u16, String>) {
        let mut st = self.inner.lock();
        // Only for triggers still configured: a removed one's counts are gone.
        if st.targets.iter().any(|t| t.spec.name == name) {
            let c = st.counts.entry(name.to_string()).or_default();
            match result {
                Ok(s) => *c.counts_by_status.entry(*s).or_default() += 1,
                Err(_) => c.failure_count += 1,
            }
        }
    }
}

/// One trigger call; counts the outcome.
async fn call(app: &Arc<App>, port: &Arc<PortState>, t: &Trigger) -> Result<u16, String> {
    let path = if t.spec.send_id {
        format!("{}?x-request-id={}", t.path, uuid::Uuid::new_v4())
    } else {
        t.path.clone()
    };
    let r = send(
        app.outbound(t.spec.verify_tls),
        t.method.clone(),
        &t.origin,
        &path,
        t.headers.clone(),
        Body::from_bytes(t.body.clone()),
        t.timeout,
    )
    .await;
    let result = match r {
        Ok(resp) => {
            let s = resp.status().as_u16();
            // Drain so the pooled connection can be reused (bounded: a body
            // that never ends must not hold the call's slot).
            let _ = tokio::time::timeout(t.timeout, resp.into_body().collect()).await;
            Ok(s)
        }
        Err(e) => Err(e.to_string()),
    };
    port.triggers.record(&t.spec.name, &result);
    result
}

/// Routes `/response/trigger/...`; `None` if not ours.
pub async fn route(a: &Admin<'_>) -> Option<ApiResult> {
    let ["response", "trigger", rest @ ..] = a.segs else {
        return None;
    };
    let tr = &a.port.triggers;
    Some(match rest {
        ["add"] if a.is_mutation() => (|| {
            let spec: TriggerSpec = crate::proxy::json_body(a)?;
            let t = Arc::new(Trigger::new(spec).map_err(ApiError::BadRequest)?);
            let line = serde_json::to_string(&t.spec).unwrap_or_default();
            let mut st = tr.inner.lock();
            match st.targets.iter().position(|x| x.spec.name == t.spec.name) {
                Some(i) => st.targets[i] = t,
                None => st.targets.push(t),
            }
            tr.refresh_active(&st);
            Ok(ok(format!("Added trigger: {line}")))
        })(),
        ["clear"] if a.is_mutation() => {
            let mut st = tr.inner.lock();
            *st = State::default();
            tr.refresh_active(&st);
            Ok(ok("Triggers cleared"))
        }
        ["counts", "clear"] if a.is_mutation() => {
            tr.inner.lock().counts.clear();
            Ok(ok("Trigger counts cleared"))
        }
        [] | ["list"] if a.is_get() => {
            let st = tr.inner.lock();
            let list: Vec<serde_json::Value> = st
                .targets
                .iter()
                .map(|t| {
                    let mut v = serde_json::to_value(&t.spec).unwrap_or_default();
                    if let Some(o) = v.as_object_mut() {
                        o.insert("enabled".into(), t.enabled.load(Ordering::Relaxed).into());
                    }
                    v
                })
                .collect();
            Ok(json(&list))
        }
        ["counts"] if a.is_get() => Ok(json(&tr.inner.lock().counts)),
        [names, "invoke"] if a.is_mutation() => {
            let targets = {
                let st = tr.inner.lock();
                let names = admin::list(names);
                let found: Result<Vec<Arc<Trigger>>, ApiError> = names
                    .iter()
                    .map(|n| {
                        st.targets
                            .iter()
                            .find(|t| t.spec.name == *n)
                            .cloned()
                            .ok_or_else(|| ApiError::bad(format!("unknown trigger {n:?}")))
                    })
                    .collect();
                found
            };
            match targets {
                Ok(ts) if !ts.is_empty() => {
                    let mut outcomes = Vec::with_capacity(ts.len());
                    for t in ts {
                        tr.inner
                            .lock()
                            .counts
                            .entry(t.spec.name.clone())
                            .or_default()
                            .trigger_count += 1;
                        match call(a.app, a.port, &t).await {
                            Ok(s) => outcomes.push(format!("{} -> {s}", t.spec.name)),
                            Err(e) => outcomes.push(format!("{} -> error: {e}", t.spec.name)),
                        }
                    }
                    Ok(ok(format!("Triggers invoked: {}", outcomes.join("; "))))
                }
                Ok(_) => Err(ApiError::bad("no trigger names given")),
                Err(e) => Err(e),
            }
        }
        [name, action @ ("remove" | "enable" | "disable")] if a.is_mutation() => {
            let mut st = tr.inner.lock();
            match st.targets.iter().position(|t| t.spec.name == *name) {
                None => Err(ApiError::bad(format!("unknown trigger {name:?}"))),
                Some(i) => {
                    let msg = match *action {
                        "remove" => {
                            st.targets.remove(i);
                            st.counts.remove(*name);
                            format!("Trigger {name} removed")
                        }
                        "enable" => {
                            st.targets[i].enabled.store(true, Ordering::Relaxed);
                            format!("Trigger {name} enabled")
                        }
                        _ => {
                            st.targets[i].enabled.store(false, Ordering::Relaxed);
                            format!("Trigger {name} disabled")
                        }
                    };
                    tr.refresh_active(&st);
                    Ok(ok(msg))
                }
            }
        }
        _ => return None,
    })
}
