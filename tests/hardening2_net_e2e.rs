//! Issue 24's listener and certificate rows (6, 7, 9, 11), through the real
//! binary on loopback: each test reproduces one defect the audit found.
//! Every wait is bounded; small caps and short timeouts come from flags.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, Goto};

/// A server started like [`Goto::start`], its stderr kept in a file.
fn start_logged(name: &str, args: &[&str]) -> (Goto, PathBuf) {
    let log = std::env::temp_dir().join(format!("goto-{name}-{}.log", std::process::id()));
    let port = free_port();
    let child = Command::new(common::goto_bin())
        .arg("--port")
        .arg(port.to_string())
        .args(args)
        .env("POD_IP", "127.0.0.1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn goto");
    let g = Goto { child, port };
    g.wait_ready(port);
    (g, log)
}

fn ok(g: &Goto, method: &str, path: &str, body: &str) -> common::Resp {
    let r = common::request(g.port, method, path, &[], body.as_bytes());
    assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.text());
    r
}

/// Row 6: one garbage file in `--certs` is skipped with a warning naming
/// it, at startup; plain http targets work, and https targets (client and
/// proxy) still trust the good CA next to it.
#[test]
fn a_bad_file_in_certs_is_skipped_with_a_warning_and_costs_nothing_else() {
    let up = Goto::start(&["--request-logs=false", "--label", "up"]);
    let tls_port = free_port();
    ok(
        &up,
        "POST",
        "/listeners/add",
        &format!(r#"{{"port":{tls_port},"protocol":"https","label":"secure-up"}}"#),
    );
    let cert = up.get(&format!("/listeners/{tls_port}/cert")).text();
    let dir = std::env::temp_dir().join(format!("goto-bad-certs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    std::fs::write(dir.join("good.pem"), cert).expect("write cert");
    let bad = dir.join("broken.crt");
    std::fs::write(&bad, b"\x00\x01 not a certificate \xff").expect("write garbage");

    let (c, log) = start_logged(
        "bad-certs",
        &[
            "--request-logs=false",
            "--certs",
            dir.to_str().expect("utf8"),
        ],
    );
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("WARN") && l.contains(bad.to_str().expect("utf8"))),
        "no startup warning naming {}:\n{stderr}",
        bad.display()
    );

    let target = |name: &str, url: &str, verify: bool| {
        format!(
            r#"{{"name":"{name}","method":"GET","url":"{url}","verifyTLS":{verify},"requestCount":2,"delay":"1ms"}}"#
        )
    };
    let plain = format!("http://127.0.0.1:{}/plain", up.port);
    let https = format!("https://localhost:{tls_port}/secure");
    ok(
        &c,
        "POST",
        "/client/targets/add",
        &target("plain", &plain, false),
    );
    ok(
        &c,
        "POST",
        "/client/targets/add",
        &target("https", &https, true),
    );
    let r = common::request(c.port, "POST", "/client/targets/invoke/all", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = r.json();
    assert_eq!(r["countsByTargetStatus"]["plain"]["200 OK"], 2, "{r}");
    assert_eq!(r["countsByTargetStatus"]["https"]["200 OK"], 2, "{r}");

    // The proxy's verifying client trusts the same roots.
    ok(
        &c,
        "POST",
        "/request/proxy/targets/add",
        &format!(
            r#"{{"name":"verified","url":"https://localhost:{tls_port}","verifyTLS":true,"match":{{"uris":["/b"]}}}}"#
        ),
    );
    let r = c.get("/b");
    assert_eq!(r.status, 200, "{}", r.text());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// Reads one HTTP/1.1 response with a `Content-Length` body off `s`
/// (bounded by the stream's read timeout); `None` when the server closed
/// or reset the connection first.
fn read_one(s: &mut TcpStream) -> Option<(u16, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status = head.split(' ').nth(1)?.parse().ok()?;
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return Some((status, buf[end + 4..end + 4 + len].to_vec()));
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A keep-alive connection that has had one answered request.
fn kept_alive(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"GET /status/200 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("write");
    let (status, _) = read_one(&mut s).expect("an answer on a kept-alive connection");
    assert_eq!(status, 200);
    s
}

/// What the server did with a connection, seen from the client.
#[derive(Debug, PartialEq)]
enum Seen {
    /// Nothing arrived and it is still open.
    Open,
    /// Closed or reset, after these bytes.
    Closed(Vec<u8>),
}

/// Waits up to `within` for the server to close `s`.
fn closed_within(s: &mut TcpStream, within: Duration) -> Seen {
    s.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) => return Seen::Closed(got),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Seen::Closed(got),
        }
    }
    Seen::Open
}

/// One sample of the port's `/metrics` (0 when absent).
fn metric(port: u16, name: &str) -> f64 {
    let text = common::request(port, "GET", "/metrics", &[], b"").text();
    let prefix = format!("{name}{{port=\"{port}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Row 11: at `--max-conns` a listener full of idle keep-alive connections
/// closes the one idle the longest and lets the newcomer in at once; only
/// when none is idle (all mid-request) is the newcomer refused.
#[test]
fn at_the_connection_cap_the_oldest_idle_connection_makes_room() {
    let max = 6;
    let g = Goto::start(&[
        "--request-logs=false",
        "--max-conns",
        &max.to_string(),
        "--idle-timeout",
        "60s",
    ]);
    let mut idle: Vec<TcpStream> = Vec::new();
    for _ in 0..max {
        idle.push(kept_alive(g.port));
        // Distinct idle-since instants (the server's clock ticks in ms).
        std::thread::sleep(Duration::from_millis(15));
    }
    let t = Instant::now();
    let r = common::try_request(g.port, "GET", "/status/200", &[], b"")
        .expect("a new client at the cap is answered");
    assert_eq!(r.status, 200);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "answered after {:?}",
        t.elapsed()
    );
    // The oldest idle connection made room; the newest are untouched.
    assert!(
        matches!(
            closed_within(&mut idle[0], Duration::from_secs(2)),
            Seen::Closed(_)
        ),
        "the longest-idle connection was not closed"
    );
    assert_eq!(
        closed_within(&mut idle[max - 1], Duration::from_millis(200)),
        Seen::Open
    );
    assert!(metric(g.port, "goto_connections_evicted_total") >= 1.0);

    // Every place held by a connection mid-head: nothing is idle, so the
    // newcomer is refused (the cap still bounds descriptors).
    drop(idle);
    let mut busy: Vec<TcpStream> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while busy.len() < max && Instant::now() < deadline {
        let mut s = TcpStream::connect(("127.0.0.1", g.port)).expect("connect");
        s.write_all(b"GET /status/200 HTTP/1.1\r\nHost: x\r\n")
            .expect("write");
        // Refused ones (old places not yet given back) close at once.
        if closed_within(&mut s, Duration::from_millis(100)) == Seen::Open {
            busy.push(s);
        }
    }
    assert_eq!(
        busy.len(),
        max,
        "could not fill the cap with busy connections"
    );
    let refused = common::try_request(g.port, "GET", "/status/200", &[], b"");
    assert!(refused.is_err(), "admitted past the cap: {refused:?}");
    drop(busy);
    let back = common::eventually(Duration::from_secs(5), || {
        common::try_request(g.port, "GET", "/status/200", &[], b"").is_ok_and(|r| r.status == 200)
    });
    assert!(
        back,
        "the port did not take new connections once the busy ones ended"
    );
    assert!(metric(g.port, "goto_connections_refused_total") >= 1.0);
}

/// Row 7: unfinished request heads share a per-listener memory cap
/// (`--max-head-memory`); connections growing one past it get 431 and are
/// closed, while heads under it, and new clients, are served as before.
#[test]
fn unfinished_big_heads_past_the_listeners_memory_cap_get_431() {
    let g = Goto::start(&[
        "--request-logs=false",
        "--max-head-memory",
        "256KB",
        "--header-timeout",
        "60s",
    ]);
    // 100 KB of one header, its line never ended: each holds ~92 KB of the
    // cap (the first 8 KiB of a head are free), so two fit and six do not.
    let head = format!(
        "GET /status/200 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {}",
        "a".repeat(100 * 1024)
    );
    let mut conns: Vec<TcpStream> = (0..6)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", g.port)).expect("connect");
            // A connection already cut may refuse the rest: that is the point.
            let _ = s.write_all(head.as_bytes());
            s
        })
        .collect();
    // Two of six fit: wait (bounded) until the other four are cut.
    let mut cut = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while cut < 4 && Instant::now() < deadline {
        let mut i = 0;
        while i < conns.len() {
            match closed_within(&mut conns[i], Duration::from_millis(20)) {
                Seen::Open => i += 1,
                Seen::Closed(got) => {
                    cut += 1;
                    // The answer may be lost to the reset of the unread rest.
                    assert!(
                        got.is_empty() || got.starts_with(b"HTTP/1.1 431 "),
                        "{}",
                        String::from_utf8_lossy(&got)
                    );
                    conns.remove(i);
                }
            }
        }
    }
    assert!(
        cut >= 4,
        "{cut} of 6 unfinished 100 KB heads cut with a 256 KB cap"
    );
    let mut open = conns;
    assert!(!open.is_empty(), "heads under the cap were cut too");
    // A client with a normal head is served meanwhile.
    assert_eq!(g.get("/status/200").status, 200);
    // A head under the cap completes as usual, and gives its share back.
    let mut s = open.remove(0);
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"\r\n\r\n").expect("finish the head");
    assert_eq!(read_one(&mut s).map(|r| r.0), Some(200));
    drop(open);
    drop(s);
    // With the cap free again, a big head is taken whole.
    let mut s = TcpStream::connect(("127.0.0.1", g.port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(b"\r\n\r\n").expect("write");
    assert_eq!(read_one(&mut s).map(|r| r.0), Some(200));
}

/// Row 9: with `--admin-port`, `/port/{port}/` before an admin path on the
/// admin listener configures that port; without it the admin listener's
/// own state, as before; the token guards both.
#[test]
fn the_admin_port_configures_another_port_under_its_prefix() {
    let admin = free_port();
    let a = admin.to_string();
    let g = Goto::start(&[
        "--request-logs=false",
        "--admin-port",
        &a,
        "--admin-token",
        "s3cret",
    ]);
    let auth = [("Authorization", "Bearer s3cret")];
    let on_admin = |method: &str, path: &str| common::request(admin, method, path, &auth, b"");
    let set = format!("/port/{}/response/status/set/503:2", g.port);
    let r = on_admin("PUT", &set);
    assert_eq!(r.status, 200, "{}", r.text());
    let statuses: Vec<u16> = (0..3).map(|_| g.get("/echo").status).collect();
    assert_eq!(
        statuses,
        [503, 503, 200],
        "the runtime port's forced status"
    );
    assert_eq!(
        on_admin("GET", "/echo").status,
        200,
        "admin listener untouched"
    );

    // No prefix: the admin listener's own state, as before.
    assert_eq!(on_admin("PUT", "/response/status/set/418:1").status, 200);
    assert_eq!(g.get("/echo").status, 200);
    assert_eq!(on_admin("GET", "/echo").status, 418);

    // Per-port reads work under the prefix too.
    let label = on_admin("GET", &format!("/port/{}/label", g.port));
    assert_eq!(label.status, 200, "{}", label.text());

    // The token still applies; bad prefixes get a one-line reason.
    let r = common::request(admin, "PUT", &set, &[], b"");
    assert_eq!(r.status, 401, "{}", r.text());
    for (path, status, says) in [
        (
            "/port/1/response/status/set/503".to_string(),
            404,
            "no HTTP listener on port 1",
        ),
        (
            "/port/abc/response/status/set/503".to_string(),
            400,
            "not a port number",
        ),
        (
            format!("/port/{}/nothing", g.port),
            404,
            "not an admin path",
        ),
        (format!("/port/{}", g.port), 400, "needs an admin path"),
    ] {
        let r = on_admin("PUT", &path);
        assert_eq!(r.status, status, "{path}: {}", r.text());
        let text = r.text();
        assert!(
            text.contains(says) && text.trim().lines().count() == 1,
            "{path}: {text}"
        );
    }
    // On a runtime port the prefix is runtime traffic like any path.
    let r = g.put(&set);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(g.get("/echo").status, 200);
}
