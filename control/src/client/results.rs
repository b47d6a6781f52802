//! The results document: per-target engine stats rendered in the scenarios'
//! shape (`countsByStatus` with `"200 OK"` texts, per-target maps), plus
//! latency percentiles and, on request, encoded histograms for exact merging.

use std::collections::{BTreeMap, HashMap};

use goto_engine::{canonical_reason, ErrorKind, TargetStats, Threshold};
use serde_json::{json, Map, Value};

use crate::{histcodec, timefmt};

/// What an error text needs to know about its target.
#[derive(Debug, Clone)]
pub struct TargetMeta {
    pub method: String,
    pub url: String,
    /// Checks evaluated on the target's results (`thresholdsByTarget`).
    pub thresholds: Vec<Threshold>,
}

/// `"200 OK"`, or just the code when it has no standard reason.
pub fn status_text(code: u16) -> String {
    let reason = canonical_reason(code);
    if reason.is_empty() {
        code.to_string()
    } else {
        format!("{code} {reason}")
    }
}

/// A transport error as Go's client words it: `Post "url": <what failed>`,
/// with connect failures naming the dialed address as the seed shows
/// (`Post "url": dial tcp 1.1.1.1:8080: connect: connection refused`).
pub fn error_text(meta: Option<&TargetMeta>, kind: &ErrorKind) -> String {
    let Some(m) = meta else {
        return kind.to_string();
    };
    let method = go_method(&m.method);
    match (is_dial_error(kind), dial_addr(&m.url)) {
        (true, Some(addr)) => format!("{method} \"{}\": dial tcp {addr}: {kind}", m.url),
        _ => format!("{method} \"{}\": {kind}", m.url),
    }
}

fn is_dial_error(kind: &ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::ConnectRefused | ErrorKind::ConnectTimeout | ErrorKind::Connect(_)
    )
}

/// `host:port` of a target URL, the port defaulted from the scheme.
fn dial_addr(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let host = uri.host()?;
    let port = match (uri.port_u16(), uri.scheme_str()) {
        (Some(p), _) => p,
        (None, Some("https")) => 443,
        (None, _) => 80,
    };
    Some(format!("{host}:{port}"))
}

