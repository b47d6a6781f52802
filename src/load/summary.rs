//! Figures both reports share: what the run was, the honest counts
//! (answered, succeeded, failed, in flight), rates, latency rows, the
//! schedule lag and the warning when the client fell behind its schedule.

use std::time::Duration;

use goto_engine::{Histogram, Stages, TargetStats};

pub(super) struct RunInfo<'a> {
    pub(super) url: &'a str,
    /// Every URL when `--urls-from-file` gave more than one.
    pub(super) urls: Vec<String>,
    /// Groups of URLs sharing a destination: connections are dealt over
    /// these, and each takes its group's URLs in turn per request.
    pub(super) url_groups: usize,
    /// With `--http2`, the streams per connection; `connections` then
    /// counts concurrent streams.
    pub(super) http2: Option<u32>,
    /// `--grpc`: calls, counted by gRPC status.
    pub(super) grpc: bool,
    pub(super) connections: u32,
    pub(super) cores: usize,
    pub(super) io_driver: String,
    pub(super) rate: Option<f64>,
    /// The load shape, when `--stages` gave one (`rate` is then only where
    /// its first ramp starts).
    pub(super) stages: Option<Stages>,
    /// The signal that stopped the run early (`SIGINT`, `SIGTERM`).
    pub(super) interrupted: Option<&'static str>,
    /// Why the run could not start (the report then shows the probe's error).
    pub(super) fatal: Option<String>,
}

impl RunInfo<'_> {
    /// Whether requests follow a schedule (a rate or stages), so latency
    /// counts from the scheduled instant.
    pub(super) fn paced(&self) -> bool {
        self.stages.is_some() || self.rate.is_some_and(|r| r > 0.0)
    }
}

/// The counts the headline figures come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Counts {
    /// Answers plus transport errors.
    pub(super) attempts: u64,
    /// Requests that got a response, whatever its status.
    pub(super) answered: u64,
    /// Answered with a status below 400.
    pub(super) succeeded: u64,
    /// Answered with a status outside 2xx.
    pub(super) non_2xx: u64,
    /// Transport errors (status 0).
    pub(super) errors: u64,
    /// `succeeded / attempts`, 0 when nothing was attempted.
    pub(super) success_rate: f64,
}

impl Counts {
    pub(super) fn of(s: &TargetStats) -> Counts {
        let mut c = Counts {
            attempts: s.requests,
            answered: 0,
            succeeded: 0,
            non_2xx: 0,
            errors: s.error_count(),
            success_rate: 0.0,
        };
        for (code, n) in &s.status_counts {
            if *code == 0 {
                continue;
            }
            c.answered += n;
            if *code < 400 {
                c.succeeded += n;
            }
            if !(200..300).contains(code) {
                c.non_2xx += n;
            }
        }
        // gRPC: every answered call has a gRPC status; success is OK.
        if !s.grpc_status_counts.is_empty() {
            c.succeeded = s.grpc_ok();
        }
        if c.attempts > 0 {
            c.success_rate = c.succeeded as f64 / c.attempts as f64;
        }
        c
    }
}

/// Answered requests per second.
pub(super) fn per_second(answered: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        answered as f64 / secs
    } else {
        0.0
    }
}

pub(super) fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Column names of [`latency_row`], as the text report prints them.
pub(super) const LATENCY_COLUMNS: [&str; 10] = [
    "min", "mean", "stdev", "p50", "p75", "p90", "p95", "p99", "p99.9", "max",
];

/// min, mean, stdev, p50, p75, p90, p95, p99, p99.9, max in milliseconds
/// (zeros when empty).
pub(super) fn latency_row(h: &Histogram<u64>) -> [f64; 10] {
    if h.is_empty() {
        return [0.0; 10];
    }
    let q = |p: f64| ms(h.value_at_quantile(p));
    [
        ms(h.min()),
        h.mean() / 1000.0,
        h.stdev() / 1000.0,
        q(0.5),
        q(0.75),
        q(0.9),
        q(0.95),
        q(0.99),
        q(0.999),
        ms(h.max()),
    ]
}

/// p50, p90, p99, max of the schedule lag in milliseconds (zeros when empty).
pub(super) fn lag_row(h: &Histogram<u64>) -> [f64; 4] {
    if h.is_empty() {
        return [0.0; 4];
    }
    let q = |p: f64| ms(h.value_at_quantile(p));
    [q(0.5), q(0.9), q(0.99), ms(h.max())]
}

/// Under a rate or stages, a plain-words warning when the client could not
/// keep its schedule: requests left later than one connection's interval
/// at the schedule's mean rate (lag p99 above it), or fewer went out than
/// the schedule asked (under 99%; with stages, their integral over the
/// run). Either way the latency, counted from the schedule, includes that
/// lateness.
pub(super) fn fell_behind(
    info: &RunInfo<'_>,
    elapsed: Duration,
    s: &TargetStats,
) -> Option<String> {
    if s.requests == 0 {
        return None;
    }
    // Requests still in flight when a duration ends are not counted, so
    // the achieved rate is taken over the run less one typical response time.
    let service = Duration::from_micros(s.latency_uncorrected.value_at_quantile(0.5));
    let mut window = elapsed.saturating_sub(service);
    if window.is_zero() {
        window = elapsed;
    }
    let secs = window.as_secs_f64();
    if secs <= 0.0 {
        return None;
    }
    // The mean rate the schedule asked over the window, and how to name it.
    let (rate, asked) = match (&info.stages, info.rate) {
        (Some(stages), _) => {
            let mean = stages.count_at(window) / secs;
            (mean, format!("the {mean:.0} the stages asked on average"))
        }
        (None, Some(r)) if r > 0.0 => (r, format!("the {r} asked")),
        _ => return None,
    };
    if rate <= 0.0 {
        return None;
    }
    let interval_ms = f64::from(info.connections.max(1)) / rate * 1000.0;
    let lag_p99 = ms(s.schedule_lag.value_at_quantile(0.99));
    let achieved = s.requests as f64 / secs;
    let mut why = Vec::new();
    if lag_p99 > interval_ms {
        why.push(format!(
            "1% of requests left more than {lag_p99:.3} ms after their scheduled time, \
             longer than the {interval_ms:.3} ms between one connection's requests"
        ));
    }
    if achieved < 0.99 * rate {
        why.push(format!(
            "it sent {achieved:.0} requests/s, {:.1}% of {asked}",
            achieved / rate * 100.0
        ));
    }
    if why.is_empty() {
        return None;
    }
    Some(format!(
        "goto fell behind the schedule: {}. Latency counts from the scheduled \
         time, so it includes this lateness; more connections (-c), more cores \
         or a lower rate let the client keep up.",
        why.join("; and ")
    ))
}
