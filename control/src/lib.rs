//! goto's control plane: a tokio + hyper server, on its own threads apart from
//! the engine's, that serves every listener: the admin API (one route table
//! per area, see [`api`]), the programmable responder, proxy and triggers on
//! runtime traffic, the client API on the load engine, jobs, and the
//! registry with its peers.
//!
//! Layers, bottom up (no module imports one above it): vocabulary (`body`,
//! `error`, `timefmt`, `histcodec`, `host`, `reqlog`); `api`;
//! the per-port areas (`responder`, `tracking`, `timeouts`, `proxy`,
//! `triggers`); `port` (a listener's state and runtime path); `listeners`;
//! the instance-wide areas (`client`, `jobs`, `registry`, `peer`), with the
//! chaos and metrics modules (`faults`, `toxics`, `tcp`, `rng`, `prom`).
//! This file wires them into [`App`] and mounts every table.

pub mod api;
pub mod body;
pub mod bounded;
pub mod client;
pub mod config;
pub mod error;
pub mod faults;
pub mod grpc;
pub mod histcodec;
pub mod host;
pub mod jobs;
pub mod listeners;
pub mod peer;
pub mod port;
pub mod probes;
pub mod prom;
pub mod proxy;
pub mod registry;
pub mod reqlog;
pub mod responder;
pub mod rng;
pub mod security;
pub mod tcp;
pub mod textfmt;
pub mod timefmt;
pub mod timeouts;
pub mod timer;
pub mod toxics;
pub mod tracking;
pub mod triggers;
pub mod ui;

use std::sync::Arc;
use std::time::Instant;

use hyper_util::rt::TokioExecutor;

pub use config::ServerConfig;
use host::HostInfo;
use listeners::Listeners;
use reqlog::RequestLog;

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
    /// Pooled outbound clients of the proxy, triggers, jobs and registry.
    pub out: proxy::client::Outbound,
    /// Targets, invocations and results of the client API.
    pub client: client::Client,
    /// Jobs and their results.
    pub jobs: Arc<jobs::Jobs>,
    /// Peers, targets by label and lockers, when this instance is a registry.
    pub registry: registry::Registry,
    /// This instance's registration with a registry (`--registry`).
    pub peer: peer::Peer,
    /// Every admin route.
    pub api: api::Router<port::Ctx>,
    /// Readiness and liveness probes (settable status).
    pub probes: probes::Probes,
}

/// The admin API: every area's tables, each projected onto its state.
pub fn admin_api() -> api::Router<port::Ctx> {
    let mut r = api::Router::new()
        .mount(endpoints(), |c: &port::Ctx| &c.app)
        .mount(listeners::routes::table(), |c| &c.app)
        .mount(listeners::tcp_routes::table(), |c| &c.app.listeners)
        .mount(port::label::table(), |c| &*c.port)
        .mount(port::metrics::table(), |c: &port::Ctx| c);
    // The fault tables own `/response/status` and `/response/delay` whole
    // (their forms touch the responder's forced status and fixed delay too);
    // mount refuses a route claimed twice, so the order does not matter.
    for t in faults::routes::tables() {
        r = r.mount(t, |c: &port::Ctx| &*c.port);
    }
    for t in responder::routes::tables() {
        r = r.mount(t, |c| &c.port.responder);
    }
    r.mount(tracking::routes::table(), |c| &c.port.tracking)
        .mount(timeouts::routes::table(), |c| &c.port.timeouts)
        .mount(proxy::routes::table(), |c| &c.port.proxy)
        .mount(proxy::toxic_routes::table(), |c| &c.port.proxy)
        .mount(triggers::routes::table(), |c| &c.port.triggers)
        .mount(grpc::routes::table(), |c| &c.port.grpc)
        .mount(client::routes::table(), |c| &c.app)
        .mount(jobs::routes::table(), |c| &c.app.jobs)
        .mount(registry::routes::table(), |c| &c.app)
        .mount(probes::routes::probes_table(), |c| &c.app.probes)
        .mount(probes::routes::health_table(), |c| &c.app)
        .mount(probes::routes::version_table(), |c| &c.app)
        .mount(ui::routes::table(), |c| &c.app)
}

