//! End-to-end tests of the server foundation: the real binary on free loopback
//! ports, driven over HTTP like the seed scenarios do with curl.

mod common;

use std::time::{Duration, Instant};

use common::{free_port, request, try_request, Goto};

fn quiet() -> Goto {
    Goto::start(&["--request-logs=false", "--label", "Server8081"])
}

#[test]
fn forced_status_with_times_then_recovers() {
    let g = quiet();
    let r = g.put("/response/status/set/503:2");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text().trim(),
        "Will respond with forced status: 503 times 2"
    );
    let codes: Vec<u16> = (0..4).map(|_| g.get("/my/fancy/api").status).collect();
    assert_eq!(codes, vec![503, 503, 200, 200]);
    let counts = g.get("/response/status/counts").json();
    assert_eq!(counts["countsByResponseStatus"]["503"], 2);
    assert_eq!(counts["countsByResponseStatus"]["200"], 2);
    // Forever without times, and 0 resets.
    g.put("/response/status/set/502");
    assert!((0..5).all(|_| g.get("/x").status == 502));
    assert_eq!(g.put("/response/status/set/0").status, 200);
    assert_eq!(g.get("/x").status, 200);
}

#[test]
fn identity_headers_on_every_response() {
    let g = Goto::start_env(
        &["--request-logs=false", "--label", "Server8081"],
        &[("POD_NAME", "pod-a"), ("NAMESPACE", "ns1")],
    );
    for path in [
        "/some/api",
        "/echo",
        "/status/201",
        "/response/status",
        "/label",
    ] {
        let r = g.get(path);
        assert_eq!(r.header("via-goto"), Some("Server8081"), "{path}");
        assert_eq!(
            r.header("goto-host").map(str::to_string),
            Some(format!("pod-a.ns1@127.0.0.1:{}", g.port)),
            "{path}"
        );
    }
}