fn go_method(m: &str) -> String {
    let mut out = String::with_capacity(m.len());
    for (i, c) in m.chars().enumerate() {
        if i == 0 {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

fn add(map: &mut Map<String, Value>, key: &str, n: u64) {
    let cur = map.get(key).and_then(Value::as_u64).unwrap_or(0);
    map.insert(key.to_string(), Value::from(cur + n));
}

fn sub<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let v = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("replaced by an object just above"),
    }
}

fn ms(us: u64) -> f64 {
    (us as f64 / 1000.0 * 1000.0).round() / 1000.0
}

/// Latency summary of one target, milliseconds.
pub fn latency_summary(s: &TargetStats) -> Value {
    histogram_summary(&s.latency)
}

/// Latency summary of a histogram in microseconds, as milliseconds.
pub fn histogram_summary(h: &goto_engine::Histogram<u64>) -> Value {
    json!({
        "count": h.len(),
        "min": ms(h.min()),
        "mean": (h.mean() / 1000.0 * 1000.0).round() / 1000.0,
        "p50": ms(h.value_at_quantile(0.50)),
        "p90": ms(h.value_at_quantile(0.90)),
        "p99": ms(h.value_at_quantile(0.99)),
        "p99.9": ms(h.value_at_quantile(0.999)),
        "max": ms(h.max()),
    })
}

/// Renders the document for `stats` (target name -> merged stats).
pub fn document(
    stats: &BTreeMap<String, TargetStats>,
    meta: &HashMap<String, TargetMeta>,
    histograms: bool,
) -> Map<String, Value> {
    let mut invocation_counts = Map::new();
    let mut first = Map::new();
    let mut last = Map::new();
    let mut by_status = Map::new();
    let mut by_code = Map::new();
    let mut by_header = Map::new();
    let mut by_header_value = Map::new();
    let mut t_status = Map::new();
    let mut t_code = Map::new();
    let mut t_header = Map::new();
    let mut t_header_value = Map::new();
    let mut latency = Map::new();
    let mut lag = Map::new();
    let mut hists = Map::new();
    let mut verdicts = Map::new();
    for (name, s) in stats {
        if let Some(ts) = meta
            .get(name)
            .map(|m| &m.thresholds)
            .filter(|t| !t.is_empty())
        {
            // Achieved rate over the span of responses.
            let span = match (s.first_response, s.last_response) {
                (Some(a), Some(b)) => b.duration_since(a).unwrap_or_default(),
                _ => std::time::Duration::ZERO,
            };
            let vs: Vec<_> = ts.iter().map(|t| t.evaluate(s, span)).collect();
            verdicts.insert(name.clone(), serde_json::to_value(vs).unwrap_or_default());
        }
        invocation_counts.insert(name.clone(), Value::from(s.requests));
        if let Some(t) = s.first_response {
            first.insert(name.clone(), Value::from(timefmt::rfc3339(t)));
        }
        if let Some(t) = s.last_response {
            last.insert(name.clone(), Value::from(timefmt::rfc3339(t)));
        }
        let ts = sub(&mut t_status, name);
        for (code, n) in &s.status_counts {
            if *code == 0 {
                continue;
            }
            let text = status_text(*code);
            add(ts, &text, *n);
            add(&mut by_status, &text, *n);
        }
        for (kind, n) in &s.errors {
            let text = error_text(meta.get(name), kind);
            add(ts, &text, *n);
            add(&mut by_status, &text, *n);
        }
        let tc = sub(&mut t_code, name);
        for (code, n) in &s.status_counts {
            add(tc, &code.to_string(), *n);
            add(&mut by_code, &code.to_string(), *n);
        }
        let th = sub(&mut t_header, name);
        for (h, n) in &s.header_counts {
            add(th, h, *n);
            add(&mut by_header, h, *n);
        }
        let thv = sub(&mut t_header_value, name);
        for (h, values) in &s.header_value_counts {
            for (v, n) in values {
                add(sub(thv, h), v, *n);
                add(sub(&mut by_header_value, h), v, *n);
            }
        }
        if !s.latency.is_empty() {
            latency.insert(name.clone(), latency_summary(s));
        }
        // How late requests left against their schedule (the client's own
        // lateness; under a rate it is part of the latency above).
        if !s.schedule_lag.is_empty() {
            lag.insert(name.clone(), histogram_summary(&s.schedule_lag));
        }
        if histograms {
            if let Some(enc) = histcodec::encode(&s.latency) {
                hists.insert(name.clone(), Value::from(enc));
            }
        }
    }
    let mut doc = Map::new();
    doc.insert("targetInvocationCounts".into(), invocation_counts.into());
    doc.insert("targetFirstResponses".into(), first.into());
    doc.insert("targetLastResponses".into(), last.into());
    doc.insert("countsByStatus".into(), by_status.into());
    doc.insert("countsByStatusCodes".into(), by_code.into());
    doc.insert("countsByHeaders".into(), by_header.into());
    doc.insert("countsByHeaderValues".into(), by_header_value.into());
    doc.insert("countsByTargetStatus".into(), t_status.into());
    doc.insert("countsByTargetStatusCode".into(), t_code.into());
    doc.insert("countsByTargetHeaders".into(), t_header.into());
    doc.insert("countsByTargetHeaderValues".into(), t_header_value.into());
    doc.insert("latencyByTarget".into(), latency.into());
    doc.insert("lagByTarget".into(), lag.into());
    if histograms {
        doc.insert("latencyHistograms".into(), hists.into());
    }
    if !verdicts.is_empty() {
        doc.insert("thresholdsByTarget".into(), verdicts.into());
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_follow_the_original() {
        assert_eq!(status_text(200), "200 OK");
        assert_eq!(status_text(503), "503 Service Unavailable");
        let m = TargetMeta {
            method: "POST".into(),
            url: "http://127.0.0.1:1/some/api".into(),
            thresholds: Vec::new(),
        };
        assert_eq!(
            error_text(Some(&m), &ErrorKind::ConnectRefused),
            "Post \"http://127.0.0.1:1/some/api\": dial tcp 127.0.0.1:1: connect: connection refused"
        );
        let m = TargetMeta {
            method: "GET".into(),
            url: "https://somewhere.com/x".into(),
            thresholds: Vec::new(),
        };
        assert_eq!(
            error_text(Some(&m), &ErrorKind::Timeout),
            "Get \"https://somewhere.com/x\": timeout"
        );
        assert_eq!(
            error_text(Some(&m), &ErrorKind::ConnectRefused),
            "Get \"https://somewhere.com/x\": dial tcp somewhere.com:443: connect: connection refused"
        );
    }

    #[test]
    fn document_counts_per_target_and_overall() {
        let mut a = TargetStats::new();
        a.requests = 3;
        a.status_counts.insert(200, 2);
        a.status_counts.insert(0, 1);
        a.errors.insert(ErrorKind::ConnectRefused, 1);
        a.header_counts.insert("x".into(), 2);
        a.header_value_counts
            .entry("x".into())
            .or_default()
            .insert("x1".into(), 2);
        let mut b = TargetStats::new();
        b.requests = 1;
        b.status_counts.insert(200, 1);
        let stats = BTreeMap::from([("a".to_string(), a), ("b".to_string(), b)]);
        let doc = Value::Object(document(&stats, &HashMap::new(), false));
        assert_eq!(doc["countsByStatus"]["200 OK"], 3);
        assert_eq!(doc["countsByStatusCodes"]["0"], 1);
        assert_eq!(doc["countsByStatus"]["connect: connection refused"], 1);
        assert_eq!(doc["countsByTargetHeaderValues"]["a"]["x"]["x1"], 2);
        assert_eq!(doc["targetInvocationCounts"]["b"], 1);
        assert!(doc.get("latencyHistograms").is_none());
    }
}
