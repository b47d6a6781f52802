//! The registry end to end: a registry, a target server and peers as real
//! processes on loopback, driven with the seed's registry scenarios ("Run
//! dynamic traffic from K8s pods at startup", "Deal with transient pods",
//! "Capture results from transient pods").

mod common;

use std::time::Duration;

use common::{eventually, free_port, Goto};
use serde_json::Value;

const QUIET: &str = "--request-logs=false";

fn registry() -> Goto {
    Goto::start(&["--label", "registry", QUIET])
}

fn registry_on(port: u16) -> Goto {
    Goto::start_on(port, &["--label", "registry", QUIET], &[])
}

fn peer_args(reg: u16, label: &str) -> Vec<String> {
    vec![
        "--label".into(),
        label.into(),
        "--registry".into(),
        format!("http://127.0.0.1:{reg}"),
        "--locker".into(),
        "--remind-seconds".into(),
        "1".into(),
        QUIET.into(),
    ]
}

/// A peer on a free port. A port found free can be taken by someone's
/// outbound connection before the peer binds it (20 peers connecting make
/// that likely), so a peer that exits at once is retried on another port.
fn peer(reg: u16, label: &str) -> Goto {
    peer_from(free_port(), reg, label)
}

fn peer_from(first_port: u16, reg: u16, label: &str) -> Goto {
    let args = peer_args(reg, label);
    let mut port = first_port;
    for _ in 0..3 {
        let child = std::process::Command::new(common::goto_bin())
            .arg("--port")
            .arg(port.to_string())
            .args(&args)
            .env("POD_IP", "127.0.0.1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn goto: {e}"));
        let mut g = Goto { child, port };
        let up = eventually(Duration::from_secs(10), || {
            matches!(g.child.try_wait(), Ok(Some(_)))
                || common::try_request(port, "GET", "/label", &[], b"").is_ok()
        });
        if up && matches!(g.child.try_wait(), Ok(None)) {
            return g;
        }
        port = free_port();
    }
    panic!("no peer could start");
}

fn peer_on(port: u16, reg: u16, label: &str) -> Goto {
    let args = peer_args(reg, label);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Goto::start_on(port, &args, &[])
}

fn ok(g: &Goto, path: &str, body: &str) -> String {
    let r = g.post(path, body);
    assert_eq!(r.status, 200, "POST {path}: {}", r.text());
    r.text()
}

fn target(name: &str, server: u16, count: u32, auto: bool) -> String {
    format!(
        r#"{{"name":"{name}","method":"POST","url":"http://127.0.0.1:{server}/foo",
            "headers":[["x","x1"],["y","y1"]],"body":"{{\"test\":\"this\"}}",
            "replicas":2,"requestCount":{count},"delay":"5ms","sendID":false,
            "autoInvoke":{auto}}}"#
    )
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn addr(g: &Goto) -> String {
    format!("127.0.0.1:{}", g.port)
}

