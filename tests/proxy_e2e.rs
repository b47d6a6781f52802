//! End-to-end tests of the forwarding proxy: the seed scenario "Test a
//! client's behavior upon service failure", URI/header/query captures and
//! edits, a streamed 50 MB body, two hops, fan-out, bad input and an
//! unreachable upstream. Real goto processes (and one tiny checksum server)
//! on loopback.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use common::{free_port, request, Goto};

fn goto(label: &str) -> Goto {
    Goto::start(&["--request-logs=false", "--label", label])
}

fn add_target(g: &Goto, json: &str) {
    let r = g.post("/request/proxy/targets/add", json);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().starts_with("Added proxy target: {"),
        "{}",
        r.text()
    );
}

#[test]
fn seed_service_failure_via_proxy() {
    let real = goto("realserver");
    let proxy = goto("goto");
    add_target(
        &proxy,
        &format!(
            r#"{{"name": "myServer", "match":{{"uris":["/my/fancy/api"]}}, "url":"http://127.0.0.1:{}", "enabled":true}}"#,
            real.port
        ),
    );
    // Proxied: the real server's echo, with both hops named.
    let r = proxy.get("/my/fancy/api");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["uri"], "/my/fancy/api");
    assert_eq!(r.json()["port"], real.port);
    assert_eq!(r.headers_all("via-goto"), vec!["realserver", "goto"]);
    assert!(r
        .header("goto-host")
        .is_some_and(|h| h.ends_with(&format!(":{}", proxy.port))));

    let set = proxy.put("/response/status/set/503:2");
    assert_eq!(
        set.text().trim(),
        "Will respond with forced status: 503 times 2"
    );
    let codes: Vec<u16> = (0..3).map(|_| proxy.get("/my/fancy/api").status).collect();
    assert_eq!(codes, vec![503, 503, 200]);
    // The proxy port's response counts say what its clients got: the two
    // forced 503s and the upstream's answers, not a 200 per forwarded request.
    real.put("/response/status/set/418:1");
    assert_eq!(proxy.get("/my/fancy/api").status, 418);
    let counts = proxy.get("/response/status/counts").json();
    assert_eq!(
        counts["countsByResponseStatus"],
        serde_json::json!({"200": 2, "418": 1, "503": 2}),
        "{counts}"
    );

    // Unmatched URIs are served by the proxy itself.
    let own = proxy.get("/other");
    assert_eq!(own.json()["port"], proxy.port);

    let c = proxy.get("/request/proxy/counts").json();
    assert_eq!(c["countsByTargets"]["myServer"], 5, "{c}");
    assert_eq!(c["invocationsByTargets"]["myServer"], 3, "{c}");
    assert_eq!(c["countsByUris"]["/my/fancy/api"], 5, "{c}");
    assert_eq!(c["countsByTargetStatus"]["myServer"]["200"], 2, "{c}");
    assert_eq!(proxy.post("/request/proxy/counts/clear", "").status, 200);
    assert_eq!(
        proxy.get("/request/proxy/counts").json()["countsByTargets"],
        serde_json::json!({})
    );
}

#[test]
fn uri_captures_fill_replace_uri() {
    let up = goto("up");
    let proxy = goto("proxy");
    add_target(
        &proxy,
        &format!(
            r#"{{"name":"swap","url":"http://127.0.0.1:{}/base","match":{{"uris":["/foo/{{x}}/bar/{{y}}"]}},"replaceURI":"/swapped/{{y}}/{{x}}"}}"#,
            up.port
        ),
    );
    let r = proxy.get("/foo/1/bar/2/tail?q=1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["uri"], "/base/swapped/2/1/tail?q=1");
    // Not a match: the proxy answers itself.
    assert_eq!(proxy.get("/foo/1/baz/2").json()["port"], proxy.port);
}

#[test]
fn header_and_query_captures_and_removals() {
    let up = goto("up");
    let proxy = goto("proxy");
    add_target(
        &proxy,
        &format!(
            r#"{{"name":"caps","url":"http://127.0.0.1:{}","sendID":true,
                "match":{{"headers":[["x-from","{{f}}"]],"query":[["who","{{w}}"]]}},
                "addHeaders":[["x-cap-f","{{f}}"],["x-cap-w","{{w}}"]],"removeHeaders":["x-secret"],
                "addQuery":[["added","{{f}}"]],"removeQuery":["drop"]}}"#,
            up.port
        ),
    );
    let r = request(
        proxy.port,
        "GET",
        "/q?who=bob&drop=1&keep=2",
        &[("x-from", "alice"), ("x-secret", "s")],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let echo = r.json();
    let h = &echo["headers"];
    assert_eq!(h["x-cap-f"], "alice", "{echo}");
    assert_eq!(h["x-cap-w"], "bob", "{echo}");
    assert_eq!(h["x-from"], "alice");
    assert!(h.get("x-secret").is_none(), "{echo}");
    let q = &echo["query"];
    assert_eq!(q["who"], "bob");
    assert_eq!(q["keep"], "2");
    assert_eq!(q["added"], "alice");
    assert!(q.get("drop").is_none(), "{echo}");
    assert_eq!(q["x-request-id"].as_str().map(str::len), Some(36), "{echo}");

    // Either criterion alone matches (OR); neither means no match.
    assert_eq!(
        request(proxy.port, "GET", "/q", &[("x-from", "carol")], b"").json()["port"],
        up.port
    );
    assert_eq!(proxy.get("/q?who=dan").json()["port"], up.port);
    assert_eq!(proxy.get("/q?nobody=1").json()["port"], proxy.port);
    let c = proxy.get("/request/proxy/counts").json();
    assert_eq!(c["countsByHeaders"]["x-from"], 2, "{c}");
    assert_eq!(c["countsByHeaderValues"]["x-from"]["alice"], 1, "{c}");
    assert_eq!(c["countsByQuery"]["who"], 2, "{c}");
    assert_eq!(c["countsByQueryValues"]["who"]["dan"], 1, "{c}");
}

