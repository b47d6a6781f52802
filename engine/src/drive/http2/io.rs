//! Runs a [`Conn`] on the worker's runtime: a reader task feeds it what
//! the socket delivers, a writer task sends what it queued (everything the
//! streams queued since the last write goes in one send), and streams hold
//! a [`Handle`] to open requests and wait on their slot. Plain TCP or
//! rustls over monoio's owned-buffer reads and writes on the socket's two
//! halves; TLS shares its session between both tasks (one thread, a
//! `RefCell` never held across an await). The tasks end when every handle
//! is gone (after a GOAWAY) or the connection fails.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::io::{Read, Write};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, OwnedReadHalf, OwnedWriteHalf, Splitable};
use monoio::net::TcpStream;
use rustls::ClientConnection;

use crate::conn::{Fail, Watch};
use crate::error::{ErrorKind, TlsErrorKind};
use crate::http2::codec::conn::{Conn, Outcome, StreamError};
use crate::http2::codec::hpack::Indexed;

/// Read buffer: a few maximum-size frames (we accept 16 KiB frames).
const READ_BUF: usize = 64 * 1024;
/// How long the writer of a closing connection may take for its last bytes.
const CLOSE_WRITE: Duration = Duration::from_secs(1);

struct Shared {
    conn: RefCell<Conn>,
    handles: Cell<usize>,
    tls: Option<RefCell<ClientConnection>>,
}

/// A stream's (or the pool's) hold on a connection; the last one dropped
/// closes it.
pub(crate) struct Handle {
    shared: Rc<Shared>,
}

impl Clone for Handle {
    fn clone(&self) -> Handle {
        self.shared.handles.set(self.shared.handles.get() + 1);
        Handle {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let n = self.shared.handles.get() - 1;
        self.shared.handles.set(n);
        if n == 0 {
            self.shared.conn.borrow_mut().close();
        }
    }
}

/// A finished response, kept by the stream across requests (its buffers
/// are swapped with the slot's, never reallocated).
#[derive(Default)]
pub(crate) struct Response {
    pub status: u16,
    pub bytes: u64,
    /// Tracked header values: (tracked index, range in `values`).
    pub tracked: Vec<(usize, u32, u32)>,
    pub values: Vec<u8>,
    /// gRPC: the trailers' status (None: none came), its message as sent,
    /// and the messages the body held.
    pub grpc_status: Option<u8>,
    pub grpc_message: Vec<u8>,
    pub messages: u32,
    pub first_message: Option<std::time::Instant>,
}

/// Why an exchange failed.
pub(crate) enum ExchangeError {
    /// The watch expired or a stop came.
    Watch(Fail),
    Stream(StreamError),
}

/// Starts the connection's tasks on the current runtime over `tcp` (with
/// `tls`, a session whose handshake is done, and TLS bytes already read).
pub(crate) fn start(
    tcp: TcpStream,
    tls: Option<(ClientConnection, Vec<u8>)>,
    tracked_names: Vec<Box<[u8]>>,
) -> Handle {
    let (tls, early) = match tls {
        Some((c, early)) => (Some(RefCell::new(c)), early),
        None => (None, Vec::new()),
    };
    let shared = Rc::new(Shared {
        conn: RefCell::new(Conn::new(tracked_names)),
        handles: Cell::new(1),
        tls,
    });
    let (rd, wr) = tcp.into_split();
    monoio::spawn(reader(rd, shared.clone(), early));
    monoio::spawn(writer(wr, shared.clone()));
    Handle { shared }
}

/// Polls `fut` until it completes, or returns `None` once the connection is
/// closing or dead (dropping `fut`, which cancels its operation).
async fn unless_over<F: Future>(shared: &Shared, fut: F, reading: bool) -> Option<F::Output> {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        let mut c = shared.conn.borrow_mut();
        // The reader stops at once; the writer only after a failure (it
        // still has the GOAWAY to send when merely closing).
        if c.is_dead() || (reading && c.closing) {
            return Poll::Ready(None);
        }
        let slot = if reading {
            &mut c.reader
        } else {
            &mut c.writer
        };
        if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *slot = Some(cx.waker().clone());
        }
        Poll::Pending
    })
    .await
}

