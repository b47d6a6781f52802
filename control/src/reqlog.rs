//! The request log: runtime requests are formatted on the serving thread into
//! a shared in-memory buffer, and a writer thread swaps that buffer out and
//! writes it to stderr every few milliseconds. Serving never waits on stderr
//! and never wakes the writer per line (a wakeup per request cost more than
//! the formatting); when the buffer is full because stderr is slow, lines are
//! dropped and counted.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

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
}

#[derive(Clone)]
pub struct RequestLog {
    shared: Arc<Shared>,
}

impl RequestLog {
    pub fn start() -> std::io::Result<RequestLog> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(String::with_capacity(64 * 1024)),
            dropped: AtomicU64::new(0),
        });
        let w = shared.clone();
        std::thread::Builder::new()
            .name("goto-reqlog".into())
            .spawn(move || writer(w))?;
        Ok(RequestLog { shared })
    }

    /// Appends one line, written by `f` after a timestamp; `f` runs under the
    /// buffer's lock, so it must only format.
    pub fn log_with(&self, f: impl FnOnce(&mut String)) {
        let since = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let mut buf = self.shared.pending.lock();
        if buf.len() >= MAX_PENDING {
            drop(buf);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let _ = write!(buf, "{}.{:03} ", since.as_secs(), since.subsec_millis());
        f(&mut buf);
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
