//! `GET /metrics` through the real binary, parsed by a Rust exposition
//! parser we did not write (and, from .ci/run, cross-checked by the
//! Prometheus project's own Python parser):
//! server-side responses by status, tracked header values, the client's
//! per-target requests, errors, latency histogram and open connections, and
//! process figures.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{eventually, Goto};
use serde_json::Value;

/// Parses exposition text with a Rust exposition parser we did not write
/// (`prom_text_format_parser`); returns the samples as `[{"name","labels","value"}]`
/// (histograms as `_bucket` samples with `le`, as the Prometheus project's
/// parsers give them) and the families' types (a counter family named
/// without its `_total` suffix). With `GOTO_TEST_PROMETHEUS_PYTHON=1` (set
/// by .ci/run) the Prometheus project's own Python parser must also accept
/// the text and agree on every sample; without it that check is skipped.
fn parse(text: &str) -> (Vec<Value>, Value) {
    use prom_text_format_parser::{parse_scrape, ScrapeParseError, Type, ValueType};
    let (metrics, err) = parse_scrape(text);
    match err {
        None => {}
        // A family with HELP and TYPE but no sample yet is valid exposition
        // text (the Prometheus server takes it); this parser reports it.
        Some(ScrapeParseError::Collect(errs))
            if errs.iter().all(|e| e.error.ends_with("has only TYPE")) => {}
        Some(e) => panic!("the exposition parser refused /metrics: {e:?}\n{text}"),
    }
    let mut samples = Vec::new();
    let mut types = serde_json::Map::new();
    for m in &metrics {
        let kind = match m.kind {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
            Type::Summary => "summary",
            Type::Untyped => "untyped",
        };
        let family = match m.kind {
            Type::Counter => m.name.strip_suffix("_total").unwrap_or(&m.name),
            _ => &m.name,
        };
        types.insert(family.to_string(), kind.into());
        for s in &m.samples {
            let suffix = match (s.value.value_type, m.kind) {
                (ValueType::Sum, _) => "_sum",
                (ValueType::Count, _) => "_count",
                (ValueType::Sample, Type::Histogram) => "_bucket",
                (ValueType::Sample, _) => "",
            };
            let labels: serde_json::Map<String, Value> = s
                .labels
                .iter()
                .map(|l| (l.key.clone(), Value::from(unescape(&l.value))))
                .collect();
            let v: f64 = match s.value.value.as_str() {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                "NaN" => f64::NAN,
                x => x.parse().unwrap_or(f64::NAN),
            };
            samples.push(serde_json::json!({
                "name": format!("{}{suffix}", m.name), "labels": labels, "value": v
            }));
        }
    }
    if std::env::var("GOTO_TEST_PROMETHEUS_PYTHON").as_deref() == Ok("1") {
        let py = python_parse(text);
        for s in samples.iter().filter(|s| s["labels"].get("le").is_none()) {
            let labels: Vec<(&str, &str)> = s["labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
                        .collect()
                })
                .unwrap_or_default();
            let name = s["name"].as_str().unwrap_or("");
            let (ours, theirs) = (s["value"].as_f64(), value(&py, name, &labels));
            // Both parsers read the same text; their float parsing may differ
            // in the last ulp (30.261760000000002 against 30.26176).
            let close = match (ours, theirs) {
                (Some(a), Some(b)) => a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs()),
                (a, b) => a == b,
            };
            assert!(
                close || ours.is_some_and(f64::is_nan),
                "the parsers disagree on {name} {labels:?}: {ours:?} vs {theirs:?}"
            );
        }
    } else {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            eprintln!(
                "skipped: the Python prometheus-client cross-check (set GOTO_TEST_PROMETHEUS_PYTHON=1 with the package installed, as .ci/run does)"
            )
        });
    }
    (samples, Value::Object(types))
}