async fn reader(mut rd: OwnedReadHalf<TcpStream>, shared: Rc<Shared>, mut early: Vec<u8>) {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_BUF);
    // TLS: records arrive in `raw` and decrypt through `scratch` into `buf`.
    let (mut raw, mut scratch): (Vec<u8>, Box<[u8]>) = if shared.tls.is_some() {
        (Vec::with_capacity(READ_BUF), vec![0; 16 * 1024].into())
    } else {
        (Vec::new(), Box::default())
    };
    loop {
        if let Some(tls) = &shared.tls {
            if early.is_empty() {
                let cap = raw.capacity();
                raw.clear();
                let read = rd.read(raw.slice_mut(0..cap));
                let Some((r, slice)) = unless_over(&shared, read, true).await else {
                    return;
                };
                raw = slice.into_inner();
                match r {
                    Ok(0) => return fail(&shared, ErrorKind::Closed),
                    Ok(_) => {}
                    Err(e) => return fail(&shared, ErrorKind::from_io(&e)),
                }
            } else {
                raw = std::mem::take(&mut early);
            }
            if let Err(k) = decrypt(&mut tls.borrow_mut(), &raw, &mut scratch, &mut buf) {
                return fail(&shared, k);
            }
            // rustls may have records to send (alerts, key updates).
            if tls.borrow().wants_write() {
                let c = shared.conn.borrow();
                if let Some(w) = &c.writer {
                    w.wake_by_ref();
                }
            }
        } else {
            if buf.len() == buf.capacity() {
                buf.reserve(READ_BUF);
            }
            let (len, cap) = (buf.len(), buf.capacity());
            let read = rd.read(buf.slice_mut(len..cap));
            let Some((r, slice)) = unless_over(&shared, read, true).await else {
                return;
            };
            buf = slice.into_inner();
            match r {
                Ok(0) => return fail(&shared, ErrorKind::Closed),
                Ok(_) => {}
                Err(e) => return fail(&shared, ErrorKind::from_io(&e)),
            }
        }
        let used = match shared.conn.borrow_mut().receive(&buf) {
            Ok(n) => n,
            Err(_) => return,
        };
        buf.drain(..used);
    }
}

