//! The wiring: [`App`] holds every area's state, [`admin_api`] mounts each
//! area's route table over its own state (or the narrow trait the area
//! defines), and the trait impls at the end give the areas that need more
//! than their own state ([`listeners::Host`], [`port::metrics::Scrape`],
//! [`ui::routes::UiSource`], [`probes::routes::Identity`]) what they ask
//! for. No area imports this module: dependencies point down to them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Response};
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto::Builder;

use crate::api::{self, BoxFuture};
use crate::body::{self, Body};
use crate::chaos::faults;
use crate::chaos::tcp::TcpState;
use crate::config::ServerConfig;
use crate::host::HostInfo;
use crate::listeners::conn_guard::ConnTimeouts;
use crate::listeners::{self, Listeners};
use crate::port::{self, PortState};
use crate::proxy::client::Outbound;
use crate::reqlog::RequestLog;
use crate::security::AdminSecurity;
use crate::startup::StartupError;
use crate::{
    client, grpc, jobs, peer, probes, proxy, registry, responder, timeouts, tracking, triggers, ui,
};

/// What an admin handler's table is projected from: the instance and the
/// listener the call came in on.
pub struct Ctx {
    pub(crate) app: Arc<App>,
    pub(crate) port: Arc<PortState>,
}

/// The instance: configuration, identity and every listener.
pub struct App {
    pub(crate) cfg: ServerConfig,
    pub(crate) host: HostInfo,
    pub(crate) instance_label: String,
    pub(crate) listeners: Listeners,
    pub(crate) reqlog: Option<RequestLog>,
    pub(crate) started: Instant,
    pub(crate) http: Builder<TokioExecutor>,
    /// Pooled outbound clients of the proxy, triggers, jobs and registry.
    pub(crate) out: Outbound,
    /// Targets, invocations and results of the client API.
    pub(crate) client: Arc<client::Client>,
    /// Jobs and their results.
    pub(crate) jobs: Arc<jobs::Jobs>,
    /// Peers, targets by label and lockers, when this instance is a registry.
    pub(crate) registry: Arc<registry::Registry>,
    /// This instance's registration with a registry (`--registry`).
    pub(crate) peer: Arc<peer::Peer>,
    /// Every admin route.
    pub(crate) api: api::Router<Ctx>,
    /// Readiness and liveness probes (settable status).
    pub(crate) probes: probes::Probes,
}

