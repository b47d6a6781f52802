//! goto-engine: the data plane of goto's load client.
//!
//! A thread-per-core HTTP/1.1 and HTTP/2 load engine on monoio: one pinned worker per
//! core, each with its own io_uring (or legacy epoll) runtime; replicas
//! (connections) are spread over the cores; each core counts into its own
//! counters and latency histograms, merged only when someone reads. No tokio
//! inside; the control plane drives it through [`Engine`] and [`RunHandle`]
//! from blocking code.
//!
//! ```no_run
//! use goto_engine::{Engine, EngineConfig, Plan, TargetSpec};
//! let engine = Engine::start(EngineConfig::default())?;
//! let mut t = TargetSpec::try_new("t1", "http://127.0.0.1:8080/")?;
//! t.replicas = 10;
//! t.requests_per_replica = Some(100);
//! let run = engine.submit(Plan { targets: vec![t] })?;
//! run.wait(None);
//! let snap = run.snapshot();
//! println!("{} requests", snap.targets["t1"].requests);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules: [`http1`] is the pure codec; [`schedule`] the I/O-free request
//! schedule (pacing, limits, retries, where latency counts from) that every
//! protocol's loop drives; `conn` the connection and its timeouts;
//! `replica` the HTTP/1.1 loop; [`h2codec`] the
//! HTTP/2 frames and HPACK without I/O; `http2` the HTTP/2 streams (that
//! codec on the same workers, driving the same schedule); `worker` the
//! pinned runtimes and `local`
//! a core's share of a run; [`stats`] the counters; `plan` validation and
//! preparation; `resolve` addresses and their refresh; `limits` the
//! bounds; `run` the handle, commands and stop
//! flags; `timer` the per-worker microsecond pacing timer; `tls` rustls
//! set-up; [`timeline`] per-interval results from snapshots; [`threshold`]
//! pass/fail checks; [`stages`] load shapes (rate ramps).

mod conn;
pub mod cpus;
pub mod duration;
mod error;
/// The HTTP/2 client codec (frames, HPACK) without I/O, public for the fuzz
/// targets.
pub mod h2codec;
mod h2request;
pub mod http1;
mod http2;
mod limits;
mod local;
mod plan;
mod replica;
mod resolve;
mod run;
pub mod schedule;
pub mod stages;
pub mod stats;
pub mod threshold;
pub mod timeline;
mod timer;
mod tls;
mod worker;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

/// Re-exported so users of [`TargetSpec::body`] and [`TargetStats`] need no extra dependencies.
pub use bytes::Bytes;
pub use hdrhistogram::Histogram;

pub use error::{EngineError, ErrorKind, ParseErrorKind, PlanError, TlsErrorKind};
pub use http1::status::canonical_reason;
pub use limits::{
    raise_nofile_limit, MAX_BODY, MAX_REPLICAS, MAX_REQUEST_HEADERS, MAX_RETRIES,
    MAX_STREAMS_PER_CONNECTION,
};
pub use plan::{Plan, TargetSpec, TlsTarget};
pub use resolve::{resolve_all, Endpoint, RESOLVE_TTL};
pub use run::{RunHandle, RunSnapshot};
pub use schedule::{Attempt, Counted, Pacer, Schedule, Step, Verdict};
pub use stages::{LiveRate, Stage, Stages, StagesError};
pub use stats::TargetStats;
pub use threshold::{Figures, Threshold, ThresholdError, ThresholdVerdict};
pub use timeline::{Interval, LatencySummary, Timeline};
pub use tls::{client_config, tls_server_name, TlsConfig};

use plan::PreparedTarget;
use run::{Assignment, Command, RunShared};
use tls::TlsConfigs;

/// Which I/O driver to ask for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IoDriverChoice {
    /// io_uring where the kernel allows it, else epoll.
    #[default]
    Auto,
    Uring,
    Epoll,
}

impl IoDriverChoice {
    /// The driver an engine started with this choice runs: `Auto` is
    /// io_uring where the kernel allows it, else epoll.
    pub fn expected(self) -> IoDriver {
        match self {
            IoDriverChoice::Epoll => IoDriver::Epoll,
            IoDriverChoice::Uring => IoDriver::IoUring,
            IoDriverChoice::Auto if monoio::utils::detect_uring() => IoDriver::IoUring,
            IoDriverChoice::Auto => IoDriver::Epoll,
        }
    }
}

/// The I/O driver the workers actually run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoDriver {
    IoUring,
    Epoll,
}

impl fmt::Display for IoDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoDriver::IoUring => "io_uring",
            IoDriver::Epoll => "epoll",
        })
    }
}

/// How to start an engine.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Worker threads (one per core); default: every core this process may use.
    pub cores: Option<usize>,
    pub io_driver: IoDriverChoice,
    pub tls: TlsConfig,
}

/// What runs and handles share with the engine.
pub(crate) struct EngineShared {
    senders: Vec<Sender<Command>>,
    driver: IoDriver,
    next_run: AtomicU64,
    tls: TlsConfigs,
}

impl EngineShared {
    /// Sends a command to worker `core`; false if it is gone.
    pub(crate) fn send(&self, core: usize, cmd: Command) -> bool {
        self.senders.get(core).is_some_and(|s| s.send(cmd).is_ok())
    }
}

/// The running engine: pinned workers waiting for plans. Dropping it stops
/// every run and joins the workers.
pub struct Engine {
    shared: Arc<EngineShared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("cores", &self.cores())
            .field("io_driver", &self.io_driver())
            .finish()
    }
}

