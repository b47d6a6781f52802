//! [`Clock`]: one connection's timing (requests in flight, when its head
//! started, its last use) and the charge of its unfinished head to the
//! listener's [`HeadBudget`]; the coarse monotonic clock it reads.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ConnTimeouts, Expired};

pub(super) const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The timing state of one connection (milliseconds since its accept, plus
/// one so that zero means "not set").
#[derive(Debug)]
pub struct Clock {
    /// [`coarse_ms`] at the accept.
    start: u64,
    in_flight: AtomicU32,
    /// When the current request head started to be awaited with bytes (or
    /// the accept, for the first); 0 while none is pending.
    head_since: AtomicU64,
    /// The last request end or response byte written.
    last_use: AtomicU64,
    /// HTTP/2: streams are counted, heads are hyper's business.
    pub(super) h2: AtomicBool,
    first_read: AtomicBool,
    /// Bytes read toward the pending request head. Only this connection's
    /// task touches it (reads and request starts), so plain loads and
    /// stores serve.
    head_bytes: AtomicUsize,
    /// Bytes of `budget` this connection holds for its pending head.
    charged: AtomicUsize,
    budget: Option<Arc<HeadBudget>>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new(None)
    }
}

impl Clock {
    fn new(budget: Option<Arc<HeadBudget>>) -> Clock {
        Clock {
            start: coarse_ms(),
            in_flight: AtomicU32::new(0),
            head_since: AtomicU64::new(1),
            last_use: AtomicU64::new(1),
            h2: AtomicBool::new(false),
            first_read: AtomicBool::new(true),
            head_bytes: AtomicUsize::new(0),
            charged: AtomicUsize::new(0),
            budget,
        }
    }
}

/// Bytes of a pending head a connection holds without charge: heads this
/// size are the norm (and hyper's first read buffer is 8 KiB), so ordinary
/// requests never touch the listener-wide count.
pub const HEAD_FREE: usize = 8 * 1024;
/// Charges are taken in steps this size, to touch the shared count rarely.
pub(super) const HEAD_STEP: usize = 16 * 1024;

/// The memory unfinished request heads of one listener may hold together
/// (`--max-head-memory`), beyond each connection's [`HEAD_FREE`].
#[derive(Debug)]
pub struct HeadBudget {
    max: usize,
    held: AtomicUsize,
    /// Set while full, so the warning is logged once per episode.
    full: AtomicBool,
    port: u16,
}

impl HeadBudget {
    pub fn new(port: u16, max: usize) -> HeadBudget {
        HeadBudget {
            max,
            held: AtomicUsize::new(0),
            full: AtomicBool::new(false),
            port,
        }
    }

    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    fn take(&self, n: usize) -> bool {
        let before = self.held.fetch_add(n, Ordering::AcqRel);
        if before + n <= self.max {
            return true;
        }
        self.held.fetch_sub(n, Ordering::AcqRel);
        if !self.full.swap(true, Ordering::Relaxed) {
            tracing::warn!(port = self.port, max = self.max, "unfinished request heads reached the listener's memory cap: connections growing one further get 431 and are closed (--max-head-memory)");
        }
        false
    }

    fn give(&self, n: usize) {
        let before = self.held.fetch_sub(n, Ordering::AcqRel);
        if before - n < self.max / 2 {
            self.full.store(false, Ordering::Relaxed);
        }
    }
}

impl Clock {
    /// A connection's clock whose unfinished heads are charged to `budget`.
    pub fn with_head_budget(budget: Arc<HeadBudget>) -> Clock {
        Clock::new(Some(budget))
    }

    fn now(&self) -> u64 {
        coarse_ms().saturating_sub(self.start) + 1
    }

