//! The engine itself: the I/O driver choice, the pinned workers it starts,
//! and `submit`, which prepares a plan and deals its replicas to the cores.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

use crate::error::EngineError;
use crate::plan::{self, Plan, PreparedTarget};
use crate::run::{Assignment, Command, RunHandle, RunShared};
use crate::tls::{TlsConfig, TlsConfigs};
use crate::{cpus, worker};

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
    /// The spellings flags and the API take.
    pub const NAMES: [&'static str; 3] = ["auto", "uring", "epoll"];

    /// The flag's spelling.
    pub fn name(self) -> &'static str {
        match self {
            IoDriverChoice::Auto => "auto",
            IoDriverChoice::Uring => "uring",
            IoDriverChoice::Epoll => "epoll",
        }
    }

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

impl fmt::Display for IoDriverChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for IoDriverChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<IoDriverChoice, String> {
        match s {
            "auto" => Ok(IoDriverChoice::Auto),
            "uring" | "io_uring" => Ok(IoDriverChoice::Uring),
            "epoll" => Ok(IoDriverChoice::Epoll),
            _ => Err(format!("unknown I/O driver {s:?} (auto, uring or epoll)")),
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
