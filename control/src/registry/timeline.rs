//! Peers' timelines merged over a label: each instance's
//! `client_timeline_<minute>` locker entries hold its targets' intervals; an interval goes to the
//! wall-clock second in which it ended, and each second sums the counts of
//! every interval in it, so the merged timeline adds up to the peers'
//! totals. Latency percentiles come from the merged interval histograms
//! when every interval of the second carried one.

use std::collections::BTreeMap;

use goto_engine::{Histogram, Interval, LatencySummary};
use serde::Serialize;
use serde_json::Value;

use super::Registry;
use crate::body::json;
use crate::client::timeline::ReportedTimeline;
use crate::histcodec;

/// One second of a target's merged timeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MergedInterval {
    /// Seconds since the target's first merged second.
    pub t: u64,
    /// The wall-clock second (since the Unix epoch) the intervals ended in.
    pub unix: u64,
    pub requests: u64,
    pub counts_by_status_codes: BTreeMap<u16, u64>,
    pub errors: BTreeMap<String, u64>,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// The sum of each peer's achieved rate in this second.
    pub rps: f64,
    /// Instances that reported intervals ending in this second.
    pub peers: usize,
    /// From the merged interval histograms; `null` when an interval of this
    /// second came without one (an older peer).
    pub latency_ms: Option<LatencySummary>,
}

#[derive(Default)]
struct Second {
    sum: MergedInterval,
    /// Per instance: (requests, seconds) of its intervals in this second.
    per_peer: BTreeMap<String, (u64, f64)>,
    hist: Option<Histogram<u64>>,
    complete: bool,
}

/// Target -> second -> what ended in it.
#[derive(Default)]
pub struct Merge {
    targets: BTreeMap<String, BTreeMap<u64, Second>>,
    /// Reports (or intervals) that could not be read, by reason.
    pub skipped: Vec<String>,
}

impl Merge {
    /// Adds one instance's `client_timeline` report (its JSON text).
    pub fn add_text(&mut self, who: &str, text: &str) {
        match serde_json::from_str::<BTreeMap<String, ReportedTimeline>>(text) {
            Ok(m) => {
                for (target, r) in m {
                    for (k, i) in r.intervals.iter().enumerate() {
                        let h = r.histograms.get(k).and_then(Option::as_deref);
                        self.add(who, &target, i, h);
                    }
                }
            }
            Err(e) => self.skipped.push(format!("{who}: not a timeline: {e}")),
        }
    }

    fn add(&mut self, who: &str, target: &str, i: &Interval, histogram: Option<&str>) {
        if !i.unix.is_finite() || i.unix < 0.0 {
            self.skipped
                .push(format!("{who}: {target}: interval without a time"));
            return;
        }
        let unix = i.unix.floor() as u64;
        let s = self
            .targets
            .entry(target.to_string())
            .or_default()
            .entry(unix)
            .or_insert_with(|| Second {
                complete: true,
                ..Second::default()
            });
        s.sum.unix = unix;
        s.sum.requests += i.requests;
        for (c, n) in &i.counts_by_status_codes {
            *s.sum.counts_by_status_codes.entry(*c).or_default() += n;
        }
        for (e, n) in &i.errors {
            *s.sum.errors.entry(e.clone()).or_default() += n;
        }
        s.sum.bytes_read += i.bytes_read;
        s.sum.bytes_written += i.bytes_written;
        let p = s.per_peer.entry(who.to_string()).or_default();
        // Answered requests, as each peer's own `rps`.
        p.0 += i.answered();
        p.1 += i.seconds;
        match histogram.map(histcodec::decode) {
            Some(Ok(h)) => {
                let acc = s
                    .hist
                    .get_or_insert_with(goto_engine::stats::latency_histogram);
                if acc.add(&h).is_err() {
                    s.complete = false;
                }
            }
            Some(Err(e)) => {
                self.skipped.push(format!("{who}: {target}: {e}"));
                s.complete = false;
            }
            None => s.complete = false,
        }
    }

