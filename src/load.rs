//! `goto load`: the command-line face of the load engine (flags, progress
//! line, report), in the habits of wrk and oha. The engine does the work;
//! this module turns flags into one target, shows progress from periodic
//! snapshots and prints the final report as text or JSON.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use goto_engine::{
    canonical_reason, Bytes, Engine, EngineConfig, Histogram, IoDriverChoice, Plan, RunHandle,
    RunSnapshot, TargetSpec, TargetStats, TlsConfig,
};
use serde_json::{json, Map, Value};

/// Duration of a run when neither `-n` nor `-d` is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// How often the progress line is redrawn (and Ctrl-C noticed).
const PROGRESS_EVERY: Duration = Duration::from_millis(250);
/// File descriptors kept free beyond one per connection.
const SPARE_FDS: u64 = 64;

/// Flags of `goto load`, in the habits of wrk and oha.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Target URL (http or https).
    pub url: String,
    /// Concurrent connections.
    #[arg(short = 'c', long, default_value_t = 50)]
    pub connections: u32,
    /// Total requests (the run ends at this count or at --duration, whichever is first).
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Run time, e.g. 10s, 1m30s, 500ms (default 10s unless -n is given).
    #[arg(short = 'd', long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Open model: total requests per second, sent on schedule; latency counts from the schedule.
    #[arg(short = 'r', long)]
    pub rate: Option<f64>,
    /// HTTP method.
    #[arg(short = 'm', long, default_value = "GET")]
    pub method: String,
    /// Request header `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(short = 'b', long)]
    pub body: Option<String>,
    /// Response header to count by value (repeatable, or comma-separated).
    #[arg(long = "track-header")]
    pub track_headers: Vec<String>,
    /// Worker threads, one per core (default: all usable cores).
    #[arg(long)]
    pub cores: Option<usize>,
    /// Request timeout (0 = none).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Connect (and TLS handshake) timeout (0 = none).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Do not verify TLS certificates.
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Extra CA certificates: a PEM file, or a directory of .crt/.pem files (repeatable).
    #[arg(long)]
    pub cacert: Vec<PathBuf>,
    /// I/O driver of the engine.
    #[arg(long, value_enum, default_value_t = DriverArg::Auto)]
    pub io_driver: DriverArg,
    /// Speak HTTP/2: h2c (prior knowledge) for http URLs, ALPN h2 for https;
    /// -c is the number of concurrent streams, at most 100 per connection
    /// (unless --streams is given).
    #[arg(long)]
    pub http2: bool,
    /// With --http2: concurrent streams per connection (1-100); -c then
    /// counts connections, as h2load's -c and -m do.
    #[arg(long, value_name = "N")]
    pub streams: Option<u32>,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// No live progress line.
    #[arg(long)]
    pub no_progress: bool,
}

/// `--io-driver` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DriverArg {
    Auto,
    Uring,
    Epoll,
}

