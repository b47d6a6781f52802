//! Issue 14's attack table, row by row, through the real binary on loopback:
//! slow and idle connections are closed by the listener timeouts, the
//! connection cap holds, upstreams that never answer get a 504, proxy loops a
//! 508, client-chosen values stay bounded, malformed bodies and framing
//! headers are refused, and registry input is validated and capped. Every
//! wait is bounded; short timeouts come from flags.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{eventually, request, Goto};

/// True once the server has closed `s` (EOF or reset), waiting at most `within`.
fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let _ = s.set_read_timeout(Some(left.min(Duration::from_millis(500))));
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
}

fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).expect("connect")
}

/// Row 1: slowloris heads are cut at the header timeout while the server keeps
/// answering; an idle keep-alive connection goes at the idle timeout, not at
/// the (shorter) header timeout.
#[test]
fn slow_heads_and_idle_connections_are_closed() {
    let g = Goto::start(&[
        "--request-logs=false",
        "--header-timeout",
        "1s",
        "--idle-timeout",
        "3s",
    ]);
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = connect(g.port);
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .expect("partial head");
            s
        })
        .collect();
    // Traffic is still served while they hang.
    assert_eq!(g.get("/echo").status, 200);
    for s in &mut slow {
        assert!(
            closed_by_server(s, Duration::from_secs(15)),
            "a slowloris connection outlived the header timeout"
        );
    }
    // A connection that never sends a byte is cut at the header timeout too.
    let mut silent = connect(g.port);
    assert!(closed_by_server(&mut silent, Duration::from_secs(15)));

    // Idle keep-alive: alive past the header timeout, gone after the idle one.
    let mut ka = connect(g.port);
    ka.write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let mut buf = [0u8; 4096];
    ka.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let n = ka.read(&mut buf).expect("response");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
    let idle_since = Instant::now();
    assert!(closed_by_server(&mut ka, Duration::from_secs(20)));
    assert!(
        idle_since.elapsed() >= Duration::from_millis(1500),
        "closed at the header timeout instead of the idle one: {:?}",
        idle_since.elapsed()
    );
}

/// Row 1: past `--max-conns` new connections are closed at once when none
/// is idle (each held one is mid-head; idle ones would make room, issue 24
/// row 11); the cap frees up as connections end.
#[test]
fn connection_cap_per_listener() {
    let g = Goto::start(&["--request-logs=false", "--max-conns", "8"]);
    let held: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = connect(g.port);
            s.write_all(b"GET /echo HTTP/1.1\r\n").expect("write");
            s
        })
        .collect();
    // Let the accept loop count them all.
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = connect(g.port);
    assert!(
        closed_by_server(&mut extra, Duration::from_secs(5)),
        "connection over the cap stayed open"
    );
    drop(held);
    assert!(eventually(Duration::from_secs(10), || {
        common::try_request(g.port, "GET", "/echo", &[], b"").is_ok_and(|r| r.status == 200)
    }));
}

/// A TCP server that accepts and never answers.
fn black_hole() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// Row 2: a proxy target whose upstream never answers gets 504 at its
/// timeout; a trigger to it is bounded too and counted as a failure.
#[test]
fn hanging_upstream_is_a_504() {
    let (_hole, hole_port) = black_hole();
    let g = Goto::start(&["--request-logs=false"]);
    let spec = format!(
        r#"{{"name":"hang","url":"http://127.0.0.1:{hole_port}","match":{{"uris":["/hang"]}},"timeout":"500ms"}}"#
    );
    let r = g.post("/request/proxy/targets/add", &spec);
    assert_eq!(r.status, 200, "{}", r.text());
    let started = Instant::now();
    let r = g.get("/hang");
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(
        r.text().contains("no response within 500ms"),
        "{}",
        r.text()
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let bad = g.post(
        "/request/proxy/targets/add",
        r#"{"name":"z","url":"http://127.0.0.1:1","match":{"uris":["/z"]},"timeout":"0s"}"#,
    );
    assert_eq!(bad.status, 400, "{}", bad.text());

    let trig = format!(
        r#"{{"name":"t","url":"http://127.0.0.1:{hole_port}/hook","triggerOnResponseStatuses":[418],"timeout":"300ms"}}"#
    );
    assert_eq!(g.post("/response/trigger/add", &trig).status, 200);
    assert_eq!(g.get("/status/418").status, 418);
    assert!(
        eventually(Duration::from_secs(10), || {
            let v = g.get("/response/trigger/counts").json();
            v["t"]["failureCount"].as_u64() == Some(1)
        }),
        "{}",
        g.get("/response/trigger/counts").text()
    );
}

/// Row 4: a target pointing at its own port stops at the hop limit with 508.
#[test]
fn proxy_loop_is_a_508() {
    let g = Goto::start(&["--request-logs=false"]);
    let spec = format!(
        r#"{{"name":"self","url":"http://127.0.0.1:{}","match":{{"uris":["/loop"]}}}}"#,
        g.port
    );
    assert_eq!(g.post("/request/proxy/targets/add", &spec).status, 200);
    let r = g.get("/loop");
    assert_eq!(r.status, 508, "{}", r.text());
    assert!(r.text().contains("proxy loop"), "{}", r.text());
    // The instance is fine afterwards.
    assert_eq!(g.get("/echo").status, 200);
}

/// Sends `n` pipelined GETs on one connection and reads all the answers.
fn pipelined(port: u16, n: usize, req: impl Fn(usize) -> String) {
    let mut s = connect(port);
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&req(i));
    }
    let writer = {
        let mut w = s.try_clone().expect("clone");
        let bytes = out.into_bytes();
        std::thread::spawn(move || w.write_all(&bytes))
    };
    let mut seen = 0;
    let mut buf = vec![0u8; 1 << 16];
    let mut carry: Vec<u8> = Vec::new();
    while seen < n {
        let k = s.read(&mut buf).expect("read responses");
        assert!(k > 0, "closed after {seen} of {n} responses");
        carry.extend_from_slice(&buf[..k]);
        seen += carry.windows(9).filter(|w| *w == b"HTTP/1.1 ").count();
        // Keep a tail so a status line split across reads is still found once.
        let keep = carry.len().min(8);
        carry.drain(..carry.len() - keep);
    }
    writer.join().unwrap().expect("write requests");
}

