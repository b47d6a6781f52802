//! The client's state: configured targets, tracked headers, the blocking
//! flag, and numbered invocations, each a live or finished run on the engine
//! (HTTP/1.1 and HTTP/2.0 targets alike). The latest [`KEPT_INVOCATIONS`]
//! finished invocations are kept one by one; older ones are folded into
//! one record of per-target totals ([`super::fold`]), so a long-lived
//! client holds bounded memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use goto_engine::{
    Engine, EngineConfig, Interval, IoDriverChoice, Plan, RunHandle, TargetStats, TlsConfig,
};
use parking_lot::Mutex;

use super::document::ClientResults;
use super::results::{self, TargetMeta};
use super::target::{Protocol, Target};
use super::timeline::{ReportedTimeline, TargetTimeline};
use crate::error::ApiError;

/// Response headers every invocation counts besides the tracked ones, so
/// results show which instance answered (as the original tool's do).
pub const ALWAYS_TRACKED: [&str; 2] = ["goto-host", "via-goto"];

pub use super::fold::{FOLDED_ID, KEPT_INVOCATIONS};

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
    timelines: Arc<Mutex<BTreeMap<String, TargetTimeline>>>,
}

impl Invocation {
    pub fn is_finished(&self) -> bool {
        self.done.is_some() || self.engine_run.as_ref().is_none_or(RunHandle::is_finished)
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
}

/// One invocation's stats at a moment ([`FOLDED_ID`] for the folded
/// record's).
pub struct Snapshot {
    pub id: u64,
    pub finished: bool,
    pub stats: BTreeMap<String, TargetStats>,
    pub meta: HashMap<String, TargetMeta>,
}

/// Everything under `/client`.
pub struct Client {
    pub inner: Mutex<Inner>,
    engine: Mutex<Option<Arc<Engine>>>,
    tls: TlsConfig,
    /// `--cores` and `--io-driver` of the server, for the engine.
    cores: Option<usize>,
    io_driver: IoDriverChoice,
    /// Whether timelines keep each interval's histogram (for a peer's
    /// locker reports, so the registry can merge interval percentiles).
    interval_histograms: bool,
}

pub struct Inner {
    /// In the order added; a re-added name keeps its place.
    pub targets: Vec<Target>,
    /// Lower-case names, in the order added.
    pub tracked: Vec<String>,
    pub blocking: bool,
    pub invocations: BTreeMap<u64, Arc<Mutex<Invocation>>>,
    pub next_id: u64,
    /// The finished invocations folded away (see [`super::fold`]), as one
    /// record with no run whose final stats are their per-target totals.
    pub(super) folded: Arc<Mutex<Invocation>>,
}

impl Client {
    /// `certs` is the `--certs` directory: its `.crt`/`.pem` files are
    /// trusted in addition to the system roots. They are read once, here
    /// (at startup); a file that cannot be read or parsed is skipped with a
    /// warning naming it, so it costs neither the other CAs nor plain http.
    pub fn new(certs: &Path) -> Client {
        let ca = goto_engine::load_ca_dir(certs);
        for (file, why) in &ca.skipped {
            tracing::warn!(file = %file.display(), "skipping a --certs file: {why}");
        }
        if !ca.files.is_empty() {
            tracing::info!(dir = %certs.display(), files = ca.files.len(), "trusting CA certificates from --certs");
        }
        Client {
            inner: Mutex::new(Inner {
                targets: Vec::new(),
                tracked: Vec::new(),
                blocking: true,
                invocations: BTreeMap::new(),
                next_id: 1,
                folded: Arc::new(Mutex::new(Invocation::folded_record())),
            }),
            engine: Mutex::new(None),
            cores: None,
            io_driver: IoDriverChoice::Auto,
            interval_histograms: false,
            tls: TlsConfig {
                extra_roots: Vec::new(),
                extra_certs: ca.certs,
                use_system_roots: true,
            },
        }
    }

    /// Sizes the engine (started on first use) as the server was told.
    pub fn with_engine(mut self, cores: Option<usize>, io_driver: IoDriverChoice) -> Client {
        self.cores = cores;
        self.io_driver = io_driver;
        self
    }

    /// Keeps each timeline interval's histogram (a peer reporting to a
    /// registry's locker).
    pub fn with_interval_histograms(mut self, on: bool) -> Client {
        self.interval_histograms = on;
        self
    }