/// Runs a load test and prints its report; returns the process exit code.
pub fn run(args: LoadArgs) -> ExitCode {
    let target = match build_target(&args) {
        Ok(t) => t,
        Err(msg) => {
            eprintln!("goto load: {msg}");
            return ExitCode::from(2);
        }
    };
    let needed = u64::from(target.replicas) + SPARE_FDS;
    if let Err(e) = goto_engine::raise_nofile_limit(needed) {
        eprintln!("goto load: warning: cannot raise the open-files limit to {needed}: {e}");
    }
    let cfg = EngineConfig {
        cores: args.cores,
        io_driver: match args.io_driver {
            DriverArg::Auto => IoDriverChoice::Auto,
            DriverArg::Uring => IoDriverChoice::Uring,
            DriverArg::Epoll => IoDriverChoice::Epoll,
        },
        tls: TlsConfig {
            extra_roots: args.cacert.clone(),
            use_system_roots: true,
        },
    };
    let engine = match Engine::start(cfg) {
        Ok(e) => e,
        // A bad --cacert is a bad flag.
        Err(goto_engine::EngineError::Plan(e)) => {
            eprintln!("goto load: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("goto load: {e}");
            return ExitCode::from(1);
        }
    };
    let replicas = target.replicas;
    let streams_per_connection = target.streams_per_connection;
    let run = match engine.submit(Plan {
        targets: vec![target],
    }) {
        Ok(r) => r,
        Err(goto_engine::EngineError::Plan(e)) => {
            eprintln!("goto load: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("goto load: {e}");
            return ExitCode::from(1);
        }
    };
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    install_sigint();
    watch(&run, show_progress);
    let snap = run.snapshot();
    let info = RunInfo {
        url: &args.url,
        http2: args.http2.then_some(streams_per_connection),
        connections: replicas,
        cores: engine.cores(),
        io_driver: engine.io_driver().to_string(),
        rate: args.rate,
    };
    report(&args, &info, &snap)
}

/// What the progress loop needs of a run.
trait Progress {
    /// True once finished; waits at most `timeout`.
    fn wait(&self, timeout: Duration) -> bool;
    fn stop(&self);
    /// (requests, errors, elapsed).
    fn totals(&self) -> (u64, u64, Duration);
}

impl Progress for RunHandle {
    fn wait(&self, timeout: Duration) -> bool {
        RunHandle::wait(self, Some(timeout))
    }

    fn stop(&self) {
        RunHandle::stop(self)
    }

    fn totals(&self) -> (u64, u64, Duration) {
        let snap = self.snapshot();
        let (r, e) = snap
            .targets
            .values()
            .fold((0, 0), |(r, e), t| (r + t.requests, e + t.error_count()));
        (r, e, snap.elapsed)
    }
}

fn report(args: &LoadArgs, info: &RunInfo<'_>, snap: &RunSnapshot) -> ExitCode {
    let stats = snap.targets.values().next().cloned().unwrap_or_default();
    let out = if args.json {
        let mut s =
            serde_json::to_string_pretty(&json_report(info, snap, &stats)).unwrap_or_default();
        s.push('\n');
        s
    } else {
        text_report(info, snap, &stats)
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    ExitCode::SUCCESS
}

/// Turns flags into one validated target (the first stage of flag handling).
fn build_target(args: &LoadArgs) -> Result<TargetSpec, String> {
    if args.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    if args.requests == Some(0) {
        return Err("--requests must be at least 1".into());
    }
    if args.cores == Some(0) {
        return Err("--cores must be at least 1".into());
    }
    if args.streams.is_some() && !args.http2 {
        return Err("--streams needs --http2".into());
    }
    let streams = args
        .streams
        .unwrap_or(goto_engine::MAX_STREAMS_PER_CONNECTION);
    if !(1..=goto_engine::MAX_STREAMS_PER_CONNECTION).contains(&streams) {
        return Err(format!(
            "--streams must be 1 to {}",
            goto_engine::MAX_STREAMS_PER_CONNECTION
        ));
    }
    // h2load's habit: with --streams, -c counts connections.
    let connections = match args.streams {
        Some(m) => args
            .connections
            .checked_mul(m)
            .ok_or("--connections times --streams is too large")?,
        None => args.connections,
    };
    let mut headers = Vec::with_capacity(args.headers.len());
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| format!("header {h:?} is not `Name: value`"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let track_headers = args
        .track_headers
        .iter()
        .flat_map(|h| h.split(','))
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .collect();
    // Fewer requests than connections: extra connections would only idle.
    let replicas = match args.requests {
        Some(n) => connections.min(u32::try_from(n).unwrap_or(u32::MAX)),
        None => connections,
    };
    let duration = match (args.duration, args.requests) {
        (Some(d), _) => Some(d),
        (None, None) => Some(DEFAULT_DURATION),
        (None, Some(_)) => None,
    };
    let spec = TargetSpec {
        name: "load".into(),
        method: args.method.clone(),
        url: args.url.clone(),
        headers,
        body: args.body.clone().map(bytes_from).unwrap_or_default(),
        replicas,
        requests_per_replica: None,
        total_requests: args.requests,
        duration,
        rate: args.rate,
        delay: Duration::ZERO,
        connect_timeout: args.connect_timeout,
        request_timeout: args.timeout,
        idle_timeout: Duration::ZERO,
        verify_tls: !args.insecure,
        track_headers,
        http2: args.http2,
        streams_per_connection: streams,
        ..TargetSpec::default()
    };
    spec.validate().map_err(|e| e.to_string())?;
    Ok(spec)
}

fn bytes_from(s: String) -> Bytes {
    Bytes::from(s.into_bytes())
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Ctrl-C stops the run and still prints the report (a second one kills).
fn install_sigint() {
    let handler: extern "C" fn(libc::c_int) = on_sigint;
    // SAFETY: the handler only stores to an atomic, which is signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
    }
}

/// Waits for the run, drawing the progress line when asked.
fn watch(run: &impl Progress, show_progress: bool) {
    let mut last = (Instant::now(), 0u64);
    let mut stopping = false;
    while !run.wait(PROGRESS_EVERY) {
        if INTERRUPTED.load(Ordering::Relaxed) && !stopping {
            stopping = true;
            run.stop();
            // Restore the default so a second Ctrl-C ends the process.
            // SAFETY: resetting a signal disposition to its default.
            unsafe {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
            }
        }
        if show_progress {
            let (requests, errors, elapsed) = run.totals();
            let now = Instant::now();
            let rate = (requests - last.1.min(requests)) as f64
                / now.duration_since(last.0).as_secs_f64().max(1e-9);
            last = (now, requests);
            eprint!(
                "\r\x1b[2K{requests} requests  {rate:.0} req/s  {errors} errors  {:.1}s",
                elapsed.as_secs_f64()
            );
        }
    }
    if show_progress {
        eprint!("\r\x1b[2K");
    }
}

struct RunInfo<'a> {
    url: &'a str,
    /// With `--http2`, the streams per connection; `connections` then
    /// counts concurrent streams.
    http2: Option<u32>,
    connections: u32,
    cores: usize,
    io_driver: String,
    rate: Option<f64>,
}

fn per_second(stats: &TargetStats, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        stats.requests as f64 / secs
    } else {
        0.0
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// min, mean, p50, p90, p99, p99.9, max in milliseconds (zeros when empty).
fn latency_row(h: &Histogram<u64>) -> [f64; 7] {
    if h.is_empty() {
        return [0.0; 7];
    }
    let q = |p: f64| ms(h.value_at_quantile(p));
    [
        ms(h.min()),
        h.mean() / 1000.0,
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        ms(h.max()),
    ]
}

fn latency_json(h: &Histogram<u64>) -> Value {
    let [min, mean, p50, p90, p99, p999, max] =
        latency_row(h).map(|v| (v * 1000.0).round() / 1000.0);
    json!({ "min": min, "mean": mean, "p50": p50, "p90": p90, "p99": p99, "p999": p999, "max": max })
}

fn json_report(info: &RunInfo<'_>, snap: &RunSnapshot, s: &TargetStats) -> Value {
    let counts = |m: &BTreeMap<u16, u64>| -> Map<String, Value> {
        m.iter().map(|(k, v)| (k.to_string(), json!(v))).collect()
    };
    let by_status: Map<String, Value> = s
        .status_counts
        .iter()
        .filter(|(k, _)| **k != 0)
        .map(|(k, v)| {
            (
                format!("{k} {}", canonical_reason(*k))
                    .trim_end()
                    .to_string(),
                json!(v),
            )
        })
        .chain(s.errors.iter().map(|(k, v)| (k.to_string(), json!(v))))
        .collect();
    let errors: Map<String, Value> = s
        .errors
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "url": info.url,
        "requests": s.requests,
        "requestsPerSecond": (per_second(s, snap.elapsed) * 100.0).round() / 100.0,
        "durationSeconds": (snap.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "connections": info.connections,
        "cores": info.cores,
        "rate": info.rate,
        "countsByStatusCodes": counts(&s.status_counts),
        "countsByStatus": by_status,
        "errors": errors,
        "countsByHeaders": s.header_counts,
        "countsByHeaderValues": s.header_value_counts,
        "latencyMs": latency_json(&s.latency),
        "latencyUncorrectedMs": latency_json(&s.latency_uncorrected),
        "bytesRead": s.bytes_read,
        "bytesWritten": s.bytes_written,
        "stopped": s.stopped,
        "ioDriver": info.io_driver,
    })
}

fn text_report(info: &RunInfo<'_>, snap: &RunSnapshot, s: &TargetStats) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "goto load {}", info.url);
    if let Some(per) = info.http2 {
        let _ = writeln!(
            o,
            "  {} streams over {} connections on {} cores ({})",
            info.connections,
            info.connections.div_ceil(per),
            info.cores,
            info.io_driver
        );
    } else {
        let _ = writeln!(
            o,
            "  {} connections on {} cores ({})",
            info.connections, info.cores, info.io_driver
        );
    }
    if let Some(rate) = info.rate {
        let _ = writeln!(
            o,
            "  rate {rate} requests/s (latency from the scheduled send time)"
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "  Requests:      {}", s.requests);
    let _ = writeln!(o, "  Duration:      {:.3}s", snap.elapsed.as_secs_f64());
    let _ = writeln!(o, "  Requests/sec:  {:.2}", per_second(s, snap.elapsed));
    let _ = writeln!(o, "  Errors:        {}", s.error_count());
    let _ = writeln!(
        o,
        "  Transfer:      {} read, {} written",
        human_bytes(s.bytes_read),
        human_bytes(s.bytes_written)
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "  Latency (ms)  {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "min", "mean", "p50", "p90", "p99", "p99.9", "max"
    );
    let mut row = |label: &str, h: &Histogram<u64>| {
        let v = latency_row(h);
        let _ = writeln!(
            o,
            "  {label:<12}  {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            v[0], v[1], v[2], v[3], v[4], v[5], v[6]
        );
    };
    if info.rate.is_some() {
        row("corrected", &s.latency);
        row("uncorrected", &s.latency_uncorrected);
    } else {
        row("", &s.latency);
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "  Status codes:");
    for (code, n) in &s.status_counts {
        let label = if *code == 0 {
            "0 (transport errors)".to_string()
        } else {
            format!("{code} {}", canonical_reason(*code))
        };
        let _ = writeln!(o, "    {label:<32} {n}");
    }
    if !s.errors.is_empty() {
        let _ = writeln!(o, "  Errors:");
        for (kind, n) in &s.errors {
            let _ = writeln!(o, "    {:<32} {n}", kind.to_string());
        }
    }
    if !s.header_counts.is_empty() {
        let _ = writeln!(o, "  Tracked headers:");
        for (name, n) in &s.header_counts {
            let _ = writeln!(o, "    {name:<32} {n}");
            for (value, n) in s.header_value_counts.get(name).into_iter().flatten() {
                let _ = writeln!(o, "      {value:<30} {n}");
            }
        }
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "  IO driver:     {}", info.io_driver);
    o
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[unit])
    }
}

/// Parses Go-style durations: `1h2m3.5s`, `300ms`, `10us`, `0`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("invalid duration {s:?} (try 10s, 1m30s, 500ms)");
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| bad());
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(num_len);
        let value: f64 = num.parse().map_err(|_| bad())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.50 KiB");
    }
}
