//! HTTP/2 load for `protocol: "HTTP/2.0"` client targets (h2c with prior
//! knowledge for http URLs, ALPN h2 for https), counted into the engine's
//! `TargetStats` so results merge with HTTP/1.1 targets.
//!
//! A run ([`H2Run`]) is one target's replicas as tasks on a dedicated tokio
//! runtime ("goto-h2", two workers, started on first use), apart from the
//! control runtime so load cannot starve the admin API. Each replica is a
//! request loop; replicas share connections, at most
//! [`conn::STREAMS_PER_CONNECTION`] per connection. `target` prepares the
//! request template, `conn` connects and pools, `replica` paces and counts,
//! `stats` keeps the counters.

mod conn;
mod replica;
mod stats;
mod target;

use std::sync::Arc;
use std::time::{Duration, Instant};

use goto_engine::{PlanError, TargetSpec, TargetStats, TlsConfig};
use parking_lot::{Condvar, Mutex};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::watch;

pub use conn::STREAMS_PER_CONNECTION;

use replica::{Replica, Shared};
use stats::RunStats;
use target::H2Target;

/// Worker threads of the HTTP/2 runtime.
pub const WORKERS: usize = 2;

/// The HTTP/2 runtime, started on first use and kept for the process's life.
fn runtime() -> Result<Handle, PlanError> {
    static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);
    let mut g = RUNTIME.lock();
    if let Some(rt) = &*g {
        return Ok(rt.handle().clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("goto-h2")
        .enable_all()
        .build()
        .map_err(|e| PlanError::Runtime(format!("HTTP/2 runtime: {e}")))?;
    let handle = rt.handle().clone();
    *g = Some(rt);
    Ok(handle)
}

/// What the run's handle and its tasks share.
struct RunState {
    stats: Arc<RunStats>,
    stop_requested: std::sync::atomic::AtomicBool,
    finished: Mutex<bool>,
    finished_cv: Condvar,
}

impl RunState {
    fn finish(&self) {
        *self.finished.lock() = true;
        self.finished_cv.notify_all();
    }
}

/// A running HTTP/2 target. Dropping it stops its traffic.
pub struct H2Run {
    state: Arc<RunState>,
    stop: watch::Sender<bool>,
}

impl H2Run {
    /// Validates the target, resolves its host (blocking) and starts its
    /// replicas on the HTTP/2 runtime.
    pub fn start(spec: TargetSpec, tls: &TlsConfig) -> Result<H2Run, PlanError> {
        let target = Arc::new(H2Target::prepare(spec, tls)?);
        let handle = runtime()?;
        let replicas = target.spec.replicas;
        let start = Instant::now();
        let stats = Arc::new(RunStats::new(replicas));
        let shared = Arc::new(Shared {
            end: target.spec.duration.and_then(|d| start.checked_add(d)),
            pool: conn::Pool::new(replicas),
            stats: stats.clone(),
            target,
            start,
        });
        let state = Arc::new(RunState {
            stats,
            stop_requested: std::sync::atomic::AtomicBool::new(false),
            finished: Mutex::new(false),
            finished_cv: Condvar::new(),
        });
        let (stop, stop_rx) = watch::channel(false);
        let done = state.clone();
        handle.spawn(async move {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..replicas {
                tasks.spawn(Replica::new(shared.clone(), i, stop_rx.clone()).run());
            }
            while let Some(r) = tasks.join_next().await {
                if let Err(e) = r {
                    tracing::warn!("HTTP/2 replica failed: {e}");
                }
            }
            shared.pool.close().await;
            done.finish();
        });
        Ok(H2Run { state, stop })
    }

    /// The target's results so far (also while it runs).
    pub fn snapshot(&self) -> TargetStats {
        let mut s = self.state.stats.snapshot();
        s.stopped = self
            .state
            .stop_requested
            .load(std::sync::atomic::Ordering::Relaxed);
        s.finished = self.is_finished();
        s
    }

    /// Asks every replica to stop; requests in flight are abandoned.
    pub fn stop(&self) {
        self.state
            .stop_requested
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.stop.send_replace(true);
    }

    pub fn is_finished(&self) -> bool {
        *self.state.finished.lock()
    }

    /// Blocks until every replica ended, or `timeout`; true when finished.
    /// Must not be called from the HTTP/2 runtime's own threads.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut finished = self.state.finished.lock();
        while !*finished {
            match deadline {
                None => self.state.finished_cv.wait(&mut finished),
                Some(d) => {
                    if self
                        .state
                        .finished_cv
                        .wait_until(&mut finished, d)
                        .timed_out()
                    {
                        return *finished;
                    }
                }
            }
        }
        true
    }
}

impl Drop for H2Run {
    fn drop(&mut self) {
        self.stop();
    }
}
