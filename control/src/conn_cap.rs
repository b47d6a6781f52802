//! The connection cap of a listener (`--max-conns`), one implementation for
//! HTTP and TCP listeners: the open count, the refusals, and (HTTP) the
//! connections that may be closed to make room.
//!
//! At the cap an HTTP listener closes the connection idle the longest
//! (nothing in flight, no partial head: a keep-alive connection between
//! requests, or one that never sent a byte) and admits the newcomer, as
//! nginx reuses its idle keep-alive connections; only when none is idle is
//! the newcomer closed. A flood of idle connections thus evicts its own
//! oldest members instead of denying the port. TCP listeners have no notion
//! of idle (a silent connection may be the point) and only refuse.
//!
//! All of this runs once per connection (accept and end), never per request.
//! It sits below `port`, `tcp` and `listeners` (each holds or drives one);
//! a connection's idleness comes from its clock through [`Idle`].

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// What the cap asks of a listed connection.
pub trait Idle: Send + Sync {
    /// When it became idle (a monotonic millisecond count), if it is.
    fn idle_since(&self) -> Option<u64>;
}

/// One listener's connection count and cap state.
#[derive(Default)]
pub struct ConnCap(Arc<Shared>);

impl std::fmt::Debug for ConnCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnCap")
            .field("open", &self.open())
            .field("refused", &self.refused())
            .field("evicted", &self.evicted())
            .finish()
    }
}

#[derive(Default)]
struct Shared {
    open: AtomicUsize,
    refused: AtomicU64,
    evicted: AtomicU64,
    /// Set while at the cap, so the warning is logged once per episode.
    at_limit: AtomicBool,
    evictable: Mutex<Evictable>,
}

/// The connections that may be closed to make room, in reusable places.
#[derive(Default)]
struct Evictable {
    places: Vec<Option<Candidate>>,
    free: Vec<usize>,
    next_id: u64,
}

struct Candidate {
    id: u64,
    clock: Arc<dyn Idle>,
    close: Arc<Notify>,
}

impl ConnCap {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.0.open.load(Ordering::Relaxed)
    }

    /// Connections closed at once because the listener was at its cap.
    pub fn refused(&self) -> u64 {
        self.0.refused.load(Ordering::Relaxed)
    }

    /// Idle connections closed to make room for a new one.
    pub fn evicted(&self) -> u64 {
        self.0.evicted.load(Ordering::Relaxed)
    }

    pub fn clear_counts(&self) {
        self.0.refused.store(0, Ordering::Relaxed);
        self.0.evicted.store(0, Ordering::Relaxed);
    }

    /// A place for a newly accepted connection, or `None` (counted, and
    /// logged once per episode) when `max` are open. With `evict`, an idle
    /// connection is closed to make room first.
    ///
    /// Counted here, in the accept loop, not in the connection's task, so a
    /// burst of accepts cannot pass the cap before the tasks run.
    pub fn admit(&self, port: u16, max: usize, evict: bool) -> Option<Slot> {
        let s = &self.0;
        if s.open.load(Ordering::Acquire) >= max && !(evict && self.evict_idlest(port)) {
            s.refused.fetch_add(1, Ordering::Relaxed);
            if !s.at_limit.swap(true, Ordering::Relaxed) {
                tracing::warn!(port, max, "connection limit reached: new connections are closed until some end (--max-conns)");
            }
            return None;
        }
        s.at_limit.store(false, Ordering::Relaxed);
        s.open.fetch_add(1, Ordering::AcqRel);
        Some(Slot {
            cap: s.clone(),
            candidate: None,
        })
    }

    /// Closes the connection idle the longest; false when none is idle.
    /// The closed one still counts as open until its task ends (at once
    /// for an idle HTTP/1.1 connection, within a second at most).
    fn evict_idlest(&self, port: u16) -> bool {
        let mut e = self.0.evictable.lock();
        let idlest = e
            .places
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c.as_ref()?.clock.idle_since()?)))
            .min_by_key(|(_, since)| *since);
        let Some((i, _)) = idlest else {
            return false;
        };
        if let Some(c) = e.places[i].take() {
            e.free.push(i);
            // A stored permit: the connection sees it even if it is not
            // waiting at this instant.
            c.close.notify_one();
        }
        drop(e);
        self.0.evicted.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            port,
            "closing the longest-idle connection to make room (--max-conns)"
        );
        true
    }
}

