//! The client's state: configured targets, tracked headers, the blocking
//! flag, and numbered invocations, each a live or finished run on the engine
//! (HTTP/1.1 and HTTP/2.0 targets alike). The latest [`KEPT_INVOCATIONS`]
//! finished invocations are kept one by one; older ones are folded into
//! one record of per-target totals ([`super::fold`]), so a long-lived
//! client holds bounded memory.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use goto_engine::{Engine, EngineConfig, Interval, IoDriverChoice, Plan, TargetStats, TlsConfig};
use parking_lot::Mutex;

use super::document::ClientResults;
use super::error::ClientError;
pub use super::invocation::Invocation;
use super::results::{self, TargetMeta};
use super::target::{Protocol, Target};
use super::timeline::ReportedTimeline;

/// Response headers every invocation counts besides the tracked ones, so
/// results show which instance answered (as the original tool's do).
pub const ALWAYS_TRACKED: [&str; 2] = ["goto-host", "via-goto"];

pub use super::fold::{FOLDED_ID, KEPT_INVOCATIONS};

/// One invocation's stats at a moment ([`FOLDED_ID`] for the folded
/// record's).
pub struct Snapshot {
    pub id: u64,
    pub finished: bool,
    pub stats: BTreeMap<String, TargetStats>,
    pub meta: HashMap<String, TargetMeta>,
}

/// Everything under `/client`. Its state is reached through the methods
/// below, each saying what a caller needs; none hands out the lock.
pub struct Client {
    inner: Mutex<Inner>,
    engine: Mutex<Option<Arc<Engine>>>,
    tls: TlsConfig,
    /// `--cores` and `--io-driver` of the server, for the engine.
    cores: Option<usize>,
    io_driver: IoDriverChoice,
    /// Whether timelines keep each interval's histogram (for a peer's
    /// locker reports, so the registry can merge interval percentiles).
    interval_histograms: bool,
}

pub(super) struct Inner {
    /// In the order added; a re-added name keeps its place.
    targets: Vec<Target>,
    /// Lower-case names, in the order added.
    tracked: Vec<String>,
    blocking: bool,
    pub(super) invocations: BTreeMap<u64, Arc<Mutex<Invocation>>>,
    next_id: u64,
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
    fn engine(&self) -> Result<Arc<Engine>, ClientError> {
        let mut g = self.engine.lock();
        if let Some(e) = &*g {
            return Ok(e.clone());
        }
        let e = Engine::start(EngineConfig {
            tls: self.tls.clone(),
            cores: self.cores,
            io_driver: self.io_driver,
        })
        .map_err(ClientError::Engine)?;
        tracing::info!(cores = e.cores(), driver = %e.io_driver(), "load engine started");
        let e = Arc::new(e);
        *g = Some(e.clone());
        Ok(e)
    }

    /// Starts the named targets, or all (`None`), as one new invocation
    /// tracking the tracked headers (blocking: resolves hosts and may start
    /// the engine). Returns its id.
    pub fn invoke_named(&self, names: Option<&[String]>) -> Result<u64, ClientError> {
        let targets = match names {
            Some(n) => self.named(n)?,
            None => self.targets(),
        };
        self.invoke(targets)
    }

