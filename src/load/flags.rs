//! Flags of `goto load` and their validation into one engine target.

use std::path::PathBuf;
use std::time::Duration;

use goto_engine::{Bytes, Stages, TargetSpec, Threshold, MAX_STREAMS_PER_CONNECTION};

use super::duration::parse_duration;

/// Duration of a run when neither `-n` nor `-d` is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

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
    /// Load shape: DURATION:RATE stages, e.g. 30s:1000,1m:5000,30s:0; each
    /// ramps linearly from the previous rate (-r, or 0) to its own; the run
    /// lasts their sum.
    #[arg(long, value_name = "STAGES")]
    pub stages: Option<String>,
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
    /// Print one line per interval while running (time, req/s, errors,
    /// p50, p99) instead of the progress line; also the timeline's interval
    /// (default 1s).
    #[arg(long, value_parser = parse_duration)]
    pub interval: Option<Duration>,
    /// Write the timeline live to FILE: JSON lines, or CSV when FILE ends in .csv.
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,
    /// Print the full latency spectrum (50 to 100 percentiles, as wrk2 does).
    #[arg(long)]
    pub latency: bool,
    /// Write an HdrHistogram interval log (latency per interval) to FILE.
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
    /// Pass/fail check on the results, e.g. "p99 < 50ms", "errors <= 1%",
    /// "rps >= 1000", "status5xx < 0.5%" (repeatable); any failure exits 3.
    #[arg(long = "threshold", value_name = "EXPR", value_parser = super::live::parse_threshold)]
    pub thresholds: Vec<Threshold>,
}

/// `--io-driver` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DriverArg {
    Auto,
    Uring,
    Epoll,
}

/// Turns flags into one validated target (the first stage of flag handling).
pub(super) fn build_target(args: &LoadArgs) -> Result<TargetSpec, String> {
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
    let streams = args.streams.unwrap_or(MAX_STREAMS_PER_CONNECTION);
    if !(1..=MAX_STREAMS_PER_CONNECTION).contains(&streams) {
        return Err(format!(
            "--streams must be 1 to {MAX_STREAMS_PER_CONNECTION}"
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
    let stages = match &args.stages {
        Some(text) => {
            if args.duration.is_some() {
                return Err("--stages sets the run's duration (their sum); drop -d".into());
            }
            Some(
                Stages::parse(text, args.rate.unwrap_or(0.0), parse_duration)
                    .map_err(|e| e.to_string())?,
            )
        }
        None => None,
    };
    let duration = match (args.duration, args.requests, &stages) {
        (_, _, Some(s)) => Some(s.total()),
        (Some(d), _, None) => Some(d),
        (None, None, None) => Some(DEFAULT_DURATION),
        (None, Some(_), None) => None,
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
        stages,
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
