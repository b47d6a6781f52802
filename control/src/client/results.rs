//! Engine stats rendered as the results document ([`ClientResults`]) in
//! the scenarios' shape (`countsByStatus` with `"200 OK"` texts, per-target
//! maps), plus latency percentiles and, on request, encoded histograms for
//! exact merging; and the texts of statuses and transport errors.

use std::collections::{BTreeMap, HashMap};

use goto_engine::{canonical_reason, ErrorKind, TargetStats, Threshold};

use super::document::{ClientResults, Counts, LatencyStats};
use crate::timefmt;

/// What an error text needs to know about its target.
#[derive(Debug, Clone)]
pub struct TargetMeta {
    pub method: String,
    pub url: String,
    /// Checks evaluated on the target's results (`thresholdsByTarget`).
    pub thresholds: Vec<Threshold>,
    /// The engine's I/O driver that runs it (`ioDriverByTarget`).
    pub io_driver: String,
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

fn bump(map: &mut Counts, key: &str, n: u64) {
    let v = map.entry(key.to_string()).or_insert(0);
    *v = v.saturating_add(n);
}

/// The engine's stats (target name -> merged stats) as a results document;
/// `histograms` also encodes the latency histograms into it (a peer's
/// report, for exact merging at the registry).
pub fn document(
    stats: &BTreeMap<String, TargetStats>,
    meta: &HashMap<String, TargetMeta>,
    histograms: bool,
) -> ClientResults {
    let mut d = ClientResults::default();
    for (name, s) in stats {
        d.target_invocation_counts.insert(name.clone(), s.requests);
        if let Some(t) = s.first_response {
            d.target_first_responses
                .insert(name.clone(), timefmt::rfc3339(t));
        }
        if let Some(t) = s.last_response {
            d.target_last_responses
                .insert(name.clone(), timefmt::rfc3339(t));
        }
        let ts = d.counts_by_target_status.entry(name.clone()).or_default();
        for (code, n) in &s.status_counts {
            if *code == 0 {
                continue;
            }
            let text = status_text(*code);
            bump(ts, &text, *n);
            bump(&mut d.counts_by_status, &text, *n);
        }
        for (kind, n) in &s.errors {
            let text = error_text(meta.get(name), kind);
            bump(ts, &text, *n);
            bump(&mut d.counts_by_status, &text, *n);
        }
        let tc = d
            .counts_by_target_status_code
            .entry(name.clone())
            .or_default();
        for (code, n) in &s.status_counts {
            bump(tc, &code.to_string(), *n);
            bump(&mut d.counts_by_status_codes, &code.to_string(), *n);
        }
        if !s.grpc_status_counts.is_empty() {
            let tg = d
                .counts_by_target_grpc_status
                .entry(name.clone())
                .or_default();
            for (code, n) in &s.grpc_status_counts {
                let text = goto_engine::grpc::status_name(*code);
                bump(tg, text, *n);
                bump(&mut d.counts_by_grpc_status, text, *n);
            }
        }
        let th = d.counts_by_target_headers.entry(name.clone()).or_default();
        for (h, n) in &s.header_counts {
            bump(th, h, *n);
            bump(&mut d.counts_by_headers, h, *n);
        }
        let thv = d
            .counts_by_target_header_values
            .entry(name.clone())
            .or_default();
        for (h, values) in &s.header_value_counts {
            for (v, n) in values {
                bump(thv.entry(h.clone()).or_default(), v, *n);
                bump(
                    d.counts_by_header_values.entry(h.clone()).or_default(),
                    v,
                    *n,
                );
            }
        }
        if !s.latency.is_empty() {
            d.latency_by_target
                .insert(name.clone(), LatencyStats::of(&s.latency));
        }
        // How late requests left against their schedule (the client's own
        // lateness; under a rate it is part of the latency above).
        if !s.schedule_lag.is_empty() {
            d.lag_by_target
                .insert(name.clone(), LatencyStats::of(&s.schedule_lag));
        }
        d.histograms.insert(name.clone(), s.latency.clone());
        if s.open_connections > 0 {
            d.open_connections_by_target
                .insert(name.clone(), s.open_connections);
        }
        if let Some(m) = meta.get(name) {
            if !m.io_driver.is_empty() {
                d.io_driver_by_target
                    .insert(name.clone(), m.io_driver.clone());
            }
            if !m.thresholds.is_empty() {
                // Achieved rate over the span of responses.
                let span = match (s.first_response, s.last_response) {
                    (Some(a), Some(b)) => b.duration_since(a).unwrap_or_default(),
                    _ => std::time::Duration::ZERO,
                };
                let vs = m.thresholds.iter().map(|t| t.evaluate(s, span)).collect();
                d.thresholds_by_target.insert(name.clone(), vs);
            }
        }
    }
    if histograms {
        d.with_encoded_histograms()
    } else {
        d
    }
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
            io_driver: String::new(),
        };
        assert_eq!(
            error_text(Some(&m), &ErrorKind::ConnectRefused),
            "Post \"http://127.0.0.1:1/some/api\": dial tcp 127.0.0.1:1: connect: connection refused"
        );
        let m = TargetMeta {
            method: "GET".into(),
            url: "https://somewhere.com/x".into(),
            thresholds: Vec::new(),
            io_driver: String::new(),
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
        let doc =
            serde_json::to_value(document(&stats, &HashMap::new(), false)).unwrap_or_default();
        assert_eq!(doc["countsByStatus"]["200 OK"], 3);
        assert_eq!(doc["countsByStatusCodes"]["0"], 1);
        assert_eq!(doc["countsByStatus"]["connect: connection refused"], 1);
        assert_eq!(doc["countsByTargetHeaderValues"]["a"]["x"]["x1"], 2);
        assert_eq!(doc["targetInvocationCounts"]["b"], 1);
        assert!(doc.get("latencyHistograms").is_none());
    }
}
