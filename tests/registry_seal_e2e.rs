//! Issue 23 item 3: the registry keeps the text of an instance's newest two
//! minutes of timeline keys only; older ones are sealed (counts kept, text
//! dropped from memory). Through the real binary: the lockers show the
//! window, the merged and per-peer views stay exact after re-sent,
//! replaced, removed and cleared sealed keys, and with `--data-dir` a
//! sealed key's text comes back from the store (exact percentiles too),
//! across a new epoch and a SIGKILL.

mod common;

use common::timeline::Minute;
use common::{free_port, Goto};
use serde_json::{json, Value};

const QUIET: &str = "--request-logs=false";
const TL: &str = "/registry/peers/lockers/targets/results/timeline";
const PEERS: &str = "/registry/peers/lockers/targets/results/peers?seconds=Y";
const A: &str = "127.0.0.1:1";
const B: &str = "127.0.0.1:2";

fn timeline(minute: u64, n: u64, req: u64, lat_us: u64) -> String {
    Minute::new(minute, n, req, lat_us)
        .bytes_per_request(1)
        .text()
}

fn ok(g: &Goto, path: &str) {
    let r = g.post(path, "");
    assert_eq!(r.status, 200, "POST {path}: {}", r.text());
}

fn store(g: &Goto, addr: &str, m: u64, body: &str) {
    let path = format!("/registry/peers/fleet/{addr}/locker/store/client_timeline_{m}");
    let r = g.post(&path, body);
    assert_eq!(r.status, 200, "POST {path}: {}", r.text());
}

fn remove(g: &Goto, addr: &str, m: u64) {
    ok(
        g,
        &format!("/registry/peers/fleet/{addr}/locker/remove/client_timeline_{m}"),
    );
}

fn keys(g: &Goto, addr: &str) -> Vec<String> {
    let v: Value = g
        .get(&format!("/registry/peers/fleet/{addr}/locker"))
        .json();
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// (requests, seconds, seconds without percentiles, largest max ms).
fn sums(g: &Goto) -> (u64, usize, usize, f64) {
    let v: Value = g.get(TL).json();
    let secs = v["fleet"]["t"].as_array().cloned().unwrap_or_default();
    let req = secs.iter().filter_map(|s| s["requests"].as_u64()).sum();
    let blind = secs.iter().filter(|s| s["latencyMs"].is_null()).count();
    let max = secs
        .iter()
        .filter_map(|s| s["latencyMs"]["max"].as_f64())
        .fold(0.0, f64::max);
    (req, secs.len(), blind, max)
}

/// Minutes 10..=15 for A (5 ms) and B (1 ms), 60 s of 10 requests each.
fn fill(g: &Goto) {
    for m in 10..=15 {
        store(g, A, m, &timeline(m, 60, 10, 5000));
        store(g, B, m, &timeline(m, 60, 10, 1000));
    }
}

#[test]
fn old_timeline_keys_are_sealed_and_sums_stay_exact() {
    let g = Goto::start(&["--label", "registry", QUIET]);
    fill(&g);
    // The lockers hold the newest two minutes' text.
    assert_eq!(keys(&g, A), ["client_timeline_14", "client_timeline_15"]);
    assert_eq!(sums(&g), (2 * 6 * 600, 360, 0, 5.003));
    // Re-sent unchanged: still sealed, counted once.
    store(&g, A, 10, &timeline(10, 60, 10, 5000));
    assert_eq!(keys(&g, A).len(), 2);
    assert_eq!(sums(&g).0, 7200);
    // A sealed key replaced: its counts out exactly, the new text in.
    store(&g, A, 11, &timeline(11, 30, 10, 5000));
    assert_eq!(sums(&g).0, 7200 - 300);
    assert_eq!(keys(&g, A).len(), 2, "sealed again: still old");
    // Removed: counts exact; without a store its percentiles cannot be
    // taken out, so the seconds it shared say so (null), not a wrong figure
    // (minute 11's seconds too, replaced above).
    remove(&g, A, 12);
    assert_eq!(sums(&g), (6900 - 600, 360, 120, 5.003));
    let v: Value = g.get(PEERS).json();
    assert_eq!(v["fleet"][A]["t"]["requests"], 6 * 600 - 300 - 600);
    assert_eq!(v["fleet"][B]["t"]["requests"], 3600);
    // A cleared instance with sealed keys: B's counts alone remain.
    ok(&g, &format!("/registry/peers/fleet/{A}/locker/clear"));
    let (req, secs, _, _) = sums(&g);
    assert_eq!((req, secs), (3600, 360));
    ok(&g, &format!("/registry/peers/fleet/{B}/locker/clear"));
    assert_eq!(g.get(TL).json(), json!({}));
    assert_eq!(g.get(PEERS).json(), json!({}));
}

#[test]
fn sealed_keys_come_back_from_the_store_exactly_and_across_sigkill() {
    let dir = std::env::temp_dir().join(format!("goto-seal-{}", std::process::id()));
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
            g.get(PEERS).text(),
            g.get("/registry/peers/lockers").text(),
        )
    };
    let before = {
        let g = start();
        fill(&g);
        store(&g, A, 11, &timeline(11, 30, 10, 5000));
        // With the store the removed key's text is read back: the
        // percentiles are taken out exactly too (B's 1 ms remain).
        remove(&g, A, 12);
        let (req, secs, blind, _) = sums(&g);
        assert_eq!((req, secs, blind), (7200 - 300 - 600, 360, 0));
        let v: Value = g.get(TL).json();
        let m12 = &v["fleet"]["t"][120];
        assert_eq!(
            (m12["unix"].as_u64(), m12["peers"].as_u64()),
            (Some(720), Some(1))
        );
        assert_eq!(m12["latencyMs"]["max"], 1.0);
        // A new process at B: its locker, sealed keys too, moves to B#0.
        for i in ["one", "two"] {
            let body = json!({"name": "fleet", "address": B, "instance": i});
            let r = g.post("/registry/peers/add", &body.to_string());
            assert_eq!(r.status, 200);
        }
        assert_eq!(sums(&g).0, 6300);
        let v = views(&g);
        g.signal(libc::SIGKILL);
        v
    };
    let g = start();
    let after = views(&g);
    for (i, (a, b)) in [
        (&after.0, &before.0),
        (&after.1, &before.1),
        (&after.2, &before.2),
    ]
    .iter()
    .enumerate()
    {
        let at = a.bytes().zip(b.bytes()).position(|(x, y)| x != y);
        let at = at.unwrap_or(a.len().min(b.len()));
        assert!(
            a == b,
            "view {i} differs at {at}: {:?} vs {:?}",
            &a[at.saturating_sub(80)..(at + 80).min(a.len())],
            &b[at.saturating_sub(80)..(at + 80).min(b.len())]
        );
    }
    // The retired instance's sealed keys, read back from where the move
    // stored them: cleared exactly, percentiles too (A's 5 ms remain).
    ok(&g, &format!("/registry/peers/fleet/{B}%230/locker/clear"));
    let (req, secs, blind, max) = sums(&g);
    assert_eq!((req, secs, blind, max), (6 * 600 - 900, 270, 0, 5.003));
    drop(g);
    let _ = std::fs::remove_dir_all(&dir);
}
