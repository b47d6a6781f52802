//! The server's command line: its flags (each with a `GOTO_*` variable),
//! turned into the control plane's [`ServerConfig`] once, here. Defaults are
//! the control plane's named constants (`goto_control::config::defaults`),
//! so clap's help and `ServerConfig::default` cannot disagree.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{ArgAction, ValueEnum};
use goto_control::config::defaults;
use goto_control::ServerConfig;
use goto_engine::IoDriverChoice;

/// `--io-driver`'s parser, shared by the server and `goto load`: the
/// engine's own type, with its spellings listed in help and completions.
pub(crate) fn io_driver_parser() -> impl TypedValueParser<Value = IoDriverChoice> {
    PossibleValuesParser::new(IoDriverChoice::NAMES).try_map(|s| s.parse::<IoDriverChoice>())
}

/// A positive Go-style duration flag (`10s`, `1m30s`), printed back the same
/// way in `--help`'s defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GoDuration(pub(crate) Duration);

impl FromStr for GoDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<GoDuration, String> {
        match goto_engine::duration::parse(s)? {
            d if d.is_zero() => Err("must be more than 0".into()),
            d => Ok(GoDuration(d)),
        }
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&goto_engine::duration::format(self.0))
    }
}

/// A positive byte count flag: a number with an optional `KB`, `MB` or `GB`
/// (powers of 1024), printed back the same way in `--help`'s defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteSize(pub(crate) usize);

