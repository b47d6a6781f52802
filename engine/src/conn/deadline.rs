//! Deadlines: a replica's one timer ([`Alarm`]) and the watch ([`Watch`])
//! every socket operation runs under: the request deadline, the end of the
//! run and a stop request.
//!
//! The replica keeps one timer for its whole life and re-arms it lazily: it
//! fires no later than the deadline of the request in flight, and only when
//! it fires does it move to the current request's deadline. Keep-alive
//! requests that finish well within their timeout therefore never touch the
//! timer wheel. A stop request wakes the replica through its worker (see
//! `LocalRun::wake_if_stopped`).

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::{Duration, Instant};

use monoio::io::Canceller;
use monoio::time::Sleep;
use monoio::BufResult;

use crate::error::ErrorKind;
use crate::run::StopSignal;

use super::Fail;

/// How far ahead the timer is parked when nothing needs it (no deadline, no
/// end of run): it then fires about once an hour, for nothing.
const IDLE_TIMER: Duration = Duration::from_secs(3600);

/// A replica's one timer and the instant it is armed for.
pub(crate) struct Alarm<'a> {
    timer: Pin<&'a mut Sleep>,
    /// When `timer` fires; it may lie in the past (it then fires when polled).
    at: Instant,
}

impl<'a> Alarm<'a> {
    /// Wraps `timer`, which must be armed for `at`.
    pub(crate) fn new(timer: Pin<&'a mut Sleep>, at: Instant) -> Alarm<'a> {
        Alarm { timer, at }
    }

    pub(super) fn set(&mut self, at: Instant) {
        if at != self.at {
            self.at = at;
            self.timer.as_mut().reset(at.into());
        }
    }

    /// Makes the timer fire no later than `limit`.
    pub(super) fn no_later_than(&mut self, limit: Instant) {
        if self.at > limit {
            self.set(limit);
        }
    }

    pub(super) fn poll_fired(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        self.timer.as_mut().poll(cx).is_ready()
    }

    /// Sleeps until `until`; false when a stop (or the run's end) comes first.
    pub(crate) async fn pause_until(&mut self, stop: &StopSignal, until: Instant) -> bool {
        loop {
            let now = Instant::now();
            if stop.should_abort(now) {
                return false;
            }
            if now >= until {
                return true;
            }
            self.set(stop.end().map_or(until, |e| e.min(until)));
            // Woken by the timer, or by the worker when a stop is requested.
            poll_fn(|cx| {
                if self.poll_fired(cx) || stop.requested() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        }
    }
}

/// The deadline and stop watch of one request.
pub(crate) struct Watch<'a, 'b> {
    alarm: &'b mut Alarm<'a>,
    deadline: Option<Instant>,
    /// An instant the watched future wants to be polled at (a paced
    /// message), beside the deadline; not a failure when it passes.
    wake: Option<Instant>,
    on_deadline: ErrorKind,
    stop: &'b StopSignal,
}

impl<'a, 'b> Watch<'a, 'b> {
    /// Creates a watch over a request with `deadline`.
    pub(crate) fn new(
        alarm: &'b mut Alarm<'a>,
        stop: &'b StopSignal,
        deadline: Option<Instant>,
    ) -> Watch<'a, 'b> {
        let mut w = Watch {
            alarm,
            deadline,
            wake: None,
            on_deadline: ErrorKind::Timeout,
            stop,
        };
        w.pull_in();
        w
    }

    /// The first instant the watch must look: the deadline or the run's end.
    pub(super) fn limit(&self) -> Option<Instant> {
        match (self.deadline, self.stop.end()) {
            (Some(d), Some(e)) => Some(d.min(e)),
            (d, e) => d.or(e),
        }
    }

    /// Brings the timer forward if it would fire after the limit; a timer
    /// that fires early is simply moved on by [`Watch::expired`].
    pub(super) fn pull_in(&mut self) {
        if let Some(limit) = self.limit() {
            self.alarm.no_later_than(limit);
        }
    }

    /// Makes the timer also fire at `at` (the future raced next is polled
    /// then, and must itself see that the instant came); `None` clears it.
    pub(crate) fn wake_at(&mut self, at: Option<Instant>) {
        self.wake = at;
        if let Some(at) = at {
            self.alarm.no_later_than(at);
        }
    }

    /// Changes the deadline and the error its expiry counts as.
    pub(crate) fn set_deadline(&mut self, deadline: Option<Instant>, on_deadline: ErrorKind) {
        self.deadline = deadline;
        self.on_deadline = on_deadline;
        self.pull_in();
    }

    /// Called when the timer fires: the failure to report, or `None` after
    /// moving the timer to the current limit.
    pub(super) fn expired(&mut self) -> Option<Fail> {
        let now = Instant::now();
        if self.stop.should_abort(now) {
            return Some(Fail::Aborted);
        }
        if self.deadline.is_some_and(|d| now >= d) {
            return Some(Fail::Error(self.on_deadline));
        }
        let mut at = self.limit().unwrap_or(now + IDLE_TIMER);
        if let Some(w) = self.wake.filter(|w| *w > now) {
            at = at.min(w);
        }
        self.alarm.set(at);
        None
    }

    /// Polls `fut` until it completes or the watch expires (the caller then
    /// cancels or drops it).
    pub(crate) async fn race<F: Future>(&mut self, fut: Pin<&mut F>) -> Result<F::Output, Fail> {
        let mut fut = fut;
        loop {
            let out = poll_fn(|cx| {
                if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                    return Poll::Ready(Ok(v));
                }
                if self.alarm.poll_fired(cx) {
                    return Poll::Ready(Err(false));
                }
                // The worker wakes every replica when a stop is requested.
                if self.stop.requested() {
                    return Poll::Ready(Err(true));
                }
                Poll::Pending
            })
            .await;
            match out {
                Ok(v) => return Ok(v),
                Err(true) => return Err(Fail::Aborted),
                Err(false) => {
                    if let Some(f) = self.expired() {
                        return Err(f);
                    }
                }
            }
        }
    }

    /// Runs a buffer operation made cancelable by `canceller`; on expiry
    /// cancels it and waits for the buffer to come back.
    pub(super) async fn io<T, B>(
        &mut self,
        canceller: &mut Canceller,
        fut: impl Future<Output = BufResult<T, B>>,
    ) -> (Result<T, Fail>, B) {
        let mut fut = pin!(fut);
        match self.race(fut.as_mut()).await {
            Ok((Ok(v), b)) => (Ok(v), b),
            Ok((Err(e), b)) => (Err(Fail::Error(ErrorKind::from_io(&e))), b),
            Err(fail) => {
                let c = std::mem::take(canceller);
                *canceller = c.cancel();
                match fut.await {
                    // It finished just as we gave up: take the result.
                    (Ok(v), b) => (Ok(v), b),
                    (Err(_), b) => (Err(fail), b),
                }
            }
        }
    }
}

/// The instant a timeout of `t` from `now` ends; `None` for no timeout
/// (zero).
pub(crate) fn timeout_at(now: Instant, t: Duration) -> Option<Instant> {
    if t.is_zero() {
        None
    } else {
        now.checked_add(t)
    }
}

/// When a connect begun at `now` must be done: its own timeout, and never
/// past the request's `deadline`.
pub(crate) fn connect_deadline(
    now: Instant,
    connect_timeout: Duration,
    deadline: Option<Instant>,
) -> Option<Instant> {
    match (timeout_at(now, connect_timeout), deadline) {
        (Some(c), Some(d)) => Some(c.min(d)),
        (c, d) => c.or(d),
    }
}
