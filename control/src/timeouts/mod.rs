//! Timeout tracking (`/request/timeout/...`): counts runtime requests whose
//! client closed the connection before the response was ready
//! (`ConnectionClosed`) and those answered (`RequestCompleted`), for all
//! requests or per value of chosen request headers.
//!
//! hyper drops a request's service future when its connection closes, so a
//! guard held by that future records `ConnectionClosed` from `Drop` unless it
//! was marked complete first. The runtime path only checks one atomic flag
//! while nothing is tracked.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderMap, HeaderName};
use parking_lot::Mutex;
use serde::Serialize;

pub mod routes;

#[derive(Default, Clone, Copy, Serialize)]
pub struct Counts {
    #[serde(rename = "ConnectionClosed")]
    connection_closed: u64,
    #[serde(rename = "RequestCompleted")]
    request_completed: u64,
}

impl Counts {
    fn bump(&mut self, completed: bool) {
        if completed {
            self.request_completed += 1;
        } else {
            self.connection_closed += 1;
        }
    }
}

#[derive(Default)]
struct State {
    /// `Some` while all requests are tracked.
    all: Option<Counts>,
    /// Tracked header (lower-case) -> its name and counts by value.
    headers: BTreeMap<String, (HeaderName, BTreeMap<String, Counts>)>,
}

/// Per-port timeout tracking.
#[derive(Default)]
pub struct TimeoutTracking {
    active: AtomicBool,
    inner: Mutex<State>,
}

/// Held by a runtime request while it is served; see the module docs.
pub struct Guard<'a> {
    tracking: &'a TimeoutTracking,
    all: bool,
    /// (header key, value) pairs the request carried.
    keys: Vec<(String, String)>,
    completed: bool,
}

impl Guard<'_> {
    /// The response is ready: count the request as completed.
    pub fn complete(mut self) {
        self.completed = true;
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let mut st = self.tracking.inner.lock();
        // Tracking may have been cleared meanwhile: count only what is still tracked.
        if self.all {
            if let Some(c) = st.all.as_mut() {
                c.bump(self.completed);
            }
        }
        for (h, v) in &self.keys {
            if let Some((_, values)) = st.headers.get_mut(h) {
                crate::bounded::slot(values, v, h).bump(self.completed);
            }
        }
    }
}

impl TimeoutTracking {
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// A guard for one request, or `None` if nothing about it is tracked.
    pub fn guard(&self, headers: &HeaderMap) -> Option<Guard<'_>> {
        let st = self.inner.lock();
        let keys: Vec<(String, String)> = st
            .headers
            .iter()
            .filter_map(|(k, (name, _))| {
                let v = headers.get(name)?;
                let v = String::from_utf8_lossy(v.as_bytes());
                (!v.is_empty()).then(|| (k.clone(), v.into_owned()))
            })
            .collect();
        let all = st.all.is_some();
        drop(st);
        (all || !keys.is_empty()).then_some(Guard {
            tracking: self,
            all,
            keys,
            completed: false,
        })
    }

    fn set_active(&self, st: &State) {
        self.active.store(
            st.all.is_some() || !st.headers.is_empty(),
            Ordering::Relaxed,
        );
    }

    /// Tracks every request.
    pub fn track_all(&self) {
        let mut st = self.inner.lock();
        st.all.get_or_insert_with(Counts::default);
        self.set_active(&st);
    }

    /// Tracks requests by the values of these headers.
    pub fn track_headers(&self, names: Vec<HeaderName>) {
        let mut st = self.inner.lock();
        for h in names {
            st.headers
                .entry(h.as_str().to_string())
                .or_insert_with(|| (h, BTreeMap::new()));
        }
        self.set_active(&st);
    }

    pub fn clear(&self) {
        let mut st = self.inner.lock();
        *st = State::default();
        self.set_active(&st);
    }

    /// The counts, as JSON (`all` and by header value).
    pub fn status_json(&self) -> serde_json::Value {
        let st = self.inner.lock();
        let headers: BTreeMap<&str, &BTreeMap<String, Counts>> = st
            .headers
            .iter()
            .map(|(k, (_, v))| (k.as_str(), v))
            .collect();
        serde_json::json!({ "all": st.all, "headers": headers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_guard_counts_connection_closed() {
        let t = TimeoutTracking::default();
        t.inner.lock().all = Some(Counts::default());
        drop(t.guard(&HeaderMap::new()));
        if let Some(g) = t.guard(&HeaderMap::new()) {
            g.complete();
        }
        let c = t.inner.lock().all.unwrap_or_default();
        assert_eq!((c.connection_closed, c.request_completed), (1, 1));
    }
}
