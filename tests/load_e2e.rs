//! End-to-end tests of `goto load`: run the real binary with `--json`
//! against goto's own responder (or a tiny std::net server where a test needs
//! exact server behaviour), on both io drivers, loopback only, bounded in time.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, load, Goto};
use serde_json::Value;

const DRIVERS: [&str; 2] = ["uring", "epoll"];
/// Runs `goto load --json --io-driver <driver> <args>`; `None` when io_uring
/// is unavailable on this machine (the test then covers epoll only).
fn load_json(driver: &str, args: &[&str]) -> Option<Value> {
    let mut all = vec!["--json", "--no-progress", "--io-driver", driver];
    all.extend_from_slice(args);
    let r = load(&all);
    if driver == "uring" && r.code == 1 && r.stderr.contains("io_uring is not available") {
        eprintln!("skipping io_uring: {}", r.stderr.trim());
        return None;
    }
    assert_eq!(r.code, 0, "goto load {all:?} failed: {}", r.stderr);
    let v = r.json();
    assert_eq!(
        v["ioDriver"],
        if driver == "uring" {
            "io_uring"
        } else {
            "epoll"
        }
    );
    Some(v)
}

fn count(v: &Value, path: &[&str]) -> u64 {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_u64().unwrap_or(0)
}

fn url(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}{path}")
}

#[test]
fn exact_request_count_against_goto() {
    let goto = Goto::start(&["--request-logs=false"]);
    for driver in DRIVERS {
        let Some(v) = load_json(
            driver,
            &["-n", "10000", "-c", "50", &url(goto.port, "/load")],
        ) else {
            continue;
        };
        assert_eq!(count(&v, &["requests"]), 10000, "{driver}: {v}");
        assert_eq!(
            count(&v, &["countsByStatusCodes", "200"]),
            10000,
            "{driver}: {v}"
        );
        assert!(v["requestsPerSecond"].as_f64().unwrap_or(0.0) > 0.0);
        assert!(count(&v, &["bytesRead"]) > 0);
        for k in ["min", "mean", "p50", "p90", "p99", "p999", "max"] {
            assert!(v["latencyMs"][k].is_number(), "latencyMs.{k} missing: {v}");
        }
    }
}

#[test]
fn forced_status_counts_exactly() {
    for driver in DRIVERS {
        // A fresh server per driver so the forced count starts at 100.
        let goto = Goto::start(&["--request-logs=false"]);
        assert_eq!(goto.put("/response/status/set/503:100").status, 200);
        let Some(v) = load_json(driver, &["-n", "1000", "-c", "20", &url(goto.port, "/x")]) else {
            continue;
        };
        assert_eq!(count(&v, &["requests"]), 1000, "{driver}: {v}");
        assert_eq!(
            count(&v, &["countsByStatusCodes", "503"]),
            100,
            "{driver}: {v}"
        );
        assert_eq!(
            count(&v, &["countsByStatusCodes", "200"]),
            900,
            "{driver}: {v}"
        );
    }
}

#[test]
fn tracked_header_values_are_counted() {
    let goto = Goto::start(&["--request-logs=false"]);
    for driver in DRIVERS {
        let args = [
            "-n",
            "500",
            "-c",
            "10",
            "-H",
            "X-Echo: abc",
            "--track-header",
            "Via-Goto",
            "--track-header",
            "X-ECHO,x-missing",
            &url(goto.port, "/t"),
        ];
        let Some(v) = load_json(driver, &args) else {
            continue;
        };
        assert_eq!(
            count(&v, &["countsByHeaders", "via-goto"]),
            500,
            "{driver}: {v}"
        );
        let via = v["countsByHeaderValues"]["via-goto"]
            .as_object()
            .expect("via-goto values");
        assert_eq!(
            via.values().filter_map(Value::as_u64).sum::<u64>(),
            500,
            "{driver}: {v}"
        );
        assert_eq!(
            count(&v, &["countsByHeaderValues", "x-echo", "abc"]),
            500,
            "{driver}: {v}"
        );
        assert!(v["countsByHeaders"].get("x-missing").is_none());
    }
}

