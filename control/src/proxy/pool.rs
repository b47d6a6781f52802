//! The proxy's own pool of upstream HTTP/1.1 connections, for plain-http
//! targets. A target gets its upstream's number once, when it is validated
//! ([`Upstream::register`]); idle connections are then kept per thread in a
//! vector indexed by that number, so a forwarded request checks one out and
//! back in without hashing, locking or allocating (hyper-util's pool hashes
//! a key, locks and spawns a task per request). A connection goes back to
//! the pool of the thread that reads its response body to the end
//! ([`PooledBody`], which hands it back through [`checkin`]); closed ones
//! are dropped at checkout, and one idle past [`IDLE_TIMEOUT`] is closed by
//! its watchdog ([`crate::upstream_watch`]), which also times each request. https
//! upstreams and CONNECT keep going through the shared hyper-util client.

use std::cell::RefCell;
use std::time::Duration;

use http::header::{HeaderValue, HOST};
use http::{Request, Response};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;

use super::client::error_text;
use super::forward::SendError;
use crate::body::pooled::{Lent, PooledBody};
use crate::body::Body;
#[cfg(doc)]
use crate::upstream_watch::IDLE_TIMEOUT;

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

type Conn = Lent;

thread_local! {
    static IDLE: RefCell<Vec<Vec<Conn>>> = const { RefCell::new(Vec::new()) };
}

/// The most recently used open idle connection to `id` on this thread.
fn checkout(id: usize) -> Option<Conn> {
    IDLE.try_with(|p| {
        let mut p = p.borrow_mut();
        let list = p.get_mut(id)?;
        while let Some(c) = list.pop() {
            if !c.tx.is_closed() {
                c.watch.lent();
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
    c.watch.idle();
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

async fn connect(up: &Upstream) -> Result<Conn, SendError> {
    let addr = (up.host.as_str(), up.port);
    let stream =
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(SendError::Failed(format!(
                    "client error (Connect): tcp connect error: {e}"
                )))
            }
            Err(_) => {
                return Err(SendError::Failed(
                    "client error (Connect): tcp connect error: timed out".into(),
                ))
            }
        };
    // A proxy hop must not add Nagle delays.
    let _ = stream.set_nodelay(true);
    // Flattened writes: a request head (and a small body) goes out with one
    // plain write, without hyper's vectored-write bookkeeping.
    let (tx, conn) = hyper::client::conn::http1::Builder::new()
        .writev(false)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| SendError::Failed(format!("client error (Connect): {}", error_text(&e))))?;
    Ok(Conn {
        tx,
        watch: crate::upstream_watch::spawn(conn),
    })
}

/// Sends `req` (origin-form URI) to `up` over a pooled connection, or a new
/// one; a pooled connection that closed before taking the request is
/// replaced and the request sent again, as hyper-util's client does. The
/// response head must come within `timeout` (connecting included), timed by
/// the connection's watchdog.
pub async fn request(
    up: &Upstream,
    mut req: Request<Body>,
    timeout: Duration,
) -> Result<Response<Body>, SendError> {
    // One look-up: kept when the client sent one, else the upstream's.
    req.headers_mut()
        .entry(HOST)
        .or_insert_with(|| up.host_header.clone());
    let due = crate::upstream_watch::due_in(timeout);
    let failed = |e: &(dyn std::error::Error + 'static)| {
        SendError::Failed(format!("client error (SendRequest): {}", error_text(e)))
    };
    loop {
        let (mut c, fresh) = match checkout(up.id) {
            Some(c) => (c, false),
            // Boxed: once a connection, and inline it would grow every request's future.
            None => match Box::pin(tokio::time::timeout_at(
                crate::upstream_watch::instant(due),
                connect(up),
            ))
            .await
            {
                Ok(c) => (c?, true),
                Err(_) => return Err(SendError::Timeout(timeout)),
            },
        };
        // The watchdog closes the connection at the deadline, which ends
        // the waits below with an error that `disarm` tells from others.
        c.watch.arm(due);
        // A connection is checked in as its last body frame is read, a
        // moment before hyper wants the next request on it.
        if let Err(e) = c.tx.ready().await {
            if c.watch.disarm() {
                return Err(SendError::Timeout(timeout));
            }
            if fresh {
                return Err(failed(&e));
            }
            continue;
        }
        let sent = c.tx.try_send_request(req).await;
        if c.watch.disarm() {
            return Err(SendError::Timeout(timeout));
        }
        match sent {
            Ok(resp) => {
                let (parts, body) = resp.into_parts();
                return Ok(Response::from_parts(
                    parts,
                    Body::Pooled(PooledBody::new(body, up.id, c, checkin)),
                ));
            }
            Err(mut e) => match e.take_message() {
                Some(r) if !fresh => req = r,
                _ => return Err(failed(e.error())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn get() -> Request<Body> {
        let mut r = Request::new(Body::empty());
        *r.uri_mut() = http::Uri::from_static("/x");
        r
    }

    /// An upstream that answers every request head on a connection with `ok`.
    async fn answering() -> u16 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if s.write_all(ok).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        port
    }

    async fn read(resp: Response<Body>) -> Bytes {
        use http_body_util::BodyExt;
        resp.into_body().collect().await.unwrap().to_bytes()
    }

    /// The watchdog times a request that gets no answer (504's cause), and
    /// leaves alone a connection whose request was answered: it serves the
    /// next request after the deadline of the first has passed.
    #[tokio::test]
    async fn deadline_closes_a_silent_upstream_only() {
        let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let up = Upstream::register(&format!("http://{}", hole.local_addr().unwrap())).unwrap();
        let started = std::time::Instant::now();
        let r = request(&up, get(), Duration::from_millis(200)).await;
        assert!(matches!(r, Err(SendError::Timeout(_))), "{:?}", r.err());
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(5),
            "{took:?}"
        );

        let port = answering().await;
        let up = Upstream::register(&format!("http://127.0.0.1:{port}")).unwrap();
        // Deadlines with room for a slow machine; the sleep outlasts the first.
        let r = request(&up, get(), Duration::from_secs(1)).await.unwrap();
        assert_eq!(read(r).await, "ok");
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let c = checkout(up.id).expect("the answered connection went back to the pool");
        assert!(
            !c.tx.is_closed(),
            "closed past an answered request's deadline"
        );
        checkin(up.id, c);
        let r = request(&up, get(), Duration::from_secs(1)).await.unwrap();
        assert_eq!(read(r).await, "ok");
    }
}