/// Row 3: distinct tracked header values and URIs past the cap are counted
/// under `<other>`; the totals still add up.
#[test]
fn tracked_values_and_uri_counts_are_capped() {
    const N: usize = 10_000 + 20;
    let g = Goto::start(&["--request-logs=false"]);
    assert_eq!(g.put("/request/headers/track/add/x-id").status, 200);
    assert_eq!(g.post("/request/uri/counts/enable", "").status, 200);
    pipelined(g.port, N, |i| {
        format!("GET /u{i} HTTP/1.1\r\nHost: x\r\nX-Id: v{i}\r\n\r\n")
    });
    let v = g.get("/request/headers/track/counts").json();
    let by_value = v["x-id"]["RequestCountsByHeaderValue"]
        .as_object()
        .expect("counts by value");
    assert_eq!(by_value.len(), 10_001, "cap + <other>");
    assert_eq!(by_value["<other>"].as_u64(), Some(20));
    let total: u64 = by_value.values().filter_map(|c| c.as_u64()).sum();
    assert_eq!(total, N as u64);
    let uris = g.get("/request/uri/counts").json();
    let uris = uris.as_object().expect("uri counts");
    assert_eq!(uris.len(), 10_001);
    assert!(uris["<other>"].as_u64().unwrap_or(0) >= 20);
}

/// Row 6: a malformed chunked body on a runtime path is a 400, not an echo
/// of a silently truncated body.
#[test]
fn malformed_chunked_body_is_a_400() {
    let g = Goto::start(&["--request-logs=false"]);
    let mut s = connect(g.port);
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("malformed request body"), "{text}");
}

/// Row 7: framing headers cannot be set as custom response headers.
#[test]
fn framing_headers_are_refused_as_custom_headers() {
    let g = Goto::start(&["--request-logs=false"]);
    for name in ["transfer-encoding", "Content-Length", "connection"] {
        let r = g.put(&format!("/response/headers/add/{name}/chunked"));
        assert_eq!(r.status, 400, "{name}: {}", r.text());
    }
    assert_eq!(g.put("/response/headers/add/x-ok/1").status, 200);
    let r = g.get("/echo");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-ok"), Some("1"));
}

/// Row 8: epochs per address are capped (oldest dropped and counted); peer
/// names with control characters or past the length limit are refused.
#[test]
fn registry_epochs_are_capped_and_names_validated() {
    let g = Goto::start(&["--request-logs=false", "--peer-health-seconds", "0"]);
    for i in 0..120 {
        let body = format!(r#"{{"name":"p","address":"127.0.0.1:1","instance":"i{i}"}}"#);
        assert_eq!(g.post("/registry/peers/add", &body).status, 200);
    }
    let v = g.get("/registry/peers").json();
    let epochs = v["p"]["podEpochs"]["127.0.0.1:1"]
        .as_array()
        .expect("epochs");
    assert_eq!(epochs.len(), 100);
    assert_eq!(epochs[0]["epoch"].as_u64(), Some(20), "oldest dropped");
    assert_eq!(v["p"]["droppedEpochs"].as_u64(), Some(20));
    let long = "n".repeat(300);
    for name in ["a\\u0000b", "a\\nb", long.as_str()] {
        let body = format!(r#"{{"name":"{name}","address":"127.0.0.1:2"}}"#);
        let r = g.post("/registry/peers/add", &body);
        assert_eq!(r.status, 400, "{name:?}: {}", r.text());
    }
}

/// Row 1 (body): a body that stops arriving gets a 408 at the body timeout.
#[test]
fn stalled_request_body_is_a_408() {
    let g = Goto::start(&["--request-logs=false", "--body-timeout", "500ms"]);
    for path in ["/echo", "/client/targets/add"] {
        let mut s = connect(g.port);
        s.write_all(
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc").as_bytes(),
        )
        .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 408"), "{path}: {text}");
    }
    let r = request(g.port, "POST", "/echo", &[], b"fine");
    assert_eq!(r.status, 200);
}