#[test]
fn catch_all_and_echo_copy_request_headers_and_echo_the_request() {
    let g = quiet();
    let r = request(
        g.port,
        "POST",
        "/some/api?a=1",
        &[("x", "x1"), ("foo", "bar")],
        b"{\"t\":1}",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x"), Some("x1"));
    assert_eq!(r.header("foo"), Some("bar"));
    assert!(r
        .header("connection")
        .is_none_or(|v| v != "close" || r.headers_all("connection").len() == 1));
    let doc = r.json();
    assert_eq!(doc["method"], "POST");
    assert_eq!(doc["uri"], "/some/api?a=1");
    assert_eq!(doc["query"]["a"], "1");
    assert_eq!(doc["body"], "{\"t\":1}");
    assert_eq!(doc["protocol"], "HTTP/1.1");
    assert_eq!(doc["headers"]["x"], "x1");

    let e = request(g.port, "PUT", "/echo", &[("y", "y1")], b"hello");
    assert_eq!(e.header("y"), Some("y1"));
    assert_eq!(e.json()["body"], "hello");
}

#[test]
fn status_endpoint_and_forced_status_override() {
    let g = quiet();
    assert_eq!(g.get("/status/418").status, 418);
    assert_eq!(g.get("/status/abc").status, 400);
    g.put("/response/status/set/503:1");
    assert_eq!(g.get("/status/201").status, 503);
    assert_eq!(g.get("/status/201").status, 201);
    let c = g.get("/response/status/counts").json();
    assert_eq!(c["countsByRequestedStatus"]["201"], 2);
    let one = g.get("/response/status/counts/201").json();
    assert_eq!(one["requested"], 2);
}

#[test]
fn delay_applies_and_clears() {
    let g = quiet();
    assert_eq!(
        g.put("/response/delay/set/300ms").text().trim(),
        "Will delay all responses by 300ms"
    );
    assert_eq!(g.get("/response/delay").json()["delay"], "300ms");
    let t = Instant::now();
    assert_eq!(g.get("/slow").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(290));
    g.post("/response/delay/clear", "");
    assert_eq!(g.get("/response/delay").json()["delay"], "0s");
}

#[test]
fn custom_response_headers() {
    let g = quiet();
    assert_eq!(g.put("/response/headers/add/X-Custom/abc").status, 200);
    assert_eq!(g.get("/any").header("x-custom"), Some("abc"));
    assert_eq!(g.get("/response/headers").json()["x-custom"], "abc");
    g.post("/response/headers/remove/x-custom", "");
    assert_eq!(g.get("/any").header("x-custom"), None);
    assert_eq!(g.post("/response/headers/remove/x-custom", "").status, 404);
}

#[test]
fn payload_precedence_uri_then_header_then_default() {
    let g = quiet();
    assert_eq!(
        g.post("/response/payload/set/default", "default-body")
            .status,
        200
    );
    assert_eq!(
        g.post("/response/payload/set/header/x-a", "header-body")
            .status,
        200
    );
    assert_eq!(
        g.post(
            "/response/payload/set/header/x-a/value/v1",
            "header-value-body"
        )
        .status,
        200
    );
    assert_eq!(
        g.post(
            "/response/payload/set/uri?uri=/foo/%7Bf%7D/bar/%7Bb%7D",
            "f={f} b={b}"
        )
        .status,
        200
    );
    assert_eq!(g.get("/other").text(), "default-body");
    assert_eq!(
        request(g.port, "GET", "/other", &[("x-a", "zz")], b"").text(),
        "header-body"
    );
    assert_eq!(
        request(g.port, "GET", "/other", &[("x-a", "v1")], b"").text(),
        "header-value-body"
    );
    assert_eq!(
        request(g.port, "GET", "/foo/1/bar/2", &[("x-a", "v1")], b"").text(),
        "f=1 b=2"
    );
    let listed = g.get("/response/payload").json();
    assert_eq!(listed["uris"][0]["uri"], "/foo/{f}/bar/{b}");
    g.post("/response/payload/clear", "");
    assert_eq!(g.get("/other").json()["uri"], "/other");
}

#[test]
fn bypass_uris_escape_forced_status_and_delay() {
    let g = quiet();
    // `/healthz`: `/health` itself is now goto's own admin health endpoint.
    assert_eq!(g.put("/request/uri/bypass/add?uri=/healthz").status, 200);
    g.put("/response/status/set/503");
    g.put("/response/delay/set/2s");
    let t = Instant::now();
    assert_eq!(g.get("/healthz").status, 200);
    assert!(t.elapsed() < Duration::from_millis(1500));
    g.put("/request/uri/bypass/status/set/202");
    assert_eq!(g.get("/healthz").status, 202);
    assert_eq!(
        g.get("/request/uri/bypass/counts?uri=/healthz").json()["/healthz"],
        2
    );
    assert_eq!(g.get("/request/uri/bypass").json()["uris"][0], "/healthz");
    g.post("/response/delay/clear", "");
    assert_eq!(g.get("/else").status, 503);
}

#[test]
fn uri_counts() {
    let g = quiet();
    g.post("/request/uri/counts/enable", "");
    for _ in 0..3 {
        g.get("/a?x=1");
    }
    g.get("/b");
    let c = g.get("/request/uri/counts").json();
    assert_eq!(c["/a"], 3);
    assert_eq!(c["/b"], 1);
    g.post("/request/uri/counts/clear", "");
    assert_eq!(g.get("/request/uri/counts").json(), serde_json::json!({}));
}

#[test]
fn second_listener_has_its_own_label_and_state_and_can_close_and_reopen() {
    let g = quiet();
    let p2 = free_port();
    let add = g.post(
        "/listeners/add",
        &format!(r#"{{"port":{p2},"protocol":"http","label":"Server-{p2}"}}"#),
    );
    assert_eq!(add.status, 200, "{}", add.text());
    let r2 = request(p2, "GET", "/x", &[], b"");
    assert_eq!(
        r2.header("via-goto").map(str::to_string),
        Some(format!("Server-{p2}"))
    );
    assert_eq!(
        request(p2, "GET", "/label", &[], b"").text().trim(),
        format!("Server-{p2}")
    );

    // Forced status on the second port only.
    request(p2, "PUT", "/response/status/set/502", &[], b"");
    assert_eq!(request(p2, "GET", "/x", &[], b"").status, 502);
    assert_eq!(g.get("/x").status, 200);
    assert_eq!(g.get("/x").header("via-goto"), Some("Server8081"));

    let l = g.get("/listeners").json();
    assert_eq!(l[p2.to_string()]["open"], true);

    // Close: refused; reopen: serves again with state kept.
    assert_eq!(g.put(&format!("/listeners/{p2}/close")).status, 200);
    assert!(common::eventually(Duration::from_secs(5), || try_request(
        p2,
        "GET",
        "/x",
        &[],
        b""
    )
    .is_err()));
    assert_eq!(g.put(&format!("/listeners/{p2}/open")).status, 200);
    assert_eq!(request(p2, "GET", "/x", &[], b"").status, 502);

    // A taken port is a 4xx with the reason; the existing listener is untouched.
    let dup = g.post("/listeners/add", &format!(r#"{{"port":{}}}"#, g.port));
    assert_eq!(dup.status, 409);
    let holder = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let taken = holder.local_addr().unwrap().port();
    let busy = g.post("/listeners/add", &format!(r#"{{"port":{taken}}}"#));
    assert_eq!(busy.status, 400, "{}", busy.text());
    assert!(busy.text().contains("cannot listen"), "{}", busy.text());
    assert!(g.get("/listeners").json().get(taken.to_string()).is_none());

    // Remove.
    assert_eq!(g.put(&format!("/listeners/{p2}/remove")).status, 200);
    assert!(common::eventually(Duration::from_secs(5), || try_request(
        p2,
        "GET",
        "/x",
        &[],
        b""
    )
    .is_err()));
    assert_eq!(g.put(&format!("/listeners/{}/remove", g.port)).status, 400);
}

#[test]
fn label_set_and_clear() {
    let g = Goto::start(&["--request-logs=false", "--label", "inst"]);
    assert_eq!(
        g.put("/label/set/Other").text().trim(),
        "Label set to: Other"
    );
    assert_eq!(g.get("/x").header("via-goto"), Some("Other"));
    g.put("/label/clear");
    assert_eq!(g.get("/label").text().trim(), "inst");
}

#[test]
fn bad_input_is_400_and_state_is_unchanged() {
    let g = quiet();
    g.put("/response/status/set/503:5");
    g.put("/response/delay/set/10ms");
    for (path, body) in [
        ("/response/status/set/600", ""),
        ("/response/status/set/99", ""),
        ("/response/status/set/503:x", ""),
        ("/response/status/set/503:0", ""),
        ("/response/delay/set/abc", ""),
        ("/response/delay/set/10", ""),
        ("/request/uri/bypass/status/set/1000", ""),
        ("/listeners/add", "{not json"),
        ("/listeners/add", r#"{"port":0}"#),
        ("/listeners/add", r#"{"port":1234,"protocol":"gopher"}"#),
        ("/listeners/add", ""),
        ("/response/payload/set/uri", "x"),
        ("/response/payload/set/uri?uri=nope", "x"),
        ("/listeners/abc/open", ""),
    ] {
        let r = g.post(path, body);
        assert!(
            (400..500).contains(&r.status),
            "{path}: {} {}",
            r.status,
            r.text()
        );
        assert_eq!(
            r.text().trim().lines().count(),
            1,
            "{path}: one-line reason"
        );
    }
    let s = g.get("/response/status").json();
    assert_eq!(s["status"], 503);
    assert_eq!(s["remaining"], 5);
    assert_eq!(g.get("/response/delay").json()["delay"], "10ms");
}

#[test]
fn oversized_admin_body_is_rejected() {
    let g = quiet();
    let big = vec![b'a'; 5 * 1024 * 1024];
    let r = request(g.port, "POST", "/response/payload/set/default", &[], &big);
    assert_eq!(r.status, 413);
    assert_eq!(g.get("/x").json()["uri"], "/x");
}

#[test]
fn h2c_prior_knowledge_is_served() {
    use std::io::{Read, Write};
    let g = quiet();
    // Client preface + empty SETTINGS; the server must answer with its SETTINGS frame.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", g.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    let mut head = [0u8; 9];
    s.read_exact(&mut head).unwrap();
    assert_eq!(head[3], 0x4, "first frame from server is SETTINGS");
}

#[test]
fn bad_cli_flags_exit_nonzero_with_message() {
    for args in [
        &["--port", "0"][..],
        &["--port", "abc"],
        &["--log-level", "loud"],
        &["--nope"],
    ] {
        let out = std::process::Command::new(common::goto_bin())
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut g = quiet();
    g.signal(libc::SIGTERM);
    assert_eq!(g.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn request_logs_go_to_stderr() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let port = free_port();
    let mut child = Command::new(common::goto_bin())
        .args(["--port", &port.to_string()])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let ok = common::eventually(Duration::from_secs(10), || {
        try_request(port, "GET", "/logged/path", &[("x-trace", "t1")], b"").is_ok()
    });
    assert!(ok);
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let _ = child.wait();
    let line = err
        .lines()
        .find(|l| l.contains("/logged/path"))
        .expect("request logged");
    assert!(
        line.contains("GET") && line.contains("x-trace: t1") && line.contains("-> 200"),
        "{line}"
    );
    assert!(line.contains("127.0.0.1:"), "{line}");
}

/// Starts goto with stderr captured in a file, for the request-log tests.
fn with_stderr_file(args: &[&str], name: &str) -> (Goto, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!("goto-{name}-{}.log", std::process::id()));
    let file = std::fs::File::create(&path).expect("create log file");
    let port = free_port();
    let child = std::process::Command::new(common::goto_bin())
        .arg("--port")
        .arg(port.to_string())
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .spawn()
        .expect("spawn goto");
    let g = Goto { child, port };
    g.wait_ready(port);
    (g, path)
}

#[test]
fn request_logs_are_written_and_can_be_turned_off() {
    let (mut on, on_log) = with_stderr_file(&[], "reqlog-on");
    on.get("/reqlog-probe-on?x=1");
    // Written by the background writer within a flush period, not at exit.
    let seen = common::eventually(Duration::from_secs(3), || {
        std::fs::read_to_string(&on_log)
            .map(|s| {
                s.lines()
                    .any(|l| l.contains("GET /reqlog-probe-on?x=1") && l.ends_with("-> 200"))
            })
            .unwrap_or(false)
    });
    assert!(
        seen,
        "no request log line in {}",
        std::fs::read_to_string(&on_log).unwrap_or_default()
    );
    on.signal(libc::SIGTERM);
    assert!(on.wait_exit(Duration::from_secs(5)).is_some());

    let (mut off, off_log) = with_stderr_file(&["--request-logs=false"], "reqlog-off");
    off.get("/reqlog-probe-off");
    // Exit flushes whatever is pending, so absence after exit is conclusive.
    off.signal(libc::SIGTERM);
    assert!(off.wait_exit(Duration::from_secs(5)).is_some());
    let text = std::fs::read_to_string(&off_log).unwrap_or_default();
    assert!(
        !text.contains("/reqlog-probe-off"),
        "logged with logs off: {text}"
    );
    let _ = std::fs::remove_file(on_log);
    let _ = std::fs::remove_file(off_log);
}

#[test]
fn query_values_decode_plus_as_space_like_go() {
    let g = quiet();
    let r = g.get("/q?name=a+b%2Bc&x%20y=1");
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["query"]["name"], "a b+c", "{doc}");
    assert_eq!(doc["query"]["x y"], "1", "{doc}");
    // Paths keep `+` literally.
    let r = g.get("/a+b");
    assert_eq!(r.json()["uri"], "/a+b");
}