impl Engine {
    /// Starts one pinned worker per core with the chosen driver. Under
    /// `Auto`, a kernel that refuses io_uring (absent, blocked by seccomp,
    /// or a low memlock limit) falls back to epoll.
    pub fn start(cfg: EngineConfig) -> Result<Engine, EngineError> {
        let ids = core_affinity::get_core_ids().unwrap_or_default();
        let cores = match cfg.cores {
            Some(0) => return Err(EngineError::NoCores),
            Some(n) => n,
            // The affinity mask capped by the cgroup CPU quota.
            None => cpus::usable_cores(ids.len()),
        };
        let tls = TlsConfigs::new(cfg.tls);
        tls.check()?;
        match cfg.io_driver {
            IoDriverChoice::Epoll => Engine::start_with(cores, &ids, IoDriver::Epoll, tls),
            IoDriverChoice::Uring => {
                if !monoio::utils::detect_uring() {
                    return Err(EngineError::UringUnavailable);
                }
                Engine::start_with(cores, &ids, IoDriver::IoUring, tls)
            }
            IoDriverChoice::Auto => {
                if monoio::utils::detect_uring() {
                    match Engine::start_with(
                        cores,
                        &ids,
                        IoDriver::IoUring,
                        TlsConfigs::new(tls.config().clone()),
                    ) {
                        Ok(e) => return Ok(e),
                        Err(err) => tracing::info!("io_uring unavailable ({err}); using epoll"),
                    }
                }
                Engine::start_with(cores, &ids, IoDriver::Epoll, tls)
            }
        }
    }

    fn start_with(
        cores: usize,
        ids: &[core_affinity::CoreId],
        driver: IoDriver,
        tls: TlsConfigs,
    ) -> Result<Engine, EngineError> {
        let (ready_tx, ready_rx) = crossbeam_channel::unbounded();
        let mut senders = Vec::with_capacity(cores);
        let mut threads = Vec::with_capacity(cores);
        let mut failure = None;
        for i in 0..cores {
            let (tx, rx) = crossbeam_channel::unbounded();
            let core = if ids.is_empty() {
                None
            } else {
                Some(ids[i % ids.len()])
            };
            match worker::spawn(i, core, driver, rx, ready_tx.clone()) {
                Ok(t) => {
                    senders.push(tx);
                    threads.push(t);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        drop(ready_tx);
        for _ in 0..threads.len() {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    failure.get_or_insert(e);
                }
                Err(_) => break,
            }
        }
        let engine = Engine {
            shared: Arc::new(EngineShared {
                senders,
                driver,
                next_run: AtomicU64::new(1),
                tls,
            }),
            threads: Mutex::new(threads),
        };
        match failure {
            // Dropping the engine shuts down the workers that did start.
            Some(e) => Err(e),
            None => Ok(engine),
        }
    }

    /// The driver the workers run.
    pub fn io_driver(&self) -> IoDriver {
        self.shared.driver
    }

    /// Number of workers.
    pub fn cores(&self) -> usize {
        self.shared.senders.len()
    }

    /// Validates and starts a plan; several runs may be live at once.
    /// Resolves host names, so it may block briefly.
    pub fn submit(&self, plan: Plan) -> Result<RunHandle, EngineError> {
        plan::validate_plan(&plan)?;
        let cores = self.cores();
        if cores == 0 {
            return Err(EngineError::ShutDown);
        }
        let mut targets = Vec::with_capacity(plan.targets.len());
        for spec in plan.targets {
            targets.push(Arc::new(PreparedTarget::prepare(spec, &self.shared.tls)?));
        }
        // Spread connections round-robin over cores, continuing across
        // targets so many one-replica targets still use every core. An
        // HTTP/1.1 replica is a connection; HTTP/2 replicas are streams and
        // stay on their connection's core.
        let mut per_core: Vec<Vec<Assignment>> = (0..cores).map(|_| Vec::new()).collect();
        let mut next = 0usize;
        for (t, target) in targets.iter().enumerate() {
            let mut split: Vec<Vec<u32>> = vec![Vec::new(); cores];
            let connections = target.spec.connections().max(1);
            for r in 0..target.spec.replicas {
                split[(next + (r % connections) as usize) % cores].push(r);
            }
            next += connections as usize;
            for (core, replicas) in split.into_iter().enumerate() {
                if !replicas.is_empty() {
                    per_core[core].push(Assignment {
                        target: t,
                        replicas,
                    });
                }
            }
        }
        let used: Vec<usize> = (0..cores).filter(|c| !per_core[*c].is_empty()).collect();
        let target_slots = (0..targets.len())
            .map(|t| {
                used.iter()
                    .filter(|c| per_core[**c].iter().any(|a| a.target == t))
                    .count()
            })
            .collect();
        let id = self.shared.next_run.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(RunShared::new(id, targets, used.clone(), target_slots));
        for (slot, core) in used.iter().enumerate() {
            let work = std::mem::take(&mut per_core[*core]);
            if !self.shared.send(
                *core,
                Command::Start {
                    run: shared.clone(),
                    slot,
                    work,
                },
            ) {
                shared.request_stop();
                return Err(EngineError::ShutDown);
            }
        }
        Ok(RunHandle {
            shared,
            engine: self.shared.clone(),
        })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for s in &self.shared.senders {
            let _ = s.send(Command::Shutdown);
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<Engine>();
        assert_send_sync::<RunHandle>();
        assert_send_sync::<RunSnapshot>();
    }
}
