//! End-to-end tests of request header tracking and timeout tracking: the
//! seed scenarios "Count number of requests received at each service
//! instance for certain headers" and "Track Request/Connection Timeouts",
//! replayed against real goto processes on loopback.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{request, Goto};

fn goto(label: &str) -> Goto {
    Goto::start(&["--request-logs=false", "--label", label])
}

/// The seed's multi-line curl body, shell line continuations (`\` + newline) included.
fn add_proxy(g: &Goto, name: &str, upstream: &Goto) {
    let body = format!(
        "{{\"name\": \"{name}\", \\\n  \"url\":\"http://127.0.0.1:{}\", \\\n  \"match\":{{\"uris\":[\"/\"]}}, \\\n  \"enabled\":true}}",
        upstream.port
    );
    let r = g.post("/request/proxy/targets/add", &body);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn seed_counts_requests_per_instance_by_header() {
    let (service1, service2) = (goto("service-1"), goto("service-2"));
    let (goto1, goto2) = (goto("goto-1"), goto("goto-2"));
    for g in [&goto1, &goto2, &service1, &service2] {
        assert_eq!(g.post("/request/headers/track/clear", "").status, 200);
        let r = g.put("/request/headers/track/add/foo,bar");
        assert_eq!(r.status, 200);
        assert_eq!(r.text().trim(), "Header foo,bar will be tracked");
    }
    add_proxy(&goto1, "service-1", &service1);
    add_proxy(&goto2, "service-2", &service2);

    let send = |g: &Goto, headers: &[(&str, &str)]| {
        let r = request(g.port, "GET", "/some/uri", headers, b"");
        assert_eq!(r.status, 200);
        r
    };
    let r = send(&goto1, &[("foo", "foo1")]);
    // The service answered, and both goto hops are named.
    assert_eq!(r.headers_all("via-goto"), vec!["service-1", "goto-1"]);
    send(&goto1, &[("foo", "foo1"), ("bar", "bar1")]);
    send(&goto2, &[("bar", "bar2")]);
    send(&goto2, &[("foo", "foo2"), ("bar", "bar2")]);

    let expect = |g: &Goto, foo: &[(&str, u64)], bar: &[(&str, u64)]| {
        let c = g.get("/request/headers/track/counts").json();
        for (h, want) in [("foo", foo), ("bar", bar)] {
            let hc = &c[h];
            assert_eq!(
                hc["RequestCountsByHeaderValue"]
                    .as_object()
                    .map(|o| o.len()),
                Some(want.len()),
                "{c}"
            );
            for (v, n) in want {
                assert_eq!(
                    hc["RequestCountsByHeaderValue"][v], *n,
                    "{h}={v} on port {}: {c}",
                    g.port
                );
                assert_eq!(
                    hc["RequestCountsByHeaderValueAndResponseStatus"][v]["200"], *n,
                    "{c}"
                );
            }
            assert_eq!(
                hc["RequestCountsByHeaderValueAndRequestedStatus"],
                serde_json::json!({})
            );
        }
    };
    // Each proxy and the service behind it saw exactly the traffic sent to that pair.
    expect(&goto1, &[("foo1", 2)], &[("bar1", 1)]);
    expect(&service1, &[("foo1", 2)], &[("bar1", 1)]);
    expect(&goto2, &[("foo2", 1)], &[("bar2", 2)]);
    expect(&service2, &[("foo2", 1)], &[("bar2", 2)]);

    // Per-header counts, list, clear counts, remove.
    assert_eq!(
        goto1.get("/request/headers/track/foo/counts").json()["RequestCountsByHeaderValue"]["foo1"],
        2
    );
    assert_eq!(
        goto1.get("/request/headers/track").json(),
        serde_json::json!(["bar", "foo"])
    );
    assert_eq!(
        goto1
            .post("/request/headers/track/counts/clear/foo", "")
            .status,
        200
    );
    let c = goto1.get("/request/headers/track/counts").json();
    assert_eq!(
        c["foo"]["RequestCountsByHeaderValue"],
        serde_json::json!({})
    );
    assert_eq!(c["bar"]["RequestCountsByHeaderValue"]["bar1"], 1);
    assert_eq!(goto1.put("/request/headers/track/foo/remove").status, 200);
    assert_eq!(
        goto1.get("/request/headers/track/list").json(),
        serde_json::json!(["bar"])
    );
    // Removing an untracked header is rejected and changes nothing.
    assert_eq!(goto1.put("/request/headers/track/nope/remove").status, 400);
    assert_eq!(
        goto1.get("/request/headers/track/list").json(),
        serde_json::json!(["bar"])
    );
}

#[test]
fn requested_and_response_status_counted_per_value() {
    let g = goto("tracker");
    g.put("/request/headers/track/add/x");
    request(g.port, "GET", "/status/418", &[("x", "x1")], b"");
    g.put("/response/status/set/503:1");
    request(g.port, "GET", "/status/201", &[("x", "x1")], b"");
    request(g.port, "GET", "/any", &[("x", "x2")], b"");
    let c = g.get("/request/headers/track/counts").json();
    assert_eq!(
        c["x"]["RequestCountsByHeaderValue"],
        serde_json::json!({"x1": 2, "x2": 1})
    );
    assert_eq!(
        c["x"]["RequestCountsByHeaderValueAndRequestedStatus"],
        serde_json::json!({"x1": {"418": 1, "201": 1}})
    );
    assert_eq!(
        c["x"]["RequestCountsByHeaderValueAndResponseStatus"],
        serde_json::json!({"x1": {"418": 1, "503": 1}, "x2": {"200": 1}})
    );
}

/// Sends a request and gives up after `patience`, closing the connection.
fn impatient_get(port: u16, path: &str, headers: &[(&str, &str)], patience: Duration) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    if s.write_all(req.as_bytes()).is_err() || s.set_read_timeout(Some(patience)).is_err() {
        return false;
    }
    let mut buf = [0u8; 1024];
    // True if it got an answer in time; the stream is dropped (closed) either way.
    matches!(s.read(&mut buf), Ok(n) if n > 0)
}

