//! The client API end to end: real goto processes on loopback, driven with
//! the same calls as the seed's client scenarios.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{eventually, Goto};
use goto_testkit::{pki, Pki};
use serde_json::Value;

fn ok(g: &Goto, method: &str, path: &str, body: &str) -> String {
    let r = common::request(g.port, method, path, &[], body.as_bytes());
    assert_eq!(r.status, 200, "{method} {path}: {}", r.text());
    r.text()
}

fn results(c: &Goto) -> Value {
    c.get("/client/results").json()
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// Seed scenario "Use HTTP client to send requests and track results", with
/// shorter delays so it runs in seconds.
#[test]
fn seed_scenario_client_results() {
    let s1 = Goto::start(&["--label", "Server8081"]);
    let s2 = Goto::start(&["--label", "Server8082"]);
    let s3 = Goto::start(&["--label", "Server8083"]);
    let c = Goto::start(&["--label", "client"]);

    assert_eq!(
        ok(&c, "POST", "/client/targets/clear", ""),
        "Targets cleared\n"
    );
    let t1 = format!(
        r#"{{ "name": "target1", "method": "POST", "url": "http://127.0.0.1:{}/some/api",
            "headers":[["x", "x1"],["y", "y1"]], "body": "{{\"test\":\"this\"}}",
            "replicas": 2, "requestCount": 200, "delay": "20ms", "sendID": true }}"#,
        s1.port
    );
    let echo = ok(&c, "POST", "/client/targets/add", &t1);
    assert!(
        echo.starts_with(
            r#"Added target: {"name":"target1","method":"POST","url":"http://127.0.0.1:"#
        ),
        "{echo}"
    );
    assert!(echo.contains(r#""bodyReader":null,"replicas":2,"requestCount":200,"delay":"20ms","keepOpen":"","sendID":true}"#), "{echo}");
    let t2 = format!(
        r#"{{ "name": "target2", "method": "PUT", "url": "http://127.0.0.1:{}/another/api",
            "headers":[["x", "x2"],["y", "y2"]], "body": "{{\"some\":\"thing\"}}",
            "replicas": 1, "requestCount": 200, "delay": "20ms", "sendID": true }}"#,
        s2.port
    );
    ok(&c, "POST", "/client/targets/add", &t2);
    let listed = c.get("/client/targets").json();
    assert_eq!(listed["target1"]["replicas"], 2);
    assert_eq!(listed["target2"]["method"], "PUT");

    assert_eq!(
        ok(&c, "POST", "/client/track/headers/clear", ""),
        "All tracking headers cleared\n"
    );
    assert_eq!(
        ok(&c, "PUT", "/client/track/headers/add/x,y,z,foo", ""),
        "Header x,y,z,foo will be tracked\n"
    );
    assert_eq!(c.get("/client/track/headers").text(), "x,y,z,foo\n");

    assert_eq!(
        ok(&s1, "PUT", "/response/status/set/502:20", ""),
        "Will respond with forced status: 502 times 20\n"
    );
    ok(&s2, "PUT", "/response/status/set/503:20", "");

    assert_eq!(
        ok(&c, "PUT", "/client/blocking/set/N", ""),
        "Invocation will not block for results\n"
    );
    assert_eq!(
        ok(&c, "POST", "/client/targets/invoke/all", ""),
        "Targets invoked\n"
    );

    // Let both run past their forced failures before adding target3.
    assert!(eventually(Duration::from_secs(20), || {
        let r = results(&c);
        n(&r["targetInvocationCounts"]["target1"]) >= 30
            && n(&r["targetInvocationCounts"]["target2"]) >= 30
    }));
    let t3 = format!(
        r#"{{ "name": "target3", "method": "OPTIONS", "url": "http://127.0.0.1:{}/foo",
            "headers":[["foo", "bar1"],["x", "x1"],["y", "y1"]], "body": "{{\"some\":\"thing\"}}",
            "replicas": 3, "requestCount": 100, "delay": "2ms", "sendID": true }}"#,
        s3.port
    );
    ok(&c, "POST", "/client/targets/add", &t3);
    assert_eq!(
        ok(&c, "POST", "/client/targets/target3/invoke", ""),
        "Targets invoked\n"
    );
    assert_eq!(
        ok(&c, "POST", "/client/targets/target1,target2/stop", ""),
        "Targets stopped\n"
    );
    assert!(
        eventually(Duration::from_secs(20), || c
            .get("/client/targets/active")
            .json()["activeCount"]
            == 0),
        "{}",
        c.get("/client/targets/active").text()
    );

    let r = results(&c);
    for key in [
        "targetInvocationCounts",
        "countsByStatus",
        "countsByStatusCodes",
        "countsByHeaders",
        "countsByHeaderValues",
        "countsByTargetStatus",
        "countsByTargetStatusCode",
        "countsByTargetHeaders",
        "countsByTargetHeaderValues",
        "targetFirstResponses",
        "targetLastResponses",
        "latencyByTarget",
    ] {
        assert!(r[key].is_object(), "missing {key}: {r}");
    }
    // target3 ran to completion on its own.
    assert_eq!(r["targetInvocationCounts"]["target3"], 300, "{r}");
    assert_eq!(
        r["countsByTargetStatus"]["target3"],
        serde_json::json!({"200 OK": 300})
    );
    assert_eq!(r["countsByTargetStatusCode"]["target3"]["200"], 300);
    let hv3 = &r["countsByTargetHeaderValues"]["target3"];
    assert_eq!(hv3["foo"]["bar1"], 300, "{hv3}");
    assert_eq!(hv3["x"]["x1"], 300);
    assert_eq!(hv3["y"]["y1"], 300);
    assert_eq!(hv3["via-goto"]["Server8083"], 300);
    assert_eq!(r["countsByTargetHeaders"]["target3"]["goto-host"], 300);
    // The forced failures, exactly.
    assert_eq!(
        r["countsByTargetStatus"]["target1"]["502 Bad Gateway"], 20,
        "{r}"
    );
    assert_eq!(
        r["countsByTargetStatus"]["target2"]["503 Service Unavailable"], 20,
        "{r}"
    );
    assert_eq!(r["countsByStatusCodes"]["502"], 20);
    assert_eq!(r["countsByStatusCodes"]["503"], 20);
    // Stopped early: fewer than asked for, and every response counted once.
    let c1 = n(&r["targetInvocationCounts"]["target1"]);
    let c2 = n(&r["targetInvocationCounts"]["target2"]);
    assert!((30..400).contains(&c1), "target1 sent {c1}");
    assert!((30..200).contains(&c2), "target2 sent {c2}");
    assert_eq!(n(&r["countsByTargetStatus"]["target1"]["200 OK"]) + 20, c1);
    // Header values per target: the servers echo the request's headers.
    assert_eq!(
        n(&r["countsByTargetHeaderValues"]["target1"]["x"]["x1"]),
        c1
    );
    assert_eq!(
        n(&r["countsByTargetHeaderValues"]["target2"]["x"]["x2"]),
        c2
    );
    assert_eq!(
        n(&r["countsByTargetHeaderValues"]["target2"]["y"]["y2"]),
        c2
    );
    assert_eq!(n(&r["countsByHeaderValues"]["x"]["x1"]), c1 + 300);
    assert_eq!(
        n(&r["countsByTargetHeaderValues"]["target1"]["via-goto"]["Server8081"]),
        c1
    );
    assert!(r["latencyByTarget"]["target3"]["p99"].as_f64().is_some());
    let total = n(&r["countsByStatus"]["200 OK"])
        + n(&r["countsByStatus"]["502 Bad Gateway"])
        + n(&r["countsByStatus"]["503 Service Unavailable"]);
    assert_eq!(total, c1 + c2 + 300);

    // The servers saw what the targets said: count the methods at each.
    let invs = c.get("/client/results/invocations").json();
    assert_eq!(invs["1"]["finished"], true, "{invs}");
    assert_eq!(invs["2"]["targetInvocationCounts"]["target3"], 300);
    assert!(invs["1"]["targetInvocationCounts"].get("target3").is_none());
}

