//! A replica's connection: TCP or rustls over monoio, with owned buffers
//! handed to the kernel and back (the rent model), and timeouts.
//!
//! Every socket operation runs under a [`Watch`]: the request deadline, the
//! end of the run and a stop request. The replica keeps one timer for its
//! whole life and re-arms it lazily: it fires no later than the deadline of
//! the request in flight, and only when it fires does it move to the current
//! request's deadline. Keep-alive requests that finish well within their
//! timeout therefore never touch the timer wheel. A stop request wakes the
//! replica through its worker (see `LocalRun::wake_if_stopped`).
//!
//! Plain reads and writes are not cancelable futures: when a watch expires,
//! the operation is dropped, which (with monoio's `async-cancel` feature)
//! submits an io_uring cancel at once; monoio keeps the buffer until the
//! kernel completes the cancelled operation and then frees it, so nothing
//! leaks, and the connection is closed after a failure anyway. The caller
//! gets a fresh buffer, the one allocation on that rare path. TLS record I/O
//! keeps monoio's cancelable operations, whose buffers come back on cancel.

use std::future::{poll_fn, Future};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::{Duration, Instant};

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, CancelableAsyncReadRent, CancelableAsyncWriteRent, Canceller,
};
use monoio::net::{TcpStream, UnixStream};
use monoio::time::Sleep;
use monoio::BufResult;
use rustls::ClientConnection;

use crate::error::{ErrorKind, TlsErrorKind};
use crate::plan::TlsTarget;
use crate::resolve::Dest;
use crate::run::StopSignal;
use crate::stats::Attempted;

/// How far ahead the timer is parked when nothing needs it (no deadline, no
/// end of run): it then fires about once an hour, for nothing.
const IDLE_TIMER: Duration = Duration::from_secs(3600);
/// Size of the buffer TLS records are read into.
const TLS_READ_BUF: usize = 17 * 1024;
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

/// A replica's one timer and the instant it is armed for.
pub(crate) struct Alarm<'a> {
    timer: Pin<&'a mut Sleep>,
    /// When `timer` fires; it may lie in the past (it then fires when polled).
    at: Instant,
}

