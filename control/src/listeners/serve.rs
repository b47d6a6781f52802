//! Serving a listener: binding, the accept loop (plain or TLS), one hyper
//! connection per client, and the split of each request into an admin call
//! (answered from the route tables) or runtime traffic (the port's chaos
//! features and the catch-all echo).

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::conn_guard::{self, Clock, ConnTimeouts, Expired, First, GuardedIo, HeadBudget};
use super::port_prefix;
use super::tls::ServerTls;
use super::{Host, ListenError};
use crate::api::read_admin_body;
use crate::body::{Body, InBody};
use crate::chaos::faults::body::{is_abort, Abort};
use crate::chaos::tcp::{self, TcpState};
use crate::conn_cap::Slot;
use crate::port::{runtime, PortState};

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

/// Binds the port and spawns its accept loop; returns the close switch.
pub fn start<H: Host>(
    app: &Arc<H>,
    state: &Arc<PortState>,
    tls: Option<Arc<ServerTls>>,
) -> Result<watch::Sender<bool>, ListenError> {
    let listener = bind(state.port).map_err(|source| ListenError::Bind {
        port: state.port,
        source,
    })?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(accept_loop(app.clone(), state.clone(), listener, tls, rx));
    tracing::info!(port = state.port, "listener open");
    Ok(tx)
}

/// Binds a tcp listener's port and spawns its accept loop; returns the close switch.
pub fn start_tcp(state: &Arc<TcpState>) -> Result<watch::Sender<bool>, ListenError> {
    let listener = bind(state.port).map_err(|source| ListenError::Bind {
        port: state.port,
        source,
    })?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(tcp::accept_loop(state.clone(), listener, rx));
    tracing::info!(port = state.port, "tcp listener open");
    Ok(tx)
}