/// "Run dynamic traffic from K8s pods at startup": an autoInvoke target runs
/// as the peer starts; later adds, removals and tracked headers are pushed;
/// invoke fans out.
#[test]
fn targets_reach_peers_at_startup_and_later() {
    let reg = registry();
    let server = Goto::start(&["--label", "server", QUIET]);
    let echo = ok(
        &reg,
        "/registry/peers/peer1/targets/add",
        &target("t1", server.port, 5, true),
    );
    assert!(echo.starts_with(r#"Added target: {"name":"t1""#), "{echo}");
    let p = peer(reg.port, "peer1");

    assert!(
        eventually(Duration::from_secs(5), || {
            n(&p.get("/client/results").json()["targetInvocationCounts"]["t1"]) == 10
        }),
        "autoInvoke target did not run: {}",
        p.get("/client/results").text()
    );
    assert!(p.get("/client/targets").json().get("t1").is_some());
    let peers = reg.get("/registry/peers").json();
    assert_eq!(peers["peer1"]["namespace"], "local");
    assert_eq!(peers["peer1"]["pods"][addr(&p)]["healthy"], true);

    // Added later: pushed to the running peer before the add answers.
    ok(
        &reg,
        "/registry/peers/peer1/targets/add",
        &target("t2", server.port, 3, false),
    );
    assert!(p.get("/client/targets").json().get("t2").is_some());
    assert!(reg.get("/registry/peers/targets").json()["peer1"]
        .get("t2")
        .is_some());

    // Invoke fans out and reports per pod.
    let inv = reg
        .post("/registry/peers/peer1/targets/t2/invoke", "")
        .json();
    // The peer blocks for results by default; a fan-out asks it not to.
    assert_eq!(inv[addr(&p)]["message"], "Targets invoked", "{inv}");
    let bad = p.post("/client/targets/t2/invoke?blocking=maybe", "");
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(eventually(Duration::from_secs(5), || {
        n(&p.get("/client/results").json()["targetInvocationCounts"]["t2"]) == 6
    }));

    // Tracked headers are pushed too.
    ok(&reg, "/registry/peers/track/headers/foo,Bar", "");
    let tracked = p.get("/client/track/headers").text();
    assert!(
        tracked.contains("foo") && tracked.contains("bar"),
        "{tracked}"
    );

    // A removal is pushed.
    ok(&reg, "/registry/peers/peer1/targets/t2/remove", "");
    assert!(p.get("/client/targets").json().get("t2").is_none());
    assert!(p.get("/client/targets").json().get("t1").is_some());
    assert_eq!(
        reg.get("/registry/peers/health").json()["peer1"][addr(&p)],
        true
    );
}

/// "Deal with transient pods" and "Capture results from transient pods":
/// SIGKILL and restart at the same address start a new epoch; SIGTERM
/// deregisters; the locker keeps what exited pods reported.
#[test]
fn transient_pods_epochs_and_lockers() {
    let reg = registry();
    let server = Goto::start(&["--label", "server", QUIET]);
    ok(
        &reg,
        "/registry/peers/peer1/targets/add",
        &target("t1", server.port, 4, true),
    );
    let port = free_port();
    let a = format!("127.0.0.1:{port}");
    let mut p = peer_on(port, reg.port, "peer1");
    let locker_path = format!("/registry/peers/peer1/{a}/locker");
    let has_final = |path: &str| {
        let r = reg.get(path);
        if r.status != 200 {
            return false;
        }
        let l = r.json();
        l.get("client_1_last").is_some()
            && l["client"]["Data"]
                .as_str()
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
                .is_some_and(|d| n(&d["targetInvocationCounts"]["t1"]) == 8)
    };
    assert!(
        eventually(Duration::from_secs(5), || has_final(&locker_path)),
        "locker: {}",
        reg.get(&locker_path).text()
    );

    // Killed without a chance to deregister, back at the same address.
    p.signal(libc::SIGKILL);
    assert!(p.wait_exit(Duration::from_secs(5)).is_some());
    drop(p);
    let mut p = peer_on(port, reg.port, "peer1");
    assert!(eventually(Duration::from_secs(3), || {
        reg.get("/registry/peers").json()["peer1"]["pods"][&a]["currentEpoch"]["epoch"] == 1
    }));
    let peers = reg.get("/registry/peers").json();
    let pod = &peers["peer1"]["pods"][&a];
    assert_eq!(pod["currentEpoch"]["epoch"], 1, "{peers}");
    assert_eq!(pod["pastEpochs"][0]["epoch"], 0, "{peers}");
    assert_eq!(pod["pastEpochs"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        peers["peer1"]["podEpochs"][&a].as_array().map(Vec::len),
        Some(2)
    );
    // The first life's locker moved aside, still readable.
    let by_addr = reg.get("/registry/peers/peer1/locker").json();
    assert!(
        by_addr[format!("{a}#0")]["client"]["Data"].is_string(),
        "{by_addr}"
    );
    assert!(eventually(Duration::from_secs(5), || has_final(
        &locker_path
    )));

    // SIGTERM: deregistered, gone from pods, kept in podEpochs.
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait_exit(Duration::from_secs(3)), Some(0));
    let peers = reg.get("/registry/peers").json();
    assert!(peers["peer1"]["pods"].get(&a).is_none(), "{peers}");
    assert_eq!(
        peers["peer1"]["podEpochs"][&a].as_array().map(Vec::len),
        Some(2)
    );

    // The exited peer's results, under both spellings.
    let inst = reg.get(&locker_path).json();
    for k in ["client", "client_1", "client_1_last"] {
        assert!(inst[k]["Data"].is_string(), "{k}: {inst}");
        assert!(inst[k]["FirstReported"].is_string());
        assert!(inst[k]["LastReported"].is_string());
    }
    let flat = reg.get("/registry/peer/peer1/locker").json();
    assert!(flat[format!("client@{a}")]["Data"].is_string(), "{flat}");
    assert!(flat[format!("client@{a}#0")]["Data"].is_string(), "{flat}");
    let all = reg.get("/registry/peer/lockers").json();
    assert!(all["peer1"][format!("client_1@{a}")].is_object(), "{all}");
    let nested = reg.get("/registry/peers/lockers").json();
    assert!(nested["peer1"][&a]["client"].is_object());
    // Both lives ran t1 (8 requests each): the sum counts both.
    let sum = reg.get("/registry/peers/lockers/targets/results").json();
    assert_eq!(
        n(&sum["peer1"]["targetInvocationCounts"]["t1"]),
        16,
        "{sum}"
    );

    // Clearing epochs keeps nothing of a pod that is gone; clearing lockers
    // with the scenario's spelling empties them.
    ok(&reg, "/registry/peers/clear/epochs", "");
    assert!(reg.get("/registry/peers").json()["peer1"]["podEpochs"]
        .get(&a)
        .is_none());
    ok(&reg, "/registry/peer/peer1/locker/clear", "");
    // peer1 is still registered: its locker reads back empty, and clears again.
    assert_eq!(
        reg.get("/registry/peer/peer1/locker").json(),
        serde_json::json!({})
    );
    ok(&reg, "/registry/peer/peer1/locker/clear", "");
}

/// Peers re-register within a reminder period after the registry restarts,
/// and report their results again.
#[test]
fn registry_restart_is_survived() {
    // The peer starts first and keeps trying until the registry is up.
    let rport = free_port();
    let server = Goto::start(&["--label", "server", QUIET]);
    let p = peer(rport, "peer1");
    let mut reg = registry_on(rport);
    assert!(eventually(Duration::from_secs(3), || {
        reg.get("/registry/peers").json()["peer1"]["pods"]
            .get(addr(&p))
            .is_some()
    }));
    ok(
        &p,
        "/client/targets/add",
        &target("local", server.port, 2, true),
    );

    reg.signal(libc::SIGKILL);
    assert!(reg.wait_exit(Duration::from_secs(5)).is_some());
    drop(reg);
    let reg = registry_on(rport);
    let path = format!("/registry/peers/peer1/{}/locker", addr(&p));
    assert!(
        eventually(Duration::from_secs(4), || {
            reg.get("/registry/peers").json()["peer1"]["pods"]
                .get(addr(&p))
                .is_some()
                && reg.get(&path).json()["client"]["Data"].is_string()
        }),
        "peer did not come back: {}",
        reg.get("/registry/peers").text()
    );
    let pod = &reg.get("/registry/peers").json()["peer1"]["pods"][addr(&p)];
    assert_eq!(pod["currentEpoch"]["epoch"], 0);

    // Removed by hand while alive: the same process registers again, a new
    // epoch, but its locker stays its own (no double counting).
    ok(
        &reg,
        &format!("/registry/peers/peer1/remove/{}", addr(&p)),
        "",
    );
    assert!(eventually(Duration::from_secs(4), || {
        reg.get("/registry/peers").json()["peer1"]["pods"][addr(&p)]["currentEpoch"]["epoch"] == 1
    }));
    let lockers = reg.get("/registry/peers/peer1/locker").json();
    assert_eq!(lockers.as_object().map(|m| m.len()), Some(1), "{lockers}");
    let own = n(&p.get("/client/results").json()["targetInvocationCounts"]["local"]);
    assert_eq!(own, 4);
    assert!(eventually(Duration::from_secs(3), || {
        let sum = reg.get("/registry/peers/lockers/targets/results").json();
        n(&sum["peer1"]["targetInvocationCounts"]["local"]) == own
    }));
}

/// One registry and 20 peers each running a small target: the registry's
/// sum equals the sum of what each peer reports about itself, exactly.
#[test]
fn twenty_peers_sum_exactly() {
    const PEERS: usize = 20;
    let reg = registry();
    let server = Goto::start(&["--label", "server", QUIET]);
    ok(
        &reg,
        "/registry/peers/scale/targets/add",
        &target("t", server.port, 5, true),
    );
    // Ports distinct among the peers: all bound at once, then released.
    let holders: Vec<std::net::TcpListener> = (0..PEERS)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let ports: Vec<u16> = holders
        .iter()
        .filter_map(|l| l.local_addr().ok().map(|a| a.port()))
        .collect();
    drop(holders);
    let peers: Vec<Goto> = std::thread::scope(|s| {
        let hs: Vec<_> = ports
            .iter()
            .map(|&port| s.spawn(move || peer_from(port, reg.port, "scale")))
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("peer start failed")))
            .collect()
    });
    let own: Vec<Value> = peers
        .iter()
        .map(|p| {
            let mut last = Value::Null;
            let done = eventually(Duration::from_secs(8), || {
                last = p.get("/client/results").json();
                n(&last["targetInvocationCounts"]["t"]) == 10
            });
            assert!(done, "peer {} results: {last}", p.port);
            last
        })
        .collect();
    let want_codes = sum_maps(own.iter().map(|d| &d["countsByStatusCodes"]));
    let want_hdrs = sum_maps(own.iter().map(|d| &d["countsByHeaders"]));
    let want_lat: u64 = own
        .iter()
        .map(|d| n(&d["latencyByTarget"]["t"]["count"]))
        .sum();
    assert_eq!(want_lat, 10 * PEERS as u64);
    let mut got = Value::Null;
    let same = eventually(Duration::from_secs(5), || {
        got = reg.get("/registry/peers/lockers/targets/results").json();
        let s = &got["scale"];
        n(&s["targetInvocationCounts"]["t"]) == 10 * PEERS as u64
            && s["countsByStatusCodes"] == want_codes
            && s["countsByHeaders"] == want_hdrs
            && n(&s["latencyByTarget"]["t"]["count"]) == want_lat
    });
    assert!(
        same,
        "registry sum {got}\nwant codes {want_codes} headers {want_hdrs} latency {want_lat}\nlockers {}",
        reg.get("/registry/peers/lockers").text()
    );
    let detailed = reg
        .get("/registry/peers/lockers/targets/results?detailed=Y")
        .json();
    assert_eq!(
        n(&detailed["scale"]["t"]["invocationCount"]),
        10 * PEERS as u64
    );
    assert_eq!(n(&detailed["scale"]["t"]["latency"]["count"]), want_lat);
    let pods = reg.get("/registry/peers").json()["scale"]["pods"].clone();
    assert_eq!(pods.as_object().map(|m| m.len()), Some(PEERS));
}