/// Runs `goto load --json --io-driver <driver> <args>` expecting exit 1 (a
/// run that answered nothing); `None` when io_uring is unavailable.
fn load_json_failed(driver: &str, args: &[&str]) -> Option<Value> {
    let mut all = vec!["--json", "--no-progress", "--io-driver", driver];
    all.extend_from_slice(args);
    let r = load(&all);
    if driver == "uring" && r.code == 1 && r.stderr.contains("io_uring is not available") {
        eprintln!("skipping io_uring: {}", r.stderr.trim());
        return None;
    }
    assert_eq!(r.code, 1, "goto load {all:?}: {}", r.stderr);
    Some(r.json())
}

#[test]
fn refused_port_gives_errors_not_a_hang() {
    // Since exit codes became honest, a refused first connect fails fast as
    // wrk does: exit 1, the refusal counted as the one error of the report.
    let port = free_port();
    for driver in DRIVERS {
        let started = Instant::now();
        let Some(v) = load_json_failed(driver, &["-n", "200", "-c", "4", &url(port, "/")]) else {
            continue;
        };
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{driver}: took {:?}",
            started.elapsed()
        );
        assert_eq!(
            count(&v, &["requests"]),
            count(&v, &["countsByStatusCodes", "0"]),
            "{driver}: {v}"
        );
        assert!(
            count(&v, &["errors", "connect: connection refused"]) >= 1,
            "{driver}: {v}"
        );
        // A duration run against a refused port also ends on time.
        let started = Instant::now();
        let Some(v) = load_json_failed(driver, &["-d", "1s", "-c", "2", &url(port, "/")]) else {
            continue;
        };
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{driver}: took {:?}",
            started.elapsed()
        );
        assert_eq!(
            count(&v, &["requests"]),
            count(&v, &["countsByStatusCodes", "0"]),
            "{driver}: {v}"
        );
    }
}

#[test]
fn rate_is_kept_within_five_percent() {
    let goto = Goto::start(&["--request-logs=false"]);
    for driver in DRIVERS {
        let Some(v) = load_json(
            driver,
            &["-r", "200", "-d", "3s", "-c", "10", &url(goto.port, "/r")],
        ) else {
            continue;
        };
        let requests = count(&v, &["requests"]) as f64;
        assert!(
            (requests - 600.0).abs() <= 30.0,
            "{driver}: {requests} requests, want 600 +- 5%: {v}"
        );
        let rps = v["requestsPerSecond"].as_f64().unwrap_or(0.0);
        assert!(
            (rps - 200.0).abs() <= 10.0,
            "{driver}: {rps} req/s, want 200 +- 5%: {v}"
        );
    }
}

#[test]
fn bad_flags_and_urls_exit_2_with_one_line() {
    for args in [
        &["not-a-url"][..],
        &["-c", "0", "http://127.0.0.1:1/"],
        &["-H", "nocolon", "http://127.0.0.1:1/"],
        &["--cacert", "/nonexistent/ca.pem", "https://127.0.0.1:1/"],
        &["-r", "0", "http://127.0.0.1:1/"],
    ] {
        let r = load(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty());
    }
    assert_eq!(load(&["--duration", "soon", "http://127.0.0.1:1/"]).code, 2);
}

