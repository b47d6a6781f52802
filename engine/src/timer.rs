//! The pacing timer: one per worker, microsecond resolution, for the waits
//! of the request schedule (a rate's due instants, a delay, a retry delay).
//!
//! monoio's timer is a wheel with millisecond ticks that rounds every
//! deadline up to the next tick: right for timeouts, wrong for pacing, where
//! that rounding would make every request leave up to a millisecond late
//! (and under a rate count that lateness as latency). Here the waiting
//! replicas sit in a heap ordered by instant, and one `timerfd` (an hrtimer
//! with nanosecond resolution and no timer slack) is armed for the earliest.
//! A driver task on the worker's runtime waits for the timerfd to become
//! readable (an io_uring `PollAdd` on the io_uring driver, epoll readiness
//! on the legacy one), then wakes every replica that is due. Nothing spins:
//! an idle worker sleeps in the kernel until the next instant.
//!
//! monoio has no public type for a pollable fd that is not a socket; a
//! `UnixStream` built from the timerfd is used only for `readable()`, which
//! both drivers implement with plain readiness (no socket call), and the
//! timerfd is read with `libc::read`.
//!
//! Entries are never removed early: a replica that stops while waiting
//! leaves its entry, which fires later and wakes a task that is gone or
//! waiting for something else (a spurious wake every waiter tolerates).

use std::cell::{Cell, RefCell};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::future::poll_fn;
use std::os::fd::{FromRawFd, RawFd};
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use monoio::net::UnixStream;

use crate::run::StopSignal;

/// A replica waiting for an instant.
struct Entry {
    at: Instant,
    /// Insertion order, so equal instants wake first come, first served.
    seq: u64,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// What the driver task is doing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Driver {
    /// Not spawned yet (no replica has waited on this worker).
    Absent,
    /// Waiting for the timerfd, armed for `armed`.
    Reading,
    /// Running or about to run (it re-reads the heap before waiting).
    Busy,
    /// The heap was empty: waiting for a push.
    Idle,
}

struct Inner {
    fd: RawFd,
    heap: RefCell<BinaryHeap<Reverse<Entry>>>,
    seq: Cell<u64>,
    /// The instant the timerfd is set for, if any.
    armed: Cell<Option<Instant>>,
    driver: Cell<Driver>,
    /// The driver task, while it is idle.
    driver_waker: RefCell<Option<Waker>>,
    closing: Cell<bool>,
}

/// One worker's pacing timer (see the module notes). Only ever used on the
/// worker's own thread.
pub(crate) struct PaceTimer {
    inner: Rc<Inner>,
    /// The timerfd as a pollable stream, until the driver task takes it.
    stream: RefCell<Option<UnixStream>>,
    task: RefCell<Option<monoio::task::JoinHandle<()>>>,
}

