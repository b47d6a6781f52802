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

use crate::admin::{self, Admin};
use crate::body::{json, ok};
use crate::bounded::slot;
use crate::error::{ApiError, ApiResult};

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
}

/// Validates a comma-separated header list; every name or nothing.
fn header_names(s: &str) -> Result<Vec<(String, HeaderName)>, ApiError> {
    let names = admin::list(s);
    if names.is_empty() {
        return Err(ApiError::bad("no headers given"));
    }
    names
        .into_iter()
        .map(|n| {
            HeaderName::from_bytes(n.as_bytes())
                .map(|h| (h.as_str().to_string(), h))
                .map_err(|_| ApiError::bad(format!("invalid header name {n:?}")))
        })
        .collect()
}

/// Routes `/request/headers/track/...`; `None` if not ours.
pub fn route(a: &Admin<'_>) -> Option<ApiResult> {
    let ["request", "headers", "track", rest @ ..] = a.segs else {
        return None;
    };
    let t = &a.port.tracking;
    Some(match rest {
        ["add", headers] if a.is_mutation() => header_names(headers).map(|names| {
            let mut inner = t.inner.lock();
            for (key, name) in names {
                inner.entry(key).or_insert_with(|| Tracked {
                    name,
                    counts: HeaderCounts::default(),
                });
            }
            t.set_active(&inner);
            ok(format!("Header {headers} will be tracked"))
        }),
        ["clear"] if a.is_mutation() => {
            let mut inner = t.inner.lock();
            inner.clear();
            t.set_active(&inner);
            Ok(ok("All tracking headers cleared"))
        }
        ["counts", "clear"] if a.is_mutation() => {
            for tr in t.inner.lock().values_mut() {
                tr.counts = HeaderCounts::default();
            }
            Ok(ok("Header tracking counts cleared"))
        }
        ["counts", "clear", headers] if a.is_mutation() => {
            header_names(headers).and_then(|names| {
                let mut inner = t.inner.lock();
                if let Some((k, _)) = names.iter().find(|(k, _)| !inner.contains_key(k)) {
                    return Err(ApiError::bad(format!("header {k} is not tracked")));
                }
                for (k, _) in &names {
                    if let Some(tr) = inner.get_mut(k) {
                        tr.counts = HeaderCounts::default();
                    }
                }
                Ok(ok(format!("Header tracking counts cleared for {headers}")))
            })
        }
        [headers, "remove"] if a.is_mutation() => header_names(headers).and_then(|names| {
            let mut inner = t.inner.lock();
            if let Some((k, _)) = names.iter().find(|(k, _)| !inner.contains_key(k)) {
                return Err(ApiError::bad(format!("header {k} is not tracked")));
            }
            for (k, _) in &names {
                inner.remove(k);
            }
            t.set_active(&inner);
            Ok(ok(format!("Header {headers} removed from tracking")))
        }),
        [] | ["list"] if a.is_get() => {
            let inner = t.inner.lock();
            Ok(json(&inner.keys().collect::<Vec<_>>()))
        }
        ["counts"] if a.is_get() => {
            let inner = t.inner.lock();
            let view: BTreeMap<&str, &HeaderCounts> = inner
                .iter()
                .map(|(k, tr)| (k.as_str(), &tr.counts))
                .collect();
            Ok(json(&view))
        }
        [header, "counts"] if a.is_get() => {
            let key = header.to_ascii_lowercase();
            let inner = t.inner.lock();
            match inner.get(&key) {
                Some(tr) => Ok(json(&tr.counts)),
                None => Err(ApiError::bad(format!("header {header} is not tracked"))),
            }
        }
        _ => return None,
    })
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
