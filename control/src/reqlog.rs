//! The request log: runtime requests are formatted on the serving thread into
//! a shared in-memory buffer, and a writer thread swaps that buffer out and
//! writes it to stderr every few milliseconds. Serving never waits on stderr
//! and never wakes the writer per line (a wakeup per request cost more than
//! the formatting); when the buffer is full because stderr is slow, lines are
//! dropped and counted.
//!
//! A line is text or one JSON object (`--log-format json`), with an RFC 3339
//! time, the duration and the response body's bytes. A request the client
//! gave up on (it closed the connection while goto was still delaying or
//! waiting for an upstream) still gets its line, with status 499 and
//! `aborted`, written when the dropped request's [`Pending`] goes.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use http::request::Parts;
use parking_lot::Mutex;

mod line;

/// Status logged for a request whose client went away before the answer
/// (nginx's "client closed request").
pub const CLIENT_GAVE_UP: u16 = 499;

/// Bytes held between flushes before lines are dropped.
const MAX_PENDING: usize = 4 * 1024 * 1024;
/// How often the writer drains the buffer: short enough that a `tail -f`
/// looks live, long enough that a busy server pays one write per many lines.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// An idle server's writer backs off to this, so it does not wake 50 times a
/// second for nothing.
const IDLE_FLUSH_EVERY: Duration = Duration::from_millis(250);

struct Shared {
    pending: Mutex<String>,
    dropped: AtomicU64,
    json: bool,
}

#[derive(Clone)]
pub struct RequestLog {
    shared: Arc<Shared>,
}

impl RequestLog {
    /// Starts the writer thread; `json` picks one JSON object a line.
    pub fn start(json: bool) -> std::io::Result<RequestLog> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(String::with_capacity(64 * 1024)),
            dropped: AtomicU64::new(0),
            json,
        });
        let w = shared.clone();
        std::thread::Builder::new()
            .name("goto-reqlog".into())
            .spawn(move || writer(w))?;
        Ok(RequestLog { shared })
    }

    /// Starts the line of a request that is being served: finish it with
    /// [`Pending::finish`]; dropped unfinished, it logs the client gave up.
    /// `remote` is the client's address as text (rendered once per connection).
    pub fn begin<'a>(&'a self, port: u16, remote: &'a str, parts: &'a Parts) -> Pending<'a> {
        Pending {
            log: self,
            port,
            remote,
            parts,
            started: Instant::now(),
            done: false,
        }
    }

    /// Appends one line for `e`, formatted under the buffer's lock (no
    /// allocation of its own per line).
    pub fn log(&self, e: &Entry<'_>) {
        let now = SystemTime::now();
        let mut buf = self.shared.pending.lock();
        if buf.len() >= MAX_PENDING {
            drop(buf);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.shared.json {
            line::json_line(&mut buf, now, e);
        } else {
            line::text_line(&mut buf, now, e);
        }
        buf.push('\n');
    }

    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Writes out what is pending now; used at shutdown.
    pub fn flush(&self) {
        let mut spare = String::new();
        drain(&self.shared, &mut spare);
    }
}

/// One served (or abandoned) request, as logged.
pub struct Entry<'a> {
    pub port: u16,
    /// The client's address as `Display` writes it.
    pub remote: &'a str,
    pub parts: &'a Parts,
    pub status: u16,
    pub duration: Duration,
    /// Bytes of the response body, when known before it is sent.
    pub bytes: Option<u64>,
    /// The client closed the connection before the answer.
    pub aborted: bool,
    /// A gRPC call's `grpc-status`.
    pub grpc_status: Option<u8>,
}

/// A request's line, not yet written: [`Pending::finish`] writes it with the
/// answer; dropping it unfinished (hyper drops the request's future when
/// the client goes away) writes it as given up.
pub struct Pending<'a> {
    log: &'a RequestLog,
    port: u16,
    remote: &'a str,
    parts: &'a Parts,
    started: Instant,
    done: bool,
}

impl Pending<'_> {
    pub fn finish(mut self, status: u16, bytes: Option<u64>) {
        self.done = true;
        self.write(status, bytes, false);
    }

    fn write(&self, status: u16, bytes: Option<u64>, aborted: bool) {
        self.log.log(&Entry {
            port: self.port,
            remote: self.remote,
            parts: self.parts,
            status,
            duration: self.started.elapsed(),
            bytes,
            aborted,
            grpc_status: None,
        });
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.write(CLIENT_GAVE_UP, None, true);
        }
    }
}

fn writer(shared: Arc<Shared>) {
    let mut spare = String::with_capacity(64 * 1024);
    let mut every = FLUSH_EVERY;
    loop {
        std::thread::sleep(every);
        every = if drain(&shared, &mut spare) {
            FLUSH_EVERY
        } else {
            (every * 2).min(IDLE_FLUSH_EVERY)
        };
        // The writer holds one reference; when it is the only one left, every
        // RequestLog is gone and nothing more will come.
        if Arc::strong_count(&shared) == 1 {
            return;
        }
    }
}

/// Writes out what is pending; false when there was nothing.
fn drain(shared: &Shared, spare: &mut String) -> bool {
    {
        let mut buf = shared.pending.lock();
        if buf.is_empty() {
            return false;
        }
        std::mem::swap(&mut *buf, spare);
    }
    // Not `stderr().lock()` across sleeps: that would block the tracing
    // logger on other threads; one write takes it briefly.
    let _ = std::io::stderr().write_all(spare.as_bytes());
    spare.clear();
    // A burst can grow the buffer a lot; don't keep megabytes forever.
    if spare.capacity() > 1024 * 1024 {
        spare.shrink_to(64 * 1024);
    }
    true
}
