//! Flags of `goto load` (clap), with the exit codes in `--help`, and their
//! defaults as named constants. These are raw flags: `config` turns them
//! into the run's `LoadConfig` once, and nothing past it reads them.

use std::path::PathBuf;
use std::time::Duration;

use goto_engine::{IoDriverChoice, Threshold};

use super::duration::{parse_duration, FlagDuration};

/// Concurrent connections without `-c`.
pub(super) const DEFAULT_CONNECTIONS: u32 = 50;
/// The request method without `-m`.
pub(super) const DEFAULT_METHOD: &str = "GET";
/// The request timeout without `--timeout`.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The connect (and TLS handshake) timeout without `--connect-timeout`.
pub(super) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Shown at the end of `goto load --help`.
const AFTER_HELP: &str = "\
Success rate: requests answered with a status below 400, of all attempts
(answers plus transport errors). Requests/sec counts answered requests
only. Requests still in flight when the run ends are reported apart.

Exit codes:
  0  the run completed and at least one request was answered
  1  no request was answered at all, or a fatal start (host does not
     resolve, first connect refused, TLS certificate refused,
     open-files limit too low)
  2  usage error (bad flag, URL or file)
  3  a --threshold failed (the run itself answered requests)

SIGINT (Ctrl-C) or SIGTERM stops the run and still prints the report,
marked interrupted; a second signal ends the process at once.";

/// Flags of `goto load`, in the habits of wrk and oha.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct LoadArgs {
    /// Target URL (http or https); `user:password@` in it sends basic auth.
    #[arg(required_unless_present = "urls_from_file")]
    pub url: Option<String>,
    /// Target URLs, one per line (blank lines and `#` comments skipped);
    /// URLs on one scheme, host and port are taken in turn per request on
    /// each connection; connections are dealt round robin over the hosts.
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    pub urls_from_file: Option<PathBuf>,
    /// Concurrent connections.
    #[arg(short = 'c', long, default_value_t = DEFAULT_CONNECTIONS)]
    pub connections: u32,
    /// Total requests (the run ends at this count or at --duration, whichever is first).
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Run time, e.g. 10s, 1m30s, 500ms (default 10s unless -n is given);
    /// -z is accepted too, as hey and oha spell it.
    #[arg(short = 'd', short_alias = 'z', long, value_parser = parse_duration)]
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
    #[arg(short = 'm', long, default_value = DEFAULT_METHOD)]
    pub method: String,
    /// Request header `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body; `@FILE` reads it from a file.
    #[arg(short = 'b', long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Request body from a file.
    #[arg(short = 'D', long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// Content-Type header of the request.
    #[arg(short = 'T', long, value_name = "TYPE")]
    pub content_type: Option<String>,
    /// Basic auth `user:password` (overrides credentials in the URL).
    #[arg(short = 'a', long, value_name = "USER:PASSWORD")]
    pub basic_auth: Option<String>,
    /// Send `Connection: close`: one request per connection.
    #[arg(long)]
    pub disable_keepalive: bool,
    /// Connect to HOST2:PORT2 instead of HOST1:PORT1 (curl style; an empty
    /// HOST1 or PORT1 matches any, an empty HOST2 or PORT2 keeps the URL's).
    #[arg(long, value_name = "HOST1:PORT1:HOST2:PORT2")]
    pub connect_to: Vec<String>,
    /// Use these addresses for HOST:PORT instead of resolving it (curl
    /// style); connections are spread over them round robin.
    #[arg(long, value_name = "HOST:PORT:ADDR[,ADDR]")]
    pub resolve: Vec<String>,
    /// Connect to this Unix domain socket (http URLs only; the URL gives the
    /// Host header and the path).
    #[arg(long, value_name = "PATH")]
    pub unix_socket: Option<PathBuf>,
    /// Response header to count by value (repeatable, or comma-separated).
    #[arg(long = "track-header")]
    pub track_headers: Vec<String>,
    /// Worker threads, one per core (default and most: all usable cores);
    /// -t is wrk's -t (threads).
    #[arg(short = 't', long)]
    pub cores: Option<usize>,
    /// Request timeout (0 = none).
    #[arg(long, default_value_t = FlagDuration(DEFAULT_TIMEOUT))]
    pub timeout: FlagDuration,
    /// Connect (and TLS handshake) timeout (0 = none).
    #[arg(long, default_value_t = FlagDuration(DEFAULT_CONNECT_TIMEOUT))]
    pub connect_timeout: FlagDuration,
    /// Do not verify TLS certificates.
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Extra CA certificates: a PEM file, or a directory of .crt/.pem files (repeatable).
    #[arg(long)]
    pub cacert: Vec<PathBuf>,
    /// I/O driver of the engine.
    #[arg(long, default_value_t = IoDriverChoice::Auto, value_parser = crate::config::io_driver_parser())]
    pub io_driver: IoDriverChoice,
    /// Speak HTTP/2: h2c (prior knowledge) for http URLs, ALPN h2 for https;
    /// -c is the number of concurrent streams, at most 100 per connection
    /// (unless --streams is given).
    #[arg(long)]
    pub http2: bool,
    /// With --http2: concurrent streams per connection (1-100); -c then
    /// counts connections, as h2load's -c and -m do.
    #[arg(long, value_name = "N")]
    pub streams: Option<u32>,
    /// Send gRPC calls (over HTTP/2: h2c for http URLs, ALPN h2 for https)
    /// of --call, the request message as JSON from -b/-D; -H adds metadata.
    #[arg(long, requires = "call")]
    pub grpc: bool,
    /// With --grpc: the method, `package.Service/Method`.
    #[arg(long, value_name = "METHOD")]
    pub call: Option<String>,
    /// With --grpc: a .proto file describing the method (repeatable).
    #[arg(long, value_name = "FILE")]
    pub proto: Vec<PathBuf>,
    /// With --grpc: a directory imports are looked up in (repeatable).
    #[arg(short = 'I', long = "import-path", value_name = "DIR")]
    pub import_paths: Vec<PathBuf>,
    /// With --grpc: a compiled descriptor set (`protoc -o`, `buf build -o`).
    #[arg(long, value_name = "FILE", conflicts_with = "proto")]
    pub protoset: Option<PathBuf>,
    /// With --grpc: descriptors from the server's reflection service (v1,
    /// then v1alpha), fetched once before the run (h2c URLs).
    #[arg(long, conflicts_with_all = ["proto", "protoset"])]
    pub reflect: bool,
    /// With --grpc, client or bidi streaming methods: messages each call
    /// sends (default 1).
    #[arg(long, value_name = "N")]
    pub stream_messages: Option<u32>,
    /// With --grpc, client or bidi streaming methods: the messages of one
    /// call go this far apart (the first at once) instead of back to back.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub stream_interval: Option<Duration>,
    /// Each request carries an id, unique within the run: `x-request-id`
    /// in the query for HTTP, in the metadata for --grpc (as targets'
    /// `sendID`).
    #[arg(long)]
    pub send_id: bool,
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
    /// Write a self-contained HTML report (summary, charts, latency
    /// spectrum, status mix) to FILE; it opens with no network.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Pass/fail check on the results, e.g. "p99 < 50ms", "errors <= 1%",
    /// "rps >= 1000", "status5xx < 0.5%" (repeatable); any failure exits 3.
    #[arg(long = "threshold", value_name = "EXPR", value_parser = parse_threshold)]
    pub thresholds: Vec<Threshold>,
}

fn parse_threshold(s: &str) -> Result<Threshold, String> {
    Threshold::parse(s).map_err(|e| e.to_string())
}