    /// Starts the given targets as one new invocation (blocking: see
    /// [`invoke_named`](Self::invoke_named)). Returns its id.
    pub fn invoke(&self, targets: Vec<Target>) -> Result<u64, ClientError> {
        if targets.is_empty() {
            return Err(ClientError::NothingToInvoke);
        }
        let mut track = self.tracked();
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
            let reflected = if t.reflects() {
                let g = super::grpc::input(&t.input).map_err(|e| ClientError::Reflect(e.into()))?;
                Some(super::grpc::reflected(
                    &g,
                    &t.spec.url,
                    t.spec.connect_timeout,
                )?)
            } else {
                None
            };
            let mut spec = t.spec;
            if reflected.is_some() {
                spec.grpc = reflected;
            }
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
            .map_err(ClientError::Plan)?;
        let timelines = Arc::new(Mutex::new(BTreeMap::new()));
        super::timeline::sample(
            run.clone(),
            intervals,
            timelines.clone(),
            self.interval_histograms,
        );
        let mut inner = self.inner.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        let inv = Invocation::started(id, names, meta, run, timelines);
        inner.invocations.insert(id, Arc::new(Mutex::new(inv)));
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

    /// One invocation by id (not the folded ones).
    pub fn invocation(&self, id: u64) -> Option<Arc<Mutex<Invocation>>> {
        self.inner.lock().invocations.get(&id).cloned()
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
    pub fn add_target(&self, t: Target) -> Result<(), ClientError> {
        let auto = t.auto_invoke();
        {
            let mut inner = self.inner.lock();
            match inner.targets.iter_mut().find(|x| x.name() == t.name()) {
                Some(slot) => *slot = t.clone(),
                None => inner.targets.push(t.clone()),
            }
        }
        if auto {
            self.invoke(vec![t])?;
        }
        Ok(())
    }

    /// The configured targets, in the order added.
    pub fn targets(&self) -> Vec<Target> {
        self.inner.lock().targets.clone()
    }

    pub fn has_target(&self, name: &str) -> bool {
        self.inner.lock().targets.iter().any(|t| t.name() == name)
    }

    /// The targets of these names, in the order given; every unknown name
    /// is refused at once.
    pub fn named(&self, names: &[String]) -> Result<Vec<Target>, ClientError> {
        if names.is_empty() {
            return Err(ClientError::NoNames);
        }
        let inner = self.inner.lock();
        let mut out = Vec::with_capacity(names.len());
        let mut missing = Vec::new();
        for w in names {
            match inner.targets.iter().find(|t| t.name() == w) {
                Some(t) => out.push(t.clone()),
                None => missing.push(w.clone()),
            }
        }
        if !missing.is_empty() {
            return Err(ClientError::UnknownTargets(missing));
        }
        Ok(out)
    }

    /// Removes the named targets (all must exist); returns their names.
    /// Their results stay.
    pub fn remove_targets(&self, names: &[String]) -> Result<Vec<String>, ClientError> {
        let removed: Vec<String> = self
            .named(names)?
            .iter()
            .map(|t| t.name().to_string())
            .collect();
        self.inner
            .lock()
            .targets
            .retain(|t| !removed.iter().any(|r| r == t.name()));
        Ok(removed)
    }

    /// Forgets every target (their results stay).
    pub fn clear_targets(&self) {
        self.inner.lock().targets.clear();
    }

    /// Whether an invocation waits for its results by default.
    pub fn blocking(&self) -> bool {
        self.inner.lock().blocking
    }

    pub fn set_blocking(&self, on: bool) {
        self.inner.lock().blocking = on;
    }

    /// The tracked response headers (lower-case), in the order added.
    pub fn tracked(&self) -> Vec<String> {
        self.inner.lock().tracked.clone()
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

    /// Stops tracking these headers (from the next invocation on).
    pub fn untrack(&self, names: &[String]) {
        self.inner.lock().tracked.retain(|h| !names.contains(h));
    }

    pub fn clear_tracked(&self) {
        self.inner.lock().tracked.clear();
    }

    /// Sets the rate of these targets wherever they run; refused, naming
    /// them, for those not running on the open model.
    pub fn set_rate(&self, targets: &[Target], rate: f64) -> Result<(), ClientError> {
        let invocations = self.kept();
        let not_running: Vec<String> = targets
            .iter()
            .filter(|t| {
                // Every invocation is told, not just the first that takes it.
                let mut set = false;
                for inv in &invocations {
                    set |= inv.lock().set_rate(t.name(), rate);
                }
                !set
            })
            .map(|t| t.name().to_string())
            .collect();
        if not_running.is_empty() {
            Ok(())
        } else {
            Err(ClientError::NotRunning(not_running))
        }
    }

    /// Stops the named targets (all must exist) or all (`None`) wherever
    /// they run.
    pub fn stop(&self, names: Option<&[String]>) -> Result<(), ClientError> {
        let names: Option<Vec<String>> = match names {
            Some(n) => Some(
                self.named(n)?
                    .iter()
                    .map(|t| t.name().to_string())
                    .collect(),
            ),
            None => None,
        };
        for inv in self.kept() {
            let mut g = inv.lock();
            match &names {
                None => g.stop_all(),
                Some(ns) => ns.iter().for_each(|n| g.stop_target(n)),
            }
        }
        Ok(())
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
        for inv in self.kept() {
            out.extend(inv.lock().timelines());
        }
        out
    }

    /// Every kept invocation's intervals with their histograms, by the
    /// wall-clock minute they ended in (a peer's locker reports: a past
    /// minute no longer changes, so it is sent once).
    pub fn reported_timelines(&self) -> BTreeMap<u64, BTreeMap<String, ReportedTimeline>> {
        let mut out = BTreeMap::new();
        for inv in self.kept() {
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
            if !inv.lock().hide(only) {
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