    /// `{target: [seconds, oldest first]}`.
    pub fn timelines(self) -> BTreeMap<String, Vec<MergedInterval>> {
        self.targets
            .into_iter()
            .map(|(target, seconds)| {
                let first = seconds.keys().next().copied().unwrap_or(0);
                let list = seconds
                    .into_values()
                    .map(|s| {
                        let mut m = s.sum;
                        m.t = m.unix - first;
                        m.peers = s.per_peer.len();
                        let rps: f64 = s
                            .per_peer
                            .values()
                            .filter(|(_, secs)| *secs > 0.0)
                            .map(|(n, secs)| *n as f64 / secs)
                            .sum();
                        m.rps = (rps * 1000.0).round() / 1000.0;
                        m.latency_ms = match (s.complete, &s.hist) {
                            (true, Some(h)) => Some(LatencySummary::of(h)),
                            _ => None,
                        };
                        m
                    })
                    .collect();
                (target, list)
            })
            .collect()
    }
}

/// `{label: {target: [merged seconds]}}`, from the seconds folded on
/// arrival (built under the lock: the cost is the seconds shown).
pub(super) fn merged_timelines(reg: &Registry) -> http::Response<crate::body::Body> {
    let out: serde_json::Map<String, Value> = {
        let st = reg.inner.lock();
        st.lockers
            .folds()
            .labels()
            .filter(|(_, f)| !f.timeline.is_empty())
            .map(|(label, f)| {
                let v = serde_json::to_value(f.timeline.timelines()).unwrap_or(Value::Null);
                (label.clone(), v)
            })
            .collect()
    };
    json(&Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(
        unix: f64,
        requests: u64,
        lat_us: u64,
        with_hist: bool,
    ) -> (Interval, Option<String>) {
        let mut h = goto_engine::stats::latency_histogram();
        for _ in 0..requests {
            h.record(lat_us).ok();
        }
        (
            Interval {
                t: 1.0,
                unix,
                seconds: 1.0,
                requests,
                counts_by_status_codes: BTreeMap::from([(200, requests)]),
                errors: BTreeMap::new(),
                bytes_read: 10 * requests,
                bytes_written: 0,
                rps: requests as f64,
                latency_ms: LatencySummary::of(&h),
                latency_uncorrected_ms: None,
            },
            if with_hist {
                histcodec::encode(&h)
            } else {
                None
            },
        )
    }

    fn report(is: &[(Interval, Option<String>)]) -> String {
        let r = ReportedTimeline {
            intervals: is.iter().map(|(i, _)| i.clone()).collect(),
            histograms: is.iter().map(|(_, h)| h.clone()).collect(),
        };
        serde_json::to_string(&BTreeMap::from([("t", r)])).unwrap_or_default()
    }

    #[test]
    fn aligns_on_wall_clock_seconds_and_sums() {
        let mut m = Merge::default();
        m.add_text(
            "a",
            &report(&[
                interval(100.4, 10, 1000, true),
                interval(101.4, 20, 1000, true),
            ]),
        );
        m.add_text(
            "b",
            &report(&[
                interval(100.9, 5, 9000, true),
                interval(102.1, 7, 9000, false),
            ]),
        );
        m.add_text("c", "garbage");
        assert_eq!(m.skipped.len(), 1);
        let tl = m.timelines();
        let t = &tl["t"];
        assert_eq!(t.len(), 3);
        assert_eq!(
            (t[0].t, t[0].unix, t[0].requests, t[0].peers),
            (0, 100, 15, 2)
        );
        assert_eq!(t[0].counts_by_status_codes[&200], 15);
        assert_eq!(t[0].bytes_read, 150);
        assert_eq!(t[0].rps, 15.0);
        let lat = t[0].latency_ms.unwrap_or_default();
        assert!(lat.max > 8.9 && lat.p50 < 1.1, "{lat:?}");
        assert_eq!(t[2].t, 2);
        assert!(t[2].latency_ms.is_none(), "no histogram, no percentiles");
        let sum: u64 = t.iter().map(|i| i.requests).sum();
        assert_eq!(sum, 42);
    }
}
