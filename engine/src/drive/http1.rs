//! HTTP/1.1 replicas: each is the generic replica loop (`super::replica`:
//! schedule, pacing, limits, retries, outcome) over an [`Http1`] exchange
//! that does the I/O: (re)connect, write the prebuilt request, read the
//! response, count its tracked headers, under the request and connect
//! timeouts, on a connection of its own.

use std::rc::Rc;
use std::time::Instant;

use super::replica::{Exchange, Replica};
use crate::conn::{connect_deadline, timeout_at, Alarm, Fail, Transport, Watch};
use crate::error::ErrorKind;
use crate::http1::request::write_request_id;
use crate::http1::{Complete, ResponseReader};
use crate::local::{CoreTarget, LocalRun};
use crate::random::{next_random, seed};
use crate::run::StopSignal;
use crate::schedule::Attempt;
use crate::stats::{Attempted as Outcome, CoreStats, OpenConn};

/// Initial read buffer: small, so thousands of idle connections stay cheap;
/// it doubles when a read fills it, up to [`MAX_READ_BUF`].
const INITIAL_READ_BUF: usize = 512;
const MAX_READ_BUF: usize = 128 * 1024;

/// The HTTP/1.1 side of a replica: its own connection and buffers.
pub(crate) struct Http1 {
    /// This replica's copy of the request bytes (only the id is rewritten).
    req: Vec<u8>,
    rbuf: Vec<u8>,
    reader: ResponseReader,
    /// The connection, with its place in the core's open-connections
    /// gauge: dropping it (a lost or idle connection) takes both away.
    transport: Option<(Transport, OpenConn)>,
    last_used: Instant,
    rng: u64,
    /// Set after the first connection: later ones count as reconnects.
    connected_before: bool,
    /// Requests sent, to take the target's URLs in turn.
    sent: usize,
}

/// Spawns this core's replicas of an HTTP/1.1 target on the current
/// runtime, each with its own connection.
pub(crate) fn spawn_replicas(
    run: &Rc<LocalRun>,
    target: &Rc<CoreTarget>,
    replicas: Vec<u32>,
    start: Instant,
) {
    for index in replicas {
        let exchange = Http1::new(target, index, start);
        let replica = Replica::new(run.clone(), target.clone(), index, start, exchange);
        monoio::spawn(replica.run());
    }
}

impl Http1 {
    fn new(target: &CoreTarget, index: u32, start: Instant) -> Http1 {
        let p = &target.prepared;
        // Room for the longest request: taking the URLs in turn then copies
        // into this buffer without allocating.
        let longest = p
            .alternates
            .iter()
            .map(|r| r.bytes().len())
            .fold(p.request.bytes().len(), usize::max);
        let mut req = Vec::with_capacity(longest);
        req.extend_from_slice(p.request.bytes());
        Http1 {
            req,
            rbuf: Vec::with_capacity(INITIAL_READ_BUF),
            reader: ResponseReader::new(p.head_request),
            transport: None,
            last_used: start,
            rng: seed(index),
            connected_before: false,
            // Replicas start at different URLs, so a burst spreads too.
            sent: index as usize,
        }
    }
}

