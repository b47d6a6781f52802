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
    };
    match goto_control::run_server(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("goto: {e}");
            ExitCode::from(1)
        }
    }
}