impl<'a> Alarm<'a> {
    /// Wraps `timer`, which must be armed for `at`.
    pub(crate) fn new(timer: Pin<&'a mut Sleep>, at: Instant) -> Alarm<'a> {
        Alarm { timer, at }
    }

    fn set(&mut self, at: Instant) {
        if at != self.at {
            self.at = at;
            self.timer.as_mut().reset(at.into());
        }
    }

    /// Makes the timer fire no later than `limit`.
    fn no_later_than(&mut self, limit: Instant) {
        if self.at > limit {
            self.set(limit);
        }
    }

    fn poll_fired(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        self.timer.as_mut().poll(cx).is_ready()
    }

    /// Sleeps until `until`; false when a stop (or the run's end) comes first.
    pub(crate) async fn pause_until(&mut self, stop: &StopSignal, until: Instant) -> bool {
        loop {
            let now = Instant::now();
            if stop.should_abort(now) {
                return false;
            }
            if now >= until {
                return true;
            }
            self.set(stop.end().map_or(until, |e| e.min(until)));
            // Woken by the timer, or by the worker when a stop is requested.
            poll_fn(|cx| {
                if self.poll_fired(cx) || stop.requested() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        }
    }
}

/// The deadline and stop watch of one request.
pub(crate) struct Watch<'a, 'b> {
    alarm: &'b mut Alarm<'a>,
    deadline: Option<Instant>,
    on_deadline: ErrorKind,
    stop: &'b StopSignal,
}

impl<'a, 'b> Watch<'a, 'b> {
    /// Creates a watch over a request with `deadline`.
    pub(crate) fn new(
        alarm: &'b mut Alarm<'a>,
        stop: &'b StopSignal,
        deadline: Option<Instant>,
    ) -> Watch<'a, 'b> {
        let mut w = Watch {
            alarm,
            deadline,
            on_deadline: ErrorKind::Timeout,
            stop,
        };
        w.pull_in();
        w
    }

    /// The first instant the watch must look: the deadline or the run's end.
    fn limit(&self) -> Option<Instant> {
        match (self.deadline, self.stop.end()) {
            (Some(d), Some(e)) => Some(d.min(e)),
            (d, e) => d.or(e),
        }
    }

    /// Brings the timer forward if it would fire after the limit; a timer
    /// that fires early is simply moved on by [`Watch::expired`].
    fn pull_in(&mut self) {
        if let Some(limit) = self.limit() {
            self.alarm.no_later_than(limit);
        }
    }

    /// Changes the deadline and the error its expiry counts as.
    pub(crate) fn set_deadline(&mut self, deadline: Option<Instant>, on_deadline: ErrorKind) {
        self.deadline = deadline;
        self.on_deadline = on_deadline;
        self.pull_in();
    }

    /// Called when the timer fires: the failure to report, or `None` after
    /// moving the timer to the current limit.
    fn expired(&mut self) -> Option<Fail> {
        let now = Instant::now();
        if self.stop.should_abort(now) {
            return Some(Fail::Aborted);
        }
        if self.deadline.is_some_and(|d| now >= d) {
            return Some(Fail::Error(self.on_deadline));
        }
        let at = self.limit().unwrap_or(now + IDLE_TIMER);
        self.alarm.set(at);
        None
    }

    /// Polls `fut` until it completes or the watch expires (the caller then
    /// cancels or drops it).
    pub(crate) async fn race<F: Future>(&mut self, fut: Pin<&mut F>) -> Result<F::Output, Fail> {
        let mut fut = fut;
        loop {
            let out = poll_fn(|cx| {
                if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                    return Poll::Ready(Ok(v));
                }
                if self.alarm.poll_fired(cx) {
                    return Poll::Ready(Err(false));
                }
                // The worker wakes every replica when a stop is requested.
                if self.stop.requested() {
                    return Poll::Ready(Err(true));
                }
                Poll::Pending
            })
            .await;
            match out {
                Ok(v) => return Ok(v),
                Err(true) => return Err(Fail::Aborted),
                Err(false) => {
                    if let Some(f) = self.expired() {
                        return Err(f);
                    }
                }
            }
        }
    }

    /// Runs a buffer operation made cancelable by `canceller`; on expiry
    /// cancels it and waits for the buffer to come back.
    async fn io<T, B>(
        &mut self,
        canceller: &mut Canceller,
        fut: impl Future<Output = BufResult<T, B>>,
    ) -> (Result<T, Fail>, B) {
        let mut fut = pin!(fut);
        match self.race(fut.as_mut()).await {
            Ok((Ok(v), b)) => (Ok(v), b),
            Ok((Err(e), b)) => (Err(Fail::Error(ErrorKind::from_io(&e))), b),
            Err(fail) => {
                let c = std::mem::take(canceller);
                *canceller = c.cancel();
                match fut.await {
                    // It finished just as we gave up: take the result.
                    (Ok(v), b) => (Ok(v), b),
                    (Err(_), b) => (Err(fail), b),
                }
            }
        }
    }
}

/// An established connection.
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
    /// A Unix domain socket (plain HTTP only).
    Unix(UnixStream),
}

/// rustls driven over a monoio socket with owned record buffers.
pub(crate) struct TlsStream {
    tcp: TcpStream,
    conn: ClientConnection,
    tls_in: Vec<u8>,
    in_pos: usize,
    tls_out: Vec<u8>,
    /// Decrypted bytes pass through here (kept off the task's future).
    plain: Box<[u8]>,
    /// Record I/O is cancelable, so its buffers come back on a timeout.
    canceller: Canceller,
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

/// Writes all of `buf` with cancelable sends (TLS records).
async fn write_all(
    tcp: &mut TcpStream,
    canceller: &mut Canceller,
    mut buf: Vec<u8>,
    watch: &mut Watch<'_, '_>,
) -> (Result<(), Fail>, Vec<u8>) {
    let len = buf.len();
    let mut done = 0;
    while done < len {
        let handle = canceller.handle();
        let (r, slice) = watch
            .io(
                canceller,
                tcp.cancelable_write(buf.slice(done..len), handle),
            )
            .await;
        buf = slice.into_inner();
        match r {
            Ok(0) => return (Err(Fail::Error(ErrorKind::Reset)), buf),
            Ok(n) => done += n,
            Err(f) => return (Err(f), buf),
        }
    }
    (Ok(()), buf)
}

fn tls_error(e: &rustls::Error) -> Fail {
    Fail::Error(ErrorKind::Tls(TlsErrorKind::from_rustls(e)))
}

impl TlsStream {
    async fn connect(
        tcp: TcpStream,
        tls: &TlsTarget,
        watch: &mut Watch<'_, '_>,
    ) -> Result<Box<TlsStream>, Fail> {
        let conn = ClientConnection::new(tls.config.clone(), tls.server_name.clone())
            .map_err(|e| Fail::Error(ErrorKind::Tls(TlsErrorKind::from_rustls(&e))))?;
        let mut s = Box::new(TlsStream {
            tcp,
            conn,
            tls_in: Vec::with_capacity(TLS_READ_BUF),
            in_pos: 0,
            tls_out: Vec::with_capacity(4096),
            plain: vec![0; 4096].into_boxed_slice(),
            canceller: Canceller::new(),
        });
        s.handshake(watch).await?;
        Ok(s)
    }

