//! The proxy's own pool of upstream HTTP/1.1 connections, for plain-http
//! targets. A target gets its upstream's number once, when it is validated
//! ([`Upstream::register`]); idle connections are then kept per thread in a
//! vector indexed by that number, so a forwarded request checks one out and
//! back in without hashing, locking or allocating (hyper-util's pool hashes
//! a key, locks and spawns a task per request). A connection goes back to
//! the pool of the thread that reads its response body to the end
//! ([`PooledBody`], which hands it back through [`checkin`]); closed ones are dropped at checkout, and one idle past
//! [`IDLE_TIMEOUT`] is closed by its own task. https upstreams and CONNECT
//! keep going through the shared hyper-util client.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use http::header::{HeaderValue, HOST};
use http::{Request, Response};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::time::{Instant, Sleep};

use super::client::error_text;
use super::forward::SendError;
use crate::body::pooled::{Lent, PooledBody};
use crate::body::Body;

/// Idle connections are closed after this long (hyper-util's pool's setting here).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Distinct upstream addresses numbered; targets past it use the shared client.
const MAX_UPSTREAMS: usize = 4096;
/// Idle connections kept per upstream and thread; more are closed.
const MAX_IDLE: usize = 1024;

/// A plain-http upstream: its address and its number in the pools.
#[derive(Debug)]
pub struct Upstream {
    id: usize,
    host: String,
    port: u16,
    /// What hyper-util's client would send as `Host`: the port only when not 80.
    host_header: HeaderValue,
}

/// Every address numbered so far (targets with one address share its pool).
static ADDRS: Mutex<Vec<(String, u16)>> = Mutex::new(Vec::new());

impl Upstream {
    /// The upstream of an `http://` origin; `None` for https (or when too
    /// many addresses are numbered already): those use the shared client.
    pub fn register(origin: &str) -> Option<Upstream> {
        let uri: http::Uri = origin.parse().ok()?;
        if uri.scheme_str() != Some("http") {
            return None;
        }
        let host = uri.host()?;
        let host_header = match uri.port_u16() {
            Some(p) if p != 80 => HeaderValue::from_str(&format!("{host}:{p}")),
            _ => HeaderValue::from_str(host),
        }
        .ok()?;
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(80);
        let mut addrs = ADDRS.lock();
        let id = match addrs.iter().position(|(h, p)| *h == bare && *p == port) {
            Some(i) => i,
            None if addrs.len() < MAX_UPSTREAMS => {
                addrs.push((bare.clone(), port));
                addrs.len() - 1
            }
            None => return None,
        };
        Some(Upstream {
            id,
            host: bare,
            port,
            host_header,
        })
    }
}

/// One connection's sender and when it went idle (ms since [`epoch`] + 1; 0 in use).
type Conn = Lent;

thread_local! {
    static IDLE: RefCell<Vec<Vec<Conn>>> = const { RefCell::new(Vec::new()) };
}

fn epoch() -> std::time::Instant {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    *START.get_or_init(std::time::Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

/// The most recently used open idle connection to `id` on this thread.
fn checkout(id: usize) -> Option<Conn> {
    IDLE.try_with(|p| {
        let mut p = p.borrow_mut();
        let list = p.get_mut(id)?;
        while let Some(c) = list.pop() {
            if !c.tx.is_closed() {
                c.idle_since.store(0, Ordering::Relaxed);
                return Some(c);
            }
        }
        None
    })
    .ok()
    .flatten()
}

fn checkin(id: usize, c: Conn) {
    if c.tx.is_closed() {
        return;
    }
    c.idle_since.store(now_ms(), Ordering::Relaxed);
    let _ = IDLE.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() <= id {
            p.resize_with(id + 1, Vec::new);
        }
        if p[id].len() < MAX_IDLE {
            p[id].push(c);
        }
    });
}

