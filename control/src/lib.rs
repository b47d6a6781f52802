//! goto's control plane: a tokio + hyper server, on its own threads apart from
//! the engine's, that serves every listener: the admin API, the programmable
//! responder, and (in later areas) the proxy, client API and registry.

pub mod admin;
pub mod body;
pub mod bounded;
pub mod client;
pub mod conn_guard;
pub mod duration;
pub mod error;
pub mod faults;
pub mod h2load;
pub mod histcodec;
pub mod host;
pub mod jobs;
pub mod listener_tls;
pub mod listeners;
pub mod peer;
pub mod port;
pub mod prom;
pub mod proxy;
pub mod registry;
pub mod reqlog;
pub mod responder;
pub mod rng;
pub mod router;
pub mod security;
pub mod store;
pub mod tcp;
pub mod timefmt;
pub mod timeouts;
pub mod toxics;
pub mod tracking;
pub mod triggers;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::rt::TokioExecutor;

use host::HostInfo;
use listeners::Listeners;
use reqlog::RequestLog;

/// Startup configuration of the server, validated by the CLI.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub port: u16,
    pub label: Option<String>,
    pub registry: Option<String>,
    pub locker: bool,
    pub certs: PathBuf,
    pub request_logs: bool,
    pub control_threads: usize,
    pub remind_interval: Duration,
    /// Whether jobs may run OS commands (off unless asked for at startup).
    pub allow_command_jobs: bool,
    /// How often a registry probes its pods (None: never in the background).
    pub peer_health_interval: Option<Duration>,
    /// Listener timeouts (head, idle keep-alive, body, HTTP/2 pings).
    pub timeouts: conn_guard::ConnTimeouts,
    /// Most open connections per listener; past it new ones are closed at once.
    pub max_conns: usize,
    /// Where the registry keeps its state (None: memory only).
    pub data_dir: Option<PathBuf>,
    /// Admin API protection (token, admin port, allowed hosts).
    pub security: security::AdminSecurity,
}

/// Startup failures.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot start the control runtime: {0}")]
    Runtime(std::io::Error),
    #[error("{0}")]
    Listen(String),
    #[error("invalid label: {0}")]
    Label(String),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Registry(String),
}

/// The instance: configuration, identity and every listener.
pub struct App {
    pub cfg: ServerConfig,
    pub host: HostInfo,
    pub instance_label: String,
    pub listeners: Listeners,
    pub reqlog: Option<RequestLog>,
    pub started: Instant,
    pub http: hyper_util::server::conn::auto::Builder<TokioExecutor>,
    /// Pooled outbound client of the proxy and triggers.
    pub proxy_client: proxy::client::HttpClient,
    /// The same, verifying https upstreams against the system roots and
    /// `--certs`; `Err` says why it could not be built.
    pub verifying_client: Result<proxy::client::HttpClient, String>,
    /// Targets, invocations and results of the client API.
    pub client: client::Client,
    /// Jobs and their results.
    pub jobs: jobs::Jobs,
    /// Peers, targets by label and lockers, when this instance is a registry.
    pub registry: registry::Registry,
    /// This instance's registration with a registry (`--registry`).
    pub peer: peer::Peer,
}

impl App {
    pub fn new(cfg: ServerConfig) -> Result<Arc<App>, ControlError> {
        let host = HostInfo::detect();
        let instance_label = cfg
            .label
            .clone()
            .unwrap_or_else(|| format!("Goto-{}", host.ip));
        port::Label::new(&instance_label).map_err(ControlError::Label)?;
        let reqlog = if cfg.request_logs {
            Some(RequestLog::start().map_err(ControlError::Runtime)?)
        } else {
            None
        };
        let client = client::Client::new(&cfg.certs);
        let jobs = jobs::Jobs::new(cfg.allow_command_jobs);
        let insecure = goto_engine::client_config(client.tls(), false, &[])
            .map_err(|e| ControlError::Tls(e.to_string()))?;
        let proxy_client = proxy::client::new_client(&insecure);
        let verifying_client = goto_engine::client_config(client.tls(), true, &[])
            .map(|c| proxy::client::new_client(&c))
            .map_err(|e| e.to_string());
        let http = listeners::new_http_builder(&cfg.timeouts);
        Ok(Arc::new(App {
            cfg,
            host,
            instance_label,
            listeners: Listeners::default(),
            reqlog,
            started: Instant::now(),
            http,
            proxy_client,
            verifying_client,
            client,
            jobs,
            registry: registry::Registry::default(),
            peer: peer::Peer::default(),
        }))
    }
}

impl App {
    /// The outbound client for a call: verifying https certificates or not;
    /// an error when verification is asked for and no roots could be loaded.
    pub fn outbound(&self, verify: bool) -> Result<&proxy::client::HttpClient, String> {
        if verify {
            self.verifying_client
                .as_ref()
                .map_err(|e| format!("cannot verify TLS: {e}"))
        } else {
            Ok(&self.proxy_client)
        }
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run_server(cfg: ServerConfig) -> Result<(), ControlError> {
    let rt = if cfg.control_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cfg.control_threads)
            .thread_name("goto-control")
            .enable_all()
            .build()
    }
    .map_err(ControlError::Runtime)?;
    rt.block_on(serve(cfg))
}

async fn serve(cfg: ServerConfig) -> Result<(), ControlError> {
    let port = cfg.port;
    if let Some(url) = &cfg.registry {
        peer::registry_base(url).map_err(ControlError::Registry)?;
    }
    security::set_outbound(&cfg.security);
    let app = App::new(cfg)?;
    if let Some(dir) = &app.cfg.data_dir {
        app.registry
            .open_store(dir)
            .map_err(ControlError::Registry)?;
        tracing::info!(dir = ?dir, "registry state kept in the data directory");
    }
    app.listeners
        .add_startup(&app, port)
        .map_err(|e| ControlError::Listen(e.to_string()))?;
    if let Some(admin) = app.cfg.security.admin_port.filter(|p| *p != port) {
        app.listeners
            .add_startup(&app, admin)
            .map_err(|e| ControlError::Listen(e.to_string()))?;
        tracing::info!(port = admin, "admin API served on this port only");
    }
    tracing::info!(port, label = %app.instance_label, "goto serving");
    peer::start(&app)?;
    if let Some(every) = app.cfg.peer_health_interval {
        tokio::spawn(registry::fanout::health_loop(app.clone(), every));
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    peer::stop(&app).await;
    app.listeners.close_all();
    if let Some(log) = &app.reqlog {
        log.flush();
    }
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
