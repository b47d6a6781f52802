//! The `goto` binary: parses the command line and hands off to the server
//! (control plane) or to `goto load` (the engine on the command line); also
//! prints its shell completions and man page. Every server flag can come
//! from a `GOTO_*` environment variable (what container users expect).

mod load;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, CommandFactory, Parser, Subcommand, ValueEnum};

/// `goto --version`: the crate version, git revision and build date (build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (rev ",
    env!("GOTO_GIT_REV"),
    ", built ",
    env!("GOTO_BUILD_DATE"),
    ")"
);

const ENV_HELP: &str = "Environment: every server flag can also be set from GOTO_<FLAG> \
(GOTO_PORT=8081, GOTO_REQUEST_LOGS=false, GOTO_LOG_FORMAT=json, ...); a flag \
on the command line wins. RUST_LOG, when set, overrides --log-level.";

/// goto: HTTP load client, programmable chaos test server/proxy, and registry.
#[derive(Debug, Parser)]
#[command(
    name = "goto",
    version = VERSION,
    about,
    after_long_help = ENV_HELP,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,

    #[command(flatten)]
    server: ServerArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run a load test against a URL (like wrk or oha).
    Load(Box<load::LoadArgs>),
    /// Print a shell completion script: `source <(goto completions bash)`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): `goto man > goto.1; man ./goto.1` for the
    /// server, `goto man load > goto-load.1` for goto-load(1).
    Man {
        /// The subcommand whose page to print (default: goto itself).
        #[arg(value_enum)]
        page: Option<ManPage>,
    },
}

/// The man pages besides goto(1).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ManPage {
    /// goto-load(1): the load generator, its flags and exit codes.
    Load,
}

/// I/O driver of the load engine behind the client API.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum DriverArg {
    /// io_uring where the kernel (and seccomp profile) allows it, else epoll.
    Auto,
    Uring,
    Epoll,
}

/// Format of the app logs and the request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Flags of the server (the default mode).
#[derive(Debug, clap::Args)]
struct ServerArgs {
    /// Port of the startup listener.
    #[arg(long, env = "GOTO_PORT", default_value_t = 8080, value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,

    /// Label of this instance (default `Goto-<host IP>`).
    #[arg(long, env = "GOTO_LABEL")]
    label: Option<String>,

    /// URL of a goto registry to register with.
    #[arg(long, env = "GOTO_REGISTRY")]
    registry: Option<String>,

    /// Report client results to the registry's locker (`--locker` or `--locker=true`).
    #[arg(long, env = "GOTO_LOCKER", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, default_value_t = false)]
    locker: bool,

    /// Directory of root CA certificates (every .crt and .pem in it).
    #[arg(long, env = "GOTO_CERTS", default_value = "/etc/certs")]
    certs: PathBuf,

    /// Log every runtime request (time, port, remote address, method, URI,
    /// headers, status, duration, bytes); turn off for load tests.
    #[arg(long, env = "GOTO_REQUEST_LOGS", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, default_value_t = true)]
    request_logs: bool,

    /// Log level: error, warn, info, debug or trace.
    #[arg(long, env = "GOTO_LOG_LEVEL", default_value = "info", value_parser = ["error", "warn", "info", "debug", "trace"])]
    log_level: String,

    /// Format of the app logs and the request log (one JSON object a line).
    #[arg(long, env = "GOTO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    /// Threads of the control plane (admin API, responder, proxy); 1 keeps it off the engine's cores.
    #[arg(long, env = "GOTO_CONTROL_THREADS", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    control_threads: u16,

    /// Worker threads of the load engine behind the client API, one per core
    /// (default: the affinity mask capped by the cgroup CPU quota).
    #[arg(long, env = "GOTO_CORES", value_parser = clap::value_parser!(u16).range(1..=1024))]
    cores: Option<u16>,

    /// I/O driver of the load engine behind the client API.
    #[arg(long, env = "GOTO_IO_DRIVER", value_enum, default_value_t = DriverArg::Auto)]
    io_driver: DriverArg,

    /// Seconds between a peer's reminders to the registry.
    #[arg(long, env = "GOTO_REMIND_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    remind_seconds: u64,