/// The request the engine sends is the target's: method, headers, body and id.
#[test]
fn traffic_matches_the_target() {
    // A tiny server that records the first request's head and body.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(std::sync::Mutex::new(String::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        if let Ok((tcp, _)) = listener.accept() {
            let mut r = BufReader::new(tcp.try_clone().expect("clone"));
            let mut head = String::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0u8; len];
            let _ = std::io::Read::read_exact(&mut r, &mut body);
            head.push_str(&String::from_utf8_lossy(&body));
            *seen2.lock().expect("lock") = head;
            let mut w = tcp;
            let _ = w.write_all(
                b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let c = Goto::start(&[]);
    let t = format!(
        r#"{{"name":"t","method":"PATCH","url":"http://127.0.0.1:{port}/p?a=1",
            "headers":[["X-Custom","v1"]],"body":"hello","sendID":true}}"#
    );
    ok(&c, "POST", "/client/targets/add", &t);
    let r = c.post("/client/targets/t/invoke", "").json();
    assert_eq!(r["countsByTargetStatus"]["t"]["201 Created"], 1, "{r}");
    let head = seen.lock().expect("lock").clone();
    assert!(head.starts_with("PATCH /p?a=1&x-request-id="), "{head}");
    assert!(head.to_ascii_lowercase().contains("x-custom: v1"), "{head}");
    assert!(head.ends_with("hello"), "{head}");
}

