//! A replica's connection: TCP, Unix or rustls over monoio, with owned
//! buffers handed to the kernel and back (the rent model). `deadline` holds
//! the timer and request watch every socket operation runs under; `tls` the
//! rustls stream.
//!
//! Plain reads and writes are not cancelable futures: when a watch expires,
//! the operation is dropped, which (with monoio's `async-cancel` feature)
//! submits an io_uring cancel at once; monoio keeps the buffer until the
//! kernel completes the cancelled operation and then frees it, so nothing
//! leaks, and the connection is closed after a failure anyway. The caller
//! gets a fresh buffer, the one allocation on that rare path. TLS record I/O
//! keeps monoio's cancelable operations, whose buffers come back on cancel.

mod deadline;
mod tls;

pub(crate) use deadline::{connect_deadline, timeout_at, Alarm, Watch};
pub(crate) use tls::TlsStream;

use std::net::SocketAddr;
use std::pin::pin;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::{TcpStream, UnixStream};

use crate::error::ErrorKind;
use crate::plan::TlsTarget;
use crate::resolve::Dest;
use crate::stats::Attempted;

/// Capacity of the read buffer handed back when a read had to be dropped.
pub(crate) const FRESH_READ_BUF: usize = 512;

/// Why an operation did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    /// Stop was requested or the run's duration ended: not counted.
    Aborted,
    /// A transport error, counted with status 0.
    Error(ErrorKind),
}

impl From<ErrorKind> for Fail {
    fn from(k: ErrorKind) -> Self {
        Fail::Error(k)
    }
}

/// An established connection.
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
    /// A Unix domain socket (plain HTTP only).
    Unix(UnixStream),
}

impl Transport {
    /// Connects to `dest` (and handshakes for https) under `watch`'s current
    /// deadline. Of several addresses, `start` is tried first and the others
    /// in turn after a connect error (not after a timeout or a stop), so a
    /// name listing an address nobody listens on still reaches the others.
    pub(crate) async fn connect_dest(
        dest: &Dest,
        tls: Option<&TlsTarget>,
        watch: &mut Watch<'_, '_>,
    ) -> Result<Transport, Fail> {
        match dest {
            Dest::Unix(path) => {
                if tls.is_some() {
                    return Err(Fail::Error(ErrorKind::Connect(libc::EPROTONOSUPPORT)));
                }
                let connect = pin!(UnixStream::connect(path.as_path()));
                match watch.race(connect).await {
                    Ok(Ok(s)) => Ok(Transport::Unix(s)),
                    Ok(Err(e)) => Err(Fail::Error(ErrorKind::from_connect(&e))),
                    Err(Fail::Error(ErrorKind::Timeout)) => {
                        Err(Fail::Error(ErrorKind::ConnectTimeout))
                    }
                    Err(f) => Err(f),
                }
            }
            Dest::Tcp { addrs, start } => {
                let mut last = Fail::Error(ErrorKind::Resolve);
                for i in 0..addrs.len() {
                    let addr = addrs[(start + i) % addrs.len()];
                    match Transport::connect(addr, tls, watch).await {
                        Ok(t) => return Ok(t),
                        Err(f @ Fail::Error(ErrorKind::ConnectRefused | ErrorKind::Connect(_))) => {
                            last = f
                        }
                        Err(f) => return Err(f),
                    }
                }
                Err(last)
            }
        }
    }