/// A label value as written in the exposition, with its escapes undone.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// The Prometheus project's Python parser (`prometheus-client`); its
/// samples in the same shape as [`parse`]'s.
fn python_parse(text: &str) -> Vec<Value> {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        samples.append({"name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(samples))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (with prometheus-client) is needed when GOTO_TEST_PROMETHEUS_PYTHON=1");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "the Prometheus parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("parser JSON")
}

fn value(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .and_then(|s| s["value"].as_f64())
}

#[test]
fn metrics_parse_with_the_prometheus_parser() {
    let g = Goto::start(&["--request-logs=false"]);
    assert_eq!(g.put("/request/headers/track/add/x-who").status, 200);
    let target = format!(
        r#"{{"name":"m1","url":"http://127.0.0.1:{}/status/503","replicas":2,"requestCount":10,
            "headers":[["x-who","a\"b"]]}}"#,
        g.port
    );
    assert_eq!(g.post("/client/targets/add", &target).status, 200);
    let refused = r#"{"name":"m2","url":"http://127.0.0.1:1/","requestCount":3}"#;
    assert_eq!(g.post("/client/targets/add", refused).status, 200);
    let r = g.post("/client/targets/invoke/all?blocking=Y", "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(eventually(Duration::from_secs(10), || {
        g.get("/client/targets/active").json()["activeCount"] == 0
    }));

    let resp = g.get("/metrics");
    assert_eq!(resp.status, 200);
    assert!(resp
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")));
    let (samples, types) = parse(&resp.text());
    let port = g.port.to_string();

    // The parser names a counter family without its `_total` suffix.
    assert_eq!(types["goto_requests"], "counter");
    assert_eq!(
        value(
            &samples,
            "goto_requests_total",
            &[("port", &port), ("status", "503")]
        ),
        Some(20.0)
    );
    assert_eq!(
        value(
            &samples,
            "goto_tracked_header_requests_total",
            &[("header", "x-who"), ("value", "a\"b")]
        ),
        Some(20.0)
    );
    assert_eq!(
        value(
            &samples,
            "goto_client_requests_total",
            &[("target", "m1"), ("status", "503")]
        ),
        Some(20.0)
    );
    assert_eq!(
        value(
            &samples,
            "goto_client_requests_total",
            &[("target", "m2"), ("status", "0")]
        ),
        Some(3.0)
    );
    assert!(samples
        .iter()
        .any(|s| s["name"] == "goto_client_errors_total" && s["labels"]["target"] == "m2"));
    assert_eq!(types["goto_client_latency_seconds"], "histogram");
    assert_eq!(
        value(
            &samples,
            "goto_client_latency_seconds_count",
            &[("target", "m1")]
        ),
        Some(20.0)
    );
    assert_eq!(
        value(
            &samples,
            "goto_client_latency_seconds_bucket",
            &[("target", "m1"), ("le", "+Inf")]
        ),
        Some(20.0)
    );
    assert!(value(&samples, "process_resident_memory_bytes", &[]).is_some_and(|v| v > 1e6));
    assert!(value(&samples, "process_cpu_seconds_total", &[]).is_some());
}

