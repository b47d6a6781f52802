//! Opening an HTTP/2 connection on a worker: TCP through monoio, switched to
//! monoio's poll-style socket (tokio's I/O traits over the worker's own
//! io_uring or epoll driver, no copies), TLS with ALPN h2 through
//! tokio-rustls for https, then the h2 handshake. The connection's frame
//! loop runs as a task on the worker's runtime; streams share it through
//! the returned [`Sender`].

use std::net::SocketAddr;
use std::pin::pin;

use bytes::Bytes;
use h2::client::SendRequest;
use monoio::net::TcpStream;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

use crate::conn::{Fail, Watch};
use crate::error::{ErrorKind, ParseErrorKind, TlsErrorKind};
use crate::plan::TlsTarget;

/// The handle streams open requests with.
pub(crate) type Sender = SendRequest<Bytes>;

/// Flow-control windows: large enough that response bodies of a few MB do
/// not stall on window updates.
const STREAM_WINDOW: u32 = 1 << 20;
const CONNECTION_WINDOW: u32 = 8 << 20;

/// Connects to `addr` (TLS when `tls`), under `watch`, and starts the
/// connection's task.
pub(crate) async fn connect(
    addr: SocketAddr,
    tls: Option<&TlsTarget>,
    watch: &mut Watch<'_, '_>,
) -> Result<Sender, Fail> {
    let connect = pin!(TcpStream::connect_addr(addr));
    let tcp = match watch.race(connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(Fail::Error(ErrorKind::from_connect(&e))),
        Err(Fail::Error(ErrorKind::Timeout)) => return Err(Fail::Error(ErrorKind::ConnectTimeout)),
        Err(f) => return Err(f),
    };
    // Small request frames must not wait for Nagle's timer.
    let _ = tcp.set_nodelay(true);
    let io = tcp
        .try_into_poll_io()
        .map_err(|(e, _)| Fail::Error(ErrorKind::from_io(&e)))?;
    match tls {
        None => handshake(io, watch).await,
        // Boxed: the TLS handshake's future is large and runs once per
        // connection.
        Some(tls) => {
            let stream = Box::pin(tls_connect(io, tls, watch)).await?;
            handshake(stream, watch).await
        }
    }
}

async fn tls_connect<T>(
    io: T,
    tls: &TlsTarget,
    watch: &mut Watch<'_, '_>,
) -> Result<tokio_rustls::client::TlsStream<T>, Fail>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let connect = pin!(TlsConnector::from(tls.config.clone()).connect(tls.server_name.clone(), io));
    let stream = match watch.race(connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(Fail::Error(tls_error(&e))),
        Err(f) => return Err(f),
    };
    // A server that picked another protocol (http/1.1) cannot speak h2 here;
    // one that picked none may still speak it with prior knowledge.
    match stream.get_ref().1.alpn_protocol() {
        Some(p) if p != b"h2" => Err(Fail::Error(ErrorKind::Tls(TlsErrorKind::Protocol))),
        _ => Ok(stream),
    }
}

async fn handshake<T>(io: T, watch: &mut Watch<'_, '_>) -> Result<Sender, Fail>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let shake = pin!(h2::client::Builder::new()
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .enable_push(false)
        .handshake::<T, Bytes>(io));
    let (sender, connection) = match watch.race(shake).await {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => return Err(Fail::Error(h2_error(&e))),
        Err(f) => return Err(f),
    };
    // The connection's task ends when every sender and stream is gone (it
    // then says GOAWAY), or the peer closes; requests then see the error.
    monoio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("h2 connection ended: {e}");
        }
    });
    Ok(sender)
}

/// Classifies a TLS handshake failure as the HTTP/1.1 path does.
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