/// An admitted connection's place under the cap, given back when dropped.
pub struct Slot {
    cap: Arc<Shared>,
    /// Where this connection is listed as evictable, and its id there.
    candidate: Option<(usize, u64)>,
}

impl Slot {
    /// Lists the connection as one the cap may close when it is idle (as
    /// `clock` tells); resolves the returned signal when it does.
    pub fn evictable(&mut self, clock: Arc<dyn Idle>) -> Arc<Notify> {
        let close = Arc::new(Notify::new());
        let mut e = self.cap.evictable.lock();
        e.next_id += 1;
        let id = e.next_id;
        let c = Candidate {
            id,
            clock,
            close: close.clone(),
        };
        let i = match e.free.pop() {
            Some(i) => {
                e.places[i] = Some(c);
                i
            }
            None => {
                e.places.push(Some(c));
                e.places.len() - 1
            }
        };
        self.candidate = Some((i, id));
        close
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((i, id)) = self.candidate {
            let mut e = self.cap.evictable.lock();
            // Evicted already (and the place perhaps reused): nothing to do.
            if e.places
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|c| c.id == id)
            {
                e.places[i] = None;
                e.free.push(i);
            }
        }
        self.cap.open.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    /// A connection idle since the given instant (0: busy).
    #[derive(Default)]
    struct Fake(AtomicU64);

    impl Idle for Fake {
        fn idle_since(&self) -> Option<u64> {
            Some(self.0.load(Ordering::Relaxed)).filter(|t| *t > 0)
        }
    }

    fn fake(since: u64) -> Arc<Fake> {
        Arc::new(Fake(AtomicU64::new(since)))
    }

    /// Whether a `Notify::notified` future is ready at its first poll.
    fn fired(n: &Notify) -> bool {
        let f = std::pin::pin!(n.notified());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        std::future::Future::poll(f, &mut cx).is_ready()
    }

    #[test]
    fn at_the_cap_the_longest_idle_connection_makes_room() {
        let cap = ConnCap::default();
        let (a, b, c) = (fake(0), fake(20), fake(10));
        let mut sa = cap.admit(1, 3, true).expect("a");
        let mut sb = cap.admit(1, 3, true).expect("b");
        let mut sc = cap.admit(1, 3, true).expect("c");
        let close_a = sa.evictable(a.clone());
        let close_b = sb.evictable(b);
        let close_c = sc.evictable(c);
        // `a` is busy; `c` has been idle longer than `b`: `c` goes.
        let sd = cap.admit(1, 3, true).expect("room made");
        assert_eq!(cap.evicted(), 1);
        assert!(fired(&close_c) && !fired(&close_b) && !fired(&close_a));
        // `c` was told to go but its task has not ended: still counted.
        assert_eq!(cap.open(), 4);
        drop(sc);
        let se = cap.admit(1, 3, true).expect("b makes room");
        assert!(fired(&close_b));
        drop(sb);
        // Only `a` is listed, and it is busy: refused.
        assert!(cap.admit(1, 3, true).is_none());
        assert_eq!(cap.refused(), 1);
        a.0.store(5, Ordering::Relaxed);
        assert!(cap.admit(1, 3, true).is_some());
        drop((sa, sd, se));
        assert_eq!(cap.open(), 0);
    }

    #[test]
    fn without_eviction_the_cap_refuses() {
        let cap = ConnCap::default();
        let mut s = cap.admit(1, 1, false).expect("first");
        let _ = s.evictable(fake(1));
        assert!(cap.admit(1, 1, false).is_none());
        assert_eq!((cap.open(), cap.refused(), cap.evicted()), (1, 1, 0));
    }
}
