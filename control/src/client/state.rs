//! The client's state: configured targets, tracked headers, the blocking
//! flag, and numbered invocations, each a live or finished run on the engine
//! (HTTP/1.1 and HTTP/2.0 targets alike).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

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

    /// Stats per target (blocks briefly while cores answer); caches the
    /// final ones.
    pub fn snapshot(&mut self) -> BTreeMap<String, TargetStats> {
        if let Some(done) = &self.done {
            return self.visible(done.clone());
        }
        let finished = self.is_finished();
        let out = match &self.engine_run {
            Some(r) => r.snapshot().targets,
            None => BTreeMap::new(),
        };
        if finished {
            self.done = Some(out.clone());
        }
        self.visible(out)
    }

    fn visible(&self, mut s: BTreeMap<String, TargetStats>) -> BTreeMap<String, TargetStats> {
        s.retain(|k, _| !self.hidden.contains(k));
        s
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

/// One invocation's stats at a moment.
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
        sample(
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
        Ok(id)
    }

    pub fn invocations(&self) -> Vec<Arc<Mutex<Invocation>>> {
        self.inner.lock().invocations.values().cloned().collect()
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

    /// Every invocation's stats as (id, finished, stats, meta); blocks
    /// briefly while the cores answer.
    pub fn snapshots(&self) -> Vec<Snapshot> {
        self.invocations()
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

    /// The results over all invocations (`/client/results`); blocking.
    pub fn results(&self, histograms: bool) -> ClientResults {
        let mut merged: BTreeMap<String, TargetStats> = BTreeMap::new();
        let mut meta = HashMap::new();
        for s in self.snapshots() {
            for (name, st) in s.stats {
                merged.entry(name).or_default().merge(&st);
            }
            meta.extend(s.meta);
        }
        results::document(&merged, &meta, histograms)
    }

    /// Each invocation's results with its `finished` flag; blocking.
    pub fn invocation_results(&self) -> BTreeMap<u64, ClientResults> {
        self.snapshots()
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
    }
}

/// Feeds an invocation's timelines from its run on a thread of its own:
/// each target sampled at its interval, then once more at the end so the
/// intervals add up to the final results. Ends with the run.
fn sample(
    run: RunHandle,
    intervals: Vec<(String, Duration)>,
    timelines: Arc<Mutex<BTreeMap<String, TargetTimeline>>>,
    keep_histograms: bool,
) {
    let wall = SystemTime::now();
    let tick = intervals
        .iter()
        .map(|(_, d)| *d)
        .min()
        .unwrap_or(goto_engine::timeline::DEFAULT_INTERVAL);
    let mut next: Vec<Duration> = intervals.iter().map(|(_, d)| *d).collect();
    let spawned = std::thread::Builder::new()
        .name("goto-timeline".into())
        .spawn(move || loop {
            let finished = run.wait(Some(tick));
            let snap = run.snapshot();
            let mut tl = timelines.lock();
            for (i, (name, every)) in intervals.iter().enumerate() {
                if !finished && snap.elapsed < next[i] {
                    continue;
                }
                while next[i] <= snap.elapsed {
                    next[i] += *every;
                }
                if let Some(stats) = snap.targets.get(name) {
                    tl.entry(name.clone()).or_default().push(
                        snap.elapsed,
                        wall + snap.elapsed,
                        stats.clone(),
                        keep_histograms,
                    );
                }
            }
            if finished {
                return;
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("no timeline for this invocation: {e}");
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        for inv in self.inner.get_mut().invocations.values() {
            inv.lock().stop_all();
        }
    }
}
