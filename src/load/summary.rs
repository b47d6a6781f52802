//! Figures both reports share: what the run was, rates, latency rows, the
//! schedule lag and the warning when the client fell behind its schedule.

use std::time::Duration;

use goto_engine::{Histogram, TargetStats};

pub(super) struct RunInfo<'a> {
    pub(super) url: &'a str,
    /// With `--http2`, the streams per connection; `connections` then
    /// counts concurrent streams.
    pub(super) http2: Option<u32>,
    pub(super) connections: u32,
    pub(super) cores: usize,
    pub(super) io_driver: String,
    pub(super) rate: Option<f64>,
}

pub(super) fn per_second(stats: &TargetStats, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        stats.requests as f64 / secs
    } else {
        0.0
    }
}

pub(super) fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// min, mean, p50, p90, p99, p99.9, max in milliseconds (zeros when empty).
pub(super) fn latency_row(h: &Histogram<u64>) -> [f64; 7] {
    if h.is_empty() {
        return [0.0; 7];
    }
    let q = |p: f64| ms(h.value_at_quantile(p));
    [
        ms(h.min()),
        h.mean() / 1000.0,
        q(0.5),
        q(0.9),
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

/// Under a rate, a plain-words warning when the client could not keep its
/// schedule: requests left later than one connection's interval (lag p99
/// above it), or fewer went out than asked (under 99% of the rate). Either
/// way the latency, counted from the schedule, includes that lateness.
pub(super) fn fell_behind(
    info: &RunInfo<'_>,
    elapsed: Duration,
    s: &TargetStats,
) -> Option<String> {
    let rate = info.rate.filter(|r| *r > 0.0)?;
    if s.requests == 0 {
        return None;
    }
    let interval_ms = f64::from(info.connections.max(1)) / rate * 1000.0;
    let lag_p99 = ms(s.schedule_lag.value_at_quantile(0.99));
    // Requests still in flight when a duration ends are not counted, so
    // the achieved rate is taken over the run less one typical response time.
    let service = Duration::from_micros(s.latency_uncorrected.value_at_quantile(0.5));
    let window = elapsed.saturating_sub(service).as_secs_f64();
    let achieved = if window > 0.0 {
        s.requests as f64 / window
    } else {
        per_second(s, elapsed)
    };
    let mut why = Vec::new();
    if lag_p99 > interval_ms {
        why.push(format!(
            "1% of requests left more than {lag_p99:.3} ms after their scheduled time, \
             longer than the {interval_ms:.3} ms between one connection's requests"
        ));
    }
    if achieved < 0.99 * rate {
        why.push(format!(
            "it sent {achieved:.0} requests/s, {:.1}% of the {rate} asked",
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