/// FNV-1a 64: a checksum the test and its upstream compute the same way.
fn fnv(h: &mut u64, data: &[u8]) {
    for b in data {
        *h ^= u64::from(*b);
        *h = h.wrapping_mul(0x100_0000_01b3);
    }
}

/// A one-shot upstream that answers `<length> <checksum>` of the request
/// body (Content-Length or chunked).
fn checksum_server() -> (u16, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let h = thread::spawn(move || {
        let Ok((s, _)) = l.accept() else { return };
        let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
        let mut r = BufReader::new(s);
        let (mut len, mut chunked) = (None, false);
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                len = v.trim().parse::<u64>().ok();
            }
            if l.starts_with("transfer-encoding:") && l.contains("chunked") {
                chunked = true;
            }
        }
        let (mut total, mut sum) = (0u64, 0xcbf2_9ce4_8422_2325u64);
        let mut buf = vec![0u8; 64 * 1024];
        if chunked {
            loop {
                let mut size = String::new();
                let _ = r.read_line(&mut size);
                let n = u64::from_str_radix(size.trim(), 16).unwrap_or(0);
                if n == 0 {
                    break;
                }
                let mut left = n;
                while left > 0 {
                    let want = left.min(buf.len() as u64) as usize;
                    let Ok(got) = r.read(&mut buf[..want]) else {
                        return;
                    };
                    if got == 0 {
                        return;
                    }
                    fnv(&mut sum, &buf[..got]);
                    left -= got as u64;
                    total += got as u64;
                }
                let mut crlf = String::new();
                let _ = r.read_line(&mut crlf);
            }
        } else {
            let mut left = len.unwrap_or(0);
            while left > 0 {
                let want = left.min(buf.len() as u64) as usize;
                let Ok(got) = r.read(&mut buf[..want]) else {
                    return;
                };
                if got == 0 {
                    return;
                }
                fnv(&mut sum, &buf[..got]);
                left -= got as u64;
                total += got as u64;
            }
        }
        let body = format!("{total} {sum:x}");
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = r.get_mut().write_all(resp.as_bytes());
    });
    (port, h)
}

