//! Listeners: the ports this instance serves, each with its own state. Ports
//! can be added, closed (connections refused), reopened and removed at run time.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::Admin;
use crate::body::{json, ok};
use crate::conn_guard::{self, Clock, ConnTimeouts, Expired, GuardedIo};
use crate::error::{ApiError, ApiResult};
use crate::listener_tls::ServerTls;
use crate::port::{Label, PortState};
use crate::{router, App};

struct Entry {
    state: Arc<PortState>,
    protocol: String,
    startup: bool,
    /// `https` listeners: the acceptor, kept across close and reopen.
    tls: Option<Arc<ServerTls>>,
    /// Present while open; sending `true` closes the listener and its connections.
    close: Option<watch::Sender<bool>>,
}

#[derive(Default)]
pub struct Listeners {
    inner: Mutex<BTreeMap<u16, Entry>>,
}

#[derive(Serialize)]
struct ListenerView {
    port: u16,
    protocol: String,
    label: String,
    open: bool,
    startup: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddListener {
    port: u16,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    open: Option<bool>,
    /// `https`: PEM certificate chain and key; a self-signed certificate
    /// for this host is made when both are absent.
    #[serde(default)]
    cert: Option<String>,
    #[serde(default)]
    key: Option<String>,
}

/// How an added listener serves.
pub struct ListenerSpec<'a> {
    pub port: u16,
    pub protocol: &'a str,
    pub label: Option<&'a str>,
    pub open: bool,
    pub cert: Option<&'a str>,
    pub key: Option<&'a str>,
}

/// Binds `[::]:port` dual-stack (falling back to `0.0.0.0:port`).
fn bind(port: u16) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let v6 = || -> std::io::Result<Socket> {
        let s = Socket::new(Domain::IPV6, Type::STREAM, None)?;
        s.set_only_v6(false)?;
        s.set_reuse_address(true)?;
        s.bind(&SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)).into())?;
        Ok(s)
    };
    let sock = match v6() {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => return Err(e),
        Err(_) => {
            let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
            s.set_reuse_address(true)?;
            s.bind(&SocketAddr::from(([0, 0, 0, 0], port)).into())?;
            s
        }
    };
    sock.listen(4096)?;
    sock.set_nonblocking(true)?;
    TcpListener::from_std(sock.into())
}

impl Listeners {
    pub fn get(&self, port: u16) -> Option<Arc<PortState>> {
        self.inner.lock().get(&port).map(|e| e.state.clone())
    }

    pub fn ports(&self) -> Vec<u16> {
        self.inner.lock().keys().copied().collect()
    }

    /// Adds a plain listener and starts serving it (the startup port).
    pub fn add_startup(&self, app: &Arc<App>, port: u16) -> Result<(), ApiError> {
        let spec = ListenerSpec {
            port,
            protocol: "http",
            label: None,
            open: true,
            cert: None,
            key: None,
        };
        self.add(app, &spec, true)
    }

    /// Adds a listener and (unless `open` is false) starts serving it.
    pub fn add(
        &self,
        app: &Arc<App>,
        spec: &ListenerSpec<'_>,
        startup: bool,
    ) -> Result<(), ApiError> {
        let (port, protocol, label, open) = (spec.port, spec.protocol, spec.label, spec.open);
        if port == 0 {
            return Err(ApiError::bad("port must be 1-65535"));
        }
        let tls = match (protocol, spec.cert, spec.key) {
            ("http", None, None) => None,
            ("http", _, _) => {
                return Err(ApiError::bad(
                    "cert and key are for https listeners (protocol \"https\")",
                ))
            }
            ("https", None, None) => Some(Arc::new(
                ServerTls::self_signed(&app.host).map_err(ApiError::BadRequest)?,
            )),
            ("https", Some(c), Some(k)) => Some(Arc::new(
                ServerTls::from_pem(c, k).map_err(ApiError::BadRequest)?,
            )),
            ("https", _, _) => {
                return Err(ApiError::bad(
                    "an https listener needs both cert and key (PEM), or neither for a self-signed one",
                ))
            }
            _ => {
                return Err(ApiError::bad(format!(
                    "unsupported listener protocol {protocol:?}: \"http\" (HTTP/1.1 and h2c) or \"https\" (TLS with HTTP/1.1 and h2)"
                )))
            }
        };
        // An empty label would send an empty Via-Goto: treat it as unset.
        let label = label.filter(|l| !l.trim().is_empty());
        let label =
            Label::new(label.unwrap_or(&app.instance_label)).map_err(ApiError::BadRequest)?;
        let mut inner = self.inner.lock();
        if inner.contains_key(&port) {
            return Err(ApiError::Conflict(format!(
                "listener {port} already exists"
            )));
        }
        let goto_host = app.host.goto_host(port);
        let state = Arc::new(PortState::new(
            port,
            label,
            &goto_host,
            app.cfg.request_logs,
        ));
        let close = if open {
            Some(start(app, &state, tls.clone())?)
        } else {
            None
        };
        inner.insert(
            port,
            Entry {
                state,
                protocol: protocol.to_string(),
                startup,
                tls,
                close,
            },
        );
        Ok(())
    }