    /// Connects (and handshakes for https) under `watch`'s current deadline.
    pub(crate) async fn connect(
        addr: SocketAddr,
        tls: Option<&TlsTarget>,
        watch: &mut Watch<'_, '_>,
    ) -> Result<Transport, Fail> {
        // Connect has no buffer to lose: on expiry the operation is dropped
        // and monoio cancels it in the kernel.
        let connect = pin!(TcpStream::connect_addr(addr));
        let tcp = match watch.race(connect).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(Fail::Error(ErrorKind::from_connect(&e))),
            Err(Fail::Error(ErrorKind::Timeout)) => {
                return Err(Fail::Error(ErrorKind::ConnectTimeout))
            }
            Err(f) => return Err(f),
        };
        // Requests are written whole; no reason to wait for more bytes.
        let _ = tcp.set_nodelay(true);
        match tls {
            None => Ok(Transport::Plain(tcp)),
            // Boxed: the handshake's future is large and runs once per
            // connection; inline, it would grow every replica's task.
            Some(tls) => Box::pin(TlsStream::connect(tcp, tls, watch))
                .await
                .map(Transport::Tls),
        }
    }

    /// Writes all of `buf`; the buffer comes back unless a timeout or stop
    /// interrupted a plain write (see [`write_all_dropping`]).
    pub(crate) async fn write_all(
        &mut self,
        buf: Vec<u8>,
        watch: &mut Watch<'_, '_>,
    ) -> (Result<(), Fail>, Option<Vec<u8>>) {
        match self {
            Transport::Plain(tcp) => write_all_dropping(tcp, buf, watch).await,
            Transport::Unix(u) => write_all_dropping(u, buf, watch).await,
            Transport::Tls(s) => {
                // Boxed to keep every replica's task small; TLS allocates per
                // record inside rustls anyway.
                let r = Box::pin(s.write_plain(&buf, watch)).await;
                (r, Some(buf))
            }
        }
    }

    /// Reads into the spare capacity of `buf` (appending); `Ok(0)` is the
    /// end of the stream.
    pub(crate) async fn read(
        &mut self,
        mut buf: Vec<u8>,
        watch: &mut Watch<'_, '_>,
    ) -> (Result<usize, Fail>, Vec<u8>) {
        if buf.len() == buf.capacity() {
            buf.reserve(4096);
        }
        match self {
            Transport::Plain(tcp) => read_dropping(tcp, buf, watch).await,
            Transport::Unix(u) => read_dropping(u, buf, watch).await,
            Transport::Tls(s) => {
                let r = Box::pin(s.read_plain(&mut buf, watch)).await;
                (r, buf)
            }
        }
    }
}

/// Reads into the spare capacity of `buf` with a plain (not cancelable)
/// read; on a timeout or stop the read is dropped (see the module notes).
async fn read_dropping<S: AsyncReadRent>(
    stream: &mut S,
    buf: Vec<u8>,
    watch: &mut Watch<'_, '_>,
) -> (Result<usize, Fail>, Vec<u8>) {
    let (len, cap) = (buf.len(), buf.capacity());
    let read = pin!(stream.read(buf.slice_mut(len..cap)));
    match watch.race(read).await {
        Ok((Ok(n), slice)) => (Ok(n), slice.into_inner()),
        Ok((Err(e), slice)) => (Err(Fail::Error(ErrorKind::from_io(&e))), slice.into_inner()),
        Err(f) => (Err(f), Vec::with_capacity(FRESH_READ_BUF)),
    }
}

/// Writes a request with plain (not cancelable) sends. A request fits the
/// socket buffer and completes at once on a healthy connection, so the
/// per-operation cost of a canceller is not worth paying here. If the watch
/// expires mid-write, the send is dropped: monoio cancels it in the kernel
/// and frees the buffer when the kernel lets go (nothing leaks); the caller
/// rebuilds its request bytes, the one allocation on that rare path.
async fn write_all_dropping<S: AsyncWriteRent>(
    tcp: &mut S,
    mut buf: Vec<u8>,
    watch: &mut Watch<'_, '_>,
) -> (Result<(), Fail>, Option<Vec<u8>>) {
    let len = buf.len();
    let mut done = 0;
    while done < len {
        let write = pin!(tcp.write(buf.slice(done..len)));
        let (r, slice) = match watch.race(write).await {
            Ok(v) => v,
            Err(f) => return (Err(f), None),
        };
        buf = slice.into_inner();
        match r {
            Ok(0) => return (Err(Fail::Error(ErrorKind::Reset)), Some(buf)),
            Ok(n) => done += n,
            Err(e) => return (Err(Fail::Error(ErrorKind::from_io(&e))), Some(buf)),
        }
    }
    (Ok(()), Some(buf))
}

impl From<Fail> for Attempted {
    fn from(f: Fail) -> Attempted {
        match f {
            Fail::Aborted => Attempted::Aborted,
            Fail::Error(k) => Attempted::Error(k),
        }
    }
}
