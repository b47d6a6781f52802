//! The per-peer view folded on arrival: per instance and target, its
//! requests and errors per wall-clock second (from its timeline keys) and
//! its whole-run latency (from its `client` document's histogram), enough
//! for a per-peer breakdown and a "which pod is slow" table. Small by
//! design: per second three integers in one array per minute, no per-second
//! histograms; a key's part is added and taken out exactly like the merged
//! timeline's.

use std::collections::BTreeMap;

use serde::Serialize;

use super::fold_timeline::Contribution;
use super::Registry;
use crate::client::document::{ClientResults, LatencyStats};

/// Per second of a minute: requests, errors, intervals.
type Minute = [[u32; 3]; 60];

/// One instance's part in one target.
#[derive(Debug, Default)]
pub struct PeerTarget {
    requests: u64,
    errors: u64,
    /// Intervals held (summed over keys).
    intervals: u64,
    /// minute -> its seconds.
    minutes: BTreeMap<u64, Box<Minute>>,
    /// From the `client` document: (invocations, whole-run latency).
    results: Option<(u64, LatencyStats)>,
}

impl PeerTarget {
    fn is_empty(&self) -> bool {
        self.intervals == 0 && self.results.is_none()
    }
}

/// One instance's targets.
#[derive(Debug, Default)]
pub struct PeerFold {
    targets: BTreeMap<String, PeerTarget>,
}

impl PeerFold {
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Adds (`add`) or takes out one timeline key's part.
    pub fn apply_timeline(&mut self, c: &Contribution, add: bool) {
        for (target, secs) in c {
            let t = self.targets.entry(target.clone()).or_default();
            for (unix, k) in secs {
                let req = k.requests();
                let err = k.error_count();
                let n = k.intervals();
                let f = |a: u64, b: u64| {
                    if add {
                        a.saturating_add(b)
                    } else {
                        a.saturating_sub(b)
                    }
                };
                t.requests = f(t.requests, req);
                t.errors = f(t.errors, err);
                t.intervals = f(t.intervals, n);
                let (minute, s) = (unix / 60, (unix % 60) as usize);
                let m = t
                    .minutes
                    .entry(minute)
                    .or_insert_with(|| Box::new([[0; 3]; 60]));
                let g = |a: u32, b: u64| {
                    let b = u32::try_from(b).unwrap_or(u32::MAX);
                    if add {
                        a.saturating_add(b)
                    } else {
                        a.saturating_sub(b)
                    }
                };
                m[s] = [g(m[s][0], req), g(m[s][1], err), g(m[s][2], n)];
                if m.iter().all(|x| x[2] == 0) {
                    t.minutes.remove(&minute);
                }
            }
            if t.is_empty() {
                self.targets.remove(target);
            }
        }
    }

    /// The instance's `client` document (`None`: removed).
    pub fn set_results(&mut self, doc: Option<&ClientResults>) {
        for t in self.targets.values_mut() {
            t.results = None;
        }
        if let Some(doc) = doc {
            for (name, n) in &doc.target_invocation_counts {
                let lat = doc
                    .histograms
                    .get(name)
                    .map(LatencyStats::of)
                    .or_else(|| doc.latency_by_target.get(name).copied())
                    .unwrap_or_default();
                self.targets.entry(name.clone()).or_default().results = Some((*n, lat));
            }
        }
        self.targets.retain(|_, t| !t.is_empty());
    }

    /// `{target: view}`; `seconds`: with each second as `[unix, requests, errors]`.
    pub fn view(&self, seconds: bool) -> BTreeMap<String, PeerView> {
        self.targets
            .iter()
            .map(|(name, t)| {
                let per_second = seconds.then(|| {
                    t.minutes
                        .iter()
                        .flat_map(|(m, secs)| {
                            secs.iter()
                                .enumerate()
                                .filter(|(_, x)| x[2] > 0)
                                .map(move |(s, x)| [m * 60 + s as u64, x[0] as u64, x[1] as u64])
                        })
                        .collect()
                });
                let secs: u64 = t
                    .minutes
                    .values()
                    .map(|m| m.iter().filter(|x| x[2] > 0).count() as u64)
                    .sum();
                (
                    name.clone(),
                    PeerView {
                        requests: t.requests,
                        errors: t.errors,
                        seconds: secs,
                        first: t.minutes.iter().next().and_then(|(m, s)| {
                            let i = s.iter().position(|x| x[2] > 0)?;
                            Some(m * 60 + i as u64)
                        }),
                        last: t.minutes.iter().next_back().and_then(|(m, s)| {
                            let i = s.iter().rposition(|x| x[2] > 0)?;
                            Some(m * 60 + i as u64)
                        }),
                        invocations: t.results.as_ref().map(|r| r.0),
                        latency_ms: t.results.as_ref().map(|r| r.1),
                        per_second,
                    },
                )
            })
            .collect()
    }
}

/// One instance's view of one target.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerView {
    /// Requests over its timeline's seconds.
    pub requests: u64,
    /// Transport errors and 5xx responses over them.
    pub errors: u64,
    /// Seconds with an interval.
    pub seconds: u64,
    /// The first and last such second (Unix).
    pub first: Option<u64>,
    pub last: Option<u64>,
    /// From its `client` document: requests sent and whole-run latency.
    pub invocations: Option<u64>,
    pub latency_ms: Option<LatencyStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_second: Option<Vec<[u64; 3]>>,
}

/// `{label: {address: {target: view}}}` from the per-peer folds (built
/// under the lock: the cost is the instances and, with `seconds`, their
/// seconds).
pub(super) fn peer_views(reg: &Registry, seconds: bool) -> http::Response<crate::body::Body> {
    let out: BTreeMap<String, BTreeMap<String, BTreeMap<String, PeerView>>> = {
        let st = reg.inner.lock();
        st.lockers
            .folds()
            .labels()
            .filter(|(_, f)| !f.peers.is_empty())
            .map(|(label, f)| {
                let by_addr = f
                    .peers
                    .iter()
                    .map(|(a, p)| (a.clone(), p.view(seconds)))
                    .collect();
                (label.clone(), by_addr)
            })
            .collect()
    };
    crate::body::json(&out)
}