#[test]
fn blocking_invoke_returns_that_invocations_results() {
    let s = Goto::start(&[]);
    let c = Goto::start(&[]);
    assert_eq!(c.get("/client/blocking").json()["blocking"], true);
    let t = format!(
        r#"{{"name":"b","url":"http://127.0.0.1:{}/x","replicas":2,"requestCount":5,"delay":"1ms"}}"#,
        s.port
    );
    ok(&c, "POST", "/client/targets/add", &t);
    let r = c.post("/client/targets/b/invoke", "").json();
    assert_eq!(r["targetInvocationCounts"]["b"], 10, "{r}");
    assert_eq!(r["countsByStatus"]["200 OK"], 10);
    let r = c.post("/client/targets/invoke/all", "").json();
    assert_eq!(r["targetInvocationCounts"]["b"], 10, "{r}");
    assert_eq!(results(&c)["targetInvocationCounts"]["b"], 20);
    // Clearing one target's results, then all (the counter restarts at 1).
    ok(&c, "POST", "/client/results/b/clear", "");
    assert!(results(&c)["targetInvocationCounts"].get("b").is_none());
    ok(&c, "POST", "/client/results/clear", "");
    c.post("/client/targets/b/invoke", "").json();
    let invs = c.get("/client/results/invocations").json();
    assert_eq!(invs["1"]["targetInvocationCounts"]["b"], 10, "{invs}");
}