    /// Roots for https: the system's plus `--certs`.
    pub fn tls(&self) -> &TlsConfig {
        &self.tls
    }

    /// The engine, started on first use (blocking: spawns pinned workers).
    fn engine(&self) -> Result<Arc<Engine>, ApiError> {
        let mut g = self.engine.lock();
        if let Some(e) = &*g {
            return Ok(e.clone());
        }
        let e = Engine::start(EngineConfig {
            tls: self.tls.clone(),
            cores: self.cores,
            io_driver: self.io_driver,
        })
        .map_err(|e| ApiError::Unavailable(format!("cannot start the load engine: {e}")))?;
        tracing::info!(cores = e.cores(), driver = %e.io_driver(), "load engine started");
        let e = Arc::new(e);
        *g = Some(e.clone());
        Ok(e)
    }

    /// Starts the given targets as one new invocation (blocking: resolves
    /// hosts and may start the engine). Returns its id.
    pub fn invoke(&self, targets: Vec<Target>, tracked: &[String]) -> Result<u64, ApiError> {
        if targets.is_empty() {
            return Err(ApiError::bad("no targets to invoke"));
        }
        let mut track: Vec<String> = tracked.to_vec();
        for h in ALWAYS_TRACKED {
            if !track.iter().any(|t| t == h) {
                track.push(h.to_string());
            }
        }
        let mut specs = Vec::new();
        let mut meta = HashMap::new();
        let mut intervals = Vec::new();
        let names: Vec<String> = targets.iter().map(|t| t.name().to_string()).collect();
        for t in targets {
            meta.insert(
                t.name().to_string(),
                TargetMeta {
                    method: t.spec.method.clone(),
                    url: t.spec.url.clone(),
                    thresholds: t.thresholds.clone(),
                    io_driver: String::new(),
                },
            );
            intervals.push((t.name().to_string(), t.interval));
            let mut spec = t.spec;
            spec.track_headers = track.clone();
            spec.http2 = t.protocol == Protocol::Http2;
            specs.push(spec);
        }
        let engine = self.engine()?;
        let driver = engine.io_driver().to_string();
        for m in meta.values_mut() {
            m.io_driver = driver.clone();
        }
        let run = engine
            .submit(Plan { targets: specs })
            .map_err(|e| ApiError::bad(format!("cannot invoke: {e}")))?;
        let timelines = Arc::new(Mutex::new(BTreeMap::new()));
        super::timeline::sample(
            run.clone(),
            intervals,
            timelines.clone(),
            self.interval_histograms,
        );
        let engine_run = Some(run);
        let mut inner = self.inner.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.invocations.insert(
            id,
            Arc::new(Mutex::new(Invocation {
                id,
                targets: names,
                meta,
                started: Instant::now(),
                engine_run,
                hidden: BTreeSet::new(),
                stop_requested: BTreeSet::new(),
                done: None,
                timelines,
            })),
        );
        let folded = inner.fold_old();
        drop(inner);
        if folded {
            super::fold::give_back_memory();
        }
        Ok(id)
    }

    /// Every invocation: the folded record first when it holds any target
    /// (so that a sum over the list is the totals), then the kept ones by
    /// id. Folds the old finished ones first.
    pub fn invocations(&self) -> Vec<Arc<Mutex<Invocation>>> {
        self.listed(true)
    }

    /// The invocations kept one by one, by id (folding first).
    fn kept(&self) -> Vec<Arc<Mutex<Invocation>>> {
        self.listed(false)
    }

    fn listed(&self, with_folded: bool) -> Vec<Arc<Mutex<Invocation>>> {
        let mut inner = self.inner.lock();
        let let_go = inner.fold_old();
        let mut out = Vec::with_capacity(inner.invocations.len() + 1);
        if with_folded && !inner.folded.lock().targets.is_empty() {
            out.push(inner.folded.clone());
        }
        out.extend(inner.invocations.values().cloned());
        drop(inner);
        if let_go {
            super::fold::give_back_memory();
        }
        out
    }

