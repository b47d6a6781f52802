//! A submitted run as the control side sees it: [`RunHandle`] to snapshot,
//! stop and wait; [`RunShared`] holds the few things the workers and the
//! handle share (stop flags written once, final counters, completion);
//! [`Command`] is what the handle and the engine send to a worker, and
//! [`StopSignal`] a replica's view of the stop flags.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::plan::PreparedTarget;
use crate::stats::TargetStats;
use crate::EngineShared;

/// How long a snapshot waits for a busy worker to answer.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(2);

/// A worker's part of a run: which replicas of which targets.
pub(crate) struct Assignment {
    pub target: usize,
    pub replicas: Vec<u32>,
}

/// What a worker is told to do.
pub(crate) enum Command {
    Start {
        run: Arc<RunShared>,
        slot: usize,
        work: Vec<Assignment>,
    },
    /// Reply with this worker's counters for the run (`None` once it has
    /// handed over its final counters).
    Snapshot {
        run: u64,
        slot: usize,
        reply: crossbeam_channel::Sender<(usize, Option<Vec<Option<TargetStats>>>)>,
    },
    Shutdown,
}

/// A replica's view of the stop requests: the run's, its target's, and the
/// end of the target's duration.
#[derive(Clone)]
pub(crate) struct StopSignal {
    shared: Arc<RunShared>,
    target: usize,
    end: Option<Instant>,
}

impl StopSignal {
    pub(crate) fn new(shared: Arc<RunShared>, target: usize, end: Option<Instant>) -> StopSignal {
        StopSignal {
            shared,
            target,
            end,
        }
    }

    /// Someone called stop (two relaxed loads of flags that are written once).
    #[inline]
    pub(crate) fn requested(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
            || self
                .shared
                .target_stop
                .get(self.target)
                .is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// Work in flight at `now` must be abandoned (stop, or the duration ended).
    #[inline]
    pub(crate) fn should_abort(&self, now: Instant) -> bool {
        self.requested() || self.end.is_some_and(|end| now >= end)
    }

    pub(crate) fn end(&self) -> Option<Instant> {
        self.end
    }
}

/// Merged view of a run at one moment.
#[derive(Debug, Clone)]
pub struct RunSnapshot {
    /// By target name.
    pub targets: BTreeMap<String, TargetStats>,
    pub finished: bool,
    /// Since the run started; frozen when it finished.
    pub elapsed: Duration,
}

pub(crate) struct RunShared {
    pub id: u64,
    pub targets: Vec<Arc<PreparedTarget>>,
    pub started: Instant,
    started_wall: SystemTime,
    pub stop: AtomicBool,
    pub target_stop: Vec<AtomicBool>,
    /// The worker (core index) behind each slot.
    pub cores: Vec<usize>,
    /// Per target: slots still running some of its replicas.
    target_live: Vec<AtomicUsize>,
    state: Mutex<RunState>,
    finished_cv: Condvar,
}

struct RunState {
    /// Final counters per slot, once that worker is done.
    finals: Vec<Option<Vec<Option<TargetStats>>>>,
    live_slots: usize,
    finished_at: Option<Instant>,
}

impl RunShared {
    pub(crate) fn new(
        id: u64,
        targets: Vec<Arc<PreparedTarget>>,
        cores: Vec<usize>,
        target_slots: Vec<usize>,
    ) -> RunShared {
        let n = targets.len();
        let slots = cores.len();
        RunShared {
            id,
            targets,
            started: Instant::now(),
            started_wall: SystemTime::now(),
            stop: AtomicBool::new(false),
            target_stop: (0..n).map(|_| AtomicBool::new(false)).collect(),
            cores,
            target_live: target_slots.into_iter().map(AtomicUsize::new).collect(),
            state: Mutex::new(RunState {
                finals: vec![None; slots],
                live_slots: slots,
                finished_at: if slots == 0 {
                    Some(Instant::now())
                } else {
                    None
                },
            }),
            finished_cv: Condvar::new(),
        }
    }

