//! One shared HTTP/2 connection on a worker ([`ConnSlot`]): the streams
//! (replicas) assigned to it open their requests over it. When there is none
//! (first use, failure, idle timeout), the first stream that needs it
//! connects and the others wait for that one connect instead of each opening
//! their own. Single-threaded: plain cells, no locks.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::pin::pin;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::connect::connect;
use super::io::Handle;
use crate::conn::{Fail, Watch};
use crate::error::ErrorKind;
use crate::plan::PreparedTarget;
use crate::resolve::Dest;
use crate::stats::{CoreStats, OpenConn};

enum State {
    Empty,
    /// A stream is connecting; the others wait.
    Connecting,
    Live {
        handle: Handle,
        id: u64,
        last_used: Instant,
        /// Counts the connection in the core's gauge while the slot holds it.
        _open: OpenConn,
    },
}

/// A stream's hold on the slot's connection: the connection's id and the
/// stream's own handle (cloned once per connection, not per request).
pub(crate) type Lease = Option<(u64, Handle)>;

/// The place of one shared connection among a target's streams on this
/// core (not a stream's place in a connection: that is the codec's `Slot`).
pub(crate) struct ConnSlot {
    state: RefCell<State>,
    waiters: RefCell<Vec<Waker>>,
    next_id: Cell<u64>,
}

/// What a new connection needs from its target, and whether it replaces
/// one (counted as a reconnect).
pub(crate) struct Opened {
    pub reused: bool,
    pub reconnect: bool,
}

impl ConnSlot {
    pub(crate) fn new() -> ConnSlot {
        ConnSlot {
            state: RefCell::new(State::Empty),
            waiters: RefCell::new(Vec::new()),
            next_id: Cell::new(1),
        }
    }

    /// Makes `lease` hold the slot's live connection, connecting when there
    /// is none, it can take no more streams, or it sat idle past `idle`
    /// (zero: never too idle); a new connection is counted in `stats`'
    /// open-connections gauge while the slot holds it. Says whether the connection was already
    /// open (it may have gone stale) and whether a new one replaced another.
    pub(crate) async fn get(
        &self,
        lease: &mut Lease,
        target: &PreparedTarget,
        stats: &RefCell<CoreStats>,
        idle: Duration,
        watch: &mut Watch<'_, '_>,
    ) -> Result<Opened, Fail> {
        loop {
            let now = Instant::now();
            let connecting = {
                let mut state = self.state.borrow_mut();
                match &mut *state {
                    State::Live {
                        handle,
                        id,
                        last_used,
                        ..
                    } => {
                        let fresh = idle.is_zero() || now.duration_since(*last_used) <= idle;
                        if fresh && handle.usable() {
                            *last_used = now;
                            if lease.as_ref().is_none_or(|(mine, _)| mine != id) {
                                *lease = Some((*id, handle.clone()));
                            }
                            return Ok(Opened {
                                reused: true,
                                reconnect: false,
                            });
                        }
                        *state = State::Empty;
                        false
                    }
                    State::Connecting => true,
                    State::Empty => false,
                }
            };
            if connecting {
                self.wait_for_connect(watch).await?;
                continue;
            }
            *self.state.borrow_mut() = State::Connecting;
            // Whatever happens (also a stop that drops this future), the
            // waiters must look again.
            let _wake = WakeOnDrop(self);
            let result = match target.endpoints.pick() {
                None => Err(Fail::Error(ErrorKind::Resolve)),
                // HTTP/2 runs over TCP only.
                Some(Dest::Unix(_)) => Err(Fail::Error(ErrorKind::Connect(libc::EPROTONOSUPPORT))),
                Some(Dest::Tcp { addrs, start }) => connect_any(&addrs, start, target, watch).await,
            };
            return match result {
                Ok(handle) => {
                    let id = self.next_id.get();
                    self.next_id.set(id + 1);
                    *lease = Some((id, handle.clone()));
                    *self.state.borrow_mut() = State::Live {
                        handle,
                        id,
                        last_used: Instant::now(),
                        _open: stats.borrow().conn_opened(),
                    };
                    Ok(Opened {
                        reused: false,
                        reconnect: id > 1,
                    })
                }
                Err(f) => {
                    *self.state.borrow_mut() = State::Empty;
                    Err(f)
                }
            };
        }
    }

    /// Waits until the connect in progress ends (either way).
    async fn wait_for_connect(&self, watch: &mut Watch<'_, '_>) -> Result<(), Fail> {
        let done = pin!(poll_fn(|cx| {
            if matches!(*self.state.borrow(), State::Connecting) {
                let mut w = self.waiters.borrow_mut();
                if !w.iter().any(|x| x.will_wake(cx.waker())) {
                    w.push(cx.waker().clone());
                }
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        }));
        watch.race(done).await
    }

    /// Forgets connection `id` (it failed), unless already replaced.
    pub(crate) fn discard(&self, id: u64) {
        let mut state = self.state.borrow_mut();
        if matches!(&*state, State::Live { id: live, .. } if *live == id) {
            *state = State::Empty;
        }
    }
}

/// Ends a connect attempt: a connect dropped midway leaves the slot empty;
/// every waiter is woken to look again.
struct WakeOnDrop<'a>(&'a ConnSlot);

impl Drop for WakeOnDrop<'_> {
    fn drop(&mut self) {
        {
            let mut state = self.0.state.borrow_mut();
            if matches!(*state, State::Connecting) {
                *state = State::Empty;
            }
        }
        for w in self.0.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }
}

/// Connects to `addrs[start]`, or after a connect error to the next ones in
/// turn (as HTTP/1.1 connections do).
async fn connect_any(
    addrs: &[std::net::SocketAddr],
    start: usize,
    target: &PreparedTarget,
    watch: &mut Watch<'_, '_>,
) -> Result<Handle, Fail> {
    let mut last = Fail::Error(ErrorKind::Resolve);
    for i in 0..addrs.len() {
        let addr = addrs[(start + i) % addrs.len()];
        match connect(addr, target.tls.as_ref(), &target.tracked, watch).await {
            Ok(s) => return Ok(s),
            Err(f @ Fail::Error(ErrorKind::ConnectRefused | ErrorKind::Connect(_))) => last = f,
            Err(f) => return Err(f),
        }
    }
    Err(last)
}
