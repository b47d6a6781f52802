//! One core's share of a run: [`LocalRun`] (its replicas' wakers, live
//! counts, the hand-over of final counters) and [`CoreTarget`] (one
//! target's prepared request and this core's counters for it). Lives on the
//! worker's thread only, so it needs no locks.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Waker;
use std::time::Instant;

use crate::conn::Alarm;
use crate::plan::PreparedTarget;
use crate::run::{Assignment, RunShared, StopSignal};
use crate::stats::{CoreStats, TargetStats};
use crate::timer::PaceTimer;

/// One target's replicas and counters on this core.
pub(crate) struct CoreTarget {
    pub prepared: Arc<PreparedTarget>,
    pub index: usize,
    pub stats: RefCell<CoreStats>,
    live: Cell<usize>,
}

/// This core's share of one run.
pub(crate) struct LocalRun {
    pub shared: Arc<RunShared>,
    slot: usize,
    targets: Vec<Option<Rc<CoreTarget>>>,
    live: Cell<usize>,
    done: Cell<bool>,
    /// The replicas' tasks, woken when a stop is requested: replicas wait
    /// on their I/O and a lazily armed timer, not on a polling loop.
    wakers: RefCell<Vec<Waker>>,
    /// Stop flags (the run's and its targets') seen set so far.
    stops_seen: Cell<usize>,
    /// The worker's precise timer for the schedule's waits (`None`: the
    /// kernel refused a timerfd; the runtime's millisecond timer serves).
    pace: Option<Rc<PaceTimer>>,
}

impl LocalRun {
    /// Registers a replica's task to be woken on a stop.
    pub(crate) fn add_waker(&self, waker: &Waker) {
        self.wakers.borrow_mut().push(waker.clone());
    }

    /// This core's share of `shared`: counters for each target in `work`.
    pub(crate) fn new(
        shared: Arc<RunShared>,
        slot: usize,
        work: &[Assignment],
        pace: Option<Rc<PaceTimer>>,
    ) -> Rc<LocalRun> {
        let mut targets: Vec<Option<Rc<CoreTarget>>> = vec![None; shared.targets.len()];
        let mut total = 0;
        for a in work {
            let prepared = shared.targets[a.target].clone();
            let open = prepared.spec.is_open();
            let stats = RefCell::new(CoreStats::new(prepared.tracked.len(), open));
            total += a.replicas.len();
            targets[a.target] = Some(Rc::new(CoreTarget {
                prepared,
                index: a.target,
                stats,
                live: Cell::new(a.replicas.len()),
            }));
        }
        let run = Rc::new(LocalRun {
            shared: shared.clone(),
            slot,
            targets,
            live: Cell::new(total),
            done: Cell::new(false),
            wakers: RefCell::new(Vec::with_capacity(total)),
            stops_seen: Cell::new(0),
            pace,
        });
        if total == 0 {
            run.done.set(true);
            shared.core_done(slot, run.stats());
        }
        run
    }

    /// Sleeps until `until` for the schedule: on the worker's microsecond
    /// pacing timer, or on `alarm` (the runtime's millisecond timer) where
    /// the worker has none. False when a stop (or the run's end) comes first.
    pub(crate) async fn pause_until(
        &self,
        alarm: &mut Alarm<'_>,
        stop: &StopSignal,
        until: Instant,
    ) -> bool {
        match &self.pace {
            Some(timer) => timer.pause_until(stop, until).await,
            None => alarm.pause_until(stop, until).await,
        }
    }

    /// The counters of target `index`, if this core runs some of its replicas.
    pub(crate) fn target(&self, index: usize) -> Option<Rc<CoreTarget>> {
        self.targets.get(index).cloned().flatten()
    }

    /// Every replica on this core has ended and the counters were handed over.
    pub(crate) fn is_done(&self) -> bool {
        self.done.get()
    }

    /// Wakes every replica once per newly set stop flag (checked by the
    /// worker every tick, so a stop takes effect within about 10 ms).
    pub(crate) fn wake_if_stopped(&self) {
        let shared = &self.shared;
        let set = usize::from(shared.stop.load(Ordering::Relaxed))
            + shared
                .target_stop
                .iter()
                .filter(|f| f.load(Ordering::Relaxed))
                .count();
        if set != self.stops_seen.get() {
            self.stops_seen.set(set);
            for w in self.wakers.borrow().iter() {
                w.wake_by_ref();
            }
        }
    }

    /// Called by each replica as it ends; the last one hands over the counters.
    pub(crate) fn replica_done(&self, target: &CoreTarget) {
        target.live.set(target.live.get().saturating_sub(1));
        if target.live.get() == 0 {
            self.shared.target_core_done(target.index);
        }
        self.live.set(self.live.get().saturating_sub(1));
        if self.live.get() == 0 && !self.done.get() {
            self.done.set(true);
            self.shared.core_done(self.slot, self.stats());
        }
    }

    /// A copy of this core's counters, one entry per target of the run.
    pub(crate) fn stats(&self) -> Vec<Option<TargetStats>> {
        let anchor = self.shared.anchor();
        self.targets
            .iter()
            .map(|t| {
                t.as_ref().map(|t| {
                    t.stats
                        .borrow()
                        .to_target_stats(&t.prepared.tracked_names, anchor)
                })
            })
            .collect()
    }
}