#[test]
fn text_report_has_the_expected_lines() {
    let goto = Goto::start(&["--request-logs=false"]);
    let r = load(&[
        "--no-progress",
        "-n",
        "100",
        "-c",
        "5",
        "--track-header",
        "via-goto",
        &url(goto.port, "/"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for needle in ["Requests/sec:", "p99.9", "200 OK", "via-goto", "IO driver:"] {
        assert!(
            r.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            r.stdout
        );
    }
}

/// What the mini server does for request number `n` (0-based).
type Behaviour = dyn Fn(u64) -> Reply + Send + Sync;

enum Reply {
    /// Send the bytes, keep the connection.
    Keep(&'static [u8]),
    /// Send the bytes and close.
    Close(&'static [u8]),
    /// Wait, then send the bytes and keep the connection.
    Stall(Duration, &'static [u8]),
}

/// A tiny HTTP/1.1 server on 127.0.0.1 with scripted replies.
struct MiniServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl MiniServer {
    fn start(behaviour: Box<Behaviour>) -> MiniServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let behaviour: Arc<Behaviour> = Arc::from(behaviour);
        let counter = Arc::new(AtomicU64::new(0));
        let stop2 = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (b, c) = (behaviour.clone(), counter.clone());
                std::thread::spawn(move || serve(conn, &*b, &c));
            }
        });
        MiniServer { port, stop }
    }
}

impl Drop for MiniServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(mut conn: TcpStream, behaviour: &Behaviour, counter: &AtomicU64) {
    let _ = conn.set_nodelay(true);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // Requests from goto load carry no body here: a head ends each one.
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |p| p + 4);
        buf.drain(..end);
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let (bytes, close) = match behaviour(n) {
            Reply::Keep(b) => (b, false),
            Reply::Close(b) => (b, true),
            Reply::Stall(d, b) => {
                std::thread::sleep(d);
                (b, false)
            }
        };
        if conn.write_all(bytes).is_err() || close {
            return;
        }
    }
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

#[test]
fn stalled_server_shows_in_corrected_p99() {
    for driver in DRIVERS {
        // One connection at 100 requests/s; request 50 stalls for 1 s. A
        // closed-loop client would simply send less during the stall; the
        // corrected latency must show the requests that were due meanwhile.
        let server = MiniServer::start(Box::new(|n| {
            if n == 50 {
                Reply::Stall(Duration::from_secs(1), OK)
            } else {
                Reply::Keep(OK)
            }
        }));
        let Some(v) = load_json(
            driver,
            &["-r", "100", "-c", "1", "-d", "3s", &url(server.port, "/")],
        ) else {
            continue;
        };
        let p99 = v["latencyMs"]["p99"].as_f64().unwrap_or(0.0);
        let p90 = v["latencyMs"]["p90"].as_f64().unwrap_or(0.0);
        let raw_p90 = v["latencyUncorrectedMs"]["p90"]
            .as_f64()
            .unwrap_or(f64::MAX);
        assert!(
            p99 >= 500.0,
            "{driver}: corrected p99 {p99} ms should show the 1 s stall: {v}"
        );
        assert!(p90 >= 100.0, "{driver}: corrected p90 {p90} ms: {v}");
        assert!(
            raw_p90 < 100.0,
            "{driver}: uncorrected p90 {raw_p90} ms should not: {v}"
        );
    }
}

#[test]
fn connection_close_chunked_and_close_delimited_bodies() {
    const CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
    const CHUNKED: &[u8] =
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    const EOF_BODY: &[u8] = b"HTTP/1.0 202 Accepted\r\n\r\nuntil close";
    for driver in DRIVERS {
        let server = MiniServer::start(Box::new(|n| match n % 4 {
            0 => Reply::Close(CLOSE),
            1 => Reply::Keep(CHUNKED),
            2 => Reply::Close(EOF_BODY),
            _ => Reply::Keep(OK),
        }));
        let Some(v) = load_json(driver, &["-n", "400", "-c", "4", &url(server.port, "/")]) else {
            continue;
        };
        assert_eq!(count(&v, &["requests"]), 400, "{driver}: {v}");
        let ok: u64 = ["200", "201", "202"]
            .iter()
            .map(|c| count(&v, &["countsByStatusCodes", c]))
            .sum();
        assert_eq!(ok, 400, "{driver}: every response parsed: {v}");
    }
}

#[test]
fn request_timeout_is_an_error_not_a_hang() {
    for driver in DRIVERS {
        let server = MiniServer::start(Box::new(|_| Reply::Stall(Duration::from_secs(30), OK)));
        let started = Instant::now();
        // Nothing answered: exit 1.
        let Some(v) = load_json_failed(
            driver,
            &[
                "-n",
                "2",
                "-c",
                "2",
                "--timeout",
                "300ms",
                &url(server.port, "/"),
            ],
        ) else {
            continue;
        };
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{driver}: {:?}",
            started.elapsed()
        );
        assert_eq!(count(&v, &["errors", "timeout"]), 2, "{driver}: {v}");
    }
}