    /// The socket, the session, and TLS bytes read but not yet fed to the
    /// session: for HTTP/2, whose reader and writer tasks share the session.
    pub(crate) fn into_parts(self) -> (TcpStream, ClientConnection, Vec<u8>) {
        let early = self.tls_in[self.in_pos..].to_vec();
        (self.tcp, self.conn, early)
    }

    async fn handshake(&mut self, watch: &mut Watch<'_, '_>) -> Result<(), Fail> {
        while self.conn.is_handshaking() {
            if self.conn.wants_write() {
                self.flush(watch).await?;
            } else if self.conn.wants_read() {
                if self.fill(watch).await? == 0 {
                    return Err(Fail::Error(ErrorKind::Tls(TlsErrorKind::HandshakeEof)));
                }
            } else {
                break;
            }
        }
        self.flush(watch).await
    }

    /// Sends whatever rustls has queued.
    async fn flush(&mut self, watch: &mut Watch<'_, '_>) -> Result<(), Fail> {
        while self.conn.wants_write() {
            let mut out = std::mem::take(&mut self.tls_out);
            out.clear();
            // Writing into a Vec cannot fail.
            let _ = self.conn.write_tls(&mut out);
            let (r, out) = write_all(&mut self.tcp, &mut self.canceller, out, watch).await;
            self.tls_out = out;
            r?;
        }
        Ok(())
    }

    /// Feeds buffered or freshly read TLS bytes to rustls; returns 0 at EOF.
    async fn fill(&mut self, watch: &mut Watch<'_, '_>) -> Result<usize, Fail> {
        if self.in_pos >= self.tls_in.len() {
            let mut buf = std::mem::take(&mut self.tls_in);
            buf.clear();
            self.in_pos = 0;
            let cap = buf.capacity();
            let handle = self.canceller.handle();
            let (r, slice) = watch
                .io(
                    &mut self.canceller,
                    self.tcp.cancelable_read(buf.slice_mut(0..cap), handle),
                )
                .await;
            self.tls_in = slice.into_inner();
            if r? == 0 {
                return Ok(0);
            }
        }
        let mut rd = &self.tls_in[self.in_pos..];
        let before = rd.len();
        let n = self
            .conn
            .read_tls(&mut rd)
            .map_err(|e| Fail::Error(ErrorKind::from_io(&e)))?;
        self.in_pos += before - rd.len();
        self.conn.process_new_packets().map_err(|e| tls_error(&e))?;
        Ok(n.max(1))
    }

    async fn write_plain(&mut self, data: &[u8], watch: &mut Watch<'_, '_>) -> Result<(), Fail> {
        // rustls buffers plaintext without limit by default; write_all cannot
        // fail short here.
        self.conn
            .writer()
            .write_all(data)
            .map_err(|e| Fail::Error(ErrorKind::from_io(&e)))?;
        self.flush(watch).await
    }

    async fn read_plain(
        &mut self,
        buf: &mut Vec<u8>,
        watch: &mut Watch<'_, '_>,
    ) -> Result<usize, Fail> {
        loop {
            let room = (buf.capacity() - buf.len()).min(self.plain.len());
            match self.conn.reader().read(&mut self.plain[..room]) {
                Ok(n) => {
                    buf.extend_from_slice(&self.plain[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                // Closed without close_notify: the same as EOF for HTTP framing.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(Fail::Error(ErrorKind::from_io(&e))),
            }
            if self.conn.wants_write() {
                self.flush(watch).await?;
            }
            if self.fill(watch).await? == 0 {
                return Ok(0);
            }
        }
    }
}

impl From<Fail> for Attempted {
    fn from(f: Fail) -> Attempted {
        match f {
            Fail::Aborted => Attempted::Aborted,
            Fail::Error(k) => Attempted::Error(k),
        }
    }
}

/// The instant a timeout of `t` from `now` ends; `None` for no timeout
/// (zero).
pub(crate) fn timeout_at(now: Instant, t: Duration) -> Option<Instant> {
    if t.is_zero() {
        None
    } else {
        now.checked_add(t)
    }
}

/// When a connect begun at `now` must be done: its own timeout, and never
/// past the request's `deadline`.
pub(crate) fn connect_deadline(
    now: Instant,
    connect_timeout: Duration,
    deadline: Option<Instant>,
) -> Option<Instant> {
    match (timeout_at(now, connect_timeout), deadline) {
        (Some(c), Some(d)) => Some(c.min(d)),
        (c, d) => c.or(d),
    }
}