    /// Let jobs run OS commands (`task.cmd`): remote execution, so off by default.
    #[arg(long, env = "GOTO_ALLOW_COMMAND_JOBS")]
    allow_command_jobs: bool,

    /// As a registry, seconds between health probes of registered pods; a pod
    /// failing 3 in a row is dropped from `pods` (0 turns the probes off).
    #[arg(long, env = "GOTO_PEER_HEALTH_SECONDS", default_value_t = 30)]
    peer_health_seconds: u64,

    /// Time a client has to send a complete request head, from its connect or
    /// from its first byte after a response (Go duration).
    #[arg(long, env = "GOTO_HEADER_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    header_timeout: std::time::Duration,

    /// A keep-alive connection with nothing in flight is closed after this long.
    #[arg(long, env = "GOTO_IDLE_TIMEOUT", default_value = "60s", value_parser = positive_duration)]
    idle_timeout: std::time::Duration,

    /// Time a client has to send a request body once its head is in: 408 past it.
    #[arg(long, env = "GOTO_BODY_TIMEOUT", default_value = "30s", value_parser = positive_duration)]
    body_timeout: std::time::Duration,

    /// HTTP/2 keep-alive ping interval; a client not answering within as long is dropped.
    #[arg(long, env = "GOTO_H2_PING", default_value = "30s", value_parser = positive_duration)]
    h2_ping: std::time::Duration,

    /// Most open connections per listener; past it new ones are closed at once
    /// (and logged). Default: 10,000, lowered to fit the open-files limit.
    #[arg(long, env = "GOTO_MAX_CONNS", value_parser = clap::value_parser!(u64).range(1..))]
    max_conns: Option<u64>,

    /// Directory where a registry keeps its peers, targets, jobs, tracked
    /// headers and lockers across restarts (default: memory only).
    #[arg(long, env = "GOTO_DATA_DIR")]
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
    #[arg(long, env = "GOTO_ADMIN_PORT", value_parser = clap::value_parser!(u16).range(1..))]
    admin_port: Option<u16>,

    /// Comma-separated host names admin calls may name in `Host` (against
    /// DNS rebinding); default: any.
    #[arg(long, env = "GOTO_ALLOWED_HOSTS", value_delimiter = ',')]
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
    match goto_engine::duration::parse(s)? {
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

fn init_logs(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        // One object a line: timestamp, level, fields (with the message).
        LogFormat::Json => fmt.json().flatten_event(true).init(),
        LogFormat::Text => fmt
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

/// Writes the completion script for `shell` to stdout.
fn print_completions(shell: clap_complete::Shell) -> ExitCode {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut Cli::command(), "goto", &mut out);
    ExitCode::SUCCESS
}

/// Writes a man page (roff) to stdout: goto(1), or goto-load(1), the page
/// goto(1) lists under its subcommands.
fn print_man(page: Option<ManPage>) -> ExitCode {
    let root = Cli::command();
    let cmd = match page {
        None => root,
        Some(ManPage::Load) => match root.find_subcommand("load") {
            Some(load) => load
                .clone()
                .name("goto-load")
                .bin_name("goto load")
                .version(VERSION),
            None => {
                eprintln!("goto: no load subcommand to document");
                return ExitCode::from(1);
            }
        },
    };
    let mut out = std::io::stdout().lock();
    match clap_mangen::Man::new(cmd).render(&mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("goto: cannot write the man page: {e}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Some(Cmd::Load(args)) => return load::run(*args),
        Some(Cmd::Completions { shell }) => return print_completions(shell),
        Some(Cmd::Man { page }) => return print_man(page),
        None => {}
    }
    let s = cli.server;
    init_logs(&s.log_level, s.log_format);
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
        json_logs: s.log_format == LogFormat::Json,
        cores: s.cores.map(usize::from),
        io_driver: match s.io_driver {
            DriverArg::Auto => goto_engine::IoDriverChoice::Auto,
            DriverArg::Uring => goto_engine::IoDriverChoice::Uring,
            DriverArg::Epoll => goto_engine::IoDriverChoice::Epoll,
        },
        build: goto_control::probes::BuildInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            revision: env!("GOTO_GIT_REV").to_string(),
            built: env!("GOTO_BUILD_DATE").to_string(),
        },
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
