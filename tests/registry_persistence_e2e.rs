//! Issue 14 row 9: a registry with `--data-dir`, killed with SIGKILL and
//! restarted on the same directory, serves the same peers (with epochs),
//! targets, jobs, tracked headers and lockers.

mod common;

use std::time::Duration;

use common::{eventually, free_port, Goto};

const QUIET: &str = "--request-logs=false";

fn registry(port: u16, dir: &str) -> Goto {
    Goto::start_on(
        port,
        &[
            "--label",
            "registry",
            QUIET,
            "--peer-health-seconds",
            "0",
            "--data-dir",
            dir,
        ],
        &[],
    )
}

fn ok(g: &Goto, path: &str, body: &str) {
    let r = g.post(path, body);
    assert_eq!(r.status, 200, "POST {path}: {}", r.text());
}

/// What a client of the registry can read back.
fn views(g: &Goto) -> Vec<(String, String)> {
    [
        "/registry/peers",
        "/registry/peers/targets",
        "/registry/peers/jobs",
        "/registry/peers/lockers",
        "/registry/peers/pa/locker",
    ]
    .iter()
    .map(|p| {
        let r = g.get(p);
        assert_eq!(r.status, 200, "GET {p}: {}", r.text());
        (p.to_string(), r.text())
    })
    .collect()
}

#[test]
fn registry_state_survives_sigkill() {
    let dir = std::env::temp_dir().join(format!("goto-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_s = dir.to_string_lossy().to_string();
    let port = free_port();
    let before = {
        let reg = registry(port, &dir_s);
        // Two lifetimes of one pod (epochs 0 and 1), another pod, then one gone.
        for inst in ["a", "b"] {
            ok(
                &reg,
                "/registry/peers/add",
                &format!(r#"{{"name":"pa","address":"127.0.0.1:1","instance":"{inst}"}}"#),
            );
        }
        ok(
            &reg,
            "/registry/peers/add",
            r#"{"name":"pb","address":"127.0.0.1:2"}"#,
        );
        ok(&reg, "/registry/peers/pb/remove/127.0.0.1:2", "");
        // Targets and jobs for a label without pods (nothing to push to).
        ok(
            &reg,
            "/registry/peers/later/targets/add",
            r#"{"name":"t1","method":"GET","url":"http://127.0.0.1:1/x","requestCount":2}"#,
        );
        ok(
            &reg,
            "/registry/peers/later/jobs/add",
            r#"{"id":"j1","task":{"method":"GET","url":"http://127.0.0.1:1/x"}}"#,
        );
        ok(&reg, "/registry/peers/track/headers/x-id,foo", "");
        ok(
            &reg,
            "/registry/peers/pa/127.0.0.1:1/locker/store/k1",
            "some data",
        );
        ok(
            &reg,
            "/registry/peers/pa/127.0.0.1:1/locker/store/k2",
            "more",
        );
        ok(&reg, "/registry/peers/pa/127.0.0.1:1/locker/remove/k2", "");
        // A pod that does not answer its probe: an open unhealthy span,
        // saved by the probe (a GET) itself.
        let ghost = format!("127.0.0.1:{}", free_port());
        ok(
            &reg,
            "/registry/peers/add",
            &format!(r#"{{"name":"pg","address":"{ghost}"}}"#),
        );
        assert_eq!(reg.get("/registry/peers/pg/health").json()[&ghost], false);
        let v = views(&reg);
        assert!(v[0].1.contains("unhealthySpans"), "{}", v[0].1);
        reg.signal(libc::SIGKILL);
        v
        // Dropping `reg` reaps the killed process.
    };
    // The port may linger briefly; the store's lock goes with the process.
    let reg = registry(port, &dir_s);
    let after = views(&reg);
    for ((path, a), (_, b)) in before.iter().zip(&after) {
        assert_eq!(a, b, "{path} differs after the restart");
    }
    assert!(before[0].1.contains("\"epoch\":1"), "{}", before[0].1);
    assert!(before[1].1.contains("t1") && before[2].1.contains("j1"));
    assert!(before[4].1.contains("some data"), "{}", before[4].1);
    // Tracked headers come back too: a new pod is told about them.
    let r = reg.post(
        "/registry/peers/add",
        r#"{"name":"pc","address":"127.0.0.1:3"}"#,
    );
    assert!(r.text().contains("x-id"), "{}", r.text());
    // A second registry on the same directory is refused with a message.
    let mut other = std::process::Command::new(common::goto_bin())
        .args([
            "--port",
            &free_port().to_string(),
            "--data-dir",
            &dir_s,
            QUIET,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    assert!(eventually(Duration::from_secs(10), || {
        matches!(other.try_wait(), Ok(Some(_)))
    }));
    assert_eq!(other.wait().ok().and_then(|s| s.code()), Some(1));
    drop(reg);
    let _ = std::fs::remove_dir_all(&dir);
}
