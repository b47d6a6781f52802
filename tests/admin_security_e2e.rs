//! Issue 14 row 10: the opt-in admin protection through the real binary:
//! bearer token (runtime untouched, peers and registry share it), admin
//! port, cross-site mutations and allowed hosts.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{eventually, free_port, request, Goto};

const QUIET: &str = "--request-logs=false";

#[test]
fn admin_token_guards_admin_calls_only() {
    let g = Goto::start(&[QUIET, "--admin-token", "s3cret"]);
    let r = g.get("/label");
    assert_eq!(r.status, 401, "{}", r.text());
    let r = g.post("/listeners/add", r#"{"port":1}"#);
    assert_eq!(r.status, 401, "{}", r.text());
    let auth = [("Authorization", "Bearer s3cret")];
    assert_eq!(request(g.port, "GET", "/label", &auth, b"").status, 200);
    let wrong = [("Authorization", "Bearer nope")];
    assert_eq!(request(g.port, "GET", "/label", &wrong, b"").status, 401);
    // Runtime traffic and the kubelet's probes need nothing.
    assert_eq!(g.get("/echo").status, 200);
    assert_eq!(g.get("/probes/readiness").status, 200);
    assert_eq!(g.get("/probes/liveness").status, 200);
    assert_eq!(g.get("/probes").status, 401);
    assert_eq!(g.get("/status/418").status, 418);
    // Issue 24 row 8: the Dockerfile's HEALTHCHECK sends no token.
    let h = g.get("/health");
    assert_eq!(h.status, 200, "{}", h.text());
    assert_eq!(h.json()["status"], "ok", "{}", h.text());
    let v = g.get("/version");
    assert_eq!(v.status, 200, "{}", v.text());
    assert!(v.json()["version"].is_string(), "{}", v.text());
}

#[test]
fn token_from_a_file_and_peers_share_it() {
    let file = std::env::temp_dir().join(format!("goto-token-{}", std::process::id()));
    std::fs::write(&file, "fleet-token\n").unwrap();
    let f = file.to_string_lossy().to_string();
    let reg = Goto::start(&[QUIET, "--label", "registry", "--admin-token-file", &f]);
    let reg_url = format!("http://127.0.0.1:{}", reg.port);
    let peer = Goto::start_env(
        &[
            QUIET,
            "--label",
            "p1",
            "--registry",
            &reg_url,
            "--remind-seconds",
            "1",
        ],
        &[("GOTO_ADMIN_TOKEN", "fleet-token")],
    );
    let auth = [("Authorization", "Bearer fleet-token")];
    assert!(
        eventually(Duration::from_secs(15), || {
            request(reg.port, "GET", "/registry/peers", &auth, b"")
                .text()
                .contains(&format!("127.0.0.1:{}", peer.port))
        }),
        "the peer could not register with the token"
    );
    let _ = std::fs::remove_file(&file);
}

/// The admin settings read their `GOTO_*` variables too: the token file and
/// the admin port from the environment alone; a flag still wins over them.
#[test]
fn admin_settings_from_the_environment() {
    let file = std::env::temp_dir().join(format!("goto-env-token-{}", std::process::id()));
    std::fs::write(&file, "env-token\n").unwrap();
    let f = file.to_string_lossy().to_string();
    let admin = free_port();
    let a = admin.to_string();
    let g = Goto::start_env(
        &[QUIET],
        &[("GOTO_ADMIN_TOKEN_FILE", &f), ("GOTO_ADMIN_PORT", &a)],
    );
    // GOTO_ADMIN_PORT: on the main port /label is runtime traffic (the echo).
    let r = g.get("/label");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("\"uri\""), "{}", r.text());
    // GOTO_ADMIN_TOKEN_FILE: the admin port wants the file's token.
    let auth = [("Authorization", "Bearer env-token")];
    assert!(
        eventually(Duration::from_secs(10), || {
            request(admin, "GET", "/label", &auth, b"").status == 200
        }),
        "the admin port did not take the token from GOTO_ADMIN_TOKEN_FILE"
    );
    assert_eq!(request(admin, "GET", "/label", &[], b"").status, 401);
    drop(g);

    let g = Goto::start_env(
        &[QUIET, "--admin-token", "flag-token"],
        &[("GOTO_ADMIN_TOKEN_FILE", &f)],
    );
    let flag = [("Authorization", "Bearer flag-token")];
    assert_eq!(request(g.port, "GET", "/label", &flag, b"").status, 200);
    assert_eq!(request(g.port, "GET", "/label", &auth, b"").status, 401);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn admin_port_serves_admin_alone() {
    let admin = free_port();
    let a = admin.to_string();
    let g = Goto::start(&[QUIET, "--admin-port", &a]);
    // On the main port /label is runtime traffic: the catch-all echo.
    let r = g.get("/label");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("\"uri\""), "{}", r.text());
    let r = g.post("/response/status/set/503", "");
    assert_eq!(r.status, 200);
    assert_eq!(
        g.get("/echo").status,
        200,
        "the runtime path took no admin call"
    );
    // Probes, health and version still answer on the main port (the
    // kubelet and the HEALTHCHECK probe it).
    assert_eq!(g.get("/probes/readiness").status, 200);
    assert_eq!(g.get("/health").json()["status"], "ok");
    assert!(g.get("/version").json()["version"].is_string());
    // The admin port answers admin calls.
    let r = request(admin, "GET", "/label", &[], b"");
    assert_eq!(r.status, 200);
    assert!(!r.text().contains("\"uri\""), "{}", r.text());
}

#[test]
fn cross_site_mutations_and_unknown_hosts_are_refused() {
    let g = Goto::start(&[QUIET]);
    let evil = [
        ("Origin", "http://evil.example"),
        ("Content-Type", "text/plain"),
    ];
    let r = request(g.port, "POST", "/response/status/set/503", &evil, b"");
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(g.get("/echo").status, 200, "the status was not set");
    let same = format!("http://127.0.0.1:{}", g.port);
    let r = request(
        g.port,
        "POST",
        "/response/status/set/200",
        &[("Origin", &same)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let h = Goto::start(&[QUIET, "--allowed-hosts", "localhost,127.0.0.1"]);
    assert_eq!(h.get("/label").status, 200);
    // A rebound name: the request arrives here but names another host.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", h.port)).unwrap();
    s.write_all(b"GET /label HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");
}