    pub(crate) fn anchor(&self) -> (Instant, SystemTime) {
        (self.started, self.started_wall)
    }

    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub(crate) fn target_core_done(&self, target: usize) {
        if let Some(live) = self.target_live.get(target) {
            live.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn lock(&self) -> MutexGuard<'_, RunState> {
        // A worker never panics while holding this lock; if one did, the
        // counters inside are still whole, so keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A worker hands over its final counters.
    pub(crate) fn core_done(&self, slot: usize, mut stats: Vec<Option<TargetStats>>) {
        // Every replica of the core has ended: none has a request under way
        // or holds a connection any more (HTTP/2 slots let theirs go just
        // after this).
        for s in stats.iter_mut().flatten() {
            s.open_connections = 0;
            s.requests_in_flight = 0;
        }
        let mut st = self.lock();
        if let Some(f) = st.finals.get_mut(slot) {
            if f.is_none() {
                *f = Some(stats);
                st.live_slots = st.live_slots.saturating_sub(1);
            }
        }
        if st.live_slots == 0 && st.finished_at.is_none() {
            st.finished_at = Some(Instant::now());
            self.finished_cv.notify_all();
        }
    }

    fn is_finished(&self) -> bool {
        self.lock().finished_at.is_some()
    }
}

/// A live or finished run; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct RunHandle {
    pub(crate) shared: Arc<RunShared>,
    pub(crate) engine: Arc<EngineShared>,
}

impl std::fmt::Debug for RunHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunHandle")
            .field("id", &self.shared.id)
            .finish()
    }
}

impl RunHandle {
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// Target names, in plan order.
    pub fn target_names(&self) -> Vec<String> {
        self.shared
            .targets
            .iter()
            .map(|t| t.spec.name.clone())
            .collect()
    }

    /// Merges every core's counters for this run. While it runs, each busy
    /// core answers within about 10 ms; finished cores answer from their
    /// final counters.
    pub fn snapshot(&self) -> RunSnapshot {
        let shared = &self.shared;
        let mut merged: Vec<TargetStats> =
            shared.targets.iter().map(|_| TargetStats::new()).collect();
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut asked = 0;
        {
            let st = shared.lock();
            for (slot, core) in shared.cores.iter().enumerate() {
                match &st.finals[slot] {
                    Some(f) => merge_into(&mut merged, f),
                    None => {
                        let cmd = Command::Snapshot {
                            run: shared.id,
                            slot,
                            reply: tx.clone(),
                        };
                        if self.engine.send(*core, cmd) {
                            asked += 1;
                        }
                    }
                }
            }
        }
        drop(tx);
        for _ in 0..asked {
            match rx.recv_timeout(SNAPSHOT_WAIT) {
                Ok((_, Some(stats))) => merge_into(&mut merged, &stats),
                Ok((slot, None)) => {
                    // The worker finished between our look and its answer.
                    if let Some(Some(f)) = shared.lock().finals.get(slot) {
                        merge_into(&mut merged, f);
                    }
                }
                Err(_) => break,
            }
        }
        let stopped_all = shared.stop.load(Ordering::Relaxed);
        let mut targets = BTreeMap::new();
        for (i, mut stats) in merged.into_iter().enumerate() {
            stats.finished = shared.target_live[i].load(Ordering::Acquire) == 0;
            stats.stopped = stopped_all || shared.target_stop[i].load(Ordering::Relaxed);
            targets.insert(shared.targets[i].spec.name.clone(), stats);
        }
        let finished_at = shared.lock().finished_at;
        let elapsed = finished_at
            .unwrap_or_else(Instant::now)
            .saturating_duration_since(shared.started);
        RunSnapshot {
            targets,
            finished: finished_at.is_some(),
            elapsed,
        }
    }

    /// Stops every target; in-flight requests are abandoned (not counted)
    /// within about 50 ms.
    pub fn stop(&self) {
        self.shared.request_stop();
    }

    /// Stops one target by name (no-op for an unknown name).
    pub fn stop_target(&self, name: &str) {
        for (i, t) in self.shared.targets.iter().enumerate() {
            if t.spec.name == name {
                self.shared.target_stop[i].store(true, Ordering::Relaxed);
            }
        }
    }

    /// Sets a running target's total rate (requests per second); each
    /// replica follows it from its next request. Only an open-model target
    /// (a rate or stages) can change; false for an unknown or closed-model
    /// target, or a rate that is not positive and finite.
    pub fn set_rate(&self, name: &str, rate: f64) -> bool {
        let mut set = false;
        for t in &self.shared.targets {
            if t.spec.name == name && t.spec.is_open() {
                set |= t.live_rate.set(rate);
            }
        }
        set
    }

    pub fn is_finished(&self) -> bool {
        self.shared.is_finished()
    }

    /// Waits until the run finishes (or `timeout` passes); true when finished.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut st = self.shared.lock();
        while st.finished_at.is_none() {
            match deadline {
                None => {
                    st = self
                        .shared
                        .finished_cv
                        .wait(st)
                        .unwrap_or_else(|e| e.into_inner())
                }
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    st = self
                        .shared
                        .finished_cv
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        true
    }
}

fn merge_into(merged: &mut [TargetStats], from: &[Option<TargetStats>]) {
    for (m, f) in merged.iter_mut().zip(from) {
        if let Some(f) = f {
            let finished = m.finished;
            m.merge(f);
            m.finished = finished;
        }
    }
}