    pub fn open(&self, app: &Arc<App>, port: u16) -> Result<bool, ApiError> {
        let mut inner = self.inner.lock();
        let e = inner
            .get_mut(&port)
            .ok_or_else(|| ApiError::NotFound(format!("no listener on port {port}")))?;
        if e.close.is_some() {
            return Ok(false);
        }
        e.close = Some(start(app, &e.state, e.tls.clone())?);
        Ok(true)
    }

    pub fn close(&self, port: u16) -> Result<bool, ApiError> {
        let mut inner = self.inner.lock();
        let e = inner
            .get_mut(&port)
            .ok_or_else(|| ApiError::NotFound(format!("no listener on port {port}")))?;
        // The startup port is the control port of last resort: closing it
        // could leave no way to reach the API (reopen needs a listener).
        if e.startup {
            return Err(ApiError::bad(format!(
                "cannot close the startup listener {port}"
            )));
        }
        Ok(match e.close.take() {
            Some(tx) => {
                let _ = tx.send(true);
                true
            }
            None => false,
        })
    }

    pub fn remove(&self, port: u16) -> Result<(), ApiError> {
        let mut inner = self.inner.lock();
        match inner.get(&port) {
            None => return Err(ApiError::NotFound(format!("no listener on port {port}"))),
            Some(e) if e.startup => {
                return Err(ApiError::bad(format!(
                    "cannot remove the startup listener {port}"
                )))
            }
            Some(_) => {}
        }
        if let Some(e) = inner.remove(&port) {
            if let Some(tx) = e.close {
                let _ = tx.send(true);
            }
        }
        Ok(())
    }

    /// The certificate (PEM) an https listener presents.
    fn cert_pem(&self, port: u16) -> Result<String, ApiError> {
        let inner = self.inner.lock();
        let e = inner
            .get(&port)
            .ok_or_else(|| ApiError::NotFound(format!("no listener on port {port}")))?;
        e.tls
            .as_ref()
            .map(|t| t.cert_pem.clone())
            .ok_or_else(|| ApiError::NotFound(format!("listener {port} is not https")))
    }

    /// Closes every listener (shutdown).
    pub fn close_all(&self) {
        for e in self.inner.lock().values_mut() {
            if let Some(tx) = e.close.take() {
                let _ = tx.send(true);
            }
        }
    }

    fn view(&self) -> BTreeMap<u16, ListenerView> {
        self.inner
            .lock()
            .iter()
            .map(|(p, e)| {
                (
                    *p,
                    ListenerView {
                        port: *p,
                        protocol: e.protocol.clone(),
                        label: e.state.label_text(),
                        open: e.close.is_some(),
                        startup: e.startup,
                    },
                )
            })
            .collect()
    }
}

/// Binds the port and spawns its accept loop; returns the close switch.
fn start(
    app: &Arc<App>,
    state: &Arc<PortState>,
    tls: Option<Arc<ServerTls>>,
) -> Result<watch::Sender<bool>, ApiError> {
    let listener = bind(state.port)
        .map_err(|e| ApiError::bad(format!("cannot listen on port {}: {e}", state.port)))?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(accept_loop(app.clone(), state.clone(), listener, tls, rx));
    tracing::info!(port = state.port, "listener open");
    Ok(tx)
}

async fn accept_loop(
    app: Arc<App>,
    state: Arc<PortState>,
    listener: TcpListener,
    tls: Option<Arc<ServerTls>>,
    mut close: watch::Receiver<bool>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    let max = app.cfg.max_conns;
    let mut at_limit = false;
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, remote)) => {
                    // Past the cap the connection is closed at once: a flood
                    // of idle connections must not use up the descriptors the
                    // other listeners and the admin API need.
                    if open.load(Ordering::Acquire) >= max {
                        if !at_limit {
                            at_limit = true;
                            tracing::warn!(port = state.port, max, "connection limit reached: new connections are closed until some end (--max-conns)");
                        }
                        drop(stream);
                        continue;
                    }
                    at_limit = false;
                    let _ = stream.set_nodelay(true);
                    let remote = unmap(remote);
                    let counted = OpenConn::new(&open);
                    let (app, state, close) = (app.clone(), state.clone(), close.clone());
                    match &tls {
                        None => {
                            tokio::spawn(async move {
                                serve_conn(app, state, stream, remote, close).await;
                                drop(counted);
                            });
                        }
                        Some(tls) => {
                            let acceptor = tls.acceptor.clone();
                            tokio::spawn(async move {
                                // A client that never finishes its handshake
                                // must not hold a task and a socket forever.
                                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                                    Ok(Ok(s)) => serve_conn(app, state, s, remote, close).await,
                                    Ok(Err(e)) => tracing::debug!(port = state.port, %remote, "TLS handshake failed: {e}"),
                                    Err(_) => tracing::debug!(port = state.port, %remote, "TLS handshake timed out"),
                                }
                                drop(counted);
                            });
                        }
                    }
                }
                Err(e) => {
                    // Out of descriptors or similar: back off instead of spinning.
                    tracing::warn!(port = state.port, "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            _ = close.changed() => break,
        }
    }
    tracing::info!(port = state.port, "listener closed");
}

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One open connection of a listener, counted until dropped.
struct OpenConn(Arc<AtomicUsize>);

