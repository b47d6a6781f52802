//! One invocation: the targets it started, its run on the engine while it
//! lives, then its final stats (compacted, see [`super::fold`]) and frozen
//! timelines; also the record the old finished ones are folded into.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use goto_engine::{Interval, RunHandle, TargetStats};
use parking_lot::Mutex;

use super::results::TargetMeta;
use super::timeline::{ReportedTimeline, TargetTimeline};

/// An invocation's timelines, shared with its sampler thread.
pub type Timelines = Arc<Mutex<BTreeMap<String, TargetTimeline>>>;

/// One invocation: the targets it started and how they run.
pub struct Invocation {
    pub id: u64,
    pub targets: Vec<String>,
    pub meta: HashMap<String, TargetMeta>,
    pub started: Instant,
    engine_run: Option<RunHandle>,
    /// Targets whose results were cleared while this invocation lived.
    hidden: BTreeSet<String>,
    pub stop_requested: BTreeSet<String>,
    /// Final stats, kept once every part finished so reads stop asking.
    done: Option<BTreeMap<String, TargetStats>>,
    /// Per-target timelines, fed by this invocation's sampler thread.
    timelines: Timelines,
}

impl Invocation {
    pub fn is_finished(&self) -> bool {
        self.done.is_some() || self.engine_run.as_ref().is_none_or(RunHandle::is_finished)
    }

    /// A live invocation of `targets` on `run`.
    pub(super) fn started(
        id: u64,
        targets: Vec<String>,
        meta: HashMap<String, TargetMeta>,
        run: RunHandle,
        timelines: Timelines,
    ) -> Invocation {
        Invocation {
            id,
            targets,
            meta,
            started: Instant::now(),
            engine_run: Some(run),
            hidden: BTreeSet::new(),
            stop_requested: BTreeSet::new(),
            done: None,
            timelines,
        }
    }

    /// A finished invocation with nothing in it.
    pub(super) fn finished(id: u64) -> Invocation {
        Invocation {
            id,
            targets: Vec::new(),
            meta: HashMap::new(),
            started: Instant::now(),
            engine_run: None,
            hidden: BTreeSet::new(),
            stop_requested: BTreeSet::new(),
            done: Some(BTreeMap::new()),
            timelines: Arc::default(),
        }
    }

    /// Once the run has ended, keeps its final stats and lets the run go
    /// (its per-core finals hold a full set of histograms each); true when
    /// it just did.
    pub(super) fn settle(&mut self) -> bool {
        if self.done.is_some() || !self.is_finished() {
            return false;
        }
        // Finished: every core's finals are in, so this asks no core.
        let mut finals = self.engine_run.take().map(|r| r.snapshot().targets);
        for st in finals.iter_mut().flat_map(BTreeMap::values_mut) {
            super::fold::compact(st);
        }
        self.done = Some(finals.unwrap_or_default());
        true
    }

    /// Stats per target (blocks briefly while cores answer); caches the
    /// final ones.
    pub fn snapshot(&mut self) -> BTreeMap<String, TargetStats> {
        self.settle();
        match (&self.done, &self.engine_run) {
            (Some(done), _) => done
                .iter()
                .filter(|(k, _)| !self.hidden.contains(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            (None, Some(r)) => {
                let mut s = r.snapshot().targets;
                s.retain(|k, _| !self.hidden.contains(k));
                s
            }
            (None, None) => BTreeMap::new(),
        }
    }

    /// Adds this invocation's stats into `totals` (final ones without
    /// copying them first).
    pub fn merge_into(&mut self, totals: &mut BTreeMap<String, TargetStats>) {
        self.settle();
        let live;
        let stats = match (&self.done, &self.engine_run) {
            (Some(done), _) => done,
            (None, Some(r)) => {
                live = r.snapshot().targets;
                &live
            }
            (None, None) => return,
        };
        for (name, st) in stats {
            if !self.hidden.contains(name) {
                totals.entry(name.clone()).or_default().merge(st);
            }
        }
    }

    /// Merges a finished invocation's stats (what of it is not hidden) and
    /// its targets' meta into this record (see [`super::fold`]).
    pub(super) fn absorb(&mut self, other: &mut Invocation) {
        other.settle();
        let mut totals = self.done.take().unwrap_or_default();
        other.merge_into(&mut totals);
        self.done = Some(totals);
        for t in &other.targets {
            if other.hidden.contains(t) {
                continue;
            }
            if !self.targets.contains(t) {
                self.targets.push(t.clone());
            }
            if let Some(m) = other.meta.remove(t) {
                self.meta.insert(t.clone(), m);
            }
        }
    }

    /// Drops a record's stats: all (`None`) or some targets'.
    pub(super) fn forget(&mut self, only: Option<&[String]>) {
        match only {
            None => *self = Invocation::finished(self.id),
            Some(names) => {
                self.targets.retain(|t| !names.contains(t));
                for n in names {
                    self.meta.remove(n);
                    if let Some(done) = &mut self.done {
                        done.remove(n);
                    }
                }
            }
        }
    }

    /// The kept intervals per target (live while running).
    pub fn timelines(&self) -> BTreeMap<String, Vec<Interval>> {
        let tl = self.timelines.lock();
        tl.iter()
            .filter(|(k, _)| !self.hidden.contains(*k))
            .map(|(k, t)| (k.clone(), t.intervals()))
            .collect()
    }

    /// The kept intervals per target with their histograms (a peer's report).
    pub fn reported_timelines(&self) -> BTreeMap<String, ReportedTimeline> {
        let tl = self.timelines.lock();
        tl.iter()
            .filter(|(k, _)| !self.hidden.contains(*k))
            .map(|(k, t)| (k.clone(), t.reported()))
            .collect()
    }

    /// Sets a running target's rate; false when it is not running here or
    /// not on the open model.
    pub fn set_rate(&self, name: &str, rate: f64) -> bool {
        !self.is_finished()
            && self
                .engine_run
                .as_ref()
                .is_some_and(|r| r.set_rate(name, rate))
    }

    pub fn stop_target(&mut self, name: &str) {
        if !self.targets.iter().any(|t| t == name) {
            return;
        }
        self.stop_requested.insert(name.to_string());
        if let Some(r) = &self.engine_run {
            r.stop_target(name);
        }
    }

    pub fn stop_all(&mut self) {
        for t in self.targets.clone() {
            self.stop_target(&t);
        }
        if let Some(r) = &self.engine_run {
            r.stop();
        }
    }

    /// Hides cleared targets' results: all (`None`) or some. True when
    /// nothing is left to show and the run has ended (it can go).
    pub(super) fn hide(&mut self, only: Option<&[String]>) -> bool {
        let names: Vec<String> = match only {
            None => self.targets.clone(),
            Some(ts) => ts.to_vec(),
        };
        self.hidden.extend(names);
        let all_hidden = self.targets.iter().all(|t| self.hidden.contains(t));
        all_hidden && self.is_finished()
    }
}