fn sum_maps<'a>(docs: impl Iterator<Item = &'a Value>) -> Value {
    let mut out = serde_json::Map::new();
    for d in docs {
        for (k, v) in d.as_object().into_iter().flatten() {
            let cur = out.get(k).map_or(0, n);
            out.insert(k.clone(), Value::from(cur + n(v)));
        }
    }
    Value::Object(out)
}

/// Bad input gets a 4xx with a reason and leaves the registry as it was.
#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let reg = registry();
    ok(
        &reg,
        "/registry/peers/add",
        r#"{"name":"peer1","namespace":"local","pod":"p","address":"127.0.0.1:1"}"#,
    );
    let before = reg.get("/registry/peers").json();
    for (path, body, status, reason) in [
        ("/registry/peers/add", "{", 400, "invalid peer JSON"),
        ("/registry/peers/add", "", 400, "missing"),
        (
            "/registry/peers/add",
            r#"{"name":"peer1","address":"not an address"}"#,
            400,
            "invalid peer address",
        ),
        (
            "/registry/peers/add",
            r#"{"name":"peer1","address":"127.0.0.1:0"}"#,
            400,
            "invalid peer address",
        ),
        (
            "/registry/peers/add",
            r#"{"address":"127.0.0.1:2"}"#,
            400,
            "name",
        ),
        (
            "/registry/peers/nope/remember",
            r#"{"name":"nope","address":"127.0.0.1:2"}"#,
            404,
            "no pod",
        ),
        (
            "/registry/peers/peer1/remove/127.0.0.1:2",
            "",
            404,
            "no pod",
        ),
        ("/registry/peers/nope/remove/127.0.0.1:1", "", 404, "no pod"),
        (
            "/registry/peers/peer1/targets/add",
            r#"{"name":"t"}"#,
            400,
            "url",
        ),
        (
            "/registry/peers/peer1/targets/add",
            "{",
            400,
            "invalid target JSON",
        ),
        (
            "/registry/peers/peer1/targets/zz/remove",
            "",
            404,
            "no targets",
        ),
        ("/registry/peers/peer1/jobs/add", r#"{"x":1}"#, 400, "id"),
        (
            "/registry/peers/peer1/bad-addr/locker/store/k",
            "v",
            400,
            "invalid peer address",
        ),
        (
            "/registry/peers/nope/targets/invoke/all",
            "",
            404,
            "no such peer",
        ),
        (
            "/registry/peers/track/headers/bad%20header",
            "",
            400,
            "invalid header",
        ),
    ] {
        let r = reg.post(path, body);
        assert_eq!(r.status, status, "POST {path} {body}: {}", r.text());
        assert!(r.text().contains(reason), "POST {path}: {}", r.text());
        assert!(!r.text().trim().contains('\n'), "one line: {}", r.text());
    }
    for (path, status) in [
        ("/registry/peers/nope/locker", 404),
        ("/registry/peer/nope/locker", 404),
        ("/registry/peers/peer1/127.0.0.1:9/locker", 404),
        ("/registry/peers/nope/health", 404),
        ("/registry/peers/peer1/health/127.0.0.1:9", 404),
        ("/registry/nothing/here", 404),
    ] {
        assert_eq!(reg.get(path).status, status, "GET {path}");
    }
    assert_eq!(reg.get("/registry/peers").json(), before);
    assert_eq!(
        reg.get("/registry/peers/targets").json(),
        Value::Object(Default::default())
    );
    // An unreachable pod shows up as unhealthy and is cleaned up; its
    // epochs stay.
    assert_eq!(
        reg.get("/registry/peers/health").json()["peer1"]["127.0.0.1:1"],
        false
    );
    ok(&reg, "/registry/peers/health/cleanup", "");
    let after = reg.get("/registry/peers").json();
    assert!(after["peer1"]["pods"].get("127.0.0.1:1").is_none());
    assert!(after["peer1"]["podEpochs"].get("127.0.0.1:1").is_some());
}

