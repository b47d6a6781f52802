//! A simulated fleet of goto peers against one registry (issue 23), to
//! measure the registry at fleet scale: N peers in this process register,
//! store `client_timeline_<minute>` keys of 1 s intervals with their
//! histograms and a `client` results document (the shapes `control/src/
//! peer/report.rs` sends), remind, and deregister; the registry is a real
//! `goto --label registry` started here, talked to over HTTP/1.1 on
//! 127.0.0.1. Prints registry CPU per report (from /proc/<pid>/stat), read
//! latencies, RSS, and whether every merged sum is exact.
//!
//! Peers share a few keep-alive connections (one per worker thread): the
//! registry's cost per report is what is measured, not its connection count.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const LABEL: &str = "fleet";
const TARGET: &str = "t";
const POOL: usize = 64;
mod args;
mod fleet;
mod http;
mod registry;

use args::parse_args;
use fleet::{addr, locker, Fleet, Sums};
use http::Conn;
use registry::{cpu, mem, unsafe_kill9, Registry};

pub(crate) fn fail(msg: &str) -> ! {
    eprintln!("fleet-sim: {msg}");
    std::process::exit(1)
}

/// Runs `f(conn, peer)` for every peer over `threads` connections.
fn each_peer(port: u16, peers: usize, threads: usize, f: &(dyn Fn(&mut Conn, usize) + Sync)) {
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let mut c = Conn::new(port);
                for p in (t..peers).step_by(threads) {
                    f(&mut c, p);
                }
            });
        }
    });
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed().as_secs_f64() * 1000.0)
}

/// Median and max of `k` timed GETs, and the last body.
fn read_ms(c: &mut Conn, path: &str, k: usize) -> (f64, f64, Vec<u8>) {
    let mut ms = Vec::new();
    let mut body = Vec::new();
    for _ in 0..k {
        let (b, t) = timed(|| c.must("GET", path, b""));
        ms.push(t);
        body = b;
    }
    ms.sort_by(f64::total_cmp);
    (ms[ms.len() / 2], ms[ms.len() - 1], body)
}