impl OpenConn {
    fn new(open: &Arc<AtomicUsize>) -> OpenConn {
        open.fetch_add(1, Ordering::AcqRel);
        OpenConn(open.clone())
    }
}

impl Drop for OpenConn {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn serve_conn<S>(
    app: Arc<App>,
    state: Arc<PortState>,
    stream: S,
    remote: SocketAddr,
    mut close: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let builder = app.http.clone();
    let timeouts = app.cfg.timeouts;
    let port = state.port;
    let clock = Arc::new(Clock::default());
    let io = GuardedIo::new(stream, clock.clone());
    let svc_clock = clock.clone();
    let svc = service_fn(move |req| {
        let app = app.clone();
        let state = state.clone();
        let in_flight = svc_clock.request_started();
        async move {
            let resp = router::handle(&app, &state, remote, req).await;
            drop(in_flight);
            Ok::<_, Infallible>(resp)
        }
    });
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        why = conn_guard::watch(clock, timeouts) => match why {
            Expired::Header => {
                // Mid-head (slowloris) or silent since the connect: just close.
                tracing::debug!(port, %remote, "closing a connection: no complete request head within the header timeout");
            }
            Expired::Idle => {
                tracing::debug!(port, %remote, "closing an idle connection");
                conn.as_mut().graceful_shutdown();
                let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
            }
        },
        _ = close.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}

/// Shows IPv4 clients of the dual-stack socket as plain IPv4 addresses.
fn unmap(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::from((v4, v6.port())),
            None => a,
        },
        v4 => v4,
    }
}

/// The connection builder of every listener. hyper's own HTTP/1 header
/// timeout stays off: [`conn_guard`] times heads and idle connections of
/// both protocols; the timer drives HTTP/2 keep-alive pings.
pub fn new_http_builder(
    t: &ConnTimeouts,
) -> hyper_util::server::conn::auto::Builder<TokioExecutor> {
    let mut b = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    b.http1().timer(TokioTimer::new()).header_read_timeout(None);
    b.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(t.h2_ping)
        .keep_alive_timeout(t.h2_ping);
    b
}

/// `/listeners...` and `/label...` admin routes.
pub async fn route(a: &Admin<'_>) -> Option<ApiResult> {
    let ls = &a.app.listeners;
    Some(match a.segs {
        ["listeners"] if a.is_get() => Ok(json(&ls.view())),
        ["listeners", port, "cert"] if a.is_get() => port
            .parse::<u16>()
            .map_err(|_| ApiError::bad(format!("invalid port {port:?}")))
            .and_then(|p| ls.cert_pem(p))
            .map(|pem| crate::body::text(http::StatusCode::OK, pem)),
        ["listeners", "add"] if a.is_mutation() => (|| {
            let req: AddListener = a.json()?;
            let protocol = req
                .protocol
                .as_deref()
                .unwrap_or("http")
                .to_ascii_lowercase();
            let spec = ListenerSpec {
                port: req.port,
                protocol: &protocol,
                label: req.label.as_deref(),
                open: req.open.unwrap_or(true),
                cert: req.cert.as_deref(),
                key: req.key.as_deref(),
            };
            ls.add(a.app, &spec, false)?;
            Ok(ok(format!(
                "Listener {} added and {}",
                req.port,
                if req.open.unwrap_or(true) {
                    "opened"
                } else {
                    "closed"
                }
            )))
        })(),
        ["listeners", port, action] if a.is_mutation() => (|| {
            let port: u16 = port
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| ApiError::bad(format!("invalid port {port:?}")))?;
            match *action {
                "remove" => ls
                    .remove(port)
                    .map(|_| ok(format!("Listener {port} removed"))),
                "open" => ls.open(a.app, port).map(|changed| {
                    ok(if changed {
                        format!("Listener {port} opened")
                    } else {
                        format!("Listener {port} already open")
                    })
                }),
                "close" => ls.close(port).map(|changed| {
                    ok(if changed {
                        format!("Listener {port} closed")
                    } else {
                        format!("Listener {port} already closed")
                    })
                }),
                other => Err(ApiError::NotFound(format!(
                    "unknown listener action {other:?}"
                ))),
            }
        })(),
        ["label"] if a.is_get() => Ok(crate::body::ok(a.port.label_text())),
        ["label", "set", label] if a.is_mutation() => match Label::new(label) {
            Ok(l) => {
                *a.port.label.write() = l;
                Ok(ok(format!("Label set to: {label}")))
            }
            Err(e) => Err(ApiError::BadRequest(e)),
        },
        ["label", "clear"] if a.is_mutation() => match Label::new(&a.app.instance_label) {
            Ok(l) => {
                *a.port.label.write() = l;
                Ok(ok(format!("Label reset to: {}", a.app.instance_label)))
            }
            Err(e) => Err(ApiError::BadRequest(e)),
        },
        _ => return None,
    })
}
