//! The JSON report of `goto load` (`--json`).

use std::collections::BTreeMap;

use goto_engine::grpc::status_name;
use goto_engine::{canonical_reason, Histogram, RunSnapshot, TargetStats};
use serde_json::{json, Map, Value};

use super::summary::{fell_behind, lag_row, latency_row, per_second, Counts, RunInfo};

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

fn lag_json(h: &Histogram<u64>) -> Value {
    let [p50, p90, p99, max] = lag_row(h).map(|v| (v * 1000.0).round() / 1000.0);
    json!({ "p50": p50, "p90": p90, "p99": p99, "max": max })
}

fn latency_json(h: &Histogram<u64>) -> Value {
    let [min, mean, stdev, p50, p75, p90, p95, p99, p999, max] =
        latency_row(h).map(|v| round(v, 3));
    json!({
        "min": min, "mean": mean, "stdev": stdev, "p50": p50, "p75": p75, "p90": p90,
        "p95": p95, "p99": p99, "p999": p999, "max": max,
    })
}

pub(super) fn json_report(info: &RunInfo<'_>, snap: &RunSnapshot, s: &TargetStats) -> Value {
    let c = Counts::of(s);
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
    let mut v = json!({
        "url": info.url,
        "requests": s.requests,
        "answered": c.answered,
        "succeeded": c.succeeded,
        "successRate": round(c.success_rate, 6),
        "non2xx": c.non_2xx,
        "errorCount": c.errors,
        "inFlight": s.in_flight,
        "reconnects": s.reconnects,
        "requestsPerSecond": round(per_second(c.answered, snap.elapsed), 2),
        "durationSeconds": round(snap.elapsed.as_secs_f64(), 3),
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
        "interrupted": info.interrupted.is_some(),
        "ioDriver": info.io_driver,
    });
    if let Some(obj) = v.as_object_mut() {
        if let Some(sig) = info.interrupted {
            obj.insert("signal".into(), json!(sig));
        }
        if let Some(f) = &info.fatal {
            obj.insert("fatal".into(), json!(f));
        }
        if info.grpc {
            let by_name: Map<String, Value> = s
                .grpc_status_counts
                .iter()
                .map(|(k, v)| (status_name(*k).to_string(), json!(v)))
                .collect();
            let by_code: Map<String, Value> = s
                .grpc_status_counts
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            obj.insert("countsByGrpcStatus".into(), Value::Object(by_name));
            obj.insert("countsByGrpcStatusCodes".into(), Value::Object(by_code));
            let messages: Map<String, Value> = s
                .grpc_messages
                .iter()
                .map(|(k, v)| (status_name(*k).to_string(), json!(v)))
                .collect();
            obj.insert("grpcMessages".into(), Value::Object(messages));
            if let Some(h) = s.time_to_first_message.as_ref().filter(|h| !h.is_empty()) {
                obj.insert("timeToFirstMessageMs".into(), latency_json(h));
            }
            obj.insert("messagesSent".into(), json!(s.messages_sent));
            obj.insert("messagesReceived".into(), json!(s.messages_received));
            obj.insert(
                "callsPerSecond".into(),
                json!(round(per_second(c.answered, snap.elapsed), 2)),
            );
        }
        if info.urls.len() > 1 {
            obj.insert("urls".into(), json!(info.urls));
        }
    }
    v
}