impl PaceTimer {
    /// A timer for the current worker; `None` when the kernel refuses a
    /// timerfd (the caller falls back to the runtime's millisecond timer).
    /// Must be called inside the worker's runtime.
    pub(crate) fn new() -> Option<Rc<PaceTimer>> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            tracing::debug!(
                "timerfd unavailable ({}); pacing with the runtime's timer",
                std::io::Error::last_os_error()
            );
            return None;
        }
        // SAFETY: `fd` is a fresh descriptor we own; the stream takes
        // ownership and closes it when dropped. It is only polled for
        // readability, never used as a socket.
        let std_stream = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) };
        let stream = match UnixStream::from_std(std_stream) {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(
                    "cannot register the timerfd ({e}); pacing with the runtime's timer"
                );
                return None;
            }
        };
        Some(Rc::new(PaceTimer {
            inner: Rc::new(Inner {
                fd,
                heap: RefCell::new(BinaryHeap::new()),
                seq: Cell::new(0),
                armed: Cell::new(None),
                driver: Cell::new(Driver::Absent),
                driver_waker: RefCell::new(None),
                closing: Cell::new(false),
            }),
            stream: RefCell::new(Some(stream)),
            task: RefCell::new(None),
        }))
    }

    /// Sleeps until `until`; false when a stop (or the run's end) comes
    /// first. The worker wakes the task on a stop.
    pub(crate) async fn pause_until(&self, stop: &StopSignal, until: Instant) -> bool {
        loop {
            let now = Instant::now();
            if stop.should_abort(now) {
                return false;
            }
            if now >= until {
                return true;
            }
            let mut pushed = false;
            poll_fn(|cx| {
                if !pushed {
                    pushed = true;
                    self.push(until, cx.waker());
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
        }
    }

    /// Registers `waker` to be woken at `at`.
    fn push(&self, at: Instant, waker: &Waker) {
        let inner = &self.inner;
        let seq = inner.seq.get();
        inner.seq.set(seq.wrapping_add(1));
        inner.heap.borrow_mut().push(Reverse(Entry {
            at,
            seq,
            waker: waker.clone(),
        }));
        match inner.driver.get() {
            Driver::Absent => self.spawn_driver(),
            Driver::Idle => {
                inner.driver.set(Driver::Busy);
                if let Some(w) = inner.driver_waker.borrow_mut().take() {
                    w.wake();
                }
            }
            // An earlier instant than the armed one: re-arm at once; the
            // pending readiness wait then completes at the new instant.
            Driver::Reading => {
                if inner.armed.get().is_none_or(|armed| at < armed) {
                    let _ = inner.arm(at);
                }
            }
            Driver::Busy => {}
        }
    }

    fn spawn_driver(&self) {
        let Some(stream) = self.stream.borrow_mut().take() else {
            return;
        };
        self.inner.driver.set(Driver::Busy);
        let handle = monoio::spawn(drive(self.inner.clone(), stream));
        *self.task.borrow_mut() = Some(handle);
    }

    /// Ends the driver task (worker shutdown): it must not outlive the
    /// runtime with an operation in flight.
    pub(crate) async fn close(&self) {
        let inner = &self.inner;
        inner.closing.set(true);
        inner.heap.borrow_mut().clear();
        match inner.driver.get() {
            // Fire the timerfd now so the readiness wait completes.
            Driver::Reading => {
                let _ = inner.arm(Instant::now());
            }
            Driver::Idle => {
                if let Some(w) = inner.driver_waker.borrow_mut().take() {
                    w.wake();
                }
            }
            Driver::Absent | Driver::Busy => {}
        }
        let task = self.task.borrow_mut().take();
        if let Some(task) = task {
            task.await;
        }
    }
}

impl Inner {
    /// Arms the timerfd to fire at `at` (at once if it has passed); false
    /// if the kernel refused.
    fn arm(&self, at: Instant) -> bool {
        // A zero value disarms a timerfd, so an instant already passed is
        // armed one nanosecond ahead.
        let d = at
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: `fd` is our open timerfd; `spec` is a valid itimerspec.
        let r = unsafe { libc::timerfd_settime(self.fd, 0, &spec, std::ptr::null_mut()) };
        self.armed.set((r == 0).then_some(at));
        r == 0
    }

    /// Clears the timerfd's expiry count (it is non-blocking).
    fn consume(&self) {
        let mut buf = [0u8; 8];
        // SAFETY: reads at most 8 bytes into `buf`.
        let _ = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
    }

    /// Wakes every entry due at `now`; returns the next instant, if any.
    fn wake_due(&self, now: Instant) -> Option<Instant> {
        let mut heap = self.heap.borrow_mut();
        while let Some(Reverse(top)) = heap.peek() {
            if top.at > now {
                return Some(top.at);
            }
            if let Some(Reverse(e)) = heap.pop() {
                e.waker.wake();
            }
        }
        None
    }
}

/// The driver task: wakes due replicas, arms the timerfd for the next one,
/// waits for it; idles (no operation in flight) while the heap is empty.
async fn drive(inner: Rc<Inner>, stream: UnixStream) {
    loop {
        if inner.closing.get() {
            break;
        }
        match inner.wake_due(Instant::now()) {
            None => {
                inner.driver.set(Driver::Idle);
                poll_fn(|cx| {
                    if inner.driver.get() == Driver::Idle && !inner.closing.get() {
                        *inner.driver_waker.borrow_mut() = Some(cx.waker().clone());
                        Poll::Pending
                    } else {
                        Poll::Ready(())
                    }
                })
                .await;
                inner.driver.set(Driver::Busy);
            }
            Some(next) => {
                if inner.armed.get() != Some(next) && !inner.arm(next) {
                    // Not expected; keep pacing at the runtime timer's pace.
                    monoio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                inner.driver.set(Driver::Reading);
                let ready = stream.readable(false).await;
                inner.driver.set(Driver::Busy);
                inner.consume();
                inner.armed.set(None);
                if let Err(e) = ready {
                    // Not expected; keep pacing, at the runtime timer's pace.
                    tracing::debug!("pacing timer wait failed: {e}");
                    monoio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }
    // Disarm so nothing is left pending in the kernel.
    inner.armed.set(None);
    drop(stream);
}