async fn connect(up: &Upstream, deadline: Instant) -> Result<Conn, String> {
    let addr = (up.host.as_str(), up.port);
    let stream =
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(format!("client error (Connect): tcp connect error: {e}")),
            Err(_) => return Err("client error (Connect): tcp connect error: timed out".into()),
        };
    // A proxy hop must not add Nagle delays.
    let _ = stream.set_nodelay(true);
    let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("client error (Connect): {}", error_text(&e)))?;
    let idle_since = Arc::new(AtomicU64::new(0));
    let watch = idle_since.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = conn => {}
            _ = idle_watch(watch) => {}
        }
    });
    Ok(Conn {
        tx,
        idle_since,
        deadline: Box::pin(tokio::time::sleep_until(deadline)),
    })
}

/// Ends when the connection has sat idle in a pool for [`IDLE_TIMEOUT`].
async fn idle_watch(idle_since: Arc<AtomicU64>) {
    let limit = IDLE_TIMEOUT.as_millis() as u64;
    loop {
        tokio::time::sleep(IDLE_TIMEOUT).await;
        let since = idle_since.load(Ordering::Relaxed);
        if since != 0 && now_ms().saturating_sub(since) >= limit {
            return;
        }
    }
}

/// Runs `f` until `deadline` passes (`None` then); `f` is polled first, as
/// `tokio::time::timeout` does.
async fn until<F: Future>(mut deadline: Pin<&mut Sleep>, f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        deadline.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// Sends `req` (origin-form URI) to `up` over a pooled connection, or a new
/// one; a pooled connection that closed before taking the request is
/// replaced and the request sent again, as hyper-util's client does. The
/// response head must come within `timeout` (connecting included), timed by
/// the connection's own timer.
pub async fn request(
    up: &Upstream,
    mut req: Request<Body>,
    timeout: Duration,
) -> Result<Response<Body>, SendError> {
    if !req.headers().contains_key(HOST) {
        req.headers_mut().insert(HOST, up.host_header.clone());
    }
    let deadline = Instant::now() + timeout;
    loop {
        let (mut c, fresh) = match checkout(up.id) {
            Some(c) => (c, false),
            // Boxed: once a connection, and inline it would grow every request's future.
            None => {
                match Box::pin(tokio::time::timeout_at(deadline, connect(up, deadline))).await {
                    Ok(c) => (c.map_err(SendError::Failed)?, true),
                    Err(_) => return Err(SendError::Timeout(timeout)),
                }
            }
        };
        c.deadline.as_mut().reset(deadline);
        let Lent {
            tx,
            deadline: timer,
            ..
        } = &mut c;
        // A connection is checked in as its last body frame is read, a
        // moment before hyper wants the next request on it. Polled by hand
        // (not an async block holding `req`): the request is not moved again.
        let ready = std::future::poll_fn(|cx| match tx.poll_ready(cx) {
            Poll::Ready(r) => Poll::Ready(Some(r)),
            Poll::Pending => timer.as_mut().poll(cx).map(|()| None),
        })
        .await;
        match ready {
            // Dropping the connection mid-request closes it, as the timeout did.
            None => return Err(SendError::Timeout(timeout)),
            Some(Err(e)) if fresh => {
                return Err(SendError::Failed(format!(
                    "client error (SendRequest): {}",
                    error_text(&e)
                )))
            }
            Some(Err(_)) => continue,
            Some(Ok(())) => {}
        }
        match until(timer.as_mut(), tx.try_send_request(req)).await {
            None => return Err(SendError::Timeout(timeout)),
            Some(Ok(resp)) => {
                let (parts, body) = resp.into_parts();
                return Ok(Response::from_parts(
                    parts,
                    Body::Pooled(PooledBody::new(body, up.id, c, checkin)),
                ));
            }
            Some(Err(mut e)) => match e.take_message() {
                Some(r) if !fresh => req = r,
                _ => {
                    return Err(SendError::Failed(format!(
                        "client error (SendRequest): {}",
                        error_text(e.error())
                    )))
                }
            },
        }
    }
}