/// The chaos side of a port: proxied requests by target and status, open
/// connections, injected faults and toxics, TCP listeners, and a registry's
/// pods per label.
#[test]
fn metrics_cover_proxy_faults_toxics_tcp_and_registry() {
    let up = Goto::start(&["--request-logs=false"]);
    let g = Goto::start(&["--request-logs=false"]);
    let target = format!(
        r#"{{"name":"t1","url":"http://127.0.0.1:{}","match":{{"uris":["/up"]}}}}"#,
        up.port
    );
    assert_eq!(g.post("/request/proxy/targets/add", &target).status, 200);
    let toxic = r#"{"name":"lat","type":"latency","attributes":{"latency":1}}"#;
    let r = g.post("/request/proxy/targets/t1/toxics/add", toxic);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(up.put("/response/status/set/418:2").status, 200);
    for _ in 0..3 {
        g.get("/up/x");
    }
    assert_eq!(g.put("/response/status/set/503/percent/100").status, 200);
    assert_eq!(g.get("/elsewhere").status, 503);
    assert_eq!(g.get("/elsewhere").status, 503);
    assert_eq!(g.put("/response/status/clear").status, 200);
    let r = g.put("/response/status/set/502/percent/100?uri=/only/{x}");
    assert_eq!(r.status, 200);
    assert_eq!(g.get("/only/me").status, 502);
    let tcp_port = common::free_port();
    let body = format!(r#"{{"port":{tcp_port},"protocol":"tcp","mode":"silent"}}"#);
    assert_eq!(g.post("/listeners/add", &body).status, 200);
    let _held_tcp = std::net::TcpStream::connect(("127.0.0.1", tcp_port)).expect("tcp");
    let _held_http = std::net::TcpStream::connect(("127.0.0.1", g.port)).expect("http");
    let reg = format!(r#"{{"name":"pe\"er","address":"127.0.0.1:{}"}}"#, up.port);
    assert_eq!(g.post("/registry/peers/add", &reg).status, 200);

    let port = g.port.to_string();
    let tcp = tcp_port.to_string();
    let mut samples = Vec::new();
    // The held connections are counted once their accepts ran.
    let counted = eventually(Duration::from_secs(5), || {
        samples = parse(&g.get("/metrics").text()).0;
        value(&samples, "goto_connections_open", &[("port", &port)]).is_some_and(|v| v >= 2.0)
            && value(&samples, "goto_tcp_connections_open", &[("port", &tcp)]) == Some(1.0)
    });
    assert!(counted, "{samples:?}");
    let v = |name: &str, labels: &[(&str, &str)]| value(&samples, name, labels);
    let t1 = [("port", port.as_str()), ("target", "t1")];
    assert_eq!(
        v(
            "goto_proxy_requests_total",
            &[t1[0], t1[1], ("status", "418")]
        ),
        Some(2.0)
    );
    assert_eq!(
        v(
            "goto_proxy_requests_total",
            &[t1[0], t1[1], ("status", "200")]
        ),
        Some(1.0)
    );
    assert_eq!(
        v(
            "goto_toxics_total",
            &[t1[0], t1[1], ("toxic", "lat"), ("type", "latency")]
        ),
        Some(3.0)
    );
    // Two port-wide 503s and the pattern's 502: totals include patterns.
    assert_eq!(
        v("goto_faults_total", &[("port", &port), ("kind", "status")]),
        Some(3.0)
    );
    assert_eq!(
        v(
            "goto_fault_statuses_total",
            &[("port", &port), ("status", "503")]
        ),
        Some(2.0)
    );
    let uri = [
        ("port", port.as_str()),
        ("uri", "/only/{x}"),
        ("kind", "status"),
    ];
    assert_eq!(v("goto_uri_faults_total", &uri), Some(1.0));
    assert_eq!(
        v("goto_tcp_connections_total", &[("port", &tcp)]),
        Some(1.0)
    );
    assert_eq!(v("goto_tcp_refused_total", &[("port", &tcp)]), Some(0.0));
    assert_eq!(v("goto_registry_peers", &[("label", "pe\"er")]), Some(1.0));
    assert!(v("goto_registry_peers_healthy", &[("label", "pe\"er")]).is_some());
}

/// The client's open connections and requests in flight per target, live:
/// 5 HTTP/1.1 replicas hold 5 connections and 5 HTTP/2 streams share one
/// while a 2 s delay keeps their 5 requests each under way; once the
/// targets end the gauges read 0.
#[test]
fn metrics_show_client_connections_while_targets_run() {
    let server = Goto::start(&["--request-logs=false"]);
    assert_eq!(server.put("/response/delay/set/2s").status, 200);
    let g = Goto::start(&["--request-logs=false"]);
    for (name, protocol) in [("c1", "HTTP/1.1"), ("c2", "HTTP/2.0")] {
        let target = format!(
            r#"{{"name":"{name}","url":"http://127.0.0.1:{}/conns","protocol":"{protocol}",
                "replicas":5,"requestCount":3}}"#,
            server.port
        );
        let r = g.post("/client/targets/add", &target);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = g.post("/client/targets/invoke/all?blocking=N", "");
    assert_eq!(r.status, 200, "{}", r.text());
    let gauge =
        |samples: &[Value], t: &str| value(samples, "goto_client_connections", &[("target", t)]);
    let in_flight = |samples: &[Value], t: &str| {
        value(samples, "goto_client_requests_in_flight", &[("target", t)])
    };
    let mut last = String::new();
    let seen = eventually(Duration::from_secs(10), || {
        last = g.get("/metrics").text();
        let (samples, types) = parse(&last);
        types["goto_client_connections"] == "gauge"
            && gauge(&samples, "c1") == Some(5.0)
            && gauge(&samples, "c2") == Some(1.0)
            && in_flight(&samples, "c1") == Some(5.0)
            && in_flight(&samples, "c2") == Some(5.0)
    });
    assert!(
        seen,
        "never saw 5 and 1 client connections with 5 requests each in flight:\n{last}"
    );
    // The results document carries the same gauge while the targets run
    // (each request takes 2 s, three per replica).
    let mut doc = Value::Null;
    let in_results = eventually(Duration::from_secs(10), || {
        doc = g.get("/client/results").json();
        let open = &doc["openConnectionsByTarget"];
        open["c1"] == 5 && open["c2"] == 1
    });
    assert!(in_results, "openConnectionsByTarget: {doc}");
    assert!(
        eventually(Duration::from_secs(20), || {
            g.get("/client/targets/active").json()["activeCount"] == 0
        }),
        "the targets did not end"
    );
    let doc = g.get("/client/results").json();
    assert!(
        doc.get("openConnectionsByTarget").is_none(),
        "no connection open after the end: {doc}"
    );
    let (samples, _) = parse(&g.get("/metrics").text());
    for t in ["c1", "c2"] {
        let n = gauge(&samples, t);
        assert!(n.is_none() || n == Some(0.0), "{t} after the end: {n:?}");
        let r = in_flight(&samples, t);
        assert!(r.is_none() || r == Some(0.0), "{t} after the end: {r:?}");
    }
    assert_eq!(
        value(
            &samples,
            "goto_client_requests_total",
            &[("target", "c1"), ("status", "200")]
        ),
        Some(15.0)
    );
}

/// Connections an HTTP listener closes at its `--max-conns` cap are counted
/// in `goto_connections_refused_total`.
#[test]
fn metrics_count_connections_refused_at_the_cap() {
    let g = Goto::start(&["--request-logs=false", "--max-conns", "3"]);
    // Mid-head, so not idle: idle ones would make room (issue 24 row 11).
    let held: Vec<std::net::TcpStream> = (0..3)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", g.port)).expect("connect");
            std::io::Write::write_all(&mut s, b"GET /echo HTTP/1.1\r\n").expect("write");
            s
        })
        .collect();
    // Connections past the cap are closed at once; keep opening them until
    // the accept loop has counted the held ones and refuses one (bounded).
    let refused_one = eventually(Duration::from_secs(10), || {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", g.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 16];
        match std::io::Read::read(&mut s, &mut buf) {
            Ok(n) => n == 0,
            // Still open after the wait: it was under the cap.
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    });
    assert!(refused_one, "no connection was closed at the cap");
    drop(held);
    let port = g.port.to_string();
    let mut seen = None;
    let ok = eventually(Duration::from_secs(10), || {
        // The held connections' ends reach the server a little later: until
        // then a request may itself be refused at the cap.
        let Ok(r) = common::try_request(g.port, "GET", "/metrics", &[], b"") else {
            return false;
        };
        if r.status != 200 {
            return false;
        }
        let (samples, _) = parse(&r.text());
        seen = value(
            &samples,
            "goto_connections_refused_total",
            &[("port", &port)],
        );
        seen.is_some_and(|n| n >= 1.0)
    });
    assert!(ok, "refused count {seen:?}");
}
