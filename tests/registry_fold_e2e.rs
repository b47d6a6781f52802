//! Issue 23: the registry folds `client` and `client_timeline_<minute>`
//! keys on arrival. Through the real binary: merged sums stay exact after
//! re-sent, replaced, removed and cleared keys, and across a SIGKILL with
//! `--data-dir`.

mod common;

use common::timeline::Minute;
use common::{free_port, Goto};
use goto_control::histcodec;
use serde_json::{json, Value};

const QUIET: &str = "--request-logs=false";
const TL: &str = "/registry/peers/lockers/targets/results/timeline";
const RES: &str = "/registry/peers/lockers/targets/results";

/// `n` 1 s intervals of minute `minute`, `req` requests each at `lat_us`.
fn timeline(minute: u64, n: u64, req: u64, lat_us: u64) -> String {
    Minute::new(minute, n, req, lat_us).at(0.25).text()
}

fn results(count: u64, lat_us: u64, last_second: u32) -> String {
    let mut h = goto_engine::stats::latency_histogram();
    for _ in 0..count {
        h.record(lat_us).ok();
    }
    json!({
        "targetInvocationCounts": {"t": count},
        "targetFirstResponses": {"t": "2026-01-01T00:00:00.000000Z"},
        "targetLastResponses": {"t": format!("2026-01-01T00:00:{last_second:02}.000000Z")},
        "countsByStatusCodes": {"200": count},
        "latencyHistograms": {"t": histcodec::encode(&h)},
    })
    .to_string()
}

fn ok(g: &Goto, path: &str, body: &str) {
    let r = g.post(path, body);
    assert_eq!(r.status, 200, "POST {path}: {}", r.text());
}

fn store(g: &Goto, addr: &str, key: &str, body: &str) {
    ok(
        g,
        &format!("/registry/peers/fleet/{addr}/locker/store/{key}"),
        body,
    );
}

/// (requests over the merged timeline, seconds, most peers in a second,
/// the largest max latency).
fn timeline_sums(g: &Goto) -> (u64, usize, u64, f64) {
    let v: Value = g.get(TL).json();
    let secs = v["fleet"]["t"].as_array().cloned().unwrap_or_default();
    let req = secs
        .iter()
        .map(|s| s["requests"].as_u64().unwrap_or(0))
        .sum();
    let peers = secs.iter().map(|s| s["peers"].as_u64().unwrap_or(0)).max();
    let max = secs
        .iter()
        .map(|s| s["latencyMs"]["max"].as_f64().unwrap_or(0.0))
        .fold(0.0, f64::max);
    (req, secs.len(), peers.unwrap_or(0), max)
}

fn results_count(g: &Goto) -> (u64, Value) {
    let v: Value = g.get(RES).json();
    let d = &v["fleet"];
    (
        d["targetInvocationCounts"]["t"].as_u64().unwrap_or(0),
        d["targetLastResponses"]["t"].clone(),
    )
}

#[test]
fn folded_sums_stay_exact_after_resent_replaced_removed_and_cleared_keys() {
    let g = Goto::start(&["--label", "registry", QUIET]);
    for (i, addr) in ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"]
        .iter()
        .enumerate()
    {
        for m in 1000..1003 {
            store(
                &g,
                addr,
                &format!("client_timeline_{m}"),
                &timeline(m, 60, 10, 1000 * (i as u64 + 1)),
            );
        }
        store(&g, addr, "client", &results(100, 1000, 10 + i as u32));
    }
    assert_eq!(timeline_sums(&g), (3 * 3 * 60 * 10, 180, 3, 3.001));
    assert_eq!(
        results_count(&g),
        (300, json!("2026-01-01T00:00:12.000000Z"))
    );
    // Re-sent unchanged: not counted twice.
    store(
        &g,
        "127.0.0.1:1",
        "client_timeline_1000",
        &timeline(1000, 60, 10, 1000),
    );
    store(&g, "127.0.0.1:1", "client", &results(100, 1000, 10));
    assert_eq!(timeline_sums(&g).0, 5400);
    assert_eq!(results_count(&g).0, 300);
    // The current minute, re-reported as it grows: replaced exactly.
    store(
        &g,
        "127.0.0.1:2",
        "client_timeline_1003",
        &timeline(1003, 10, 10, 2000),
    );
    store(
        &g,
        "127.0.0.1:2",
        "client_timeline_1003",
        &timeline(1003, 30, 10, 2000),
    );
    store(&g, "127.0.0.1:2", "client", &results(150, 1000, 40));
    assert_eq!(timeline_sums(&g).0, 5400 + 300);
    assert_eq!(
        results_count(&g),
        (350, json!("2026-01-01T00:00:40.000000Z"))
    );
    // A removed key and a cleared instance take their part out, latency too.
    ok(
        &g,
        "/registry/peers/fleet/127.0.0.1:3/locker/remove/client_timeline_1000",
        "",
    );
    let (req, _, _, max) = timeline_sums(&g);
    assert_eq!(req, 5700 - 600);
    assert!(
        (max - 3.001).abs() < 0.01,
        "the third pod's other minutes stay: {max}"
    );
    ok(&g, "/registry/peers/fleet/127.0.0.1:3/locker/clear", "");
    let (req, _, peers, max) = timeline_sums(&g);
    assert_eq!((req, peers), (5100 - 1200, 2));
    assert!((max - 2.001).abs() < 0.01, "{max}");
    ok(&g, "/registry/peers/fleet/127.0.0.1:2/locker/clear", "");
    assert_eq!(
        results_count(&g),
        (100, json!("2026-01-01T00:00:10.000000Z"))
    );
    assert_eq!(timeline_sums(&g), (1800, 180, 1, 1.0));
    // The label's lockers cleared: nothing merged.
    ok(&g, "/registry/peers/fleet/locker/clear", "");
    assert_eq!(g.get(TL).json(), json!({}));
    assert_eq!(g.get(RES).json(), json!({}));
}

#[test]
fn folded_sums_survive_sigkill_with_data_dir() {
    let dir = std::env::temp_dir().join(format!("goto-fold-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_s = dir.to_string_lossy().to_string();
    let port = free_port();
    let start = || {
        Goto::start_on(
            port,
            &["--label", "registry", QUIET, "--data-dir", &dir_s],
            &[],
        )
    };
    let before = {
        let g = start();
        for addr in ["127.0.0.1:1", "127.0.0.1:2"] {
            store(&g, addr, "client_timeline_5", &timeline(5, 60, 7, 500));
            store(&g, addr, "client_timeline_6", &timeline(6, 20, 7, 500));
            store(&g, addr, "client", &results(560, 500, 30));
        }
        ok(
            &g,
            "/registry/peers/fleet/127.0.0.1:2/locker/remove/client_timeline_6",
            "",
        );
        let v = (g.get(TL).text(), g.get(RES).text());
        assert_eq!(timeline_sums(&g).0, 2 * 60 * 7 + 20 * 7);
        g.signal(libc::SIGKILL);
        v
    };
    let g = start();
    assert_eq!((g.get(TL).text(), g.get(RES).text()), before);
    // Changes after the restart keep folding exactly.
    store(
        &g,
        "127.0.0.1:1",
        "client_timeline_6",
        &timeline(6, 60, 7, 500),
    );
    assert_eq!(timeline_sums(&g).0, 3 * 60 * 7);
    drop(g);
    let _ = std::fs::remove_dir_all(&dir);
}