#[test]
fn stop_ends_traffic_within_a_second_and_auto_invoke_runs() {
    let s = Goto::start(&[]);
    let c = Goto::start(&[]);
    ok(&c, "PUT", "/client/blocking/set/N", "");
    let t = format!(
        r#"{{"name":"forever","url":"http://127.0.0.1:{}/","replicas":4,"requestCount":0,"delay":"1ms","autoInvoke":true}}"#,
        s.port
    );
    ok(&c, "POST", "/client/targets/add", &t);
    assert!(eventually(Duration::from_secs(10), || n(
        &results(&c)["targetInvocationCounts"]["forever"]
    ) > 50));
    let active = c.get("/client/targets/active").json();
    assert_eq!(active["activeCount"], 1, "{active}");
    assert_eq!(
        active["activeInvocations"]["1"]["forever"]["stopRequested"],
        false
    );
    let stopped_at = Instant::now();
    assert_eq!(
        ok(&c, "POST", "/client/targets/stop/all", ""),
        "Targets stopped\n"
    );
    assert!(
        eventually(Duration::from_secs(1), || c
            .get("/client/targets/active")
            .json()["activeCount"]
            == 0),
        "still running {:?} after stop",
        stopped_at.elapsed()
    );
    let before = n(&results(&c)["targetInvocationCounts"]["forever"]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(n(&results(&c)["targetInvocationCounts"]["forever"]), before);
}

#[test]
fn ten_thousand_requests_over_a_hundred_replicas_are_all_counted() {
    let s = Goto::start(&["--request-logs=false"]);
    let c = Goto::start(&[]);
    let t = format!(
        r#"{{"name":"big","url":"http://127.0.0.1:{}/","replicas":100,"requestCount":100,"delay":"0s"}}"#,
        s.port
    );
    ok(&c, "POST", "/client/targets/add", &t);
    let r = c.post("/client/targets/big/invoke", "").json();
    assert_eq!(r["targetInvocationCounts"]["big"], 10_000, "{r}");
    assert_eq!(r["countsByStatus"]["200 OK"], 10_000, "{r}");
    assert_eq!(r["latencyByTarget"]["big"]["count"], 10_000);
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let s = Goto::start(&[]);
    let c = Goto::start(&[]);
    let t = format!(
        r#"{{"name":"keep","url":"http://127.0.0.1:{}/","requestCount":3,"delay":"1ms"}}"#,
        s.port
    );
    ok(&c, "POST", "/client/targets/add", &t);
    ok(&c, "PUT", "/client/track/headers/add/x", "");
    c.post("/client/targets/keep/invoke", "").json();
    let targets = c.get("/client/targets").text();
    let before = results(&c);
    for (method, path, body, want) in [
        ("POST", "/client/targets/add", "{not json", 400),
        ("POST", "/client/targets/add", r#"{"name":"x"}"#, 400),
        (
            "POST",
            "/client/targets/add",
            r#"{"name":"keep","url":"http://127.0.0.1:1/","delay":"1parsec"}"#,
            400,
        ),
        (
            "POST",
            "/client/targets/add",
            r#"{"name":"keep","url":"http://127.0.0.1:1/","replicas":-1}"#,
            400,
        ),
        ("POST", "/client/targets/add", "", 400),
        ("POST", "/client/targets/nope/remove", "", 404),
        ("POST", "/client/targets/keep,nope/invoke", "", 404),
        ("POST", "/client/targets/nope/stop", "", 404),
        ("PUT", "/client/blocking/set/maybe", "", 400),
        ("PUT", "/client/track/headers/add/bad%20name", "", 400),
        ("GET", "/client/nothing/here", "", 404),
    ] {
        let r = common::request(c.port, method, path, &[], body.as_bytes());
        assert_eq!(r.status, want, "{method} {path}: {}", r.text());
        assert_eq!(
            r.text().lines().count(),
            1,
            "{path}: one-line reason: {}",
            r.text()
        );
    }
    assert_eq!(c.get("/client/targets").text(), targets);
    assert_eq!(c.get("/client/track/headers").text(), "x\n");
    assert_eq!(results(&c), before);
    assert_eq!(c.get("/client/blocking").json()["blocking"], true);
}

/// An HTTPS/1.1 server answering 200 to every request; threads end with
/// their connections.
fn tls_server(pki: &Pki) -> u16 {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(pki.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone())),
        )
        .expect("server cert");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut s = BufReader::new(rustls::StreamOwned::new(conn, tcp));
                loop {
                    let mut line = String::new();
                    match s.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" => {
                            let w = s.get_mut();
                            if w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                                .is_err()
                                || w.flush().is_err()
                            {
                                return;
                            }
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    port
}

/// Seed scenario "HTTPS traffic with certificate validation".
#[test]
fn https_targets_verify_against_certs_dir_and_host_header() {
    let pki = pki();
    let port = tls_server(&pki);
    let dir = std::env::temp_dir().join(format!("goto-client-certs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("ca.crt"), &pki.ca_pem).expect("write ca");
    let empty = std::env::temp_dir().join(format!("goto-client-nocerts-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("dir");
    let with_ca = Goto::start(&["--certs", dir.to_str().expect("utf8")]);
    let without_ca = Goto::start(&["--certs", empty.to_str().expect("utf8")]);
    let target = |name: &str, verify: bool| {
        format!(
            r#"{{"name":"{name}","method":"GET","url":"https://127.0.0.1:{port}/",
                "headers":[["Host","goto.test"]],"verifyTLS":{verify},"requestCount":2,"delay":"1ms"}}"#
        )
    };
    for c in [&with_ca, &without_ca] {
        ok(c, "POST", "/client/targets/add", &target("verified", true));
        ok(
            c,
            "POST",
            "/client/targets/add",
            &target("unverified", false),
        );
    }
    let r = with_ca.post("/client/targets/invoke/all", "").json();
    assert_eq!(r["countsByTargetStatus"]["verified"]["200 OK"], 2, "{r}");
    assert_eq!(r["countsByTargetStatus"]["unverified"]["200 OK"], 2, "{r}");
    let r = without_ca.post("/client/targets/invoke/all", "").json();
    assert_eq!(r["countsByTargetStatusCode"]["verified"]["0"], 2, "{r}");
    let statuses = r["countsByTargetStatus"]["verified"]
        .as_object()
        .expect("map")
        .clone();
    let (text, count) = statuses.iter().next().expect("one error");
    assert_eq!(count, 2);
    assert!(
        text.starts_with(&format!("Get \"https://127.0.0.1:{port}/\": tls")),
        "{text}"
    );
    assert_eq!(r["countsByTargetStatus"]["unverified"]["200 OK"], 2, "{r}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}

/// A `protocol: "HTTP/2.0"` target goes over h2c to a goto server (which
/// serves HTTP/1.1 and h2c on every listener) and merges into the results
/// next to an HTTP/1.1 target.
#[test]
fn http2_targets_use_h2c_and_merge_into_results() {
    // The server's request log (stderr) names each request's protocol.
    let log = std::env::temp_dir().join(format!("goto-h2-e2e-{}.log", std::process::id()));
    let port = common::free_port();
    let child = std::process::Command::new(common::goto_bin())
        .args(["--port", &port.to_string()])
        .env("POD_IP", "127.0.0.1")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn goto");
    let s = Goto { child, port };
    s.wait_ready(port);
    let c = Goto::start(&[]);
    let h2 = format!(
        r#"{{"name":"h2t","url":"http://127.0.0.1:{port}/h2","protocol":"HTTP/2.0",
            "replicas":5,"requestCount":20,"delay":"1ms"}}"#
    );
    let h1 = format!(
        r#"{{"name":"h1t","url":"http://127.0.0.1:{port}/h1","replicas":2,"requestCount":5,"delay":"1ms"}}"#
    );
    ok(&c, "POST", "/client/targets/add", &h2);
    ok(&c, "POST", "/client/targets/add", &h1);
    let r = c.post("/client/targets/invoke/all", "").json();
    assert_eq!(r["targetInvocationCounts"]["h2t"], 100, "{r}");
    assert_eq!(r["countsByTargetStatus"]["h2t"]["200 OK"], 100, "{r}");
    assert_eq!(r["countsByTargetStatusCode"]["h2t"]["200"], 100, "{r}");
    assert_eq!(r["countsByTargetHeaders"]["h2t"]["via-goto"], 100, "{r}");
    assert_eq!(r["latencyByTarget"]["h2t"]["count"], 100, "{r}");
    assert_eq!(r["targetInvocationCounts"]["h1t"], 10, "{r}");
    assert_eq!(r["countsByStatus"]["200 OK"], 110, "{r}");
    let count = |needle: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    };
    // The log writer flushes in batches: poll until all lines are there.
    assert!(
        eventually(Duration::from_secs(5), || count("/h2 HTTP/2.0 ") == 100
            && count("/h1 HTTP/1.1 ") == 10),
        "h2 lines {}, h1 lines {}",
        count("/h2 HTTP/2.0 "),
        count("/h1 HTTP/1.1 ")
    );
    let _ = std::fs::remove_file(&log);
}

/// A typo in a target or a job is refused with the closest known field,
/// and nothing is added; the original goto's fields are still taken.
#[test]
fn unknown_fields_are_refused_with_the_closest_name() {
    let g = Goto::start(&["--request-logs=false"]);
    let r = g.post(
        "/client/targets/add",
        r#"{"name":"t","url":"http://127.0.0.1:1/x","requestcount":100,"replica":5}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text()
            .contains(r#"unknown field "requestcount"; did you mean "requestCount"?"#),
        "{}",
        r.text()
    );
    assert_eq!(g.get("/client/targets").json(), serde_json::json!({}));
    let r = g.post(
        "/client/targets/add",
        r#"{"name":"t","url":"http://127.0.0.1:1/x","fallback":true,"collectResponse":true}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = g.post(
        "/jobs/add",
        r#"{"id":"j","task":{"url":"http://127.0.0.1:1/"},"cuont":3}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains(r#"did you mean "count"?"#),
        "{}",
        r.text()
    );
    let r = g.post(
        "/jobs/add",
        r#"{"id":"j","task":{"url":"http://127.0.0.1:1/","parseJson":true}}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains(r#"did you mean "parseJSON"?"#),
        "{}",
        r.text()
    );
}

/// HTTP/1.1 replicas past the open-files limit are refused at add, naming
/// the limit, instead of running into "too many open files" errors.
#[test]
fn replicas_past_the_open_files_limit_are_refused() {
    let g = Goto::start(&["--request-logs=false"]);
    let r = g.post(
        "/client/targets/add",
        r#"{"name":"big","url":"http://127.0.0.1:1/x","replicas":1000000}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("open files"), "{}", r.text());
    assert_eq!(g.get("/client/targets").json(), serde_json::json!({}));
    let r = g.post(
        "/client/targets/add",
        r#"{"name":"ok","url":"http://127.0.0.1:1/x","replicas":100}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
}
