//! The server's startup configuration and its defaults, named once: the
//! command line's help and [`ServerConfig::default`] both read
//! [`defaults`].

use std::path::PathBuf;
use std::time::Duration;

/// Every startup default, shared by the command line and
/// [`ServerConfig::default`].
pub mod defaults {
    use std::time::Duration;

    pub use crate::listeners::conn_guard::{BODY_TIMEOUT, H2_PING, HEADER_TIMEOUT, IDLE_TIMEOUT};

    pub const PORT: u16 = 8080;
    /// Root CAs for outbound TLS, every .crt and .pem in it.
    pub const CERTS: &str = "/etc/certs";
    pub const LOG_LEVEL: &str = "info";
    /// One thread keeps the control plane off the engine's cores.
    pub const CONTROL_THREADS: u16 = 1;
    /// Between a peer's reminders to its registry.
    pub const REMIND_INTERVAL: Duration = Duration::from_secs(30);
    /// Between a registry's health probes of its pods.
    pub const PEER_HEALTH_INTERVAL: Duration = Duration::from_secs(30);
    /// Open connections per listener (the command line lowers it to fit the
    /// open-files limit).
    pub const MAX_CONNS: usize = 10_000;
}

/// Startup configuration of the server, validated by the CLI.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub port: u16,
    pub label: Option<String>,
    pub registry: Option<String>,
    pub locker: bool,
    pub certs: PathBuf,
    pub request_logs: bool,
    /// The request log writes one JSON object a line instead of text.
    pub json_logs: bool,
    /// Workers of the load engine behind the client API (None: the default).
    pub cores: Option<usize>,
    pub io_driver: goto_engine::IoDriverChoice,
    /// What `goto --version` prints: version, git revision, build date.
    pub build: crate::probes::BuildInfo,
    pub control_threads: usize,
    pub remind_interval: Duration,
    /// Whether jobs may run OS commands (off unless asked for at startup).
    pub allow_command_jobs: bool,
    /// How often a registry probes its pods (None: never in the background).
    pub peer_health_interval: Option<Duration>,
    /// Listener timeouts (head, idle keep-alive, body, HTTP/2 pings).
    pub timeouts: crate::listeners::conn_guard::ConnTimeouts,
    /// Most open connections per listener; past it new ones are closed at once.
    pub max_conns: usize,
    /// Where the registry keeps its state (None: memory only).
    pub data_dir: Option<PathBuf>,
    /// A damaged store file in `data_dir` is moved aside and the state
    /// starts empty (else startup fails, naming the file and the problem).
    pub reset_damaged_store: bool,
    /// Admin API protection (token, admin port, allowed hosts).
    pub security: crate::security::AdminSecurity,
}

impl Default for ServerConfig {
    /// The command line's defaults (a fixed connection cap rather than one
    /// from the open-file limit), so that configurations built in code, such
    /// as tests', name only what they change.
    fn default() -> ServerConfig {
        ServerConfig {
            port: defaults::PORT,
            label: None,
            registry: None,
            locker: false,
            certs: PathBuf::from(defaults::CERTS),
            request_logs: true,
            json_logs: false,
            cores: None,
            io_driver: Default::default(),
            build: Default::default(),
            control_threads: usize::from(defaults::CONTROL_THREADS),
            remind_interval: defaults::REMIND_INTERVAL,
            allow_command_jobs: false,
            peer_health_interval: Some(defaults::PEER_HEALTH_INTERVAL),
            timeouts: Default::default(),
            max_conns: defaults::MAX_CONNS,
            data_dir: None,
            reset_damaged_store: false,
            security: Default::default(),
        }
    }
}
