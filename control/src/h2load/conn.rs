//! HTTP/2 connections of one run: connecting (h2c with prior knowledge, or
//! TLS with ALPN h2), the handshake, and the [`Pool`] of shared connections
//! that replicas multiplex their streams over.

use std::time::{Duration, Instant};

use bytes::Bytes;
use goto_engine::{ErrorKind, ParseErrorKind, TlsErrorKind};
use h2::client::SendRequest;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use goto_engine::TlsTarget;

use super::target::H2Target;

/// Most replicas (concurrent streams) that share one connection.
pub const STREAMS_PER_CONNECTION: u32 = 100;

/// Flow-control windows: large enough that response bodies of a few MB do
/// not stall on window updates.
const STREAM_WINDOW: u32 = 1 << 20;
const CONNECTION_WINDOW: u32 = 8 << 20;

pub(crate) type Sender = SendRequest<Bytes>;

/// A live connection handed to a replica.
pub(crate) struct Lease {
    pub sender: Sender,
    /// Identifies the connection, so a replica only discards the one it used.
    pub id: u64,
    /// True when the connection was already open (it may have gone stale).
    pub reused: bool,
}

struct Live {
    sender: Sender,
    id: u64,
    last_used: Instant,
}

/// The run's connections: replica `i` uses slot `i % slots`, so each carries
/// at most [`STREAMS_PER_CONNECTION`] replicas.
pub(crate) struct Pool {
    slots: Vec<tokio::sync::Mutex<Option<Live>>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Pool {
    pub(crate) fn new(replicas: u32) -> Pool {
        let n = replicas.div_ceil(STREAMS_PER_CONNECTION).max(1);
        Pool {
            slots: (0..n).map(|_| tokio::sync::Mutex::new(None)).collect(),
            next_id: std::sync::atomic::AtomicU64::new(1),
        }
    }

    pub(crate) fn slot_for(&self, replica: u32) -> usize {
        replica as usize % self.slots.len()
    }

    /// The slot's connection, connecting first when there is none or it sat
    /// idle past the target's idle timeout. Replicas of a slot wait for one
    /// connect rather than each opening their own.
    pub(crate) async fn acquire(&self, slot: usize, target: &H2Target) -> Result<Lease, ErrorKind> {
        let Some(m) = self.slots.get(slot) else {
            return Err(ErrorKind::Closed);
        };
        let mut g = m.lock().await;
        let now = Instant::now();
        let idle = target.spec.idle_timeout;
        if let Some(live) = g.as_mut() {
            if idle.is_zero() || now.duration_since(live.last_used) <= idle {
                live.last_used = now;
                return Ok(Lease {
                    sender: live.sender.clone(),
                    id: live.id,
                    reused: true,
                });
            }
            *g = None;
        }
        let sender = connect(target).await?;
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *g = Some(Live {
            sender: sender.clone(),
            id,
            last_used: now,
        });
        Ok(Lease {
            sender,
            id,
            reused: false,
        })
    }

    /// Forgets connection `id` of `slot` (it failed), unless already replaced.
    pub(crate) async fn discard(&self, slot: usize, id: u64) {
        if let Some(m) = self.slots.get(slot) {
            let mut g = m.lock().await;
            if g.as_ref().is_some_and(|l| l.id == id) {
                *g = None;
            }
        }
    }

    /// Drops every connection; they close once their streams end.
    pub(crate) async fn close(&self) {
        for m in &self.slots {
            *m.lock().await = None;
        }
    }
}

/// Opens a connection to the target and performs the HTTP/2 handshake.
pub(crate) async fn connect(target: &H2Target) -> Result<Sender, ErrorKind> {
    let Some(addr) = target.addr else {
        return Err(ErrorKind::Resolve);
    };
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| ErrorKind::from_connect(&e))?;
    // Small request frames must not wait for Nagle's timer.
    let _ = tcp.set_nodelay(true);
    match &target.tls {
        None => handshake(tcp).await,
        Some(tls) => handshake(tls_connect(tcp, tls).await?).await,
    }
}

async fn tls_connect(
    tcp: TcpStream,
    tls: &TlsTarget,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ErrorKind> {
    let stream = TlsConnector::from(tls.config.clone())
        .connect(tls.server_name.clone(), tcp)
        .await
        .map_err(|e| tls_error(&e))?;
    // A server that picked another protocol (http/1.1) cannot speak h2 here;
    // one that picked none may still speak it with prior knowledge.
    match stream.get_ref().1.alpn_protocol() {
        Some(p) if p != b"h2" => Err(ErrorKind::Tls(TlsErrorKind::Protocol)),
        _ => Ok(stream),
    }
}

async fn handshake<T>(io: T) -> Result<Sender, ErrorKind>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = h2::client::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .handshake::<T, Bytes>(io)
        .await
        .map_err(|e| h2_error(&e))?;
    // The connection task ends when every sender and stream is gone, or the
    // peer closes; requests then see the error.
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("h2 connection ended: {e}");
        }
    });
    Ok(sender)
}

/// Classifies a TLS handshake failure as the engine does.
fn tls_error(e: &std::io::Error) -> ErrorKind {
    if let Some(r) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return ErrorKind::Tls(TlsErrorKind::from_rustls(r));
    }
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        return ErrorKind::Tls(TlsErrorKind::HandshakeEof);
    }
    ErrorKind::from_io(e)
}

/// Classifies an HTTP/2 failure into the engine's error kinds.
pub(crate) fn h2_error(e: &h2::Error) -> ErrorKind {
    if let Some(io) = e.get_io() {
        return ErrorKind::from_io(io);
    }
    if e.is_remote() || e.is_reset() {
        return ErrorKind::Reset;
    }
    match e.reason() {
        Some(h2::Reason::PROTOCOL_ERROR)
        | Some(h2::Reason::FRAME_SIZE_ERROR)
        | Some(h2::Reason::COMPRESSION_ERROR) => ErrorKind::Parse(ParseErrorKind::InvalidHead),
        _ => ErrorKind::Closed,
    }
}

/// Whether an error means the connection itself is unusable (rather than
/// one stream failing).
pub(crate) fn breaks_connection(e: &h2::Error) -> bool {
    e.is_io() || e.is_go_away() || e.reason().is_none()
}

/// `now + t`, or `None` for a zero (disabled) timeout.
pub(crate) fn deadline(now: Instant, t: Duration) -> Option<Instant> {
    if t.is_zero() {
        None
    } else {
        now.checked_add(t)
    }
}