const BYTE_UNITS: [(&str, usize); 3] = [("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)];

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<ByteSize, String> {
        let t = s.trim();
        let upper = t.to_ascii_uppercase();
        let (digits, unit) = BYTE_UNITS
            .iter()
            .find_map(|(u, n)| upper.strip_suffix(u).map(|d| (d.to_string(), *n)))
            .unwrap_or_else(|| (upper.strip_suffix('B').unwrap_or(&upper).to_string(), 1));
        let bad = || format!("invalid size {s:?}: a number of bytes, or with KB, MB or GB");
        let n: usize = digits.trim().parse().map_err(|_| bad())?;
        match n.checked_mul(unit) {
            Some(0) => Err("must be more than 0".into()),
            Some(b) => Ok(ByteSize(b)),
            None => Err(bad()),
        }
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match BYTE_UNITS.iter().find(|(_, n)| self.0.is_multiple_of(*n)) {
            Some((u, n)) => write!(f, "{}{u}", self.0 / n),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Format of the app logs and the request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// Flags of the server (the default mode).
#[derive(Debug, clap::Args)]
pub(crate) struct ServerArgs {
    /// Port of the startup listener.
    #[arg(long, env = "GOTO_PORT", default_value_t = defaults::PORT, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) port: u16,

    /// Label of this instance (default `Goto-<host IP>`).
    #[arg(long, env = "GOTO_LABEL")]
    pub(crate) label: Option<String>,

    /// URL of a goto registry to register with.
    #[arg(long, env = "GOTO_REGISTRY")]
    pub(crate) registry: Option<String>,

    /// Report client results to the registry's locker (`--locker` or `--locker=true`).
    #[arg(long, env = "GOTO_LOCKER", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, default_value_t = false)]
    pub(crate) locker: bool,

    /// Directory of root CA certificates (every .crt and .pem in it).
    #[arg(long, env = "GOTO_CERTS", default_value = defaults::CERTS)]
    pub(crate) certs: PathBuf,

    /// Log every runtime request (time, port, remote address, method, URI,
    /// headers, status, duration, bytes); turn off for load tests.
    #[arg(long, env = "GOTO_REQUEST_LOGS", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, default_value_t = true)]
    pub(crate) request_logs: bool,

    /// Log level: error, warn, info, debug or trace.
    #[arg(long, env = "GOTO_LOG_LEVEL", default_value = defaults::LOG_LEVEL, value_parser = ["error", "warn", "info", "debug", "trace"])]
    pub(crate) log_level: String,

    /// Format of the app logs and the request log (one JSON object a line).
    #[arg(long, env = "GOTO_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,

    /// Threads of the control plane (admin API, responder, proxy); 1 keeps it off the engine's cores.
    #[arg(long, env = "GOTO_CONTROL_THREADS", default_value_t = defaults::CONTROL_THREADS, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) control_threads: u16,

    /// Worker threads of the load engine behind the client API, one per core
    /// (default: the affinity mask capped by the cgroup CPU quota).
    #[arg(long, env = "GOTO_CORES", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) cores: Option<u16>,

    /// I/O driver of the load engine behind the client API (auto: io_uring
    /// where the kernel and seccomp profile allow it, else epoll).
    #[arg(long, env = "GOTO_IO_DRIVER", default_value_t = IoDriverChoice::Auto, value_parser = io_driver_parser())]
    pub(crate) io_driver: IoDriverChoice,

    /// Seconds between a peer's reminders to the registry.
    #[arg(long, env = "GOTO_REMIND_SECONDS", default_value_t = defaults::REMIND_INTERVAL.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) remind_seconds: u64,

    /// Let jobs run OS commands (`task.cmd`): remote execution, so off by default.
    #[arg(long, env = "GOTO_ALLOW_COMMAND_JOBS")]
    pub(crate) allow_command_jobs: bool,

    /// As a registry, seconds between health probes of registered pods; a pod
    /// failing 3 in a row is dropped from `pods` (0 turns the probes off).
    #[arg(long, env = "GOTO_PEER_HEALTH_SECONDS", default_value_t = defaults::PEER_HEALTH_INTERVAL.as_secs())]
    pub(crate) peer_health_seconds: u64,

    /// Time a client has to send a complete request head, from its connect or
    /// from its first byte after a response (Go duration).
    #[arg(long, env = "GOTO_HEADER_TIMEOUT", default_value_t = GoDuration(defaults::HEADER_TIMEOUT))]
    pub(crate) header_timeout: GoDuration,

    /// A keep-alive connection with nothing in flight is closed after this long.
    #[arg(long, env = "GOTO_IDLE_TIMEOUT", default_value_t = GoDuration(defaults::IDLE_TIMEOUT))]
    pub(crate) idle_timeout: GoDuration,

    /// Time a client has to send a request body once its head is in: 408 past it.
    #[arg(long, env = "GOTO_BODY_TIMEOUT", default_value_t = GoDuration(defaults::BODY_TIMEOUT))]
    pub(crate) body_timeout: GoDuration,

    /// HTTP/2 keep-alive ping interval; a client not answering within as long is dropped.
    #[arg(long, env = "GOTO_H2_PING", default_value_t = GoDuration(defaults::H2_PING))]
    pub(crate) h2_ping: GoDuration,

    /// Most open connections per listener; past it new ones are closed at once
    /// (and logged). Default: 10,000, lowered to fit the open-files limit.
    #[arg(long, env = "GOTO_MAX_CONNS", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_conns: Option<u64>,

    /// Memory unfinished request heads may hold together per listener,
    /// beyond 8 KiB each (`512KB`, `64MB`, `1GB`); a connection growing its
    /// head past it gets 431 and is closed.
    #[arg(long, env = "GOTO_MAX_HEAD_MEMORY", default_value_t = ByteSize(defaults::MAX_HEAD_MEMORY))]
    pub(crate) max_head_memory: ByteSize,

    /// Directory where a registry keeps its peers, targets, jobs, tracked
    /// headers and lockers across restarts (default: memory only).
    #[arg(long, env = "GOTO_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,

    /// When the --data-dir store file is damaged (truncated, corrupted),
    /// rename it to goto.redb.damaged-<unix seconds> beside itself and start
    /// with an empty store; without it such a file stops startup (exit 1).
    #[arg(long, env = "GOTO_RESET_DAMAGED_STORE", num_args = 0..=1, default_missing_value = "true", action = ArgAction::Set, default_value_t = false)]
    pub(crate) reset_damaged_store: bool,

    /// Require `Authorization: Bearer TOKEN` on every admin call (runtime
    /// traffic is not affected); also read from GOTO_ADMIN_TOKEN.
    #[arg(long, conflicts_with = "admin_token_file")]
    pub(crate) admin_token: Option<String>,

    /// Like --admin-token, with the token in a file (first line); also read
    /// from GOTO_ADMIN_TOKEN_FILE.
    #[arg(long)]
    pub(crate) admin_token_file: Option<PathBuf>,

    /// Serve the admin API on this port only (opened at startup); the other
    /// listeners serve runtime traffic only.
    #[arg(long, env = "GOTO_ADMIN_PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) admin_port: Option<u16>,

    /// Comma-separated host names admin calls may name in `Host` (against
    /// DNS rebinding); default: any.
    #[arg(long, env = "GOTO_ALLOWED_HOSTS", value_delimiter = ',')]
    pub(crate) allowed_hosts: Vec<String>,
}

/// Where the admin token comes from when no flag names it.
const ADMIN_TOKEN_ENV: &str = "GOTO_ADMIN_TOKEN";
const ADMIN_TOKEN_FILE_ENV: &str = "GOTO_ADMIN_TOKEN_FILE";

/// The admin token from the flag, the file flag, then the environment's
/// token or token file, in that order. The two variables are read here, not
/// by clap, so that a flag on the command line wins over either of them
/// (clap would call a variable for one and a flag for the other a conflict).
fn admin_token(flag: Option<String>, file: Option<PathBuf>) -> Result<Option<String>, String> {
    let read = |f: PathBuf, what: &str| -> Result<String, String> {
        let text = std::fs::read_to_string(&f)
            .map_err(|e| format!("cannot read {what} {}: {e}", f.display()))?;
        Ok(text.lines().next().unwrap_or("").to_string())
    };
    let token = match (flag, file) {
        (Some(t), _) => Some(t),
        (None, Some(f)) => Some(read(f, "--admin-token-file")?),
        (None, None) => match (
            std::env::var(ADMIN_TOKEN_ENV).ok(),
            std::env::var_os(ADMIN_TOKEN_FILE_ENV),
        ) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "set {ADMIN_TOKEN_ENV} or {ADMIN_TOKEN_FILE_ENV}, not both"
                ))
            }
            (Some(t), None) => Some(t),
            (None, Some(f)) => Some(read(PathBuf::from(f), ADMIN_TOKEN_FILE_ENV)?),
            (None, None) => None,
        },
    };
    match token.map(|t| t.trim().to_string()) {
        Some(t) if t.is_empty() => Err("the admin token is empty".into()),
        Some(t) if t.bytes().any(|b| !b.is_ascii_graphic()) => {
            Err("the admin token must be printable ASCII without spaces".into())
        }
        t => Ok(t),
    }
}

