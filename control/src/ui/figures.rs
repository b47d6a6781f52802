//! `GET /ui/data/targets`: per target, the figures the results document
//! does not carry (uncorrected latency beside the corrected one, the
//! percentile spectrum of each and of the schedule lag, requests in flight)
//! read from the same merged engine stats as `/client/results`.

use std::collections::BTreeMap;

use goto_engine::TargetStats;
use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};

/// Percentiles of the spectrum: 0 to 99.999 evenly on a log scale of
/// 1 / (1 - p), which is how HDR plots spread the tail.
pub fn spectrum_percentiles() -> impl Iterator<Item = f64> {
    // 10 points a decade of "nines", 0 .. 5 nines.
    (0..=50).map(|i| 100.0 * (1.0 - 10f64.powf(-(i as f64) / 10.0)))
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Summary and spectrum of one histogram (microseconds in, milliseconds out).
pub fn histogram_json(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({ "count": 0, "spectrum": [] });
    }
    let spectrum: Vec<Value> = spectrum_percentiles()
        .map(|p| json!([p, ms(h.value_at_percentile(p))]))
        .collect();
    json!({
        "count": h.len(),
        "min": ms(h.min()),
        "mean": h.mean() / 1000.0,
        "p50": ms(h.value_at_percentile(50.0)),
        "p90": ms(h.value_at_percentile(90.0)),
        "p99": ms(h.value_at_percentile(99.0)),
        "p99.9": ms(h.value_at_percentile(99.9)),
        "max": ms(h.max()),
        "spectrum": spectrum,
    })
}

/// `{target: {"inFlight", "openConnections", "corrected", "uncorrected",
/// "lag"}}` over merged stats.
pub fn document(stats: &BTreeMap<String, TargetStats>) -> Value {
    let mut m = Map::new();
    for (name, s) in stats {
        m.insert(
            name.clone(),
            json!({
                "inFlight": s.requests_in_flight,
                "openConnections": s.open_connections,
                "corrected": histogram_json(&s.latency),
                "uncorrected": histogram_json(&s.latency_uncorrected),
                "lag": histogram_json(&s.schedule_lag),
            }),
        );
    }
    Value::Object(m)
}
