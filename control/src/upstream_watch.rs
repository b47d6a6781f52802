//! The watchdog of one pooled upstream connection: it closes the connection
//! when a request on it has no response head by its deadline (the request
//! then answers 504), or when it has sat idle in a pool for
//! [`IDLE_TIMEOUT`]. One task and one timer per connection, not per
//! request: a request publishes its deadline with an atomic store, where a
//! `tokio::time::timeout` registers and deregisters a timer each time (and
//! a timer polled beside the connection costs a poll on every wake). The
//! watchdog sleeps to the nearest of the two and wakes early only for a
//! deadline nearer than the one it sleeps to.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// Idle connections are closed after this long (hyper-util's pool's setting here).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const IDLE_MS: u64 = IDLE_TIMEOUT.as_millis() as u64;

fn epoch() -> std::time::Instant {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    *START.get_or_init(std::time::Instant::now)
}

/// Milliseconds since [`epoch`], plus one (0 means "unset" below).
pub fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

/// `Watch::due` once the watchdog has timed the request out.
const EXPIRED: u64 = u64::MAX;

/// The deadline `within` from now, in [`now_ms`] units.
pub fn due_in(within: Duration) -> u64 {
    let ms = u64::try_from(within.as_millis()).unwrap_or(u64::MAX / 4);
    now_ms().saturating_add(ms.max(1)).min(u64::MAX / 2)
}

/// The instant a [`now_ms`] time stands for (at or after it).
pub fn instant(ms: u64) -> tokio::time::Instant {
    let at = epoch().checked_add(Duration::from_millis(ms));
    // Past what an `Instant` holds: far enough to be never.
    at.map(tokio::time::Instant::from_std)
        .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(30 * 365 * 86_400))
}

/// What a connection's users and its watchdog share; times in [`now_ms`].
#[derive(Default)]
pub struct Watch {
    /// When the connection went idle in a pool; 0 while lent.
    idle_since: AtomicU64,
    /// When the request on it must have its response head; 0 when none
    /// waits, [`EXPIRED`] once the watchdog took it (it then closes the
    /// connection). The request and the watchdog swap it, so exactly one
    /// of "answered in time" and "timed out" wins.
    due: AtomicU64,
    /// When the watchdog wakes next.
    wake_at: AtomicU64,
    /// The connection's task ended on its own.
    closed: AtomicBool,
    /// Wakes the watchdog to plan again.
    replan: Notify,
}

impl Watch {
    pub fn lent(&self) {
        self.idle_since.store(0, SeqCst);
    }

    pub fn idle(&self) {
        self.idle_since.store(now_ms(), SeqCst);
    }

    /// A request on the connection needs its response head by `due` (see [`due_in`]).
    pub fn arm(&self, due: u64) {
        self.due.store(due, SeqCst);
        if due < self.wake_at.load(SeqCst) {
            self.replan.notify_one();
        }
    }

    /// The response head came (or the request failed): no deadline now.
    /// `true` when the deadline had passed first (the connection is closed).
    pub fn disarm(&self) -> bool {
        self.due.swap(0, SeqCst) == EXPIRED
    }
}

/// Runs `conn` (a hyper client connection) as its own task, watched.
pub fn spawn<F>(conn: F) -> Arc<Watch>
where
    F: std::future::Future + Send + 'static,
{
    let w = Arc::new(Watch::default());
    let done = w.clone();
    let task = tokio::spawn(async move {
        let _ = conn.await;
        done.closed.store(true, SeqCst);
        done.replan.notify_one();
    });
    tokio::spawn(watchdog(w.clone(), task.abort_handle()));
    w
}

async fn watchdog(w: Arc<Watch>, conn: AbortHandle) {
    loop {
        if w.closed.load(SeqCst) {
            return;
        }
        let now = now_ms();
        let due = w.due.load(SeqCst);
        if due != 0 && now >= due {
            // Lost to a `disarm` (the answer came first): plan again.
            if w.due.compare_exchange(due, EXPIRED, SeqCst, SeqCst).is_ok() {
                conn.abort();
                return;
            }
            continue;
        }
        let idle = w.idle_since.load(SeqCst);
        if idle != 0 && now.saturating_sub(idle) >= IDLE_MS {
            conn.abort();
            return;
        }
        let next = match (due, idle) {
            (0, 0) => now + IDLE_MS,
            (0, i) => i + IDLE_MS,
            (d, 0) => d,
            (d, i) => d.min(i + IDLE_MS),
        };
        w.wake_at.store(next, SeqCst);
        // A deadline set while this planned, nearer than `next`: plan again
        // (its `arm` may have read the older `wake_at`).
        let d = w.due.load(SeqCst);
        if d != 0 && d < next {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(instant(next)) => {}
            _ = w.replan.notified() => {}
        }
    }
}