#[test]
fn http2_load_counts_exactly_against_goto() {
    let goto = Goto::start(&["--request-logs=false"]);
    let r = load(&[
        "--json",
        "--no-progress",
        "--http2",
        "-n",
        "2000",
        "-c",
        "150",
        "--track-header",
        "via-goto",
        &url(goto.port, "/h2"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    assert_eq!(count(&v, &["requests"]), 2000, "{v}");
    assert_eq!(count(&v, &["countsByStatusCodes", "200"]), 2000, "{v}");
    // HTTP/2 runs on the engine's workers and reports their driver.
    assert!(
        v["ioDriver"] == "io_uring" || v["ioDriver"] == "epoll",
        "{v}"
    );
    let via: u64 = v["countsByHeaderValues"]["via-goto"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    assert_eq!(via, 2000, "{v}");
    assert!(v["requestsPerSecond"].as_f64().unwrap_or(0.0) > 0.0, "{v}");
    // A server that does not speak HTTP/2 gives errors, not a hang.
    let refused = load(&[
        "--json",
        "--no-progress",
        "--http2",
        "-n",
        "10",
        &url(free_port(), "/"),
    ]);
    // Nothing answered: exit 1 (fail fast on the refused first connect).
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(count(&refused.json(), &["countsByStatusCodes", "0"]) >= 1);
}

#[test]
fn status_000_counts_as_an_invalid_response() {
    const ZERO: &[u8] = b"HTTP/1.1 000 Zero\r\nContent-Length: 0\r\n\r\n";
    for driver in DRIVERS {
        let server = MiniServer::start(Box::new(|n| {
            if n % 2 == 0 {
                Reply::Close(ZERO)
            } else {
                Reply::Keep(OK)
            }
        }));
        let Some(v) = load_json(driver, &["-n", "10", "-c", "1", &url(server.port, "/")]) else {
            continue;
        };
        let invalid = count(&v, &["errors", "parse: invalid status code"]);
        assert!(invalid >= 1, "{driver}: 000 is an invalid response: {v}");
        assert_eq!(
            count(&v, &["errors", "connection closed"]),
            0,
            "{driver}: {v}"
        );
    }
}

#[test]
fn http2_streams_flag_counts_connections_as_h2load_does() {
    let goto = Goto::start(&["--request-logs=false"]);
    // -c 2 --streams 3: six streams over two connections, on the epoll
    // driver (the io_uring one runs in the test above where available).
    let r = load(&[
        "--no-progress",
        "--http2",
        "--io-driver",
        "epoll",
        "-c",
        "2",
        "--streams",
        "3",
        "-n",
        "600",
        &url(goto.port, "/h2"),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("6 streams over 2 connections"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Requests:      600"), "{}", r.stdout);
    assert!(r.stdout.contains("IO driver:     epoll"), "{}", r.stdout);
    // --streams is HTTP/2 only, and bounded.
    let usage = load(&["--streams", "3", &url(goto.port, "/")]);
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    let usage = load(&["--http2", "--streams", "101", &url(goto.port, "/")]);
    assert_eq!(usage.code, 2, "{}", usage.stderr);
}