/// Peak resident memory of a process, in kB.
fn vm_hwm_kb(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn streams_a_50mb_body_intact() {
    let (up_port, server) = checksum_server();
    let proxy = goto("proxy");
    add_target(
        &proxy,
        &format!(
            r#"{{"name":"sink","url":"http://127.0.0.1:{up_port}","match":{{"uris":["/upload"]}}}}"#
        ),
    );
    let before = vm_hwm_kb(proxy.pid()).unwrap_or(0);
    let body: Vec<u8> = (0..50 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut want = 0xcbf2_9ce4_8422_2325u64;
    fnv(&mut want, &body);
    let r = request(proxy.port, "POST", "/upload", &[], &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), format!("{} {want:x}", body.len()));
    let _ = server.join();
    // Streamed, not buffered whole: the proxy's peak memory grew far less than 50 MB.
    let after = vm_hwm_kb(proxy.pid()).unwrap_or(0);
    assert!(
        after.saturating_sub(before) < 24 * 1024,
        "proxy peak RSS grew from {before} kB to {after} kB"
    );
}

#[test]
fn two_hops_show_every_via_goto() {
    let up = goto("upstream");
    let inner = goto("hop-2");
    let outer = goto("hop-1");
    add_target(
        &inner,
        &format!(
            r#"{{"name":"u","url":"http://127.0.0.1:{}","match":{{"uris":["/"]}}}}"#,
            up.port
        ),
    );
    add_target(
        &outer,
        &format!(
            r#"{{"name":"i","url":"http://127.0.0.1:{}","match":{{"uris":["/"]}}}}"#,
            inner.port
        ),
    );
    let r = request(
        outer.port,
        "POST",
        "/through",
        &[("x-trace", "t1")],
        b"hello",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers_all("via-goto"),
        vec!["upstream", "hop-2", "hop-1"]
    );
    let echo = r.json();
    assert_eq!(echo["port"], up.port);
    assert_eq!(echo["body"], "hello");
    assert_eq!(echo["headers"]["x-trace"], "t1");
    // Keep-alive reuse: many requests through both hops all succeed.
    assert!((0..50).all(|_| outer.get("/again").status == 200));
}

#[test]
fn replicas_send_parallel_copies_and_return_one_answer() {
    let up = goto("up");
    let proxy = goto("proxy");
    up.post("/request/uri/counts/enable", "");
    add_target(
        &proxy,
        &format!(
            r#"{{"name":"fan","url":"http://127.0.0.1:{}","match":{{"uris":["/fan"]}},"replicas":3}}"#,
            up.port
        ),
    );
    let r = request(proxy.port, "POST", "/fan", &[], b"copy me");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body"], "copy me");
    let mut counts = serde_json::Value::Null;
    assert!(
        common::eventually(Duration::from_secs(5), || {
            counts = up.get("/request/uri/counts").json();
            counts["/fan"] == 3
        }),
        "{counts}"
    );
    assert_eq!(
        proxy.get("/request/proxy/counts").json()["invocationsByTargets"]["fan"],
        3
    );
}

#[test]
fn unreachable_upstream_is_a_counted_502() {
    let proxy = goto("proxy");
    let dead = free_port();
    add_target(
        &proxy,
        &format!(r#"{{"name":"dead","url":"http://127.0.0.1:{dead}","match":{{"uris":["/"]}}}}"#),
    );
    let r = proxy.get("/anything");
    assert_eq!(r.status, 502);
    assert!(
        r.text().contains("dead") && r.text().to_lowercase().contains("connect"),
        "{}",
        r.text()
    );
    assert_eq!(r.header("via-goto"), Some("proxy"));
    assert_eq!(
        proxy.get("/request/proxy/counts").json()["failuresByTargets"]["dead"],
        1
    );
}

#[test]
fn bad_input_is_rejected_and_leaves_targets_and_counts_alone() {
    let up = goto("up");
    let proxy = goto("proxy");
    let good = format!(
        r#"{{"name":"t","url":"http://127.0.0.1:{}","match":{{"uris":["/api"]}}}}"#,
        up.port
    );
    add_target(&proxy, &good);
    assert_eq!(proxy.get("/api").json()["port"], up.port);
    let targets = proxy.get("/request/proxy/targets").json();
    let counts = proxy.get("/request/proxy/counts").json();

    for bad in [
        "{not json".to_string(),
        String::new(),
        r#"{"name":"t","url":"http://127.0.0.1:1","match":{"uris":["api/{x"]}}"#.to_string(),
        r#"{"name":"t","url":"http://127.0.0.1:1","match":{"uris":["/a"]},"replaceURI":"/{nope}"}"#
            .to_string(),
        r#"{"name":"t","url":"ftp://h","match":{"uris":["/a"]}}"#.to_string(),
        r#"{"name":"t","url":"http://h","match":{"uris":["/a"]},"unknownField":1}"#.to_string(),
        r#"{"name":"t","url":"http://h","match":{}}"#.to_string(),
    ] {
        let r = proxy.post("/request/proxy/targets/add", &bad);
        assert_eq!(r.status, 400, "accepted {bad:?}: {}", r.text());
        assert_eq!(r.text().trim().lines().count(), 1, "{}", r.text());
    }
    for path in [
        "/request/proxy/targets/nope/remove",
        "/request/proxy/targets/nope/disable",
        "/request/proxy/targets/nope/invoke",
    ] {
        assert_eq!(proxy.post(path, "").status, 400, "{path}");
    }
    assert_eq!(proxy.get("/request/proxy/targets").json(), targets);
    assert_eq!(proxy.get("/request/proxy/counts").json(), counts);
    assert_eq!(proxy.get("/api").json()["port"], up.port);

    // Disable, enable, manual invoke, remove, clear.
    assert_eq!(proxy.put("/request/proxy/targets/t/disable").status, 200);
    assert_eq!(proxy.get("/api").json()["port"], proxy.port);
    assert_eq!(proxy.put("/request/proxy/targets/t/enable").status, 200);
    assert_eq!(proxy.get("/api").json()["port"], up.port);
    let inv = proxy.post("/request/proxy/targets/t/invoke", "");
    assert_eq!(inv.status, 200);
    assert!(inv.text().contains("t -> 200"), "{}", inv.text());
    assert_eq!(proxy.put("/request/proxy/targets/t/remove").status, 200);
    assert_eq!(
        proxy.get("/request/proxy/targets").json(),
        serde_json::json!([])
    );
    assert_eq!(proxy.get("/api").json()["port"], proxy.port);
    add_target(&proxy, &good);
    assert_eq!(proxy.post("/request/proxy/targets/clear", "").status, 200);
    assert_eq!(proxy.get("/api").json()["port"], proxy.port);
}