impl Exchange for Http1 {
    /// One attempt: connect if needed, write, read the response. Tracked
    /// headers are counted only when the attempt is the last or the status
    /// is not retriable.
    async fn attempt(
        &mut self,
        target: &CoreTarget,
        stop: &StopSignal,
        attempt: Attempt,
        now: Instant,
        alarm: &mut Alarm<'_>,
    ) -> Outcome {
        let last = attempt.last;
        let p = &target.prepared;
        let spec = &p.spec;
        if self.transport.is_some()
            && !spec.idle_timeout.is_zero()
            && now - self.last_used > spec.idle_timeout
        {
            self.transport = None;
        }
        let template = p.request_at(self.sent);
        if !p.alternates.is_empty() {
            self.sent = self.sent.wrapping_add(1);
            self.req.clear();
            self.req.extend_from_slice(template.bytes());
        }
        let deadline = timeout_at(now, spec.request_timeout);
        let mut watch = Watch::new(alarm, stop, deadline);
        let mut reused = self.transport.is_some();
        let mut bytes_read = 0u64;
        let mut bytes_written = 0u64;
        // A kept-alive connection the server already closed fails before any
        // byte of response: reconnect and resend once, without counting it.
        let outcome = loop {
            if self.transport.is_none() {
                let Some(dest) = p.endpoints.pick() else {
                    break Outcome::Error(ErrorKind::Resolve);
                };
                let now = Instant::now();
                let connect_deadline = connect_deadline(now, spec.connect_timeout, deadline);
                watch.set_deadline(connect_deadline, ErrorKind::ConnectTimeout);
                // Not boxed: all replicas connect at once at the start, and a
                // box per connect would add to the peak memory; the TLS
                // handshake inside is boxed instead.
                match Transport::connect_dest(&dest, p.tls.as_ref(), &mut watch).await {
                    Ok(t) => {
                        let mut stats = target.stats.borrow_mut();
                        self.transport = Some((t, stats.conn_opened()));
                        if self.connected_before {
                            stats.reconnected();
                        }
                        self.connected_before = true;
                    }
                    Err(f) => break Outcome::from(f),
                }
                watch.set_deadline(deadline, ErrorKind::Timeout);
                reused = false;
            }
            let Some((transport, _)) = self.transport.as_mut() else {
                break Outcome::Error(ErrorKind::Closed);
            };
            if let Some(off) = template.id_offset() {
                write_request_id(&mut self.req, off, next_random(&mut self.rng));
            }
            let (r, req) = transport
                .write_all(std::mem::take(&mut self.req), &mut watch)
                .await;
            self.req = req.unwrap_or_else(|| template.bytes().to_vec());
            if let Err(f) = r {
                self.transport = None;
                if reused && is_stale(f) {
                    reused = false;
                    continue;
                }
                break Outcome::from(f);
            }
            bytes_written += self.req.len() as u64;
            // Tracked headers of a response that will be retried are not counted.
            let retriable = if last {
                &[][..]
            } else {
                &spec.retriable_status[..]
            };
            let read = read_response(
                transport,
                &mut self.rbuf,
                &mut self.reader,
                target,
                retriable,
                &mut watch,
                &mut bytes_read,
            )
            .await;
            match read {
                Ok(done) => {
                    if !done.keep_alive {
                        self.transport = None;
                    }
                    break Outcome::Status(done.status);
                }
                Err((f, got_bytes)) => {
                    self.transport = None;
                    if reused && !got_bytes && is_stale(f) {
                        reused = false;
                        continue;
                    }
                    break Outcome::from(f);
                }
            }
        };
        target
            .stats
            .borrow_mut()
            .add_bytes(bytes_read, bytes_written);
        outcome
    }

    #[inline]
    fn ended(&mut self, now: Instant) {
        if self.transport.is_some() {
            self.last_used = now;
        }
    }

    /// Tracked headers were counted as the response was read.
    #[inline]
    fn count(&self, _target: &CoreTarget, _stats: &mut CoreStats) {}

    fn close(&mut self) {
        self.transport = None;
    }
}

/// Reads one response into `rbuf` (reused), counting tracked headers of the
/// final head unless its status will be retried. On failure, also says
/// whether any byte arrived.
async fn read_response(
    transport: &mut Transport,
    rbuf: &mut Vec<u8>,
    reader: &mut ResponseReader,
    target: &CoreTarget,
    retriable: &[u16],
    watch: &mut Watch<'_, '_>,
    bytes_read: &mut u64,
) -> Result<Complete, (Fail, bool)> {
    reader.reset();
    rbuf.clear();
    let mut start = 0;
    let mut got_bytes = false;
    let tracked = &target.prepared.tracked;
    loop {
        if start == rbuf.len() {
            rbuf.clear();
            start = 0;
        } else if rbuf.len() == rbuf.capacity() {
            if start > 0 {
                rbuf.drain(..start);
                start = 0;
            } else if rbuf.capacity() < MAX_READ_BUF {
                rbuf.reserve(rbuf.capacity());
            }
        }
        let spare_before = rbuf.capacity() - rbuf.len();
        let (r, buf) = transport.read(std::mem::take(rbuf), watch).await;
        *rbuf = buf;
        let n = match r {
            Ok(0) => {
                return reader
                    .finish_on_eof()
                    .ok_or((Fail::Error(ErrorKind::Closed), got_bytes))
            }
            Ok(n) => n,
            Err(f) => return Err((f, got_bytes)),
        };
        got_bytes = true;
        *bytes_read += n as u64;
        let step = {
            let mut stats = target.stats.borrow_mut();
            reader.advance(&rbuf[start..], tracked, |status, i, value| {
                if !retriable.contains(&status) {
                    stats.track(i, value);
                }
            })
        };
        let step = step.map_err(|k| (Fail::Error(ErrorKind::Parse(k)), true))?;
        start += step.consumed;
        if let Some(done) = step.complete {
            return Ok(done);
        }
        // A read that filled all the room suggests a large body: grow once.
        if n == spare_before && rbuf.capacity() < MAX_READ_BUF && start == rbuf.len() {
            rbuf.clear();
            start = 0;
            rbuf.reserve(rbuf.capacity() * 2);
        }
    }
}

fn is_stale(f: Fail) -> bool {
    matches!(f, Fail::Error(ErrorKind::Reset | ErrorKind::Closed))
}