/// An https registry is refused at startup with a clear message.
#[test]
fn bad_registry_url_is_a_startup_error() {
    use std::io::Read;
    let port = free_port();
    let child = std::process::Command::new(common::goto_bin())
        .args([
            "--port",
            &port.to_string(),
            "--registry",
            "ftp://127.0.0.1:1",
        ])
        .env("POD_IP", "127.0.0.1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    // Killed on drop should it not exit.
    let mut g = Goto { child, port };
    assert_eq!(g.wait_exit(Duration::from_secs(5)), Some(1));
    let mut err = String::new();
    if let Some(mut e) = g.child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(err.contains("want http[s]://"), "{err}");
}

/// A registry behind an https listener: peers verify it with `--certs`.
#[test]
fn peers_register_with_an_https_registry() {
    let reg = registry();
    let tls_port = free_port();
    ok(
        &reg,
        "/listeners/add",
        &format!(r#"{{"port":{tls_port},"protocol":"https"}}"#),
    );
    let dir = std::env::temp_dir().join(format!("goto-https-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    std::fs::write(
        dir.join("registry.pem"),
        reg.get(&format!("/listeners/{tls_port}/cert")).text(),
    )
    .expect("write cert");
    let url = format!("https://localhost:{tls_port}");
    let p = Goto::start(&[
        "--label",
        "peer1",
        "--registry",
        &url,
        "--certs",
        dir.to_str().unwrap_or("."),
        QUIET,
    ]);
    let a = addr(&p);
    assert!(
        eventually(Duration::from_secs(10), || {
            reg.get("/registry/peers").json()["peer1"]["pods"]
                .get(&a)
                .is_some()
        }),
        "peer did not register over https: {}",
        reg.get("/registry/peers").text()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether the JSON object at `path` has `key` (false while it is a 404).
fn has_key(g: &Goto, path: &str, key: &str) -> bool {
    serde_json::from_str::<Value>(&g.get(path).text()).is_ok_and(|v| v.get(key).is_some())
}

/// Jobs by label: an `auto` job registered before the peer starts runs there
/// at registration; a job added later is pushed; run and stop fan out; runs
/// are reported to the locker as `job_<id>_<run>` and locked when finished;
/// a removal is pushed.
#[test]
fn jobs_reach_peers_and_report_to_the_locker() {
    let reg = registry();
    let server = Goto::start(&["--label", "server", QUIET]);
    let job = |id: &str, auto: bool| {
        format!(
            r#"{{"id":"{id}","task":{{"url":"http://127.0.0.1:{}/echo/{id}","parseJSON":true}},"auto":{auto},"count":2}}"#,
            server.port
        )
    };
    ok(&reg, "/registry/peers/peer1/jobs/add", &job("j1", true));
    let p = peer(reg.port, "peer1");
    let pa = addr(&p);

    // The auto job ran at registration and its run reached the locker, locked.
    let key_last = "job_j1_1_last";
    assert!(
        eventually(Duration::from_secs(10), || {
            has_key(
                &reg,
                &format!("/registry/peers/peer1/{pa}/locker"),
                key_last,
            )
        }),
        "no locked job run in the locker: {}",
        reg.get("/registry/peers/lockers").text()
    );
    let locker = reg
        .get(&format!("/registry/peers/peer1/{pa}/locker"))
        .json();
    let data: Value = serde_json::from_str(locker["job_j1_1"]["Data"].as_str().unwrap_or("null"))
        .unwrap_or(Value::Null);
    let runs = data.as_array().cloned().unwrap_or_default();
    assert_eq!(runs.len(), 3, "{data}");
    // The seed's locker sample spells job results the original's way.
    assert_eq!(runs[0]["Data"]["uri"], "/echo/j1");
    assert_eq!(runs[0]["Index"], "1.1");
    assert!(runs[0]["ResultTime"].is_string());
    assert_eq!(runs[2]["Finished"], true);

    // A job added later is pushed; running it through the registry fans out.
    ok(&reg, "/registry/peers/peer1/jobs/add", &job("j2", false));
    assert!(
        p.get("/jobs").json().get("j2").is_some(),
        "{}",
        p.get("/jobs").text()
    );
    let fan = reg.post("/registry/peers/peer1/jobs/j2/run", "");
    assert_eq!(fan.status, 200, "{}", fan.text());
    assert!(eventually(Duration::from_secs(10), || {
        p.get("/jobs/j2/results").json()["1"]
            .as_array()
            .and_then(|a| a.last().cloned())
            .is_some_and(|r| r["finished"] == true)
    }));
    assert!(eventually(Duration::from_secs(10), || {
        reg.get("/registry/peer/peer1/locker")
            .json()
            .get("job_j2_1_last")
            .is_some()
    }));

    // Removal is pushed; a bad job is refused at the registry.
    ok(&reg, "/registry/peers/peer1/jobs/j2/remove", "");
    assert!(p.get("/jobs").json().get("j2").is_none());
    let r = reg.post(
        "/registry/peers/peer1/jobs/add",
        r#"{"id":"bad","task":{"url":"nope"}}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(reg
        .get("/registry/peers/peer1/jobs")
        .json()
        .get("bad")
        .is_none());
}

/// A pod that vanishes without deregistering (SIGKILL) is dropped from `pods`
/// by the registry's background health probes; its epochs stay.
#[test]
fn background_health_checks_drop_vanished_pods() {
    let reg = Goto::start(&["--label", "registry", QUIET, "--peer-health-seconds", "1"]);
    let mut p = peer(reg.port, "peer1");
    let a = addr(&p);
    assert!(eventually(Duration::from_secs(5), || {
        reg.get("/registry/peers").json()["peer1"]["pods"]
            .get(&a)
            .is_some()
    }));
    let _ = p.child.kill();
    let _ = p.child.wait();
    // Three failed probes a second apart, plus slack.
    assert!(
        eventually(Duration::from_secs(10), || {
            reg.get("/registry/peers").json()["peer1"]["pods"]
                .get(&a)
                .is_none()
        }),
        "pod not dropped: {}",
        reg.get("/registry/peers").text()
    );
    let peers = reg.get("/registry/peers").json();
    assert!(peers["peer1"]["podEpochs"][&a].is_array(), "{peers}");
    // Its failed probes are one unhealthy span, ended when it was dropped.
    let spans = &peers["peer1"]["podUnhealthySpans"][&a];
    assert_eq!(spans.as_array().map(Vec::len), Some(1), "{peers}");
    assert_eq!(spans[0]["epoch"], 0);
    assert!(
        spans[0]["to"].as_str() >= spans[0]["from"].as_str(),
        "{spans}"
    );
}

/// Issue 22: a pod whose address stops answering gets an unhealthy span
/// from the probe that found it so; a reminder ends it, and so does being
/// removed; the last spans are kept per address like the epochs.
#[test]
fn unhealthy_spans_open_and_close_with_probes() {
    let reg = Goto::start(&["--label", "registry", QUIET, "--peer-health-seconds", "0"]);
    let ghost = format!("127.0.0.1:{}", free_port());
    let body = format!(r#"{{"name":"peer1","pod":"ghost","address":"{ghost}"}}"#);
    ok(&reg, "/registry/peers/add", &body);
    let group = || reg.get("/registry/peers").json()["peer1"].clone();
    assert!(group()["pods"][&ghost].get("unhealthySpans").is_none());
    assert!(group().get("podUnhealthySpans").is_none());
    let probe = || {
        reg.get(&format!("/registry/peers/peer1/health/{ghost}"))
            .json()[&ghost]
            .clone()
    };
    assert_eq!(probe(), false);
    // Still unhealthy: the same span, open (no `to`).
    assert_eq!(probe(), false);
    let g = group();
    let spans = g["pods"][&ghost]["unhealthySpans"].clone();
    assert_eq!(spans.as_array().map(Vec::len), Some(1), "{g}");
    assert_eq!(spans[0]["epoch"], 0);
    assert!(
        spans[0]["from"].is_string() && spans[0].get("to").is_none(),
        "{spans}"
    );
    assert_eq!(g["podUnhealthySpans"][&ghost], spans);
    assert_eq!(g["pods"][&ghost]["healthy"], false);
    // A reminder: healthy again, the span ends.
    ok(&reg, "/registry/peers/peer1/remember", &body);
    let g = group();
    let span = &g["pods"][&ghost]["unhealthySpans"][0];
    assert!(span["to"].as_str() >= span["from"].as_str(), "{g}");
    assert_eq!(g["pods"][&ghost]["healthy"], true);
    // Unhealthy again, then removed: the open span ends at the removal and
    // stays readable with the address's epochs.
    assert_eq!(probe(), false);
    assert!(group()["pods"][&ghost]["unhealthySpans"][1]
        .get("to")
        .is_none());
    ok(&reg, &format!("/registry/peers/peer1/remove/{ghost}"), "");
    let g = group();
    assert!(g["pods"].get(&ghost).is_none());
    let spans = g["podUnhealthySpans"][&ghost]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(spans.len(), 2, "{g}");
    assert!(spans[1]["to"].as_str() >= spans[1]["from"].as_str(), "{g}");
    // Forgetting epochs forgets the spans of the addresses that are gone.
    ok(&reg, "/registry/peers/clear/epochs", "");
    assert!(group().get("podUnhealthySpans").is_none(), "{}", group());
}
