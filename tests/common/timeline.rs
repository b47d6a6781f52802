//! Peer reports for the registry tests: the text of a
//! `client_timeline_<minute>` locker key (1 s intervals with their encoded
//! histograms), in the shape a peer's report sends.

use std::collections::BTreeMap;

use goto_control::client::timeline::ReportedTimeline;
use goto_control::histcodec;
use goto_engine::{Interval, LatencySummary};

/// `n` 1 s intervals of wall-clock minute `minute`, `req` requests each at
/// `lat_us`; the builders set the rest.
pub struct Minute<'a> {
    target: &'a str,
    minute: u64,
    n: u64,
    req: u64,
    lat_us: u64,
    /// Each interval's 503s, when set (then listed even at 0, as a peer that
    /// saw some does).
    e503: Option<u64>,
    /// Where in its second each interval ends.
    frac: f64,
    bytes_per_req: u64,
}

impl<'a> Minute<'a> {
    pub fn new(minute: u64, n: u64, req: u64, lat_us: u64) -> Minute<'a> {
        Minute {
            target: "t",
            minute,
            n,
            req,
            lat_us,
            e503: None,
            frac: 0.5,
            bytes_per_req: 0,
        }
    }

    pub fn target(mut self, t: &'a str) -> Self {
        self.target = t;
        self
    }

    /// `e` of each interval's requests answered 503.
    pub fn errors(mut self, e: u64) -> Self {
        self.e503 = Some(e);
        self
    }

    pub fn at(mut self, frac: f64) -> Self {
        self.frac = frac;
        self
    }

    pub fn bytes_per_request(mut self, b: u64) -> Self {
        self.bytes_per_req = b;
        self
    }

    /// The key's JSON text: `{target: {intervals, histograms}}`.
    pub fn text(&self) -> String {
        let mut r = ReportedTimeline::default();
        let req = self.req;
        let e = self.e503.unwrap_or(0).min(req);
        for k in 0..self.n {
            let mut h = goto_engine::stats::latency_histogram();
            for _ in 0..req {
                h.record(self.lat_us).ok();
            }
            let mut codes = BTreeMap::from([(200, req - e)]);
            if self.e503.is_some() {
                codes.insert(503, e);
            }
            r.intervals.push(Interval {
                t: (k + 1) as f64,
                unix: (self.minute * 60 + k) as f64 + self.frac,
                seconds: 1.0,
                requests: req,
                counts_by_status_codes: codes,
                errors: BTreeMap::new(),
                bytes_read: req * self.bytes_per_req,
                bytes_written: 0,
                rps: req as f64,
                latency_ms: LatencySummary::of(&h),
                latency_uncorrected_ms: None,
            });
            r.histograms.push(histcodec::encode_plain(&h));
        }
        serde_json::to_string(&BTreeMap::from([(self.target, r)])).unwrap_or_default()
    }
}