/// Feeds TLS bytes to the session and appends the plaintext to `plain`.
fn decrypt(
    tls: &mut ClientConnection,
    raw: &[u8],
    scratch: &mut [u8],
    plain: &mut Vec<u8>,
) -> Result<(), ErrorKind> {
    let mut rest = raw;
    loop {
        if !rest.is_empty() {
            tls.read_tls(&mut rest)
                .map_err(|e| ErrorKind::from_io(&e))?;
        }
        tls.process_new_packets()
            .map_err(|e| ErrorKind::Tls(TlsErrorKind::from_rustls(&e)))?;
        loop {
            match tls.reader().read(scratch) {
                // 0: close_notify; the stream's end comes as EOF next.
                Ok(0) => break,
                Ok(n) => plain.extend_from_slice(&scratch[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(ErrorKind::from_io(&e)),
            }
        }
        if rest.is_empty() {
            return Ok(());
        }
    }
}

fn fail(shared: &Shared, kind: ErrorKind) {
    shared.conn.borrow_mut().fail(kind);
}

async fn writer(mut wr: OwnedWriteHalf<TcpStream>, shared: Rc<Shared>) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut raw: Vec<u8> = Vec::new();
    loop {
        let go = poll_fn(|cx| {
            let mut c = shared.conn.borrow_mut();
            let tls_wants = shared
                .tls
                .as_ref()
                .is_some_and(|t| t.borrow().wants_write());
            if !c.out.is_empty() || tls_wants {
                c.take_out(&mut buf);
                return Poll::Ready(true);
            }
            if c.closing || c.is_dead() {
                return Poll::Ready(false);
            }
            if !c.writer.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                c.writer = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
        if !go {
            let _ = wr.shutdown().await;
            return;
        }
        let data = if let Some(tls) = &shared.tls {
            raw.clear();
            {
                let mut t = tls.borrow_mut();
                // rustls buffers plaintext without limit: this cannot fail short.
                let _ = t.writer().write_all(&buf);
                while t.wants_write() {
                    // Writing into a Vec cannot fail.
                    let _ = t.write_tls(&mut raw);
                }
            }
            buf.clear();
            std::mem::take(&mut raw)
        } else {
            std::mem::take(&mut buf)
        };
        // The last bytes (the GOAWAY) of a connection nobody holds go out
        // within a bound: a peer that stopped reading must not keep the
        // task and its socket forever.
        let closing = shared.conn.borrow().closing;
        let write = write_all(&mut wr, &shared, data);
        let (sent, mut data) = if closing {
            match monoio::time::timeout(CLOSE_WRITE, write).await {
                Ok(r) => r,
                Err(_) => return,
            }
        } else {
            write.await
        };
        data.clear();
        if shared.tls.is_some() {
            raw = data;
        } else {
            buf = data;
        }
        match sent {
            Some(Ok(())) => {}
            Some(Err(k)) => return fail(&shared, k),
            None => return,
        }
    }
}

/// Writes all of `buf`; `None` when the connection failed meanwhile.
async fn write_all(
    wr: &mut OwnedWriteHalf<TcpStream>,
    shared: &Shared,
    mut buf: Vec<u8>,
) -> (Option<Result<(), ErrorKind>>, Vec<u8>) {
    let len = buf.len();
    let mut done = 0;
    while done < len {
        let write = wr.write(buf.slice(done..len));
        let Some((r, slice)) = unless_over(shared, write, false).await else {
            // The buffer went with the dropped write.
            return (None, Vec::new());
        };
        buf = slice.into_inner();
        match r {
            Ok(0) => return (Some(Err(ErrorKind::Reset)), buf),
            Ok(n) => done += n,
            Err(e) => return (Some(Err(ErrorKind::from_io(&e))), buf),
        }
    }
    (Some(Ok(())), buf)
}

/// Frees the stream's slot however the exchange ends (a dropped exchange
/// resets its stream).
struct Release<'a> {
    shared: &'a Shared,
    slot: usize,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let mut c = self.shared.conn.borrow_mut();
        c.release(self.slot);
        c.wake_writer();
    }
}

impl Handle {
    /// Whether new streams may open on this connection.
    pub(crate) fn usable(&self) -> bool {
        self.shared.conn.borrow().usable()
    }

    /// One request: waits for the concurrency limit, sends `block` (the
    /// encoded header block, or `indexed`'s form for the connection) and
    /// `body`, and waits for the whole response into `resp`, under `watch`;
    /// `grpc` reads it as a gRPC response. With `pace` (an interval and the
    /// bytes of one message) the body goes a message at a time, the first
    /// at once and each next one an interval later, woken by the watch's
    /// timer; the stream ends with the last.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn exchange(
        &self,
        block: &[u8],
        indexed: Option<&Indexed>,
        body: &[u8],
        grpc: bool,
        pace: Option<(Duration, usize)>,
        watch: &mut Watch<'_, '_>,
        resp: &mut Response,
    ) -> Result<(), ExchangeError> {
        let shared = &*self.shared;
        let ready = pin!(poll_fn(|cx| {
            let mut c = shared.conn.borrow_mut();
            match c.can_open() {
                Err(e) => Poll::Ready(Err(e)),
                Ok(true) => Poll::Ready(Ok(())),
                Ok(false) => {
                    c.wait_capacity(cx.waker());
                    Poll::Pending
                }
            }
        }));
        watch
            .race(ready)
            .await
            .map_err(ExchangeError::Watch)?
            .map_err(ExchangeError::Stream)?;
        let slot = {
            let mut c = shared.conn.borrow_mut();
            c.set_grpc(grpc);
            let slot = c.open_indexed(block, indexed, body.is_empty());
            c.wake_writer();
            slot
        };
        let _release = Release { shared, slot };
        let mut sent = 0;
        // Unpaced calls read no clock here.
        let start = pace.map(|_| Instant::now());
        // Bytes of the body released so far, and messages.
        let (mut released, mut k) = match pace {
            Some((_, one)) => (one.min(body.len()), 1u32),
            None => (body.len(), 1),
        };
        loop {
            let next = pace
                .zip(start)
                .filter(|_| released < body.len())
                .map(|((every, _), start)| start + every * k);
            watch.wake_at(next);
            let part = &body[..released];
            let last = released == body.len();
            let done = pin!(poll_fn(|cx| {
                let mut c = shared.conn.borrow_mut();
                if !body.is_empty() {
                    let before = c.out.len();
                    c.send_body_part(slot, part, &mut sent, last);
                    if c.out.len() != before {
                        c.wake_writer();
                    }
                }
                let s = &mut c.slots[slot];
                match s.outcome {
                    Some(Outcome::Pending) | None => {
                        // Only a paced call reads the clock here.
                        if next.is_some_and(|at| Instant::now() >= at) {
                            return Poll::Ready(Ok(false));
                        }
                        if !s.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                            s.waker = Some(cx.waker().clone());
                        }
                        Poll::Pending
                    }
                    Some(Outcome::Done) => {
                        resp.status = s.status;
                        resp.bytes = s.bytes;
                        std::mem::swap(&mut resp.tracked, &mut s.tracked);
                        std::mem::swap(&mut resp.values, &mut s.values);
                        resp.grpc_status = s.grpc_status;
                        resp.messages = s.deframer.messages;
                        resp.first_message = s.first_message;
                        std::mem::swap(&mut resp.grpc_message, &mut s.grpc_message);
                        Poll::Ready(Ok(true))
                    }
                    Some(Outcome::Failed(e)) => {
                        resp.bytes = s.bytes;
                        Poll::Ready(Err(e))
                    }
                }
            }));
            let finished = watch.race(done).await;
            if next.is_some() {
                watch.wake_at(None);
            }
            let finished = finished
                .map_err(ExchangeError::Watch)?
                .map_err(ExchangeError::Stream)?;
            if finished {
                return Ok(());
            }
            if let Some((_, one)) = pace {
                released = (released + one).min(body.len());
                k += 1;
            }
        }
    }
}
