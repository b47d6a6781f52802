//! Issue 23 items 2 and 4: the registry's per-peer view
//! (`/registry/peers/lockers/targets/results/peers`) through the real
//! binary: two peers' requests, errors and latency apart, exact after
//! re-sent, replaced, removed and cleared keys and a new epoch, and the
//! same after a SIGKILL and restart with `--data-dir`.

mod common;

use common::timeline::Minute;
use common::{free_port, Goto};
use goto_control::histcodec;
use serde_json::{json, Value};

const QUIET: &str = "--request-logs=false";
const PEERS: &str = "/registry/peers/lockers/targets/results/peers";
const TL: &str = "/registry/peers/lockers/targets/results/timeline";
const RES: &str = "/registry/peers/lockers/targets/results";
const A: &str = "127.0.0.1:1";
const B: &str = "127.0.0.1:2";

/// `n` 1 s intervals of `minute`, `req` requests each, `e` of them 503s.
fn timeline(minute: u64, n: u64, req: u64, e: u64) -> String {
    Minute::new(minute, n, req, 1000).errors(e).text()
}

fn results(count: u64, lat_us: u64) -> String {
    let mut h = goto_engine::stats::latency_histogram();
    for _ in 0..count {
        h.record(lat_us).ok();
    }
    json!({
        "targetInvocationCounts": {"t": count},
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

/// (requests, errors, seconds, invocations, p50 ms) of `addr`'s target `t`.
fn peer(g: &Goto, addr: &str) -> (u64, u64, u64, u64, f64) {
    let v: Value = g.get(PEERS).json();
    let t = &v["fleet"][addr]["t"];
    (
        t["requests"].as_u64().unwrap_or(0),
        t["errors"].as_u64().unwrap_or(0),
        t["seconds"].as_u64().unwrap_or(0),
        t["invocations"].as_u64().unwrap_or(0),
        // To 0.1 ms: the histogram's buckets round 9 ms to 9.007.
        (t["latencyMs"]["p50"].as_f64().unwrap_or(0.0) * 10.0).round() / 10.0,
    )
}

#[test]
fn per_peer_view_keeps_two_peers_apart_and_exact() {
    let g = Goto::start(&["--label", "registry", QUIET]);
    assert_eq!(g.get(PEERS).json(), json!({}));
    store(&g, A, "client_timeline_100", &timeline(100, 60, 10, 1));
    store(&g, A, "client_timeline_101", &timeline(101, 30, 10, 0));
    store(&g, A, "client", &results(900, 1000));
    store(&g, B, "client_timeline_100", &timeline(100, 60, 20, 2));
    store(&g, B, "client", &results(1200, 9000));
    assert_eq!(peer(&g, A), (900, 60, 90, 900, 1.0));
    assert_eq!(peer(&g, B), (1200, 120, 60, 1200, 9.0));
    let v: Value = g.get(PEERS).json();
    assert_eq!(v["fleet"][A]["t"]["first"], 6000);
    assert_eq!(v["fleet"][A]["t"]["last"], 6089);
    assert!(v["fleet"][A]["t"].get("perSecond").is_none());
    // Per second on request: [unix, requests, errors].
    let v: Value = g.get(&format!("{PEERS}?seconds=Y")).json();
    let secs = v["fleet"][B]["t"]["perSecond"].as_array().cloned();
    let secs = secs.unwrap_or_default();
    assert_eq!(secs.len(), 60);
    assert_eq!(secs[0], json!([6000, 20, 2]));
    assert_eq!(g.get(&format!("{PEERS}?seconds=maybe")).status, 400);
    // The per-peer sums add up to the merged timeline's.
    let tl: Value = g.get(TL).json();
    let merged: u64 = tl["fleet"]["t"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["requests"].as_u64()).sum())
        .unwrap_or(0);
    assert_eq!(merged, 900 + 1200);
    // Re-sent unchanged, then the growing minute replaced: exact.
    store(&g, A, "client_timeline_100", &timeline(100, 60, 10, 1));
    store(&g, A, "client_timeline_101", &timeline(101, 45, 10, 3));
    store(&g, A, "client", &results(1050, 2000));
    assert_eq!(peer(&g, A), (1050, 60 + 135, 105, 1050, 2.0));
    // A removed key takes its part out; B is untouched.
    ok(
        &g,
        &format!("/registry/peers/fleet/{A}/locker/remove/client_timeline_100"),
        "",
    );
    assert_eq!(peer(&g, A), (450, 135, 45, 1050, 2.0));
    assert_eq!(peer(&g, B), (1200, 120, 60, 1200, 9.0));
    // A new process at B's address: B's part moves to B#0, the new one starts empty.
    ok(
        &g,
        "/registry/peers/add",
        &json!({"name": "fleet", "address": B, "instance": "one"}).to_string(),
    );
    ok(
        &g,
        "/registry/peers/add",
        &json!({"name": "fleet", "address": B, "instance": "two"}).to_string(),
    );
    let past = format!("{B}#0");
    assert_eq!(peer(&g, &past), (1200, 120, 60, 1200, 9.0));
    store(&g, B, "client_timeline_102", &timeline(102, 10, 5, 5));
    assert_eq!(peer(&g, B), (50, 50, 10, 0, 0.0));
    ok(
        &g,
        &format!("/registry/peers/fleet/{B}%230/locker/clear"),
        "",
    );
    let v: Value = g.get(PEERS).json();
    assert!(v["fleet"].get(&past).is_none(), "{v}");
    assert_eq!(peer(&g, B), (50, 50, 10, 0, 0.0));
    // The client key removed: the latency goes, the timeline part stays.
    ok(
        &g,
        &format!("/registry/peers/fleet/{A}/locker/remove/client"),
        "",
    );
    let v: Value = g.get(PEERS).json();
    assert_eq!(v["fleet"][A]["t"]["latencyMs"], Value::Null);
    assert_eq!(peer(&g, A).0, 450);
    ok(&g, "/registry/peers/fleet/locker/clear", "");
    assert_eq!(g.get(PEERS).json(), json!({}));
}

#[test]
fn merged_and_per_peer_views_are_equal_after_sigkill_and_restart() {
    let dir = std::env::temp_dir().join(format!("goto-peers-{}", std::process::id()));
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
    let views = |g: &Goto| {
        (
            g.get(TL).text(),
            g.get(RES).text(),
            g.get(&format!("{PEERS}?seconds=Y")).text(),
        )
    };
    let before = {
        let g = start();
        for (i, addr) in [A, B, "127.0.0.1:3"].iter().enumerate() {
            let i = i as u64;
            store(&g, addr, "client_timeline_7", &timeline(7, 60, 5 + i, i));
            store(&g, addr, "client_timeline_8", &timeline(8, 20, 5, 0));
            store(&g, addr, "client", &results(400 + i, 1000 * (i + 1)));
        }
        // Replaced, removed and cleared before the kill.
        store(&g, A, "client_timeline_8", &timeline(8, 40, 5, 1));
        store(&g, B, "client", &results(999, 3000));
        ok(
            &g,
            &format!("/registry/peers/fleet/{B}/locker/remove/client_timeline_7"),
            "",
        );
        ok(&g, "/registry/peers/fleet/127.0.0.1:3/locker/clear", "");
        assert_eq!(peer(&g, A), (300 + 200, 40, 100, 400, 1.0));
        assert_eq!(peer(&g, B), (100, 0, 20, 999, 3.0));
        let v = views(&g);
        g.signal(libc::SIGKILL);
        v
    };
    let g = start();
    assert_eq!(views(&g), before);
    drop(g);
    let _ = std::fs::remove_dir_all(&dir);
}