    /// A request's head is complete and its handler runs.
    pub fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.head_since.store(0, Ordering::SeqCst);
        self.head_bytes.store(0, Ordering::Relaxed);
        self.release_head();
        InFlight(self.clone())
    }

    fn release_head(&self) {
        if self.charged.load(Ordering::Relaxed) != 0 {
            let n = self.charged.swap(0, Ordering::Relaxed);
            if let Some(b) = &self.budget {
                b.give(n);
            }
        }
    }

    /// When (coarse ms) this connection became idle, if it is: nothing in
    /// flight and no partial request head (HTTP/2: no stream open).
    pub fn idle_since(&self) -> Option<u64> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let h2 = self.h2.load(Ordering::Relaxed);
        let silent = self.first_read.load(Ordering::Relaxed);
        if !h2 && !silent && self.head_since.load(Ordering::SeqCst) != 0 {
            return None;
        }
        Some(self.start + self.last_use.load(Ordering::Relaxed))
    }

    /// Notes bytes read; false when they grow a pending head past the
    /// listener's budget (the connection must go).
    pub(crate) fn on_read(&self, bytes: &[u8]) -> bool {
        if bytes.is_empty() {
            return true;
        }
        // A plain load first: the swap (a locked instruction) runs once.
        if self.first_read.load(Ordering::Relaxed) && self.first_read.swap(false, Ordering::SeqCst)
        {
            let n = bytes.len().min(H2_PREFACE.len());
            if bytes[..n] == H2_PREFACE[..n] {
                self.h2.store(true, Ordering::SeqCst);
                self.head_since.store(0, Ordering::SeqCst);
                return true;
            }
        }
        if self.h2.load(Ordering::Relaxed) || self.in_flight.load(Ordering::SeqCst) > 0 {
            return true;
        }
        let now = self.now();
        let _ = self
            .head_since
            .compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst);
        let held = self.head_bytes.load(Ordering::Relaxed) + bytes.len();
        self.head_bytes.store(held, Ordering::Relaxed);
        match &self.budget {
            Some(b) if held > HEAD_FREE => self.charge(b, held - HEAD_FREE),
            _ => true,
        }
    }

    /// Holds at least `need` bytes of the budget for the pending head.
    fn charge(&self, b: &HeadBudget, need: usize) -> bool {
        let charged = self.charged.load(Ordering::Relaxed);
        if need <= charged {
            return true;
        }
        let more = (need - charged).div_ceil(HEAD_STEP) * HEAD_STEP;
        if !b.take(more) {
            return false;
        }
        self.charged.store(charged + more, Ordering::Relaxed);
        true
    }

    pub(super) fn on_write(&self) {
        self.last_use.store(self.now(), Ordering::Relaxed);
    }

    /// `Err` when the connection has expired, else how long until it may.
    pub fn check(&self, t: &ConnTimeouts) -> Result<Duration, Expired> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            // Handlers have their own timeouts; look again later.
            return Ok(t.header.min(t.idle));
        }
        let now = self.now();
        let left = |since: u64, limit: Duration| {
            let limit = limit.as_millis() as u64;
            (since + limit).checked_sub(now).filter(|l| *l > 0)
        };
        let head_since = self.head_since.load(Ordering::SeqCst);
        if head_since != 0 {
            return left(head_since, t.header)
                .map(Duration::from_millis)
                .ok_or(Expired::Header);
        }
        let last = self.last_use.load(Ordering::Relaxed);
        left(last, t.idle)
            .map(Duration::from_millis)
            .ok_or(Expired::Idle)
    }
}

impl crate::conn_cap::Idle for Clock {
    fn idle_since(&self) -> Option<u64> {
        Clock::idle_since(self)
    }
}

/// Milliseconds of a monotonic clock with the resolution these timeouts
/// need. On Linux the coarse clock (the kernel's tick, 1-4 ms) is read
/// without the TSC: a connection reads it about three times a request, and
/// its timeouts are seconds.
#[cfg(target_os = "linux")]
fn coarse_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) } == 0 {
        return ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000;
    }
    instant_ms()
}

#[cfg(not(target_os = "linux"))]
fn coarse_ms() -> u64 {
    instant_ms()
}

/// Milliseconds since the first call (the fallback clock).
fn instant_ms() -> u64 {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_millis() as u64
}

impl Drop for Clock {
    fn drop(&mut self) {
        self.release_head();
    }
}

/// Held while a request is handled; its end counts as use.
#[derive(Debug)]
pub struct InFlight(Arc<Clock>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.on_write();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