/// The default connection cap per listener: 10,000, or three quarters of the
/// open-files limit when that is lower (the rest for outbound calls and files).
fn default_max_conns() -> usize {
    // Raising to 1 changes nothing: it only reads the soft limit.
    let nofile = goto_engine::raise_nofile_limit(1).unwrap_or(u64::MAX);
    (nofile / 4 * 3).clamp(64, defaults::MAX_CONNS as u64) as usize
}

impl TryFrom<ServerArgs> for ServerConfig {
    type Error = String;

    /// The one place raw flags become the server's configuration.
    fn try_from(s: ServerArgs) -> Result<ServerConfig, String> {
        let token = admin_token(s.admin_token, s.admin_token_file)?;
        Ok(ServerConfig {
            port: s.port,
            label: s.label,
            registry: s.registry,
            locker: s.locker,
            certs: s.certs,
            request_logs: s.request_logs,
            json_logs: s.log_format == LogFormat::Json,
            cores: s.cores.map(usize::from),
            io_driver: s.io_driver,
            build: goto_control::probes::BuildInfo {
                version: env!("CARGO_PKG_VERSION").to_string(),
                revision: env!("GOTO_GIT_REV").to_string(),
                built: env!("GOTO_BUILD_DATE").to_string(),
            },
            control_threads: s.control_threads as usize,
            remind_interval: Duration::from_secs(s.remind_seconds),
            allow_command_jobs: s.allow_command_jobs,
            peer_health_interval: (s.peer_health_seconds > 0)
                .then(|| Duration::from_secs(s.peer_health_seconds)),
            timeouts: goto_control::listeners::conn_guard::ConnTimeouts {
                header: s.header_timeout.0,
                idle: s.idle_timeout.0,
                body: s.body_timeout.0,
                h2_ping: s.h2_ping.0,
            },
            max_conns: s.max_conns.map_or_else(default_max_conns, |n| n as usize),
            max_head_memory: s.max_head_memory.0,
            data_dir: s.data_dir,
            reset_damaged_store: s.reset_damaged_store,
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        server: ServerArgs,
    }

    /// The command line's defaults are `ServerConfig::default`'s: one source.
    #[test]
    fn no_flags_give_the_default_config() {
        // Keep GOTO_* variables of the environment out of the comparison.
        let vars: Vec<String> = std::env::vars()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with("GOTO_"))
            .collect();
        if !vars.is_empty() {
            println!("skipped: GOTO_* variables are set ({})", vars.join(", "));
            return;
        }
        let args = Wrap::try_parse_from(["goto"]).expect("parse").server;
        let mut cfg = ServerConfig::try_from(args).expect("config");
        let want = ServerConfig::default();
        // The cap follows the open-files limit and the build is this binary's.
        assert!(cfg.max_conns <= want.max_conns);
        cfg.max_conns = want.max_conns;
        cfg.build = want.build.clone();
        assert_eq!(format!("{cfg:?}"), format!("{want:?}"));
    }

    #[test]
    fn byte_sizes_take_units_and_print_them_back() {
        for (text, bytes, shown) in [
            ("256KB", 256 << 10, "256KB"),
            ("64mb", 64 << 20, "64MB"),
            ("1GB", 1 << 30, "1GB"),
            ("1000", 1000, "1000"),
            ("2048B", 2048, "2KB"),
        ] {
            let b: ByteSize = text.parse().expect(text);
            assert_eq!((b.0, b.to_string().as_str()), (bytes, shown), "{text}");
        }
        for bad in ["0", "", "KB", "1.5MB", "-1", "12XB", "99999999999999GB"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad}");
        }
    }
}