async fn accept_loop<H: Host>(
    app: Arc<H>,
    state: Arc<PortState>,
    listener: TcpListener,
    tls: Option<Arc<ServerTls>>,
    mut close: watch::Receiver<bool>,
) {
    let max = app.max_conns();
    let heads = Arc::new(HeadBudget::new(state.port, app.max_head_memory()));
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, remote)) => {
                    // At the cap the longest-idle connection makes room; with
                    // none idle the newcomer is closed at once: a flood of
                    // connections must not use up the descriptors the other
                    // listeners and the admin API need.
                    let Some(slot) = state.conns.admit(state.port, max, true) else {
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let remote = unmap(remote);
                    let (app, state, close) = (app.clone(), state.clone(), close.clone());
                    let conn = Conn { remote, slot, heads: heads.clone() };
                    match &tls {
                        None => {
                            tokio::spawn(serve_conn(app, state, stream, conn, close));
                        }
                        Some(tls) => {
                            let acceptor = tls.acceptor.clone();
                            tokio::spawn(async move {
                                // A client that never finishes its handshake
                                // must not hold a task and a socket forever.
                                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                                    Ok(Ok(s)) => serve_conn(app, state, s, conn, close).await,
                                    Ok(Err(e)) => tracing::debug!(port = state.port, %remote, "TLS handshake failed: {e}"),
                                    Err(_) => tracing::debug!(port = state.port, %remote, "TLS handshake timed out"),
                                }
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

/// What the accept loop hands a connection: its peer, its place under the
/// cap (given back when the connection ends) and the listener's budget for
/// unfinished heads.
struct Conn {
    remote: SocketAddr,
    slot: Slot,
    heads: Arc<HeadBudget>,
}

async fn serve_conn<H: Host, S>(
    app: Arc<H>,
    state: Arc<PortState>,
    stream: S,
    conn: Conn,
    mut close: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Conn {
        remote,
        mut slot,
        heads,
    } = conn;
    let builder = app.http().clone();
    let timeouts = *app.timeouts();
    let port = state.port;
    let clock = Arc::new(Clock::with_head_budget(heads));
    // Listed after the TLS handshake: one under way is not idle.
    let evicted = slot.evictable(clock.clone());
    let io = GuardedIo::new(stream, clock.clone());
    let svc_clock = clock.clone();
    // One shared value per connection, so a request clones one Arc; its
    // `goaway` lets a gRPC GOAWAY fault shut the connection down gracefully.
    let mut remote_text = String::with_capacity(24);
    crate::textfmt::push_socket_addr(&mut remote_text, remote);
    let conn = Arc::new(ConnCtx {
        app,
        state,
        goaway: tokio::sync::Notify::new(),
        remote_text,
    });
    let svc_conn = conn.clone();
    let svc = service_fn(move |req| {
        let c = svc_conn.clone();
        let in_flight = svc_clock.request_started();
        async move {
            let resp = handle(&c.app, &c.state, &c.remote_text, req, &c.goaway).await;
            drop(in_flight);
            // A close fault: erring the service is how hyper drops the
            // connection (HTTP/1.1) or resets the stream (HTTP/2) unanswered.
            if is_abort(&resp) {
                return Err(Abort);
            }
            Ok(resp)
        }
    });
    let ctx = conn;
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    // Polled only when they fire, not on every wake of the connection.
    let stop = std::pin::pin!(async {
        tokio::select! {
            why = conn_guard::watch(clock, timeouts) => Some(why),
            // The cap closes it like an idle one (it was idle when chosen).
            _ = evicted.notified() => Some(Expired::Idle),
            _ = close.changed() => None,
            _ = ctx.goaway.notified() => None,
        }
    });
    match conn_guard::first_of(conn.as_mut(), stop).await {
        First::Main(_) => {}
        First::Side(Some(Expired::Header)) => {
            // Mid-head (slowloris) or silent since the connect: just close.
            tracing::debug!(port, %remote, "closing a connection: no complete request head within the header timeout");
        }
        First::Side(Some(Expired::Idle)) => {
            tracing::debug!(port, %remote, "closing an idle connection");
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
        }
        First::Side(None) => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}

/// What every request of one connection shares.
struct ConnCtx<H> {
    app: Arc<H>,
    state: Arc<PortState>,
    goaway: tokio::sync::Notify,
    /// The peer's address as echoes write it, rendered once per connection.
    remote_text: String,
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

/// Answers one request on `port`: an admin call when a route table owns its
/// path, runtime traffic otherwise.
pub async fn handle<H: Host>(
    app: &Arc<H>,
    port: &Arc<PortState>,
    remote_text: &str,
    req: Request<Incoming>,
    goaway: &tokio::sync::Notify,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    // gRPC calls go to their area: HTTP traffic pays one header look-up.
    if crate::grpc::is_grpc(&parts.headers) {
        return Box::pin(grpc(app, port, remote_text, parts, body, goaway)).await;
    }
    let security = app.security();
    // Runtime traffic pays for the table look-up only.
    let admin_path = app.is_admin(parts.uri.path());
    let probe = admin_path && crate::security::is_probe(&parts.method, parts.uri.path());
    if !admin_path || !(probe || security.serves_admin(port.port)) {
        // The admin listener reaches the others' state under `/port/{port}/`
        // (one comparison for runtime traffic without `--admin-port`).
        if security.admin_port == Some(port.port)
            && !admin_path
            && parts.uri.path().starts_with(port_prefix::PREFIX)
        {
            return Box::pin(admin_of_port(app, port, parts, body)).await;
        }
        let instance = runtime::Instance {
            reqlog: app.reqlog(),
            body_timeout: app.timeouts().body,
            remote_text,
        };
        return runtime::serve(instance, port, parts, InBody::Stream(body)).await;
    }
    // Boxed: the admin path's future is large, and inline it would make
    // every runtime request's future as large (moved by memcpy each time).
    Box::pin(admin(app, port, port, parts, body, probe)).await
}

/// An admin call on the admin listener under `/port/{port}/`: checked as
/// any admin call, then answered with that port's state.
async fn admin_of_port<H: Host>(
    app: &Arc<H>,
    port: &Arc<PortState>,
    mut parts: http::request::Parts,
    body: Incoming,
) -> Response<Body> {
    match port_prefix::resolve(&**app, &parts.uri) {
        Ok((target, uri)) => {
            parts.uri = uri;
            admin(app, port, &target, parts, body, false).await
        }
        Err(e) => {
            // The token still guards what the reason would tell.
            let e = match app.security().check(&parts.method, &parts.headers) {
                Ok(()) => e,
                Err(denied) => denied,
            };
            let mut r = e.into_response();
            port.stamp(r.headers_mut());
            r
        }
    }
}

/// One gRPC call, answered by the gRPC area with this listener's identity.
async fn grpc<H: Host>(
    app: &Arc<H>,
    port: &Arc<PortState>,
    remote_text: &str,
    parts: http::request::Parts,
    body: Incoming,
    goaway: &tokio::sync::Notify,
) -> Response<Body> {
    let who = crate::grpc::Identity {
        port: port.port,
        label: port.label_text(),
        host: app.host().goto_host(port.port),
        remote: remote_text.to_string(),
        reqlog: app.reqlog().cloned().filter(|_| port.logs_on()),
        fault_headers: port.faults.active() && port.faults.headers_on(),
        body_timeout: app.timeouts().body,
    };
    // Tracked headers count gRPC metadata too (a call is a 200 on the wire).
    if port.tracking.active() {
        port.tracking.record(&parts.headers, None, 200);
    }
    // A proxy target that matches the call forwards it (h2 end to end).
    let proxied = if port.proxy.active() {
        port.proxy
            .find(parts.uri.path(), parts.uri.query(), &parts.headers)
    } else {
        None
    };
    let mut resp = match proxied {
        Some((target, m)) => {
            let log = who
                .reqlog
                .as_ref()
                .map(|l| l.begin(port.port, remote_text, &parts));
            let r = crate::proxy::grpc::forward(&port.proxy, target, m, &parts, body).await;
            if let Some(l) = log {
                l.finish(r.status().as_u16(), None);
            }
            r
        }
        None => crate::grpc::serve(&port.grpc, who, parts, body, goaway).await,
    };
    port.stamp(resp.headers_mut());
    resp
}

/// One admin call: checked by the admin security, answered from the route
/// tables with `target`'s state (the listener it arrived on, `port`, unless
/// it named another under `/port/{port}/`).
async fn admin<H: Host>(
    app: &Arc<H>,
    port: &Arc<PortState>,
    target: &Arc<PortState>,
    parts: http::request::Parts,
    body: Incoming,
    probe: bool,
) -> Response<Body> {
    let security = app.security();
    // Probes, and the UI page and assets (no data in them), answer
    // whatever the token says.
    let checked = if probe || crate::ui::is_asset(&parts.method, parts.uri.path()) {
        Ok(())
    } else {
        security.check(&parts.method, &parts.headers)
    };
    if let Err(e) = checked {
        let mut r = e.into_response();
        port.stamp(r.headers_mut());
        return r;
    }
    let mut resp = match read_admin_body(body, app.timeouts().body).await {
        Ok(body) => {
            app.admin(
                target,
                &parts.method,
                parts.uri.path(),
                parts.uri.query(),
                &parts.headers,
                &body,
            )
            .await
        }
        Err(err) => err.into_response(),
    };
    port.stamp(resp.headers_mut());
    resp
}
