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

pub mod routes;

use crate::body::Body;
use crate::error::ApiError;
use crate::proxy::client::Outbound;
use crate::proxy::forward::{send, SendError};
use crate::proxy::target::{parse_http_url, upstream_timeout, valid_name, Pairs};
use crate::proxy::ProxyError;

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

/// What can go wrong with triggers, apart from the HTTP answer it becomes.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// A list of names that does not parse (the reason says why).
    #[error("{0}")]
    Invalid(String),
    #[error("invalid trigger name {0:?}: non-empty, no ',', '/', '?', '#', '%' or spaces")]
    Name(String),
    #[error("invalid method {0:?}")]
    Method(String),
    #[error("invalid header name {0:?}")]
    HeaderName(String),
    #[error("invalid header value {0:?}")]
    HeaderValue(String),
    #[error("invalid status {0} in triggerOnResponseStatuses: must be 100-599")]
    Status(u16),
    /// The URL, header pairs or timeout (checked as a proxy target's are).
    #[error(transparent)]
    Spec(#[from] ProxyError),
    #[error("unknown trigger {0:?}")]
    Unknown(String),
}

// Unknown names stay 400s, as the original goto answers them.
impl From<TriggerError> for ApiError {
    fn from(e: TriggerError) -> ApiError {
        ApiError::BadRequest(e.to_string())
    }
}

impl Trigger {
    fn new(spec: TriggerSpec) -> Result<Trigger, TriggerError> {
        if !valid_name(&spec.name) {
            return Err(TriggerError::Name(spec.name));
        }
        let method = match spec
            .method
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| TriggerError::Method(m.to_string()))?,
            None if spec.body.is_empty() => Method::GET,
            None => Method::POST,
        };
        let (origin, base) = parse_http_url(&spec.url)?;
        let mut headers = HeaderMap::new();
        for (k, v) in spec.headers.to_vec("headers")? {
            let n = HeaderName::from_bytes(k.trim().as_bytes())
                .map_err(|_| TriggerError::HeaderName(k.clone()))?;
            let v = v.unwrap_or_default();
            let v = HeaderValue::from_str(&v).map_err(|_| TriggerError::HeaderValue(v.clone()))?;
            headers.append(n, v);
        }
        if let Some(s) = spec
            .trigger_on_response_statuses
            .iter()
            .find(|s| !(100..=599).contains(*s))
        {
            return Err(TriggerError::Status(*s));
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
pub struct Triggers {
    active: AtomicBool,
    /// Shared with the background calls, which count their outcomes.
    inner: Arc<Mutex<State>>,
    out: Outbound,
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

/// What a trigger name can be told to do.
#[derive(Debug, Clone, Copy)]
pub enum TriggerAction {
    Remove,
    Enable,
    Disable,
}

impl Triggers {
    pub fn new(out: Outbound) -> Triggers {
        Triggers {
            active: AtomicBool::new(false),
            inner: Arc::new(Mutex::new(State::default())),
            out,
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Adds (or replaces, by name) a trigger; returns its JSON echo.
    pub fn add(&self, spec: TriggerSpec) -> Result<String, TriggerError> {
        let t = Arc::new(Trigger::new(spec)?);
        let line = serde_json::to_string(&t.spec).unwrap_or_default();
        let mut st = self.inner.lock();
        match st.targets.iter().position(|x| x.spec.name == t.spec.name) {
            Some(i) => st.targets[i] = t,
            None => st.targets.push(t),
        }
        self.refresh_active(&st);
        Ok(line)
    }

    pub fn clear(&self) {
        let mut st = self.inner.lock();
        *st = State::default();
        self.refresh_active(&st);
    }

    pub fn clear_counts(&self) {
        self.inner.lock().counts.clear();
    }

    /// Every trigger's spec with its `enabled` flag.
    pub fn views(&self) -> Vec<serde_json::Value> {
        let st = self.inner.lock();
        st.targets
            .iter()
            .map(|t| {
                let mut v = serde_json::to_value(&t.spec).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("enabled".into(), t.enabled.load(Ordering::Relaxed).into());
                }
                v
            })
            .collect()
    }

    pub fn counts_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.inner.lock().counts).unwrap_or_default()
    }

    /// Removes, enables or disables a trigger; an unknown name is an error.
    pub fn act(&self, name: &str, action: TriggerAction) -> Result<(), TriggerError> {
        let mut st = self.inner.lock();
        let i = st
            .targets
            .iter()
            .position(|t| t.spec.name == name)
            .ok_or_else(|| TriggerError::Unknown(name.to_string()))?;
        match action {
            TriggerAction::Remove => {
                st.targets.remove(i);
                st.counts.remove(name);
            }
            TriggerAction::Enable => st.targets[i].enabled.store(true, Ordering::Relaxed),
            TriggerAction::Disable => st.targets[i].enabled.store(false, Ordering::Relaxed),
        }
        self.refresh_active(&st);
        Ok(())
    }

    /// Calls the named triggers now, one after the other; one outcome line each.
    pub async fn invoke(&self, names: &str) -> Result<Vec<String>, TriggerError> {
        let targets = {
            let st = self.inner.lock();
            crate::api::names(names, "trigger names")
                .map_err(|e| TriggerError::Invalid(e.to_string()))?
                .iter()
                .map(|n| {
                    st.targets
                        .iter()
                        .find(|t| t.spec.name == *n)
                        .cloned()
                        .ok_or_else(|| TriggerError::Unknown(n.clone()))
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let mut outcomes = Vec::with_capacity(targets.len());
        for t in targets {
            self.inner
                .lock()
                .counts
                .entry(t.spec.name.clone())
                .or_default()
                .trigger_count += 1;
            match call(&self.out, &self.inner, &t).await {
                Ok(s) => outcomes.push(format!("{} -> {s}", t.spec.name)),
                Err(e) => outcomes.push(format!("{} -> error: {e}", t.spec.name)),
            }
        }
        Ok(outcomes)
    }

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
    pub fn fire(&self, status: u16) {
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
            let (out, inner) = (self.out.clone(), self.inner.clone());
            tokio::spawn(async move {
                // The outcome is counted inside `call`.
                let _ = call(&out, &inner, &t).await;
                drop(slot);
            });
        }
    }
}

impl State {
    fn record(&mut self, name: &str, result: &Result<u16, SendError>) {
        let st = self;
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
async fn call(out: &Outbound, state: &Mutex<State>, t: &Trigger) -> Result<u16, SendError> {
    let path = if t.spec.send_id {
        format!("{}?x-request-id={}", t.path, uuid::Uuid::new_v4())
    } else {
        t.path.clone()
    };
    let r = send(
        out.pick(t.spec.verify_tls),
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
        Err(e) => Err(e),
    };
    state.lock().record(&t.spec.name, &result);
    result
}
