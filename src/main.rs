//! The `goto` binary: parses the command line and hands off to the server
//! (control plane) or to `goto load` (the engine on the command line).

mod load;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};

/// goto: HTTP load client, programmable chaos test server/proxy, and registry.
#[derive(Debug, Parser)]
#[command(name = "goto", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,

    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run a load test against a URL (like wrk or oha).
    Load(load::LoadArgs),
}

/// Flags of the server (the default mode).
#[derive(Debug, clap::Args)]
struct ServerArgs {
    /// Port of the startup listener.
    #[arg(long, default_value_t = 8080, value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,

    /// Label of this instance (default `Goto-<host IP>`).
    #[arg(long)]
    label: Option<String>,

    /// URL of a goto registry to register with.
    #[arg(long)]
    registry: Option<String>,

    /// Report client results to the registry's locker (`--locker` or `--locker=true`).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, default_value_t = false)]
    locker: bool,

    /// Directory of root CA certificates (every .crt and .pem in it).
    #[arg(long, default_value = "/etc/certs")]
    certs: PathBuf,

    /// Log every runtime request (method, URI, headers, remote address, status).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, default_value_t = true)]
    request_logs: bool,

    /// Log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info", value_parser = ["error", "warn", "info", "debug", "trace"])]
    log_level: String,

    /// Threads of the control plane (admin API, responder, proxy); 1 keeps it off the engine's cores.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    control_threads: u16,

    /// Seconds between a peer's reminders to the registry.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    remind_seconds: u64,

    /// Let jobs run OS commands (`task.cmd`): remote execution, so off by default.
    #[arg(long)]
    allow_command_jobs: bool,

    /// As a registry, seconds between health probes of registered pods; a pod
    /// failing 3 in a row is dropped from `pods` (0 turns the probes off).
    #[arg(long, default_value_t = 30)]
    peer_health_seconds: u64,

    /// Time a client has to send a complete request head, from its connect or
    /// from its first byte after a response (Go duration).
    #[arg(long, default_value = "10s", value_parser = positive_duration)]
    header_timeout: std::time::Duration,

    /// A keep-alive connection with nothing in flight is closed after this long.
    #[arg(long, default_value = "60s", value_parser = positive_duration)]
    idle_timeout: std::time::Duration,

    /// Time a client has to send a request body once its head is in: 408 past it.
    #[arg(long, default_value = "30s", value_parser = positive_duration)]
    body_timeout: std::time::Duration,

    /// HTTP/2 keep-alive ping interval; a client not answering within as long is dropped.
    #[arg(long, default_value = "30s", value_parser = positive_duration)]
    h2_ping: std::time::Duration,

    /// Most open connections per listener; past it new ones are closed at once
    /// (and logged). Default: 10,000, lowered to fit the open-files limit.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_conns: Option<u64>,

    /// Directory where a registry keeps its peers, targets, jobs, tracked
    /// headers and lockers across restarts (default: memory only).
    #[arg(long)]
    data_dir: Option<PathBuf>,

    /// Require `Authorization: Bearer TOKEN` on every admin call (runtime
    /// traffic is not affected); also read from GOTO_ADMIN_TOKEN.
    #[arg(long, conflicts_with = "admin_token_file")]
    admin_token: Option<String>,

    /// Like --admin-token, with the token in a file (first line).
    #[arg(long)]
    admin_token_file: Option<PathBuf>,

    /// Serve the admin API on this port only (opened at startup); the other
    /// listeners serve runtime traffic only.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    admin_port: Option<u16>,

    /// Comma-separated host names admin calls may name in `Host` (against
    /// DNS rebinding); default: any.
    #[arg(long, value_delimiter = ',')]
    allowed_hosts: Vec<String>,
}

/// The admin token from the flag, the file or the environment, in that order.
fn admin_token(flag: Option<String>, file: Option<PathBuf>) -> Result<Option<String>, String> {
    let token = match (flag, file) {
        (Some(t), _) => Some(t),
        (None, Some(f)) => {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| format!("cannot read --admin-token-file {}: {e}", f.display()))?;
            Some(text.lines().next().unwrap_or("").to_string())
        }
        (None, None) => std::env::var("GOTO_ADMIN_TOKEN").ok(),
    };
    match token.map(|t| t.trim().to_string()) {
        Some(t) if t.is_empty() => Err("the admin token is empty".into()),
        Some(t) if t.bytes().any(|b| !b.is_ascii_graphic()) => {
            Err("the admin token must be printable ASCII without spaces".into())
        }
        t => Ok(t),
    }
}

fn positive_duration(s: &str) -> Result<std::time::Duration, String> {
    match goto_control::duration::parse(s)? {
        d if d.is_zero() => Err("must be more than 0".into()),
        d => Ok(d),
    }
}

/// The default connection cap per listener: 10,000, or three quarters of the
/// open-files limit when that is lower (the rest for outbound calls and files).
fn default_max_conns() -> usize {
    // Raising to 1 changes nothing: it only reads the soft limit.
    let nofile = goto_engine::raise_nofile_limit(1).unwrap_or(u64::MAX);
    (nofile / 4 * 3).clamp(64, 10_000) as usize
}

fn init_logs(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Cmd::Load(args)) = cli.cmd {
        return load::run(args);
    }
    let s = cli.server;
    init_logs(&s.log_level);
    let token = match admin_token(s.admin_token, s.admin_token_file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("goto: {e}");
            return ExitCode::from(2);
        }
    };
    let cfg = goto_control::ServerConfig {
        port: s.port,
        label: s.label,
        registry: s.registry,
        locker: s.locker,
        certs: s.certs,
        request_logs: s.request_logs,
        control_threads: s.control_threads as usize,
        remind_interval: std::time::Duration::from_secs(s.remind_seconds),
        allow_command_jobs: s.allow_command_jobs,
        peer_health_interval: (s.peer_health_seconds > 0)
            .then(|| std::time::Duration::from_secs(s.peer_health_seconds)),
        timeouts: goto_control::conn_guard::ConnTimeouts {
            header: s.header_timeout,
            idle: s.idle_timeout,
            body: s.body_timeout,
            h2_ping: s.h2_ping,
        },
        max_conns: s.max_conns.map_or_else(default_max_conns, |n| n as usize),
        data_dir: s.data_dir,
        security: goto_control::security::AdminSecurity {
            token,
            admin_port: s.admin_port,
            allowed_hosts: s
                .allowed_hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        },
    };
    match goto_control::run_server(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("goto: {e}");
            ExitCode::from(1)
        }
    }
}
