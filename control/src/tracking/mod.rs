//! Request header tracking (`/request/headers/track/...`): for each tracked
//! request header, runtime requests are counted by the header's value, by
//! value and requested status (`/status/{code}`), and by value and the status
//! actually sent back (an upstream's status for proxied requests).
//!
//! Values are capped like the client side's: past
//! [`crate::bounded::MAX_KEYS`] distinct values per header, new ones are
//! counted under `<other>`.
//!
//! The runtime path checks one atomic flag first, so a port that tracks
//! nothing pays no lock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderMap, HeaderName};
use parking_lot::Mutex;
use serde::Serialize;

use crate::bounded::slot;

pub mod routes;

/// Counts for one tracked header, in the seed's JSON shape.
#[derive(Default, Serialize)]
pub struct HeaderCounts {
    #[serde(rename = "RequestCountsByHeaderValue")]
    by_value: BTreeMap<String, u64>,
    #[serde(rename = "RequestCountsByHeaderValueAndRequestedStatus")]
    by_value_requested: BTreeMap<String, BTreeMap<u16, u64>>,
    #[serde(rename = "RequestCountsByHeaderValueAndResponseStatus")]
    by_value_response: BTreeMap<String, BTreeMap<u16, u64>>,
}

struct Tracked {
    name: HeaderName,
    counts: HeaderCounts,
}

/// Per-port header tracking state.
#[derive(Default)]
pub struct HeaderTracking {
    /// True while at least one header is tracked: the runtime path's only check otherwise.
    active: AtomicBool,
    /// Keyed by lower-case header name.
    inner: Mutex<BTreeMap<String, Tracked>>,
}

impl HeaderTracking {
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Counts one finished runtime request.
    pub fn record(&self, headers: &HeaderMap, requested: Option<u16>, status: u16) {
        let mut inner = self.inner.lock();
        for t in inner.values_mut() {
            let Some(v) = headers.get(&t.name) else {
                continue;
            };
            let v = String::from_utf8_lossy(v.as_bytes());
            if v.is_empty() {
                continue;
            }
            let c = &mut t.counts;
            let name = t.name.as_str();
            *slot(&mut c.by_value, &v, name) += 1;
            if let Some(code) = requested {
                *slot(&mut c.by_value_requested, &v, name)
                    .entry(code)
                    .or_default() += 1;
            }
            *slot(&mut c.by_value_response, &v, name)
                .entry(status)
                .or_default() += 1;
        }
    }

    fn set_active(&self, inner: &BTreeMap<String, Tracked>) {
        self.active.store(!inner.is_empty(), Ordering::Relaxed);
    }

    /// Starts tracking headers (already tracked ones keep their counts).
    pub fn track(&self, names: Vec<HeaderName>) {
        let mut inner = self.inner.lock();
        for name in names {
            inner
                .entry(name.as_str().to_string())
                .or_insert_with(|| Tracked {
                    name,
                    counts: HeaderCounts::default(),
                });
        }
        self.set_active(&inner);
    }

    pub fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.clear();
        self.set_active(&inner);
    }

    /// The first of `names` not tracked, if any.
    fn untracked(inner: &BTreeMap<String, Tracked>, names: &[HeaderName]) -> Result<(), Untracked> {
        match names.iter().find(|n| !inner.contains_key(n.as_str())) {
            Some(n) => Err(Untracked(n.clone())),
            None => Ok(()),
        }
    }

    /// Zeroes the counts of some headers (all when `None`); every named
    /// header must be tracked.
    pub fn clear_counts(&self, names: Option<&[HeaderName]>) -> Result<(), Untracked> {
        let mut inner = self.inner.lock();
        match names {
            None => inner
                .values_mut()
                .for_each(|t| t.counts = HeaderCounts::default()),
            Some(names) => {
                Self::untracked(&inner, names)?;
                for n in names {
                    if let Some(t) = inner.get_mut(n.as_str()) {
                        t.counts = HeaderCounts::default();
                    }
                }
            }
        }
        Ok(())
    }

    /// Stops tracking headers; every one must be tracked.
    pub fn remove(&self, names: &[HeaderName]) -> Result<(), Untracked> {
        let mut inner = self.inner.lock();
        Self::untracked(&inner, names)?;
        for n in names {
            inner.remove(n.as_str());
        }
        self.set_active(&inner);
        Ok(())
    }

    /// Tracked header names (lower-case).
    pub fn names(&self) -> Vec<String> {
        self.inner.lock().keys().cloned().collect()
    }

    /// Every tracked header's counts, as JSON.
    pub fn counts_json(&self) -> serde_json::Value {
        let inner = self.inner.lock();
        let view: BTreeMap<&str, &HeaderCounts> =
            inner.iter().map(|(k, t)| (k.as_str(), &t.counts)).collect();
        serde_json::to_value(view).unwrap_or_default()
    }

    /// One header's counts, as JSON; `None` if it is not tracked.
    pub fn header_counts_json(&self, header: &str) -> Option<serde_json::Value> {
        let inner = self.inner.lock();
        let t = inner.get(&header.to_ascii_lowercase())?;
        serde_json::to_value(&t.counts).ok()
    }
}

/// A header named in a call that is not tracked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("header {0} is not tracked")]
pub struct Untracked(pub HeaderName);

impl From<Untracked> for crate::error::ApiError {
    fn from(e: Untracked) -> crate::error::ApiError {
        crate::error::ApiError::BadRequest(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_value_and_statuses() {
        let t = HeaderTracking::default();
        t.inner.lock().insert(
            "foo".into(),
            Tracked {
                name: HeaderName::from_static("foo"),
                counts: HeaderCounts::default(),
            },
        );
        let mut h = HeaderMap::new();
        h.insert("foo", "f1".parse().unwrap());
        t.record(&h, None, 200);
        t.record(&h, Some(503), 503);
        t.record(&HeaderMap::new(), None, 200);
        let v = serde_json::to_value(&t.inner.lock()["foo"].counts).unwrap();
        assert_eq!(v["RequestCountsByHeaderValue"]["f1"], 2);
        assert_eq!(
            v["RequestCountsByHeaderValueAndRequestedStatus"]["f1"]["503"],
            1
        );
        assert_eq!(
            v["RequestCountsByHeaderValueAndResponseStatus"]["f1"]["200"],
            1
        );
    }
}