/// The admin API: every area's tables, each projected onto its state.
pub fn admin_api() -> api::Router<Ctx> {
    let mut r = api::Router::new()
        .mount(endpoints(), |c: &Ctx| &c.app)
        .mount(listeners::routes::table::<App>(), |c| &c.app)
        .mount(listeners::tcp_routes::table(), |c| &c.app.listeners)
        .mount(port::label::table(), |c| &*c.port)
        .mount(port::metrics::table::<Ctx>(), |c: &Ctx| c);
    // The fault tables own `/response/status` and `/response/delay` whole
    // (their forms touch the responder's forced status and fixed delay too);
    // mount refuses a route claimed twice, so the order does not matter.
    for t in faults::routes::tables() {
        r = r.mount(t, |c: &Ctx| &*c.port);
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
        .mount(client::routes::table(), |c| &c.app.client)
        .mount(jobs::routes::table(), |c| &c.app.jobs)
        .mount(registry::routes::table(), |c| &c.app.registry)
        .mount(probes::routes::probes_table(), |c| &c.app.probes)
        .mount(probes::routes::health_table::<App>(), |c| &*c.app)
        .mount(probes::routes::version_table::<App>(), |c| &*c.app)
        .mount(ui::routes::table::<App>(), |c| &*c.app)
}

/// `GET /api/endpoints`: every admin route (method and path pattern).
/// Plain `/api` stays runtime traffic: tests and users proxy it.
fn endpoints() -> api::Table<Arc<App>> {
    api::Table::<Arc<App>>::new("/api/endpoints").get("/api/endpoints", |app, _| {
        Ok(body::json(&app.api.endpoints()))
    })
}

impl App {
    pub fn new(cfg: ServerConfig) -> Result<Arc<App>, StartupError> {
        let host = HostInfo::detect();
        let instance_label = cfg
            .label
            .clone()
            .unwrap_or_else(|| format!("Goto-{}", host.ip));
        port::Label::new(&instance_label)?;
        let reqlog = if cfg.request_logs {
            Some(RequestLog::start(cfg.json_logs).map_err(StartupError::RequestLog)?)
        } else {
            None
        };
        let client = client::Client::new(&cfg.certs)
            .with_engine(cfg.cores, cfg.io_driver)
            .with_interval_histograms(cfg.locker && cfg.registry.is_some());
        let insecure =
            goto_engine::client_config(client.tls(), false, &[]).map_err(StartupError::Tls)?;
        let out = Outbound {
            insecure: proxy::client::new_client(&insecure),
            verifying: goto_engine::client_config(client.tls(), true, &[])
                .map(|c| proxy::client::new_client(&c))
                .map_err(|e| proxy::error::OutboundError::NoRoots {
                    reason: e.to_string(),
                }),
        };
        let client = Arc::new(client);
        let jobs = jobs::Jobs::new(cfg.allow_command_jobs, out.clone());
        let http = listeners::serve::new_http_builder(&cfg.timeouts);
        // goto's calls to other instances carry the admin token.
        let bearer = cfg.security.bearer();
        let registry = Arc::new(registry::Registry::new(registry::call::Caller::new(
            out.insecure.clone(),
            bearer.clone(),
        )));
        let peer = Arc::new(peer::Peer::new(peer::PeerSetup {
            registry: cfg.registry.clone(),
            locker: cfg.locker,
            remind_interval: cfg.remind_interval,
            label: instance_label.clone(),
            host: host.clone(),
            // The registry calls the admin API at this port: the admin
            // port when there is one.
            admin_port: cfg.security.admin_port.unwrap_or(cfg.port),
            client: client.clone(),
            jobs: jobs.clone(),
            out: out.clone(),
            bearer,
        }));
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
            registry,
            peer,
            api: admin_api(),
            probes: probes::Probes::default(),
        }))
    }

    /// The admin route table (for tests that check routes and docs).
    pub fn api(&self) -> &api::Router<Ctx> {
        &self.api
    }

    /// The client area's state.
    pub fn client(&self) -> &Arc<client::Client> {
        &self.client
    }

    /// A listener's state without a socket, for in-process calls.
    pub fn detached_port(&self, port: u16) -> Result<Arc<PortState>, port::LabelError> {
        Ok(Arc::new(PortState::new(port::PortSetup {
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
        port: &Arc<PortState>,
        method: Method,
        uri: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Option<Response<Body>> {
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (uri, None),
        };
        if !self.api.is_admin(path) {
            return None;
        }
        let ctx = Ctx {
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

impl listeners::Host for App {
    fn max_conns(&self) -> usize {
        self.cfg.max_conns
    }

    fn max_head_memory(&self) -> usize {
        self.cfg.max_head_memory
    }

    fn timeouts(&self) -> &ConnTimeouts {
        &self.cfg.timeouts
    }

    fn security(&self) -> &AdminSecurity {
        &self.cfg.security
    }

    fn request_logs(&self) -> bool {
        self.cfg.request_logs
    }

    fn reqlog(&self) -> Option<&RequestLog> {
        self.reqlog.as_ref()
    }

    fn http(&self) -> &Builder<TokioExecutor> {
        &self.http
    }

    fn host(&self) -> &HostInfo {
        &self.host
    }

    fn label(&self) -> &str {
        &self.instance_label
    }

    fn out(&self) -> &Outbound {
        &self.out
    }

    fn listeners(&self) -> &Listeners {
        &self.listeners
    }

    fn is_admin(&self, path: &str) -> bool {
        self.api.is_admin(path)
    }

    fn admin<'a>(
        self: &'a Arc<Self>,
        port: &'a Arc<PortState>,
        method: &'a Method,
        path: &'a str,
        query: Option<&'a str>,
        headers: &'a HeaderMap,
        body: &'a Bytes,
    ) -> BoxFuture<'a, Response<Body>> {
        Box::pin(async move {
            let ctx = Ctx {
                app: self.clone(),
                port: port.clone(),
            };
            let mut resp = self
                .api
                .dispatch(&ctx, method, path, query, headers, body)
                .await;
            // A registry change is durable (with --data-dir) before it is
            // acknowledged.
            let mutation = !matches!(*method, Method::GET | Method::HEAD);
            if mutation && resp.status().is_success() && path.starts_with("/registry/") {
                if let Err(e) = self.registry.save() {
                    resp = e.into_response();
                }
            }
            resp
        })
    }
}

impl port::metrics::Scrape for Ctx {
    fn port(&self) -> &PortState {
        &self.port
    }

    fn client(&self) -> &Arc<client::Client> {
        &self.app.client
    }

    fn tcp_listeners(&self) -> Vec<Arc<TcpState>> {
        let l = &self.app.listeners;
        l.ports()
            .into_iter()
            .filter_map(|p| l.tcp(p).ok())
            .collect()
    }

    fn registry_pods(&self) -> Vec<(String, usize, usize)> {
        self.app.registry.pod_counts()
    }
}

impl ui::routes::UiSource for App {
    fn client(&self) -> &Arc<client::Client> {
        &self.client
    }

    fn label(&self) -> &str {
        &self.instance_label
    }
}

impl probes::routes::Identity for App {
    fn label(&self) -> &str {
        &self.instance_label
    }

    fn build(&self) -> &probes::BuildInfo {
        &self.cfg.build
    }

    fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    fn store_failure(&self) -> Option<String> {
        self.registry.store_failure()
    }
}
