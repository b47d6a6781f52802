//! The simulated peers: their addresses, the deterministic reports they
//! send (timeline minutes with histograms, client documents) and the sums
//! those reports must merge to.

use std::collections::BTreeMap;

use goto_control::client::timeline::ReportedTimeline;
use goto_control::histcodec;
use goto_engine::{Interval, LatencySummary};
use serde_json::json;

use crate::{LABEL, POOL, TARGET};

/// xorshift64*: deterministic, so a run's sums are known.
pub(crate) fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

/// One pre-built interval histogram: its encoding, count and summary.
pub(crate) struct PoolHist {
    pub(crate) text: String,
    pub(crate) count: u64,
    pub(crate) summary: LatencySummary,
}

/// Interval histograms of about `rps` requests each, latencies spread
/// around 2 ms with a tail (a few hundred recorded buckets, like a real
/// second of traffic).
pub(crate) fn pool(rps: u64) -> Vec<PoolHist> {
    (0..POOL)
        .map(|k| {
            let mut h = goto_engine::stats::latency_histogram();
            let count = (rps * (80 + (k as u64 * 7) % 41) / 100).max(1);
            for i in 0..count {
                let r = mix((k as u64) << 32 | i);
                let base = 800 + r % 2400;
                let tail = if r.is_multiple_of(50) {
                    (r >> 20) % 40_000
                } else {
                    0
                };
                h.record(base + tail).ok();
            }
            PoolHist {
                text: histcodec::encode_plain(&h).unwrap_or_default(),
                count,
                summary: LatencySummary::of(&h),
            }
        })
        .collect()
}

/// What the simulator sent, to check the merged views against.
#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Sums {
    pub(crate) requests: u64,
    pub(crate) errors: u64,
}

pub(crate) struct Fleet {
    pub(crate) pool: Vec<PoolHist>,
    /// Whole-run histograms (deflate-encoded) and their counts.
    pub(crate) runs: Vec<(String, u64)>,
    pub(crate) start_minute: u64,
}

impl Fleet {
    pub(crate) fn new(rps: u64, minutes: u64) -> Fleet {
        let pool = pool(rps);
        let runs = (0..8u64)
            .map(|k| {
                let mut h = goto_engine::stats::latency_histogram();
                for i in 0..(20_000 + k * 1000) {
                    let r = mix(k << 40 | i);
                    h.record(800 + r % 2400 + if r.is_multiple_of(50) { r % 40_000 } else { 0 })
                        .ok();
                }
                (histcodec::encode(&h).unwrap_or_default(), h.len())
            })
            .collect();
        let now_min = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() / 60)
            .unwrap_or(0);
        Fleet {
            pool,
            runs,
            start_minute: now_min.saturating_sub(minutes),
        }
    }

    pub(crate) fn interval(&self, peer: usize, minute: u64, sec: u64) -> (Interval, String, Sums) {
        let r = mix((peer as u64) << 40 ^ minute << 8 ^ sec);
        let p = &self.pool[(r % POOL as u64) as usize];
        let n = p.count;
        // One second in ten has a few 503s: the per-peer errors.
        let e5 = if r.is_multiple_of(10) {
            1 + (r >> 8) % 3
        } else {
            0
        };
        let mut codes = BTreeMap::from([(200u16, n - e5)]);
        if e5 > 0 {
            codes.insert(503, e5);
        }
        let unix = (minute * 60 + sec) as f64 + 0.5;
        let i = Interval {
            t: ((minute - self.start_minute) * 60 + sec + 1) as f64,
            unix,
            seconds: 1.0,
            requests: n,
            counts_by_status_codes: codes,
            errors: BTreeMap::new(),
            bytes_read: n * 120,
            bytes_written: n * 40,
            rps: n as f64,
            latency_ms: p.summary,
            latency_uncorrected_ms: None,
        };
        (
            i,
            p.text.clone(),
            Sums {
                requests: n,
                errors: e5,
            },
        )
    }

    /// The `client_timeline_<minute>` text with its first `secs` seconds.
    pub(crate) fn minute(&self, peer: usize, minute: u64, secs: u64) -> (String, Sums) {
        let mut r = ReportedTimeline::default();
        let mut s = Sums::default();
        for k in 0..secs {
            let (i, h, x) = self.interval(peer, minute, k);
            r.intervals.push(i);
            r.histograms.push(Some(h));
            s.requests += x.requests;
            s.errors += x.errors;
        }
        let text = serde_json::to_string(&BTreeMap::from([(TARGET, r)])).unwrap_or_default();
        (text, s)
    }

    /// The `client` document (a `/client/results?histograms=Y` shape).
    pub(crate) fn results(&self, peer: usize, version: u64) -> (String, u64) {
        let (h, n) = &self.runs[(mix(peer as u64 ^ version << 32) % 8) as usize];
        let doc = json!({
            "targetInvocationCounts": {TARGET: n},
            "targetFirstResponses": {TARGET: "2026-01-01T00:00:00.000000Z"},
            "targetLastResponses": {TARGET: format!("2026-01-01T00:{:02}:{:02}.000000Z", version / 60 % 60, version % 60)},
            "countsByStatus": {"200 OK": n},
            "countsByStatusCodes": {"200": n},
            "countsByTargetStatus": {TARGET: {"200 OK": n}},
            "countsByTargetStatusCode": {TARGET: {"200": n}},
            "latencyByTarget": {TARGET: {"count": n}},
            "latencyHistograms": {TARGET: h},
        });
        (doc.to_string(), *n)
    }
}

/// Loopback addresses (all of 127/8 is local), so nothing the registry
/// might do with a pod's address leaves the machine.
pub(crate) fn addr(p: usize) -> String {
    format!("127.{}.{}.{}:8080", p >> 16 & 255, p >> 8 & 255, p & 255)
}

pub(crate) fn locker(p: usize, op: &str, key: &str) -> String {
    format!("/registry/peers/{LABEL}/{}/locker/{op}/{key}", addr(p))
}
