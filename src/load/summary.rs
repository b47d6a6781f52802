//! Figures both reports share: what the run was, rates and latency rows.

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
