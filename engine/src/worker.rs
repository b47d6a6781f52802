//! Worker threads: one per core, pinned, each running its own monoio
//! runtime (io_uring or the legacy epoll driver). Commands arrive on a
//! crossbeam channel; a worker with live runs checks it every [`TICK`], an
//! idle worker blocks on it.
//!
//! A worker owns its share of each run ([`LocalRun`]): the replicas' tasks
//! and per-target counters. Snapshots copy those counters on the worker's
//! own thread; when its last replica of a run ends, the worker hands the
//! final counters to the run's shared state.
//!
//! io_uring rings are set up with `SINGLE_ISSUER | DEFER_TASKRUN` where the
//! kernel allows (completions are processed when the worker enters the
//! kernel instead of interrupting it; measured 20-30% less client CPU per
//! request than a plain ring), else `COOP_TASKRUN`, else plain. The
//! environment variable `GOTO_URING_FLAGS=coop|none` forces the weaker
//! set-ups, for measurement.

use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use monoio::{IoUringDriver, LegacyDriver, RuntimeBuilder};

use crate::error::EngineError;
use crate::local::LocalRun;
use crate::run::{Assignment, Command, RunShared};
use crate::timer::PaceTimer;
use crate::IoDriver;

/// How often a busy worker looks for commands.
const TICK: Duration = Duration::from_millis(10);
/// How long a worker keeps driving its ring after its last run ended before
/// it blocks on the command channel: reads dropped by timeouts or stops are
/// cancelled through the ring, and their sockets close only once those
/// cancellations are submitted and reaped.
const IDLE_DRAIN: Duration = Duration::from_millis(500);
/// io_uring submission queue size per core.
const URING_ENTRIES: u32 = 4096;

/// Starts worker `index` pinned to `core` with `driver`; reports on `ready`
/// whether its runtime came up.
pub(crate) fn spawn(
    index: usize,
    core: Option<core_affinity::CoreId>,
    driver: IoDriver,
    rx: Receiver<Command>,
    ready: Sender<Result<(), EngineError>>,
) -> Result<JoinHandle<()>, EngineError> {
    std::thread::Builder::new()
        .name(format!("goto-engine-{index}"))
        .spawn(move || {
            if let Some(core) = core {
                // Pinning is best effort: a restricted cpuset may refuse it.
                let _ = core_affinity::set_for_current(core);
            }
            let fail = |source| EngineError::Runtime {
                driver,
                core: index,
                source,
            };
            match driver {
                IoDriver::IoUring => match build_uring() {
                    Ok(mut rt) => {
                        let _ = ready.send(Ok(()));
                        rt.block_on(worker_main(rx));
                    }
                    Err(e) => {
                        let _ = ready.send(Err(fail(e)));
                    }
                },
                IoDriver::Epoll => {
                    match RuntimeBuilder::<LegacyDriver>::new().enable_timer().build() {
                        Ok(mut rt) => {
                            let _ = ready.send(Ok(()));
                            rt.block_on(worker_main(rx));
                        }
                        Err(e) => {
                            let _ = ready.send(Err(fail(e)));
                        }
                    }
                }
            }
        })
        .map_err(EngineError::Spawn)
}

type UringRuntime = monoio::Runtime<monoio::time::TimeDriver<IoUringDriver>>;

/// Builds the io_uring runtime, preferring set-up flags that let the kernel
/// defer completion work to our next ring entry instead of interrupting the
/// thread (6.1+), then cooperative task running (5.19+), then none. The ring
/// is only ever used from this thread, as SINGLE_ISSUER requires.
fn build_uring() -> std::io::Result<UringRuntime> {
    let mode = std::env::var("GOTO_URING_FLAGS").unwrap_or_default();
    let mut attempts: Vec<io_uring::Builder> = Vec::new();
    if mode != "none" && mode != "coop" {
        let mut b = io_uring::IoUring::builder();
        b.setup_single_issuer().setup_defer_taskrun();
        attempts.push(b);
    }
    if mode != "none" {
        let mut b = io_uring::IoUring::builder();
        b.setup_coop_taskrun();
        attempts.push(b);
    }
    attempts.push(io_uring::IoUring::builder());
    let mut last = None;
    for b in attempts {
        match RuntimeBuilder::<IoUringDriver>::new()
            .uring_builder(b)
            .with_entries(URING_ENTRIES)
            .enable_timer()
            .build()
        {
            Ok(rt) => return Ok(rt),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("io_uring set-up failed")))
}

async fn worker_main(rx: Receiver<Command>) {
    let pace = PaceTimer::new();
    worker_loop(rx, &pace).await;
    if let Some(pace) = &pace {
        pace.close().await;
    }
}

async fn worker_loop(rx: Receiver<Command>, pace: &Option<Rc<PaceTimer>>) {
    let mut runs: Vec<Rc<LocalRun>> = Vec::new();
    let mut shutting_down = false;
    let mut idle_since: Option<Instant> = None;
    loop {
        runs.retain(|r| !r.is_done());
        if shutting_down && runs.is_empty() {
            return;
        }
        let cmd = if runs.is_empty() {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() < IDLE_DRAIN {
                match rx.try_recv() {
                    Ok(c) => Some(c),
                    Err(TryRecvError::Empty) => {
                        monoio::time::sleep(TICK).await;
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => return,
                }
            } else {
                // Nothing to drive: block the thread until there is work.
                match rx.recv() {
                    Ok(c) => Some(c),
                    Err(_) => return,
                }
            }
        } else {
            idle_since = None;
            match rx.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => Some(Command::Shutdown),
            }
        };
        match cmd {
            Some(Command::Start { run, slot, work }) => start_run(&mut runs, run, slot, work, pace),
            Some(Command::Snapshot { run, slot, reply }) => {
                let stats = runs
                    .iter()
                    .find(|r| r.shared.id == run && !r.is_done())
                    .map(|r| r.stats());
                let _ = reply.send((slot, stats));
            }
            Some(Command::Shutdown) => {
                shutting_down = true;
                for r in &runs {
                    r.shared.request_stop();
                }
            }
            None => {
                for r in &runs {
                    r.wake_if_stopped();
                }
                monoio::time::sleep(TICK).await
            }
        }
    }
}

fn start_run(
    runs: &mut Vec<Rc<LocalRun>>,
    shared: Arc<RunShared>,
    slot: usize,
    work: Vec<Assignment>,
    pace: &Option<Rc<PaceTimer>>,
) {
    let run = LocalRun::new(shared.clone(), slot, &work, pace.clone());
    if run.is_done() {
        return;
    }
    let start = shared.started;
    for a in work {
        let Some(target) = run.target(a.target) else {
            continue;
        };
        if target.prepared.h2.is_some() {
            crate::drive::http2::spawn_streams(&run, &target, a.replicas, start);
            continue;
        }
        crate::drive::http1::spawn_replicas(&run, &target, a.replicas, start);
    }
    runs.push(run);
}
