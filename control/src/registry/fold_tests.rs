//! The folded aggregates against a merge from scratch of the keys held,
//! after every kind of change: new, re-sent, replaced, removed and cleared
//! keys, a retired epoch, and a reload.

use std::collections::BTreeMap;
use std::time::SystemTime;

use goto_engine::{Interval, LatencySummary};
use serde_json::{json, Value};

use super::fold::is_timeline_key;
use super::lockers::Lockers;
use super::results::Sum;
use super::timeline::Merge;
use super::CLIENT_KEY;
use crate::client::timeline::ReportedTimeline;
use crate::histcodec;

/// A timeline key's text: `n` intervals of 1 s ending in minute `minute`,
/// `req` requests each at `lat_us`.
fn timeline_text(minute: u64, n: u64, req: u64, lat_us: u64) -> String {
    let mut intervals = Vec::new();
    let mut hists = Vec::new();
    for k in 0..n {
        let mut h = goto_engine::stats::latency_histogram();
        for j in 0..req {
            h.record(lat_us + j).ok();
        }
        intervals.push(Interval {
            t: (k + 1) as f64,
            unix: (minute * 60 + k) as f64 + 0.5,
            seconds: 1.0,
            requests: req,
            counts_by_status_codes: BTreeMap::from([(200, req - 1), (503, 1)]),
            errors: BTreeMap::new(),
            bytes_read: 7 * req,
            bytes_written: 3 * req,
            rps: req as f64,
            latency_ms: LatencySummary::of(&h),
            latency_uncorrected_ms: None,
        });
        hists.push(histcodec::encode_plain(&h));
    }
    let r = ReportedTimeline {
        intervals,
        histograms: hists,
    };
    serde_json::to_string(&BTreeMap::from([("t", r)])).unwrap_or_default()
}

fn results_text(count: u64, lat_us: u64, first: &str, last: &str) -> String {
    let mut h = goto_engine::stats::latency_histogram();
    for j in 0..count {
        h.record(lat_us + j).ok();
    }
    json!({
        "targetInvocationCounts": {"t": count},
        "targetFirstResponses": {"t": first},
        "targetLastResponses": {"t": last},
        "countsByStatusCodes": {"200": count},
        "countsByTargetStatusCode": {"t": {"200": count}},
        "countsByTargetHeaderValues": {"t": {"x": {"x1": count}}},
        "latencyByTarget": {"t": {"count": count}},
        "latencyHistograms": {"t": histcodec::encode(&h)},
        "thresholdsByTarget": {"t": [{"threshold": "p99 < 1s", "actual": 1.0, "unit": "ms", "ok": true}]},
    })
    .to_string()
}

/// What the old read path computed: every held key merged from scratch.
fn from_scratch(l: &Lockers) -> (Value, Value) {
    let mut results = serde_json::Map::new();
    let mut timelines = serde_json::Map::new();
    for (label, by_addr) in &l.by_label {
        let mut sum = Sum::default();
        let mut merge = Merge::default();
        let (mut any_sum, mut any_tl) = (false, false);
        for (addr, locker) in by_addr {
            for (k, e) in locker {
                if k == CLIENT_KEY {
                    sum.add_text(addr, &e.data);
                    any_sum = true;
                } else if is_timeline_key(k) {
                    merge.add_text(addr, &e.data);
                    any_tl = true;
                }
            }
        }
        if any_sum {
            results.insert(
                label.clone(),
                serde_json::to_value(sum.document()).unwrap_or_default(),
            );
        }
        if any_tl {
            timelines.insert(
                label.clone(),
                serde_json::to_value(merge.timelines()).unwrap_or_default(),
            );
        }
    }
    (Value::Object(results), Value::Object(timelines))
}

fn folded(l: &Lockers) -> (Value, Value) {
    let mut results = serde_json::Map::new();
    let mut timelines = serde_json::Map::new();
    for (label, f) in l.folds().labels() {
        if !f.results.is_empty() {
            results.insert(
                label.clone(),
                serde_json::to_value(f.results.document()).unwrap_or_default(),
            );
        }
        if !f.timeline.is_empty() {
            timelines.insert(
                label.clone(),
                serde_json::to_value(f.timeline.timelines()).unwrap_or_default(),
            );
        }
    }
    (Value::Object(results), Value::Object(timelines))
}

fn requests(tl: &Value, label: &str) -> u64 {
    tl[label]["t"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["requests"].as_u64().unwrap_or(0))
        .sum()
}

#[track_caller]
fn same(l: &Lockers) -> (Value, Value) {
    let (a, b) = (folded(l), from_scratch(l));
    assert_eq!(a.0, b.0, "results differ");
    assert_eq!(a.1, b.1, "timelines differ");
    a
}

