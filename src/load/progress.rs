//! The live progress line of `goto load` and the signals that stop a run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use goto_engine::{RunHandle, TargetStats};

use super::live::Recorder;

/// How often the progress line is redrawn (and Ctrl-C noticed).
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// What the progress loop needs of a run.
pub(super) trait Progress {
    /// True once finished; waits at most `timeout`.
    fn wait(&self, timeout: Duration) -> bool;
    fn stop(&self);
    /// (requests, errors, elapsed).
    fn totals(&self) -> (u64, u64, Duration);
    /// The target's cumulative results and the time since the start.
    fn sample(&self) -> (TargetStats, Duration);
}

impl Progress for RunHandle {
    fn wait(&self, timeout: Duration) -> bool {
        RunHandle::wait(self, Some(timeout))
    }

    fn stop(&self) {
        RunHandle::stop(self)
    }

    fn totals(&self) -> (u64, u64, Duration) {
        let snap = self.snapshot();
        let (r, e) = snap
            .targets
            .values()
            .fold((0, 0), |(r, e), t| (r + t.requests, e + t.error_count()));
        (r, e, snap.elapsed)
    }

    fn sample(&self) -> (TargetStats, Duration) {
        let snap = self.snapshot();
        let stats = snap.targets.into_values().next().unwrap_or_default();
        (stats, snap.elapsed)
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Ctrl-C stops the run and still prints the report (a second one kills).
pub(super) fn install_sigint() {
    let handler: extern "C" fn(libc::c_int) = on_sigint;
    // SAFETY: the handler only stores to an atomic, which is signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
    }
}

/// Waits for the run, drawing the progress line when asked and feeding the
/// timeline at each interval (whose lines, when printed, replace the
/// progress line).
pub(super) fn watch(run: &impl Progress, show_progress: bool, rec: &mut Recorder<'_>) {
    let show_progress = show_progress && !rec.prints();
    let started = Instant::now();
    let mut last = (started, 0u64);
    let mut stopping = false;
    while !run.wait(PROGRESS_EVERY.min(rec.due_in(started.elapsed()))) {
        rec.tick(started.elapsed(), || run.sample());
        if INTERRUPTED.load(Ordering::Relaxed) && !stopping {
            stopping = true;
            run.stop();
            // Restore the default so a second Ctrl-C ends the process.
            // SAFETY: resetting a signal disposition to its default.
            unsafe {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
            }
        }
        if show_progress {
            let (requests, errors, elapsed) = run.totals();
            let now = Instant::now();
            let rate = (requests - last.1.min(requests)) as f64
                / now.duration_since(last.0).as_secs_f64().max(1e-9);
            last = (now, requests);
            eprint!(
                "\r\x1b[2K{requests} requests  {rate:.0} req/s  {errors} errors  {:.1}s",
                elapsed.as_secs_f64()
            );
        }
    }
    if show_progress {
        eprint!("\r\x1b[2K");
    }
}
