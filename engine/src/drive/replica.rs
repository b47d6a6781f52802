//! The one replica loop every protocol runs: it drives the replica's
//! [`Schedule`] (pacing, limits, retries, where latency counts from) under
//! the run's stop signal, counts attempts, and settles each outcome into the
//! core's counters ([`CoreStats::settle`]). What differs between protocols,
//! one attempt of the request, is an [`Exchange`]; the loop is generic over
//! it, so each protocol's replica is compiled as its own loop, with no
//! dynamic dispatch and no boxed future per request.

use std::future::poll_fn;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::conn::Alarm;
use crate::local::{CoreTarget, LocalRun};
use crate::run::StopSignal;
use crate::schedule::{Attempt, Schedule, Step};
use crate::stats::{Attempted as Outcome, Attempts, CoreStats};

/// One protocol's side of a replica: its connection (or its share of one)
/// and how one attempt of the request goes over it.
pub(crate) trait Exchange {
    /// One attempt of the request the schedule let go at `now`: connect if
    /// needed, send, read the whole response, within the target's timeouts
    /// (`alarm` carries them) and `stop`.
    async fn attempt(
        &mut self,
        target: &CoreTarget,
        stop: &StopSignal,
        attempt: Attempt,
        now: Instant,
        alarm: &mut Alarm<'_>,
    ) -> Outcome;

    /// After each attempt, at `now` (the clock read that starts the next).
    #[inline]
    fn ended(&mut self, _now: Instant) {}

    /// Counts what else a final, answered response carried (tracked
    /// headers, gRPC status), beyond what `settle` records.
    fn count(&self, target: &CoreTarget, stats: &mut CoreStats);

    /// Lets go of the connection when the replica ends.
    fn close(&mut self);
}

/// One replica (a connection's or a stream's worth of load) of a target on
/// this core.
pub(crate) struct Replica<E> {
    run: Rc<LocalRun>,
    target: Rc<CoreTarget>,
    stop: StopSignal,
    schedule: Schedule,
    attempts: Attempts,
    exchange: E,
}

impl<E: Exchange> Replica<E> {
    /// Replica `index` of `target`, whose schedule starts at `start`.
    pub(crate) fn new(
        run: Rc<LocalRun>,
        target: Rc<CoreTarget>,
        index: u32,
        start: Instant,
        exchange: E,
    ) -> Replica<E> {
        let p = &target.prepared;
        let schedule = Schedule::new(&p.spec, index, start).follow(p.live_rate.clone());
        let stop = StopSignal::new(run.shared.clone(), target.index, schedule.end());
        let attempts = target.stats.borrow().attempts();
        Replica {
            run,
            target,
            stop,
            schedule,
            attempts,
            exchange,
        }
    }

    /// Runs until the count, the duration or a stop ends it.
    pub(crate) async fn run(mut self) {
        // The worker wakes this task when a stop is requested.
        poll_fn(|cx| {
            self.run.add_waker(cx.waker());
            Poll::Ready(())
        })
        .await;
        // One timer for the replica's whole life, re-armed lazily: a timer
        // entry is large (~640 bytes) and thousands of replicas add up.
        let at = Instant::now() + Duration::from_secs(3600);
        let timer = pin!(monoio::time::sleep_until(at.into()));
        let mut alarm = Alarm::new(timer, at);
        self.run_loop(&mut alarm).await;
        self.exchange.close();
        self.run.replica_done(&self.target);
    }

    /// Drives the schedule: wait, send, count, until it says done.
    async fn run_loop(&mut self, alarm: &mut Alarm<'_>) {
        // One clock read per request: the end of one is the start of the next.
        let mut now = Instant::now();
        loop {
            if self.stop.requested() {
                return;
            }
            match self.schedule.poll(now) {
                Step::Done => return,
                Step::Wait(until) => {
                    if !self.run.pause_until(alarm, &self.stop, until).await {
                        return;
                    }
                    now = Instant::now();
                }
                Step::Send(attempt) => {
                    self.attempts.start();
                    let outcome = self
                        .exchange
                        .attempt(&self.target, &self.stop, attempt, now, alarm)
                        .await;
                    now = Instant::now();
                    self.exchange.ended(now);
                    let (target, exchange) = (&*self.target, &self.exchange);
                    let stats = &mut target.stats.borrow_mut();
                    let counted = stats.settle(&mut self.schedule, outcome, now, |s, _| {
                        exchange.count(target, s);
                    });
                    if !counted {
                        return;
                    }
                }
            }
        }
    }
}
