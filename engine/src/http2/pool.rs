//! One shared HTTP/2 connection on a worker ([`Slot`]): the streams
//! (replicas) assigned to it open their requests over it. When there is none
//! (first use, failure, idle timeout), the first stream that needs it
//! connects and the others wait for that one connect instead of each opening
//! their own. Single-threaded: plain cells, no locks.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::pin::pin;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::connect::{connect, Sender};
use crate::conn::{Fail, Watch};
use crate::error::ErrorKind;
use crate::plan::PreparedTarget;
use crate::resolve::Dest;

enum State {
    Empty,
    /// A stream is connecting; the others wait.
    Connecting,
    Live {
        sender: Sender,
        id: u64,
        last_used: Instant,
    },
}

/// A stream's handle on the slot's connection: the connection's id and the
/// stream's own clone of its sender (cloning takes the codec's lock, so a
/// stream clones once per connection, not per request).
pub(crate) type Lease = Option<(u64, Sender)>;

pub(crate) struct Slot {
    state: RefCell<State>,
    waiters: RefCell<Vec<Waker>>,
    next_id: Cell<u64>,
}

impl Slot {
    pub(crate) fn new() -> Slot {
        Slot {
            state: RefCell::new(State::Empty),
            waiters: RefCell::new(Vec::new()),
            next_id: Cell::new(1),
        }
    }

    /// Makes `lease` hold the slot's live connection, connecting when there
    /// is none or it sat idle past `idle` (zero: never too idle). Returns
    /// true when the connection was already open (it may have gone stale).
    pub(crate) async fn get(
        &self,
        lease: &mut Lease,
        target: &PreparedTarget,
        idle: Duration,
        watch: &mut Watch<'_, '_>,
    ) -> Result<bool, Fail> {
        loop {
            let now = Instant::now();
            let connecting = {
                let mut state = self.state.borrow_mut();
                match &mut *state {
                    State::Live {
                        sender,
                        id,
                        last_used,
                    } => {
                        if idle.is_zero() || now.duration_since(*last_used) <= idle {
                            *last_used = now;
                            if lease.as_ref().is_none_or(|(mine, _)| mine != id) {
                                *lease = Some((*id, sender.clone()));
                            }
                            return Ok(true);
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
                Some(Dest::Tcp { addrs, start }) => {
                    connect_any(&addrs, start, target.tls.as_ref(), watch).await
                }
            };
            return match result {
                Ok(sender) => {
                    let id = self.next_id.get();
                    self.next_id.set(id + 1);
                    *lease = Some((id, sender.clone()));
                    *self.state.borrow_mut() = State::Live {
                        sender,
                        id,
                        last_used: Instant::now(),
                    };
                    Ok(false)
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
struct WakeOnDrop<'a>(&'a Slot);

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
    tls: Option<&crate::plan::TlsTarget>,
    watch: &mut Watch<'_, '_>,
) -> Result<Sender, Fail> {
    let mut last = Fail::Error(ErrorKind::Resolve);
    for i in 0..addrs.len() {
        match connect(addrs[(start + i) % addrs.len()], tls, watch).await {
            Ok(s) => return Ok(s),
            Err(f @ Fail::Error(ErrorKind::ConnectRefused | ErrorKind::Connect(_))) => last = f,
            Err(f) => return Err(f),
        }
    }
    Err(last)
}