#[test]
fn seed_tracks_request_timeouts() {
    let g = goto("timeouts");
    assert_eq!(g.post("/request/timeout/track/all", "").status, 200);
    assert_eq!(g.put("/request/timeout/track/headers/x,y").status, 200);
    assert_eq!(g.put("/response/delay/set/2s").status, 200);

    // Two clients give up after 0.5s, during the 2s delay.
    let started = Instant::now();
    assert!(!impatient_get(
        g.port,
        "/someuri",
        &[("x", "x1")],
        Duration::from_millis(500)
    ));
    assert!(!impatient_get(
        g.port,
        "/someuri",
        &[("y", "y2")],
        Duration::from_millis(500)
    ));
    assert!(started.elapsed() < Duration::from_millis(1900));
    // One patient client gets its answer.
    let r = request(g.port, "GET", "/someuri", &[("y", "y2")], b"");
    assert_eq!(r.status, 200);

    let want = serde_json::json!({
        "all": {"ConnectionClosed": 2, "RequestCompleted": 1},
        "headers": {
            "x": {"x1": {"ConnectionClosed": 1, "RequestCompleted": 0}},
            "y": {"y2": {"ConnectionClosed": 1, "RequestCompleted": 1}}
        }
    });
    let mut last = serde_json::Value::Null;
    let ok = common::eventually(Duration::from_secs(5), || {
        last = g.get("/request/timeout/status").json();
        last == want
    });
    assert!(ok, "timeout status: {last}");

    assert_eq!(g.post("/request/timeout/track/clear", "").status, 200);
    assert_eq!(
        g.get("/request/timeout/status").json(),
        serde_json::json!({"all": null, "headers": {}})
    );
    assert_eq!(
        g.put("/request/timeout/track/headers/bad%20name").status,
        400
    );
}