/// `GET /api/endpoints`: every admin route (method and path pattern).
/// Plain `/api` stays runtime traffic: tests and users proxy it.
fn endpoints() -> api::Table<Arc<App>> {
    api::Table::<Arc<App>>::new("/api/endpoints").get("/api/endpoints", |app, _| {
        Ok(body::json(&app.api.endpoints()))
    })
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
            Some(RequestLog::start(cfg.json_logs).map_err(ControlError::Runtime)?)
        } else {
            None
        };
        let client = client::Client::new(&cfg.certs)
            .with_engine(cfg.cores, cfg.io_driver)
            .with_interval_histograms(cfg.locker && cfg.registry.is_some());
        let insecure = goto_engine::client_config(client.tls(), false, &[])
            .map_err(|e| ControlError::Tls(e.to_string()))?;
        let out = proxy::client::Outbound {
            insecure: proxy::client::new_client(&insecure),
            verifying: goto_engine::client_config(client.tls(), true, &[])
                .map(|c| proxy::client::new_client(&c))
                .map_err(|e| e.to_string()),
        };
        let jobs = jobs::Jobs::new(cfg.allow_command_jobs, out.clone());
        let http = listeners::serve::new_http_builder(&cfg.timeouts);
        Ok(Arc::new(App {
            cfg,
            host,
            instance_label,
            listeners: Listeners::default(),
            reqlog,
            started: Instant::now(),
            http,
            out,
            client,
            jobs,
            registry: registry::Registry::default(),
            peer: peer::Peer::default(),
            api: admin_api(),
            probes: probes::Probes::default(),
        }))
    }
}

impl App {
    /// The outbound client for a call: verifying https certificates or not;
    /// an error when verification is asked for and no roots could be loaded.
    pub fn outbound(&self, verify: bool) -> Result<&proxy::client::HttpClient, String> {
        self.out.pick(verify)
    }
}

impl App {
    /// A listener's state without a socket, for in-process calls.
    pub fn detached_port(&self, port: u16) -> Result<Arc<port::PortState>, String> {
        Ok(Arc::new(port::PortState::new(port::PortSetup {
            port,
            label: port::Label::new(&self.instance_label)?,
            default_label: &self.instance_label,
            goto_host: &self.host.goto_host(port),
            request_logs: false,
            out: self.out.clone(),
        })))
    }

    /// Answers an admin call in process, through the same tables a listener
    /// uses (`uri` is a path with an optional query); `None` when the path
    /// is runtime traffic, not an admin call.
    pub async fn admin_call(
        self: &Arc<Self>,
        port: &Arc<port::PortState>,
        method: http::Method,
        uri: &str,
        headers: &http::HeaderMap,
        body: bytes::Bytes,
    ) -> Option<http::Response<body::Body>> {
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (uri, None),
        };
        if !self.api.is_admin(path) {
            return None;
        }
        let ctx = port::Ctx {
            app: self.clone(),
            port: port.clone(),
        };
        Some(
            self.api
                .dispatch(&ctx, &method, path, query, headers, &body)
                .await,
        )
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
            .open_store(dir, app.cfg.reset_damaged_store)
            .map_err(ControlError::Registry)?;
        tracing::info!(dir = ?dir, "registry state kept in the data directory");
        let weak = Arc::downgrade(&app);
        app.probes.unready_when(Box::new(move || {
            let why = weak.upgrade()?.registry.store_failure()?;
            Some(format!("registry data store failing: {why}"))
        }));
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
    let cores = app
        .cfg
        .cores
        .unwrap_or_else(goto_engine::cpus::default_cores);
    tracing::info!(
        port,
        label = %app.instance_label,
        version = %app.cfg.build,
        engine_cores = cores,
        // The driver the engine will run, not the flag's `auto`.
        io_driver = %app.cfg.io_driver.expected(),
        io_driver_flag = %app.cfg.io_driver,
        "goto serving"
    );
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