#[test]
fn folded_timeline_equals_a_fresh_merge_after_every_change() {
    let now = SystemTime::UNIX_EPOCH;
    let mut l = Lockers::default();
    let key = |m: u64| format!("client_timeline_{m}");
    for (i, addr) in ["a:1", "b:2", "c:3"].iter().enumerate() {
        for m in 100..103 {
            let text = timeline_text(m, 60, 10 + i as u64, 1000 * (i as u64 + 1));
            l.store("p", addr, &key(m), text, now);
        }
    }
    let (_, tl) = same(&l);
    assert_eq!(requests(&tl, "p"), 3 * 60 * (10 + 11 + 12));
    // Re-sent unchanged: counted once.
    l.store("p", "a:1", &key(100), timeline_text(100, 60, 10, 1000), now);
    let (_, tl) = same(&l);
    assert_eq!(requests(&tl, "p"), 3 * 60 * 33);
    // The current minute grows, re-reported twice: replaced exactly.
    l.store("p", "b:2", &key(103), timeline_text(103, 20, 11, 2000), now);
    l.store("p", "b:2", &key(103), timeline_text(103, 45, 11, 2000), now);
    let (_, tl) = same(&l);
    assert_eq!(requests(&tl, "p"), 3 * 60 * 33 + 45 * 11);
    // Bad text folds nothing and replaces a good key's contribution.
    l.store("p", "c:3", &key(102), "not json".into(), now);
    let (_, tl) = same(&l);
    assert_eq!(requests(&tl, "p"), 3 * 60 * 33 + 45 * 11 - 60 * 12);
    // Removed key, a `_last` copy (not folded), a cleared instance.
    assert!(l.remove("p", "a:1", &key(101)));
    assert!(l.lock("p", "a:1", &key(100)));
    let (_, tl) = same(&l);
    assert_eq!(requests(&tl, "p"), 3 * 60 * 33 + 45 * 11 - 60 * 22);
    assert!(l.clear_instance("p", "b:2"));
    let (_, tl) = same(&l);
    assert_eq!(requests(&tl, "p"), 2 * 60 * 10 + 2 * 60 * 12);
    // A retired epoch keeps counting, as its keys stay readable.
    l.retire("p", "a:1", 0);
    l.store("p", "a:1", &key(104), timeline_text(104, 5, 10, 1000), now);
    let (_, tl) = same(&l);
    assert_eq!(requests(&tl, "p"), 2 * 60 * 10 + 2 * 60 * 12 + 50);
    // A reload rebuilds the same aggregates.
    let back = Lockers::loaded(l.by_label.clone());
    assert_eq!(folded(&back), folded(&l));
    l.clear_label("p");
    assert_eq!(folded(&l), (json!({}), json!({})));
    l.store("q", "a:1", &key(1), timeline_text(1, 2, 3, 10), now);
    l.clear_all();
    assert_eq!(folded(&l), (json!({}), json!({})));
}

#[test]
fn folded_results_equal_a_fresh_merge_after_every_change() {
    let now = SystemTime::UNIX_EPOCH;
    let mut l = Lockers::default();
    let t = |s: u32| format!("2026-01-01T00:00:{s:02}.000000Z");
    l.store(
        "p",
        "a:1",
        CLIENT_KEY,
        results_text(10, 1000, &t(5), &t(20)),
        now,
    );
    l.store(
        "p",
        "b:2",
        CLIENT_KEY,
        results_text(20, 5000, &t(3), &t(30)),
        now,
    );
    l.store(
        "p",
        "c:3",
        CLIENT_KEY,
        results_text(30, 9000, &t(1), &t(10)),
        now,
    );
    let (r, _) = same(&l);
    assert_eq!(r["p"]["targetInvocationCounts"]["t"], 60);
    // Re-sent: once. Replaced by a later report: the new figures only.
    l.store(
        "p",
        "a:1",
        CLIENT_KEY,
        results_text(10, 1000, &t(5), &t(20)),
        now,
    );
    l.store(
        "p",
        "a:1",
        CLIENT_KEY,
        results_text(15, 1000, &t(5), &t(40)),
        now,
    );
    let (r, _) = same(&l);
    assert_eq!(r["p"]["targetInvocationCounts"]["t"], 65);
    assert_eq!(r["p"]["targetLastResponses"]["t"], t(40));
    // The instance with the earliest first response goes: it steps back.
    assert!(l.remove("p", "c:3", CLIENT_KEY));
    let (r, _) = same(&l);
    assert_eq!(r["p"]["targetInvocationCounts"]["t"], 35);
    assert_eq!(r["p"]["targetFirstResponses"]["t"], t(3));
    assert_eq!(r["p"]["latencyByTarget"]["t"]["count"], 35);
    assert!(l.clear_instance("p", "b:2"));
    let (r, _) = same(&l);
    assert_eq!(r["p"]["countsByStatusCodes"]["200"], 15);
    assert!(l.remove("p", "a:1", CLIENT_KEY));
    assert_eq!(folded(&l), (json!({}), json!({})));
}