fn main() {
    let a = parse_args();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|x| x.port())
        .unwrap_or_else(|e| fail(&format!("no free port: {e}")));
    let mut reg = Registry::start(&a, port);
    let pid = reg.child.id();
    let (n, threads) = (a.peers, a.threads);
    let fleet = Fleet::new(a.rps, a.minutes);
    let m0 = fleet.start_minute;
    let rss0 = mem(pid).0;
    println!(
        "fleet-sim: {n} peers, {} minutes of 1 s intervals at ~{} req/s each, {threads} connections",
        a.minutes, a.rps
    );

    // Register.
    let c0 = cpu(pid);
    let (_, reg_ms) = timed(|| {
        each_peer(port, n, threads, &|c, p| {
            let body = json!({"name": LABEL, "address": addr(p), "pod": format!("pod-{p}"),
                "instance": format!("sim-{p}")});
            c.must("POST", "/registry/peers/add", body.to_string().as_bytes());
        })
    });
    let reg_cpu = cpu(pid) - c0;

    // Backfill: every minute but the last, as a long run leaves them.
    let sample = fleet.minute(0, m0, 60).0.len();
    let hist_bytes: usize = fleet.pool.iter().map(|p| p.text.len()).sum::<usize>() / POOL;
    let c0 = cpu(pid);
    let (_, fill_ms) = timed(|| {
        each_peer(port, n, threads, &|c, p| {
            for m in m0..m0 + a.minutes - 1 {
                let (text, _) = fleet.minute(p, m, 60);
                c.must(
                    "POST",
                    &locker(p, "store", &format!("client_timeline_{m}")),
                    text.as_bytes(),
                );
            }
        })
    });
    let fill_cpu = cpu(pid) - c0;
    let fill_reports = n as u64 * (a.minutes - 1);

    // Burst: every peer reports its last full minute and its results at once.
    let last = m0 + a.minutes - 1;
    let texts: Vec<(String, String)> = (0..n)
        .map(|p| (fleet.minute(p, last, 60).0, fleet.results(p, 0).0))
        .collect();
    let c0 = cpu(pid);
    let (_, burst_ms) = timed(|| {
        each_peer(port, n, threads, &|c, p| {
            c.must(
                "POST",
                &locker(p, "store", &format!("client_timeline_{last}")),
                texts[p].0.as_bytes(),
            );
        })
    });
    let burst_cpu = cpu(pid) - c0;
    let c0 = cpu(pid);
    each_peer(port, n, threads, &|c, p| {
        c.must("POST", &locker(p, "store", "client"), texts[p].1.as_bytes());
    });
    let results_cpu = cpu(pid) - c0;
    drop(texts);

    // Reminders only, spread over one reminder period.
    let remind_pct = if a.remind_secs > 0 {
        let period = Duration::from_secs(a.remind_secs);
        let c0 = cpu(pid);
        let start = Instant::now();
        each_peer(port, n, threads, &|c, p| {
            let at = period.mul_f64(p as f64 / n as f64);
            if let Some(w) = at.checked_sub(start.elapsed()) {
                std::thread::sleep(w);
            }
            let body = json!({"name": LABEL, "address": addr(p), "pod": format!("pod-{p}"),
                "instance": format!("sim-{p}")});
            c.must(
                "POST",
                &format!("/registry/peers/{LABEL}/remember"),
                body.to_string().as_bytes(),
            );
        });
        if let Some(w) = period.checked_sub(start.elapsed()) {
            std::thread::sleep(w);
        }
        Some(100.0 * (cpu(pid) - c0) / start.elapsed().as_secs_f64())
    } else {
        None
    };

    // Live: the current minute grows by one interval a second and the
    // results change, re-reported every second (a running peer's cadence).
    let live = last + 1;
    let mut live_stats = None;
    if a.live_secs > 0 {
        let c0 = cpu(pid);
        let start = Instant::now();
        let stores = std::sync::atomic::AtomicU64::new(0);
        for s in 1..=a.live_secs {
            let tick = Duration::from_secs(s - 1);
            if let Some(w) = tick.checked_sub(start.elapsed()) {
                std::thread::sleep(w);
            }
            each_peer(port, n, threads, &|c, p| {
                let (text, _) = fleet.minute(p, live, s);
                c.must(
                    "POST",
                    &locker(p, "store", &format!("client_timeline_{live}")),
                    text.as_bytes(),
                );
                c.must(
                    "POST",
                    &locker(p, "store", "client"),
                    fleet.results(p, s).0.as_bytes(),
                );
                stores.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
            });
        }
        let wall = start.elapsed().as_secs_f64();
        let stores = stores.into_inner();
        live_stats = Some((
            100.0 * (cpu(pid) - c0) / wall,
            stores as f64 / wall,
            wall / a.live_secs as f64,
        ));
    }
    let results_version = a.live_secs;

    // What the merged views must say.
    let mut want = Sums::default();
    let mut want_results = 0;
    for p in 0..n {
        for m in m0..=last {
            let s = fleet.minute(p, m, 60).1;
            want.requests += s.requests;
            want.errors += s.errors;
        }
        if a.live_secs > 0 {
            let s = fleet.minute(p, live, a.live_secs).1;
            want.requests += s.requests;
            want.errors += s.errors;
        }
        want_results += fleet.results(p, results_version).1;
    }
    let want_secs = a.minutes * 60 + a.live_secs;

    if a.restart {
        if a.data_dir.is_none() {
            fail("--restart needs --data-dir");
        }
        unsafe_kill9(pid);
        let _ = reg.child.wait();
        let (r, ms) = timed(|| Registry::start(&a, port));
        reg = r;
        println!("restart after kill -9: answered in {ms:.0} ms");
    }
    let pid = reg.child.id();

    let mut c = Conn::new(port);
    let tl_path = "/registry/peers/lockers/targets/results/timeline";
    let (tl_med, tl_max, tl_body) = read_ms(&mut c, tl_path, a.reads);
    let (rs_med, rs_max, rs_body) =
        read_ms(&mut c, "/registry/peers/lockers/targets/results", a.reads);
    let pp_path = "/registry/peers/lockers/targets/results/peers".to_string();
    let per_peer = match c.request("GET", &pp_path, b"") {
        Ok((200, _)) => Some(read_ms(&mut c, &pp_path, a.reads)),
        _ => None,
    };
    let (rss, hwm) = mem(pid);

    // Check the sums.
    let tl: Value = serde_json::from_slice(&tl_body).unwrap_or(Value::Null);
    let secs = tl[LABEL][TARGET].as_array().cloned().unwrap_or_default();
    let got_req: u64 = secs.iter().filter_map(|s| s["requests"].as_u64()).sum();
    let got_5xx: u64 = secs
        .iter()
        .filter_map(|s| s["countsByStatusCodes"]["503"].as_u64())
        .sum();
    let full = secs
        .iter()
        .filter(|s| s["peers"].as_u64() == Some(n as u64))
        .count();
    let rs: Value = serde_json::from_slice(&rs_body).unwrap_or(Value::Null);
    let got_results = rs[LABEL]["targetInvocationCounts"][TARGET]
        .as_u64()
        .unwrap_or(0);
    let got_hist = rs[LABEL]["latencyByTarget"][TARGET]["count"]
        .as_u64()
        .unwrap_or(0);
    let mut exact = got_req == want.requests
        && got_5xx == want.errors
        && secs.len() as u64 == want_secs
        && full as u64 == want_secs
        && got_results == want_results
        && got_hist == want_results;
    let mut pp_line = String::from("n/a");
    if let Some((med, max, body)) = &per_peer {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let peers = v[LABEL].as_object().cloned().unwrap_or_default();
        let req: u64 = peers
            .values()
            .filter_map(|p| p[TARGET]["requests"].as_u64())
            .sum();
        let err: u64 = peers
            .values()
            .filter_map(|p| p[TARGET]["errors"].as_u64())
            .sum();
        let ok = peers.len() == n && req == want.requests && err == want.errors;
        exact &= ok;
        pp_line = format!(
            "{med:.1} ms median, {max:.1} max, {} KB, {} peers, sums {}",
            body.len() / 1024,
            peers.len(),
            if ok { "exact" } else { "WRONG" }
        );
    }

    // Dumps.
    let (dump_ms_v, dump_len) = {
        let (b, t) = timed(|| c.must("GET", "/registry/peers/lockers", b""));
        (t, b.len())
    };

    // Deregister.
    let c0 = cpu(pid);
    each_peer(port, n, threads, &|c, p| {
        c.must(
            "POST",
            &format!("/registry/peers/{LABEL}/remove/{}", addr(p)),
            b"",
        );
    });
    let dereg_cpu = cpu(pid) - c0;

    println!(
        "register: {n} in {reg_ms:.0} ms, {:.1} us CPU each",
        reg_cpu / n as f64 * 1e6
    );
    println!(
        "backfill: {fill_reports} minute keys of {} KB (histograms {hist_bytes} B each) in {:.1} s, \
         {:.2} ms registry CPU each",
        sample / 1024,
        fill_ms / 1000.0,
        fill_cpu / fill_reports.max(1) as f64 * 1000.0
    );
    println!(
        "burst: {n} peers report a minute in {burst_ms:.0} ms wall, {burst_cpu:.2} s registry CPU \
         ({:.2} ms each); {n} client documents {:.2} s CPU",
        burst_cpu / n as f64 * 1000.0,
        results_cpu
    );
    if let Some(p) = remind_pct {
        println!(
            "reminders: {n} peers every {} s: {p:.1}% of a core",
            a.remind_secs
        );
    }
    if let Some((pct, rate, tick)) = live_stats {
        println!(
            "live: {rate:.0} stores/s (minute key + client each second per peer), {pct:.0}% of a core, \
             {tick:.2} s per 1 s tick"
        );
    }
    println!(
        "reads: timeline {tl_med:.1} ms median ({tl_max:.1} max, {} KB), results {rs_med:.1} ms \
         ({rs_max:.1} max), per peer {pp_line}",
        tl_body.len() / 1024
    );
    println!(
        "dump /registry/peers/lockers: {:.1} MB in {dump_ms_v:.0} ms",
        dump_len as f64 / 1048576.0
    );
    println!("deregister: {dereg_cpu:.2} s CPU");
    println!("rss: {rss0:.0} MB idle, {rss:.0} MB after, {hwm:.0} MB peak");
    println!(
        "sums: timeline {got_req}/{} requests, {got_5xx}/{} 5xx, {}/{want_secs} seconds with all \
         peers; results {got_results}/{want_results}: {}",
        want.requests,
        want.errors,
        full,
        if exact { "EXACT" } else { "WRONG" }
    );
    println!(
        "| {n} | {:.2} | {burst_cpu:.2} | {} | {tl_med:.0} | {rs_med:.0} | {} | {rss:.0} ({hwm:.0}) | {} |",
        fill_cpu / fill_reports.max(1) as f64 * 1000.0,
        remind_pct.map_or("-".into(), |p| format!("{p:.1}%")),
        per_peer.as_ref().map_or("-".into(), |x| format!("{:.0}", x.0)),
        if exact { "exact" } else { "WRONG" }
    );
    if !exact {
        std::process::exit(1);
    }
}