    /// Adds a target, or replaces the one of the same name in its place;
    /// an `autoInvoke` one starts at once (blocking: see [`invoke`](Self::invoke)).
    pub fn add_target(&self, t: Target) -> Result<(), ApiError> {
        let auto = t.auto_invoke();
        let tracked = {
            let mut inner = self.inner.lock();
            match inner.targets.iter_mut().find(|x| x.name() == t.name()) {
                Some(slot) => *slot = t.clone(),
                None => inner.targets.push(t.clone()),
            }
            inner.tracked.clone()
        };
        if auto {
            self.invoke(vec![t], &tracked)?;
        }
        Ok(())
    }

    /// Tracks more response headers (valid lower-case names).
    pub fn track(&self, names: &[String]) {
        let mut inner = self.inner.lock();
        for h in names {
            if !inner.tracked.contains(h) {
                inner.tracked.push(h.clone());
            }
        }
    }

    /// Every invocation's stats as (id, finished, stats, meta), the folded
    /// record's first (see [`invocations`](Self::invocations)); blocks
    /// briefly while the cores answer.
    pub fn snapshots(&self) -> Vec<Snapshot> {
        Self::snapshots_of(&self.invocations())
    }

    fn snapshots_of(invocations: &[Arc<Mutex<Invocation>>]) -> Vec<Snapshot> {
        invocations
            .iter()
            .map(|inv| {
                let mut g = inv.lock();
                let finished = g.is_finished();
                let stats = g.snapshot();
                Snapshot {
                    id: g.id,
                    finished,
                    stats,
                    meta: g.meta.clone(),
                }
            })
            .collect()
    }

    /// The results over all invocations, folded ones included
    /// (`/client/results`); blocking.
    pub fn results(&self, histograms: bool) -> ClientResults {
        let mut merged = BTreeMap::new();
        let mut meta = HashMap::new();
        for inv in self.invocations() {
            let mut g = inv.lock();
            g.merge_into(&mut merged);
            meta.extend(g.meta.iter().map(|(k, m)| (k.clone(), m.clone())));
        }
        results::document(&merged, &meta, histograms)
    }

    /// Each kept invocation's results with its `finished` flag; blocking.
    pub fn invocation_results(&self) -> BTreeMap<u64, ClientResults> {
        Self::snapshots_of(&self.kept())
            .into_iter()
            .map(|s| {
                let mut doc = results::document(&s.stats, &s.meta, false);
                doc.finished = Some(s.finished);
                (s.id, doc)
            })
            .collect()
    }

    /// `{target: [intervals...]}`, live while targets run; a target invoked
    /// more than once shows its latest invocation.
    pub fn timelines(&self) -> BTreeMap<String, Vec<Interval>> {
        let mut out = BTreeMap::new();
        for inv in self.invocations() {
            out.extend(inv.lock().timelines());
        }
        out
    }

    /// Every invocation's intervals with their histograms, by the
    /// wall-clock minute they ended in (a peer's locker reports: a past
    /// minute no longer changes, so it is sent once).
    pub fn reported_timelines(&self) -> BTreeMap<u64, BTreeMap<String, ReportedTimeline>> {
        let mut out = BTreeMap::new();
        for inv in self.invocations() {
            for (target, r) in inv.lock().reported_timelines() {
                r.split_by_minute(&target, &mut out);
            }
        }
        out
    }

    /// Clears results: all (`None`) or some targets'. Finished invocations
    /// with nothing left are dropped; running ones hide the cleared targets.
    pub fn clear_results(&self, only: Option<&[String]>) {
        let mut inner = self.inner.lock();
        inner.folded.lock().forget(only);
        let mut keep = BTreeMap::new();
        for (id, inv) in std::mem::take(&mut inner.invocations) {
            let mut g = inv.lock();
            let names: Vec<String> = match only {
                None => g.targets.clone(),
                Some(ts) => ts.to_vec(),
            };
            for n in names {
                g.hidden.insert(n);
            }
            let all_hidden = g.targets.iter().all(|t| g.hidden.contains(t));
            let drop_it = all_hidden && g.is_finished();
            drop(g);
            if !drop_it {
                keep.insert(id, inv);
            }
        }
        inner.next_id = keep.keys().next_back().map_or(1, |id| id + 1);
        inner.invocations = keep;
        drop(inner);
        super::fold::give_back_memory();
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        for inv in self.inner.get_mut().invocations.values() {
            inv.lock().stop_all();
        }
    }
}
