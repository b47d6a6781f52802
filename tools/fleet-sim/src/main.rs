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

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use goto_control::client::timeline::ReportedTimeline;
use goto_control::histcodec;
use goto_engine::{Interval, LatencySummary};
use serde_json::{json, Value};

const LABEL: &str = "fleet";
const TARGET: &str = "t";
const POOL: usize = 64;

struct Args {
    goto: String,
    peers: usize,
    minutes: u64,
    rps: u64,
    threads: usize,
    remind_secs: u64,
    live_secs: u64,
    reads: usize,
    data_dir: Option<String>,
    restart: bool,
}

fn usage(msg: &str) -> ! {
    eprintln!("fleet-sim: {msg}");
    eprintln!(
        "usage: fleet-sim --goto PATH [--peers N] [--minutes M] [--rps R] [--threads T] \
         [--remind-secs S] [--live-secs L] [--reads K] [--data-dir DIR [--restart]]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        goto: String::new(),
        peers: 100,
        minutes: 60,
        rps: 100,
        threads: 8,
        remind_secs: 30,
        live_secs: 10,
        reads: 5,
        data_dir: None,
        restart: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--restart" {
            a.restart = true;
            continue;
        }
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let num = |v: &str| -> u64 {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{flag}: not a number: {v}")))
        };
        match flag.as_str() {
            "--goto" => a.goto = v,
            "--peers" => a.peers = num(&v) as usize,
            "--minutes" => a.minutes = num(&v),
            "--rps" => a.rps = num(&v),
            "--threads" => a.threads = num(&v).max(1) as usize,
            "--remind-secs" => a.remind_secs = num(&v),
            "--live-secs" => a.live_secs = num(&v).min(59),
            "--reads" => a.reads = num(&v).max(1) as usize,
            "--data-dir" => a.data_dir = Some(v),
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    if a.goto.is_empty() {
        usage("--goto PATH (the goto binary) is required");
    }
    if a.peers == 0 || a.minutes == 0 {
        usage("--peers and --minutes must be at least 1");
    }
    a
}

/// A tiny blocking HTTP/1.1 keep-alive client (Content-Length or chunked).
struct Conn {
    port: u16,
    r: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn new(port: u16) -> Conn {
        Conn { port, r: None }
    }

    fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
        for attempt in 0..2 {
            match self.try_request(method, path, body) {
                Ok(r) => return Ok(r),
                Err(e) if attempt == 1 => return Err(e),
                Err(_) => self.r = None,
            }
        }
        Err("unreachable".into())
    }

    fn try_request(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        if self.r.is_none() {
            let s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
            s.set_nodelay(true).ok();
            s.set_read_timeout(Some(Duration::from_secs(120))).ok();
            self.r = Some(BufReader::with_capacity(1 << 16, s));
        }
        let r = self.r.as_mut().ok_or("no connection")?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let s = r.get_mut();
        s.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
        s.write_all(body).map_err(|e| e.to_string())?;
        let mut line = String::new();
        r.read_line(&mut line).map_err(|e| e.to_string())?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let (mut len, mut chunked, mut close) = (None, false, false);
        loop {
            line.clear();
            r.read_line(&mut line).map_err(|e| e.to_string())?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                match k.as_str() {
                    "content-length" => len = v.parse::<usize>().ok(),
                    "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                    "connection" => close = v.eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                r.read_line(&mut line).map_err(|e| e.to_string())?;
                let n = usize::from_str_radix(line.trim(), 16).map_err(|e| e.to_string())?;
                let start = out.len();
                out.resize(start + n, 0);
                r.read_exact(&mut out[start..]).map_err(|e| e.to_string())?;
                line.clear();
                r.read_line(&mut line).map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
            }
        } else if let Some(n) = len {
            out.resize(n, 0);
            r.read_exact(&mut out).map_err(|e| e.to_string())?;
        } else {
            r.read_to_end(&mut out).map_err(|e| e.to_string())?;
            close = true;
        }
        if close {
            self.r = None;
        }
        Ok((status, out))
    }

    fn must(&mut self, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
        match self.request(method, path, body) {
            Ok((s, b)) if (200..300).contains(&s) => b,
            Ok((s, b)) => fail(&format!(
                "{method} {path}: {s} {}",
                String::from_utf8_lossy(&b[..b.len().min(200)])
            )),
            Err(e) => fail(&format!("{method} {path}: {e}")),
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("fleet-sim: {msg}");
    std::process::exit(1)
}

/// xorshift64*: deterministic, so a run's sums are known.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

/// One pre-built interval histogram: its encoding, count and summary.
struct PoolHist {
    text: String,
    count: u64,
    summary: LatencySummary,
}

/// Interval histograms of about `rps` requests each, latencies spread
/// around 2 ms with a tail (a few hundred recorded buckets, like a real
/// second of traffic).
fn pool(rps: u64) -> Vec<PoolHist> {
    (0..POOL)
        .map(|k| {
            let mut h = goto_engine::stats::latency_histogram();
            let count = (rps * (80 + (k as u64 * 7) % 41) / 100).max(1);
            for i in 0..count {
                let r = mix((k as u64) << 32 | i);
                let base = 800 + r % 2400;
                let tail = if r.is_multiple_of(50) {
                    (r >> 20) % 40_000
                } else {
                    0
                };
                h.record(base + tail).ok();
            }
            PoolHist {
                text: histcodec::encode_plain(&h).unwrap_or_default(),
                count,
                summary: LatencySummary::of(&h),
            }
        })
        .collect()
}

/// What the simulator sent, to check the merged views against.
#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
struct Sums {
    requests: u64,
    errors: u64,
}

struct Fleet {
    pool: Vec<PoolHist>,
    /// Whole-run histograms (deflate-encoded) and their counts.
    runs: Vec<(String, u64)>,
    start_minute: u64,
}

impl Fleet {
    fn new(rps: u64, minutes: u64) -> Fleet {
        let pool = pool(rps);
        let runs = (0..8u64)
            .map(|k| {
                let mut h = goto_engine::stats::latency_histogram();
                for i in 0..(20_000 + k * 1000) {
                    let r = mix(k << 40 | i);
                    h.record(800 + r % 2400 + if r.is_multiple_of(50) { r % 40_000 } else { 0 })
                        .ok();
                }
                (histcodec::encode(&h).unwrap_or_default(), h.len())
            })
            .collect();
        let now_min = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() / 60)
            .unwrap_or(0);
        Fleet {
            pool,
            runs,
            start_minute: now_min.saturating_sub(minutes),
        }
    }

    fn interval(&self, peer: usize, minute: u64, sec: u64) -> (Interval, String, Sums) {
        let r = mix((peer as u64) << 40 ^ minute << 8 ^ sec);
        let p = &self.pool[(r % POOL as u64) as usize];
        let n = p.count;
        // One second in ten has a few 503s: the per-peer errors.
        let e5 = if r.is_multiple_of(10) {
            1 + (r >> 8) % 3
        } else {
            0
        };
        let mut codes = BTreeMap::from([(200u16, n - e5)]);
        if e5 > 0 {
            codes.insert(503, e5);
        }
        let unix = (minute * 60 + sec) as f64 + 0.5;
        let i = Interval {
            t: ((minute - self.start_minute) * 60 + sec + 1) as f64,
            unix,
            seconds: 1.0,
            requests: n,
            counts_by_status_codes: codes,
            errors: BTreeMap::new(),
            bytes_read: n * 120,
            bytes_written: n * 40,
            rps: n as f64,
            latency_ms: p.summary,
            latency_uncorrected_ms: None,
        };
        (
            i,
            p.text.clone(),
            Sums {
                requests: n,
                errors: e5,
            },
        )
    }

    /// The `client_timeline_<minute>` text with its first `secs` seconds.
    fn minute(&self, peer: usize, minute: u64, secs: u64) -> (String, Sums) {
        let mut r = ReportedTimeline::default();
        let mut s = Sums::default();
        for k in 0..secs {
            let (i, h, x) = self.interval(peer, minute, k);
            r.intervals.push(i);
            r.histograms.push(Some(h));
            s.requests += x.requests;
            s.errors += x.errors;
        }
        let text = serde_json::to_string(&BTreeMap::from([(TARGET, r)])).unwrap_or_default();
        (text, s)
    }

    /// The `client` document (a `/client/results?histograms=Y` shape).
    fn results(&self, peer: usize, version: u64) -> (String, u64) {
        let (h, n) = &self.runs[(mix(peer as u64 ^ version << 32) % 8) as usize];
        let doc = json!({
            "targetInvocationCounts": {TARGET: n},
            "targetFirstResponses": {TARGET: "2026-01-01T00:00:00.000000Z"},
            "targetLastResponses": {TARGET: format!("2026-01-01T00:{:02}:{:02}.000000Z", version / 60 % 60, version % 60)},
            "countsByStatus": {"200 OK": n},
            "countsByStatusCodes": {"200": n},
            "countsByTargetStatus": {TARGET: {"200 OK": n}},
            "countsByTargetStatusCode": {TARGET: {"200": n}},
            "latencyByTarget": {TARGET: {"count": n}},
            "latencyHistograms": {TARGET: h},
        });
        (doc.to_string(), *n)
    }
}

/// Loopback addresses (all of 127/8 is local), so nothing the registry
/// might do with a pod's address leaves the machine.
fn addr(p: usize) -> String {
    format!("127.{}.{}.{}:8080", p >> 16 & 255, p >> 8 & 255, p & 255)
}

fn locker(p: usize, op: &str, key: &str) -> String {
    format!("/registry/peers/{LABEL}/{}/locker/{op}/{key}", addr(p))
}

/// Registry CPU seconds (user + system) and RSS / peak RSS in MB.
fn cpu(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime), in USER_HZ (100 on Linux).
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn mem(pid: u32) -> (f64, f64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0)
}

struct Registry {
    child: Child,
}

impl Registry {
    fn start(a: &Args, port: u16) -> Registry {
        let mut cmd = Command::new(&a.goto);
        cmd.args(["--port", &port.to_string(), "--label", "registry"])
            .arg("--request-logs=false")
            // No pod here answers a health probe: with probes on, the
            // registry would drop every simulated pod after three rounds.
            // The reports', reminders' and reads' costs are what is measured.
            .args(["--peer-health-seconds", "0"])
            .env("POD_IP", "127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(d) = &a.data_dir {
            cmd.args(["--data-dir", d]);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| fail(&format!("cannot start {}: {e}", a.goto)));
        let reg = Registry { child };
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut c = Conn::new(port);
        while Instant::now() < deadline {
            if matches!(c.request("GET", "/label", b""), Ok((200, _))) {
                return reg;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        fail("the registry did not answer within 120 s")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

fn unsafe_kill9(pid: u32) {
    // No libc dependency here: kill(1) does it.
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}
