//! goto's gRPC side called by Python's grpcio with grpcio-health-checking
//! and grpcio-reflection (tests/grpc/python_client.py), over h2c and over
//! TLS with ALPN h2. Mandatory with
//! `GOTO_TEST_GRPC_PYTHON=1` (.ci/run installs the packages and sets it);
//! otherwise skipped with one line when the packages are missing.

mod common;

use std::process::Command;

use common::Goto;

const MODULES: &str =
    "import grpc, grpc_health.v1.health_pb2, grpc_reflection.v1alpha.reflection_pb2";

#[test]
fn python_grpcio_health_reflection_and_echo() {
    let required = std::env::var("GOTO_TEST_GRPC_PYTHON").as_deref() == Ok("1");
    let have = Command::new("python3")
        .args(["-c", MODULES])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(!required, "GOTO_TEST_GRPC_PYTHON=1 but python3 lacks grpcio, grpcio-health-checking or grpcio-reflection");
        eprintln!("skipped: the Python grpcio client test (pip install grpcio grpcio-health-checking grpcio-reflection, or set GOTO_TEST_GRPC_PYTHON=1 as .ci/run does)");
        return;
    }
    let g = Goto::start(&[]);
    assert_eq!(g.put("/grpc/health/goto.Goto/set/NOT_SERVING").status, 200);
    assert_eq!(
        g.put("/grpc/status/set/UNAVAILABLE:1?method=/goto.Goto/Echo")
            .status,
        200
    );
    // An https listener and its self-signed certificate, for the TLS call.
    let tls_port = common::free_port();
    let add = g.post(
        "/listeners/add",
        &format!(r#"{{"port":{tls_port},"protocol":"https","open":true}}"#),
    );
    assert_eq!(add.status, 200, "{}", add.text());
    let cert = g.get(&format!("/listeners/{tls_port}/cert"));
    assert_eq!(cert.status, 200, "{}", cert.text());
    let cert_path = std::env::temp_dir().join(format!("goto-grpc-cert-{tls_port}.pem"));
    std::fs::write(&cert_path, cert.text()).expect("write the certificate");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpc/python_client.py");
    let mut child = Command::new("python3")
        .args([
            script,
            &g.port.to_string(),
            &tls_port.to_string(),
            &cert_path.to_string_lossy(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python3");
    // Bounded: the script's calls have 10 s deadlines; give it 60 s in all.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().ok().flatten().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the Python client did not finish within 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("python output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_file(&cert_path);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("python grpc client ok"), "{text}");
    assert!(text.contains("python grpc tls ok"), "{text}");
}
