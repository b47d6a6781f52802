//! The JSON report of `goto load` (`--json`).

use std::collections::BTreeMap;

use goto_engine::{canonical_reason, Histogram, RunSnapshot, TargetStats};
use serde_json::{json, Map, Value};

use super::summary::{fell_behind, lag_row, latency_row, per_second, RunInfo};

fn lag_json(h: &Histogram<u64>) -> Value {
    let [p50, p90, p99, max] = lag_row(h).map(|v| (v * 1000.0).round() / 1000.0);
    json!({ "p50": p50, "p90": p90, "p99": p99, "max": max })
}

fn latency_json(h: &Histogram<u64>) -> Value {
    let [min, mean, p50, p90, p99, p999, max] =
        latency_row(h).map(|v| (v * 1000.0).round() / 1000.0);
    json!({ "min": min, "mean": mean, "p50": p50, "p90": p90, "p99": p99, "p999": p999, "max": max })
}

pub(super) fn json_report(info: &RunInfo<'_>, snap: &RunSnapshot, s: &TargetStats) -> Value {
    let counts = |m: &BTreeMap<u16, u64>| -> Map<String, Value> {
        m.iter().map(|(k, v)| (k.to_string(), json!(v))).collect()
    };
    let by_status: Map<String, Value> = s
        .status_counts
        .iter()
        .filter(|(k, _)| **k != 0)
        .map(|(k, v)| {
            (
                format!("{k} {}", canonical_reason(*k))
                    .trim_end()
                    .to_string(),
                json!(v),
            )
        })
        .chain(s.errors.iter().map(|(k, v)| (k.to_string(), json!(v))))
        .collect();
    let errors: Map<String, Value> = s
        .errors
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "url": info.url,
        "requests": s.requests,
        "requestsPerSecond": (per_second(s, snap.elapsed) * 100.0).round() / 100.0,
        "durationSeconds": (snap.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "connections": info.connections,
        "cores": info.cores,
        "rate": info.rate,
        "countsByStatusCodes": counts(&s.status_counts),
        "countsByStatus": by_status,
        "errors": errors,
        "countsByHeaders": s.header_counts,
        "countsByHeaderValues": s.header_value_counts,
        "latencyMs": latency_json(&s.latency),
        "latencyUncorrectedMs": latency_json(&s.latency_uncorrected),
        "scheduleLagMs": lag_json(&s.schedule_lag),
        "warnings": fell_behind(info, snap.elapsed, s).into_iter().collect::<Vec<_>>(),
        "bytesRead": s.bytes_read,
        "bytesWritten": s.bytes_written,
        "stopped": s.stopped,
        "ioDriver": info.io_driver,
    })
}
