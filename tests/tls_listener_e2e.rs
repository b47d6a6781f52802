//! `https` listeners through the real binary: a self-signed certificate made
//! at add time (fetched from `/listeners/{port}/cert` to be trusted), HTTP/1.1
//! and HTTP/2 (ALPN) load from another goto against it, close and reopen, and
//! bad listener input.

mod common;

use common::{free_port, try_request, Goto};

fn ok(g: &Goto, path: &str, body: &str) -> String {
    let r = g.post(path, body);
    assert_eq!(r.status, 200, "POST {path}: {}", r.text());
    r.text()
}

#[test]
fn https_listener_serves_http1_and_h2_with_its_own_certificate() {
    let server = Goto::start(&["--request-logs=false"]);
    let port = free_port();
    let added = ok(
        &server,
        "/listeners/add",
        &format!(r#"{{"port":{port},"protocol":"https","label":"secure"}}"#),
    );
    assert_eq!(added.trim(), format!("Listener {port} added and opened"));
    let listed = server.get("/listeners").json();
    assert_eq!(listed[port.to_string()]["protocol"], "https", "{listed}");

    let cert = server.get(&format!("/listeners/{port}/cert"));
    assert_eq!(cert.status, 200);
    assert!(
        cert.text().starts_with("-----BEGIN CERTIFICATE-----"),
        "{}",
        cert.text()
    );
    // Plain HTTP on the TLS port gets no HTTP answer.
    assert!(try_request(port, "GET", "/x", &[], b"").map_or(true, |r| r.status != 200));

    let dir = std::env::temp_dir().join(format!("goto-tls-listener-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    std::fs::write(dir.join("listener.pem"), cert.text()).expect("write cert");
    let client = Goto::start(&[
        "--request-logs=false",
        "--certs",
        dir.to_str().unwrap_or("."),
    ]);
    let h2 = format!(
        r#"{{"name":"h2s","url":"https://localhost:{port}/h2s","protocol":"HTTP/2.0",
            "replicas":3,"requestCount":10,"delay":"1ms"}}"#
    );
    let h1 = format!(
        r#"{{"name":"h1s","url":"https://localhost:{port}/h1s","replicas":1,"requestCount":5,"delay":"1ms"}}"#
    );
    ok(&client, "/client/targets/add", &h2);
    ok(&client, "/client/targets/add", &h1);
    let r = client.post("/client/targets/invoke/all", "").json();
    assert_eq!(r["countsByTargetStatusCode"]["h2s"]["200"], 30, "{r}");
    assert_eq!(r["countsByTargetStatusCode"]["h1s"]["200"], 5, "{r}");
    assert_eq!(
        r["countsByTargetHeaderValues"]["h2s"]["via-goto"]["secure"], 30,
        "{r}"
    );

    // Closing refuses connections; reopening serves TLS again.
    ok(&server, &format!("/listeners/{port}/close"), "");
    assert!(try_request(port, "GET", "/x", &[], b"").is_err());
    ok(&server, &format!("/listeners/{port}/open"), "");
    let r = client.post("/client/targets/h1s/invoke", "").json();
    assert_eq!(r["countsByTargetStatusCode"]["h1s"]["200"], 5, "{r}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_https_listener_input_is_refused() {
    let g = Goto::start(&["--request-logs=false"]);
    let before = g.get("/listeners").text();
    let p = free_port();
    for (body, want) in [
        (
            format!(r#"{{"port":{p},"protocol":"ftp"}}"#),
            "unsupported listener protocol",
        ),
        (
            format!(r#"{{"port":{p},"protocol":"https","cert":"x"}}"#),
            "both cert and key",
        ),
        (
            format!(r#"{{"port":{p},"protocol":"https","cert":"x","key":"y"}}"#),
            "no certificate",
        ),
        (
            format!(r#"{{"port":{p},"cert":"x","key":"y"}}"#),
            "for https listeners",
        ),
    ] {
        let r = g.post("/listeners/add", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert!(r.text().contains(want), "{body}: {}", r.text());
    }
    assert_eq!(g.get("/listeners").text(), before);
    assert_eq!(g.get(&format!("/listeners/{}/cert", g.port)).status, 404);
    assert_eq!(g.get("/listeners/1/cert").status, 404);
}

/// https upstreams: the proxy, triggers and jobs call a goto `https`
/// listener; without `verifyTLS` any certificate is taken, with it the
/// certificate must chain to `--certs` (or the system roots).
#[test]
fn proxy_triggers_and_jobs_reach_https_upstreams() {
    let up = Goto::start(&["--request-logs=false", "--label", "up"]);
    let tls_port = free_port();
    ok(
        &up,
        "/listeners/add",
        &format!(r#"{{"port":{tls_port},"protocol":"https","label":"secure-up"}}"#),
    );
    let cert = up.get(&format!("/listeners/{tls_port}/cert")).text();
    let dir = std::env::temp_dir().join(format!("goto-tls-upstream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    std::fs::write(dir.join("up.pem"), cert).expect("write cert");
    let proxy = Goto::start(&[
        "--request-logs=false",
        "--label",
        "proxy",
        "--certs",
        dir.to_str().unwrap_or("."),
    ]);

    // Proxy, not verifying (the default), by IP.
    ok(
        &proxy,
        "/request/proxy/targets/add",
        &format!(
            r#"{{"name":"insecure","url":"https://127.0.0.1:{tls_port}","match":{{"uris":["/a"]}}}}"#
        ),
    );
    let r = proxy.get("/a");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["uri"], "/a");
    assert_eq!(r.headers_all("via-goto"), vec!["secure-up", "proxy"]);

    // Verifying: trusted through --certs for the certificate's name...
    ok(
        &proxy,
        "/request/proxy/targets/add",
        &format!(
            r#"{{"name":"verified","url":"https://localhost:{tls_port}","verifyTLS":true,"match":{{"uris":["/b"]}}}}"#
        ),
    );
    assert_eq!(proxy.get("/b").status, 200);
    // ...and refused for a name the certificate does not carry.
    ok(
        &proxy,
        "/request/proxy/targets/add",
        &format!(
            r#"{{"name":"wrongname","url":"https://127.0.0.2:{tls_port}","verifyTLS":true,"match":{{"uris":["/c"]}}}}"#
        ),
    );
    let r = proxy.get("/c");
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(
        r.text().to_lowercase().contains("certificate"),
        "{}",
        r.text()
    );

    // A trigger to the https upstream fires on a matching status.
    ok(
        &proxy,
        "/response/trigger/add",
        &format!(
            r#"{{"name":"t","url":"https://127.0.0.1:{tls_port}/triggered","triggerOnResponseStatuses":[418]}}"#
        ),
    );
    assert_eq!(proxy.get("/status/418").status, 418);
    // Counted by the upstream's answer (its TLS port is out of reach of this
    // test's plain-HTTP helper, so the proxy's trigger counts tell).
    assert!(common::eventually(
        std::time::Duration::from_secs(5),
        || { proxy.get("/response/trigger/counts").json()["t"]["countsByStatus"]["200"] == 1 }
    ));

    // A job calls it too.
    ok(
        &proxy,
        "/jobs/add",
        &format!(
            r#"{{"id":"j","task":{{"url":"https://localhost:{tls_port}/job","verifyTLS":true,"parseJSON":true}},"auto":true}}"#
        ),
    );
    assert!(common::eventually(
        std::time::Duration::from_secs(5),
        || { proxy.get("/jobs/j/results").json()["1"][0]["data"]["uri"] == "/job" }
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
