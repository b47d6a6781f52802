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
