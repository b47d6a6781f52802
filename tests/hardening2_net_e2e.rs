//! Issue 24's listener and certificate rows (6, 7, 9, 11), through the real
//! binary on loopback: each test reproduces one defect the audit found.
//! Every wait is bounded; small caps and short timeouts come from flags.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

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
